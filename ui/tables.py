"""Tables drawn the same way on every page: money per currency, ISO dates, readable headers.

`money_table` is the one way a page shows a frame holding minor-unit amounts:
the amounts become major-unit numbers only here, formatted with their
currency's digits. Rows whose currencies have different digits (USD 2, JPY 0)
go to separate tables so each keeps its own format; amounts of different
currencies are never added up.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

import pandas as pd
import streamlit as st

from billing import labels
from ui.fmt import date_config, digits_of, major, money_format
from ui.i18n import t

MAX_ROWS = 5000  # rows drawn in one table; the rest are in the downloads
# Columns that say which row it is: the first two of them stay in view when a wide table scrolls.
PINNED = ("customer_id", "name", "line_code", "invoice_no", "payment_id", "type")
MAX_PINNED = 2

# Columns holding engine codes, shown as their labels (billing.labels); "bucket" depends on the basis.
CODE_COLUMNS = {
    "step": labels.STEPS,
    "source": labels.SOURCES,
    "severity": labels.SEVERITIES,
    "type": labels.EXCEPTION_TYPES,
    "problem": labels.REFERENCE_PROBLEMS,
}


def basis() -> str:
    """The sidebar's aging basis (what the bucket labels measure)."""
    return str(st.session_state.get("f_basis", "due_date"))


def label(column: str) -> str:
    """The header of a column in the user's language: "customer_id" -> "Customer ID", a bucket
    ("31-60", "over_120", "current") -> its label under the sidebar's basis ("31-60 days late")."""
    text = str(column)
    shown = labels.bucket_label(text, basis(), t)
    if shown != text or text == "current":
        return shown
    if text in labels.COLUMNS:
        return labels.column_label(text, t)
    return t(labels.readable(text))


def code_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with its code columns (bucket, step, source, severity, type, problem) as labels."""
    out = None
    for col in [c for c in frame.columns if c in CODE_COLUMNS or c == "bucket"]:
        values = frame[col].astype("string")
        uniques = values.dropna().unique()
        if col == "bucket":
            names = {u: labels.bucket_label(u, basis(), t) for u in uniques}
        else:
            table = CODE_COLUMNS[col]  # a value that is not one of its codes stays as it is
            names = {u: t(table[u]) if u in table else u for u in uniques}
        out = frame.copy() if out is None else out
        out[col] = values.map(names).astype("string")
    return frame if out is None else out


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
    for col in [c for c in frame.columns if c in PINNED][:MAX_PINNED]:
        config[col] = st.column_config.Column(label(col), pinned=True)
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
    return int(max(drawn, header_width(header)) + 28)  # + cell padding


def header_width(header: str) -> float:
    """Pixels of a header's text: CJK characters are about twice as wide as Latin ones."""
    return sum(14.0 if unicodedata.east_asian_width(ch) in "WF" else 7.5 for ch in header)


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
    empty: str | None = None,
) -> pd.Series | None:
    """Draw `frame` (money columns in minor units of `frame[currency]`); return the selected row.

    With `select`, rows are single-selectable (drill-down) and the chosen
    row of `frame` is returned (None when nothing is selected). Only the
    first `max_rows` rows are drawn, with a note saying so.
    """
    money = [c for c in money if c in frame]
    if len(frame) == 0:
        st.caption(empty or t("Nothing to show."))
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
            st.caption(t("Amounts in {currencies}", currencies=", ".join(sorted(sub[currency].astype(str).unique()))))
        shown = sub.head(max_rows)
        display = code_labels(major(shown, money, currency) if money and currency else shown)
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
            st.caption(t("Showing the first {shown:,} of {total:,} rows; narrow the filters or use "
                         "the download for all of them.", shown=max_rows, total=len(sub)))
    return chosen


def plain_table(
    frame: pd.DataFrame,
    *,
    key: str | None = None,
    dates: Iterable[str] = (),
    column_config: dict | None = None,
    height: int | str = "auto",
    max_rows: int = MAX_ROWS,
    empty: str | None = None,
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
