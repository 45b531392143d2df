"""One call that runs the whole engine on a Dataset as of a date.

The app, the CLI and the report all go through `analyse`, so a number on a
dashboard is the number in the JSON report.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from billing.aging import line_aging, rollup
from billing.allocation import allocate
from billing.kpis import compute_kpis
from billing.model import AllocationResult, Dataset
from billing.policy import Policy
from billing.reconcile import find_exceptions


@dataclass
class Analysis:
    as_of: pd.Timestamp
    policy: Policy
    alloc: AllocationResult
    aging: pd.DataFrame  # one row per invoice line (billing.aging.line_aging)
    by_customer: pd.DataFrame
    by_currency: pd.DataFrame
    kpis: pd.DataFrame  # one row per currency
    exceptions: pd.DataFrame


def analyse(data: Dataset, as_of: pd.Timestamp | str, policy: Policy = Policy(),
            disputes: pd.DataFrame | None = None, *, with_exceptions: bool = True,
            with_kpis: bool = True, aging_at_start: pd.DataFrame | None = None,
            adjustments: pd.DataFrame | None = None) -> Analysis:
    """Allocate, age, roll up, compute KPIs and exceptions for `data` as of `as_of`.

    `aging_at_start` (the line aging as of as_of − policy.kpi_period_days) is
    the KPIs' beginning AR; without it compute_kpis allocates as of that date.
    `adjustments`: the workspace's (SPEC §15, ``billing.adjustments``), applied by the allocation.
    """
    as_of = pd.Timestamp(as_of).normalize()
    lines, payments = data.invoices, data.payments
    alloc = allocate(lines, payments, as_of, policy, disputes, adjustments=adjustments)
    aging = line_aging(lines, alloc, as_of, policy, disputes)
    by_customer = rollup(aging, ["customer_id", "currency"], alloc.unapplied, policy)
    by_currency = rollup(aging, ["currency"], alloc.unapplied, policy)
    kpis = compute_kpis(lines, alloc, aging, as_of, policy, payments=payments, disputes=disputes,
                        aging_at_start=aging_at_start, adjustments=adjustments) if with_kpis else pd.DataFrame()
    exceptions = find_exceptions(data.tables, alloc, as_of, policy) if with_exceptions else pd.DataFrame()
    return Analysis(as_of, policy, alloc, aging, by_customer, by_currency, kpis, exceptions)
