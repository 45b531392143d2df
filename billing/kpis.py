"""Collections KPIs per currency (SPEC §5).

`compute_kpis` gives one row per currency. Money columns are int64 minor
units of that currency; ratios (days, percentages) are float64, NaN when
their denominator is zero (never inf, never an exception).

Notation, per currency, for the period P = (as_of − D, as_of], D = period
days (``policy.kpi_period_days``, 90 by default):

- T  = total open AR at as_of: sum of ``open`` of the invoice lines (the
  aging's total; unapplied cash is not netted in, it is its own KPI).
- C  = current AR at as_of: open of lines not overdue (the aging's
  ``overdue`` column, ``billing.aging.is_overdue``: past the due date,
  whatever ``policy.basis`` the aging buckets use).
- S  = credit sales of P: amounts of invoice lines (not credit notes; they
  settle lines like payments) with invoice_date in P.
- B  = beginning AR: total open AR as of as_of − D (the allocation re-run as
  of that date, or the `aging_at_start` given).

Formulas (standard definitions):

- total_open = T;  overdue = T − C;  overdue_pct = 100 × (T − C) / T
- dso_days = T / S × D  (standard, not count-back, Days Sales Outstanding:
  ending total receivables ÷ credit sales of the period × days in the
  period; Gaviti via https://creditmanagementsource.com/credit-sales/current-receivables/total-receivables)
- best_possible_dso_days = C / S × D  (BPDSO: the same with only the
  receivables not yet past due, same source and
  https://apruve.com/faq/what-is-best-possible-days-sales-outstanding)
- add_days = dso_days − best_possible_dso_days  (Average Days Delinquent,
  CRF definition; = (T − C) / S × D)
- cei_pct = 100 × (B + S − T) / (B + S − C)  (Collection Effectiveness
  Index over the whole period, http://www.creditguru.com/index.php/collection-management/collection-metrics/collection-effectiveness-index-cei;
  the monthly-average variant that divides S by the number of months is
  not used)
- lines_paid = number of invoice lines whose last_payment_date (the date
  the line became fully paid, ``alloc.line_allocated``) is in P
- avg_days_to_pay = mean(last_payment_date − invoice_date) in days over
  those lines
- paid_on_time_pct = 100 × (those lines with last_payment_date <= due_date)
  / lines_paid
- unapplied = total unapplied cash at as_of (``alloc.unapplied``; a positive
  amount here, shown negated as a credit in `billing.aging.rollup`)
- in_dispute = what open disputes hold of the open amounts (aging's `disputed`, SPEC §7)
- credit_sales = S

Previous-period figures (for deltas) are the same function called with the
earlier as_of and that date's allocation and aging.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from billing.aging import (_NS_PER_DAY, _as_of, _days, aged_mask, is_credit_note, line_aging, line_values,
                           overdue_flags)
from billing.model import AllocationResult, empty_table
from billing.policy import Policy

KPI_COLUMNS = [
    "currency", "total_open", "overdue", "overdue_pct", "dso_days", "best_possible_dso_days",
    "add_days", "cei_pct", "avg_days_to_pay", "paid_on_time_pct", "lines_paid", "unapplied",
    "in_dispute", "credit_sales",
]
MONEY_COLUMNS = ["total_open", "overdue", "unapplied", "in_dispute", "credit_sales"]
COUNT_COLUMNS = ["lines_paid"]


def payments_from(alloc: AllocationResult) -> pd.DataFrame:
    """The payments table rebuilt from ``alloc.effective_payments`` (source "payment").

    Enough to re-run the allocation as of any earlier date: every payment
    dated on or before that date took part in `alloc`.
    """
    base = empty_table("payments")
    eff = alloc.effective_payments
    if eff is None or len(eff) == 0 or "payment_id" not in eff.columns:
        return base
    if "source" in eff.columns:
        eff = eff[(eff["source"] == "payment").to_numpy(dtype=bool, na_value=False)]
    out = eff.reset_index(drop=True).reindex(columns=base.columns)
    for col in base.columns:
        dtype = base[col].dtype
        values = out[col].fillna(0) if str(dtype) == "int64" else out[col]
        out[col] = values.astype(dtype)
    return out


def _sums(currency: pd.Series, default_currency: str, **columns: np.ndarray) -> pd.DataFrame:
    """Exact int64 sums of each column per currency (index: currency code; missing -> default)."""
    if len(currency) == 0:
        return pd.DataFrame({k: pd.Series(dtype="int64") for k in columns})
    codes, uniques = pd.factorize(currency)
    labels = [str(u) for u in uniques]
    if (codes < 0).any():  # ingest fills currency; be safe as allocation is
        if default_currency not in labels:
            labels.append(default_currency)
        codes = np.where(codes < 0, labels.index(default_currency), codes)
    out = {}
    for name, values in columns.items():
        acc = np.zeros(len(labels), dtype=np.int64)
        np.add.at(acc, codes, np.asarray(values, dtype=np.int64))
        out[name] = acc
    return pd.DataFrame(out, index=labels).groupby(level=0).sum()


def _ratio(num: np.ndarray, den: np.ndarray, scale: float | np.ndarray = 1.0) -> np.ndarray:
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    out = np.full(len(num), np.nan)
    ok = den != 0
    np.divide(num * scale, den, out=out, where=ok)
    return out


def _empty_kpis() -> pd.DataFrame:
    cols = {c: pd.Series(dtype="float64") for c in KPI_COLUMNS}
    cols["currency"] = pd.Series(dtype="string")
    for c in MONEY_COLUMNS + COUNT_COLUMNS:
        cols[c] = pd.Series(dtype="int64")
    return pd.DataFrame(cols)


def compute_kpis(lines: pd.DataFrame, alloc: AllocationResult, aging: pd.DataFrame, as_of,
                 policy: Policy = Policy(), period_days: int | None = None, *,
                 aging_at_start: pd.DataFrame | None = None, payments: pd.DataFrame | None = None,
                 disputes: pd.DataFrame | None = None, adjustments: pd.DataFrame | None = None) -> pd.DataFrame:
    """KPIs per currency as of `as_of` over the `period_days` before it (formulas: module doc).

    `lines` is the invoices table, `alloc` and `aging` the allocation and
    `billing.aging.line_aging` as of `as_of`. Beginning AR comes from
    `aging_at_start` (a line_aging as of as_of − period_days) when given;
    otherwise the allocation is re-run as of that date with `payments` (or, when
    not given, the payments rebuilt from ``alloc.effective_payments``) and
    `disputes`. One row per currency seen in the aging, the period's sales,
    the beginning AR or the unapplied cash, sorted by currency.
    """
    as_of = _as_of(as_of)
    days = int(period_days if period_days is not None else policy.kpi_period_days)
    if days <= 0:
        raise ValueError(f"period_days must be positive, got {days}")
    start = as_of - pd.Timedelta(days=days)
    as_of_day, start_day = as_of.value // _NS_PER_DAY, start.value // _NS_PER_DAY

    if aging_at_start is None:
        from billing.allocation import allocate  # lazy: only needed without aging_at_start
        pay = payments if payments is not None else payments_from(alloc)
        alloc_start = allocate(lines, pay, start, policy, disputes, adjustments=adjustments)
        aging_at_start = line_aging(lines, alloc_start, start, policy, disputes)

    dflt = policy.default_currency
    open_ = aging["open"].to_numpy(dtype=np.int64)
    not_due = ~overdue_flags(aging)  # billing.aging.is_overdue: the one definition of overdue
    in_dispute = aging["in_dispute"].to_numpy(dtype=bool)

    # Credit sales of the period: invoice lines (not credit notes) dated in (start, as_of].
    if len(lines):
        inv_day = _days(lines["invoice_date"])
        in_period = (inv_day > start_day) & (inv_day <= as_of_day) & ~is_credit_note(lines)
        sales = _sums(lines.loc[in_period, "currency"], dflt,
                      sales=lines.loc[in_period, "amount"].to_numpy(dtype=np.int64))
    else:
        sales = _sums(pd.Series(dtype="string"), dflt, sales=np.zeros(0))

    begin = _sums(aging_at_start["currency"], dflt, begin=aging_at_start["open"].to_numpy(dtype=np.int64))

    un = alloc.unapplied if alloc is not None else None
    unapplied = _sums(un["currency"], dflt, unapplied=un["amount"].to_numpy(dtype=np.int64)) \
        if un is not None and len(un) else _sums(pd.Series(dtype="string"), dflt, unapplied=np.zeros(0))

    # Lines fully paid in the period: last_payment_date aligned to the aging's rows.
    la = alloc.line_allocated if alloc is not None else None
    paid = np.zeros(len(aging), dtype=bool)
    to_pay = on_time = np.zeros(len(aging), dtype=np.int64)
    if la is not None and len(la) and "last_payment_date" in la.columns and len(aging):
        keep = aged_mask(lines, as_of) if len(la) == len(lines) and len(aging) < len(lines) else None
        lpd = line_values(la, "last_payment_date", aging["line_code"], lines["line_code"], keep,
                          np.datetime64("NaT", "ns"))
        lpd_day = _days(lpd)
        paid = (lpd_day > start_day) & (lpd_day <= as_of_day)
        to_pay = np.where(paid, lpd_day - _days(aging["invoice_date"]), 0)
        on_time = (paid & (lpd_day <= _days(aging["due_date"]))).astype(np.int64)
    at_asof = _sums(aging["currency"], dflt, total=open_, current=np.where(not_due, open_, 0),
                    disputed=(aging["disputed"].to_numpy(dtype=np.int64) if "disputed" in aging.columns
                              else np.where(in_dispute, open_, 0)), n=paid.astype(np.int64), days=to_pay,
                    on_time=on_time)

    parts = [at_asof, sales, begin, unapplied]
    currencies = sorted(set(at_asof.index) | set(sales.index) | set(begin.index) | set(unapplied.index))
    if not currencies:
        return _empty_kpis()
    frame = pd.concat([p.reindex(currencies) for p in parts], axis=1).fillna(0).astype("int64")

    def col(name: str) -> np.ndarray:
        return frame[name].to_numpy(dtype=np.int64)

    T, C, S, B = col("total"), col("current"), col("sales"), col("begin")
    n_paid = col("n")
    with np.errstate(invalid="ignore", divide="ignore"):
        dso = _ratio(T, S, days)
        bpdso = _ratio(C, S, days)
        out = pd.DataFrame({
            "currency": pd.array(currencies, dtype="string"),
            "total_open": T,
            "overdue": T - C,
            "overdue_pct": _ratio(T - C, T, 100.0),
            "dso_days": dso,
            "best_possible_dso_days": bpdso,
            "add_days": dso - bpdso,
            "cei_pct": _ratio(B + S - T, B + S - C, 100.0),
            "avg_days_to_pay": _ratio(col("days"), n_paid),
            "paid_on_time_pct": _ratio(col("on_time"), n_paid, 100.0),
            "lines_paid": n_paid,
            "unapplied": col("unapplied"),
            "in_dispute": col("disputed"),
            "credit_sales": S,
        })
    out.attrs.update(as_of=as_of, period_start=start, period_days=days)
    return out[KPI_COLUMNS]
