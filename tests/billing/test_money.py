"""billing.money: exact parsing of spreadsheet money cells, and formatting."""

from __future__ import annotations

import decimal
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.money import (
    MoneyParse,
    format_minor,
    format_minor_series,
    minor_digits,
    minor_digits_series,
    parse_money,
)
from tests.budget import examples


def parse(values, currency="USD", decimal=None) -> MoneyParse:
    return parse_money(pd.Series(values, dtype=object), currency, decimal)


def one(value, currency="USD", decimal=None):
    """(minor or None, error or None) for a single cell."""
    r = parse([value], currency, decimal)
    m, e = r.minor.iloc[0], r.error.iloc[0]
    return (None if pd.isna(m) else int(m)), (None if pd.isna(e) else str(e))


# ---- minor digits ----------------------------------------------------------------


def test_minor_digits_follow_babel_iso4217():
    assert minor_digits("USD") == 2
    assert minor_digits("EUR") == 2
    assert minor_digits("JPY") == 0
    assert minor_digits("HUF") == 2  # Babel's word
    assert minor_digits("BHD") == 3
    assert minor_digits(" usd ") == 2


def test_unknown_or_missing_currency_has_two_digits():
    assert minor_digits("ZZZ") == 2
    assert minor_digits("") == 2
    assert minor_digits(None) == 2  # type: ignore[arg-type]


def test_minor_digits_series_is_int64_per_row():
    out = minor_digits_series(pd.Series(["USD", "JPY", None, "bhd", "JPY"]))
    assert out.dtype == np.int64
    assert out.tolist() == [2, 0, 2, 3, 0]


# ---- accepted text formats ---------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "currency", "expected"),
    [
        ("1234.5", "USD", 123450),
        ("$1,234.50", "USD", 123450),
        ("-1234.5", "USD", -123450),
        ("(1,234.50)", "USD", -123450),
        ("($1,234.50)", "USD", -123450),
        ("1234.5-", "USD", -123450),
        ("+12", "USD", 1200),
        ("12.50 USD", "USD", 1250),
        ("usd 12.50", "USD", 1250),
        ("US$ 7", "USD", 700),
        ("-$5", "USD", -500),
        ("$-5", "USD", -500),
        ("1'234.50", "CHF", 123450),
        ("1\u2019234.50", "CHF", 123450),
        (".5", "USD", 50),
        ("$.05", "USD", 5),
        ("0", "USD", 0),
        ("0.00", "USD", 0),
        ("-0.05", "USD", -5),
        ("12,34,567.89", "INR", 123456789),
        ("₹12,34,567.89", "INR", 123456789),
        ("\u22125.00", "USD", -500),  # Unicode minus sign
        ("１２３４．５", "JPY", None),  # full-width: 1234.5 JPY has a decimal
        ("１２３４", "JPY", 1234),
    ],
)
def test_us_style_amounts(cell, currency, expected):
    minor, err = one(cell, currency)
    assert minor == expected
    assert (err is None) == (expected is not None)


@pytest.mark.parametrize(
    ("cell", "currency", "expected"),
    [
        ("1.234,50 €", "EUR", 123450),
        ("€1.234,50", "EUR", 123450),
        ("EUR 12,50", "EUR", 1250),
        ("1 234,50", "EUR", 123450),
        ("1\u00a0234,50", "EUR", 123450),  # NBSP
        ("1\u202f234,50", "EUR", 123450),  # narrow NBSP
        ("-1.234,5", "EUR", -123450),
        ("(1.234,50 €)", "EUR", -123450),
        ("1.234,50-", "EUR", -123450),
        ("12 345 Ft", "HUF", 1234500),
        ("12.345,67 Ft", "HUF", 1234567),
        ("1.234.567", "EUR", 123456700),
        (",5", "EUR", 50),
    ],
)
def test_european_thousands_and_comma_decimal(cell, currency, expected):
    minor, err = one(cell, currency, decimal=",")
    assert (minor, err) == (expected, None)


def test_currency_symbols_before_and_after():
    cells = ["¥1234", "1234 ¥", "￥1,234", "1234元", "CNY 1234", "1234 円"]
    r = parse(cells, pd.Series(["JPY", "JPY", "CNY", "CNY", "CNY", "JPY"]))
    assert r.error.isna().all(), r.error.tolist()
    assert r.minor.tolist() == [1234, 1234, 123400, 123400, 123400, 1234]


def test_symbol_or_code_contradicting_row_currency_is_error():
    r = parse(
        ["€12.50", "12.50 GBP", "¥100", "$3", "12 Ft"],
        pd.Series(["USD", "USD", "EUR", "CAD", "HUF"]),
    )
    assert r.minor.isna().tolist() == [True, True, True, False, False]
    assert r.error.iloc[0] == "names € but the row's currency is USD"
    assert r.error.iloc[1] == "names GBP but the row's currency is USD"
    assert r.error.iloc[2] == "names ¥ but the row's currency is EUR"
    assert r.minor.iloc[3] == 300 and r.minor.iloc[4] == 1200


def test_jpy_has_no_decimals():
    assert one("1,234", "JPY") == (1234, None)
    assert one("¥1,234", "JPY") == (1234, None)
    assert one("1234.00", "JPY") == (1234, None)
    assert one("1234.5", "JPY") == (None, "has 1 decimal but JPY allows none")
    assert one(1234.0, "JPY") == (1234, None)
    assert one(1234.5, "JPY") == (None, "has 1 decimal but JPY allows none")


def test_bhd_has_three_decimals():
    assert one("1.234", "BHD") == (1234, None)
    assert one("12.5", "BHD") == (12500, None)
    assert one("BHD 1,234.567", "BHD") == (1234567, None)
    assert one("0.0005", "BHD") == (None, "has 4 decimals but BHD allows 3")
    assert one(0.125, "BHD") == (125, None)


def test_too_many_decimals_is_error_never_rounded():
    assert one("12.345", "USD", decimal=".") == (None, "has 3 decimals but USD allows 2")
    assert one("1234.567", "USD") == (None, "has 3 decimals but USD allows 2")
    assert one("12,345", "EUR", decimal=",") == (None, "has 3 decimals but EUR allows 2")
    assert one(12.345, "USD") == (None, "has 3 decimals but USD allows 2")


def test_trailing_zero_decimals_are_fine():
    assert one("12.500", "USD", decimal=".") == (1250, None)
    assert one("12.5000", "USD") == (1250, None)  # 4 decimals: not the 3-digit ambiguity
    assert one("12,500", "EUR", decimal=",") == (1250, None)


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("abc", "is not a number"),
        ("12abc", "is not a number"),
        ("1-2", "is not a number"),
        ("12%", "is not a number"),
        ("-", "is not a number"),
        ("$", "is not a number"),
        ("12 34", "has irregular digit grouping"),
        ("1,23,4", "has irregular digit grouping"),
        ("((12))", "has unbalanced parentheses"),
        ("(12", "has unbalanced parentheses"),
        ("-(12)", "has more than one sign"),
        ("-12-", "has more than one sign"),
        ("+12-", "has more than one sign"),
        ("XYZ 12", "is not a number"),
        ("12 EUR 50", "is not a number"),
    ],
)
def test_garbage_is_error_with_message(cell, message):
    assert one(cell, "USD", decimal=".") == (None, message)


def test_values_too_large_for_int64_are_errors():
    assert one("12345678901234567", "USD")[1] == "is too large"
    assert one(10**30, "USD")[1] == "is too large"
    assert one("99999999999999999", "USD") == (None, "is too large")
    # 18 digits of minor units fit int64, but sums of them would not: at most MAX_AMOUNT_MINOR a cell.
    assert one("9999999999999999.99", "USD") == (
        None, "is too large: Linewise keeps totals exact for amounts up to 999999999999999.99 USD; check the cell")
    assert one("999999999999999.99", "USD") == (10**17 - 1, None)


# ---- blanks and non-text cells --------------------------------------------------------


def test_blank_cells_are_blank_not_errors():
    r = parse(["", "   ", "\u00a0", None, np.nan, pd.NA, "12"])
    assert r.blank.tolist() == [True] * 6 + [False]
    assert r.minor.isna().tolist() == [True] * 6 + [False]
    assert r.error.isna().all()


def test_result_dtypes_and_index():
    values = pd.Series(["1.50", None, "x"], index=[10, 20, 30], dtype=object)
    r = parse_money(values, "USD")
    assert str(r.minor.dtype) == "Int64"
    assert str(r.error.dtype) == "string"
    assert r.blank.dtype == bool
    assert list(r.minor.index) == [10, 20, 30]
    assert list(r.error.index) == [10, 20, 30]
    assert r.minor.iloc[0] == 150


def test_floats_from_excel_use_shortest_decimal():
    assert one(0.1) == (10, None)
    assert one(1234.5) == (123450, None)
    assert one(-0.07) == (-7, None)
    assert one(0.1 + 0.2) == (30, None)  # 0.30000000000000004: Excel shows 0.3
    assert one(1e-05) == (None, "has 5 decimals but USD allows 2")
    assert one(1.5e16, "JPY") == (15000000000000000, None)
    assert one(1e20, "JPY") == (None, "is too large")
    assert one(float("inf")) == (None, "is not a number")


def test_float64_column_is_exact():
    col = pd.Series([0.1, 0.2, 1234.56, 19.99, np.nan, 1e-05, 100.0])
    r = parse_money(col, "USD")
    assert r.minor.tolist()[:4] == [10, 20, 123456, 1999]
    assert r.blank.tolist()[4] is True
    assert r.error.iloc[5] == "has 5 decimals but USD allows 2"
    assert r.minor.iloc[6] == 10000


def test_ints_are_exact():
    r = parse_money(pd.Series([1, -2, 123456789012], dtype="int64"), "USD")
    assert r.minor.tolist() == [100, -200, 12345678901200]
    assert one(123456789012345, "JPY") == (123456789012345, None)
    assert one(np.int64(7), "BHD") == (7000, None)


def test_mixed_object_column():
    r = parse([12, 0.5, "3.25", Decimal("1.10"), True, pd.Timestamp("2024-01-01"), None])
    assert r.minor.tolist()[:4] == [1200, 50, 325, 110]
    assert r.error.tolist()[4:6] == ["is not a number", "is not a number"]
    assert r.blank.tolist() == [False] * 6 + [True]


def test_string_dtype_column():
    r = parse_money(pd.Series(["1,5", "2,25", None], dtype="string"), "EUR")
    assert r.decimal == ","
    assert r.minor.tolist()[:2] == [150, 225]


def test_per_row_currencies():
    r = parse_money(pd.Series(["12", "12", "12", "12.5"]), pd.Series(["USD", "JPY", "BHD", "JPY"]))
    assert r.minor.tolist()[:3] == [1200, 12, 12000]
    assert r.error.iloc[3] == "has 1 decimal but JPY allows none"


# ---- decimal separator detection --------------------------------------------------------


def test_european_column_detects_comma():
    r = parse(["1.234,50", "12,5", "1.000", "7"], "EUR")
    assert r.decimal == ","
    assert r.minor.tolist() == [123450, 1250, 100000, 700]
    assert r.error.isna().all()


def test_us_column_detects_dot():
    r = parse(["1,234.50", "12.5", "1,000", "7"], "USD")
    assert r.decimal == "."
    assert r.minor.tolist() == [123450, 1250, 100000, 700]


def test_repeated_separator_is_grouping_evidence():
    assert parse(["1.234.567", "1.000"], "EUR").decimal == ","
    assert parse(["1,234,567", "1,000"], "USD").decimal == "."


def test_separator_after_leading_zero_or_four_digits_is_decimal():
    assert parse(["0,125", "1,000"], "BHD").decimal == ","
    assert parse(["1234,567", "1,000"], "BHD").decimal == ","
    assert parse(["1 234,56", "1,000"], "EUR").decimal == ","


def test_ambiguous_comma_group_without_evidence_is_thousands():
    r = parse(["1,234", "2,500", "10"], "USD")
    assert r.decimal == "."
    assert r.minor.tolist() == [123400, 250000, 1000]
    assert r.error.isna().all()


def test_ambiguous_dot_group_without_evidence_is_an_error():
    r = parse(["1.234", "12.500", "10"], "EUR")
    assert r.decimal == "."
    assert r.error.iloc[0] == (
        "is ambiguous: '1.234' could be 1234 or 1.234; set the decimal separator for this source"
    )
    assert r.error.iloc[1].startswith("is ambiguous: '12.500' could be 12500 or 12.500")
    assert r.minor.iloc[2] == 1000


def test_ambiguous_dot_group_is_a_decimal_for_three_digit_currency():
    r = parse(["1.234", "10"], "BHD")
    assert r.minor.tolist() == [1234, 10000]


def test_ambiguous_values_follow_the_column_evidence():
    r = parse(["1,234", "1,50"], "EUR")  # "1,50" decides ","
    assert r.decimal == ","
    assert r.minor.iloc[0] is pd.NA or pd.isna(r.minor.iloc[0])
    assert r.error.iloc[0] == "has 3 decimals but EUR allows 2"
    r = parse(["1,230", "1,50"], "EUR")
    assert r.minor.tolist() == [123, 150]
    r = parse(["1.234", "1.50"], "USD")  # "1.50" decides "."
    assert r.error.iloc[0] == "has 3 decimals but USD allows 2"
    r = parse(["1.234", "1,50"], "USD")  # "," decided: 1.234 is a thousand
    assert r.minor.iloc[0] == 123400


def test_contradicting_separator_is_mixes_error():
    r = parse(["1,50", "2,75", "1,234.56"], "EUR")
    assert r.decimal == ","
    assert r.minor.tolist()[:2] == [150, 275]
    assert r.error.iloc[2] == (
        "mixes decimal separators: '1,234.56' has '.' as decimal separator but this column uses ','"
    )


def test_majority_wins_and_tie_defaults_to_dot():
    r = parse(["1,5", "2,5", "3.5"], "EUR")
    assert r.decimal == ","
    assert r.error.iloc[2].startswith("mixes decimal separators")
    r = parse(["1,5", "3.5"], "EUR")
    assert r.decimal == "."
    assert r.error.iloc[0].startswith("mixes decimal separators")
    assert r.minor.iloc[1] == 350


def test_forced_decimal_overrides_detection():
    r = parse(["1,234", "1.234", "12,5"], "BHD", decimal=",")
    assert r.decimal == ","
    assert r.minor.tolist() == [1234, 1234000, 12500]
    r = parse(["1,234", "12,5"], "BHD", decimal=".")
    assert r.minor.iloc[0] == 1234000
    assert r.error.iloc[1].startswith("mixes decimal separators")


def test_numbers_do_not_vote_and_always_use_dot():
    r = parse([1.5, "2,5", "3,25"], "EUR")
    assert r.decimal == ","
    assert r.minor.tolist() == [150, 250, 325]


def test_column_without_text_reports_default_or_forced_separator():
    assert parse([1.5, 2], "USD").decimal == "."
    assert parse([1.5, 2], "USD", decimal=",").decimal == ","


def test_bad_decimal_argument_raises():
    with pytest.raises(ValueError):
        parse(["1"], "USD", decimal=";")


# ---- formatting -------------------------------------------------------------------------


def test_format_minor_exact_major_units():
    assert format_minor(123450, "USD") == "1234.50"
    assert format_minor(-5, "USD") == "-0.05"
    assert format_minor(0, "EUR") == "0.00"
    assert format_minor(1234, "JPY") == "1234"
    assert format_minor(-1234, "JPY") == "-1234"
    assert format_minor(1234, "BHD") == "1.234"
    assert format_minor(7, "BHD") == "0.007"
    assert format_minor(9223372036854775807, "USD") == "92233720368547758.07"


def test_format_minor_series_vectorised_with_na():
    out = format_minor_series(
        pd.Series([123450, -5, None, 1234, 7, -1234], dtype="Int64"),
        pd.Series(["USD", "USD", "EUR", "BHD", "BHD", "JPY"]),
    )
    assert str(out.dtype) == "string"
    assert out.tolist() == ["1234.50", "-0.05", pd.NA, "1.234", "0.007", "-1234"]
    assert format_minor_series(pd.Series([1, 250]), "USD").tolist() == ["0.01", "2.50"]


# ---- properties ---------------------------------------------------------------------------

CURRENCIES = {"USD": "$", "EUR": "€", "JPY": "¥", "BHD": "BHD", "HUF": "Ft"}
SPACES = [" ", "\u00a0", "\u202f"]


def _group(int_part: str, sep: str) -> str:
    if not sep:
        return int_part
    head = len(int_part) % 3 or 3
    parts = [int_part[:head]] + [int_part[i : i + 3] for i in range(head, len(int_part), 3)]
    return sep.join(parts)


@st.composite
def styled_amount(draw, decimal: str):
    minor = draw(st.integers(min_value=-(10**13), max_value=10**13))
    cur = draw(st.sampled_from(sorted(CURRENCIES)))
    d = minor_digits(cur)
    body = str(abs(minor)).rjust(d + 1, "0")
    int_part, frac = (body[:-d], body[-d:]) if d else (body, "")
    groups = ["", "'"] + SPACES + ([","] if decimal == "." else ["."])
    text = _group(int_part, draw(st.sampled_from(groups)))
    if frac:
        text += decimal + frac
    mark = draw(st.sampled_from(["", "symbol", "code"]))
    token = {"": "", "symbol": CURRENCIES[cur], "code": cur}[mark]
    space = draw(st.sampled_from(["", " "]))
    if token and draw(st.booleans()):
        text = token + space + text
    elif token:
        text = text + space + token
    if minor < 0:
        style = draw(st.sampled_from(["-", "()", "trailing"]))
        text = {"-": "-" + text, "()": "(" + text + ")", "trailing": text + "-"}[style]
    return minor, cur, text


@settings(max_examples=examples(60), deadline=None)
def _styled_column(dec: str):
    return st.tuples(st.just(dec), st.lists(styled_amount(dec), min_size=1, max_size=25))


@given(st.sampled_from([".", ","]).flatmap(_styled_column))
def test_round_trip_of_styled_amounts(case):
    decimal, rows = case
    minors, curs, texts = zip(*rows)
    r = parse_money(pd.Series(texts, dtype=object), pd.Series(curs), decimal=decimal)
    assert r.error.isna().all(), list(zip(texts, r.error))
    assert r.minor.tolist() == list(minors)


@settings(max_examples=examples(40), deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-(10**15), 10**15), st.sampled_from(sorted(CURRENCIES))),
        min_size=1,
        max_size=30,
    )
)
def test_format_minor_round_trips_through_parse_money(rows):
    minors, curs = zip(*rows)
    texts = [format_minor(m, c) for m, c in rows]
    assert format_minor_series(pd.Series(minors), pd.Series(curs)).tolist() == texts
    r = parse_money(pd.Series(texts), pd.Series(curs), decimal=".")
    assert r.minor.tolist() == list(minors)


def _expected_from_repr(x: float, d: int):
    """Reference: exact decimal of repr(x); a >15-digit artefact at 15 digits."""
    dec = Decimal(repr(x))
    if dec.as_tuple().exponent < -d and len(dec.as_tuple().digits) > 15 and abs(x) < 10 ** (14 - d):
        dec = Decimal(f"{x:.15g}")
    scaled = dec.scaleb(d)
    if scaled != scaled.to_integral_value():
        return None
    v = int(scaled)
    return v if abs(v) < 10**17 else None  # larger: quarantined (sums must stay exact in int64)


@settings(max_examples=examples(40), deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15),
            st.integers(-(10**12), 10**12).map(lambda i: i / 100),
            st.integers(-(10**9), 10**9).map(lambda i: i / 1000),
        ),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from(sorted(CURRENCIES)),
)
def test_float_cells_equal_their_shortest_decimal(xs, cur):
    r = parse_money(pd.Series(xs, dtype="float64"), cur)
    d = minor_digits(cur)
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        expected = [_expected_from_repr(x, d) for x in xs]
    got = [None if pd.isna(m) else int(m) for m in r.minor]
    assert got == expected
    assert (r.error.isna() == r.minor.notna()).all()


PIECES = ["1", "2", "0", "5", "12", "234", ".", ",", " ", "'", "(", ")", "-", "+"]
PIECES += ["$", "€", "¥", "USD", "eur", "Ft", "Ft.", "x", "e5"]
MESSY = st.lists(st.sampled_from(PIECES), min_size=1, max_size=8).map("".join)


@settings(max_examples=examples(40), deadline=None)
@given(
    st.lists(MESSY, min_size=1, max_size=40),
    st.sampled_from(["USD", "EUR", "HUF", "JPY"]),
)
def test_fast_and_slow_splits_agree_where_fast_applies(cells, cur):
    """The strip-based fast path must read every cell it accepts exactly as the
    full regex split does (number, sign and message)."""
    from billing.money import _split_fast, _split_slow

    t = pd.Series([c.strip() for c in cells], dtype="str")
    t = t[t.str.len() > 0].reset_index(drop=True)
    codes = np.full(len(t), cur, dtype=object)
    handled, num, neg, err = _split_fast(t, codes)
    s_num, _, s_neg, s_err = _split_slow(t, codes)
    for i in np.flatnonzero(handled):
        assert (err[i], neg[i] if err[i] is None else None) == (
            s_err[i],
            s_neg[i] if s_err[i] is None else None,
        ), t[i]
        if err[i] is None:
            assert num[i] == s_num[i], t[i]


@settings(max_examples=examples(40), deadline=None)
@given(st.lists(MESSY, min_size=1, max_size=40))
def test_any_text_gives_a_number_or_a_message(cells):
    r = parse_money(pd.Series(cells, dtype=object), "USD")
    for blank, minor, error in zip(r.blank, r.minor, r.error):
        assert blank or (pd.isna(minor) != pd.isna(error))


def test_pound_and_forint_codes_and_symbols():
    r = parse(["£1,234.50", "HUF 12 345", "12 345 Ft"], pd.Series(["GBP", "HUF", "HUF"]))
    assert r.minor.tolist() == [123450, 1234500, 1234500]


def test_space_grouped_comma_decimal_column_is_detected():
    r = parse(["1 234,50", "1\u00a0234,50", "1\u202f234,50", "12,5"], "EUR")
    assert r.decimal == ","
    assert r.minor.tolist() == [123450, 123450, 123450, 1250]


# ---------------------------------------------------------------- the Arrow fast path for plain decimals

def _slow(values: pd.Series, currency, decimal=None) -> MoneyParse:
    """parse_money with the fast path switched off: every text cell through the general grammar."""
    import billing.money as money

    real = money._plain_decimals
    money._plain_decimals = lambda values, is_str, digits: (np.zeros(len(values), dtype=bool),
                                                            np.zeros(len(values), dtype=np.int64), 0)
    try:
        return parse_money(values, currency, decimal)
    finally:
        money._plain_decimals = real


def _same(a: MoneyParse, b: MoneyParse) -> None:
    pd.testing.assert_series_equal(a.minor, b.minor)
    pd.testing.assert_series_equal(a.error, b.error)
    pd.testing.assert_series_equal(a.blank, b.blank)
    assert a.decimal == b.decimal


cells = st.one_of(
    st.from_regex(r"-?[0-9]{1,16}(\.[0-9]{1,3})?", fullmatch=True),  # plain, and some just outside the fast shape
    st.sampled_from(["1,234.50", "1.234,50", "12,5", "1.234", "€ 12", "(3.50)", " 7.25 ", "", "  ", "abc",
                     "-0", "-0.00", "007.50", "1e3", "12.505"]),
    st.none(),
)


@settings(max_examples=examples(150), deadline=None)
@given(st.lists(cells, max_size=12), st.sampled_from(["USD", "JPY", "BHD"]), st.sampled_from([None, ".", ","]),
       st.booleans())
def test_fast_path_gives_what_the_general_grammar_gives(values, currency, decimal, arrow):
    series = pd.Series(values, dtype="str" if arrow else object)
    currencies = pd.Series([currency] * len(values), dtype="string")
    _same(parse_money(series, currencies, decimal), _slow(series, currencies, decimal))


def test_plain_decimals_vote_for_the_point_so_an_ambiguous_comma_cell_is_grouping():
    r = parse_money(pd.Series(["12.50", "1,234", "3"], dtype="str"), "USD")
    assert r.minor.tolist() == [1250, 123400, 300] and r.error.isna().all() and r.decimal == "."


def test_a_comma_column_turns_plain_point_decimals_into_mixed_separator_errors():
    r = parse_money(pd.Series(["12,50", "7,5", "3,25", "1.50"], dtype="str"), "EUR")
    assert r.decimal == "," and r.minor.tolist()[:3] == [1250, 750, 325]
    assert "mixes decimal separators" in r.error.iloc[3]


def test_more_decimals_than_the_currency_allows_is_still_an_error_on_the_fast_shape():
    r = parse_money(pd.Series(["12.5", "100"], dtype="str"), "JPY")
    assert pd.isna(r.minor.iloc[0]) and "decimal" in r.error.iloc[0] and r.minor.iloc[1] == 100


def test_long_digit_strings_with_leading_zeros_keep_every_cent_beside_17_digit_amounts():
    # a cell of more than 18 digits (zero-padded, as some bank exports write them) goes the long way;
    # the 17-significant-digit amount next to it must stay exact (above 2**53, so not through a float)
    got = parse_money(pd.Series(["123456789012345.67", "0000000000000000000012.50", "99999999999999.99"]), "USD")
    assert got.minor.tolist() == [12345678901234567, 1250, 9999999999999999]
    assert got.error.isna().all()


def test_a_one_digit_exponent_in_text_scales_the_number():
    # parse_money's docstring: "1.5e3" is accepted; 1.5e3 USD is 1,500.00
    got = parse_money(pd.Series(["1.5e3", "2E1", "7e+2", "2.5e-1"]), "USD")
    assert got.minor.tolist() == [150000, 2000, 70000, 25]


def test_a_too_large_amount_without_a_currency_names_the_bound_alone():
    got = parse_money(pd.Series(["1000000000000000"]), pd.Series([None], dtype=object))
    assert got.error.tolist() == ["is too large: Linewise keeps totals exact for amounts up to "
                                  "999999999999999.99; check the cell"]


def test_every_result_series_keeps_the_cells_index():
    values = pd.Series(["1.50", " ", None], index=["a", "b", "c"], dtype=object)
    r = parse_money(values, "USD")
    for series in (r.minor, r.error, r.blank):
        assert list(series.index) == ["a", "b", "c"]
    assert r.blank.tolist() == [False, True, True]
