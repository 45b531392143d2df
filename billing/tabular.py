"""Find the canonical tables in a raw workbook: which sheet, which header row, which column.

Pure pandas, no I/O. `locate_tables(workbook, mapping)` returns a `TablesFound`:
the raw values of each canonical column below the header, the spreadsheet row
number of each value, notes for every row that is no data (title, blank,
header, subtotal, total, skipped) and every sheet not used, the count of rows
of each kind per sheet, the tool layout recognised, ambiguous column fits, and
one plain message per required table or column that could not be found.

Rules (see also docs/DESIGN.md, billing/schema.py and billing/layouts.py):

1. Sheet -> table. A mapping's "sheet" wins. Then a tool export recognised by
   its header signature (billing.layouts) names its table. Then sheet names: a
   name whose key (billing.schema.header_key) is a table synonym, then a name
   containing a synonym (longest wins); an optional table's sheet must also
   hold its required columns ("Orders" without order lines is left for the
   others). Tables still without a sheet take the unassigned sheet whose
   header row holds all their required columns (the invoices table also takes
   a partial fit, to say what is missing), best pairs first; a sheet that is a
   complete fit for a table already placed is more rows of it, not another
   table. Further sheets with the very same columns as a table's sheet (one
   CSV per day) are more rows of that table. Hidden sheets count like visible
   ones and are reported; an empty sheet is only reported ("Sheet 'Invoices'
   for invoices is empty") when no other sheet holds the table.
2. Header row. Among the first HEAD_ROWS non-blank rows, the row matching the
   most columns of the table; it must match every required column (or one
   derivable, schema.DERIVED_FROM) or at least two columns. A row above it is
   combined with it (two-row header: "Invoice" over "No | Date | Amount") when
   the joined texts match more columns, the upper row alone lacks a required
   column, and the lower row holds no number, date or number-like text: a
   data row is never swallowed into a header.
3. Columns. A header names a column when its key is a synonym's (exact), when
   every word of a synonym is one of its words and its other words are the
   table's neutral words ("Invoice Type" is kind; "Discount Type", "Item Name",
   "Postal Code" name nothing), or when a Chinese synonym is inside it. Strong
   and weak synonyms score above and below plain ones. One best assignment
   over all columns at once (each canonical column to at most one header and
   each header to at most one column, required columns first) decides; an
   equal fit left unused is reported as ambiguous, the leftmost taken. A
   mapping's "columns", then a recognised layout's, win over the automatic
   match. Unused headers are listed in `RawTable.unmapped` and a "header" note.
4. Rows. Every row below the header is data or one of: blank (one note per run
   of blank rows), a repeat of the header, a subtotal or total row (first text
   Total / Subtotal / "Total for Acme Ltd" / 合计 / Összesen ... with the
   identifier columns otherwise empty: "subtotal" before the last data row,
   "total" after it), or a row a layout skips (a journal's receivable posting).
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
from billing.layouts import Layout, absolute_cells, negate_cells, recognise, resolve_columns
from billing.model import RawSheet, RawWorkbook, SkipNote
from billing.schema import (TABLES, table_of, TOTAL_MARKERS, Column, Synonym, Table, column_synonyms, header_key,
                            header_tokens, is_cjk, table_keys, DERIVED_FROM)

HEAD_ROWS = 30        # non-blank rows searched for the header
HEAD_SCAN = 300       # rows looked at to find those
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_HU = re.compile(r"[áéíóöőúüűÁÉÍÓÖŐÚÜŰ]")
TYPED_HINT = "linewise_typed"  # optional RawSheet.cells.attrs hint set by connectors.sources
SHEET_NOTES = "linewise_notes"  # optional RawSheet.cells.attrs [(row, text)] from the reader

__all__ = ["RawTable", "TablesFound", "locate_tables", "rows_text", "HEAD_ROWS"]


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
    row_sheets: np.ndarray | None = None  # per-row sheet name when the table spans sheets

    def __len__(self) -> int:
        return len(self.rows)

    def sheets_of_rows(self) -> np.ndarray:
        """The sheet name of each data row (object array aligned with `rows`)."""
        if self.row_sheets is not None:
            return self.row_sheets
        return np.full(len(self.rows), self.sheet, dtype=object)


@dataclass
class TablesFound:
    """What locate_tables found. `rows[sheet]` counts every row of each sheet read by kind
    (title, header, blank, data, subtotal, total, skipped): each row is exactly one of them.
    `layouts[table]` names a recognised tool export; `ambiguous[table][column]` lists the
    header texts that fit a column equally well, the one used first."""

    tables: dict[str, RawTable]
    notes: list[SkipNote]
    missing: dict[str, str]
    layouts: dict[str, str] = field(default_factory=dict)
    ambiguous: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    rows: dict[str, dict[str, int]] = field(default_factory=dict)

    def suggested_mapping(self) -> dict[str, dict]:
        """For each table with an ambiguous column: the mapping as read (the best guesses filled
        in), in the shape `locate_tables(mapping=...)` takes, for the user to confirm or change."""
        return {table: {"sheet": self.tables[table].sheet, "columns": dict(self.tables[table].headers)}
                for table in self.ambiguous if table in self.tables}


# --------------------------------------------------------------------------- matching helpers


def _min_len_ok(key: str) -> bool:
    return len(key) >= 3 or (len(key) >= 2 and not key.isascii())


# Scores of a header for a column (see _scores): an exact synonym beats a match on words, which
# beats a Chinese synonym found inside a longer header; strong/weak synonyms move up/down.
EXACT, WORDS, CJK_PART = 100.0, 70.0, 50.0
TIER_BONUS = {1: 25.0, 0: 0.0, -1: -40.0}
REQUIRED_BONUS = 1000.0  # a contested header goes to the required column


@dataclass(frozen=True)
class _SynIndex:
    by_key: dict[str, tuple[Synonym, ...]]
    by_word: dict[str, tuple[Synonym, ...]]
    cjk: tuple[Synonym, ...]
    neutral: frozenset[str]


@lru_cache(maxsize=None)
def _index(table: str) -> _SynIndex:
    by_key: dict[str, list[Synonym]] = {}
    by_word: dict[str, list[Synonym]] = {}
    cjk = []
    for syn in column_synonyms(table_of(table)):
        by_key.setdefault(syn.key, []).append(syn)
        for w in set(syn.words):
            by_word.setdefault(w, []).append(syn)
        if is_cjk(syn.key) and len(syn.key) >= 2:
            cjk.append(syn)
    neutral = frozenset(w for n in table_of(table).neutral for w in header_tokens(n))
    return _SynIndex({k: tuple(v) for k, v in by_key.items()},
                     {k: tuple(v) for k, v in by_word.items()}, tuple(cjk), neutral)


@lru_cache(maxsize=65536)
def _scores(table: str, text: str, exact_only: bool) -> tuple[tuple[str, float], ...]:
    """(canonical column, score) for every column the header `text` can name.

    Exact: the header's key is a synonym's key. Words: every word of a synonym is a word of
    the header and the header's other words are the table's neutral words ("Invoice Type" is
    kind; "Discount Type", "Price List", "Postal Code", "Item Name" name nothing). Chinese:
    a Chinese synonym inside the header (no spaces between Chinese words: 货币符号 is currency).
    """
    idx = _index(table)
    key = header_key(text)
    best: dict[str, float] = {}

    def offer(syn: Synonym, score: float) -> None:
        score += TIER_BONUS[syn.tier]
        if score > best.get(syn.column, 0.0):
            best[syn.column] = score

    for syn in idx.by_key.get(key, ()):
        offer(syn, EXACT)
    if not exact_only and key:
        words = set(header_tokens(text))
        seen: set[Synonym] = set()
        for w in words:
            for syn in idx.by_word.get(w, ()):
                if syn in seen:
                    continue
                seen.add(syn)
                own = set(syn.words)
                if own <= words and words - own <= idx.neutral:
                    offer(syn, WORDS + 20.0 * len(own) / len(words))
        if is_cjk(key):
            for syn in idx.cjk:
                if syn.key in key and syn.key != key:
                    offer(syn, CJK_PART + 20.0 * len(syn.key) / len(key))
    return tuple(best.items())


@dataclass
class _Cand:
    """A header cell: (text, exact_only) alternatives in order of preference, shown text first."""

    col: Any
    text: str
    keys: list[tuple[str, bool, str]]

    def scores(self, table: str) -> dict[str, tuple[float, str]]:
        """canonical -> (best score, the text that gave it: "Currency", not "Customer Currency")."""
        out: dict[str, tuple[float, str]] = {}
        for _, exact_only, text in self.keys:
            for c, score in _scores(table, text, exact_only):
                if score > out.get(c, (0.0, ""))[0]:
                    out[c] = (score, text)
        return out

    def shown(self, table: str, canonical: str) -> str:
        return self.scores(table).get(canonical, (0.0, self.text))[1]


@dataclass
class _Match:
    """The best assignment of header cells to canonical columns."""

    assigned: dict[str, Any]      # canonical -> column label
    exact: int                    # how many by an exact synonym
    score: float                  # sum of the assigned scores
    ambiguous: dict[str, list[Any]] = field(default_factory=dict)  # canonical -> labels (chosen first)


def _match(table: str, cands: list[_Cand], preset: dict[str, Any] | None = None,
           skip: set[str] | None = None) -> _Match:
    """Each canonical column to at most one header and each header to at most one column,
    maximising the summed scores (an exact assignment over all columns at once).

    A column whose best score is shared by another header left unassigned is ambiguous: the
    leftmost is taken as the best guess and both are reported.
    """
    assigned: dict[str, Any] = dict(preset or {})
    used = set(assigned.values())
    blocked = set(skip or ()) | set(assigned)
    t = table_of(table)
    free = [c for c in cands if c.col not in used]
    scores = [c.scores(table) for c in free]
    fields = [c.name for c in t.columns if c.name not in blocked and any(c.name in s for s in scores)]
    if not fields:
        return _Match(assigned, 0, 0.0)
    raw = np.zeros((len(fields), len(free)))
    for j, sc in enumerate(scores):
        for i, f in enumerate(fields):
            raw[i, j] = sc.get(f, (0.0, ""))[0]
    required = np.array([t.column(f).required for f in fields])
    # leftmost wins a tie (a tiny, order-preserving nudge); required columns win a contest
    weight = np.where(raw > 0, raw + REQUIRED_BONUS * required[:, None]
                      - 1e-6 * np.arange(len(free))[None, :], 0.0)
    n_exact, total = 0, 0.0
    taken: dict[int, int] = {}
    for i, j in _best_assignment(weight):
        if raw[i, j] <= 0:
            continue
        taken[j] = i
        assigned[fields[i]] = free[j].col
        n_exact += raw[i, j] >= EXACT
        total += raw[i, j]
    ambiguous: dict[str, list[Any]] = {}
    for j, i in taken.items():
        ties = [free[k].col for k in range(len(free))
                if k != j and k not in taken and raw[i, k] == raw[i, j]]
        if ties:
            ambiguous[fields[i]] = [free[j].col, *ties]
    return _Match(assigned, n_exact, total, ambiguous)


def _best_assignment(weight: np.ndarray) -> list[tuple[int, int]]:
    """Rows to distinct columns maximising the summed weight (Hungarian method, O(n²m)).

    `weight` is n × m; the smaller side is fully assigned (zero-weight pairs are dropped by
    the caller). Small matrices only: a header row's candidate cells for one table.
    """
    n, m = weight.shape
    if n > m:
        return [(i, j) for j, i in _best_assignment(weight.T)]
    cost = weight.max(initial=0.0) - weight  # minimise
    inf = float("inf")
    u, v = np.zeros(n + 1), np.zeros(m + 1)
    p = np.zeros(m + 1, dtype=np.int64)   # p[j]: row (1-based) assigned to column j
    way = np.zeros(m + 1, dtype=np.int64)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = np.full(m + 1, inf)
        done = np.zeros(m + 1, dtype=bool)
        while True:
            done[j0] = True
            i0 = p[j0]
            cur = cost[i0 - 1] - u[i0] - v[1:]
            open_ = ~done[1:]
            better = open_ & (cur < minv[1:])
            minv[1:][better] = cur[better]
            way[1:][better] = j0
            cand = np.where(open_, minv[1:], inf)
            j1 = int(np.argmin(cand)) + 1
            delta = cand[j1 - 1]
            u[p[done]] += delta
            v[done] -= delta
            minv[1:][open_] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
    return [(int(p[j]) - 1, j - 1) for j in range(1, m + 1) if p[j]]


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
    match: _Match
    two_rows: bool

    @property
    def matched(self) -> dict[str, Any]:
        return self.match.assigned


def _find_header(sheet: _Sheet, table: str, preset_texts: dict[str, str] | None = None,
                 lenient: bool = False) -> _Header | None:
    """The best header row of `sheet` for `table` (see module doc), or None.

    `lenient`: accept a row matching a single column (to say what is missing).
    """
    if sheet.empty:
        return None
    singles: list[_Header] = []
    for i in range(len(sheet.head)):
        cands = sheet.single_cands(i)
        singles.append(_Header(i, cands, _match(table, cands, _preset(cands, preset_texts)), False))
    options = list(singles)
    for i in range(1, len(sheet.head)):
        if not _may_be_lower_header(table, singles[i - 1], sheet.head[i][1]):
            continue
        cands = sheet.double_cands(i)
        if cands is None:
            continue
        m = _match(table, cands, _preset(cands, preset_texts))
        # a two-row header must match more than either of its rows alone
        if len(m.assigned) > max(len(singles[i].matched), len(singles[i - 1].matched)):
            options.append(_Header(i, cands, m, True))
    best: _Header | None = None
    best_key: tuple = ()
    for hdr in options:
        n_preset = len(_preset(hdr.cands, preset_texts))
        # mapped headers found, then columns matched, exact ones, scores; the earlier row wins ties
        key = (n_preset, len(hdr.matched), hdr.match.exact, hdr.match.score, -hdr.index)
        if best is None or key > best_key:
            best, best_key = hdr, key
    if best is None:
        return None
    if best_key[0] or _enough(table, best.matched) or (lenient and best.matched):
        return best
    return None


_DATA_TEXT = re.compile(r"^[\s$€£¥￥₱(+\-]*\d[\d\s.,:/'\-]*[)\-]?\s*(?:[A-Za-z]{3}|[%€$£])?\s*$")


def _may_be_lower_header(table: str, upper: _Header, row: dict[Any, Any]) -> bool:
    """Can `row` be the lower half of a two-row header under the row `upper`?

    Not when the upper row is a complete header on its own (the row below it is data:
    "Notes" over "incl. VAT" is no header "Notes incl. VAT"), nor when the row holds a
    number, a date or text that reads as one (data, even in a CSV where every cell is text).
    """
    if not _missing_required(table, upper.matched):
        return False
    for v in row.values():
        if not isinstance(v, str) or _DATA_TEXT.match(v):
            return False
    return True


def _missing_required(table: str, matched: dict[str, Any]) -> list[str]:
    """Required columns neither matched nor derivable from matched ones (schema.DERIVED_FROM)."""
    out = []
    for r in table_of(table).required_columns:
        if r in matched:
            continue
        needs = DERIVED_FROM.get((table, r))
        if needs is not None and all(n in matched for n in needs):
            continue
        out.append(r)
    return out


def _telling(table: str, matched: dict[str, Any]) -> int:
    """How many matched columns say the sheet is `table` (its supporting columns, such as a
    customer's country on an invoice-line export, do not)."""
    return sum(c not in table_of(table).supporting for c in matched)


def _enough(table: str, matched: dict[str, Any]) -> bool:
    return _telling(table, matched) >= 2 or (bool(table_of(table).required_columns)
                                             and not _missing_required(table, matched))


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


# A total or subtotal row's first text: "Total", "Subtotal", "Grand total", "Total for Acme Ltd",
# "Totals:", 合计, 小计, Összesen ...
_TOTAL_TEXT = re.compile(
    r"^\s*(?:" + "|".join(re.escape(m).replace(r"\ ", r"\s*-?\s*")
                          for m in sorted(TOTAL_MARKERS, key=len, reverse=True))
    + r")(?:\b|\s|:|$|(?<=[\u3400-\u9fff]))",  # a Chinese marker needs no word boundary: 合计金额
    re.IGNORECASE)
TOTAL_SCAN_COLUMNS = 3  # total markers are looked for in a row's first few columns


def _total_rows(cells: pd.DataFrame, keep: np.ndarray, first_data: int, id_cols: set[Any]) -> np.ndarray:
    """Positions of kept rows whose first text is a total marker and whose identifier columns
    (other than the marker's own) are empty: subtotal and total rows, not data.

    Vectorised: the marker is searched in the first columns with one regex per column, and
    only the (few) candidate rows are looked at cell by cell.
    """
    body = cells.iloc[first_data:]
    # a total row leaves all identifier columns but (perhaps) the marker's own empty: only such
    # rows are candidates, so a sheet of ordinary data rows costs one blank test per id column
    filled = np.zeros(len(body), dtype=np.int64)
    for c in id_cols:  # missing or "" (C-level tests; white space counts as filled here)
        col = body[c]
        empty = col.isna().to_numpy(dtype=bool)
        if col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
            empty = empty | col.eq("").to_numpy(dtype=bool, na_value=True)
        filled += ~empty
    rows = np.flatnonzero(keep & (filled <= 1))
    cand = np.zeros(len(body), dtype=bool)
    if not len(rows):
        return np.array([], dtype=np.int64)
    for c in list(cells.columns)[:TOTAL_SCAN_COLUMNS]:
        col = body[c].iloc[rows]
        if col.dtype != object and not pd.api.types.is_string_dtype(col.dtype):
            continue
        text = col.where(col.map(type) == str) if col.dtype == object else col
        cand[rows] |= text.astype("string").str.match(_TOTAL_TEXT).fillna(False).to_numpy(dtype=bool)
    col_pos = {c: j for j, c in enumerate(cells.columns)}
    out = []
    for k in np.flatnonzero(cand):
        pos = first_data + int(k)
        values = cells.iloc[pos].tolist()
        first = next(((j, v) for j, v in enumerate(values) if isinstance(v, str) and v.strip()), None)
        if first is None or not _TOTAL_TEXT.match(first[1]):
            continue
        marker_col = cells.columns[first[0]]
        if any(not _is_blank_cell(values[col_pos[c]]) for c in id_cols if c != marker_col):
            continue
        out.append(pos)
    return np.array(out, dtype=np.int64)


def _runs(rows: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive row numbers grouped: [3, 4, 5, 9] -> [(3, 5), (9, 9)]."""
    if not len(rows):
        return []
    rows = np.sort(np.asarray(rows, dtype=np.int64))
    breaks = np.flatnonzero(np.diff(rows) != 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(rows) - 1]])
    return [(int(rows[a]), int(rows[b])) for a, b in zip(starts, ends)]


def _span(a: int, b: int) -> str:
    return f"row {a:,}" if a == b else f"rows {a:,}–{b:,}"


def _blank_notes(sheet: str, rows: np.ndarray) -> list[SkipNote]:
    """One note per run of blank rows ("rows 12–1,048,576 blank"), not one per row."""
    return [SkipNote(sheet, a, "blank", "blank row" if a == b else f"{_span(a, b)} blank")
            for a, b in _runs(rows)]


def rows_text(rows: np.ndarray, limit: int = 12) -> str:
    runs = _runs(rows)
    parts = [f"{a:,}" if a == b else f"{a:,}–{b:,}" for a, b in runs[:limit]]
    more = f" and {len(runs) - limit} more runs" if len(runs) > limit else ""
    return ("row " if len(rows) == 1 else "rows ") + ", ".join(parts) + more


# --------------------------------------------------------------------------- the table


@dataclass
class _Body:
    """Where a sheet's rows below its header went: data positions and the reported others."""

    data: np.ndarray                       # positions of data rows
    kinds: dict[str, int]                  # row kind -> how many (every row of the sheet)


def _classify_rows(sheet: _Sheet, table: str, hdr: _Header, notes: list[SkipNote],
                   groups: "_Groups | None" = None) -> _Body:
    """Every row of the sheet accounted for: title, blank, header, data, subtotal, total (and
    group, the customer rows of a grouped report)."""
    t = TABLES[table]
    cells = sheet.cells
    head_pos = sheet.head[hdr.index][0]
    first_data = head_pos + 1
    kinds = {"title": 0, "header": 1, "blank": 0, "data": 0, "subtotal": 0, "total": 0}

    in_head = {q for q, _ in sheet.head}
    above_blank = [p for p in range(head_pos) if p not in in_head]
    above = _blank_notes(sheet.name, sheet.raw.first_row + np.array(above_blank, dtype=np.int64))
    kinds["blank"] += len(above_blank)
    for pos, row in sheet.head:
        if pos >= head_pos:
            break
        if hdr.two_rows and pos == head_pos - 1:
            kinds["header"] += 1
            above.append(SkipNote(sheet.name, sheet.row_number(pos), "header",
                                  f"first row of a two-row header: {_row_text(row)}"))
        else:
            kinds["title"] += 1
            above.append(SkipNote(sheet.name, sheet.row_number(pos), "title", _row_text(row)))
    notes.extend(sorted(above, key=lambda n: n.row))

    blank = _blank_positions(cells, first_data)
    keep = np.ones(max(len(cells) - first_data, 0), dtype=bool)
    keep[blank - first_data] = False
    repeats = _repeated_headers(cells, sheet.head[hdr.index][1], hdr.matched, first_data, keep)
    for pos in repeats:
        keep[pos - first_data] = False
    group_rows = groups.rows if groups is not None else np.array([], dtype=np.int64)
    keep[group_rows - first_data] = False
    id_cols = {hdr.matched[c.name] for c in t.columns if c.kind == "id" and c.name in hdr.matched}
    totals = _total_rows(cells, keep, first_data, id_cols)
    keep[totals - first_data] = False
    # the totals after the last data row are the sheet's totals; the others are subtotals
    last_data = first_data + int(np.flatnonzero(keep)[-1]) if keep.any() else first_data - 1
    trailing = totals[totals > last_data]
    subtotals = totals[totals <= last_data]

    below = _blank_notes(sheet.name, sheet.raw.first_row + blank)
    for pos in repeats:
        below.append(SkipNote(sheet.name, sheet.row_number(pos), "header", "header row repeated"))
    for kind, found in (("subtotal", subtotals), ("total", trailing)):
        for pos in found:
            text = _row_text(dict(enumerate(cells.iloc[int(pos)].tolist())))
            below.append(SkipNote(sheet.name, sheet.row_number(int(pos)), kind,
                                  f"{'subtotal' if kind == 'subtotal' else 'totals'} row: {text}"))
    for pos, name in zip(group_rows, groups.names if groups is not None else ()):
        below.append(SkipNote(sheet.name, sheet.row_number(int(pos)), "group",
                              f"customer group row: {name} (its rows take it as their customer)"))
    notes.extend(sorted(below, key=lambda n: n.row))
    if len(group_rows):
        kinds["group"] = len(group_rows)
    data = first_data + np.flatnonzero(keep)
    kinds.update(blank=kinds["blank"] + len(blank), header=kinds["header"] + len(repeats),
                 subtotal=len(subtotals), total=len(trailing), data=len(data))
    return _Body(data.astype(np.int64), kinds)


_TOTAL_FOR = re.compile(r"^\s*total\s+(?:for\s+)?(.+?)\s*$", re.IGNORECASE)


@dataclass
class _Groups:
    """A report grouped by customer (QuickBooks): a row holding only the customer's name opens
    the group, "Total for <name>" closes it."""

    rows: np.ndarray            # positions of the group rows
    names: list[str]
    starts: np.ndarray          # group i spans positions starts[i] .. ends[i]
    ends: np.ndarray

    def name_at(self, positions: np.ndarray) -> pd.Series:
        """The customer of each position (None outside every group)."""
        i = np.searchsorted(self.starts, positions, side="right") - 1
        inside = (i >= 0) & (positions <= self.ends[np.maximum(i, 0)])
        names = np.array(self.names + [None], dtype=object)
        return pd.Series(names[np.where(inside, i, len(self.names))], dtype=object)


def _customer_groups(sheet: _Sheet, first_data: int) -> _Groups | None:
    """The customer groups of a grouped report, or None (looked for only when a sheet has no
    customer column). A group row is the nearest row above "Total for X" whose only cell is X."""
    cells = sheet.cells
    if not len(cells.columns) or first_data >= len(cells):
        return None
    first = cells[cells.columns[0]].iloc[first_data:]
    text = first.where(first.map(type) == str).astype("string")
    closing = text.str.extract(_TOTAL_FOR, expand=False).dropna()
    rows, names, starts, ends = [], [], [], []
    floor = first_data
    for k, name in closing.items():
        end = first_data + first.index.get_loc(k)
        want = name.strip().casefold()
        for pos in range(end - 1, floor - 1, -1):
            row = cells.iloc[pos].tolist()
            if isinstance(row[0], str) and row[0].strip().casefold() == want and \
                    all(_is_blank_cell(v) for v in row[1:]):
                rows.append(pos)
                names.append(row[0].strip())
                starts.append(pos)
                ends.append(end)
                break
        floor = end + 1
    if not rows:
        return None
    return _Groups(np.array(rows, dtype=np.int64), names, np.array(starts), np.array(ends))


def _build(sheet: _Sheet, table: str, hdr: _Header, positions: np.ndarray,
           notes: list[SkipNote], columns_note: bool = True) -> RawTable:
    """The RawTable of `table` from the rows at `positions` (sorted) under header `hdr`."""
    t = TABLES[table]
    cells = sheet.cells
    header_row = sheet.row_number(sheet.head[hdr.index][0])
    columns: dict[str, pd.Series] = {}
    headers: dict[str, str] = {}
    by_col = {cand.col: cand for cand in hdr.cands}
    contiguous = len(positions) > 0 and int(positions[-1]) - int(positions[0]) + 1 == len(positions)
    take: Any = slice(int(positions[0]), int(positions[-1]) + 1) if contiguous else positions
    hint = cells.attrs.get(TYPED_HINT) or {}
    for c in t.names:
        if c not in hdr.matched:
            continue
        label = hdr.matched[c]
        headers[c] = by_col[label].shown(table, c) if label in by_col else str(label)
        columns[c] = _values(cells[label], take, positions, hint.get(label)).rename(headers[c])
    used = set(hdr.matched.values())
    unmapped = [cand.text for cand in hdr.cands if cand.col not in used]
    if unmapped and columns_note:
        notes.append(SkipNote(sheet.name, header_row, "header",
                              f"columns not used for {table}: {_quote(unmapped)}"))
    rows = (sheet.raw.first_row + positions).astype(np.int64)
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


def _concat(parts: list[RawTable]) -> RawTable:
    """One table from the same table read off several sheets (or split off one), rows in order."""
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    names = [c for c in TABLES[first.name].names if any(c in p.columns for p in parts)]
    columns = {}
    for c in names:
        pieces = [p.columns[c] if c in p.columns else pd.Series([None] * len(p), dtype=object)
                  for p in parts]
        if len({str(x.dtype) for x in pieces}) > 1:
            pieces = [x.astype(object) for x in pieces]
        header = next(p.headers[c] for p in parts if c in p.headers)
        columns[c] = pd.concat(pieces, ignore_index=True).rename(header)
    headers = {c: next(p.headers[c] for p in parts if c in p.headers) for c in names}
    return RawTable(name=first.name, sheet=first.sheet, header_row=first.header_row, columns=columns,
                    rows=np.concatenate([p.rows for p in parts]).astype(np.int64),
                    unmapped=first.unmapped, headers=headers,
                    row_sheets=np.concatenate([p.sheets_of_rows() for p in parts]))


def _sheet_layout(sheet: _Sheet) -> Layout | None:
    """A tool export recognised in one of the sheet's first rows."""
    for i in range(len(sheet.head)):
        texts = list(sheet.texts(sheet.head[i][1]).values())
        if len(texts) >= 3:
            layout = recognise(texts)
            if layout is not None:
                return layout
    return None


def _table_header(s: _Sheet, table: str, col_map: dict[str, str],
                  layout: Layout | None) -> tuple[_Header | None, list[str]]:
    """The header row with the user's mapping, then the layout's columns, as presets.
    Returns the header and the mapped header texts not found in it."""
    wanted = {c: v for c, v in col_map.items() if v}
    hdr = _find_header(s, table, wanted or None)
    if hdr is None:
        return None, []
    spec = dict(layout.columns) if layout is not None and layout.table == table else {}
    texts = [c.text for c in hdr.cands]
    from_layout, layout_skip = resolve_columns(spec, texts)
    preset_texts = {**from_layout, **wanted}
    preset = _preset(hdr.cands, preset_texts)
    skip = ({c for c, v in col_map.items() if not v} | layout_skip) - set(wanted)
    not_found = [v for c, v in wanted.items() if c not in preset]
    if preset or skip:
        hdr.match = _match(table, hdr.cands, preset, skip - set(preset))
    return hdr, not_found


def _apply_kinds(raw: RawTable, layout: Layout) -> None:
    """The tool's document-type values as Linewise kinds (SAP DG -> credit_note)."""
    if not layout.kinds or "kind" not in raw.columns:
        return
    col = raw.columns["kind"]

    def word(v: Any) -> Any:
        if isinstance(v, float) and v == int(v):
            v = int(v)
        key = str(v).strip().casefold() if v is not None and not _is_blank_cell(v) else None
        return layout.kinds.get(key, v) if key is not None else v
    raw.columns["kind"] = col.astype(object).map(word).rename(col.name)


def _split_rows(s: _Sheet, hdr: _Header, layout: Layout, data: np.ndarray,
                notes: list[SkipNote], kinds: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """(invoice positions, payment positions) of a journal-like export; other rows reported."""
    by_text = {header_key(c.text): c.col for c in hdr.cands}

    def get(text: str) -> pd.Series:
        label = by_text.get(header_key(text))
        if label is None:
            raise KeyError(text)
        return s.cells[label].iloc[data].reset_index(drop=True)

    target = np.asarray(layout.split(get), dtype=object)
    if len(target) != len(data):
        return data, np.array([], dtype=np.int64)
    for reason in sorted({t for t in target if t.startswith("skip:")}):
        rows = s.raw.first_row + data[target == reason]
        kinds["skipped"] = kinds.get("skipped", 0) + len(rows)
        notes.append(SkipNote(s.name, int(rows[0]), "skipped",
                              f"{rows_text(rows)}: {reason[5:].strip()} ({layout.name})"))
    kinds["data"] = int((target == "invoices").sum() + (target == "payments").sum())
    return data[target == "invoices"], data[target == "payments"]


def _split_payments(s: _Sheet, hdr: _Header, layout: Layout, positions: np.ndarray,
                    notes: list[SkipNote]) -> RawTable:
    texts = [c.text for c in hdr.cands]
    chosen, _ = resolve_columns(dict(layout.payments), texts)
    preset = _preset(hdr.cands, chosen)
    others = set(TABLES["payments"].names) - set(preset)
    phdr = _Header(hdr.index, hdr.cands, _match("payments", hdr.cands, preset, others), hdr.two_rows)
    raw = _build(s, "payments", phdr, positions, notes, columns_note=False)
    if layout.payment_sign <= 0 and "amount" in raw.columns:
        turn = negate_cells if layout.payment_sign < 0 else absolute_cells
        raw.columns["amount"] = turn(raw.columns["amount"]).rename(raw.columns["amount"].name)
    return raw


def _assign_sheets(sheets: list[_Sheet], mapping: dict, missing: dict[str, str],
                   layouts: dict[int, Layout]) -> tuple[dict[str, _Sheet], dict[str, _Sheet], list[_Sheet]]:
    """Sheet of each table: by the mapping, by a recognised layout, by name, then by headers.

    Returns (assigned, empty sheets named like a table, sheets named like an optional table
    whose headers do not fit it)."""
    by_name = {s.name: s for s in sheets}
    assign: dict[str, _Sheet] = {}
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
    for s in sheets:  # a tool's export names its own table
        layout = layouts.get(id(s))
        if layout is not None and layout.table not in assign and layout.table not in missing \
                and id(s) not in taken:
            assign[layout.table] = s
            taken.add(id(s))

    offers, misfits = [], []
    empty_named: dict[str, _Sheet] = {}
    for order, s in enumerate(sheets):
        m = _name_match(s.name)
        if not m or m[0] in assign or m[0] in missing or id(s) in taken:
            continue
        if s.empty:
            empty_named.setdefault(m[0], s)
            continue
        t = TABLES[m[0]]
        if not t.required_table and m[0] != "payments" and not mapping.get(m[0]):
            hdr = _find_header(s, m[0])
            if hdr is None or _missing_required(m[0], hdr.matched):
                misfits.append(s)  # "Orders" without order lines: maybe another table's sheet
                continue
        offers.append((-m[1], s.raw.hidden, order, m[0], s))
    for *_, table, s in sorted(offers, key=lambda o: o[:3]):
        if table in assign or id(s) in taken:
            continue
        assign[table] = s
        taken.add(id(s))

    open_tables = [t for t in TABLES if t not in assign and t not in missing]
    pairs = []
    for order, s in enumerate(sheets):
        if id(s) in taken or s.empty or _fits_assigned(s, assign):
            continue
        for table in open_tables:
            hdr = _find_header(s, table)
            if hdr is None:
                continue
            req = TABLES[table].required_columns
            lacking = _missing_required(table, hdr.matched)
            covered = len(req) - len(lacking)
            # a partial fit (to say what is missing) only for the required table; an optional
            # table or payments takes a sheet by its headers only when nothing is missing
            partial_ok = TABLES[table].required_table and covered >= 2 and len(hdr.matched) >= 3
            if (not lacking and _telling(table, hdr.matched) >= 2) or partial_ok:
                pairs.append((-(covered / len(req)), -len(hdr.matched), s.raw.hidden, order, table, s))
    for *_, table, s in sorted(pairs, key=lambda p: p[:4]):
        if table in assign or id(s) in taken:
            continue
        assign[table] = s
        taken.add(id(s))
    return assign, empty_named, [s for s in misfits if id(s) not in taken]


def _fits_assigned(s: _Sheet, assign: dict[str, _Sheet]) -> bool:
    """Is `s` a complete sheet of a table already assigned (more rows of it, not another table)?"""
    for table in assign:
        hdr = _find_header(s, table)
        if hdr is not None and not _missing_required(table, hdr.matched):
            return True
    return False


def _header_signature(hdr: _Header) -> frozenset[tuple[str, str]]:
    by_col = {c.col: c for c in hdr.cands}
    return frozenset((c, header_key(by_col[label].text)) for c, label in hdr.matched.items() if label in by_col)


def locate_tables(workbook: RawWorkbook, mapping: dict | None = None) -> TablesFound:
    """Find each canonical table's sheet, header row, columns and data rows (module doc)."""
    mapping = mapping or {}
    notes: list[SkipNote] = []
    missing: dict[str, str] = {}
    sheets = [_Sheet(s) for s in workbook.sheets]
    for s in workbook.sheets:  # what the reader had to say (lines that were not UTF-8 ...)
        notes.extend(SkipNote(s.name, int(row), "encoding", str(text))
                     for row, text in (s.cells.attrs.get(SHEET_NOTES) or ()))
    sheet_layouts = {id(s): lay for s in sheets if (lay := _sheet_layout(s)) is not None}
    assign, empty_named, misfits = _assign_sheets(sheets, mapping, missing, sheet_layouts)
    found = TablesFound(tables={}, notes=notes, missing=missing)
    parts: dict[str, list[RawTable]] = {}
    headers: dict[str, tuple[_Sheet, _Header]] = {}
    for table in TABLES:
        if table in assign:
            _read_assigned(assign[table], table, mapping, sheet_layouts.get(id(assign[table])),
                           found, parts, headers)

    used = {id(s) for s in assign.values()}
    for s in sheets:  # more sheets with the very same columns: more rows of that table
        if id(s) in used or s.empty:
            continue
        for table, (first, hdr) in headers.items():
            other = _find_header(s, table)
            if other is not None and _header_signature(other) == _header_signature(hdr):
                body = _classify_rows(s, table, other, notes)
                found.rows[s.name] = body.kinds
                parts[table].append(_build(s, table, other, body.data, notes))
                notes.append(SkipNote(s.name, 0, "sheet", f"sheet '{s.name}' read as more {table} "
                                                         f"(same columns as sheet '{first.name}')"))
                used.add(id(s))
                break
    for table, ps in parts.items():
        found.tables[table] = _concat(ps)

    for table, s in empty_named.items():
        if table not in assign and table not in missing and TABLES[table].required_table:
            missing[table] = f"Sheet '{s.name}' for {table} is empty"
    for table, t in TABLES.items():
        if t.required_table and table not in assign and table not in missing:
            names = _quote([s.name for s in sheets]) or "none"
            missing[table] = (f"No sheet for {table}: expected a sheet named like "
                              f"{_quote(_table_examples(t))}, or one with columns "
                              f"{', '.join(t.required_columns)}; found sheets: {names}")
    misfit_ids = {id(s) for s in misfits}
    for s in sheets:
        if id(s) in used:
            continue
        if s.empty:
            notes.append(SkipNote(s.name, 0, "sheet", f"sheet '{s.name}' is empty"))
        elif id(s) in misfit_ids:
            table = _name_match(s.name)[0]
            hdr = _find_header(s, table, lenient=True)
            lacking = _missing_required(table, hdr.matched if hdr else {})
            notes.append(SkipNote(s.name, 0, "sheet",
                                  f"sheet '{s.name}' is named like {table} but has no column for "
                                  f"{', '.join(lacking)}; not used"))
        else:
            notes.append(SkipNote(s.name, 0, "sheet",
                                  f"sheet '{s.name}' was not used: its name and headers match no table"))
    return found


def _read_assigned(s: _Sheet, table: str, mapping: dict, layout: Layout | None, found: TablesFound,
                   parts: dict[str, list[RawTable]], headers: dict[str, tuple[_Sheet, _Header]]) -> None:
    """Header, columns and rows of `table` on its sheet `s`; a failure goes to found.missing,
    or, for an optional table, to a note (the table is left out and the load goes on)."""
    t = TABLES[table]
    notes, missing = found.notes, found.missing
    if s.raw.hidden:
        notes.append(SkipNote(s.name, 0, "sheet", f"sheet '{s.name}' is hidden; read as {table}"))
    if s.empty:
        missing[table] = f"Sheet '{s.name}' for {table} is empty"
        return
    spec = mapping.get(table) if isinstance(mapping.get(table), dict) else {}
    col_map = {c: v for c, v in (spec.get("columns") or {}).items() if c in t.names}
    layout = layout if layout is not None and layout.table == table else None
    hdr, not_found = _table_header(s, table, col_map, layout)
    if not_found:
        missing[table] = (f"Sheet '{s.name}' has no column {_quote(not_found)} chosen in the "
                          f"column mapping for {table}; found: {_quote(_found_texts(s, hdr))}")
        return
    lacking = _missing_required(table, hdr.matched) if hdr is not None else t.required_columns
    groups = None
    if hdr is not None and lacking == ["customer_id"] and "customer_id" not in col_map:
        groups = _customer_groups(s, s.head[hdr.index][0] + 1)
        lacking = [] if groups is not None else lacking
    if lacking:
        if hdr is None:
            hdr = _find_header(s, table, lenient=True)
            lacking = _missing_required(table, hdr.matched if hdr else {})
        message = _missing_columns_message(s.name, t, lacking, _found_texts(s, hdr))
        if t.required_table or table == "payments":
            missing[table] = message
        else:
            notes.append(SkipNote(s.name, 0, "table", f"{message}; {table} left out"))
        return
    assert hdr is not None
    if layout is not None:
        found.layouts[table] = layout.name
        notes.append(SkipNote(s.name, 0, "layout", f"recognised: {layout.name}"))
        if layout.convention:
            notes.append(SkipNote(s.name, 0, "convention", f"{layout.name}: {layout.convention}"))
    for column, labels in hdr.match.ambiguous.items():
        by_col = {c.col: c.text for c in hdr.cands}
        texts = [by_col[x] for x in labels]
        found.ambiguous.setdefault(table, {})[column] = texts
        notes.append(SkipNote(s.name, sheet_row(s, hdr), "ambiguous",
                              f"{table}.{column}: {_quote(texts)} fit equally well; used "
                              f"'{texts[0]}' (choose another in the column mapping if that is wrong)"))
    body = _classify_rows(s, table, hdr, notes, groups)
    found.rows[s.name] = body.kinds
    data, pay = body.data, np.array([], dtype=np.int64)
    if layout is not None and layout.split is not None:
        data, pay = _split_rows(s, hdr, layout, data, notes, body.kinds)
    raw = _build(s, table, hdr, data, notes)
    if groups is not None:
        raw.columns["customer_id"] = groups.name_at(data).rename("customer group row")
        raw.headers["customer_id"] = "customer group row"
    if layout is not None:
        _apply_kinds(raw, layout)
    parts.setdefault(table, []).append(raw)
    headers[table] = (s, hdr)
    if len(pay):
        praw = _split_payments(s, hdr, layout, pay, notes)
        if groups is not None and "customer_id" not in praw.columns:
            praw.columns["customer_id"] = groups.name_at(pay).rename("customer group row")
            praw.headers["customer_id"] = "customer group row"
        parts.setdefault("payments", []).append(praw)


def sheet_row(s: _Sheet, hdr: _Header) -> int:
    return s.row_number(s.head[hdr.index][0])


@dataclass(frozen=True)
class ColumnsFound:
    """Where a table's header row is and which column holds each canonical column."""

    header_row: int                   # spreadsheet row number of the (lower) header row
    columns: dict[str, Any]           # canonical -> column label of the sheet
    headers: dict[str, str]           # canonical -> the header text as the sheet has it
    ambiguous: dict[str, list[str]]   # canonical -> header texts that fit equally (first used)


def find_columns(sheet: RawSheet, table: str, mapping: dict[str, str] | None = None) -> ColumnsFound | None:
    """The header row of one sheet for `table` (also a `schema.EXTRA_TABLES` one, e.g. "bank"),
    found and matched exactly as `locate_tables` does for a workbook's tables; `mapping`
    ({canonical: header text}, a layout's or the user's) is applied first. None when no row
    fits."""
    s = _Sheet(sheet)
    hdr = _find_header(s, table, mapping)
    if hdr is None:
        return None
    text = {c.col: c.text for c in hdr.cands}
    return ColumnsFound(header_row=sheet_row(s, hdr), columns=dict(hdr.matched),
                        headers={k: text.get(v, str(v)) for k, v in hdr.matched.items()},
                        ambiguous={k: [text.get(c, str(c)) for c in v] for k, v in hdr.match.ambiguous.items()})
