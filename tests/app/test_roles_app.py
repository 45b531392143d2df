"""Sign-in and roles in the app (SPEC §14), through AppTest with `at.user` and `at.secrets` per role.

What each person sees (the sign-in page, "no access", the dashboards, the Admin page), what they can
do, what is refused — also when a viewer forges the session state or replays a click on a disabled
button — and what the audit trail records: the signed-in address, never a typed name. Local mode
(no [auth], loopback) and a server listening on 0.0.0.0 without [auth] are covered at the end.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import streamlit
from streamlit.testing.v1 import AppTest

from tests.app import files
from ui import disputes as dui
from ui.store import ACTOR_KEY, sandbox, team_store

APP = Path(__file__).resolve().parents[2] / "app.py"
TIMEOUT = 120
ADMIN, FINANCE, VIEWER = "ana@example.com", "bob@finance.example.com", "val@example.com"
STRANGER = "eve@else.test"
AUTH = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "c" * 40,
        "client_id": "linewise", "client_secret": "not-used-here",
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}
ROLES = {"admin": [ADMIN], "finance": ["@finance.example.com"], "viewer": [VIEWER]}


@pytest.fixture(autouse=True)
def listening_on(monkeypatch):
    """`listening_on(address)`: what st.get_option("server.address") answers in the app (the server's
    listening address); by default 127.0.0.1, as `make run` (.streamlit/config.toml)."""
    real = streamlit.get_option

    def listen(address: str) -> None:
        monkeypatch.setattr(streamlit, "get_option",
                            lambda name: address if name == "server.address" else real(name))

    listen("127.0.0.1")
    return listen


def ok(at: AppTest) -> AppTest:
    assert not at.exception, "\n".join(f"{e.value}\n{''.join(e.stack_trace)}" for e in at.exception)
    return at


def app_as(user: str | None, *, verified: bool = True, roles: dict | None = None, auth: dict | None = None,
           page: str | None = None) -> AppTest:
    """An app session with sign-in configured, signed in as `user` (None: signed out)."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.secrets["auth"] = auth or AUTH
    at.secrets["roles"] = ROLES if roles is None else roles
    at.user = ({"is_logged_in": False} if user is None else
               {"is_logged_in": True, "email": user, "email_verified": verified, "name": user.split("@")[0]})
    ok(at.run())
    if page:
        ok(at.switch_page(f"pages/{page}.py").run())
    return at


def plain(text: str) -> str:
    """Text as the user reads it (the app escapes Markdown in addresses and messages)."""
    return text.replace("\\", "")


def titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def refusals(store, actor: str):
    events = store.audit_events(entity="permission")
    return events[events["actor"] == actor]


# --------------------------------------------------------------------------- who sees what


def test_a_signed_out_visitor_sees_only_the_sign_in_page():
    at = app_as(None)
    assert titles(at) == ["Linewise"]
    assert at.button(key="auth_sign_in").label == "Sign in"
    assert not at.metric and not at.dataframe and not at.sidebar.text_input


def test_each_named_provider_gets_its_sign_in_button():
    auth = {"redirect_uri": AUTH["redirect_uri"], "cookie_secret": AUTH["cookie_secret"],
            "google": {"client_id": "g", "client_secret": "s",
                       "server_metadata_url": "https://accounts.google.com/.well-known/openid-configuration"},
            "microsoft": {"client_id": "m", "client_secret": "s",
                          "server_metadata_url": "https://login.microsoftonline.com/t/v2.0/"
                                                 ".well-known/openid-configuration"}}
    at = app_as(None, auth=auth)
    assert {b.key for b in at.button} == {"auth_sign_in_google", "auth_sign_in_microsoft"}


def test_a_signed_in_non_member_sees_no_access_and_whom_to_ask():
    at = app_as(STRANGER)
    assert titles(at) == ["No access"]
    text = plain(at.error[0].value)
    assert STRANGER in text and "not a member of this workspace" in text and ADMIN in text
    assert at.button(key="auth_sign_out")
    assert not at.metric and not at.dataframe


def test_an_address_the_provider_did_not_verify_is_nobody():
    at = app_as(VIEWER, verified=False)
    assert titles(at) == ["No access"]
    assert "did not give a verified e-mail address" in plain(at.error[0].value)


def test_a_typo_in_the_roles_section_locks_everyone_out_with_the_reason():
    at = app_as(ADMIN, roles={"admins": [ADMIN]})
    assert "unknown role 'admins'" in at.error[0].value
    assert not at.metric


def test_an_unreadable_store_lets_nobody_in_and_shows_no_secret(monkeypatch):
    monkeypatch.setenv("LINEWISE_DB_URL", "postgresql+psycopg://linewise:pa55word@127.0.0.1:1/linewise")
    team_store.clear()
    at = app_as(ADMIN)
    page_text = " ".join(e.value for e in at.error)
    assert "cannot check who is a member" in plain(page_text) and not at.metric
    assert "pa55word" not in page_text
    team_store.clear()


def test_a_viewer_sees_the_dashboards_as_themselves_without_a_name_field_or_the_admin_page():
    at = app_as(VIEWER)
    assert titles(at) == ["Overview"] and at.metric
    assert any(plain(c.value) == "Signed in as val@example.com · viewer" for c in at.sidebar.caption)
    assert ACTOR_KEY not in {t.key for t in at.sidebar.text_input}  # the free "Your name" field is gone


def test_only_an_admin_reaches_the_members_page():
    for who in (VIEWER, FINANCE):
        at = app_as(who)
        with pytest.raises(Exception):  # not in their navigation: AppTest cannot even switch to it
            at.switch_page("pages/admin.py").run()
    at = ok(app_as(ADMIN, page="admin"))
    assert titles(at) == ["Members"]
    shown = at.dataframe[0].value
    assert shown[["pattern", "role", "source"]].values.tolist() == [
        ["@finance.example.com", "finance", "secrets"], [ADMIN, "admin", "secrets"],
        [VIEWER, "viewer", "secrets"]]


def test_an_admin_adds_a_member_who_can_then_sign_in_with_that_role():
    at = app_as(ADMIN, page="admin")
    at.text_input(key="admin_pattern").input("carol@example.com")
    at.selectbox(key="admin_role").select("finance")
    ok(at.button(key="FormSubmitter:admin_add-Save").click().run())
    assert any("carol@example.com is finance" in plain(s.value) for s in at.success)
    members = team_store().members()
    assert members[["pattern", "role", "created_by"]].values.tolist() == [
        ["carol@example.com", "finance", ADMIN]]
    event = team_store().audit_events(entity="member").iloc[-1]
    assert (event["actor"], event["entity_id"], event["action"]) == (ADMIN, "carol@example.com", "create")

    carol = app_as("carol@example.com")
    assert titles(carol) == ["Overview"]
    assert any("carol@example.com · finance" in plain(c.value) for c in carol.sidebar.caption)


# --------------------------------------------------------------------------- refused where the action runs


def test_a_viewer_forging_an_upload_is_refused_and_the_refusal_is_audited():
    at = app_as(VIEWER, page="data")
    assert at.file_uploader(key="data_upload").disabled
    at.session_state["data_pending_upload"] = [("messy.xlsx", files.messy_xlsx())]  # forged session state
    ok(at.run())
    assert any("Importing data needs the finance role; val@example.com is viewer" in plain(e.value)
               for e in at.error)
    store = team_store()
    assert store.imports().empty
    refused = refusals(store, VIEWER)
    assert refused["entity_id"].tolist() == ["import"]
    assert json.loads(refused["after_json"].iloc[0])["detail"]["role"] == "viewer"


def first_line_dispute_button(who: str):
    """Aging, per line, the first line selected: (the session, its "Open dispute on line" button)."""
    at = app_as(who, page="aging")
    at.segmented_control(key="aging_level").set_value("Line").run()
    at.session_state["aging_lines"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    ok(at.run())
    return at, at.button(key="aging_dispute_line")


def test_a_viewer_forging_the_open_dispute_request_is_refused_and_audited():
    at, button = first_line_dispute_button(VIEWER)
    assert button.disabled and "needs the finance role" in plain(button.help)
    code = button.label.split()[-1]
    # what the disabled button's click would have put in the session, forged: the dialog opens
    at.session_state[dui.PENDING] = {"source": "aging_dispute_line", "codes": [code], "nonce": "forged01"}
    ok(at.run())
    ok(at.button(key=dui.F_SUBMIT).click().run())
    assert any("Opening a dispute needs the finance role; val@example.com is viewer" in plain(e.value)
               for e in at.error)
    workspace_store = sandbox()[0].store  # the demo's sandbox: where this session's actions go
    disputes = workspace_store.list_disputes()
    assert VIEWER not in set(disputes["opened_by"])
    refused = refusals(workspace_store, VIEWER)
    assert "open_dispute" in refused["entity_id"].tolist()


def forge_a_send(at: AppTest) -> AppTest:
    """On Reminders: put the first due customer's confirmation in the session (what the disabled
    Send button's click would have done) and press the dialog's "Send now"."""
    ok(at.switch_page("pages/reminders.py").run())
    assert at.button(key="rem_send_all").disabled
    due = at.dataframe(key="rem_due").value
    at.session_state["rem_confirm"] = {"customers": [str(due["customer_id"].iloc[0])], "scope": "selected"}
    ok(at.run())
    return ok(at.button(key="rem_confirm_send").click().run())


def test_a_viewer_forging_a_send_is_refused_before_anything_goes_out():
    outbox = sandbox()[1]
    before = len(outbox.frame())
    at = forge_a_send(app_as(VIEWER))
    assert any("Sending reminders needs the finance role; val@example.com is viewer" in plain(e.value)
               for e in at.error)
    assert len(outbox.frame()) == before
    assert "send_reminders" in refusals(sandbox()[0].store, VIEWER)["entity_id"].tolist()


def test_finance_opens_a_dispute_recorded_under_the_signed_in_address():
    at, button = first_line_dispute_button(FINANCE)
    assert not button.disabled
    ok(button.click().run())
    ok(at.button(key=dui.F_SUBMIT).click().run())
    store = sandbox()[0].store
    mine = store.list_disputes()
    mine = mine[mine["opened_by"] == FINANCE]
    assert len(mine) == 1
    events = store.audit_events(entity="dispute", entity_id=int(mine["id"].iloc[0]))
    assert events["actor"].tolist() == [FINANCE]


# --------------------------------------------------------------------------- without [auth]


def test_local_mode_says_so_and_records_the_typed_name():
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    ok(at.run())
    assert any("Local mode" in i.value for i in at.sidebar.info)
    assert at.text_input(key=ACTOR_KEY).placeholder.startswith("local:")
    ok(at.text_input(key=ACTOR_KEY).input("Anna Kovács").run())
    ok(at.switch_page("pages/data.py").run())
    at.session_state["data_pending_upload"] = [("messy.xlsx", files.messy_xlsx())]
    ok(at.run())
    assert team_store().imports()["actor"].tolist() == ["Anna Kovács"]


def test_a_server_on_every_interface_without_sign_in_draws_dashboards_and_refuses_every_action(listening_on):
    listening_on("0.0.0.0")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    ok(at.run())
    assert any("listens on 0.0.0.0" in plain(w.value) for w in at.warning) and at.metric
    assert ACTOR_KEY not in {t.key for t in at.sidebar.text_input}
    ok(at.switch_page("pages/data.py").run())
    at.session_state["data_pending_upload"] = [("messy.xlsx", files.messy_xlsx())]
    ok(at.run())
    assert any("Sign-in must be configured" in plain(e.value) for e in at.error)
    assert team_store().imports().empty
    assert refusals(team_store(), "anonymous")["entity_id"].tolist() == ["import"]
    outbox = sandbox()[1]
    before = len(outbox.frame())
    forge_a_send(at)
    assert any("Sending reminders is refused: this server listens on 0.0.0.0" in plain(e.value)
               for e in at.error)
    assert len(outbox.frame()) == before
