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
