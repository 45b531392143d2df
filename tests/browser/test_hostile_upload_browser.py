"""A real server: an upload that crashes the reader is a message to that user, and the server lives.

The file comes from tests/hostile/corpus.py (one browser fixture per process: Playwright's sync API
allows one instance, so this test lives with the other browser tests).

The server runs with the guard told to let a one-cell-at-XFD1048576 workbook
through (LINEWISE_LIMIT_MAX_CELLS) and a 1 GB worker: calamine asks for 512 GB
and aborts inside the worker. The page shows the message, /_stcore/health still
answers, and the next upload (a new session: another user) loads.
"""
from __future__ import annotations

import re
import urllib.request

import pytest

from tests.browser.conftest import chromium_path, skip_or_fail
from tests.browser.helpers import assert_no_exception, open_app, wait_idle
from tests.hostile import corpus

pytestmark = pytest.mark.browser
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(scope="module")
def crash_server(streamlit_server):
    if chromium_path() is None:
        skip_or_fail("Chromium is not installed (apt-get install chromium)")
    return streamlit_server(env={"LINEWISE_LIMIT_MAX_CELLS": str(10**13),
                                 "LINEWISE_LIMIT_WORKER_MEMORY_MB": "1024"})


def upload(page, name: str, blob: bytes) -> None:
    uploader = page.get_by_test_id("stFileUploader").locator("input[type=file]")
    uploader.set_input_files(files=[{"name": name, "mimeType": XLSX_MIME, "buffer": blob}])


def healthy(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=10) as resp:
        return resp.read().decode().strip() == "ok"


def test_a_crashing_upload_is_a_message_and_the_server_keeps_serving(page, crash_server):
    open_app(page, crash_server.url, "data", expect_title="Data")
    upload(page, "crash.xlsx", corpus.xfd_cell())
    page.get_by_text(re.compile(r"Reading 'crash\.xlsx' needs more than 1,024 MB of memory")).wait_for(
        timeout=120_000)
    assert_no_exception(page)
    assert crash_server.proc.poll() is None and healthy(crash_server.url)

    open_app(page, crash_server.url, "data", expect_title="Data")  # a new session, as another user's
    upload(page, "fine.xlsx", corpus.invoices_workbook())
    page.get_by_text(re.compile(r": 20 invoice lines, 0 payments")).first.wait_for(timeout=120_000)
    wait_idle(page)
    assert_no_exception(page)
    assert healthy(crash_server.url)
