"""Alembic environment for the Linewise action store.

`connectors.store.Store.migrate()` runs this with its own connection in
``config.attributes["connection"]`` (no alembic.ini needed). From a shell:
``.venv/bin/alembic -c migrations/alembic.ini upgrade head`` uses
``LINEWISE_DB_URL`` or the SQLite default (``connectors.store.store_url_from``).
"""
from __future__ import annotations

import sys
from pathlib import Path

from alembic import context

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from connectors.store import metadata as target_metadata  # noqa: E402  (autogenerate compares with it)

config = context.config
_PG_LOCK_KEY = 741_2026  # serialises concurrent upgrades of one PostgreSQL database


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from connectors.store import Store, store_url_from

    store = Store(store_url_from(None), migrate=False)
    try:
        with store.engine.connect() as conn:
            conn.execution_options(linewise_write=True)
            _run(conn)
    finally:
        store.close()


def run_migrations_offline() -> None:
    from connectors.store import store_url_from

    context.configure(url=config.get_main_option("sqlalchemy.url") or store_url_from(None),
                      target_metadata=target_metadata, literal_binds=True,
                      dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
