"""Linewise: navigation, the data source, and the sidebar filters every page shares.

Pages are grouped: Dashboards (read), Work (lists to act on), Data (sources).
Each page reads the workspace's current data and the filters through
`ui.state` and calls `services/`; nothing here computes.
"""
from ui import common, navigation

page = navigation.frame()
common.mark_framed()
page.run()
