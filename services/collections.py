"""Collections (SPEC §15): adjustments, promises to pay, next actions, the worklist and the forecast.

Conventions of ``services/`` (docs/DESIGN.md "Services"): every action takes ``(ws, actor, ...)``,
its first line is ``authorize(ws, actor, Action.X, action_id=...)``, and the caller passes a client
action id that stays the same across reruns and double clicks (the store replays it: idempotent).
Reads take only ``ws``. Records are keyed by line code / payment id / customer id, so they apply
to every later import that still has what they name (and say so when it has not).

Money is int minor units of the line's currency (``amount_minor``).

Adjustments, for the app, the CLI and the bank matching (SPEC §17 — a confirmed match is a manual
application, a bank charge a write-off)::

    record_adjustment(ws, actor, "apply", line_code="INV-7-001K", payment_id="BANK-123",
                      amount_minor=12_500, action_id=aid)
    record_adjustment(ws, actor, "write_off", line_code="INV-7-001K", amount_minor=150,
                      reason="bank charges", action_id=aid)

The engine applies them on its next run (``engine_adjustments(ws)`` is what ``analyse`` takes as
`adjustments`); ``AllocationResult.adjustments`` says what each did, ``flagged_adjustments`` which
ones changed nothing because their line or payment is gone.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from billing.adjustments import flagged
from billing.dunning import DunningPolicy
from billing.model import AllocationResult, held_amounts
from billing.prediction import Curves, cash_forecast, customer_curves, observations, predict_lines
from billing.promises import DEFAULT_GRACE_DAYS, paused_lines, promise_status, validate_promise
from billing.roles import Action
from billing.worklist import credit_hold as hold_list
from billing.worklist import levels_reached
from billing.worklist import worklist as rank_customers
from services.context import Actor, Workspace, authorize

__all__ = ["record_adjustment", "cancel_adjustment", "list_adjustments", "engine_adjustments",
           "flagged_adjustments", "adjust_for_resolution", "record_promise", "cancel_promise", "promises_as_of",
           "paused_by_promises", "set_next_action", "next_actions", "curves_for", "predictions", "forecast",
           "worklist", "credit_hold"]


# ---- adjustments ------------------------------------------------------------------------------

def record_adjustment(ws: Workspace, actor: Actor, kind: str, *, action_id: str, line_code: str,
                      amount_minor: int, payment_id: str | None = None, reason: str | None = None,
                      on: Any = None, dispute_id: int | None = None) -> int:
    """Record an adjustment; returns its id (the same id when `action_id` is replayed).

    `kind`: "write_off" (needs `reason`), "apply" (needs `payment_id`: its unapplied cash pays
    `line_code`), "credit_note" (a credit note requested, e.g. by a dispute's resolution; `reason`).
    `on`: the date it takes effect (default today); the engine applies it as of that date and after.
    Raises ``billing.adjustments.AdjustmentError`` with the sentence to show.
    """
    authorize(ws, actor, Action.ADJUSTMENT, action_id=action_id, detail={"kind": str(kind),
                                                                          "line_code": str(line_code)})
    return ws.store.record_adjustment(kind, action_id=action_id, actor=actor.name, line_code=line_code,
                                      amount=amount_minor, payment_id=payment_id, reason=reason, on=on,
                                      dispute_id=dispute_id)


def cancel_adjustment(ws: Workspace, actor: Actor, adjustment_id: int, *, action_id: str) -> None:
    """Cancel an adjustment (kept in the store and the audit trail; no longer applied)."""
    authorize(ws, actor, Action.ADJUSTMENT, action_id=action_id, detail={"adjustment_id": int(adjustment_id)})
    ws.store.cancel_adjustment(int(adjustment_id), action_id=action_id, actor=actor.name)


RESOLUTION_KINDS = {"credit_note": "credit_note", "write_off": "write_off"}  # dispute outcome -> adjustment


def adjust_for_resolution(ws: Workspace, actor: Actor, dispute_id: int, aging: pd.DataFrame, *,
                          action_id: str, on: Any = None) -> list[int]:
    """The adjustments a resolved dispute asks for: outcome "credit_note" -> credit-note requests,
    "write_off" -> write-offs, of its resolved amount over its lines in order, each up to its open
    amount (`aging`: ``line_aging`` rows; the same fill as a dispute's hold). Other outcomes: none.
    Returns the adjustment ids (the same ones when `action_id` is replayed)."""
    authorize(ws, actor, Action.ADJUSTMENT, action_id=action_id, detail={"dispute_id": int(dispute_id)})
    d = ws.store.get_dispute(int(dispute_id))
    if d is None or str(d.status) != "resolved":
        raise ValueError(f"dispute #{dispute_id} is not resolved")
    kind = RESOLUTION_KINDS.get(str(d.outcome))
    if kind is None or not d.resolved_amount:
        return []
    share = pd.DataFrame({"dispute_id": d.id, "line_code": pd.array(d.line_codes, dtype="string"),
                          "status": "open", "amount": int(d.resolved_amount), "seq": range(len(d.line_codes))})
    takes = held_amounts(share, aging["line_code"], aging["open"].to_numpy(dtype="int64"))
    reason = f"{'credit note requested' if kind == 'credit_note' else 'written off'} by dispute #{d.id}"
    ids = []
    for k, row in enumerate(np.flatnonzero(takes > 0).tolist()):  # the dispute's few lines
        ids.append(ws.store.record_adjustment(
            kind, action_id=f"{action_id}:{k}", actor=actor.name, line_code=str(aging["line_code"].iat[row]),
            amount=int(takes[row]), reason=reason, on=on, dispute_id=d.id))
    return ids


def list_adjustments(ws: Workspace, include_cancelled: bool = False) -> pd.DataFrame:
    """The workspace's adjustments (``Store.adjustments`` columns)."""
    return ws.store.adjustments(include_cancelled)


def engine_adjustments(ws: Workspace) -> pd.DataFrame | None:
    """The active adjustments as the engine takes them (None when there are none)."""
    frame = ws.store.adjustments()
    return frame if len(frame) else None


def flagged_adjustments(alloc: AllocationResult) -> pd.DataFrame:
    """Adjustments the allocation could not apply because their line or payment left the import (or
    nothing is left to apply), with ``why``: for the Data page and ``cli.py check``."""
    return flagged(alloc.adjustments)


# ---- promises to pay --------------------------------------------------------------------------

def record_promise(ws: Workspace, actor: Actor, aging: pd.DataFrame, *, action_id: str, customer_id: str,
                   amount_minor: int, promised_date: Any, currency: str | None = None,
                   line_codes: Sequence[str] | None = None, grace_days: int = DEFAULT_GRACE_DAYS,
                   note: str | None = None) -> int:
    """Record a promise to pay of a customer (checked against their lines in `aging`); its id.
    Raises ``billing.promises.PromiseError`` with the sentence to show."""
    authorize(ws, actor, Action.PROMISE, action_id=action_id, detail={"customer_id": str(customer_id)})
    fields = validate_promise(aging, customer_id=customer_id, amount=amount_minor, promised_date=promised_date,
                              currency=currency, line_codes=line_codes, grace_days=grace_days, note=note)
    return ws.store.record_promise(action_id=action_id, actor=actor.name, **fields)


def cancel_promise(ws: Workspace, actor: Actor, promise_id: int, *, action_id: str) -> None:
    """Cancel a promise (kept and audited; it no longer pauses reminders)."""
    authorize(ws, actor, Action.PROMISE, action_id=action_id, detail={"promise_id": int(promise_id)})
    ws.store.cancel_promise(int(promise_id), action_id=action_id, actor=actor.name)


def promises_as_of(ws: Workspace, analysis: Any, customer_id: str | None = None) -> pd.DataFrame:
    """The promises with their state as of the analysis date (``billing.promises.promise_status``)."""
    return promise_status(ws.store.promises(customer_id), analysis.alloc, analysis.aging, analysis.as_of)


def paused_by_promises(ws: Workspace, analysis: Any) -> pd.DataFrame:
    """(line_code, until) whose reminders open promises pause: ``plan_reminders(paused=)``."""
    return paused_lines(promises_as_of(ws, analysis), analysis.aging)


# ---- next action and collector ----------------------------------------------------------------

def set_next_action(ws: Workspace, actor: Actor, customer_id: str, *, action_id: str,
                    next_action_date: Any = None, collector: str | None = None, note: str | None = None) -> None:
    """Set a customer's next action date and collector (None: the customer's owner)."""
    authorize(ws, actor, Action.NEXT_ACTION, action_id=action_id, detail={"customer_id": str(customer_id)})
    day = None if next_action_date is None or pd.isna(next_action_date) else \
        pd.Timestamp(next_action_date).date().isoformat()
    ws.store.set_next_action(customer_id, action_id=action_id, actor=actor.name, next_action_date=day,
                             collector=collector, note=note)


def next_actions(ws: Workspace, customers: pd.DataFrame | None = None) -> pd.DataFrame:
    """customer_id, next_action_date, collector (the stored one, else the customer's owner), note."""
    stored = ws.store.next_actions()[["customer_id", "next_action_date", "collector", "note"]]
    if customers is None or not len(customers) or "owner" not in customers:
        return stored
    owners = customers[["customer_id", "owner"]].astype("string").drop_duplicates("customer_id")
    out = owners.merge(stored, on="customer_id", how="outer")
    out["collector"] = out["collector"].fillna(out["owner"])
    return out.drop(columns="owner")[["customer_id", "next_action_date", "collector", "note"]]


# ---- prediction, forecast, worklist, credit hold ------------------------------------------------

def curves_for(data: Any, analysis: Any) -> Curves:
    """Each customer's days-to-pay curve as of the analysis date (``billing.prediction``)."""
    obs = observations(analysis.aging, analysis.alloc.line_allocated, analysis.as_of)
    return customer_curves(obs, data.customers)


def predictions(data: Any, analysis: Any) -> pd.DataFrame:
    """Per open line: p_30, p_60, p_90 and the expected payment date (``predict_lines``)."""
    return predict_lines(analysis.aging, curves_for(data, analysis), analysis.as_of)


def forecast(data: Any, analysis: Any, weeks: int = 13) -> pd.DataFrame:
    """Expected receipts per currency and week with a band (``cash_forecast``; float minor units)."""
    return cash_forecast(analysis.aging, curves_for(data, analysis), analysis.as_of, weeks)


def worklist(ws: Workspace, data: Any, analysis: Any, *, collector: str | None = None,
             dunning: DunningPolicy = DunningPolicy()) -> pd.DataFrame:
    """The ranked worklist as of the analysis date (``billing.worklist.worklist``) with the workspace's
    promises, next actions and reminder levels; `collector` keeps only that collector's customers
    (the "mine" filter). With an fx_rates table rows are ranked in the base currency."""
    order = [lv.name for lv in dunning.levels]
    frame = rank_customers(analysis.aging, predictions(data, analysis), analysis.as_of, customers=data.customers,
                           promises=promises_as_of(ws, analysis), next_actions=next_actions(ws, data.customers),
                           levels=levels_reached(ws.store.reminder_log(), order), fx_rates=data.fx_rates,
                           # rates are quoted in the base currency, else in the default currency
                           base_currency=analysis.policy.base_currency or analysis.policy.default_currency)
    if collector:
        frame = frame[(frame["collector"].astype("string").str.casefold() == collector.strip().casefold())
                      .fillna(False).to_numpy(bool)].reset_index(drop=True)
    return frame


def credit_hold(data: Any, analysis: Any) -> pd.DataFrame:
    """Customers over their credit limit or over 90 days past due (``billing.worklist.credit_hold``)."""
    return hold_list(analysis.aging, data.customers)


# ---- files ---------------------------------------------------------------------------------------

WORKLIST_MONEY = ("open", "overdue", "at_risk", "in_dispute", "credit_limit")
HOLD_MONEY = ("open", "credit_limit", "over_limit_by", "over_90_days")


def write_worklist(dest: Any, worklist_frame: pd.DataFrame, hold: pd.DataFrame) -> None:
    """The worklist and the credit hold list as one XLSX (two sheets; money in major units)."""
    from connectors.export import write_workbook

    sheets = {"worklist": worklist_frame, "credit hold": hold}
    money = {"worklist": {c: "currency" for c in WORKLIST_MONEY if c in worklist_frame},
             "credit hold": {c: "currency" for c in HOLD_MONEY}}
    if "at_risk_base" in worklist_frame:
        money["worklist"]["at_risk_base"] = "base_currency"
    write_workbook(dest, sheets, money_columns=money)


def forecast_items(frame: pd.DataFrame, as_of: pd.Timestamp, weeks: int) -> list[tuple[str, Any]]:
    """The forecast as JSON-ready (key, value) pairs: amounts rounded to whole minor units and written
    as exact decimal strings in major units, like the report (SPEC §11)."""
    from billing.money import format_minor_series

    rows = []
    if len(frame):
        out = frame.assign(week_start=frame["week_start"].dt.strftime("%Y-%m-%d"),
                           week_end=frame["week_end"].dt.strftime("%Y-%m-%d"))
        for col in ("expected", "low", "high"):
            out[col] = format_minor_series(pd.Series(np.round(frame[col].to_numpy()).astype(np.int64)),
                                           frame["currency"].reset_index(drop=True)).to_numpy()
        rows = out.astype(object).where(out.notna(), None).to_dict(orient="records")
    return [("as_of", as_of.strftime("%Y-%m-%d")), ("weeks", int(weeks)),
            ("method", "Kaplan-Meier of days past due per customer, shrunk to segment and all customers; "
                       "band = expected +/- 1.645 sd"), ("forecast", rows)]


def write_forecast(dest: Any, frame: pd.DataFrame, as_of: pd.Timestamp, weeks: int) -> None:
    from connectors.export import write_report_json

    write_report_json(dest, forecast_items(frame, as_of, weeks))
