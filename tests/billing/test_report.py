"""The SPEC §11 report on a small book whose every figure was worked out by hand."""
from __future__ import annotations

import openpyxl
import pandas as pd
from python_calamine import CalamineWorkbook

from billing.analysis import analyse
from billing.ingest import build_dataset
from billing.linecode import make_code
from billing.model import RawSheet, RawWorkbook
from billing.policy import Policy
from billing.report import SECTIONS, build_report, parse_sections, report_money_columns, report_tables

AS_OF = "2024-06-30"


def book() -> RawWorkbook:
    """Customer A (USD) and B (EUR).

    A: INV-A1 has two lines (1000.00 and 500.00, due 2024-05-01, 60 days late on the as-of date),
       INV-A2 one line of 300.00 due 2024-07-15 (current). Credit note CN-A1 of 200.00 on 2024-05-10
       credits INV-A1; payment PA1 of 800.00 on 2024-05-20 names INV-A1. So INV-A1 line 1 gets 200 (credit)
       + 800 (PA1) and is paid; line 2 stays open 500.00 (31-60); INV-A2 open 300.00 (current).
       PA2 of 300.00 is dated after the as-of date and takes no part.
    B: INV-B1 100.00 due 2024-02-09 (142 days late), PB1 of 150.00 with no reference pays it by FIFO and
       leaves 50.00 unapplied.
    """
    invoices = [
        ["Invoice No", "Line", "Customer", "Invoice Date", "Due Date", "Amount", "Currency", "Kind", "Applies To"],
        ["INV-A1", 1, "A", "2024-04-01", "2024-05-01", "1000.00", "USD", None, None],
        ["INV-A1", 2, "A", "2024-04-01", "2024-05-01", "500.00", "USD", None, None],
        ["INV-A2", 1, "A", "2024-06-15", "2024-07-15", "300.00", "USD", None, None],
        ["CN-A1", 1, "A", "2024-05-10", None, "200.00", "USD", "credit note", "INV-A1"],
        ["INV-B1", 1, "B", "2024-01-10", "2024-02-09", "100.00", "EUR", None, None],
    ]
    payments = [
        ["Payment ID", "Customer", "Payment Date", "Amount", "Currency", "Invoice No"],
        ["PA1", "A", "2024-05-20", "800.00", "USD", "INV-A1"],
        ["PA2", "A", "2024-07-05", "300.00", "USD", None],
        ["PB1", "B", "2024-03-01", "150.00", "EUR", None],
    ]
    return RawWorkbook("book", [RawSheet("Invoices", pd.DataFrame(invoices, dtype=object)),
                                RawSheet("Payments", pd.DataFrame(payments, dtype=object))])


def report(sections=SECTIONS, policy=Policy()):
    data = build_dataset(book())
    return build_report(data, analyse(data, AS_OF, policy), sections)


def test_summary_per_currency_matches_the_hand_computation():
    s = report()["summary"]
    assert s["USD"] == {"invoiced": "1800.00", "allocated": "1000.00", "open": "800.00", "overdue": "500.00",
                        "unapplied": "0.00", "in_dispute": "0.00",
                        "aging": {"current": "300.00", "1-30": "0.00", "31-60": "500.00", "61-90": "0.00",
                                  "91-120": "0.00", "over_120": "0.00"}}
    assert s["EUR"]["invoiced"] == "100.00" and s["EUR"]["open"] == "0.00"
    assert s["EUR"]["unapplied"] == "50.00"


def test_allocations_say_which_step_paid_which_line():
    r = report()
    a1 = make_code("INV-A1", 1)
    assert r["allocations"] == [
        {"payment_id": "PB1", "line_code": make_code("INV-B1", 1), "amount": "100.00", "step": "fifo"},
        {"payment_id": make_code("CN-A1", 1), "line_code": a1, "amount": "200.00", "step": "invoice"},
        {"payment_id": "PA1", "line_code": a1, "amount": "800.00", "step": "invoice"},
    ]
    assert r["unapplied"] == [{"payment_id": "PB1", "customer_id": "B", "amount": "50.00"}]


def test_lines_carry_open_amount_days_and_bucket():
    lines = {r["line_code"]: r for r in report()["lines"]}
    l2 = lines[make_code("INV-A1", 2)]
    assert (l2["amount"], l2["allocated"], l2["open"], l2["days_past_due"], l2["bucket"]) == \
        ("500.00", "0.00", "500.00", 60, "31-60")
    assert lines[make_code("INV-B1", 1)]["days_past_due"] == 142
    assert make_code("CN-A1", 1) not in lines  # credit notes are not aged


def test_customers_show_unapplied_credit_as_negative():
    customers = {c["customer_id"]: c for c in report()["customers"]}
    assert customers["A"]["open"] == "800.00" and customers["A"]["aging"]["31-60"] == "500.00"
    assert customers["B"]["unapplied"] == "-50.00"


def test_invoice_date_basis_moves_lines_between_buckets():
    lines = {r["line_code"]: r for r in report(policy=Policy(basis="invoice_date"))["lines"]}
    assert lines[make_code("INV-A1", 2)]["days_past_due"] == 90
    assert lines[make_code("INV-A2", 1)]["bucket"] == "1-30"


def test_exceptions_include_unapplied_cash_and_short_paid_invoice():
    types = {e["type"]: e for e in report()["exceptions"]}
    assert types["UNAPPLIED_CASH"]["amount"] == "50.00"
    assert types["SHORT_PAID"]["amount"] == "500.00"


def test_sections_choose_what_is_written():
    assert set(report(parse_sections("summary,kpis"))) == {"as_of", "basis", "buckets", "summary", "kpis"}


def test_xlsx_tables_neutralise_formulas_and_format_money(tmp_path):
    from connectors.export import write_workbook

    raw = book()
    raw.sheets[0].cells.iloc[1, 2] = "=HYPERLINK(\"http://x\")"
    data = build_dataset(raw)
    analysis = analyse(data, AS_OF)
    tables = report_tables(data, analysis)
    path = tmp_path / "r.xlsx"
    write_workbook(path, tables, money_columns=report_money_columns(tables, analysis.policy.bucket_labels))
    lines = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("lines").to_python()
    header = lines[0]
    cust = [r[header.index("customer_id")] for r in lines[1:]]
    assert "=HYPERLINK(\"http://x\")" in cust  # the value unchanged (SPEC §12) ...
    ws = openpyxl.load_workbook(path)["lines"]
    col = header.index("customer_id") + 1
    cell = next(ws.cell(r, col) for r in range(2, ws.max_row + 1) if str(ws.cell(r, col).value).startswith("="))
    assert cell.data_type == "s" and cell.quotePrefix  # ... a quote-prefixed string, never a formula
    amounts = sorted(r[header.index("amount")] for r in lines[1:])
    assert amounts == [100.0, 300.0, 500.0, 1000.0]


def test_summary_is_also_converted_to_a_base_currency_with_the_fx_table():
    raw = book()
    raw.sheets.append(RawSheet("FX Rates", pd.DataFrame([["date", "currency", "rate"],
                                                        ["2024-06-01", "EUR", 1.1],
                                                        ["2024-07-15", "EUR", 2.0]], dtype=object)))
    data = build_dataset(raw)
    r = build_report(data, analyse(data, AS_OF, Policy(base_currency="USD")), ["summary"])
    base = r["summary_base"]
    # USD as is (rate 1); EUR at 1.1, the latest rate on or before the as-of date (not the July one)
    assert base["rates"] == {"EUR": 1.1, "USD": 1.0} and base["missing_rates"] == []
    assert (base["open"], base["unapplied"], base["invoiced"]) == ("800.00", "55.00", "1910.00")
    assert base["aging"]["31-60"] == "500.00"


def test_a_currency_without_a_rate_is_listed_not_guessed():
    data = build_dataset(book())
    base = build_report(data, analyse(data, AS_OF, Policy(base_currency="USD")), ["summary"])["summary_base"]
    assert base["missing_rates"] == ["EUR"] and base["unapplied"] == "0.00"


def test_the_xlsx_customers_sheet_names_each_customer_with_segment_and_owner(tmp_path):
    from connectors.export import write_workbook

    raw = book()
    raw.sheets.append(RawSheet("Customers", pd.DataFrame([["Customer ID", "Name", "Segment", "Owner"],
                                                         ["A", "Acme Ltd", "Enterprise", "Ann"]], dtype=object)))
    data = build_dataset(raw)  # B is not in the customers table
    analysis = analyse(data, AS_OF)
    tables = report_tables(data, analysis, ["customers"])
    path = tmp_path / "r.xlsx"
    write_workbook(path, tables, money_columns=report_money_columns(tables, analysis.policy.bucket_labels))
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("customers").to_python()
    assert rows[0][:5] == ["customer_id", "name", "segment", "owner", "currency"]
    by_id = {r[0]: r for r in rows[1:]}
    assert by_id["A"][1:5] == ["Acme Ltd", "Enterprise", "Ann", "USD"]
    assert by_id["B"][1:5] == ["", "", "", "EUR"]
    assert by_id["A"][rows[0].index("open")] == 800.0  # money columns still follow their currency
    assert "name" not in build_report(data, analysis, ["customers"])["customers"][0]  # the JSON shape is SPEC §11's
