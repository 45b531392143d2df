"""Reconciliation: orders ↔ invoice lines ↔ payments, as of the sidebar date.

Exceptions grouped by type with the amount at stake per currency, filtered
by type and severity, downloadable; the order lines that are delivered and
due for billing; and the order lines held by a billing block.
"""

import pandas as pd
import streamlit as st

from billing import labels
from billing.reconcile import EXCEPTION_TYPES
from ui import common, exports, state
from ui.disputes import open_dispute_button
from ui.i18n import option_names, t
from ui.tables import code_labels, money_table, per_currency_columns
from ui.text import plain

SEVERITIES = ["high", "medium", "low", "info"]
TYPES = sorted(EXCEPTION_TYPES, key=lambda t: (SEVERITIES.index(EXCEPTION_TYPES[t]["severity"]), t))
EXCEPTION_COLUMNS = ["customer_id", "currency", "amount", "refs", "message", "action"]
# the dispute reason an exception suggests (the dialog lets the user change it)
DISPUTE_REASONS = {
    "PRICE_MISMATCH": "price",
    "LINE_TOTAL_MISMATCH": "price",
    "OVERBILLED_QTY": "quantity",
    "DUPLICATE_LINE": "duplicate_billing",
    "DUPLICATE_LINE_CODE": "duplicate_billing",
    "BILLED_BEFORE_DELIVERY": "not_delivered",
}


def render_filters(exceptions: pd.DataFrame) -> tuple[list[str], list[str]]:
    counts = exceptions.groupby("type").size() if len(exceptions) else pd.Series(dtype="int64")
    with st.container(horizontal=True, vertical_alignment="bottom"):
        types = st.multiselect(
            t("Exception types"),
            TYPES,
            key="recon_types",
            placeholder=t("All types"),
            format_func=option_names(TYPES, lambda kind: f"{labels.label(labels.EXCEPTION_TYPES, kind, t)} ({int(counts.get(kind, 0))})"),
            persist_state="session",
        )
        severities = st.pills(
            t("Severity"),
            SEVERITIES,
            selection_mode="multi",
            key="recon_severity",
            persist_state="session",
            format_func=option_names(SEVERITIES, lambda s: labels.label(labels.SEVERITIES, s, t)),
            help=t("Leave empty for all severities."),
        )
    return types or TYPES, severities or SEVERITIES


def render_summary(frame: pd.DataFrame) -> None:
    counts = frame.groupby("type").agg(severity=("severity", "first"), exceptions=("type", "size"))
    amounts, config = per_currency_columns(frame, ["type"], "amount")
    table = counts.join(amounts.set_index("type")).reset_index()
    table["order"] = table["type"].map(TYPES.index)
    table = table.sort_values("order").drop(columns="order")
    config.update(
        type=st.column_config.Column(t("Type"), pinned=True),
        severity=st.column_config.Column(t("Severity")),
        exceptions=st.column_config.NumberColumn(t("Exceptions"), format="%d"),
    )
    # The caption sits between the filters and the table: the table's hover toolbar, drawn above
    # its top edge, then covers the caption, not the Severity pills.
    st.caption(t("Amount at stake per currency (currencies are never added together)."))
    st.dataframe(code_labels(table), hide_index=True, column_config=config, key="recon_summary")


def line_codes(refs) -> list[str]:
    return [str(c) for c in (refs.get("line_codes") or [])] if isinstance(refs, dict) else []


def render_groups(frame: pd.DataFrame, single: bool, analysis) -> None:
    refs = analysis.exceptions["refs"]
    for kind in [t for t in TYPES if t in set(frame["type"])]:
        rows = frame[frame["type"] == kind]
        info = EXCEPTION_TYPES[kind]
        title = f"{labels.label(labels.EXCEPTION_TYPES, kind, t)} · {len(rows)} · " \
                f"{labels.label(labels.SEVERITIES, info['severity'], t)}"
        with st.expander(title, expanded=single):
            st.caption(info["description"])
            with_lines = any(line_codes(refs.get(i)) for i in rows.index)
            chosen = money_table(rows[EXCEPTION_COLUMNS], ["amount"], key=f"recon_table_{kind}",
                                 select=with_lines)
            if not with_lines:
                continue
            if chosen is None:
                st.caption(t("Select an exception to open a dispute on its lines."))
                continue
            codes = line_codes(refs.get(chosen.name))
            what = ", ".join(codes) if len(codes) < 3 else t("{n} lines", n=len(codes))
            open_dispute_button(analysis, codes, key=f"recon_dispute_{kind}",
                                label=t("Open dispute on {what}", what=plain(what)),
                                reason=DISPUTE_REASONS.get(kind, "other"), amount=int(chosen["amount"]),
                                note=f"{labels.label(labels.EXCEPTION_TYPES, kind)}: {chosen['message']}")


def render_exceptions(analysis) -> None:
    exceptions = analysis.exceptions
    types, severities = render_filters(exceptions)
    if not len(exceptions):
        st.success(t("No exceptions as of this date."), icon=":material/check_circle:")
        return
    frame = exports.exceptions_frame(exceptions, analysis.policy.default_currency)
    frame = frame[frame["type"].isin(types) & frame["severity"].isin(severities)]
    if not len(frame):
        st.info(t("No exceptions of the chosen types and severities."))
        return
    render_summary(frame)
    with st.container(horizontal=True):
        st.download_button(
            t("Download exceptions (XLSX)"),
            lambda: exports.xlsx_bytes({"exceptions": frame}, {"exceptions": ["amount"]}),
            file_name=f"exceptions_{analysis.as_of:%Y-%m-%d}.xlsx",
            mime=exports.XLSX_MIME,
            key="recon_download_xlsx",
            icon=":material/download:",
            on_click="ignore",
        )
        st.download_button(
            t("Download exceptions (CSV)"),
            lambda: exports.csv_bytes(frame, ["amount"]),
            file_name=f"exceptions_{analysis.as_of:%Y-%m-%d}.csv",
            mime=exports.CSV_MIME,
            key="recon_download_csv",
            icon=":material/download:",
            on_click="ignore",
        )
    render_groups(frame, single=len(set(frame["type"])) == 1, analysis=analysis)


def keep_filtered(frame: pd.DataFrame, data) -> pd.DataFrame:
    """Order lines restricted to the sidebar's customers and currencies."""
    customers = state.selected_customers(data)
    currencies = st.session_state.get("f_currency") or []
    mask = pd.Series(True, index=frame.index)
    if customers is not None:
        mask &= frame["customer_id"].isin(customers).fillna(False)
    if currencies:
        mask &= frame["currency"].isin(currencies).fillna(False)
    return frame[mask.to_numpy(dtype=bool)]


def render_order_list(frame: pd.DataFrame, name: str, money: list[str], as_of: pd.Timestamp, *,
                      caption: str, empty: str, key: str) -> None:
    """An order-line list (billing due or blocked) with its XLSX download."""
    st.caption(caption)
    money_table(frame, money, key=f"recon_{name}", empty=empty)
    if len(frame):
        st.download_button(
            t("Download this list (XLSX)"),
            lambda: exports.xlsx_bytes({name: frame}, {name: money}),
            file_name=f"{name}_{as_of:%Y-%m-%d}.xlsx",
            mime=exports.XLSX_MIME,
            key=f"recon_download_{key}",
            icon=":material/download:",
            on_click="ignore",
        )


def render_billing_due(due: pd.DataFrame, as_of: pd.Timestamp) -> None:
    render_order_list(due, "billing_due", ["unit_price", "amount_to_bill"], as_of, key="due",
                      caption=t("Delivered order lines, not on billing block, billed for less than delivered: "
                                "invoice them."),
                      empty=t("Every delivered order line is billed."))


def render_billing_blocked(blocked: pd.DataFrame, as_of: pd.Timestamp) -> None:
    columns = ["billing_block", *[c for c in blocked.columns if c != "billing_block"]]
    render_order_list(blocked[columns], "billing_blocked", ["unit_price", "amount"], as_of, key="blocked",
                      caption=t("Order lines held by a billing block, with the reason and the value not yet "
                                "billed."),
                      empty=t("No order line is on billing block."))


loaded = common.page_start(t("Reconciliation"), t("Orders, invoice lines and payments matched as of {as_of}."))
analysis = state.view(loaded)
due, blocked = state.billing_lists_for(loaded.key, analysis.as_of, loaded.data)
due, blocked = keep_filtered(due, loaded.data), keep_filtered(blocked, loaded.data)

tab_exceptions, tab_due, tab_blocked = st.tabs(
    [
        t("Exceptions ({n})", n=len(analysis.exceptions)),
        t("Billing due ({n})", n=len(due)),
        t("Billing blocked ({n})", n=len(blocked)),
    ]
)
with tab_exceptions:
    render_exceptions(analysis)
with tab_due:
    render_billing_due(due, analysis.as_of)
with tab_blocked:
    render_billing_blocked(blocked, analysis.as_of)
