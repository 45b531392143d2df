"""AppTest runs of the Data page's "Connect a Google Sheet" section over the canned Sheets API.

The page gets its connection from `ui.gsheets.get_gsheets_connection`; each test replaces it with a
GSheetsConnection whose transport is tests/connectors/sheets_fake.py (the real gspread and google-auth
stacks run on top, nothing leaves the process: the loopback guard of test_gsheets applies here too).
The spreadsheet is test_gsheets' messy `ar_sheets()`; the same cells written as an .xlsx are the
"equivalent workbook".
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from billing.analysis import analyse
from billing.ingest import build_dataset
from billing.policy import Policy
from connectors.gsheets import GSheetsConnection, Retry, read_public
from connectors.load import load_dataset
from tests.app import files
from tests.connectors.sheets_fake import READONLY, READWRITE, ExportServer, SheetsFake
from tests.connectors.test_gsheets import (  # noqa: F401 - loopback_only is an autouse fixture
    EMAIL,
    KEY,
    PAYMENTS,
    URL,
    ar_sheets,
    loopback_only,
    write_xlsx,
)
from ui import gsheets as ui_gsheets
from ui.fmt import money_text
from ui.text import plain

APP = Path(__file__).resolve().parents[2] / "app.py"
TIMEOUT = 60
D = dt.datetime
PAGE = "pages/data.py"


# --------------------------------------------------------------------------- set-up


@pytest.fixture
def fake() -> SheetsFake:
    return SheetsFake()


@pytest.fixture
def account(fake: SheetsFake) -> dict[str, str]:
    return fake.add_account(EMAIL)


@pytest.fixture
def sheet(fake: SheetsFake, account: dict[str, str]):
    return fake.add_spreadsheet(KEY, "AR 2024", ar_sheets(), shared={EMAIL: "writer"}, hidden=("Lookup",))


def no_retry() -> Retry:
    return Retry(tries=1, sleep=lambda s: None, jitter=False)


@pytest.fixture
def use_connection(monkeypatch):
    """Make the page use `conn` (built over the fake) instead of st.connection("gsheets")."""

    def use(conn: GSheetsConnection) -> GSheetsConnection:
        monkeypatch.setattr(ui_gsheets, "get_gsheets_connection", lambda: conn)
        return conn

    ui_gsheets._read.clear()
    yield use
    ui_gsheets._read.clear()


@pytest.fixture
def conn(fake, account, use_connection) -> GSheetsConnection:
    return use_connection(GSheetsConnection("gsheets_apptest", credentials=account,
                                            http_client=fake.http_client_class(), retry=no_retry()))


def ok(at: AppTest) -> AppTest:
    assert not at.exception, "\n".join(f"{e.value}\n{''.join(e.stack_trace)}" for e in at.exception)
    return at


def start_data() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.switch_page(PAGE)  # the first run draws the Data page straight away
    return ok(at.run())


def connect(at: AppTest, url: str) -> AppTest:
    at.text_input(key="data_gsheet_url").input(url)
    at.button(key="data_gsheet_connect").click().run()
    return ok(at)


def texts(elements) -> str:
    return "\n".join(e.value for e in elements)


def frame(at: AppTest, columns: list[str]) -> pd.DataFrame:
    """The first table drawn with these leading columns (AppTest keeps no key on read-only tables)."""
    for df in at.dataframe:
        if list(df.value.columns[: len(columns)]) == columns:
            return df.value
    raise AssertionError(f"no table with columns {columns}: {[list(d.value.columns) for d in at.dataframe]}")


def matches(at: AppTest) -> pd.DataFrame:
    return frame(at, ["worksheet", "table", "read", "accepted"]).set_index("worksheet")


def counts(at: AppTest) -> pd.DataFrame:
    return frame(at, ["table", "read", "accepted", "quarantined"]).set_index("table")


def invoices_grid(sheet) -> list[list]:
    return copy.deepcopy(sheet.sheet("Invoices").grid())


# --------------------------------------------------------------------------- reading


def dashboards(at: AppTest) -> dict:
    """What the Overview (KPI cards and deltas per currency, exception counts, captions) and the Aging
    page (its tables) show."""
    at.switch_page("pages/overview.py").run()
    ok(at)
    out: dict = {}
    for cur in at.segmented_control(key="overview_currency").options:
        at.segmented_control(key="overview_currency").set_value(cur).run()
        ok(at)
        out[cur] = {m.label: (m.value, m.proto.delta) for m in at.metric}
        out[cur, "text"] = [b.label for b in at.main.button] + [c.value for c in at.main.caption]
    at.switch_page("pages/aging.py").run()
    ok(at)
    out["aging"] = [d.value.reset_index(drop=True) for d in at.main.dataframe]
    return out


def test_a_connected_sheet_gives_the_same_dashboards_as_the_equivalent_workbook(conn, sheet, fake, tmp_path):
    at = start_data()
    assert [c.value for c in at.code] == [EMAIL], "the page says which account to share the sheet with"
    connect(at, URL)

    table = matches(at)
    assert table["table"].to_dict() == {"Invoices": "invoices", PAYMENTS: "payments",
                                        "Customers (2024)": "customers", "Lookup": "", "Notes": ""}
    assert table.loc["Invoices", ["read", "accepted", "quarantined"]].tolist() == [10, 8, 2]
    assert table.loc[PAYMENTS, "url"].endswith(f"#gid={sheet.sheet(PAYMENTS).sheet_id}")
    assert counts(at).loc["invoices", ["read", "accepted", "quarantined"]].tolist() == [10, 8, 2]
    assert any("Loaded 8 invoice lines" in s.value for s in at.success)
    assert len(frame(at, ["table", "sheet", "row", "column", "value", "message"])) >= 3
    assert any("AR 2024 (Google Sheet)" in c.value.replace("\\", "") for c in at.sidebar.caption)
    assert fake.count("get") == 1 and fake.count("batchGet") == 1
    from_sheet = dashboards(at)
    assert fake.count("batchGet") == 1, "page switches and reruns read the cache, not the sheet"

    # the same cells as a workbook, uploaded in the same session
    xlsx = write_xlsx(tmp_path / "ar.xlsx", ar_sheets(), hidden=("Lookup",))
    at.switch_page(PAGE).run()
    at.file_uploader(key="data_upload").set_value(("ar.xlsx", xlsx.read_bytes(), files.XLSX)).run()
    ok(at)
    assert any("ar.xlsx" in c.value.replace("\\", "") for c in at.sidebar.caption)
    from_workbook = dashboards(at)
    assert from_sheet.keys() == from_workbook.keys() and {"EUR", "USD"} <= from_sheet.keys()
    assert len(from_sheet["aging"]) == len(from_workbook["aging"]) > 0
    for a, b in zip(from_sheet.pop("aging"), from_workbook.pop("aging")):
        pd.testing.assert_frame_equal(a, b)
    assert from_sheet == from_workbook

    # and both are the engine's numbers on the workbook read outside the app
    data = load_dataset(xlsx)
    dates = pd.concat([data.invoices["invoice_date"], data.payments["payment_date"]]).dropna()
    as_of = min(pd.Timestamp.today().normalize(), dates.max())
    kpis = analyse(data, as_of, Policy()).kpis.set_index("currency")
    for cur in ("EUR", "USD"):
        assert from_sheet[cur]["Open"][0] == money_text(int(kpis.loc[cur, "total_open"]), cur)
        assert from_sheet[cur]["Unapplied"][0] == money_text(int(kpis.loc[cur, "unapplied"]), cur)


def test_refresh_reads_the_sheet_again_and_reruns_do_not(conn, sheet, fake):
    at = connect(start_data(), URL)
    payments = counts(at).loc["payments", "read"]
    assert fake.count("batchGet") == 1
    sheet.sheet(PAYMENTS).rows.append(["PAY-5", 42, D(2024, 4, 3), 1, "INV-002"])
    ok(at.run())
    ok(at.switch_page("pages/aging.py").run())
    ok(at.switch_page(PAGE).run())
    assert fake.count("batchGet") == 1 and counts(at).loc["payments", "read"] == payments  # cached

    at.button(key="data_gsheet_refresh").click().run()
    ok(at)
    assert fake.count("batchGet") == 2
    assert counts(at).loc["payments", "read"] == payments + 1
    assert matches(at).loc[PAYMENTS, "read"] == payments + 1
    ok(at.run())
    assert fake.count("batchGet") == 2


# --------------------------------------------------------------------------- writing codes back


def test_write_back_asks_for_confirmation_then_fills_the_codes_once(conn, sheet, fake, tmp_path):
    at = connect(start_data(), URL)
    before = invoices_grid(sheet)
    at.button(key="data_gsheet_write").click().run()
    ok(at)
    assert ("Will write 8 line code(s) into column M of worksheet 'Invoices' (a new 'line_code' column)."
            in texts(at.markdown))
    assert fake.count("valuesBatchUpdate") == 0 and invoices_grid(sheet) == before  # a dry run
    plan = dict(at.session_state["data_gsheet_confirm"])

    at.button(key="data_gsheet_write_confirm").click().run()
    ok(at)
    assert any("Wrote 8 line code(s) into column M of worksheet 'Invoices'" in s.value for s in at.success)
    assert fake.count("valuesBatchUpdate") == 1
    assert [scopes for _, scopes in fake.tokens.values()] == [{READONLY}, {READWRITE}]
    xlsx = write_xlsx(tmp_path / "ar.xlsx", ar_sheets(), hidden=("Lookup",))
    codes = load_dataset(xlsx).invoices.set_index("_row")["line_code"]
    rows = sheet.sheet("Invoices").rows
    assert rows[2][12] == "line_code"
    assert {r + 1: row[12] for r, row in enumerate(rows) if len(row) > 12 and r > 2} == codes.to_dict()
    # the page read the sheet again: the codes are now the sheet's own
    assert counts(at).loc["invoices", "accepted"] == 8

    # a second write: the dry run finds nothing to do
    at.button(key="data_gsheet_write").click().run()
    ok(at)
    assert "Will write 0 line code(s)" in texts(at.markdown)
    assert at.button(key="data_gsheet_write_confirm").disabled
    ok(at.button(key="data_gsheet_write_cancel").click().run())
    assert "data_gsheet_confirm" not in at.session_state
    # a replayed confirmation (double click, rerun) of the write already carried out: no call at all
    calls = len(fake.calls)
    at.session_state["data_gsheet_confirm"] = plan
    at.run()
    at.button(key="data_gsheet_write_confirm").click().run()
    ok(at)
    assert len(fake.calls) == calls and fake.count("valuesBatchUpdate") == 1
    assert any("Wrote 8 line code(s)" in s.value for s in at.success)


def test_a_sheet_edited_meanwhile_is_refused_and_nothing_is_written(conn, sheet, fake):
    at = connect(start_data(), URL)
    at.button(key="data_gsheet_write").click().run()
    ok(at)
    assert at.button(key="data_gsheet_write_confirm")  # the dialog is open
    inv = sheet.sheet("Invoices")
    inv.rows.insert(4, ["INV-010", 1, 42, D(2024, 6, 1), None, "inserted by a colleague", 1, 1, 1, "USD"])
    before = invoices_grid(sheet)

    at.button(key="data_gsheet_write_confirm").click().run()
    ok(at)
    refusal = texts(at.error)
    assert "changed since it was read" in refusal and "Nothing was written" in refusal
    assert "row 5 was INV-001 line 2, now INV-010 line 1" in refusal
    assert invoices_grid(sheet) == before
    assert fake.count("valuesBatchUpdate") == 0 and fake.count("batchUpdate") == 0
    assert "data_gsheet_confirm" not in at.session_state

    # the dry run refuses as well, without opening the dialog
    at.button(key="data_gsheet_write").click().run()
    ok(at)
    assert "changed since it was read" in texts(at.error)
    assert not [b for b in at.button if b.key == "data_gsheet_write_confirm"]
    # after Refresh the new row is read and the write goes through
    at.button(key="data_gsheet_refresh").click().run()
    at.button(key="data_gsheet_write").click().run()
    at.button(key="data_gsheet_write_confirm").click().run()
    ok(at)
    assert any("Wrote 9 line code(s)" in s.value for s in at.success)


# --------------------------------------------------------------------------- errors


def test_permission_denied_says_who_to_share_with_and_connect_tries_again(conn, sheet, fake):
    sheet.shared.clear()
    at = start_data()
    connect(at, "https://example.com/not-a-sheet")
    assert "is not a Google Sheets address" in texts(at.error)
    other = "1ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210_-zyxw"
    fake.add_spreadsheet(other, "No invoices", {"Payments": ar_sheets()[PAYMENTS], "Misc": [["a"], [1]]},
                         shared={EMAIL: "reader"})
    connect(at, f"https://docs.google.com/spreadsheets/d/{other}/edit")
    assert "invoices" in texts(at.error)  # the missing table, named; and what was found:
    assert list(matches(at).index) == ["Payments", "Misc"]
    fake.calls.clear()
    connect(at, URL)
    error = texts(at.error)
    assert plain(f"Permission denied: {EMAIL} may not open the spreadsheet {KEY}") in error  # shown as text
    assert plain(f"Share the spreadsheet with {EMAIL}") in error
    assert any("demo data" in i.value for i in at.sidebar.info), "a failed connect must not replace the data"
    ok(at.run())
    assert fake.count("get") == 1, "a failed read is cached, not retried on every rerun"

    sheet.shared[EMAIL] = "reader"  # shared now, as Viewer: Connect tries again
    connect(at, URL)
    before = invoices_grid(sheet)
    assert not at.error and any("AR 2024 (Google Sheet)" in c.value.replace("\\", "") for c in at.sidebar.caption)
    at.button(key="data_gsheet_write").click().run()
    at.button(key="data_gsheet_write_confirm").click().run()
    ok(at)
    error = texts(at.error)
    assert f"Permission denied: {EMAIL} may not write to the spreadsheet {KEY}" in error and "Editor" in error
    assert invoices_grid(sheet) == before  # refused by Google: nothing written


def test_without_a_service_account_public_sheets_are_read_and_writing_is_off(fake, use_connection):
    sheets = ar_sheets()
    ss = fake.add_spreadsheet(KEY, "Public AR", sheets, public=True)
    with ExportServer(fake) as export:
        use_connection(GSheetsConnection("gsheets_public_apptest", export_url=export.template,
                                         retry=no_retry()))
        at = start_data()
        info = texts(at.info)
        assert "Anyone with the link" in info and "gid" in info
        gids = f"{ss.sheet('Invoices').sheet_id},{ss.sheet(PAYMENTS).sheet_id}"
        url = f"https://docs.google.com/spreadsheets/d/{KEY}/edit#gid={gids}"
        connect(at, url)
        assert set(matches(at)["table"]) == {"invoices", "payments"}
        # CSV cells are formatted text (docs/GSHEETS.md): the same rows are read as by the CLI's reader
        expected = build_dataset(read_public(url, export_url=export.template)).counts
        shown = counts(at).loc["invoices", ["read", "accepted"]].tolist()
        assert shown == [10, expected["invoices"].accepted]
        assert at.button(key="data_gsheet_write").disabled
        assert len(export.requests) == 2 + 2  # the page's read, then the one above
