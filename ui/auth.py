"""Sign-in on the Streamlit side: gather who is signed in, gate the app, show identity and refusals.

The facts come from public Streamlit APIs only — ``st.secrets`` (``[auth]``,
``[roles]``), ``st.user`` (the signed-in identity) and
``st.get_option("server.address")`` (where this server listens) — and
``services.auth.session_actor`` turns them into the acting Actor, afresh
on every run: neither who acts nor their role is ever read back from the
session state, which a client could forge.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from billing.roles import Action, Actor, Mode, RolesError, decide
from connectors.store import StoreError
from services.auth import SIGNED_OUT, session_actor
from services.context import NotAllowed
from ui.i18n import t
from ui.text import plain
from ui.store import ACTOR_KEY, team_store

# Members live in the workspace store: when it cannot be read, nobody's role can be known.
MEMBERS_UNREADABLE = ("The workspace store cannot be read, so Linewise cannot check who is a member "
                      "(check [store] in .streamlit/secrets.toml or LINEWISE_DB_URL)")

__all__ = ["auth_configured", "roles_section", "providers", "current", "can", "blocked", "gate",
           "render_identity", "refusal"]


def _secret_section(name: str) -> Mapping[str, Any] | None:
    try:
        return st.secrets[name] if name in st.secrets else None
    except FileNotFoundError:  # no secrets.toml at all
        return None


def auth_configured() -> bool:
    """Is sign-in configured (an ``[auth]`` section in the secrets)?"""
    return _secret_section("auth") is not None


def roles_section() -> Mapping[str, Any] | None:
    """The ``[roles]`` section of the secrets (admin / finance / viewer lists), if any."""
    return _secret_section("roles")


def providers() -> list[str]:
    """Named sign-in providers (``[auth.google]``, ``[auth.microsoft]``, ...); [] when ``[auth]``
    configures a single, unnamed provider."""
    section = _secret_section("auth") or {}
    return [name for name, value in section.items() if isinstance(value, Mapping)]


def current() -> Actor:
    """The acting Actor of this run (RolesError when ``[roles]`` in the secrets is malformed).

    Members live in the team's store (also while the demo sandbox is shown); only sign-in needs them."""
    configured = auth_configured()
    return session_actor(auth_configured=configured, user=st.user.to_dict(), roles_section=roles_section(),
                         bound_address=st.get_option("server.address"),
                         store=team_store() if configured else None,
                         local_name=st.session_state.get(ACTOR_KEY))


def can(action: Action | str) -> bool:
    """May the acting person take `action`? For drawing only (hide or disable a button): the
    service function checks again when the action runs."""
    return blocked(action) is None


def blocked(action: Action | str) -> str | None:
    """Why the acting person may not take `action` (the sentence a refusal would say), or None
    when they may. For drawing only, like `can`."""
    try:
        decision = decide(current(), action)
    except RolesError as exc:
        return str(exc)
    except (StoreError, SQLAlchemyError):
        return MEMBERS_UNREADABLE
    return None if decision.allowed else decision.message


def _alone(page: Any, title: str) -> None:
    """Show only `page` (no other page is reachable, not even by URL) and end the run."""
    only = st.Page(page, title=title, icon=":material/lock:", url_path=title.lower().replace(" ", "-"))
    st.navigation([only], position="hidden").run()
    st.stop()


def _sign_in_page() -> None:
    st.title("Linewise")
    st.write("Sign in to see your team's receivables.")
    named = providers()
    if not named or any(k in (_secret_section("auth") or {}) for k in ("client_id", "server_metadata_url")):
        if st.button("Sign in", key="auth_sign_in", type="primary", icon=":material/login:"):
            st.login()
    for name in named:
        if st.button(f"Sign in with {name}", key=f"auth_sign_in_{name}", icon=":material/login:"):
            st.login(name)


def _configuration_error_page(message: str) -> None:
    st.title("Linewise")
    st.error(plain(f"{message}. Nobody can be let in until an administrator of the server fixes it."),
             icon=":material/error:")
    _sign_out_button()


def _sign_out_button() -> None:
    if st.button("Sign out", key="auth_sign_out", icon=":material/logout:"):
        st.logout()


def gate() -> Actor:
    """Let the run through only when it may show data: signed in as a member, or local mode, or
    an unconfigured server (dashboards with a warning; every action is refused there).

    Otherwise the run shows the sign-in page or the one "no access" page and stops.
    """
    try:
        actor = current()
    except RolesError as exc:
        message = f"The [roles] section of the server's secrets cannot be read: {exc}"
        _alone(lambda: _configuration_error_page(message), "Configuration error")
    except (StoreError, SQLAlchemyError):  # no details: a database URL may hold a password
        _alone(lambda: _configuration_error_page(MEMBERS_UNREADABLE), "Configuration error")
    if actor.how is Mode.SIGN_IN and not st.user.is_logged_in:
        _alone(_sign_in_page, "Sign in")
    if actor.how is Mode.SIGN_IN and actor.role is None:
        _alone(lambda: _no_access_page(actor), "No access")
    if actor.how is Mode.UNCONFIGURED:
        st.warning(f"Sign-in is not configured and this server listens on "
                   f"{plain(actor.address or 'every network interface')}: you can look at the "
                   "dashboards, but every action is refused until sign-in is configured ([auth] in "
                   ".streamlit/secrets.toml).", icon=":material/lock_open:")
    return actor


def _no_access_page(actor: Actor) -> None:
    st.title("No access")
    ask = ", ".join(actor.contacts) or "an admin of this workspace"
    if actor.name == SIGNED_OUT:  # signed in, but the provider gave no (verified) address
        who = "Your sign-in did not give a verified e-mail address, so Linewise cannot tell who you are"
    else:
        who = f"You are signed in as {actor.name}, which is not a member of this workspace"
    st.error(plain(f"{who}. Ask {ask} to add you."), icon=":material/block:")
    _sign_out_button()


def render_identity(actor: Actor) -> None:
    """The sidebar's "who is working": the signed-in address and role with a sign-out button;
    in local mode the name to record (typed, default ``local:<os user>``) and the local-mode note."""
    if actor.how is Mode.SIGN_IN:
        st.caption(plain(f"Signed in as {actor.name} · {actor.role}"))
        _sign_out_button()
    elif actor.how is Mode.LOCAL:
        st.info(t("**Local mode**: no sign-in, only this computer can open the app, and you are admin."),
                icon=":material/computer:")
        st.text_input(t("Your name"), key=ACTOR_KEY, placeholder=actor.name, max_chars=80,
                      help=t("Recorded as who did it on every change (local mode only: with sign-in, "
                             "your signed-in address is recorded)."))


def refusal(exc: NotAllowed) -> None:
    """Show a refused action as one plain sentence."""
    st.error(plain(str(exc)), icon=":material/block:")
