"""billing.kpis: collections KPIs per currency, every figure worked out by hand below."""
from __future__ import annotations

import math
import sys
import types

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.aging import line_aging
from billing.allocation import allocate
from billing.kpis import KPI_COLUMNS, compute_kpis, payments_from
from billing.policy import Policy
from tests.billing.reference_aging import reference_kpis
from tests.billing.test_aging import code, make_alloc
from tests.billing.test_allocation import scenarios
from tests.budget import examples
from tests.factories import make_invoices

AS_OF = pd.Timestamp("2024-06-30")
START = pd.Timestamp("2024-04-01")  # as_of − 90 days; the period is (04-01, 06-30]


@pytest.fixture
def book():
    """Scenario (USD unless said), as of 2024-06-30, period (2024-04-01, 2024-06-30]:

    line cust invoiced    due         amount alloc  last paid   in period?  open at 06-30
    A    C1   2024-02-15  2024-03-16  10000  10000  2024-04-10  paid, late, 55 days   0
    B    C1   2024-03-20  2024-04-19  20000  20000  2024-04-15  paid, on time, 26 d   0
    C    C2   2024-04-20  2024-05-20  30000  10000  -           sale                  20000 overdue
    D    C2   2024-06-10  2024-07-10  40000      0  -           sale, in dispute      40000 current
    E    C1   2024-05-01  2024-05-31   5000   5000  2024-06-05  sale, paid late, 35 d     0
    F    C1   2024-01-05  2024-02-04   3000   3000  2024-03-01  paid before the period    0
    CN   C2   2024-05-05  credit note  -1000 (part of C's 10000; not a sale)
    G    C3   2024-01-05  2024-02-04   8000 EUR  0  -           no sale in period      8000 overdue
    Unapplied: USD 2500.

    Beginning AR (as of 04-01): USD A 10000 + B 20000 = 30000 (F already paid); EUR G 8000.
    USD: T = 60000, C(urrent) = 40000, overdue = 20000 (33.33 %), S = C + D + E = 75000.
         DSO = 60000 / 75000 × 90 = 72.0; BPDSO = 40000 / 75000 × 90 = 48.0; ADD = 24.0
         CEI = (30000 + 75000 − 60000) / (30000 + 75000 − 40000) × 100 = 45000 / 65000 × 100 = 69.2307…
         paid in period: A, B, E -> 3 lines, (55 + 26 + 35) / 3 = 38.666… days, on time 1/3 = 33.33 %
    EUR: T = 8000, current 0, overdue 100 %, S = 0 -> DSO, BPDSO, ADD NaN;
         CEI = (8000 + 0 − 8000) / (8000 + 0 − 0) = 0 %; no line paid -> NaN averages.
    """
    lines = make_invoices([
        dict(invoice_no="A", customer_id="C1", invoice_date="2024-02-15", due_date="2024-03-16", amount=10000),
        dict(invoice_no="B", customer_id="C1", invoice_date="2024-03-20", due_date="2024-04-19", amount=20000),
        dict(invoice_no="C", customer_id="C2", invoice_date="2024-04-20", due_date="2024-05-20", amount=30000),
        dict(invoice_no="D", customer_id="C2", invoice_date="2024-06-10", due_date="2024-07-10", amount=40000),
        dict(invoice_no="E", customer_id="C1", invoice_date="2024-05-01", due_date="2024-05-31", amount=5000),
        dict(invoice_no="F", customer_id="C1", invoice_date="2024-01-05", due_date="2024-02-04", amount=3000),
        dict(invoice_no="CN", customer_id="C2", invoice_date="2024-05-05", amount=-1000, applies_to="C"),
        dict(invoice_no="G", customer_id="C3", invoice_date="2024-01-05", due_date="2024-02-04", amount=8000,
             currency="EUR"),
    ])
    alloc = make_alloc(
        {code("A"): 10000, code("B"): 20000, code("C"): 10000, code("E"): 5000, code("F"): 3000},
        [dict(payment_id="P9", payment_date="2024-06-20", customer_id="C1", currency="USD", amount=2500)],
        paid_on={code("A"): "2024-04-10", code("B"): "2024-04-15", code("E"): "2024-06-05",
                 code("F"): "2024-03-01"})
    disputes = pd.DataFrame({"line_code": [code("D")], "status": ["open"]})
    aging = line_aging(lines, alloc, AS_OF, Policy(), disputes)
    at_start = line_aging(lines, make_alloc({code("F"): 3000}, paid_on={code("F"): "2024-03-01"}), START)
    return lines, alloc, aging, at_start, disputes


def kpi(frame: pd.DataFrame, currency: str) -> pd.Series:
    return frame.set_index("currency").loc[currency]


def test_kpis_per_currency_match_the_hand_computed_figures(book):
    lines, alloc, aging, at_start, _ = book
    k = compute_kpis(lines, alloc, aging, AS_OF, aging_at_start=at_start)
    usd = kpi(k, "USD")
    assert usd[["total_open", "overdue", "credit_sales", "unapplied", "in_dispute", "lines_paid"]].tolist() \
        == [60000, 20000, 75000, 2500, 40000, 3]
    assert usd["overdue_pct"] == pytest.approx(100 / 3)
    assert usd["dso_days"] == pytest.approx(72.0)
    assert usd["best_possible_dso_days"] == pytest.approx(48.0)
    assert usd["add_days"] == pytest.approx(24.0)
    assert usd["cei_pct"] == pytest.approx(45000 / 65000 * 100)
    assert usd["avg_days_to_pay"] == pytest.approx(116 / 3)
    assert usd["paid_on_time_pct"] == pytest.approx(100 / 3)


def test_kpis_with_zero_credit_sales_give_nan_days_not_inf(book):
    lines, alloc, aging, at_start, _ = book
    eur = kpi(compute_kpis(lines, alloc, aging, AS_OF, aging_at_start=at_start), "EUR")
    assert eur[["total_open", "overdue", "credit_sales", "unapplied", "lines_paid"]].tolist() == [8000, 8000, 0, 0, 0]
    assert eur["overdue_pct"] == 100.0
    for col in ["dso_days", "best_possible_dso_days", "add_days", "avg_days_to_pay", "paid_on_time_pct"]:
        assert np.isnan(eur[col]), col
    assert eur["cei_pct"] == 0.0


def test_kpis_columns_and_dtypes(book):
    lines, alloc, aging, at_start, _ = book
    k = compute_kpis(lines, alloc, aging, AS_OF, aging_at_start=at_start)
    assert list(k.columns) == KPI_COLUMNS
    assert list(k["currency"]) == ["EUR", "USD"]
    for col in ["total_open", "overdue", "unapplied", "in_dispute", "credit_sales", "lines_paid"]:
        assert k[col].dtype == np.int64, col
    for col in ["overdue_pct", "dso_days", "best_possible_dso_days", "add_days", "cei_pct", "avg_days_to_pay",
                "paid_on_time_pct"]:
        assert k[col].dtype == np.float64, col
    assert k.attrs["period_start"] == START and k.attrs["period_days"] == 90


def test_kpis_shorter_period_counts_only_its_sales(book):
    lines, alloc, aging, _, _ = book
    # period (06-01, 06-30]: sales D 40000; DSO = 60000 / 40000 × 30 = 45, BPDSO = 40000 / 40000 × 30 = 30.
    # Beginning AR as of 06-01 given by hand: C 20000 open, D not yet invoiced, E open 5000 -> 25000.
    # CEI = (25000 + 40000 − 60000) / (25000 + 40000 − 40000) = 5000 / 25000 = 20 %.
    # Paid in the period: E (06-05) only -> 35 days, late.
    at_start = line_aging(lines, make_alloc({code("A"): 10000, code("B"): 20000, code("C"): 10000,
                                             code("F"): 3000}), pd.Timestamp("2024-05-31"))
    usd = kpi(compute_kpis(lines, alloc, aging, AS_OF, period_days=30, aging_at_start=at_start), "USD")
    assert usd["credit_sales"] == 40000
    assert usd["dso_days"] == pytest.approx(45.0)
    assert usd["best_possible_dso_days"] == pytest.approx(30.0)
    assert usd["cei_pct"] == pytest.approx(20.0)
    assert usd["lines_paid"] == 1 and usd["avg_days_to_pay"] == 35.0 and usd["paid_on_time_pct"] == 0.0


def test_kpis_overdue_means_past_due_date_whatever_the_aging_basis(book):
    lines, alloc, _, at_start, disputes = book
    aging = line_aging(lines, alloc, AS_OF, Policy(basis="invoice_date"), disputes)
    usd = kpi(compute_kpis(lines, alloc, aging, AS_OF, Policy(basis="invoice_date"), aging_at_start=at_start), "USD")
    assert usd["overdue"] == 20000 and usd["best_possible_dso_days"] == pytest.approx(48.0)


def test_kpis_when_everything_is_paid(book):
    lines, _, _, at_start, _ = book
    paid = {c: a for c, a in zip(lines["line_code"], lines["amount"]) if a > 0}
    alloc = make_alloc(paid, paid_on={c: "2024-06-15" for c in paid})
    aging = line_aging(lines, alloc, AS_OF)
    usd = kpi(compute_kpis(lines, alloc, aging, AS_OF, aging_at_start=at_start), "USD")
    # T = 0: DSO 0, overdue % undefined, CEI = (30000 + 75000 − 0) / (30000 + 75000 − 0) = 100 %
    assert usd["total_open"] == 0 and usd["overdue"] == 0 and np.isnan(usd["overdue_pct"])
    assert usd["dso_days"] == 0.0 and usd["add_days"] == 0.0 and usd["cei_pct"] == 100.0
    # every USD invoice line (A, B, C, D, E, F) paid 06-15: days 121 + 87 + 56 + 5 + 45 + 162 = 476
    assert usd["lines_paid"] == 6 and usd["avg_days_to_pay"] == pytest.approx(476 / 6)
    assert usd["paid_on_time_pct"] == pytest.approx(100 / 6)  # only D (due 07-10) was paid by its due date


def test_kpis_when_everything_is_current():
    # two lines, due after as_of, nothing paid: overdue 0, BPDSO = DSO, ADD 0, CEI = (0 + S − T)/(0 + S − T) -> 0/0
    lines = make_invoices([
        dict(invoice_no="A", customer_id="C", invoice_date="2024-06-01", due_date="2024-07-01", amount=700),
        dict(invoice_no="B", customer_id="C", invoice_date="2024-06-20", due_date="2024-07-20", amount=300),
    ])
    alloc = make_alloc()
    aging = line_aging(lines, alloc, AS_OF)
    usd = kpi(compute_kpis(lines, alloc, aging, AS_OF, aging_at_start=line_aging(lines, alloc, START)), "USD")
    assert usd["overdue"] == 0 and usd["overdue_pct"] == 0.0
    assert usd["dso_days"] == pytest.approx(90.0) and usd["best_possible_dso_days"] == pytest.approx(90.0)
    assert usd["add_days"] == 0.0
    assert np.isnan(usd["cei_pct"])  # nothing was collectable: 0 / 0


def test_kpis_of_no_lines_is_an_empty_frame():
    lines = make_invoices([])
    alloc = make_alloc()
    aging = line_aging(lines, alloc, AS_OF)
    k = compute_kpis(lines, alloc, aging, AS_OF, aging_at_start=aging)
    assert len(k) == 0 and list(k.columns) == KPI_COLUMNS


def test_kpis_list_a_currency_that_only_has_unapplied_cash():
    lines = make_invoices([])
    alloc = make_alloc(unapplied=[dict(payment_id="P", payment_date="2024-06-01", customer_id="C",
                                       currency="GBP", amount=125)])
    aging = line_aging(lines, alloc, AS_OF)
    gbp = kpi(compute_kpis(lines, alloc, aging, AS_OF, aging_at_start=aging), "GBP")
    assert gbp["unapplied"] == 125 and gbp["total_open"] == 0 and np.isnan(gbp["dso_days"])


def test_kpis_recompute_beginning_ar_by_allocating_as_of_the_period_start(book, monkeypatch):
    lines, alloc, aging, _, disputes = book
    calls = []

    def allocate(lines_, payments, as_of, policy, disputes_=None, adjustments=None):
        calls.append((pd.Timestamp(as_of), sorted(payments["payment_id"]), disputes_ is disputes))
        return make_alloc({code("F"): 3000})

    module = types.ModuleType("billing.allocation")
    module.allocate = allocate
    monkeypatch.setitem(sys.modules, "billing.allocation", module)
    # the payments come from alloc.effective_payments (credit notes are rebuilt from the lines)
    alloc.effective_payments = pd.DataFrame({
        "payment_id": pd.array(["P1", code("CN")], dtype="string"),
        "payment_date": pd.to_datetime(["2024-03-01", "2024-05-05"]),
        "customer_id": pd.array(["C1", "C2"], dtype="string"), "currency": pd.array(["USD", "USD"], dtype="string"),
        "amount": np.array([3000, 1000], dtype=np.int64), "source": ["payment", "credit_note"],
        "invoice_no": pd.array([None, "C"], dtype="string"), "line_code": pd.array([code("F"), None], dtype="string"),
        "reference": pd.array([None, None], dtype="string")})
    usd = kpi(compute_kpis(lines, alloc, aging, AS_OF, disputes=disputes), "USD")
    assert calls == [(START, ["P1"], True)]
    assert usd["cei_pct"] == pytest.approx(45000 / 65000 * 100)


def test_payments_from_rebuilds_the_payments_table(book):
    _, alloc, _, _, _ = book
    alloc.effective_payments = pd.DataFrame({
        "payment_id": ["P1"], "payment_date": pd.to_datetime(["2024-03-01"]), "customer_id": ["C1"],
        "currency": ["USD"], "amount": [3000], "source": ["payment"], "invoice_no": [None], "line_code": ["X"],
        "reference": ["inv A"]})
    pay = payments_from(alloc)
    assert pay.loc[0, "payment_id"] == "P1" and pay.loc[0, "amount"] == 3000
    assert pay["amount"].dtype == np.int64 and pay["payment_date"].dtype == "datetime64[ns]"
    assert pay["payment_id"].dtype == "string" and "method" in pay.columns


@pytest.fixture
def real_book():
    """With the real allocation. A: 1000 invoiced 03-01 due 03-31; B: 2000 invoiced 05-10 due 06-09.
    P1 03-15 500 naming A; P2 05-20 500, no reference -> FIFO -> A (fully paid 05-20).

    As of 06-30, period (04-01, 06-30]: beginning AR = A's 500; S = B 2000; T = 2000 (B, overdue), C = 0.
    DSO = 2000 / 2000 × 90 = 90; BPDSO = 0; ADD = 90; CEI = (500 + 2000 − 2000) / (500 + 2000 − 0) = 20 %.
    Paid in the period: A on 05-20, 80 days after 03-01, late.
    """
    from billing import allocation
    from tests.factories import make_payments
    lines = make_invoices([
        dict(invoice_no="A", customer_id="C", invoice_date="2024-03-01", due_date="2024-03-31", amount=1000),
        dict(invoice_no="B", customer_id="C", invoice_date="2024-05-10", due_date="2024-06-09", amount=2000),
    ])
    payments = make_payments([
        dict(payment_id="P1", customer_id="C", payment_date="2024-03-15", amount=500, line_code=code("A")),
        dict(payment_id="P2", customer_id="C", payment_date="2024-05-20", amount=500),
    ])
    alloc = allocation.allocate(lines, payments, AS_OF, Policy())
    return lines, payments, alloc, line_aging(lines, alloc, AS_OF)


@pytest.mark.parametrize("pass_payments", [True, False])
def test_kpis_with_the_real_allocation_recompute_beginning_ar(real_book, pass_payments):
    lines, payments, alloc, aging = real_book
    k = compute_kpis(lines, alloc, aging, AS_OF, payments=payments if pass_payments else None)
    usd = kpi(k, "USD")
    assert usd[["total_open", "overdue", "credit_sales", "lines_paid", "unapplied"]].tolist() == [2000, 2000, 2000, 1, 0]
    assert usd["dso_days"] == 90.0 and usd["best_possible_dso_days"] == 0.0 and usd["add_days"] == 90.0
    assert usd["cei_pct"] == pytest.approx(20.0)
    assert usd["avg_days_to_pay"] == 80.0 and usd["paid_on_time_pct"] == 0.0


def test_previous_period_kpis_are_the_same_function_at_an_earlier_date(real_book):
    from billing import allocation
    lines, payments, _, _ = real_book
    # as of 05-31, period (03-02, 05-31]: beginning AR 1000 (A, invoiced 03-01), S = B 2000,
    # T = 2000 (B, due 06-09: current), C = 2000 -> DSO = BPDSO = 90, ADD 0, CEI = (1000 + 2000 − 2000) / 1000 = 100 %
    prev = pd.Timestamp("2024-05-31")
    alloc = allocation.allocate(lines, payments, prev, Policy())
    usd = kpi(compute_kpis(lines, alloc, line_aging(lines, alloc, prev), prev, payments=payments), "USD")
    assert usd[["total_open", "overdue", "credit_sales"]].tolist() == [2000, 0, 2000]
    assert usd["add_days"] == 0.0 and usd["cei_pct"] == pytest.approx(100.0)
    assert usd["lines_paid"] == 1  # A, paid 05-20


# --------------------------------------------------------------------------- against the oracle

def _same(got, want) -> bool:
    if isinstance(want, float) and math.isnan(want):
        return isinstance(got, float) and math.isnan(got)
    return got == pytest.approx(want, rel=1e-12, abs=1e-9)


@settings(max_examples=examples(100), deadline=None)
@given(scenarios(), st.sampled_from([90, 30, 20, 10, 1]))
def test_kpis_equal_the_oracle(case, period_days):
    """SPEC §5's KPI formulas end to end (allocation now and at the period's start) against plain loops."""
    lines, payments, as_of, policy, disputes = case
    alloc = allocate(lines, payments, as_of, policy, disputes)
    aging = line_aging(lines, alloc, as_of, policy, disputes)
    k = compute_kpis(lines, alloc, aging, as_of, policy, period_days, payments=payments, disputes=disputes)
    expected = reference_kpis(lines, payments, as_of, period_days=period_days, disputes=disputes,
                              skip_disputed=policy.fifo_skip_disputed, fuzzy_min_score=policy.fuzzy_min_score)
    assert sorted(k["currency"]) == sorted(expected)
    for row in k.to_dict("records"):
        want = expected[row["currency"]]
        wrong = {name: (row[name], value) for name, value in want.items() if not _same(row[name], value)}
        assert not wrong, f"{row['currency']}: (engine, oracle) differ in {wrong}"
