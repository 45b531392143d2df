"""The workbook-with-codes download (SPEC §12): formula-like text keeps its value under the
quote-prefix style, numbers stay numbers after a CSV upload, and any CSV file name becomes a valid
sheet name."""
from __future__ import annotations

import io

import openpyxl
import pytest

from billing.ingest import IngestOptions
from billing.linecode import make_code
from connectors.load import load_uploads
from connectors.writeback import codes_workbook

INVOICES = ("invoice_no,line_no,customer_id,invoice_date,amount,currency,description\r\n"
            "INV-1,1,0012,2024-05-02,138.32,USD,=SUM(A1:A9)\r\n"
            "INV-1,2,0012,2024-05-02,-12.5,USD,+36 30 555 1234\r\n"
            "INV-2,1,C2,2024-05-03,\"1,234.50\",USD,-2+3\r\n")
PAYMENTS = "payment_id,customer_id,payment_date,amount\r\nP1,0012,2024-06-01,100.00\r\n"


def workbook(files):
    data = load_uploads(list(files))
    assert len(data.quarantine) == 0
    return data, openpyxl.load_workbook(io.BytesIO(codes_workbook(tuple(files), IngestOptions(), data)))


def test_after_a_csv_upload_numbers_stay_numbers_and_formula_text_keeps_its_value(tmp_path):
    _, wb = workbook([("invoices.csv", INVOICES.encode())])
    ws = wb.active
    rows = [[c for c in row] for row in ws.iter_rows(min_row=2)]
    amount = {r[0].value + "/" + str(r[1].value): r[4] for r in rows}
    assert amount["INV-1/1"].value == 138.32 and amount["INV-1/1"].data_type == "n"
    assert amount["INV-1/2"].value == -12.5 and amount["INV-1/2"].data_type == "n"
    assert amount["INV-2/1"].value == "1,234.50"  # not a plain decimal: kept as the file wrote it
    assert rows[0][1].value == 1 and rows[0][2].value == "0012"  # a line number is a number, an id stays text
    desc = [r[6] for r in rows]
    assert [c.value for c in desc] == ["=SUM(A1:A9)", "+36 30 555 1234", "-2+3"]
    assert all(c.data_type == "s" and c.quotePrefix for c in desc)
    assert not rows[0][0].quotePrefix
    codes = [r[7].value for r in rows]
    assert codes == [make_code("INV-1", 1), make_code("INV-1", 2), make_code("INV-2", 1)]


@pytest.mark.parametrize("name", ["invoices [2024]: Q1.csv", "invoices*?.csv", "a/b\\invoices.csv"])
def test_csv_file_names_excel_refuses_become_valid_sheet_names(name):
    _, wb = workbook([(name, INVOICES.encode()), ("payments.csv", PAYMENTS.encode())])
    assert len(wb.sheetnames) == 2
    assert all(not set(s) & set("[]:*?/\\") and len(s) <= 31 for s in wb.sheetnames)
    inv = wb[wb.sheetnames[0]]
    assert inv["H1"].value == "line_code" and inv["H2"].value == make_code("INV-1", 1)
