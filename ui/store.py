"""The stores of this server process, and who is acting.

`team_store()` is the team's workspace store (`st.cache_resource`: one per
process; SQLAlchemy pools connections and the store serialises its own
writes). `sandbox()` is the demo's: a throwaway SQLite file and a preview
outbox, so nothing done on the demo lands in the team's tables or leaves
the machine. Who acts is `current_actor()` (``ui.auth``): the signed-in
address, or in local mode (no sign-in, loopback only) the name typed in the
sidebar. Every audit event records it.
"""
from __future__ import annotations

import tempfile

import streamlit as st

from connectors.outbox import PreviewOutbox
from connectors.store import Store, new_action_id
from services.context import Actor, Workspace

ACTOR_KEY = "acting_user"


@st.cache_resource(show_spinner="Opening the workspace store …")
def team_store() -> Store:
    """The store named by LINEWISE_DB_URL, `[store] url` in secrets, or the default SQLite file."""
    try:
        secrets = dict(st.secrets) if st.secrets else None
    except FileNotFoundError:  # no secrets.toml: the embedded SQLite default
        secrets = None
    return Store.from_secrets(secrets)


get_store = team_store  # the name the pages used before the workspace existed


def team_workspace() -> Workspace:
    return Workspace(team_store())


@st.cache_resource(show_spinner=False)
def sandbox() -> tuple[Workspace, PreviewOutbox]:
    """The demo's sandbox for this process: its own store in a temporary directory, and the outbox."""
    directory = tempfile.mkdtemp(prefix="linewise-sandbox-")
    return Workspace(Store(data_dir=directory), sandbox=True), PreviewOutbox()


def current_actor() -> Actor:
    """Who acts in this run, with their role, as the services take it (``ui.auth.current``)."""
    from ui.auth import current  # ui.auth builds on this module

    return current()


def actor() -> str:
    """The name every record of this run carries: the signed-in address; in local mode the name
    typed in the sidebar, else ``local:<os user>``; ``anonymous`` on a server without sign-in."""
    return current_actor().name


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
