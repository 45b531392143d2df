"""AppTest runs of the pages of issue 4 on the demo data and on small uploads.

Each test starts a fresh AppTest session. Cached engine results are cleared
between tests; the demo workbook itself (deterministic, read-only) stays
cached for the process so the suite stays fast.
"""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from billing.analysis import analyse
from billing.labels import EXCEPTION_TYPES as EXCEPTION_LABELS
from billing.ingest import IngestOptions
from billing.linecode import ALPHABET, canonical
from billing.policy import Policy
from connectors.export import write_demo_workbook
from connectors.load import load_uploads
from tests.app import files
from connectors import writeback
from ui import exports, state
from ui.fmt import days_text, money_text, pct_text

APP = Path(__file__).resolve().parents[2] / "app.py"
PAGES = ["overview", "aging", "customer", "reconciliation", "payments", "data"]
TIMEOUT = 120


@pytest.fixture(autouse=True)
def clear_caches():
    """Every cached function except the demo loader starts empty."""
    for fn in (
        state.load_import,
        state.period_for,
        state.history_for,
        state.billing_lists_for,
        state.known_codes,
    ):
        fn.clear()
    yield


@pytest.fixture(scope="module")
def demo():
    """The demo Dataset and its engine results, computed outside the app."""
    buf = io.BytesIO()
    write_demo_workbook(buf, seed=state.DEMO_SEED, n_lines=state.DEMO_LINES)
    data = load_uploads([("demo.xlsx", buf.getvalue())])
    now = analyse(data, state.DEMO_AS_OF, Policy())
    before = analyse(
        data, state.DEMO_AS_OF - pd.Timedelta(days=Policy().kpi_period_days), Policy(), with_exceptions=False
    )
    return data, now, before


def start(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    if page and page != "overview":
        at.switch_page(f"pages/{page}.py").run()
    return at


def ok(at: AppTest) -> AppTest:
    assert not at.exception, "\n".join(f"{e.value}\n{''.join(e.stack_trace)}" for e in at.exception)
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def frame(at: AppTest, columns: list[str]) -> pd.DataFrame:
    """The first table drawn with exactly these leading columns (non-selectable tables have no key)."""
    for df in at.dataframe:
        value = df.value
        if list(value.columns[: len(columns)]) == columns:
            return value
    raise AssertionError(f"no table with columns {columns}: {[list(d.value.columns) for d in at.dataframe]}")


# --------------------------------------------------------------------------- every page


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_demo_data(page):
    at = ok(start(page))
    assert at.title[0].value in {
        "Overview",
        "Aging",
        "Customer",
        "Reconciliation",
        "Payments & allocations",
        "Data",
    }
    assert any("Demo data" in m.value for m in at.markdown), "the demo banner is missing"
    if page != "data":
        assert any(p.label == "Load your own data" for p in at.main.get("page_link"))


def test_overview_key_numbers_equal_the_engine(demo):
    _, now, before = demo
    at = ok(start())
    k = now.kpis.set_index("currency").loc["USD"]
    b = before.kpis.set_index("currency").loc["USD"]
    assert metrics(at) == {
        "Open": money_text(int(k["total_open"]), "USD"),
        "Overdue %": pct_text(k["overdue_pct"]),
        "DSO": days_text(k["dso_days"]),
        "CEI": pct_text(k["cei_pct"]),
        "Unapplied": money_text(int(k["unapplied"]), "USD"),
        "In dispute": money_text(int(k["in_dispute"]), "USD"),
    }
    delta = {m.label: m.proto.delta for m in at.metric}
    diff = int(k["total_open"] - b["total_open"])
    assert delta["Open"] == ("+" if diff > 0 else "") + money_text(diff, "USD")
    assert delta["DSO"] == f"{k['dso_days'] - b['dso_days']:+.1f} days"
    # the demo has fx_rates: all currencies converted to USD, labelled, equal to the report's figure
    from billing.report import base_totals

    totals, _, _ = base_totals(now, demo[0].fx_rates, "USD")
    assert any(f"open **{money_text(totals['open'], 'USD')}**" in c.value for c in at.caption)
    # the other currencies, one at a time
    at.segmented_control(key="overview_currency").set_value("EUR").run()
    assert ok(at) and metrics(at)["Open"] == money_text(
        int(now.kpis.set_index("currency").loc["EUR", "total_open"]), "EUR"
    )
    # the exception buttons count what the engine found
    counts = now.exceptions.groupby("type").size()
    shown = {b.key: b.label for b in at.button if b.key and b.key.startswith("overview_exc_")}
    assert shown == {f"overview_exc_{t}": f"{EXCEPTION_LABELS[t]} · {n}" for t, n in counts.items()}
    assert not any("_" in label.split(" · ")[0] for label in shown.values())  # words, not codes


def test_overview_names_every_other_currency_beside_the_cards(demo):
    _, now, _ = demo
    at = ok(start())
    text = " ".join(c.value for c in at.caption)
    others = now.kpis[now.kpis["currency"] != "USD"]
    assert len(others) >= 2
    for _, row in others.iterrows():  # the USD cards never hide the cash held in another currency
        cur = str(row["currency"])
        assert f"**{cur}**" in text
        assert money_text(int(row["unapplied"]), cur) in text and money_text(int(row["total_open"]), cur) in text


def test_filters_change_the_numbers(demo):
    _, now, _ = demo
    at = ok(start())
    usd_open = metrics(at)["Open"]
    at.multiselect(key="f_currency").set_value(["EUR"]).run()
    ok(at)
    assert metrics(at)["Open"] == money_text(
        int(now.kpis.set_index("currency").loc["EUR", "total_open"]), "EUR"
    )
    assert not at.segmented_control  # one currency left: nothing to pick

    at.multiselect(key="f_currency").set_value([]).run()
    label = at.multiselect(key="f_customer").options[0]
    cid = label.split(" · ")[0]
    at.multiselect(key="f_customer").set_value([label]).run()
    ok(at)
    mine = now.aging[now.aging["customer_id"] == cid]
    cur = sorted(mine["currency"].unique())[0]
    assert metrics(at)["Open"] == money_text(int(mine.loc[mine["currency"] == cur, "open"].sum()), cur)
    assert metrics(at)["Open"] != usd_open

    # the filter survives a page switch and applies there too
    at.switch_page("pages/aging.py").run()
    ok(at)
    assert at.multiselect(key="f_customer").value == [label]
    customers = at.dataframe(key="aging_customers").value
    assert set(customers["customer_id"]) == {cid}


def test_segment_filter_keeps_only_its_customers(demo):
    data, _, _ = demo
    at = ok(start("aging"))
    segment = at.multiselect(key="f_segment").options[0]
    at.multiselect(key="f_segment").set_value([segment]).run()
    ok(at)
    ids = set(data.customers.loc[data.customers["segment"] == segment, "customer_id"])
    assert set(at.dataframe(key="aging_customers").value["customer_id"]) <= ids


# --------------------------------------------------------------------------- drill-down and links


def test_aging_drills_down_to_lines_and_allocations(demo):
    _, now, _ = demo
    at = ok(start("aging"))
    top = at.dataframe(key="aging_customers").value.iloc[0]
    at.session_state["aging_customers"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    lines = ok(at).dataframe(key="aging_lines").value
    assert set(lines["customer_id"]) == {top["customer_id"]}
    first = lines.iloc[0]
    at.session_state["aging_lines"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    ok(at)
    assert any(f"Allocations to line {first['line_code']}" in m.value for m in at.markdown)

    at.segmented_control(key="aging_level").set_value("Invoice").run()
    by_invoice = ok(at).dataframe(key="aging_invoices").value
    open_lines = now.aging[now.aging["open"] != 0]
    assert dict(zip(by_invoice["invoice_no"], by_invoice["lines"])) == \
        open_lines.groupby("invoice_no").size().to_dict()  # every invoice with open lines, its open-line count
    at.pills(key="aging_buckets").set_value(["over_120"]).run()
    shown = ok(at).dataframe(key="aging_invoices").value
    assert (shown["oldest_days"] > 120).all()


def test_exception_button_opens_reconciliation_on_that_type():
    at = ok(start())
    at.button(key="overview_exc_UNBILLED").click().run()
    ok(at)
    assert at.title[0].value == "Reconciliation"
    assert at.multiselect(key="recon_types").value == ["UNBILLED"]
    assert [e.label.split(" · ")[0] for e in at.expander] == [EXCEPTION_LABELS["UNBILLED"]]


def test_top_overdue_customer_opens_the_statement():
    at = ok(start())
    cid = at.dataframe(key="overview_top_overdue").value.iloc[0]["customer_id"]
    at.session_state["overview_top_overdue"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    ok(at)
    assert at.title[0].value == "Customer"
    assert at.session_state["customer_pick"] == cid
    assert at.header[0].value.startswith(cid)
    assert any(m.label.startswith("Open (") for m in at.metric)


def test_customer_page_uses_the_sidebar_choice_else_lists_customers_to_pick(demo):
    _, now, _ = demo
    at = ok(start("customer"))
    listed = at.dataframe(key="customer_list").value
    overdue = now.by_customer.set_index(["customer_id", "currency"])["overdue"]
    assert len(listed) and list(listed["customer_id"].head(1)) == [
        now.by_customer.sort_values(["overdue", "open", "customer_id"], ascending=[False, False, True])
        .iloc[0]["customer_id"]]
    assert {"open", "overdue", "oldest_days"} <= set(listed.columns)
    assert not at.header  # nobody chosen yet: the list, no statement
    cid = str(listed.iloc[3]["customer_id"])
    label = next(o for o in at.sidebar.multiselect(key="f_customer").options if o.split(" · ")[0] == cid)
    at.sidebar.multiselect(key="f_customer").set_value([label]).run()
    ok(at)
    assert at.header[0].value.replace("\\", "").startswith(cid)  # the sidebar's one customer, no other control
    assert not [d for d in at.dataframe if d.key == "customer_list"]
    cur = str(listed.iloc[3]["currency"])
    assert any(m.label == f"Overdue ({cur})" for m in at.metric)
    assert overdue.loc[(cid, cur)] >= 0


# --------------------------------------------------------------------------- line-code lookup


def test_line_code_lookup_flags_a_typo(demo):
    data, _, _ = demo
    code = str(data.invoices["line_code"].iloc[0])
    body = canonical(code)
    wrong = ALPHABET[(ALPHABET.index(body[-3]) + 1) % 36]
    typo = code[:-3] + wrong + code[-2:]
    at = ok(start("payments"))
    at.text_input(key="payments_lookup").input(typo).run()
    ok(at)
    assert any("is not a valid line code" in e.value for e in at.error)
    assert any(code in m.value and "Did you mean" in m.value for m in at.markdown)

    at.text_input(key="payments_lookup").input(code.lower()).run()
    ok(at)
    assert any("is a valid line code" in s.value for s in at.success)
    assert not at.error


# --------------------------------------------------------------------------- uploads


def upload(at: AppTest, name: str, blob: bytes) -> AppTest:
    at.file_uploader(key="data_upload").set_value((name, blob, files.XLSX)).run()
    return ok(at)


def test_upload_of_a_messy_file_shows_the_quarantined_rows():
    at = upload(start("data"), "messy.xlsx", files.messy_xlsx())
    counts = frame(at, ["table", "read", "accepted", "quarantined"]).set_index("table")
    assert counts.loc["invoices", ["read", "accepted", "quarantined"]].tolist() == [5, 2, 3]
    assert counts.loc["payments", ["read", "accepted", "quarantined"]].tolist() == [2, 1, 1]
    q = frame(at, ["table", "sheet", "row", "column", "value", "message"])
    cells = {(r.sheet, int(r.row), r.column) for r in q.itertuples()}
    assert {
        ("Invoices", 6, "Invoice Date"),
        ("Invoices", 7, "Amount"),
        ("Invoices", 8, "Customer"),
        ("Payments", 3, "Amount"),
    } <= cells
    assert "not a date" in set(q["value"])
    assert any("Stored as import #1: 2 invoice lines" in s.value for s in at.success)
    assert any("messy.xlsx" in c.value.replace("\\", "") for c in at.sidebar.caption)
    # every page now draws the upload
    for page in PAGES[:-1]:
        at.switch_page(f"pages/{page}.py").run()
        ok(at)
        assert not any("Demo data" in m.value for m in at.markdown)


def test_an_invoices_only_upload_draws_every_page_with_everything_open():
    at = upload(start("data"), "invoices.xlsx", files.invoices_only_xlsx())
    assert any("Stored as import #1: 2 invoice lines" in s.value for s in at.success)
    for page in PAGES[:-1]:
        ok(at.switch_page(f"pages/{page}.py").run())
    at.switch_page("pages/payments.py").run()
    assert any("every invoice line is open" in i.value for i in ok(at).info)


def test_code_can_hand_files_to_the_data_page():
    at = start("data")
    at.session_state["data_pending_upload"] = [("messy.xlsx", files.messy_xlsx())]
    at.run()
    ok(at)
    assert len(frame(at, ["table", "sheet", "row", "column", "value", "message"])) == 4


def test_bad_uploads_give_a_message_not_a_traceback():
    at = start("data")
    upload(at, "broken.xlsx", b"PK\x03\x04 a zip that ends here")
    assert at.error and "broken.xlsx" in at.error[0].value
    upload(at, "empty.csv", b"")
    assert at.error and "empty.csv" in at.error[0].value
    upload(at, "nothing.xlsx", files.all_quarantined_xlsx())
    assert any("None of the 2 invoice rows could be read" in e.value for e in at.error)
    assert len(frame(at, ["table", "sheet", "row", "column", "value", "message"])) == 2
    assert any("demo data" in i.value for i in at.sidebar.info), "a failed upload must not replace the data"


def test_column_mapping_editor_fixes_a_missing_column():
    at = upload(start("data"), "unmapped.xlsx", files.unmapped_xlsx())
    assert "invoice_no" in at.error[0].value
    assert at.selectbox(key="data_map_invoices_amount").value == "Total"  # guessed
    at.selectbox(key="data_map_invoices_invoice_no").set_value("Doc").run()
    at.button(key="data_map_apply").click().run()
    ok(at)
    assert any("Stored as import #1: 1 invoice lines" in s.value for s in at.success)
    assert any("mapping from" in i.value and "applied" in i.value for i in at.info)
    # remembered for the layout: a new session importing the next file of that layout needs no editor
    at2 = upload(start("data"), "unmapped_next.xlsx", files.unmapped_xlsx(amount=99))
    assert not at2.error, [e.value for e in at2.error]
    assert any("Stored as import #2" in s.value for s in at2.success)
    assert any("mapping from" in i.value and "applied" in i.value for i in at2.info)


# --------------------------------------------------------------------------- exports


def test_exports_are_workbooks_with_the_expected_sheets(demo):
    data, now, _ = demo
    book = openpyxl.load_workbook(io.BytesIO(exports.report_bytes(data, now)), read_only=True)
    assert {"about", "summary", "customers", "lines", "exceptions", "quarantine"} <= set(book.sheetnames)

    blob = files.messy_xlsx()
    messy = load_uploads([("messy.xlsx", blob)])
    out = openpyxl.load_workbook(
        io.BytesIO(writeback.codes_workbook((("messy.xlsx", blob),), IngestOptions(), messy))
    )
    ws = out["Invoices"]
    header = [c.value for c in ws[3]]
    assert header[-1] == "line_code"
    col = len(header)
    got = {ws.cell(row=r, column=col).value for r in (4, 5)}
    assert got == set(messy.invoices["line_code"])
    assert ws.cell(row=6, column=col).value is None  # a quarantined row gets no code
    assert ws["A1"].value == "Receivables 2026"


def test_a_deep_linked_page_still_runs_under_app_py(monkeypatch, demo):
    """Without the conftest shim AppTest runs page files on their own in Streamlit's legacy pages/ mode
    (as a fresh server does for a deep link); the page draws the app's frame itself, public APIs only."""
    from streamlit.runtime.pages_manager import PagesManager

    from tests.app.conftest import LEGACY_INIT

    monkeypatch.setattr(PagesManager, "__init__", LEGACY_INIT)
    at = ok(start("aging"))
    assert at.title[0].value == "Aging"
    assert at.date_input(key="f_as_of").value == state.DEMO_AS_OF.date()  # the sidebar ran and set its default
    assert at.multiselect(key="f_currency").options == sorted(set(demo[0].invoices["currency"])
                                                              | set(demo[0].payments["currency"]))
