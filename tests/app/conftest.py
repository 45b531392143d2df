"""AppTest settings for the app tests."""

import pytest
from streamlit.runtime.pages_manager import PagesManager


@pytest.fixture(autouse=True)
def navigation_without_pages_folder(monkeypatch):
    """Run app.py (st.navigation) on every AppTest run, as the server does.

    AppTest re-detects the `pages/` folder before each run and then runs the
    requested page file on its own (multipage v1), skipping app.py and its
    sidebar. The server does that only until app.py's st.navigation call
    switches the detection off; this does the same from the start.
    """
    init = PagesManager.__init__

    def patched(self, *args, **kwargs):
        init(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", patched)


@pytest.fixture(autouse=True)
def fresh_action_store(tmp_path, monkeypatch):
    """Each test gets its own empty action store (an SQLite file under tmp_path), never data/."""
    from ui.store import get_store

    monkeypatch.setenv("LINEWISE_DATA_DIR", str(tmp_path / "store"))
    monkeypatch.delenv("LINEWISE_DB_URL", raising=False)
    get_store.clear()
    yield tmp_path / "store"
    get_store.clear()
