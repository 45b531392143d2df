"""The action store: disputes, their logs, audit events, column mappings and the reminder log.

SQLAlchemy 2 (Core). SQLite is the embedded default — ``linewise.db`` under
the data directory (``LINEWISE_DATA_DIR``, else ``data/`` at the project
root) in WAL mode with foreign keys on — and PostgreSQL is used by URL
(``LINEWISE_DB_URL``, or ``[store] url = "postgresql://..."`` in
``.streamlit/secrets.toml``). The schema is versioned with Alembic
(``migrations/``); opening a Store upgrades the database to head, after a
backup copy of an SQLite file that is not at head.

Every write method is ONE transaction and takes a client-generated
``action_id`` (see ``new_action_id``) and the ``actor``. It first inserts
the action into ``actions``; when that id was already used (a Streamlit
rerun, a double click, two tabs), the method changes nothing and returns
what the first call returned. Every change writes an ``audit_events`` row in
the same transaction; audit events and dispute log entries are append-only
(database triggers refuse UPDATE and DELETE on them).

Timestamps are stored as UTC and come back timezone-aware (UTC).
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import closing, contextmanager, nullcontext
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pandas as pd
from sqlalchemy import (BigInteger, Boolean, CheckConstraint, Column, DateTime, ForeignKey, Index, Integer,
                        LargeBinary, MetaData, PrimaryKeyConstraint, String, Table, Text, TypeDecorator, UniqueConstraint,
                        and_, create_engine, event, func, select, text)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError

from billing.adjustments import AdjustmentError
from billing.adjustments import validate_new as validate_new_adjustment
from billing.disputes import (LOG_CHANNELS, STATES, Dispute, DisputeError, dispute_lines_frame,
                              disputes_frame, transition, utc, validate_new)
from billing.roles import (MemberRule, RolesError, normalise_pattern, parse_role, rules_from_members,
                           validate_member_change)
from connectors.redact import redact, redact_url

__all__ = [
    "Store", "StoreError", "ActionConflict", "ConcurrentChange", "store_url_from", "default_data_dir",
    "new_action_id", "metadata", "REMINDER_STATUSES", "MIGRATIONS_DIR", "DB_FILENAME",
]

ROOT = Path(__file__).resolve().parents[1]
MIGRATIONS_DIR = ROOT / "migrations"
DB_FILENAME = "linewise.db"
REMINDER_STATUSES = ("queued", "sent", "failed")
_BUSY_TIMEOUT_MS = 30_000  # SQLite retries a locked database for this long (LINEWISE_DB_BUSY_TIMEOUT, s)
_MIGRATE_LOCK = threading.RLock()


class StoreError(RuntimeError):
    """The store cannot do what was asked (schema too new, data dir not writable, ...)."""


class ActionConflict(StoreError, ValueError):
    """An action id that was already used for a different request."""


class ConcurrentChange(StoreError):
    """The record changed under us (another tab/user); reload and try again."""


class _Replayed(Exception):
    pass


# --------------------------------------------------------------------------- configuration

def default_data_dir() -> Path:
    """``LINEWISE_DATA_DIR`` if set, else ``data/`` at the project root."""
    env = os.environ.get("LINEWISE_DATA_DIR")
    return Path(env).expanduser() if env else ROOT / "data"


def _sqlite_url(data_dir: str | Path) -> str:
    return f"sqlite:///{Path(data_dir).expanduser().resolve() / DB_FILENAME}"


def store_url_from(secrets: Mapping | None = None, data_dir: str | Path | None = None) -> str:
    """The database URL: ``LINEWISE_DB_URL`` wins, then ``secrets["store"]["url"]``,
    else the SQLite file under `data_dir` (default ``default_data_dir()``).

    `secrets` is ``st.secrets`` or any mapping of the same shape.
    """
    env = os.environ.get("LINEWISE_DB_URL", "").strip()
    if env:
        return env
    if secrets is not None:
        try:
            section = secrets["store"] if "store" in secrets else None
        except Exception:  # st.secrets raises when no secrets file exists
            section = None
        if section is not None:
            try:
                url = section.get("url") if hasattr(section, "get") else section["url"]
            except Exception:
                url = None
            if url and str(url).strip():
                return str(url).strip()
            if data_dir is None:
                try:
                    data_dir = section.get("data_dir") if hasattr(section, "get") else None
                except Exception:
                    data_dir = None
    return _sqlite_url(data_dir if data_dir else default_data_dir())


def new_action_id() -> str:
    """A fresh client-side action id (make one per form/button instance, keep it across reruns)."""
    return uuid.uuid4().hex


def _now() -> datetime:
    return datetime.now(timezone.utc)


# --------------------------------------------------------------------------- schema (head)

class UTCDateTime(TypeDecorator):
    """Stored as naive UTC (portable across SQLite and PostgreSQL), returned timezone-aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        return utc(value).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

actions = Table(
    "actions", metadata,
    Column("action_id", String(64), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("result_json", Text),
)

disputes = Table(
    "disputes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", String(200), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("invoice_no", String(200)),
    Column("amount", BigInteger, nullable=False),
    Column("reason", String(40), nullable=False),
    Column("description", Text),
    Column("owner", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("opened_by", String(200), nullable=False),
    Column("review_started_at", UTCDateTime),
    Column("escalated_at", UTCDateTime),
    Column("closed_at", UTCDateTime),
    Column("outcome", String(40)),
    Column("resolved_amount", BigInteger),
    Column("version", Integer, nullable=False, server_default=text("1")),
    Column("updated_at", UTCDateTime, nullable=False),
    # added by revision 0002
    Column("level", Integer, nullable=False, server_default=text("1")),
    Column("review_days", Integer),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("status IN ('open', 'in_review', 'escalated', 'resolved', 'rejected', 'withdrawn')",
                    name="status_known"),
)
Index("ix_disputes_customer_id", disputes.c.customer_id)
Index("ix_disputes_status", disputes.c.status)

dispute_lines = Table(
    "dispute_lines", metadata,
    Column("dispute_id", Integer, ForeignKey("disputes.id"), nullable=False),
    Column("line_code", String(200), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("is_open", Boolean, nullable=False),
    PrimaryKeyConstraint("dispute_id", "line_code"),
)
# A line is in at most one open dispute: enforced by the database, whatever the race.
Index("ux_dispute_lines_open_line", dispute_lines.c.line_code, unique=True,
      sqlite_where=text("is_open = 1"), postgresql_where=text("is_open"))

dispute_log = Table(
    "dispute_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dispute_id", Integer, ForeignKey("disputes.id"), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("text", Text, nullable=False),
    Column("action_id", String(64), ForeignKey("actions.action_id"), nullable=False),
)

audit_events = Table(
    "audit_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("entity", String(40), nullable=False),
    Column("entity_id", String(400), nullable=False),
    Column("action", String(40), nullable=False),
    Column("before_json", Text),
    Column("after_json", Text),
    Column("action_id", String(64), ForeignKey("actions.action_id"), nullable=False),
)
Index("ix_audit_events_entity", audit_events.c.entity, audit_events.c.entity_id)

column_mappings = Table(
    "column_mappings", metadata,
    Column("source_key", String(400), primary_key=True),
    Column("mapping_json", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(200), nullable=False),
    Column("action_id", String(64), ForeignKey("actions.action_id"), nullable=False),
)

reminder_log = Table(
    "reminder_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("line_code", String(200), nullable=False),
    Column("level", String(20), nullable=False),
    Column("customer_id", String(200), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("status", String(10), nullable=False),
    Column("action_id", String(64), ForeignKey("actions.action_id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # added by revision 0002
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("error", Text),
    Column("claimed_at", UTCDateTime),
    Column("sent_at", UTCDateTime),
    UniqueConstraint("line_code", "level"),
    CheckConstraint("status IN ('queued', 'sent', 'failed')", name="status_known"),
)
Index("ix_reminder_log_customer_id", reminder_log.c.customer_id)

# added by revision 0003: the workspace's imports (SPEC §13)
imports = Table(
    "imports", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("source_kind", String(20), nullable=False),  # upload | gsheet | cli
    Column("source_label", Text, nullable=False),
    Column("fingerprint", String(64), nullable=False, unique=True),  # sha256 of the bytes read + options
    Column("files_json", Text, nullable=False),  # [{"name", "sha256", "bytes"}]
    Column("options_json", Text, nullable=False),
    Column("mapping_json", Text),
    Column("layout_key", String(64)),
    Column("counts_json", Text, nullable=False),
    Column("notes_json", Text, nullable=False),
    Column("meta_json", Text, nullable=False),  # source, sheet_map, table names stored
    Column("n_lines", Integer, nullable=False),
    Column("n_payments", Integer, nullable=False),
    Column("n_quarantined", Integer, nullable=False),
    Column("action_id", String(64), ForeignKey("actions.action_id"), nullable=False),
)

import_chunks = Table(
    "import_chunks", metadata,
    Column("import_id", Integer, ForeignKey("imports.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(40), nullable=False),  # the table (invoices, payments, ..., quarantine)
    Column("seq", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),  # a slice of the table's Parquet file
    PrimaryKeyConstraint("import_id", "name", "seq"),
)

workspace_pointer = Table(
    "workspace_pointer", metadata,
    Column("name", String(40), primary_key=True),  # "current"
    Column("import_id", Integer, ForeignKey("imports.id"), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(200), nullable=False),
)
CHUNK_BYTES = 4 * 1024 * 1024  # one import_chunks row; well under SQLite's and PostgreSQL's value limits
_IMPORT_SPEC = {"id": "int64", "created_at": "ts", "actor": "string", "source_kind": "string",
                "source_label": "string", "fingerprint": "string", "n_lines": "int64", "n_payments": "int64",
                "n_quarantined": "int64", "layout_key": "string"}
_IMPORT_JSON = ("files_json", "options_json", "mapping_json", "counts_json", "notes_json", "meta_json")

# added by revision 0004: the workspace's members (the Admin page); [roles] in the secrets are not stored
members = Table(
    "members", metadata,
    Column("pattern", String(320), primary_key=True),  # lower-case address or @domain
    Column("role", String(10), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(200), nullable=False),
    Column("action_id", String(64), ForeignKey("actions.action_id"), nullable=False),
    CheckConstraint("role IN ('viewer', 'finance', 'admin')", name="role_known"),
)

# added by revision 0005: statements emailed, once per (customer, statement date)
statement_log = Table(
    "statement_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", String(200), nullable=False),
    Column("statement_date", String(10), nullable=False),  # YYYY-MM-DD
    Column("channel", String(20), nullable=False),
    Column("address", String(400)),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("error", Text),
    Column("action_id", String(64), ForeignKey("actions.action_id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("claimed_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    UniqueConstraint("customer_id", "statement_date"),
    CheckConstraint("status IN ('queued', 'sent', 'failed')", name="status_known"),
)

# added by revision 0008: settings chosen in the app, one JSON value per key (audited)
workspace_settings = Table(
    "workspace_settings", metadata,
    Column("key", String(100), primary_key=True),  # e.g. "dunning.attach_pdf"
    Column("value_json", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(200), nullable=False),
    Column("action_id", String(64), ForeignKey("actions.action_id"), nullable=False),
)

# added by revision 0006: collections (SPEC §15) — adjustments, promises to pay, next actions
adjustments = Table(
    "adjustments", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),  # billing.adjustments.KINDS
    Column("line_code", String(200), nullable=False),
    Column("payment_id", String(200)),
    Column("amount", BigInteger, nullable=False),
    Column("on_date", String(10), nullable=False),  # YYYY-MM-DD: takes part as of this date
    Column("reason", Text),
    Column("dispute_id", Integer, ForeignKey("disputes.id")),  # a credit note requested by its resolution
    Column("status", String(10), nullable=False),  # active | cancelled
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("cancelled_at", UTCDateTime),
    Column("cancelled_by", String(200)),
    Column("action_id", String(64), ForeignKey("actions.action_id"), nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("kind IN ('write_off', 'apply', 'credit_note')", name="kind_known"),
    CheckConstraint("status IN ('active', 'cancelled')", name="status_known"),
)
Index("ix_adjustments_line_code", adjustments.c.line_code)

promises = Table(
    "promises", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", String(200), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("promised_date", String(10), nullable=False),
    Column("grace_days", Integer, nullable=False),
    Column("line_codes_json", Text, nullable=False),  # [] = the customer's lines in that currency
    Column("note", Text),
    Column("status", String(10), nullable=False),  # active | cancelled (kept/broken are computed)
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("cancelled_at", UTCDateTime),
    Column("cancelled_by", String(200)),
    Column("action_id", String(64), ForeignKey("actions.action_id"), nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("grace_days >= 0", name="grace_not_negative"),
    CheckConstraint("status IN ('active', 'cancelled')", name="status_known"),
)
Index("ix_promises_customer_id", promises.c.customer_id)

next_actions = Table(
    "next_actions", metadata,
    Column("customer_id", String(200), primary_key=True),
    Column("next_action_date", String(10)),
    Column("collector", String(200)),  # NULL: the customer's owner
    Column("note", Text),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(200), nullable=False),
    Column("action_id", String(64), ForeignKey("actions.action_id"), nullable=False),
)
_ADJUSTMENT_SPEC = {"adjustment_id": "int64", "kind": "string", "line_code": "string", "payment_id": "string",
                    "amount": "int64", "on": "string", "reason": "string", "dispute_id": "Int64",
                    "status": "string", "created_at": "ts", "created_by": "string", "cancelled_at": "ts",
                    "cancelled_by": "string"}
_PROMISE_SPEC = {"promise_id": "int64", "customer_id": "string", "currency": "string", "amount": "int64",
                 "promised_date": "string", "grace_days": "int64", "note": "string", "status": "string",
                 "created_at": "ts", "created_by": "string", "cancelled_at": "ts", "cancelled_by": "string"}
_NEXT_ACTION_SPEC = {"customer_id": "string", "next_action_date": "string", "collector": "string",
                     "note": "string", "updated_at": "ts", "updated_by": "string"}

# added by revision 0007: bank payments (credits of imported statements), the clerk's decisions on
# them, and the IBAN -> customer pairs learned from confirmed payments (SPEC §17)
bank_payments = Table(
    "bank_payments", metadata,
    Column("payment_id", String(200), primary_key=True),
    Column("source", String(400), nullable=False),
    Column("file_sha256", String(64), nullable=False),
    Column("statement", String(200)),
    Column("account", String(100)),
    Column("entry", String(40)),
    Column("booking_date", String(10), nullable=False),  # YYYY-MM-DD
    Column("value_date", String(10)),
    Column("amount", BigInteger, nullable=False),  # minor units, > 0
    Column("currency", String(3), nullable=False),
    Column("payer_name", String(400)),
    Column("payer_iban", String(100)),
    Column("remittance", Text),
    Column("creditor_ref", String(100)),
    Column("end_to_end_id", String(200)),
    Column("imported_at", UTCDateTime, nullable=False),
    Column("imported_by", String(200), nullable=False),
    Column("action_id", String(64), ForeignKey("actions.action_id"), nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
)
bank_decisions = Table(
    "bank_decisions", metadata,
    Column("payment_id", String(200), ForeignKey("bank_payments.payment_id"), primary_key=True),
    Column("status", String(10), nullable=False),  # confirmed | left (unapplied on purpose)
    Column("customer_id", String(200)),
    Column("reference", Text),  # what §4 reads: line codes / invoice numbers, canonical, in order
    Column("write_off", BigInteger, nullable=False, server_default=text("0")),
    Column("write_off_line", String(200)),
    Column("note", Text),
    Column("decided_at", UTCDateTime, nullable=False),
    Column("decided_by", String(200), nullable=False),
    Column("action_id", String(64), ForeignKey("actions.action_id"), nullable=False),
    CheckConstraint("status IN ('confirmed', 'left')", name="status_known"),
    CheckConstraint("write_off >= 0", name="write_off_not_negative"),
)
bank_ibans = Table(
    "bank_ibans", metadata,
    Column("iban", String(100), primary_key=True),
    Column("customer_id", String(200), primary_key=True),
    Column("learned_from", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("action_id", String(64), ForeignKey("actions.action_id"), nullable=False),
)
BANK_PAYMENT_COLUMNS = ("payment_id", "source", "file_sha256", "statement", "account", "entry", "booking_date",
                        "value_date", "amount", "currency", "payer_name", "payer_iban", "remittance",
                        "creditor_ref", "end_to_end_id")


# --------------------------------------------------------------------------- engine

def _quote_userinfo(url: str) -> str:
    """`url` with its user-info percent-encoded when the password holds a raw ``@`` (or ``:``, ``/``):
    ``postgresql://app:p@ss@db/x`` means user "app", password "p@ss" (the last ``@`` ends it),
    which SQLAlchemy would otherwise read as host "ss@db"."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    cut = len(rest)
    for ch in "/?#":
        i = rest.find(ch, rest.rfind("@") + 1 if "@" in rest else 0)
        if i >= 0:
            cut = min(cut, i)
    authority, tail = rest[:cut], rest[cut:]
    if authority.count("@") < 2:
        return url
    userinfo, _, host = authority.rpartition("@")
    user, colon, password = userinfo.partition(":")
    q = lambda v: urllib.parse.quote(urllib.parse.unquote(v), safe="")  # noqa: E731
    return f"{scheme}://{q(user)}{colon}{q(password) if colon else ''}@{host}{tail}"


def _busy_timeout_ms() -> int:
    env = os.environ.get("LINEWISE_DB_BUSY_TIMEOUT", "").strip()
    try:
        return max(0, int(float(env) * 1000)) if env else _BUSY_TIMEOUT_MS
    except ValueError:
        raise StoreError(f"LINEWISE_DB_BUSY_TIMEOUT must be a number of seconds, not {env!r}") from None


def _backups(path: Path) -> list[Path]:
    """The backup copies Store writes before migrating (``linewise.db.bak-<rev>-<utc>``), newest first."""
    return sorted(path.parent.glob(f"{path.name}.bak-*"), key=lambda p: p.stat().st_mtime, reverse=True)


def _restore_hint(path: Path) -> str:
    found = _backups(path)
    if found:
        return (f"restore the latest backup: stop Linewise, copy {found[0]} to {path} "
                f"({len(found)} backup(s) beside it), then start again")
    return (f"restore {path} from your own backup; only if this is a new installation with nothing to keep, "
            "move the file away and Linewise starts an empty store")


@contextmanager
def _opening(path: Path) -> Iterator[None]:
    """Held while a Store checks and migrates an SQLite file (an advisory lock on ``<file>.lock``), so
    a file another Linewise process is creating right now is never mistaken for a truncated one."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: the migration transaction still serialises
        yield
        return
    try:
        fh = open(path.with_name(path.name + ".lock"), "a")
    except OSError as exc:
        raise StoreError(f"cannot open the action store {path}: {exc.strerror or exc}") from None
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _check_sqlite_file(path: Path) -> None:
    """Refuse a store file that exists but is empty (truncated) or is not an SQLite database:
    opening it would silently start a new, empty store (every customer "never reminded")."""
    if not path.exists():
        return
    if path.stat().st_size == 0:
        raise StoreError(f"the action store file {path} is empty (0 bytes): it was truncated or its creation "
                         "never finished, and Linewise will not start over on it. "
                         f"To fix: {_restore_hint(path)}.")
    with path.open("rb") as fh:
        head = fh.read(16)
    if head != b"SQLite format 3\x00":
        raise StoreError(f"the action store file {path} is damaged (it is not an SQLite database). "
                         f"To fix: {_restore_hint(path)}.")


def _make_engine(url: str, echo: bool = False) -> Engine:
    u = make_url(_quote_userinfo(url))
    if u.get_backend_name() == "sqlite":
        db = u.database
        if db and db != ":memory:" and not db.startswith("file:"):
            path = Path(db).expanduser()
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the data directory {path.parent}: {exc}") from exc
        busy_ms = _busy_timeout_ms()
        engine = create_engine(u, echo=echo, connect_args={"check_same_thread": False,
                                                           "timeout": busy_ms / 1000})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # the driver must not BEGIN on its own: we do (below)
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {busy_ms}")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # Writers take the write lock up front: a deferred transaction that reads and
            # then writes can fail with SQLITE_BUSY in WAL mode whatever the busy timeout.
            write = conn.get_execution_options().get("linewise_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    return create_engine(u, echo=echo, pool_pre_ping=True)


def _alembic_config(connection: Connection | None = None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _digest(kind: str, request: Mapping[str, Any]) -> str:
    blob = json.dumps({"kind": kind, **request}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _check_action(action_id: Any, actor: Any) -> tuple[str, str]:
    if not isinstance(action_id, str) or not action_id.strip() or len(action_id) > 64:
        raise ValueError("action_id must be a non-empty string of at most 64 characters "
                         "(see new_action_id())")
    if not isinstance(actor, str) or not actor.strip():
        raise ValueError("actor (who does this) must be a non-empty string")
    return action_id, actor.strip()


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _key(key: Sequence[Any]) -> tuple[str, str]:
    line_code, level = key
    return str(line_code), str(level)


def _ts_col(values: list[Any]) -> pd.Series:
    return pd.Series(pd.to_datetime(pd.Series(values, dtype="object"), utc=True), dtype="datetime64[ns, UTC]")


def _frame(rows: list[Mapping[str, Any]], spec: Mapping[str, str]) -> pd.DataFrame:
    cols: dict[str, pd.Series] = {}
    for name, dtype in spec.items():
        values = [r[name] for r in rows]
        cols[name] = _ts_col(values) if dtype == "ts" else pd.Series(values, dtype=dtype)
    return pd.DataFrame(cols, columns=list(spec))


_LOG_SPEC = {"id": "int64", "dispute_id": "int64", "at": "ts", "actor": "string", "channel": "string",
             "text": "string", "action_id": "string"}
_AUDIT_SPEC = {"id": "int64", "at": "ts", "actor": "string", "entity": "string", "entity_id": "string",
               "action": "string", "before_json": "string", "after_json": "string", "action_id": "string"}
_REMINDER_SPEC = {"id": "int64", "line_code": "string", "level": "string", "customer_id": "string",
                  "channel": "string", "status": "string", "attempts": "int64", "error": "string",
                  "created_at": "ts", "claimed_at": "ts", "sent_at": "ts", "action_id": "string"}
_MEMBER_SPEC = {"pattern": "string", "role": "string", "created_at": "ts", "created_by": "string",
                "updated_at": "ts", "updated_by": "string"}
_STATEMENT_SPEC = {"id": "int64", "customer_id": "string", "statement_date": "string", "channel": "string",
                   "address": "string", "status": "string", "attempts": "int64", "error": "string",
                   "created_at": "ts", "claimed_at": "ts", "sent_at": "ts", "action_id": "string"}
_BANK_SPEC = {c: ("int64" if c == "amount" else "string") for c in BANK_PAYMENT_COLUMNS} | {
    "imported_at": "ts", "imported_by": "string"}
_DECISION_SPEC = {"payment_id": "string", "status": "string", "customer_id": "string", "reference": "string",
                  "write_off": "int64", "write_off_line": "string", "note": "string", "decided_at": "ts",
                  "decided_by": "string"}
_IBAN_SPEC = {"iban": "string", "customer_id": "string", "learned_from": "string", "created_at": "ts",
              "created_by": "string"}
_DISPUTE_FIELDS = [c.name for c in disputes.columns if c.name not in ("updated_at",)]


# --------------------------------------------------------------------------- the store

class Store:
    """The action store. Thread-safe: share one per process (e.g. ``st.cache_resource``).

    ``Store()`` uses ``store_url_from()`` (env, else the SQLite default);
    ``Store(data_dir=...)`` an SQLite file there; ``Store(url)`` that URL.
    """

    def __init__(self, url: str | None = None, data_dir: str | Path | None = None, *,
                 migrate: bool = True, echo: bool = False):
        if url is None:
            url = _sqlite_url(data_dir) if data_dir is not None else store_url_from(None)
        url = _quote_userinfo(url)
        self.url = make_url(url)
        self.engine = _make_engine(url, echo=echo)
        self.dialect = self.engine.dialect.name
        with _opening(self.sqlite_path) if self.sqlite_path is not None else nullcontext():
            if self.sqlite_path is not None:
                _check_sqlite_file(self.sqlite_path)
            if migrate:
                with self._faults():
                    self.migrate()

    @classmethod
    def from_secrets(cls, secrets: Mapping | None, data_dir: str | Path | None = None, **kw: Any) -> Store:
        """The store configured by ``st.secrets`` / the environment (see ``store_url_from``)."""
        return cls(store_url_from(secrets, data_dir), **kw)

    # ---- lifecycle -----------------------------------------------------------------

    @property
    def display_url(self) -> str:
        """The URL with any password masked: safe to show or log."""
        return redact_url(self.url.render_as_string(hide_password=True))

    def __repr__(self) -> str:
        return f"Store({self.display_url!r})"

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def sqlite_path(self) -> Path | None:
        db = self.url.database
        if self.dialect == "sqlite" and db and db != ":memory:" and not db.startswith("file:"):
            return Path(db).expanduser()
        return None

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    @staticmethod
    def head_revision() -> str:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(_alembic_config()).get_current_head()

    def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to `revision` (never downgrades). An SQLite file that
        holds an older schema is first copied to ``linewise.db.bak-<rev>-<utc time>``."""
        from alembic import command
        from alembic.script import ScriptDirectory

        script = ScriptDirectory.from_config(_alembic_config())
        current = self.current_revision()
        if current is not None:
            try:
                script.get_revision(current)
            except Exception as exc:
                raise StoreError(f"the database schema is at revision {current}, which this version of "
                                 "Linewise does not know (it is newer): upgrade Linewise") from exc
        target = script.get_current_head() if revision == "head" else revision
        if current == target:
            return
        # Alembic's migration context is process-global: one upgrade at a time per process;
        # across processes the upgrade transaction itself is exclusive (BEGIN IMMEDIATE /
        # an advisory lock on PostgreSQL), and a second upgrader then finds nothing to do.
        with _MIGRATE_LOCK:
            if current is not None and self.sqlite_path is not None and self.current_revision() == current:
                self._backup(current)
            with self.engine.connect() as conn:
                conn.execution_options(linewise_write=True)
                command.upgrade(_alembic_config(conn), revision)

    def _backup(self, revision: str) -> Path:
        src = self.sqlite_path
        assert src is not None
        stamp = _now().strftime("%Y%m%dT%H%M%S%fZ")
        dst = src.with_name(f"{src.name}.bak-{revision}-{stamp}")
        with closing(sqlite3.connect(src)) as s, closing(sqlite3.connect(dst)) as d:
            s.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            s.backup(d)
        return dst

    # ---- transactions ----------------------------------------------------------------

    @contextmanager
    def _faults(self) -> Iterator[None]:
        """Database errors as a StoreError naming the store, in plain words: busy (another process
        holds the write lock past the busy timeout), damaged, or unreachable. Integrity errors are
        the callers' to handle."""
        try:
            yield
        except IntegrityError:
            raise
        except DatabaseError as exc:
            raise StoreError(self._fault_text(exc)) from None

    def _fault_text(self, exc: DatabaseError) -> str:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc).strip() else ""
        low = detail.lower()
        name = self.display_url if self.sqlite_path is None else str(self.sqlite_path)
        if isinstance(exc, OperationalError) and ("locked" in low or "busy" in low):
            wait = _busy_timeout_ms() / 1000
            return (f"the action store {name} is busy: another process holds its write lock "
                    f"(waited {wait:g} s). "
                    "Nothing was changed; try again in a moment, and if it stays busy close the other "
                    "program that has the store open.")
        if self.sqlite_path is not None and ("not a database" in low or "malformed" in low):
            return (f"the action store file {name} is damaged ({redact(detail)}). "
                    f"To fix: {_restore_hint(self.sqlite_path)}.")
        return f"the action store {name} cannot be used: {redact(detail)}"

    @contextmanager
    def _tx(self, write: bool = False) -> Iterator[Connection]:
        with self._faults(), self.engine.connect() as conn:
            if write:
                conn.execution_options(linewise_write=True)
            with conn.begin():
                yield conn

    def _do(self, kind: str, action_id: str, actor: str, request: Mapping[str, Any],
            work: Callable[[Connection, datetime], Any]) -> tuple[Any, bool]:
        """Run `work` once per action id in one transaction; returns (result, replayed)."""
        action_id, actor = _check_action(action_id, actor)
        digest = _digest(kind, request)
        now = _now()
        try:
            with self._tx(write=True) as conn:
                try:
                    conn.execute(actions.insert().values(action_id=action_id, kind=kind, created_at=now,
                                                         actor=actor, request_hash=digest))
                except IntegrityError as exc:
                    raise _Replayed() from exc
                result = _jsonable(work(conn, now))
                conn.execute(actions.update().where(actions.c.action_id == action_id)
                             .values(result_json=json.dumps(result)))
            return result, False
        except _Replayed:
            pass
        with self._tx() as conn:
            row = conn.execute(select(actions).where(actions.c.action_id == action_id)).mappings().one()
        if row["kind"] != kind or row["request_hash"] != digest:
            raise ActionConflict(f"action id {action_id} was already used for another request "
                                 f"({row['kind']} by {row['actor']}); make a new action id for a new action")
        return json.loads(row["result_json"]), True

    @staticmethod
    def _audit(conn: Connection, at: datetime, actor: str, action_id: str, entity: str, entity_id: Any,
               action: str, before: Any, after: Any) -> None:
        conn.execute(audit_events.insert().values(
            at=at, actor=actor, entity=entity, entity_id=str(entity_id), action=action,
            before_json=None if before is None else json.dumps(before, sort_keys=True, default=str),
            after_json=None if after is None else json.dumps(after, sort_keys=True, default=str),
            action_id=action_id))

    # ---- disputes --------------------------------------------------------------------

    @staticmethod
    def _row_values(d: Dispute, now: datetime) -> dict[str, Any]:
        values = {f: getattr(d, f) for f in _DISPUTE_FIELDS if f != "id"}
        values["status"] = str(d.status)
        values["updated_at"] = now
        return values

    @staticmethod
    def _load(conn: Connection, dispute_id: int, for_update: bool = False) -> Dispute | None:
        q = select(disputes).where(disputes.c.id == int(dispute_id))
        if for_update:  # PostgreSQL: a concurrent change waits, then sees this one (SQLite: BEGIN IMMEDIATE)
            q = q.with_for_update()
        row = conn.execute(q).mappings().first()
        if row is None:
            return None
        codes = conn.execute(select(dispute_lines.c.line_code).where(dispute_lines.c.dispute_id == row["id"])
                             .order_by(dispute_lines.c.seq)).scalars().all()
        return Dispute(line_codes=tuple(codes), **{f: row[f] for f in _DISPUTE_FIELDS})

    def open_dispute(self, *, action_id: str, actor: str, lines: pd.DataFrame, amount: int, reason: str,
                     owner: str, line_codes: Sequence[str] | None = None, invoice_no: str | None = None,
                     description: str | None = None, review_days: int | None = None,
                     at: Any = None) -> int:
        """Open a dispute on `line_codes` (or the open lines of `invoice_no`); returns its id.

        `lines` carries the open amounts (``billing.aging.line_aging`` output);
        the rules are ``billing.disputes.validate_new``'s, checked against the
        disputes in the database inside the same transaction. Raises DisputeError.
        """
        request = {"line_codes": list(map(str, line_codes or [])), "invoice_no": invoice_no,
                   "amount": amount, "reason": reason, "owner": owner, "description": description,
                   "review_days": review_days}

        def work(conn: Connection, now: datetime) -> dict[str, Any]:
            taken = conn.execute(
                select(dispute_lines.c.line_code, disputes.c.status)
                .join(disputes, disputes.c.id == dispute_lines.c.dispute_id)
                .where(dispute_lines.c.is_open)).mappings().all()
            taken_df = pd.DataFrame({"line_code": pd.Series([r["line_code"] for r in taken], dtype="string"),
                                     "status": pd.Series([r["status"] for r in taken], dtype="string")})
            d = validate_new(lines, amount=amount, reason=reason, owner=owner, opened_by=actor,
                             line_codes=line_codes, invoice_no=invoice_no, disputes=taken_df,
                             description=description, review_days=review_days, at=at or now)
            inserted = conn.execute(disputes.insert().values(**self._row_values(d, now)))
            new_id = inserted.inserted_primary_key[0]
            try:
                with conn.begin_nested():
                    conn.execute(dispute_lines.insert(), [
                        {"dispute_id": new_id, "line_code": c, "seq": i, "is_open": True}
                        for i, c in enumerate(d.line_codes)])
            except IntegrityError as exc:
                raise DisputeError("a line of this dispute is already in an open dispute") from exc
            d = d.model_copy(update={"id": int(new_id)})
            self._audit(conn, now, actor, action_id, "dispute", new_id, "open", None, d.as_json())
            return {"dispute_id": int(new_id)}

        result, _ = self._do("open_dispute", action_id, actor, request, work)
        return int(result["dispute_id"])

    def transition_dispute(self, dispute_id: int, to: str, *, action_id: str, actor: str,
                           outcome: str | None = None, resolved_amount: int | None = None,
                           owner: str | None = None, note: str | None = None, at: Any = None) -> Dispute:
        """Move a dispute to state `to` (rules: ``billing.disputes.transition``); returns it as changed.

        `owner` hands it over (e.g. to a manager on escalation); `note` adds a
        log entry (channel "note") in the same transaction. Raises
        InvalidTransition / DisputeError, or ConcurrentChange if someone else
        changed it meanwhile.
        """
        request = {"dispute_id": int(dispute_id), "to": str(to), "outcome": outcome,
                   "resolved_amount": resolved_amount, "owner": owner, "note": note}

        def work(conn: Connection, now: datetime) -> dict[str, Any]:
            d = self._load(conn, dispute_id, for_update=True)
            if d is None:
                raise DisputeError(f"there is no dispute #{dispute_id}")
            new = transition(d, to, at=at or now, by=actor, outcome=outcome,
                             resolved_amount=resolved_amount, owner=owner)
            res = conn.execute(disputes.update()
                               .where(and_(disputes.c.id == d.id, disputes.c.version == d.version))
                               .values(**self._row_values(new, now)))
            if res.rowcount != 1:
                raise ConcurrentChange(f"dispute #{dispute_id} was changed by someone else; reload it")
            if d.is_open and not new.is_open:
                conn.execute(dispute_lines.update().where(dispute_lines.c.dispute_id == d.id)
                             .values(is_open=False))
            self._audit(conn, now, actor, action_id, "dispute", d.id, "transition", d.as_json(),
                        new.as_json())
            if note and note.strip():
                self._add_log(conn, now, actor, action_id, d.id, "note", note, at or now)
            return new.as_json()

        result, _ = self._do("transition_dispute", action_id, actor, request, work)
        return Dispute.model_validate(result)

    def _add_log(self, conn: Connection, now: datetime, actor: str, action_id: str, dispute_id: int,
                 channel: str, text_: str, at: Any) -> int:
        entry = {"dispute_id": int(dispute_id), "at": utc(at), "actor": actor, "channel": channel,
                 "text": text_.strip(), "action_id": action_id}
        log_id = conn.execute(dispute_log.insert().values(**entry)).inserted_primary_key[0]
        self._audit(conn, now, actor, action_id, "dispute", dispute_id, "log", None,
                    {"log_id": int(log_id), **entry})
        return int(log_id)

    def add_dispute_note(self, dispute_id: int, channel: str, text: str, *, action_id: str, actor: str,
                         at: Any = None) -> int:
        """Add an entry to a dispute's communication log (who = actor, when = `at` or now); returns its id."""
        if channel not in LOG_CHANNELS:
            raise DisputeError(f"unknown channel {channel!r}; one of {', '.join(LOG_CHANNELS)}")
        if not isinstance(text, str) or not text.strip():
            raise DisputeError("a log entry needs some text")
        request = {"dispute_id": int(dispute_id), "channel": channel, "text": text}

        def work(conn: Connection, now: datetime) -> dict[str, Any]:
            exists = conn.execute(select(disputes.c.id).where(disputes.c.id == int(dispute_id))).first()
            if exists is None:
                raise DisputeError(f"there is no dispute #{dispute_id}")
            log_id = self._add_log(conn, now, actor, action_id, dispute_id, channel, text, at or now)
            return {"log_id": log_id}

        result, _ = self._do("add_dispute_note", action_id, actor, request, work)
        return int(result["log_id"])

    def get_dispute(self, dispute_id: int) -> Dispute | None:
        with self._tx() as conn:
            return self._load(conn, dispute_id)

    def disputes(self, status: str | Iterable[str] | None = None,
                 customer_id: str | None = None) -> list[Dispute]:
        """Dispute values, by id; filtered by status (one or several) and customer."""
        q = select(disputes).order_by(disputes.c.id)
        if status is not None:
            wanted = [status] if isinstance(status, str) else list(status)
            unknown = set(wanted) - set(STATES)
            if unknown:
                raise DisputeError(f"unknown dispute state(s) {sorted(unknown)}; one of {', '.join(STATES)}")
            q = q.where(disputes.c.status.in_(wanted))
        if customer_id is not None:
            q = q.where(disputes.c.customer_id == str(customer_id))
        with self._tx() as conn:
            rows = conn.execute(q).mappings().all()
            ids = [r["id"] for r in rows]
            codes: dict[int, list[str]] = {i: [] for i in ids}
            if ids:
                for did, code in conn.execute(
                        select(dispute_lines.c.dispute_id, dispute_lines.c.line_code)
                        .where(dispute_lines.c.dispute_id.in_(ids))
                        .order_by(dispute_lines.c.dispute_id, dispute_lines.c.seq)):
                    codes[did].append(code)
        return [Dispute(line_codes=tuple(codes[r["id"]]), **{f: r[f] for f in _DISPUTE_FIELDS}) for r in rows]

    def list_disputes(self, status: str | Iterable[str] | None = None,
                      customer_id: str | None = None) -> pd.DataFrame:
        """``billing.disputes.disputes_frame`` of the disputes (add SLA with ``sla_flags``)."""
        return disputes_frame(self.disputes(status, customer_id))

    def dispute_lines(self) -> pd.DataFrame:
        """Every disputed line of every dispute: dispute_id, line_code, status, customer_id, currency."""
        return dispute_lines_frame(self.disputes())

    def open_dispute_lines(self) -> pd.DataFrame:
        """Lines in open dispute (line_code, status, dispute_id, amount = the dispute's amount, seq =
        the line's position in it): the ``disputes`` table the engine takes; a dispute holds its
        amount over its lines in order (``billing.model.held_amounts``, SPEC §7)."""
        q = (select(dispute_lines.c.line_code, disputes.c.status, dispute_lines.c.dispute_id, disputes.c.amount,
                    dispute_lines.c.seq)
             .join(disputes, disputes.c.id == dispute_lines.c.dispute_id)
             .where(dispute_lines.c.is_open).order_by(dispute_lines.c.line_code))
        with self._tx() as conn:
            rows = conn.execute(q).mappings().all()
        return _frame(rows, {"line_code": "string", "status": "string", "dispute_id": "int64", "amount": "int64",
                             "seq": "int64"})

    def dispute_log(self, dispute_id: int) -> pd.DataFrame:
        """The communication log of a dispute, oldest first:
        id, dispute_id, at, actor, channel, text, action_id."""
        q = (select(*[dispute_log.c[c] for c in _LOG_SPEC]).where(dispute_log.c.dispute_id == int(dispute_id))
             .order_by(dispute_log.c.at, dispute_log.c.id))
        with self._tx() as conn:
            rows = conn.execute(q).mappings().all()
        return _frame(rows, _LOG_SPEC)

    def audit_events(self, entity: str | None = None, entity_id: Any = None) -> pd.DataFrame:
        """Audit events, oldest first (append-only):
        id, at, actor, entity, entity_id, action, before_json, after_json, action_id."""
        q = select(*[audit_events.c[c] for c in _AUDIT_SPEC]).order_by(audit_events.c.id)
        if entity is not None:
            q = q.where(audit_events.c.entity == entity)
        if entity_id is not None:
            q = q.where(audit_events.c.entity_id == str(entity_id))
        with self._tx() as conn:
            rows = conn.execute(q).mappings().all()
        return _frame(rows, _AUDIT_SPEC)

    # ---- column mappings ---------------------------------------------------------------

    def save_mapping(self, source_key: str, mapping: Mapping[str, Any] | str, *, action_id: str,
                     actor: str) -> None:
        """Save (insert or replace) the column mapping of a source (a JSON object or its text)."""
        if not isinstance(source_key, str) or not source_key.strip():
            raise ValueError("source_key must be a non-empty string")
        obj = json.loads(mapping) if isinstance(mapping, str) else _jsonable(dict(mapping))
        if not isinstance(obj, dict):
            raise ValueError("a column mapping is a JSON object")
        blob = json.dumps(obj, sort_keys=True)

        def work(conn: Connection, now: datetime) -> None:
            old = conn.execute(select(column_mappings.c.mapping_json)
                               .where(column_mappings.c.source_key == source_key)).scalar()
            values = {"mapping_json": blob, "updated_at": now, "updated_by": actor, "action_id": action_id}
            if old is None:
                conn.execute(column_mappings.insert().values(source_key=source_key, **values))
            else:
                conn.execute(column_mappings.update().where(column_mappings.c.source_key == source_key)
                             .values(**values))
            self._audit(conn, now, actor, action_id, "column_mapping", source_key,
                        "create" if old is None else "update",
                        None if old is None else json.loads(old), obj)
            return None

        self._do("save_mapping", action_id, actor, {"source_key": source_key, "mapping": blob}, work)

    def load_mapping(self, source_key: str) -> dict[str, Any] | None:
        with self._tx() as conn:
            blob = conn.execute(select(column_mappings.c.mapping_json)
                                .where(column_mappings.c.source_key == source_key)).scalar()
        return None if blob is None else json.loads(blob)

    # ---- reminder log ----------------------------------------------------------------

    def _insert_ignore(self, conn: Connection, values: Mapping[str, Any]) -> bool:
        """INSERT one reminder_log row unless its (line_code, level) exists; True if inserted."""
        if self.dialect in ("sqlite", "postgresql"):
            if self.dialect == "sqlite":
                from sqlalchemy.dialects.sqlite import insert
            else:
                from sqlalchemy.dialects.postgresql import insert
            stmt = (insert(reminder_log).values(**values)
                    .on_conflict_do_nothing(index_elements=["line_code", "level"])
                    .returning(reminder_log.c.id))
            return conn.execute(stmt).first() is not None  # (rowcount is -1 with RETURNING)
        try:
            with conn.begin_nested():
                conn.execute(reminder_log.insert().values(**values))
            return True
        except IntegrityError:
            return False

    def claim_reminders(self, keys: Iterable[Sequence[Any]], customer_id: str, channel: str, *,
                        action_id: str, actor: str, retry_failed: bool = False) -> list[tuple[Any, Any]]:
        """Claim (line_code, level) keys for sending: returns the keys this call claimed, status queued.

        A key already in the log (queued or sent) is not claimed again — by
        anyone, ever — so a rerun, a double click, two tabs or two cron runs
        each get a disjoint set. With `retry_failed`, keys whose last attempt
        failed are claimed again. Replaying an action id claims nothing and
        returns [] (the first call owns its claims). Levels are stored as text.
        """
        if not isinstance(customer_id, str) or not customer_id:
            raise ValueError("customer_id must be a non-empty string")
        if not isinstance(channel, str) or not channel:
            raise ValueError("channel must be a non-empty string")
        wanted: dict[tuple[str, str], tuple[Any, Any]] = {}
        for k in keys:
            wanted.setdefault(_key(k), tuple(k))
        request = {"keys": sorted(wanted), "customer_id": customer_id, "channel": channel,
                   "retry_failed": retry_failed}

        def work(conn: Connection, now: datetime) -> list[list[str]]:
            claimed = []
            for (line_code, level) in wanted:
                row = {"line_code": line_code, "level": level, "customer_id": customer_id, "channel": channel,
                       "status": "queued", "action_id": action_id, "created_at": now, "attempts": 0,
                       "claimed_at": now}
                if self._insert_ignore(conn, row):
                    self._audit(conn, now, actor, action_id, "reminder", f"{line_code}|{level}", "claim",
                                None, row)
                    claimed.append([line_code, level])
                elif retry_failed:
                    where = and_(reminder_log.c.line_code == line_code, reminder_log.c.level == level,
                                 reminder_log.c.status == "failed")
                    before = conn.execute(select(reminder_log).where(where)).mappings().first()
                    if before is None:
                        continue
                    changes = {"status": "queued", "claimed_at": now, "channel": channel,
                               "customer_id": customer_id, "action_id": action_id}
                    if conn.execute(reminder_log.update().where(where).values(**changes)).rowcount == 1:
                        self._audit(conn, now, actor, action_id, "reminder", f"{line_code}|{level}",
                                    "reclaim", dict(before), {**dict(before), **changes})
                        claimed.append([line_code, level])
            return claimed

        result, replayed = self._do("claim_reminders", action_id, actor, request, work)
        if replayed:
            return []
        return [wanted[(c, lv)] for c, lv in result]

    def mark_reminder(self, keys: Iterable[Sequence[Any]], status: str, error: str | None = None, *,
                      action_id: str, actor: str) -> list[tuple[Any, Any]]:
        """Record the outcome of an attempt on claimed (queued) keys: status sent or failed (+ error),
        or "unconfirmed" (+ error): handed over but never confirmed, so the key stays queued (never
        claimed again) with the error saying why, for a person to resolve.

        Each marked key gets attempts + 1 (and sent_at when sent). Keys that are
        not queued are left alone; returns the keys marked. The error is redacted
        (``connectors.redact``) before it is stored.
        """
        if status not in ("sent", "failed", "unconfirmed"):
            raise ValueError("status must be 'sent', 'failed' or 'unconfirmed' (claim_reminders queues)")
        if status != "sent" and not error:
            raise ValueError("a failed or unconfirmed attempt needs its error")
        error = redact(error) if error else None
        wanted: dict[tuple[str, str], tuple[Any, Any]] = {}
        for k in keys:
            wanted.setdefault(_key(k), tuple(k))
        request = {"keys": sorted(wanted), "status": status, "error": error}

        def work(conn: Connection, now: datetime) -> list[list[str]]:
            marked = []
            for (line_code, level) in wanted:
                where = and_(reminder_log.c.line_code == line_code, reminder_log.c.level == level,
                             reminder_log.c.status == "queued")
                before = conn.execute(select(reminder_log).where(where)).mappings().first()
                if before is None:
                    continue
                changes = {"status": "queued" if status == "unconfirmed" else status,
                           "error": None if status == "sent" else error,
                           "attempts": reminder_log.c.attempts + 1}
                if status == "sent":
                    changes["sent_at"] = now
                if conn.execute(reminder_log.update().where(where).values(**changes)).rowcount == 1:
                    key_is = and_(reminder_log.c.line_code == line_code, reminder_log.c.level == level)
                    after = conn.execute(select(reminder_log).where(key_is)).mappings().one()
                    self._audit(conn, now, actor, action_id, "reminder", f"{line_code}|{level}", status,
                                dict(before), dict(after))
                    marked.append([line_code, level])
            return marked

        result, _ = self._do("mark_reminder", action_id, actor, request, work)
        return [wanted[(c, lv)] for c, lv in result]

    def reminder_log(self, customer_id: str | None = None) -> pd.DataFrame:
        """The reminder log, oldest claim first (columns: id, line_code, level, customer_id, channel,
        status, attempts, error, created_at, claimed_at, sent_at, action_id)."""
        q = select(*[reminder_log.c[c] for c in _REMINDER_SPEC]).order_by(reminder_log.c.id)
        if customer_id is not None:
            q = q.where(reminder_log.c.customer_id == str(customer_id))
        with self._tx() as conn:
            rows = conn.execute(q).mappings().all()
        return _frame(rows, _REMINDER_SPEC)

    def stale_claims(self, older_than: timedelta | datetime) -> pd.DataFrame:
        """Keys still queued that were claimed before `older_than` (a cutoff time, or an age
        before now): claims whose sender died. Mark them failed to make them retryable."""
        cutoff = _now() - older_than if isinstance(older_than, timedelta) else utc(older_than)
        q = (select(*[reminder_log.c[c] for c in _REMINDER_SPEC])
             .where(and_(reminder_log.c.status == "queued",
                         func.coalesce(reminder_log.c.claimed_at, reminder_log.c.created_at) < cutoff))
             .order_by(reminder_log.c.id))
        with self._tx() as conn:
            rows = conn.execute(q).mappings().all()
        return _frame(rows, _REMINDER_SPEC)

    # ---- statement log ---------------------------------------------------------------

    def claim_statement(self, customer_id: str, statement_date: str, channel: str, address: str | None, *,
                        action_id: str, actor: str, retry_failed: bool = True) -> bool:
        """Claim the send of one customer's statement of `statement_date` (YYYY-MM-DD): True when this
        call got it. Like `claim_reminders`: a (customer, date) already queued or sent is never claimed
        again; a failed one is, with `retry_failed`; replaying an action id claims nothing."""
        if not isinstance(customer_id, str) or not customer_id:
            raise ValueError("customer_id must be a non-empty string")
        day = pd.Timestamp(statement_date).strftime("%Y-%m-%d")
        request = {"customer_id": customer_id, "statement_date": day, "channel": channel, "address": address,
                   "retry_failed": retry_failed}

        def work(conn: Connection, now: datetime) -> bool:
            key = and_(statement_log.c.customer_id == customer_id, statement_log.c.statement_date == day)
            before = conn.execute(select(statement_log).where(key)).mappings().first()
            row = {"customer_id": customer_id, "statement_date": day, "channel": channel, "address": address,
                   "status": "queued", "action_id": action_id, "claimed_at": now}
            if before is None:
                try:
                    with conn.begin_nested():
                        conn.execute(statement_log.insert().values(**row, created_at=now, attempts=0))
                except IntegrityError:
                    return False  # another claimer inserted it first
                self._audit(conn, now, actor, action_id, "statement", f"{customer_id}|{day}", "claim", None, row)
                return True
            if not (retry_failed and before["status"] == "failed"):
                return False
            done = conn.execute(statement_log.update().where(and_(key, statement_log.c.status == "failed"))
                                .values(**row)).rowcount == 1
            if done:
                self._audit(conn, now, actor, action_id, "statement", f"{customer_id}|{day}", "reclaim",
                            dict(before), {**dict(before), **row})
            return done

        result, replayed = self._do("claim_statement", action_id, actor, request, work)
        return bool(result) and not replayed

    def mark_statement(self, customer_id: str, statement_date: str, status: str, error: str | None = None, *,
                       action_id: str, actor: str) -> bool:
        """Record the outcome of a claimed (queued) statement send: sent or failed (+ error)."""
        if status not in ("sent", "failed"):
            raise ValueError("status must be 'sent' or 'failed' (claim_statement queues)")
        if status == "failed" and not error:
            raise ValueError("a failed attempt needs its error")
        day = pd.Timestamp(statement_date).strftime("%Y-%m-%d")
        request = {"customer_id": customer_id, "statement_date": day, "status": status, "error": error}

        def work(conn: Connection, now: datetime) -> bool:
            key = and_(statement_log.c.customer_id == customer_id, statement_log.c.statement_date == day,
                       statement_log.c.status == "queued")
            before = conn.execute(select(statement_log).where(key)).mappings().first()
            if before is None:
                return False
            changes = {"status": status, "error": error if status == "failed" else None,
                       "attempts": statement_log.c.attempts + 1, "sent_at": now if status == "sent" else None}
            conn.execute(statement_log.update().where(key).values(**changes))
            self._audit(conn, now, actor, action_id, "statement", f"{customer_id}|{day}", status, dict(before),
                        {**dict(before), "status": status, "error": changes["error"]})
            return True

        result, _ = self._do("mark_statement", action_id, actor, request, work)
        return bool(result)

    def statement_log(self, statement_date: str | None = None) -> pd.DataFrame:
        """Statements emailed (or claimed), oldest first; columns as ``_STATEMENT_SPEC``."""
        q = select(*[statement_log.c[c] for c in _STATEMENT_SPEC]).order_by(statement_log.c.id)
        if statement_date is not None:
            q = q.where(statement_log.c.statement_date == pd.Timestamp(statement_date).strftime("%Y-%m-%d"))
        with self._tx() as conn:
            rows = conn.execute(q).mappings().all()
        return _frame(rows, _STATEMENT_SPEC)

    def actions(self) -> pd.DataFrame:
        """The action ledger: action_id, kind, created_at, actor (one row per effective action)."""
        q = select(actions.c.action_id, actions.c.kind, actions.c.created_at, actions.c.actor) \
            .order_by(actions.c.created_at, actions.c.action_id)
        with self._tx() as conn:
            rows = conn.execute(q).mappings().all()
        return _frame(rows, {"action_id": "string", "kind": "string", "created_at": "ts", "actor": "string"})

    # ---- workspace imports (revision 0003) ----------------------------------------------

    def save_import(self, record: Mapping[str, Any], tables: Mapping[str, bytes], *, action_id: str,
                    actor: str) -> tuple[int, bool]:
        """Store an import and make it the workspace's current one; returns (import id, created).

        `record` holds the columns of ``imports`` (fingerprint, source_kind,
        source_label, files, options, mapping, layout_key, counts, notes, meta,
        n_lines, n_payments, n_quarantined; the ``*_json`` ones as Python
        values); `tables` the Parquet bytes of each table, stored in chunks of
        CHUNK_BYTES. An import with the same fingerprint already stored is not
        stored again: it becomes the current import again and (its id, False)
        is returned.
        """
        fingerprint = str(record["fingerprint"])
        request = {"fingerprint": fingerprint}

        def work(conn: Connection, now: datetime) -> dict[str, Any]:
            old = conn.execute(select(imports.c.id).where(imports.c.fingerprint == fingerprint)).scalar()
            if old is not None:
                self._point_current(conn, now, actor, action_id, int(old))
                return {"import_id": int(old), "created": False}
            values = {c: record[c] for c in ("fingerprint", "source_kind", "source_label", "layout_key",
                                             "n_lines", "n_payments", "n_quarantined")}
            for c in _IMPORT_JSON:
                value = record.get(c[:-len("_json")])
                values[c] = None if value is None and c == "mapping_json" else \
                    json.dumps(value, sort_keys=True, default=str)
            new_id = int(conn.execute(imports.insert().values(created_at=now, actor=actor, action_id=action_id,
                                                              **values)).inserted_primary_key[0])
            chunks = [{"import_id": new_id, "name": name, "seq": i // CHUNK_BYTES,
                       "data": blob[i:i + CHUNK_BYTES]}
                      for name, blob in tables.items() for i in range(0, max(len(blob), 1), CHUNK_BYTES)]
            if chunks:
                conn.execute(import_chunks.insert(), chunks)
            self._audit(conn, now, actor, action_id, "import", new_id, "create", None,
                        {k: v for k, v in values.items() if k != "notes_json"})
            self._point_current(conn, now, actor, action_id, new_id)
            return {"import_id": new_id, "created": True}

        result, _ = self._do("save_import", action_id, actor, request, work)
        return int(result["import_id"]), bool(result["created"])

    def _point_current(self, conn: Connection, now: datetime, actor: str, action_id: str, import_id: int) -> None:
        before = conn.execute(select(workspace_pointer.c.import_id)
                              .where(workspace_pointer.c.name == "current")).scalar()
        if before == import_id:
            return
        values = {"import_id": import_id, "updated_at": now, "updated_by": actor}
        if before is None:
            conn.execute(workspace_pointer.insert().values(name="current", **values))
        else:
            conn.execute(workspace_pointer.update().where(workspace_pointer.c.name == "current").values(**values))
        self._audit(conn, now, actor, action_id, "workspace", "current", "point",
                    None if before is None else {"import_id": before}, {"import_id": import_id})

    def set_current_import(self, import_id: int, *, action_id: str, actor: str) -> None:
        """Make a stored import the workspace's current one."""
        def work(conn: Connection, now: datetime) -> None:
            if conn.execute(select(imports.c.id).where(imports.c.id == int(import_id))).scalar() is None:
                raise StoreError(f"there is no import #{import_id}")
            self._point_current(conn, now, actor, action_id, int(import_id))

        self._do("set_current_import", action_id, actor, {"import_id": int(import_id)}, work)

    def current_import_id(self) -> int | None:
        """The workspace's current import (None while nothing was imported)."""
        with self._tx() as conn:
            value = conn.execute(select(workspace_pointer.c.import_id)
                                 .where(workspace_pointer.c.name == "current")).scalar()
        return None if value is None else int(value)

    def imports(self) -> pd.DataFrame:
        """The import history, newest first: id, created_at, actor, source_kind, source_label,
        fingerprint, n_lines, n_payments, n_quarantined, layout_key."""
        q = select(*[imports.c[c] for c in _IMPORT_SPEC]).order_by(imports.c.id.desc())
        with self._tx() as conn:
            rows = conn.execute(q).mappings().all()
        return _frame(rows, _IMPORT_SPEC)

    def import_record(self, import_id: int) -> dict[str, Any] | None:
        """One import's row, the ``*_json`` columns decoded (keys without the suffix)."""
        with self._tx() as conn:
            row = conn.execute(select(imports).where(imports.c.id == int(import_id))).mappings().first()
        if row is None:
            return None
        out = {k: v for k, v in row.items() if k not in _IMPORT_JSON}
        for c in _IMPORT_JSON:
            out[c[:-len("_json")]] = None if row[c] is None else json.loads(row[c])
        return out

    def previous_import_id(self, import_id: int) -> int | None:
        """The import stored just before `import_id` (None for the first)."""
        with self._tx() as conn:
            value = conn.execute(select(func.max(imports.c.id)).where(imports.c.id < int(import_id))).scalar()
        return None if value is None else int(value)

    def import_tables(self, import_id: int, names: Iterable[str] | None = None) -> dict[str, bytes]:
        """The stored bytes of each table of an import (chunks joined in order)."""
        q = (select(import_chunks.c.name, import_chunks.c.data).where(import_chunks.c.import_id == int(import_id))
             .order_by(import_chunks.c.name, import_chunks.c.seq))
        if names is not None:
            q = q.where(import_chunks.c.name.in_(list(names)))
        parts: dict[str, list[bytes]] = {}
        with self._tx() as conn:
            for name, data in conn.execute(q):
                parts.setdefault(name, []).append(bytes(data))
        return {name: b"".join(chunks) for name, chunks in parts.items()}

    def prune_imports(self, keep: int, *, action_id: str, actor: str) -> list[int]:
        """Delete all but the `keep` newest imports (the current one is always kept); returns the ids
        deleted. Actions (disputes, reminders) are keyed by line code and stay."""
        if not isinstance(keep, int) or keep < 1:
            raise ValueError("keep must be a whole number of at least 1")

        def work(conn: Connection, now: datetime) -> list[int]:
            ids = conn.execute(select(imports.c.id).order_by(imports.c.id.desc())).scalars().all()
            current = conn.execute(select(workspace_pointer.c.import_id)
                                   .where(workspace_pointer.c.name == "current")).scalar()
            doomed = [int(i) for i in ids[keep:] if i != current]
            if doomed:
                conn.execute(import_chunks.delete().where(import_chunks.c.import_id.in_(doomed)))
                conn.execute(imports.delete().where(imports.c.id.in_(doomed)))
                self._audit(conn, now, actor, action_id, "import", ",".join(map(str, doomed)), "prune",
                            None, {"deleted": doomed, "keep": keep})
            return doomed

        result, _ = self._do("prune_imports", action_id, actor, {"keep": keep}, work)
        return [int(i) for i in result]

    def mapping_record(self, source_key: str) -> dict[str, Any] | None:
        """A saved column mapping with when and by whom: {"mapping", "updated_at", "updated_by"}."""
        with self._tx() as conn:
            row = conn.execute(select(column_mappings.c.mapping_json, column_mappings.c.updated_at,
                                      column_mappings.c.updated_by)
                               .where(column_mappings.c.source_key == source_key)).first()
        if row is None:
            return None
        return {"mapping": json.loads(row[0]), "updated_at": row[1], "updated_by": row[2]}
    # ---- members and refusals (SPEC §14) ---------------------------------------------

    # ---- workspace settings -----------------------------------------------------------

    def setting(self, key: str, default: Any = None) -> Any:
        """The stored value of setting `key` (JSON: dict, list, str, number, bool), else `default`."""
        with self._tx() as conn:
            raw = conn.execute(select(workspace_settings.c.value_json)
                               .where(workspace_settings.c.key == key)).scalar_one_or_none()
        return default if raw is None else json.loads(raw)

    def save_setting(self, key: str, value: Any, *, action_id: str, actor: str) -> str:
        """Store `value` (JSON-serialisable) under `key`, audited (entity "setting"); replaying
        `action_id` changes nothing. Returns "create", "update" or "unchanged".
        The caller checks that `actor` may change settings (``services``)."""
        if not isinstance(key, str) or not key.strip() or len(key) > 100:
            raise ValueError("a setting key is a non-empty string of at most 100 characters")
        text_value = json.dumps(value, sort_keys=True)
        request = {"key": key, "value": text_value}

        def work(conn: Connection, now: datetime) -> str:
            old = conn.execute(select(workspace_settings.c.value_json)
                               .where(workspace_settings.c.key == key)).scalar_one_or_none()
            if old == text_value:
                return "unchanged"
            stamp = {"value_json": text_value, "updated_at": now, "updated_by": actor, "action_id": action_id}
            if old is None:
                conn.execute(workspace_settings.insert().values(key=key, **stamp))
            else:
                conn.execute(workspace_settings.update().where(workspace_settings.c.key == key).values(**stamp))
            self._audit(conn, now, actor, action_id, "setting", key, "create" if old is None else "update",
                        None if old is None else json.loads(old), value)
            return "create" if old is None else "update"

        result, _ = self._do("save_setting", action_id, actor, request, work)
        return result

    def members(self) -> pd.DataFrame:
        """The workspace's members, by pattern: pattern, role, created_at, created_by, updated_at,
        updated_by (``billing.roles.rules_from_members`` turns them into rules)."""
        q = select(*[members.c[c] for c in _MEMBER_SPEC]).order_by(members.c.pattern)
        with self._tx() as conn:
            rows = conn.execute(q).mappings().all()
        return _frame(rows, _MEMBER_SPEC)

    def _member_rules(self, conn: Connection) -> tuple[MemberRule, ...]:
        rows = conn.execute(select(members.c.pattern, members.c.role)).mappings().all()
        return rules_from_members(_frame(rows, {"pattern": "string", "role": "string"}))

    def set_member(self, pattern: str, role: str, *, action_id: str, actor: str,
                   fixed_rules: Sequence[MemberRule] = ()) -> dict[str, str]:
        """Add the member `pattern` (an address or ``@domain``) with `role`, or change their role.

        `fixed_rules` are the ``[roles]`` of the secrets: together with the
        members they must still name an admin afterwards
        (``billing.roles.validate_member_change``, checked in the transaction).
        Returns {"pattern", "role", "change": "create" | "update" | "unchanged"}.
        The caller checks that `actor` may change members (``services``).
        """
        pattern, new_role = normalise_pattern(pattern), parse_role(role)
        request = {"pattern": pattern, "role": str(new_role)}

        def work(conn: Connection, now: datetime) -> dict[str, str]:
            old = conn.execute(select(members).where(members.c.pattern == pattern)).mappings().first()
            if old is not None and old["role"] == str(new_role):
                return {**request, "change": "unchanged"}
            validate_member_change(tuple(fixed_rules) + self._member_rules(conn), pattern, new_role)
            stamp = {"updated_at": now, "updated_by": actor, "action_id": action_id, "role": str(new_role)}
            if old is None:
                conn.execute(members.insert().values(pattern=pattern, created_at=now, created_by=actor,
                                                     **stamp))
            else:
                conn.execute(members.update().where(members.c.pattern == pattern).values(**stamp))
            change = "create" if old is None else "update"
            self._audit(conn, now, actor, action_id, "member", pattern, change,
                        None if old is None else {"role": old["role"]}, {"role": str(new_role)})
            return {**request, "change": change}

        result, _ = self._do("set_member", action_id, actor, request, work)
        return result

    def remove_member(self, pattern: str, *, action_id: str, actor: str,
                      fixed_rules: Sequence[MemberRule] = ()) -> None:
        """Remove the workspace member `pattern` (audited). Members given by the secrets' ``[roles]``
        cannot be removed here, and neither can the last admin (RolesError says so)."""
        pattern = normalise_pattern(pattern)

        def work(conn: Connection, now: datetime) -> None:
            old = conn.execute(select(members).where(members.c.pattern == pattern)).mappings().first()
            if old is None:
                fixed = any(r.pattern == pattern for r in fixed_rules)
                raise RolesError(f"{pattern} comes from [roles] in the secrets: change it there"
                                 if fixed else f"{pattern} is not a member of this workspace")
            validate_member_change(tuple(fixed_rules) + self._member_rules(conn), pattern, None)
            conn.execute(members.delete().where(members.c.pattern == pattern))
            self._audit(conn, now, actor, action_id, "member", pattern, "remove", {"role": old["role"]}, None)
            return None

        self._do("remove_member", action_id, actor, {"pattern": pattern}, work)

    # ---- collections (SPEC §15): adjustments, promises, next actions ------------------------

    def record_adjustment(self, kind: str, *, action_id: str, actor: str, line_code: str, amount: int,
                          payment_id: str | None = None, reason: str | None = None, on: Any = None,
                          dispute_id: int | None = None) -> int:
        """Store an adjustment (``billing.adjustments.validate_new`` checks it; AdjustmentError);
        returns its id. Keyed by line code and payment id, so it applies to every later import."""
        fields = validate_new_adjustment(kind, line_code=line_code, amount=amount, payment_id=payment_id,
                                         reason=reason, on=on)
        request = {**fields, "dispute_id": dispute_id}

        def work(conn: Connection, now: datetime) -> dict[str, Any]:
            if dispute_id is not None and conn.execute(
                    select(disputes.c.id).where(disputes.c.id == int(dispute_id))).first() is None:
                raise AdjustmentError(f"there is no dispute #{dispute_id}")
            row = {"kind": fields["kind"], "line_code": fields["line_code"], "payment_id": fields["payment_id"],
                   "amount": fields["amount"], "on_date": fields["on"], "reason": fields["reason"],
                   "dispute_id": dispute_id, "status": "active", "created_at": now, "created_by": actor,
                   "action_id": action_id}
            new_id = int(conn.execute(adjustments.insert().values(**row)).inserted_primary_key[0])
            self._audit(conn, now, actor, action_id, "adjustment", new_id, "create", None,
                        {k: v for k, v in row.items() if k not in ("created_at", "action_id")})
            return {"adjustment_id": new_id}

        result, _ = self._do("record_adjustment", action_id, actor, request, work)
        return int(result["adjustment_id"])

    def cancel_adjustment(self, adjustment_id: int, *, action_id: str, actor: str) -> None:
        """Cancel an active adjustment (kept, audited; the engine no longer applies it)."""
        self._cancel(adjustments, "adjustment", adjustment_id, action_id=action_id, actor=actor)

    def _cancel(self, table: Table, entity: str, record_id: int, *, action_id: str, actor: str) -> None:
        def work(conn: Connection, now: datetime) -> None:
            row = conn.execute(select(table.c.status).where(table.c.id == int(record_id))).first()
            if row is None:
                raise StoreError(f"there is no {entity} #{record_id}")
            if row[0] == "cancelled":
                return None
            conn.execute(table.update().where(table.c.id == int(record_id))
                         .values(status="cancelled", cancelled_at=now, cancelled_by=actor))
            self._audit(conn, now, actor, action_id, entity, record_id, "cancel", {"status": row[0]},
                        {"status": "cancelled"})
            return None

        self._do(f"cancel_{entity}", action_id, actor, {"id": int(record_id)}, work)

    def adjustments(self, include_cancelled: bool = False) -> pd.DataFrame:
        """Adjustments by id: adjustment_id, kind, line_code, payment_id, amount, on (YYYY-MM-DD),
        reason, dispute_id, status, created_at, created_by, cancelled_at, cancelled_by."""
        q = select(adjustments.c.id.label("adjustment_id"), adjustments.c.kind, adjustments.c.line_code,
                   adjustments.c.payment_id, adjustments.c.amount, adjustments.c.on_date.label("on"),
                   adjustments.c.reason, adjustments.c.dispute_id, adjustments.c.status,
                   adjustments.c.created_at, adjustments.c.created_by, adjustments.c.cancelled_at,
                   adjustments.c.cancelled_by).order_by(adjustments.c.id)
        if not include_cancelled:
            q = q.where(adjustments.c.status == "active")
        with self._tx() as conn:
            rows = conn.execute(q).mappings().all()
        return _frame(rows, _ADJUSTMENT_SPEC)

    def record_promise(self, *, action_id: str, actor: str, customer_id: str, currency: str, amount: int,
                       promised_date: str, grace_days: int, line_codes: Sequence[str] = (),
                       note: str | None = None) -> int:
        """Store a promise to pay (fields checked by ``billing.promises.validate_promise``); its id."""
        request = {"customer_id": str(customer_id), "currency": str(currency), "amount": int(amount),
                   "promised_date": str(promised_date), "grace_days": int(grace_days),
                   "line_codes": sorted(map(str, line_codes)), "note": note}
        if request["amount"] <= 0 or request["grace_days"] < 0:
            raise ValueError("a promise needs a positive amount and grace days >= 0")

        def work(conn: Connection, now: datetime) -> dict[str, Any]:
            row = {"customer_id": request["customer_id"], "currency": request["currency"],
                   "amount": request["amount"], "promised_date": request["promised_date"],
                   "grace_days": request["grace_days"], "line_codes_json": json.dumps(request["line_codes"]),
                   "note": note, "status": "active", "created_at": now, "created_by": actor, "action_id": action_id}
            new_id = int(conn.execute(promises.insert().values(**row)).inserted_primary_key[0])
            self._audit(conn, now, actor, action_id, "promise", new_id, "create", None, request)
            return {"promise_id": new_id}

        result, _ = self._do("record_promise", action_id, actor, request, work)
        return int(result["promise_id"])

    def cancel_promise(self, promise_id: int, *, action_id: str, actor: str) -> None:
        """Cancel a promise (kept, audited; it pauses nothing any more)."""
        self._cancel(promises, "promise", promise_id, action_id=action_id, actor=actor)

    def promises(self, customer_id: str | None = None) -> pd.DataFrame:
        """Promises by id (``_PROMISE_SPEC`` columns + line_codes, a list per row)."""
        q = select(promises).order_by(promises.c.id)
        if customer_id is not None:
            q = q.where(promises.c.customer_id == str(customer_id))
        with self._tx() as conn:
            rows = [dict(r) for r in conn.execute(q).mappings().all()]
        for r in rows:
            r["promise_id"] = r.pop("id")
        out = _frame(rows, _PROMISE_SPEC)
        out["line_codes"] = pd.Series([json.loads(r["line_codes_json"]) for r in rows], dtype="object")
        return out

    def set_next_action(self, customer_id: str, *, action_id: str, actor: str, next_action_date: str | None,
                        collector: str | None, note: str | None = None) -> None:
        """Set (replace) a customer's next action date and collector (None: the customer's owner)."""
        cid = str(customer_id).strip()
        if not cid:
            raise ValueError("a next action belongs to a customer")
        request = {"customer_id": cid, "next_action_date": next_action_date,
                   "collector": (collector or "").strip() or None, "note": (note or "").strip() or None}

        def work(conn: Connection, now: datetime) -> None:
            old = conn.execute(select(next_actions).where(next_actions.c.customer_id == cid)).mappings().first()
            values = {**request, "updated_at": now, "updated_by": actor, "action_id": action_id}
            if old is None:
                conn.execute(next_actions.insert().values(**values))
            else:
                conn.execute(next_actions.update().where(next_actions.c.customer_id == cid).values(**values))
            before = None if old is None else {k: old[k] for k in ("next_action_date", "collector", "note")}
            self._audit(conn, now, actor, action_id, "next_action", cid, "set", before,
                        {k: request[k] for k in ("next_action_date", "collector", "note")})
            return None

        self._do("set_next_action", action_id, actor, request, work)

    def next_actions(self) -> pd.DataFrame:
        """Every customer's next action: customer_id, next_action_date, collector, note, updated_at/_by."""
        q = select(*[next_actions.c[c] for c in _NEXT_ACTION_SPEC]).order_by(next_actions.c.customer_id)
        with self._tx() as conn:
            rows = conn.execute(q).mappings().all()
        return _frame(rows, _NEXT_ACTION_SPEC)

    def record_refusal(self, *, actor: str, action: str, reason: str, attempted_action_id: str | None = None,
                       detail: Mapping[str, Any] | None = None) -> None:
        """An audit event (entity "permission", action "refused") for an action `actor` was not
        allowed to take, with the reason shown to them and what was attempted.

        A replayed request (the same `attempted_action_id`, e.g. a widget event sent
        again) is recorded once; without one, every call is its own event.
        """
        request = {"action": action, "attempted_action_id": attempted_action_id}
        refusal_id = ("refused-" + hashlib.sha256(f"{actor}|{attempted_action_id}".encode()).hexdigest()[:48]
                      if attempted_action_id else new_action_id())
        event = {**request, "reason": reason, "detail": _jsonable(dict(detail or {}))}

        def work(conn: Connection, now: datetime) -> None:
            self._audit(conn, now, actor, refusal_id, "permission", action, "refused", None, event)
            return None

        self._do("refusal", refusal_id, actor, request, work)

    # ---- bank payments (SPEC §17) --------------------------------------------------------

    def save_bank_payments(self, payments: pd.DataFrame, *, action_id: str, actor: str) -> dict[str, int]:
        """Store bank credits (columns BANK_PAYMENT_COLUMNS; booking_date/value_date as dates or
        YYYY-MM-DD) that are not stored yet, in one transaction: {"added": n, "already": m}. A payment
        id already stored (the same or an overlapping statement imported again) adds nothing."""
        frame = payments.loc[:, list(BANK_PAYMENT_COLUMNS)].copy()
        for c in ("booking_date", "value_date"):
            frame[c] = pd.to_datetime(frame[c]).dt.strftime("%Y-%m-%d")
        records = [{k: (None if pd.isna(v) else (int(v) if k == "amount" else str(v))) for k, v in r.items()}
                   for r in frame.to_dict("records")]
        ids = [r["payment_id"] for r in records]
        request = {"ids": hashlib.sha256("\n".join(ids).encode()).hexdigest(), "n": len(ids)}

        def work(conn: Connection, now: datetime) -> dict[str, int]:
            have: set[str] = set()
            for i in range(0, len(ids), 500):  # bounded IN lists
                have |= set(conn.execute(select(bank_payments.c.payment_id)
                                         .where(bank_payments.c.payment_id.in_(ids[i:i + 500]))).scalars())
            new = [dict(r, imported_at=now, imported_by=actor, action_id=action_id) for r in records
                   if r["payment_id"] not in have]
            if new:
                conn.execute(bank_payments.insert(), new)
            sources = sorted({r["source"] for r in records})
            self._audit(conn, now, actor, action_id, "bank_import", ",".join(sources)[:200], "import", None,
                        {"added": len(new), "already": len(have)})
            return {"added": len(new), "already": len(have)}

        result, _ = self._do("save_bank_payments", action_id, actor, request, work)
        return result

    def bank_payments(self) -> pd.DataFrame:
        """Every stored bank payment, in booking order; booking_date/value_date as datetime64."""
        q = select(*[bank_payments.c[c] for c in _BANK_SPEC]).order_by(bank_payments.c.booking_date,
                                                                      bank_payments.c.payment_id)
        with self._tx() as conn:
            rows = conn.execute(q).mappings().all()
        frame = _frame(rows, _BANK_SPEC)
        for c in ("booking_date", "value_date"):
            frame[c] = pd.to_datetime(frame[c], format="%Y-%m-%d")
        return frame

    def decide_bank_payment(self, payment_id: str, status: str, *, customer_id: str | None, reference: str | None,
                            write_off: int = 0, write_off_line: str | None = None, note: str | None = None,
                            learn_iban: str | None = None, action_id: str, actor: str) -> dict[str, Any]:
        """Record the clerk's decision on one bank payment: "confirmed" (to `customer_id`, paying
        `reference`; a `write_off` of the shortfall on `write_off_line`) or "left" unapplied. A later
        decision replaces the earlier (audited). `learn_iban` files the payer's IBAN under the customer."""
        if status not in ("confirmed", "left"):
            raise ValueError("status must be 'confirmed' or 'left'")
        if status == "confirmed" and not customer_id:
            raise ValueError("a confirmed bank payment needs its customer")
        if int(write_off) < 0:
            raise ValueError("a write-off is a positive amount of minor units")
        values = {"status": status, "customer_id": customer_id, "reference": reference, "write_off": int(write_off),
                  "write_off_line": write_off_line, "note": note}
        request = {"payment_id": payment_id, **values, "learn_iban": learn_iban}

        def work(conn: Connection, now: datetime) -> dict[str, Any]:
            if conn.execute(select(bank_payments.c.payment_id).where(bank_payments.c.payment_id == payment_id)
                            ).first() is None:
                raise ValueError(f"no bank payment {payment_id} in the workspace")
            key = bank_decisions.c.payment_id == payment_id
            before = conn.execute(select(bank_decisions).where(key)).mappings().first()
            row = dict(values, decided_at=now, decided_by=actor, action_id=action_id)
            if before is None:
                conn.execute(bank_decisions.insert().values(payment_id=payment_id, **row))
            else:
                conn.execute(bank_decisions.update().where(key).values(**row))
            learned = False
            if learn_iban and status == "confirmed":
                exists = conn.execute(select(bank_ibans.c.iban).where(and_(
                    bank_ibans.c.iban == learn_iban, bank_ibans.c.customer_id == customer_id))).first()
                if exists is None:
                    conn.execute(bank_ibans.insert().values(iban=learn_iban, customer_id=customer_id,
                                                            learned_from=payment_id, created_at=now,
                                                            created_by=actor, action_id=action_id))
                    learned = True
            self._audit(conn, now, actor, action_id, "bank_payment", payment_id, status,
                        None if before is None else {k: before[k] for k in values}, values)
            return {"payment_id": payment_id, "status": status, "learned_iban": learned}

        result, _ = self._do("decide_bank_payment", action_id, actor, request, work)
        return result

    def bank_version(self) -> str:
        """A short text that changes whenever bank payments or decisions change ("" while there are
        none): what a cache of the data with its bank payments is keyed by."""
        with self._tx() as conn:
            n, last = conn.execute(select(func.count(), func.max(bank_payments.c.imported_at))).one()
            m, decided = conn.execute(select(func.count(), func.max(bank_decisions.c.decided_at))).one()
        return "" if not n else f"{n}-{last}-{m}-{decided}"

    def bank_decisions(self) -> pd.DataFrame:
        with self._tx() as conn:
            rows = conn.execute(select(*[bank_decisions.c[c] for c in _DECISION_SPEC])
                                .order_by(bank_decisions.c.payment_id)).mappings().all()
        return _frame(rows, _DECISION_SPEC)

    def bank_ibans(self) -> pd.DataFrame:
        """IBAN -> customer pairs learned from confirmed bank payments."""
        with self._tx() as conn:
            rows = conn.execute(select(*[bank_ibans.c[c] for c in _IBAN_SPEC])
                                .order_by(bank_ibans.c.iban, bank_ibans.c.customer_id)).mappings().all()
        return _frame(rows, _IBAN_SPEC)
