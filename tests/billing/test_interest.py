"""Late-payment interest and compensation (Directive 2011/7/EU), checked against sums done by hand."""
from __future__ import annotations

import pandas as pd
import pytest

from billing.interest import InterestError, InterestPolicy, late_charges, load_interest_policy

POLICY = InterestPolicy(reference_rates=[{"start": "2026-01-01", "rate_pct": "2.15"},
                                         {"start": "2026-07-01", "rate_pct": "2.40"}])


def _items(rows):
    df = pd.DataFrame(rows)
    df["due_date"] = pd.to_datetime(df["due_date"])
    if "disputed" in df:
        df["disputed"] = df["disputed"].fillna(0).astype("int64")
    for col, default in (("customer_id", "C1"), ("currency", "EUR"), ("disputed", 0)):
        if col not in df:
            df[col] = default
    return df


def test_thirty_days_at_reference_plus_eight_points():
    # 1,000.00 EUR, 30 days at 2.15 % + 8 = 10.15 % a year: 1000 × 0.1015 × 30 / 365 = 8.3425 -> 8.34
    c = late_charges(_items([{"invoice_no": "A1", "due_date": "2026-01-31", "open": 100_000}]), "2026-03-02",
                     POLICY)
    assert c[["days", "overdue", "interest", "compensation", "rate_pct"]].iloc[0].tolist() == \
        [30, 100_000, 834, 4_000, "10.15"]


def test_each_day_carries_the_rate_of_its_half_year():
    # 10 days of June at 10.15 % and 10 days of July at 10.40 %: 1000 × (1.015 + 1.040) / 365 = 5.6301 -> 5.63
    c = late_charges(_items([{"invoice_no": "A1", "due_date": "2026-06-20", "open": 100_000}]), "2026-07-10",
                     POLICY)
    assert c["interest"].tolist() == [563]
    assert c["rate_pct"].tolist() == ["10.4"]


def test_half_a_cent_rounds_up_once_per_invoice():
    # rate 3.65 %, 100 days: open × 3.65 × 100 / 36,500 = open / 100 minor units
    p = InterestPolicy(reference_rates=[{"start": "2025-01-01", "rate_pct": "3.65"}], margin_pct=0)
    due = "2026-03-22"  # 100 days before 2026-06-30
    one = late_charges(_items([{"invoice_no": "A", "due_date": due, "open": 50}]), "2026-06-30", p)
    assert one["interest"].tolist() == [1]  # 0.5 -> 1
    two_lines = late_charges(_items([{"invoice_no": "B", "due_date": due, "open": 30},
                                     {"invoice_no": "B", "due_date": due, "open": 30}]), "2026-06-30", p)
    assert two_lines["interest"].tolist() == [1]  # 0.3 + 0.3 = 0.6 -> 1, not 0 + 0
    assert two_lines["overdue"].tolist() == [60]


def test_disputed_and_not_yet_due_amounts_carry_nothing():
    items = _items([{"invoice_no": "A1", "due_date": "2026-01-31", "open": 100_000, "disputed": 40_000},
                    {"invoice_no": "A2", "due_date": "2026-03-10", "open": 5_000},
                    {"invoice_no": "A3", "due_date": "2026-01-31", "open": 7_000, "disputed": 7_000}])
    c = late_charges(items, "2026-03-02", POLICY)
    assert c["invoice_no"].tolist() == ["A1"]
    # 600.00 × 10.15 % × 30 / 365 = 5.0055 -> 5.01
    assert c["overdue"].tolist() == [60_000] and c["interest"].tolist() == [501]


def test_compensation_only_in_currencies_the_policy_prices():
    items = _items([{"invoice_no": "H1", "due_date": "2026-02-01", "open": 1_000_000, "currency": "HUF"}])
    assert late_charges(items, "2026-03-01", POLICY)["compensation"].tolist() == [0]
    p = InterestPolicy(reference_rates=POLICY.reference_rates, compensation={"EUR": "40", "HUF": "15000"})
    assert late_charges(items, "2026-03-01", p)["compensation"].tolist() == [15_000_00]


def test_a_day_without_a_reference_rate_is_refused():
    items = _items([{"invoice_no": "A1", "due_date": "2025-12-01", "open": 100}])
    with pytest.raises(InterestError, match="no reference rate in force on 2025-12-02"):
        late_charges(items, "2026-01-10", POLICY)


def test_policy_reads_from_toml():
    p = load_interest_policy('margin_pct = "8"\ncompensation = { EUR = "40" }\n'
                             '[[reference_rates]]\nstart = 2026-01-01\nrate_pct = "2.15"\n')
    assert str(p.rate_on(pd.Timestamp("2026-05-01").date())) == "10.15"
    with pytest.raises(ValueError):
        InterestPolicy(reference_rates=[])
