"""The team workspace across servers: two `streamlit run app.py` servers on one PostgreSQL database.

A deep link to /aging on a fresh server opens inside the app (sidebar and navigation). Finance
imports a workbook through the browser on server A and opens a dispute there; a manager's browser on
server B sees the same data, the dispute and the import history, and still does after B restarts.
Screenshot: test-artifacts/browser/workspace-server-b.png.
"""
from __future__ import annotations

import re

import pytest

from tests.browser.conftest import DEFAULT_TIMEOUT_MS, VIEWPORT
from tests.browser.helpers import (assert_no_exception, go_to, grid_with_header, main_text, metrics, open_app,
                                   screenshot, title, wait_idle)
from tests.browser.test_app_browser import XLSX_MIME, messy_workbook
from tests.browser.test_disputes_browser import select_first_row
from tests.pg import fresh_pg_db

pytestmark = pytest.mark.browser


@pytest.fixture
def new_session(browser):
    """Factory of fresh browser contexts (each one a new Streamlit session, another person)."""
    contexts = []

    def make():
        context = browser.new_context(viewport=VIEWPORT, locale="en-US")
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def sidebar_has_filters(page) -> bool:
    sidebar = page.get_by_test_id("stSidebar")
    return sidebar.get_by_test_id("stDateInput").count() > 0 and sidebar.get_by_test_id("stSidebarNav").count() > 0


def test_two_servers_on_one_postgresql_share_the_workspace(streamlit_server, pg_server, new_session):
    env = {"LINEWISE_DB_URL": fresh_pg_db(pg_server)}
    server_a, server_b = streamlit_server(env=env), streamlit_server(env=env)

    # a fresh browser deep-links into a fresh server: the page runs inside the app frame
    manager = new_session()
    open_app(manager, server_b.url, "aging", expect_title="Aging")
    assert_no_exception(manager)
    assert sidebar_has_filters(manager), "a deep link on a fresh server lost the sidebar"
    assert manager.locator(".st-key-demo_banner").count() == 1  # the empty workspace: the demo

    # finance imports through the browser on server A, then opens a dispute there
    finance = new_session()
    open_app(finance, server_a.url, "data", expect_title="Data")
    finance.get_by_test_id("stFileUploader").locator("input[type=file]").set_input_files(
        files=[{"name": "messy.xlsx", "mimeType": XLSX_MIME, "buffer": messy_workbook()}])
    finance.get_by_text(re.compile(r"Stored as import #1: 2 invoice lines")).wait_for(timeout=90_000)
    wait_idle(finance)
    name = finance.get_by_test_id("stSidebar").get_by_label("Your name", exact=True).and_(
        finance.get_by_role("textbox"))
    name.fill("Finance Clerk")
    name.press("Enter")
    wait_idle(finance)
    go_to(finance, "Aging")
    finance.get_by_test_id("stButtonGroup").get_by_role("radio", name="Line", exact=True).click()
    wait_idle(finance)
    select_first_row(finance, "aging_lines")
    finance.get_by_role("button", name=re.compile(r"^Open dispute on line ")).click()
    dialog = finance.get_by_role("dialog")
    dialog.get_by_text("Open a dispute").wait_for()
    wait_idle(finance)
    dialog.get_by_role("button", name="Open dispute").click()
    finance.get_by_text("Dispute #1 opened on 1 line").wait_for()
    wait_idle(finance)
    assert_no_exception(finance)

    def sees_everything(page) -> None:
        go_to(page, "Overview")
        assert_no_exception(page)
        assert page.locator(".st-key-demo_banner").count() == 0, "server B still shows the demo"
        assert metrics(page)["Open"]["value"] == "$237,067.89"
        go_to(page, "Disputes")
        assert metrics(page)["Open"]["value"] == "1"
        assert [[r[0], r[3]] for r in grid_with_header(page, "#", "Customer ID", "Name", "Status")[1:]] == [["1", "Open"]]
        go_to(page, "Data")
        assert "Everyone sees import #1 messy.xlsx" in main_text(page)
        history = grid_with_header(page, "Import", "When", "Who")
        assert len(history) == 2 and history[1][0] in ("1", "#1"), history

    # the manager's session on server B: a rerun picks up the new current import
    manager.reload()
    title(manager, "Aging").wait_for(timeout=90_000)
    wait_idle(manager)
    sees_everything(manager)
    screenshot(manager, "workspace-server-b")

    # server B restarts: a new browser session on it still sees everything
    server_b.restart()
    after = new_session()
    open_app(after, server_b.url)
    sees_everything(after)
