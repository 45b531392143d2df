"""The team workspace in the app: every session opens on the current import, after restarts too; the
demo is a sandbox that sends nothing and keeps nothing in the team's tables."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from connectors.outbox import OUTBOX_COLUMNS
from tests.app import files
from tests.app.test_reminders_page import Inbox, free_port, secrets_for  # the real SMTP server of those tests
from ui import store as ui_store

APP = Path(__file__).resolve().parents[2] / "app.py"
TIMEOUT = 120


def ok(at: AppTest) -> AppTest:
    assert not at.exception, "\n".join(f"{e.value}\n{''.join(e.stack_trace)}" for e in at.exception)
    return at


def session(page: str | None = None, secrets: dict | None = None) -> AppTest:
    """A new browser session (a new AppTest: its own session state)."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for section, values in (secrets or {}).items():
        at.secrets[section] = values
    ok(at.run())
    if page:
        ok(at.switch_page(f"pages/{page}.py").run())
    return at


def demo_banner(at: AppTest) -> bool:
    return any("Demo data" in m.value for m in at.markdown)


def restart_server() -> None:
    """What a server restart loses: every cached resource and cached data of the process."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()


def test_session_b_opens_on_what_session_a_imported_and_so_does_a_restarted_server():
    a = session("data")
    assert demo_banner(session()), "an empty workspace shows the demo"
    a.file_uploader(key="data_upload").set_value(("messy.xlsx", files.messy_xlsx(), files.XLSX)).run()
    assert any("Stored as import #1" in s.value for s in ok(a).success)

    b = session()
    assert not demo_banner(b) and not any("demo data" in i.value for i in b.sidebar.info)
    assert any("#1 messy.xlsx" in c.value.replace("\\", "") for c in b.sidebar.caption)
    b_open = {m.label: m.value for m in b.metric}["Open"]
    assert b_open == {m.label: m.value for m in ok(a.switch_page("pages/overview.py").run()).metric}["Open"]

    restart_server()
    c = session("data")
    assert not demo_banner(c)
    assert any("Everyone sees import" in m.value and "messy" in m.value for m in c.markdown)
    history = c.dataframe(key="data_history").value
    assert history["id"].tolist() == [1] and bool(history["current"].iloc[0])
    assert {m.label: m.value for m in ok(c.switch_page("pages/overview.py").run()).metric}["Open"] == b_open


def test_a_second_import_shows_its_changes_on_the_data_page():
    a = session("data")
    a.file_uploader(key="data_upload").set_value(("book.xlsx", files.unmapped_xlsx(), files.XLSX)).run()
    ok(a)
    a.selectbox(key="data_map_invoices_invoice_no").set_value("Doc").run()
    a.button(key="data_map_apply").click().run()
    a.file_uploader(key="data_upload").set_value(("book.xlsx", files.unmapped_xlsx(amount=130),
                                                  files.XLSX)).run()
    ok(a)
    assert any("Stored as import #2" in s.value for s in a.success)
    assert any("mapping from" in i.value for i in a.info)
    b = session("data")
    assert any("Changes in #2" in m.value and "1 changed" in m.value for m in b.markdown)


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    inbox.port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


def test_the_demo_sandbox_sends_nothing_and_keeps_nothing_in_the_workspace(smtp):
    at = session("reminders", secrets=secrets_for(smtp))
    assert demo_banner(at)
    assert any("nothing is sent" in i.value for i in at.info)
    due = at.dataframe(key="rem_due").value
    assert len(due) > 0
    ok(at.button(key="rem_send_all").click().run())
    ok(at.button(key="rem_confirm_send").click().run())
    assert smtp.count() == 0, "a reminder from demo data reached the SMTP server"
    outbox = next(d.value for d in at.dataframe if list(d.value.columns) == OUTBOX_COLUMNS)
    assert len(outbox) == len(due) and set(outbox["channel"]) == {"email"}
    assert any("sent to the preview outbox" in c.value for c in at.caption)
    # the sandbox keeps its own log; the team's store has no reminder, no action at all
    sandbox_store = ui_store.sandbox()[0].store
    assert len(sandbox_store.reminder_log()) >= len(due)
    team = ui_store.team_store()
    assert not len(team.reminder_log()) and not len(team.actions())
