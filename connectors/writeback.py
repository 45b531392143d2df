"""Line codes written back into a copy of the uploaded workbook.

Every sheet of the upload is copied cell by cell (values as the file holds
them: formatting and formulas are not carried over, a formula's last value
is) and the invoices sheet gets the assigned codes in its `line_code` column,
or in a new "line_code" column after its last one. Text cells are neutralised
like every export (SPEC §12): one starting like a formula gets the
quote-prefix style, its value unchanged. Several CSV uploads become one sheet
each, named after the file (made a valid sheet name: [ ] : * ? / and backslash are
replaced). CSV cells are all text; in the columns a table reads as numbers
(money, quantities, line numbers, rates) a plain decimal such as ``-12.5`` is
written as the number it is.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter

from billing.ingest import IngestOptions
from billing.model import Dataset, RawSheet
from billing.schema import TABLES
from billing.tabular import TablesFound, locate_tables
from connectors.export import DANGEROUS_PREFIXES, sheet_name
from connectors.sources import read_csv_files, read_source

HEADER = "line_code"
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
NUMERIC_KINDS = ("money", "qty", "int", "rate")
# a decimal exactly as a double holds it: no leading zeros (ids like 0012 stay text), ≤ 15 digits
_PLAIN_NUMBER = re.compile(r"^-?(?:0|[1-9]\d*)(?:\.\d+)?$")


def codes_workbook(files: tuple[tuple[str, bytes], ...], options: IngestOptions, data: Dataset) -> bytes:
    """XLSX bytes: the uploaded workbook's cells plus the line code of every accepted invoice line."""
    raw = read_source(files[0][1], name=files[0][0]) if len(files) == 1 else read_csv_files(list(files))
    found = locate_tables(raw, mapping=options.mapping)
    inv = found.tables.get("invoices")
    target, header_row, code_col = None, None, None
    if inv is not None:
        target, header_row = inv.sheet, inv.header_row
        sheet = next(s for s in raw.sheets if s.name == target)
        code_col = _code_column(sheet, header_row, inv.headers.get("line_code"))
    lines = data.invoices
    codes = (
        dict(
            zip(
                lines.loc[lines["_sheet"] == target, "_row"].astype(int),
                lines.loc[lines["_sheet"] == target, "line_code"].astype(str),
            )
        )
        if target
        else {}
    )

    is_csv = len(files) > 1 or Path(files[0][0]).suffix.lower() in CSV_SUFFIXES
    numeric = _numeric_columns(raw, found) if is_csv else {}
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(
        buf,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "in_memory": True,
        },
    )
    styles = {
        "date": wb.add_format({"num_format": "yyyy-mm-dd"}),
        "datetime": wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
        "quoted": wb.add_format({"quote_prefix": True}),
    }
    bold = wb.add_format({"bold": True})
    used: set[str] = set()
    for sheet in raw.sheets:
        ws = wb.add_worksheet(sheet_name(sheet.name, used))
        is_target = sheet.name == target
        number_cols = numeric.get(sheet.name, set())
        values = sheet.cells.to_numpy(dtype=object)
        last_row = sheet.first_row - 1 + len(values)
        if is_target:
            last_row = max(last_row, header_row)
        for r in range(sheet.first_row - 1, last_row):
            i = r - (sheet.first_row - 1)
            row = values[i] if 0 <= i < len(values) else ()
            for c, v in enumerate(row):
                if is_target and c == code_col and (r + 1 in codes or r + 1 == header_row):
                    continue
                _write(ws, r, c, _as_number(v) if c in number_cols else v, styles)
            if is_target:
                excel_row = r + 1
                if excel_row == header_row:
                    ws.write_string(r, code_col, HEADER, bold)
                elif excel_row in codes:
                    _write(ws, r, code_col, codes[excel_row], styles)
    wb.close()
    return buf.getvalue()


def _numeric_columns(raw, found: TablesFound) -> dict[str, set[int]]:
    """Per sheet, the column indexes a located table reads as numbers (money, quantity, ...)."""
    out: dict[str, set[int]] = {}
    sheets = {s.name: s for s in raw.sheets}
    for name, table in found.tables.items():
        sheet = sheets.get(table.sheet)
        pos = table.header_row - sheet.first_row if sheet is not None else -1
        if sheet is None or not 0 <= pos < len(sheet.cells):
            continue
        kinds = {c.name: c.kind for c in TABLES[name].columns} if name in TABLES else {}
        wanted = {str(text).strip() for canon, text in table.headers.items()
                  if kinds.get(canon) in NUMERIC_KINDS}
        header = sheet.cells.iloc[pos].tolist()
        out.setdefault(table.sheet, set()).update(
            j for j, v in enumerate(header) if isinstance(v, str) and v.strip() in wanted)
    return out


def _as_number(v):
    """A CSV cell in a numeric column: the number when it is a plain decimal, else the cell as it is."""
    if isinstance(v, str):
        t = v.strip()
        if _PLAIN_NUMBER.match(t) and len(t.replace("-", "").replace(".", "")) <= 15:
            return int(t) if "." not in t else float(t)
    return v


def _code_column(sheet: RawSheet, header_row: int, existing: str | None) -> int:
    """The column index for codes: the existing line-code column, else one after the last used column."""
    cells = sheet.cells
    pos = header_row - sheet.first_row
    if existing and 0 <= pos < len(cells):
        for j, v in enumerate(cells.iloc[pos].tolist()):
            if isinstance(v, str) and v.strip() == existing.strip():
                return j
    return cells.shape[1]


def _write(ws, r: int, c: int, v, styles: dict) -> None:
    if v is None or v is pd.NA or v is pd.NaT:
        return
    if isinstance(v, (bool, np.bool_)):
        ws.write_boolean(r, c, bool(v))
    elif isinstance(v, (int, np.integer)):
        ws.write_number(r, c, int(v)) if abs(int(v)) < 2**53 else ws.write_string(r, c, str(v))
    elif isinstance(v, (float, np.floating)):
        if math.isfinite(float(v)):
            ws.write_number(r, c, float(v))
    elif isinstance(v, (pd.Timestamp, dt.datetime, dt.date, np.datetime64)):
        ts = pd.Timestamp(v)
        if ts is pd.NaT or ts.year < 1900:
            ws.write_string(r, c, str(v))
        else:
            py = ts.to_pydatetime().replace(tzinfo=None)
            ws.write_datetime(r, c, py, styles["datetime"] if py.time() != dt.time(0) else styles["date"])
    else:
        text = str(v)
        # A formula-like text keeps its value; the quote-prefix style keeps spreadsheets from running it.
        ws.write_string(r, c, text, styles["quoted"] if text[:1] in DANGEROUS_PREFIXES else None)
