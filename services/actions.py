"""What people do: disputes and reminders, as workspace records keyed by line code.

Every function takes the workspace and the actor first and starts with
``authorize(ws, actor, Action.X, action_id=...)`` (services.context): the one place a role
check goes. Idempotency is the store's: the caller passes a client action id
that stays the same across reruns and double clicks (ui.store.action_id).

In the demo sandbox (``ws.sandbox``) the same functions write to the
sandbox's own store and reminders go to the preview outbox, never out.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pandas as pd

from billing.analysis import analyse
from billing.disputes import Dispute
from billing.dunning import DunningPlan, DunningPolicy
from billing.policy import Policy
from billing.roles import Action
from connectors.outbox import PreviewOutbox
from connectors.reminders import SendReport, build_plan, resolve_unconfirmed, send_reminders
from services.context import Actor, Workspace, authorize

# ---- disputes --------------------------------------------------------------------------------


def open_dispute(ws: Workspace, actor: Actor, *, action_id: str, lines: pd.DataFrame, amount: int,
                 reason: str, owner: str, line_codes: Sequence[str] | None = None,
                 invoice_no: str | None = None, description: str | None = None,
                 review_days: int | None = None) -> int:
    """Open a dispute on lines of the current data (`lines`: their aging rows); returns its id."""
    authorize(ws, actor, Action.DISPUTE_CREATE, action_id=action_id)
    return ws.store.open_dispute(action_id=action_id, actor=actor.name, lines=lines, amount=amount,
                                 reason=reason, owner=owner, line_codes=line_codes, invoice_no=invoice_no,
                                 description=description, review_days=review_days)


def transition_dispute(ws: Workspace, actor: Actor, dispute_id: int, to: str, *, action_id: str,
                       **changes: Any) -> Dispute:
    """Move a dispute to state `to` (outcome, resolved_amount, owner, note as the store takes them)."""
    authorize(ws, actor, Action.DISPUTE_TRANSITION, action_id=action_id,
              detail={"dispute_id": int(dispute_id), "to": str(to)})
    return ws.store.transition_dispute(int(dispute_id), to, action_id=action_id, actor=actor.name, **changes)


def add_dispute_note(ws: Workspace, actor: Actor, dispute_id: int, channel: str, text: str, *,
                     action_id: str) -> int:
    authorize(ws, actor, Action.DISPUTE_NOTE, action_id=action_id, detail={"dispute_id": int(dispute_id)})
    return ws.store.add_dispute_note(int(dispute_id), channel, text, action_id=action_id, actor=actor.name)


def open_dispute_lines(ws: Workspace) -> pd.DataFrame:
    """Lines in open dispute (line_code, status, dispute_id): the engine's `disputes`."""
    return ws.store.open_dispute_lines()


def list_disputes(ws: Workspace, status: str | Iterable[str] | None = None,
                  customer_id: str | None = None) -> pd.DataFrame:
    return ws.store.list_disputes(status, customer_id)


def orphaned_lines(ws: Workspace, line_codes: Iterable[str]) -> pd.DataFrame:
    """Every disputed line not in `line_codes` (the current import's): dispute_id, line_code, status,
    customer_id, currency — disputes whose lines the latest import no longer has."""
    frame = ws.store.dispute_lines()
    if not len(frame):
        return frame
    gone = ~frame["line_code"].astype(str).isin(set(map(str, line_codes)))
    return frame[gone.to_numpy(dtype=bool)].reset_index(drop=True)


# ---- reminders -------------------------------------------------------------------------------


def plan_reminders(ws: Workspace, data, as_of: pd.Timestamp, policy: DunningPolicy = DunningPolicy(),
                   engine_policy: Policy = Policy(), analysis=None) -> DunningPlan:
    """The reminders due as of `as_of` given the workspace's reminder log, open disputes, adjustments and
    promises to pay (an open promise pauses what it covers: SPEC §15)."""
    from services.collections import engine_adjustments, paused_by_promises

    if analysis is None:
        analysis = analyse(data, as_of, engine_policy, ws.store.open_dispute_lines(), with_exceptions=False,
                           with_kpis=False, adjustments=engine_adjustments(ws))
    return build_plan(data, as_of, ws.store, policy, engine_policy, analysis=analysis,
                      paused=paused_by_promises(ws, analysis))


def send(ws: Workspace, actor: Actor, plan: DunningPlan, mailer, sms, *, action_id: str,
         outbox: PreviewOutbox | None = None, renderer=None, customer_ids: Iterable[str] | None = None,
         progress: Callable | None = None, retry: bool = False, statement_pdf: Callable | None = None,
         epc_qr: Callable | None = None) -> SendReport:
    """Claim, send and record each reminder once (`retry`: the user asked to send again what failed).
    In the sandbox `mailer`/`sms` are ignored and every message goes to `outbox` (the preview
    outbox): nothing leaves the machine from demo data. `statement_pdf` / `epc_qr`: attachments
    (``connectors.reminders.send_reminders``)."""
    authorize(ws, actor, Action.REMINDER_RETRY if retry else Action.REMINDER_SEND,
              action_id=action_id, detail={"customers": sorted(map(str, customer_ids or []))})
    if ws.sandbox:
        if outbox is None:
            raise ValueError("the demo sandbox sends to the preview outbox: pass outbox=")
        mailer, sms = outbox.mailer(), outbox.sms()
    return send_reminders(plan, ws.store, mailer, sms, action_id=action_id, actor=actor.name,
                          renderer=renderer, progress=progress, customer_ids=customer_ids,
                          statement_pdf=statement_pdf, epc_qr=epc_qr)


def resolve_claims(ws: Workspace, actor: Actor, keys: Sequence[Sequence[Any]], outcome: str, *,
                   action_id: str) -> list:
    """Record by hand what became of claims whose delivery is unknown (sent | failed)."""
    authorize(ws, actor, Action.REMINDER_RESOLVE, action_id=action_id, detail={"outcome": outcome})
    return resolve_unconfirmed(ws.store, keys, outcome, action_id=action_id, actor=actor.name)


def reminder_log(ws: Workspace, customer_id: str | None = None) -> pd.DataFrame:
    return ws.store.reminder_log(customer_id)


# ---- write-back ------------------------------------------------------------------------------


def write_codes_back(ws: Workspace, actor: Actor, conn, url: str, data, options, *, action_id: str):
    """Write the line codes of `data` into the Google Sheet at `url` through `conn` (a
    ``connectors.gsheets`` connection): only empty line_code cells, refused when the sheet changed."""
    authorize(ws, actor, Action.WRITEBACK, action_id=action_id)
    return conn.write_codes(url, data, options=options, dry_run=False)
