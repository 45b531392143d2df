"""Which data the session looks at, the cached loaders, and the filtered engine results.

Every session opens on the workspace's current import (services.workspace):
its id is read from the store on every run (one small query), so an import
made in another session or on another server shows on the next rerun, and
after a restart. The Dataset is loaded from the stored normalised tables
(`load_import`, st.cache_data keyed by the store and the import id: never a
re-parse). While the workspace has no import the session looks at the demo,
in the sandbox (`workspace()`): its disputes and reminders go to a throwaway
store and nothing is sent.

The engine runs once per (data key, as-of, policy, disputes version) through
`services.analysis.analyse_period` (`period_for`, cached); the sidebar
filters are `services.analysis.restrict`, applied after it, so a filter
change never re-allocates. The disputes version is a digest of the set of
line codes in open dispute: opening, resolving or withdrawing a dispute
recomputes the analysis; moving one between open states does not.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from billing.analysis import Analysis
from billing.customers import customer_names as _names
from billing.customers import selected_customers as _selected
from billing.model import Dataset
from billing.policy import Policy
from services import workspace as ws_service
from services.analysis import Filters, Period, analyse_period, period_start, restrict
from services.context import Workspace

DEMO_SEED = 7
# The demo's size; LINEWISE_DEMO_LINES=100000 gives the large variant (bench/bench_pages.py).
DEMO_LINES = int(os.environ.get("LINEWISE_DEMO_LINES", "6000"))
DEMO_AS_OF = pd.Timestamp("2026-06-30")

FILTER_KEYS = ("f_customer", "f_segment", "f_owner", "f_currency", "f_as_of")
SEEN_DATA = "state_seen_data"  # session_state: the data key the filters were set for
STORE_ERROR = "store_error"  # session_state: why the store could not be read (shown in the sidebar)
NO_DISPUTES = "none"


@st.cache_data(show_spinner="Building the demo …", max_entries=4)
def load_demo(n_lines: int = DEMO_LINES, seed: int = DEMO_SEED) -> Dataset:
    """The demo normalised straight from its generated tables (billing.demo.demo_dataset): the same
    Dataset as its workbook written and read back through the upload path (tests/billing/test_demo.py),
    without writing and parsing a workbook on a cold start."""
    from billing.demo import demo_dataset

    return demo_dataset(seed=seed, n_lines=n_lines, as_of=f"{DEMO_AS_OF:%Y-%m-%d}")


@st.cache_resource(show_spinner="Opening the workspace's data …", max_entries=4)
def load_import(store_key: str, import_id: int, _ws: Workspace) -> tuple[Dataset, dict]:
    """An import's Dataset (from its stored tables) and record, cached per store and import id.

    One copy per process, shared by every session (st.cache_data would unpickle a fresh copy on
    every hit: 280 MB and 1.6 s per rerun for a 1M-line import); callers take `shared_view` of it.
    """
    return ws_service.load_import(_ws, import_id), _ws.store.import_record(import_id)


def shared_view(value):
    """A view of a result shared through st.cache_resource that its caller may treat as its own.

    DataFrames and Series become new objects over the same data (pandas copy-on-write: a change
    made to a view copies first and never reaches the shared value), dataclasses, dicts and lists
    new containers of views; anything else (scalars, tuples, pydantic models) is returned as is.
    Costs microseconds per frame, whatever its size.
    """
    if isinstance(value, (pd.DataFrame, pd.Series)):
        return value.copy(deep=False)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: shared_view(getattr(value, f.name))
                                             for f in dataclasses.fields(value) if f.init})
    if isinstance(value, dict):
        return {k: shared_view(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shared_view(v) for v in value]
    return value


def error_text(exc: BaseException) -> str:
    """An exception as one line for the user, any password in a URL masked."""
    from connectors.redact import redact

    return redact(f"{type(exc).__name__}: {exc}", one_line=True)


@dataclass
class Loaded:
    data: Dataset | None
    key: str
    label: str
    is_demo: bool
    error: str | None = None
    import_id: int | None = None
    record: dict | None = None


def _store_key(ws: Workspace) -> str:
    return hashlib.sha256(ws.store.display_url.encode()).hexdigest()[:12]


def current() -> Loaded:
    """The data the session looks at: the workspace's current import, else the demo (sandbox)."""
    from ui.store import team_workspace

    import_id = None
    try:
        team = team_workspace()
        import_id = team.store.current_import_id()
        st.session_state.pop(STORE_ERROR, None)
    except Exception as exc:  # noqa: BLE001 - the app must still draw (the sidebar says why)
        st.session_state[STORE_ERROR] = error_text(exc)
    if import_id is None:
        loaded = Loaded(load_demo(), f"demo-{DEMO_SEED}-{DEMO_LINES}", "Demo data", True)
    else:
        key = f"import-{_store_key(team)}-{import_id}"
        try:
            data, record = shared_view(load_import(_store_key(team), import_id, team))
        except Exception as exc:  # noqa: BLE001 - a damaged import is a message, not a traceback
            return Loaded(None, key, f"import #{import_id}", False, error=error_text(exc), import_id=import_id)
        loaded = Loaded(data, key, f"#{import_id} {record['source_label']}", False, import_id=import_id,
                        record=record)
    seen = st.session_state.get(SEEN_DATA)
    if seen != loaded.key:  # the data changed under this session: its own default date and filters
        if seen is not None:
            for k in FILTER_KEYS:
                st.session_state.pop(k, None)
        st.session_state[SEEN_DATA] = loaded.key
    return loaded


def team() -> Workspace:
    """The team's workspace (imports always go here: an upload is how a workspace leaves the demo)."""
    from ui.store import team_workspace

    return team_workspace()


def workspace() -> Workspace:
    """Where this session's actions go: the team's workspace, or the demo sandbox while it has no import."""
    from ui.store import sandbox, team_workspace

    return sandbox()[0] if current().is_demo else team_workspace()


def policy() -> Policy:
    return Policy(basis=st.session_state.get("f_basis", "due_date"))


def default_as_of(data: Dataset) -> pd.Timestamp:
    """Demo: its fixed date; own data: today, or the last activity when the data is older."""
    if current().is_demo:
        return DEMO_AS_OF
    dates = pd.concat([data.invoices["invoice_date"], data.payments["payment_date"]]).dropna()
    today = pd.Timestamp.today().normalize()
    return min(today, dates.max()) if len(dates) else today


def as_of(data: Dataset) -> pd.Timestamp:
    chosen = st.session_state.get("f_as_of")
    return pd.Timestamp(chosen).normalize() if chosen else default_as_of(data)


def dispute_lines() -> tuple[pd.DataFrame | None, str]:
    """The lines in open dispute of this session's workspace and their version for cache keys."""
    try:
        frame = workspace().store.open_dispute_lines()
    except Exception as exc:  # noqa: BLE001 - the dashboards must draw without the store
        st.session_state[STORE_ERROR] = error_text(exc)
        return None, "store-unavailable"
    if not len(frame):
        return None, NO_DISPUTES
    codes = sorted(set(frame["line_code"].dropna().astype(str)))
    return frame, hashlib.sha256("\n".join(codes).encode()).hexdigest()[:16]


@st.cache_resource(show_spinner="Allocating payments and aging …", max_entries=16)
def period_for(data_key: str, as_of: pd.Timestamp, policy_json: str, disputes_version: str,
               _data: Dataset, _disputes: pd.DataFrame | None) -> Period:
    """services.analysis.analyse_period on the whole dataset; `data_key` stands for `_data` and
    `disputes_version` for `_disputes` (neither is hashed). Shared by every session (one copy:
    st.cache_data would unpickle 700 MB per rerun on 1M lines); callers take `shared_view` of it."""
    return analyse_period(_data, as_of, Policy.model_validate_json(policy_json), _disputes)


def period(loaded: Loaded, when: pd.Timestamp | None = None) -> Period:
    """The cached period (unfiltered) as of `when` (default: the sidebar's as-of)."""
    when = as_of(loaded.data) if when is None else pd.Timestamp(when).normalize()
    disputes, version = dispute_lines()
    out = shared_view(period_for(loaded.key, when, policy().model_dump_json(), version, loaded.data, disputes))
    out.current.disputes_version = version  # (on this call's view) for `derived`'s cache key
    return out


def filters() -> Filters:
    """The sidebar's filters (customer labels turned into ids)."""
    from billing.customers import label_id

    def chosen(key: str) -> tuple[str, ...]:
        return tuple(sorted(map(str, st.session_state.get(key) or ())))

    return Filters(customers=tuple(label_id(c) for c in chosen("f_customer")), segments=chosen("f_segment"),
                   owners=chosen("f_owner"), currencies=chosen("f_currency"))


def period_view(loaded: Loaded) -> Period:
    """The period a dashboard draws: current and previous view, restricted to the sidebar filters."""
    out = period(loaded)
    version = out.current.disputes_version
    out = restrict(out, loaded.data, filters())
    out.current.disputes_version = version
    return out


def full_analysis(loaded: Loaded, when: pd.Timestamp | None = None, with_exceptions: bool = True) -> Analysis:
    """The cached engine result for all the data as of `when` (default: the sidebar's as-of)."""
    return period(loaded, when).current


def previous_period_end(loaded: Loaded, when: pd.Timestamp | None = None) -> pd.Timestamp:
    """as_of − policy.kpi_period_days: the date the KPI deltas compare with."""
    return period_start(as_of(loaded.data) if when is None else when, policy())


def view(loaded: Loaded, when: pd.Timestamp | None = None, with_exceptions: bool = True) -> Analysis:
    """The analysis a page draws: the cached period's current view, restricted to the sidebar filters."""
    if when is None:
        return period_view(loaded).current
    out = period(loaded, when)
    version = out.current.disputes_version
    view_ = restrict(out, loaded.data, filters()).current
    view_.disputes_version = version
    return view_


@st.cache_data(max_entries=32)
def _derived(name: str, source_key: str, as_of: pd.Timestamp, policy_json: str, filters: Filters,
             _build, _analysis: Analysis, disputes_version: str = "") -> pd.DataFrame:
    return _build(_analysis)


def derived(loaded: Loaded, analysis: Analysis, name: str, build) -> pd.DataFrame:
    """`build(analysis)` cached per (data, as-of, policy, sidebar filters, disputes): page tables that
    cost a join."""
    version = getattr(analysis, "disputes_version", None)
    if version is None:
        version = dispute_lines()[1]
    return _derived(name, loaded.key, analysis.as_of, analysis.policy.model_dump_json(), filters(), build,
                    analysis, version)


@st.cache_data(show_spinner="Rebuilding the aging at past month ends …", max_entries=16)
def history_for(source_key: str, dates: tuple[pd.Timestamp, ...], policy_json: str, _data: Dataset,
                customers: tuple[str, ...] | None = None) -> pd.DataFrame:
    """billing.aging.history at `dates` (long: as_of, currency, bucket, open, overdue),
    for all customers or only `customers`."""
    from billing.aging import history

    lines, payments = _data.invoices, _data.payments
    if customers is not None:
        lines = lines[lines["customer_id"].isin(customers).to_numpy(dtype=bool, na_value=False)]
        payments = payments[payments["customer_id"].isin(customers).to_numpy(dtype=bool, na_value=False)]
    return history(lines, payments, list(dates), Policy.model_validate_json(policy_json))


@st.cache_data(show_spinner="Matching orders to invoices …", max_entries=16)
def billing_lists_for(source_key: str, as_of: pd.Timestamp,
                      _data: Dataset) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(billing due, billing blocked) order lines as of `as_of`, from one order↔invoice matching
    (billing.reconcile.billing_lists)."""
    from billing.reconcile import billing_lists

    return billing_lists(_data.orders, _data.invoices, as_of)


@st.cache_data(max_entries=8)
def known_codes(source_key: str, _data: Dataset) -> dict[str, str]:
    """Canonical line code -> the line code as written, for every line (the line-code lookup)."""
    from billing.linecode import canonical_series

    codes = _data.invoices["line_code"].dropna()
    return dict(zip(canonical_series(codes).tolist(), codes.tolist()))


def customer_names(data: Dataset) -> pd.Series:
    """customer_id -> name (empty when the data has no customers table)."""
    return _names(data.customers)


def is_filtered() -> bool:
    return filters().active


def selected_customers(data: Dataset) -> set[str] | None:
    """Customer ids the sidebar filters keep, or None when nothing is filtered."""
    f = filters()
    return _selected(data.customers, f.customers, f.segments, f.owners)
