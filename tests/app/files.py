"""Small upload files for the app tests, built in memory with xlsxwriter."""

from __future__ import annotations

import datetime as dt
import io

import xlsxwriter

D = dt.datetime
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _book(sheets: dict[str, list[list]]) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    date = wb.add_format({"num_format": "yyyy-mm-dd"})
    for name, rows in sheets.items():
        ws = wb.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, v in enumerate(row):
                if isinstance(v, dt.datetime):
                    ws.write_datetime(r, c, v, date)
                elif v is not None:
                    ws.write(r, c, v)
    wb.close()
    return buf.getvalue()


def messy_xlsx() -> bytes:
    """`messy.xlsx`: 5 invoice rows of which 3 are quarantined, 2 payments of which 1 is.

    Invoices (header on row 3 under a title): rows 4 and 5 good (INV-1 lines 1-2, customer C1, USD),
    row 6 "not a date" in Invoice Date, row 7 "12,34,5" in Amount, row 8 an empty Customer.
    Payments: row 2 good (P1, C1, 100.00 referencing INV-1), row 3 amount "abc".
    """
    return _book(
        {
            "Invoices": [
                ["Receivables 2026"],
                [],
                ["Invoice No", "Line", "Customer", "Invoice Date", "Due Date", "Amount", "Currency"],
                ["INV-1", 1, "C1", D(2026, 4, 1), D(2026, 5, 1), 150.25, "USD"],
                ["INV-1", 2, "C1", D(2026, 4, 1), D(2026, 5, 1), 49.75, "USD"],
                ["INV-2", 1, "C2", "not a date", D(2026, 5, 1), 10, "USD"],
                ["INV-3", 1, "C2", D(2026, 4, 2), D(2026, 5, 2), "12,34,5", "USD"],
                ["INV-4", 1, None, D(2026, 4, 3), D(2026, 5, 3), 20, "USD"],
            ],
            "Payments": [
                ["Payment ID", "Customer", "Payment Date", "Amount", "Invoice No"],
                ["P1", "C1", D(2026, 4, 20), 100, "INV-1"],
                ["P2", "C2", D(2026, 4, 21), "abc", None],
            ],
        }
    )


def all_quarantined_xlsx() -> bytes:
    """Every invoice row has an unreadable amount."""
    return _book(
        {
            "Invoices": [
                ["Invoice No", "Customer", "Invoice Date", "Amount"],
                ["INV-1", "C1", D(2026, 4, 1), "n/a"],
                ["INV-2", "C1", D(2026, 4, 1), "??"],
            ],
            "Payments": [["Payment ID", "Customer", "Payment Date", "Amount"]],
        }
    )


def unmapped_xlsx(amount: int = 100) -> bytes:
    """The invoices sheet calls its invoice number column "Doc" (not recognised): needs a mapping.
    Another `amount` gives the next month's file of the same layout."""
    return _book(
        {
            "Invoices": [["Doc", "Customer", "Date", "Total"], ["A-1", "C1", D(2026, 4, 1), amount]],
            "Payments": [
                ["Payment ID", "Customer", "Payment Date", "Amount"],
                ["P1", "C1", D(2026, 4, 20), 60],
            ],
        }
    )


def invoices_only_xlsx() -> bytes:
    """An export with invoice lines and no payments sheet (payments are optional)."""
    return _book({"Invoices": [["Invoice #", "Customer", "Invoice Date", "Due Date", "Amount", "Currency"],
                               ["INV-1", "C1", D(2024, 3, 1), D(2024, 3, 31), 120.5, "USD"],
                               ["INV-2", "C2", D(2024, 3, 5), D(2024, 4, 4), 80, "USD"]]})
