"""Spreadsheet writers: XLSX (xlsxwriter, constant_memory) and CSV.

Rules that hold for every export (SPEC §12):

* A *text* cell whose first character is `=`, `+`, `-`, `@`, tab or CR is
  neutralised so no spreadsheet runs it as a formula: in XLSX it is a string
  cell with the quote-prefix style (``quote_prefix``: Excel shows and keeps it
  as text, and the value a user sees and re-imports is unchanged, so a phone
  number `+36 30 555 1234` stays that); in CSV it gets a leading apostrophe
  (`'=1+1`, OWASP). Numbers are numbers: -5 stays the number -5, only the
  *text* "-5" is neutralised. Header cells are text and follow the same rule.
* Dates are real Excel dates with a date format (date-time format when a
  column has times); booleans are TRUE/FALSE; ints and floats are numbers;
  missing values (None, NaN, NaT, NA) are blank cells; nothing is hidden.
* `money_columns={sheet: {column: currency_column}}` marks columns holding
  int minor units: each cell is written as the major-unit number with a
  number format of the row's currency's decimals (2 USD/EUR/HUF/CNY, 0 JPY,
  3 BHD, from `billing.money.minor_digits`, else Babel's ISO 4217 data).

XLSX rows are streamed (`constant_memory`), so memory stays flat for a
million rows. Cell XML is built column-wise with pyarrow string kernels and
appended to the worksheet's row stream; the per-cell public API of
xlsxwriter (about 5 µs a cell) is the fallback when pyarrow is missing or
xlsxwriter's internals change, and produces the same cells. A frame longer
than a sheet holds continues on "name (2)", "name (3)", ...
"""
from __future__ import annotations

import datetime as dt
import decimal
import math
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, BinaryIO, Iterable, Mapping

import numpy as np
import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

try:  # pragma: no cover - pyarrow ships with pandas 3 here; the slow path covers its absence
    import pyarrow as pa
    import pyarrow.compute as pc
except ImportError:  # pragma: no cover
    pa = pc = None

EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_TEXT = 32_767
DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_DANGER_RE = r"^[=+\-@\t\r]"
_CHUNK = 50_000
_MAX_SAFE_INT = 2 ** 53
_EPOCH = np.datetime64("1899-12-30", "us")
_EXCEL_FIRST = np.datetime64("1900-01-01", "us")
_EXCEL_LEAP_BUG = np.datetime64("1900-03-01", "us")
_DAY_US = 86_400 * 10 ** 6
_DATE_FMT = "yyyy-mm-dd"
_DATETIME_FMT = "yyyy-mm-dd hh:mm:ss"
_RE_CTRL_ESCAPE = re.compile(r"(_x[0-9a-fA-F]{4}_)")
_RE_CTRL = re.compile(r"([\x00-\x08\x0b-\x1f])")
_RE_SPECIAL = r"[\x00-\x08\x0b-\x1f]|_x[0-9a-fA-F]{4}_"
_RE_EDGE_SPACE = r"^[\s\p{Z}\x{85}]|[\s\p{Z}\x{85}]$"
_RESERVED_SHEETS = {"history"}


# ----------------------------------------------------------------------------- neutralising

def neutralise_text(value: str) -> str:
    """`value` with a leading apostrophe when a spreadsheet could read it as a formula."""
    return "'" + value if value[:1] in DANGEROUS_PREFIXES else value


def _neutralise_any(value: Any) -> Any:
    return neutralise_text(value) if isinstance(value, str) else value


def neutralise_csv(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` whose text cells (and headers) are neutralised; numbers are untouched."""
    out = df.copy()
    for i in range(out.shape[1]):
        s = out.iloc[:, i]
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object)
        if isinstance(s.dtype, pd.StringDtype):
            hit = s.str.match(_DANGER_RE).fillna(False).astype(bool)
            if hit.any():
                s = s.where(~hit, "'" + s)
        elif s.dtype == object:
            s = s.map(_neutralise_any)
        else:
            continue
        out.isetitem(i, s)
    out.columns = [_neutralise_any(c) if isinstance(c, str) else c for c in out.columns]
    return out


# ----------------------------------------------------------------------------- money

@lru_cache(maxsize=256)
def _digits(currency: str) -> int:
    code = str(currency).strip().upper()
    if not code:
        return 2
    try:
        from billing.money import minor_digits  # the domain's own table when present
        return int(minor_digits(code))
    except Exception:  # noqa: BLE001 - module absent or currency unknown to it
        pass
    try:
        from babel.numbers import get_currency_precision
        return int(get_currency_precision(code))
    except Exception:  # noqa: BLE001
        return 2


def _digits_per_row(currencies: pd.Series) -> np.ndarray:
    ccy = currencies.astype(object).where(currencies.notna(), "")
    codes, uniques = pd.factorize(ccy.map(lambda v: str(v)), sort=False)
    table = np.array([_digits(u) for u in uniques] or [2], dtype=np.int64)
    return table[np.maximum(codes, 0)]


def money_format(digits: int) -> str:
    """Excel number format for an amount with `digits` decimals."""
    return "#,##0" + ("." + "0" * digits if digits > 0 else "")


def format_minor(minor: int, digits: int) -> str:
    """Exact decimal string of `minor` units with `digits` decimals: 123450, 2 -> "1234.50"."""
    sign = "-" if minor < 0 else ""
    q, r = divmod(abs(int(minor)), 10 ** digits)
    return f"{sign}{q}.{r:0{digits}d}" if digits else f"{sign}{q}"


# ----------------------------------------------------------------------------- column lanes

@dataclass
class _Col:
    """One column as typed lanes; a row is blank when no lane has a value for it."""

    name: str
    n: int
    num: np.ndarray | None = None          # float64; NaN = not a number cell
    num_slot: np.ndarray | int = 0          # format slot per row (or one for all)
    text: Any = None                        # pyarrow string array or list (None = no text)
    quote: Any = None                       # per text cell: needs the quote-prefix style (None = none)
    flag: np.ndarray | None = None          # int8: -1 none, 0 False, 1 True
    slot: int = 0                           # column format slot for text / bool cells
    width: float = 8.0
    kind: str = "text"
    extras: dict = field(default_factory=dict)


class _Formats:
    """Workbook formats addressed by small integer slots (0 = none)."""

    def __init__(self, wb: xlsxwriter.Workbook) -> None:
        self.wb = wb
        self.items: list[Any] = [None]
        self.by_key: dict[tuple[str, bool], int] = {}
        self.num_formats: list[str] = [""]

    def slot(self, num_format: str | None, quoted: bool = False) -> int:
        """The slot of a format with `num_format` (and the quote-prefix style when `quoted`)."""
        if not num_format and not quoted:
            return 0
        key = (num_format or "", quoted)
        if key not in self.by_key:
            props: dict[str, Any] = {"num_format": num_format} if num_format else {}
            if quoted:
                props["quote_prefix"] = True
            self.items.append(self.wb.add_format(props))
            self.num_formats.append(num_format or "")
            self.by_key[key] = len(self.items) - 1
        return self.by_key[key]

    def quoted(self, slot: int) -> int:
        """The quote-prefix twin of `slot` (a text cell that starts like a formula)."""
        return self.slot(self.num_formats[slot], quoted=True)

    def fmt(self, slot: int) -> Any:
        return self.items[slot]

    def xf_attr(self, slot: int) -> str:
        f = self.items[slot]
        return f' s="{f._get_xf_index()}"' if f is not None else ""


def _serials(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """datetime64 -> (Excel serial float, before-1900 mask, has a time of day).

    Works in microseconds so years 1-9999 fit; days before 1900-03-01 are shifted
    for Excel's phantom 1900-02-29; days before 1900 (Excel has none) are flagged.
    """
    v = values.astype("datetime64[us]")
    nat = np.isnat(v)
    us = v.view(np.int64)
    serial = (us - _EPOCH.view(np.int64)) / _DAY_US
    early = ~nat & (v < _EXCEL_LEAP_BUG)
    serial = np.where(early, serial - 1, serial)
    too_early = ~nat & (v < _EXCEL_FIRST)
    serial[nat | too_early] = np.nan
    has_time = bool(np.any((us[~nat] % _DAY_US) != 0))
    return serial, too_early, has_time


def _text_array(values: Any) -> Any:
    if pa is not None:
        arr = pa.array(values, type=pa.string(), from_pandas=True)
        return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    return [None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in values]


def _classify_objects(values: np.ndarray, col: _Col, formats: _Formats) -> None:
    """Per-value typing of a mixed object column (the only per-cell Python loop)."""
    n = len(values)
    num = np.full(n, np.nan)
    flag = np.full(n, -1, np.int8)
    text: list[Any] = [None] * n
    slot = np.zeros(n, np.int64)
    date_slot, dt_slot = formats.slot(_DATE_FMT), formats.slot(_DATETIME_FMT)
    for i, v in enumerate(values.tolist()):
        if v is None or v is pd.NA or v is pd.NaT:
            continue
        if isinstance(v, (bool, np.bool_)):
            flag[i] = int(v)
        elif isinstance(v, (int, np.integer)):
            if abs(int(v)) <= _MAX_SAFE_INT:
                num[i] = float(v)
            else:
                text[i] = str(v)
        elif isinstance(v, (float, np.floating, decimal.Decimal)):
            f = float(v)
            if math.isfinite(f):
                num[i] = f
        elif isinstance(v, (dt.datetime, np.datetime64, dt.date)):
            ts = pd.Timestamp(v)
            if ts.tzinfo is not None:
                ts = ts.tz_localize(None)
            if ts is pd.NaT:
                continue
            serial, early, has_time = _serials(np.array([ts.to_datetime64()]))
            if early[0]:
                text[i] = ts.date().isoformat() if not has_time else ts.isoformat()
            elif not np.isnan(serial[0]):
                num[i] = serial[0]
                slot[i] = dt_slot if has_time else date_slot
        elif isinstance(v, str):
            text[i] = v
        elif isinstance(v, bytes):
            text[i] = v.decode("utf-8", "replace")
        else:
            text[i] = str(v)
    col.num, col.num_slot, col.flag, col.kind = num, slot, flag, "mixed"
    col.text = _text_array(text) if any(t is not None for t in text) else None
    if not (flag >= 0).any():
        col.flag = None


def _prepare(name: str, s: pd.Series, formats: _Formats, money_digits: np.ndarray | None,
             num_format: str | None) -> _Col:
    n = len(s)
    col = _Col(name=name, n=n)
    col.slot = formats.slot(num_format)
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        s = s.astype(object)
        dtype = s.dtype
    if money_digits is not None:
        col.kind = "money"
        if n == 0:
            return col
        minor = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        col.num = minor / np.power(10.0, money_digits)
        uniq = np.unique(money_digits)
        lut = np.zeros(int(uniq.max()) + 1, np.int64)
        for d in uniq.tolist():
            lut[d] = formats.slot(money_format(d))
        col.num_slot = lut[money_digits]
        col.extras["digits"] = int(money_digits.max())
        return col
    if pd.api.types.is_bool_dtype(dtype):
        missing = s.isna().to_numpy()
        vals = s.fillna(False).to_numpy(dtype=bool) if missing.any() else s.to_numpy(dtype=bool)
        col.flag = np.where(missing, -1, vals.astype(np.int8)).astype(np.int8)
        col.kind = "bool"
        return col
    if pd.api.types.is_datetime64_any_dtype(dtype):
        if getattr(dtype, "tz", None) is not None:
            s = s.dt.tz_localize(None)
        serial, early, has_time = _serials(s.to_numpy())
        col.num = serial
        col.num_slot = formats.slot(num_format or (_DATETIME_FMT if has_time else _DATE_FMT))
        col.kind = "datetime" if has_time else "date"
        if early.any():
            iso = np.where(early, s.astype(str).to_numpy(dtype=object), None)
            col.text = _text_array(iso)
        return col
    if pd.api.types.is_complex_dtype(dtype):
        col.text = _text_array(np.where(s.isna(), None, s.astype(str).to_numpy(dtype=object)))
        return col
    if pd.api.types.is_numeric_dtype(dtype):
        arr = s.to_numpy(dtype=float, na_value=np.nan)
        if pd.api.types.is_integer_dtype(dtype):
            ints = s.fillna(0).to_numpy()
            big = (ints > _MAX_SAFE_INT) | (ints < -_MAX_SAFE_INT)   # beyond a double's exact range
            if big.any():
                col.text = _text_array(np.where(big, [str(v) for v in ints.tolist()], None))
                arr = np.where(big, np.nan, arr)
        arr = np.where(np.isfinite(arr), arr, np.nan)
        col.num, col.num_slot, col.kind = arr, col.slot, "number"
        return col
    if pd.api.types.is_timedelta64_dtype(dtype):
        col.text = _text_array(np.where(s.isna(), None, s.astype(str).to_numpy(dtype=object)))
        return col
    if isinstance(dtype, pd.StringDtype):
        col.text = _text_array(s.array)
        return col
    values = s.to_numpy(dtype=object)
    inferred = pd.api.types.infer_dtype(values, skipna=True)
    if inferred == "string":
        col.text = _text_array(values)
    elif inferred == "empty":
        col.kind = "empty"
    elif inferred == "date" and pa is not None:
        days = pa.array(values, type=pa.date32(), from_pandas=True).to_numpy(zero_copy_only=False)
        serial, early, _ = _serials(days)
        col.num, col.num_slot, col.kind = serial, formats.slot(num_format or _DATE_FMT), "date"
        if early.any():
            col.text = _text_array(np.where(early, [str(v) for v in values], None))
    elif inferred in ("integer", "floating", "mixed-integer-float", "decimal", "boolean"):
        if inferred == "boolean":
            col.flag = np.array([-1 if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))
                                 else int(v) for v in values], np.int8)
            col.kind = "bool"
        else:
            _classify_objects(values, col, formats)
            col.kind = "number"
    else:
        _classify_objects(values, col, formats)
    if col.num is not None and isinstance(col.num_slot, np.ndarray) and col.slot:
        col.num_slot = np.where(col.num_slot == 0, col.slot, col.num_slot)
    return col


def _finish_text(col: _Col) -> None:
    """Mark the text cells that need the quote-prefix style and bound their length, once per column.
    The values themselves are not changed (SPEC §12)."""
    t = col.text
    if t is None or pa is None:
        if isinstance(t, list):
            col.text = [None if v is None else _excel_text(v) for v in t]
            quote = np.array([v is not None and v[:1] in DANGEROUS_PREFIXES for v in t], dtype=bool)
            col.quote = quote if quote.any() else None
        return
    danger = pc.fill_null(pc.match_substring_regex(t, _DANGER_RE), False)
    col.quote = danger if pc.any(danger).as_py() else None
    too_long = pc.fill_null(pc.greater(pc.utf8_length(t), EXCEL_MAX_TEXT // 2), False)
    if pc.any(too_long).as_py():
        values = t.to_pylist()
        for i in np.flatnonzero(too_long.to_numpy(zero_copy_only=False)).tolist():
            values[i] = _excel_text(values[i])
        t = pa.array(values, type=pa.string())
    col.text = t


def _excel_text(value: str) -> str:
    """`value` cut to Excel's 32,767 UTF-16 units per cell."""
    if len(value) <= EXCEL_MAX_TEXT // 2:
        return value
    units = value.encode("utf-16-le", "surrogatepass")
    if len(units) <= 2 * EXCEL_MAX_TEXT:
        return value
    return units[:2 * EXCEL_MAX_TEXT].decode("utf-16-le", "ignore")


# ----------------------------------------------------------------------------- widths

def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _width(col: _Col, header: str) -> float:
    w = _display_width(header) + 3            # room for the autofilter button
    if col.kind in ("date",):
        w = max(w, 11)
    elif col.kind == "datetime":
        w = max(w, 20)
    if col.num is not None and col.kind not in ("date", "datetime"):
        finite = col.num[~np.isnan(col.num)]
        if len(finite):
            big = float(np.max(np.abs(finite)))
            digits = col.extras.get("digits", 2)
            text = f"{-big:,.{digits}f}" if col.kind == "money" else repr(round(big, 6))
            w = max(w, len(text) + 2)
    if col.text is not None:
        if isinstance(col.text, list):
            sample = [v for v in col.text[:2000] if v is not None]
        else:
            head = col.text.slice(0, 2000).drop_null().to_pylist()
            tail = col.text.slice(max(col.n - 500, 0)).drop_null().to_pylist()
            sample = head + tail
        if sample:
            w = max(w, max(_display_width(v) for v in sample) + 2)
    if col.flag is not None:
        w = max(w, 7)
    return float(min(max(w, 6), 60))


# ----------------------------------------------------------------------------- sheet names

def sheet_name(name: Any, used: set[str]) -> str:
    """A valid, unique (case-insensitive, within `used`) Excel sheet name for `name`: the characters
    Excel forbids ([ ] : * ? / \\) become "_", at most 31 characters, " (2)" ... for repeats."""
    base = re.sub(r"[\[\]:*?/\\]", "_", str(name)).strip().strip("'") or "Sheet"
    if base.casefold() in _RESERVED_SHEETS:
        base += "_"
    base = base[:31].strip("'") or "Sheet"
    out, k = base, 2
    while out.casefold() in used:
        suffix = f" ({k})"
        out = base[:31 - len(suffix)] + suffix
        k += 1
    used.add(out.casefold())
    return out


def _flat_header(c: Any) -> str:
    if isinstance(c, tuple):
        return " / ".join(str(x) for x in c if str(x) != "")
    return str(c)


# ----------------------------------------------------------------------------- row writers

def _fast_path_ok(ws: Any) -> bool:
    return (pa is not None and bool(getattr(ws, "constant_memory", False))
            and all(hasattr(ws, a) for a in ("fh", "row_data_fh", "previous_row", "table",
                                            "_write_single_row", "_check_dimensions"))
            and ws.fh is ws.row_data_fh)


def _arrow_bytes(arr: Any) -> memoryview:
    """The UTF-8 concatenation of a null-free arrow string array, without a Python object per row."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    large = pa.types.is_large_string(arr.type)
    width = 8 if large else 4
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64 if large else np.int32,
                            count=len(arr) + 1, offset=arr.offset * width)
    data = arr.buffers()[2]
    if data is None:
        return memoryview(b"")
    return memoryview(data)[int(offsets[0]):int(offsets[-1])]


def _append(fh: Any, data: memoryview) -> None:
    """Append UTF-8 bytes to xlsxwriter's row stream (a text file): flush its text buffer
    first so order is kept, then write the bytes under it without decoding them."""
    raw = getattr(fh, "buffer", None)
    if raw is None:
        fh.write(data.tobytes().decode("utf-8"))
        return
    fh.flush()
    raw.write(data)


def _xml_escape(t: Any) -> Any:
    special = pc.fill_null(pc.match_substring_regex(t, _RE_SPECIAL), False)
    if pc.any(special).as_py():
        values = t.to_pylist()
        for i in np.flatnonzero(special.to_numpy(zero_copy_only=False)).tolist():
            v = _RE_CTRL_ESCAPE.sub(r"_x005F\1", values[i])
            values[i] = _RE_CTRL.sub(lambda m: f"_x{ord(m.group(1)):04X}_", v)
        t = pa.array(values, type=pa.string())
    if pc.any(pc.fill_null(pc.match_substring_regex(t, "[&<>]"), False)).as_py():
        t = pc.replace_substring(t, "&", "&amp;")
        t = pc.replace_substring(t, "<", "&lt;")
        t = pc.replace_substring(t, ">", "&gt;")
    return t


def _lane_pieces(col: _Col, formats: _Formats) -> dict[str, Any]:
    """Column-wide XML fragments of each lane; cells are assembled per chunk."""
    out: dict[str, Any] = {}
    if col.num is not None:
        valid = ~np.isnan(col.num)
        if valid.any():
            nums = pc.cast(pa.array(np.where(valid, col.num, 0.0), mask=~valid), pa.string())
            if isinstance(col.num_slot, np.ndarray):
                uniq = np.unique(col.num_slot)
                lut = pa.array([formats.xf_attr(int(s)) if s in uniq else "" for s in
                                range(int(uniq.max()) + 1)], type=pa.string())
                s_attr = lut.take(pa.array(col.num_slot))
            else:
                s_attr = formats.xf_attr(int(col.num_slot))
            out["num"] = (nums, s_attr)
    if col.text is not None:
        t = _xml_escape(col.text)
        edge = pc.fill_null(pc.match_substring_regex(col.text, _RE_EDGE_SPACE), False)
        pres = pc.if_else(edge, ' xml:space="preserve"', "") if pc.any(edge).as_py() else ""
        s_attr: Any = formats.xf_attr(col.slot)
        if col.quote is not None:
            s_attr = pc.if_else(col.quote, formats.xf_attr(formats.quoted(col.slot)), s_attr)
        out["text"] = (t, pres, s_attr)
    if col.flag is not None and (col.flag >= 0).any():
        f = col.flag
        out["flag"] = (pc.cast(pa.array(np.maximum(f, 0).astype(np.int64), mask=f < 0), pa.string()),
                       formats.xf_attr(col.slot))
    return out


def _sl(x: Any, a: int, k: int) -> Any:
    return x.slice(a, k) if not isinstance(x, str) else x


def _write_rows_fast(ws: Any, cols: list[_Col], formats: _Formats, first_row: int) -> int:
    """Append rows first_row.. (0-based) for all columns; returns the last row index written."""
    n = cols[0].n if cols else 0
    pieces = [_lane_pieces(c, formats) for c in cols]
    letters = [xl_col_to_name(j) for j in range(len(cols))]
    ws._write_single_row(first_row)            # flush the header row into the stream
    join = pc.binary_join_element_wise
    for a in range(0, n, _CHUNK):
        k = min(_CHUNK, n - a)
        rows = pc.cast(pa.array(np.arange(first_row + a + 1, first_row + a + k + 1)), pa.string())
        cells = []
        for letter, lanes in zip(letters, pieces):
            head = f'<c r="{letter}'
            lane_cells = []
            if "num" in lanes:
                nums, s_attr = lanes["num"]
                lane_cells.append(join(head, rows, '"', _sl(s_attr, a, k), "><v>", nums.slice(a, k),
                                       "</v></c>", ""))
            if "text" in lanes:
                t, pres, s_attr = lanes["text"]
                lane_cells.append(join(head, rows, '"', _sl(s_attr, a, k), ' t="inlineStr"><is><t',
                                       _sl(pres, a, k), ">", t.slice(a, k), "</t></is></c>", ""))
            if "flag" in lanes:
                f, s_attr = lanes["flag"]
                lane_cells.append(join(head, rows, '"' + s_attr + ' t="b"><v>', f.slice(a, k), "</v></c>", ""))
            if len(lane_cells) == 1:
                cells.append(lane_cells[0])
            elif lane_cells:
                cells.append(pc.coalesce(*lane_cells))
        xml = join('<row r="', rows, '">', *cells, "</row>", "", null_handling="skip")
        _append(ws.fh, _arrow_bytes(xml))
    last = first_row + n - 1
    if n:
        ws._check_dimensions(last, max(len(cols) - 1, 0))
        ws.previous_row = last + 1
    return last


def _write_rows_slow(ws: Any, cols: list[_Col], formats: _Formats, first_row: int) -> int:
    """The same cells through xlsxwriter's public API (fallback)."""
    n = cols[0].n if cols else 0
    lanes = []
    for c in cols:
        text = c.text.to_pylist() if c.text is not None and not isinstance(c.text, list) else c.text
        num = c.num.tolist() if c.num is not None else None
        slots = c.num_slot.tolist() if isinstance(c.num_slot, np.ndarray) else None
        flag = c.flag.tolist() if c.flag is not None else None
        quote = None if c.quote is None else (c.quote.tolist() if isinstance(c.quote, np.ndarray)
                                               else c.quote.to_pylist())
        lanes.append((num, slots, formats.fmt(int(c.num_slot)) if slots is None else None, text, flag,
                      formats.fmt(c.slot), quote, formats.fmt(formats.quoted(c.slot))))
    for r in range(n):
        row = first_row + r
        for j, (num, slots, nfmt, text, flag, cfmt, quote, qfmt) in enumerate(lanes):
            if num is not None and num[r] == num[r]:
                ws.write_number(row, j, num[r], formats.fmt(slots[r]) if slots is not None else nfmt)
            elif text is not None and text[r] is not None:
                ws.write_string(row, j, text[r], qfmt if quote is not None and quote[r] else cfmt)
            elif flag is not None and flag[r] >= 0:
                ws.write_boolean(row, j, bool(flag[r]), cfmt)
    return first_row + n - 1


# ----------------------------------------------------------------------------- workbook

def _split(name: str, df: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    per = EXCEL_MAX_ROWS - 1
    if len(df) <= per:
        return [(name, df)]
    return [(name if i == 0 else f"{name} ({i + 1})", df.iloc[a:a + per])
            for i, a in enumerate(range(0, len(df), per))]


def write_workbook(dest: str | Path | BinaryIO, sheets: Mapping[str, pd.DataFrame], *,
                   money_columns: Mapping[str, Mapping[str, str]] | None = None,
                   column_widths: bool | Mapping[str, Mapping[str, float]] = True,
                   number_formats: Mapping[str, Mapping[str, str]] | None = None,
                   highlight_headers: Mapping[str, Iterable[str]] | None = None,
                   freeze_header: bool = True, autofilter: bool = True,
                   _force_slow: bool = False) -> None:
    """Write `sheets` ({sheet name: frame}) as an xlsx workbook, one sheet per frame, in order.

    Each sheet has a bold header row (frozen, with an autofilter) and the
    frame's rows below; the index is not written. `money_columns` marks
    minor-unit columns (see the module doc); `number_formats` gives an Excel
    number format to a numeric column ({sheet: {column: "#,##0.00"}});
    `column_widths` is True (fit to header and data), False, or explicit
    {sheet: {column: width}}; `highlight_headers` fills the header cells of
    the named columns (the template's required columns).
    """
    money_columns = money_columns or {}
    number_formats = number_formats or {}
    highlight_headers = highlight_headers or {}
    target = str(dest) if isinstance(dest, (str, Path)) else dest
    wb = xlsxwriter.Workbook(target, {"constant_memory": True, "strings_to_formulas": False,
                                      "strings_to_urls": False, "strings_to_numbers": False})
    try:
        formats = _Formats(wb)
        bold = wb.add_format({"bold": True, "bottom": 1})
        marked = wb.add_format({"bold": True, "bottom": 1, "bg_color": "#FFF2CC"})
        used: set[str] = set()
        for name, frame in sheets.items():
            money = money_columns.get(name, {})
            for part_name, df in _split(str(name), frame):
                _write_sheet(wb, sheet_name(part_name, used), df, formats, bold, marked, money,
                             number_formats.get(name, {}), column_widths, name,
                             set(highlight_headers.get(name, ())), freeze_header, autofilter, _force_slow)
        if not sheets:
            wb.add_worksheet("Sheet1")
    finally:
        wb.close()


def _quoted_twin(wb: xlsxwriter.Workbook, fmt: Any) -> Any:
    """A copy of the header format `fmt` with the quote-prefix style."""
    twin = wb.add_format({"bold": True, "bottom": 1, "quote_prefix": True})
    if fmt.bg_color:
        twin.set_bg_color(fmt.bg_color)
    return twin


def _write_sheet(wb: xlsxwriter.Workbook, sheet: str, df: pd.DataFrame, formats: _Formats,
                 bold: Any, marked: Any, money: Mapping[str, str], nfmt: Mapping[str, str],
                 column_widths: bool | Mapping[str, Mapping[str, float]], key: str,
                 highlight: set[str], freeze: bool, autofilter: bool, force_slow: bool) -> None:
    ws = wb.add_worksheet(sheet)
    quoted_bold: dict[int, Any] = {}
    headers = [_flat_header(c) for c in df.columns]
    cols: list[_Col] = []
    for j, header in enumerate(headers):
        s = df.iloc[:, j]
        digits = None
        if header in money:
            ccy_col = money[header]
            if ccy_col not in df.columns:
                raise ValueError(f"sheet {key!r}: money column {header!r} names currency column "
                                 f"{ccy_col!r}, which the frame does not have")
            digits = _digits_per_row(df[ccy_col])
        col = _prepare(header, s.reset_index(drop=True), formats, digits, nfmt.get(header))
        _finish_text(col)
        cols.append(col)
    explicit = column_widths if isinstance(column_widths, Mapping) else {}
    for j, (header, col) in enumerate(zip(headers, cols)):
        width = explicit.get(key, {}).get(header) if explicit else None
        if width is None and column_widths is not False:
            width = _width(col, header)
        col_fmt = formats.fmt(col.slot) if col.slot else None
        if width is not None or col_fmt is not None:
            ws.set_column(j, j, width, col_fmt)
    for j, header in enumerate(headers):
        style = marked if header in highlight else bold
        if header[:1] in DANGEROUS_PREFIXES:
            style = quoted_bold.setdefault(id(style), _quoted_twin(wb, style))
        ws.write_string(0, j, header, style)
    if freeze:
        ws.freeze_panes(1, 0)
    n = len(df)
    if autofilter and headers:
        ws.autofilter(0, 0, max(n, 1), len(headers) - 1)
    if n == 0 or not cols:
        return
    if not force_slow and _fast_path_ok(ws):
        _write_rows_fast(ws, cols, formats, 1)
    else:
        _write_rows_slow(ws, cols, formats, 1)


# ----------------------------------------------------------------------------- CSV

def write_csv(dest: str | Path | IO, df: pd.DataFrame, *, money_columns: Mapping[str, str] | None = None,
              encoding: str = "utf-8-sig") -> None:
    """Write `df` as CSV with text cells neutralised; `money_columns` {column: currency column}
    turns minor units into exact decimal strings ("1234.50"). UTF-8 with a BOM so Excel
    opens Chinese and Hungarian text correctly."""
    out = neutralise_csv(df)
    for column, ccy_col in (money_columns or {}).items():
        if column not in df.columns:
            continue
        digits = _digits_per_row(df[ccy_col])
        vals = df[column].to_numpy(dtype=object)
        out[column] = [None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))
                       else format_minor(int(v), int(d)) for v, d in zip(vals, digits.tolist())]
    out.to_csv(dest, index=False, encoding=encoding, lineterminator="\r\n")


# ----------------------------------------------------------------------------- one table, any format

TABLE_SUFFIXES = (".csv", ".xlsx", ".xlsm")


def money_columns_of(table: str, frame: pd.DataFrame, currency: str = "currency") -> dict[str, str]:
    """{money column: currency column} of a canonical table (``billing.schema``) present in `frame`."""
    from billing.schema import TABLES

    if currency not in frame.columns:
        return {}
    return {c.name: currency for c in TABLES[table].columns if c.kind == "money" and c.name in frame.columns}


def write_table(dest: str | Path, sheet: str, frame: pd.DataFrame,
                money_columns: Mapping[str, str] | None = None) -> None:
    """`frame` to `dest` as CSV or XLSX by its suffix, with the same rule for both: money columns
    (int minor units) become the exact amount in major units of the row's currency, so what is
    written reads back as the same amounts whatever the format."""
    suffix = Path(dest).suffix.lower()
    if suffix == ".csv":
        write_csv(dest, frame, money_columns=money_columns)
    elif suffix in (".xlsx", ".xlsm"):
        write_workbook(dest, {sheet: frame}, money_columns={sheet: dict(money_columns or {})})
    else:
        raise ValueError(f"{dest}: write .csv or .xlsx")


# ----------------------------------------------------------------------------- JSON report

def write_report_json(dest: str | Path, items: Iterable[tuple[str, Any]]) -> None:
    """Write the report's (key, value) pairs (billing.report.report_items) as UTF-8 JSON, section by section.

    The text is `json.dumps(..., ensure_ascii=False, indent=1)`'s; table sections are encoded in
    chunks of rows (billing.jsontext), so memory stays bounded by a chunk, not the whole report.
    A partly written file is removed if encoding fails.
    """
    from billing.jsontext import iter_json

    path = Path(dest)
    try:
        with path.open("wb") as fh:
            for chunk in iter_json(items):
                fh.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


# ----------------------------------------------------------------------------- demo & template

def write_demo_workbook(dest: str | Path | BinaryIO, seed: int = 7, n_lines: int = 6000,
                        as_of: str = "2026-06-30") -> None:
    """The deterministic demo workbook (billing.demo): customers, orders, invoices, payments, fx_rates."""
    from billing.demo import generate_demo

    tables = generate_demo(seed=seed, n_lines=n_lines, as_of=as_of)
    money = "#,##0.00"
    write_workbook(dest, tables, number_formats={
        "customers": {"credit_limit": money},
        "orders": {"unit_price": money},
        "invoices": {"unit_price": money, "discount": money, "tax": money, "amount": money},
        "payments": {"amount": money},
        "fx_rates": {"rate": "0.0000000"},
    })


def write_template_workbook(dest: str | Path | BinaryIO) -> None:
    """An empty workbook to fill in: "Instructions" first, then one sheet per table with its
    canonical headers (required ones highlighted), bold and frozen."""
    from billing.demo import template_instructions, template_tables
    from billing.schema import TABLES

    tables = template_tables()
    sheets: dict[str, pd.DataFrame] = {"Instructions": template_instructions()}
    sheets.update(tables)
    formats: dict[str, dict[str, str]] = {}
    for name, table in TABLES.items():
        for c in table.columns:
            if c.kind == "date":
                formats.setdefault(name, {})[c.name] = _DATE_FMT
            elif c.kind == "money":
                formats.setdefault(name, {})[c.name] = "#,##0.00"
    widths = {"Instructions": {"sheet": 12, "column": 20, "required": 10, "meaning": 80, "example": 32}}
    for name, table in TABLES.items():
        widths[name] = {c.name: float(max(len(c.name) + 4, 12)) for c in table.columns}
    write_workbook(dest, sheets, number_formats=formats, column_widths=widths,
                   highlight_headers={n: t.required_columns for n, t in TABLES.items()},
                   autofilter=False)
