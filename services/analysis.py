"""The engine for a period, and the sidebar filters: what every dashboard draws from.

`analyse_period` runs the engine as of a date once per (data, date, policy,
disputes) and computes the start-of-period state (as of as_of − the KPI
period) once: the KPIs' beginning AR and the previous period's view (the
deltas on the Overview) both take it from the same call, so a period costs
three allocations (as of, period start, and the start before that), never
a re-allocation per card or per filter change.

`restrict(period, data, filters)` is the sidebar filters (customer, segment,
owner, currency) in one place: rows are kept, rollups and KPIs recomputed
from the period's stored start-of-period aging, never re-allocated.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from billing.aging import rollup
from billing.analysis import Analysis, analyse
from billing.customers import selected_customers
from billing.kpis import compute_kpis
from billing.model import Dataset
from billing.policy import Policy


@dataclass(frozen=True)
class Filters:
    """The sidebar's choices; empty = everything. `customers` are customer ids."""

    customers: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    currencies: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.customers or self.segments or self.owners or self.currencies)


@dataclass
class Period:
    """The engine as of `current.as_of` and as of the period start (`previous`, with its own KPIs),
    plus the aging as of the start before that (`earlier_aging`, the previous KPIs' beginning AR)."""

    current: Analysis
    previous: Analysis
    earlier_aging: pd.DataFrame = field(repr=False)

    @property
    def as_of(self) -> pd.Timestamp:
        return self.current.as_of

    @property
    def start(self) -> pd.Timestamp:
        return self.previous.as_of


def period_start(as_of: pd.Timestamp, policy: Policy) -> pd.Timestamp:
    """as_of − policy.kpi_period_days: the KPI period's start and the date the deltas compare with."""
    return pd.Timestamp(as_of).normalize() - pd.Timedelta(days=policy.kpi_period_days)


def analyse_period(data: Dataset, as_of: pd.Timestamp | str, policy: Policy = Policy(),
                   disputes: pd.DataFrame | None = None, *, with_exceptions: bool = True,
                   adjustments: pd.DataFrame | None = None) -> Period:
    """The engine on `data` as of `as_of`, its KPIs' beginning AR computed once and shared with the
    previous period's view (reconciliation exceptions only as of `as_of`). `adjustments`: the
    workspace's (SPEC §15), each taking part from its own date."""
    as_of = pd.Timestamp(as_of).normalize()
    start = period_start(as_of, policy)
    earlier = analyse(data, period_start(start, policy), policy, disputes, with_exceptions=False,
                      with_kpis=False, adjustments=adjustments)
    previous = analyse(data, start, policy, disputes, with_exceptions=False, aging_at_start=earlier.aging,
                       adjustments=adjustments)
    current = analyse(data, as_of, policy, disputes, with_exceptions=with_exceptions,
                      aging_at_start=previous.aging, adjustments=adjustments)
    return Period(current, previous, earlier.aging)


def _keeper(customers: set[str] | None, currencies: tuple[str, ...]):
    def keep(frame: pd.DataFrame) -> pd.DataFrame:
        if not len(frame.columns):
            return frame
        mask = pd.Series(True, index=frame.index)
        if customers is not None and "customer_id" in frame:
            mask &= frame["customer_id"].astype(str).isin(customers)
        if currencies and "currency" in frame:
            mask &= frame["currency"].isin(currencies)
        return frame[mask.to_numpy(dtype=bool)]
    return keep


def restrict_analysis(analysis: Analysis, data: Dataset, filters: Filters,
                      start_aging: pd.DataFrame) -> Analysis:
    """One Analysis restricted to `filters`; KPIs recomputed with `start_aging` (unfiltered line aging
    as of analysis.as_of − the KPI period) as their beginning AR."""
    if not filters.active:
        return analysis
    customers = selected_customers(data.customers, filters.customers, filters.segments, filters.owners)
    keep = _keeper(customers, filters.currencies)
    alloc = analysis.alloc
    sub_alloc = type(alloc)(**{f: keep(v) if isinstance(v := getattr(alloc, f), pd.DataFrame) else v
                               for f in alloc.__dataclass_fields__})
    aging = keep(analysis.aging)
    pol = analysis.policy
    lines = keep(data.invoices)
    kpis = compute_kpis(lines, sub_alloc, aging, analysis.as_of, pol, aging_at_start=keep(start_aging),
                        payments=keep(data.payments))
    if filters.currencies and len(kpis):
        kpis = kpis[kpis["currency"].isin(filters.currencies)]
    exceptions = keep(analysis.exceptions)
    return Analysis(analysis.as_of, pol, sub_alloc, aging,
                    rollup(aging, ["customer_id", "currency"], sub_alloc.unapplied, pol),
                    rollup(aging, ["currency"], sub_alloc.unapplied, pol), kpis, exceptions)


def restrict(period: Period, data: Dataset, filters: Filters) -> Period:
    """The period restricted to the sidebar filters (both the current and the previous view)."""
    if not filters.active:
        return period
    return Period(restrict_analysis(period.current, data, filters, period.previous.aging),
                  restrict_analysis(period.previous, data, filters, period.earlier_aging),
                  period.earlier_aging)
