"""Find the canonical tables in a raw workbook: which sheet, which header row, which column.

Pure pandas, no I/O. `locate_tables(workbook, mapping)` returns a `TablesFound`:
the raw values of each canonical column below the header (blank and trailing
total rows removed and reported), the spreadsheet row number of each value,
notes about what was skipped, and one plain message per required table or
column that could not be found.

Rules (see also docs/DESIGN.md and billing/schema.py):

1. Sheet -> table. A mapping's "sheet" wins. Then sheet names: a name whose
   key (billing.schema.header_key) is a table synonym, then a name containing
   a synonym (longest wins). Tables still without a sheet take the unassigned
   sheet whose header row covers the most of their required columns (all of
   them, or at least two and three matched columns in all), best pairs first.
   Hidden sheets count like visible ones (a visible one wins a tie) and are
   reported in the notes; an empty sheet is only reported ("Sheet 'Invoices'
   for invoices is empty") when no other sheet holds the table.
2. Header row. Among the first HEAD_ROWS non-blank rows, the row matching the
   most columns of the table (exact synonym or contained synonym); it must
   match every required column or at least two columns. A row above it is
   combined with it (two-row header, the upper row forward-filled across a
   merged span: "Invoice" over "No | Date | Amount") when the joined texts
   match more columns exactly. Non-blank rows above the header are "title"
   notes.
3. Columns. Exact key match first (column order), then a synonym contained in
   the header key (longest synonym wins; ASCII synonyms of fewer than 3
   characters only match exactly). Each canonical column takes one header and
   each header one column. A mapping's "columns" ({canonical: header text as
   in the file}) win over the automatic match. Headers that match nothing are
   listed in `RawTable.unmapped` and in a "header" note.
4. Rows. Fully blank rows below the header are dropped ("blank" notes), so
   are copies of the header row (exports repeat it after page breaks;
   "header" notes) and trailing rows whose first non-empty text is a total
   marker (Total, 合计, Összesen, ...) with every identifier column otherwise
   empty ("total" notes). Everything else is data, even a mid-table subtotal:
   the normaliser quarantines what it cannot read, so nothing goes unreported.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from billing.cells import is_blank_cell
from billing.model import RawSheet, RawWorkbook, SkipNote
from billing.schema import TABLES, TOTAL_MARKERS, Column, Table, column_keys, header_key, table_keys

HEAD_ROWS = 30        # non-blank rows searched for the header
HEAD_SCAN = 300       # rows looked at to find those
MAX_TOTAL_ROWS = 5    # trailing total rows recognised at most
_TOTAL_KEYS = frozenset(header_key(t) for t in TOTAL_MARKERS)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_HU = re.compile(r"[áéíóöőúüűÁÉÍÓÖŐÚÜŰ]")
TYPED_HINT = "linewise_typed"  # optional RawSheet.cells.attrs hint set by connectors.sources

__all__ = ["RawTable", "TablesFound", "locate_tables", "HEAD_ROWS"]


@dataclass
class RawTable:
    """One canonical table as found in a sheet, values still raw.

    `columns[c]` holds the raw cell values of canonical column `c` for the
    data rows, positionally aligned with `rows` (the spreadsheet row numbers),
    named after the header text it was found under (also in `headers[c]`).
    """

    name: str
    sheet: str
    header_row: int
    columns: dict[str, pd.Series]
    rows: np.ndarray
    unmapped: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class TablesFound:
    tables: dict[str, RawTable]
    notes: list[SkipNote]
    missing: dict[str, str]


# --------------------------------------------------------------------------- matching helpers


def _min_len_ok(key: str) -> bool:
    return len(key) >= 3 or (len(key) >= 2 and not key.isascii())


@lru_cache(maxsize=None)
def _col_keys(table: str) -> dict[str, frozenset[str]]:
    return {c: frozenset(k for k in ks if k) for c, ks in column_keys(TABLES[table]).items()}


@lru_cache(maxsize=None)
def _exact_index(table: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for c, ks in _col_keys(table).items():  # table column order: the first column wins a key
        for k in ks:
            out.setdefault(k, c)
    return out


@lru_cache(maxsize=65536)
def _contains(table: str, key: str) -> tuple[tuple[str, int], ...]:
    """Canonical columns with a synonym contained in `key`, and that synonym's length."""
    out = []
    for c, ks in _col_keys(table).items():
        best = max((len(s) for s in ks if _min_len_ok(s) and s in key), default=0)
        if best:
            out.append((c, best))
    return tuple(out)


@dataclass
class _Cand:
    """A header cell: (key, exact_only, text shown) in order of preference."""

    col: Any
    text: str
    keys: list[tuple[str, bool, str]]

    def shown(self, table: str, canonical: str) -> str:
        """The text whose key matched `canonical` ("Currency", not "Customer Currency")."""
        for key, exact_only, text in self.keys:
            if _exact_index(table).get(key) == canonical or (
                    not exact_only and any(c == canonical for c, _ in _contains(table, key))):
                return text
        return self.text


def _match(table: str, cands: list[_Cand], preset: dict[str, Any] | None = None,
           skip: set[str] | None = None) -> tuple[dict[str, Any], int]:
    """canonical -> column label, and how many were exact matches."""
    assigned: dict[str, Any] = dict(preset or {})
    used = set(assigned.values())
    blocked = set(skip or ()) | set(assigned)
    exact_idx = _exact_index(table)
    n_exact = 0
    for cand in cands:
        if cand.col in used:
            continue
        for key, _, _ in cand.keys:
            c = exact_idx.get(key)
            if c is not None and c not in blocked:
                assigned[c] = cand.col
                blocked.add(c)
                used.add(cand.col)
                n_exact += 1
                break
    options = []
    for order, cand in enumerate(cands):
        if cand.col in used:
            continue
        for pref, (key, exact_only, _) in enumerate(cand.keys):
            if exact_only:
                continue
            for c, length in _contains(table, key):
                options.append((-length, pref, order, c, cand.col))
    for _, _, _, c, col in sorted(options, key=lambda o: o[:3]):
        if c in blocked or col in used:
            continue
        assigned[c] = col
        blocked.add(c)
        used.add(col)
    return assigned, n_exact


# --------------------------------------------------------------------------- sheet view


def _text(v: Any) -> str | None:
    """The cell as header text, or None when it cannot be a header (empty, number, date)."""
    if isinstance(v, str):
        s = v.strip()
        return s or None
    return None


_is_blank_cell = is_blank_cell


class _Sheet:
    """A RawSheet with its first non-blank rows ready for header detection."""

    def __init__(self, raw: RawSheet) -> None:
        self.raw = raw
        self.name = raw.name
        self.cells = raw.cells
        self.cols = list(raw.cells.columns)
        head = raw.cells.iloc[:HEAD_SCAN]
        values = head.to_numpy(dtype=object) if len(head.columns) else np.empty((len(head), 0), object)
        self.head: list[tuple[int, dict[Any, Any]]] = []  # (position, {col: value}) non-blank rows
        for pos in range(values.shape[0]):
            row = {self.cols[j]: v for j, v in enumerate(values[pos]) if not _is_blank_cell(v)}
            if row:
                self.head.append((pos, row))
                if len(self.head) >= HEAD_ROWS:
                    break
        self.empty = not self.head

    def row_number(self, pos: int) -> int:
        return self.raw.first_row + pos

    def texts(self, row: dict[Any, Any]) -> dict[Any, str]:
        return {c: t for c, v in row.items() if (t := _text(v)) is not None}

    def single_cands(self, i: int) -> list[_Cand]:
        texts = self.texts(self.head[i][1])
        return [_Cand(c, t, [(header_key(t), False, t)]) for c, t in texts.items()]

    def double_cands(self, i: int) -> list[_Cand] | None:
        """Row i combined with the row just above it (forward-filled), or None."""
        if i == 0 or self.head[i - 1][0] != self.head[i][0] - 1:
            return None
        upper = self.texts(self.head[i - 1][1])
        lower = self.texts(self.head[i][1])
        if not upper or not lower:
            return None
        out = []
        last = None
        for c in self.cols:
            own = upper.get(c)
            if own is not None:
                last = own
            low = lower.get(c)
            if low is not None:
                keys: list[tuple[str, bool, str]] = []
                if last is not None:
                    keys.append((header_key(f"{last} {low}"), True, f"{last} {low}"))
                keys.append((header_key(low), False, low))
                if own is not None:  # "Customer" over "Name": the upper text may name the column
                    keys.append((header_key(own), True, own))
                out.append(_Cand(c, keys[0][2], keys))
            elif own is not None:
                out.append(_Cand(c, own, [(header_key(own), False, own)]))
        return out


@dataclass
class _Header:
    index: int            # index into _Sheet.head of the (lower) header row
    cands: list[_Cand]
    matched: dict[str, Any]
    exact: int
    two_rows: bool


def _find_header(sheet: _Sheet, table: str, preset_texts: dict[str, str] | None = None,
                 lenient: bool = False) -> _Header | None:
    """The best header row of `sheet` for `table` (see module doc), or None.

    `lenient`: accept a row matching a single column (to say what is missing).
    """
    if sheet.empty:
        return None
    required = TABLES[table].required_columns
    singles: list[_Header] = []
    for i in range(len(sheet.head)):
        cands = sheet.single_cands(i)
        matched, exact = _match(table, cands, _preset(cands, preset_texts))
        singles.append(_Header(i, cands, matched, exact, False))
    options = list(singles)
    for i in range(1, len(sheet.head)):
        cands = sheet.double_cands(i)
        if cands is None:
            continue
        matched, exact = _match(table, cands, _preset(cands, preset_texts))
        # a two-row header must match more than either of its rows alone
        if len(matched) > max(len(singles[i].matched), len(singles[i - 1].matched)):
            options.append(_Header(i, cands, matched, exact, True))
    best: _Header | None = None
    best_key: tuple = ()
    for hdr in options:
        n_preset = len(_preset(hdr.cands, preset_texts))
        # mapped headers found, then columns matched, then exact ones; the earlier row wins ties
        key = (n_preset, len(hdr.matched), hdr.exact, -hdr.index)
        if best is None or key > best_key:
            best, best_key = hdr, key
    if best is None:
        return None
    if best_key[0] or _enough(best.matched, required) or (lenient and best.matched):
        return best
    return None


def _enough(matched: dict[str, Any], required: list[str]) -> bool:
    return len(matched) >= 2 or (bool(required) and all(r in matched for r in required))


def _preset(cands: list[_Cand], texts: dict[str, str] | None) -> dict[str, Any]:
    """Mapping {canonical: header text} resolved to column labels in these header cells."""
    out: dict[str, Any] = {}
    if not texts:
        return out
    for canon, text in texts.items():
        if not text:
            continue
        want = header_key(text)
        for cand in cands:
            if cand.col in out.values():
                continue
            if want == header_key(cand.text) or any(want == k for k, _, _ in cand.keys):
                out[canon] = cand.col
                break
    return out


# --------------------------------------------------------------------------- messages


def _pretty(name: str) -> str:
    words = name.split("_")
    return " ".join({"id": "ID", "no": "No"}.get(w, w.capitalize()) for w in words)


def _column_examples(col: Column) -> list[str]:
    out = [_pretty(col.name)]
    seen = header_key(col.name)
    english = [s for s in col.synonyms if s.isascii()]
    pick = next((s for s in english if "#" in s),
                next((s for s in english if header_key(s) != seen), None))
    if pick:
        out.append(pick.title() if pick.islower() else pick)
    zh = next((s for s in col.synonyms if _CJK.search(s)), None)
    hu = next((s for s in col.synonyms if _HU.search(s)), None)
    out += [s for s in (zh, hu and hu[:1].upper() + hu[1:]) if s]
    return out


def _table_examples(table: Table) -> list[str]:
    out = [_pretty(table.name)]
    base = header_key(table.name).rstrip("s")
    for s in table.synonyms:
        if s.isascii() and header_key(s).rstrip("s") != base:
            out.append(s.title())
            break
    zh = next((s for s in table.synonyms if _CJK.search(s)), None)
    hu = next((s for s in table.synonyms if _HU.search(s)), None)
    out += [s for s in (zh, hu and hu[:1].upper() + hu[1:]) if s]
    return out


def _quote(items: list[str]) -> str:
    return ", ".join(f"'{s}'" for s in items)


def _missing_columns_message(sheet: str, table: Table, missing: list[str], found: list[str]) -> str:
    parts = [f"{c} (expected a header like {_quote(_column_examples(table.column(c)))})" for c in missing]
    found_text = _quote(found) if found else "no header texts"
    return f"Sheet '{sheet}' has no column for " + "; no column for ".join(parts) + f"; found: {found_text}"


def _found_texts(sheet: _Sheet, hdr: _Header | None) -> list[str]:
    if hdr is not None:
        return [c.text for c in hdr.cands]
    # no header row: show the non-blank row with the most text cells
    best: list[str] = []
    for _, row in sheet.head:
        texts = list(sheet.texts(row).values())
        if len(texts) > len(best):
            best = texts
    return best


# --------------------------------------------------------------------------- rows


def _blank_positions(cells: pd.DataFrame, start: int) -> np.ndarray:
    """Positions (>= start) of rows whose cells are all blank; vectorised per column.

    Candidates shrink column by column, so after the first well-filled column
    only a handful of rows are left to check in the others.
    """
    n = len(cells)
    cand = np.arange(start, n, dtype=np.int64)
    cols = sorted(cells.columns, key=lambda c: _cost(cells[c].dtype))
    for c in cols:
        if not len(cand):
            break
        s = cells[c]
        vals = s.iloc[cand] if len(cand) < n else s
        cand = cand[_blank_mask(vals)]
    return cand


def _cost(dtype: Any) -> int:
    if dtype == object:
        return 2
    if pd.api.types.is_string_dtype(dtype):
        return 1
    return 0


def _blank_mask(s: pd.Series) -> np.ndarray:
    na = s.isna().to_numpy(dtype=bool)
    if s.dtype != object and not pd.api.types.is_string_dtype(s.dtype):
        return na
    rest = ~na
    if not rest.any():
        return na
    sub = s[rest]
    if s.dtype != object:
        empty = sub.str.strip().eq("").to_numpy(dtype=bool)
    else:
        empty = sub.map(_is_blank_cell).to_numpy(dtype=bool)
    out = na.copy()
    out[np.flatnonzero(rest)[empty]] = True
    return out


def _first_text_key(values: list[Any]) -> tuple[str, int] | None:
    for j, v in enumerate(values):
        if isinstance(v, str) and v.strip():
            return header_key(v), j
    return None


# --------------------------------------------------------------------------- the table


def _build(sheet: _Sheet, table: str, hdr: _Header, notes: list[SkipNote]) -> RawTable:
    t = TABLES[table]
    cells = sheet.cells
    head_pos = sheet.head[hdr.index][0]
    header_row = sheet.row_number(head_pos)
    first_data = head_pos + 1

    for pos, row in sheet.head:
        if pos >= head_pos:
            break
        if hdr.two_rows and pos == head_pos - 1:
            notes.append(SkipNote(sheet.name, sheet.row_number(pos), "header",
                                  f"first row of a two-row header: {_row_text(row)}"))
        else:
            notes.append(SkipNote(sheet.name, sheet.row_number(pos), "title", _row_text(row)))

    blank = _blank_positions(cells, first_data)
    keep = np.ones(max(len(cells) - first_data, 0), dtype=bool)
    keep[blank - first_data] = False

    # copies of the header row inside the data (exports that repeat it after page breaks)
    repeats = _repeated_headers(cells, sheet.head[hdr.index][1], hdr.matched, first_data, keep)
    for pos in repeats:
        keep[pos - first_data] = False

    # trailing totals: walk back over the last non-blank rows
    id_cols = {hdr.matched[c.name] for c in t.columns if c.kind == "id" and c.name in hdr.matched}
    col_pos = {c: j for j, c in enumerate(cells.columns)}
    totals: list[int] = []
    idx = np.flatnonzero(keep)
    for k in range(len(idx) - 1, max(len(idx) - 1 - MAX_TOTAL_ROWS, -1), -1):
        pos = first_data + int(idx[k])
        values = cells.iloc[pos].tolist()
        ft = _first_text_key(values)
        if ft is None or ft[0] not in _TOTAL_KEYS:
            break
        marker_col = cells.columns[ft[1]]
        if any(not _is_blank_cell(values[col_pos[c]]) for c in id_cols if c != marker_col):
            break
        totals.append(pos)
    for pos in totals:
        keep[pos - first_data] = False

    for pos in blank:
        notes.append(SkipNote(sheet.name, sheet.row_number(int(pos)), "blank", "blank row"))
    for pos in repeats:
        notes.append(SkipNote(sheet.name, sheet.row_number(pos), "header", "header row repeated"))
    for pos in sorted(totals):
        notes.append(SkipNote(sheet.name, sheet.row_number(pos), "total",
                              f"totals row: {_row_text(dict(enumerate(cells.iloc[pos].tolist())))}"))

    kept_pos = first_data + np.flatnonzero(keep)
    columns: dict[str, pd.Series] = {}
    headers: dict[str, str] = {}
    by_col = {cand.col: cand for cand in hdr.cands}
    contiguous = len(kept_pos) > 0 and int(kept_pos[-1]) - int(kept_pos[0]) + 1 == len(kept_pos)
    take: Any = slice(int(kept_pos[0]), int(kept_pos[-1]) + 1) if contiguous else kept_pos
    hint = cells.attrs.get(TYPED_HINT) or {}
    for c in t.names:
        if c not in hdr.matched:
            continue
        label = hdr.matched[c]
        headers[c] = by_col[label].shown(table, c) if label in by_col else str(label)
        columns[c] = _values(cells[label], take, kept_pos, hint.get(label)).rename(headers[c])
    used = set(hdr.matched.values())
    unmapped = [cand.text for cand in hdr.cands if cand.col not in used]
    if unmapped:
        notes.append(SkipNote(sheet.name, header_row, "header",
                              f"columns not used for {table}: {_quote(unmapped)}"))
    rows = (sheet.raw.first_row + kept_pos).astype(np.int64)
    return RawTable(name=table, sheet=sheet.name, header_row=header_row, columns=columns,
                    rows=rows, unmapped=unmapped, headers=headers)


def _repeated_headers(cells: pd.DataFrame, header: dict[Any, Any], matched: dict[str, Any],
                      first_data: int, keep: np.ndarray) -> list[int]:
    """Positions of data rows that repeat the header texts in every mapped column."""
    labels = [c for c in matched.values() if isinstance(header.get(c), str)]
    if not labels or first_data >= len(cells):
        return []
    want = {c: str(header[c]).strip() for c in labels}
    first = labels[0]
    col = cells[first].iloc[first_data:]
    eq = col.eq(header[first]).to_numpy(dtype=bool, na_value=False) & keep
    out = []
    for k in np.flatnonzero(eq)[:10_000]:
        pos = first_data + int(k)
        row = cells.iloc[pos]
        if all(isinstance(row[c], str) and row[c].strip() == want[c] for c in labels):
            out.append(pos)
    return out


def _values(col: pd.Series, take: Any, kept_pos: np.ndarray,
            hint: tuple[pd.Series, np.ndarray] | None) -> pd.Series:
    """A column's kept values, typed when every kept value has one type (numbers, dates)."""
    if hint is not None:
        typed, other_rows = hint
        i = np.searchsorted(kept_pos, other_rows)
        i = i[i < len(kept_pos)]
        if not np.isin(kept_pos[i], other_rows).any():  # none of the odd cells is kept
            return typed.iloc[take].reset_index(drop=True)
    s = col.iloc[take].reset_index(drop=True)
    if s.dtype != object or not len(s):
        return s
    kind = infer_dtype(s.to_numpy(), skipna=True)
    if kind in ("floating", "integer", "mixed-integer-float"):
        return s.astype("float64")
    if kind in ("datetime", "datetime64"):
        return pd.Series(pd.to_datetime(s.to_numpy()))
    return s


def _row_text(row: dict[Any, Any]) -> str:
    parts = [str(v).strip() for v in row.values() if not _is_blank_cell(v)]
    text = " | ".join(parts)
    return text if len(text) <= 200 else text[:197] + "..."


# --------------------------------------------------------------------------- sheets -> tables


def _name_match(sheet_name: str) -> tuple[str, int] | None:
    """(table, strength) for a sheet name: exact synonym (big) or longest contained synonym."""
    key = header_key(sheet_name)
    if not key:
        return None
    for name, t in TABLES.items():
        if key in table_keys(t):
            return name, 1000
    best: tuple[str, int] | None = None
    best_rank = (0, 0)
    for name, t in TABLES.items():
        for s in table_keys(t):
            if _min_len_ok(s) and s in key:
                # longest synonym; on a tie the later one, the head noun ("Customer invoices")
                rank = (len(s), key.rfind(s) + len(s))
                if rank > best_rank:
                    best, best_rank = (name, len(s)), rank
    return best


def locate_tables(workbook: RawWorkbook, mapping: dict | None = None) -> TablesFound:
    """Find each canonical table's sheet, header row, columns and data rows (module doc)."""
    mapping = mapping or {}
    notes: list[SkipNote] = []
    missing: dict[str, str] = {}
    sheets = [_Sheet(s) for s in workbook.sheets]
    by_name = {s.name: s for s in sheets}
    assign: dict[str, _Sheet] = {}

    # 1. explicit mapping
    for table, spec in mapping.items():
        if table not in TABLES or not isinstance(spec, dict) or not spec.get("sheet"):
            continue
        sname = spec["sheet"]
        if sname in by_name:
            assign[table] = by_name[sname]
        else:
            missing[table] = (f"Sheet '{sname}' chosen for {table} is not in the file; found sheets: "
                              f"{_quote([s.name for s in sheets]) or 'none'}")

    taken = {id(s) for s in assign.values()}
    # 2. by sheet name (exact before contained, visible before hidden, then sheet order);
    #    an empty sheet is left to the end so that a table found elsewhere by its headers wins
    offers = []
    empty_named: dict[str, _Sheet] = {}
    for order, s in enumerate(sheets):
        m = _name_match(s.name)
        if m and m[0] not in assign and m[0] not in missing:
            if s.empty:
                empty_named.setdefault(m[0], s)
            else:
                offers.append((-m[1], s.raw.hidden, order, m[0], s))
    for *_, table, s in sorted(offers, key=lambda o: o[:3]):
        if table in assign or id(s) in taken:
            continue
        assign[table] = s
        taken.add(id(s))

    # 3. by header content
    open_tables = [t for t in TABLES if t not in assign and t not in missing]
    pairs = []
    for order, s in enumerate(sheets):
        if id(s) in taken or s.empty:
            continue
        for table in open_tables:
            hdr = _find_header(s, table)
            if hdr is None:
                continue
            req = TABLES[table].required_columns
            covered = sum(1 for r in req if r in hdr.matched)
            if (covered == len(req) and len(hdr.matched) >= 2) or (covered >= 2 and len(hdr.matched) >= 3):
                pairs.append((-(covered / len(req)), -len(hdr.matched), s.raw.hidden, order, table, s))
    for *_, table, s in sorted(pairs, key=lambda p: p[:4]):
        if table in assign or id(s) in taken:
            continue
        assign[table] = s
        taken.add(id(s))

    # 4. header, columns and rows of each assigned table
    tables: dict[str, RawTable] = {}
    for table in TABLES:
        if table not in assign:
            continue
        s = assign[table]
        t = TABLES[table]
        if s.raw.hidden:
            notes.append(SkipNote(s.name, 0, "sheet", f"sheet '{s.name}' is hidden; read as {table}"))
        if s.empty:
            missing[table] = f"Sheet '{s.name}' for {table} is empty"
            continue
        spec = mapping.get(table) if isinstance(mapping.get(table), dict) else {}
        col_map = {c: v for c, v in (spec.get("columns") or {}).items() if c in t.names}
        hdr = _find_header(s, table, {c: v for c, v in col_map.items() if v})
        if hdr is not None and col_map:
            preset = _preset(hdr.cands, {c: v for c, v in col_map.items() if v})
            not_found = [v for c, v in col_map.items() if v and c not in preset]
            skip = {c for c, v in col_map.items() if not v}
            hdr.matched, hdr.exact = _match(table, hdr.cands, preset, skip)
            if not_found:
                missing[table] = (f"Sheet '{s.name}' has no column {_quote(not_found)} chosen in the "
                                  f"column mapping for {table}; found: {_quote(_found_texts(s, hdr))}")
                continue
        req_missing = [r for r in t.required_columns if hdr is None or r not in hdr.matched]
        if req_missing:
            if hdr is None:
                hdr = _find_header(s, table, lenient=True)
                req_missing = [r for r in t.required_columns if hdr is None or r not in hdr.matched]
            missing[table] = _missing_columns_message(s.name, t, req_missing, _found_texts(s, hdr))
            continue
        assert hdr is not None
        tables[table] = _build(s, table, hdr, notes)

    for table, s in empty_named.items():
        if table not in assign and table not in missing and TABLES[table].required_table:
            missing[table] = f"Sheet '{s.name}' for {table} is empty"
    for table, t in TABLES.items():
        if t.required_table and table not in assign and table not in missing:
            found = _quote([s.name for s in sheets]) or "none"
            missing[table] = (f"No sheet for {table}: expected a sheet named like "
                              f"{_quote(_table_examples(t))}, or one with columns "
                              f"{', '.join(t.required_columns)}; found sheets: {found}")

    used = {id(s) for s in assign.values()}
    for s in sheets:
        if id(s) in used:
            continue
        if s.empty:
            notes.append(SkipNote(s.name, 0, "sheet", f"sheet '{s.name}' is empty"))
        else:
            notes.append(SkipNote(s.name, 0, "sheet",
                                  f"sheet '{s.name}' was not used: its name and headers match no table"))
    return TablesFound(tables=tables, notes=notes, missing=missing)
