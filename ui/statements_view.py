"""The Customer page's statement downloads: PDF and XLSX built by services.statements on click."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from connectors.mailer import ConfigError
from connectors.statement_pdf import StatementRenderError
from services import statements as service
from services.context import NotAllowed
from ui import common, state
from ui.store import action_id, current_actor, done, get_store, sandbox


def settings() -> service.StatementSettings | None:
    """Company details and texts from the secrets; None (and a message) when a setting is wrong."""
    try:
        secrets = st.secrets if st.secrets else None
    except FileNotFoundError:  # no secrets.toml: default company details
        secrets = None
    try:
        return service.load_settings(secrets)
    except (ConfigError, StatementRenderError) as exc:
        st.error(f"Statement settings: {exc}", icon=":material/error:")
        return None


def reminder_statements(policy, data, analysis):
    """Statement PDFs for the reminder levels that attach one (a no-op context when none does)."""
    import contextlib

    if not any(lv.attach_pdf for lv in policy.active_levels):
        return contextlib.nullcontext(None)
    cfg = settings()
    if cfg is None:
        return contextlib.nullcontext(None)
    return service.ReminderStatements(data, analysis, get_store(), cfg)


def reminder_qr():
    """An EPC QR code (PNG) for each reminder's EUR lines when [company] has an IBAN, else None."""
    from functools import partial

    from connectors.qr import reminder_qr as make

    cfg = settings()
    return partial(make, cfg.company) if cfg is not None and cfg.company.can_take_sepa else None


def render_downloads(cid: str, data, analysis) -> None:
    """Options (period start, open items only) and the two download buttons."""
    cfg = settings()
    if cfg is None:
        return
    as_of = analysis.as_of
    cols = st.columns([2, 2, 3, 3], vertical_alignment="bottom")
    start = cols[0].date_input("Period from", value=as_of.replace(day=1).date(), max_value=as_of.date(),
                               key="statement_period_start")
    only_open = cols[1].toggle("Open items only", key="statement_only_open")

    def one() -> object:
        stmts = service.build(data, analysis, state.workspace().store, period_start=pd.Timestamp(start),
                              only_open=only_open,
                              customer_ids=[cid], settings=cfg)
        return stmts.of(cid)

    cols[2].download_button("Download statement (PDF)", lambda: service.render_pdf(one(), cfg),
                            file_name=service.file_name(cid, as_of, "pdf"), mime=service.PDF_MIME,
                            key="customer_download_pdf", icon=":material/picture_as_pdf:", on_click="ignore")
    cols[3].download_button("Download statement (XLSX)", lambda: service.render_xlsx(one(), cfg),
                            file_name=service.file_name(cid, as_of, "xlsx"), mime=service.XLSX_MIME,
                            key="customer_download", icon=":material/download:", on_click="ignore")


# --------------------------------------------------------------------------- bulk email (Reminders page)

CONFIRM = "stm_confirm"  # session: True while the send dialog is open
REPORT = "stm_report"  # session: what the last statement send did


def _close() -> None:
    st.session_state.pop(CONFIRM, None)


@st.dialog("Email statements of account", width="medium", on_dismiss=_close)
def _confirm(data, analysis, mailer, keep: set[str] | None, cfg: service.StatementSettings) -> None:
    store = state.workspace().store
    stmts = service.build(data, analysis, store, customer_ids=keep, settings=cfg)
    heads = stmts.headers
    with_mail = heads.loc[heads["email"].fillna("").astype(str).str.strip() != "", "customer_id"].astype(str)
    log = store.statement_log(analysis.as_of)
    done_ids = set(log.loc[log["status"].isin(["sent", "queued"]), "customer_id"].astype(str))
    todo = [c for c in with_mail if c not in done_ids]
    st.markdown(f"Email the statement as of **{analysis.as_of:%Y-%m-%d}** (PDF attached) to **{len(todo)} "
                f"customer(s)**. {len(stmts.customer_ids) - len(with_mail)} without an e-mail address are "
                f"skipped; {len(done_ids & set(with_mail))} already had this statement.")
    st.caption("Each customer gets the statement of a date once, however often this is clicked or the "
               "cron job (`cli.py statements --send`) runs.")
    if common.send_or_cancel("stm_confirm", disabled=not todo, on_cancel=_close):
        aid = action_id("send_statements")
        bar = st.progress(0.0, text="Sending …")

        def progress(n: int, total: int, r) -> None:
            bar.progress(n / total, text=f"{n} of {total} · {r.customer_id} {r.status}")

        try:  # demo data: the service sends to the preview outbox, nothing leaves the machine
            report = service.send(state.workspace(), current_actor(), stmts, mailer, cfg, action_id=aid,
                                  outbox=sandbox()[1], customer_ids=todo, progress=progress)
        except NotAllowed as exc:  # refused (and audited) before anything was claimed
            st.error(str(exc))
            return
        st.session_state[REPORT] = {"as_of": f"{analysis.as_of:%Y-%m-%d}", "results": report.frame()}
        done("send_statements")
        _close()
        st.rerun()


def render_bulk_send(data, analysis, mailer, keep: set[str] | None) -> None:
    """The Reminders page's "Statements of account" section: email every statement once, with progress."""
    st.subheader("Statements of account")
    cfg = settings()
    if cfg is None:
        return
    log = state.workspace().store.statement_log(analysis.as_of)
    st.caption(f"Statements as of {analysis.as_of:%Y-%m-%d} e-mailed so far: "
               f"{int((log['status'] == 'sent').sum())}. Each one goes out once per customer and date.")
    if st.button("Email statements …", key="stm_send_open", icon=":material/outgoing_mail:",
                 disabled=mailer is None, help=None if mailer else "E-mail is not configured ([smtp])."):
        done("send_statements")
        st.session_state[CONFIRM] = True
    if st.session_state.get(CONFIRM):
        _confirm(data, analysis, mailer, keep, cfg)
    report = st.session_state.get(REPORT)
    if report is not None:
        df = report["results"]
        counts = df["status"].value_counts()
        st.markdown(f"**Statements as of {report['as_of']}:** {int(counts.get('sent', 0))} sent · "
                    f"{int(counts.get('failed', 0))} failed · {int(counts.get('skipped', 0))} skipped")
        st.dataframe(df[["customer_id", "status", "address", "subject", "error"]], hide_index=True,
                     key="stm_report_all")


# --------------------------------------------------------------------------- which reminder levels attach the PDF

PDF_SAVED = "stm_pdf_levels_saved"  # session: what the last save said


def dunning_policy():
    """The reminder policy of the workspace: the default levels, with the PDF choice made below."""
    return service.dunning_policy(state.workspace())


def render_pdf_levels(policy) -> None:
    """The Reminders page's choice of reminder levels whose e-mails attach the statement PDF (admin)."""
    from billing.roles import Action
    from ui import auth
    from ui.text import plain

    refused = auth.blocked(Action.SETTINGS)  # drawing only: the service checks again
    levels = policy.active_levels
    with st.form("stm_pdf_levels_form", border=True):
        st.markdown("**Attach the statement PDF to reminder e-mails** at these levels:")
        cols = st.columns(max(len(levels), 1))
        picked = [lv.name for col, lv in zip(cols, levels)
                  if col.checkbox(f"{lv.name} ({_when(lv.days)})", value=lv.attach_pdf,
                                  key=f"stm_pdf_level_{lv.name}", disabled=refused is not None)]
        saved = st.form_submit_button("Save", key="stm_pdf_levels_save", disabled=refused is not None)
        if refused:
            st.caption(plain(refused))
    if saved:
        try:
            change = service.set_pdf_levels(state.workspace(), current_actor(), picked,
                                            action_id=action_id("save_pdf_levels"), policy=policy)
        except NotAllowed as exc:
            auth.refusal(exc)
            return
        finally:
            done("save_pdf_levels")
        chosen = ", ".join(picked) or "none"
        st.session_state[PDF_SAVED] = (f"Saved: the statement PDF goes with the {chosen} reminder(s)."
                                       if change != "unchanged" else "Nothing changed.")
        st.rerun()
    if st.session_state.get(PDF_SAVED):
        st.success(st.session_state.pop(PDF_SAVED), icon=":material/check:")


def _when(days: int) -> str:
    if days == 0:
        return "on the due date"
    return f"{abs(days)} day{'s' if abs(days) != 1 else ''} {'after' if days > 0 else 'before'} due"
