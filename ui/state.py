"""Which data the session looks at, the cached loaders, and the filtered engine results.

`st.cache_data` sits only on the loaders and on the engine call keyed by
(source key, as-of, policy, disputes version): a page rerun after a filter
change reuses both. Filters (customer, segment, owner, currency) are applied
after the engine, so they never invalidate the cache.

Disputes reach the engine from the action store (`Store.open_dispute_lines()`,
read on every run: it is one small query). Their lines are skipped by FIFO
allocation and flagged in_dispute in aging; the cache key carries a digest of
the set of line codes in open dispute, so opening, resolving or withdrawing a
dispute recomputes the analysis and moving a dispute between open states
(open → in_review → escalated) does not.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from billing.aging import rollup
from billing.analysis import Analysis, analyse
from billing.ingest import IngestOptions
from billing.model import Dataset
from billing.policy import Policy
from connectors.load import LoadError, load_uploads

DEMO_SEED = 7
# The demo's size; LINEWISE_DEMO_LINES=100000 gives the large variant (bench/bench_pages.py).
DEMO_LINES = int(os.environ.get("LINEWISE_DEMO_LINES", "6000"))
DEMO_AS_OF = pd.Timestamp("2026-06-30")

# session_state keys
SOURCE = "source"  # dict: kind ("demo" | "upload" | "gsheet"), files or url, options, label
FILTER_KEYS = ("f_customer", "f_segment", "f_owner", "f_currency", "f_as_of")


@st.cache_data(show_spinner="Building the demo workbook …", max_entries=4)
def load_demo(n_lines: int = DEMO_LINES, seed: int = DEMO_SEED) -> Dataset:
    """The demo, written to an in-memory workbook and read back through the upload path."""
    from connectors.export import write_demo_workbook

    buf = io.BytesIO()
    write_demo_workbook(buf, seed=seed, n_lines=n_lines)
    return load_uploads([("demo.xlsx", buf.getvalue())])


@st.cache_data(show_spinner="Reading your files …", max_entries=8)
def load_files(files: tuple[tuple[str, bytes], ...], options: IngestOptions) -> Dataset | str:
    """Uploaded files (name, bytes) as a Dataset, or the user-facing message when unreadable."""
    try:
        return load_uploads(list(files), options)
    except LoadError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - a reader bug must still reach the user as a message
        return (f"Linewise could not read {', '.join(n for n, _ in files)} ({type(exc).__name__}: {exc}). "
                "Check that the file opens in Excel, or download the template and copy your data into it.")


@st.cache_data(show_spinner="Allocating payments and aging …", max_entries=16)
def analysis_for(source_key: str, as_of: pd.Timestamp, policy_json: str, _data: Dataset,
                 with_exceptions: bool = True, disputes_version: str = "",
                 _disputes: pd.DataFrame | None = None) -> Analysis:
    """The engine on the whole dataset; `_data` is not hashed, `source_key` stands for it.

    `with_exceptions=False` skips reconciliation (the costly part) for the
    earlier dates only KPIs and aging are needed for (deltas, period starts).
    `_disputes` (line_code, status: the lines in open dispute) is not hashed
    either; `disputes_version` (``dispute_lines()``) stands for it.
    """
    return analyse(_data, as_of, Policy.model_validate_json(policy_json), _disputes,
                   with_exceptions=with_exceptions)


STORE_ERROR = "store_error"  # session_state: why the action store could not be read (shown in the sidebar)
NO_DISPUTES = "none"


def error_text(exc: BaseException) -> str:
    """An exception as one line for the user, any password in a URL masked."""
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: " + re.sub(r"://([^:/@\s]+):[^@\s]+@", r"://\1:***@", first)


def dispute_lines() -> tuple[pd.DataFrame | None, str]:
    """The lines in open dispute (``Store.open_dispute_lines()``) and their version for cache keys.

    The version is a digest of the set of line codes in open dispute: all the
    engine looks at. When the store cannot be read the dashboards still draw
    (without disputes) and the sidebar says why.
    """
    from ui.store import get_store

    try:
        frame = get_store().open_dispute_lines()
    except Exception as exc:  # noqa: BLE001 - the dashboards must draw without the store
        st.session_state[STORE_ERROR] = error_text(exc)
        return None, "store-unavailable"
    st.session_state.pop(STORE_ERROR, None)
    if not len(frame):
        return None, NO_DISPUTES
    codes = sorted(set(frame["line_code"].dropna().astype(str)))
    return frame, hashlib.sha256("\n".join(codes).encode()).hexdigest()[:16]


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
    """(billing due, billing blocked) order lines as of `as_of` (billing.reconcile)."""
    from billing.reconcile import billing_blocked, billing_due

    return (billing_due(_data.orders, _data.invoices, as_of),
            billing_blocked(_data.orders, _data.invoices, as_of))


@st.cache_data(max_entries=8)
def known_codes(source_key: str, _data: Dataset) -> dict[str, str]:
    """Canonical line code -> the line code as written, for every line (the line-code lookup)."""
    from billing.linecode import canonical_series

    codes = _data.invoices["line_code"].dropna()
    return dict(zip(canonical_series(codes).tolist(), codes.tolist()))


@dataclass
class Loaded:
    data: Dataset | None
    key: str
    label: str
    is_demo: bool
    error: str | None = None


def source_key(files: tuple[tuple[str, bytes], ...], options: IngestOptions) -> str:
    h = hashlib.sha256(repr(options).encode())
    for name, blob in files:
        h.update(name.encode())
        h.update(hashlib.sha256(blob).digest())
    return h.hexdigest()[:16]


def use_demo() -> None:
    st.session_state[SOURCE] = {"kind": "demo"}
    for key in FILTER_KEYS:
        st.session_state.pop(key, None)


def use_upload(files: list[tuple[str, bytes]], options: IngestOptions) -> None:
    files = tuple(files)
    st.session_state[SOURCE] = {"kind": "upload", "files": files, "options": options,
                                "label": ", ".join(name for name, _ in files),
                                "key": source_key(files, options)}
    for key in FILTER_KEYS:
        st.session_state.pop(key, None)


def use_gsheet(url: str, options: IngestOptions, label: str) -> None:
    """A Google Sheet becomes the session's data (read through ui.gsheets' cached loader)."""
    st.session_state[SOURCE] = {"kind": "gsheet", "url": url.strip(), "options": options, "label": label}
    for key in FILTER_KEYS:
        st.session_state.pop(key, None)


def current() -> Loaded:
    """The dataset the session is looking at (the demo until the user loads their own)."""
    src = st.session_state.get(SOURCE) or {"kind": "demo"}
    if src["kind"] == "gsheet":
        from ui import gsheets

        read = gsheets.load(src["url"], src["options"])
        key = gsheets.source_key(src["url"], src["options"], read.read_at)
        if read.data is None:
            return Loaded(None, key, src["label"], False, error=read.error)
        return Loaded(read.data, key, src["label"], False)
    if src["kind"] == "upload":
        result = load_files(src["files"], src["options"])
        key = src.get("key") or source_key(src["files"], src["options"])
        if isinstance(result, str):
            return Loaded(None, key, src["label"], False, error=result)
        return Loaded(result, key, src["label"], False)
    return Loaded(load_demo(), f"demo-{DEMO_SEED}-{DEMO_LINES}", "Demo data", True)


def policy() -> Policy:
    return Policy(basis=st.session_state.get("f_basis", "due_date"))


def default_as_of(data: Dataset) -> pd.Timestamp:
    """Demo: its fixed date; own data: today, or the last activity when the data is older."""
    if st.session_state.get(SOURCE, {}).get("kind", "demo") == "demo":
        return DEMO_AS_OF
    dates = pd.concat([data.invoices["invoice_date"], data.payments["payment_date"]]).dropna()
    today = pd.Timestamp.today().normalize()
    return min(today, dates.max()) if len(dates) else today


def as_of(data: Dataset) -> pd.Timestamp:
    chosen = st.session_state.get("f_as_of")
    return pd.Timestamp(chosen).normalize() if chosen else default_as_of(data)


def full_analysis(loaded: Loaded, when: pd.Timestamp | None = None, with_exceptions: bool = True) -> Analysis:
    """The cached engine result for the loaded data as of `when` (default: the sidebar's as-of)."""
    pol = policy()
    when = as_of(loaded.data) if when is None else pd.Timestamp(when).normalize()
    disputes, version = dispute_lines()
    analysis = analysis_for(loaded.key, when, pol.model_dump_json(), loaded.data, with_exceptions,
                            version, disputes)
    analysis.disputes_version = version  # (a copy per call) for `derived`'s cache key
    return analysis


def previous_period_end(loaded: Loaded, when: pd.Timestamp | None = None) -> pd.Timestamp:
    """as_of − policy.kpi_period_days: the date the KPI deltas compare with."""
    when = as_of(loaded.data) if when is None else when
    return when - pd.Timedelta(days=policy().kpi_period_days)


def view(loaded: Loaded, when: pd.Timestamp | None = None, with_exceptions: bool = True) -> Analysis:
    """The analysis a page draws: cached engine result, restricted to the sidebar filters.

    Filtered KPIs take their beginning AR from the cached analysis at the
    period start, so a filter change never re-runs the allocation.
    """
    analysis = full_analysis(loaded, when, with_exceptions)
    if not is_filtered():
        return analysis
    start = full_analysis(loaded, previous_period_end(loaded, analysis.as_of), with_exceptions=False)
    out = filtered(analysis, loaded.data, start_aging=start.aging)
    out.disputes_version = analysis.disputes_version
    return out


@st.cache_data(max_entries=32)
def _derived(name: str, source_key: str, as_of: pd.Timestamp, policy_json: str, filters: tuple,
             _build, _analysis: Analysis, disputes_version: str = "") -> pd.DataFrame:
    return _build(_analysis)


def derived(loaded: Loaded, analysis: Analysis, name: str, build) -> pd.DataFrame:
    """`build(analysis)` cached per (data, as-of, policy, sidebar filters, disputes): page tables that
    cost a join."""
    filters = tuple(tuple(sorted(map(str, st.session_state.get(k) or ()))) for k in FILTER_KEYS[:4])
    version = getattr(analysis, "disputes_version", None)
    if version is None:
        version = dispute_lines()[1]
    return _derived(name, loaded.key, analysis.as_of, analysis.policy.model_dump_json(), filters, build,
                    analysis, version)


def customer_names(data: Dataset) -> pd.Series:
    """customer_id -> name (empty when the data has no customers table)."""
    cust = data.customers
    if not len(cust):
        return pd.Series(dtype="string")
    return cust.drop_duplicates("customer_id").set_index("customer_id")["name"]


def is_filtered() -> bool:
    return any(st.session_state.get(k) for k in ("f_customer", "f_segment", "f_owner", "f_currency"))


def selected_customers(data: Dataset) -> set[str] | None:
    """Customer ids the sidebar filters keep, or None when nothing is filtered."""
    cust = data.customers
    keep = None
    for key, column in (("f_segment", "segment"), ("f_owner", "owner")):
        chosen = st.session_state.get(key) or []
        if chosen and column in cust:
            ids = set(cust.loc[cust[column].isin(chosen), "customer_id"].astype(str))
            keep = ids if keep is None else keep & ids
    chosen = st.session_state.get("f_customer") or []
    if chosen:
        ids = {c.split(" · ")[0] for c in chosen}
        keep = ids if keep is None else keep & ids
    return keep


def filtered(analysis: Analysis, data: Dataset, start_aging: pd.DataFrame | None = None) -> Analysis:
    """The analysis restricted to the sidebar's customers and currencies (rollups recomputed).

    `start_aging` (the unfiltered line aging as of the KPI period start) spares
    compute_kpis a re-allocation; without it the allocation is re-run.
    """
    customers = selected_customers(data)
    currencies = st.session_state.get("f_currency") or []
    if customers is None and not currencies:
        return analysis

    def keep(frame: pd.DataFrame) -> pd.DataFrame:
        mask = pd.Series(True, index=frame.index)
        if customers is not None and "customer_id" in frame:
            mask &= frame["customer_id"].astype(str).isin(customers)
        if currencies and "currency" in frame:
            mask &= frame["currency"].isin(currencies)
        return frame[mask]

    alloc = analysis.alloc
    sub_alloc = type(alloc)(**{f: keep(getattr(alloc, f)) if isinstance(getattr(alloc, f), pd.DataFrame)
                               and len(getattr(alloc, f).columns) else getattr(alloc, f)
                               for f in alloc.__dataclass_fields__})
    aging = keep(analysis.aging)
    pol = analysis.policy
    from billing.kpis import compute_kpis

    lines = (data.invoices[data.invoices["customer_id"].astype(str).isin(customers)]
             if customers is not None else data.invoices)
    kpis = compute_kpis(lines, sub_alloc, aging, analysis.as_of, pol,
                        aging_at_start=keep(start_aging) if start_aging is not None else None,
                        payments=keep(data.payments))
    if currencies and len(kpis):
        kpis = kpis[kpis["currency"].isin(currencies)]
    return Analysis(analysis.as_of, pol, sub_alloc, aging,
                    rollup(aging, ["customer_id", "currency"], sub_alloc.unapplied, pol),
                    rollup(aging, ["currency"], sub_alloc.unapplied, pol), kpis, keep(analysis.exceptions))
