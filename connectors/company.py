"""Company details from settings: ``[company]`` of ``.streamlit/secrets.toml`` (SPEC §16).

::

    [company]
    name = "ACME Kft."
    address = "Fő utca 1.\n1011 Budapest\nHungary"
    tax_id = "HU12345678"
    email = "ar@acme.example"
    iban = "HU42 1177 3016 1111 1018 0000 0000"
    bic = "OTPVHUHB"
    payment_instructions = "Pay by bank transfer within the terms."
    logo = "/etc/linewise/logo.png"     # PNG or JPEG, at most 512 KB, at most 4000 x 4000 pixels

Fields may also come from ``LINEWISE_COMPANY_<FIELD>`` environment variables.
The logo file is read with a size cap before anything decodes it, and its
pixel size is checked from the header (no decompression bomb reaches a page).
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Mapping

from pydantic import ValidationError

from billing.company import LOGO_MAX_BYTES, CompanyDetails
from connectors.mailer import ConfigError, section_from

__all__ = ["company_from_secrets", "read_logo", "LOGO_MAX_PIXELS"]

FIELDS = ("name", "address", "tax_id", "email", "phone", "iban", "bic", "bank_name", "payment_instructions",
          "logo")
LOGO_MAX_PIXELS = 4000


def read_logo(path: str | Path) -> tuple[bytes, str]:
    """(bytes, "png" | "jpg") of a logo file; ConfigError when missing, too big or not PNG/JPEG."""
    from PIL import Image, UnidentifiedImageError

    p = Path(path).expanduser()
    try:
        with p.open("rb") as fh:
            data = fh.read(LOGO_MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"[company] logo: cannot read {p.name}: {exc.strerror or exc}") from None
    if len(data) > LOGO_MAX_BYTES:
        raise ConfigError(f"[company] logo {p.name} is larger than {LOGO_MAX_BYTES // 1024} KB")
    try:
        with Image.open(io.BytesIO(data)) as im:  # reads the header only
            kind, (w, h) = im.format, im.size
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise ConfigError(f"[company] logo {p.name} is not a PNG or JPEG image") from None
    if kind not in ("PNG", "JPEG"):
        raise ConfigError(f"[company] logo {p.name} is {kind}; use a PNG or JPEG image")
    if w > LOGO_MAX_PIXELS or h > LOGO_MAX_PIXELS:
        raise ConfigError(f"[company] logo {p.name} is {w} x {h} pixels; at most {LOGO_MAX_PIXELS} a side")
    return data, "png" if kind == "PNG" else "jpg"


def company_from_secrets(secrets: Mapping | None) -> CompanyDetails:
    """The validated company details (defaults when there is no ``[company]`` section).

    Raises ConfigError naming the field for a wrong IBAN/BIC, an unknown field or a bad logo."""
    values: dict[str, Any] = section_from(secrets, "company", "LINEWISE_COMPANY_", FIELDS)
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise ConfigError(f"[company] has unknown field(s) {sorted(unknown)}; known: {', '.join(FIELDS)}")
    logo = values.pop("logo", None)
    if logo:
        values["logo"], values["logo_format"] = read_logo(str(logo))
    try:
        return CompanyDetails(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ())) or "company"
        msg = str(first.get("msg", "")).removeprefix("Value error, ")
        raise ConfigError(f"[company] {where}: {msg}") from None
