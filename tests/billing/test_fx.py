"""billing.fx: rate look-up and exact conversion to base-currency minor units."""
from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.fx import mul_round_half_even, rate_on, to_base
from tests.budget import examples

AS_OF = pd.Timestamp("2024-06-30")


@pytest.fixture
def rates():
    return pd.DataFrame({
        "date": pd.to_datetime(["2024-01-01", "2024-06-01", "2024-07-01", "2024-06-01", "2024-06-01", "2024-06-20",
                                "2024-06-25"]),
        "currency": ["EUR", "EUR", "EUR", "jpy", "BHD", "GBP", "GBP"],
        "rate": [1.05, 1.1, 1.2, 0.0067, 2.6525, 1.27, np.nan],
    })


def frame(currencies, amounts, **extra) -> pd.DataFrame:
    return pd.DataFrame({"currency": pd.array(currencies, dtype="string"),
                         "open": np.array(amounts, dtype=np.int64), **extra})


def test_rate_on_takes_the_rate_of_the_day_or_the_latest_before(rates):
    assert rate_on(rates, "EUR", "2024-06-01") == 1.1
    assert rate_on(rates, "EUR", AS_OF) == 1.1  # 07-01 is after as_of
    assert rate_on(rates, "EUR", "2024-05-31") == 1.05
    assert rate_on(rates, "EUR", "2023-12-31") is None


def test_rate_on_ignores_case_and_unusable_rates_and_knows_the_base(rates):
    assert rate_on(rates, "JPY", AS_OF) == 0.0067
    assert rate_on(rates, "GBP", AS_OF) == 1.27  # the NaN rate of 06-25 is skipped
    assert rate_on(rates, "USD", AS_OF) is None
    assert rate_on(rates, "usd", AS_OF, base_currency="USD") == 1.0
    assert rate_on(None, "EUR", AS_OF) is None


def test_to_base_converts_minor_units_rounding_half_even(rates):
    # EUR 100.05 × 1.1 = 110.055 USD -> 11005.5 cents -> 11006 (to even)
    # EUR 100.15 × 1.1 = 110.165 USD -> 11016.5 cents -> 11016 (to even)
    # JPY 1234 × 0.0067 = 8.2678 USD -> 826.78 cents -> 827
    # BHD 1.234 (1234 fils) × 2.6525 = 3.273185 USD -> 327.3185 cents -> 327
    # USD 250 cents -> 250 (base rate 1)
    df = frame(["EUR", "EUR", "JPY", "BHD", "USD"], [10005, 10015, 1234, 1234, 250])
    out = to_base(df, ["open"], rates, AS_OF, "USD")
    assert out["open_base"].tolist() == [11006, 11016, 827, 327, 250]
    assert out["open_base"].dtype == "Int64"
    assert out["fx_rate"].tolist() == [1.1, 1.1, 0.0067, 2.6525, 1.0]
    assert not out["fx_missing"].any()
    assert (out["base_currency"] == "USD").all()
    # rows keep their own currency and amounts
    pd.testing.assert_frame_equal(out[["currency", "open"]], df)


def test_to_base_into_a_zero_digit_currency(rates):
    # base JPY; a USD rate of 151.37 yen per dollar: USD 123.45 -> 18686.6265 yen -> 18687
    fx = pd.DataFrame({"date": pd.to_datetime(["2024-06-01"]), "currency": ["USD"], "rate": [151.37]})
    out = to_base(frame(["USD", "JPY"], [12345, 500]), ["open"], fx, AS_OF, "JPY")
    assert out["open_base"].tolist() == [18687, 500]


@pytest.mark.parametrize("amount, rate, expected", [(45, 0.7, 32), (55, 1.1, 60), (50, 1.15, 58), (180, 2.675, 482),
                                                    (300, 0.285, 86)])
def test_to_base_uses_the_rate_as_written_not_its_binary_float(amount, rate, expected):
    # e.g. 45 × 0.7 = 31.5 exactly -> 32 (half-even), where the float product 31.499999999999996 rounds to 31
    fx = pd.DataFrame({"date": pd.to_datetime(["2024-01-01"]), "currency": ["EUR"], "rate": [rate]})
    assert to_base(frame(["EUR"], [amount]), ["open"], fx, AS_OF, "USD")["open_base"].tolist() == [expected]


def test_to_base_flags_a_missing_rate_and_leaves_the_amount_na(rates):
    out = to_base(frame(["EUR", "CHF", None], [100, 200, 300]), ["open"], rates, AS_OF, "USD")
    assert out["fx_missing"].tolist() == [False, True, True]
    assert out.loc[0, "open_base"] == 110
    assert out["open_base"].isna().tolist() == [False, True, True]
    assert np.isnan(out.loc[1, "fx_rate"])


def test_to_base_converts_each_row_at_its_own_date(rates):
    df = frame(["EUR", "EUR", "EUR", "EUR"], [1000, 1000, 1000, 1000],
               date=pd.to_datetime(["2024-03-01", "2024-06-15", "2024-07-02", "2023-01-01"]))
    out = to_base(df, ["open"], rates, "date", "USD")
    assert out["open_base"].tolist()[:3] == [1050, 1100, 1200]
    assert out["fx_missing"].tolist() == [False, False, False, True]


def test_to_base_several_columns_and_nullable_amounts(rates):
    df = pd.DataFrame({"currency": pd.array(["EUR", "EUR"], dtype="string"),
                       "open": np.array([100, 200], dtype=np.int64),
                       "credit_limit": pd.array([1000, None], dtype="Int64")})
    out = to_base(df, ["open", "credit_limit"], rates, AS_OF, "USD")
    assert out["open_base"].tolist() == [110, 220]
    assert out.loc[0, "credit_limit_base"] == 1100 and pd.isna(out.loc[1, "credit_limit_base"])
    assert not out["fx_missing"].any()


def test_to_base_without_rates_converts_only_the_base_currency():
    out = to_base(frame(["USD", "EUR"], [5, 7]), ["open"], None, AS_OF, "USD")
    assert out["open_base"].tolist()[0] == 5 and pd.isna(out.loc[1, "open_base"])


def test_to_base_of_an_empty_frame(rates):
    out = to_base(frame([], []), ["open"], rates, AS_OF, "USD")
    assert len(out) == 0 and {"open_base", "fx_missing", "fx_rate", "base_currency"} <= set(out.columns)


def test_large_amounts_stay_exact():
    # 9e15 minor units × 1.23456789012345 does not fit int64 arithmetic: Python integers take over
    a = np.array([9_000_000_000_000_001, -3], dtype=np.int64)
    p, q = Decimal("1.23456789012345").as_integer_ratio()
    expected = [round(Fraction(int(x) * p, q)) for x in a]  # round() of a Fraction is half-even
    assert expected[0] == 11_111_111_011_111_051  # 9e15 × 1.23456789012345 + 1.2345…
    assert mul_round_half_even(a, p, q).tolist() == expected


@settings(max_examples=examples(150))
@given(st.lists(st.integers(-10 ** 12, 10 ** 12), min_size=1, max_size=20),
       st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("50000"), places=6, allow_nan=False),
       st.sampled_from([("EUR", "USD"), ("JPY", "USD"), ("USD", "JPY"), ("BHD", "EUR"), ("EUR", "BHD")]))
def test_property_to_base_equals_decimal_half_even_per_row(amounts, rate, pair):
    ccy, base = pair
    digits = {"EUR": 2, "USD": 2, "JPY": 0, "BHD": 3}
    rate_f = float(rate)
    fx = pd.DataFrame({"date": pd.to_datetime(["2024-01-01"]), "currency": [ccy], "rate": [rate_f]})
    out = to_base(frame([ccy] * len(amounts), amounts), ["open"], fx, AS_OF, base)
    r = Decimal(str(rate_f))
    scale = Decimal(10) ** (digits[base] - digits[ccy])
    expected = [int((Decimal(a) * r * scale).quantize(Decimal(1), ROUND_HALF_EVEN)) for a in amounts]
    assert out["open_base"].tolist() == expected


def test_to_base_reads_currency_codes_case_and_space_insensitively(rates):
    out = to_base(frame(["eur", " EUR", "Usd"], [100, 100, 100]), ["open"], rates, AS_OF, "usd")
    assert out["open_base"].tolist() == [110, 110, 100]
    assert out["currency"].tolist() == ["eur", " EUR", "Usd"]  # rows keep their currency as given
