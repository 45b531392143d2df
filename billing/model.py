"""Value objects passed between connectors, the normaliser and the engine."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from billing.schema import DTYPES, TABLES

QUARANTINE_COLUMNS = ["table", "sheet", "row", "column", "value", "message"]
ORIGIN_COLUMNS = ["_sheet", "_row"]


@dataclass
class RawSheet:
    """One sheet's cells as the file holds them.

    `cells` has integer column labels 0..n-1; the row at position i is the
    spreadsheet's row `first_row + i` (1-based, as the user sees it).
    """

    name: str
    cells: pd.DataFrame
    first_row: int = 1
    hidden: bool = False


@dataclass
class RawWorkbook:
    source: str
    sheets: list[RawSheet]


@dataclass(frozen=True)
class TableCount:
    read: int
    accepted: int
    quarantined: int

    def __post_init__(self) -> None:
        if self.read != self.accepted + self.quarantined:
            raise ValueError(f"row counts do not add up: {self}")


@dataclass(frozen=True)
class SkipNote:
    """A row that is not data (title, blank, totals) and was skipped, reported."""

    sheet: str
    row: int
    kind: str  # "title" | "blank" | "total" | "header" | "sheet"
    text: str


@dataclass
class Dataset:
    """Normalised tables plus everything the user must be told about the read."""

    source: str
    tables: dict[str, pd.DataFrame]
    quarantine: pd.DataFrame
    counts: dict[str, TableCount]
    notes: list[SkipNote] = field(default_factory=list)
    sheet_map: dict[str, str] = field(default_factory=dict)  # table -> sheet it came from

    @property
    def invoices(self) -> pd.DataFrame:
        return self.tables["invoices"]

    @property
    def payments(self) -> pd.DataFrame:
        return self.tables["payments"]

    @property
    def customers(self) -> pd.DataFrame:
        return self.tables["customers"]

    @property
    def orders(self) -> pd.DataFrame:
        return self.tables["orders"]

    @property
    def fx_rates(self) -> pd.DataFrame:
        return self.tables["fx_rates"]


def empty_quarantine() -> pd.DataFrame:
    return pd.DataFrame({
        "table": pd.Series(dtype="string"), "sheet": pd.Series(dtype="string"),
        "row": pd.Series(dtype="int64"), "column": pd.Series(dtype="string"),
        "value": pd.Series(dtype="string"), "message": pd.Series(dtype="string"),
    })


def empty_table(name: str) -> pd.DataFrame:
    """An empty frame with the canonical columns and dtypes of table `name`."""
    table = TABLES[name]
    cols = {c.name: pd.Series(dtype=DTYPES[c.kind]) for c in table.columns}
    if name == "invoices":
        cols["line_no"] = pd.Series(dtype="int64")
        cols["amount"] = pd.Series(dtype="int64")
        cols["line_code_given"] = pd.Series(dtype="bool")
        cols["due_date_derived"] = pd.Series(dtype="bool")
        cols["line_code_original"] = pd.Series(dtype="string")
    if name == "payments":
        cols["amount"] = pd.Series(dtype="int64")
    cols["_sheet"] = pd.Series(dtype="string")
    cols["_row"] = pd.Series(dtype="int64")
    return pd.DataFrame(cols)


OPEN_DISPUTE_STATUSES = ("open", "in_review", "escalated")


def open_dispute_codes(disputes: pd.DataFrame | None) -> set[str]:
    """Line codes under a dispute that is still open (open, in_review, escalated)."""
    if disputes is None or len(disputes) == 0:
        return set()
    mask = disputes["status"].astype("string").isin(OPEN_DISPUTE_STATUSES)
    return set(disputes.loc[mask, "line_code"].astype(str))


def held_amounts(disputes: pd.DataFrame | None, line_codes: pd.Series, open_: np.ndarray) -> np.ndarray:
    """Minor units of each line's open amount held by open disputes (SPEC §7), int64 per line.

    `line_codes` / `open_`: the lines and their open amounts (minor units; negative counts as 0).
    `disputes`: one row per disputed line (``line_code``, ``status``; optional ``dispute_id``,
    ``amount`` = the dispute's amount, the same on each of its lines, and ``seq`` = the line's
    position in its dispute). "A dispute holds its amount, not the whole line": a dispute with an
    amount holds at most that amount, filled over its lines in order (``seq``, else line code), each
    line up to its open amount; a dispute without an amount (or a frame without the column) holds
    its lines' whole open amounts. The result never exceeds a line's open amount.

    Example: a dispute of 100.00 on lines A (open 80.00) and B (open 50.00) holds 80.00 of A and
    20.00 of B; on a single line of 1,100.00 it holds 100.00 and leaves 1,000.00 payable.
    """
    line_open = np.maximum(np.asarray(open_, dtype=np.int64), 0)
    out = np.zeros(len(line_open), dtype=np.int64)
    if disputes is None or len(disputes) == 0 or len(line_open) == 0:
        return out
    d = disputes[disputes["status"].astype("string").isin(OPEN_DISPUTE_STATUSES).fillna(False).to_numpy(bool)]
    codes = pd.Index(line_codes.astype("string"))
    wanted = d["line_code"].astype("string")
    if codes.is_unique:
        at = codes.get_indexer(wanted)
    else:  # keys are unique after ingest; for a caller's duplicate the first row holds
        first = pd.Series(np.arange(len(codes)), index=codes)
        first = first[~first.index.duplicated()]
        at = first.reindex(wanted).fillna(-1).to_numpy(dtype=np.int64)
    d, at = d[at >= 0], at[at >= 0]
    if len(d) == 0:
        return out
    held = line_open[at]
    if "amount" in d.columns and "dispute_id" in d.columns:
        seq = d["seq"].to_numpy(dtype=np.int64, na_value=0) if "seq" in d.columns else np.zeros(len(d), np.int64)
        order = np.lexsort((d["line_code"].astype(str).to_numpy(), seq,
                            d["dispute_id"].to_numpy(dtype=np.int64, na_value=-1)))
        d, at, held = d.iloc[order], at[order], held[order]
        did = d["dispute_id"].to_numpy(dtype=np.int64, na_value=-1)
        first = np.ones(len(did), dtype=bool)
        first[1:] = did[1:] != did[:-1]
        run_start = np.maximum.accumulate(np.where(first, np.arange(len(did)), 0))
        excl = np.cumsum(held) - held
        before = excl - excl[run_start]          # open of the dispute's earlier lines
        amount = pd.array(d["amount"], dtype="Int64")
        limited = ~np.asarray(amount.isna(), dtype=bool)
        cap = amount.fillna(0).to_numpy(dtype=np.int64)
        held = np.where(limited, np.minimum(held, np.maximum(cap - before, 0)), held)
    np.add.at(out, at, held)
    return np.minimum(out, line_open)


@dataclass
class AllocationResult:
    """What `billing.allocation.allocate` returns; columns in docs/DESIGN.md."""

    allocations: pd.DataFrame
    unapplied: pd.DataFrame
    effective_payments: pd.DataFrame
    reference_issues: pd.DataFrame
    currency_mismatches: pd.DataFrame
    line_allocated: pd.DataFrame
    # billing.adjustments.RESULT_COLUMNS: every adjustment given, what it applied and its status
    adjustments: pd.DataFrame = field(default_factory=lambda: _empty_adjustment_result())


def _empty_adjustment_result() -> pd.DataFrame:
    from billing.adjustments import empty_result  # billing.adjustments needs nothing of this module
    return empty_result()
