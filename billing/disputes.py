"""Disputes: the tiered workflow of SPEC §7 as pure values and functions.

States and the only transitions allowed (``TRANSITIONS``)::

    open ──► in_review ──► escalated ──► resolved | rejected
      │          │   └───────────────────► resolved | rejected
      └──────────┴──► withdrawn

Level 1 (finance) owns a dispute until it is escalated; escalation moves it
to level 2 (management). ``open``, ``in_review`` and ``escalated`` are open
states: their lines are skipped by FIFO allocation (``Policy.fifo_skip_disputed``),
flagged ``in_dispute`` in aging and excluded from reminders. The engine takes
them as a frame with columns ``line_code, status`` (``dispute_lines_frame``).

Amounts are int minor units of the dispute's currency. Timestamps are
timezone-aware UTC (naive ones are taken as UTC). Nothing here touches a
database or a file: ``connectors.store`` persists what these functions return.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from billing.aging import is_credit_note
from billing.labels import DISPUTE_OUTCOMES, DISPUTE_REASONS
from billing.labels import LOG_CHANNELS as _LOG_CHANNELS
from billing.model import OPEN_DISPUTE_STATUSES, open_dispute_codes

__all__ = [
    "DisputeState", "STATES", "OPEN_STATES", "CLOSED_STATES", "TRANSITIONS", "REASONS", "OUTCOMES",
    "LOG_CHANNELS", "LEVELS", "DEFAULT_REVIEW_DAYS", "DisputeError", "InvalidTransition", "Dispute",
    "allowed_next", "validate_new", "transition", "sla_flags", "disputes_frame", "dispute_lines_frame",
    "DISPUTE_COLUMNS", "utc",
]


class DisputeState(StrEnum):
    OPEN = "open"
    IN_REVIEW = "in_review"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


STATES: tuple[str, ...] = tuple(s.value for s in DisputeState)
OPEN_STATES: tuple[str, ...] = OPEN_DISPUTE_STATUSES  # ("open", "in_review", "escalated")
CLOSED_STATES: tuple[str, ...] = ("resolved", "rejected", "withdrawn")

# state -> the states it may move to (SPEC §7, exactly; anything else is refused).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("in_review", "withdrawn"),
    "in_review": ("resolved", "rejected", "escalated", "withdrawn"),
    "escalated": ("resolved", "rejected"),
    "resolved": (),
    "rejected": (),
    "withdrawn": (),
}

# code -> label shown to the user: the one label table of each concept is billing.labels
REASONS: dict[str, str] = DISPUTE_REASONS
OUTCOMES: dict[str, str] = DISPUTE_OUTCOMES
# Channels of the communication log.
LOG_CHANNELS: dict[str, str] = _LOG_CHANNELS
LEVELS: dict[int, str] = {1: "finance", 2: "management"}
DEFAULT_REVIEW_DAYS = 10

assert set(OPEN_STATES) | set(CLOSED_STATES) == set(STATES) and set(TRANSITIONS) == set(STATES)


class DisputeError(ValueError):
    """A dispute request that breaks a rule; the message is meant for the user."""


class InvalidTransition(DisputeError):
    """A state change that SPEC §7 does not allow from the dispute's current state."""

    def __init__(self, current: str, requested: str):
        self.current, self.requested = current, requested
        allowed = TRANSITIONS.get(current, ())
        nxt = ", ".join(allowed) if allowed else "none (it is closed)"
        super().__init__(f"cannot move a dispute from '{current}' to '{requested}': "
                         f"from '{current}' the allowed next states are: {nxt}")


def utc(value: Any) -> datetime | None:
    """A timezone-aware UTC datetime from a datetime/Timestamp/ISO string (naive = UTC); None stays None."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _minor(value: Any, what: str) -> int:
    """An int of minor units; refuses floats with a fraction, bools and text."""
    if isinstance(value, (bool, np.bool_)) or value is None:
        raise DisputeError(f"{what} must be a whole number of minor units, got {value!r}")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    raise DisputeError(f"{what} must be a whole number of minor units, got {value!r}")


class Dispute(BaseModel):
    """One dispute as stored; immutable (``transition`` returns a new one)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int | None = None
    customer_id: str
    currency: str
    line_codes: tuple[str, ...]
    invoice_no: str | None = None
    amount: int
    reason: str
    description: str | None = None
    owner: str
    level: int = 1
    status: DisputeState = DisputeState.OPEN
    review_days: int | None = None  # None: the policy's review_days
    opened_at: datetime
    opened_by: str
    review_started_at: datetime | None = None
    escalated_at: datetime | None = None
    closed_at: datetime | None = None
    outcome: str | None = None
    resolved_amount: int | None = None
    version: int = 1  # bumped by every transition; the store uses it to refuse lost updates

    @field_validator("opened_at", "review_started_at", "escalated_at", "closed_at", mode="before")
    @classmethod
    def _utc(cls, v: Any) -> Any:
        return utc(v)

    @field_validator("line_codes", mode="before")
    @classmethod
    def _codes(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [v]
        return tuple(str(c) for c in v)

    @model_validator(mode="after")
    def _check(self) -> Dispute:
        if not self.line_codes:
            raise ValueError("a dispute needs at least one line")
        if len(set(self.line_codes)) != len(self.line_codes):
            raise ValueError("a dispute lists a line twice")
        if self.amount <= 0:
            raise ValueError("dispute amount must be positive")
        if self.reason not in REASONS:
            raise ValueError(f"unknown reason {self.reason!r}; one of {', '.join(REASONS)}")
        if self.level not in LEVELS:
            raise ValueError(f"level must be 1 (finance) or 2 (management), got {self.level}")
        if self.outcome is not None and self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r}; one of {', '.join(OUTCOMES)}")
        if self.review_days is not None and self.review_days <= 0:
            raise ValueError("review_days must be positive")
        if not self.owner.strip():
            raise ValueError("a dispute needs an owner")
        return self

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES

    @property
    def allowed_next(self) -> tuple[str, ...]:
        return TRANSITIONS[self.status]

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (datetimes as ISO strings), the audit trail's before/after."""
        return self.model_dump(mode="json")


def allowed_next(status: str) -> tuple[str, ...]:
    """The states a dispute in `status` may move to."""
    if status not in TRANSITIONS:
        raise DisputeError(f"unknown dispute state {status!r}; one of {', '.join(STATES)}")
    return TRANSITIONS[status]


# --------------------------------------------------------------------------- opening

def validate_new(lines: pd.DataFrame, *, amount: Any, reason: str, owner: str, opened_by: str,
                 line_codes: Sequence[str] | None = None, invoice_no: str | None = None,
                 disputes: pd.DataFrame | None = None, description: str | None = None,
                 review_days: int | None = None, at: Any = None) -> Dispute:
    """Check a new dispute against the lines and return it (status open, level 1, no id yet).

    `lines` has one row per invoice line with at least ``line_code, customer_id,
    currency, open`` (``billing.aging.line_aging`` output fits; ``invoice_no``
    and ``kind`` are used when present). A dispute names `line_codes`, or an
    `invoice_no` alone, which means that invoice's lines with an open amount.
    `disputes` (``line_code, status``) lists lines already disputed.

    Refused with a DisputeError naming the problem: unknown lines, credit
    notes, lines of several customers or currencies, a line already in an
    open dispute, amount not a positive whole number of minor units or above
    the open amount of the lines, unknown reason, no owner.
    """
    if reason not in REASONS:
        raise DisputeError(f"unknown reason {reason!r}; choose one of: {', '.join(REASONS)}")
    if not owner or not str(owner).strip():
        raise DisputeError("a dispute needs an owner")
    if not opened_by or not str(opened_by).strip():
        raise DisputeError("who opens the dispute must be known")
    if review_days is not None and (_minor(review_days, "review_days") <= 0):
        raise DisputeError("review_days must be a positive number of days")
    amount = _minor(amount, "dispute amount")
    if amount <= 0:
        raise DisputeError(f"dispute amount must be positive, got {amount}")
    missing = {"line_code", "customer_id", "currency", "open"} - set(lines.columns)
    if missing:
        raise DisputeError(f"lines need the columns {sorted(missing)} (pass billing.aging.line_aging output)")

    codes = lines["line_code"].astype("string")
    if line_codes is None or len(line_codes) == 0:
        if not invoice_no:
            raise DisputeError("a dispute needs lines or an invoice number")
        if "invoice_no" not in lines.columns:
            raise DisputeError("lines need an invoice_no column to dispute a whole invoice")
        sel = lines[(lines["invoice_no"].astype("string") == str(invoice_no)).fillna(False).to_numpy(bool)
                    & (lines["open"].to_numpy() > 0)]
        sel = sel[~is_credit_note(sel)]
        if sel.empty:
            raise DisputeError(f"invoice {invoice_no} has no open lines to dispute")
    else:
        wanted = [str(c) for c in line_codes]
        if len(set(wanted)) != len(wanted):
            raise DisputeError("the same line is listed twice")
        index = pd.Index(codes)
        if index.has_duplicates:
            index = index.drop_duplicates()
        unknown = [c for c in wanted if c not in index]
        if unknown:
            raise DisputeError(f"unknown line code(s): {', '.join(unknown)}")
        sel = lines[codes.isin(wanted).fillna(False).to_numpy(bool)].drop_duplicates("line_code")
        sel = sel.set_index(sel["line_code"].astype(str)).loc[wanted].reset_index(drop=True)
        credit = sel.loc[is_credit_note(sel), "line_code"]
        if len(credit):
            raise DisputeError(f"credit note lines cannot be disputed: {', '.join(map(str, credit))}")

    customers = sorted(set(sel["customer_id"].astype(str)))
    if len(customers) != 1:
        raise DisputeError(f"a dispute covers one customer's lines; these belong to {', '.join(customers)}")
    currencies = sorted(set(sel["currency"].astype(str)))
    if len(currencies) != 1:
        raise DisputeError(f"a dispute is in one currency; these lines are in {', '.join(currencies)}")
    chosen = [str(c) for c in sel["line_code"]]
    already = sorted(set(chosen) & open_dispute_codes(disputes))
    if already:
        raise DisputeError(f"already in an open dispute: {', '.join(already)}")
    open_total = int(pd.to_numeric(sel["open"]).clip(lower=0).sum())
    if open_total <= 0:
        raise DisputeError("nothing is open on these lines: there is nothing to dispute")
    if amount > open_total:
        raise DisputeError(f"dispute amount {amount} is more than the open amount of the lines "
                           f"({open_total})")

    if invoice_no is None and "invoice_no" in sel.columns:
        invoices = set(sel["invoice_no"].dropna().astype(str))
        invoice_no = invoices.pop() if len(invoices) == 1 else None
    elif invoice_no is not None and "invoice_no" in sel.columns:
        others = sorted(set(sel["invoice_no"].dropna().astype(str)) - {str(invoice_no)})
        if others:
            raise DisputeError(f"lines of invoice(s) {', '.join(others)} are not on invoice {invoice_no}")
    return Dispute(
        customer_id=customers[0], currency=currencies[0], line_codes=tuple(chosen),
        invoice_no=None if invoice_no is None else str(invoice_no), amount=amount, reason=reason,
        description=description or None, owner=str(owner).strip(), level=1, status=DisputeState.OPEN,
        review_days=review_days, opened_at=utc(at) or _now(), opened_by=str(opened_by),
    )


# --------------------------------------------------------------------------- transitions

def transition(dispute: Dispute, to: str, *, at: Any = None, by: str, outcome: str | None = None,
               resolved_amount: Any = None, owner: str | None = None) -> Dispute:
    """The dispute moved to state `to`, or InvalidTransition naming the current and allowed states.

    - in_review: records ``review_started_at`` (the SLA clock starts).
    - escalated: level becomes 2 (management); `owner` may hand it to a manager.
    - resolved: `outcome` one of credit_note, corrected_invoice, write_off and
      `resolved_amount` with 0 < resolved_amount <= amount, both required.
    - rejected: outcome "rejected" (the default), resolved_amount 0.
    - withdrawn: closed without outcome.
    `by` (who made the change) is required; the store records it in the audit trail.
    """
    to = str(to)
    if to not in TRANSITIONS:
        raise DisputeError(f"unknown dispute state {to!r}; one of {', '.join(STATES)}")
    current = str(dispute.status)
    if to not in TRANSITIONS[current]:
        raise InvalidTransition(current, to)
    if not by or not str(by).strip():
        raise DisputeError("who makes the change must be known")
    when = utc(at) or _now()
    if when < dispute.opened_at:
        raise DisputeError("a change cannot be dated before the dispute was opened")
    changes: dict[str, Any] = {"status": DisputeState(to), "version": dispute.version + 1}
    if owner is not None:
        if not str(owner).strip():
            raise DisputeError("a dispute needs an owner")
        changes["owner"] = str(owner).strip()
    if to != "resolved" and resolved_amount is not None:
        raise DisputeError(f"a resolved amount is only recorded when resolving, not when moving to '{to}'")
    if to not in ("resolved", "rejected") and outcome is not None:
        raise DisputeError(f"an outcome is only recorded when resolving or rejecting, "
                           f"not when moving to '{to}'")

    if to == "in_review":
        changes["review_started_at"] = when
    elif to == "escalated":
        changes.update(escalated_at=when, level=2)
    elif to == "resolved":
        choices = [o for o in OUTCOMES if o != "rejected"]
        if outcome not in choices:
            raise DisputeError(f"resolving needs an outcome: one of {', '.join(choices)}"
                               + ("" if outcome is None else f" (got {outcome!r})"))
        if resolved_amount is None:
            raise DisputeError("resolving needs the resolved amount")
        value = _minor(resolved_amount, "resolved amount")
        if value <= 0 or value > dispute.amount:
            raise DisputeError(f"resolved amount must be more than 0 and at most the disputed amount "
                               f"{dispute.amount}, got {value}")
        changes.update(outcome=outcome, resolved_amount=value, closed_at=when)
    elif to == "rejected":
        if outcome not in (None, "rejected"):
            raise DisputeError(f"a rejected dispute has the outcome 'rejected', not {outcome!r}")
        changes.update(outcome="rejected", resolved_amount=0, closed_at=when)
    elif to == "withdrawn":
        changes["closed_at"] = when
    return dispute.model_copy(update=changes)


# --------------------------------------------------------------------------- frames

DISPUTE_COLUMNS = [
    "id", "customer_id", "currency", "invoice_no", "line_codes", "n_lines", "amount", "reason",
    "description", "owner", "level", "status", "review_days", "opened_at", "opened_by",
    "review_started_at", "escalated_at", "closed_at", "outcome", "resolved_amount", "version",
]
_TS = "datetime64[ns, UTC]"


def _ts_series(values: list[Any]) -> pd.Series:
    return pd.Series(pd.to_datetime(pd.Series(values, dtype="object"), utc=True), dtype=_TS)


def disputes_frame(disputes: Iterable[Dispute]) -> pd.DataFrame:
    """One row per dispute (columns ``DISPUTE_COLUMNS``); line_codes joined with ", ", times UTC."""
    ds = list(disputes)

    def col(name: str) -> list[Any]:
        return [getattr(d, name) for d in ds]

    return pd.DataFrame({
        "id": pd.Series([d.id for d in ds], dtype="Int64"),
        "customer_id": pd.Series(col("customer_id"), dtype="string"),
        "currency": pd.Series(col("currency"), dtype="string"),
        "invoice_no": pd.Series(col("invoice_no"), dtype="string"),
        "line_codes": pd.Series([", ".join(d.line_codes) for d in ds], dtype="string"),
        "n_lines": pd.Series([len(d.line_codes) for d in ds], dtype="int64"),
        "amount": pd.Series(col("amount"), dtype="int64"),
        "reason": pd.Series(col("reason"), dtype="string"),
        "description": pd.Series(col("description"), dtype="string"),
        "owner": pd.Series(col("owner"), dtype="string"),
        "level": pd.Series(col("level"), dtype="int64"),
        "status": pd.Series([str(d.status) for d in ds], dtype="string"),
        "review_days": pd.Series(col("review_days"), dtype="Int64"),
        "opened_at": _ts_series(col("opened_at")),
        "opened_by": pd.Series(col("opened_by"), dtype="string"),
        "review_started_at": _ts_series(col("review_started_at")),
        "escalated_at": _ts_series(col("escalated_at")),
        "closed_at": _ts_series(col("closed_at")),
        "outcome": pd.Series(col("outcome"), dtype="string"),
        "resolved_amount": pd.Series(col("resolved_amount"), dtype="Int64"),
        "version": pd.Series(col("version"), dtype="int64"),
    }, columns=DISPUTE_COLUMNS)


def dispute_lines_frame(disputes: Iterable[Dispute] | pd.DataFrame) -> pd.DataFrame:
    """One row per disputed line: dispute_id, line_code, status, customer_id, currency.

    This is the ``disputes`` table the engine takes (``allocate(..., disputes=)``,
    ``line_aging(..., disputes=)``); closed disputes are kept, the engine looks
    at ``status``. Accepts Dispute values or a ``disputes_frame``.
    """
    if isinstance(disputes, pd.DataFrame):
        df = disputes.copy()
        df["line_code"] = df["line_codes"].astype("string").str.split(", ")
        df = df.explode("line_code", ignore_index=True).rename(columns={"id": "dispute_id"})
        rows = df[["dispute_id", "line_code", "status", "customer_id", "currency"]].to_dict("records")
    else:
        rows = [{"dispute_id": d.id, "line_code": c, "status": str(d.status), "customer_id": d.customer_id,
                 "currency": d.currency} for d in disputes for c in d.line_codes]
    return pd.DataFrame({
        "dispute_id": pd.Series([r["dispute_id"] for r in rows], dtype="Int64"),
        "line_code": pd.Series([r["line_code"] for r in rows], dtype="string"),
        "status": pd.Series([r["status"] for r in rows], dtype="string"),
        "customer_id": pd.Series([r["customer_id"] for r in rows], dtype="string"),
        "currency": pd.Series([r["currency"] for r in rows], dtype="string"),
    })


# --------------------------------------------------------------------------- SLA

def _day(series: pd.Series) -> pd.Series:
    """UTC calendar day (tz-naive midnight) of each timestamp."""
    s = pd.to_datetime(series, utc=True)
    return s.dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()


def sla_flags(disputes: pd.DataFrame, as_of: Any, review_days: int = DEFAULT_REVIEW_DAYS) -> pd.DataFrame:
    """`disputes` (a ``disputes_frame``) with SLA columns added, as of the date `as_of`:

    - ``age_days``: days from opening to `as_of` (to closing for a closed dispute);
    - ``days_in_review``: days in level-1 review: to `as_of` while in_review, to
      escalation or closing after it; <NA> if it never was in review;
    - ``escalation_due``: in_review for more than its review days (the
      dispute's own ``review_days`` when set, else `review_days`).
    Days are whole UTC calendar days, never negative.
    """
    if review_days <= 0:
        raise ValueError("review_days must be positive")
    out = disputes.copy()
    if len(out) == 0:
        out["age_days"] = pd.Series(dtype="int64")
        out["days_in_review"] = pd.Series(dtype="Int64")
        out["escalation_due"] = pd.Series(dtype="bool")
        return out
    ts = pd.Timestamp(as_of)
    day = (ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts).normalize()
    as_of_col = pd.Series(day, index=out.index)
    status = out["status"].astype("string")
    closed = _day(out["closed_at"])
    end = closed.where(closed.notna(), as_of_col)
    end = end.where(end <= as_of_col, as_of_col)  # history: nothing after as_of is known
    age = (end - _day(out["opened_at"])).dt.days.clip(lower=0)
    out["age_days"] = age.fillna(0).astype("int64")

    started = _day(out["review_started_at"])
    escalated = _day(out["escalated_at"])
    review_end = escalated.where(escalated.notna(), closed)
    review_end = review_end.where(review_end.notna() & (status != "in_review").fillna(True), as_of_col)
    review_end = review_end.where(review_end <= as_of_col, as_of_col)
    in_review = (review_end - started).dt.days.clip(lower=0)
    out["days_in_review"] = in_review.astype("Int64")

    limit = (out["review_days"].astype("Int64").fillna(review_days) if "review_days" in out.columns
             else pd.Series(review_days, index=out.index, dtype="Int64"))
    due = (status == "in_review").fillna(False) & (out["days_in_review"] > limit).fillna(False)
    out["escalation_due"] = due.astype("bool")
    return out
