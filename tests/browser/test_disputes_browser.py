"""Disputes in a real browser: open one from the Aging page, restart the server, find it on the
Disputes page (it lives in the workspace's SQLite store under LINEWISE_DATA_DIR, not in the session).

Uses the shared fixtures of tests/browser/conftest.py (`streamlit_server`, `page`) and the helpers
of tests/browser/helpers.py. Screenshots: test-artifacts/browser/disputes-dialog.png (the dialog on
Aging) and disputes.png (the Disputes page after the restart, with the dispute's detail).
"""

from __future__ import annotations

import re

import pytest

from connectors.store import Store
from tests.browser.helpers import (
    assert_no_exception,
    go_to,
    grid_with_header,
    main_text,
    metrics,
    open_app,
    screenshot,
    title,
    wait_idle,
)
from tests.workspace_data import import_demo

pytestmark = pytest.mark.browser

NAME = "Browser Tester"
HEADER_ROWS_PX = 36  # st.dataframe: header row height; each row is 35 px


def select_first_row(page, table_key: str) -> None:
    """Tick the row marker of the first data row of a selectable st.dataframe (drawn on a canvas)."""
    grid = page.locator(f".st-key-{table_key} [data-testid='stDataFrame']").first
    grid.wait_for()
    box = grid.bounding_box()
    assert box, f"table {table_key} is not visible"
    grid.click(position={"x": 18, "y": HEADER_ROWS_PX + 17})
    wait_idle(page)


def test_a_dispute_opened_on_aging_survives_a_server_restart(page, streamlit_server, tmp_path):
    # disputes are workspace records: the server opens on a workspace holding the demo workbook
    with Store(data_dir=tmp_path / "data") as store:
        import_demo(store)
    server = streamlit_server(data_dir=tmp_path / "data")
    open_app(page, server.url, "aging", expect_title="Aging")

    # who acts: the sidebar's name (kept in the session, recorded by the store)
    name = page.get_by_test_id("stSidebar").get_by_label("Your name", exact=True).and_(
        page.get_by_role("textbox"))
    name.fill(NAME)
    name.press("Enter")
    wait_idle(page)

    # per line, select the first open line, open a dispute on it
    page.get_by_test_id("stButtonGroup").get_by_role("radio", name="Line", exact=True).click()
    wait_idle(page)
    select_first_row(page, "aging_lines")
    button = page.get_by_role("button", name=re.compile(r"^Open dispute on line "))
    button.wait_for()
    code = button.inner_text().strip().split("Open dispute on line ")[-1].strip()
    assert re.fullmatch(r"[A-Z0-9/-]+", code), code
    button.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Open a dispute").wait_for()
    wait_idle(page)
    amount = dialog.get_by_role("spinbutton", name=re.compile(r"^Disputed amount")).input_value()
    assert float(amount) > 0, amount
    dialog.get_by_role("textbox", name="Note").fill("Opened from the browser test.")
    screenshot(page, "disputes-dialog")
    dialog.get_by_role("button", name="Open dispute").click()
    page.get_by_text("Dispute #1 opened on 1 line").wait_for()
    wait_idle(page)
    assert_no_exception(page)
    assert not page.get_by_role("dialog").count()

    # a restart of the server on the same data directory: the dispute is still there
    old_url = server.url
    server.restart()
    if server.url == old_url:
        page.reload()
    else:  # the port was taken meanwhile
        page.goto(f"{server.url}/aging")
    title(page, "Aging").wait_for(timeout=90_000)
    wait_idle(page)
    go_to(page, "Disputes")
    assert_no_exception(page)
    assert metrics(page)["Open"]["value"] == "1"
    rows = grid_with_header(page, "#", "Customer ID", "Name", "Status")
    assert [[r[0], r[3]] for r in rows[1:]] == [["1", "Open"]], rows

    # its detail: the line, who opened it; and one move through the buttons
    page.get_by_test_id("stMain").get_by_test_id("stSelectbox").filter(has_text="Dispute").click()
    page.get_by_role("option", name=re.compile(r"^#1 · ")).click()
    page.get_by_role("heading", name=re.compile(r"^Dispute #1 · ")).wait_for()
    wait_idle(page)
    assert NAME in main_text(page)
    lines = grid_with_header(page, "Line code", "Invoice")
    assert [r[0] for r in lines[1:]] == [code]
    page.get_by_role("button", name="Start review").click()
    page.get_by_text("Dispute #1 is now in review.").wait_for()
    wait_idle(page)
    assert_no_exception(page)
    assert page.get_by_role("button", name="Escalate to management").is_visible()
    assert not page.get_by_role("button", name="Start review").count()
    screenshot(page, "disputes")
