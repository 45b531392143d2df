"""XLSX / CSV writers: formula injection neutralised, types kept, money formatted per currency.

Files are read back with python-calamine (values) and openpyxl (formats, panes,
visibility), never trusted from what we meant to write.
"""
from __future__ import annotations

import datetime as dt
import io

import numpy as np
import openpyxl
import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

import connectors.export as export
from billing.demo import template_instructions
from billing.schema import TABLE_ORDER, TABLES
from connectors.export import (money_format, neutralise_csv, write_csv, write_demo_workbook,
                               write_template_workbook, write_workbook)

PREFIXED = ["=1+1", "+1", "-1", "@SUM(A1:A2)", "\tcmd", "\rcmd", "=HYPERLINK(\"http://x\")"]


def xlsx(sheets, **kw) -> bytes:
    buf = io.BytesIO()
    write_workbook(buf, sheets, **kw)
    return buf.getvalue()


def values(data: bytes, sheet: int | str = 0) -> list[list]:
    wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    ws = wb.get_sheet_by_index(sheet) if isinstance(sheet, int) else wb.get_sheet_by_name(sheet)
    return ws.to_python()


def opx(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


@pytest.fixture(params=["fast", "fallback"])
def writer(request):
    """Both row writers (pyarrow stream and xlsxwriter's per-cell API) must give the same cells."""
    slow = request.param == "fallback"

    def write(sheets, **kw) -> bytes:
        return xlsx(sheets, _force_slow=slow, **kw)
    return write


# ----------------------------------------------------------------------------- injection

@pytest.mark.parametrize("text", PREFIXED)
def test_text_starting_with_a_formula_character_is_a_quote_prefixed_string_with_its_value_unchanged(writer, text):
    data = writer({"s": pd.DataFrame({"t": [text, "plain"]})})
    assert values(data)[1:] == [[text], ["plain"]]
    ws = opx(data).active   # openpyxl leaves CR as its _x000D_ escape; calamine decodes it
    assert ws["A2"].data_type == "s" and ws["A2"].quotePrefix and not ws["A3"].quotePrefix


def test_a_phone_number_in_a_dated_or_formatted_column_keeps_its_format_and_gets_the_quote_prefix(writer):
    data = writer({"s": pd.DataFrame({"phone": ["+36 30 555 1234", "06 30 555 1234"]})},
                  number_formats={"s": {"phone": "@"}})
    ws = opx(data).active
    assert [ws["A2"].value, ws["A3"].value] == ["+36 30 555 1234", "06 30 555 1234"]
    assert ws["A2"].quotePrefix and ws["A2"].number_format == "@" and not ws["A3"].quotePrefix


def test_negative_numbers_stay_numbers_while_text_minus_one_is_neutralised(writer):
    df = pd.DataFrame({"n": [-5, -1.25], "t": ["-1", "-5"], "obj": pd.Series([-5, "-5"], dtype=object)})
    data = writer({"s": df})
    assert values(data)[1:] == [[-5.0, "-1", -5.0], [-1.25, "-5", "-5"]]
    ws = opx(data).active
    assert ws["A2"].data_type == "n" and ws["A2"].value == -5 and not ws["A2"].quotePrefix
    assert ws["B2"].data_type == "s" and ws["B2"].quotePrefix
    assert ws["C2"].data_type == "n" and ws["C3"].data_type == "s" and ws["C3"].quotePrefix


def test_header_cells_are_neutralised_too(writer):
    data = writer({"s": pd.DataFrame({"=cmd": [1], "ok": [2]})})
    assert values(data)[0] == ["=cmd", "ok"]
    ws = opx(data).active
    assert ws["A1"].quotePrefix and ws["A1"].font.b and not ws["B1"].quotePrefix


def test_strings_are_never_written_as_formulas(writer):
    ws = opx(writer({"s": pd.DataFrame({"t": ["=1+1", "SUM(1)"]})})).active
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    assert ws["A2"].value == "=1+1" and ws["A2"].quotePrefix


def test_csv_neutralises_text_but_not_numbers():
    df = pd.DataFrame({"t": pd.Series(PREFIXED + ["x"], dtype="str"),
                       "o": pd.Series(PREFIXED + [-3], dtype=object),
                       "n": np.arange(-4, 4, dtype=float)})
    out = neutralise_csv(df)
    assert out["t"].tolist() == ["'" + t for t in PREFIXED] + ["x"]
    assert out["o"].tolist() == ["'" + t for t in PREFIXED] + [-3]
    assert out["n"].tolist() == df["n"].tolist()
    assert df["t"].iloc[0] == "=1+1", "the input frame is not modified"


def test_write_csv_round_trips_with_exact_money_and_a_bom(tmp_path):
    df = pd.DataFrame({"who": ["上海华联贸易有限公司", "=evil()"], "amount": [123450, -5],
                       "currency": ["USD", "JPY"], "qty": [-2.5, 3.0]})
    path = tmp_path / "out.csv"
    write_csv(path, df, money_columns={"amount": "currency"})
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
    assert back["who"].tolist() == ["上海华联贸易有限公司", "'=evil()"]
    assert back["amount"].tolist() == ["1234.50", "-5"]
    assert back["qty"].tolist() == ["-2.5", "3.0"]


def test_write_csv_accepts_a_binary_stream():
    buf = io.BytesIO()
    write_csv(buf, pd.DataFrame({"a": ["+1"]}))
    assert buf.getvalue().decode("utf-8-sig").splitlines() == ["a", "'+1"]


# ----------------------------------------------------------------------------- types

def test_dates_and_datetimes_round_trip_as_excel_dates(writer):
    df = pd.DataFrame({
        "d": [dt.date(2026, 6, 30), None, dt.date(1900, 3, 1)],
        "ts": pd.to_datetime(["2025-01-02 13:45:10", None, "2025-01-03 00:00:00"]),
        "day": pd.to_datetime(["2025-01-02", "2025-01-03", None]),
    })
    data = writer({"s": df})
    rows = values(data)[1:]
    assert rows[0] == [dt.date(2026, 6, 30), dt.datetime(2025, 1, 2, 13, 45, 10), dt.date(2025, 1, 2)]
    assert rows[1] == ["", "", dt.date(2025, 1, 3)]
    assert rows[2][0] == dt.date(1900, 3, 1)
    ws = opx(data).active
    assert ws["A2"].is_date and ws["A2"].number_format == "yyyy-mm-dd"
    assert ws["B2"].is_date and ws["B2"].number_format == "yyyy-mm-dd hh:mm:ss"
    assert ws["C2"].is_date and ws["C2"].number_format == "yyyy-mm-dd"


def test_dates_excel_cannot_hold_are_kept_as_iso_text(writer):
    data = writer({"s": pd.DataFrame({"d": [dt.date(1899, 12, 31), dt.date(9999, 12, 31)]})})
    assert values(data)[1:] == [["1899-12-31"], [dt.date(9999, 12, 31)]]


def test_missing_values_are_blank_cells(writer):
    df = pd.DataFrame({"f": [np.nan, 1.0], "i": pd.array([None, 2], dtype="Int64"),
                       "s": pd.Series([None, "x"], dtype="str"), "b": pd.array([pd.NA, True], dtype="boolean"),
                       "o": pd.Series([pd.NaT, "y"], dtype=object)})
    data = writer({"s": df})
    assert values(data)[1:] == [["", "", "", "", ""], [1.0, 2.0, "x", True, "y"]]
    ws = opx(data).active
    assert all(ws.cell(2, c).value is None for c in range(1, 6))


def test_bools_ints_and_mixed_object_columns_keep_their_types(writer):
    df = pd.DataFrame({"b": [True, False], "i": [1, 2 ** 60], "mix": pd.Series([3, "t"], dtype=object),
                       "edge": pd.array([2 ** 53, 2 ** 53 + 1], dtype="Int64")})
    rows = values(writer({"s": df}))[1:]
    assert rows == [[True, 1.0, 3.0, float(2 ** 53)], [False, str(2 ** 60), "t", str(2 ** 53 + 1)]]


def test_xml_special_characters_and_spaces_round_trip(writer):
    texts = ["a & b < c > d", "  two leading", "trailing ", "tab\tinside", "line\nbreak",
             "ctrl\x01char", "literal _x0041_ escape", "上海华联贸易有限公司", "Kovács és Társa Kft."]
    rows = values(writer({"s": pd.DataFrame({"t": texts})}))[1:]
    assert [r[0] for r in rows] == texts


def test_fast_and_fallback_writers_write_the_same_cells():
    df = pd.DataFrame({"t": ["=x", None, "a&b", " s"], "n": [1.5, -2.0, np.nan, 4.0],
                       "d": [dt.date(2024, 1, 2), None, dt.date(2024, 1, 3), dt.date(2024, 1, 4)],
                       "m": [100, -250, 7, None], "c": ["USD", "JPY", "BHD", "EUR"],
                       "x": pd.Series([1, "=2", dt.date(2024, 5, 6), False], dtype=object)})
    kw = {"money_columns": {"s": {"m": "c"}}}
    fast = xlsx({"s": df}, **kw)
    slow = xlsx({"s": df}, _force_slow=True, **kw)
    assert values(fast) == values(slow)
    f, s = opx(fast).active, opx(slow).active
    assert [[c.number_format for c in r] for r in f.iter_rows()] == \
        [[c.number_format for c in r] for r in s.iter_rows()]


def test_rows_are_streamed_without_the_per_cell_fallback(monkeypatch):
    def per_cell(*_args, **_kw):
        raise AssertionError("the per-cell writer was used")
    monkeypatch.setattr(export, "_write_rows_slow", per_cell)
    df = pd.DataFrame({"t": ["x"] * 3, "n": [1, 2, 3], "d": [dt.date(2024, 1, 1)] * 3})
    assert len(values(xlsx({"s": df}))) == 4
    assert len(values(xlsx({"s": df}, money_columns={}))) == 4


def test_odd_dtypes_are_written_as_text_or_numbers(writer):
    df = pd.DataFrame({"cat": pd.Categorical(["a", "=b"]), "td": pd.to_timedelta(["1 days", None]),
                       "cx": [1 + 2j, 3 + 0j], "per": pd.Series(pd.period_range("2024-01", periods=2, freq="M")),
                       "u8": np.array([1, 255], dtype=np.uint8)})
    rows = values(writer({"s": df}))[1:]
    assert rows[0][0] == "a" and rows[1][0] == "=b"
    assert rows[0][1].startswith("1 days") and rows[1][1] == ""
    assert rows[0][2] == "(1+2j)" and rows[0][3] == "2024-01" and rows[1][4] == 255.0


# ----------------------------------------------------------------------------- money

def test_money_columns_are_major_units_with_the_currency_decimals(writer):
    df = pd.DataFrame({"amount": pd.array([123456, -5, 1500, 1234567, 99, None], dtype="Int64"),
                       "currency": ["USD", "JPY", "BHD", "HUF", "CNY", "EUR"]})
    data = writer({"pay": df}, money_columns={"pay": {"amount": "currency"}})
    assert [r[0] for r in values(data)[1:]] == [1234.56, -5.0, 1.5, 12345.67, 0.99, ""]
    ws = opx(data).active
    assert [ws.cell(r, 1).number_format for r in range(2, 7)] == \
        ["#,##0.00", "#,##0", "#,##0.000", "#,##0.00", "#,##0.00"]
    assert ws["A2"].data_type == "n" and ws["A3"].value == -5
    assert money_format(3) == "#,##0.000" and money_format(0) == "#,##0"


def test_an_empty_money_column_is_just_a_header(writer):
    df = pd.DataFrame({"amount": pd.Series(dtype="int64"), "currency": pd.Series(dtype="str")})
    assert values(writer({"s": df}, money_columns={"s": {"amount": "currency"}})) == [["amount", "currency"]]


def test_a_money_column_needs_its_currency_column():
    with pytest.raises(ValueError, match="currency column 'ccy'"):
        xlsx({"s": pd.DataFrame({"amount": [1]})}, money_columns={"s": {"amount": "ccy"}})


def test_number_formats_apply_to_plain_numeric_columns(writer):
    ws = opx(writer({"s": pd.DataFrame({"x": [1234.5]})}, number_formats={"s": {"x": "#,##0.00"}})).active
    assert ws["A2"].number_format == "#,##0.00" and ws["A2"].value == 1234.5


# ----------------------------------------------------------------------------- sheets

def test_unicode_sheet_names_are_kept_and_bad_ones_made_valid(writer):
    frames = {"客户 Vevők": pd.DataFrame({"a": [1]}), "a/b:c?": pd.DataFrame({"a": [2]}),
              "x" * 40: pd.DataFrame({"a": [3]}), "X" * 40: pd.DataFrame({"a": [4]}),
              "History": pd.DataFrame({"a": [5]})}
    names = CalamineWorkbook.from_filelike(io.BytesIO(writer(frames))).sheet_names
    assert names[0] == "客户 Vevők" and names[1] == "a_b_c_"
    assert len(names[2]) == len(names[3]) == 31 and names[2].casefold() != names[3].casefold()
    assert names[4] == "History_"


def test_header_is_bold_frozen_filtered_and_nothing_is_hidden(writer):
    df = pd.DataFrame({"customer_id": ["0010001", "0010002"], "amount": [1.5, 2.5]})
    wb = opx(writer({"a": df, "b": df}))
    for ws in wb.worksheets:
        assert ws.sheet_state == "visible"
        assert ws.freeze_panes == "A2"
        assert ws["A1"].font.b and ws["B1"].font.b
        assert ws.auto_filter.ref == "A1:B3"
        assert not any(d.hidden for d in ws.column_dimensions.values())
        assert not any(d.hidden for d in ws.row_dimensions.values())
        assert ws.column_dimensions["A"].width >= len("customer_id")
    assert values(writer({"a": df}))[1][0] == "0010001", "ids stay text with their zeros"


def test_writes_to_a_path_and_to_a_binary_stream(tmp_path):
    df = pd.DataFrame({"a": [1, 2]})
    path = tmp_path / "out.xlsx"
    write_workbook(path, {"s": df})
    write_workbook(str(tmp_path / "out2.xlsx"), {"s": df})
    assert values(path.read_bytes()) == values(xlsx({"s": df})) == [["a"], [1.0], [2.0]]


def test_a_frame_longer_than_a_sheet_continues_on_the_next(monkeypatch, writer):
    monkeypatch.setattr(export, "EXCEL_MAX_ROWS", 4)
    data = writer({"lines": pd.DataFrame({"n": range(7)})})
    wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    assert wb.sheet_names == ["lines", "lines (2)", "lines (3)"]
    got = [r[0] for name in wb.sheet_names for r in wb.get_sheet_by_name(name).to_python()[1:]]
    assert got == [float(i) for i in range(7)]


def test_empty_frames_and_empty_workbooks_are_valid(writer):
    data = writer({"none": pd.DataFrame({"a": pd.Series(dtype=object)})})
    assert values(data) == [["a"]]
    assert CalamineWorkbook.from_filelike(io.BytesIO(xlsx({}))).sheet_names == ["Sheet1"]


# ----------------------------------------------------------------------------- demo & template

def test_demo_workbook_reads_back_as_the_demo_tables(tmp_path):
    from billing.demo import generate_demo

    path = tmp_path / "demo.xlsx"
    write_demo_workbook(path, n_lines=1500)
    tables = generate_demo(n_lines=1500)
    wb = CalamineWorkbook.from_path(str(path))
    assert wb.sheet_names == TABLE_ORDER
    for name, df in tables.items():
        rows = wb.get_sheet_by_name(name).to_python()
        assert rows[0] == list(df.columns) and len(rows) == len(df) + 1, name
    inv = wb.get_sheet_by_name("invoices").to_python()
    header = inv[0]
    first = dict(zip(header, inv[1]))
    expected = tables["invoices"].iloc[0]
    assert first["invoice_no"] == expected["invoice_no"]
    assert first["invoice_date"] == expected["invoice_date"]
    assert first["amount"] == expected["amount"] and first["customer_id"] == expected["customer_id"]
    assert opx(path.read_bytes())["invoices"]["O2"].number_format == "#,##0.00"


def test_template_workbook_has_instructions_then_one_sheet_per_table(tmp_path):
    path = tmp_path / "template.xlsx"
    write_template_workbook(path)
    wb = opx(path.read_bytes())
    assert wb.sheetnames == ["Instructions", *TABLE_ORDER]
    ins = values(path.read_bytes(), "Instructions")
    assert ins[0] == ["sheet", "column", "required", "meaning", "example"]
    assert len(ins) - 1 == len(template_instructions())
    for name in TABLE_ORDER:
        ws = wb[name]
        headers = [c.value for c in ws[1]]
        assert headers == TABLES[name].names
        assert ws.freeze_panes == "A2" and all(c.font.b for c in ws[1])
        required = {c.value for c in ws[1] if c.fill.fgColor.rgb not in (None, "00000000")}
        assert required == set(TABLES[name].required_columns)
        assert ws.max_row == 1
