"""Read a source (workbook, CSV, folder of CSVs, uploaded bytes) into raw cells.

Only I/O lives here: the result is a `billing.model.RawWorkbook` whose sheets
hold the cells as the file has them (see docs/DESIGN.md, "Raw cells"):

- workbook cells keep their types: `str`, numbers (`float`, or `int` where the
  format stores integers), `bool`, `datetime`; empty cells are missing
  (None/NaN/NaT). Column label `j` is the spreadsheet column `j` (A = 0), row
  position `i` is spreadsheet row `first_row + i`.
- CSV cells are all `str`, `""` for an empty cell; column label `j` is the
  j-th field; `first_row` is 1.

How xlsx/xlsm are read fast (500k rows in about the time of fastexcel alone):
fastexcel (calamine + arrow) types a whole column, so a column holding a
header text above numbers would come back as text. We first stream the first
PEEK_ROWS non-empty rows of the sheet XML (cheap: stops early, reads shared
strings only as far as those rows need) to learn what each column holds, then
ask fastexcel for one type per column (`_Peek.dtypes`) and take every cell that
does not fit it (titles, headers, dates or "1.234,50" in a number column,
"#N/A") from fastexcel's coercion errors, which carry the original cell. A
quick check that fastexcel's first rows have values exactly where the stream
saw them guards the row/column alignment; on any disagreement the sheet is
read cell by cell with python-calamine instead.

What can still change a cell (all rare, all visible in the value):
- a number, date or bool in a column read as text (text-like first rows, or a
  column whose first values appear after the peeked rows) arrives as
  fastexcel's text for it: `18`, `12.5`, `2024-03-05 00:00:00`, `true`;
- text that looks like a number ("00017") in a column read as numbers because
  its first PEEK_ROWS rows held only real numbers arrives as a float (17.0);
- a bool in a number column arrives as 1.0/0.0, a number in a bool column as
  True/False.
xls, ods and xlsb go through python-calamine cell by cell (such files are
small in practice); python-calamine gives error cells (#DIV/0!) as empty there.

Number/date columns that needed patching are object columns; their typed form
rides along in `cells.attrs["linewise_typed"]` (shared, not copied) so that
billing.tabular can hand out float64/datetime64 data without re-inferring.
"""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import posixpath
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd

from billing.model import RawSheet, RawWorkbook

MB = 2**20
DEFAULT_MAX_BYTES = 200 * MB
PEEK_ROWS = 200  # non-empty rows streamed from each xlsx sheet to learn column types
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".xlsb")

__all__ = ["SourceError", "read_source", "read_csv_files", "DEFAULT_MAX_BYTES"]


class SourceError(Exception):
    """A source that cannot be read; `message` is plain text for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --------------------------------------------------------------------------- entry points


def read_source(source: str | Path | bytes, name: str | None = None, *,
                max_bytes: int = DEFAULT_MAX_BYTES) -> RawWorkbook:
    """Read a workbook (xlsx, xlsm, xls, ods), a CSV, a folder of CSVs or uploaded bytes.

    `name` is how the source is called in messages and in `RawWorkbook.source`
    (for bytes: the uploaded file name, whose extension also helps tell a CSV
    from a TSV; the CSV's sheet name is its stem). Raises `SourceError` with a
    plain message for anything that cannot be read.
    """
    try:
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
            display = name or "uploaded file"
            _check_size(len(data), display, max_bytes)
            return _read_blob(data, display, sheet_stem=Path(name).stem if name else "data")
        path = Path(source)
        display = name or path.name or str(path)
        if path.is_dir():
            return _read_folder(path, display, max_bytes)
        if not path.exists():
            raise SourceError(f"'{display}' was not found.")
        if not path.is_file():
            raise SourceError(f"'{display}' is not a file or a folder of CSV files.")
        _check_size(path.stat().st_size, display, max_bytes)
        return _read_blob(path, display, sheet_stem=Path(name).stem if name else path.stem)
    except SourceError:
        raise
    except MemoryError:
        raise SourceError(f"'{name or source}' is too large to read in memory.") from None
    except Exception as exc:  # a library failing on a file we did not foresee
        raise SourceError(f"'{name or _short(source)}' could not be read: {_plain(exc)}") from exc


def read_csv_files(files: list[tuple[str, bytes]], *,
                   max_bytes: int = DEFAULT_MAX_BYTES) -> RawWorkbook:
    """Several uploaded CSV files at once, one sheet per file (sheet name = file stem)."""
    if not files:
        raise SourceError("No CSV files were given.")
    _check_size(sum(len(b) for _, b in files), "the CSV files", max_bytes)
    sheets: list[RawSheet] = []
    used: set[str] = set()
    for fname, data in files:
        try:
            data = bytes(data)
            if not data:
                raise SourceError(f"'{fname}' is empty (0 bytes).")
            kind = _sniff_bytes(data, fname)
            if kind != "csv":
                raise SourceError(f"'{fname}' is not a CSV file; upload a workbook on its own.")
            sheet = _csv_sheet(data, _unique(Path(fname).stem or "data", used), fname)
        except SourceError:
            raise
        except Exception as exc:
            raise SourceError(f"'{fname}' could not be read: {_plain(exc)}") from exc
        sheets.append(sheet)
    source = ", ".join(f for f, _ in files)
    return RawWorkbook(source=source, sheets=sheets)


# --------------------------------------------------------------------------- dispatch


def _read_blob(src: Path | bytes, display: str, sheet_stem: str) -> RawWorkbook:
    if isinstance(src, Path):
        with open(src, "rb") as fh:
            head = fh.read(8)
        if not head:
            raise SourceError(f"'{display}' is empty (0 bytes).")
    else:
        head = src[:8]
        if not src:
            raise SourceError(f"'{display}' is empty (0 bytes).")

    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _read_zip(src, display)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        data = src.read_bytes() if isinstance(src, Path) else src
        if _ole_is_encrypted_ooxml(data):
            raise _password(display)
        return _read_calamine(src, display, "xls")
    data = src.read_bytes() if isinstance(src, Path) else src
    kind = _sniff_bytes(data, display)
    if kind == "csv" and Path(display).suffix.lower() in WORKBOOK_SUFFIXES:
        raise SourceError(f"'{display}' is not an Excel workbook (it holds plain text): if it is a "
                          "CSV export, rename it to .csv; otherwise open it in Excel and save it "
                          "as .xlsx.")
    if kind == "csv":
        return RawWorkbook(source=display, sheets=[_csv_sheet(data, sheet_stem or "data", display)])
    raise AssertionError(kind)  # _sniff_bytes raises for everything else


def _sniff_bytes(data: bytes, display: str) -> str:
    """'csv' for text; raises SourceError naming what the bytes are otherwise."""
    head = data[:8]
    ext = Path(display).suffix.lower()
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\xd0\xcf\x11\xe0"):
        return "workbook"
    if head.startswith(b"%PDF"):
        raise SourceError(f"'{display}' is a PDF document, not a spreadsheet or CSV file.")
    sample = data[:4096]
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _looks_utf16(sample):
        return "csv"
    if b"\x00" in sample:
        if ext in WORKBOOK_SUFFIXES:
            raise _corrupt(display)
        raise _unknown(display)
    low = sample.lstrip(codecs.BOM_UTF8).lstrip().lower()
    if low.startswith((b"<!doctype html", b"<html", b"<table")) or (low.startswith(b"<") and b"<html" in low):
        raise SourceError(f"'{display}' is a web page (HTML), not a spreadsheet: open it in Excel "
                          "and save it as .xlsx, or export it as CSV.")
    if low.startswith(b"<?xml"):
        raise SourceError(f"'{display}' is an XML file, not a workbook Linewise can read: open it "
                          "in Excel and save it as .xlsx.")
    return "csv"


def _read_zip(src: Path | bytes, display: str) -> RawWorkbook:
    try:
        zf = zipfile.ZipFile(src if isinstance(src, Path) else io.BytesIO(src))
        names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise _corrupt(display) from None
    with zf:
        if "xl/workbook.bin" in names:
            return _read_calamine(src, display, "xlsb")
        if any(n.endswith("workbook.xml") for n in names) and any(n.startswith("xl/") for n in names):
            return _read_xlsx(src, zf, display)
        if "content.xml" in names:
            manifest = zf.read("META-INF/manifest.xml") if "META-INF/manifest.xml" in names else b""
            if b"encryption-data" in manifest:
                raise _password(display)
            mimetype = zf.read("mimetype") if "mimetype" in names else b""
            if b"spreadsheet" in mimetype or not mimetype:
                return _read_calamine(src, display, "ods")
            raise SourceError(f"'{display}' is an OpenDocument file but not a spreadsheet "
                              "(a text document or presentation?).")
    if any(n.startswith("word/") for n in names):
        raise SourceError(f"'{display}' is a Word document, not a spreadsheet.")
    raise SourceError(f"'{display}' is a zip archive but not an Excel or OpenDocument workbook.")


def _read_folder(path: Path, display: str, max_bytes: int) -> RawWorkbook:
    files = sorted(p for p in path.iterdir()
                   if p.is_file() and not p.name.startswith((".", "~$"))
                   and p.suffix.lower() in CSV_SUFFIXES)
    if not files:
        raise SourceError(f"Folder '{display}' has no CSV files (one .csv file per table was expected).")
    _check_size(sum(p.stat().st_size for p in files), f"the CSV files in '{display}'", max_bytes)
    wb = read_csv_files([(p.name, p.read_bytes()) for p in files], max_bytes=max_bytes)
    return RawWorkbook(source=display, sheets=wb.sheets)


# --------------------------------------------------------------------------- errors


def _check_size(size: int, display: str, max_bytes: int) -> None:
    if size > max_bytes:
        raise SourceError(f"'{display}' is {_mb(size)}, larger than the {_mb(max_bytes)} limit; "
                          "split it or remove old rows.")


def _mb(n: int) -> str:
    return f"{n / MB:.0f} MB" if n >= MB else f"{n} bytes"


def _ext_word(display: str) -> str:
    ext = Path(display).suffix.lower()
    return ext if ext in WORKBOOK_SUFFIXES else ".xlsx"


def _corrupt(display: str) -> SourceError:
    return SourceError(f"'{display}' could not be read as an Excel workbook: the file is damaged "
                       f"or not really {_ext_word(display)}.")


def _password(display: str) -> SourceError:
    return SourceError(f"'{display}' is password-protected: open it in Excel, remove the password "
                       "(File > Info > Protect Workbook) and save it again.")


def _unknown(display: str) -> SourceError:
    return SourceError(f"'{display}' is not a format Linewise reads: use .xlsx, .xlsm, .xls, .ods "
                       "or .csv.")


def _short(source: object) -> str:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "uploaded file"
    return Path(str(source)).name


def _plain(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def _ole_is_encrypted_ooxml(data: bytes) -> bool:
    """An encrypted xlsx is an OLE2 container holding EncryptedPackage/EncryptionInfo streams."""
    return ("EncryptedPackage".encode("utf-16-le") in data[:1 << 20]
            or "EncryptionInfo".encode("utf-16-le") in data[:1 << 20]
            or "EncryptedPackage".encode("utf-16-le") in data[-(1 << 16):])


def _unique(name: str, used: set[str]) -> str:
    out, k = name, 2
    while out in used:
        out, k = f"{name} ({k})", k + 1
    used.add(out)
    return out


# --------------------------------------------------------------------------- xlsx via fastexcel


def _read_xlsx(src: Path | bytes, zf: zipfile.ZipFile, display: str) -> RawWorkbook:
    import fastexcel

    if "EncryptedPackage" in zf.namelist():
        raise _password(display)
    try:
        peeker: _XlsxPeek | None = _XlsxPeek(zf)
    except Exception:
        peeker = None
    try:
        reader = fastexcel.read_excel(str(src) if isinstance(src, Path) else src)
        names = list(reader.sheet_names)
    except Exception as exc:
        if "password" in str(exc).lower() or "encrypt" in str(exc).lower():
            raise _password(display) from None
        raise _corrupt(display) from None

    sheets: list[RawSheet] = []
    for idx, sname in enumerate(names):
        if peeker is not None and sname in peeker.chartsheets:
            continue  # a chart, no cells
        sheet = None
        peek = None
        if peeker is not None:
            try:
                peek = peeker.peek(sname)
            except Exception:
                peek = None
        if peek is not None:
            try:
                sheet = _fast_sheet(reader, idx, sname, peek)
            except Exception:
                sheet = None
        if sheet is None:  # the quick look and fastexcel disagree: read it cell by cell
            try:
                sheet = _calamine_one_sheet(src, sname, display)
            except SourceError:
                raise
            except Exception:
                raise _corrupt(display) from None
        if sheet is not None:
            sheets.append(sheet)
    return RawWorkbook(source=display, sheets=sheets)


def _fast_sheet(reader: Any, idx: int, name: str, peek: "_Peek") -> RawSheet | None:
    import pyarrow as pa

    dtypes = peek.dtypes()
    sheet = reader.load_sheet(idx, header_row=None, dtypes=dtypes or None, dtype_coercion="coerce")
    hidden = str(sheet.visible).lower() != "visible"
    if sheet.height == 0 or sheet.width == 0:
        if peek.rows:
            return None
        return RawSheet(name=name, cells=pd.DataFrame(), first_row=1, hidden=hidden)
    if not peek.rows:
        return None
    batch, errs = sheet.to_arrow_with_errors()
    cols_info = sheet.selected_columns
    fixes: dict[int, list[tuple[int, Any]]] = {}
    if errs is not None:
        for err in errs.errors:
            r, c = err.position
            fixes.setdefault(c, []).append((r, _cell_from_detail(err.detail)))

    n = batch.num_rows
    typed: dict[int, tuple[pd.Series, np.ndarray]] = {}
    first_abs_col = cols_info[0].absolute_index
    columns: dict[int, Any] = {}
    for j in range(first_abs_col):
        columns[j] = np.full(n, None, dtype=object)
    for j, info in enumerate(cols_info):
        columns[info.absolute_index] = _column(batch.column(j), fixes.get(j), pa, typed,
                                               info.absolute_index)

    if not _agrees(peek, columns, n):
        return None
    cells = pd.DataFrame(columns, copy=False)
    # Optional hint for billing.tabular: the typed form of number/date columns that
    # hold a few other cells (header, title, totals label) and the rows of those
    # cells, so a data slice free of them need not be re-inferred from objects.
    cells.attrs[TYPED_HINT] = _SharedHint(typed)
    return RawSheet(name=name, cells=cells, first_row=peek.rows[0][0] + 1, hidden=hidden)


TYPED_HINT = "linewise_typed"  # RawSheet.cells.attrs key, see _fast_sheet


class _SharedHint(dict):
    """pandas deep-copies `attrs` on most operations; this read-only hint is shared instead."""

    def __deepcopy__(self, memo: dict) -> "_SharedHint":
        return self

    def __copy__(self) -> "_SharedHint":
        return self


def _column(arr: Any, fixes: list[tuple[int, Any]] | None, pa: Any,
            typed: dict[int, tuple[pd.Series, np.ndarray]], label: int) -> Any:
    """One arrow column as a pandas-ready array; coercion errors patched back in.

    A number or date column that needed patching (a header above the numbers)
    becomes object; its typed form and the patched rows go to `typed[label]`.
    """
    typ = arr.type
    if pa.types.is_date(typ):
        arr = arr.cast(pa.timestamp("ms"))
        typ = arr.type
    if pa.types.is_null(typ):
        out = np.full(len(arr), None, dtype=object)
    elif pa.types.is_timestamp(typ) or pa.types.is_floating(typ) or pa.types.is_integer(typ):
        series = arr.to_pandas()
        if not fixes:
            return series
        if pa.types.is_timestamp(typ):
            out = arr.to_numpy(zero_copy_only=False).astype("datetime64[us]").astype(object)
        else:
            out = arr.to_numpy(zero_copy_only=False).astype(object)
        typed[label] = (series, np.unique(np.fromiter((r for r, _ in fixes), dtype=np.int64)))
    elif pa.types.is_string(typ) or pa.types.is_large_string(typ):
        if not fixes:
            return arr.to_pandas()
        out = arr.to_numpy(zero_copy_only=False).astype(object)
    else:  # bool, duration, anything else
        out = arr.to_numpy(zero_copy_only=False).astype(object)
    if fixes:
        rows = np.fromiter((r for r, _ in fixes), dtype=np.int64, count=len(fixes))
        vals = np.empty(len(fixes), dtype=object)
        vals[:] = [v for _, v in fixes]
        out[rows] = vals
    return out


def _agrees(peek: "_Peek", columns: dict[int, Any], n: int) -> bool:
    """Do fastexcel's first rows have values exactly where the streamed peek saw them?"""
    first = peek.rows[0][0]
    last = peek.rows[-1][0]
    span = last - first + 1
    if span > n:
        return False
    expected = np.zeros((span, len(columns)), dtype=bool)
    keys = list(columns)
    pos = {k: i for i, k in enumerate(keys)}
    for r, cells in peek.rows:
        for c in cells:
            if c not in pos:
                return False
            expected[r - first, pos[c]] = True
    for k, col in columns.items():
        head = col[:span] if isinstance(col, np.ndarray) else col.iloc[:span].to_numpy(dtype=object)
        got = ~pd.isna(np.asarray(head, dtype=object))
        if not np.array_equal(got, expected[:, pos[k]]):
            return False
    return True


_DETAIL_PREFIX = "but got '"
_ESCAPE = re.compile(r"\\(u\{([0-9a-fA-F]{1,6})\}|.)", re.S)
_SIMPLE_ESC = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'"}
_XL_ERRORS = {"Div0": "#DIV/0!", "NA": "#N/A", "Name": "#NAME?", "Null": "#NULL!", "Num": "#NUM!",
              "Ref": "#REF!", "Value": "#VALUE!", "GettingData": "#GETTING_DATA"}


def _unescape(s: str) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(2):
            return chr(int(m.group(2), 16))
        return _SIMPLE_ESC.get(m.group(1), m.group(1))
    return _ESCAPE.sub(sub, s)


def _cell_from_detail(detail: str) -> Any:
    """The original cell from a fastexcel coercion error (the Rust debug form of calamine's Data)."""
    i = detail.find(_DETAIL_PREFIX)
    body = detail[i + len(_DETAIL_PREFIX):] if i >= 0 else detail
    if len(body) >= 2 and body[-1] == "'" and body[-2] == ")":
        body = body[:-1]
    if body.startswith('String("') and body.endswith('")'):
        return _unescape(body[8:-2])
    if body.startswith("DateTime(ExcelDateTime"):
        m = re.search(r"value: ([-0-9.eE+]+), datetime_type: (\w+), is_1904: (\w+)", body)
        if m:
            return _excel_serial(float(m.group(1)), m.group(2), m.group(3) == "true")
    if body.startswith('DateTimeIso("') and body.endswith('")'):
        try:
            return pd.Timestamp(body[13:-2]).to_pydatetime()
        except ValueError:
            return body[13:-2]
    if body.startswith('DurationIso("') and body.endswith('")'):
        return body[13:-2]
    if body.startswith("Float(") and body.endswith(")"):
        return float(body[6:-1])
    if body.startswith("Int(") and body.endswith(")"):
        return int(body[4:-1])
    if body.startswith("Bool(") and body.endswith(")"):
        return body[5:-1] == "true"
    if body.startswith("Error(") and body.endswith(")"):
        code = body[6:-1]
        return _XL_ERRORS.get(code, f"#{code.upper()}")
    return body


def _excel_serial(value: float, kind: str, is_1904: bool) -> Any:
    ms = round(value * 86_400_000)
    if kind == "TimeDelta":
        return pd.Timedelta(milliseconds=ms)
    if is_1904:
        base = dt.datetime(1904, 1, 1)
    elif value >= 61 or value < 1:
        base = dt.datetime(1899, 12, 30)
    else:  # Excel's 1900 leap-year bug: serials 1..60 are one day off
        base = dt.datetime(1899, 12, 31)
        ms -= 86_400_000
    try:
        return base + dt.timedelta(milliseconds=ms)
    except OverflowError:
        return value


# ----- streaming look at the first rows of an xlsx sheet


# A text cell that fastexcel parses into a float silently when the column is read
# as numbers (Rust's f64 grammar): "00017" would become 17, "12" would stop being text.
_FLOATY = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|infinity|nan)", re.I)


def _parses_as_float(text: str) -> bool:
    return _FLOATY.fullmatch(text) is not None


@dataclass
class _Peek:
    """The first non-empty rows of a sheet: (0-based row, {0-based column: (type, text)}).

    type is "n" (number), "d" (date), "b" (bool), "s" (text, error);
    text is the cell's text for "s" cells when known.
    """

    rows: list[tuple[int, dict[int, tuple[str, str | None]]]]

    def dtypes(self) -> dict[int, str]:
        """fastexcel dtype per absolute column, from the cells seen in the first rows.

        Every cell that does not fit the asked type comes back exactly through
        fastexcel's coercion errors (about 2 µs a cell), with two exceptions
        that decide the rules: a text cell that looks like a number is parsed
        into a float silently ("00017" would become 17), and a number in a
        "datetime" column becomes a date silently. So:
        - any text that parses as a number ("00017", "12", "1e5") -> "string";
        - text outnumbering numbers and dates four to one -> "string" (a few
          numbers in a text column arrive as text: "18", "12.5");
        - booleans, no numbers or dates, at least as many as texts -> "boolean";
        - dates and no plain numbers -> "datetime";
        - otherwise numbers or dates -> "float" (dates, titles, headers, "1.234,50"
          come back exactly as errors).
        """
        counts: dict[int, list[int]] = {}
        floaty: set[int] = set()
        for _, cells in self.rows:
            for c, (t, text) in cells.items():
                k = counts.setdefault(c, [0, 0, 0, 0])
                k["ndsb".index(t)] += 1
                if t == "s" and text is not None and _parses_as_float(text):
                    floaty.add(c)
        out: dict[int, str] = {}
        for c, (num, date, text, flags) in counts.items():
            if flags and not (num or date) and flags >= text:
                out[c] = "boolean"
            elif c in floaty or text + flags > 4 * (num + date) or not (num or date):
                out[c] = "string"
            elif date and not num:
                out[c] = "datetime"
            else:
                out[c] = "float"
        return out


_BUILTIN_DATE_FORMATS = set(range(14, 23)) | set(range(27, 37)) | set(range(45, 48)) \
    | set(range(50, 59)) | set(range(71, 82))
_FMT_STRIP = re.compile(r'"[^"]*"|\\.|_.|\*.|\[(?!h\]|hh\]|m\]|mm\]|s\]|ss\])[^\]]*\]', re.I)
_CELL_REF = re.compile(r"([A-Za-z]+)")


def _is_date_format(code: str) -> bool:
    first = _FMT_STRIP.sub("", code.split(";")[0]).lower()
    if first in ("general", "@", ""):
        return False
    return any(ch in first for ch in "ymdhs")


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _col_index(ref: str) -> int:
    m = _CELL_REF.match(ref)
    n = 0
    for ch in m.group(1).upper() if m else "A":
        n = n * 26 + (ord(ch) - 64)
    return n - 1


class _XlsxPeek:
    """Sheet paths and date styles of an xlsx, and a streaming look at a sheet's first rows."""

    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        names = set(zf.namelist())
        wb_path = "xl/workbook.xml"
        if "_rels/.rels" in names:
            for rel in ET.fromstring(zf.read("_rels/.rels")):
                if rel.get("Type", "").endswith("/officeDocument"):
                    wb_path = rel.get("Target", wb_path).lstrip("/")
        base = posixpath.dirname(wb_path)
        rels_path = posixpath.join(base, "_rels", posixpath.basename(wb_path) + ".rels")
        targets: dict[str, str] = {}
        charts: set[str] = set()
        if rels_path in names:
            for rel in ET.fromstring(zf.read(rels_path)):
                t = rel.get("Target", "")
                full = t.lstrip("/") if t.startswith("/") else posixpath.normpath(posixpath.join(base, t))
                targets[rel.get("Id", "")] = full
                if rel.get("Type", "").endswith("/chartsheet"):
                    charts.add(rel.get("Id", ""))
        self.chartsheets: set[str] = set()
        self.paths: dict[str, str] = {}
        for el in ET.fromstring(zf.read(wb_path)).iter():
            if _local(el.tag) == "sheet":
                rid = next((v for k, v in el.attrib.items() if _local(k) == "id"), None)
                if rid in targets:
                    self.paths[el.get("name", "")] = targets[rid]
                if rid in charts:
                    self.chartsheets.add(el.get("name", ""))
        self.sst_path = next((p for rid, p in targets.items() if p.endswith("sharedStrings.xml")),
                             posixpath.join(base, "sharedStrings.xml"))
        self._sst: list[str] = []
        self._sst_done = self.sst_path not in names
        self.date_styles: set[int] = set()
        styles = posixpath.join(base, "styles.xml")
        if styles in names:
            root = ET.fromstring(zf.read(styles))
            custom = {}
            for el in root.iter():
                if _local(el.tag) == "numFmt":
                    custom[int(el.get("numFmtId", "0"))] = el.get("formatCode", "")
            for el in root:
                if _local(el.tag) == "cellXfs":
                    for i, xf in enumerate(x for x in el if _local(x.tag) == "xf"):
                        fid = int(xf.get("numFmtId", "0"))
                        if (fid in custom and _is_date_format(custom[fid])) or \
                                (fid not in custom and fid in _BUILTIN_DATE_FORMATS):
                            self.date_styles.add(i)

    def peek(self, sheet: str, n_rows: int = PEEK_ROWS) -> _Peek | None:
        path = self.paths.get(sheet)
        if path is None or path not in self.zf.namelist():
            return None
        rows: list[tuple[int, dict[int, tuple[str, str | None]]]] = []
        row_idx = -1
        want = 0
        with self.zf.open(path) as fh:
            for _, el in ET.iterparse(fh, events=("end",)):
                tag = _local(el.tag)
                if tag == "row":
                    r = el.get("r")
                    row_idx = int(r) - 1 if r else row_idx + 1
                    cells: dict[int, tuple[str, str | None]] = {}
                    col = -1
                    for c in el:
                        if _local(c.tag) != "c":
                            continue
                        ref = c.get("r")
                        col = _col_index(ref) if ref else col + 1
                        cell = self._cell(c)
                        if cell is not None:
                            cells[col] = cell
                            if cell[0] == "#":
                                want = max(want, int(cell[1]) + 1)
                    el.clear()
                    if cells:
                        rows.append((row_idx, cells))
                        if len(rows) >= n_rows:
                            break
                elif tag == "sheetData":
                    break
        self._load_sst(want)
        sst = self._sst
        for _, cells in rows:
            for col, (t, v) in cells.items():
                if t == "#":
                    i = int(v)
                    cells[col] = ("s", sst[i] if i < len(sst) else None)
        return _Peek(rows)

    def _cell(self, c: ET.Element) -> tuple[str, str | None] | None:
        """(type, text) of a cell with a value; type "#" carries a shared-string index."""
        v = None
        inline = None
        for child in c:
            t = _local(child.tag)
            if t == "v":
                v = child.text
            elif t == "is":
                inline = "".join(x.text or "" for x in child.iter() if _local(x.tag) == "t")
        t = c.get("t", "n")
        if inline is not None:
            return ("s", inline)
        if v is None:
            return None
        if t == "n":
            return ("d" if int(c.get("s", "0")) in self.date_styles else "n", None)
        if t == "d":
            return ("d", None)
        if t == "s":
            return ("#", v) if v.strip().isdigit() else ("s", None)
        if t == "str":
            return ("s", v)
        if t == "b":
            return ("b", None)
        return ("s", None)  # e (#N/A...): text-like for typing purposes

    def _load_sst(self, want: int) -> None:
        """Stream shared strings until index want-1 is known (Excel orders them by first use)."""
        if self._sst_done or len(self._sst) >= want:
            return
        sst = self._sst
        sst.clear()
        with self.zf.open(self.sst_path) as fh:
            for _, el in ET.iterparse(fh, events=("end",)):
                if _local(el.tag) != "si":
                    continue
                parts = []
                for x in el.iter():
                    tag = _local(x.tag)
                    if tag == "rPh":
                        break  # phonetic runs come after the text
                    if tag == "t" and x.text:
                        parts.append(x.text)
                sst.append("".join(parts))
                el.clear()
                if len(sst) >= want:
                    return
        self._sst_done = True


# --------------------------------------------------------------------------- xls / ods / xlsb


def _calamine_book(src: Path | bytes) -> Any:
    import python_calamine as pc

    if isinstance(src, Path):
        return pc.CalamineWorkbook.from_path(str(src))
    return pc.CalamineWorkbook.from_filelike(io.BytesIO(src))


def _read_calamine(src: Path | bytes, display: str, kind: str) -> RawWorkbook:
    import python_calamine as pc

    try:
        book = _calamine_book(src)
        metas = list(book.sheets_metadata)
    except pc.PasswordError:
        raise _password(display) from None
    except Exception as exc:
        if "password" in str(exc).lower() or "encrypt" in str(exc).lower():
            raise _password(display) from None
        raise _corrupt(display) from None
    sheets = []
    errors = _ods_error_cells(src) if kind == "ods" else {}
    for meta in metas:
        if _not_worksheet(meta):
            continue  # chart sheets, macro sheets: no cells
        try:
            sheets.append(_calamine_sheet(book, meta.name, _is_hidden(meta), errors.get(meta.name)))
        except pc.PasswordError:
            raise _password(display) from None
        except Exception:
            raise _corrupt(display) from None
    return RawWorkbook(source=display, sheets=sheets)


def _calamine_one_sheet(src: Path | bytes, name: str, display: str) -> RawSheet | None:
    book = _calamine_book(src)
    for meta in book.sheets_metadata:
        if meta.name == name:
            if _not_worksheet(meta):
                return None
            return _calamine_sheet(book, name, _is_hidden(meta))
    return None


def _is_hidden(meta: Any) -> bool:
    return str(meta.visible).rpartition(".")[2].lower() != "visible"


def _not_worksheet(meta: Any) -> bool:
    return str(meta.typ).rpartition(".")[2].lower() != "worksheet"


def _fix_cell(v: Any) -> Any:
    if isinstance(v, str):
        return None if v == "" else v
    if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
        return dt.datetime(v.year, v.month, v.day)
    return v


_fix_cells = np.frompyfunc(_fix_cell, 1, 1)


def _calamine_sheet(book: Any, name: str, hidden: bool,
                    errors: list[tuple[int, int, str]] | None = None) -> RawSheet:
    sh = book.get_sheet_by_name(name)
    rows = sh.to_python(skip_empty_area=True)
    start = sh.start
    if not rows or start is None:
        return RawSheet(name=name, cells=pd.DataFrame(), first_row=1, hidden=hidden)
    r0, c0 = start
    width = max(len(r) for r in rows)
    arr = np.empty((len(rows), width), dtype=object)
    for i, r in enumerate(rows):
        arr[i, :len(r)] = r
    arr = _fix_cells(arr)
    if c0:
        arr = np.hstack([np.full((len(rows), c0), None, dtype=object), arr])
    for r, c, text in errors or ():  # calamine reads an ODS error cell as its cached 0 (or blank)
        if 0 <= r - r0 < arr.shape[0] and 0 <= c < arr.shape[1]:
            arr[r - r0, c] = text
    cells = pd.DataFrame(arr, columns=range(arr.shape[1]), dtype=object)
    return RawSheet(name=name, cells=cells, first_row=r0 + 1, hidden=hidden)


_ODS_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_ODS_TEXT_P = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}p"
_CALCEXT_TYPE = "{urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0}value-type"
ODS_MAX_REPEAT = 1 << 20  # a repeat count beyond a sheet's size is an empty filler, not cells
ODS_MAX_ERRORS = 1 << 20  # error cells patched per sheet at most


def _ods_error_cells(src: Path | bytes) -> dict[str, list[tuple[int, int, str]]]:
    """{sheet: [(row, column, shown text)]} of the formula error cells LibreOffice wrote
    (`calcext:value-type="error"`), 0-based; python-calamine reads them as their cached value."""
    with zipfile.ZipFile(src if isinstance(src, Path) else io.BytesIO(src)) as zf:
        content = zf.read("content.xml")
    if b'value-type="error"' not in content:
        return {}
    out: dict[str, list[tuple[int, int, str]]] = {}
    sheet, row = None, 0
    for event, el in ET.iterparse(io.BytesIO(content), events=("start", "end")):
        if el.tag == _ODS_TABLE + "table":
            if event == "start":
                sheet, row = el.get(_ODS_TABLE + "name", ""), 0
            continue
        if event != "end" or el.tag != _ODS_TABLE + "table-row" or sheet is None:
            continue
        repeat = min(int(el.get(_ODS_TABLE + "number-rows-repeated", "1")), ODS_MAX_REPEAT)
        col = 0
        for cell in el:
            if cell.tag not in (_ODS_TABLE + "table-cell", _ODS_TABLE + "covered-table-cell"):
                continue
            span = min(int(cell.get(_ODS_TABLE + "number-columns-repeated", "1")), ODS_MAX_REPEAT)
            if cell.get(_CALCEXT_TYPE) == "error":
                text = "".join(p.text or "" for p in cell.iter(_ODS_TEXT_P)).strip() or "#ERROR"
                found = out.setdefault(sheet, [])
                if len(found) + repeat * span <= ODS_MAX_ERRORS:  # a repeated filler is no data
                    found.extend((row + i, col + j, text) for i in range(repeat) for j in range(span))
            col += span
        row += repeat
        el.clear()
    return out


# --------------------------------------------------------------------------- CSV


def _looks_utf16(sample: bytes) -> bool:
    """UTF-16 text without a BOM: one byte of each pair almost always zero, the other almost never."""
    if len(sample) < 8:
        return False
    even, odd = sample[0::2], sample[1::2]
    ez, oz = even.count(0) / len(even), odd.count(0) / len(odd)
    return (oz > 0.7 and ez < 0.05) or (ez > 0.7 and oz < 0.05)


_GB_RUN = re.compile(rb"[\x80-\xff]+")
# A multi-byte UTF-8 character (2-4 bytes): a file holding these is UTF-8 text.
_UTF8_SEQ = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
BAD_LINES_ATTR = "linewise_notes"  # RawSheet.cells.attrs key: [(row, text)], billing.tabular.SHEET_NOTES


class _Decoded(str):
    """Decoded text that remembers the lines that were not valid UTF-8 (1-based)."""

    bad_lines: tuple[int, ...] = ()


def _decode_lines(data: bytes) -> str | None:
    """UTF-8 line by line; a line that is not UTF-8 is read as Windows-1250/1252 (the legacy
    encoding its bytes point to) and remembered, so the sheet can say which lines to check.
    None unless most lines with non-ASCII bytes are UTF-8 (a GBK or cp1252 file is not)."""
    out, bad, good_high = [], [], 0
    for i, line in enumerate(data.split(b"\n"), start=1):
        try:
            out.append(line.decode("utf-8"))
            good_high += not line.isascii()
        except UnicodeDecodeError:
            hu = any(b in line for b in (b"\xf5", b"\xfb", b"\xd5", b"\xdb"))
            out.append(line.decode("cp1250" if hu else "cp1252", errors="replace"))
            bad.append(i)
    if good_high < len(bad):
        return None
    text = _Decoded("\n".join(out))
    text.bad_lines = tuple(bad)
    return text


def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-8 (BOM or not), UTF-16 (BOM or not), GB18030/GBK, cp1250 or cp1252."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace"), "utf-16"
    if _looks_utf16(data[:4096]):
        le = data[1:4096:2].count(0) > data[0:4096:2].count(0)
        enc = "utf-16-le" if le else "utf-16-be"
        return data.decode(enc, errors="replace"), enc
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    mixed = _decode_lines(data) if _UTF8_SEQ.search(data[: 1 << 20]) else None
    if mixed is not None:  # UTF-8 text with a few lines in another encoding
        return mixed, "utf-8+lines"
    runs = _GB_RUN.findall(data[: 1 << 20])
    if runs:
        even = sum(1 for r in runs if len(r) % 2 == 0)
        if even >= 0.8 * len(runs):
            try:
                return data.decode("gb18030"), "gb18030"
            except UnicodeDecodeError:
                pass
    # Hungarian ő/ű/Ő/Ű exist only in cp1250 (0xF5/0xFB/0xD5/0xDB are õ/û/Õ/Û in cp1252);
    # ã/Ã (0xE3/0xC3) point to Portuguese in cp1252 instead.
    hu = any(b in data for b in (b"\xf5", b"\xfb", b"\xd5", b"\xdb"))
    pt = any(b in data for b in (b"\xe3", b"\xc3"))
    enc = "cp1250" if hu and not pt else "cp1252"
    return data.decode(enc, errors="replace"), enc


_QUOTED = re.compile(r'"[^"]*"')
_DELIMS = (",", ";", "\t", "|")


def sniff_delimiter(text: str, hint: str = "") -> str:
    """The delimiter whose per-line count is the most consistent over the first lines."""
    lines = [ln for ln in text[: 1 << 16].splitlines()[:200] if ln.strip()]
    if not lines:
        return "\t" if hint == ".tsv" else ","
    best, best_score = ("\t" if hint == ".tsv" else ","), (0, 0, 0)
    for d in _DELIMS:
        counts = [_QUOTED.sub("", ln).count(d) for ln in lines]
        nonzero = [c for c in counts if c]
        if not nonzero:
            continue
        mode = max(set(nonzero), key=lambda v: (nonzero.count(v), v))
        score = (sum(1 for c in counts if c == mode), mode, d == best)
        if score[:2] > best_score[:2]:
            best, best_score = d, score
    return best


def _csv_sheet(data: bytes, sheet_name: str, display: str) -> RawSheet:
    text, _enc = decode_text(data)
    bad_lines = getattr(text, "bad_lines", ())
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text or text.isspace():  # (not a stripped copy of a 100 MB text)
        return RawSheet(name=sheet_name, cells=pd.DataFrame(), first_row=1)
    delim = sniff_delimiter(text, Path(display).suffix.lower())
    # A field may be as long as the text (connectors.guard bounds the line length of
    # untrusted files); an over-long cell is quarantined by ingest, not a refused file.
    csv.field_size_limit(max(csv.field_size_limit(), min(len(text) + 1, 2**31 - 1)))
    sample = text[: 1 << 20].splitlines()[:2000]
    width = max((len(r) for r in csv.reader(sample, delimiter=delim)), default=1) or 1
    cells = _arrow_csv(data if _enc == "utf-8" else text.encode("utf-8"), delim, width)
    if cells is not None:
        return _with_line_notes(RawSheet(name=sheet_name, cells=cells, first_row=1), bad_lines)
    try:
        cells = pd.read_csv(io.StringIO(text), sep=delim, header=None, names=list(range(width)),
                            dtype=str, keep_default_na=False, na_filter=False,
                            skip_blank_lines=False, engine="c", index_col=False)
    except (pd.errors.ParserError, ValueError):
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delim))
        width = max((len(r) for r in rows), default=1) or 1
        cells = pd.DataFrame([r + [""] * (width - len(r)) for r in rows], columns=range(width),
                             dtype=object)
    # A final line break is not a row; the C parser already ignores it.
    cells = cells.fillna("")
    return _with_line_notes(RawSheet(name=sheet_name, cells=cells, first_row=1), bad_lines)


def _with_line_notes(sheet: RawSheet, bad_lines: tuple[int, ...]) -> RawSheet:
    """Attach the "not UTF-8" lines as notes (file lines; equal to rows unless a quoted cell
    spans lines)."""
    if bad_lines:
        sheet.cells.attrs[BAD_LINES_ATTR] = [
            (n, f"line {n} is not valid UTF-8 (the rest of the file is): read in the Windows code "
                "page its bytes point to; check its accented letters, or save the file as UTF-8")
            for n in bad_lines]
    return sheet


def _arrow_csv(data: bytes, delim: str, width: int) -> pd.DataFrame | None:
    """The cells as `_csv_sheet`'s pandas path gives them, read by pyarrow (multithreaded).

    `data` is the text as UTF-8 without BOM. Every row must have exactly `width`
    fields (blank lines count as one empty field each); anything pyarrow refuses
    (ragged rows, an unterminated quote) returns None so that the pandas path
    decides. Same quoting as pandas' C parser: '"' quotes, '""' inside quotes,
    no escape character, line breaks allowed inside quotes; no value is missing.
    """
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        return None
    names = [str(j) for j in range(width)]
    # A line break can only be inside a value between quotes; without any quote Arrow may cut
    # the text into blocks at line breaks and parse them in parallel.
    quoted = b'"' in data
    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=True),
            parse_options=pacsv.ParseOptions(delimiter=delim, quote_char='"', double_quote=True,
                                             escape_char=False, newlines_in_values=quoted,
                                             ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 null_values=[], strings_can_be_null=False,
                                                 quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowException, ValueError):
        return None
    if table.num_columns != width:
        return None
    cells = table.to_pandas()
    if any(not isinstance(dt, pd.StringDtype) for dt in cells.dtypes):
        return None
    cells.columns = list(range(width))
    return cells
