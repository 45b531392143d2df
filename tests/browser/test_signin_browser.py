"""Sign-in in a real browser: a real OpenID Connect round trip (SPEC §14).

A provider on 127.0.0.1 (tests/oidc_provider.py: discovery document, JWKS,
RS256-signed ID tokens) and a ``streamlit run app.py`` whose secrets file
(in a temporary directory, given with ``--secrets.files``) has ``[auth]``
pointing at it and ``[roles]`` naming a finance user and a viewer. Chromium
signs in through the provider's authorization page as each of them, and as
someone who is no member; the app must say who is signed in, with which
role, and show only what that role may see.

Screenshots: test-artifacts/browser/signin-*.png.
"""
from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from connectors.store import Store
from tests.app.files import XLSX, messy_xlsx
from tests.browser.conftest import StreamlitServer
from tests.browser.helpers import assert_no_exception, go_to, main_text, screenshot, title, wait_idle
from tests.oidc_provider import oidc_provider

pytestmark = pytest.mark.browser

FINANCE, VIEWER, ADMIN, STRANGER = "fin@example.com", "val@example.com", "ana@example.com", "eve@else.test"


class SignInServer(StreamlitServer):
    """A StreamlitServer reading its secrets (with [auth]) from a file of the test's."""

    def __init__(self, data_dir: Path, secrets_file: Path):
        super().__init__(data_dir)
        self.secrets_file = secrets_file

    def command(self) -> list[str]:
        return [*super().command(), "--secrets.files", str(self.secrets_file)]


def secrets_toml(server: StreamlitServer, metadata_url: str) -> str:
    return "\n".join([
        "[auth]",
        f'redirect_uri = "{server.url}/oauth2callback"',
        f'cookie_secret = "{secrets.token_urlsafe(32)}"',
        'client_id = "linewise-test"',
        f'client_secret = "{secrets.token_urlsafe(16)}"',
        f'server_metadata_url = "{metadata_url}"',
        "",
        "[roles]",
        f'admin = ["{ADMIN}"]',
        f'finance = ["{FINANCE}"]',
        f'viewer = ["{VIEWER}"]',
        "",
    ])


@pytest.fixture(scope="module")
def idp():
    with oidc_provider(users={FINANCE: {"name": "Fin Ance"}, VIEWER: {"name": "Val Viewer"}}) as provider:
        yield provider


@pytest.fixture(scope="module")
def server(idp, tmp_path_factory):
    root = tmp_path_factory.mktemp("signin")
    srv = SignInServer(root / "data", root / "secrets.toml")
    srv.secrets_file.write_text(secrets_toml(srv, idp.metadata_url))
    srv.start()
    yield srv
    srv.stop()


def sign_in(page, server: StreamlitServer, idp, who: str) -> None:
    """Open the app, press "Sign in", say who you are on the provider's page, come back signed in."""
    page.goto(server.url)
    title(page, "Linewise").wait_for()
    page.get_by_text("Sign in to see your team's receivables.").wait_for()
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{idp.issuer}/oauth2/authorize**")
    page.locator("input[name=sub]").fill(who)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{server.url}/**")
    wait_idle(page)


def sidebar_text(page) -> str:
    return page.get_by_test_id("stSidebar").inner_text()


def test_a_signed_out_visitor_sees_only_the_sign_in_page(page, server):
    page.goto(f"{server.url}/aging")
    title(page, "Linewise").wait_for()
    wait_idle(page)
    assert page.get_by_role("button", name="Sign in").is_visible()
    assert page.get_by_test_id("stSidebarNav").count() == 0  # no page to go to
    assert "Aging" not in main_text(page)
    assert_no_exception(page)


def uploader(page):
    return page.get_by_test_id("stFileUploader").locator("input[type=file]")


def test_finance_signs_in_through_the_provider_and_acts_under_the_signed_in_address(page, server, idp):
    sign_in(page, server, idp, FINANCE)
    title(page, "Overview").wait_for()
    wait_idle(page)
    side = sidebar_text(page)
    assert f"Signed in as {FINANCE} · finance" in side
    assert page.get_by_test_id("stSidebar").get_by_label("Your name").count() == 0  # no free name field
    assert "Members" not in side  # the Admin page is for admins only
    screenshot(page, "signin-finance")

    # an import through the browser is recorded under the signed-in address
    go_to(page, "Data")
    uploader(page).set_input_files(files=[{"name": "messy.xlsx", "mimeType": XLSX, "buffer": messy_xlsx()}])
    page.get_by_text("Every page, for everyone on the team, now shows this data.").wait_for(timeout=90_000)
    wait_idle(page)
    assert_no_exception(page)
    with Store(data_dir=server.data_dir) as store:
        assert store.imports()["actor"].tolist() == [FINANCE]
        assert [e for e in store.audit_events()["actor"] if e != FINANCE] == []


def test_a_viewer_signs_in_and_sees_the_dashboards_but_cannot_import(page, server, idp):
    sign_in(page, server, idp, VIEWER)
    title(page, "Overview").wait_for()
    wait_idle(page)
    assert f"Signed in as {VIEWER} · viewer" in sidebar_text(page)
    screenshot(page, "signin-viewer")
    go_to(page, "Data")
    assert f"Importing data needs the finance role; {VIEWER} is viewer." in main_text(page)
    assert uploader(page).is_disabled()
    assert_no_exception(page)


def test_a_signed_in_stranger_sees_no_access_and_whom_to_ask(page, server, idp):
    sign_in(page, server, idp, STRANGER)
    title(page, "No access").wait_for()
    page.get_by_role("button", name="Sign out").wait_for()
    wait_idle(page)
    text = main_text(page)
    assert f"You are signed in as {STRANGER}, which is not a member of this workspace" in text
    assert ADMIN in text
    assert page.get_by_test_id("stSidebarNav").count() == 0
    page.goto(f"{server.url}/aging")  # a deep link shows the same page, not the data
    title(page, "No access").wait_for()
    screenshot(page, "signin-no-access")
