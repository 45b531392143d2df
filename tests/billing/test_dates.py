"""billing.dates: dates from spreadsheet cells (objects, Excel serials, text)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.dates import DateParse, parse_dates
from tests.budget import examples

D = pd.Timestamp


def parse(values, order="auto") -> DateParse:
    return parse_dates(pd.Series(values, dtype=object), order)


def one(value, order="auto"):
    r = parse([value], order)
    d, e = r.dates.iloc[0], r.error.iloc[0]
    return (None if pd.isna(d) else d), (None if pd.isna(e) else str(e))


# ---- formats -------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell",
    [
        "2024-03-05",
        "2024-3-5",
        "2024-03-05T10:00:00",
        "2024-03-05T10:00:00Z",
        "2024-03-05T23:30:00+01:00",
        "2024-03-05 10:00",
        "2024-03-05 10:00:00.123",
        "2024-03-05 10:00 PM",
        "2024/3/5",
        "2024/03/05",
        "2024.03.05.",
        "2024.03.05",
        "2024. 03. 05.",
        "2024. 3. 5.",
        "2024年3月5日",
        "2024 年 3 月 5 日",
        "２０２４年３月５日",
        "2024년 3월 5일",
        "20240305",
        "5 Mar 2024",
        "05-Mar-2024",
        "5-mar-24",
        "5 March 2024",
        "5th March 2024",
        "Tue, 5 Mar 2024",
        "Mar 5, 2024",
        "March 5 2024",
        "Mar. 5, 2024",
        "2024-Mar-05",
        "  2024-03-05\u00a0",
    ],
)
def test_year_first_iso_hungarian_chinese_and_text_month_forms(cell):
    assert one(cell) == (D("2024-03-05"), None)


def test_day_first_and_month_first_numeric_forms():
    assert one("05/03/2024", "dmy") == (D("2024-03-05"), None)
    assert one("05/03/2024", "mdy") == (D("2024-05-03"), None)
    assert one("5/3/24", "dmy") == (D("2024-03-05"), None)
    assert one("05.03.2024", "dmy") == (D("2024-03-05"), None)
    assert one("05.03.2024.", "dmy") == (D("2024-03-05"), None)
    assert one("05-03-2024", "dmy") == (D("2024-03-05"), None)
    assert one("05/03/2024 14:30", "dmy") == (D("2024-03-05"), None)


def test_excel_serial_numbers():
    r = parse([1, 59, 61, 45356, 45356.75, np.int64(45356), "45356", "45356.5"])
    assert r.error.isna().all(), r.error.tolist()
    assert r.dates.tolist() == [
        D("1900-01-01"),
        D("1900-02-28"),
        D("1900-03-01"),
        D("2024-03-05"),
        D("2024-03-05"),
        D("2024-03-05"),
        D("2024-03-05"),
        D("2024-03-05"),
    ]


def test_excel_serial_60_is_the_fake_leap_day():
    assert one(60) == (None, "is Excel day 60, the 29 Feb 1900 that never existed")
    assert one("60")[1] == "is Excel day 60, the 29 Feb 1900 that never existed"


def test_excel_serials_out_of_range():
    msg = "is not a date (Excel date numbers run from 1 to 2958465)"
    assert one(0) == (None, msg)
    assert one(-3) == (None, msg)
    assert one(3_000_000) == (None, msg)
    assert one(float("inf")) == (None, msg)
    # Valid for Excel but past what datetime64[ns] holds.
    assert one(2958465) == (None, "is out of range (years 1678 to 2261)")


def test_float64_serial_column():
    r = parse_dates(pd.Series([45356.0, np.nan, 45357.99]))
    assert r.dates.tolist()[0] == D("2024-03-05")
    assert r.blank.tolist() == [False, True, False]
    assert r.dates.iloc[2] == D("2024-03-06")


def test_yyyymmdd_numbers():
    assert one(20240305) == (D("2024-03-05"), None)
    assert one(20240230) == (None, "is not a real date")


def test_date_objects_keep_the_calendar_day():
    r = parse(
        [
            dt.date(2024, 3, 5),
            dt.datetime(2024, 3, 5, 23, 59),
            pd.Timestamp("2024-03-05 10:00"),
            np.datetime64("2024-03-05T08:00"),
            pd.Timestamp("2024-03-05 23:30", tz="Europe/Budapest"),
            dt.datetime(9999, 12, 31),
        ]
    )
    assert r.dates.tolist()[:5] == [D("2024-03-05")] * 5
    assert r.error.tolist()[:5] == [pd.NA] * 5
    assert r.error.iloc[5] == "is out of range (years 1678 to 2261)"


def test_datetime64_column_is_normalised_to_midnight():
    col = pd.Series(pd.to_datetime(["2024-03-05 10:00:00", None, "2024-12-31 23:59:59"]))
    r = parse_dates(col)
    assert r.dates.tolist()[0] == D("2024-03-05")
    assert r.blank.tolist() == [False, True, False]
    assert r.dates.iloc[2] == D("2024-12-31")
    tz = parse_dates(pd.Series(pd.to_datetime(["2024-03-05 23:30"]).tz_localize("Asia/Shanghai")))
    assert tz.dates.iloc[0] == D("2024-03-05")


def test_result_dtypes_index_and_blanks():
    cells = ["2024-03-05", "", "  ", None, np.nan, pd.NaT, "x"]
    values = pd.Series(cells, index=list("abcdefg"), dtype=object)
    r = parse_dates(values)
    assert str(r.dates.dtype) == "datetime64[ns]"
    assert str(r.error.dtype) == "string"
    assert r.blank.dtype == bool
    assert list(r.dates.index) == list("abcdefg")
    assert r.blank.tolist() == [False, True, True, True, True, True, False]
    assert r.error.isna().tolist() == [True] * 6 + [False]
    assert r.dates.isna().tolist() == [False] + [True] * 6


# ---- errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell",
    ["2024-02-30", "2023-02-29", "2024-13-01", "2024-00-10", "31.04.2024", "2024年2月30日", "32/32/2024"],
)
def test_impossible_dates_are_not_real(cell):
    assert one(cell, "dmy") == (None, "is not a real date")


def test_leap_day_is_real():
    assert one("2024-02-29") == (D("2024-02-29"), None)
    assert one("29.02.2024") == (D("2024-02-29"), None)


@pytest.mark.parametrize(
    "cell", ["garbage", "2024-03", "5.3", "05.03", "Mar 2024", "2024-03-05 25:00", "1/2/3/4", True]
)
def test_unreadable_values_are_not_dates(cell):
    assert one(cell) == (None, "is not a date")


def test_bare_numeric_text_is_an_excel_serial():
    # Documented: "2024" alone is serial 2024, not a year.
    assert one("2024") == (D("1905-07-16"), None)


def test_september_abbreviations():
    assert one("5 Sep 2024") == (D("2024-09-05"), None)
    assert one("Sept 5, 2024") == (D("2024-09-05"), None)


def test_years_outside_datetime64_span_are_out_of_range():
    assert one("1600-01-01") == (None, "is out of range (years 1678 to 2261)")
    assert one("2300-01-01") == (None, "is out of range (years 1678 to 2261)")


def test_two_digit_years_pivot_at_69():
    r = parse(["1/2/00", "1/2/68", "1/2/69", "1/2/99"], "dmy")
    assert [d.year for d in r.dates] == [2000, 2068, 1969, 1999]
    assert one("5 Mar 99") == (D("1999-03-05"), None)


# ---- day/month order detection ---------------------------------------------------------


def test_first_number_over_12_proves_day_first():
    r = parse(["05/03/2024", "25/12/2024", "01/02/2024"])
    assert r.order == "dmy"
    assert r.dates.tolist() == [D("2024-03-05"), D("2024-12-25"), D("2024-02-01")]


def test_second_number_over_12_proves_month_first():
    r = parse(["05/03/2024", "12/25/2024", "01/02/2024"])
    assert r.order == "mdy"
    assert r.dates.tolist() == [D("2024-05-03"), D("2024-12-25"), D("2024-01-02")]


def test_conflicting_evidence_majority_wins_and_losers_are_errors():
    r = parse(["13/01/2024", "14/01/2024", "01/15/2024", "02/03/2024"])
    assert r.order == "dmy"
    assert r.dates.iloc[0] == D("2024-01-13")
    assert r.error.iloc[2] == "is month-first (mm/dd/yyyy) but this column is day-first (dd/mm/yyyy)"
    assert pd.isna(r.dates.iloc[2])
    assert r.dates.iloc[3] == D("2024-03-02")
    r = parse(["01/13/2024", "01/14/2024", "15/01/2024"])
    assert r.order == "mdy"
    assert r.error.iloc[2] == "is day-first (dd/mm/yyyy) but this column is month-first (mm/dd/yyyy)"


def test_no_evidence_dotted_column_is_day_first():
    r = parse(["05.03.2024", "01.02.2024"])
    assert r.order == "dmy"
    assert r.dates.tolist() == [D("2024-03-05"), D("2024-02-01")]


def test_no_evidence_slashed_column_is_month_first():
    r = parse(["05/03/2024", "01-02-2024"])
    assert r.order == "mdy"
    assert r.dates.tolist() == [D("2024-05-03"), D("2024-01-02")]


def test_tied_evidence_uses_the_separator_fallback():
    r = parse(["13.01.2024", "01.13.2024", "02.03.2024"])
    assert r.order == "dmy"
    assert r.error.iloc[1].startswith("is month-first")


def test_year_first_and_text_month_do_not_vote():
    r = parse(["2024-03-05", "5 Mar 2024", "45356"])
    assert r.order == "ymd"
    assert r.error.isna().all()
    r = parse(["2024-12-25", "05/03/2024"])  # the ISO day 25 is no evidence
    assert r.order == "mdy"


def test_forced_order_overrides_detection():
    r = parse(["05/03/2024", "25/12/2024"], "mdy")
    assert r.order == "mdy"
    assert r.dates.iloc[0] == D("2024-05-03")
    assert r.error.iloc[1] == "is day-first (dd/mm/yyyy) but this column is month-first (mm/dd/yyyy)"
    r = parse(["05.03.2024", "12/25/2024"], "dmy")
    assert r.dates.iloc[0] == D("2024-03-05")
    assert r.error.iloc[1].startswith("is month-first")


def test_forced_year_first_order_for_two_digit_years():
    r = parse(["24/03/05", "99-12-31", "05/03/2024", "2024-03-05"], "ymd")
    assert r.order == "ymd"
    assert r.dates.tolist()[:2] == [D("2024-03-05"), D("1999-12-31")]
    assert r.error.iloc[2] == "is not in year-month-day order"
    assert r.dates.iloc[3] == D("2024-03-05")


def test_bad_order_argument_raises():
    with pytest.raises(ValueError):
        parse(["2024-03-05"], "dym")


# ---- properties --------------------------------------------------------------------------


FORMATS = ["%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%m/%d/%Y", "%Y.%m.%d.", "%d %b %Y", "%b %d, %Y"]
FORMATS += ["%Y年%m月%d日", "%Y. %m. %d.", "%A, %d %B %Y", "%Y-%m-%dT%H:%M:%S", "%Y%m%d"]
DAYS = st.dates(min_value=dt.date(1901, 1, 1), max_value=dt.date(2200, 12, 31))


@settings(max_examples=examples(30), deadline=None)
@given(st.lists(DAYS, min_size=1, max_size=30), st.sampled_from(FORMATS))
def test_formatted_dates_round_trip_with_forced_order(days, fmt):
    order = "mdy" if fmt.startswith("%m") else "dmy"
    r = parse([d.strftime(fmt) for d in days], order)
    assert r.error.isna().all(), r.error.tolist()
    assert [d.date() for d in r.dates] == days


@settings(max_examples=examples(30), deadline=None)
@given(st.lists(st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(2261, 12, 31)), max_size=30))
def test_excel_serials_round_trip(days):
    serials = [(d - dt.date(1899, 12, 30)).days for d in days]
    r = parse_dates(pd.Series(serials, dtype="int64"))
    assert [d.date() for d in r.dates] == days


def test_fraction_of_seconds_is_not_a_european_separator():
    r = parse(["05/03/2024 10:00:00.5", "01/02/2024 10:00:00.5"])
    assert r.order == "mdy"
