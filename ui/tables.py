"""Tables drawn the same way on every page: money per currency, ISO dates, readable headers.

`money_table` is the one way a page shows a frame holding minor-unit amounts:
the amounts become major-unit numbers only here, formatted with their
currency's digits. Rows whose currencies have different digits (USD 2, JPY 0)
go to separate tables so each keeps its own format; amounts of different
currencies are never added up.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import streamlit as st

from ui.fmt import date_config, digits_of, major, money_format

MAX_ROWS = 5000  # rows drawn in one table; the rest are in the downloads

LABELS = {
    "customer_id": "Customer ID",
    "invoice_no": "Invoice",
    "line_no": "Line",
    "line_code": "Line code",
    "payment_id": "Payment",
    "order_id": "Order",
    "order_line": "Order line",
    "days_past_due": "Days past due",
    "oldest_days": "Oldest (days)",
    "in_dispute": "In dispute",
    "due_date_derived": "Due date derived",
    "sku": "SKU",
    "qty_to_bill": "Qty to bill",
    "amount_to_bill": "Amount to bill",
}


def label(column: str) -> str:
    """ "customer_id" -> "Customer ID", "open" -> "Open", "31-60" stays."""
    if column in LABELS:
        return LABELS[column]
    text = str(column).replace("_", " ")
    return text[:1].upper() + text[1:]


def _config(
    frame: pd.DataFrame, money: Iterable[str], digits: int, dates: Iterable[str], extra: dict | None
) -> dict:
    config: dict = {}
    for col in frame.columns:
        dtype = frame[col].dtype
        if pd.api.types.is_float_dtype(dtype):
            config[col] = st.column_config.NumberColumn(label(col), format="localized")
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            config[col] = st.column_config.DateColumn(label(col), format="YYYY-MM-DD")
        else:
            config[col] = st.column_config.Column(label(col))
    for col in money:
        if col in frame:
            config[col] = st.column_config.NumberColumn(
                label(col), format=money_format(digits), width=_money_width(frame[col], digits, label(col))
            )
    config.update({c: v for c, v in date_config(list(dates)).items() if c in frame})
    config.update(extra or {})
    return config


def _money_width(values: pd.Series, digits: int, header: str) -> int:
    """Pixels for the widest amount of the column as drawn ("-1,234,567.89").

    The grid sizes a column from its first rows only, so without this a larger
    amount further down is cut on the left ("3,205.72" drawn as ",205.72").
    """
    top = values.abs().max() if len(values) else 0.0
    text = f"{0.0 if pd.isna(top) else float(top):,.{digits}f}"
    if len(values) and values.min() < 0:
        text = "-" + text
    figures = sum(ch.isdigit() for ch in text)
    drawn = 7.5 * figures + 4 * (len(text) - figures)  # 14 px digits; separators, point and sign are narrow
    return int(max(drawn, 7.5 * len(header)) + 28)  # + cell padding


def money_table(
    frame: pd.DataFrame,
    money: Iterable[str],
    *,
    currency: str | None = "currency",
    key: str | None = None,
    select: bool = False,
    dates: Iterable[str] = (),
    column_config: dict | None = None,
    column_order: list[str] | None = None,
    height: int | str = "auto",
    max_rows: int = MAX_ROWS,
    empty: str = "Nothing to show.",
) -> pd.Series | None:
    """Draw `frame` (money columns in minor units of `frame[currency]`); return the selected row.

    With `select`, rows are single-selectable (drill-down) and the chosen
    row of `frame` is returned (None when nothing is selected). Only the
    first `max_rows` rows are drawn, with a note saying so.
    """
    money = [c for c in money if c in frame]
    if len(frame) == 0:
        st.caption(empty)
        return None
    has_currency = currency is not None and currency in frame
    if has_currency:
        codes = frame[currency].astype(str)
        row_digits = codes.map({c: digits_of(c) for c in codes.unique()})
        groups = sorted(row_digits.unique().tolist(), reverse=True)
    else:  # `currency` is the code of every row (or there is no money)
        row_digits, groups = None, [digits_of(currency) if currency else 2]
    chosen = None
    for n, digits in enumerate(groups):
        sub = frame if row_digits is None or len(groups) == 1 else frame[(row_digits == digits).to_numpy()]
        if len(groups) > 1:
            st.caption("Amounts in " + ", ".join(sorted(sub[currency].astype(str).unique())))
        shown = sub.head(max_rows)
        display = major(shown, money, currency) if money and currency else shown
        config = _config(display, money, digits, dates, column_config)
        k = key if key is None or n == 0 else f"{key}_{digits}"
        kwargs = dict(hide_index=True, column_config=config, column_order=column_order, height=height, key=k)
        if select:
            event = st.dataframe(display, on_select="rerun", selection_mode="single-row", **kwargs)
            rows = event.selection.rows if event is not None else []
            if rows and rows[0] < len(shown):
                chosen = shown.iloc[rows[0]]
        else:
            st.dataframe(display, **kwargs)
        if len(sub) > max_rows:
            st.caption(
                f"Showing the first {max_rows:,} of {len(sub):,} rows; narrow the filters or use "
                "the download for all of them."
            )
    return chosen


def plain_table(
    frame: pd.DataFrame,
    *,
    key: str | None = None,
    dates: Iterable[str] = (),
    column_config: dict | None = None,
    height: int | str = "auto",
    max_rows: int = MAX_ROWS,
    empty: str = "Nothing to show.",
) -> None:
    """A table without money columns, same headers and date format as `money_table`."""
    money_table(
        frame,
        [],
        currency=None,
        key=key,
        dates=dates,
        column_config=column_config,
        height=height,
        max_rows=max_rows,
        empty=empty,
    )


def per_currency_columns(
    frame: pd.DataFrame, index: list[str], value: str, currency: str = "currency"
) -> tuple[pd.DataFrame, dict]:
    """Pivot `value` into one column per currency (so each gets its own format) + its column_config.

    Returns the pivoted frame in major units and the column_config for it.
    """
    if len(frame) == 0:
        return pd.DataFrame(columns=index), {}
    cur = frame[currency].fillna("?").astype(str)
    pivot = (
        frame.assign(**{currency: cur})
        .pivot_table(index=index, columns=currency, values=value, aggfunc="sum", fill_value=0, observed=True)
        .reset_index()
    )
    pivot.columns = [str(c) for c in pivot.columns]
    config = {}
    for c in sorted(cur.unique()):
        d = digits_of(c)
        pivot[c] = pivot[c].astype("float64") / 10.0**d
        config[c] = st.column_config.NumberColumn(c, format=money_format(d))
    for c in index:
        config[c] = st.column_config.Column(label(c))
    return pivot, config
