"""The action store for this server process, and who is acting.

One `Store` per process (`st.cache_resource`): SQLAlchemy pools connections
and the store serialises its own writes. Until sign-in exists, the acting
user is the name typed in the sidebar, kept in the session; every audit
event records it.
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
    """The acting user's name (set in the sidebar); 'anonymous' until one is typed."""
    return (st.session_state.get(ACTOR_KEY) or "").strip() or "anonymous"


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
