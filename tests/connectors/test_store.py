"""connectors.store: the action store on SQLite (and a throwaway PostgreSQL when the machine has one).

Covers: configuration and the data directory, the dispute workflow persisted
with its log and audit trail, idempotent replay of action ids, concurrent
writers on one SQLite file, schema upgrade from revision 0001, the reminder-log
primitives, and the engine effects of disputes end to end (FIFO skip, aging
in_dispute).
"""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import threading
import time
import sys
import uuid
from contextlib import nullcontext
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from billing.aging import line_aging
from billing.allocation import allocate
from billing.disputes import Dispute, DisputeError, InvalidTransition, sla_flags
from billing.linecode import make_code
from billing.model import open_dispute_codes
from billing.policy import Policy
from connectors.store import (ActionConflict, Store, StoreError, metadata, new_action_id, store_url_from)
from tests.factories import make_invoices, make_payments
from tests.pg import fresh_pg_db as _fresh_pg_db  # (the pg_server fixture is in tests/conftest.py)

AS_OF = pd.Timestamp("2024-06-30")
L1, L2, L3 = make_code("INV-1", 1), make_code("INV-1", 2), make_code("INV-2", 1)


def aid() -> str:
    return uuid.uuid4().hex


def lines_open() -> pd.DataFrame:
    """Aging-shaped lines with open amounts: C1 has INV-1 (two lines) and INV-2; C2 has INV-3."""
    return pd.DataFrame({
        "line_code": pd.array([L1, L2, L3, make_code("INV-3", 1)], dtype="string"),
        "invoice_no": pd.array(["INV-1", "INV-1", "INV-2", "INV-3"], dtype="string"),
        "customer_id": pd.array(["C1", "C1", "C1", "C2"], dtype="string"),
        "currency": pd.array(["USD"] * 4, dtype="string"),
        "open": [10_000, 5_000, 2_000, 9_000],
    })


def open_one(store: Store, codes=(L1,), amount=8_000, action_id=None, **kw) -> int:
    return store.open_dispute(action_id=action_id or aid(), actor=kw.pop("actor", "ann"), lines=lines_open(),
                              line_codes=list(codes), amount=amount, reason=kw.pop("reason", "price"),
                              owner=kw.pop("owner", "ann"), **kw)


# --------------------------------------------------------------------------- backends

@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'linewise.db'}"
    return _fresh_pg_db(request.getfixturevalue("pg_server"))


@pytest.fixture
def any_store(db_url):
    store = Store(db_url)
    yield store
    store.close()


@pytest.fixture
def store(tmp_path):
    s = Store(data_dir=tmp_path / "data")
    yield s
    s.close()


# --------------------------------------------------------------------------- configuration

def test_env_url_wins_over_secrets_which_win_over_the_sqlite_default(monkeypatch, tmp_path):
    monkeypatch.delenv("LINEWISE_DB_URL", raising=False)
    monkeypatch.setenv("LINEWISE_DATA_DIR", str(tmp_path / "dd"))
    assert store_url_from(None) == f"sqlite:///{(tmp_path / 'dd').resolve() / 'linewise.db'}"
    secrets = {"store": {"url": "postgresql://ar:secret@db.example/linewise"}}
    assert store_url_from(secrets) == "postgresql://ar:secret@db.example/linewise"
    assert store_url_from({"store": {"data_dir": str(tmp_path / "x")}}).endswith("/x/linewise.db")
    assert store_url_from({"other": {}}).endswith("/dd/linewise.db")
    monkeypatch.setenv("LINEWISE_DB_URL", "postgresql://env@h/db")
    assert store_url_from(secrets) == "postgresql://env@h/db"


def test_the_default_data_directory_is_created_and_holds_a_wal_database_with_foreign_keys(
        monkeypatch, tmp_path):
    monkeypatch.delenv("LINEWISE_DB_URL", raising=False)
    data_dir = tmp_path / "not" / "there" / "yet"
    monkeypatch.setenv("LINEWISE_DATA_DIR", str(data_dir))
    with Store() as s:
        assert (data_dir / "linewise.db").is_file()
        assert s.current_revision() == Store.head_revision()
        with s.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_an_uncreatable_data_directory_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot create the data directory"):
        Store(data_dir=blocker / "data")


def test_the_url_shown_never_carries_the_password():
    s = Store("postgresql+psycopg://ar:s3cret@db.invalid/linewise", migrate=False)
    assert "s3cret" not in repr(s) and "s3cret" not in s.display_url and "***" in s.display_url
    s.close()


def test_schema_at_head_matches_the_table_definitions(any_store):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with any_store.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diffs == []


# --------------------------------------------------------------------------- disputes

def test_a_dispute_is_opened_worked_and_resolved_with_log_and_audit_trail(any_store):
    s = any_store
    t0 = datetime(2024, 6, 1, 9, 0, tzinfo=timezone.utc)
    did = open_one(s, codes=(L1, L2), amount=12_000, at=t0, description="price list 2024 not applied",
                   review_days=7)
    d = s.get_dispute(did)
    assert isinstance(d, Dispute)
    assert (d.id, d.status, d.level, d.line_codes, d.invoice_no, d.amount, d.opened_at, d.review_days) == \
        (did, "open", 1, (L1, L2), "INV-1", 12_000, t0, 7)
    s.transition_dispute(did, "in_review", action_id=aid(), actor="bob", at=t0 + timedelta(days=1),
                         note="asked sales for the price list")
    s.add_dispute_note(did, "phone", "customer confirms old price", action_id=aid(), actor="bob",
                       at=t0 + timedelta(days=2))
    e = s.transition_dispute(did, "escalated", action_id=aid(), actor="bob", owner="mia",
                             at=t0 + timedelta(days=9))
    assert (e.level, e.owner, e.status) == (2, "mia", "escalated")
    r = s.transition_dispute(did, "resolved", action_id=aid(), actor="mia", outcome="credit_note",
                             resolved_amount=11_500, at=t0 + timedelta(days=12))
    assert r == s.get_dispute(did)
    assert (r.status, r.outcome, r.resolved_amount, r.closed_at) == ("resolved", "credit_note", 11_500,
                                                                     t0 + timedelta(days=12))
    log = s.dispute_log(did)
    assert log[["actor", "channel", "text"]].values.tolist() == [
        ["bob", "note", "asked sales for the price list"], ["bob", "phone", "customer confirms old price"]]
    assert log["at"].tolist() == [t0 + timedelta(days=1), t0 + timedelta(days=2)]

    audit = s.audit_events("dispute", did)
    assert audit["action"].tolist() == ["open", "transition", "log", "log", "transition", "transition"]
    assert audit["actor"].tolist() == ["ann", "bob", "bob", "bob", "bob", "mia"]
    assert str(audit["at"].dtype) == "datetime64[ns, UTC]"
    statuses = [(json.loads(b)["status"] if isinstance(b, str) else None, json.loads(a).get("status"))
                for b, a in zip(audit["before_json"], audit["after_json"])]
    assert statuses == [(None, "open"), ("open", "in_review"), (None, None), (None, None),
                        ("in_review", "escalated"), ("escalated", "resolved")]
    assert audit["action_id"].notna().all()
    assert s.open_dispute_lines().empty


def test_every_change_writes_exactly_one_audit_event_per_record_changed(store):
    did = open_one(store)
    store.transition_dispute(did, "in_review", action_id=aid(), actor="bob")
    store.add_dispute_note(did, "email", "sent the POD", action_id=aid(), actor="bob")
    store.save_mapping("book.xlsx", {"invoices": {"sheet": "Inv"}}, action_id=aid(), actor="ann")
    store.save_mapping("book.xlsx", {"invoices": {"sheet": "Invoices"}}, action_id=aid(), actor="ann")
    store.claim_reminders([(L3, "first")], "C1", "email", action_id=aid(), actor="cron")
    store.mark_reminder([(L3, "first")], "sent", action_id=aid(), actor="cron")
    audit = store.audit_events()
    assert audit[["entity", "action"]].values.tolist() == [
        ["dispute", "open"], ["dispute", "transition"], ["dispute", "log"],
        ["column_mapping", "create"], ["column_mapping", "update"],
        ["reminder", "claim"], ["reminder", "sent"]]
    mapping = audit[audit["entity"] == "column_mapping"]
    assert json.loads(mapping["before_json"].iloc[1]) == {"invoices": {"sheet": "Inv"}}
    assert json.loads(mapping["after_json"].iloc[1]) == {"invoices": {"sheet": "Invoices"}}
    assert len(store.actions()) == 7


def test_audit_events_and_the_dispute_log_are_append_only_in_the_database(any_store):
    did = open_one(any_store)
    any_store.add_dispute_note(did, "note", "x", action_id=aid(), actor="bob")
    for sql in ("UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events",
                "UPDATE dispute_log SET text = 'y'", "DELETE FROM dispute_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            with any_store.engine.begin() as conn:
                conn.execute(text(sql))
    assert any_store.audit_events()["actor"].tolist() == ["ann", "bob"]


def test_invalid_transitions_and_rules_are_refused_and_change_nothing(store):
    did = open_one(store)
    allowed = "from 'open' the allowed next states are: in_review, withdrawn"
    with pytest.raises(InvalidTransition, match=allowed):
        store.transition_dispute(did, "resolved", action_id=aid(), actor="bob", outcome="write_off",
                                 resolved_amount=1)
    with pytest.raises(DisputeError, match="no dispute #999"):
        store.transition_dispute(999, "in_review", action_id=aid(), actor="bob")
    with pytest.raises(DisputeError, match="unknown channel"):
        store.add_dispute_note(did, "pigeon", "hi", action_id=aid(), actor="bob")
    with pytest.raises(DisputeError, match="more than the open amount"):
        open_one(store, codes=(L2,), amount=5_001)
    assert store.get_dispute(did).status == "open" and store.get_dispute(did).version == 1
    assert store.audit_events()["action"].tolist() == ["open"]
    assert len(store.actions()) == 1 and len(store.list_disputes()) == 1


def test_a_line_is_in_at_most_one_open_dispute_until_that_dispute_closes(any_store):
    first = open_one(any_store, codes=(L1,))
    with pytest.raises(DisputeError, match=f"already in an open dispute: {L1}"):
        open_one(any_store, codes=(L2, L1), amount=100)
    any_store.transition_dispute(first, "withdrawn", action_id=aid(), actor="ann")
    second = open_one(any_store, codes=(L2, L1), amount=100)
    assert any_store.open_dispute_lines()[["line_code", "dispute_id"]].values.tolist() == \
        sorted([[L1, second], [L2, second]])
    assert any_store.list_disputes(status="withdrawn")["id"].tolist() == [first]
    assert any_store.list_disputes(customer_id="C1")["id"].tolist() == [first, second]


def test_list_disputes_feeds_the_sla_flags(store):
    t0 = datetime(2024, 6, 1, tzinfo=timezone.utc)
    due = open_one(store, codes=(L1,), at=t0)
    store.transition_dispute(due, "in_review", action_id=aid(), actor="bob", at=t0)
    fresh = open_one(store, codes=(L3,), amount=100, at=t0)
    flags = sla_flags(store.list_disputes(), pd.Timestamp("2024-06-15"), review_days=10).set_index("id")
    assert flags.loc[due, "escalation_due"] and flags.loc[due, "days_in_review"] == 14
    assert not flags.loc[fresh, "escalation_due"]
    with pytest.raises(DisputeError, match="unknown dispute state"):
        store.list_disputes(status="closed")


# --------------------------------------------------------------------------- idempotency

def test_replaying_an_open_dispute_action_returns_the_same_id_and_adds_nothing(any_store):
    action = new_action_id()
    first = open_one(any_store, action_id=action)
    assert open_one(any_store, action_id=action) == first
    assert len(any_store.list_disputes()) == 1 and len(any_store.audit_events()) == 1
    assert len(any_store.actions()) == 1


def test_replaying_a_transition_returns_the_dispute_as_it_was_changed_once(store):
    did = open_one(store)
    action = aid()
    once = store.transition_dispute(did, "in_review", action_id=action, actor="bob", note="started")
    again = store.transition_dispute(did, "in_review", action_id=action, actor="bob", note="started")
    assert once == again and store.get_dispute(did).version == 2
    assert len(store.dispute_log(did)) == 1
    assert store.audit_events()["action"].tolist() == ["open", "transition", "log"]
    store.transition_dispute(did, "escalated", action_id=aid(), actor="bob")
    # a replay after later changes still changes nothing and still answers the first result
    assert store.transition_dispute(did, "in_review", action_id=action, actor="bob", note="started") == once
    assert store.get_dispute(did).status == "escalated"


def test_replaying_notes_and_mappings_changes_nothing(store):
    did = open_one(store)
    a, m = aid(), aid()
    assert store.add_dispute_note(did, "note", "x", action_id=a, actor="bob") == \
        store.add_dispute_note(did, "note", "x", action_id=a, actor="bob")
    store.save_mapping("s1", {"k": 1}, action_id=m, actor="ann")
    store.save_mapping("s1", '{"k": 1}', action_id=m, actor="ann")
    assert len(store.dispute_log(did)) == 1 and store.load_mapping("s1") == {"k": 1}
    assert store.load_mapping("unknown") is None
    assert len(store.audit_events()) == 3


def test_an_action_id_reused_for_another_request_is_refused(store):
    action = aid()
    open_one(store, action_id=action)
    with pytest.raises(ActionConflict, match="already used"):
        open_one(store, action_id=action, codes=(L3,), amount=100)
    with pytest.raises(ActionConflict):
        store.add_dispute_note(1, "note", "x", action_id=action, actor="ann")
    with pytest.raises(ValueError, match="action_id"):
        store.add_dispute_note(1, "note", "x", action_id="", actor="ann")
    with pytest.raises(ValueError, match="actor"):
        store.add_dispute_note(1, "note", "x", action_id=aid(), actor=" ")


def test_a_refused_action_leaves_no_trace_so_its_id_can_be_used_once_fixed(store):
    action = aid()
    with pytest.raises(DisputeError):
        open_one(store, action_id=action, amount=99_999)
    assert store.actions().empty and store.audit_events().empty
    assert open_one(store, action_id=action, amount=9_000) == 1


# --------------------------------------------------------------------------- concurrency

def _run_threads(n: int, target) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = target(i)
        except Exception as exc:  # noqa: BLE001 - collected for the assertions
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def test_eight_writers_on_one_sqlite_file_each_doing_twenty_actions_all_land(tmp_path):
    url = f"sqlite:///{tmp_path / 'linewise.db'}"
    with Store(url) as setup:
        did = open_one(setup)

    shared = Store(url)

    def writer(i: int) -> int:
        # odd threads have an engine of their own (like a second process), even ones share one
        with (Store(url) if i % 2 else nullcontext(shared)) as s:
            for k in range(20):
                if k % 4 == 3:
                    s.claim_reminders([(f"T{i}-{k}", "first")], f"C{i}", "email", action_id=f"w{i}-{k}",
                                      actor=f"user{i}")
                else:
                    s.add_dispute_note(did, "note", f"thread {i} note {k}", action_id=f"w{i}-{k}",
                                       actor=f"user{i}")
                # every tenth action is replayed at once, as a double click would
                if k % 10 == 0:
                    s.add_dispute_note(did, "note", f"thread {i} note {k}", action_id=f"w{i}-{k}",
                                       actor=f"user{i}")
        return i

    t = time.perf_counter()
    results = _run_threads(8, writer)
    shared.close()
    assert results == list(range(8)), results
    assert time.perf_counter() - t < 60
    with Store(url) as s:
        assert len(s.dispute_log(did)) == 8 * 15
        assert len(s.reminder_log()) == 8 * 5
        assert len(s.actions()) == 1 + 8 * 20
        assert len(s.audit_events()) == 1 + 8 * 20
        with sqlite3.connect(tmp_path / "linewise.db") as raw:
            assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_stores_opened_at_once_on_a_new_file_migrate_it_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"

    def open_and_write(i: int) -> str:
        with Store(url) as s:
            s.save_mapping(f"src{i}", {"i": i}, action_id=f"m{i}", actor="ann")
            return s.current_revision()

    assert _run_threads(6, open_and_write) == [Store.head_revision()] * 6
    with Store(url) as s:
        assert [s.load_mapping(f"src{i}") for i in range(6)] == [{"i": i} for i in range(6)]


_CRON = """
import sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from connectors.store import Store
here = Path(__file__).parent
(here / ("ready-" + sys.argv[1])).touch()
deadline = time.monotonic() + 60
while len(list(here.glob("ready-*"))) < 2 and time.monotonic() < deadline:  # start together
    time.sleep(0.005)
s = Store({url!r})  # both open (and migrate) the new database at once
got = []
for k in range(15):
    got += s.claim_reminders([("L%d" % k, "first"), ("L%d" % k, "second")], "C1", "email",
                             action_id="%s-%d" % (sys.argv[1], k), actor=sys.argv[1])
print(len(got))
"""


def test_two_cron_processes_on_a_new_database_claim_each_reminder_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'cron.db'}"
    script = tmp_path / "cron.py"
    script.write_text(_CRON.format(root=str(Path(__file__).resolve().parents[2]), url=url))
    procs = [subprocess.Popen([sys.executable, str(script), f"cron{i}"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert sum(int(out.strip()) for out, _ in outs) == 30
    with Store(url) as s:
        log = s.reminder_log()
        assert len(log) == 30 and not log.duplicated(["line_code", "level"]).any()
        assert len(s.audit_events("reminder")) == 30


def test_the_same_action_id_from_many_threads_has_exactly_one_effect(any_store, db_url):
    action = aid()

    def same(i: int) -> int:
        with Store(db_url, migrate=False) as s:
            return open_one(s, action_id=action)

    results = _run_threads(8, same)
    assert all(isinstance(r, int) for r in results), results
    assert len(set(results)) == 1
    assert len(any_store.list_disputes()) == 1 and len(any_store.audit_events()) == 1


def test_racing_openers_of_the_same_line_get_exactly_one_dispute(any_store, db_url):
    def race(i: int) -> int:
        with Store(db_url, migrate=False) as s:
            return open_one(s, codes=(L1,), amount=100 + i)

    results = _run_threads(6, race)
    won = [r for r in results if isinstance(r, int)]
    lost = [r for r in results if isinstance(r, DisputeError)]
    assert len(won) == 1 and len(lost) == 5, results
    assert len(any_store.list_disputes()) == 1


def test_racing_transitions_of_one_dispute_apply_one_and_refuse_the_other(any_store, db_url):
    did = open_one(any_store)
    any_store.transition_dispute(did, "in_review", action_id=aid(), actor="bob")
    targets = ["escalated", "withdrawn"] * 3

    def race(i: int):
        with Store(db_url, migrate=False) as s:
            return s.transition_dispute(did, targets[i], action_id=aid(), actor=f"u{i}")

    results = _run_threads(len(targets), race)
    done = [r for r in results if isinstance(r, Dispute)]
    assert len(done) == 1, results
    assert all(isinstance(r, (InvalidTransition,)) or r is done[0] for r in results), results
    assert any_store.get_dispute(did).version == 3
    assert any_store.audit_events()["action"].tolist() == ["open", "transition", "transition"]


# --------------------------------------------------------------------------- reminder log

def test_concurrent_claims_of_the_same_reminders_claim_each_key_once(any_store, db_url):
    keys = [(f"L{n}", "first") for n in range(10)] + [("L0", "second")]

    def claim(i: int):
        with Store(db_url, migrate=False) as s:
            return s.claim_reminders(keys, "C1", "email", action_id=aid(), actor=f"cron{i}")

    results = _run_threads(4, claim)
    claimed = [k for r in results for k in r]
    assert sorted(claimed) == sorted(keys)
    log = any_store.reminder_log()
    assert len(log) == 11 and set(log["status"]) == {"queued"} and (log["attempts"] == 0).all()


def test_reminder_claim_send_fail_and_retry_are_logged(store):
    a = aid()
    assert store.claim_reminders([(L1, "first"), (L2, "first")], "C1", "email", action_id=a,
                                 actor="ann") == [(L1, "first"), (L2, "first")]
    assert store.claim_reminders([(L1, "first"), (L2, "first")], "C1", "email", action_id=a,
                                 actor="ann") == []  # a replay claims nothing more
    with pytest.raises(ActionConflict):
        store.claim_reminders([(L1, "first")], "C1", "email", action_id=a, actor="ann")
    assert store.claim_reminders([(L1, "first")], "C1", "email", action_id=aid(), actor="ann") == []
    assert store.mark_reminder([(L1, "first")], "sent", action_id=aid(), actor="ann") == [(L1, "first")]
    assert store.mark_reminder([(L2, "first")], "failed", "SMTP 451", action_id=aid(), actor="ann") == \
        [(L2, "first")]
    assert store.mark_reminder([(L1, "first")], "sent", action_id=aid(), actor="ann") == []  # not queued
    assert store.claim_reminders([(L2, "first")], "C1", "email", action_id=aid(), actor="ann") == []
    assert store.claim_reminders([(L2, "first")], "C1", "sms", action_id=aid(), actor="ann",
                                 retry_failed=True) == [(L2, "first")]
    store.mark_reminder([(L2, "first")], "sent", action_id=aid(), actor="ann")
    log = store.reminder_log("C1").set_index("line_code")
    assert log.loc[L1, ["status", "attempts"]].tolist() == ["sent", 1]
    assert log.loc[L2, ["status", "attempts", "channel"]].tolist() == ["sent", 2, "sms"]
    assert pd.isna(log.loc[L2, "error"]) and log["sent_at"].notna().all()
    assert store.reminder_log("C9").empty
    with pytest.raises(ValueError, match="needs its error"):
        store.mark_reminder([(L1, "first")], "failed", action_id=aid(), actor="ann")


def test_stale_claims_are_queued_keys_claimed_before_the_cutoff(store):
    store.claim_reminders([(L1, "final")], "C1", "email", action_id=aid(), actor="cron")
    assert store.stale_claims(timedelta(hours=1)).empty
    future = datetime.now(timezone.utc) + timedelta(minutes=5)
    stale = store.stale_claims(future)
    assert stale[["line_code", "level", "status"]].values.tolist() == [[L1, "final", "queued"]]
    store.mark_reminder([(L1, "final")], "failed", "sender died", action_id=aid(), actor="cron")
    assert store.stale_claims(future).empty


# --------------------------------------------------------------------------- migrations

def test_upgrading_a_database_made_by_revision_0001_keeps_its_data(db_url):
    old = Store(db_url, migrate=False)
    old.migrate("0001")
    assert old.current_revision() == "0001"
    t = "2024-05-01 10:00:00.000000"
    with old.engine.begin() as conn:
        for sql in (
            f"INSERT INTO actions VALUES ('a1', 'open_dispute', '{t}', 'ann', 'h', '{{\"dispute_id\": 1}}')",
            f"INSERT INTO actions VALUES ('a2', 'claim_reminders', '{t}', 'cron', 'h', '[]')",
            "INSERT INTO disputes (id, customer_id, currency, invoice_no, amount, reason, owner, status,"
            " opened_at, opened_by, review_started_at, escalated_at, version, updated_at)"
            " VALUES (1, 'C1', 'USD', 'INV-1',"
            f" 8000, 'price', 'mia', 'escalated', '{t}', 'ann', '{t}', '{t}', 3, '{t}')",
            "INSERT INTO disputes (id, customer_id, currency, amount, reason, owner, status, opened_at,"
            f" opened_by, version, updated_at) VALUES (2, 'C1', 'USD', 100, 'other', 'ann', 'open', '{t}',"
            f" 'ann', 1, '{t}')",
            f"INSERT INTO dispute_lines VALUES (1, '{L1}', 0, TRUE)",
            f"INSERT INTO dispute_lines VALUES (2, '{L3}', 0, TRUE)",
            "INSERT INTO dispute_log (dispute_id, at, actor, channel, text, action_id)"
            f" VALUES (1, '{t}', 'ann', 'phone', 'called', 'a1')",
            "INSERT INTO audit_events (at, actor, entity, entity_id, action, after_json, action_id) VALUES"
            f" ('{t}', 'ann', 'dispute', '1', 'open', '{{}}', 'a1')",
            f"INSERT INTO column_mappings VALUES ('book.xlsx', '{{\"a\": 1}}', '{t}', 'ann', 'a1')",
            "INSERT INTO reminder_log (line_code, level, customer_id, channel, status, action_id, created_at)"
            f" VALUES ('{L2}', 'first', 'C1', 'email', 'sent', 'a2', '{t}')",
            "INSERT INTO reminder_log (line_code, level, customer_id, channel, status, action_id, created_at)"
            f" VALUES ('{L3}', 'first', 'C1', 'email', 'queued', 'a2', '{t}')",
        ):
            conn.execute(text(sql))
        if conn.dialect.name == "postgresql":  # ids were given by hand: move the sequences on
            for table in ("disputes", "dispute_log", "audit_events", "reminder_log"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
    old.close()

    s = Store(db_url)  # upgrades to head
    assert s.current_revision() == Store.head_revision()
    if s.sqlite_path is not None:
        backups = list(s.sqlite_path.parent.glob("linewise.db.bak-0001-*"))
        assert len(backups) == 1
        with sqlite3.connect(backups[0]) as raw:
            assert raw.execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)
    escalated, fresh = s.get_dispute(1), s.get_dispute(2)
    assert (escalated.level, escalated.status, escalated.line_codes, escalated.review_days) == \
        (2, "escalated", (L1,), None)
    assert escalated.opened_at == datetime(2024, 5, 1, 10, tzinfo=timezone.utc)
    assert (fresh.level, fresh.line_codes) == (1, (L3,))
    assert s.dispute_log(1)["text"].tolist() == ["called"]
    assert s.load_mapping("book.xlsx") == {"a": 1}
    assert len(s.audit_events()) == 1
    log = s.reminder_log().set_index("line_code")
    assert log.loc[L2, ["status", "attempts"]].tolist() == ["sent", 1]
    assert log.loc[L2, "sent_at"] == log.loc[L2, "claimed_at"] == pd.Timestamp(t, tz="UTC")
    assert log.loc[L3, ["status", "attempts"]].tolist() == ["queued", 0]
    # the new columns are usable
    marked = s.mark_reminder([(L3, "first")], "failed", "bounced", action_id=aid(), actor="cron")
    assert marked == [(L3, "first")]
    assert s.reminder_log().set_index("line_code").loc[L3, "error"] == "bounced"
    done = s.transition_dispute(1, "resolved", action_id=aid(), actor="mia", outcome="write_off",
                                resolved_amount=8_000)
    assert (done.level, done.version) == (2, 4)
    new_id = open_one(s, codes=(L2,), amount=10, review_days=3)
    assert s.get_dispute(new_id).review_days == 3
    # replaying an action recorded before the upgrade still answers its stored result
    assert s.open_dispute_lines()["line_code"].tolist() == sorted([L2, L3])
    s.close()
    Store(db_url).close()  # opening again at head is a no-op


def test_a_database_from_a_newer_linewise_is_refused_not_touched(tmp_path):
    url = f"sqlite:///{tmp_path / 'linewise.db'}"
    Store(url).close()
    with sqlite3.connect(tmp_path / "linewise.db") as raw:
        raw.execute("UPDATE alembic_version SET version_num = '0999'")
    with pytest.raises(StoreError, match="0999.*newer"):
        Store(url)


# --------------------------------------------------------------------------- engine effects

def test_open_disputes_from_the_store_skip_fifo_and_flag_aging_until_resolved(any_store):
    s = any_store
    lines = make_invoices([
        {"invoice_no": "INV-1", "customer_id": "C1", "invoice_date": "2024-03-01", "amount": 10_000},
        {"invoice_no": "INV-2", "customer_id": "C1", "invoice_date": "2024-04-01", "amount": 6_000},
    ])
    payments = make_payments([{"payment_id": "P1", "customer_id": "C1", "payment_date": "2024-06-01",
                               "amount": 4_000}])
    policy = Policy()

    def fifo_targets(disputes):
        alloc = allocate(lines, payments, AS_OF, policy, disputes=disputes)
        return alloc, alloc.allocations[["line_code", "amount", "step"]].astype(object).values.tolist()

    alloc, rows = fifo_targets(s.open_dispute_lines())
    assert rows == [[L1, 4_000, "fifo"]]
    aging = line_aging(lines, alloc, AS_OF, policy, disputes=s.open_dispute_lines())

    # the open 6,000 of L1 is disputed: the dispute holds that much (SPEC §7), so FIFO still pays L1's
    # other 4,000 and nothing more of it
    did = s.open_dispute(action_id=aid(), actor="ann", lines=aging, line_codes=[L1], amount=6_000,
                         reason="damaged", owner="ann")
    disputes = s.open_dispute_lines()
    assert open_dispute_codes(disputes) == {L1}  # what reminders exclude
    assert disputes[["line_code", "amount", "seq"]].astype(object).values.tolist() == [[L1, 6_000, 0]]
    alloc, rows = fifo_targets(disputes)
    assert rows == [[L1, 4_000, "fifo"]]
    aging = line_aging(lines, alloc, AS_OF, policy, disputes=disputes).set_index("line_code")
    assert aging.loc[L1, "in_dispute"] and not aging.loc[L3, "in_dispute"]
    assert (aging.loc[L1, "open"], aging.loc[L1, "disputed"], aging.loc[L3, "open"]) == (6_000, 6_000, 6_000)
    # a second payment goes past the held part to the next line
    more = pd.concat([payments, make_payments([{"payment_id": "P2", "customer_id": "C1",
                                                "payment_date": "2024-06-02", "amount": 3_000}])])
    rows = allocate(lines, more, AS_OF, policy, disputes=disputes).allocations[["line_code", "amount"]]
    assert rows.astype(object).values.tolist() == [[L1, 4_000], [L3, 3_000]]

    for to in ("in_review", "escalated"):  # still open: still held
        s.transition_dispute(did, to, action_id=aid(), actor="bob")
        assert fifo_targets(s.open_dispute_lines())[1] == [[L1, 4_000, "fifo"]]
    s.transition_dispute(did, "rejected", action_id=aid(), actor="mia")
    disputes = s.open_dispute_lines()
    assert disputes.empty
    alloc, rows = fifo_targets(disputes)
    assert rows == [[L1, 4_000, "fifo"]]  # FIFO-allocated again after resolution
    assert not line_aging(lines, alloc, AS_OF, policy, disputes=disputes)["in_dispute"].any()
