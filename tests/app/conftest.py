"""AppTest settings for the app tests: every test gets its own empty workspace store."""

import pytest


@pytest.fixture(autouse=True)
def fresh_action_store(tmp_path, monkeypatch):
    """Each test gets its own empty workspace store (an SQLite file under tmp_path), never data/."""
    from ui.store import team_store

    monkeypatch.setenv("LINEWISE_DATA_DIR", str(tmp_path / "store"))
    monkeypatch.delenv("LINEWISE_DB_URL", raising=False)
    team_store.clear()
    yield tmp_path / "store"
    team_store.clear()
