"""AppTest settings for the app tests: every test gets its own empty workspace store."""

import pytest
from streamlit.runtime.pages_manager import PagesManager

from tests.workspace_data import import_demo

LEGACY_INIT = PagesManager.__init__  # Streamlit's own: a fresh server's pages/ detection


@pytest.fixture(autouse=True)
def warm_server_navigation(monkeypatch):
    """Run every AppTest run as a server that has already served app.py once.

    AppTest forgets, before each run, that st.navigation switched the app off
    Streamlit's legacy pages/ mode (it resets PagesManager.uses_pages_directory),
    so every run would be a deep link into a fresh server: the page would draw
    the frame itself (ui.common.ensure_app_navigation) and widget ids in the
    sidebar would alternate between runs. A real server switches once per
    process. This test-only shim (Streamlit internals; the app uses none)
    keeps the switch; test_a_deep_linked_page_still_runs_under_app_py and the
    browser tests cover the fresh-server path without it.
    """
    init = LEGACY_INIT

    def patched(self, *args, **kwargs):
        init(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", patched)


@pytest.fixture(autouse=True)
def fresh_action_store(tmp_path, monkeypatch):
    """Each test gets its own empty workspace store (an SQLite file under tmp_path), never data/."""
    from ui.store import team_store

    monkeypatch.setenv("LINEWISE_DATA_DIR", str(tmp_path / "store"))
    monkeypatch.delenv("LINEWISE_DB_URL", raising=False)
    team_store.clear()
    yield tmp_path / "store"
    team_store.clear()


@pytest.fixture
def demo_imported(fresh_action_store):
    """The team store of this test holds the demo workbook as its current import."""
    from ui.store import team_store

    return import_demo(team_store())
