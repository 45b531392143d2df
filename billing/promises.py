"""Promises to pay (SPEC §15) and each customer's next action: pure rules, no I/O.

A promise: a customer promises `amount` (minor units of `currency`) by `promised_date`, for chosen
lines or (no lines) for their open lines in that currency; `grace_days` more are allowed. While it
is **open** it pauses the reminders of what it covers (`paused_lines`, read by
``billing.dunning.plan_reminders``: skip detail "promised until <date + grace>").

Status as of a date (`promise_status`), from the engine's allocation, so it is the same number the
dashboards show:

- ``paid`` = money allocated to the covered lines by payments dated from the day the promise was
  made to its date + grace (manual applications count — they are money; write-offs and credit-note
  requests do not);
- **kept** when paid >= amount, or nothing covered is open any more;
- **broken** when the date + grace has passed as of the date and it was not kept: flagged, and the
  reminders resume (a broken promise pauses nothing);
- **open** otherwise; **cancelled** when withdrawn by hand (the store keeps it, audited).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

__all__ = ["PROMISE_STATUSES", "PromiseError", "validate_promise", "promise_status", "paused_lines",
           "PROMISE_COLUMNS", "empty_promises", "next_action_due", "DEFAULT_GRACE_DAYS"]

DEFAULT_GRACE_DAYS = 3
PROMISE_STATUSES = {"open": "open", "kept": "kept", "broken": "broken", "cancelled": "cancelled"}
PROMISE_COLUMNS = {"promise_id": "int64", "customer_id": "string", "currency": "string", "amount": "int64",
                   "promised_date": "datetime64[ns]", "grace_days": "int64", "line_codes": "object",
                   "note": "string", "status": "string", "created_at": "datetime64[ns]", "created_by": "string"}


class PromiseError(ValueError):
    """A promise that cannot be recorded; the message says what to change."""


def empty_promises() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in PROMISE_COLUMNS.items()})


def validate_promise(aging: pd.DataFrame, *, customer_id: Any, amount: Any, promised_date: Any,
                     currency: Any = None, line_codes: Sequence[str] | None = None,
                     grace_days: Any = DEFAULT_GRACE_DAYS, note: Any = None) -> dict[str, Any]:
    """The checked fields of a new promise against the customer's lines (``line_aging`` rows).

    The currency defaults to the one of the chosen lines (or the customer's only currency with open
    lines); chosen lines must be the customer's, open, and in that currency. Amount int minor units > 0.
    """
    cid = "" if customer_id is None else str(customer_id).strip()
    if not cid:
        raise PromiseError("a promise is made by a customer: choose one")
    if isinstance(amount, bool) or not isinstance(amount, (int, np.integer)) or int(amount) <= 0:
        raise PromiseError(f"the promised amount must be a positive whole number of minor units, got {amount!r}")
    if isinstance(grace_days, bool) or not isinstance(grace_days, (int, np.integer)) or int(grace_days) < 0:
        raise PromiseError(f"grace days must be a whole number of days, 0 or more, got {grace_days!r}")
    try:
        day = pd.Timestamp(promised_date).normalize()
    except (TypeError, ValueError):
        raise PromiseError(f"the promised date {promised_date!r} is not a date") from None
    mine = aging[(aging["customer_id"].astype("string") == cid).fillna(False).to_numpy(bool)]
    open_ = mine[mine["open"].to_numpy() > 0]
    codes = [str(c).strip() for c in (line_codes or []) if str(c).strip()]
    if codes:
        unknown = sorted(set(codes) - set(open_["line_code"].astype(str)))
        if unknown:
            raise PromiseError(f"not an open line of customer {cid}: {', '.join(unknown)}")
        chosen = open_[open_["line_code"].astype(str).isin(codes).to_numpy(bool)]
        currencies = sorted(set(chosen["currency"].astype(str)))
    else:
        currencies = sorted(set(open_["currency"].astype(str)))
    if currency is not None and str(currency).strip():
        ccy = str(currency).strip().upper()
        if codes and currencies != [ccy]:
            raise PromiseError(f"the chosen lines are in {', '.join(currencies)}, not {ccy}")
    elif len(currencies) == 1:
        ccy = currencies[0]
    else:
        raise PromiseError(f"customer {cid} has open lines in {', '.join(currencies) or 'no currency'}: "
                           "say which currency the promise is in")
    text = None if note is None or not str(note).strip() else str(note).strip()
    return {"customer_id": cid, "currency": ccy, "amount": int(amount), "promised_date": day.date().isoformat(),
            "grace_days": int(grace_days), "line_codes": sorted(set(codes)), "note": text}


def _covered(promises: pd.DataFrame, aging: pd.DataFrame) -> pd.DataFrame:
    """(promise_id, line_code) of every line a promise covers: its chosen lines, or (none chosen) the
    customer's lines in the promise's currency that were open on the day it was made or are open now."""
    p = promises[["promise_id", "customer_id", "currency", "line_codes"]]
    explicit = p.explode("line_codes").dropna(subset=["line_codes"])
    explicit = explicit.rename(columns={"line_codes": "line_code"})[["promise_id", "line_code"]]
    has_lines = p["line_codes"].map(len).to_numpy() > 0 if len(p) else np.zeros(0, bool)
    broad = p[~has_lines].merge(aging[["customer_id", "currency", "line_code"]].astype("string"),
                                on=["customer_id", "currency"])[["promise_id", "line_code"]]
    out = pd.concat([explicit, broad], ignore_index=True)
    out["line_code"] = out["line_code"].astype("string")
    return out


def promise_status(promises: pd.DataFrame, alloc: Any, aging: pd.DataFrame, as_of: Any) -> pd.DataFrame:
    """Each promise with ``until`` (promised_date + grace), ``paid`` (minor units received for what
    it covers in its window, capped at nothing), ``covered_open`` (open now) and ``state``
    (open | kept | broken | cancelled), ``broken`` (bool), as of `as_of`.

    `alloc`: the ``AllocationResult`` as of `as_of` (only money counts: allocations of effective
    payments with source "payment", whatever their step); `aging`: ``line_aging`` as of it.
    """
    as_of = pd.Timestamp(as_of).normalize()
    p = promises.copy()
    if len(p) == 0:
        for c, t in (("until", "datetime64[ns]"), ("paid", "int64"), ("covered_open", "int64"),
                     ("state", "string"), ("broken", "bool")):
            p[c] = pd.Series(dtype=t)
        return p
    p["until"] = pd.to_datetime(p["promised_date"]) + pd.to_timedelta(p["grace_days"].astype("int64"), unit="D")
    made = pd.to_datetime(p["created_at"], utc=True).dt.tz_localize(None).dt.normalize()
    cov = _covered(p, aging)
    eff = alloc.effective_payments
    cash = eff.loc[(eff["source"] == "payment").fillna(False).to_numpy(bool), "payment_id"]
    allocations = alloc.allocations
    money = allocations[allocations["payment_id"].isin(cash).fillna(False).to_numpy(bool)]
    window = p[["promise_id"]].assign(_from=made.to_numpy(), _to=p["until"].to_numpy())
    got = cov.merge(money[["line_code", "payment_date", "amount"]].astype({"line_code": "string"}), on="line_code")
    got = got.merge(window, on="promise_id")
    inside = (got["payment_date"] >= got["_from"]) & (got["payment_date"] <= got["_to"])
    paid = got[inside.to_numpy(bool)].groupby("promise_id")["amount"].sum()
    open_now = cov.merge(aging[["line_code", "open"]].astype({"line_code": "string"}), on="line_code")
    open_sum = open_now.assign(open=open_now["open"].clip(lower=0)).groupby("promise_id")["open"].sum()
    p["paid"] = paid.reindex(p["promise_id"]).fillna(0).to_numpy(dtype=np.int64)
    p["covered_open"] = open_sum.reindex(p["promise_id"]).fillna(0).to_numpy(dtype=np.int64)
    kept = (p["paid"].to_numpy() >= p["amount"].to_numpy()) | (p["covered_open"].to_numpy() == 0)
    late = (p["until"] < as_of).to_numpy(bool)
    cancelled = (p["status"].astype("string") == "cancelled").fillna(False).to_numpy(bool)
    state = np.where(cancelled, "cancelled", np.where(kept, "kept", np.where(late, "broken", "open")))
    p["state"] = pd.array(state, dtype="string")
    p["broken"] = state == "broken"
    return p


def paused_lines(status: pd.DataFrame, aging: pd.DataFrame) -> pd.DataFrame:
    """(line_code, until) of the lines whose reminders open promises pause (``promise_status`` rows)."""
    live = status[(status["state"] == "open").fillna(False).to_numpy(bool)] if len(status) else status
    if len(live) == 0:
        return pd.DataFrame({"line_code": pd.Series(dtype="string"), "until": pd.Series(dtype="datetime64[ns]")})
    cov = _covered(live, aging).merge(live[["promise_id", "until"]], on="promise_id")
    return cov.groupby("line_code", as_index=False)["until"].max()


def next_action_due(next_actions: pd.DataFrame, as_of: Any) -> pd.Series:
    """Per next-action row: True when its date is on or before `as_of` (the collector should act)."""
    day = pd.to_datetime(next_actions["next_action_date"])
    return (day <= pd.Timestamp(as_of).normalize()).fillna(False).astype(bool)
