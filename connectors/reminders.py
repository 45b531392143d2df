"""Sending payment reminders, exactly once: plan → preview → send (SPEC §8).

The same three calls serve the Reminders page and ``cli.py remind``::

    plan = build_plan(data, as_of, store, dunning_policy)       # who is due, who is skipped and why
    msgs = preview(plan)                                          # rendered subject/text/HTML/SMS
    report = send_reminders(plan, store, mailer, sms, action_id=..., actor=..., progress=cb)

**Never twice.** For every reminder and channel, `send_reminders` first
*claims* the reminder's keys ``(line_code, level)`` (SMS: ``level:sms``) in
one store transaction — the store's unique key lets only one claimer have a
key, ever — then sends, then records ``sent`` or ``failed`` with the error.
So a rerun, a double click, two tabs and two cron runs at once each send a
reminder once: whoever did not get the claim sends nothing. A failed attempt
is retried by a later run (policy ``retry_failed``). A claim whose sender
died before recording the outcome stays ``queued``: the plan lists it in
``plan.unconfirmed`` and it is never sent again on its own; check whether the
customer got it and record that with `resolve_unconfirmed`.

The page keeps one ``action_id`` per confirmation (``store.new_action_id()``)
across reruns: replaying the same action id claims nothing, so a second click
on the same confirmation sends nothing.

`progress(done, total, result)` is called after each attempt (a
`SendResult`), e.g. to move ``st.progress``.

From cron (the same rules, dry run without ``--send``)::

    python cli.py remind /data/ar.xlsx --send [--as-of 2026-06-30] [--dunning-policy dunning.toml]

Settings: ``[smtp]`` and ``[sms]`` of ``.streamlit/secrets.toml`` (in the
working directory, else beside cli.py, or ``--secrets FILE``), each field
overridable by ``LINEWISE_SMTP_<FIELD>`` / ``LINEWISE_SMS_<FIELD>``
(connectors/mailer.py, connectors/sms.py); the store from ``LINEWISE_DB_URL``
or ``[store] url`` (connectors/store.py). Templates: templates/reminders, or
``--templates DIR`` / ``LINEWISE_TEMPLATES_DIR``. Exit 0 ok, 1 data errors or
a failed send, 2 usage (no SMTP settings, a bad policy file).
"""
from __future__ import annotations

import hashlib
import io
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import pandas as pd

from billing.dunning import DunningPlan, DunningPolicy, Reminder, plan_reminders
from billing.messages import MessageRenderer, RenderedMessage
from billing.policy import Policy
from connectors.mailer import AddressError, Mailer, MailError, Unconfirmed, valid_address
from connectors.redact import redact
from connectors.sms import SmsClient, SmsError
from connectors.store import ActionConflict, Store
from connectors.templates import load_templates

__all__ = ["SendResult", "SendReport", "build_plan", "make_renderer", "preview", "statement_xlsx",
           "send_reminders", "resolve_unconfirmed", "read_secrets_file", "plan_text", "clients_from_secrets",
           "Progress"]

Progress = Callable[[int, int, "SendResult"], None]
# (reminder) -> (file name, bytes) of a file for its email, or None: the statement PDF, the EPC QR code
AttachmentFor = Callable[[Reminder], "tuple[str, bytes] | None"]


@dataclass(frozen=True)
class SendResult:
    customer_id: str
    channel: str  # "email" | "sms"
    level: str
    status: str  # "sent" | "failed" | "unconfirmed" (handed over, never confirmed) | "skipped"
    address: str | None
    line_codes: tuple[str, ...] = ()
    error: str | None = None  # why it failed or was skipped
    message_id: str | None = None
    subject: str | None = None


@dataclass
class SendReport:
    results: list[SendResult] = field(default_factory=list)

    def _with(self, status: str) -> list[SendResult]:
        return [r for r in self.results if r.status == status]

    @property
    def sent(self) -> list[SendResult]:
        return self._with("sent")

    @property
    def failed(self) -> list[SendResult]:
        return self._with("failed")

    @property
    def skipped(self) -> list[SendResult]:
        return self._with("skipped")

    @property
    def unconfirmed(self) -> list[SendResult]:
        return self._with("unconfirmed")

    @property
    def ok(self) -> bool:
        return not self.failed and not self.unconfirmed

    def frame(self) -> pd.DataFrame:
        cols = ["customer_id", "channel", "level", "status", "address", "line_codes", "error", "message_id",
                "subject"]
        rows = [{**r.__dict__, "line_codes": ", ".join(r.line_codes)} for r in self.results]
        return pd.DataFrame(rows, columns=cols).astype("string")


# --------------------------------------------------------------------------- plan & preview

def build_plan(data: Any, as_of: Any, store: Store, policy: DunningPolicy = DunningPolicy(),
               engine_policy: Policy = Policy(), analysis: Any = None, paused: Any = None) -> DunningPlan:
    """The reminders due as of `as_of` for the Dataset `data`, given the store's reminder log and open
    disputes. Pass the page's `analysis` (``billing.analysis.analyse``) to reuse its aging; `paused`:
    the lines open promises pause (``billing.promises.paused_lines``)."""
    disputes = store.open_dispute_lines()
    if analysis is None:
        from billing.analysis import analyse

        adjustments = store.adjustments()
        analysis = analyse(data, as_of, engine_policy, disputes, with_exceptions=False, with_kpis=False,
                           adjustments=adjustments if len(adjustments) else None)
    return plan_reminders(analysis.aging, data.customers, store.reminder_log(), as_of, policy, disputes,
                          paused=paused)


def make_renderer(policy: DunningPolicy = DunningPolicy(), templates: Mapping[str, str] | None = None,
                  templates_dir: str | Path | None = None, company: Any = None) -> MessageRenderer:
    """A renderer over the shipped templates (or `templates` / those in `templates_dir`). With
    `company` (``billing.company.CompanyDetails`` from ``[company]``) its name signs the messages
    unless the policy names one, and its address and bank account close them."""
    texts = dict(templates) if templates is not None else load_templates(templates_dir)
    if company is None:
        return MessageRenderer(texts, policy.default_language, policy.company_name)
    name = policy.company_name if "company_name" in policy.model_fields_set else company.name
    return MessageRenderer(texts, policy.default_language, name, tuple(company.contact_lines))


def preview(plan: DunningPlan, renderer: MessageRenderer | None = None, *,
            customer_ids: Iterable[str] | None = None) -> list[RenderedMessage]:
    """Rendered messages of the plan's reminders (all, or those of `customer_ids`), nothing sent."""
    renderer = renderer or make_renderer(plan.policy)
    wanted = None if customer_ids is None else set(customer_ids)
    return [renderer.render(r, attachment=plan.policy.attach_statement)
            for r in plan.reminders if wanted is None or r.customer_id in wanted]


def statement_xlsx(reminder: Reminder) -> bytes:
    """The customer's statement of the listed open lines as an XLSX workbook (bytes)."""
    from connectors.export import write_workbook

    rows = [{"line_code": ln.line_code, "invoice_no": ln.invoice_no, "line_no": ln.line_no,
             "invoice_date": pd.Timestamp(ln.invoice_date) if ln.invoice_date else pd.NaT,
             "due_date": pd.Timestamp(ln.due_date) if ln.due_date else pd.NaT, "currency": ln.currency,
             "amount": ln.amount, "open": ln.open, "days_overdue": max(ln.days_past_due, 0),
             "reminder": ln.level or ""}
            for ln in reminder.lines + reminder.statement]
    df = pd.DataFrame(rows, columns=["line_code", "invoice_no", "line_no", "invoice_date", "due_date",
                                     "currency", "amount", "open", "days_overdue", "reminder"])
    buf = io.BytesIO()
    write_workbook(buf, {"Statement": df},
                   money_columns={"Statement": {"amount": "currency", "open": "currency"}})
    return buf.getvalue()


# --------------------------------------------------------------------------- sending

def _sub_id(action_id: str, *parts: str) -> str:
    """A store action id for one step of a send (≤ 64 chars), the same for the same action and step."""
    digest = hashlib.sha256("|".join((action_id,) + parts).encode("utf-8")).hexdigest()[:40]
    return f"rem-{digest}"


def _filename(customer_id: str, as_of: Any) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", customer_id)[:60] or "customer"
    day = f"-{pd.Timestamp(as_of):%Y-%m-%d}" if as_of is not None else ""
    return f"statement-{safe}{day}.xlsx"


def send_reminders(plan: DunningPlan, store: Store, mailer: Mailer | None, sms: SmsClient | None, *,
                   action_id: str, actor: str, renderer: MessageRenderer | None = None,
                   progress: Progress | None = None, customer_ids: Iterable[str] | None = None,
                   attach_statement: bool | None = None, statement_pdf: AttachmentFor | None = None,
                   epc_qr: AttachmentFor | None = None) -> SendReport:
    """Claim → send → record, for each reminder of `plan` (or those of `customer_ids`) and each of its
    channels. Returns what happened to each (sent, failed + error, skipped + why).

    A channel with no client (`mailer`/`sms` None) is skipped without claiming, so it
    can be sent later. Store errors propagate (the claim then stays for manual resolution).
    `statement_pdf` (``services.statements.ReminderStatements``) attaches the statement of account
    as PDF to the emails of levels with ``attach_pdf``; `epc_qr` (``connectors.qr.reminder_qr``)
    attaches an EPC QR code (PNG) paying the reminder's EUR lines.
    """
    if not isinstance(action_id, str) or not action_id.strip():
        raise ValueError("action_id must be a non-empty string (see connectors.store.new_action_id)")
    renderer = renderer or make_renderer(plan.policy)
    attach = plan.policy.attach_statement if attach_statement is None else attach_statement
    wanted = None if customer_ids is None else set(customer_ids)
    jobs = [(r, ch) for r in plan.reminders if wanted is None or r.customer_id in wanted for ch in r.channels]
    report = SendReport()
    for done, (rem, channel) in enumerate(jobs, start=1):
        result = _send_one(plan, store, mailer, sms, rem, channel, action_id, actor, renderer, attach,
                           (statement_pdf, epc_qr))
        report.results.append(result)
        if progress is not None:
            progress(done, len(jobs), result)
    return report


def _send_one(plan: DunningPlan, store: Store, mailer: Mailer | None, sms: SmsClient | None,
              rem: Reminder, channel: str, action_id: str, actor: str, renderer: MessageRenderer,
              attach: bool, extras: tuple[AttachmentFor | None, ...] = (None, None)) -> SendResult:
    address = rem.address(channel)
    client = mailer if channel == "email" else sms if channel == "sms" else None

    def result(status: str, r: Reminder = rem, **kw: Any) -> SendResult:
        return SendResult(customer_id=rem.customer_id, channel=channel, level=r.level, status=status,
                          address=address, line_codes=tuple(r.line_codes), **kw)

    if client is None:
        return result("skipped", error=f"{channel} is not configured")
    if not address:
        return result("skipped", error=f"no {channel} address")
    if channel == "email":
        try:
            address = valid_address(address)  # one address per customer, never a list
        except AddressError as exc:
            return result("skipped", error=str(exc))
    keys = rem.keys(channel)
    if not keys:
        return result("skipped", error=f"already delivered by {channel}")
    try:
        claimed = store.claim_reminders(keys, rem.customer_id, channel,
                                        action_id=_sub_id(action_id, "claim", rem.customer_id, channel),
                                        actor=actor, retry_failed=plan.policy.retry_failed)
    except ActionConflict:
        return result("skipped", error="this send action already ran with other lines; plan again")
    if not claimed:
        return result("skipped", error="already claimed: sent (or being sent) by another run or click")
    codes = {str(c) for c, _ in claimed}
    sub = rem if codes == set(rem.line_codes) else rem.only(codes)

    def record(status: str, error: str | None = None) -> None:
        store.mark_reminder(claimed, status, error, actor=actor,
                            action_id=_sub_id(action_id, status, rem.customer_id, channel))

    subject: str | None = None
    try:
        statement_pdf, epc_qr = extras
        pdf = qr = None
        if channel == "email" and statement_pdf is not None and _level_attaches_pdf(plan.policy, sub.level):
            pdf = statement_pdf(sub)
        if channel == "email" and epc_qr is not None:
            qr = epc_qr(sub)
        msg = renderer.render(sub, attachment=(attach or pdf is not None) and channel == "email")
        subject = msg.subject
        extra_files = ([(*pdf, "application/pdf")] if pdf is not None else []) \
            + ([(*qr, "image/png")] if qr is not None else [])
        message_id = _deliver(plan, rem, sub, channel, address, msg, mailer, sms, attach, extra_files)
    except Unconfirmed as exc:  # handed over, answer lost: shown for a person to resolve, never resent
        error = redact(exc)[:1000] or type(exc).__name__
        record("unconfirmed", error)
        return result("unconfirmed", sub, error=error, subject=subject)
    except Exception as exc:  # a refused send, a bad address, a broken template: this attempt's error
        text = str(exc) if isinstance(exc, (MailError, SmsError)) else f"{type(exc).__name__}: {exc}"
        error = redact(text)[:1000] or type(exc).__name__
        record("failed", error)
        return result("failed", sub, error=error, subject=subject)
    record("sent")
    return result("sent", sub, message_id=message_id or None, subject=subject)


def _deliver(plan: DunningPlan, rem: Reminder, sub: Reminder, channel: str, address: str,
             msg: RenderedMessage, mailer: Mailer | None, sms: SmsClient | None, attach: bool,
             extra_files: list[tuple[str, bytes, str]] = ()) -> str:
    """Hand the rendered message to its channel; an email carries the XLSX statement (`attach`) and
    `extra_files` (statement PDF, EPC QR). Returns the message id."""
    if channel == "email":
        files = [(_filename(rem.customer_id, plan.as_of), statement_xlsx(sub),
                  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")] if attach else []
        files += list(extra_files)
        headers = {"X-Linewise-Customer": rem.customer_id, "X-Linewise-Level": sub.level}
        email = mailer.build(address, msg.subject, msg.text, msg.html, attachments=files,
                             to_name=rem.name, headers=headers)
        return mailer.send(email)
    return sms.send(address, msg.sms)


def _level_attaches_pdf(policy: DunningPolicy, level: str) -> bool:
    try:
        return policy.level(level).attach_pdf
    except KeyError:
        return False


def resolve_unconfirmed(store: Store, keys: Sequence[Sequence[Any]], outcome: str, *, action_id: str,
                        actor: str, note: str | None = None) -> list[tuple[Any, Any]]:
    """Record by hand what happened to claims that were never confirmed (``plan.unconfirmed``):
    `outcome` "sent" (the customer got it) or "failed" (they did not: a later run retries it)."""
    if outcome not in ("sent", "failed"):
        raise ValueError("outcome must be 'sent' or 'failed'")
    error = None if outcome == "sent" else (
        note or "not sent: marked failed by hand after an interrupted send")
    return store.mark_reminder([tuple(k) for k in keys], outcome, error, action_id=action_id, actor=actor)


# --------------------------------------------------------------------------- secrets

def clients_from_secrets(secrets: Mapping | None) -> tuple[Mailer | None, SmsClient | None]:
    """(Mailer, SmsClient) from ``st.secrets`` (or a dict) and the environment; None where not configured.
    Raises connectors.mailer.ConfigError for settings that are present but wrong."""
    from connectors.mailer import SmtpConfig
    from connectors.sms import SmsConfig

    smtp, sms = SmtpConfig.from_secrets(secrets), SmsConfig.from_secrets(secrets)
    return (Mailer(smtp) if smtp else None), (SmsClient(sms) if sms else None)


def read_secrets_file(path: str | Path | None) -> dict[str, Any]:
    """The TOML secrets file as a dict ({} when `path` is None or missing). Values are never printed."""
    if path is None:
        return {}
    p = Path(path).expanduser()
    if not p.is_file():
        return {}
    with p.open("rb") as fh:
        return tomllib.load(fh)


# --------------------------------------------------------------------------- text output (CLI)

def _money(minor: int, currency: str) -> str:
    from billing.money import format_minor

    return f"{currency} {format_minor(minor, currency)}"


def plan_text(plan: DunningPlan) -> list[str]:
    """The plan as plain lines: reminders, skipped customers with reasons, unconfirmed claims."""
    from billing.dunning import SKIP_REASONS

    out = [f"Reminders due as of {plan.as_of:%Y-%m-%d}: {len(plan.reminders)} "
           f"({sum(len(r.lines) for r in plan.reminders)} lines)"]
    if plan.reminders:
        out.append(f"  {'customer':<14} {'level':<9} {'lang':<5} {'channels':<10} {'lines':>5}  total")
        for r in plan.reminders:
            total = " + ".join(_money(v, c) for c, v in r.totals.items())
            retry = "  (retry)" if r.retry else ""
            out.append(f"  {r.customer_id:<14} {r.level:<9} {r.language:<5} {'+'.join(r.channels):<10} "
                       f"{len(r.lines):>5}  {total}{retry}")
    sk = plan.skipped_customers()
    if len(sk):
        out.append(f"Skipped: {len(plan.skipped)} line(s) of {sk['customer_id'].nunique()} customer(s)")
        for row in sk.itertuples(index=False):
            detail = row.detail or SKIP_REASONS.get(row.reason, "")
            out.append(f"  {row.customer_id:<14} {row.reason:<18} {row.n_lines:>4} line(s)  "
                       f"{_money(int(row.open), str(row.currency))}  {detail}")
    if len(plan.unconfirmed):
        out.append(f"Unconfirmed claims: {len(plan.unconfirmed)} -- claimed but never confirmed sent (a "
                   "send was interrupted). Not resent: check whether the customer got it, then mark it "
                   "sent or failed.")
        now = pd.Timestamp.now(tz="UTC")
        for row in plan.unconfirmed.itertuples(index=False):
            when = "" if pd.isna(row.claimed_at) else f"{row.claimed_at:%Y-%m-%d %H:%M} UTC"
            if when and now - row.claimed_at < pd.Timedelta(minutes=10):
                when += " (recent: may still be sending)"
            out.append(f"  {row.customer_id:<14} {row.line_code:<24} {row.level:<12} {when}  "
                       f"action {row.action_id}")
    return out
