"""Normalising located tables: types, derived fields, quarantine with the cell the user must fix."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.ingest import IngestOptions, SchemaError, build_dataset
from billing.linecode import is_valid, make_code
from billing.model import RawSheet, RawWorkbook


def sheet(name: str, rows: list[list], first_row: int = 1) -> RawSheet:
    return RawSheet(name, pd.DataFrame(rows, dtype=object), first_row=first_row)


INV_HEADER = ["Invoice No", "Line", "Customer", "Invoice Date", "Due Date", "Amount", "Currency", "Kind",
              "Applies To", "Line Code"]
PAY_HEADER = ["Payment ID", "Customer", "Payment Date", "Amount", "Reference"]
CUST_HEADER = ["Customer ID", "Name", "Currency", "Payment Terms", "Dunning blocked"]


def workbook(invoices: list[list], payments: list[list] | None = None,
             customers: list[list] | None = None) -> RawWorkbook:
    sheets = [sheet("Invoices", [INV_HEADER, *invoices])]
    if payments is not None:
        sheets.append(sheet("Payments", [PAY_HEADER, *payments]))
    if customers is not None:
        sheets.append(sheet("Customers", [CUST_HEADER, *customers]))
    return RawWorkbook("test.xlsx", sheets)


def inv(no, line, cust, date, amount, due=None, currency=None, kind=None, applies=None, code=None):
    return [no, line, cust, date, due, amount, currency, kind, applies, code]


def test_counts_always_add_up_and_bad_cells_are_quarantined_with_their_address():
    data = build_dataset(workbook([
        inv("INV-1", 1, "C1", "2024-03-05", "1,234.50", currency="USD"),
        inv("INV-1", 2, "C1", "2024-02-30", 10, currency="USD"),        # impossible date
        inv("INV-2", 1, "C1", "2024-03-06", "12.345", currency="USD"),  # 3 decimals in USD
        inv("INV-3", 1, None, "2024-03-07", 5, currency="USD"),         # customer missing
        inv("INV-4", 1, "C1", "2024-03-07", "abc", currency="USD"),     # not a number
    ]))
    c = data.counts["invoices"]
    assert (c.read, c.accepted, c.quarantined) == (5, 1, 4)
    q = data.quarantine.set_index("row")
    assert q.loc[3, "column"] == "Invoice Date" and q.loc[3, "value"] == "2024-02-30"
    assert "not a real date" in q.loc[3, "message"]
    assert q.loc[4, "column"] == "Amount" and "3 decimals" in q.loc[4, "message"]
    assert q.loc[5, "column"] == "Customer" and "required" in q.loc[5, "message"]
    assert q.loc[6, "value"] == "abc" and "not a number" in q.loc[6, "message"]
    assert set(q["sheet"]) == {"Invoices"} and set(q["table"]) == {"invoices"}
    assert data.invoices["amount"].tolist() == [123450]


def test_money_is_integer_minor_units_per_currency():
    data = build_dataset(workbook([
        inv("A", 1, "C1", "2024-01-01", 1234.5, currency="USD"),
        inv("B", 1, "C1", "2024-01-01", "1,234.5 BHD", currency="BHD"),
        inv("C", 1, "C1", "2024-01-01", 1500, currency="JPY"),
        inv("D", 1, "C1", "2024-01-01", "(1,234.50)", currency="USD", kind="credit_note"),
    ]), IngestOptions())
    got = dict(zip(data.invoices["invoice_no"], data.invoices["amount"]))
    assert got == {"A": 123450, "B": 1234500, "C": 1500, "D": -123450}
    assert str(data.invoices["amount"].dtype) == "int64"


def test_european_number_column_is_read_with_comma_decimals():
    data = build_dataset(workbook([
        inv("A", 1, "C1", "2024-01-01", "1.234,50 €", currency="EUR"),
        inv("B", 1, "C1", "2024-01-01", "1 234,5", currency="EUR"),
        inv("C", 1, "C1", "2024-01-01", "12,00", currency="EUR")]))
    assert data.invoices["amount"].tolist() == [123450, 123450, 1200]


def test_a_column_mixing_decimal_styles_is_not_guessed():
    data = build_dataset(workbook([
        inv("A", 1, "C1", "2024-01-01", "1.234,50", currency="EUR"),
        inv("B", 1, "C1", "2024-01-01", "2.000,00", currency="EUR"),
        inv("C", 1, "C1", "2024-01-01", "1,234.50", currency="EUR")]))
    assert data.invoices["invoice_no"].tolist() == ["A", "B"]
    assert data.quarantine.loc[0, "row"] == 4 and "mixes decimal separators" in data.quarantine.loc[0, "message"]


def test_identifiers_keep_leading_zeros():
    data = build_dataset(workbook([inv("0000611365", 1, "00017", "2024-01-01", 1)]))
    assert data.invoices.loc[0, "invoice_no"] == "0000611365"
    assert data.invoices.loc[0, "customer_id"] == "00017"


def test_whole_number_ids_typed_as_numbers_do_not_gain_a_decimal():
    data = build_dataset(workbook([inv(611365.0, 1, 42.0, "2024-01-01", 1)]))
    assert data.invoices.loc[0, "invoice_no"] == "611365"
    assert data.invoices.loc[0, "customer_id"] == "42"


def test_missing_line_numbers_count_in_sheet_order_within_each_invoice():
    data = build_dataset(workbook([
        inv("INV-1", None, "C1", "2024-01-01", 1),
        inv("INV-2", None, "C1", "2024-01-01", 2),
        inv("INV-1", None, "C1", "2024-01-01", 3),
        inv("INV-3", 4, "C1", "2024-01-01", 4),
        inv("INV-3", None, "C1", "2024-01-01", 5),
    ]))
    got = {(r.invoice_no, int(r.amount) // 100): r.line_no for r in data.invoices.itertuples()}
    assert got == {("INV-1", 1): 1, ("INV-2", 2): 1, ("INV-1", 3): 2, ("INV-3", 4): 4, ("INV-3", 5): 5}


def test_missing_due_date_uses_customer_terms_else_default_and_is_flagged():
    data = build_dataset(workbook(
        [inv("INV-1", 1, "C1", "2024-01-01", 1), inv("INV-2", 1, "C2", "2024-01-01", 1),
         inv("INV-3", 1, "C1", "2024-01-01", 1, due="2024-01-10")],
        customers=[["C1", "One", "USD", 45, "no"]]), IngestOptions(default_terms_days=30))
    due = data.invoices.set_index("invoice_no")
    assert due.loc["INV-1", "due_date"] == pd.Timestamp("2024-02-15")
    assert due.loc["INV-2", "due_date"] == pd.Timestamp("2024-01-31")
    assert due.loc["INV-3", "due_date"] == pd.Timestamp("2024-01-10")
    assert due["due_date_derived"].tolist() == [True, True, False]


def test_currency_falls_back_to_customer_then_source_default():
    data = build_dataset(workbook(
        [inv("INV-1", 1, "C1", "2024-01-01", 1), inv("INV-2", 1, "C2", "2024-01-01", 1),
         inv("INV-3", 1, "C2", "2024-01-01", 1, currency="€")],
        customers=[["C1", "One", "HUF", None, None]]), IngestOptions(default_currency="EUR"))
    assert data.invoices["currency"].tolist() == ["HUF", "EUR", "EUR"]


def test_unknown_currency_code_is_quarantined():
    data = build_dataset(workbook([inv("INV-1", 1, "C1", "2024-01-01", 1, currency="XYZ")]))
    assert data.counts["invoices"].quarantined == 1
    assert "ISO 4217" in data.quarantine.loc[0, "message"]


def test_credit_notes_are_held_negative_whatever_sign_the_sheet_used():
    data = build_dataset(workbook([
        inv("CN-1", 1, "C1", "2024-01-01", 250, kind="Credit note", applies="INV-1"),
        inv("CN-2", 1, "C1", "2024-01-01", -80),
        inv("CN-3", 1, "C1", "2024-01-01", 30, kind="jóváírás"),
    ]))
    got = data.invoices.set_index("invoice_no")
    assert got["amount"].to_dict() == {"CN-1": -25000, "CN-2": -8000, "CN-3": -3000}
    assert set(got["kind"]) == {"credit_note"}
    assert got.loc["CN-1", "applies_to"] == "INV-1"


def test_blank_amount_is_computed_from_quantity_price_discount_and_tax():
    raw = RawWorkbook("t", [sheet("Invoices", [
        ["Invoice No", "Customer", "Date", "Qty", "Unit Price", "Discount", "Tax", "Amount"],
        ["INV-1", "C1", "2024-01-01", 3, "19.99", "5.00", "11.40", None],
        ["INV-2", "C1", "2024-01-01", None, None, None, None, None],
    ])])
    data = build_dataset(raw)
    assert data.invoices["amount"].tolist() == [3 * 1999 - 500 + 1140]
    assert "quantity and unit_price" in data.quarantine.loc[0, "message"]


def test_codes_are_derived_from_invoice_and_line_whatever_the_row_order():
    rows = [inv("INV-1", 1, "C1", "2024-01-01", 1), inv("INV-1", 2, "C1", "2024-01-01", 2),
            inv("INV-2", 1, "C1", "2024-01-01", 3)]
    forward = build_dataset(workbook(rows)).invoices
    backward = build_dataset(workbook(rows[::-1])).invoices
    assert forward["line_code"].tolist() == backward["line_code"].tolist()
    assert forward["line_code"].tolist() == [make_code("INV-1", 1), make_code("INV-1", 2), make_code("INV-2", 1)]


def test_user_codes_are_kept_and_duplicates_get_their_own_key_never_merged():
    mine = "MY-CODE-001X"
    data = build_dataset(workbook([
        inv("INV-1", 1, "C1", "2024-01-01", 1, code=mine),
        inv("INV-2", 1, "C1", "2024-01-01", 2, code=mine),
        inv("INV-3", 1, "C1", "2024-01-01", 3),
        inv("INV-3", 1, "C1", "2024-01-01", 4),
    ]))
    inv_t = data.invoices.set_index("amount")
    assert inv_t.loc[100, "line_code"] == mine and bool(inv_t.loc[100, "line_code_given"])
    assert inv_t.loc[200, "line_code"] == mine + "/2" + inv_t.loc[200, "line_code"][-1]
    assert inv_t.loc[200, "line_code_original"] == mine
    assert inv_t.loc[400, "line_code_original"] == make_code("INV-3", 1)
    assert is_valid(inv_t.loc[400, "line_code"]) and inv_t.loc[400, "line_code"] != make_code("INV-3", 1)
    assert data.invoices["line_code"].is_unique and len(data.invoices) == 4


def test_repeated_payment_ids_are_kept_apart():
    data = build_dataset(workbook([inv("INV-1", 1, "C1", "2024-01-01", 1)], payments=[
        ["P1", "C1", "2024-01-05", 1, None], ["P1", "C1", "2024-01-06", 2, None]]))
    assert sorted(data.payments["payment_id"]) == ["P1", "P1/2"]


def test_negative_payment_is_quarantined_with_what_to_do():
    data = build_dataset(workbook([inv("INV-1", 1, "C1", "2024-01-01", 1)], payments=[
        ["P1", "C1", "2024-01-05", -10, None]]))
    assert data.counts["payments"].quarantined == 1
    assert "refund" in data.quarantine.loc[0, "message"]


def test_flags_accept_yes_no_in_three_languages():
    data = build_dataset(workbook([inv("INV-1", 1, "C1", "2024-01-01", 1)], customers=[
        ["C1", "a", None, None, "yes"], ["C2", "b", None, None, "igen"], ["C3", "c", None, None, "否"],
        ["C4", "d", None, None, "maybe"]]))
    assert data.customers["dunning_blocked"].tolist() == [True, True, False]
    assert data.counts["customers"].quarantined == 1


def test_day_first_dates_are_detected_per_column():
    data = build_dataset(workbook([
        inv("INV-1", 1, "C1", "05/03/2024", 1), inv("INV-2", 1, "C1", "25/03/2024", 1)]))
    assert data.invoices["invoice_date"].tolist() == [pd.Timestamp("2024-03-05"), pd.Timestamp("2024-03-25")]


def test_excel_dates_and_hungarian_and_chinese_dates_read_alike():
    data = build_dataset(workbook([
        inv("A", 1, "C1", dt.datetime(2024, 3, 5), 1), inv("B", 1, "C1", "2024.03.05.", 1),
        inv("C", 1, "C1", "2024年3月5日", 1), inv("D", 1, "C1", 45356, 1)]))
    assert set(data.invoices["invoice_date"]) == {pd.Timestamp("2024-03-05")}


def test_missing_required_column_is_one_message_naming_expected_and_found():
    raw = RawWorkbook("t", [sheet("Invoices", [["Doc", "Customer", "Date", "Total"], ["X", "C", "2024-01-01", 1]])])
    with pytest.raises(SchemaError) as err:
        build_dataset(raw)
    assert "invoice_no" in str(err.value) and "'Doc'" in str(err.value)


def test_every_accepted_row_keeps_its_origin():
    data = build_dataset(workbook([inv("INV-1", 1, "C1", "2024-01-01", 1), inv("INV-2", 1, "C1", "2024-01-01", 1)]))
    assert data.invoices[["_sheet", "_row"]].values.tolist() == [["Invoices", 2], ["Invoices", 3]]


def test_quarantined_empty_date_cell_shows_blank_not_nat():
    data = build_dataset(workbook([inv("INV-1", 1, "C1", pd.NaT, 1)]))
    assert data.quarantine.loc[0, "value"] == "" and data.quarantine.loc[0, "column"] == "Invoice Date"


def test_invoices_come_out_in_canonical_order_whether_or_not_the_sheet_was_sorted():
    from billing.ingest import _canonical_order

    inv = pd.DataFrame({"invoice_no": pd.Series(["B", "A", "A", "B", "A"], dtype="string"),
                        "line_no": np.array([1, 2, 1, 1, 1], dtype=np.int64),
                        "_sheet": pd.Series(["s", "s", "s", "t", "s"], dtype="string"),
                        "_row": np.array([2, 3, 4, 2, 6], dtype=np.int64), "x": np.arange(5)})
    want = inv.sort_values(["invoice_no", "line_no", "_sheet", "_row"], kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(_canonical_order(inv), want)
    pd.testing.assert_frame_equal(_canonical_order(want), want)  # already sorted: kept
    tie = want.iloc[[0, 0]].reset_index(drop=True)  # equal keys stay in sheet order
    pd.testing.assert_frame_equal(_canonical_order(tie), tie)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["A", "B", "a", "É", "A-1", ""]), st.integers(1, 3),
                          st.sampled_from(["s", "t"]), st.integers(2, 5)), min_size=2, max_size=12))
def test_canonical_order_is_a_stable_sort_by_invoice_line_sheet_row(rows):
    from billing.ingest import _canonical_order

    inv = pd.DataFrame({"invoice_no": pd.Series([r[0] for r in rows], dtype="string"),
                        "line_no": np.array([r[1] for r in rows], dtype=np.int64),
                        "_sheet": pd.Series([r[2] for r in rows], dtype="string"),
                        "_row": np.array([r[3] for r in rows], dtype=np.int64), "x": np.arange(len(rows))})
    want = inv.sort_values(["invoice_no", "line_no", "_sheet", "_row"], kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(_canonical_order(inv), want)


def test_csv_text_read_by_arrow_is_checked_like_workbook_cells():
    """Formula errors exported into a CSV (whatever the column) and currency symbols, on the
    Arrow-backed text columns the CSV reader gives."""
    from connectors.sources import read_csv_files

    text = ("invoice_no,line_no,customer_id,invoice_date,amount,currency,description\n"
            "I-1,1,C1,2024-01-05,10.00,€,ok\n"
            "I-2,1,C1,2024-01-05,#N/A,USD,fine\n"
            "I-3,1,C1,2024-01-05,5.00,RMB,Err:502\n"
            "I-4,1,C1,2024-01-05,7.00,RMB,plain\n")
    raw = read_csv_files([("invoices.csv", text.encode())])
    assert all(getattr(dt, "storage", None) == "pyarrow" for dt in raw.sheets[0].cells.dtypes)
    data = build_dataset(raw)
    q = data.quarantine
    assert q[["row", "column", "value"]].values.tolist() == [[3, "amount", "#N/A"], [4, "description", "Err:502"]]
    assert q["message"].str.contains("formula error").all()
    assert data.invoices.set_index("invoice_no")["currency"].to_dict() == {"I-1": "EUR", "I-4": "CNY"}
    assert data.counts["invoices"].read == 4 and data.counts["invoices"].accepted == 2
