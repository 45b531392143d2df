"""Shared test settings: a deterministic hypothesis profile sized for a 2-core CI box."""
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci")


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL server URL without a database (tests/pg.py); use tests.pg.fresh_pg_db for one."""
    from tests.pg import pg_server_url

    yield from pg_server_url()
