"""Tool layouts recognised by their headers, with their conventions applied (billing.layouts)."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.ingest import build_dataset
from billing.layouts import LAYOUTS, negate_cells, recognise
from billing.model import Dataset
from billing.money import format_minor
from billing.tabular import _best_assignment, locate_tables
from tests.factories import raw_book as book

D = dt.datetime


def totals(data: Dataset, table: str = "invoices") -> dict[str, str]:
    frame = data.tables[table]
    return {cur: format_minor(int(v), cur) for cur, v in frame.groupby("currency")["amount"].sum().items()}


def layout_of(data: Dataset) -> list[str]:
    return [n.text for n in data.notes if n.kind == "layout"]


def test_every_layout_recognises_its_own_signature_and_no_other() -> None:
    for layout in LAYOUTS:
        texts = [group[0] for group in layout.signature]
        assert recognise(texts) is layout, layout.name


def test_zoho_books_reads_item_totals_not_the_repeated_invoice_total() -> None:
    header = ["Invoice Date", "Invoice ID", "Invoice Number", "Invoice Status", "Customer Name", "Customer ID",
              "Due Date", "Currency Code", "Discount Type", "Is Discount Before Tax", "Item Name", "Item Desc",
              "Quantity", "Item Price", "Discount", "Discount Amount", "Item Total", "SubTotal", "Total", "Balance"]
    rows = [["2021-01-28", "252001", "INV-000001", "Draft", "Highlander", "2520018000000073035", "2021-01-28",
             "USD", "item_level", "true", "Hardware Supply", "Mallets", "6.00", "4.25", "0.00", "0.000", "25.50",
             "205.50", "205.50", "205.50"],
            ["2021-01-28", "252001", "INV-000001", "Draft", "Highlander", "2520018000000073035", "2021-01-28",
             "USD", "item_level", "true", "General Car Repair", "Bumper", "4.00", "45.00", "0.00", "0.000",
             "180.00", "205.50", "205.50", "205.50"]]
    data = build_dataset(book(("zoho_invoices", [header, *rows])))
    assert layout_of(data) == ["recognised: Zoho Books invoice export"]
    assert totals(data) == {"USD": "205.50"}
    assert data.invoices["customer_id"].tolist() == ["2520018000000073035"] * 2


def test_invoice_ninja_lines_are_cost_times_quantity_under_title_rows() -> None:
    rows = [["Invoice Ninja v4.5.17 - December 19, 2020 11:28 pm"], [], ["INVOICES"],
            ["Client", "Email", "Invoice Number", "Amount", "Paid", "PO Number", "Status", "Invoice Date",
             "Due Date", "Discount", "Item Product", "Item Notes", "Item Cost", "Item Quantity"],
            ["Ludwig", "l@example.org", "1", "$13.50", "$5.01", "", "Partial", "2019-11-25", "2019-10-20", "",
             "et", "Ad neque", "1.35", "10"],
            ["Ludwig", "l@example.org", "2", "$26.67", "$6.94", "", "Partial", "2020-02-19", "2020-02-29", "",
             "omnis", "Dicta", "8.89", "3"]]
    payments = [["Invoice Ninja v4.5.17"], [], ["Payments"], ["Client", "Invoice Number", "Amount", "Date"],
                ["Ludwig", "1", "$13.50 ", "10/20/2019"], ["Ludwig", "2", "($400.00)", "1/29/2020"]]
    data = build_dataset(book(("invoice", rows), ("payments", payments)))
    assert totals(data) == {"USD": "40.17"}
    assert data.counts["payments"].read == 2 and data.counts["payments"].quarantined == 1  # the refund
    assert data.payments["payment_id"].tolist() == ["payments row 5"]
    assert [(n.row, n.kind) for n in data.notes if n.sheet == "invoice" and n.kind in ("title", "blank")] == [
        (1, "title"), (2, "blank"), (3, "title")]


def test_wave_journal_is_split_into_invoice_lines_and_payments() -> None:
    header = ["Transaction ID", "Transaction Date", "Account Name", "Transaction Description",
              "Transaction Line Description", "Amount (One column)", " ", "Debit Amount (Two Column Approach)",
              "Credit Amount (Two Column Approach)", "Customer", "Invoice Number", "Account Group", "Account Type"]
    rows = [["T1", "2021-01-28", "Sales", "Lucas - 3", "Lucas - 3 - Repair", "98.00", "", "", "98.00", "Lucas",
             "3", "Income", "Income"],
            ["T1", "2021-01-28", "Services", "Lucas - 3", "Lucas - 3 - Lawn", "40.00", "", "", "40.00", "Lucas",
             "3", "Income", "Income"],
            ["T1", "2021-01-28", "Accounts Receivable", "Lucas - 3", "Lucas - 3", "138.00", "", "138.00", "",
             "Lucas", "3", "Asset", "System Receivable Invoice"],
            ["T2", "2021-01-29", "Accounts Receivable", "Invoice Payment", "Invoice Payment", "-138.00", "", "",
             "138.00", "Lucas", "3", "Asset", "System Receivable Invoice"],
            ["T2", "2021-01-29", "Cash on Hand", "Invoice Payment", "Invoice Payment", "138.00", "", "138.00", "",
             "", "", "Asset", "Cash and Bank"]]
    found = locate_tables(book(("wave_invoices", [header, *rows])))
    assert found.rows["wave_invoices"] == {"title": 0, "header": 1, "blank": 0, "data": 3, "subtotal": 0,
                                           "total": 0, "skipped": 2}
    data = build_dataset(found)
    assert totals(data) == {"USD": "138.00"}
    assert data.payments[["payment_id", "amount", "invoice_no"]].values.tolist() == [["T2", 13800, "3"]]
    skipped = [n.row for n in data.notes if n.kind == "skipped"]
    assert sorted(skipped) == [4, 6]


def test_xero_line_is_quantity_times_unit_amount_plus_tax() -> None:
    header = ["*ContactName", "EmailAddress", "*InvoiceNumber", "Reference", "*InvoiceDate", "*DueDate", "Total",
              "InventoryItemCode", "*Description", "*Quantity", "*UnitAmount", "Discount", "*AccountCode",
              "*TaxType", "TaxAmount", "Currency"]
    rows = [["Bayside Club", "b@example.com", "INV-0001", "", "2024-03-01", "2024-03-31", "253.00", "", "Golf balls",
             "2", "100.00", "", "200", "GST on Income", "20.00", "AUD"],
            ["Bayside Club", "b@example.com", "INV-0001", "", "2024-03-01", "2024-03-31", "253.00", "", "Tees",
             "3", "10.00", "", "200", "GST on Income", "3.00", "AUD"]]
    data = build_dataset(book(("Invoices", [header, *rows])))
    assert layout_of(data) == ["recognised: Xero invoice export"]
    assert totals(data) == {"AUD": "253.00"}


def test_quickbooks_report_skips_total_for_rows_and_splits_payments() -> None:
    rows = [["Acme Ltd"], ["Transaction List by Customer"], [],
            ["Date", "Transaction type", "Num", "Customer", "Memo/Description", "Due date", "Amount", "Open balance"],
            ["2024-03-01", "Invoice", "1001", "Acme Ltd", "Widgets", "2024-03-31", "150.00", "50.00"],
            ["2024-03-05", "Credit Memo", "CM-7", "Acme Ltd", "Return", "2024-03-05", "-20.00", "0.00"],
            ["2024-03-20", "Payment", "P-88", "Acme Ltd", "", "", "80.00", "0.00"],
            ["Total for Acme Ltd", None, None, None, None, None, "210.00", "50.00"],
            ["2024-03-02", "Invoice", "1002", "Beta LLC", "Bolts", "2024-04-01", "40.00", "40.00"],
            ["2024-03-03", "Estimate", "E-1", "Beta LLC", "Quote", "", "99.00", ""],
            ["Total for Beta LLC", None, None, None, None, None, "40.00", "40.00"],
            ["TOTAL", None, None, None, None, None, "250.00", "90.00"]]
    found = locate_tables(book(("Sheet1", rows)))
    assert found.layouts == {"invoices": "QuickBooks transaction report"}
    notes = sorted((n.row, n.kind) for n in found.notes if n.kind in ("subtotal", "total", "skipped"))
    assert notes == [(8, "subtotal"), (10, "skipped"), (11, "total"), (12, "total")]
    data = build_dataset(found)
    inv = data.invoices.set_index("invoice_no")
    assert inv["amount"].to_dict() == {"1001": 15000, "1002": 4000, "CM-7": -2000}
    assert inv.loc["CM-7", "kind"] == "credit_note"
    assert data.payments[["payment_id", "amount"]].values.tolist() == [["P-88", 8000]]
    assert sum(found.rows["Sheet1"].values()) == len(rows)


def test_quickbooks_report_grouped_by_customer_takes_the_customer_from_its_group_row() -> None:
    rows = [["Acme Inc"], ["Open Invoices"], ["As of March 31, 2024"], [],
            ["Date", "Transaction type", "Num", "Due date", "Amount", "Open balance"],
            ["Acme Ltd"],
            ["2024-03-01", "Invoice", "1001", "2024-03-31", "150.00", "150.00"],
            ["2024-03-04", "Invoice", "1003", "2024-04-03", "60.00", "60.00"],
            ["2024-03-20", "Payment", "P-1", "", "-50.00", "-50.00"],
            ["Total for Acme Ltd", None, None, None, "160.00", "160.00"],
            ["Beta LLC"],
            ["2024-03-02", "Invoice", "1002", "2024-04-01", "40.00", "40.00"],
            ["Total for Beta LLC", None, None, None, "40.00", "40.00"],
            [], ["TOTAL", None, None, None, "200.00", "200.00"]]
    found = locate_tables(book(("Sheet1", rows)))
    assert sum(found.rows["Sheet1"].values()) == len(rows)
    assert found.rows["Sheet1"]["group"] == 2
    data = build_dataset(found)
    inv = data.invoices.set_index("invoice_no")
    assert inv["customer_id"].to_dict() == {"1001": "Acme Ltd", "1002": "Beta LLC", "1003": "Acme Ltd"}
    assert totals(data) == {"USD": "250.00"}
    assert data.payments[["payment_id", "customer_id"]].values.tolist() == [["P-1", "Acme Ltd"]]
    assert [n.row for n in data.notes if n.kind == "group"] == [6, 11]


def test_sap_fbl5n_trailing_minus_and_document_types() -> None:
    header = ["Account", "Assignment", "Document Number", "Document Type", "Document Date", "Net due date",
              "Amount in doc. curr.", "Document currency", "Text"]
    rows = [["100017", "A1", "9000001", "RV", "05.03.2024", "04.04.2024", "1.234,50", "EUR", "Invoice"],
            ["100017", "A2", "9000002", "DG", "06.03.2024", "06.03.2024", "234,50-", "EUR", "Credit memo"],
            ["100017", "A3", "1400001", "DZ", "20.03.2024", "20.03.2024", "1.000,00-", "EUR", "Payment"],
            ["100017", "A4", "100001", "AB", "21.03.2024", "21.03.2024", "0,00", "EUR", "Clearing"]]
    data = build_dataset(book(("FBL5N", [header, *rows])))
    assert layout_of(data) == ["recognised: SAP FBL5N customer line items"]
    inv = data.invoices.set_index("invoice_no")
    assert inv["amount"].to_dict() == {"9000001": 123450, "9000002": -23450}
    assert inv.loc["9000002", "kind"] == "credit_note"
    assert data.payments[["payment_id", "amount"]].values.tolist() == [["1400001", 100000]]
    assert [n.row for n in data.notes if n.kind == "skipped"] == [5]


def test_sage_customer_activity_types() -> None:
    header = ["A/C", "No", "Type", "Date", "Due on", "Ref", "Details", "Amount", "O/S", "Debit", "Credit"]
    rows = [["ACME01", "1", "SI", "01/03/2024", "31/03/2024", "INV-1", "Widgets", "120.00", "48.00", "120.00", ""],
            ["ACME01", "2", "SC", "05/03/2024", "05/03/2024", "CN-1", "Return", "12.00", "0.00", "", "12.00"],
            ["ACME01", "3", "SR", "20/03/2024", "", "", "Receipt", "60.00", "0.00", "", "60.00"],
            ["ACME01", "4", "SP", "21/03/2024", "", "", "Refund", "5.00", "0.00", "5.00", ""]]
    data = build_dataset(book(("Activity", [header, *rows])))
    assert layout_of(data) == ["recognised: Sage 50 customer activity"]
    inv = data.invoices.set_index("invoice_no")
    assert inv["amount"].to_dict() == {"INV-1": 12000, "CN-1": -1200}
    assert inv.loc["INV-1", "due_date"] == pd.Timestamp("2024-03-31")
    assert data.payments[["payment_id", "amount"]].values.tolist() == [["3", 6000]]
    assert [n.row for n in data.notes if n.kind == "skipped"] == [5]


def test_negate_cells_turns_text_and_number_signs() -> None:
    got = negate_cells(pd.Series(["-590.50", "5", "1.234,50-", "(3.00)", 4.5, None, ""], dtype=object))
    assert got.tolist() == ["590.50", "-5", "1.234,50", "3.00", -4.5, None, ""]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5), st.integers(1, 6), st.data())
def test_best_assignment_is_optimal(n: int, m: int, data: st.DataObject) -> None:
    import itertools

    w = np.array(data.draw(st.lists(st.lists(st.integers(0, 9), min_size=m, max_size=m), min_size=n, max_size=n)),
                 dtype=float)
    pairs = _best_assignment(w)
    rows, cols = [i for i, _ in pairs], [j for _, j in pairs]
    assert len(set(rows)) == len(rows) and len(set(cols)) == len(cols)
    assert len(pairs) == min(n, m)
    got = sum(w[i, j] for i, j in pairs)
    if n <= m:
        best = max(sum(w[i, p[i]] for i in range(n)) for p in itertools.permutations(range(m), n))
    else:
        best = max(sum(w[p[j], j] for j in range(m)) for p in itertools.permutations(range(n), m))
    assert got == best
