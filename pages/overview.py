"""Overview: how much is owed, how late, by whom, what cash is coming, and what needs attention.

KPI cards with deltas against the previous period end (as-of − the KPI
period), the aging mix of every currency, the AR trend at month ends, the
customers most overdue, cash expected by week (the payment prediction's forecast with its band), and the
reconciliation exceptions by type (each a link into Reconciliation).
Figures are per currency: pick the currency once, at the top.
"""

import pandas as pd
import streamlit as st

from billing.aging import month_ends
from billing.reconcile import EXCEPTION_TYPES
from services import actions
from ui.charts import CHART_CONFIG
from ui import charts, collections_view, common, state
from ui.fmt import days_text, money_text, pct_text
from ui.tables import money_table
from ui.text import plain

TREND_MONTHS = 12
TOP_CUSTOMERS = 10
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2, "info": 3}
DISPUTES_PAGE = "pages/disputes.py"
RECONCILIATION_PAGE = "pages/reconciliation.py"
CUSTOMER_PAGE = "pages/customer.py"


def kpi_row(kpis: pd.DataFrame, currency: str) -> pd.Series | None:
    rows = kpis[kpis["currency"] == currency]
    return rows.iloc[0] if len(rows) else None


def render_kpis(
    now: pd.Series | None, before: pd.Series | None, currency: str, before_date: pd.Timestamp
) -> None:
    """Six cards: Open, Overdue %, DSO, CEI, Unapplied, In dispute, each with its change since then."""
    if now is None:
        st.info(f"No open items or sales in {plain(currency)} as of this date.")
        return
    since = f"Change since {before_date:%Y-%m-%d} (the previous period end)."

    def money(col: str) -> tuple[str, str | None, float]:
        value = int(now[col])
        if before is None:
            return money_text(value, currency), None, 0
        diff = value - int(before[col])
        return money_text(value, currency), ("+" if diff > 0 else "") + money_text(diff, currency), diff

    def ratio(col: str, text, unit: str) -> tuple[str, str | None, float]:
        if before is None or pd.isna(now[col]) or pd.isna(before[col]):
            return text(now[col]), None, 0
        diff = round(float(now[col] - before[col]), 1)
        return text(now[col]), f"{diff:+.1f} {unit}", diff

    cards = [
        ("Open", *money("total_open"), "off", "Total open on invoice lines (unapplied cash not netted). "),
        (
            "Overdue %",
            *ratio("overdue_pct", pct_text, "pp"),
            "inverse",
            "Share of the open amount past its due date. ",
        ),
        (
            "DSO",
            *ratio("dso_days", days_text, "days"),
            "inverse",
            "Days sales outstanding: open ÷ credit sales of the period × days. ",
        ),
        (
            "CEI",
            *ratio("cei_pct", pct_text, "pp"),
            "normal",
            "Collection effectiveness index over the period (100% = everything collectable was collected). ",
        ),
        ("Unapplied", *money("unapplied"), "inverse", "Cash received but not matched to any open line. "),
        ("In dispute", *money("in_dispute"), "inverse", "Open amount of lines under an open dispute. "),
    ]
    columns = [*st.columns(3), *st.columns(3)]
    for col, (label, value, delta, diff, colour, help_text) in zip(columns, cards):
        col.metric(
            label,
            value,
            delta,
            delta_color=colour if diff else "off",
            delta_arrow="auto" if diff else "off",
            help=help_text + since,
            border=True,
        )


def render_aging_mix(by_currency: pd.DataFrame, buckets: list[str]) -> None:
    st.subheader("Aging by currency")
    if not len(by_currency) or not (by_currency["open"] > 0).any():
        st.caption("Nothing is open.")
        return
    st.plotly_chart(charts.aging_shares(by_currency, buckets), config=CHART_CONFIG,
                    key="overview_aging_chart")


def render_trend(loaded: state.Loaded, as_of: pd.Timestamp, currency: str, buckets: list[str]) -> None:
    st.subheader("AR trend")
    dates = tuple(month_ends(as_of - pd.DateOffset(months=TREND_MONTHS), as_of, include_end=True))
    customers = state.selected_customers(loaded.data)
    history = state.history_for(
        loaded.key,
        dates,
        state.policy().model_dump_json(),
        loaded.data,
        tuple(sorted(customers)) if customers is not None else None,
    )
    if not (history["currency"] == currency).any():
        st.caption(f"No {plain(currency)} history.")
        return
    st.plotly_chart(charts.ar_trend(history, currency, buckets), config=CHART_CONFIG,
                    key="overview_trend_chart")
    st.caption("Open amount at each month end, rebuilt from the same data as of that date.")


def render_top_overdue(analysis, data, currency: str, buckets: list[str]) -> None:
    st.subheader("Top overdue customers")
    rows = analysis.by_customer[analysis.by_customer["currency"] == currency].copy()
    rows = rows[rows["overdue"] > 0].sort_values(["overdue", "customer_id"], ascending=[False, True])
    rows = rows.head(TOP_CUSTOMERS)
    rows.insert(1, "name", rows["customer_id"].map(state.customer_names(data)).astype("string").fillna(""))
    chosen = money_table(
        rows[["customer_id", "name", "currency", "overdue", "open", "oldest_days"]],
        ["overdue", "open"],
        key="overview_top_overdue",
        select=True,
        empty=f"No {currency} customer is overdue.",
    )
    st.caption("Select a customer to open their statement.")
    if chosen is not None:
        st.session_state["customer_pick"] = str(chosen["customer_id"])
        st.switch_page(CUSTOMER_PAGE)


def open_exceptions(kind: str) -> None:
    st.session_state["recon_types"] = [kind]
    st.session_state["recon_goto"] = True


def render_exceptions(exceptions: pd.DataFrame) -> None:
    st.subheader("Exceptions")
    if not len(exceptions):
        st.success("No reconciliation exceptions.", icon=":material/check_circle:")
        return
    counts = exceptions.groupby("type").size()
    kinds = sorted(
        counts.index, key=lambda t: (SEVERITY_ORDER.get(EXCEPTION_TYPES.get(t, {}).get("severity"), 9), t)
    )
    with st.container(horizontal=True, key="overview_exceptions"):
        for kind in kinds:
            info = EXCEPTION_TYPES.get(kind, {})
            st.button(
                f"{kind} · {counts[kind]}",
                key=f"overview_exc_{kind}",
                on_click=open_exceptions,
                args=(kind,),
                help=f"{info.get('severity', '')}: {info.get('description', '')}",
            )
    st.caption("Open a type in Reconciliation.")
    if st.session_state.pop("recon_goto", False):
        st.switch_page(RECONCILIATION_PAGE)


def render_disputes() -> None:
    """Open disputes by state, with a way into the Disputes page."""
    from billing.disputes import OPEN_STATES

    st.subheader("Disputes")
    try:
        disputes = actions.list_disputes(state.workspace(), status=list(OPEN_STATES))
    except Exception as exc:  # noqa: BLE001 - the overview draws without the store
        st.caption(f"The action store is not available: {plain(state.error_text(exc))}")
        return
    if not len(disputes):
        st.caption("No open disputes.")
    else:
        counts = disputes.groupby("status").size()
        st.markdown("  ·  ".join(f"**{counts.get(s, 0)}** {str(s).replace('_', ' ')}" for s in OPEN_STATES))
    st.page_link(DISPUTES_PAGE, label="Open the Disputes page", icon=":material/gavel:")


def render_base_total(analysis, data) -> None:
    """All currencies converted to one, when the workbook has an fx_rates table (clearly labelled)."""
    from billing.report import base_totals

    if not len(data.fx_rates) or analysis.by_currency["currency"].nunique() < 2:
        return
    base = (analysis.policy.base_currency or analysis.policy.default_currency).upper()
    totals, _, missing = base_totals(analysis, data.fx_rates, base)
    left_out = f" Not included (no rate): {', '.join(missing)}." if missing else ""
    st.caption(f"All currencies converted to {base} at the fx_rates of {analysis.as_of:%Y-%m-%d} or the "
               f"latest before: open **{money_text(totals['open'], base)}**, overdue "
               f"{money_text(totals['overdue'], base)}, unapplied {money_text(totals['unapplied'], base)}."
               f"{left_out}")


loaded = common.page_start("Overview", "As of {as_of}.")
period = state.period_view(loaded)  # the KPIs' period start is computed once, for both views
analysis, previous = period.current, period.previous
as_of, buckets = analysis.as_of, analysis.policy.bucket_labels
previous_end = period.start

currencies = sorted(set(analysis.kpis["currency"].astype(str)))
currency = common.focus_currency(currencies, key="overview_currency", label="Figures in")
if currency is None:
    st.info("There is nothing to show for these filters.")
    st.stop()

render_kpis(kpi_row(analysis.kpis, currency), kpi_row(previous.kpis, currency), currency, previous_end)
render_base_total(analysis, loaded.data)

left, right = st.columns(2)
with left:
    render_aging_mix(analysis.by_currency, buckets)
with right:
    render_exceptions(analysis.exceptions)
    render_disputes()

left, right = st.columns(2)
with left:
    render_trend(loaded, as_of, currency, buckets)
with right:
    collections_view.render_forecast(loaded, analysis, currency)

render_top_overdue(analysis, loaded.data, currency, buckets)
