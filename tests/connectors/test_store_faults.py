"""A busy, damaged or emptied store file (SPEC §18): a plain message naming the store, never a raw
OperationalError, never blamed on the input file, and never a silent fresh start on a file that
held the reminder log."""
from __future__ import annotations

import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

import cli
from connectors.store import DB_FILENAME, Store, StoreError

LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN IMMEDIATE")  # the write lock, held until told to let go
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


@contextmanager
def write_lock_held(path: Path):
    """Another process holding the store's write lock."""
    proc = subprocess.Popen([sys.executable, "-c", LOCKER, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        proc.communicate("go\n", timeout=30)


def claim(store: Store, action_id: str):
    return store.claim_reminders([("L1", "first")], "C1", "email", action_id=action_id, actor="test")


def csv_source(tmp_path: Path) -> Path:
    p = tmp_path / "demo.csv"
    p.write_text("invoice_no,customer_id,invoice_date,amount\nI1,C1,2024-01-01,10.00\n", encoding="utf-8")
    return p


def test_a_write_lock_held_by_another_process_is_a_plain_busy_message_then_the_write_goes_through(
        tmp_path, monkeypatch):
    monkeypatch.setenv("LINEWISE_DB_BUSY_TIMEOUT", "0.3")
    store = Store(data_dir=tmp_path)
    with write_lock_held(store.sqlite_path):
        assert len(store.reminder_log()) == 0  # reading still works (WAL)
        with pytest.raises(StoreError) as exc:
            claim(store, "a1")
    text = str(exc.value)
    assert "is busy" in text and str(store.sqlite_path) in text and "try again" in text
    assert "OperationalError" not in text and "Traceback" not in text
    assert claim(store, "a1") == [("L1", "first")]  # nothing half done: the same action goes through
    store.close()


def test_a_damaged_store_file_is_refused_with_how_to_restore(tmp_path, monkeypatch, capsys):
    path = tmp_path / DB_FILENAME
    path.write_bytes(b"PK\x03\x04 this is a zip, not a database" * 50)
    with pytest.raises(StoreError) as exc:
        Store(data_dir=tmp_path)
    assert "damaged" in str(exc.value) and str(path) in str(exc.value) and "restore" in str(exc.value)
    # the CLI says so, and does not blame the input file
    monkeypatch.setenv("LINEWISE_DB_URL", f"sqlite:///{path}")
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("", encoding="utf-8")
    code = cli.main(["remind", str(csv_source(tmp_path)), "--as-of", "2024-06-30", "--secrets", str(secrets)])
    err = capsys.readouterr().err
    assert code == 2 and "damaged" in err and str(path) in err
    assert "demo.csv" not in err and "could not process" not in err and "DatabaseError" not in err
    assert path.read_bytes().startswith(b"PK")  # left as it was


def test_a_database_with_a_damaged_page_is_reported_as_damaged(tmp_path):
    store = Store(data_dir=tmp_path)
    claim(store, "a1")
    store.close()
    path = tmp_path / DB_FILENAME
    raw = bytearray(path.read_bytes())
    raw[100:4096] = b"\xff" * (4096 - 100)  # the first page's b-tree, after the 100-byte header
    path.write_bytes(bytes(raw))
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    with pytest.raises(StoreError, match="is damaged .database disk image is malformed"):
        Store(data_dir=tmp_path).reminder_log()


def test_a_store_truncated_to_zero_bytes_is_refused_not_started_over(tmp_path, monkeypatch, capsys):
    store = Store(data_dir=tmp_path)
    claim(store, "a1")
    store.mark_reminder([("L1", "first")], "sent", action_id="a2", actor="test")
    backup = store._backup(store.current_revision())  # what Store writes before every migration
    store.close()
    path = tmp_path / DB_FILENAME
    path.write_bytes(b"")
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    with pytest.raises(StoreError) as exc:
        Store(data_dir=tmp_path)
    text = str(exc.value)
    assert "empty (0 bytes)" in text and str(backup) in text and "copy" in text
    assert path.stat().st_size == 0  # never re-initialised
    monkeypatch.setenv("LINEWISE_DB_URL", f"sqlite:///{path}")
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("", encoding="utf-8")
    assert cli.main(["remind", str(csv_source(tmp_path)), "--as-of", "2024-06-30", "--secrets", str(secrets)]) == 2
    assert "empty (0 bytes)" in capsys.readouterr().err
    # following the message restores the log: the customer stays "already reminded"
    shutil.copyfile(backup, path)
    with Store(data_dir=tmp_path) as restored:
        log = restored.reminder_log()
        assert log[["line_code", "level", "status"]].values.tolist() == [["L1", "first", "sent"]]


def test_a_new_store_is_still_created_where_there_is_none(tmp_path):
    with Store(data_dir=tmp_path / "fresh") as store:
        assert store.current_revision() == Store.head_revision() and len(store.reminder_log()) == 0
