"""The forecast's backtest (bench/backtest_forecast.py) on a small generated history with known behaviour:
the model's weekly WAPE is below both naive baselines at every horizon."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("backtest_forecast", ROOT / "bench" / "backtest_forecast.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_model_beats_both_naive_baselines_on_a_generated_history():
    bench = _bench()
    data = bench.generated_history(n_customers=40, seed=3, days=540)
    table = bench.backtest(data, [pd.Timestamp("2024-10-31"), pd.Timestamp("2025-02-28")])
    assert list(table.columns) == ["4 weeks", "8 weeks", "13 weeks"]
    for horizon in table.columns:
        assert table.loc["model", horizon] < table.loc["due_date", horizon]
        assert table.loc["model", horizon] < table.loc["avg_delay", horizon]


def test_actual_receipts_are_what_the_open_lines_really_received():
    bench = _bench()
    data = bench.generated_history(n_customers=10, seed=1, days=200)
    as_of = pd.Timestamp("2024-05-31")
    frame = bench.one_date(data, as_of, weeks=4)
    inv, pay = data.invoices, data.payments
    open_then = inv["line_code"][(inv["invoice_date"] <= as_of) & (pay["payment_date"] > as_of)]
    window = (pay["payment_date"] > as_of) & (pay["payment_date"] <= as_of + pd.Timedelta(days=28))
    expected = pay.loc[window & pay["line_code"].isin(open_then), "amount"].sum()
    assert frame["actual"].sum() == expected
