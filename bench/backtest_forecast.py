"""Backtest of the cash forecast (SPEC §15): as of several past dates, forecast the receipts of the
next 4 / 8 / 13 weeks on the lines open then, and compare with what was really paid to those lines.

    .venv/bin/python bench/backtest_forecast.py                 # generated history + the demo book
    .venv/bin/python bench/backtest_forecast.py --customers 300 --seed 11 --no-demo

Error: WAPE = Σ |forecast − actual| / Σ actual over every (as-of date, currency, week ≤ horizon).
Methods:
- model: ``billing.prediction`` (Kaplan–Meier per customer, shrunk to segment and all customers);
- due date: every open line paid in full on its due date (an overdue one in the first week);
- average delay: each open line paid on due date + its customer's mean delay of the lines paid by
  then (all customers' mean for a customer without any), overdue results in the first week.

The generated history has known behaviour: per customer a typical delay (by segment: prompt,
average, slow) with day-to-day noise and a share of lines paid very late or never, so a forecast
that knows "some of it never comes" is rewarded. "What was really paid" = the allocation as of the
horizon's end, rows dated in each week, on the lines open at the as-of date.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from billing.aging import line_aging  # noqa: E402
from billing.allocation import allocate  # noqa: E402
from billing.linecode import make_codes  # noqa: E402
from billing.model import Dataset, empty_table  # noqa: E402
from billing.policy import Policy  # noqa: E402
from billing.prediction import cash_forecast, customer_curves, observations  # noqa: E402

HORIZONS = (4, 8, 13)
SEGMENTS = {"prompt": (-2.0, 4.0, 0.02), "average": (12.0, 9.0, 0.06), "slow": (35.0, 18.0, 0.15)}
_NS_PER_DAY = 86_400_000_000_000


def generated_history(n_customers: int = 150, seed: int = 5, start: str = "2024-01-01",
                      days: int = 720) -> Dataset:
    """A book with known payment behaviour (module doc); payments name their line, so allocation is exact."""
    rng = np.random.default_rng(seed)
    names = np.array(list(SEGMENTS))
    seg = names[rng.integers(0, len(names), n_customers)]
    base = np.array([SEGMENTS[s][0] for s in seg]) + rng.normal(0, 4, n_customers)
    spread = np.array([SEGMENTS[s][1] for s in seg])
    lost = np.clip(np.array([SEGMENTS[s][2] for s in seg]) + rng.normal(0, 0.02, n_customers), 0, 0.5)
    per_month = rng.gamma(2.0, 2.0, n_customers) + 0.5
    n_inv = rng.poisson(per_month * days / 30)
    cust = np.repeat(np.arange(n_customers), n_inv)
    inv_day = rng.integers(0, days, len(cust))
    n_lines = rng.integers(1, 4, len(cust))
    line_inv = np.repeat(np.arange(len(cust)), n_lines)
    line_no = np.arange(len(line_inv)) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines) + 1
    c = cust[line_inv]
    amount = np.round(rng.lognormal(10, 1, len(line_inv))).astype(np.int64) + 100
    origin = pd.Timestamp(start)
    inv_date = origin + pd.to_timedelta(inv_day[line_inv], unit="D")
    due = inv_date + pd.Timedelta(days=30)
    delay = np.round(base[c] + rng.gamma(2.0, spread[c] / 2.0) - spread[c]).astype(np.int64)
    very_late = rng.random(len(c)) < lost[c]
    delay = np.where(very_late, rng.integers(120, 900, len(c)), delay)
    paid_on = due + pd.to_timedelta(delay, unit="D")
    invoice_no = pd.Series([f"G-{i:06d}" for i in line_inv], dtype="string")
    codes = make_codes(invoice_no, pd.Series(line_no))
    ids = pd.Series([f"K{i:04d}" for i in c], dtype="string")
    invoices = empty_table("invoices").reindex(range(len(c)))
    invoices = invoices.assign(invoice_no=invoice_no, line_no=line_no.astype(np.int64), customer_id=ids,
                               invoice_date=inv_date.astype("datetime64[ns]"), due_date=due.astype("datetime64[ns]"),
                               amount=amount, currency=pd.Series(["EUR"] * len(c), dtype="string"),
                               kind=pd.Series(["invoice"] * len(c), dtype="string"), line_code=codes,
                               line_code_given=False, due_date_derived=False, line_code_original=codes,
                               _sheet=pd.Series(["invoices"] * len(c), dtype="string"),
                               _row=np.arange(len(c), dtype=np.int64) + 2)
    payments = empty_table("payments").reindex(range(len(c)))
    payments = payments.assign(payment_id=pd.Series([f"P{i:07d}" for i in range(len(c))], dtype="string"),
                               customer_id=ids, payment_date=paid_on.astype("datetime64[ns]"), amount=amount,
                               currency=pd.Series(["EUR"] * len(c), dtype="string"), line_code=codes,
                               _sheet=pd.Series(["payments"] * len(c), dtype="string"),
                               _row=np.arange(len(c), dtype=np.int64) + 2)
    customers = empty_table("customers").reindex(range(n_customers))
    customers = customers.assign(customer_id=pd.Series([f"K{i:04d}" for i in range(n_customers)], dtype="string"),
                                 segment=pd.Series(seg, dtype="string"),
                                 _sheet=pd.Series(["customers"] * n_customers, dtype="string"),
                                 _row=np.arange(n_customers, dtype=np.int64) + 2)
    tables = {"invoices": invoices, "payments": payments, "customers": customers,
              "orders": empty_table("orders"), "fx_rates": empty_table("fx_rates")}
    return Dataset(source="generated", tables=tables, quarantine=pd.DataFrame(), counts={})


def _week_of(as_of: pd.Timestamp, days: np.ndarray) -> np.ndarray:
    """Week number 1.. of day numbers after as_of (days 1-7 -> 1); on or before as_of -> 1."""
    offset = days - as_of.value // _NS_PER_DAY
    return np.maximum((offset + 6) // 7, 1)


def _by_week(currency: pd.Series, week: np.ndarray, amount: np.ndarray, weeks: int) -> pd.DataFrame:
    keep = week <= weeks
    frame = pd.DataFrame({"currency": currency.to_numpy()[keep], "week": week[keep],
                          "amount": np.asarray(amount, dtype=np.float64)[keep]})
    return frame.groupby(["currency", "week"], as_index=False)["amount"].sum()


def one_date(data: Dataset, as_of: pd.Timestamp, weeks: int = 13, policy: Policy = Policy()) -> pd.DataFrame:
    """Forecast and actual receipts per (currency, week) as of one date, for the three methods."""
    lines, pays = data.invoices, data.payments
    alloc = allocate(lines, pays, as_of, policy)
    aging = line_aging(lines, alloc, as_of, policy)
    obs = observations(aging, alloc.line_allocated, as_of)
    curves = customer_curves(obs, data.customers)
    model = cash_forecast(aging, curves, as_of, weeks).rename(columns={"expected": "model"})

    open_ = aging[aging["open"].to_numpy() > 0]
    due_day = open_["due_date"].to_numpy().astype("datetime64[ns]").view(np.int64) // _NS_PER_DAY
    on_due = _by_week(open_["currency"], _week_of(as_of, due_day), open_["open"].to_numpy(), weeks)
    paid = obs[obs["paid"].to_numpy(bool)]
    mean_delay = paid.groupby("customer_id")["delay"].mean()
    overall = float(paid["delay"].mean()) if len(paid) else 0.0
    delay = mean_delay.reindex(open_["customer_id"].astype(str)).fillna(overall).to_numpy()
    avg = _by_week(open_["currency"], _week_of(as_of, due_day + np.round(delay).astype(np.int64)),
                   open_["open"].to_numpy(), weeks)

    end = as_of + pd.Timedelta(days=7 * weeks)
    later = allocate(lines, pays, end, policy).allocations
    later = later[later["line_code"].isin(open_["line_code"]).to_numpy(bool)
                  & (later["payment_date"] > as_of).to_numpy(bool)]
    pay_day = later["payment_date"].to_numpy().astype("datetime64[ns]").view(np.int64) // _NS_PER_DAY
    actual = _by_week(later["currency"], _week_of(as_of, pay_day), later["amount"].to_numpy(), weeks)

    grid = model[["currency", "week", "model"]]
    for name, frame in (("due_date", on_due), ("avg_delay", avg), ("actual", actual)):
        grid = grid.merge(frame.rename(columns={"amount": name}), on=["currency", "week"], how="outer")
    return grid.fillna(0.0).assign(as_of=as_of)


def wape(frame: pd.DataFrame, method: str, horizon: int) -> float:
    f = frame[frame["week"] <= horizon]
    return float(np.abs(f[method] - f["actual"]).sum() / f["actual"].sum())


def backtest(data: Dataset, dates: list[pd.Timestamp], weeks: int = 13) -> pd.DataFrame:
    """WAPE per method (rows) and horizon in weeks (columns) over all the as-of dates."""
    frame = pd.concat([one_date(data, d, weeks) for d in dates], ignore_index=True)
    return pd.DataFrame({f"{h} weeks": {m: wape(frame, m, h) for m in ("model", "due_date", "avg_delay")}
                         for h in HORIZONS})


def _print(title: str, table: pd.DataFrame, seconds: float) -> None:
    print(f"\n{title}  ({seconds:.1f} s)")
    print(f"{'method':<12}" + "".join(f"{c:>12}" for c in table.columns))
    for method, row in table.iterrows():
        print(f"{method:<12}" + "".join(f"{v:>11.1%} " for v in row))
    best = table.idxmin()
    print("lowest WAPE: " + ", ".join(f"{c}: {best[c]}" for c in table.columns))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--customers", type=int, default=150)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--no-demo", action="store_true", help="skip the demo book")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    data = generated_history(args.customers, args.seed)
    dates = list(pd.date_range("2024-11-30", "2025-09-30", freq="2ME"))
    print(f"generated history: {len(data.invoices)} lines, {data.customers.shape[0]} customers, "
          f"as of {', '.join(d.strftime('%Y-%m-%d') for d in dates)}")
    _print("generated history, WAPE of weekly receipts", backtest(data, dates), time.perf_counter() - t0)
    if not args.no_demo:
        from billing.demo import demo_dataset

        t0 = time.perf_counter()
        demo = demo_dataset()
        dates = list(pd.date_range("2025-11-30", "2026-03-31", freq="ME"))
        print(f"\ndemo book: {len(demo.invoices)} lines, as of {', '.join(d.strftime('%Y-%m-%d') for d in dates)}")
        _print("demo book, WAPE of weekly receipts", backtest(demo, dates), time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
