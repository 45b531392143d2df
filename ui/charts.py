"""Plotly figures for the dashboards. Inputs are engine frames in minor units; each figure is one currency
or shows shares, so amounts of different currencies are never stacked on one axis."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

# The hover toolbar covered legends placed on top; the charts need no zoom tools.
CHART_CONFIG = {"displayModeBar": False}

from billing import labels
from ui.fmt import digits_of
from ui.i18n import t

# Green for not yet due through red for the oldest; extra buckets reuse the last colour.
BUCKET_COLOURS = ["#2e7d32", "#9ccc65", "#fdd835", "#fb8c00", "#e64a19", "#b71c1c"]


def _colour(i: int) -> str:
    return BUCKET_COLOURS[min(i, len(BUCKET_COLOURS) - 1)]


def _scale(currency: str) -> float:
    return 10.0 ** digits_of(currency)


def _money_hover(currency: str) -> str:
    d = digits_of(currency)
    return f"%{{customdata:,.{d}f}} {currency}"


def _layout(fig: go.Figure, height: int = 320, **kw) -> go.Figure:
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=30, b=10),
        legend_title_text="",
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
        **kw,
    )
    return fig


def bucket_names(buckets: list[str], basis: str) -> dict[str, str]:
    """Bucket -> its label in the user's language under `basis` (billing.labels.bucket_label)."""
    return {b: labels.bucket_label(b, basis, t) for b in buckets}


def aging_shares(by_currency: pd.DataFrame, buckets: list[str], basis: str = "due_date") -> go.Figure:
    """One 100 % stacked horizontal bar per currency: the share of its open amount in each bucket."""
    names = bucket_names(buckets, basis)
    fig = go.Figure()
    frame = by_currency[by_currency["open"] > 0]
    currencies = frame["currency"].astype(str).tolist()
    for i, bucket in enumerate(buckets):
        minor = frame[bucket].to_numpy(dtype="int64")
        share = 100.0 * minor / frame["open"].to_numpy(dtype="float64")
        amount = [m / _scale(c) for m, c in zip(minor, currencies)]
        text = [f"{a:,.{digits_of(c)}f} {c}" for a, c in zip(amount, currencies)]
        fig.add_bar(
            y=currencies,
            x=share,
            name=names[bucket],
            orientation="h",
            marker_color=_colour(i),
            customdata=text,
            hovertemplate="%{y} " + names[bucket] + ": %{customdata} (%{x:.1f}%)<extra></extra>",
        )
    fig.update_layout(
        barmode="stack",
        xaxis=dict(title=t("% of open amount"), range=[0, 100], ticksuffix="%"),
        yaxis=dict(autorange="reversed"),
        legend_traceorder="normal",
    )
    fig = _layout(fig, height=max(160, 70 + 45 * len(currencies)))
    return fig.update_layout(margin_r=30)  # room for the "100%" tick label at the right edge


def ar_trend(history: pd.DataFrame, currency: str, buckets: list[str], basis: str = "due_date") -> go.Figure:
    """Open amount at each month end, stacked by bucket, one currency (billing.aging.history rows).

    One stacked bar per month end (and the as-of date), on a category axis labelled with those
    dates: a trend of a few month ends shows those points only, nothing drawn between them.
    """
    names = bucket_names(buckets, basis)
    h = history[history["currency"] == currency]
    pivot = (
        h.pivot_table(index="as_of", columns="bucket", values="open", aggfunc="sum", observed=False)
        .reindex(columns=buckets)
        .fillna(0)
    )
    fig = go.Figure()
    scale = _scale(currency)
    dates = pd.to_datetime(pivot.index).strftime("%Y-%m-%d")
    for i, bucket in enumerate(buckets):
        y = pivot[bucket].to_numpy(dtype="float64") / scale
        fig.add_bar(
            x=dates,
            y=y,
            name=names[bucket],
            marker_color=_colour(i),
            customdata=y,
            hovertemplate="%{x} " + names[bucket] + ": " + _money_hover(currency) + "<extra></extra>",
        )
    fig.update_layout(
        barmode="stack",
        yaxis=dict(title=t("Open ({currency})", currency=currency), tickformat=",.0f"),
        xaxis=dict(title=t("Month end"), type="category"),
        legend_traceorder="normal",
    )
    return _layout(fig)


def cash_forecast(weeks: pd.DataFrame, currency: str) -> go.Figure:
    """Bars of expected receipts per week with the forecast band as error bars
    (`weeks`: ``billing.prediction.cash_forecast`` rows of one currency, float minor units)."""
    scale = _scale(currency)
    y = weeks["expected"].to_numpy(dtype="float64") / scale
    fig = go.Figure()
    fig.add_bar(
        x=weeks["week_start"].dt.strftime("%Y-%m-%d"),
        y=y,
        name=t("Expected"),
        marker_color="#1976d2",
        customdata=y,
        error_y=dict(type="data", symmetric=False,
                     array=(weeks["high"].to_numpy(dtype="float64") / scale) - y,
                     arrayminus=y - weeks["low"].to_numpy(dtype="float64") / scale),
        hovertemplate="week of %{x}: " + _money_hover(currency) + "<extra></extra>",
    )
    fig.update_layout(
        yaxis=dict(title=t("Expected ({currency})", currency=currency), tickformat=",.0f"),
        xaxis=dict(title=t("Week starting"), type="category"),
    )
    return _layout(fig)


def balance_history(history: pd.DataFrame, currency: str, buckets: list[str]) -> go.Figure:
    """A customer's open balance at month ends: current vs overdue, one currency."""
    h = history[history["currency"] == currency]
    h = h.assign(not_due=h["open"] - h["overdue"])  # overdue: past the due date (is_overdue)
    pivot = h.groupby("as_of")[["not_due", "overdue"]].sum()
    fig = go.Figure()
    scale = _scale(currency)
    # Each bar is labelled with its own month end: on a date axis a bar at 2026-06-30 sits under "Jul 2026".
    month_ends = pd.to_datetime(pivot.index).strftime("%Y-%m-%d")
    for column, name, colour in (("not_due", t("Not yet due"), "#1976d2"), ("overdue", t("Overdue"), "#e64a19")):
        y = pivot[column].to_numpy(dtype="float64") / scale
        fig.add_bar(
            x=month_ends,
            y=y,
            name=name,
            marker_color=colour,
            customdata=y,
            hovertemplate="%{x} " + name + ": " + _money_hover(currency) + "<extra></extra>",
        )
    fig.update_layout(
        barmode="stack",
        yaxis=dict(title=t("Open ({currency})", currency=currency), tickformat=",.0f"),
        xaxis=dict(title=t("Month end"), type="category"),
    )
    return _layout(fig, height=280)
