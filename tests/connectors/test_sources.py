"""connectors.sources: files and uploads into raw cells (RawWorkbook)."""
from __future__ import annotations

import codecs
import datetime as dt
import math
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
import xlsxwriter
from hypothesis import given, settings
from hypothesis import strategies as st

import connectors.sources as sources
from billing.model import RawSheet, RawWorkbook
from connectors.sources import SourceError, decode_text, read_csv_files, read_source, sniff_delimiter
from tests import messy
from tests.budget import examples

D = dt.datetime


def value(v: Any) -> Any:
    """A raw cell as plain Python: missing -> None, Timestamp -> datetime, numpy -> builtin."""
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if v is pd.NaT or (not isinstance(v, str) and pd.api.types.is_scalar(v) and pd.isna(v)):
        return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    if hasattr(v, "item") and not isinstance(v, str):
        return v.item()
    return v


def grid(sheet: RawSheet) -> list[list[Any]]:
    return [[value(v) for v in row] for row in sheet.cells.itertuples(index=False)]


def sheet(wb: RawWorkbook, name: str) -> RawSheet:
    return next(s for s in wb.sheets if s.name == name)


# --------------------------------------------------------------------------- workbooks


def test_workbook_cells_keep_their_types(tmp_path: Path) -> None:
    wb = read_source(messy.mixed_cells_xlsx(tmp_path))
    assert [s.name for s in wb.sheets] == ["Data"]
    assert grid(wb.sheets[0]) == [
        ["ID", "Amount", "When", "Flag", "Note"],
        ["00017", 12.5, D(2024, 3, 5), True, "plain"],
        ["18", "1.234,50", "05/03/2024", False, 'quote " and \\ backslash'],
        ["A-3", 7.0, 45000.0, None, "line1\nline2"],
        ["19", D(2024, 1, 1, 12, 30), None, None, "#DIV/0!"],
        ["00020", 0.1, D(2024, 12, 31), None, "中文 Összeg"],
    ]


def test_leading_zero_ids_survive_csv_and_xlsx(tmp_path: Path) -> None:
    xlsx = read_source(messy.acme_xlsx(tmp_path))
    assert [r[2] for r in grid(sheet(xlsx, "Invoices"))[3:]] == ["00017", "00017", None, "42", "00017", None]
    assert [r[1] for r in grid(sheet(xlsx, "Payments"))[1:]] == ["00017", "42"]
    folder = read_source(messy.csv_folder(tmp_path))
    assert [r[0] for r in grid(sheet(folder, "customers"))] == ["Customer ID", "00017", "00042"]
    bom = read_source(messy.csv_utf8_bom(tmp_path))
    assert grid(bom.sheets[0])[1][1] == "00017"


def test_title_and_blank_rows_keep_their_spreadsheet_positions(tmp_path: Path) -> None:
    wb = read_source(messy.acme_xlsx(tmp_path))
    inv = sheet(wb, "Invoices")
    assert inv.first_row == 1
    assert inv.cells.shape == (9, 9)
    rows = grid(inv)
    assert rows[0] == ["ACME Ltd — Accounts receivable 2024"] + [None] * 8
    assert rows[1] == [None] * 9
    assert rows[2][0] == "Invoice No"
    assert rows[3] == ["INV-001", 1.0, "00017", D(2024, 3, 5), D(2024, 4, 4), "Widgets", 1200.0, "EUR", None]
    assert rows[4][6] == "1.234,50"
    assert rows[5] == [None] * 9
    assert rows[6][:5] == ["INV-002", 1.0, "42", "05/03/2024", None]
    assert rows[7][3] == "2024.03.29."
    assert rows[8] == ["Total", None, None, None, None, None, 1049.99, None, None]


def test_date_cells_become_datetimes_and_numbers_stay_numbers(tmp_path: Path) -> None:
    pay = sheet(read_source(messy.acme_xlsx(tmp_path)), "Payments")
    assert grid(pay) == [
        ["Payment ID", "Customer", "Payment Date", "Amount", "Reference"],
        ["PAY-1", "00017", D(2024, 3, 20), 1200.0, "INV-001"],
        ["PAY-2", "42", D(2024, 4, 1), 99.99, "INV-002 thanks"],
    ]
    assert all(isinstance(v, (dt.datetime, pd.Timestamp)) for v in pay.cells[2].iloc[1:])


def test_sheet_starting_at_c5_keeps_its_row_and_column_numbers(tmp_path: Path) -> None:
    s3 = sheet(read_source(messy.generic_names_xlsx(tmp_path)), "Sheet3")
    assert s3.first_row == 5
    assert list(s3.cells.columns) == [0, 1, 2, 3, 4, 5, 6]  # A..G: column label = spreadsheet column
    assert grid(s3) == [
        [None, None, "Invoice #", "Client ID", "Inv Date", "Gross Amount", "Ccy"],
        [None, None, "INV-001", "00017", D(2024, 3, 5), 1200.0, "EUR"],
        [None, None, "INV-002", "42", D(2024, 3, 6), 99.99, "USD"],
    ]


def test_hidden_sheets_are_marked_hidden(tmp_path: Path) -> None:
    wb = read_source(messy.acme_xlsx(tmp_path))
    assert {s.name: s.hidden for s in wb.sheets} == {
        "Invoices": False, "Payments": False, "Lookup": True, "Notes": False}
    assert grid(sheet(wb, "Lookup")) == [["Code", "Meaning"], ["EUR", "Euro"]]


def test_empty_sheet_has_no_cells(tmp_path: Path) -> None:
    notes = sheet(read_source(messy.acme_xlsx(tmp_path)), "Notes")
    assert notes.cells.shape == (0, 0)
    assert notes.first_row == 1


def test_two_row_merged_header_cells_are_read_where_excel_puts_them(tmp_path: Path) -> None:
    inv = sheet(read_source(messy.two_row_header_xlsx(tmp_path)), "Invoices")
    assert grid(inv) == [
        ["Invoice", None, None, "Customer", "Currency"],
        ["No", "Date", "Amount", None, None],
        ["INV-001", D(2024, 3, 5), 1200.0, "00017", "EUR"],
        ["INV-002", D(2024, 3, 6), 99.99, "42", "USD"],
    ]


def test_openpyxl_workbook_in_the_1904_date_system(tmp_path: Path) -> None:
    wb = read_source(messy.hungarian_openpyxl_xlsx(tmp_path))
    assert {s.name: s.hidden for s in wb.sheets} == {"Számlák": False, "Befizetések": False, "Régi": True}
    assert grid(wb.sheets[0]) == [
        ["Kintlévőségek 2024", None, None, None, None],
        [None] * 5,
        ["Számlaszám", "Vevőkód", "Kelt", "Lejárat", "Végösszeg"],
        ["SZ-1", "00017", D(2024, 3, 5), D(2024, 4, 4), 1234.5],
        ["SZ-2", "00042", "2024.03.06.", None, "50 000"],
        ["Mindösszesen", None, None, None, 51234.5],
    ]
    assert grid(wb.sheets[1])[1] == ["B-1", "00017", D(2024, 3, 25), 1234.5]


def test_chinese_sheet_names_and_cells(tmp_path: Path) -> None:
    wb = read_source(messy.chinese_xlsx(tmp_path))
    assert [s.name for s in wb.sheets] == ["发票", "收款"]
    assert grid(wb.sheets[0])[2] == ["FP-0002", "00042", "2024年3月6日", 880.5, "CNY", "加急"]
    assert grid(wb.sheets[0])[3] == ["合计", None, None, 2080.5, None, None]


def test_xlsx_is_read_without_the_cell_by_cell_fallback(tmp_path: Path, monkeypatch) -> None:
    def no_fallback(*_: Any) -> None:
        raise AssertionError("fast path refused a sheet")

    monkeypatch.setattr(sources, "_calamine_one_sheet", no_fallback)
    for build in (messy.acme_xlsx, messy.two_row_header_xlsx, messy.chinese_xlsx,
                  messy.generic_names_xlsx, messy.mixed_cells_xlsx, messy.hungarian_openpyxl_xlsx):
        assert read_source(build(tmp_path)).sheets


def _same(fast: Any, slow: Any) -> bool:
    """A fast-path cell equals the cell-by-cell one, or is its text form in a text column."""
    if fast == slow or (fast is None and slow is None):
        return True
    if isinstance(fast, str) and fast.startswith("#") and slow is None:
        return True  # python-calamine renders error cells (#DIV/0!) as empty
    if isinstance(fast, str) and isinstance(slow, bool):
        return fast == str(slow).lower()
    if isinstance(fast, str) and isinstance(slow, (int, float)):
        try:
            return float(fast) == float(slow)
        except ValueError:
            return False
    return False


def test_fast_path_agrees_with_the_cell_by_cell_reader(tmp_path: Path) -> None:
    for build in (messy.acme_xlsx, messy.two_row_header_xlsx, messy.chinese_xlsx,
                  messy.generic_names_xlsx, messy.mixed_cells_xlsx, messy.hungarian_openpyxl_xlsx):
        path = build(tmp_path)
        fast = read_source(path)
        slow = sources._read_calamine(path, path.name, "xlsx")
        assert [s.name for s in fast.sheets] == [s.name for s in slow.sheets]
        for f, s in zip(fast.sheets, slow.sheets):
            assert (f.first_row, f.hidden) == (s.first_row, s.hidden), (path.name, f.name)
            fg, sg = grid(f), grid(s)
            assert len(fg) == len(sg)
            for fr, sr in zip(fg, sg):
                assert len(fr) == len(sr)
                assert all(_same(a, b) for a, b in zip(fr, sr)), (path.name, f.name, fr, sr)


_text = st.text(alphabet=st.sampled_from(list("abcXYZ -_/.,#0123456789őű中文\"\\'\n")), min_size=1,
                max_size=12).filter(lambda s: s.strip() != "")
_cell = st.one_of(
    st.none(),
    _text,
    st.from_regex(r"0[0-9]{1,6}", fullmatch=True),  # leading-zero ids as text
    st.integers(min_value=-10**9, max_value=10**9),
    st.floats(min_value=-(10 ** 9), max_value=10 ** 9, allow_nan=False).map(lambda f: round(f, 4)),
    st.datetimes(min_value=D(1990, 1, 1), max_value=D(2060, 1, 1)).map(lambda d: d.replace(microsecond=0)),
    st.booleans(),
)


def _as_text(value: Any) -> set[str]:
    """The ways a number, bool or date cell may read as text in a column read as text."""
    if isinstance(value, bool):
        return {"true" if value else "false"}
    if isinstance(value, dt.datetime):
        full = value.isoformat(sep=" ")
        return {full, value.date().isoformat()} if value.time() == dt.time() else {full}
    number = float(value)
    return {f"{number:.0f}"} if number.is_integer() else {repr(number)}  # -0.0 reads "-0"


@settings(max_examples=examples(30), deadline=None)
@given(titles=st.integers(0, 3), columns=st.lists(st.lists(_cell, min_size=1, max_size=25),
                                                     min_size=1, max_size=4))
def test_every_workbook_cell_comes_back_with_its_value(tmp_path_factory: pytest.TempPathFactory, titles: int,
                                                       columns: list[list[Any]]) -> None:
    path = tmp_path_factory.mktemp("cells") / "random.xlsx"  # a fresh file per example
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("S")
    date = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    for t in range(titles):
        ws.write_string(t, 0, f"Title {t}")
    for j, col in enumerate(columns):
        ws.write_string(titles, j, f"Header {j}")
        for i, v in enumerate(col):
            r = titles + 1 + i
            if v is None:
                continue
            if isinstance(v, bool):
                ws.write_boolean(r, j, v)
            elif isinstance(v, (int, float)):
                ws.write_number(r, j, v)
            elif isinstance(v, dt.datetime):
                ws.write_datetime(r, j, v, date)
            else:
                ws.write_string(r, j, v)
    wb.close()
    got = read_source(path).sheets[0]
    cells = grid(got)
    assert got.first_row == 1
    for j, col in enumerate(columns):
        assert cells[titles][j] == f"Header {j}"
        for i, want in enumerate(col):
            have = cells[titles + 1 + i][j] if titles + 1 + i < len(cells) else None
            if isinstance(want, str) or want is None:
                assert have == want
            elif isinstance(have, str):  # a number, bool or date in a column read as text: its text
                assert have in _as_text(want), (want, have)
            elif isinstance(want, bool):
                assert have == want or have == float(want)
            else:
                assert have == want, (want, have)


def _number_cell_in_a_text_column(tmp_path: Path, numbers: list[float]) -> list[list[Any]]:
    """`numbers` as number cells under a header and notes that outnumber them (so the column reads as text),
    written by openpyxl; the sheet's cells, the header and notes first."""
    path = tmp_path / "amounts.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws.append(["Amount"])
    for _ in range(4 * len(numbers)):
        ws.append(["n/a"])
    for number in numbers:
        ws.append([number])
    wb.save(path)
    return grid(read_source(path).sheets[0])


def _as_excel_shows(value: Any) -> str:
    """A number as Excel's General format shows it when the column is wide: 15 significant digits at most."""
    return format(float(f"{value:.15g}"), "f").rstrip("0").rstrip(".")


def test_a_big_amount_in_a_text_column_keeps_its_digits(tmp_path: Path) -> None:
    # fastexcel renders the number 8474337.37 read as text as "8474337.369999999" (9 decimals of the binary value)
    cells = _number_cell_in_a_text_column(tmp_path, [8474337.37])
    assert cells[:5] == [["Amount"]] + [["n/a"]] * 4
    assert cells[5] in (["8474337.37"], [8474337.37])
    assert _as_excel_shows(cells[5][0]) == "8474337.37"


# amounts as a ledger holds them: up to 10**14 (fastexcel drops the fraction of numbers of 10**15 and more,
# undetectably), with 0-4 decimals, 15 significant digits at most (what Excel keeps)
_amounts = st.builds(lambda units, decimals: round(units / 10 ** decimals, decimals),
                     st.integers(-(10 ** 14), 10 ** 14), st.integers(0, 4)).filter(
    lambda a: len(f"{abs(a):.4f}".rstrip("0").replace(".", "").lstrip("0")) <= 15)


@settings(max_examples=examples(30), deadline=None)
@given(numbers=st.lists(_amounts, min_size=1, max_size=30))
def test_every_amount_in_a_text_column_reads_as_excel_shows_it(tmp_path_factory: pytest.TempPathFactory,
                                                               numbers: list[float]) -> None:
    """SPEC §12: nothing is lost. A number cell in a column read as text comes back as the number (the sheet was
    read cell by cell) or as its text, and either way shows the digits Excel shows, never fastexcel's noise."""
    cells = _number_cell_in_a_text_column(tmp_path_factory.mktemp("amounts"), numbers)
    notes = 4 * len(numbers)
    assert cells[:1 + notes] == [["Amount"]] + [["n/a"]] * notes
    for (have,), want in zip(cells[1 + notes:], numbers, strict=True):
        if isinstance(have, str):
            assert have == _as_excel_shows(want), (want, have)
        else:
            assert have == want, (want, have)


# --------------------------------------------------------------------------- ods, xls


def test_ods_cells_keep_their_types(tmp_path: Path) -> None:
    wb = read_source(messy.hungarian_ods(tmp_path))
    assert [s.name for s in wb.sheets] == ["Számlák", "Befizetések"]
    assert grid(wb.sheets[0]) == [
        ["Példa Kft. — Kintlévőségek", None, None, None, None, None],
        ["Számlaszám", "Vevőkód", "Számla kelte", "Esedékesség", "Bruttó összeg", "Pénznem"],
        ["SZ-2024/001", "00017", "2024.03.05.", D(2024, 4, 4), "1 234,50", "HUF"],
        ["SZ-2024/002", "00042", D(2024, 3, 6), None, 50000.0, "HUF"],
        [None] * 6,
        ["Összesen:", None, None, None, 51234.5, None],
    ]


def test_xls_cells_keep_their_types(tmp_path: Path) -> None:
    wb = read_source(messy.legacy_xls(tmp_path))
    assert [s.name for s in wb.sheets] == ["Invoices", "Payments"]
    assert grid(wb.sheets[0]) == [
        ["Invoice No", "Customer", "Invoice Date", "Amount"],
        ["INV-001", "00017", D(2024, 3, 5), 1200.5],
        ["INV-002", 42, D(2024, 3, 6), 99.99],
    ]


# --------------------------------------------------------------------------- CSV


def test_csv_utf8_with_bom_is_decoded_and_every_cell_is_text(tmp_path: Path) -> None:
    wb = read_source(messy.csv_utf8_bom(tmp_path))
    assert wb.source == "invoices_bom.csv"
    (s,) = wb.sheets
    assert s.name == "invoices_bom" and s.first_row == 1
    assert s.cells.values.tolist() == [
        ["Invoice No", "Customer", "Invoice Date", "Amount", "Currency", "Description"],
        ["INV-001", "00017", "2024-03-05", "1200.00", "EUR", "Widgets, large"],
        ["INV-002", "00042", "2024-03-06", "99.99", "USD", "Café crème"],
        ["", "", "", "", "", ""],
        ["Total", "", "", "1299.99", "", ""],
    ]


def test_csv_in_cp1252_with_semicolons_and_a_title_line(tmp_path: Path) -> None:
    (s,) = read_source(messy.csv_cp1252(tmp_path)).sheets
    assert s.cells.values.tolist() == [
        ["Müller & Söhne — Offene Posten", "", "", "", ""],
        ["Invoice #", "Customer", "Date", "Amount", "Currency"],
        ["INV-001", "00017", "05.03.2024", "1.234,50", "EUR"],
        ["INV-002", "00042", "06.03.2024", "99,99", "EUR"],
    ]


def test_csv_in_gbk_with_chinese_headers(tmp_path: Path) -> None:
    (s,) = read_source(messy.csv_gbk(tmp_path)).sheets
    assert s.name == "发票"
    assert s.cells.values.tolist() == [
        ["发票号", "客户", "开票日期", "金额", "币种"],
        ["FP-0001", "00017", "2024年3月5日", "1,200.00", "人民币"],
        ["FP-0002", "00042", "2024/3/6", "880.50", "人民币"],
    ]


def test_csv_in_utf16_with_tabs(tmp_path: Path) -> None:
    (s,) = read_source(messy.csv_utf16(tmp_path)).sheets
    assert s.cells.values.tolist() == [
        ["Payment ID", "Customer", "Payment Date", "Amount"],
        ["PAY-1", "00017", "2024-03-20", "1200"],
    ]


def test_hungarian_cp1250_text_is_decoded() -> None:
    text = "Számlaszám;Vevő neve;Összeg\nSZ-1;Kovács Ödön Ősz Űr;1 234,50\n"
    assert decode_text(text.encode("cp1250")) == (text, "cp1250")
    assert decode_text(text.encode("utf-8")) == (text, "utf-8")


@pytest.mark.parametrize("delim", [",", ";", "\t", "|"])
def test_delimiter_is_detected(delim: str) -> None:
    rows = [["Invoice No", "Customer", "Amount"], ["INV-1", "00017", "1,5"], ["INV-2", "x", "2"]]
    text = "Report title\n" + "\n".join(delim.join(f'"{c}"' if "," in c else c for c in r) for r in rows)
    assert sniff_delimiter(text) == delim


def test_ragged_csv_rows_are_padded_with_empty_strings() -> None:
    data = "Title\nA,B,C\n1,2\n" + "x,y,z\n" * 2100 + "1,2,3,4,5\n"
    (s,) = read_source(data.encode(), "ragged.csv").sheets
    assert s.cells.shape == (2104, 5)
    assert s.cells.iloc[0].tolist() == ["Title", "", "", "", ""]
    assert s.cells.iloc[2].tolist() == ["1", "2", "", "", ""]
    assert s.cells.iloc[-1].tolist() == ["1", "2", "3", "4", "5"]
    assert (s.cells.map(type) == str).all().all()


def test_folder_of_csvs_gives_one_sheet_per_file(tmp_path: Path) -> None:
    wb = read_source(messy.csv_folder(tmp_path))
    assert wb.source == "ar_csv"
    assert [s.name for s in wb.sheets] == ["customers", "invoices", "payments"]
    assert sheet(wb, "payments").cells.values.tolist() == [
        ["Payment ID", "Customer", "Payment Date", "Amount", "Reference"],
        ["PAY-1", "00017", "2024-03-20", "1234.50", "INV-001"],
    ]
    assert sheet(wb, "customers").cells.values.tolist()[2] == ["00042", "Kovács Kft.", "USD", "15"]


def test_several_uploaded_csvs_are_read_at_once() -> None:
    wb = read_csv_files([("invoices.csv", b"Invoice No,Amount\nINV-1,5\n"),
                         ("payments.csv", b"\xef\xbb\xbfPayment ID;Amount\nP-1;5\n")])
    assert [s.name for s in wb.sheets] == ["invoices", "payments"]
    assert wb.sheets[1].cells.values.tolist() == [["Payment ID", "Amount"], ["P-1", "5"]]


def test_a_workbook_among_uploaded_csvs_is_refused(tmp_path: Path) -> None:
    data = messy.acme_xlsx(tmp_path).read_bytes()
    with pytest.raises(SourceError, match=r"^'acme_ar.xlsx' is not a CSV file"):
        read_csv_files([("invoices.csv", b"a,b\n"), ("acme_ar.xlsx", data)])


# --------------------------------------------------------------------------- uploads


def test_uploaded_bytes_are_recognised_by_content(tmp_path: Path) -> None:
    xlsx = read_source(messy.acme_xlsx(tmp_path).read_bytes(), "upload.bin")
    assert xlsx.source == "upload.bin"
    assert [s.name for s in xlsx.sheets] == ["Invoices", "Payments", "Lookup", "Notes"]
    ods = read_source(messy.hungarian_ods(tmp_path).read_bytes(), "szamlak.ods")
    assert ods.sheets[0].name == "Számlák"
    xlsm = tmp_path / "macro.xlsm"
    xlsm.write_bytes(messy.acme_xlsx(tmp_path).read_bytes())
    assert [s.name for s in read_source(xlsm).sheets] == ["Invoices", "Payments", "Lookup", "Notes"]
    csv_ = read_source(b"Payment ID,Amount\nP-1,5\n", "payments.csv")
    assert csv_.sheets[0].name == "payments"
    assert csv_.sheets[0].cells.values.tolist() == [["Payment ID", "Amount"], ["P-1", "5"]]


def test_uploaded_xls_bytes_are_recognised(tmp_path: Path) -> None:
    wb = read_source(messy.legacy_xls(tmp_path).read_bytes(), "legacy.xls")
    assert [s.name for s in wb.sheets] == ["Invoices", "Payments"]


# --------------------------------------------------------------------------- errors


def test_corrupt_xlsx_gives_plain_message(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as err:
        read_source(messy.corrupt_xlsx(tmp_path))
    assert err.value.message == ("'corrupt.xlsx' could not be read as an Excel workbook: "
                                 "the file is damaged or not really .xlsx.")


def test_damaged_sheet_inside_an_xlsx_gives_plain_message(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as err:
        read_source(messy.damaged_member_xlsx(tmp_path))
    assert err.value.message == ("'damaged.xlsx' could not be read as an Excel workbook: "
                                 "the file is damaged or not really .xlsx.")


def test_corrupt_upload_is_named_by_its_file_name(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"^'mine.xlsx' could not be read as an Excel workbook"):
        read_source(messy.corrupt_xlsx(tmp_path).read_bytes(), "mine.xlsx")


def test_empty_file_gives_plain_message(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as err:
        read_source(messy.empty_file(tmp_path))
    assert err.value.message == "'empty.xlsx' is empty (0 bytes)."
    with pytest.raises(SourceError, match=r"^'x.csv' is empty \(0 bytes\)\.$"):
        read_source(b"", "x.csv")


def test_password_protected_workbook_gives_plain_message(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as err:
        read_source(messy.password_xlsx(tmp_path))
    assert err.value.message == ("'locked.xlsx' is password-protected: open it in Excel, remove the "
                                 "password (File > Info > Protect Workbook) and save it again.")


def test_too_large_file_names_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_bytes(b"a,b\n" * (3 * 2**20 // 4))
    with pytest.raises(SourceError) as err:
        read_source(path, max_bytes=2**20)
    assert err.value.message == "'big.csv' is 3 MB, larger than the 1 MB limit; split it or remove old rows."
    with pytest.raises(SourceError, match="larger than the 1 MB limit"):
        read_source(path.read_bytes(), "big.csv", max_bytes=2**20)


def test_pdf_html_and_unknown_binaries_are_refused_with_plain_messages(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"^'statement.pdf' is a PDF document, not a spreadsheet"):
        read_source(messy.pdf_file(tmp_path))
    with pytest.raises(SourceError, match=r"^'report.xls' is a web page \(HTML\), not a spreadsheet"):
        read_source(messy.html_as_xls(tmp_path))
    png = b"\x89PNG\r\n\x1a\n" + bytes(64)
    with pytest.raises(SourceError) as err:
        read_source(png, "logo.png")
    assert err.value.message == ("'logo.png' is not a format Linewise reads: use .xlsx, .xlsm, .xls, "
                                 ".ods or .csv.")


def test_zip_that_is_not_a_workbook_is_refused(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "data.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("invoices.csv", "a,b\n")
    with pytest.raises(SourceError, match=r"^'data.zip' is a zip archive but not an Excel"):
        read_source(path)


def test_missing_path_and_folder_without_csvs(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"^'nope.xlsx' was not found\.$"):
        read_source(tmp_path / "nope.xlsx")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(SourceError, match=r"^Folder 'empty_dir' has no CSV files"):
        read_source(tmp_path / "empty_dir")


def test_every_broken_file_in_the_corpus_gives_a_source_error(tmp_path: Path) -> None:
    for build in messy.BROKEN:
        folder = tmp_path / build.__name__
        folder.mkdir()
        path = build(folder)
        with pytest.raises(SourceError):
            read_source(path)
        with pytest.raises(SourceError):
            read_source(path.read_bytes(), path.name)


def test_library_failures_never_escape_as_library_exceptions(tmp_path: Path, monkeypatch) -> None:
    def boom(*_: Any, **__: Any) -> None:
        raise RuntimeError("calamine exploded")

    monkeypatch.setattr(sources, "_read_xlsx", boom)
    with pytest.raises(SourceError, match=r"^'acme_ar.xlsx' could not be read: calamine exploded$"):
        read_source(messy.acme_xlsx(tmp_path))


def test_bom_only_csv_is_an_empty_sheet() -> None:
    (s,) = read_source(codecs.BOM_UTF8 + b"\r\n", "invoices.csv").sheets
    assert s.cells.shape[0] <= 1
    assert s.cells.map(lambda v: v == "").all().all()
