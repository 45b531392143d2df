"""Overview: how much is owed, how late, by whom, what cash is coming, and what needs attention.

KPI cards with deltas against the previous period end (as-of − the KPI
period), the aging mix of every currency, the AR trend at month ends, the
customers most overdue, cash expected by week (the payment prediction's forecast with its band), and the
reconciliation exceptions by type (each a link into Reconciliation).
Figures are per currency: pick the currency once, at the top.
"""

import pandas as pd
import streamlit as st

from billing import labels
from billing.aging import month_ends
from billing.reconcile import EXCEPTION_TYPES
from services import actions
from ui.charts import CHART_CONFIG
from ui import charts, collections_view, common, state
from ui.fmt import days_text, money_text, pct_text
from ui.i18n import t
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
        st.info(t("No open items or sales in {currency} as of this date.", currency=plain(currency)))
        return
    since = t("Change since {date} (the previous period end).", date=f"{before_date:%Y-%m-%d}")

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
        (t("Open"), *money("total_open"), "off",
         t("Total open on invoice lines (unapplied cash not netted).")),
        (t("Overdue %"), *ratio("overdue_pct", pct_text, t("pp")), "inverse",
         t("Share of the open amount past its due date (whatever the aging basis).")),
        (t("DSO"), *ratio("dso_days", days_text, t("days")), "inverse",
         t("Days sales outstanding: open ÷ credit sales of the period × days.")),
        (t("CEI"), *ratio("cei_pct", pct_text, t("pp")), "normal",
         t("Collection effectiveness index over the period (100% = everything collectable was collected).")),
        (t("Unapplied"), *money("unapplied"), "inverse",
         t("Cash received but not matched to any open line.")),
        (t("In dispute"), *money("in_dispute"), "inverse",
         t("Open amount of lines under an open dispute.")),
    ]
    columns = [*st.columns(3), *st.columns(3)]
    for col, (label, value, delta, diff, colour, help_text) in zip(columns, cards):
        col.metric(
            label,
            value,
            delta,
            delta_color=colour if diff else "off",
            delta_arrow="auto" if diff else "off",
            help=help_text + " " + since,
            border=True,
        )


def render_other_currencies(kpis: pd.DataFrame, currency: str) -> None:
    """Every other currency's open, overdue, unapplied and in-dispute amounts (never added to the
    chosen one), so a card showing 0 in one currency does not hide cash in another."""
    others = kpis[kpis["currency"].astype(str) != currency]
    if not len(others):
        return
    parts = []
    for _, row in others.iterrows():
        cur = str(row["currency"])
        parts.append(t("**{currency}**: open {open}, overdue {overdue}, unapplied {unapplied}, in dispute {disputed}",
                       currency=plain(cur), open=money_text(int(row["total_open"]), cur),
                       overdue=money_text(int(row["overdue"]), cur),
                       unapplied=money_text(int(row["unapplied"]), cur),
                       disputed=money_text(int(row["in_dispute"]), cur)))
    st.caption(t("Other currencies (not included above): ") + " · ".join(parts))


def render_aging_mix(by_currency: pd.DataFrame, buckets: list[str], basis: str) -> None:
    st.subheader(t("Aging by currency"))
    if not len(by_currency) or not (by_currency["open"] > 0).any():
        st.caption(t("Nothing is open."))
        return
    st.plotly_chart(charts.aging_shares(by_currency, buckets, basis), config=CHART_CONFIG,
                    key="overview_aging_chart")
    st.caption(labels.basis_note(basis, t))


def render_trend(loaded: state.Loaded, as_of: pd.Timestamp, currency: str, buckets: list[str],
                 basis: str) -> None:
    st.subheader(t("AR trend"))
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
        st.caption(t("No {currency} history.", currency=plain(currency)))
        return
    st.plotly_chart(charts.ar_trend(history, currency, buckets, basis), config=CHART_CONFIG,
                    key="overview_trend_chart")
    st.caption(t("Open amount at each month end, rebuilt from the same data as of that date."))


def render_top_overdue(analysis, data, currency: str, buckets: list[str]) -> None:
    st.subheader(t("Top overdue customers"))
    rows = analysis.by_customer[analysis.by_customer["currency"] == currency].copy()
    rows = rows[rows["overdue"] > 0].sort_values(["overdue", "customer_id"], ascending=[False, True])
    rows = rows.head(TOP_CUSTOMERS)
    rows.insert(1, "name", rows["customer_id"].map(state.customer_names(data)).astype("string").fillna(""))
    # Overdue right after the id, the name after the amounts: on a phone the amounts stay in view.
    chosen = money_table(
        rows[["customer_id", "overdue", "open", "name", "oldest_days", "currency"]],
        ["overdue", "open"],
        key="overview_top_overdue",
        select=True,
        column_config={"name": st.column_config.Column(t("Name"), pinned=False)},
        empty=t("No {currency} customer is overdue.", currency=plain(currency)),
    )
    st.caption(t("Overdue: open amount past its due date. Select a customer to open their statement."))
    if chosen is not None:
        st.session_state["customer_pick"] = str(chosen["customer_id"])
        st.switch_page(CUSTOMER_PAGE)


def open_exceptions(kind: str) -> None:
    st.session_state["recon_types"] = [kind]
    st.session_state["recon_goto"] = True


def render_exceptions(exceptions: pd.DataFrame) -> None:
    st.subheader(t("Exceptions"))
    if not len(exceptions):
        st.success(t("No reconciliation exceptions."), icon=":material/check_circle:")
        return
    counts = exceptions.groupby("type").size()
    kinds = sorted(
        counts.index, key=lambda t: (SEVERITY_ORDER.get(EXCEPTION_TYPES.get(t, {}).get("severity"), 9), t)
    )
    with st.container(horizontal=True, key="overview_exceptions"):
        for kind in kinds:
            info = EXCEPTION_TYPES.get(kind, {})
            st.button(
                f"{labels.label(labels.EXCEPTION_TYPES, kind, t)} · {counts[kind]}",
                key=f"overview_exc_{kind}",
                on_click=open_exceptions,
                args=(kind,),
                help=t("Severity: {severity}", severity=labels.label(labels.SEVERITIES, info.get("severity"), t)),
            )
    st.caption(t("Open a type in Reconciliation."))
    if st.session_state.pop("recon_goto", False):
        st.switch_page(RECONCILIATION_PAGE)


def render_disputes() -> None:
    """Open disputes by state, with a way into the Disputes page."""
    from billing.disputes import OPEN_STATES

    st.subheader(t("Disputes"))
    try:
        disputes = actions.list_disputes(state.workspace(), status=list(OPEN_STATES))
    except Exception as exc:  # noqa: BLE001 - the overview draws without the store
        st.caption(t("The action store is not available: {error}", error=plain(state.error_text(exc))))
        return
    if not len(disputes):
        st.caption(t("No open disputes."))
    else:
        counts = disputes.groupby("status").size()
        st.markdown("  ·  ".join(f"**{counts.get(s, 0)}** {labels.label(labels.DISPUTE_STATES, s, t)}"
                                 for s in OPEN_STATES))
    st.page_link(DISPUTES_PAGE, label=t("Open the Disputes page"), icon=":material/gavel:")


def render_base_total(analysis, data) -> None:
    """All currencies converted to one, when the workbook has an fx_rates table (clearly labelled)."""
    from billing.report import base_totals

    if not len(data.fx_rates) or analysis.by_currency["currency"].nunique() < 2:
        return
    base = (analysis.policy.base_currency or analysis.policy.default_currency).upper()
    totals, _, missing = base_totals(analysis, data.fx_rates, base)
    left_out = t(" Not included (no rate): {currencies}.", currencies=", ".join(missing)) if missing else ""
    st.caption(t("All currencies converted to {base} at the fx_rates of {date} or the latest before: open "
                 "**{open}**, overdue {overdue}, unapplied {unapplied}.", base=base,
                 date=f"{analysis.as_of:%Y-%m-%d}", open=money_text(totals["open"], base),
                 overdue=money_text(totals["overdue"], base), unapplied=money_text(totals["unapplied"], base))
               + left_out)


loaded = common.page_start(t("Overview"), t("As of {as_of}."))
period = state.period_view(loaded)  # the KPIs' period start is computed once, for both views
analysis, previous = period.current, period.previous
as_of, buckets, basis = analysis.as_of, analysis.policy.bucket_labels, analysis.policy.basis
previous_end = period.start

currency = common.focus_currency(analysis, loaded.data, key="overview_currency", label=t("Figures in"))
if currency is None:
    st.info(t("There is nothing to show for these filters."))
    st.stop()

render_kpis(kpi_row(analysis.kpis, currency), kpi_row(previous.kpis, currency), currency, previous_end)
render_other_currencies(analysis.kpis, currency)
render_base_total(analysis, loaded.data)

left, right = st.columns(2)
with left:
    render_aging_mix(analysis.by_currency, buckets, basis)
with right:
    render_exceptions(analysis.exceptions)
    render_disputes()

left, right = st.columns(2)
with left:
    render_trend(loaded, as_of, currency, buckets, basis)
with right:
    collections_view.render_forecast(loaded, analysis, currency)

render_top_overdue(analysis, loaded.data, currency, buckets)
