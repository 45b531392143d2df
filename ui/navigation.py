"""The app's pages, grouped: Dashboards (read), Work (lists to act on), Data (sources), Admin."""
from __future__ import annotations

import streamlit as st


def pages(admin: bool = False) -> dict[str, list]:
    """The st.navigation sections (new st.Page objects on every call: one navigation per run);
    with `admin`, also the Admin section (members), which only admins see."""
    sections = {
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
    if admin:
        sections["Admin"] = [st.Page("pages/admin.py", title="Members", icon=":material/group:")]
    return sections
