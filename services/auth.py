"""Who is acting, and the permission check every action runs first (SPEC §14).

The entry points only gather facts — the app: whether ``[auth]`` is configured,
the signed-in identity (``st.user``), the ``[roles]`` secrets and the server's
listening address; the CLI: its environment — and ask this module for a
``billing.roles.Principal``. Every service function that changes something
calls ``require(principal, action, store)`` before it does anything: the
check lives where the action executes, so a hidden button, a forged session
state or a replayed widget event cannot get around it, and every refusal is
an audit event.

Nothing here reads Streamlit: it is plain values in, a Principal out.
"""
from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from typing import Any

import pandas as pd

from billing.roles import (Action, Decision, MemberRule, Mode, Principal, Role, access_mode, admin_contacts,
                           decide, normalise_address, role_of, rules_from_members, rules_from_secrets)
from connectors.store import Store

__all__ = ["PermissionDenied", "require", "session_principal", "cli_principal", "cli_actor",
           "signed_in_address", "member_rules", "fixed_rules", "members_table", "set_member", "remove_member"]

ACTOR_ENV = "LINEWISE_ACTOR"


class PermissionDenied(PermissionError):
    """The acting person may not take this action; ``str()`` is the sentence to show them."""

    def __init__(self, decision: Decision):
        super().__init__(decision.message)
        self.decision = decision


def require(principal: Principal, action: Action | str, store: Store, *, attempted_action_id: str | None = None,
            detail: Mapping[str, Any] | None = None) -> None:
    """Return if `principal` may take `action`; otherwise record the refusal as an audit event
    (entity "permission", with the reason and `detail`) and raise PermissionDenied.

    `attempted_action_id` is the action id the caller was given: a replay of the same refused
    request is recorded once.
    """
    decision = decide(principal, action)
    if decision.allowed:
        return
    store.record_refusal(actor=principal.actor, action=str(decision.action), reason=decision.message,
                         attempted_action_id=attempted_action_id,
                         detail={"role": str(principal.role) if principal.role else None,
                                 "mode": str(principal.mode), **dict(detail or {})})
    raise PermissionDenied(decision)


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


def session_principal(*, auth_configured: bool, user: Mapping[str, Any] | None,
                      roles_section: Mapping[str, Any] | None, bound_address: str | None, store: Store,
                      local_name: str | None = None) -> Principal:
    """Who acts in an app session, and with which role.

    - sign-in configured: the signed-in address (None role when not signed in
      or no member: `contacts` then names the admins to ask);
    - local mode (no ``[auth]``, loopback only): `local_name` (the name typed in
      the sidebar) or ``local:<os user>``, admin;
    - no ``[auth]`` on any other address: ``anonymous``, no role, nothing allowed.
    """
    mode = access_mode(auth_configured, bound_address)
    if mode is Mode.LOCAL:
        name = (local_name or "").strip() or f"local:{_os_user()}"
        return Principal(name, Role.ADMIN, mode, address=bound_address or "")
    if mode is Mode.UNCONFIGURED:
        return Principal("anonymous", None, mode, address=bound_address or "")
    rules = member_rules(roles_section, store)
    address = signed_in_address(user)
    return Principal(address or "signed-out", role_of(address, rules), mode, address=bound_address or "",
                     contacts=tuple(admin_contacts(rules)))


def cli_actor(env: Mapping[str, str] | None = None) -> str:
    """``LINEWISE_ACTOR``, else ``cli:<os user>``: who the command line records as acting."""
    env = os.environ if env is None else env
    return (env.get(ACTOR_ENV) or "").strip() or f"cli:{_os_user()}"


def cli_principal(env: Mapping[str, str] | None = None) -> Principal:
    """The command line's principal: whoever can run it on the server holds its secrets and its
    database, so it acts as admin, under `cli_actor`'s name."""
    return Principal(cli_actor(env), Role.ADMIN, Mode.CLI)


# --------------------------------------------------------------------------- members (the Admin page)

def members_table(roles_section: Mapping[str, Any] | None, store: Store) -> pd.DataFrame:
    """Everyone who may sign in: pattern, role, source ("secrets" | "workspace"), updated_by,
    updated_at — secrets first, then the workspace's members, each by pattern."""
    fixed = pd.DataFrame([{"pattern": r.pattern, "role": str(r.role), "source": "secrets"}
                          for r in fixed_rules(roles_section)], columns=["pattern", "role", "source"])
    stored = store.members()
    stored = stored.assign(source="workspace")[["pattern", "role", "source", "updated_by", "updated_at"]]
    table = pd.concat([fixed.sort_values("pattern"), stored], ignore_index=True)
    return table.astype({"pattern": "string", "role": "string", "source": "string", "updated_by": "string"})


def set_member(principal: Principal, store: Store, pattern: str, role: str, *, action_id: str,
               roles_section: Mapping[str, Any] | None) -> dict[str, str]:
    """Add a workspace member or change their role (admin only; audited; the last admin stays)."""
    require(principal, Action.MEMBERS, store, attempted_action_id=action_id,
            detail={"pattern": str(pattern), "role": str(role)})
    return store.set_member(pattern, role, action_id=action_id, actor=principal.actor,
                            fixed_rules=fixed_rules(roles_section))


def remove_member(principal: Principal, store: Store, pattern: str, *, action_id: str,
                  roles_section: Mapping[str, Any] | None) -> None:
    """Remove a workspace member (admin only; audited; not the last admin, not one from the secrets)."""
    require(principal, Action.MEMBERS, store, attempted_action_id=action_id, detail={"pattern": str(pattern)})
    store.remove_member(pattern, action_id=action_id, actor=principal.actor, fixed_rules=fixed_rules(roles_section))
