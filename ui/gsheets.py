"""Google Sheets in the app: the connection, the cached read of a connected sheet, writing codes back.

The Data page connects a sheet (`connect`) and imports the read into the
workspace (services.workspace.import_sheet); Refresh reads it again and
imports what changed. The session remembers which sheet it connected
(``{"url", "options"}``) for Refresh and the write-back.

Quotas and caching: `_read` (st.cache_data, ttl=TTL) wraps the connection's
own cached reader (`GSheetsConnection.read_workbook`, same ttl: two API calls
per read) and the normalisation, and returns a `SheetRead`: the Dataset plus
the small things the page shows (worksheet → table matches, title), never the
raw cells. A failed read is cached as its message too, so a quota error is not
retried on every rerun of every page: **Refresh** (`refresh`) forgets every
cached read, **Connect** retries a cached failure of its URL. `read_at` (when
the sheet was read) goes into the source key, so the engine's caches follow a
re-read.

Tests replace `get_gsheets_connection` (the only place the connection is made)
with a GSheetsConnection over a canned transport.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import streamlit as st

from billing.ingest import IngestOptions, SchemaError, build_dataset
from billing.model import Dataset, RawWorkbook
from connectors.gsheets import (DEFAULT_TTL, HOW_TO, GSheetsConnection, SheetsWorkbook, SourceError,
                                WriteResult, worksheet_matches)

TTL = DEFAULT_TTL  # seconds a read stays cached (10 minutes)
CONNECTION_NAME = "gsheets"  # [connections.gsheets] in .streamlit/secrets.toml


def get_gsheets_connection() -> GSheetsConnection:
    """The app's Google Sheets connection (credentials from [connections.gsheets], if any)."""
    return st.connection(CONNECTION_NAME, type=GSheetsConnection)


@dataclass
class SheetRead:
    """One read of a spreadsheet as the app uses it. `data` is None when it could not be read."""

    url: str
    read_at: float
    data: Dataset | None = None
    error: str | None = None
    title: str = ""
    key: str = ""
    public: bool = False
    matches: pd.DataFrame = field(default_factory=pd.DataFrame)  # worksheet_matches()
    raw: RawWorkbook | None = None  # the cells read (what an import of this read stores)

    @property
    def label(self) -> str:
        return f"{self.title or self.key or 'Google Sheet'} (Google Sheet)"


def _connection_id(conn: Any) -> str:
    """Which connection a cached read came through: the process's st.connection object is one
    long-lived resource, so its identity (with its type) tells connections apart."""
    return f"{type(conn).__qualname__}@{id(conn):x}"


@st.cache_data(ttl=TTL, show_spinner="Reading the Google Sheet …", max_entries=16)
def _read(url: str, options: IngestOptions, connection_id: str, _conn: Any) -> SheetRead:
    """Read and normalise (cached); any failure is returned as its message, never raised."""
    now = time.time()
    raw: SheetsWorkbook | None = None
    try:
        raw = _conn.read_workbook(url, ttl=TTL)
        data = build_dataset(raw, options)
    except (SourceError, SchemaError) as exc:
        message = getattr(exc, "message", None) or str(exc)
        if isinstance(exc, SchemaError) and raw is not None and raw.public:
            message += (" Without a service account Linewise reads only the worksheets whose gid is in the "
                        "URL (or the first one): add each table's gid, e.g. ...#gid=0,123456, or set up a "
                        f"service account so every worksheet is read (see {HOW_TO}).")
        return _failed(url, now, message, raw)
    except Exception as exc:  # noqa: BLE001 - a reader bug must still reach the user as a message
        return _failed(url, now, f"Reading the Google Sheet failed ({type(exc).__name__}: {exc}).", raw)
    return SheetRead(url=url, read_at=now, data=data, title=raw.title, key=raw.key, public=raw.public,
                     matches=worksheet_matches(raw, data), raw=raw)


def _failed(url: str, now: float, message: str, raw: SheetsWorkbook | None) -> SheetRead:
    if raw is None:
        return SheetRead(url=url, read_at=now, error=message)
    return SheetRead(url=url, read_at=now, error=message, title=raw.title, key=raw.key, public=raw.public,
                     matches=worksheet_matches(raw, None))


def load(url: str, options: IngestOptions, conn: Any = None) -> SheetRead:
    """The sheet at `url`, read through the caches (at most one read per TTL, or until Refresh)."""
    url = url.strip()
    if conn is None:
        try:
            conn = get_gsheets_connection()
        except Exception as exc:  # noqa: BLE001 - e.g. a malformed secrets.toml
            return SheetRead(url=url, read_at=time.time(),
                             error=f"The Google Sheets connection could not be set up ({type(exc).__name__}: "
                                   f"{exc}). Check [connections.gsheets] in .streamlit/secrets.toml "
                                   f"({HOW_TO}).")
    return _read(url, options, _connection_id(conn), conn)


def connect(url: str, options: IngestOptions, conn: Any = None) -> SheetRead:
    """`load` for the Connect button: a cached read is reused, a cached failure is tried again."""
    conn = conn if conn is not None else get_gsheets_connection()
    url = url.strip()
    asked = time.time()
    read = load(url, options, conn)
    if read.data is None and read.read_at < asked:  # an old failure (e.g. before the sheet was shared)
        _read.clear(url, options, _connection_id(conn), conn)
        read = load(url, options, conn)
    return read


def refresh(conn: Any = None) -> None:
    """Forget every cached read (the connection's and ours): the next `load` reads the sheet again."""
    try:
        conn = conn if conn is not None else get_gsheets_connection()
        conn.clear_cache()
    finally:
        _read.clear()


def plan_write(url: str, options: IngestOptions, data: Dataset, conn: Any = None) -> WriteResult:
    """A dry run of the write-back: what would be written (reads the sheet again; writes nothing)."""
    conn = conn if conn is not None else get_gsheets_connection()
    return conn.write_codes(url, data, options=options, dry_run=True)


def write(url: str, options: IngestOptions, data: Dataset, conn: Any = None, *, action_id: str) -> WriteResult:
    """Write the codes of `data` into the sheet as the acting user (services.actions.write_codes_back:
    finance or admin; only empty cells; SheetChangedError when it changed)."""
    from services.actions import write_codes_back
    from ui.state import team
    from ui.store import current_actor

    conn = conn if conn is not None else get_gsheets_connection()
    result = write_codes_back(team(), current_actor(), conn, url, data, options, action_id=action_id)
    if result.written:
        _read.clear()  # the connection forgot its reads too: the codes are read back as the sheet's own
    return result
