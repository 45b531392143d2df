"""The app's pages, grouped: Dashboards (read), Work (lists to act on), Data (sources), Admin."""
from __future__ import annotations

import streamlit as st

from ui.i18n import t


def pages(admin: bool = False) -> dict[str, list]:
    """The st.navigation sections, titled in the session's language (new st.Page objects on every call: one navigation per run);
    with `admin`, also the Admin section (members), which only admins see."""
    sections = {
        t("Dashboards"): [
            st.Page("pages/overview.py", title=t("Overview"), icon=":material/dashboard:", default=True),
            st.Page("pages/aging.py", title=t("Aging"), icon=":material/hourglass_bottom:"),
            st.Page("pages/customer.py", title=t("Customer"), icon=":material/person:"),
        ],
        t("Work"): [
            st.Page("pages/worklist.py", title=t("Worklist"), icon=":material/checklist:"),
            st.Page("pages/reconciliation.py", title=t("Reconciliation"), icon=":material/rule:"),
            st.Page("pages/payments.py", title=t("Payments & allocations"), icon=":material/payments:"),
            st.Page("pages/disputes.py", title=t("Disputes"), icon=":material/gavel:"),
            st.Page("pages/reminders.py", title=t("Reminders"), icon=":material/notifications:"),
            st.Page("pages/bank.py", title=t("Bank"), icon=":material/account_balance:"),
        ],
        t("Data"): [
            st.Page("pages/data.py", title=t("Data"), icon=":material/upload_file:"),
        ],
    }
    if admin:
        sections[t("Admin")] = [st.Page("pages/admin.py", title=t("Members"), icon=":material/group:")]
    return sections


def frame():
    """What surrounds every page: page config, the sign-in gate, the navigation, the sidebar.
    Returns the page to run.

    app.py calls it on every run; a page file run on its own (Streamlit's legacy pages/ mode: a deep
    link to a fresh server) calls it too, through ui.common.ensure_app_navigation. Either way
    `ui.auth.gate` runs before anything is drawn: a signed-out visitor gets only the sign-in page,
    a signed-in non-member only "no access" (the run stops there), and only admins get the Admin
    section.
    """
    from billing.roles import Action, may
    from ui import auth, sidebar, state

    st.set_page_config(page_title="Linewise", page_icon=":material/receipt_long:", layout="wide")
    actor = auth.gate()
    page = st.navigation(pages(admin=may(actor.role, Action.MEMBERS)))
    sidebar.render(state.current(), actor)
    return page
