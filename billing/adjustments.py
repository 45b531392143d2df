"""Adjustments (SPEC §15): write-offs, manual applications of cash, credit notes requested by a
dispute's resolution. Pure: the store keeps them (``connectors.store``), the engine applies them
(``billing.allocation.allocate(..., adjustments=)``, step ``adjustment``, before step 1 of §4).

An adjustment is keyed by what it names in the data, never by a row of an import, so it applies to
every later import that still has its line (and payment):

- ``write_off`` — `amount` of line `line_code` is written off (reason required);
- ``apply`` — `amount` of payment `payment_id`'s unapplied cash pays line `line_code` (the clerk's
  choice: it runs before the line/invoice/FIFO steps, so the cash cannot go elsewhere first);
- ``credit_note`` — a credit note of `amount` on `line_code` is requested (a dispute resolved with
  outcome "credit note"); until the credit note itself is imported the request holds that much of
  the line off, like a write-off. A credit note line of the same customer whose ``applies_to`` is
  the line's invoice, dated on or after the request, *fulfils* it: from then on the real credit
  note does the work and the request applies nothing (no double credit).

Money is int64 minor units of the line's currency. An adjustment takes part as of a date when its
``on`` date is on or before it.

Settling (`settle`): adjustments run in (on, adjustment_id) order; each takes
``min(amount, what the earlier ones left open on its line, what they left of its payment)``.
That is a triangular system (each depends only on the earlier ones), solved exactly by
fixed-point iteration over whole arrays (round r fixes the first r adjustments of any chain; a
handful of rounds in practice) — no Python loop per adjustment.

Status of each adjustment (`STATUSES`, shown on the Data page and by ``cli.py check``): applied,
partly applied (the line or payment had less left), and the ones that apply nothing, which are
*flagged*, never dropped: line or payment not in this import, not yet effective, another
customer's or currency's payment, nothing left to apply, fulfilled by a credit note.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["KINDS", "STATUSES", "FLAGGED", "ADJUSTMENT_COLUMNS", "RESULT_COLUMNS", "AdjustmentError",
           "validate_new", "empty_adjustments", "empty_result", "settle", "Settled", "sequential_take",
           "flagged", "fulfilled_requests", "adjustment_payment_id", "gone"]

KINDS: dict[str, str] = {
    "write_off": "Write-off",
    "apply": "Manual application of unapplied cash",
    "credit_note": "Credit note requested",
}
# status code -> plain words
STATUSES: dict[str, str] = {
    "applied": "applied",
    "partly_applied": "partly applied: the line or the payment had less left",
    "fulfilled": "fulfilled: the credit note itself is in the data now",
    "missing_line": "its line is not in this import",
    "missing_payment": "its payment is not in this import",
    "not_effective": "dated after the as-of date",
    "mismatch": "the payment is another customer's or in another currency",
    "nothing_open": "nothing left to apply on the line or the payment",
}
# statuses that mean "this adjustment changes nothing now": listed for someone to look at
FLAGGED = ("missing_line", "missing_payment", "mismatch", "nothing_open")

ADJUSTMENT_COLUMNS = {"adjustment_id": "int64", "kind": "string", "line_code": "string",
                      "payment_id": "string", "amount": "int64", "on": "datetime64[ns]", "reason": "string"}
RESULT_COLUMNS = [*ADJUSTMENT_COLUMNS, "applied", "status"]


class AdjustmentError(ValueError):
    """An adjustment that cannot be recorded; the message says what to change."""


def adjustment_payment_id(adjustment_id: pd.Series, kind: pd.Series) -> pd.Series:
    """The payment ids write-offs and credit-note requests carry in allocations ("write_off #12")."""
    return (kind.astype("string") + " #" + adjustment_id.astype("int64").astype("string")).reset_index(drop=True)


def validate_new(kind: str, *, line_code: Any, amount: Any, payment_id: Any = None, reason: Any = None,
                 on: Any = None) -> dict[str, Any]:
    """The checked fields of a new adjustment (kind, line_code, payment_id, amount, on, reason).

    `amount` is int minor units > 0. ``apply`` needs `payment_id`; the others must not have one and
    need a `reason`. `on` (the date it takes effect) defaults to today.
    """
    if kind not in KINDS:
        raise AdjustmentError(f"unknown adjustment kind {kind!r}; one of {', '.join(KINDS)}")
    code = "" if line_code is None else str(line_code).strip()
    if not code:
        raise AdjustmentError("an adjustment names the invoice line (its line code)")
    if isinstance(amount, bool) or not isinstance(amount, (int, np.integer)):
        raise AdjustmentError(f"the amount must be a whole number of minor units, got {amount!r}")
    if int(amount) <= 0:
        raise AdjustmentError(f"the amount must be positive, got {amount}")
    pid = None if payment_id is None or str(payment_id).strip() == "" else str(payment_id).strip()
    if kind == "apply" and pid is None:
        raise AdjustmentError("applying cash by hand needs the payment id whose unapplied cash pays the line")
    if kind != "apply" and pid is not None:
        raise AdjustmentError(f"a {KINDS[kind].lower()} takes no payment id")
    text = None if reason is None or str(reason).strip() == "" else str(reason).strip()
    if kind != "apply" and text is None:
        raise AdjustmentError(f"a {KINDS[kind].lower()} needs a reason")
    day = pd.Timestamp(on if on is not None else pd.Timestamp.today()).normalize()
    return {"kind": kind, "line_code": code, "payment_id": pid, "amount": int(amount),
            "on": day.date().isoformat(), "reason": text}


def empty_adjustments() -> pd.DataFrame:
    """The adjustments frame the engine takes, with no rows."""
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in ADJUSTMENT_COLUMNS.items()})


def empty_result() -> pd.DataFrame:
    """`AllocationResult.adjustments` with no rows."""
    out = empty_adjustments()
    out["applied"] = pd.Series(dtype="int64")
    out["status"] = pd.Series(dtype="string")
    return out


def _typed(adjustments: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for c, t in ADJUSTMENT_COLUMNS.items():
        col = adjustments[c] if c in adjustments else pd.Series([pd.NA] * len(adjustments))
        out[c] = pd.to_datetime(col).astype(t) if t.startswith("datetime") else col.astype(t)
    return pd.DataFrame(out).reset_index(drop=True)


def sequential_take(amount: np.ndarray, line: np.ndarray, line_room: np.ndarray, payment: np.ndarray,
                    pay_room: np.ndarray) -> np.ndarray:
    """What each adjustment takes, in the given (already sorted) order: min(amount, what the earlier
    adjustments left of its line, what they left of its payment). int64 minor units.

    `line` / `payment`: index of each adjustment's line / payment (-1: no payment, unlimited; a
    line index must be >= 0). `line_room[i]` / `pay_room[i]`: the open amount of adjustment i's line
    and the unapplied amount of its payment before any adjustment.

    Hand-worked: line L open 100; A1 writes off 70 of L; A2 applies 50 of payment P (120 left) to
    L; A3 applies 90 of P to line M (open 500). A1 takes 70, A2 min(50, 100 − 70, 120) = 30, A3
    min(90, 500, 120 − 30) = 90.
    """
    n = len(amount)
    taken = np.zeros(n, dtype=np.int64)
    if n == 0:
        return taken
    has_pay = payment >= 0
    for _ in range(n + 1):  # exact after at most n rounds (the longest chain); usually 1-3
        before_line = _earlier_sum(line, taken)
        before_pay = np.where(has_pay, _earlier_sum(np.where(has_pay, payment, -1), taken), 0)
        room = np.minimum(amount, line_room - before_line)
        room = np.where(has_pay, np.minimum(room, pay_room - before_pay), room)
        new = np.maximum(room, 0)
        if np.array_equal(new, taken):
            break
        taken = new
    return taken


def _earlier_sum(group: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For each position: the sum of `values` at earlier positions of the same group (stable)."""
    order = np.argsort(group, kind="stable")
    g, v = group[order], values[order]
    excl = np.cumsum(v) - v
    first = np.ones(len(g), dtype=bool)
    first[1:] = g[1:] != g[:-1]
    start = np.maximum.accumulate(np.where(first, np.arange(len(g)), 0))
    out = np.empty(len(g), dtype=np.int64)
    out[order] = excl - excl[start]
    return out


@dataclass
class Settled:
    """`settle`'s result: per adjustment (rows of `result`, in (on, adjustment_id) order) the index
    of its line and payment (-1: none) and what it takes; `result` is `RESULT_COLUMNS`."""

    line: np.ndarray
    payment: np.ndarray
    taken: np.ndarray
    result: pd.DataFrame


def settle(adjustments: pd.DataFrame | None, as_of: pd.Timestamp, *, line_codes: pd.Series,
           line_key: np.ndarray, payable: np.ndarray, open_: np.ndarray, payment_ids: pd.Series,
           payment_key: np.ndarray, unapplied: np.ndarray, fulfilled: np.ndarray | None = None) -> Settled:
    """Match adjustments to the lines and payments of one allocation and settle what each takes.

    `line_codes`, `line_key` (customer and currency as one integer), `payable` (can receive money
    as of `as_of`), `open_` (minor units): per line. `payment_ids`, `payment_key`, `unapplied`
    (what is left of each payment): per effective payment. `fulfilled`: per adjustment row of
    `adjustments` (its order), True for a credit-note request its credit note has fulfilled.
    """
    adj = _typed(adjustments if adjustments is not None else empty_adjustments())
    if fulfilled is None:
        fulfilled = np.zeros(len(adj), dtype=bool)
    order = np.lexsort((adj["adjustment_id"].to_numpy(), adj["on"].to_numpy()))
    adj, fulfilled = adj.iloc[order].reset_index(drop=True), np.asarray(fulfilled, dtype=bool)[order]
    line = _index_of(line_codes, adj["line_code"])
    wants_pay = adj["kind"].eq("apply").fillna(False).to_numpy(dtype=bool)
    pay = np.where(wants_pay, _index_of(payment_ids, adj["payment_id"]), -1)
    effective = (adj["on"] <= as_of).fillna(False).to_numpy(dtype=bool)

    status = np.full(len(adj), "applied", dtype=object)
    ok = np.ones(len(adj), dtype=bool)
    for code, bad in (("missing_line", line < 0), ("missing_payment", wants_pay & (pay < 0)),
                      ("not_effective", ~effective), ("fulfilled", fulfilled)):
        status[ok & bad] = code
        ok &= ~bad
    li, pi = np.maximum(line, 0), np.maximum(pay, 0)
    if len(payment_key) and len(line_key):
        mismatch = ok & wants_pay & (line_key[li] != payment_key[pi])
    else:
        mismatch = np.zeros(len(adj), dtype=bool)
    status[mismatch] = "mismatch"
    ok &= ~mismatch & (payable[li] if len(payable) else False)

    amount = np.where(ok, adj["amount"].to_numpy(dtype=np.int64), 0)
    line_room = np.where(ok, np.maximum(open_[li], 0) if len(open_) else 0, 0)
    pay_room = np.where(ok & wants_pay, np.maximum(unapplied[pi], 0) if len(unapplied) else 0, 0)
    sel = np.flatnonzero(ok)
    taken = np.zeros(len(adj), dtype=np.int64)
    taken[sel] = sequential_take(amount[sel], line[sel], line_room[sel], np.where(wants_pay, pay, -1)[sel],
                                 pay_room[sel])
    status[ok & (taken == 0)] = "nothing_open"
    status[ok & (taken > 0) & (taken < amount)] = "partly_applied"
    result = adj.assign(applied=taken, status=pd.array(status.astype(str), dtype="string"))
    return Settled(line=np.where(ok, line, -1), payment=np.where(ok & wants_pay, pay, -1), taken=taken,
                   result=result[RESULT_COLUMNS])


def _index_of(keys: pd.Series, wanted: pd.Series) -> np.ndarray:
    """Position of each wanted key in `keys` (the first of equals), -1 when absent or missing."""
    if len(wanted) == 0:
        return np.zeros(0, dtype=np.int64)
    idx = pd.Index(keys.astype("string"))
    if not idx.is_unique:
        first = pd.Series(np.arange(len(idx)), index=idx)
        first = first[~first.index.duplicated()]
        return first.reindex(wanted.astype("string")).fillna(-1).to_numpy(dtype=np.int64)
    return idx.get_indexer(wanted.astype("string")).astype(np.int64)


def fulfilled_requests(adjustments: pd.DataFrame | None, lines: pd.DataFrame, credit: np.ndarray) -> np.ndarray:
    """Per adjustment row: a credit-note request whose credit note is in `lines` (a credit note line,
    `credit` marks them, of the same customer, applies_to = the requested line's invoice, dated on or
    after the request)."""
    if adjustments is None or len(adjustments) == 0:
        return np.zeros(0, dtype=bool)
    adj = _typed(adjustments).assign(_pos=np.arange(len(adjustments)))
    req = adj[adj["kind"].eq("credit_note").fillna(False).to_numpy(bool)]
    out = np.zeros(len(adj), dtype=bool)
    if len(req) == 0 or "applies_to" not in lines:
        return out
    target = lines[["line_code", "customer_id", "invoice_no"]].drop_duplicates("line_code")
    req = req.merge(target, on="line_code", how="inner")
    notes = lines.loc[np.asarray(credit, dtype=bool), ["customer_id", "applies_to", "invoice_date"]]
    hits = req.merge(notes.rename(columns={"applies_to": "invoice_no"}), on=["customer_id", "invoice_no"])
    hits = hits[(hits["invoice_date"] >= hits["on"]).fillna(False).to_numpy(bool)]
    out[hits["_pos"].to_numpy(dtype=np.int64)] = True
    return out


def flagged(result: pd.DataFrame) -> pd.DataFrame:
    """The adjustments that apply nothing because something they name changed (`FLAGGED`), with
    the plain-words reason in ``why``."""
    out = result[result["status"].isin(FLAGGED).fillna(False).to_numpy(bool)].copy()
    out["why"] = out["status"].map(STATUSES).astype("string")
    return out.reset_index(drop=True)


def gone(adjustments: pd.DataFrame, line_codes: pd.Series, payment_ids: pd.Series) -> pd.DataFrame:
    """The adjustments whose line (or, for a manual application, payment) is not in an import's
    tables (`line_codes` of its invoices — credit notes included — and `payment_ids` of its
    payments), with ``status`` missing_line / missing_payment and ``why``: what ``cli.py check`` and
    the Data page flag, whatever the as-of date."""
    adj = _typed(adjustments)
    no_line = _index_of(line_codes, adj["line_code"]) < 0
    wants_pay = adj["kind"].eq("apply").fillna(False).to_numpy(dtype=bool)
    no_pay = wants_pay & (_index_of(pd.concat([payment_ids, line_codes], ignore_index=True),
                                    adj["payment_id"].fillna("")) < 0)
    status = np.where(no_line, "missing_line", np.where(no_pay, "missing_payment", ""))
    out = adj.assign(status=pd.array(status.astype(str), dtype="string"))[no_line | no_pay]
    out["why"] = out["status"].map(STATUSES).astype("string")
    return out.reset_index(drop=True)
