"""Linewise: sign-in, navigation, the data source, and the sidebar filters every page shares.

Before anything is drawn, `ui.auth.gate` decides who is acting: a signed-out
visitor sees only the sign-in page, a signed-in non-member only "no access".
Pages are grouped: Dashboards (read), Work (lists to act on), Data (sources),
Admin (members; admins only).
Each page reads the loaded dataset and the filters through `ui.state` and
calls `billing/`; nothing here computes.
"""
import streamlit as st

from billing.roles import Action, may
from ui import auth, sidebar, state

st.set_page_config(page_title="Linewise", page_icon=":material/receipt_long:", layout="wide")
principal = auth.gate()

PAGES = {
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

ADMIN = {"Admin": [st.Page("pages/admin.py", title="Members", icon=":material/group:")]}

page = st.navigation({**PAGES, **ADMIN} if may(principal.role, Action.MEMBERS) else PAGES)
loaded = state.current()
sidebar.render(loaded, principal)
page.run()
