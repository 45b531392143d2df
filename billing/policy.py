"""The policy: every tunable rule of allocation, aging, KPIs and reconciliation in one object.

Defaults are SPEC's. A team keeps its own in a TOML file (`cli.py --policy`),
with the same field names, e.g.::

    basis = "invoice_date"
    bucket_edges = [0, 15, 30, 60, 90]
    price_tolerance_pct = 1.0
"""
from __future__ import annotations

import tomllib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Policy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    basis: Literal["due_date", "invoice_date"] = "due_date"
    # Upper edges (days past due, inclusive) of the overdue buckets; beyond the last is "over_N".
    bucket_edges: tuple[int, ...] = (30, 60, 90, 120)
    kpi_period_days: int = Field(90, gt=0)
    fifo_skip_disputed: bool = True
    price_tolerance_pct: float = Field(0.5, ge=0)
    line_total_tolerance_minor: int = Field(1, ge=0)
    default_currency: str = "USD"
    default_terms_days: int = Field(30, ge=0)
    base_currency: str | None = None
    review_days: int = Field(10, gt=0)
    fuzzy_min_score: float = Field(85.0, ge=0, le=100)
    # Cash application of bank payments (SPEC §17, billing.cashapp). A payer name matches a
    # customer automatically when rapidfuzz's token_sort_ratio of the normalised names is at least
    # bank_name_min_score and beats the next customer by bank_name_margin; from
    # bank_suggest_min_score on a customer is only suggested in the review queue.
    bank_name_min_score: float = Field(92.0, ge=0, le=100)
    bank_name_margin: float = Field(5.0, ge=0, le=100)
    bank_suggest_min_score: float = Field(60.0, ge=0, le=100)
    # A payment short of what it references by at most this share of the amount due, or at most
    # this many major units, is proposed as a write-off (bank charges); applied only when confirmed.
    bank_charges_pct: float = Field(1.0, ge=0, le=100)
    bank_charges_max: float = Field(5.0, ge=0)
    # A bank payment of a customer's amount dated within this many days of a workbook payment of
    # the same customer and amount is flagged as a possible duplicate.
    bank_duplicate_days: int = Field(3, ge=0)

    @field_validator("bucket_edges")
    @classmethod
    def _increasing(cls, edges: tuple[int, ...]) -> tuple[int, ...]:
        if not edges or any(b <= a for a, b in zip(edges, edges[1:])) or edges[0] < 1:
            raise ValueError("bucket_edges must be positive and strictly increasing, e.g. [30, 60, 90, 120]")
        return edges

    @property
    def bucket_labels(self) -> list[str]:
        """["current", "1-30", "31-60", ..., "over_120"] for the edges."""
        labels, low = ["current"], 1
        for edge in self.bucket_edges:
            labels.append(f"{low}-{edge}")
            low = edge + 1
        labels.append(f"over_{self.bucket_edges[-1]}")
        return labels


def load_policy(text: str) -> Policy:
    """A Policy from TOML text; unknown keys are refused with their names."""
    return Policy(**tomllib.loads(text))
