"""Look at an untrusted file before any reader touches it, and refuse what would not fit the limits.

Excel readers (calamine, behind fastexcel and python-calamine) allocate the
whole rectangle a sheet spans, hold every shared string, and trust the sizes
the archive declares; a 3 KB workbook with one cell at XFD1048576 asks for
512 GB. So before a workbook is read, `inspect_source` measures it with
bounded memory:

- a zip container (xlsx, xlsm, ods, xlsb): the number of parts, the declared
  uncompressed sizes and compression ratios, then the real uncompressed size
  of every part, decompressed in CHUNK pieces and abandoned as soon as the
  total passes the limit;
- every worksheet's XML, streamed: its `<dimension ref=...>`, the rows, the
  largest row and column any cell names (or reaches by position, for cells
  without `r` attributes), the number of cells;
- the shared strings: how many, their total size and the longest;
- a CSV: its size, longest line and the most fields on one line.

What is over a limit raises `SourceError` naming the limit, the value found
and how to split the file. Everything else still runs in a worker process
with memory and CPU limits (`connectors.worker`): the inspection keeps the
readers from being asked for the impossible, the worker keeps a reader bug
from taking the server down.

Limits are one `ReadLimits` object: defaults below, overridden by the
`[limits]` section of `.streamlit/secrets.toml` and `LINEWISE_LIMIT_<FIELD>`
environment variables (`read_limits()`).
"""
from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from connectors.sources import SourceError

MB = 2**20
CHUNK = MB  # bytes decompressed (or scanned) at a time
SECRETS_PATH = Path(__file__).resolve().parents[1] / ".streamlit" / "secrets.toml"
ENV_PREFIX = "LINEWISE_LIMIT_"
SPLIT_HINT = "delete the empty rows and columns around the data, or save each table as its own CSV file"

__all__ = ["ReadLimits", "read_limits", "inspect_source", "check_upload_size", "SourceError"]


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class ReadLimits:
    """How much one read of an untrusted source may ask for.

    Sizes in MB (2**20 bytes), counts in rows/columns/cells/strings, times in seconds.
    """

    max_upload_mb: float = 200            # all files of one upload (or one CLI source) together
    max_uncompressed_mb: float = 2048     # a workbook's parts, unpacked, together
    max_ratio: float = 200                # unpacked / packed size of one large part
    max_parts: int = 10_000               # files inside one workbook archive
    max_rows: int = 1_048_576             # rows a sheet spans (Excel's own limit)
    max_columns: int = 16_384             # columns a sheet spans (Excel's own limit)
    max_cells: int = 40_000_000           # rows x columns a sheet spans (readers allocate them all)
    max_shared_strings: int = 10_000_000  # distinct texts of a workbook
    max_shared_strings_mb: float = 512    # their XML, unpacked
    max_line_mb: float = 4                # one line of a CSV file
    worker_memory_mb: int = 4096          # address space of the reading process
    worker_cpu_seconds: int = 300         # CPU time of the reading process
    worker_timeout_seconds: int = 360     # wall-clock time before the read is abandoned

    @classmethod
    def from_settings(cls, secrets: Mapping[str, Any] | None = None,
                      environ: Mapping[str, str] | None = None) -> "ReadLimits":
        """Defaults, then `secrets["limits"]`, then `LINEWISE_LIMIT_<FIELD>` variables.

        Raises ValueError naming the setting when a value is not a positive number.
        """
        environ = os.environ if environ is None else environ
        section: Mapping[str, Any] = {}
        if secrets is not None:
            try:
                section = secrets["limits"] if "limits" in secrets else {}
            except Exception:  # st.secrets raises when no secrets file exists
                section = {}
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(ENV_PREFIX + f.name.upper(), "").strip() or section.get(f.name)
            if raw is None or raw == "":
                continue
            values[f.name] = _positive(f.name, raw, int if f.type in ("int", int) else float)
        return cls(**values)


def _positive(name: str, raw: Any, kind: type) -> int | float:
    try:
        value = kind(float(raw)) if kind is int else kind(raw)
    except (TypeError, ValueError):
        raise ValueError(f"[limits] {name} must be a number, not {raw!r}") from None
    if not value > 0:
        raise ValueError(f"[limits] {name} must be greater than 0, not {raw!r}")
    return value


def read_limits(path: Path | str | None = None) -> ReadLimits:
    """The limits of this installation: `[limits]` of .streamlit/secrets.toml plus the environment."""
    p = Path(path) if path is not None else SECRETS_PATH
    secrets: dict[str, Any] = {}
    if p.is_file():
        try:
            secrets = tomllib.loads(p.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            secrets = {}  # a broken secrets file is reported by the parts that need its secrets
    return ReadLimits.from_settings(secrets)


# --------------------------------------------------------------------------- sizes


def check_upload_size(sizes: list[tuple[str, int]], limits: ReadLimits) -> None:
    """Refuse an upload whose files together are larger than `max_upload_mb`."""
    total = sum(size for _, size in sizes)
    if total > limits.max_upload_mb * MB:
        what = f"'{sizes[0][0]}' is" if len(sizes) == 1 else f"the {len(sizes)} files are"
        raise SourceError(
            f"The upload is too large: {what} {_mb(total)} together; Linewise reads at most "
            f"{_mb(limits.max_upload_mb * MB)} per upload (setting max_upload_mb). Upload the tables "
            "in smaller parts (one CSV file per table) or remove old years.")


def _mb(n: float) -> str:
    return f"{n / MB:,.1f} MB" if n >= MB / 10 else f"{int(n):,} bytes"


def _n(n: int) -> str:
    return f"{n:,}"


# --------------------------------------------------------------------------- entry


def inspect_source(src: Path | bytes, display: str, limits: ReadLimits) -> None:
    """Measure a workbook or CSV (a path or its bytes) and raise SourceError past any limit.

    Formats the guard cannot look into (xls) pass: the worker's limits bound them.
    """
    head = _head(src)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        _inspect_zip(src, display, limits)
    elif head.startswith(b"\xd0\xcf\x11\xe0"):
        return  # OLE2 (xls): no expansion beyond the file, the worker bounds the reader
    else:
        _inspect_text(src, display, limits)


def _head(src: Path | bytes) -> bytes:
    if isinstance(src, Path):
        with open(src, "rb") as fh:
            return fh.read(8)
    return bytes(src[:8])


# --------------------------------------------------------------------------- zip containers


def _inspect_zip(src: Path | bytes, display: str, limits: ReadLimits) -> None:
    import io

    try:
        zf = zipfile.ZipFile(src if isinstance(src, Path) else io.BytesIO(src))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return  # the reader says "damaged" in its own words
    with zf:
        _check_declared(infos, display, limits)
        sheets = _sheet_names(zf)
        budget = _Budget(limits.max_uncompressed_mb * MB, display)
        for info in infos:
            if info.is_dir():
                continue
            name = info.filename
            if name in sheets:
                scan: _Scanner = _SheetScan(sheets[name], display, limits)
            elif name == "content.xml":
                scan = _OdsScan(display, limits)
            elif name.lower().endswith("sharedstrings.xml"):
                scan = _StringsScan(display, limits)
            else:
                scan = _Scanner()
            try:
                with zf.open(info) as fh:
                    for chunk in _chunks(fh):
                        budget.spend(len(chunk))
                        scan.feed(chunk)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError):
                return  # damaged, encrypted or exotic: the reader's own message
            scan.finish()


def _check_declared(infos: list[zipfile.ZipInfo], display: str, limits: ReadLimits) -> None:
    if len(infos) > limits.max_parts:
        raise SourceError(
            f"'{display}' holds {_n(len(infos))} files inside; a workbook has a few dozen and Linewise "
            f"reads at most {_n(limits.max_parts)} (setting max_parts). Save it again from Excel as .xlsx.")
    declared = sum(i.file_size for i in infos)
    if declared > limits.max_uncompressed_mb * MB:
        raise SourceError(
            f"'{display}' unpacks to {_mb(declared)}; Linewise reads at most "
            f"{_mb(limits.max_uncompressed_mb * MB)} of unpacked workbook (setting max_uncompressed_mb). "
            f"Split it: {SPLIT_HINT}.")
    for i in infos:
        # Sheet XML packs 5-20 to one, very regular sheets ~100; past max_ratio on a large part
        # it is padding (a decompression bomb), not data.
        if i.file_size > 16 * MB and i.file_size > limits.max_ratio * max(i.compress_size, 1):
            raise SourceError(
                f"'{display}' looks like a decompression bomb: its part {i.filename} packs "
                f"{_mb(i.file_size)} into {_mb(i.compress_size)} ({i.file_size / max(i.compress_size, 1):,.0f} "
                f"to 1; Linewise accepts at most {limits.max_ratio:,.0f} to 1, setting max_ratio). Open the file "
                f"in Excel, {SPLIT_HINT}.")


def _chunks(fh: IO[bytes]) -> Iterator[bytes]:
    while True:
        chunk = fh.read(CHUNK)
        if not chunk:
            return
        yield chunk


class _Budget:
    """Real unpacked bytes, counted as they come out of the archive.

    Python's zipfile stops a part at its declared size (and then fails its CRC),
    so this only restates the declared check; it keeps the limit true should a
    part ever be read by something that trusts the data instead of the header.
    """

    def __init__(self, limit: float, display: str) -> None:
        self.limit, self.display, self.used = limit, display, 0

    def spend(self, n: int) -> None:
        self.used += n
        if self.used > self.limit:
            raise SourceError(
                f"'{self.display}' unpacks to more than {_mb(self.limit)} (the limit for one workbook, "
                f"setting max_uncompressed_mb); reading stopped there. Split it: {SPLIT_HINT}.")


def _sheet_names(zf: zipfile.ZipFile) -> dict[str, str]:
    """{part name: sheet name} of the worksheets (xlsx/xlsm), read from the (small) workbook parts."""
    from connectors.sources import _XlsxPeek

    names = set(zf.namelist())
    if not any(n.endswith("workbook.xml") for n in names):
        return {}
    for part in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels", "_rels/.rels", "xl/styles.xml"):
        if part in names and zf.getinfo(part).file_size > 64 * MB:  # parsed whole by _XlsxPeek
            return {n: n for n in names if n.startswith("xl/worksheets/")}
    try:
        paths = _XlsxPeek(zf).paths
    except Exception:  # damaged workbook parts: scan every worksheet part by its file name
        return {n: posixpath_stem(n) for n in names if n.startswith("xl/worksheets/") and n.endswith(".xml")}
    out = {part: sheet for sheet, part in paths.items()}
    for n in names:  # parts the workbook does not list are still parsed by some readers
        if n.startswith("xl/worksheets/") and n.endswith(".xml") and n not in out:
            out[n] = posixpath_stem(n)
    return out


def posixpath_stem(part: str) -> str:
    return part.rsplit("/", 1)[-1].rsplit(".", 1)[0]


class _Scanner:
    """Consumes a part chunk by chunk; subclasses measure what they need."""

    def feed(self, chunk: bytes) -> None:
        pass

    def finish(self) -> None:
        pass


class _Tags(_Scanner):
    """Hands whole tags to `scan`: a chunk is cut after its last '>' and the rest carried over."""

    def __init__(self) -> None:
        self.carry = b""

    def feed(self, chunk: bytes) -> None:
        data = self.carry + chunk
        cut = data.rfind(b">") + 1
        self.carry = data[cut:]
        if len(self.carry) > CHUNK:  # a text run (no tag ends in it): keep only what a tag could start
            self.carry = self.carry[-256:]
        if cut:
            self.scan(data[:cut])

    def finish(self) -> None:
        if self.carry:
            self.scan(self.carry)
            self.carry = b""
        self.done()

    def scan(self, data: bytes) -> None:
        raise NotImplementedError

    def done(self) -> None:
        pass


_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\b[^>]*?\bref="([^"]*)"')
_R_ATTR = re.compile(rb'\br="\$?([A-Za-z]{0,3})\$?(\d*)"')
_REF = re.compile(r"\$?([A-Za-z]{1,3})?\$?(\d+)?")


def _col_number(letters: bytes | str) -> int:
    n = 0
    for ch in letters.upper() if isinstance(letters, str) else letters.upper().decode():
        n = n * 26 + (ord(ch) - 64)
    return n


def _ref_point(ref: str) -> tuple[int, int]:
    """(row, column), 1-based, of 'B7'; a whole-column or whole-row ref gives Excel's maximum there."""
    m = _REF.fullmatch(ref.strip())
    if not m or not (m.group(1) or m.group(2)):
        return 0, 0
    col = _col_number(m.group(1)) if m.group(1) else 16_384
    row = int(m.group(2)) if m.group(2) else 1_048_576
    return row, col


class _SheetScan(_Tags):
    """Rows, columns and cells of one worksheet's XML, as calamine would lay them out.

    Rows and cells without an `r` attribute follow the previous one, like the
    readers place them. The rectangle readers allocate runs from the first
    row/column to the last; it is checked against max_rows, max_columns and
    max_cells as the scan goes, so a bomb is refused after its first CHUNKs.
    """

    def __init__(self, sheet: str, display: str, limits: ReadLimits) -> None:
        super().__init__()
        self.sheet, self.display, self.limits = sheet, display, limits
        self.dimension_seen = False
        self.rows = 0        # <row> elements
        self.cells = 0       # <c> elements
        self.row = 0         # current row number (1-based)
        self.col = 0         # current column number within the row
        self.max_row = 0
        self.max_col = 0
        self.pat: _Patterns | None = None  # known once <sheetData> (and its namespace prefix) is seen

    def scan(self, data: bytes) -> None:
        if not self.dimension_seen:
            self._dimension(data)
        if self.pat is None:
            m = _SHEETDATA.search(data)
            if m is None:
                return  # still before the cells
            self.pat = _patterns(m.group(1) or b"")
        if not self._scan_fast(data):
            self._scan_slow(data)
        self._check()

    def _scan_fast(self, data: bytes) -> bool:
        """Counts and maxima with bytes.count/findall (C speed); False when the chunk needs the tag walk.

        Fast when every row and cell has its `r` attribute and no cell names more
        row digits than the rows do (the shape every spreadsheet program writes).
        """
        p = self.pat
        rows = data.count(p.row_sp) + data.count(p.row_gt)
        cells = data.count(p.c_sp) + data.count(p.c_gt)
        row_refs = p.row_r.findall(data)
        letters = p.c_r_first.findall(data)
        r_first = len(letters) == cells
        if not r_first:
            letters = p.c_r_any.findall(data)
        if rows and not row_refs and not letters:
            self._scan_positional(data, rows, cells)
            return True
        if len(row_refs) < rows or len(letters) < cells:
            return False
        top_row = max(map(int, row_refs), default=self.row)
        digits = len(str(max(top_row, self.max_row)))
        if p.c_row_digits(digits + 1, r_first).search(data):
            return False  # a cell below every row's number: walk the tags
        self.rows += rows
        self.cells += cells
        self.row = top_row
        self.max_row = max(self.max_row, top_row)
        if letters:
            widest = max(set(letters), key=lambda b: (len(b), b))
            self.max_col = max(self.max_col, _col_number(widest))
        return True

    def _scan_positional(self, data: bytes, rows: int, cells: int) -> None:
        """Rows and cells without any `r` attribute: each row follows the last, each cell its left one."""
        p = self.pat
        self.rows += rows
        self.cells += cells
        segments = data.split(b"<" + p.prefix + b"row")
        self.col += segments[0].count(p.c_sp) + segments[0].count(p.c_gt)  # the row running on
        widest = max((seg.count(p.c_sp) + seg.count(p.c_gt) for seg in segments[1:]), default=0)
        self.max_col = max(self.max_col, self.col, widest)
        self.row += rows
        self.col = segments[-1].count(p.c_sp) + segments[-1].count(p.c_gt)
        self.max_row = max(self.max_row, self.row)

    def _scan_slow(self, data: bytes) -> None:
        """Rows and cells in document order, placed like the readers place them."""
        for m in self.pat.tag.finditer(data):
            attrs = m.group(2)
            r = _R_ATTR.search(attrs) if b"r=" in attrs else None
            if m.group(1) == b"row":
                self.rows += 1
                self.row = int(r.group(2)) if r and r.group(2) else self.row + 1
                self.col = 0
                self.max_row = max(self.max_row, self.row)
                continue
            self.cells += 1
            if r and r.group(1):
                self.col = _col_number(r.group(1))
                if r.group(2):
                    self.max_row = max(self.max_row, int(r.group(2)))
            else:
                self.col += 1
            self.max_col = max(self.max_col, self.col)
            if self.max_row > self.limits.max_rows or self.max_col > self.limits.max_columns:
                return  # _check refuses

    def _check(self) -> None:
        if self.max_row > self.limits.max_rows:
            self._refuse_rows()
        if self.max_col > self.limits.max_columns:
            self._refuse_columns()
        if self.max_row * self.max_col > self.limits.max_cells:
            self._refuse_area("has cells up to", self.max_row, self.max_col)

    def _dimension(self, data: bytes) -> None:
        m = _DIMENSION.search(data)
        if m is None:
            if b"sheetData" in data:
                self.dimension_seen = True  # no dimension before the cells: nothing declared
            return
        self.dimension_seen = True
        ref = m.group(1).decode("ascii", "replace")
        first, _, last = ref.partition(":")
        r0, c0 = _ref_point(first)
        r1, c1 = _ref_point(last) if last else (r0, c0)
        rows, cols = abs(r1 - r0) + 1, abs(c1 - c0) + 1
        if rows > self.limits.max_rows or cols > self.limits.max_columns or rows * cols > self.limits.max_cells:
            self._refuse_area("declares", rows, cols, declared=ref)

    def _refuse_rows(self) -> None:
        raise SourceError(
            f"The sheet '{self.sheet}' of '{self.display}' has more than {_n(self.limits.max_rows)} rows "
            f"(row {_n(self.max_row)} and counting); Linewise reads at most {_n(self.limits.max_rows)} rows "
            f"in a sheet (setting max_rows). Split it: {SPLIT_HINT}.")

    def _refuse_columns(self) -> None:
        raise SourceError(
            f"The sheet '{self.sheet}' of '{self.display}' has cells in column {_n(self.max_col)}; Linewise "
            f"reads at most {_n(self.limits.max_columns)} columns in a sheet (setting max_columns). "
            f"Split it: {SPLIT_HINT}.")

    def _refuse_area(self, verb: str, rows: int, cols: int, declared: str = "") -> None:
        shown = f" ({declared})" if declared else ""
        raise SourceError(
            f"The sheet '{self.sheet}' of '{self.display}' {verb} {_n(rows)} rows × {_n(cols)} columns{shown}, "
            f"{_n(rows * cols)} cells; Linewise reads at most {_n(self.limits.max_rows)} rows, "
            f"{_n(self.limits.max_columns)} columns and {_n(self.limits.max_cells)} cells in a sheet "
            f"(settings max_rows, max_columns, max_cells). Open it in Excel and {SPLIT_HINT}.")


_SHEETDATA = re.compile(rb"<(\w+:)?sheetData[\s>/]")


@dataclass(frozen=True)
class _Patterns:
    """Byte patterns of one namespace prefix (b"" or e.g. b"x:", as .NET writers use)."""

    row_sp: bytes
    row_gt: bytes
    c_sp: bytes
    c_gt: bytes
    row_r: re.Pattern[bytes]
    c_r_first: re.Pattern[bytes]
    c_r_any: re.Pattern[bytes]
    tag: re.Pattern[bytes]
    prefix: bytes

    def c_row_digits(self, n: int, r_first: bool) -> re.Pattern[bytes]:
        """A cell reference with at least `n` row digits (`r_first`: r is the first attribute)."""
        attrs = rb' r="' if r_first else rb'\b[^>]*?\br="'
        return re.compile(rb"<" + re.escape(self.prefix) + rb"c" + attrs + rb"\$?[A-Za-z]{1,3}\$?\d{%d}" % n)


def _patterns(prefix: bytes) -> _Patterns:
    p = re.escape(prefix)
    return _Patterns(
        row_sp=b"<" + prefix + b"row ", row_gt=b"<" + prefix + b"row>",
        c_sp=b"<" + prefix + b"c ", c_gt=b"<" + prefix + b"c>",
        row_r=re.compile(rb"<" + p + rb'row\b[^>]*?\br="(\d+)"'),
        c_r_first=re.compile(rb"<" + p + rb'c r="\$?([A-Z]+)'),
        c_r_any=re.compile(rb"<" + p + rb'c\b[^>]*?\br="\$?([A-Za-z]+)'),
        tag=re.compile(rb"<" + p + rb"(row|c)(?=[\s>/])([^>]*)>"),
        prefix=prefix)


class _StringsScan(_Scanner):
    """The shared strings: how many, how large in total; refused past the limits."""

    def __init__(self, display: str, limits: ReadLimits) -> None:
        self.display, self.limits = display, limits
        self.count = 0
        self.size = 0
        self.tail = b""  # the end of the previous chunk: a <si> tag may straddle two chunks

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limits.max_shared_strings_mb * MB:
            raise SourceError(
                f"The texts of '{self.display}' (its shared strings) unpack to more than "
                f"{_mb(self.limits.max_shared_strings_mb * MB)}; Linewise reads at most that much text in a "
                f"workbook (setting max_shared_strings_mb). Remove long texts you do not need, or {SPLIT_HINT}.")
        data = self.tail + chunk
        if self.count == 0:
            declared = _UNIQUE_COUNT.search(data[:4096])
            if declared and int(declared.group(1)) > self.limits.max_shared_strings:
                self._refuse(int(declared.group(1)), "declares")
        # tags wholly inside the carried tail were counted with the previous chunk
        self.count += _count_si(data) - _count_si(self.tail)
        self.tail = data[-16:]
        if self.count > self.limits.max_shared_strings:
            self._refuse(self.count, "holds at least")

    def _refuse(self, count: int, verb: str) -> None:
        raise SourceError(
            f"'{self.display}' {verb} {_n(count)} different texts (shared strings); Linewise reads at most "
            f"{_n(self.limits.max_shared_strings)} (setting max_shared_strings). Split it: {SPLIT_HINT}.")


_PREFIXED_SI = re.compile(rb"<\w+:si[\s>]")


def _count_si(data: bytes) -> int:
    return data.count(b"<si>") + data.count(b"<si ") + len(_PREFIXED_SI.findall(data))
_UNIQUE_COUNT = re.compile(rb'<(?:\w+:)?sst\b[^>]*?\buniqueCount="(\d+)"')


class _OdsScan(_Scanner):
    """OpenDocument content.xml: rows and cells that stand for many (`number-rows-repeated`,
    `number-columns-repeated`), counted where they hold a value, per table.

    A repeated empty row or cell (LibreOffice ends every sheet with one for the
    rest of the grid) costs nothing and is not counted.
    """

    def __init__(self, display: str, limits: ReadLimits) -> None:
        self.display, self.limits = display, limits
        self.carry = b""
        self.table = ""
        self.rows = 0
        self.width = 0

    def feed(self, chunk: bytes) -> None:
        data = self.carry + chunk
        cut = data.rfind(b"</table:table-row>")
        cut = cut + len(b"</table:table-row>") if cut >= 0 else 0
        self.carry = data[cut:]
        if len(self.carry) > 4 * CHUNK:  # one row that long: measured by the worker's limits
            self.carry = self.carry[-256:]
        for k, part in enumerate(_ODS_TABLE.split(data[:cut])):
            if k % 2:  # a table's name (split keeps the captured group)
                self.table, self.rows, self.width = part.decode("utf-8", "replace"), 0, 0
            elif part:
                self._scan(part)

    def _scan(self, data: bytes) -> None:
        self.rows += data.count(b"<table:table-row ") + data.count(b"<table:table-row>")
        for repeat, body in _ODS_REPEATED_ROW.findall(data):
            if _ODS_VALUE in body:
                self.rows += int(repeat) - 1
        widest = max((int(n) for n in _ODS_REPEATED_CELL.findall(data)), default=0)
        self.width = max(self.width, widest, 1 if self.rows else 0)
        if self.rows > self.limits.max_rows or self.width > self.limits.max_columns or \
                self.rows * self.width > self.limits.max_cells:
            raise SourceError(
                f"The sheet '{self.table}' of '{self.display}' repeats cells with values up to "
                f"{_n(self.rows)} rows × {_n(self.width)} columns; Linewise reads at most "
                f"{_n(self.limits.max_rows)} rows, {_n(self.limits.max_columns)} columns and "
                f"{_n(self.limits.max_cells)} cells in a sheet (settings max_rows, max_columns, max_cells). "
                f"Open it in LibreOffice and {SPLIT_HINT}.")


_ODS_TABLE = re.compile(rb'<table:table\s[^>]*?table:name="([^"]*)"')
_ODS_REPEATED_ROW = re.compile(rb'<table:table-row\b[^>]*?table:number-rows-repeated="(\d+)"[^>]*>(.*?)'
                               rb"</table:table-row>", re.S)
_ODS_REPEATED_CELL = re.compile(
    rb'<table:table-cell\b(?=[^>]*?office:value-type)[^>]*?table:number-columns-repeated="(\d+)"')
_ODS_VALUE = b"office:value-type"


# --------------------------------------------------------------------------- CSV


def _inspect_text(src: Path | bytes, display: str, limits: ReadLimits) -> None:
    """Longest line and most fields on a line of a CSV file (memory: one CHUNK at a time)."""
    longest, line_no, widest, widest_line, lines = 0, 0, 0, 0, 0
    run = 0  # length of the line running into the next chunk
    counts = np.zeros(4, dtype=np.int64)  # delimiters on the running line
    limit = limits.max_line_mb * MB
    for chunk in _text_chunks(src):
        buf = np.frombuffer(chunk, dtype=np.uint8)
        ends = np.flatnonzero(buf == 10)
        bounds = np.concatenate(([-1], ends, [len(buf) - 1]))
        lengths = np.diff(bounds)
        lengths[0] += run
        if int(lengths.max()) >= limits.max_columns:  # only such a line can hold too many fields
            for k, d in enumerate(_DELIMITERS):
                per_line = np.bincount(np.searchsorted(ends, np.flatnonzero(buf == d)), minlength=len(lengths))
                per_line[0] += counts[k]
                top = int(per_line.max()) + 1
                if top > widest:
                    widest, widest_line = top, lines + int(per_line.argmax()) + 1
                counts[k] = per_line[-1]
        else:  # carry the delimiters of the line running on into the next chunk
            tail = buf[ends[-1] + 1:] if len(ends) else buf
            found = np.array([np.count_nonzero(tail == d) for d in _DELIMITERS], dtype=np.int64)
            counts = found if len(ends) else counts + found
        top = int(lengths.max())
        if top > longest:
            longest, line_no = top, lines + int(lengths.argmax()) + 1
        run = int(lengths[-1])
        lines += len(ends)
        if longest > limit:
            raise SourceError(
                f"Line {_n(line_no)} of '{display}' is longer than {_mb(limit)}; Linewise reads lines of at "
                f"most {_mb(limit)} (setting max_line_mb). Is it really a CSV file? Save each table as its "
                "own CSV file, one row per line.")
        if widest > limits.max_columns:
            raise SourceError(
                f"Line {_n(widest_line)} of '{display}' has more than {_n(limits.max_columns)} fields "
                f"({_n(widest)} and counting); Linewise reads at most "
                f"{_n(limits.max_columns)} columns (setting max_columns). Check the delimiter, or save each "
                "table as its own CSV file.")


_DELIMITERS = tuple(ord(c) for c in (",", ";", "\t", "|"))


def _text_chunks(src: Path | bytes) -> Iterator[bytes]:
    if isinstance(src, Path):
        with open(src, "rb") as fh:
            yield from _chunks(fh)
        return
    view = memoryview(src)
    for i in range(0, len(view), CHUNK):
        yield bytes(view[i:i + CHUNK])
