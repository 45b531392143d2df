"""A throwaway PostgreSQL for the tests (the `pg_server` fixture of tests/conftest.py).

LINEWISE_TEST_PG_URL names an existing server; otherwise a local cluster is
initialised in a temporary directory on a free port (as the postgres user
when running as root) and removed at the end. Without PostgreSQL binaries
the tests that need it skip locally and fail in CI (env CI set).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unavailable(reason: str):
    """Skip on a developer box without PostgreSQL; in CI (.ci/run installs it) that is a failure."""
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL tests must run in CI: {reason}")
    pytest.skip(reason)


def pg_server_url():
    """A PostgreSQL server URL (no database): LINEWISE_TEST_PG_URL, or a throwaway local cluster."""
    given = os.environ.get("LINEWISE_TEST_PG_URL")
    if given:
        yield given
        return
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed")
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not initdb or not pg_ctl:
        _unavailable("no PostgreSQL server binaries on this machine")
    root = os.geteuid() == 0
    as_user = ["runuser", "-u", "postgres", "--"] if root else []
    if root:
        try:
            import pwd
            pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("running as root and there is no postgres user to run the server")
    base = Path(tempfile.mkdtemp(prefix="linewise-pg-"))
    data = base / "data"
    if root:
        shutil.chown(base, "postgres")
    port = _free_port()
    try:
        subprocess.run([*as_user, initdb, "-D", str(data), "-U", "linewise", "--auth=trust", "-E", "UTF8",
                        "--no-sync"], check=True, capture_output=True, timeout=120)
        opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=40"
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w",
                        "-t", "60", "start"], check=True, capture_output=True, timeout=90)
    except (subprocess.SubprocessError, OSError) as exc:
        shutil.rmtree(base, ignore_errors=True)
        _unavailable(f"could not start a throwaway PostgreSQL: {exc}")
    try:
        yield f"postgresql+psycopg://linewise@127.0.0.1:{port}"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def fresh_pg_db(server: str) -> str:
    name = "lw_" + uuid.uuid4().hex[:12]
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{server}/{name}"


