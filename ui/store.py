"""The action store for this server process, and who is acting.

One `Store` per process (`st.cache_resource`): SQLAlchemy pools connections
and the store serialises its own writes. The acting user is the signed-in
address (``ui.auth``); only in local mode (no sign-in, loopback only) is it
the name typed in the sidebar, kept in the session. Every audit event
records it.
"""
from __future__ import annotations

import streamlit as st

from connectors.store import Store, new_action_id

ACTOR_KEY = "acting_user"


@st.cache_resource(show_spinner="Opening the action store …")
def get_store() -> Store:
    """The store named by LINEWISE_DB_URL, `[store] url` in secrets, or the default SQLite file."""
    try:
        secrets = dict(st.secrets) if st.secrets else None
    except FileNotFoundError:  # no secrets.toml: the embedded SQLite default
        secrets = None
    return Store.from_secrets(secrets)


def actor() -> str:
    """Who acts in this run: the signed-in address; in local mode the name typed in the sidebar,
    else ``local:<os user>``; ``anonymous`` on a server without sign-in (where nothing is allowed)."""
    from ui.auth import current  # ui.auth builds on this module

    return current().actor


def action_id(purpose: str) -> str:
    """A client-generated id for one user action, stable across reruns until `done(purpose)`.

    A double click or a rerun replays the same id, so the store applies the action once.
    """
    key = f"action_id::{purpose}"
    if key not in st.session_state:
        st.session_state[key] = new_action_id()
    return st.session_state[key]


def done(purpose: str) -> None:
    """Forget the action id once the action is finished, so the next one gets a new id."""
    st.session_state.pop(f"action_id::{purpose}", None)
