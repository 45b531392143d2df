"""Payment prediction (SPEC §15): the Kaplan–Meier estimator by hand and against plain Python, shrinkage,
line predictions and the cash forecast."""
from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.prediction import (GRID_HIGH, GRID_LOW, PRIOR_EVENTS, Curves, cash_forecast, customer_curves,
                                kaplan_meier, observations, predict_lines)
from tests.budget import examples


def reference_km(delays: list[int], paid: list[bool], t: int) -> float:
    """Kaplan–Meier S(t) as on paper: over the distinct event times u <= t, multiply (1 - d_u / n_u),
    n_u = observations with delay >= u (events and censored), d_u = events at u."""
    s = 1.0
    for u in sorted({d for d, p in zip(delays, paid) if p and d <= t}):
        n = sum(1 for d in delays if d >= u)
        d_u = sum(1 for d, p in zip(delays, paid) if p and d == u)
        s *= 1 - d_u / n
    return s


def S(curve: np.ndarray, t: int) -> float:
    return float(curve[t - GRID_LOW])


def test_the_worked_example_of_the_module_doc():
    # delays 2 (paid), 3 (open), 5 (paid), 5 (paid), 8 (open)
    surv, events = kaplan_meier(np.array([2, 3, 5, 5, 8]), np.array([True, False, True, True, False]),
                                np.zeros(5, np.int64), 1)
    curve = surv[0]
    assert [S(curve, t) for t in (1, 2, 3, 4)] == [1.0, 0.8, 0.8, 0.8]
    assert abs(S(curve, 5) - 0.8 / 3) < 1e-12 and abs(S(curve, 400) - 0.8 / 3) < 1e-12
    assert events.tolist() == [3]


@settings(max_examples=examples(80), deadline=None)
@given(st.lists(st.tuples(st.integers(-100, 600), st.booleans(), st.integers(0, 2)), min_size=1, max_size=40))
def test_kaplan_meier_equals_the_plain_python_estimator_per_group(rows):
    delay = np.array([r[0] for r in rows])
    paid = np.array([r[1] for r in rows])
    group = np.array([r[2] for r in rows])
    surv, events = kaplan_meier(delay, paid, group, 3)
    clipped = np.clip(delay, GRID_LOW, GRID_HIGH)
    for g in range(3):
        mine = group == g
        d, p = clipped[mine].tolist(), (paid[mine] & (delay[mine] <= GRID_HIGH)).tolist()
        for t in (GRID_LOW, -10, 0, 1, 30, 90, 200, GRID_HIGH):
            assert abs(S(surv[g], t) - reference_km(d, p, t)) < 1e-9
        assert events[g] == sum(p)


def _obs(rows):
    return pd.DataFrame({"customer_id": pd.array([r[0] for r in rows], dtype="string"),
                         "delay": np.array([r[1] for r in rows]), "paid": np.array([r[2] for r in rows]),
                         "currency": "USD", "line_code": pd.array([f"L{i}" for i in range(len(rows))], dtype="string"),
                         "open": 0})


def test_a_customer_with_little_history_borrows_from_its_segment_then_from_everyone():
    # segment "fast": A pays on day 0, many lines; B (same segment) has one paid line at 60
    rows = [("A", 0, True)] * 40 + [("B", 60, True)] + [("C", 30, True)] * 40
    customers = pd.DataFrame({"customer_id": ["A", "B", "C"], "segment": ["fast", "fast", "slow"]})
    curves = customer_curves(_obs(rows), customers)
    row = dict(zip(curves.customers, range(len(curves.customers))))
    w_b = 1 / (1 + PRIOR_EVENTS)
    assert abs(curves.weight[row["B"]] - w_b) < 1e-12
    # B's own curve says "unpaid until day 60"; its segment (41 lines, 40 at day 0) says paid at 0
    s_b_at_10 = S(curves.survival[row["B"]], 10)
    segment_at_10 = 1 / 41                          # KM of the segment: one of 41 still unpaid at 10
    w_s = 41 / (41 + PRIOR_EVENTS)
    all_at_10 = 41 / 81                             # B's line and C's 40 still unpaid at day 10
    parent = w_s * segment_at_10 + (1 - w_s) * all_at_10
    assert abs(s_b_at_10 - (w_b * 1.0 + (1 - w_b) * parent)) < 1e-12
    # an unknown customer gets the all-customer curve
    assert curves.rows(pd.Series(["Z"])).tolist() == [curves.fallback]


def _curves(points: dict[str, list[tuple[int, bool]]]) -> Curves:
    rows = [(c, d, p) for c, obs in points.items() for d, p in obs]
    return customer_curves(_obs(rows), None, prior_events=0)


def aging_rows(rows):
    """(customer, open, due_date) -> the line_aging columns prediction reads."""
    return pd.DataFrame({"line_code": pd.array([f"L{i}" for i in range(len(rows))], dtype="string"),
                         "customer_id": pd.array([r[0] for r in rows], dtype="string"),
                         "currency": pd.array(["USD"] * len(rows), dtype="string"),
                         "open": np.array([r[1] for r in rows], dtype=np.int64),
                         "amount": np.array([r[1] for r in rows], dtype=np.int64),
                         "due_date": pd.to_datetime([r[2] for r in rows])})


def test_line_probabilities_are_conditional_on_being_unpaid_today():
    # history: half pay at day 10, half at day 40 after due
    curves = _curves({"A": [(10, True), (40, True)]})
    lines = aging_rows([("A", 1000, "2024-03-31"), ("A", 500, "2024-03-11")])  # delay 0 and 20 as of 03-31
    p = predict_lines(lines, curves, "2024-03-31")
    assert p["p_30"].round(12).tolist() == [0.5, 1.0]  # the 20-day-late line can only be a day-40 payer
    assert p["p_90"].tolist() == [1.0, 1.0]
    # conditional median: the first line's is day 10 after due, the second's day 40
    assert p["expected_date"].tolist() == [pd.Timestamp("2024-04-10"), pd.Timestamp("2024-04-20")]


def test_a_line_older_than_every_payment_in_history_is_not_expected():
    curves = _curves({"A": [(5, True), (8, True), (200, False)]})
    p = predict_lines(aging_rows([("A", 100, "2023-09-01")]), curves, "2024-03-31")  # 212 days late
    assert p[["p_30", "p_60", "p_90"]].iloc[0].tolist() == [0.0, 0.0, 0.0] and pd.isna(p["expected_date"].iloc[0])


def test_cash_forecast_by_week_with_a_band_and_never_more_than_is_open():
    curves = _curves({"A": [(3, True), (10, True), (17, True), (60, False)]})
    lines = aging_rows([("A", 3000, "2024-03-31"), ("A", 900, "2024-03-31")])
    f = cash_forecast(lines, curves, "2024-03-31", weeks=13)
    assert f["week"].tolist() == list(range(1, 14)) and f["week_start"].iloc[0] == pd.Timestamp("2024-04-01")
    # each of days 3, 10, 17 is one quarter of the history (the fourth is still open at 60)
    assert np.allclose(f["expected"].head(3), [975.0, 975.0, 975.0]) and np.allclose(f["expected"].iloc[3:], 0)
    assert (f["low"] <= f["expected"]).all() and (f["expected"] <= f["high"]).all() and (f["low"] >= 0).all()
    assert f["expected"].sum() <= 3900


def test_observations_censor_open_lines_at_the_as_of_date():
    aging = aging_rows([("A", 0, "2024-03-01"), ("A", 700, "2024-03-01")])
    aging["amount"] = [500, 700]
    la = pd.DataFrame({"line_code": ["L0", "L1"], "last_payment_date": pd.to_datetime(["2024-03-06", None])})
    obs = observations(aging, la, "2024-03-31")
    assert obs[["delay", "paid"]].values.tolist() == [[5, True], [30, False]]
