"""Payment prediction and cash forecast (SPEC §15): Kaplan–Meier survival of days-to-pay, vectorised.

Time is the **delay**: whole days from a line's due date to the day it was fully paid (negative =
paid early). Every invoice line invoiced on or before the as-of date is one observation:

- a fully paid line is an *event* at its delay (``last_payment_date − due_date``);
- a line still open is *censored* at ``as_of − due_date``: we know only that it was not paid by then
  (it counts in the risk set up to that day, and is never thrown away).

`kaplan_meier` estimates S(t) = P(delay > t) for many groups at once on an integer day grid
(`GRID_LOW`..`GRID_HIGH`): events d(t) and exits c(t) are counted with one ``bincount`` per
(group, day), the risk set n(t) = number still observed at t is a reverse cumulative sum, and
S(t) = Π_{u ≤ t} (1 − d(u)/n(u)) a cumulative product along the day axis.

Hand-worked (one group): delays 2 (paid), 3 (open), 5 (paid), 5 (paid), 8 (open).

    t = 2: n = 5, d = 1  ->  S = 1 × (1 − 1/5)        = 0.8
    t = 3: n = 4, d = 0  ->  S = 0.8                    (the open line leaves the risk set after t=3)
    t = 5: n = 3, d = 2  ->  S = 0.8 × (1 − 2/3)      = 0.2667
    t = 8: n = 1, d = 0  ->  S = 0.2667                 (a plateau: the open line may never pay)

Shrinkage (`customer_curves`): a customer's own curve is trusted in proportion to its evidence,
w = e / (e + `PRIOR_EVENTS`) with e its paid lines; the rest comes from its segment's curve, itself
shrunk the same way to the all-customer curve:
S = w_c·S_customer + (1 − w_c)·(w_s·S_segment + (1 − w_s)·S_all). A mixture of survival curves is a
survival curve, so every probability below stays in [0, 1] and monotone.

For an open line at delay a today (`predict_lines`): P(paid within h days) = 1 − S(a + h)/S(a)
(conditional on not being paid by now), the expected payment date is the conditional median
(the first day t >= a with S(t) <= S(a)/2; none within the grid = not expected), and the cash
forecast (`cash_forecast`) sums open × P(paid in week k) per currency, with a band of ±1.645
standard deviations of that sum (each line paid in that week or not: variance open²·p·(1 − p)).
Money stays int64 minor units on the lines; expected amounts are float minor units, rounded to
whole minor units only where they are reported.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

__all__ = ["GRID_LOW", "GRID_HIGH", "PRIOR_EVENTS", "BAND_Z", "kaplan_meier", "observations", "Curves",
           "customer_curves", "predict_lines", "cash_forecast", "FORECAST_COLUMNS", "PREDICTION_COLUMNS"]

GRID_LOW = -90    # days before the due date: earlier payments count as paid this early
GRID_HIGH = 545   # days after it: the longest delay the curves describe (observations beyond are censored)
PRIOR_EVENTS = 8  # paid lines at which a customer's own curve gets half the weight
BAND_Z = 1.645    # the forecast band: ±1.645 sd, a 90 % interval under the normal approximation
_NS_PER_DAY = 86_400_000_000_000
PREDICTION_COLUMNS = ["line_code", "customer_id", "currency", "open", "delay_now", "p_30", "p_60", "p_90",
                      "expected_date"]
FORECAST_COLUMNS = ["currency", "week", "week_start", "week_end", "expected", "low", "high"]


def _day_numbers(values: Any) -> np.ndarray:
    """Whole days since 1970-01-01 of a datetime column (NaT -> int64 min)."""
    ns = pd.to_datetime(pd.Series(values)).to_numpy().astype("datetime64[ns]").view(np.int64)
    return np.where(ns == np.iinfo(np.int64).min, ns, ns // _NS_PER_DAY)


def kaplan_meier(delay: np.ndarray, paid: np.ndarray, group: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan–Meier survival per group on the day grid (the module doc has a worked example).

    `delay`: int days (clipped to the grid), `paid`: bool (event) or False (censored there),
    `group`: 0..n_groups-1 per observation. Returns (S, events): S[g, j] = P(delay > GRID_LOW + j)
    for group g (1.0 for a group without observations), events[g] = its number of paid lines.
    """
    width = GRID_HIGH - GRID_LOW + 1
    t = np.clip(np.asarray(delay, dtype=np.int64), GRID_LOW, GRID_HIGH) - GRID_LOW
    event = np.asarray(paid, dtype=bool) & (np.asarray(delay) <= GRID_HIGH)
    g = np.asarray(group, dtype=np.int64)
    flat = g * width + t
    d = np.bincount(flat[event], minlength=n_groups * width).reshape(n_groups, width).astype(np.float64)
    leaving = np.bincount(flat, minlength=n_groups * width).reshape(n_groups, width)
    at_risk = np.cumsum(leaving[:, ::-1], axis=1)[:, ::-1].astype(np.float64)  # observed at t or later
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(at_risk > 0, d / at_risk, 0.0)
    return np.cumprod(1.0 - hazard, axis=1), d.sum(axis=1).astype(np.int64)


def observations(aging: pd.DataFrame, line_allocated: pd.DataFrame, as_of: Any) -> pd.DataFrame:
    """Days-to-pay history as of `as_of` from the engine's results: one row per line with amount > 0
    (``line_aging`` rows): customer_id, currency, line_code, delay (days from due date to full payment,
    or to as_of while open), paid (bool: an event), open (minor units)."""
    a = aging[aging["amount"].to_numpy(dtype=np.int64) > 0]
    as_of_day = pd.Timestamp(as_of).normalize().value // _NS_PER_DAY
    last = line_allocated.drop_duplicates("line_code").set_index("line_code")["last_payment_date"]
    paid_on = _day_numbers(last.reindex(a["line_code"].astype(str)).to_numpy())
    paid = (a["open"].to_numpy(dtype=np.int64) <= 0) & (paid_on != np.iinfo(np.int64).min)
    due = _day_numbers(a["due_date"].to_numpy())
    delay = np.where(paid, paid_on, as_of_day) - due
    return pd.DataFrame({"customer_id": a["customer_id"].astype("string").to_numpy(),
                         "currency": a["currency"].astype("string").to_numpy(),
                         "line_code": a["line_code"].astype("string").to_numpy(),
                         "delay": delay, "paid": paid, "open": a["open"].to_numpy(dtype=np.int64)})


@dataclass
class Curves:
    """Blended survival curves, one row per customer (`customers`, an Index of ids; a customer not in
    it gets the all-customer curve, row `fallback`): survival[i, j] = P(delay > GRID_LOW + j)."""

    customers: pd.Index
    survival: np.ndarray
    weight: np.ndarray  # the customer's own share in its curve (w_c)

    @property
    def fallback(self) -> int:
        return len(self.customers)

    def rows(self, customer_ids: pd.Series | np.ndarray) -> np.ndarray:
        idx = self.customers.get_indexer(pd.Index(pd.Series(customer_ids).astype("string")))
        return np.where(idx >= 0, idx, self.fallback)


def _weight(events: np.ndarray, prior_events: float) -> np.ndarray:
    """A group's own share in its curve: e / (e + prior) (0 for a group without paid lines)."""
    total = events + prior_events
    return np.divide(events, total, out=np.zeros(len(events)), where=total > 0)


def customer_curves(obs: pd.DataFrame, customers: pd.DataFrame | None = None,
                    prior_events: float = PRIOR_EVENTS) -> Curves:
    """Each customer's curve from their own history, shrunk to their segment's and all customers'.

    `obs`: `observations` rows. `customers`: the customers table (its ``segment`` column, when
    there is one, groups them; customers without a segment share the all-customer curve).
    """
    ids = pd.Index(pd.unique(obs["customer_id"].astype("string").dropna()))
    cust = ids.get_indexer(obs["customer_id"].astype("string"))
    ok = cust >= 0
    s_cust, e_cust = kaplan_meier(obs["delay"].to_numpy()[ok], obs["paid"].to_numpy()[ok], cust[ok], len(ids))
    s_all, e_all = kaplan_meier(obs["delay"].to_numpy(), obs["paid"].to_numpy(), np.zeros(len(obs), np.int64), 1)

    seg_of = pd.Series(pd.NA, index=ids, dtype="string")
    if customers is not None and len(customers) and "segment" in customers:
        c = customers.drop_duplicates("customer_id")
        seg_of = pd.Series(c["segment"].astype("string").to_numpy(),
                           index=c["customer_id"].astype("string").to_numpy()).reindex(ids)
    seg_ids = pd.Index(pd.unique(seg_of.dropna()))
    seg_code = seg_ids.get_indexer(seg_of)   # -1: no segment
    obs_seg = np.where(ok, seg_code[np.maximum(cust, 0)], -1)
    has = obs_seg >= 0
    s_seg, e_seg = kaplan_meier(obs["delay"].to_numpy()[has], obs["paid"].to_numpy()[has], obs_seg[has],
                                max(len(seg_ids), 1))
    w_seg = _weight(e_seg, prior_events)
    seg_curve = w_seg[:, None] * s_seg + (1 - w_seg[:, None]) * s_all
    parent = np.where(seg_code[:, None] >= 0, seg_curve[np.maximum(seg_code, 0)], s_all)
    w = _weight(e_cust, prior_events)
    blended = w[:, None] * s_cust + (1 - w[:, None]) * parent
    return Curves(ids, np.vstack([blended, s_all]), np.append(w, 0.0))


def _at(survival: np.ndarray, rows: np.ndarray, delay: np.ndarray) -> np.ndarray:
    """S(delay) on each row's curve; S = 1 before the grid, flat after it."""
    j = np.clip(delay, GRID_LOW, GRID_HIGH) - GRID_LOW
    return np.where(delay < GRID_LOW, 1.0, survival[rows, j])


def _conditional(survival: np.ndarray, rows: np.ndarray, now: np.ndarray, later: np.ndarray) -> np.ndarray:
    """P(paid by delay `later` | not paid by `now`) = 1 − S(later)/S(now) (0 when S(now) is 0)."""
    s_now = _at(survival, rows, now)
    s_later = _at(survival, rows, later)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(s_now > 1e-12, 1.0 - s_later / s_now, 0.0)
    return np.clip(p, 0.0, 1.0)


def predict_lines(aging: pd.DataFrame, curves: Curves, as_of: Any,
                  horizons: Sequence[int] = (30, 60, 90)) -> pd.DataFrame:
    """Per open line (open > 0): its delay today, P(paid within each horizon) as p_<h>, and the
    expected payment date (conditional median; NaT when the curve never gets there)."""
    a = aging[aging["open"].to_numpy(dtype=np.int64) > 0]
    as_of_day = pd.Timestamp(as_of).normalize().value // _NS_PER_DAY
    due = _day_numbers(a["due_date"].to_numpy())
    now = as_of_day - due
    rows = curves.rows(a["customer_id"])
    out = {"line_code": a["line_code"].astype("string").to_numpy(),
           "customer_id": a["customer_id"].astype("string").to_numpy(),
           "currency": a["currency"].astype("string").to_numpy(),
           "open": a["open"].to_numpy(dtype=np.int64), "delay_now": now}
    for h in horizons:
        out[f"p_{h}"] = _conditional(curves.survival, rows, now, now + h)
    half = 0.5 * _at(curves.survival, rows, now)
    # first grid day at or after `now` where S <= S(now)/2: S is monotone, so count the days above it
    j_now = np.clip(now, GRID_LOW, GRID_HIGH) - GRID_LOW
    above = (curves.survival[rows] > half[:, None]).sum(axis=1)
    j_med = np.maximum(above, j_now)
    reached = above <= GRID_HIGH - GRID_LOW
    days = np.where(reached, due + j_med + GRID_LOW, np.iinfo(np.int64).min)
    out["expected_date"] = np.where(days == np.iinfo(np.int64).min, np.iinfo(np.int64).min,
                                    days * _NS_PER_DAY).view("datetime64[ns]")
    return pd.DataFrame(out)


def cash_forecast(aging: pd.DataFrame, curves: Curves, as_of: Any, weeks: int = 13) -> pd.DataFrame:
    """Expected receipts per currency and week k = 1..weeks after `as_of` (days 7(k−1)+1 .. 7k):
    Σ open × P(paid in that week | unpaid today), with the ±`BAND_Z` sd band (low >= 0). Float minor units."""
    a = aging[aging["open"].to_numpy(dtype=np.int64) > 0]
    as_of_ts = pd.Timestamp(as_of).normalize()
    now = as_of_ts.value // _NS_PER_DAY - _day_numbers(a["due_date"].to_numpy())
    rows = curves.rows(a["customer_id"])
    s_now = _at(curves.survival, rows, now)
    k = np.arange(weeks + 1, dtype=np.int64)
    s = _at(curves.survival, np.repeat(rows, weeks + 1), (now[:, None] + 7 * k).ravel()).reshape(len(a), weeks + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cond = np.where(s_now[:, None] > 1e-12, s / s_now[:, None], 1.0)
    p_week = np.clip(cond[:, :-1] - cond[:, 1:], 0.0, 1.0)           # (lines, weeks)
    amount = a["open"].to_numpy(dtype=np.float64)[:, None]
    cur_codes, cur_names = pd.factorize(a["currency"].astype("string"), sort=True)
    frames = []
    for c, name in enumerate(cur_names):  # one block per currency (a handful)
        sel = cur_codes == c
        mean = (amount[sel] * p_week[sel]).sum(axis=0)
        sd = np.sqrt((amount[sel] ** 2 * p_week[sel] * (1 - p_week[sel])).sum(axis=0))
        start = as_of_ts + pd.to_timedelta(7 * k[:-1] + 1, unit="D")
        frames.append(pd.DataFrame({"currency": name, "week": k[1:], "week_start": start,
                                    "week_end": start + pd.Timedelta(days=6), "expected": mean,
                                    "low": np.maximum(mean - BAND_Z * sd, 0.0), "high": mean + BAND_Z * sd}))
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
            FORECAST_COLUMNS, ["string", "int64", "datetime64[ns]", "datetime64[ns]", "float64", "float64",
                               "float64"])})
    return pd.concat(frames, ignore_index=True)[FORECAST_COLUMNS]
