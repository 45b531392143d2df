"""Linewise: sign-in, navigation, the data source, and the sidebar filters every page shares.

`ui.navigation.frame` draws what surrounds every page, the sign-in gate first
(`ui.auth.gate`: a signed-out visitor sees only the sign-in page, a signed-in
non-member only "no access"). Pages are grouped: Dashboards (read), Work
(lists to act on), Data (sources), Admin (members; admins only). Each page
reads the workspace's current data and the filters through `ui.state` and
calls `services/`; nothing here computes.
"""
from services.context import NotAllowed
from ui import auth, common, navigation

page = navigation.frame()
common.mark_framed()
try:
    page.run()
except NotAllowed as exc:  # refused where the action runs (services.context.authorize, audited): say why
    auth.refusal(exc)
