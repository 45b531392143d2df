"""connectors.gsheets: real gspread 6 + google-auth over a canned Sheets API v4 (sheets_fake.py).

Fully offline: an autouse guard refuses every connection that is not to 127.0.0.1.
"""
from __future__ import annotations

import copy
import datetime as dt
import json
import socket
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import xlsxwriter
from hypothesis import given, settings
from hypothesis import strategies as st

import cli
from billing.ingest import SchemaError, build_dataset
from billing.model import Dataset
from connectors import gsheets as gs
from connectors.gsheets import (GSheetsConnection, Retry, SheetChangedError, SourceError, open_client,
                                parse_sheet_url, read_public, read_spreadsheet, sheet_gids, write_codes)
from connectors.sources import read_source
from tests.connectors.sheets_fake import READONLY, READWRITE, ExportServer, SheetsFake
from tests.budget import examples

D = dt.datetime
KEY = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcd"
PAYMENTS = "Payments' log"
URL = f"https://docs.google.com/spreadsheets/d/{KEY}/edit#gid=0"
EMAIL = "linewise@acme-ar.iam.gserviceaccount.com"


# --------------------------------------------------------------------------- offline guard


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to reach a host other than 127.0.0.1 fails the test."""
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "::1", "localhost"):
            raise AssertionError(f"test tried to reach the network: {address}")
        return real_connect(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "::1", "localhost", None):
            raise AssertionError(f"test tried to resolve {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


# --------------------------------------------------------------------------- data


def ar_sheets() -> dict[str, list[list[Any]]]:
    """A messy AR spreadsheet: title/blank/total rows, ragged rows, text ids with leading zeros,
    real dates, text dates, serials typed as numbers, text money, cells to quarantine, a hidden
    sheet, an empty sheet, and worksheet titles that need quoting."""
    return {
        "Invoices": [
            ["ACME Ltd — Accounts receivable 2024"],
            [],
            ["Invoice No", "Line", "Customer", "Invoice Date", "Due Date", "Description", "Qty",
             "Unit Price", "Amount", "Currency", "Kind", "Notes"],
            ["INV-001", 1, "00017", D(2024, 3, 5), D(2024, 4, 4), "Widgets", 10, 120, 1200, "EUR"],
            ["INV-001", 2, "00017", D(2024, 3, 5), D(2024, 4, 4), "Freight", None, None, "1.234,50", "EUR",
             None, "amount typed as text"],
            [],
            ["INV-002", None, 42, "05/03/2024", None, "Gadget", 1, 99.99, 99.99, "USD"],
            ["INV-002", None, 42, "05/03/2024", None, "Gadget spare", 2, 5, None, "USD"],
            ["INV-003", 1, "00017", "2024.03.29.", None, "Credit for widgets", None, None, -250, "EUR",
             "credit_note", "credit note"],
            ["INV-004", 1, 42, "not a date", None, "Bad date", None, None, 10, "USD"],
            ["INV-005", 1, 42, D(2024, 1, 1, 12, 30), None, "Bad amount", None, None, "abc", "USD"],
            ["INV-006", 1, "0000611365", 45400, None, "serial typed as a number", None, None, 12.5, "USD"],
            ["INV-007", "1", 42, D(2024, 5, 1), None, None, None, None, "1 234,50", "USD"],
            ["INV-001", 1, "00017", D(2024, 3, 5), D(2024, 4, 4), "Widgets again", 1, 1, 1, "EUR"],
            ["Total", None, None, None, None, None, None, None, 3000],
        ],
        "Payments' log": [
            ["Payment ID", "Customer", "Payment Date", "Amount", "Reference", "Method"],
            ["PAY-1", "00017", D(2024, 3, 20), 1200, "INV-001"],
            ["PAY-2", 42, D(2024, 4, 1), 99.99, "INV-002 thanks", "wire"],
            ["PAY-3", 42, "2024-04-02", "-5", None, "card"],
            [None, None, None, None, None, None],
            ["PAY-4", 42, 45390.5, 7, "INV-0O7-001X"],
        ],
        "Customers (2024)": [
            ["Customer ID", "Name", "Email", "Language", "Currency", "Payment Terms Days", "Credit Limit",
             "Dunning Blocked"],
            ["00017", "Acme Kft", "ap@acme.hu", "hu", "EUR", 45, "10000", False],
            [42, "Beta Ltd", None, "en", "USD", 30, 5000, "yes"],
        ],
        "Lookup": [["Code", "Meaning"], ["EUR", "Euro"]],
        "Notes": [],
    }


def write_xlsx(path: Path, sheets: dict[str, list[list[Any]]], hidden: tuple[str, ...] = ()) -> Path:
    """The same grid as an Excel workbook: dates as date-formatted cells, like a user's file."""
    wb = xlsxwriter.Workbook(str(path))
    date = wb.add_format({"num_format": "yyyy-mm-dd"})
    stamp = wb.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    for title, rows in sheets.items():
        ws = wb.add_worksheet(title)
        for r, row in enumerate(rows):
            for c, v in enumerate(row):
                if v is None:
                    continue
                if isinstance(v, bool):
                    ws.write_boolean(r, c, v)
                elif isinstance(v, dt.datetime):
                    ws.write_datetime(r, c, v, stamp if (v.hour or v.minute) else date)
                elif isinstance(v, (int, float)):
                    ws.write_number(r, c, v)
                else:
                    ws.write_string(r, c, v)
        if title in hidden:
            ws.hide()
    wb.close()
    return path


@pytest.fixture
def fake() -> SheetsFake:
    return SheetsFake()


@pytest.fixture
def account(fake: SheetsFake) -> dict[str, str]:
    return fake.add_account(EMAIL)


@pytest.fixture
def sheet(fake: SheetsFake, account: dict[str, str]):
    return fake.add_spreadsheet(KEY, "AR 2024", ar_sheets(), shared={EMAIL: "writer"}, hidden=("Lookup",))


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def client_for(fake: SheetsFake, creds: Any, sleeps: Sleeps | None = None, *, write: bool = False,
               tries: int = 6):
    retry = Retry(tries=tries, sleep=sleeps if sleeps is not None else (lambda s: None), jitter=False)
    return open_client(creds, write=write, http_client=fake.http_client_class(), retry=retry)


def normalised(data: Dataset) -> dict[str, Any]:
    return {"tables": data.tables, "quarantine": data.quarantine, "counts": data.counts,
            "notes": data.notes, "sheet_map": data.sheet_map}


def assert_same_dataset(a: Dataset, b: Dataset) -> None:
    assert a.sheet_map == b.sheet_map
    assert a.counts == b.counts
    assert a.notes == b.notes
    pd.testing.assert_frame_equal(a.quarantine, b.quarantine)
    assert a.tables.keys() == b.tables.keys()
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name], obj=name)


# --------------------------------------------------------------------------- reading


def test_reads_every_worksheet_with_one_metadata_call_and_one_unformatted_batch_get(fake, account, sheet):
    client = client_for(fake, account)
    wb = read_spreadsheet(client, URL)
    assert [s.name for s in wb.sheets] == ["Invoices", "Payments' log", "Customers (2024)", "Lookup", "Notes"]
    assert fake.count("get") == 1 and fake.count("batchGet") == 1
    (query,) = [q for e, _, q in fake.calls if e == "batchGet"]
    assert query["valueRenderOption"] == ["UNFORMATTED_VALUE"]
    assert query["dateTimeRenderOption"] == ["SERIAL_NUMBER"]
    assert query["ranges"] == ["'Invoices'", "'Payments'' log'", "'Customers (2024)'", "'Lookup'", "'Notes'"]
    assert wb.title == "AR 2024" and wb.key == KEY and not wb.public
    assert wb.source == f"https://docs.google.com/spreadsheets/d/{KEY}"
    assert wb.account == EMAIL
    assert [s.hidden for s in wb.sheets] == [False, False, False, True, False]
    assert wb.worksheet_url("Payments' log").endswith(f"#gid={sheet.sheet(PAYMENTS).sheet_id}")
    assert fake.unexpected == []


def test_text_that_looks_like_a_number_keeps_its_leading_zeros(fake, account, sheet, ar_dataset):
    wb = read_spreadsheet(client_for(fake, account), KEY)
    inv = wb.sheets[0].cells
    assert inv.iat[3, 2] == "00017" and inv.iat[11, 2] == "0000611365"
    data = ar_dataset  # = build_dataset(wb)
    assert set(data.customers["customer_id"]) == {"00017", "42"}


def test_ragged_and_empty_rows_become_a_grid_numbered_as_the_user_sees_it(fake, account, sheet, ar_dataset):
    wb = read_spreadsheet(client_for(fake, account), KEY)
    inv = wb.sheets[0]
    assert inv.first_row == 1 and inv.cells.shape == (15, 12)
    assert inv.cells.iloc[1].isna().all() and inv.cells.iloc[5].isna().all()  # [] rows
    row4 = inv.cells.iloc[3].tolist()  # trailing blanks dropped by the API, padded back
    assert row4[:10] == ["INV-001", 1.0, "00017", 45356.0, 45386.0, "Widgets", 10.0, 120.0, 1200.0, "EUR"]
    assert row4[10:] == [None, None]
    assert inv.cells.iat[4, 6] is None  # "" inside a row is an empty cell
    assert wb.sheets[4].cells.empty  # the empty worksheet
    data = ar_dataset  # = build_dataset(wb)
    assert data.counts["invoices"].read == 10
    blank = [n.row for n in data.notes if n.sheet == "Invoices" and n.kind == "blank"]
    assert blank == [2, 6]  # the blank row above the header is accounted for too
    assert [n.row for n in data.notes if n.kind == "total"] == [15]
    assert data.invoices.set_index("description").loc["Widgets", "_row"] == 4


def test_serial_dates_become_the_same_dates_as_in_a_workbook(ar_dataset):
    data = ar_dataset
    inv = data.invoices.set_index("description")
    assert inv.loc["Widgets", "invoice_date"] == pd.Timestamp("2024-03-05")
    assert inv.loc["Widgets", "due_date"] == pd.Timestamp("2024-04-04")
    assert inv.loc["serial typed as a number", "invoice_date"] == pd.Timestamp("2024-04-18")
    pay = data.payments.set_index("payment_id")
    assert pay.loc["PAY-4", "payment_date"] == pd.Timestamp("2024-04-08")  # 45390.5: time of day dropped


def test_sheets_path_and_workbook_path_give_identical_normalised_tables(ar_dataset, tmp_path):
    from_sheets = ar_dataset
    xlsx = write_xlsx(tmp_path / "ar.xlsx", ar_sheets(), hidden=("Lookup",))
    from_workbook = build_dataset(read_source(xlsx))
    assert_same_dataset(from_sheets, from_workbook)
    # the data really is messy: rows quarantined, duplicates suffixed, codes derived
    assert len(from_sheets.quarantine) >= 3
    assert from_sheets.counts["invoices"].quarantined == 2
    assert from_sheets.sheet_map == {"customers": "Customers (2024)", "payments": "Payments' log",
                                     "invoices": "Invoices"}


_KINDS = {
    "text": st.text(alphabet="0123456789-.,/ $€ABCabcXYZ", min_size=1, max_size=8),
    "number": st.one_of(st.integers(min_value=-10_000, max_value=10_000_000),
                        st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(
                            lambda f: round(f, 3) + 0.0)),  # + 0.0: no -0.0
    "date": st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2040, 12, 31)).map(
        lambda d: D(d.year, d.month, d.day)),
}


@st.composite
def _rows(draw: Any, width: int, date_cols: set[int], max_rows: int) -> list[list[Any]]:
    """Random rows, ragged (trailing blanks dropped), blanks anywhere; each column holds one kind of
    cell (text, numbers, or, in date columns, dates). Not generated, because the workbook reader
    approximates them (connectors.sources doc): numbers below text in one column (read as text),
    booleans among numbers (read as 1.0/0.0); and dates in non-date columns (see the test below)."""
    kinds = [draw(st.sampled_from(["text", "number", "date"] if c in date_cols else ["text", "number"]))
             for c in range(width)]
    rows = []
    for _ in range(draw(st.integers(min_value=1, max_value=max_rows))):
        row = [draw(st.one_of(st.none(), _KINDS[k])) for k in kinds]
        while row and row[-1] is None:
            row.pop()
        rows.append(row)
    return rows


def flagged(quarantine: pd.DataFrame) -> pd.DataFrame:
    """The quarantine as compared between the two paths (an empty cell shows as "" in both)."""
    return quarantine.copy()


@settings(max_examples=examples(10), deadline=None)
@given(inv_rows=_rows(7, {2, 6}, 8), pay_rows=_rows(4, {2}, 5))
def test_random_cells_normalise_the_same_from_sheets_and_from_a_workbook(inv_rows, pay_rows,
                                                                         tmp_path_factory):
    """Whatever the cells, both paths accept the same rows with the same values and flag the same
    cells with the same messages (see `flagged`)."""
    assert_paths_agree(inv_rows, pay_rows, tmp_path_factory.mktemp("h"))


def assert_paths_agree(inv_rows: list[list[Any]], pay_rows: list[list[Any]], folder: Path) -> None:
    fake = SheetsFake()
    creds = fake.add_account(EMAIL)
    sheets = {
        "Invoices": [["Invoice No", "Customer", "Invoice Date", "Amount", "Line", "Description", "Due Date"]]
        + inv_rows,
        "Payments": [["Payment ID", "Customer", "Payment Date", "Amount"]] + pay_rows,
    }
    fake.add_spreadsheet(KEY, "random", copy.deepcopy(sheets), shared={EMAIL: "reader"})
    xlsx = write_xlsx(folder / "r.xlsx", sheets)
    results = []
    for read in (lambda: read_spreadsheet(client_for(fake, creds), KEY), lambda: read_source(xlsx)):
        try:
            results.append(normalised(build_dataset(read())))
        except SchemaError as exc:
            results.append(str(exc))
    a, b = results
    if isinstance(a, str) or isinstance(b, str):
        assert a == b
        return
    assert a["counts"] == b["counts"] and a["notes"] == b["notes"] and a["sheet_map"] == b["sheet_map"]
    pd.testing.assert_frame_equal(flagged(a["quarantine"]), flagged(b["quarantine"]))
    for name in a["tables"]:
        pd.testing.assert_frame_equal(a["tables"][name], b["tables"][name], obj=name)


def test_a_date_typed_into_a_non_date_column_arrives_as_its_serial_number(fake, account):
    """The documented limitation of reading serial dates without per-cell formats."""
    fake.add_spreadsheet(KEY, "odd", {
        "Invoices": [["Invoice No", "Customer", "Invoice Date", "Amount", "Description"],
                     ["INV-1", "C1", D(2024, 3, 5), 10, D(2024, 3, 5)]]}, shared={EMAIL: "reader"})
    data = build_dataset(read_spreadsheet(client_for(fake, account), KEY))
    assert data.invoices["description"].tolist() == ["45356"]
    assert data.invoices["invoice_date"].tolist() == [pd.Timestamp("2024-03-05")]


def test_the_data_page_can_list_which_worksheet_became_which_table(fake, account, sheet, ar_dataset):
    wb = read_spreadsheet(client_for(fake, account), URL)
    table = gs.worksheet_matches(wb, ar_dataset).set_index("worksheet")
    assert table["table"].to_dict() == {"Invoices": "invoices", PAYMENTS: "payments",
                                        "Customers (2024)": "customers", "Lookup": "", "Notes": ""}
    assert table.loc["Invoices", ["read", "accepted", "quarantined"]].tolist() == [10, 8, 2]
    assert table.loc["Lookup", "hidden"] and "was not used" in table.loc["Lookup", "note"]
    assert table.loc["Notes", "note"] == "sheet 'Notes' is empty"
    assert table.loc[PAYMENTS, "url"] == (f"https://docs.google.com/spreadsheets/d/{KEY}/edit"
                                          f"#gid={sheet.sheet(PAYMENTS).sheet_id}")


def test_worksheets_are_matched_to_tables_by_synonyms_in_other_languages(fake, account):
    fake.add_spreadsheet(KEY, "Számlák", {
        "Munka1": [["megjegyzés"]],
        "发票": [["发票号", "客户编号", "发票日期", "金额"], ["FP-1", "C1", D(2024, 2, 1), 100]],
        "Befizetések": [["Befizetés", "Vevőkód", "Fizetés dátuma", "Összeg"],
                        ["B-1", "C1", D(2024, 2, 9), 100]],
    }, shared={EMAIL: "reader"})
    data = build_dataset(read_spreadsheet(client_for(fake, account), KEY))
    assert data.sheet_map["invoices"] == "发票"
    assert data.sheet_map["payments"] == "Befizetések"
    assert data.invoices["invoice_no"].tolist() == ["FP-1"]


def test_a_missing_worksheet_is_one_clear_error_as_for_a_workbook(fake, account, tmp_path):
    grid = {"Payments": ar_sheets()["Payments' log"], "Notes": [["free text"]]}
    fake.add_spreadsheet(KEY, "no invoices", grid, shared={EMAIL: "reader"})
    with pytest.raises(SchemaError) as from_sheets:
        build_dataset(read_spreadsheet(client_for(fake, account), KEY))
    with pytest.raises(SchemaError) as from_workbook:
        build_dataset(read_source(write_xlsx(tmp_path / "np.xlsx", grid)))
    assert str(from_sheets.value) == str(from_workbook.value)
    assert "No sheet for invoices" in str(from_sheets.value)
    assert "'Payments', 'Notes'" in str(from_sheets.value)


def test_asking_for_a_worksheet_that_is_not_there_names_the_ones_found(fake, account, sheet):
    with pytest.raises(SourceError, match=r"no worksheet 'Receipts'; found: 'Invoices'"):
        read_spreadsheet(client_for(fake, account), KEY, sheets=["Receipts"])


def test_a_worksheet_deleted_while_reading_says_to_refresh(fake, account, sheet):
    fake.fail("batchGet", 400, error={"code": 400, "message": "Unable to parse range: 'Notes'",
                                      "status": "INVALID_ARGUMENT"})
    with pytest.raises(SourceError, match="renamed or deleted meanwhile. Press Refresh"):
        read_spreadsheet(client_for(fake, account), KEY)


def test_chart_sheets_are_not_read(fake, account, sheet):
    sheet.sheets[4].sheet_type = "OBJECT"
    wb = read_spreadsheet(client_for(fake, account), KEY)
    assert "Notes" not in [s.name for s in wb.sheets]
    (query,) = [q for e, _, q in fake.calls if e == "batchGet"]
    assert "'Notes'" not in query["ranges"]


@pytest.mark.parametrize("url", [
    f"https://docs.google.com/spreadsheets/d/{KEY}/edit#gid=0",
    f"https://docs.google.com/spreadsheets/d/{KEY}",
    f"https://docs.google.com/spreadsheets/u/1/d/{KEY}/edit?usp=sharing",
    f"https://docs.google.com/spreadsheet/ccc?key={KEY}&usp=sharing",
    f"  {KEY}  ",
])
def test_sheet_urls_and_bare_keys_give_the_spreadsheet_key(url):
    assert parse_sheet_url(url) == KEY


def test_urls_that_are_not_sheets_are_refused_with_what_to_copy():
    with pytest.raises(SourceError, match="address bar"):
        parse_sheet_url("https://example.com/book.xlsx")
    with pytest.raises(SourceError, match="Publish to the web"):
        parse_sheet_url("https://docs.google.com/spreadsheets/d/e/2PACX-1vQabc/pubhtml")


def test_gids_are_taken_from_fragment_and_query():
    assert sheet_gids(f"https://docs.google.com/spreadsheets/d/{KEY}/edit#gid=1234") == [1234]
    assert sheet_gids(f"https://docs.google.com/spreadsheets/d/{KEY}/edit?gid=5#gid=5") == [5]
    assert sheet_gids(f"https://docs.google.com/spreadsheets/d/{KEY}/edit#gid=0,1007") == [0, 1007]
    assert sheet_gids(f"https://docs.google.com/spreadsheets/d/{KEY}/edit") == []


# --------------------------------------------------------------------------- quotas and failures


def test_quota_429_is_retried_with_exponential_backoff_then_succeeds(fake, account, sheet, sleeps):
    fake.fail("batchGet", 429, times=3)
    wb = read_spreadsheet(client_for(fake, account, sleeps), KEY)
    assert len(wb.sheets) == 5
    assert sleeps == [1.0, 2.0, 4.0]
    assert fake.count("batchGet") == 4


def test_quota_exhausted_gives_a_clear_message(fake, account, sheet, sleeps):
    fake.fail("get", 429, times=10)
    with pytest.raises(SourceError) as err:
        read_spreadsheet(client_for(fake, account, sleeps, tries=4), KEY)
    assert "quota is used up (tried 4 times over 7 s)" in err.value.message
    assert "wait a minute, then press Refresh" in err.value.message
    assert sleeps == [1.0, 2.0, 4.0]


def test_server_errors_are_retried_and_then_reported_as_temporary(fake, account, sheet, sleeps):
    fake.fail("batchGet", 500)
    fake.fail("batchGet", 503)
    assert len(read_spreadsheet(client_for(fake, account, sleeps), KEY).sheets) == 5
    fake.fail("get", 503, times=3)
    with pytest.raises(SourceError, match=r"HTTP 503\) \(tried 3 times .*temporary"):
        read_spreadsheet(client_for(fake, account, sleeps, tries=3), KEY)


def test_backoff_is_capped_and_honours_retry_after():
    r = Retry(base=1, cap=8, jitter=False)
    assert [r.delay(i) for i in range(6)] == [1, 2, 4, 8, 8, 8]
    assert r.delay(0, "3") == 3.0 and r.delay(0, "120") == 8
    jittered = Retry(base=4, cap=64)
    assert all(2 <= jittered.delay(0) <= 4 for _ in range(50))


def test_permission_denied_says_which_account_to_share_the_sheet_with(fake, account):
    fake.add_spreadsheet(KEY, "private", ar_sheets(), shared={"someone@acme.hu": "writer"})
    with pytest.raises(SourceError) as err:
        read_spreadsheet(client_for(fake, account), URL)
    assert f"Share the spreadsheet with {EMAIL}" in err.value.message
    assert "Viewer is enough to read" in err.value.message
    assert fake.count("get") == 1  # a 403 is not retried


def test_unknown_spreadsheet_says_to_check_the_url(fake, account):
    with pytest.raises(SourceError, match=f"No spreadsheet with key {KEY} was found: check the URL"):
        read_spreadsheet(client_for(fake, account), KEY)


def test_a_revoked_key_says_to_create_a_new_one(fake, account, sheet):
    del fake.accounts[EMAIL]  # Google no longer knows the key: invalid_grant
    with pytest.raises(SourceError, match="refused the service-account key.*Create a new JSON key"):
        read_spreadsheet(client_for(fake, account), KEY)


def test_network_down_is_retried_then_reported(fake, account, sheet, sleeps):
    fake.fail("get", 0, times=2)
    assert read_spreadsheet(client_for(fake, account, sleeps), KEY).title == "AR 2024"
    fake.fail("get", 0, times=5)
    with pytest.raises(SourceError, match="Could not reach Google Sheets .*internet connection"):
        read_spreadsheet(client_for(fake, account, sleeps, tries=2), KEY)


def test_an_excel_file_stored_in_drive_says_to_convert_it(fake, account):
    fake.add_spreadsheet(KEY, "upload.xlsx", ar_sheets(), shared={EMAIL: "reader"}, kind="excel")
    with pytest.raises(SourceError, match="Save as Google Sheets"):
        read_spreadsheet(client_for(fake, account), KEY)


# --------------------------------------------------------------------------- credentials


def test_reading_uses_the_read_only_scope(fake, account, sheet):
    read_spreadsheet(client_for(fake, account), KEY)
    assert [scopes for _, scopes in fake.tokens.values()] == [{READONLY}]


def test_a_key_file_path_works_like_the_secrets_fields(fake, account, sheet, tmp_path):
    path = tmp_path / "key.json"
    path.write_text(json.dumps(account))
    assert read_spreadsheet(client_for(fake, str(path)), KEY).title == "AR 2024"


def test_a_private_key_pasted_with_literal_backslash_n_is_accepted(fake, account, sheet):
    pasted = dict(account, private_key=account["private_key"].replace("\n", "\\n"))
    assert read_spreadsheet(client_for(fake, pasted), KEY).title == "AR 2024"


@pytest.mark.parametrize("change, expected", [
    ({"private_key": ""}, "has no private_key"),
    ({"client_email": None}, "has no client_email"),
    ({"private_key": "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n"}, "placeholder"),
    ({"private_key": "-----BEGIN PRIVATE KEY-----\nMIIEdamaged\n-----END PRIVATE KEY-----\n"}, "damaged"),
    ({"type": "authorized_user"}, "needs a service-account key"),
])
def test_bad_credentials_say_what_to_fix_without_showing_the_key(fake, account, change, expected):
    creds = dict(account, **change)
    with pytest.raises(SourceError) as err:
        client_for(fake, creds)
    assert expected in err.value.message
    assert err.value.__cause__ is None and (err.value.__context__ is None or err.value.__suppress_context__)
    secret_bits = [account["private_key"][40:80], "MIIEdamaged"]
    assert not any(bit in err.value.message for bit in secret_bits)


def test_a_missing_key_file_says_where_it_looked(tmp_path):
    with pytest.raises(SourceError, match="key file '.*nope.json' was not found"):
        open_client(str(tmp_path / "nope.json"))
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(SourceError, match="is not a JSON key file"):
        open_client(str(tmp_path / "bad.json"))


def test_no_credentials_means_no_client():
    assert open_client(None) is None and open_client({}) is None


def test_cli_credentials_come_from_the_environment_then_secrets_toml(tmp_path, account):
    assert gs.credentials_from_env({gs.ENV_KEYFILE: "/k.json"}, tmp_path / "none.toml") == "/k.json"
    assert gs.credentials_from_env({"GOOGLE_APPLICATION_CREDENTIALS": "/g.json"}, tmp_path / "x") == "/g.json"
    toml = tmp_path / "secrets.toml"
    toml.write_text('[store]\nurl = "sqlite:///x.db"\n[connections.gsheets]\n'
                    + "".join(f"{k} = {json.dumps(v)}\n" for k, v in account.items()))
    assert gs.credentials_from_env({}, toml) == account
    toml.write_text('[connections.gsheets]\nkey_file = "/etc/linewise/key.json"\n')
    assert gs.credentials_from_env({}, toml) == "/etc/linewise/key.json"
    assert gs.credentials_from_env({}, tmp_path / "missing.toml") is None


def test_the_example_secrets_file_is_valid_toml_with_the_google_key_fields():
    import tomllib

    example = Path(__file__).resolve().parents[2] / ".streamlit" / "secrets.toml.example"
    section = tomllib.loads(example.read_text(encoding="utf-8"))["connections"]["gsheets"]
    assert set(gs.SERVICE_ACCOUNT_FIELDS) - {"universe_domain"} <= set(section)
    with pytest.raises(SourceError, match="placeholder"):
        open_client(section)


# --------------------------------------------------------------------------- writing codes back


def read_dataset(fake: SheetsFake, creds: Any) -> Dataset:
    return build_dataset(read_spreadsheet(client_for(fake, creds), KEY))


@pytest.fixture(scope="module")
def ar_dataset() -> Dataset:
    """ar_sheets() as read through the Sheets path (read once: normalising takes a while)."""
    other = SheetsFake()
    creds = other.add_account(EMAIL)
    other.add_spreadsheet(KEY, "AR 2024", ar_sheets(), shared={EMAIL: "reader"}, hidden=("Lookup",))
    return read_dataset(other, creds)


def changed_cells(before: list[list[Any]], after: list[list[Any]]) -> dict[tuple[int, int], Any]:
    """{(row 1-based, column 0-based): new value} for every cell that differs."""
    out = {}
    for r in range(max(len(before), len(after))):
        b = before[r] if r < len(before) else []
        a = after[r] if r < len(after) else []
        for c in range(max(len(a), len(b))):
            old = b[c] if c < len(b) else None
            new = a[c] if c < len(a) else None
            if old != new:
                out[(r + 1, c)] = new
    return out


def test_write_back_fills_the_line_code_column_with_one_batch_update_and_touches_nothing_else(
        fake, account, sheet):
    inv = sheet.sheet("Invoices")
    inv.rows[2].append("Line Code")  # column M exists, empty
    inv.rows[3].extend([None, None, "MY-OWN-CODE"])  # the user's code on row 4: kept
    data = read_dataset(fake, account)
    before = {s.title: copy.deepcopy(s.grid()) for s in sheet.sheets}
    calls_before = len(fake.calls)

    result = write_codes(client_for(fake, account, write=True), URL, data)

    assert (result.sheet, result.column, result.column_created) == ("Invoices", "M", False)
    assert result.user_codes == 1
    written = changed_cells(before["Invoices"], inv.grid())
    codes = data.invoices.set_index("_row")["line_code"]
    assert written == {(row, 12): codes[row] for row in (5, 7, 8, 9, 12, 13, 14)}
    assert result.written == result.planned == 7 == result.updated_cells
    assert all(s.grid() == before[s.title] for s in sheet.sheets if s.title != "Invoices")
    new_calls = [e for e, _, _ in fake.calls[calls_before:] if e != "token"]
    assert new_calls == ["get", "batchGet", "valuesBatchUpdate"]
    body = [b for e, _, b in fake.calls if e == "valuesBatchUpdate"][0]
    assert body["valueInputOption"] == "RAW"
    assert [d["range"] for d in body["data"]] == ["'Invoices'!M5:M5", "'Invoices'!M7:M9",
                                                  "'Invoices'!M12:M14"]
    assert result.message == "Wrote 7 line code(s) into column M of worksheet 'Invoices'. 1 own code(s) kept."


def test_quarantined_rows_get_no_code_written(fake, account, sheet, ar_dataset):
    data = ar_dataset
    write_codes(client_for(fake, account, write=True), KEY, data)
    rows = sheet.sheet("Invoices").rows
    assert rows[9][0] == "INV-004" and (len(rows[9]) <= 12 or rows[9][12] is None)  # bad date: quarantined
    assert rows[10][0] == "INV-005" and (len(rows[10]) <= 12 or rows[10][12] is None)


def test_write_back_creates_the_line_code_column_after_the_last_used_one(fake, account, sheet, ar_dataset):
    data = ar_dataset
    result = write_codes(client_for(fake, account, write=True), KEY, data)
    assert result.column_created and result.column == "M" and result.header_row == 3
    rows = sheet.sheet("Invoices").rows
    assert rows[2][12] == "line_code"
    assert rows[0][1:] == [] and rows[14][12:] == []  # title and total rows untouched
    again = read_dataset(fake, account)  # the codes read back as the user's own, unchanged
    pd.testing.assert_series_equal(again.invoices["line_code"], data.invoices["line_code"])
    assert again.invoices["line_code_given"].all()
    assert result.updated_cells == result.written + 1  # + the header


def test_write_back_adds_a_grid_column_when_the_sheet_has_none_spare(fake, account):
    grid = {"Invoices": [["Invoice No", "Customer", "Invoice Date", "Amount"],
                         ["INV-9", "C", D(2024, 1, 2), 5]],
            "Payments": [["Payment ID", "Customer", "Payment Date", "Amount"]]}
    ss = fake.add_spreadsheet(KEY, "tight", grid, shared={EMAIL: "writer"}, column_count=4)
    data = read_dataset(fake, account)
    result = write_codes(client_for(fake, account, write=True), KEY, data)
    assert ss.sheet("Invoices").column_count == 5
    assert ss.sheet("Invoices").rows[1][4] == data.invoices["line_code"].iloc[0]
    assert result.column == "E" and fake.count("batchUpdate") == 1


def test_write_back_refuses_when_rows_moved_since_the_read_and_writes_nothing(fake, account, sheet,
                                                                             ar_dataset):
    data = ar_dataset
    inv = sheet.sheet("Invoices")
    inv.rows.insert(4, ["INV-010", 1, 42, D(2024, 6, 1), None, "inserted by a colleague", 1, 1, 1, "USD"])
    before = copy.deepcopy(inv.grid())
    with pytest.raises(SheetChangedError) as err:
        write_codes(client_for(fake, account, write=True), KEY, data)
    assert "changed since it was read" in err.value.message and "Nothing was written" in err.value.message
    assert "row 5 was INV-001 line 2, now INV-010 line 1" in err.value.message
    assert inv.grid() == before
    assert fake.count("valuesBatchUpdate") == 0 and fake.count("batchUpdate") == 0


def test_write_back_refuses_when_a_key_was_edited(fake, account, sheet, ar_dataset):
    data = ar_dataset
    sheet.sheet("Invoices").rows[7][1] = 3  # INV-002's second line given number 3
    with pytest.raises(SheetChangedError, match="row 8 was INV-002 line 2, now INV-002 line 3"):
        write_codes(client_for(fake, account, write=True), KEY, data)
    assert fake.count("valuesBatchUpdate") == 0


def test_write_back_refuses_when_someone_typed_a_code_meanwhile(fake, account, sheet):
    sheet.sheet("Invoices").rows[2].append("line_code")
    data = read_dataset(fake, account)
    sheet.sheet("Invoices").rows[6].extend([None, None, "HAND-TYPED"])
    with pytest.raises(SheetChangedError, match="row 7 now has line code 'HAND-TYPED' typed in"):
        write_codes(client_for(fake, account, write=True), KEY, data)
    assert fake.count("valuesBatchUpdate") == 0


def test_write_back_refuses_when_the_worksheet_was_renamed(fake, account, sheet, ar_dataset):
    data = ar_dataset
    sheet.sheet("Invoices").title = "Invoices old"
    with pytest.raises(SheetChangedError, match="'Invoices' is no longer in the spreadsheet"):
        write_codes(client_for(fake, account, write=True), KEY, data)


def test_rows_added_at_the_end_do_not_block_the_write_and_are_reported(fake, account, sheet, ar_dataset):
    data = ar_dataset
    inv = sheet.sheet("Invoices")
    inv.rows.insert(14, ["INV-011", 1, 42, D(2024, 6, 1), None, "late row", 1, 1, 1, "USD"])
    result = write_codes(client_for(fake, account, write=True), KEY, data)
    assert result.written == 8 and result.new_rows == 1
    assert "1 row(s) that were not in the read (added or fixed since) got no code" in result.message
    assert len(inv.rows[14]) <= 12 or inv.rows[14][12] is None


def test_writing_twice_is_a_no_op(fake, account, sheet, ar_dataset):
    data = ar_dataset
    client = client_for(fake, account, write=True)
    write_codes(client, KEY, data)
    again = write_codes(client, KEY, data)
    assert again.written == 0 and again.already_there == 8
    assert fake.count("valuesBatchUpdate") == 1
    assert again.message.startswith("Nothing to write")


def test_a_dry_run_says_what_would_be_written_and_writes_nothing(fake, account, sheet, ar_dataset):
    data = ar_dataset
    before = copy.deepcopy(sheet.sheet("Invoices").grid())
    plan = write_codes(client_for(fake, account, write=True), KEY, data, dry_run=True)
    assert plan.planned == 8 and plan.written == 0 and plan.column_created
    assert plan.message == ("Will write 8 line code(s) into column M of worksheet 'Invoices' "
                            "(a new 'line_code' column).")
    assert sheet.sheet("Invoices").grid() == before and fake.count("valuesBatchUpdate") == 0


def test_write_back_with_a_read_only_client_says_it_needs_the_write_scope(fake, account, sheet, ar_dataset):
    data = ar_dataset
    with pytest.raises(SourceError, match="read-only: writing line codes back needs the read-write scope"):
        write_codes(client_for(fake, account), KEY, data)


def test_write_back_with_viewer_access_says_to_give_editor_access(fake, account, sheet, ar_dataset):
    sheet.shared[EMAIL] = "reader"
    data = ar_dataset
    with pytest.raises(SourceError) as err:
        write_codes(client_for(fake, account, write=True), KEY, data)
    assert f"{EMAIL} may not write to the spreadsheet" in err.value.message
    assert "Editor is needed to write line codes back" in err.value.message


def test_write_back_needs_credentials_and_the_same_spreadsheet(fake, account, sheet, ar_dataset):
    data = ar_dataset
    with pytest.raises(SourceError, match="needs a service account with Editor access"):
        write_codes(None, KEY, data)
    with pytest.raises(SourceError, match="read from another spreadsheet"):
        write_codes(client_for(fake, account, write=True), "2" * 44, data)


def test_write_back_retries_quota_errors_too(fake, account, sheet, sleeps, ar_dataset):
    data = ar_dataset
    fake.fail("valuesBatchUpdate", 429, times=2)
    result = write_codes(client_for(fake, account, sleeps, write=True), KEY, data)
    assert result.written == 8 and sleeps == [1.0, 2.0]


# --------------------------------------------------------------------------- public sheets (CSV export)


@pytest.fixture
def export(fake: SheetsFake):
    with ExportServer(fake) as server:
        yield server


def test_a_public_sheet_is_read_without_credentials_through_the_csv_export(fake, export):
    ss = fake.add_spreadsheet(KEY, "Public AR", ar_sheets(), public=True)
    gids = ",".join(str(ss.sheet(t).sheet_id) for t in ("Invoices", "Payments' log", "Customers (2024)"))
    wb = read_spreadsheet(None, f"https://docs.google.com/spreadsheets/d/{KEY}/edit#gid={gids}",
                          export_url=export.template, retry=Retry(sleep=lambda s: None))
    assert wb.public and [s.name for s in wb.sheets] == ["Invoices", "Payments' log", "Customers (2024)"]
    assert wb.title == "Public AR" and wb.gids["Payments' log"] == ss.sheet("Payments' log").sheet_id
    assert wb.sheets[0].cells.iat[3, 2] == "00017"  # CSV cells are text: leading zeros kept
    data = build_dataset(wb)
    assert data.sheet_map["payments"] == "Payments' log"
    assert data.counts["invoices"].read == 10
    # CSV cells are formatted text: the bad date and amount are quarantined as from the API; so are
    # "1.234,50"-style texts, which now sit among "99.99"-style texts (the API gave numbers there)
    assert {10, 11} <= set(data.quarantine.loc[data.quarantine["sheet"] == "Invoices", "row"])
    inv = data.invoices.set_index("description")
    assert inv.loc["Widgets", "invoice_date"] == pd.Timestamp("2024-03-05")
    assert inv.loc["Widgets", "amount"] == 120000
    assert all(path.startswith(f"/spreadsheets/d/{KEY}/export?format=csv&gid=") for path in export.requests)


def test_a_public_sheet_without_gid_reads_the_first_worksheet(fake, export):
    fake.add_spreadsheet(KEY, "Public AR", ar_sheets(), public=True)
    wb = read_public(KEY, export_url=export.template)
    assert [s.name for s in wb.sheets] == ["Invoices"]
    assert export.requests == [f"/spreadsheets/d/{KEY}/export?format=csv"]


def test_a_private_sheet_without_credentials_says_to_share_it_or_set_up_an_account(fake, export):
    fake.add_spreadsheet(KEY, "Private", ar_sheets(), public=False)
    with pytest.raises(SourceError) as err:
        read_spreadsheet(None, URL, export_url=export.template)
    assert "not shared publicly" in err.value.message and "Anyone with the link" in err.value.message
    assert "docs/GSHEETS.md" in err.value.message


def test_a_public_sheet_with_an_unknown_gid_says_so(fake, export):
    fake.add_spreadsheet(KEY, "Public AR", ar_sheets(), public=True)
    with pytest.raises(SourceError, match="no worksheet with gid 999"):
        read_public(f"https://docs.google.com/spreadsheets/d/{KEY}/edit#gid=999", export_url=export.template)


def test_anonymous_read_of_one_worksheet_explains_how_to_read_the_others(fake, export, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml around
    grid = ar_sheets()
    fake.add_spreadsheet(KEY, "Public AR", {"Payments": grid["Payments' log"], "Invoices": grid["Invoices"]},
                         public=True)
    monkeypatch.setenv(gs.ENV_EXPORT_URL, export.template)
    with pytest.raises(SchemaError, match=r"No sheet for invoices(.|\n)*add each table's gid"):
        gs.load_sheet_dataset(URL, environ={})


# --------------------------------------------------------------------------- the Streamlit connection


def test_connection_reads_through_a_ttl_cache_until_refresh(fake, account, sheet):
    conn = GSheetsConnection("gsheets", credentials=account, http_client=fake.http_client_class())
    assert conn.has_credentials and conn.service_account_email == EMAIL
    first = conn.read_workbook(URL, ttl=300)
    assert conn.read_workbook(URL, ttl=300).title == first.title == "AR 2024"
    assert fake.count("batchGet") == 1
    conn.clear_cache()
    conn.read_workbook(URL, ttl=300)
    assert fake.count("batchGet") == 2
    data = conn.load_dataset(URL, ttl=300)
    assert data.sheet_map["invoices"] == "Invoices" and fake.count("batchGet") == 2


def test_connection_opens_a_read_write_client_only_to_write(fake, account, sheet):
    conn = GSheetsConnection("gsheets_rw", credentials=account, http_client=fake.http_client_class())
    data = conn.load_dataset(KEY, ttl=None)
    result = conn.write_codes(KEY, data)
    assert result.written == 8
    assert [scopes for _, scopes in fake.tokens.values()] == [{READONLY}, {READWRITE}]
    conn.read_workbook(KEY, ttl=None)  # cache cleared by the write: read again
    assert fake.count("batchGet") == 3  # read, check before write, read after


def test_connection_takes_credentials_from_secrets_toml(fake, account, sheet, tmp_path):
    from streamlit import config
    from streamlit.runtime.secrets import secrets_singleton

    toml = tmp_path / "secrets.toml"
    fields = "".join(f"{k} = {json.dumps(v)}\n" for k, v in account.items())
    toml.write_text("[connections.gsheets_secrets]\n" + fields)
    old = config.get_option("secrets.files")
    config.set_option("secrets.files", [str(toml)])
    secrets_singleton._reset()
    try:
        conn = GSheetsConnection("gsheets_secrets", http_client=fake.http_client_class())
        assert conn.service_account_email == EMAIL
        assert conn.read_workbook(KEY).title == "AR 2024"
    finally:
        config.set_option("secrets.files", old)
        secrets_singleton._reset()


def test_connection_with_bad_credentials_opens_and_reports_them_when_used(fake, sheet, account):
    conn = GSheetsConnection("gsheets_bad", credentials=dict(account, private_key=""),
                             http_client=fake.http_client_class())
    assert not conn.has_credentials and "has no private_key" in conn.credentials_error
    with pytest.raises(SourceError, match="has no private_key"):
        conn.read_workbook(KEY)
    assert fake.calls == []  # never fell back to an anonymous read


def test_st_connection_creates_the_connection_from_its_type(fake, export, monkeypatch):
    import streamlit as st

    conn = st.connection("gsheets_factory", type=GSheetsConnection, export_url=export.template)
    assert isinstance(conn, GSheetsConnection) and not conn.has_credentials
    assert conn.credentials_error is None


def test_connection_without_credentials_reads_public_sheets(fake, export):
    fake.add_spreadsheet(KEY, "Public AR", ar_sheets(), public=True)
    conn = GSheetsConnection("gsheets_public", export_url=export.template)
    assert not conn.has_credentials and conn.service_account_email is None
    assert [s.name for s in conn.read_workbook(URL).sheets] == ["Invoices"]
    with pytest.raises(SourceError, match="needs a service account"):
        conn.write_codes(URL, Dataset(source="", tables={}, quarantine=pd.DataFrame(), counts={},
                                      sheet_map={"invoices": "Invoices"}))


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def cli_env(fake, account, sheet, tmp_path, monkeypatch):
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps(account))
    monkeypatch.setenv(gs.ENV_KEYFILE, str(key_file))
    monkeypatch.setattr(gs, "DEFAULT_HTTP_CLIENT", fake.http_client_class())
    return tmp_path


def test_cli_check_reads_a_google_sheet_url_like_a_workbook(cli_env, tmp_path, capsys):
    url = f"https://docs.google.com/spreadsheets/d/{KEY}/edit#gid=0"
    assert cli.main(["check", url]) == cli.EXIT_DATA  # the sheet has quarantined cells
    sheet_out = capsys.readouterr().out
    xlsx = write_xlsx(tmp_path / "ar.xlsx", ar_sheets(), hidden=("Lookup",))
    assert cli.main(["check", str(xlsx)]) == cli.EXIT_DATA
    book_out = capsys.readouterr().out
    assert sheet_out.replace(url, "SRC") == book_out.replace(str(xlsx), "SRC")
    assert "invoices         10         8            2" in sheet_out


def test_cli_report_and_codes_work_on_a_google_sheet(cli_env, tmp_path, capsys):
    url = f"https://docs.google.com/spreadsheets/d/{KEY}/edit"
    out = tmp_path / "r.json"
    assert cli.main(["report", url, "--as-of", "2024-06-30", "--out", str(out)]) == cli.EXIT_DATA
    report = json.loads(out.read_text())
    assert report["rows"]["invoices"] == {"read": 10, "accepted": 8, "quarantined": 2}
    codes = tmp_path / "codes.csv"
    assert cli.main(["codes", url, "--out", str(codes)]) == cli.EXIT_DATA
    assert "Wrote 8 invoice lines with line codes" in capsys.readouterr().out


def test_cli_permission_denied_is_a_plain_error_not_a_traceback(cli_env, sheet, capsys):
    sheet.shared.clear()
    assert cli.main(["check", URL]) == cli.EXIT_DATA
    err = capsys.readouterr().err
    assert err.startswith("error: Permission denied") and f"Share the spreadsheet with {EMAIL}" in err
    assert "Traceback" not in err
