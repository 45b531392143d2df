"""The sidebar: who is working, which data is loaded, the as-of date and basis, and the filters
for every page."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from billing.customers import customer_labels
from billing.roles import Actor
from ui import auth, state
from ui import i18n
from ui.i18n import option_names, render_switch, t
from ui.text import plain


BASES = ["due_date", "invoice_date"]
# st.date_input's typed format per language (its own calendar follows the browser).
DATE_FORMATS = {"en": "YYYY-MM-DD", "zh": "YYYY/MM/DD", "hu": "YYYY.MM.DD"}


def render(loaded: state.Loaded, actor: Actor) -> None:
    with st.sidebar:
        render_switch()
        render_actor(actor)
        render_source(loaded)
        if loaded.data is None:
            return
        render_filters(loaded)


def render_actor(actor: Actor) -> None:
    """Who is working (the signed-in address, or the local-mode name): every change records it."""
    auth.render_identity(actor)
    error = st.session_state.get(state.STORE_ERROR)
    if error:
        st.warning(t("The action store cannot be read, so disputes are not shown: {error}", error=plain(error)),
                   icon=":material/database:")


def render_source(loaded: state.Loaded) -> None:
    if loaded.is_demo:
        st.info(t("You are looking at **demo data**, a sandbox: nothing is sent from it and nothing done on "
                  "it is kept. Import your own workbook on the Data page."), icon=":material/science:")
        st.page_link("pages/data.py", label=t("Upload or connect your data"), icon=":material/upload_file:")
    elif loaded.error:
        st.error(f"{plain(loaded.label)}: {plain(loaded.error)}")
    else:
        st.caption(t("Data: import **{label}**", label=plain(loaded.label)))


def _options(frame: pd.DataFrame, column: str) -> list[str]:
    if column not in frame:
        return []
    return sorted(frame[column].dropna().astype(str).unique().tolist())


def render_filters(loaded: state.Loaded) -> None:
    data = loaded.data
    if st.session_state.get("f_as_of") is None:  # new data: its own default date, not the last source's
        st.session_state["f_as_of"] = state.default_as_of(data).date()
    st.date_input(t("As of"), key="f_as_of", format=DATE_FORMATS.get(i18n.language(), "YYYY-MM-DD"),
                  help=t("Aging, allocation and KPIs are computed as of this date "
                         "(payments after it are ignored)."))
    # Its value kept in the session state: the widget is drawn anew when the language changes its
    # labels, and would otherwise show no choice at all.
    st.session_state.setdefault("f_basis", BASES[0])
    st.radio(t("Age by"), BASES, key="f_basis", horizontal=True,
             format_func=option_names(BASES, lambda b: t("due date") if b == "due_date" else t("invoice date")),
             help=t("Due date: buckets are days past the due date. Invoice date: buckets are the "
                    "invoices' ages. Overdue always means past the due date."))
    currencies = sorted(set(data.invoices["currency"].dropna()) | set(data.payments["currency"].dropna()))
    st.multiselect(t("Currency"), currencies, key="f_currency", placeholder=t("All currencies"))
    cust = data.customers
    st.multiselect(t("Customer"), customer_labels(cust, data.invoices), key="f_customer",
                   placeholder=t("All customers"))
    segments, owners = _options(cust, "segment"), _options(cust, "owner")
    if segments:
        st.multiselect(t("Segment"), segments, key="f_segment", placeholder=t("All segments"))
    if owners:
        st.multiselect(t("Owner"), owners, key="f_owner", placeholder=t("All owners"))
