"""Linewise: navigation, the data source, and the sidebar filters every page shares.

Pages are grouped: Dashboards (read), Work (lists to act on), Data (sources).
Each page reads the workspace's current data and the filters through
`ui.state` and calls `services/`; nothing here computes.
"""
import streamlit as st

from ui import common, navigation, sidebar, state

st.set_page_config(page_title="Linewise", page_icon=":material/receipt_long:", layout="wide")

page = st.navigation(navigation.pages())
loaded = state.current()
sidebar.render(loaded)
common.mark_framed()
page.run()
