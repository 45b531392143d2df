"""Admin: the workspace's members and their roles (SPEC §14). Admins only.

Members from ``[roles]`` in the secrets are listed but fixed here; workspace
members are added, changed and removed through ``services.auth`` (which
checks the admin role again and audits every change), and the trail of
member changes and refused actions is shown below.
"""
import streamlit as st

from billing.roles import ROLE_NAMES, Action, RolesError
from services.auth import members_table, remove_member, set_member
from services.context import NotAllowed
from ui import auth
from ui.common import ensure_app_navigation
from ui.i18n import t
from ui.text import plain
from ui.store import action_id, done, team_workspace
from ui.tables import plain_table

ADD, REMOVE, FLASH = "member_set", "member_remove", "admin_flash"
PATTERN, ROLE, WHO = "admin_pattern", "admin_role", "admin_remove_pattern"

ensure_app_navigation()
st.title(t("Members"))
if not auth.can(Action.MEMBERS):  # the navigation offers it to admins only; this is the page's own check
    st.error("Only admins can see and change the members of this workspace.", icon=":material/block:")
    st.stop()

ws = team_workspace()  # members belong to the team, also while the demo sandbox is shown
store = ws.store
secrets_roles = auth.roles_section()
flash = st.session_state.pop(FLASH, None)
if flash:
    (st.success if flash[0] == "ok" else st.error)(plain(flash[1]))


def _apply(purpose: str, change, success: str) -> None:
    """Run one member change (as whoever acts now) under a stable action id; keep the outcome
    for the next run."""
    try:
        change(auth.current(), action_id(purpose))
    except (NotAllowed, RolesError) as exc:
        st.session_state[FLASH] = ("error", str(exc))
    else:
        st.session_state[FLASH] = ("ok", success)
    done(purpose)


def _add() -> None:
    pattern, role = (st.session_state.get(PATTERN) or "").strip(), st.session_state.get(ROLE) or "viewer"
    _apply(ADD, lambda who, aid: set_member(ws, who, pattern, role, action_id=aid,
                                            roles_section=secrets_roles),
           f"{pattern} is {role}.")


def _remove() -> None:
    pattern = st.session_state.get(WHO)
    _apply(REMOVE, lambda who, aid: remove_member(ws, who, pattern, action_id=aid,
                                                  roles_section=secrets_roles),
           f"{pattern} is no longer a member.")


table = members_table(secrets_roles, store)
st.caption("A person's role is the highest of every entry that matches their address. Entries from the "
           "server's secrets ([roles]) can only be changed there.")
plain_table(table, key="admin_members", dates=["updated_at"], empty="No members yet.")

with st.form("admin_add", border=True):
    st.markdown("**Add a member or change a role**")
    cols = st.columns([3, 1])
    cols[0].text_input("Address or @domain", key=PATTERN, placeholder="ana@example.com or @example.com")
    cols[1].selectbox("Role", ROLE_NAMES, key=ROLE)
    st.form_submit_button("Save", type="primary", icon=":material/person_add:", on_click=_add)

workspace = table.loc[table["source"] == "workspace", "pattern"].tolist()
if workspace:
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.selectbox("Remove a workspace member", workspace, key=WHO)
        st.button("Remove", key="admin_remove", icon=":material/person_remove:", on_click=_remove)

st.subheader("Trail")
events = store.audit_events()
events = events[events["entity"].isin(["member", "permission"])].iloc[::-1].head(200)
plain_table(events[["at", "actor", "entity", "entity_id", "action", "before_json", "after_json"]],
            key="admin_trail", dates=["at"], empty="No member changes or refusals yet.")
