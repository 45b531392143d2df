"""Data: where the numbers come from, and what came out.

Upload a workbook (xlsx, xlsm, xls, ods) or several CSV files, see the
validation report (rows read, accepted and quarantined per table, every
quarantined cell with its sheet, row, column, value and reason), map columns
by hand when automatic matching misses one, download the template to fill
in, and export the results: the XLSX report and the line codes written back
into a copy of the uploaded workbook.

Connect a Google Sheet: paste its address; the page says which worksheet
became which table, shows the same validation report as for uploads, reads
the sheet again on Refresh (reads are cached for 10 minutes: Google's quota),
and writes the line codes into the sheet after a dry run and a confirmation
(ui.gsheets, connectors.gsheets; set-up in docs/GSHEETS.md).

Sections are small `render_*` functions drawn in order at the bottom.
"""

import io
import time
from dataclasses import replace

import pandas as pd
import streamlit as st

from billing.ingest import IngestOptions
from billing.model import Dataset
from connectors.export import write_demo_workbook
from connectors import writeback
from connectors.gsheets import SourceError, parse_sheet_url
from connectors.guard import check_upload_size, read_limits
from billing.roles import Action
from services import workspace
from services.context import NotAllowed
from services.workspace import STORED, UNCHANGED, UNREADABLE, ImportResult
from ui import auth, collections_view, common, exports, gsheets, mapping, state
from ui.store import action_id, current_actor, done
from ui.tables import plain_table
from ui.i18n import t
from ui.text import plain

ACCEPTED_TYPES = ["xlsx", "xlsm", "xls", "ods", "csv"]
PENDING = "data_pending_upload"  # session_state: [(name, bytes)] handed over by code (tests, connectors)
LAST = "data_last_upload"  # session_state: {"files": names, "result": ImportResult} of the import reported below
UPLOADER = "data_uploader_generation"  # session_state: bumped to give a refused upload's files up
SEEN = "data_seen_upload"  # session_state: identity of the uploader's files already processed
RETRY = "data_retry_files"  # session_state: [(name, bytes)] of an unreadable upload, for a mapping re-read
GSHEET_SOURCE = "data_gsheet_source"  # session_state: {"url", "options"} of the sheet this session connected
GSHEET_URL = "data_gsheet_url"  # the sheet address text input
GSHEET_FAILED = "data_gsheet_failed"  # session_state: message or SheetRead of a Connect that loaded nothing
GSHEET_CONFIRM = "data_gsheet_confirm"  # session_state: the dry run the confirmation dialog shows
GSHEET_OUTCOME = "data_gsheet_outcome"  # session_state: (kind, text) of the last write-back step
GSHEET_WRITTEN = "data_gsheet_written"  # session_state: {action id: outcome} of write-backs carried out
WRITE_ACTION = "gsheet_write"  # ui.store.action_id purpose of one confirmed write-back
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


def too_large(files: list[tuple[str, int]]) -> str | None:
    """Why an upload of (name, size in bytes) files is refused, or None (the limit is for all together)."""
    try:
        check_upload_size(files, read_limits())
    except SourceError as exc:
        return exc.message
    return None


def process_upload(files: list[tuple[str, bytes]], options: IngestOptions) -> None:
    """Import uploaded (name, bytes) files into the workspace; once stored, every page, every session
    and every server shows them (the page reruns). The report below is about the last files processed,
    stored or not. The file uploader and any other source (tests, connectors) call this."""
    message = too_large([(name, len(blob)) for name, blob in files])
    if message:
        st.session_state[LAST] = {"files": tuple(n for n, _ in files), "result": ImportResult(UNREADABLE, message)}
        return
    files = [(name, bytes(blob)) for name, blob in files]
    size = sum(len(b) for _, b in files) / 1024 / 1024
    with st.status(f"Reading {len(files)} file(s), {size:,.1f} MB …", expanded=False) as status:
        st.write("Finding the tables, header rows and columns; converting every cell …")
        try:
            result = workspace.import_files(state.team(), current_actor(), files, options)
        except NotAllowed as exc:  # refused (and audited) before anything was read or stored
            status.update(label="Not imported", state="error")
            auth.refusal(exc)
            return
        label = {STORED: "Imported", UNCHANGED: "Already imported"}.get(result.status, "Nothing was imported")
        status.update(label=f"{label}: {', '.join(n for n, _ in files)}",
                      state="error" if result.status == UNREADABLE else "complete")
    st.session_state[LAST] = {"files": tuple(n for n, _ in files), "result": result}
    if result.status == UNREADABLE and result.raw is not None:
        st.session_state[RETRY] = files  # kept for a re-read with a mapping chosen below
    else:
        st.session_state.pop(RETRY, None)
    if result.stored:
        st.rerun()  # the sidebar (drawn before this page) and every page now read the import


# --------------------------------------------------------------------------- sections


def render_current(loaded: state.Loaded) -> None:
    st.subheader("Current data")
    if loaded.is_demo:
        st.markdown(
            ":material/science: **Demo data (a sandbox).** The workspace has no import yet, so the dashboards "
            "show a generated sample with every kind of exception. Nothing is sent from it and what you do on "
            "it is not kept with your team's records. Upload your own workbook below: it becomes the data "
            "everyone on the team sees."
        )
    elif loaded.data is None:
        st.error(f"**{plain(loaded.label)}**: {plain(loaded.error)}")
    else:
        rec, data = loaded.record or {}, loaded.data
        who = f" by {rec['actor']}" if rec.get("actor") else ""
        st.markdown(
            f"Everyone sees import **{plain(loaded.label)}**: {data.counts['invoices'].accepted:,} invoice lines, "
            f"{data.counts['payments'].accepted:,} payments, imported {workspace.imported_at(rec)}{plain(who)}."
        )


def uploader_key() -> str:
    """The uploader's key: "data_upload", then a new one after each refused upload (drops its files)."""
    generation = st.session_state.get(UPLOADER, 0)
    return "data_upload" if not generation else f"data_upload_{generation}"


def render_upload() -> IngestOptions:
    st.subheader("Upload")
    options = reading_options()
    refused = auth.blocked(Action.IMPORT)  # drawing only: services.workspace checks again
    if refused:
        st.info(plain(refused), icon=":material/lock:")
    uploads = st.file_uploader(
        "Workbook or CSV files",
        type=ACCEPTED_TYPES,
        accept_multiple_files=True,
        key=uploader_key(),
        max_upload_size=int(read_limits().max_upload_mb),  # per file; too_large checks all together
        disabled=refused is not None,
        help="One workbook with a sheet per table (customers, orders, invoices, payments, "
        "fx_rates), or one CSV file per table. It is stored as a new import of the workspace.",
    )
    pending = st.session_state.pop(PENDING, None)
    if pending:
        process_upload(list(pending), options)
    elif uploads:
        message = too_large([(f.name, f.size) for f in uploads])
        if message:  # refused before the bytes are copied; a new uploader lets go of the files
            st.session_state[LAST] = {"files": tuple(f.name for f in uploads),
                                      "result": ImportResult(UNREADABLE, message)}
            st.session_state[UPLOADER] = st.session_state.get(UPLOADER, 0) + 1
            st.rerun()
        files = [(f.name, f.getvalue()) for f in uploads]
        seen = workspace.fingerprint(files, options)  # new files or new reading options: read again
        if seen != st.session_state.get(SEEN):
            st.session_state[SEEN] = seen
            process_upload(files, options)
    return options


def render_outcome(last: dict) -> None:
    result: ImportResult = last["result"]
    if result.mapping_note:
        st.info(f"Column {result.mapping_note} (remembered for this layout of sheets and headers).",
                icon=":material/account_tree:")
    if result.status == UNREADABLE:
        st.error(plain(result.message), icon=":material/error:")
        st.caption(
            "Nothing was stored; the dashboards still show the current data. Check that the file opens in "
            "Excel or LibreOffice, or download the template below to see the layout Linewise expects."
        )
        return
    if result.status == UNCHANGED:
        st.info(result.message, icon=":material/inventory_2:")
        return
    st.success(f"{result.message} Every page, for everyone on the team, now shows this data.",
               icon=":material/check_circle:")
    st.page_link("pages/overview.py", label="Go to the Overview", icon=":material/dashboard:")


def render_mapping(last: dict) -> None:
    """The editor, when the reader worked but a table or a required column was not recognised."""
    result: ImportResult = last["result"]
    files = st.session_state.get(RETRY)
    if result.raw is None or result.layout is None or not files:
        return
    current = (workspace.remembered_mapping(state.team(), result.layout) or {}).get("mapping")
    missing = mapping.unresolved(result.raw, current)
    if not missing:
        return
    st.subheader("Column mapping")
    st.caption(
        "Linewise did not recognise everything it needs. Point at the sheet and the header of each "
        "required column; the choice is remembered for this layout (the same sheets and headers) and "
        "applied to the next import of it."
    )
    new = mapping.render_editor(result.raw, missing, current)
    if new is not None:
        workspace.remember_mapping(state.team(), current_actor(), result.layout, new)
        st.session_state[PENDING] = list(files)
        st.rerun()


def render_report(result: Dataset, prefix: str = "data_") -> None:
    """Counts per table, quarantined cells, skipped rows; `prefix` keeps two reports' widget keys apart."""
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
        key=f"{prefix}counts",
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
        plain_table(q, key=f"{prefix}quarantine")
        with st.container(horizontal=True):
            st.download_button(
                "Download quarantine (CSV)",
                lambda: exports.csv_bytes(q),
                key=f"{prefix}quarantine_csv",
                file_name="quarantine.csv",
                mime=exports.CSV_MIME,
                icon=":material/download:",
                on_click="ignore",
            )
            st.download_button(
                "Download quarantine (XLSX)",
                lambda: exports.xlsx_bytes({"quarantine": q}),
                key=f"{prefix}quarantine_xlsx",
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
            plain_table(notes, key=f"{prefix}notes")


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
        files, options = source_files(loaded)
        if files:
            st.download_button(
                "Download the workbook with line codes (XLSX)",
                lambda: writeback.codes_workbook(files, options, loaded.data),
                file_name="with_line_codes.xlsx",
                mime=exports.XLSX_MIME,
                key="data_codes",
                icon=":material/download:",
                on_click="ignore",
                help="A copy of your upload (values only) with each invoice line's code in a "
                "line_code column.",
            )


def source_files(loaded: state.Loaded) -> tuple[tuple[tuple[str, bytes], ...], IngestOptions]:
    """The files behind the current data (the demo workbook is rebuilt, it is deterministic)."""
    if loaded.is_demo:
        buf = io.BytesIO()
        write_demo_workbook(buf, seed=state.DEMO_SEED, n_lines=state.DEMO_LINES)
        return (("demo.xlsx", buf.getvalue()),), IngestOptions()
    rec = loaded.record or {}
    files = tuple(workspace.source_files_of(state.team(), loaded.import_id)) if loaded.import_id else ()
    options = workspace.options_from(rec.get("options"))
    return files, replace(options, mapping=rec.get("mapping"))


def render_history(loaded: state.Loaded) -> None:
    """The workspace's imports, and what each changed since the one before (downloadable)."""
    st.subheader("Import history")
    team = state.team()
    frame = workspace.history(team)
    if not len(frame):
        st.caption("Nothing was imported yet.")
        return
    shown = frame.assign(created_at=frame["created_at"].dt.strftime("%Y-%m-%d %H:%M UTC"))
    event = st.dataframe(
        shown[["id", "created_at", "actor", "source_label", "n_lines", "n_payments", "n_quarantined", "current"]],
        hide_index=True, key="data_history", on_select="rerun", selection_mode="single-row",
        column_config={"id": st.column_config.NumberColumn("Import", format="#%d"), "created_at": "When",
                       "actor": "Who", "source_label": "Source", "n_lines": "Lines", "n_payments": "Payments",
                       "n_quarantined": "Quarantined", "current": st.column_config.CheckboxColumn("Current")})
    rows = event.selection.rows if event is not None else []
    chosen = int(shown["id"].iloc[rows[0]]) if rows else int(shown["id"].iloc[0])
    render_changes(team, chosen)


def render_changes(team, import_id: int) -> None:
    changes = workspace.differences(team, import_id)
    if changes is None:
        st.caption(f"Import #{import_id} is the first: there is nothing to compare it with.")
        return
    c = changes.counts()
    st.markdown(
        f"**Changes in #{import_id}** since the import before it: invoice lines "
        f"{c['lines']['added']:,} added, {c['lines']['removed']:,} removed, {c['lines']['changed']:,} changed; "
        f"payments {c['payments']['added']:,} added, {c['payments']['removed']:,} removed, "
        f"{c['payments']['changed']:,} changed."
    )
    flagged = changes.lines[changes.lines["flag"] != ""]
    if len(flagged):
        st.warning(f"{len(flagged):,} line(s) changed or went away after a reminder was sent or a dispute was "
                   "opened on them: check them first.", icon=":material/flag:")
    if changes.empty:
        return
    with st.expander("The changed lines and payments"):
        plain_table(changes.lines, key=f"data_changes_lines_{import_id}")
        plain_table(changes.payments, key=f"data_changes_payments_{import_id}")
    st.download_button(
        "Download the changes (XLSX)",
        lambda: exports.xlsx_bytes({"lines": changes.lines, "payments": changes.payments}),
        file_name=f"linewise_changes_{import_id}.xlsx", mime=exports.XLSX_MIME,
        key=f"data_changes_xlsx_{import_id}", icon=":material/download:", on_click="ignore",
    )


# --------------------------------------------------------------------------- Google Sheets


def render_gsheet_access(conn) -> bool:
    """Who to share the sheet with, or what reading without a service account allows. True: can write."""
    problem = conn.credentials_error
    if problem:
        st.error(
            f"The Google service account in `[connections.gsheets]` cannot be used: {problem}",
            icon=":material/key_off:",
        )
        return False
    email = conn.service_account_email
    if email:
        st.markdown(
            ":material/key: Share the sheet with Linewise's service account (the sheet's Share button): "
            "**Viewer** to read it, **Editor** to write line codes back."
        )
        st.code(email, language=None, width="content")
        return True
    st.info(
        "No Google service account is set up (`[connections.gsheets]` in `.streamlit/secrets.toml`), so only "
        "sheets shared as **Anyone with the link** can be read, and only the worksheet whose `gid` is in the "
        "address (the first worksheet when there is none); list several as `...#gid=0,123456789`. Writing "
        "line codes back needs a service account: see docs/GSHEETS.md.",
        icon=":material/info:",
    )
    return False


def connect_sheet(url: str, options: IngestOptions) -> None:
    """Read the sheet at `url`; when it gives invoice lines it becomes the session's data (and reruns)."""
    for key in (GSHEET_FAILED, GSHEET_CONFIRM, GSHEET_OUTCOME):
        st.session_state.pop(key, None)
    url = (url or "").strip()
    if not url:
        st.session_state[GSHEET_FAILED] = (
            "Paste the address of the Google Sheet first: copy it from the browser's address bar "
            "(https://docs.google.com/spreadsheets/d/...)."
        )
        return
    try:
        parse_sheet_url(url)
    except SourceError as exc:
        st.session_state[GSHEET_FAILED] = exc.message
        return
    read = gsheets.connect(url, options)
    import_sheet_read(url, options, read)


def import_sheet_read(url: str, options: IngestOptions, read: gsheets.SheetRead) -> None:
    """Import a read of the sheet into the workspace (a new version only when it changed); reruns."""
    if read.error is None and read.raw is not None:
        result = workspace.import_sheet(state.team(), current_actor(), read.raw, options,
                                        label=read.title or read.key or "Google Sheet")
        if not result.stored:
            read = replace(read, error=result.message)
        else:
            st.session_state[GSHEET_SOURCE] = {"url": url, "options": options}
            st.session_state[LAST] = {"files": (read.label,), "result": result}
    if read.error is not None:
        st.session_state[GSHEET_FAILED] = read
        return
    st.rerun()  # the sidebar (drawn before this page) and every page now read the import


def render_matches(read: gsheets.SheetRead, key: str) -> None:
    if not len(read.matches):
        return
    st.markdown("**Worksheets** — which worksheet was read as which table")
    st.dataframe(
        read.matches,
        hide_index=True,
        key=key,
        column_config={
            "worksheet": "Worksheet",
            "table": "Table",
            "read": st.column_config.NumberColumn("Rows read", format="%d"),
            "accepted": st.column_config.NumberColumn("Accepted", format="%d"),
            "quarantined": st.column_config.NumberColumn("Quarantined", format="%d"),
            "hidden": st.column_config.CheckboxColumn("Hidden"),
            "note": "Note",
            "url": st.column_config.LinkColumn("Link", display_text="Open"),
        },
    )


def render_gsheet_failed(failed) -> None:
    """The last Connect that loaded nothing: why, and what was found."""
    message = failed if isinstance(failed, str) else failed.error
    st.error(plain(message), icon=":material/error:")
    st.caption("Nothing was loaded; the dashboards still show the previous data.")
    if isinstance(failed, gsheets.SheetRead):
        render_matches(failed, "data_gsheet_failed_matches")
        if failed.data is not None:
            render_report(failed.data, prefix="data_gsheet_failed_")


def render_gsheet_source(src: dict, conn, can_write: bool) -> None:
    """The connected sheet: when it was read, Refresh, worksheets, validation report, write-back."""
    read = gsheets.load(src["url"], src["options"], conn)
    title = plain(read.title or read.key or "Google Sheet")
    when = time.strftime("%H:%M", time.localtime(read.read_at))
    with st.container(horizontal=True, vertical_alignment="center"):
        st.markdown(
            f":material/table_view: Connected to **[{title}]({src['url']})** · read at {when}, kept for "
            f"{gsheets.TTL // 60} minutes"
        )
        refresh = st.button(
            "Refresh",
            key="data_gsheet_refresh",
            icon=":material/refresh:",
            help="Read the sheet again now. Reads are cached for a while to stay within Google's request "
            "quota.",
        )
    if refresh:
        gsheets.refresh(conn)
        for key in (GSHEET_CONFIRM, GSHEET_OUTCOME, GSHEET_FAILED):
            st.session_state.pop(key, None)
        import_sheet_read(src["url"], src["options"], gsheets.load(src["url"], src["options"], conn))
    if read.data is None:
        st.error(f"The sheet could not be read: {plain(read.error)}", icon=":material/error:")
        render_matches(read, "data_gsheet_matches")
        return
    data = read.data
    quarantined = sum(c.quarantined for c in data.counts.values())
    note = f" {quarantined:,} row(s) were quarantined and left out; see below." if quarantined else ""
    st.success(
        f"Loaded {data.counts['invoices'].accepted:,} invoice lines and {data.counts['payments'].accepted:,} "
        f"payments from the Google Sheet. Every page now shows this data.{note}",
        icon=":material/check_circle:",
    )
    st.page_link("pages/overview.py", label="Go to the Overview", icon=":material/dashboard:")
    render_matches(read, "data_gsheet_matches")
    render_report(data, prefix="data_gsheet_")
    render_write_back(src, read, conn, can_write)


def render_write_back(src: dict, read: gsheets.SheetRead, conn, can_write: bool) -> None:
    st.markdown("**Write line codes into the sheet**")
    st.caption(
        "Fills the empty cells of the invoices worksheet's line_code column (adds a line_code column after "
        "the last used one when there is none). Codes already in the sheet are kept and no other cell is "
        "touched. Linewise reads the sheet again first: if rows were inserted, deleted or re-keyed since "
        "this read, nothing is written."
    )
    refused = auth.blocked(Action.WRITEBACK)  # drawing only: services.actions checks again
    if refused:
        st.caption(f":material/lock: {plain(refused)}")
    elif not can_write:
        st.caption(
            ":material/lock: Writing needs a Google service account with Editor access to the sheet "
            "(docs/GSHEETS.md)."
        )
    if st.button(
        "Write line codes into the sheet",
        key="data_gsheet_write",
        icon=":material/edit_note:",
        disabled=not can_write or refused is not None,
    ):
        open_write_confirm(src, read, conn)
    outcome = st.session_state.get(GSHEET_OUTCOME)
    if outcome:
        kind, text = outcome
        {"success": st.success, "info": st.info}.get(kind, st.error)(text)
    if st.session_state.get(GSHEET_CONFIRM):
        write_dialog(src, read, conn)


def open_write_confirm(src: dict, read: gsheets.SheetRead, conn) -> None:
    """The dry run: what would be written (the sheet is read again, nothing is written)."""
    for key in (GSHEET_OUTCOME, GSHEET_CONFIRM):
        st.session_state.pop(key, None)
    done(WRITE_ACTION)  # a new confirmation is a new action
    try:
        with st.spinner("Checking the sheet …"):
            plan = gsheets.plan_write(src["url"], src["options"], read.data, conn)
    except SourceError as exc:  # SheetChangedError included: nothing is written
        st.session_state[GSHEET_OUTCOME] = ("error", exc.message)
        return
    except Exception as exc:  # noqa: BLE001 - shown, never a traceback
        st.session_state[GSHEET_OUTCOME] = ("error", f"Checking the sheet failed ({type(exc).__name__}). "
                                                     "Nothing was written.")
        return
    st.session_state[GSHEET_CONFIRM] = {"message": plan.message, "planned": plan.planned,
                                        "action_id": action_id(WRITE_ACTION)}


def close_write_confirm() -> None:
    st.session_state.pop(GSHEET_CONFIRM, None)


@st.dialog("Write line codes into the sheet", width="medium", on_dismiss=close_write_confirm)
def write_dialog(src: dict, read: gsheets.SheetRead, conn) -> None:
    plan = st.session_state.get(GSHEET_CONFIRM) or {}
    st.markdown(plan.get("message", ""))
    if plan.get("planned"):
        st.caption(
            "Linewise checks the sheet once more just before writing; if it changed since it was read, "
            "nothing is written. Cells that already hold their code are never written again."
        )
    cols = st.columns(2)
    go = cols[0].button(
        "Write now",
        key="data_gsheet_write_confirm",
        type="primary",
        icon=":material/edit_note:",
        disabled=not plan.get("planned"),
        width="stretch",
    )
    if cols[1].button("Cancel", key="data_gsheet_write_cancel", width="stretch"):
        close_write_confirm()
        st.rerun()
    if go:
        run_write(src, read, conn, plan["action_id"])
        close_write_confirm()
        st.rerun()


def run_write(src: dict, read: gsheets.SheetRead, conn, aid: str) -> None:
    """The confirmed write, once per action id (a replayed click shows the first outcome again)."""
    written = st.session_state.setdefault(GSHEET_WRITTEN, {})
    if aid not in written:
        try:
            with st.spinner("Writing the line codes …"):
                result = gsheets.write(src["url"], src["options"], read.data, conn, action_id=aid)
            outcome = ("success" if result.written else "info", result.message)
        except NotAllowed as exc:  # refused and audited: nothing was written
            outcome = ("error", str(exc))
        except SourceError as exc:  # SheetChangedError included: nothing was written
            outcome = ("error", exc.message)
        except Exception as exc:  # noqa: BLE001 - shown, never a traceback
            outcome = ("error", f"Writing the line codes failed ({type(exc).__name__}). Press Refresh and "
                                "check the sheet before trying again.")
        written[aid] = outcome
    st.session_state[GSHEET_OUTCOME] = written[aid]
    done(WRITE_ACTION)


def render_gsheet(options: IngestOptions) -> None:
    st.subheader("Connect a Google Sheet")
    try:
        conn = gsheets.get_gsheets_connection()
    except Exception as exc:  # noqa: BLE001 - e.g. a malformed secrets.toml
        st.error(
            f"The Google Sheets connection could not be set up ({state.error_text(exc)}). Check "
            "`[connections.gsheets]` in `.streamlit/secrets.toml` (docs/GSHEETS.md).",
            icon=":material/error:",
        )
        return
    can_write = render_gsheet_access(conn)
    src = st.session_state.get(GSHEET_SOURCE)
    if src and GSHEET_URL not in st.session_state:
        st.session_state[GSHEET_URL] = src["url"]
    with st.form("data_gsheet_form", border=False):
        url = st.text_input(
            "Google Sheet address",
            key=GSHEET_URL,
            placeholder="https://docs.google.com/spreadsheets/d/…/edit",
            help="Copy it from the browser's address bar. One worksheet per table, as in a workbook; the "
            "reading options above apply.",
        )
        submitted = st.form_submit_button("Connect", key="data_gsheet_connect", icon=":material/link:")
    if submitted:
        connect_sheet(url, options)
    failed = st.session_state.get(GSHEET_FAILED)
    if failed is not None:
        render_gsheet_failed(failed)
    if src:
        render_gsheet_source(src, conn, can_write)


# --------------------------------------------------------------------------- page

common.ensure_app_navigation()
st.title(t("Data"))
current_section = st.container()  # drawn last: an upload below may switch the data first
options = render_upload()
loaded = state.current()
with current_section:
    render_current(loaded)
last = st.session_state.get(LAST)
if last is not None:
    st.divider()
    render_outcome(last)
    render_mapping(last)
    if last["result"].data is not None:
        render_report(last["result"].data)
st.divider()
render_gsheet(options)
st.divider()
render_history(loaded)
if loaded.data is not None and not loaded.is_demo:
    collections_view.render_flagged_adjustments(loaded.data)
st.divider()
render_template()
render_exports(loaded)
