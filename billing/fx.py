"""Conversion of minor-unit amounts to a base currency with the fx_rates table (SPEC §2, §5).

``fx_rates`` has columns date, currency, rate: units of the base currency per
one unit of ``currency``, valid from ``date`` until the next rate. The rate
used for a date is the one on that date or the latest before it; the base
currency's own rate is 1 whether or not the table lists it.

Amounts stay exact: each distinct rate is read once as ``Decimal(str(rate))``
(the decimal the sheet showed, not the binary float) and turned, together
with the two currencies' minor digits, into an integer fraction p/q; every
amount is then ``amount × p / q`` in integer arithmetic, rounded half-even
to the base currency's minor unit. Nothing goes through a float product.
"""
from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from billing.money import minor_digits

FX_COLUMNS = ["fx_rate", "fx_missing", "base_currency"]


def _clean_rates(fx_rates: pd.DataFrame | None) -> pd.DataFrame:
    """Usable rates only (a date, a currency, a finite positive rate), codes upper-cased, sorted by date."""
    if fx_rates is None or len(fx_rates) == 0:
        return pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"),
                             "currency": pd.Series(dtype=object), "rate": pd.Series(dtype="float64")})
    fx = pd.DataFrame({
        "date": pd.to_datetime(fx_rates["date"]).astype("datetime64[ns]").dt.normalize(),
        "currency": fx_rates["currency"].astype("string").str.strip().str.upper().astype(object),
        "rate": pd.to_numeric(fx_rates["rate"], errors="coerce").astype("float64"),
    })
    ok = fx["date"].notna() & fx["currency"].notna() & np.isfinite(fx["rate"]) & (fx["rate"] > 0)
    return fx[ok].sort_values("date", kind="mergesort").reset_index(drop=True)


def rate_on(fx_rates: pd.DataFrame | None, currency: str, as_of, base_currency: str | None = None) -> float | None:
    """The rate of `currency` on `as_of` (or the latest before it); None when there is none.

    With `base_currency` given, that currency's rate is 1.0.
    """
    code = str(currency).strip().upper()
    if base_currency is not None and code == str(base_currency).strip().upper():
        return 1.0
    fx = _clean_rates(fx_rates)
    fx = fx[(fx["currency"] == code) & (fx["date"] <= pd.Timestamp(as_of).normalize())]
    return None if len(fx) == 0 else float(fx["rate"].iloc[-1])


def _fraction(rate: float, digits_from: int, digits_to: int) -> tuple[int, int]:
    """(p, q) with amount_to_minor = amount_from_minor × p / q, exactly."""
    num, den = Decimal(str(rate)).as_integer_ratio()
    shift = digits_to - digits_from
    if shift >= 0:
        num *= 10 ** shift
    else:
        den *= 10 ** (-shift)
    return num, den


def mul_round_half_even(amounts: np.ndarray, p: int, q: int) -> np.ndarray:
    """round_half_even(amounts × p / q) for int64 `amounts`, exact (q > 0).

    int64 arithmetic when it cannot overflow, Python integers otherwise.
    """
    a = np.asarray(amounts, dtype=np.int64)
    if len(a) == 0:
        return a.copy()
    big = int(np.abs(a).max())
    if big * abs(p) < 2 ** 62 and q < 2 ** 61:
        num = a * np.int64(p)
        qt = num // np.int64(q)  # floor
        twice_r = 2 * (num - qt * np.int64(q))  # 0 <= r < q
        up = (twice_r > q) | ((twice_r == q) & (qt % 2 == 1))
        return qt + up
    out = []
    for x in a.tolist():
        qt, r = divmod(x * p, q)
        if 2 * r > q or (2 * r == q and qt % 2 == 1):
            qt += 1
        out.append(qt)
    try:
        return np.array(out, dtype=np.int64)
    except OverflowError as exc:
        raise OverflowError("converted amount does not fit in 64-bit minor units") from exc


def to_base(df: pd.DataFrame, amount_columns: list[str], fx_rates: pd.DataFrame | None, as_of,
            base_currency: str) -> pd.DataFrame:
    """A copy of `df` with ``<col>_base`` for each amount column, in base-currency minor units.

    `df` needs a ``currency`` column; its amounts are minor units of that
    currency. `as_of` is a date (one rate per currency) or the name of a date
    column of `df` (each row converted at its own date, via merge_asof).
    Added columns: ``<col>_base`` (Int64; NA when the row's rate is missing or
    its amount is), ``fx_rate`` (float64, NaN when missing), ``fx_missing``
    (bool) and ``base_currency`` (the code, so the figures say what they are).
    Rows keep their own ``currency`` and amounts.
    """
    base = str(base_currency).strip().upper()
    out = df.copy()
    n = len(df)
    per_row_dates = isinstance(as_of, str) and as_of in df.columns
    # Currency codes normalised on the distinct values only (no string op per row).
    raw_codes, raw_uniques = pd.factorize(df["currency"]) if n else (np.zeros(0, np.int64), [])
    norm = np.array([str(u).strip().upper() for u in raw_uniques], dtype=object)
    norm_codes, uniques = pd.factorize(norm) if len(norm) else (np.zeros(0, np.int64), [])
    codes = np.append(norm_codes, -1).astype(np.int64)[raw_codes]  # raw code -1 (NA) -> -1
    fx = _clean_rates(fx_rates)

    # One key per distinct (currency, date): look up rates there, not per row.
    if per_row_dates:
        days = pd.to_datetime(df[as_of]).astype("datetime64[ns]").dt.normalize().to_numpy()
        date_ids, date_uniq = pd.factorize(days)
        width = len(date_uniq) + 1
        kid, kuniq = pd.factorize((codes.astype(np.int64) + 1) * width + (date_ids + 1))
        date_of = np.append(np.asarray(date_uniq, dtype="datetime64[ns]"), np.datetime64("NaT"))
        kframe = pd.DataFrame({"ccy": kuniq // width - 1,
                               "date": date_of[np.where(kuniq % width > 0, kuniq % width - 1, -1)]})
        kid = np.where(codes >= 0, kid, -1)
    else:
        when = pd.Timestamp(as_of).normalize()
        kid = codes
        kframe = pd.DataFrame({"ccy": np.arange(len(uniques)),
                               "date": pd.Series([when] * len(uniques), dtype="datetime64[ns]")})
    kframe["currency"] = pd.Series([str(uniques[c]) if c >= 0 else None for c in kframe["ccy"]],
                                   dtype=object, index=kframe.index)
    kframe["_k"] = np.arange(len(kframe))
    valid_date = kframe["date"].notna()
    looked = pd.merge_asof(kframe[valid_date].sort_values("date", kind="mergesort"),
                           fx.rename(columns={"date": "rate_date"}), left_on="date",
                           right_on="rate_date", by="currency", direction="backward")
    key_rate = np.full(len(kframe), np.nan)
    key_rate[looked["_k"].to_numpy()] = looked["rate"].to_numpy(dtype=np.float64)
    key_rate[(kframe["currency"] == base).to_numpy()] = 1.0

    row_rate = np.where(kid >= 0, key_rate[np.maximum(kid, 0)], np.nan) if n else np.zeros(0)
    missing = ~np.isfinite(row_rate)
    out["fx_rate"] = row_rate.astype(np.float64)
    out["fx_missing"] = missing
    out["base_currency"] = pd.array([base] * n, dtype="string")

    # One exact fraction per distinct (currency, rate), then rows grouped by it.
    digits_to = minor_digits(base)
    fractions: dict[tuple[str, float], int] = {}
    pq: list[tuple[int, int]] = []
    group_of_key = np.full(len(kframe), -1, dtype=np.int64)
    for k, (ccy, rate) in enumerate(zip(kframe["currency"], key_rate)):
        if not np.isfinite(rate):
            continue
        key = (ccy, float(rate))
        if key not in fractions:
            fractions[key] = len(pq)
            pq.append(_fraction(rate, minor_digits(ccy), digits_to))
        group_of_key[k] = fractions[key]
    row_group = np.where(kid >= 0, group_of_key[np.maximum(kid, 0)], -1) if n \
        else np.zeros(0, dtype=np.int64)
    group_rows = [np.flatnonzero(row_group == g) for g in range(len(pq))]

    for col in amount_columns:
        raw = df[col]
        amt_na = raw.isna().to_numpy()
        amounts = raw.to_numpy(dtype=np.int64, na_value=0)
        result = np.zeros(n, dtype=np.int64)
        for (p, q), rows in zip(pq, group_rows):
            if len(rows):
                result[rows] = mul_round_half_even(amounts[rows], p, q)
        values = pd.array(result, dtype="Int64")
        values[missing | amt_na] = pd.NA
        out[f"{col}_base"] = values
    return out
