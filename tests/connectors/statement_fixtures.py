"""A small book for statement tests: customers in en, zh and hu, EUR and HUF, a dispute, a payment."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from billing.aging import line_aging
from billing.allocation import allocate
from billing.company import CompanyDetails
from billing.policy import Policy
from billing.statement import build_statements
from tests.factories import make_customers, make_invoices, make_payments

AS_OF = pd.Timestamp("2026-06-30")
IBAN = "DE89370400440532013000"
COMPANY = CompanyDetails(name="ACME Kft.", address="Fő utca 1.\n1011 Budapest", tax_id="HU12345678",
                         iban=IBAN, bic="COBADEFFXXX", payment_instructions="Bank transfer within the terms.")
EVIL = "=HYPERLINK(\"http://x\") *bold* #set page(width: 1cm) <b>&</b>"


def book():
    inv = make_invoices([
        {"invoice_no": "E-1", "customer_id": "C-EN", "invoice_date": "2026-04-10", "due_date": "2026-05-10",
         "amount": 1_000_00, "currency": "EUR", "description": "Widgets"},
        {"invoice_no": "E-2", "customer_id": "C-EN", "invoice_date": "2026-06-03", "due_date": "2026-07-03",
         "amount": 234_56, "currency": "EUR", "description": EVIL},
        {"invoice_no": "Z-1", "customer_id": "C-ZH", "invoice_date": "2026-05-02", "due_date": "2026-06-01",
         "amount": 8_800_00, "currency": "EUR", "description": "电缆 200 米"},
        {"invoice_no": "H-1", "customer_id": "C-HU", "invoice_date": "2026-06-02", "due_date": "2026-06-17",
         "amount": 150_000_00, "currency": "HUF", "description": "Árvíztűrő tükörfúrógép"},
    ])
    pay = make_payments([
        {"payment_id": "PAY-9", "customer_id": "C-EN", "payment_date": "2026-06-12", "amount": 400_00,
         "currency": "EUR", "reference": "E-1 part"},
    ])
    cust = make_customers([
        {"customer_id": "C-EN", "name": "Acme <b>&</b> Co", "language": "en", "email": "en@acme.test",
         "payment_terms_days": 30},
        {"customer_id": "C-ZH", "name": "华东贸易有限公司", "language": "zh", "email": "zh@huadong.test"},
        {"customer_id": "C-HU", "name": "Kovács és Társa Kft.", "language": "hu", "email": "hu@kovacs.test",
         "address": "Váci utca 12.", "address_2": "III. emelet", "postcode": "1052", "city": "Budapest",
         "country": "Magyarország"},
    ])
    return inv, pay, cust


def statements(disputes=None, **kw):
    inv, pay, cust = book()
    policy = Policy()
    alloc = allocate(inv, pay, AS_OF, policy, disputes)
    aging = line_aging(inv, alloc, AS_OF, policy, disputes)
    return build_statements(inv, cust, aging, alloc.effective_payments, alloc.unapplied, AS_OF,
                            disputes=disputes, **kw)


def need_tool(name: str) -> str:
    """A poppler tool; missing in CI is a failure (.ci/run installs poppler-utils), elsewhere a skip."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} (Debian poppler-utils) must be installed in CI")
        pytest.skip(f"{name} (poppler-utils) is not installed")
    return path


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    f = tmp_path / "s.pdf"
    f.write_bytes(pdf)
    out = subprocess.run([need_tool("pdftotext"), "-layout", str(f), "-"], check=True, capture_output=True,
                         timeout=60)
    return out.stdout.decode("utf-8")


def page_png(pdf: bytes, tmp_path: Path, page: int = 1, dpi: int = 150) -> Path:
    f = tmp_path / "s.pdf"
    f.write_bytes(pdf)
    subprocess.run([need_tool("pdftoppm"), "-r", str(dpi), "-f", str(page), "-l", str(page), "-png",
                    "-singlefile", str(f), str(tmp_path / "page")], check=True, capture_output=True, timeout=60)
    return tmp_path / "page.png"
