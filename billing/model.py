"""Value objects passed between connectors, the normaliser and the engine."""
from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass
class AllocationResult:
    """What `billing.allocation.allocate` returns; columns in docs/DESIGN.md."""

    allocations: pd.DataFrame
    unapplied: pd.DataFrame
    effective_payments: pd.DataFrame
    reference_issues: pd.DataFrame
    currency_mismatches: pd.DataFrame
    line_allocated: pd.DataFrame
