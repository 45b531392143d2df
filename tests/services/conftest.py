"""A workspace on a real store: an SQLite file, and a throwaway PostgreSQL database."""
import pytest

from connectors.store import Store
from services.context import Actor, Workspace
from tests.pg import fresh_pg_db


@pytest.fixture(params=["sqlite", "postgresql"])
def ws(request, tmp_path):
    url = (f"sqlite:///{tmp_path / 'data' / 'linewise.db'}" if request.param == "sqlite"
           else fresh_pg_db(request.getfixturevalue("pg_server")))
    store = Store(url)
    yield Workspace(store)
    store.close()


@pytest.fixture
def ann():
    return Actor("Ann Finance")
