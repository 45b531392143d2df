"""A server listening on every interface (``--server.address 0.0.0.0``) without ``[auth]`` (SPEC §14).

It draws the dashboards with a warning that sign-in must be configured and
refuses every action: the Open dispute and Send buttons are disabled with the
reason (the service functions refuse them anyway: tests/services and
tests/app/test_roles_app.py). The test talks to it on 127.0.0.1 only.
Screenshot: test-artifacts/browser/unconfigured-reminders.png.
"""
from __future__ import annotations

import re

import pytest

from tests.browser.conftest import StreamlitServer
from tests.browser.helpers import assert_no_exception, go_to, main_text, open_app, screenshot, wait_idle
from tests.browser.test_disputes_browser import select_first_row

pytestmark = pytest.mark.browser
REFUSED = "listens on 0.0.0.0 without sign-in"


class EveryInterfaceServer(StreamlitServer):
    def command(self) -> list[str]:
        return [*super().command(), "--server.address", "0.0.0.0"]  # the last value given wins


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = EveryInterfaceServer(tmp_path_factory.mktemp("unconfigured") / "data")
    srv.start()
    yield srv
    srv.stop()


def test_dashboards_draw_with_a_warning_and_disputes_and_sends_are_refused(page, server):
    open_app(page, server.url)
    assert "Sign-in is not configured and this server listens on 0.0.0.0" in main_text(page)
    assert page.get_by_test_id("stMetric").count() > 0  # the dashboards still draw
    assert page.get_by_test_id("stSidebar").get_by_label("Your name").count() == 0

    go_to(page, "Aging")
    page.get_by_test_id("stButtonGroup").get_by_role("radio", name="Line", exact=True).click()
    wait_idle(page)
    select_first_row(page, "aging_lines")
    button = page.get_by_role("button", name=re.compile(r"^Open dispute on line "))
    button.wait_for()
    assert button.is_disabled()

    go_to(page, "Reminders")
    assert f"Sending reminders is refused: this server {REFUSED}" in main_text(page)
    for name in (r"^Send selected", r"^Send all"):
        assert page.get_by_role("button", name=re.compile(name)).is_disabled()
    screenshot(page, "unconfigured-reminders")
    assert_no_exception(page)
