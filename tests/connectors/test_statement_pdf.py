"""The statement PDF: real text (pdftotext), embedded fonts, the customer's language, a scannable EPC QR."""
from __future__ import annotations

import re
from decimal import Decimal
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import zxingcpp
from PIL import Image

from billing.company import CompanyDetails
from billing.interest import InterestPolicy
from connectors.statement_pdf import StatementRenderer
from tests.connectors.statement_fixtures import (COMPANY, IBAN, need_tool, page_png, pdf_text,
                                                 statements)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def renderer():
    with StatementRenderer(COMPANY) as r:
        yield r


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_english_statement_has_running_balance_references_and_company(renderer, tmp_path):
    st = statements().of("C-EN")
    text = pdf_text(renderer.render(st), tmp_path)
    flat = _flat(text)
    assert "Statement of account" in flat and "ACME Kft." in flat and "Tax ID: HU12345678" in flat
    assert "Acme <b>&</b> Co" in flat  # the customer's name, as text
    assert "Payment terms: 30 days" in flat
    assert "Jun 30, 2026" in flat and "Jun 1, 2026 – Jun 30, 2026" in flat
    # opening 1,000.00; June: +234.56 invoice, -400.00 payment -> 834.56
    assert "Opening balance €1,000.00" in flat and "Closing balance €834.56" in flat
    assert re.search(r"Opening balance\s+1,000\.00", text)
    assert "1,234.56" in flat and "834.56" in flat
    for code in st.open_items["reference"]:
        assert code in flat  # the payment reference of every open item
    assert "DE89 3704 0044 0532 0130 00" in flat and "COBADEFFXXX" in flat


def test_user_text_is_printed_as_written_never_as_markup(renderer, tmp_path):
    pdf = renderer.render(statements().of("C-EN"))
    text = _flat(pdf_text(pdf, tmp_path))
    # the description wraps in its cell: both halves, as written
    assert '=HYPERLINK("http://x") *bold* #set' in text and "page(width: 1cm) <b>&</b>" in text
    info = subprocess.run([need_tool("pdfinfo"), "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    assert "(A4)" in info  # "#set page(width: 1cm)" was text, not a command


def test_chinese_statement_in_chinese_with_embedded_cjk_font(renderer, tmp_path):
    pdf = renderer.render(statements().of("C-ZH"))
    flat = _flat(pdf_text(pdf, tmp_path))
    assert "对账单" in flat and "华东贸易有限公司" in flat and "未清项目" in flat
    assert "2026年6月30日" in flat.replace(" ", "") and "应付金额" in flat
    f = tmp_path / "fonts.pdf"
    f.write_bytes(pdf)
    fonts = subprocess.run([need_tool("pdffonts"), str(f)], check=True, capture_output=True, timeout=60)
    rows = fonts.stdout.decode().splitlines()[2:]
    assert any("NotoSansCJK" in r for r in rows)
    assert rows and all(r.split()[-5] == "yes" for r in rows)  # every font embedded ("emb" column)


def test_hungarian_statement_uses_hungarian_formats(renderer, tmp_path):
    flat = _flat(pdf_text(renderer.render(statements().of("C-HU")), tmp_path))
    assert "Folyószámla-kivonat" in flat and "Kovács és Társa Kft." in flat
    assert "Árvíztűrő tükörfúrógép" in flat  # ő and ű: not in the CJK font, taken from the Latin one
    assert "150 000,00 Ft" in flat.replace("\u00a0", " ") and "2026. jún. 30." in flat


def test_the_customers_postal_address_is_printed_line_by_line_under_its_name(renderer, tmp_path):
    lines = [ln.strip() for ln in pdf_text(renderer.render(statements().of("C-HU")), tmp_path).splitlines()]
    block = ["Kovács és Társa Kft.", "Váci utca 12.", "III. emelet", "1052 Budapest", "Magyarország"]
    start = next(i for i, ln in enumerate(lines) if ln.endswith(block[0]))
    assert [ln.split("   ")[-1].strip() for ln in lines[start:start + 5]] == block


def test_identical_input_gives_identical_bytes(tmp_path):
    st = statements().of("C-EN")
    with StatementRenderer(COMPANY) as a, StatementRenderer(COMPANY) as b:
        assert a.render(st) == b.render(st)


def _qr_fields(png: Path) -> list[str]:
    found = [r for r in zxingcpp.read_barcodes(Image.open(png)) if r.format == zxingcpp.BarcodeFormat.QRCode]
    assert len(found) == 1, "one EPC QR code on the page"
    return found[0].text.split("\n")


@pytest.mark.parametrize("customer, amount", [("C-ZH", "8800.00"), ("C-EN", "834.56")])
def test_epc_qr_decodes_to_the_amount_due_and_the_line_codes(renderer, tmp_path, customer, amount):
    st = statements().of(customer)
    pdf = renderer.render(st)
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(
        [need_tool("pdfinfo"), "-"], input=pdf, capture_output=True, check=True).stdout.decode()).group(1))
    png = page_png(pdf, tmp_path, page=pages)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"statement-{customer}-qr-page.png").write_bytes(png.read_bytes())
    fields = _qr_fields(png)
    assert fields[:4] == ["BCD", "002", "2", "SCT"]  # EPC069-12 v2, UTF-8, SEPA credit transfer
    assert fields[4] == "COBADEFFXXX" and fields[5] == "ACME Kft." and fields[6] == IBAN
    assert fields[7].startswith("EUR") and Decimal(fields[7][3:]) == Decimal(amount)
    # remittance text = the line codes to quote, oldest due first
    assert fields[-1] == " ".join(st.open_items["reference"])


def test_no_qr_without_an_iban_or_for_another_currency(tmp_path):
    plain = CompanyDetails(name="ACME Kft.")
    with StatementRenderer(plain) as r:
        png = page_png(r.render(statements().of("C-ZH")), tmp_path)
        assert zxingcpp.read_barcodes(Image.open(png)) == []
    with StatementRenderer(COMPANY) as r:
        doc, svg = r.document(statements().of("C-HU"))  # HUF only
        assert svg == "" and doc["qr"] is None


def test_late_charges_are_shown_apart_and_not_added_to_the_balance(renderer, tmp_path):
    interest = InterestPolicy(reference_rates=[{"start": "2026-01-01", "rate_pct": "2.15"}])
    st = statements(interest=interest).of("C-ZH")
    flat = _flat(pdf_text(renderer.render(st), tmp_path))
    assert "可主张的逾期付款费用" in flat
    # 8,800.00 × 10.15 % × 29 days / 365 = 70.9676... -> 70.97; compensation 40.00
    assert "70.97" in flat and "40.00" in flat
    assert st.total("EUR", "closing") == 8_800_00


def test_open_items_statement_has_no_activity(renderer, tmp_path):
    flat = _flat(pdf_text(renderer.render(statements(only_open=True).of("C-EN")), tmp_path))
    assert "Statement of open items" in flat and "Account activity" not in flat and "Open items" in flat


def test_a_dispute_is_marked_with_its_amount(renderer, tmp_path):
    code = statements().of("C-ZH").open_items["reference"].iloc[0]
    disputes = pd.DataFrame({"line_code": [code], "status": ["in_review"], "dispute_id": [1], "amount": [800_00]})
    st = statements(disputes=disputes).of("C-ZH")
    flat = _flat(pdf_text(renderer.render(st), tmp_path))
    assert "争议金额 €800.00" in flat and "应付金额 €8,000.00" in flat


def test_the_company_logo_is_placed_in_the_header(tmp_path):
    import io as _io

    buf = _io.BytesIO()
    Image.new("RGB", (120, 40), (31, 78, 121)).save(buf, format="PNG")
    company = COMPANY.model_copy(update={"logo": buf.getvalue(), "logo_format": "png"})
    with StatementRenderer(company) as r:
        pdf = r.render(statements().of("C-EN"))
    f = tmp_path / "logo.pdf"
    f.write_bytes(pdf)
    images = subprocess.run([need_tool("pdfimages"), "-list", str(f)], capture_output=True, check=True,
                            timeout=60).stdout.decode().splitlines()[2:]
    assert [ln.split()[3:5] for ln in images] == [["120", "40"]]  # width, height of the one image
