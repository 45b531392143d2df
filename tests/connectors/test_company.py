"""Company details from [company]: IBAN/BIC checked, logo size- and type-limited, errors name the field."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from billing.company import LOGO_MAX_BYTES, CompanyDetails
from connectors.company import company_from_secrets
from connectors.mailer import ConfigError


def _png(tmp_path, size=(40, 20)):
    buf = io.BytesIO()
    Image.new("RGB", size, "navy").save(buf, format="PNG")
    p = tmp_path / "logo.png"
    p.write_bytes(buf.getvalue())
    return p


def test_valid_details_are_normalised(tmp_path):
    c = company_from_secrets({"company": {"name": "ACME Kft.", "iban": "de89 3704 0044 0532 0130 00",
                                          "bic": "cobadeffxxx", "logo": str(_png(tmp_path))}})
    assert c.iban == "DE89370400440532013000" and c.iban_formatted == "DE89 3704 0044 0532 0130 00"
    assert c.bic == "COBADEFFXXX" and c.logo_format == "png" and c.logo.startswith(b"\x89PNG")


def test_no_section_gives_defaults_without_a_bank_account():
    c = company_from_secrets({})
    assert c.name == "Accounts Receivable" and not c.can_take_sepa


@pytest.mark.parametrize("field, value, words", [
    ("iban", "DE89 3704 0044 0532 0130 01", "IBAN"),
    ("bic", "NOT A BIC", "BIC"),
    ("colour", "red", "unknown field"),
])
def test_wrong_settings_are_refused_by_name(field, value, words):
    with pytest.raises(ConfigError, match=words):
        company_from_secrets({"company": {"name": "ACME", field: value}})


def test_environment_overrides_the_file(monkeypatch):
    monkeypatch.setenv("LINEWISE_COMPANY_NAME", "From Env Ltd")
    assert company_from_secrets({"company": {"name": "From File"}}).name == "From Env Ltd"


def test_logo_must_be_a_small_png_or_jpeg(tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG" + b"0" * LOGO_MAX_BYTES)
    with pytest.raises(ConfigError, match="larger than"):
        company_from_secrets({"company": {"logo": str(big)}})
    fake = tmp_path / "logo.gif"
    Image.new("RGB", (4, 4)).save(fake, format="GIF")
    with pytest.raises(ConfigError, match="GIF"):
        company_from_secrets({"company": {"logo": str(fake)}})
    with pytest.raises(ConfigError, match="pixels"):
        company_from_secrets({"company": {"logo": str(_png(tmp_path, (4100, 10)))}})
    with pytest.raises(ConfigError, match="cannot read"):
        company_from_secrets({"company": {"logo": str(tmp_path / "missing.png")}})
    with pytest.raises(ValueError):
        CompanyDetails(logo=b"x" * 10, logo_format="gif")
