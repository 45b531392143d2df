"""Display formatting: minor units to major-unit numbers per currency, column configs.

Money stays integer minor units everywhere else; only here, at the last step
before drawing, is it turned into a display number with the currency's digits.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from billing.money import minor_digits, minor_digits_series


def major(frame: pd.DataFrame, columns: list[str], currency: str | pd.Series = "currency") -> pd.DataFrame:
    """A copy with `columns` in major units (display only; the source stays minor units)."""
    out = frame.copy()
    cur = frame[currency] if isinstance(currency, str) and currency in frame else currency
    digits = (minor_digits_series(cur.astype(str)) if isinstance(cur, pd.Series)
              else minor_digits(str(cur)))
    scale = 10.0 ** digits
    for col in columns:
        out[col] = frame[col].astype("float64") / scale
    return out


def money_config(columns: list[str], currency: str | None = None) -> dict:
    """column_config for money columns: the currency's digits, thousands separators."""
    digits = minor_digits(currency) if currency else 2
    fmt = f"%,.{digits}f" if digits else "%,d"
    return {c: st.column_config.NumberColumn(c.replace("_", " "), format=fmt)
            for c in columns}


def money_text(minor: int, currency: str) -> str:
    """Minor units as the user's locale writes money, for cards and captions: 123450 USD ->
    "$1,234.50" (en), 20250000 HUF -> "202 500,00 Ft" (hu); the formatter the e-mails use."""
    from ui.i18n import money

    return money(int(minor), str(currency))


def digits_of(currency: str) -> int:
    """Minor digits of `currency` (2 when unknown)."""
    try:
        return int(minor_digits(str(currency)))
    except Exception:  # noqa: BLE001 - an unknown code still displays
        return 2


def money_format(digits: int) -> str:
    """printf format of a major-unit amount with `digits` decimals and thousands separators."""
    return f"%,.{digits}f" if digits else "%,d"


def date_config(columns: list[str]) -> dict:
    """column_config for date columns: ISO dates, no time."""
    return {c: st.column_config.DateColumn(c.replace("_", " "), format="YYYY-MM-DD") for c in columns}


def pct_text(value: float) -> str:
    """12.345 -> "12.3%"; NaN -> "—"."""
    return "—" if value is None or pd.isna(value) else f"{value:.1f}%"


def days_text(value: float) -> str:
    """41.26 -> "41.3 days"; NaN -> "—"."""
    from ui.i18n import t

    return "—" if value is None or pd.isna(value) else t("{n} days", n=f"{value:.1f}")
