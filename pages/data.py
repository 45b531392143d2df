"""Data: where the numbers come from, and what came out.

Upload a workbook (xlsx, xlsm, xls, ods) or several CSV files, see the
validation report (rows read, accepted and quarantined per table, every
quarantined cell with its sheet, row, column, value and reason), map columns
by hand when automatic matching misses one, download the template to fill
in, and export the results: the XLSX report and the line codes written back
into a copy of the uploaded workbook.

Sections are small `render_*` functions drawn in order at the bottom; a
source other than an upload (e.g. a Google Sheet) is one more section that
hands (name, bytes) files or a Dataset to the same processing.
"""

import io
from dataclasses import replace

import pandas as pd
import streamlit as st

from billing.ingest import IngestOptions
from billing.model import Dataset
from connectors.export import write_demo_workbook
from connectors import writeback
from ui import common, exports, mapping, state
from ui.tables import plain_table

ACCEPTED_TYPES = ["xlsx", "xlsm", "xls", "ods", "csv"]
PENDING = "data_pending_upload"  # session_state: [(name, bytes)] handed over by code (tests, connectors)
LAST = "data_last_upload"  # session_state: {"files", "options", "error"} of the upload reported below
SEEN = "data_seen_upload"  # session_state: identity of the uploader's files already processed
DECIMALS = {"Detect": None, "1,234.50 (point)": ".", "1.234,50 (comma)": ","}
DATE_ORDERS = {"Detect": "auto", "day/month/year": "dmy", "month/day/year": "mdy", "year/month/day": "ymd"}


# --------------------------------------------------------------------------- processing


def reading_options() -> IngestOptions:
    """How to read uploads (sidebar-independent; remembered for the session)."""
    with st.expander("Reading options", icon=":material/tune:"):
        cols = st.columns(4)
        currency = cols[0].text_input(
            "Default currency",
            value="USD",
            key="data_opt_currency",
            max_chars=3,
            persist_state="session",
            help="For rows with no currency and no customer currency.",
        )
        decimal = cols[1].selectbox(
            "Decimal separator", list(DECIMALS), key="data_opt_decimal", persist_state="session"
        )
        order = cols[2].selectbox(
            "Date order",
            list(DATE_ORDERS),
            key="data_opt_date_order",
            persist_state="session",
            help="For dates like 05/03/2024.",
        )
        terms = cols[3].number_input(
            "Payment terms (days)",
            min_value=0,
            max_value=365,
            value=30,
            step=1,
            key="data_opt_terms",
            persist_state="session",
            help="Due date = invoice date + terms when the sheet has none.",
        )
    return IngestOptions(
        default_currency=(currency or "USD").strip().upper(),
        default_terms_days=int(terms),
        decimal=DECIMALS.get(decimal),
        date_order=DATE_ORDERS.get(order, "auto"),
    )


def too_large(files: list[tuple[str, bytes]]) -> str | None:
    size = sum(len(blob) for _, blob in files)
    if size > state.MAX_UPLOAD_MB * 1024 * 1024:
        return (
            f"The upload is {size / 1024 / 1024:,.1f} MB; the limit is {state.MAX_UPLOAD_MB} MB. "
            "Split the workbook (e.g. one CSV per table) or remove old years."
        )
    return None


def usable(result: Dataset | str) -> bool:
    return isinstance(result, Dataset) and result.counts["invoices"].accepted > 0


def process_upload(files: list[tuple[str, bytes]], options: IngestOptions) -> None:
    """Read uploaded (name, bytes) files; on success the whole app switches to them (and reruns).

    The report below is always about the last files processed, readable or
    not. The file uploader and any other source (tests, connectors) call this.
    """
    message = too_large(files)
    if message:
        st.session_state[LAST] = {"files": (), "options": options, "error": message}
        return
    remembered = mapping.remembered(files)
    if remembered:
        options = replace(options, mapping=remembered)
    files = tuple((name, bytes(blob)) for name, blob in files)
    size = sum(len(b) for _, b in files) / 1024 / 1024
    with st.status(f"Reading {len(files)} file(s), {size:,.1f} MB …", expanded=False) as status:
        st.write("Finding the tables, header rows and columns; converting every cell …")
        result = state.load_files(files, options)
        if isinstance(result, str):
            status.update(label="The files could not be read", state="error")
        else:
            n = sum(c.read for c in result.counts.values())
            q = sum(c.quarantined for c in result.counts.values())
            st.write(f"{n:,} rows read, {q:,} quarantined.")
            status.update(label=f"Read {n:,} rows from {len(files)} file(s)", state="complete")
    st.session_state[LAST] = {"files": files, "options": options, "error": None}
    if usable(result):
        state.use_upload(list(files), options)
        st.rerun()  # the sidebar (drawn before this page) and every page now read the upload


def last_result() -> tuple[dict | None, Dataset | str | None]:
    last = st.session_state.get(LAST)
    if not last:
        return None, None
    if last.get("error"):
        return last, last["error"]
    return last, state.load_files(last["files"], last["options"])


# --------------------------------------------------------------------------- sections


def render_current(loaded: state.Loaded) -> None:
    st.subheader("Current data")
    if loaded.is_demo:
        st.markdown(
            ":material/science: **Demo data.** The dashboards show the demo workbook, a generated sample "
            "with every kind of exception. Upload your own workbook below."
        )
    elif loaded.data is None:
        st.error(f"**{loaded.label}**: {loaded.error}")
    else:
        data = loaded.data
        st.markdown(
            f"The dashboards show **{loaded.label}**: {data.counts['invoices'].accepted:,} invoice lines, "
            f"{data.counts['payments'].accepted:,} payments."
        )
    if not loaded.is_demo and st.button(
        "Back to the demo data", key="data_use_demo", icon=":material/science:"
    ):
        state.use_demo()
        st.session_state.pop(LAST, None)
        st.rerun()


def render_upload() -> None:
    st.subheader("Upload")
    options = reading_options()
    uploads = st.file_uploader(
        "Workbook or CSV files",
        type=ACCEPTED_TYPES,
        accept_multiple_files=True,
        key="data_upload",
        max_upload_size=state.MAX_UPLOAD_MB,
        help="One workbook with a sheet per table (customers, orders, invoices, payments, "
        "fx_rates), or one CSV file per table.",
    )
    pending = st.session_state.pop(PENDING, None)
    if pending:
        process_upload(list(pending), options)
    elif uploads:
        files = [(f.name, f.getvalue()) for f in uploads]
        seen = state.source_key(tuple(files), options)  # new files or new reading options: read again
        if seen != st.session_state.get(SEEN):
            st.session_state[SEEN] = seen
            process_upload(files, options)


def render_outcome(result: Dataset | str, last: dict) -> None:
    if isinstance(result, str):
        st.error(result, icon=":material/error:")
        st.caption(
            "Nothing was loaded; the dashboards still show the previous data. Check that the file opens in "
            "Excel or LibreOffice, or download the template below to see the layout Linewise expects."
        )
        return
    inv = result.counts["invoices"]
    if inv.read == 0:
        st.error(
            "The invoices sheet was found but has no rows under its header. Put one invoice line per row "
            "below the header (the template shows the columns), then upload again.",
            icon=":material/error:",
        )
    elif inv.accepted == 0:
        st.error(
            f"None of the {inv.read:,} invoice rows could be read: each is listed below with the reason. "
            "Fix those cells and upload again, or check the reading options (decimal separator, date "
            "order).",
            icon=":material/error:",
        )
    else:
        quarantined = sum(c.quarantined for c in result.counts.values())
        note = f" {quarantined:,} row(s) were quarantined and left out; see below." if quarantined else ""
        st.success(
            f"Loaded {inv.accepted:,} invoice lines and {result.counts['payments'].accepted:,} payments "
            f"from {', '.join(n for n, _ in last['files'])}. Every page now shows this data.{note}",
            icon=":material/check_circle:",
        )
        st.page_link("pages/overview.py", label="Go to the Overview", icon=":material/dashboard:")


def render_mapping(last: dict) -> None:
    """The editor, when the reader worked but a table or a required column was not recognised."""
    files = last.get("files") or ()
    if not files:
        return
    raw = mapping.raw_workbook(files)
    if isinstance(raw, str):
        return
    current = mapping.remembered(files)
    missing = mapping.unresolved(raw, current)
    if not missing:
        return
    st.subheader("Column mapping")
    st.caption(
        "Linewise did not recognise everything it needs. Point at the sheet and the header of each "
        "required column; the choice is remembered for these files during this session."
    )
    new = mapping.render_editor(raw, missing, current)
    if new is not None:
        mapping.remember(files, new)
        st.session_state[PENDING] = list(files)
        st.rerun()


def render_report(result: Dataset) -> None:
    st.subheader("Validation report")
    counts = pd.DataFrame(
        [
            {
                "table": t,
                "read": c.read,
                "accepted": c.accepted,
                "quarantined": c.quarantined,
                "sheet": result.sheet_map.get(t, ""),
            }
            for t, c in result.counts.items()
        ]
    )
    st.dataframe(
        counts,
        hide_index=True,
        key="data_counts",
        column_config={
            "table": "Table",
            "sheet": "Sheet",
            "read": st.column_config.NumberColumn("Rows read", format="%d"),
            "accepted": st.column_config.NumberColumn("Accepted", format="%d"),
            "quarantined": st.column_config.NumberColumn("Quarantined", format="%d"),
        },
    )
    q = result.quarantine
    if len(q):
        st.markdown(f"**Quarantined cells ({len(q):,})** — these rows were left out; fix them in the file.")
        plain_table(q, key="data_quarantine")
        with st.container(horizontal=True):
            st.download_button(
                "Download quarantine (CSV)",
                lambda: exports.csv_bytes(q),
                key="data_quarantine_csv",
                file_name="quarantine.csv",
                mime=exports.CSV_MIME,
                icon=":material/download:",
                on_click="ignore",
            )
            st.download_button(
                "Download quarantine (XLSX)",
                lambda: exports.xlsx_bytes({"quarantine": q}),
                key="data_quarantine_xlsx",
                file_name="quarantine.xlsx",
                mime=exports.XLSX_MIME,
                icon=":material/download:",
                on_click="ignore",
            )
    else:
        st.markdown("No row was quarantined.")
    if result.notes:
        with st.expander(f"Skipped rows and sheets ({len(result.notes)})"):
            notes = pd.DataFrame(
                [{"sheet": n.sheet, "row": n.row, "kind": n.kind, "text": n.text} for n in result.notes]
            )
            plain_table(notes, key="data_notes")


def render_template() -> None:
    st.subheader("Template")
    st.caption(
        "An empty workbook with one sheet per table, the required columns highlighted and an "
        "instructions sheet."
    )
    st.download_button(
        "Download the template (XLSX)",
        exports.template_bytes,
        file_name="linewise_template.xlsx",
        mime=exports.XLSX_MIME,
        key="data_template",
        icon=":material/download:",
        on_click="ignore",
    )


def render_exports(loaded: state.Loaded) -> None:
    st.subheader("Export results")
    if loaded.data is None:
        st.caption("Load data first.")
        return
    analysis = state.full_analysis(loaded)
    stamp = analysis.as_of.strftime("%Y-%m-%d")
    st.caption(f"As of {stamp}, all customers and currencies (the sidebar filters do not apply to exports).")
    with st.container(horizontal=True):
        st.download_button(
            "Download the report (XLSX)",
            lambda: exports.report_bytes(loaded.data, analysis),
            file_name=f"linewise_report_{stamp}.xlsx",
            mime=exports.XLSX_MIME,
            key="data_report",
            icon=":material/download:",
            on_click="ignore",
        )
        src = st.session_state.get(state.SOURCE) or {"kind": "demo"}
        if src.get("kind") in ("upload", "demo"):
            st.download_button(
                "Download the workbook with line codes (XLSX)",
                lambda: writeback.codes_workbook(*source_files(src), loaded.data),
                file_name="with_line_codes.xlsx",
                mime=exports.XLSX_MIME,
                key="data_codes",
                icon=":material/download:",
                on_click="ignore",
                help="A copy of your upload (values only) with each invoice line's code in a "
                "line_code column.",
            )


def source_files(src: dict) -> tuple[tuple[tuple[str, bytes], ...], IngestOptions]:
    """The files behind the current data (the demo workbook is rebuilt, it is deterministic)."""
    if src.get("kind") == "upload":
        return src["files"], src["options"]
    buf = io.BytesIO()
    write_demo_workbook(buf, seed=state.DEMO_SEED, n_lines=state.DEMO_LINES)
    return (("demo.xlsx", buf.getvalue()),), IngestOptions()


# --------------------------------------------------------------------------- page

common.ensure_app_navigation()
st.title("Data")
current_section = st.container()  # drawn last: an upload below may switch the source first
render_upload()
loaded = state.current()
with current_section:
    render_current(loaded)
last, result = last_result()
if last is not None:
    st.divider()
    render_outcome(result, last)
    if isinstance(result, str):
        render_mapping(last)
    else:
        render_report(result)
# A "Connect a Google Sheet" section goes here: it hands its Dataset or files to the same processing.
st.divider()
render_template()
render_exports(loaded)
