"""billing.tabular.locate_tables: sheets -> tables, header rows, columns, data rows."""
from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

import billing.tabular as tabular
from billing.model import RawSheet, RawWorkbook, SkipNote
from billing.tabular import RawTable, TablesFound, locate_tables
from connectors.sources import read_source
from tests import messy
from tests.budget import examples

D = dt.datetime


def plain(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT:
        return None
    if not isinstance(v, str) and pd.api.types.is_scalar(v) and pd.isna(v):
        return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    if hasattr(v, "item") and not isinstance(v, str):
        return v.item()
    return v


def values(table: RawTable) -> dict[str, list[Any]]:
    return {c: [plain(v) for v in s] for c, s in table.columns.items()}


def book(*sheets: tuple[str, list[list[Any]]], hidden: tuple[str, ...] = ()) -> RawWorkbook:
    out = []
    for name, rows in sheets:
        width = max((len(r) for r in rows), default=0)
        cells = pd.DataFrame([list(r) + [None] * (width - len(r)) for r in rows], dtype=object)
        out.append(RawSheet(name=name, cells=cells, first_row=1, hidden=name in hidden))
    return RawWorkbook(source="test", sheets=out)


PAYMENTS = ("Payments", [["Payment ID", "Customer", "Payment Date", "Amount"],
                         ["P-1", "C1", D(2024, 3, 1), 5.0]])


def notes_of(found: TablesFound, sheet: str) -> list[tuple[int, str, str]]:
    return [(n.row, n.kind, n.text) for n in found.notes if n.sheet == sheet]


# --------------------------------------------------------------------------- the messy corpus


def test_title_rows_above_header_are_skipped_and_reported(tmp_path: Path) -> None:
    found = locate_tables(read_source(messy.acme_xlsx(tmp_path)))
    inv = found.tables["invoices"]
    assert (inv.sheet, inv.header_row) == ("Invoices", 3)
    assert (1, "title", "ACME Ltd — Accounts receivable 2024") in notes_of(found, "Invoices")
    assert (2, "blank", "blank row") in notes_of(found, "Invoices")  # every row is accounted for


def test_blank_rows_are_dropped_and_reported(tmp_path: Path) -> None:
    found = locate_tables(read_source(messy.acme_xlsx(tmp_path)))
    inv = found.tables["invoices"]
    assert inv.rows.tolist() == [4, 5, 7, 8]
    assert inv.rows.dtype == np.int64
    assert (6, "blank", "blank row") in notes_of(found, "Invoices")


def test_totals_row_is_not_data(tmp_path: Path) -> None:
    found = locate_tables(read_source(messy.acme_xlsx(tmp_path)))
    assert (9, "total", "totals row: Total | 1049.99") in notes_of(found, "Invoices")
    assert 9 not in found.tables["invoices"].rows

    zh = locate_tables(read_source(messy.chinese_xlsx(tmp_path)))
    assert zh.tables["invoices"].rows.tolist() == [2, 3]
    assert (4, "total", "totals row: 合计 | 2080.5") in notes_of(zh, "发票")

    csv = locate_tables(read_source(messy.csv_utf8_bom(tmp_path)))
    assert csv.tables["invoices"].rows.tolist() == [2, 3]
    skipped = [(n.row, n.kind) for n in csv.notes if n.kind in ("blank", "total")]
    assert skipped == [(4, "blank"), (5, "total")]


def test_values_are_raw_and_aligned_with_spreadsheet_rows(tmp_path: Path) -> None:
    found = locate_tables(read_source(messy.acme_xlsx(tmp_path)))
    inv = found.tables["invoices"]
    assert values(inv) == {
        "invoice_no": ["INV-001", "INV-001", "INV-002", "INV-003"],
        "customer_id": ["00017", "00017", "42", "00017"],
        "invoice_date": [D(2024, 3, 5), D(2024, 3, 5), "05/03/2024", "2024.03.29."],
        "line_no": [1.0, 2.0, 1.0, 1.0],
        "due_date": [D(2024, 4, 4), D(2024, 4, 4), None, None],
        "description": ["Widgets", "Freight", "Gadget", "Credit for widgets"],
        "amount": [1200.0, "1.234,50", 99.99, -250.0],
        "currency": ["EUR", "EUR", "USD", "EUR"],
    }
    assert inv.headers["invoice_date"] == "Invoice Date"
    assert inv.columns["invoice_date"].name == "Invoice Date"  # the user's header, for messages
    pay = found.tables["payments"]
    assert (pay.header_row, pay.rows.tolist()) == (1, [2, 3])
    assert values(pay)["payment_date"] == [D(2024, 3, 20), D(2024, 4, 1)]
    assert str(pay.columns["payment_date"].dtype).startswith("datetime64")
    assert pay.columns["amount"].dtype == np.float64


def test_unknown_columns_are_listed_in_unmapped_and_notes(tmp_path: Path) -> None:
    found = locate_tables(read_source(messy.acme_xlsx(tmp_path)))
    assert found.tables["invoices"].unmapped == ["Notes"]
    assert (3, "header", "columns not used for invoices: 'Notes'") in notes_of(found, "Invoices")


def test_unused_hidden_and_empty_sheets_are_reported(tmp_path: Path) -> None:
    found = locate_tables(read_source(messy.acme_xlsx(tmp_path)))
    assert found.missing == {}
    assert set(found.tables) == {"invoices", "payments"}
    assert notes_of(found, "Lookup") == [
        (0, "sheet", "sheet 'Lookup' was not used: its name and headers match no table")]
    assert notes_of(found, "Notes") == [(0, "sheet", "sheet 'Notes' is empty")]


def test_chinese_headers_map_to_canonical_columns(tmp_path: Path) -> None:
    found = locate_tables(read_source(messy.chinese_xlsx(tmp_path)))
    assert found.missing == {}
    inv = found.tables["invoices"]
    assert inv.sheet == "发票"
    assert inv.headers == {"invoice_no": "发票号", "customer_id": "客户编号", "invoice_date": "开票日期",
                           "amount": "金额", "currency": "币种"}
    assert inv.unmapped == ["备注说明"]
    assert values(inv)["invoice_date"] == [D(2024, 3, 5), "2024年3月6日"]
    pay = found.tables["payments"]
    assert pay.sheet == "收款"
    assert pay.headers == {"payment_id": "收款单号", "customer_id": "客户", "payment_date": "收款日期",
                           "amount": "收款金额"}


def test_chinese_csv_headers_map_to_canonical_columns(tmp_path: Path) -> None:
    inv = locate_tables(read_source(messy.csv_gbk(tmp_path))).tables["invoices"]
    assert values(inv) == {
        "invoice_no": ["FP-0001", "FP-0002"], "customer_id": ["00017", "00042"],
        "invoice_date": ["2024年3月5日", "2024/3/6"], "amount": ["1,200.00", "880.50"],
        "currency": ["人民币", "人民币"]}


def test_hungarian_sheet_names_headers_and_totals(tmp_path: Path) -> None:
    found = locate_tables(read_source(messy.hungarian_ods(tmp_path)))
    assert found.missing == {}
    inv = found.tables["invoices"]
    assert (inv.sheet, inv.header_row, inv.rows.tolist()) == ("Számlák", 2, [3, 4])
    assert inv.headers == {"invoice_no": "Számlaszám", "customer_id": "Vevőkód",
                           "invoice_date": "Számla kelte", "due_date": "Esedékesség",
                           "amount": "Bruttó összeg", "currency": "Pénznem"}
    assert values(inv)["amount"] == ["1 234,50", 50000.0]
    assert notes_of(found, "Számlák") == [
        (1, "title", "Példa Kft. — Kintlévőségek"),
        (5, "blank", "blank row"),
        (6, "total", "totals row: Összesen: | 51234.5"),
    ]
    pay = found.tables["payments"]
    assert pay.headers == {"payment_id": "Bizonylatszám", "customer_id": "Vevőkód",
                           "payment_date": "Fizetés dátuma", "amount": "Befizetett összeg",
                           "reference": "Közlemény"}


def test_hungarian_xlsx_headers_and_grand_total(tmp_path: Path) -> None:
    found = locate_tables(read_source(messy.hungarian_openpyxl_xlsx(tmp_path)))
    inv = found.tables["invoices"]
    assert (inv.header_row, inv.rows.tolist()) == (3, [4, 5])
    assert inv.headers == {"invoice_no": "Számlaszám", "customer_id": "Vevőkód", "invoice_date": "Kelt",
                           "due_date": "Lejárat", "amount": "Végösszeg"}
    assert values(inv)["invoice_date"] == [D(2024, 3, 5), "2024.03.06."]
    assert (6, "total", "totals row: Mindösszesen | 51234.5") in notes_of(found, "Számlák")
    assert found.tables["payments"].headers == {"payment_id": "Bizonylatszám", "customer_id": "Partnerkód",
                                                "payment_date": "Jóváírás dátuma", "amount": "Összeg"}


def test_two_row_merged_header_is_combined(tmp_path: Path) -> None:
    found = locate_tables(read_source(messy.two_row_header_xlsx(tmp_path)))
    inv = found.tables["invoices"]
    assert inv.header_row == 2
    assert inv.headers == {"invoice_no": "Invoice No", "customer_id": "Customer",
                           "invoice_date": "Invoice Date", "amount": "Invoice Amount",
                           "currency": "Currency"}
    assert values(inv) == {"invoice_no": ["INV-001", "INV-002"], "customer_id": ["00017", "42"],
                           "invoice_date": [D(2024, 3, 5), D(2024, 3, 6)], "amount": [1200.0, 99.99],
                           "currency": ["EUR", "USD"]}
    assert notes_of(found, "Invoices") == [
        (1, "header", "first row of a two-row header: Invoice | Customer | Currency")]
    assert found.tables["payments"].headers == {"payment_id": "Payment #", "customer_id": "Client",
                                                "payment_date": "Paid Date", "amount": "Amount Paid"}


def test_two_row_header_keeps_the_lower_text_when_only_it_matches() -> None:
    rows = [["Invoice", None, "Customer", None], ["No", "Date", "Name", "Currency"],
            ["I-1", D(2024, 3, 1), "ACME", "EUR"]]
    found = locate_tables(book(("Invoices", rows), PAYMENTS))
    assert found.missing["invoices"] == (
        "Sheet 'Invoices' has no column for amount (expected a header like 'Amount', 'Total', '金额', "
        "'Összeg'); found: 'Invoice No', 'Invoice Date', 'Customer Name', 'Customer Currency'")
    rows[1].append("Amount")
    rows[0].append(None)
    rows[2].append(5.0)
    inv = locate_tables(book(("Invoices", rows), PAYMENTS)).tables["invoices"]
    assert inv.headers == {"invoice_no": "Invoice No", "customer_id": "Customer",
                           "invoice_date": "Invoice Date", "amount": "Amount", "currency": "Currency"}
    assert inv.unmapped == []


def test_missing_required_column_names_what_was_expected_and_found(tmp_path: Path) -> None:
    found = locate_tables(read_source(messy.missing_column_xlsx(tmp_path)))
    assert "invoices" not in found.tables
    assert found.missing == {"invoices": (
        "Sheet 'Invoices' has no column for invoice_no (expected a header like 'Invoice No', "
        "'Invoice #', '发票号', 'Számlaszám'); found: 'Doc', 'Customer', 'Date', 'Total'")}
    assert "payments" in found.tables


def test_several_missing_columns_are_one_message() -> None:
    found = locate_tables(book(("Invoices", [["Doc", "Client", "Notes"], ["A", "C1", "x"]]), PAYMENTS))
    assert found.missing["invoices"] == (
        "Sheet 'Invoices' has no column for invoice_no (expected a header like 'Invoice No', 'Invoice #', "
        "'发票号', 'Számlaszám'); no column for invoice_date (expected a header like 'Invoice Date', "
        "'Date', '开票日期', 'Számla kelte'); no column for amount (expected a header like 'Amount', "
        "'Total', '金额', 'Összeg'); found: 'Doc', 'Client', 'Notes'")


def test_missing_required_table_is_one_clear_message(tmp_path: Path) -> None:
    found = locate_tables(read_source(messy.csv_utf16(tmp_path)))
    assert set(found.tables) == {"payments"}
    assert found.missing == {"invoices": (
        "No sheet for invoices: expected a sheet named like 'Invoices', 'Invoice Lines', '发票', "
        "'Számlák', or one with columns invoice_no, customer_id, invoice_date, amount; "
        "found sheets: 'payments_utf16'")}


def test_sheets_are_matched_by_headers_when_names_are_generic(tmp_path: Path) -> None:
    found = locate_tables(read_source(messy.generic_names_xlsx(tmp_path)))
    assert found.missing == {}
    assert {t: found.tables[t].sheet for t in found.tables} == {
        "invoices": "Sheet3", "payments": "Sheet2", "customers": "Sheet4"}
    inv = found.tables["invoices"]
    assert (inv.header_row, inv.rows.tolist()) == (5, [6, 7])
    assert inv.headers == {"invoice_no": "Invoice #", "customer_id": "Client ID", "invoice_date": "Inv Date",
                           "amount": "Gross Amount", "currency": "Ccy"}
    pay = found.tables["payments"]
    assert (pay.header_row, pay.rows.tolist()) == (2, [3])
    assert pay.headers == {"payment_id": "Transaction ID", "customer_id": "Account No",
                           "payment_date": "Value Date", "amount": "Received", "reference": "Memo"}


def test_hidden_sheet_is_used_and_reported(tmp_path: Path) -> None:
    found = locate_tables(read_source(messy.generic_names_xlsx(tmp_path)))
    assert notes_of(found, "Sheet2") == [(0, "sheet", "sheet 'Sheet2' is hidden; read as payments"),
                                         (1, "title", "Bank export")]


def test_csv_folder_tables_are_found_by_file_name(tmp_path: Path) -> None:
    found = locate_tables(read_source(messy.csv_folder(tmp_path)))
    assert found.missing == {}
    assert {t: (found.tables[t].sheet, len(found.tables[t])) for t in found.tables} == {
        "customers": ("customers", 2), "invoices": ("invoices", 3), "payments": ("payments", 1)}
    assert values(found.tables["customers"])["payment_terms_days"] == ["30", "15"]


# --------------------------------------------------------------------------- rules in isolation


def test_header_is_found_below_two_filled_title_cells() -> None:
    rows = [["ACME Ltd", "AR ledger"], [], ["Printed 2024-05-01"],
            ["Invoice No", "Customer", "Invoice Date", "Amount"], ["I-1", "C1", D(2024, 3, 1), 10.0]]
    found = locate_tables(book(("Invoices", rows), PAYMENTS))
    inv = found.tables["invoices"]
    assert (inv.header_row, inv.rows.tolist()) == (4, [5])
    assert notes_of(found, "Invoices") == [(1, "title", "ACME Ltd | AR ledger"), (2, "blank", "blank row"),
                                           (3, "title", "Printed 2024-05-01")]


def test_longest_contained_synonym_wins() -> None:
    rows = [["Invoice No", "Customer", "Invoice Date", "Payment Due Date", "Invoice Type",
             "Total Amount (EUR)", "Resource"],
            ["I-1", "C1", D(2024, 3, 1), D(2024, 4, 1), "invoice", 5.0, "x"]]
    inv = locate_tables(book(("Invoices", rows), PAYMENTS)).tables["invoices"]
    assert inv.headers == {"invoice_no": "Invoice No", "customer_id": "Customer",
                           "invoice_date": "Invoice Date", "due_date": "Payment Due Date",
                           "amount": "Total Amount (EUR)", "kind": "Invoice Type"}
    assert inv.unmapped == ["Resource"]  # "so" (sales order) is too short to match inside a word


def test_each_canonical_column_takes_one_header_the_first_exact_one() -> None:
    rows = [["Invoice #", "Customer", "Date", "Amount", "Customer", "Date"],
            ["I-1", "C1", D(2024, 3, 1), 1.0, "C2", 2]]
    inv = locate_tables(book(("Invoices", rows), PAYMENTS)).tables["invoices"]
    assert values(inv)["customer_id"] == ["C1"]
    assert values(inv)["invoice_date"] == [D(2024, 3, 1)]
    assert inv.unmapped == ["Customer", "Date"]


def test_row_with_total_text_but_an_invoice_number_is_data() -> None:
    rows = [["Invoice No", "Customer", "Invoice Date", "Amount", "Description"],
            ["I-1", "C1", D(2024, 3, 1), 10.0, "Widgets"],
            ["I-2", "C2", D(2024, 3, 2), 5.0, "Total"]]
    inv = locate_tables(book(("Invoices", rows), PAYMENTS)).tables["invoices"]
    assert inv.rows.tolist() == [2, 3]


def test_subtotal_and_trailing_total_rows_are_not_data() -> None:
    rows = [["Invoice No", "Customer", "Invoice Date", "Amount"],
            ["I-1", "C1", D(2024, 3, 1), 10.0],
            ["Subtotal", None, None, 10.0],
            ["I-2", "C2", D(2024, 3, 2), 5.0],
            [],
            ["Subtotal", None, None, 5.0],
            ["Grand total", "", None, 15.0]]
    found = locate_tables(book(("Invoices", rows), PAYMENTS))
    # the mid-table subtotal is no data either: it is reported as a subtotal row
    assert found.tables["invoices"].rows.tolist() == [2, 4]
    assert [(n.row, n.kind) for n in found.notes if n.sheet == "Invoices"] == [
        (3, "subtotal"), (5, "blank"), (6, "total"), (7, "total")]
    assert found.rows["Invoices"] == {"title": 0, "header": 1, "blank": 1, "data": 2, "subtotal": 1,
                                      "total": 2}


def test_repeated_header_rows_are_not_data() -> None:
    header = ["Invoice No", "Customer", "Invoice Date", "Amount"]
    rows = [header, ["I-1", "C1", D(2024, 3, 1), 10.0],
            ["Invoice No", "Customer ", " Invoice Date", "Amount"],
            ["I-2", "C2", D(2024, 3, 2), 5.0], ["Invoice No", "C3", D(2024, 3, 3), 1.0]]
    found = locate_tables(book(("Invoices", rows), PAYMENTS))
    assert found.tables["invoices"].rows.tolist() == [2, 4, 5]
    assert [(n.row, n.kind, n.text) for n in found.notes if n.sheet == "Invoices"] == [
        (3, "header", "header row repeated")]


def test_a_run_of_blank_rows_is_one_note() -> None:
    rows = [["Invoice No", "Customer", "Invoice Date", "Amount"], ["I-1", "C1", D(2024, 3, 1), 10.0]]
    rows += [[None, None, None, None]] * 2_000 + [["I-2", "C1", D(2024, 3, 2), 5.0]] + [[None] * 4] * 3
    found = locate_tables(book(("Invoices", rows), PAYMENTS))
    assert [(n.row, n.text) for n in found.notes if n.kind == "blank"] == [
        (3, "rows 3–2,002 blank"), (2_004, "rows 2,004–2,006 blank")]


def test_subtotal_rows_for_each_customer_are_skipped_and_reported() -> None:
    rows = [["Customer", "Invoice No", "Invoice Date", "Amount"],
            ["Acme Ltd", "I-1", D(2024, 3, 1), 10.0], ["Acme Ltd", "I-2", D(2024, 3, 2), 5.0],
            ["Total for Acme Ltd", None, None, 15.0],
            ["Beta LLC", "I-3", D(2024, 3, 3), 7.0],
            ["Total for Beta LLC", None, None, 7.0], ["Total", None, None, 22.0]]
    found = locate_tables(book(("Invoices", rows), PAYMENTS))
    assert found.tables["invoices"].rows.tolist() == [2, 3, 5]
    assert [(n.row, n.kind) for n in found.notes if n.sheet == "Invoices"] == [
        (4, "subtotal"), (6, "total"), (7, "total")]


def test_whitespace_only_rows_are_blank() -> None:
    rows = [["Invoice No", "Customer", "Invoice Date", "Amount"], ["I-1", "C1", D(2024, 3, 1), 10.0],
            ["  ", "\t", None, float("nan")], ["I-2", "C2", D(2024, 3, 2), 5.0]]
    found = locate_tables(book(("Invoices", rows), PAYMENTS))
    assert found.tables["invoices"].rows.tolist() == [2, 4]
    assert SkipNote("Invoices", 3, "blank", "blank row") in found.notes


def test_explicit_mapping_overrides_detection(tmp_path: Path) -> None:
    wb = read_source(messy.acme_xlsx(tmp_path))
    mapping = {"invoices": {"sheet": "Invoices", "columns": {"description": "Notes", "due_date": None}},
               "payments": {"sheet": "Payments", "columns": {"reference": "Customer",
                                                             "customer_id": "Reference"}}}
    found = locate_tables(wb, mapping)
    inv = found.tables["invoices"]
    assert values(inv)["description"] == [None, "amount typed as text", None, "credit note"]
    assert "due_date" not in inv.columns
    assert inv.unmapped == ["Due Date", "Description"]
    pay = found.tables["payments"]
    assert values(pay)["customer_id"] == ["INV-001", "INV-002 thanks"]
    assert values(pay)["reference"] == ["00017", "42"]


def test_mapping_picks_a_sheet_whose_name_says_nothing(tmp_path: Path) -> None:
    wb = read_source(messy.generic_names_xlsx(tmp_path))
    found = locate_tables(wb, {"invoices": {"sheet": "Sheet3"}, "payments": {"sheet": "Sheet2"},
                               "customers": {"sheet": "Sheet4"}})
    assert found.missing == {}
    assert found.tables["invoices"].header_row == 5


def test_mapping_to_a_sheet_or_header_not_in_the_file_is_reported(tmp_path: Path) -> None:
    wb = read_source(messy.acme_xlsx(tmp_path))
    found = locate_tables(wb, {"payments": {"sheet": "Bank"},
                               "invoices": {"columns": {"invoice_no": "Document Number"}}})
    assert found.missing["payments"] == ("Sheet 'Bank' chosen for payments is not in the file; found sheets: "
                                         "'Invoices', 'Payments', 'Lookup', 'Notes'")
    assert found.missing["invoices"].startswith(
        "Sheet 'Invoices' has no column 'Document Number' chosen in the column mapping for invoices; "
        "found: 'Invoice No', 'Line', 'Customer'")


def test_empty_sheet_named_like_a_table_is_reported() -> None:
    found = locate_tables(book(("Invoices", []), PAYMENTS))
    assert found.missing == {"invoices": "Sheet 'Invoices' for invoices is empty"}


def test_empty_sheet_named_like_a_table_gives_way_to_a_sheet_with_the_data() -> None:
    inv = [["Invoice No", "Customer", "Invoice Date", "Amount"], ["I-1", "C1", D(2024, 3, 1), 1.0]]
    found = locate_tables(book(("Invoices", []), ("Sheet2", inv), PAYMENTS))
    assert found.missing == {}
    assert found.tables["invoices"].sheet == "Sheet2"
    assert (0, "sheet", "sheet 'Invoices' is empty") in notes_of(found, "Invoices")


def test_sheet_name_containing_a_synonym_is_matched() -> None:
    inv = [["Doc #", "Who", "When", "How much"]]  # headers useless: the name decides
    found = locate_tables(book(("AR Invoices 2024", inv), ("Cash receipts Q1", PAYMENTS[1])))
    assert found.tables["payments"].sheet == "Cash receipts Q1"
    assert found.missing["invoices"].startswith("Sheet 'AR Invoices 2024' has no column for invoice_no")


def test_sheet_name_naming_two_tables_goes_by_its_last_word() -> None:
    inv = [["Invoice No", "Customer", "Invoice Date", "Amount"], ["I-1", "C1", D(2024, 3, 1), 1.0]]
    found = locate_tables(book(("Customer invoices", inv), PAYMENTS))
    assert found.tables["invoices"].sheet == "Customer invoices"
    assert "customers" not in found.tables


def test_csv_cells_stay_text_and_empty_strings_are_kept(tmp_path: Path) -> None:
    found = locate_tables(read_source(messy.csv_cp1252(tmp_path)))
    inv = found.tables["invoices"]
    assert (inv.header_row, inv.rows.tolist()) == (2, [3, 4])
    assert values(inv) == {"invoice_no": ["INV-001", "INV-002"], "customer_id": ["00017", "00042"],
                           "invoice_date": ["05.03.2024", "06.03.2024"], "amount": ["1.234,50", "99,99"],
                           "currency": ["EUR", "EUR"]}
    assert notes_of(found, "rechnungen") == [(1, "title", "Müller & Söhne — Offene Posten")]


# --------------------------------------------------------------------------- scale and properties


def test_large_sheet_is_located_without_per_cell_work(monkeypatch) -> None:
    n = 100_000
    calls = {"n": 0}
    real = tabular._is_blank_cell

    def counting(v: Any) -> bool:
        calls["n"] += 1
        return real(v)

    monkeypatch.setattr(tabular, "_is_blank_cell", counting)
    ids = pd.array([f"INV-{i:06d}" for i in range(n)], dtype="str")
    amounts = np.arange(n, dtype=np.float64)
    amounts_obj = amounts.astype(object)
    cells = pd.DataFrame({
        0: pd.array(["Title", None, "Invoice No"] + list(ids) + ["Total"], dtype=object),
        1: pd.array([None, None, "Customer"] + ["C1"] * n + [None], dtype=object),
        2: pd.Series([None, None, "Invoice Date"] + [D(2024, 3, 1)] * n + [None], dtype=object),
        3: pd.Series(np.concatenate([[None, None, "Amount"], amounts_obj, [amounts.sum()]]), dtype=object),
        4: pd.Series([None, None, "Notes"] + [""] * n + [None], dtype=object),
    })
    cells.iloc[50_000, :] = None  # one blank row
    wb = RawWorkbook("big", [RawSheet("Invoices", cells),
                             RawSheet("Payments", book(PAYMENTS).sheets[0].cells)])
    found = locate_tables(wb)
    inv = found.tables["invoices"]
    assert len(inv) == n - 1
    assert inv.rows[0] == 4 and inv.rows[-1] == n + 3
    assert inv.columns["amount"].dtype == np.float64
    skipped = [(x.row, x.kind) for x in found.notes if x.kind in ("blank", "total")]
    assert skipped == [(2, "blank"), (50_001, "blank"), (n + 4, "total")]
    assert calls["n"] < 5_000, calls["n"]


_header = ["Invoice No", "Customer", "Invoice Date", "Amount"]


@settings(max_examples=examples(60), deadline=None)
@given(titles=st.lists(st.sampled_from(["ACME", "Report 2024", "", "Printed by Bob"]), max_size=5),
       layout=st.lists(st.sampled_from(["row", "blank", "subtotal"]), min_size=1, max_size=12),
       total=st.booleans())
def test_data_rows_are_exactly_the_non_blank_rows_below_the_header(titles: list[str], layout: list[str],
                                                                   total: bool) -> None:
    rows: list[list[Any]] = [[t] if t else [] for t in titles]
    rows.append(_header)
    header_row = len(rows)
    want = []
    for i, kind in enumerate(layout):
        if kind == "row":
            rows.append([f"I-{i}", "C1", D(2024, 3, 1), float(i)])
            want.append(len(rows))
        elif kind == "subtotal":
            rows.append(["Total for C1", None, None, 5.0])
        else:
            rows.append([None, "", " "])
    if total:
        rows.append(["Total", None, None, 1.0])
    found = locate_tables(book(("Invoices", rows), PAYMENTS))
    inv = found.tables["invoices"]
    # every row of the sheet is exactly one kind, and every row that is no data is in a note
    assert sum(found.rows["Invoices"].values()) == len(rows)
    assert found.rows["Invoices"]["data"] == len(want)
    noted = set()
    for n in found.notes:
        if n.sheet == "Invoices" and n.kind in ("title", "blank", "header", "subtotal", "total"):
            a, _, b = n.text.partition(" blank")[0].removeprefix("rows ").partition("–")
            span = range(int(a.replace(",", "")), int(b.replace(",", "")) + 1) if b else [n.row]
            noted.update(span)
    assert noted | set(want) | {header_row} == set(range(1, len(rows) + 1))
    assert inv.header_row == header_row
    assert inv.rows.tolist() == want
    assert [n.row for n in found.notes if n.sheet == "Invoices" and n.kind == "title"] == \
        [i + 1 for i, t in enumerate(titles) if t]
    assert values(inv)["invoice_no"] == [f"I-{i}" for i, k in enumerate(layout) if k == "row"]
