"""The company's own details shown on statements and reminders (SPEC §16). Pure.

``CompanyDetails`` validates what finance types into ``[company]`` of
``.streamlit/secrets.toml`` (read by ``connectors.company``): the bank
account's IBAN (check digits and country format) and BIC are checked with
schwifty, so a typo is a clear message at start-up, not a payment that bounces.
The logo arrives as bytes (PNG or JPEG, size-limited by the reader).
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

__all__ = ["CompanyDetails", "LOGO_MAX_BYTES"]

LOGO_MAX_BYTES = 512 * 1024


class CompanyDetails(BaseModel):
    """Name, address, tax id, bank account, payment instructions, logo."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    name: str = Field("Accounts Receivable", min_length=1, max_length=140)
    address: str = Field("", max_length=500)  # lines separated by newlines
    tax_id: str = Field("", max_length=40)
    email: str = Field("", max_length=200)
    phone: str = Field("", max_length=60)
    iban: str = ""
    bic: str = ""
    bank_name: str = Field("", max_length=140)
    payment_instructions: str = Field("", max_length=1000)
    logo: bytes | None = Field(None, repr=False)
    logo_format: str | None = None  # "png" | "jpg"

    @field_validator("iban")
    @classmethod
    def _iban(cls, v: str) -> str:
        if not v:
            return ""
        try:
            return IBAN(v).compact
        except SchwiftyException as exc:
            raise ValueError(f"IBAN {v!r} is not valid ({exc}); check it against the bank's documents") from None

    @field_validator("bic")
    @classmethod
    def _bic(cls, v: str) -> str:
        if not v:
            return ""
        try:
            return BIC(v).compact
        except SchwiftyException as exc:
            raise ValueError(f"BIC {v!r} is not valid ({exc}): 8 or 11 letters and digits, e.g. COBADEFFXXX") \
                from None

    @field_validator("logo")
    @classmethod
    def _logo_size(cls, v: bytes | None) -> bytes | None:
        if v is not None and len(v) > LOGO_MAX_BYTES:
            raise ValueError(f"the logo is {len(v) // 1024} KB; at most {LOGO_MAX_BYTES // 1024} KB")
        return v or None

    @model_validator(mode="after")
    def _logo_kind(self) -> CompanyDetails:
        if self.logo is not None and self.logo_format not in ("png", "jpg"):
            raise ValueError("the logo must be a PNG or JPEG image")
        return self

    @property
    def iban_formatted(self) -> str:
        """The IBAN in groups of four, as printed ("DE89 3704 0044 ...")."""
        return IBAN(self.iban).formatted if self.iban else ""

    @property
    def named(self) -> bool:
        """The name was given (``[company] name``), not the placeholder default."""
        return "name" in self.model_fields_set

    @property
    def address_lines(self) -> list[str]:
        return [ln.strip() for ln in self.address.splitlines() if ln.strip()]

    @property
    def contact_lines(self) -> list[str]:
        """Address, tax id and bank account, one string each: the footer of a reminder email."""
        lines = self.address_lines + [x for x in (self.tax_id, self.email, self.phone) if x]
        if self.iban:
            lines.append(f"IBAN {self.iban_formatted}" + (f" · BIC {self.bic}" if self.bic else ""))
        return lines

    @property
    def can_take_sepa(self) -> bool:
        """An IBAN is set: statements and reminders in EUR can carry an EPC QR code."""
        return bool(self.iban)
