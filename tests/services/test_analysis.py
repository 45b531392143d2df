"""services.analysis: a period computed once (start-of-period state shared by the KPIs and the previous
view), and the sidebar filters (`restrict`) tested directly against the engine run on the subset."""
from __future__ import annotations

import io
from functools import lru_cache

import pandas as pd
import pytest

from billing.aging import history, rollup
from billing.analysis import analyse
from billing.kpis import compute_kpis
from billing.policy import Policy
from billing.report import build_report
from connectors.export import write_demo_workbook
from connectors.load import load_uploads
from services.analysis import Filters, analyse_period, period_start, restrict

AS_OF = pd.Timestamp("2026-06-30")


@lru_cache(maxsize=1)
def demo():
    buf = io.BytesIO()
    write_demo_workbook(buf, seed=7, n_lines=1500)
    return load_uploads([("demo.xlsx", buf.getvalue())])


def test_the_period_start_is_computed_once_and_equals_a_separate_re_allocation(monkeypatch):
    import billing.analysis as engine

    calls = []
    real = engine.allocate
    monkeypatch.setattr(engine, "allocate", lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    data, pol = demo(), Policy()
    period = analyse_period(data, AS_OF, pol)
    start = period_start(AS_OF, pol)
    assert sorted(calls) == [period_start(start, pol), start, AS_OF]  # three allocations, each once
    # the KPIs equal compute_kpis re-allocating on its own as of the period start
    alone = compute_kpis(data.invoices, period.current.alloc, period.current.aging, AS_OF, pol,
                         payments=data.payments)
    pd.testing.assert_frame_equal(period.current.kpis, alone)
    # the previous view is the engine as of the period start, KPIs included
    before = analyse(data, start, pol, with_exceptions=False)
    pd.testing.assert_frame_equal(period.previous.kpis, before.kpis)
    assert period.start == start and len(period.current.exceptions) and not len(period.previous.exceptions)


def test_no_filter_returns_the_period_itself():
    period = analyse_period(demo(), AS_OF)
    assert restrict(period, demo(), Filters()) is period


@pytest.mark.parametrize("filters", [
    Filters(currencies=("EUR",)),
    Filters(segments=("Enterprise",)),
    Filters(customers=("0010005", "0010006"), currencies=("USD",)),
])
def test_restrict_equals_the_engine_on_the_kept_customers(filters):
    data, pol = demo(), Policy()
    period = analyse_period(data, AS_OF, pol)
    got = restrict(period, data, filters).current
    cust = data.customers
    keep = set(cust["customer_id"].astype(str))
    if filters.segments:
        keep &= set(cust.loc[cust["segment"].isin(filters.segments), "customer_id"].astype(str))
    if filters.customers:
        keep &= set(filters.customers)
    assert keep, "the filter must keep some customers of the demo"
    aging = period.current.aging
    want = aging[aging["customer_id"].astype(str).isin(keep)]
    if filters.currencies:
        want = want[want["currency"].isin(filters.currencies)]
    pd.testing.assert_frame_equal(got.aging, want)
    assert set(got.by_customer["customer_id"].astype(str)) <= keep
    assert int(got.by_currency["open"].sum()) == int(want["open"].sum())
    # KPIs from the stored start-of-period aging equal KPIs re-allocated on the subset's own lines
    lines = data.invoices[data.invoices["customer_id"].astype(str).isin(keep)]
    pays = data.payments[data.payments["customer_id"].astype(str).isin(keep)]
    sub = analyse(data.__class__(data.source, {**data.tables, "invoices": lines, "payments": pays},
                                 data.quarantine, data.counts), AS_OF, pol, with_exceptions=False)
    want_kpis = sub.kpis
    if filters.currencies:
        want_kpis = want_kpis[want_kpis["currency"].isin(filters.currencies)]
    pd.testing.assert_frame_equal(got.kpis.reset_index(drop=True), want_kpis.reset_index(drop=True))


def test_overdue_means_past_the_due_date_everywhere_under_the_invoice_date_basis():
    """KPIs, the report summary, the rollups and the trend agree: lines not yet due are never overdue,
    whatever basis the buckets use."""
    data, pol = demo(), Policy(basis="invoice_date")
    a = analyse(data, AS_OF, pol)
    aging = a.aging
    truth = aging.loc[aging["due_date"] < AS_OF].groupby("currency")["open"].sum()
    kpis = a.kpis.set_index("currency")["overdue"]
    by_currency = a.by_currency.set_index("currency")["overdue"]
    summary = {c: int(round(float(v["overdue"]) * 100)) for c, v in build_report(data, a, ["summary"])
               ["summary"].items()}
    trend = history(data.invoices, data.payments, [AS_OF], pol).groupby("currency")["overdue"].sum()
    for currency, value in truth.items():
        assert kpis[currency] == by_currency[currency] == trend[currency] == value
        assert summary[currency] == value
    not_yet_due = aging[(aging["due_date"] >= AS_OF) & (aging["open"] > 0)]
    assert len(not_yet_due) and (not_yet_due["bucket"] != "current").any(), \
        "the invoice-date basis must put some not-yet-due lines in aged buckets for this test to bite"
    by_customer = rollup(aging, ["customer_id", "currency"], a.alloc.unapplied, pol)
    assert int(by_customer["overdue"].sum()) == int(truth.sum())
