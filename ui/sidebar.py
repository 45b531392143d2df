"""The sidebar: who is working, which data is loaded, the as-of date and basis, and the filters
for every page."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from billing.customers import customer_labels
from billing.roles import Actor
from ui import auth, state
from ui.text import plain


def render(loaded: state.Loaded, actor: Actor) -> None:
    with st.sidebar:
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
        st.warning(f"The action store cannot be read, so disputes are not shown: {plain(error)}",
                   icon=":material/database:")


def render_source(loaded: state.Loaded) -> None:
    if loaded.is_demo:
        st.info("You are looking at **demo data**, a sandbox: nothing is sent from it and nothing done on "
                "it is kept. Import your own workbook on the Data page.", icon=":material/science:")
        st.page_link("pages/data.py", label="Upload or connect your data", icon=":material/upload_file:")
    elif loaded.error:
        st.error(f"{plain(loaded.label)}: {plain(loaded.error)}")
    else:
        st.caption(f"Data: import **{plain(loaded.label)}**")


def _options(frame: pd.DataFrame, column: str) -> list[str]:
    if column not in frame:
        return []
    return sorted(frame[column].dropna().astype(str).unique().tolist())


def render_filters(loaded: state.Loaded) -> None:
    data = loaded.data
    if st.session_state.get("f_as_of") is None:  # new data: its own default date, not the last source's
        st.session_state["f_as_of"] = state.default_as_of(data).date()
    st.date_input("As of", key="f_as_of",
                  help="Aging, allocation and KPIs are computed as of this date "
                       "(payments after it are ignored).")
    st.radio("Age by", ["due_date", "invoice_date"], key="f_basis", horizontal=True,
             format_func=lambda b: "due date" if b == "due_date" else "invoice date")
    currencies = sorted(set(data.invoices["currency"].dropna()) | set(data.payments["currency"].dropna()))
    st.multiselect("Currency", currencies, key="f_currency", placeholder="All currencies")
    cust = data.customers
    st.multiselect("Customer", customer_labels(cust, data.invoices), key="f_customer",
                   placeholder="All customers")
    segments, owners = _options(cust, "segment"), _options(cust, "owner")
    if segments:
        st.multiselect("Segment", segments, key="f_segment", placeholder="All segments")
    if owners:
        st.multiselect("Owner", owners, key="f_owner", placeholder="All owners")
