"""Who is acting (SPEC §14): the Actor of an app session or of the command line, and members.

The entry points only gather facts — the app: whether ``[auth]`` is configured,
the signed-in identity (``st.user``), the ``[roles]`` secrets and the server's
listening address; the CLI: its environment — and ask this module for a
``billing.roles.Actor`` (name, how they signed in, role). Every service
function then checks it with ``services.context.authorize`` where the action
executes. The Admin page's member changes are such actions too.

Nothing here reads Streamlit: plain values in, an Actor out.
"""
from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from typing import Any

import pandas as pd

from billing.roles import (Action, Actor, MemberRule, Mode, access_mode, admin_contacts, normalise_address,
                           role_of, rules_from_members, rules_from_secrets)
from connectors.store import Store
from services.context import Workspace, authorize

__all__ = ["session_actor", "cli_actor", "cli_name", "signed_in_address", "member_rules", "fixed_rules",
           "members_table", "set_member", "remove_member", "ACTOR_ENV", "SIGNED_OUT"]

ACTOR_ENV = "LINEWISE_ACTOR"
SIGNED_OUT = "signed-out"  # the name of a sign-in session without a (verified) address


def fixed_rules(roles_section: Mapping[str, Any] | None) -> tuple[MemberRule, ...]:
    """The ``[roles]`` of the secrets as rules (RolesError names a bad entry)."""
    return rules_from_secrets(roles_section)


def member_rules(roles_section: Mapping[str, Any] | None, store: Store) -> tuple[MemberRule, ...]:
    """Every membership rule: the secrets' ``[roles]`` and the workspace's members."""
    return fixed_rules(roles_section) + rules_from_members(store.members())


def signed_in_address(user: Mapping[str, Any] | None) -> str | None:
    """The e-mail address a signed-in identity (the ID token's claims, ``st.user``) acts under.

    ``email`` (not when the provider says ``email_verified`` is false: an
    unverified address could claim anyone's), else ``preferred_username`` when
    it is an address (Microsoft Entra's sign-in name). None when not signed in.
    """
    if not user or not user.get("is_logged_in"):
        return None
    if user.get("email_verified") is False:
        return None
    for claim in ("email", "preferred_username"):
        address = normalise_address(user.get(claim))
        if address:
            return address
    return None


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def session_actor(*, auth_configured: bool, user: Mapping[str, Any] | None,
                  roles_section: Mapping[str, Any] | None, bound_address: str | None,
                  store: Store | None, local_name: str | None = None) -> Actor:
    """Who acts in an app session, and with which role.

    - sign-in configured: the signed-in address and its role from the secrets'
      ``[roles]`` and the workspace's members (role None when not signed in or
      no member; `contacts` then names the admins to ask);
    - local mode (no ``[auth]``, loopback only): `local_name` (the name typed in
      the sidebar) or ``local:<os user>``, admin;
    - no ``[auth]`` on any other address: ``anonymous``, no role, nothing allowed.

    `store` (the team's, for its members) is read only with sign-in configured.
    """
    mode = access_mode(auth_configured, bound_address)
    where = bound_address or ""
    if mode is Mode.LOCAL:
        return Actor((local_name or "").strip() or f"local:{_os_user()}", mode, address=where)
    if mode is Mode.UNCONFIGURED:
        return Actor("anonymous", mode, address=where)
    if store is None:
        raise ValueError("with sign-in configured the members' store is needed")
    rules = member_rules(roles_section, store)
    address = signed_in_address(user)
    return Actor(address or SIGNED_OUT, mode, role_of(address, rules), address=where,
                 contacts=tuple(admin_contacts(rules)))


def cli_name(env: Mapping[str, str] | None = None) -> str:
    """``LINEWISE_ACTOR``, else ``cli:<os user>``: who the command line records as acting."""
    env = os.environ if env is None else env
    return (env.get(ACTOR_ENV) or "").strip() or f"cli:{_os_user()}"


def cli_actor(env: Mapping[str, str] | None = None, name: str | None = None) -> Actor:
    """The command line's actor, `name` or ``cli_name(env)``: whoever can run it on the server holds
    its secrets and its database, so it acts as admin."""
    return Actor((name or "").strip() or cli_name(env), Mode.CLI)


# --------------------------------------------------------------------------- members (the Admin page)

def members_table(roles_section: Mapping[str, Any] | None, store: Store) -> pd.DataFrame:
    """Everyone who may sign in: pattern, role, source ("secrets" | "workspace"), updated_by,
    updated_at — the secrets' entries first, then the workspace's members, each by pattern."""
    fixed = pd.DataFrame([{"pattern": r.pattern, "role": str(r.role), "source": "secrets"}
                          for r in fixed_rules(roles_section)], columns=["pattern", "role", "source"])
    stored = store.members().assign(source="workspace")
    table = pd.concat([fixed.sort_values("pattern"), stored[["pattern", "role", "source", "updated_by",
                                                               "updated_at"]]], ignore_index=True)
    return table.astype({"pattern": "string", "role": "string", "source": "string", "updated_by": "string"})


def set_member(ws: Workspace, actor: Actor, pattern: str, role: str, *, action_id: str,
               roles_section: Mapping[str, Any] | None) -> dict[str, str]:
    """Add a workspace member or change their role (admin only; audited; the last admin stays)."""
    authorize(ws, actor, Action.MEMBERS, action_id=action_id,
              detail={"pattern": str(pattern), "role": str(role)})
    return ws.store.set_member(pattern, role, action_id=action_id, actor=actor.name,
                               fixed_rules=fixed_rules(roles_section))


def remove_member(ws: Workspace, actor: Actor, pattern: str, *, action_id: str,
                  roles_section: Mapping[str, Any] | None) -> None:
    """Remove a workspace member (admin only; audited; not the last admin, not one from the secrets)."""
    authorize(ws, actor, Action.MEMBERS, action_id=action_id, detail={"pattern": str(pattern)})
    ws.store.remove_member(pattern, action_id=action_id, actor=actor.name,
                           fixed_rules=fixed_rules(roles_section))
