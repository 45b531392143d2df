"""Linewise: sign-in, navigation, the data source, and the sidebar filters every page shares.

Before anything is drawn, `ui.auth.gate` decides who is acting: a signed-out
visitor sees only the sign-in page, a signed-in non-member only "no access".
Pages are grouped: Dashboards (read), Work (lists to act on), Data (sources),
Admin (members; admins only). Each page reads the workspace's current data
and the filters through `ui.state` and calls `services/`; nothing here computes.
"""
import streamlit as st

from billing.roles import Action, may
from services.context import NotAllowed
from ui import auth, common, navigation, sidebar, state

st.set_page_config(page_title="Linewise", page_icon=":material/receipt_long:", layout="wide")
actor = auth.gate()

page = st.navigation(navigation.pages(admin=may(actor.role, Action.MEMBERS)))
loaded = state.current()
sidebar.render(loaded, actor)
common.mark_framed()
try:
    page.run()
except NotAllowed as exc:  # refused where the action runs (services.context.authorize, audited): say why
    auth.refusal(exc)
