"""The app's pages, grouped: Dashboards (read), Work (lists to act on), Data (sources)."""
from __future__ import annotations

import streamlit as st


def pages() -> dict[str, list]:
    """The st.navigation sections (new st.Page objects on every call: one navigation per run)."""
    return {
        "Dashboards": [
            st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
            st.Page("pages/aging.py", title="Aging", icon=":material/hourglass_bottom:"),
            st.Page("pages/customer.py", title="Customer", icon=":material/person:"),
        ],
        "Work": [
            st.Page("pages/reconciliation.py", title="Reconciliation", icon=":material/rule:"),
            st.Page("pages/payments.py", title="Payments & allocations", icon=":material/payments:"),
            st.Page("pages/disputes.py", title="Disputes", icon=":material/gavel:"),
            st.Page("pages/reminders.py", title="Reminders", icon=":material/notifications:"),
        ],
        "Data": [
            st.Page("pages/data.py", title="Data", icon=":material/upload_file:"),
        ],
    }


def frame():
    """What surrounds every page: page config, the navigation, the sidebar. Returns the page to run.

    app.py calls it on every run; a page file run on its own (Streamlit's legacy pages/ mode: a deep
    link to a fresh server) calls it too, through ui.common.ensure_app_navigation.
    """
    from ui import sidebar, state

    st.set_page_config(page_title="Linewise", page_icon=":material/receipt_long:", layout="wide")
    page = st.navigation(pages())
    sidebar.render(state.current())
    return page
