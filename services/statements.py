"""Statements of account: the one path the CLI and the pages call (SPEC §16).

::

    settings = load_settings(secrets)                          # company, texts, interest policy
    stmts = build(data, analysis, store, only_open=False)      # all customers, one engine pass
    pdf = render_pdf(stmts.of("C1"), settings)                 # one PDF (the Customer page)
    paths = write_files(stmts, out_dir, settings, progress=cb) # bulk: one file per customer
    report = send(ws, actor, stmts, mailer, settings, action_id=...)  # each once

**Once per (customer, statement date).** `send` claims the pair in the
store's statement log before it sends (``Store.claim_statement``), then
records sent or failed. Whoever did not get the claim sends nothing, so a
rerun, a second cron job or a double click never emails a statement twice; a
failed send is retried by the next run; a claim never confirmed (the process
died mid-send) stays queued and is never resent on its own.
"""
from __future__ import annotations

import hashlib
import os
import re
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import pandas as pd

from billing.company import CompanyDetails
from billing.dunning import DunningPolicy
from billing.interest import InterestPolicy
from billing.roles import Action
from billing.messages import format_day, format_money
from billing.model import OPEN_DISPUTE_STATUSES
from billing.statement import CustomerStatement, Statements, statements_from
from billing.statement_doc import fill, pick_texts
from connectors.company import company_from_secrets
from connectors.mailer import ConfigError, Mailer, MailError
from connectors.reminders import SendReport, SendResult
from connectors.statement_pdf import PDF_MIME, StatementRenderer, StatementRenderError, load_statement_texts
from connectors.statement_xlsx import XLSX_MIME, statement_xlsx
from connectors.outbox import PreviewOutbox
from connectors.store import ActionConflict, Store
from services.context import Actor, Workspace, authorize

__all__ = ["StatementSettings", "load_settings", "dispute_amounts", "build", "render_pdf", "render_xlsx",
           "file_name", "write_files", "send", "email_text", "ReminderStatements", "PDF_MIME", "XLSX_MIME",
           "Progress", "WriteStats", "PDF_LEVELS_KEY", "pdf_levels", "dunning_policy", "set_pdf_levels"]

Progress = Callable[[int, int, str], None]  # (done, total, what: a file name or customer id)
_CHUNK = 25  # at least this many statements per worker task: a renderer (fonts) is set up once per task
_TASKS_PER_WORKER = 4  # enough tasks that progress moves and the workers finish together


@dataclass
class WriteStats:
    """What a `write_files` run cost: `cpu_s`, the CPU seconds (user + system, every thread) of the
    processes that rendered, their start-up included; `processes`, how many there were."""

    cpu_s: float = 0.0
    processes: int = 0


@dataclass(frozen=True)
class StatementSettings:
    company: CompanyDetails
    texts: dict
    interest: InterestPolicy | None = None


def load_settings(secrets: Mapping | None, texts_dir: str | Path | None = None) -> StatementSettings:
    """Company details (``[company]``), statement texts and the optional ``[late_payment]`` policy.

    Raises ConfigError with the field named when a setting is wrong."""
    company = company_from_secrets(secrets)
    interest = None
    section = None
    try:
        section = secrets["late_payment"] if secrets is not None and "late_payment" in secrets else None
    except Exception:  # st.secrets raises without a secrets file
        section = None
    if section is not None:
        try:
            interest = InterestPolicy(**{k: section[k] for k in section.keys()})
        except ValueError as exc:
            raise ConfigError(f"[late_payment] is not valid: {exc}") from None
    return StatementSettings(company, load_statement_texts(texts_dir), interest)


def dispute_amounts(store: Store | None) -> pd.DataFrame | None:
    """Open disputes per line with the dispute's amount and line order (``disputed_amounts`` input)."""
    if store is None:
        return None
    d = store.list_disputes(status=list(OPEN_DISPUTE_STATUSES))
    if len(d) == 0:
        return None
    lines = d.assign(line_code=d["line_codes"].str.split(", ")).explode("line_code", ignore_index=True)
    lines["seq"] = lines.groupby("id").cumcount()
    return lines.rename(columns={"id": "dispute_id"})[["dispute_id", "line_code", "status", "amount", "seq"]]


def build(data: Any, analysis: Any, store: Store | None = None, *, period_start: Any = None,
          only_open: bool = False, customer_ids: Iterable[str] | None = None,
          settings: StatementSettings | None = None) -> Statements:
    """Statements as of the analysis date for `data` (``billing.analysis.analyse`` result `analysis`)."""
    return statements_from(data, analysis, period_start=period_start, only_open=only_open,
                           customer_ids=customer_ids, disputes=dispute_amounts(store),
                           interest=settings.interest if settings else None)


def render_pdf(st: CustomerStatement, settings: StatementSettings) -> bytes:
    with StatementRenderer(settings.company, settings.texts) as r:
        return r.render(st)


def render_xlsx(st: CustomerStatement, settings: StatementSettings) -> bytes:
    return statement_xlsx(st, settings.company, settings.texts)


def file_name(customer_id: str, as_of: pd.Timestamp, ext: str) -> str:
    """``statement-<customer>-<date>.<ext>``; a customer id that is not a safe file name gets a hash,
    so two ids never share a file."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", customer_id)[:60].strip("._") or "customer"
    if safe != customer_id:
        safe += "-" + hashlib.sha256(customer_id.encode("utf-8")).hexdigest()[:8]
    return f"statement-{safe}-{as_of:%Y-%m-%d}.{ext}"


def _write_chunk(parts: list[CustomerStatement], out_dir: str, formats: tuple[str, ...],
                 settings: StatementSettings) -> tuple[list[str], int, float]:
    """Write `parts`' files; returns (paths, this process's id, its CPU seconds so far)."""
    written = []
    with StatementRenderer(settings.company, settings.texts) as renderer:
        for st in parts:
            for ext in formats:
                data = renderer.render(st) if ext == "pdf" else render_xlsx(st, settings)
                path = Path(out_dir) / file_name(st.customer_id, st.as_of, ext)
                path.write_bytes(data)
                written.append(str(path))
    return written, os.getpid(), time.process_time()


def write_files(stmts: Statements, out_dir: str | Path, settings: StatementSettings, *,
                formats: Iterable[str] = ("pdf",), workers: int | None = None,
                progress: Progress | None = None, stats: WriteStats | None = None) -> list[Path]:
    """Write one file per customer and format into `out_dir`; `workers` processes (default: the CPUs,
    at most 4) share the work. Returns the paths, in customer order; `stats` (if given) gets the CPU
    time the rendering took."""
    formats = tuple(dict.fromkeys(f.lower() for f in formats))
    bad = [f for f in formats if f not in ("pdf", "xlsx")]
    if bad:
        raise ValueError(f"unknown statement format(s) {bad}: use pdf and/or xlsx")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ids = stmts.customer_ids
    workers = max(1, min(workers or os.cpu_count() or 1, 4, -(-len(ids) // _CHUNK) or 1))
    size = max(_CHUNK, -(-len(ids) // (workers * _TASKS_PER_WORKER)))
    chunks = [[stmts.of(c) for c in ids[i:i + size]] for i in range(0, len(ids), size)]
    total = len(ids) * len(formats)
    done: list[str] = []
    cpu_at: dict[int, float] = {}  # process id -> its CPU seconds at its last finished task

    def advance(result: tuple[list[str], int, float]) -> None:
        paths, pid, cpu = result
        cpu_at[pid] = max(cpu, cpu_at.get(pid, 0.0))
        for p in paths:
            done.append(p)
            if progress is not None:
                progress(len(done), total, Path(p).name)

    start_cpu = time.process_time()
    if workers == 1:
        for chunk in chunks:
            advance(_write_chunk(chunk, str(out), formats, settings))
        cpu_at = {os.getpid(): time.process_time() - start_cpu}
    else:
        # not "fork": a process that has typeset before holds the typesetter's threads and locks
        method = "forkserver" if "forkserver" in get_all_start_methods() else "spawn"
        with ProcessPoolExecutor(workers, mp_context=get_context(method)) as pool:
            futures = [pool.submit(_write_chunk, chunk, str(out), formats, settings) for chunk in chunks]
            for f in as_completed(futures):
                advance(f.result())
    if stats is not None:
        stats.cpu_s, stats.processes = sum(cpu_at.values()), len(cpu_at)
    order = {file_name(c, stmts.as_of, ext): i for i, c in enumerate(ids) for ext in formats}
    return sorted((Path(p) for p in done), key=lambda p: order.get(p.name, len(order)))


# --------------------------------------------------------------------------- email

def _action(action_id: str, *parts: str) -> str:
    digest = hashlib.sha256("|".join((action_id,) + parts).encode("utf-8")).hexdigest()[:40]
    return f"stm-{digest}"


def email_text(st: CustomerStatement, settings: StatementSettings) -> tuple[str, str]:
    """(subject, plain-text body) of the statement email, in the customer's language."""
    _, loc, L = pick_texts(settings.texts, st.header.get("language"))
    due = " + ".join(format_money(st.total(c, "amount_due"), c, loc) for c in st.currencies)
    values = {"name": st.header.get("name") or st.customer_id, "company": settings.company.name,
              "date": format_day(st.as_of.date(), loc), "amount": due}
    return " ".join(fill(L["email_subject"], **values).split()), fill(L["email_body"], **values).strip() + "\n"


def _send_one(st: CustomerStatement, store: Store, mailer: Mailer, renderer: StatementRenderer,
              settings: StatementSettings, action_id: str, actor: str) -> SendResult:
    cid, day = st.customer_id, f"{st.as_of:%Y-%m-%d}"
    address = str(st.header.get("email") or "").strip() or None

    def result(status: str, **kw: Any) -> SendResult:
        return SendResult(customer_id=cid, channel="email", level="statement", status=status, address=address,
                          **kw)

    if not address:
        return result("skipped", error="no email address")
    try:
        claimed = store.claim_statement(cid, day, "email", address, action_id=_action(action_id, "claim", cid),
                                        actor=actor)
    except ActionConflict:
        return result("skipped", error="this send action already ran for other statements; start a new one")
    if not claimed:
        return result("skipped", error=f"the statement of {day} was already sent (or is being sent)")
    subject = None
    try:
        subject, body = email_text(st, settings)
        pdf = renderer.render(st)
        msg = mailer.build(address, subject, body, attachments=[(file_name(cid, st.as_of, "pdf"), pdf, PDF_MIME)],
                           to_name=str(st.header.get("name") or "") or None,
                           headers={"X-Linewise-Customer": cid, "X-Linewise-Statement": day})
        message_id = mailer.send(msg)
    except (MailError, StatementRenderError, ValueError) as exc:
        error = (str(exc) if isinstance(exc, (MailError, StatementRenderError)) else
                 f"{type(exc).__name__}: {exc}")[:1000]
        store.mark_statement(cid, day, "failed", error, action_id=_action(action_id, "failed", cid), actor=actor)
        return result("failed", error=error, subject=subject)
    store.mark_statement(cid, day, "sent", action_id=_action(action_id, "sent", cid), actor=actor)
    return result("sent", message_id=message_id, subject=subject)


def send(ws: Workspace, actor: Actor, stmts: Statements, mailer: Mailer | None, settings: StatementSettings, *,
         action_id: str, outbox: PreviewOutbox | None = None, customer_ids: Iterable[str] | None = None,
         progress: Callable[[int, int, SendResult], None] | None = None) -> SendReport:
    """Email each customer's statement (PDF attached) once per statement date; see the module doc.

    Sending statements needs the permission to send reminders (one check, audited when refused).
    In the demo sandbox `mailer` is ignored and every message goes to `outbox` (the preview
    outbox), as reminders do."""
    if not isinstance(action_id, str) or not action_id.strip():
        raise ValueError("action_id must be a non-empty string (see connectors.store.new_action_id)")
    wanted = None if customer_ids is None else {str(c) for c in customer_ids}
    ids = [c for c in stmts.customer_ids if wanted is None or c in wanted]
    authorize(ws, actor, Action.REMINDER_SEND, action_id=action_id, detail={"statements": len(ids)})
    if ws.sandbox:
        if outbox is None:
            raise ValueError("the demo sandbox sends to the preview outbox: pass outbox=")
        mailer = outbox.mailer()
    if mailer is None:
        raise ValueError("sending statements needs an e-mail server ([smtp])")
    report = SendReport()
    with StatementRenderer(settings.company, settings.texts) as renderer:
        for n, cid in enumerate(ids, start=1):
            r = _send_one(stmts.of(cid), ws.store, mailer, renderer, settings, action_id, actor.name)
            report.results.append(r)
            if progress is not None:
                progress(n, len(ids), r)
    return report


class ReminderStatements:
    """Statement PDFs for reminder emails (``send_reminders(..., statement_pdf=...)``, levels with
    ``attach_pdf``): the statements of every customer are built on first use, each PDF on demand,
    with one renderer. Use as a context manager."""

    def __init__(self, data: Any, analysis: Any, store: Store | None, settings: StatementSettings):
        self._args = (data, analysis, store, settings)
        self._stmts: Statements | None = None
        self._renderer: StatementRenderer | None = None

    def __call__(self, reminder: Any) -> tuple[str, bytes] | None:
        data, analysis, store, settings = self._args
        if self._stmts is None:
            self._stmts = build(data, analysis, store, settings=settings)
        cid = str(reminder.customer_id)
        if cid not in set(self._stmts.customer_ids):
            return None
        if self._renderer is None:
            self._renderer = StatementRenderer(settings.company, settings.texts)
        st = self._stmts.of(cid)
        return file_name(cid, st.as_of, "pdf"), self._renderer.render(st)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __enter__(self) -> ReminderStatements:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# --------------------------------------------------------------------------- reminder levels that attach it

PDF_LEVELS_KEY = "dunning.attach_pdf"  # workspace setting: the reminder levels whose e-mails carry the PDF


def pdf_levels(ws: Workspace) -> list[str] | None:
    """The reminder levels chosen in the app to attach the statement PDF, or None (never chosen)."""
    stored = ws.store.setting(PDF_LEVELS_KEY)
    return None if stored is None else [str(x) for x in stored]


def dunning_policy(ws: Workspace, base: DunningPolicy | None = None) -> DunningPolicy:
    """`base` (default: the default policy) with the workspace's choice of levels that attach the
    statement PDF; a workspace that never chose keeps `base`'s own ``attach_pdf`` flags."""
    base = base or DunningPolicy()
    chosen = pdf_levels(ws)
    return base if chosen is None else base.with_pdf_levels(chosen)


def set_pdf_levels(ws: Workspace, actor: Actor, levels: Iterable[str], *, action_id: str,
                   policy: DunningPolicy | None = None) -> str:
    """Choose the reminder levels whose e-mails attach the statement PDF (an admin's setting,
    audited). Returns "create", "update" or "unchanged"; a name of no level of `policy` is refused."""
    chosen = sorted(set(map(str, levels)))
    authorize(ws, actor, Action.SETTINGS, action_id=action_id, detail={PDF_LEVELS_KEY: chosen})
    known = [lv.name for lv in (policy or DunningPolicy()).levels]
    unknown = [name for name in chosen if name not in known]
    if unknown:
        raise ValueError(f"no reminder level {unknown}: the levels are {known}")
    return ws.store.save_setting(PDF_LEVELS_KEY, chosen, action_id=action_id, actor=actor.name)
