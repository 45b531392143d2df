"""The Worklist in a real browser: ranked customers with their reasons, one click to the Customer page.

Uses the fixtures of tests/browser/conftest.py (`streamlit_server`, `page`) on a workspace holding the
demo workbook. Screenshot: test-artifacts/browser/worklist.png.
"""

from __future__ import annotations

import pytest

from connectors.store import Store
from tests.browser.helpers import assert_no_exception, go_to, grid_with_header, main_text, open_app, screenshot, \
    title, wait_idle
from tests.browser.test_disputes_browser import select_first_row
from tests.workspace_data import import_demo

pytestmark = pytest.mark.browser


def test_the_worklist_ranks_customers_and_opens_the_first_one(page, streamlit_server, tmp_path):
    with Store(data_dir=tmp_path / "data") as store:
        import_demo(store)
    server = streamlit_server(data_dir=tmp_path / "data")
    open_app(page, server.url)
    go_to(page, "Worklist")
    assert_no_exception(page)
    rows = grid_with_header(page, "Customer ID", "Name", "Rank")
    header, first = rows[0], rows[1]
    assert first[header.index("Rank")] == "1" and "At risk" in header
    customer = first[header.index("Customer ID")]
    assert grid_with_header(page, "Customer ID", "Name", "Currency", "Open", "Credit limit")
    assert "Credit hold" in main_text(page)
    screenshot(page, "worklist")

    select_first_row(page, "worklist_table")
    title(page, "Customer").wait_for()
    wait_idle(page)
    assert_no_exception(page)
    assert customer in main_text(page) and "Collections" in main_text(page)
