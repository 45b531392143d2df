"""Dunning: which customer gets which payment reminder, as of a date (SPEC §8). Pure: no I/O.

A **dunning policy** (`DunningPolicy`, TOML-loadable like `billing.policy.Policy`)
has levels with days relative to the due date (default: courtesy −3, off;
first +1; second +15; final +30) and the channels each level goes out on.

`plan_reminders(aging, customers, reminder_log, as_of, policy)` looks at every
open line (``billing.aging.line_aging`` / ``Analysis.aging``) and the reminder
log of the action store, and returns a `DunningPlan`:

* a line goes **up one level at a time**: its target is the first enabled
  level after the highest level it has had (a log key sent or claimed), if it
  has reached that level's days; a line 40 days overdue that never had a
  reminder gets "first" now, "second" on a later run, and so on. A pre-due
  level (days <= 0, the courtesy reminder) applies only to lines not yet
  overdue.
* one `Reminder` per customer lists all their lines that are due a new level;
  its level is the highest among them; each line keeps its own level, and the
  keys claimed in the store are ``(line_code, line level)`` for email and
  ``(line_code, "line level:sms")`` for SMS — every channel is sent once.
* everything not reminded is in ``plan.skipped`` with its reason (see
  `SKIP_REASONS`), and claims that were made but never confirmed sent (a
  crash between claim and send) are in ``plan.unconfirmed``: they are never
  sent again automatically; someone must check and mark them sent or failed.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any, Iterable, Mapping

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from billing.labels import SKIP_REASONS as _SKIP_REASONS
from billing.model import held_amounts, open_dispute_codes
from billing.money import minor_digits

__all__ = [
    "CHANNELS", "SKIP_REASONS", "DunningLevel", "DunningPolicy", "load_dunning_policy",
    "ReminderLine", "Reminder", "DunningPlan", "plan_reminders", "key_level", "split_key_level",
]

CHANNELS = ("email", "sms")

# reason code -> plain words (the page and the CLI show these): billing.labels holds the table
SKIP_REASONS: dict[str, str] = _SKIP_REASONS

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,14}$")


# --------------------------------------------------------------------------- policy

class DunningLevel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    days: int  # relative to the due date: -3 = three days before, 1 = one day after
    channels: tuple[str, ...] = ("email",)
    enabled: bool = True
    attach_pdf: bool = False  # attach the customer's statement of account as PDF to the email

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME_RE.match(v):
            raise ValueError(f"level name {v!r}: use lower-case letters, digits and _ (at most 15), "
                             "e.g. 'first'; it names the template file")
        return v

    @field_validator("channels")
    @classmethod
    def _channels(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [c for c in v if c not in CHANNELS]
        if bad or not v:
            raise ValueError(f"channels must be some of {list(CHANNELS)}, got {list(v)}")
        return tuple(dict.fromkeys(v))


DEFAULT_LEVELS = (
    DunningLevel(name="courtesy", days=-3, enabled=False),
    DunningLevel(name="first", days=1),
    DunningLevel(name="second", days=15),
    DunningLevel(name="final", days=30, channels=("email", "sms")),
)


class DunningPolicy(BaseModel):
    """Reminder rules. In TOML (``cli.py remind --dunning-policy FILE``)::

        min_interval_days = 7
        min_amount = "10.00"                 # major units, any currency ...
        min_amount_by_currency = { HUF = "5000" }   # ... unless given per currency
        include_not_due = true               # list not-yet-due lines in the statement
        attach_statement = true              # XLSX statement attached to emails
        company_name = "ACME Kft."

        [levels.courtesy]                    # change a default level by name
        enabled = true
        [levels.final]
        days = 45
        channels = ["email", "sms"]
        attach_pdf = true                    # the statement of account (PDF) goes with this level

    ``levels`` may also be a full list (``[[levels]]`` tables) replacing the defaults.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    levels: tuple[DunningLevel, ...] = DEFAULT_LEVELS
    min_amount: Decimal = Field(Decimal(0), ge=0)
    min_amount_by_currency: dict[str, Decimal] = Field(default_factory=dict)
    min_interval_days: int = Field(5, ge=0)
    include_not_due: bool = False
    attach_statement: bool = False
    retry_failed: bool = True
    default_language: str = "en"
    company_name: str | None = None  # who signs; None: [company] name, else the language's own words

    @field_validator("levels", mode="before")
    @classmethod
    def _merge_levels(cls, v: Any) -> Any:
        if isinstance(v, Mapping):  # {name: {field: value}} changes the defaults by name
            merged = [lv.model_dump() for lv in DEFAULT_LEVELS]  # the defaults keep their order
            for name, changes in v.items():
                if not isinstance(changes, Mapping):
                    raise ValueError(f"levels.{name} must be a table of fields (days, channels, enabled)")
                known = [d for d in merged if d["name"] == name]
                if known:
                    known[0].update({**changes, "name": name})
                else:  # a new level goes where its days put it
                    new = {**changes, "name": name}
                    days = new.get("days", 0)
                    at = next((i for i, d in enumerate(merged) if d["days"] > days), len(merged))
                    merged.insert(at, new)
            return merged
        return v

    @field_validator("levels")
    @classmethod
    def _levels(cls, v: tuple[DunningLevel, ...]) -> tuple[DunningLevel, ...]:
        names = [lv.name for lv in v]
        if len(set(names)) != len(names):
            raise ValueError(f"level names must be unique: {names}")
        if any(b.days <= a.days for a, b in zip(v, v[1:])):
            raise ValueError("levels must be in increasing order of days: "
                             + ", ".join(f"{lv.name} {lv.days}" for lv in v))
        if not any(lv.enabled for lv in v):
            raise ValueError("at least one level must be enabled")
        return v

    @field_validator("min_amount_by_currency")
    @classmethod
    def _per_currency(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        if any(x < 0 for x in v.values()):
            raise ValueError("minimum amounts cannot be negative")
        return {k.strip().upper(): x for k, x in v.items()}

    @model_validator(mode="after")
    def _language(self) -> DunningPolicy:
        if not self.default_language.strip():
            raise ValueError("default_language cannot be blank")
        return self

    @property
    def active_levels(self) -> tuple[DunningLevel, ...]:
        return tuple(lv for lv in self.levels if lv.enabled)

    def with_pdf_levels(self, names: Iterable[str]) -> DunningPolicy:
        """This policy with the statement PDF attached at exactly the levels `names` (the choice
        made in the app, ``services.statements.dunning_policy``); names of no level are ignored."""
        wanted = set(names)
        levels = tuple(lv.model_copy(update={"attach_pdf": lv.name in wanted}) for lv in self.levels)
        return self.model_copy(update={"levels": levels})

    def level(self, name: str) -> DunningLevel:
        for lv in self.levels:
            if lv.name == name:
                return lv
        raise KeyError(name)

    def min_amount_minor(self, currency: str) -> int:
        """The minimum total, in minor units of `currency` (rounded up to a whole minor unit)."""
        major = self.min_amount_by_currency.get(str(currency).upper(), self.min_amount)
        scaled = major * (10 ** minor_digits(currency))
        return int(scaled.to_integral_value(rounding="ROUND_CEILING"))


def load_dunning_policy(text: str) -> DunningPolicy:
    """A DunningPolicy from TOML text; unknown keys are refused with their names."""
    return DunningPolicy(**tomllib.loads(text))


# --------------------------------------------------------------------------- keys

def key_level(level: str, channel: str) -> str:
    """The reminder-log level of a key: "first" for email, "first:sms" for SMS."""
    return level if channel == "email" else f"{level}:{channel}"


def split_key_level(stored: str) -> tuple[str, str]:
    """("first", "email") from "first"; ("final", "sms") from "final:sms"."""
    level, _, channel = str(stored).partition(":")
    return level, channel or "email"


# --------------------------------------------------------------------------- plan values

@dataclass(frozen=True)
class ReminderLine:
    line_code: str
    invoice_no: str
    line_no: int
    currency: str
    invoice_date: date
    due_date: date
    amount: int  # minor units
    open: int  # minor units
    days_past_due: int
    level: str | None = None  # the level this line is reminded at (None: statement only)
    retry: bool = False  # an earlier attempt at this level failed
    in_dispute: bool = False
    delivered: tuple[str, ...] = ()  # channels of `level` that already went out (never sent twice)


@dataclass(frozen=True)
class Reminder:
    """One message to one customer: `lines` are reminded (their keys get claimed);
    `statement` are the customer's other open lines, listed for information."""

    customer_id: str
    name: str
    language: str
    email: str | None
    phone: str | None
    level: str
    channels: tuple[str, ...]
    lines: tuple[ReminderLine, ...]
    statement: tuple[ReminderLine, ...] = ()
    as_of: date | None = None
    level_order: tuple[str, ...] = ()  # the policy's enabled levels, lowest first

    @property
    def totals(self) -> dict[str, int]:
        """Open total of the reminded lines per currency (minor units), currencies sorted."""
        out: dict[str, int] = {}
        for ln in sorted(self.lines, key=lambda x: x.currency):
            out[ln.currency] = out.get(ln.currency, 0) + ln.open
        return out

    @property
    def statement_totals(self) -> dict[str, int]:
        """Open total of every listed line (reminded + statement) per currency."""
        out: dict[str, int] = {}
        for ln in sorted(self.lines + self.statement, key=lambda x: x.currency):
            out[ln.currency] = out.get(ln.currency, 0) + ln.open
        return out

    @property
    def line_codes(self) -> list[str]:
        return [ln.line_code for ln in self.lines]

    @property
    def retry(self) -> bool:
        return any(ln.retry for ln in self.lines)

    def address(self, channel: str) -> str | None:
        return self.email if channel == "email" else self.phone if channel == "sms" else None

    def keys(self, channel: str) -> list[tuple[str, str]]:
        """The (line_code, stored level) keys a send on `channel` claims (lines whose level already
        went out on `channel` are left out)."""
        return [(ln.line_code, key_level(ln.level or self.level, channel)) for ln in self.lines
                if channel not in ln.delivered]

    def only(self, line_codes: Iterable[str]) -> Reminder:
        """This reminder with only the given lines (what a partial claim got); its level is
        recomputed and the other lines move to the statement."""
        keep = set(line_codes)
        lines = tuple(ln for ln in self.lines if ln.line_code in keep)
        moved = tuple(replace(ln, level=None, retry=False, delivered=())
                      for ln in self.lines if ln.line_code not in keep)
        level = self.level
        if lines:
            rank = {name: i for i, name in enumerate(self.level_order)}
            level = max((ln.level for ln in lines), key=lambda lv: rank.get(lv, -1))
        return replace(self, lines=lines, level=level, statement=moved + self.statement)


REMINDER_COLUMNS = ["customer_id", "name", "language", "level", "channels", "email", "phone", "line_code",
                    "invoice_no", "currency", "open", "due_date", "days_past_due", "line_level", "retry"]
SKIP_COLUMNS = ["customer_id", "line_code", "invoice_no", "currency", "open", "days_past_due", "level",
                "reason", "detail"]
UNCONFIRMED_COLUMNS = ["customer_id", "line_code", "level", "channel", "claimed_at", "action_id", "error"]


@dataclass
class DunningPlan:
    """What `plan_reminders` found. ``reminders`` go out; ``skipped`` (one row per line:
    customer_id, line_code, invoice_no, currency, open, days_past_due, level it would get,
    reason code, detail) and ``unconfirmed`` (queued claims never confirmed) are shown."""

    as_of: pd.Timestamp
    policy: DunningPolicy
    reminders: list[Reminder]
    skipped: pd.DataFrame
    unconfirmed: pd.DataFrame
    level_order: tuple[str, ...] = field(default=())

    def reminder(self, customer_id: str) -> Reminder | None:
        for r in self.reminders:
            if r.customer_id == customer_id:
                return r
        return None

    def due_frame(self) -> pd.DataFrame:
        """One row per reminded line (columns ``REMINDER_COLUMNS``), for tables and exports."""
        rows = [{"customer_id": r.customer_id, "name": r.name, "language": r.language, "level": r.level,
                 "channels": ", ".join(r.channels), "email": r.email, "phone": r.phone,
                 "line_code": ln.line_code, "invoice_no": ln.invoice_no, "currency": ln.currency,
                 "open": ln.open, "due_date": pd.Timestamp(ln.due_date), "days_past_due": ln.days_past_due,
                 "line_level": ln.level, "retry": ln.retry}
                for r in self.reminders for ln in r.lines]
        df = pd.DataFrame(rows, columns=REMINDER_COLUMNS)
        for c in ("customer_id", "name", "language", "level", "channels", "email", "phone", "line_code",
                  "invoice_no", "currency", "line_level"):
            df[c] = df[c].astype("string")
        df["open"] = df["open"].astype("int64")
        df["days_past_due"] = df["days_past_due"].astype("int64")
        df["retry"] = df["retry"].astype("bool")
        df["due_date"] = pd.to_datetime(df["due_date"]).astype("datetime64[ns]")
        return df

    def skipped_customers(self) -> pd.DataFrame:
        """One row per (customer, reason): n_lines and the open amount per currency."""
        s = self.skipped
        if len(s) == 0:
            spec = {"customer_id": "string", "reason": "string", "currency": "string", "n_lines": "int64",
                    "open": "int64", "detail": "string"}
            return pd.DataFrame({c: pd.Series(dtype=t) for c, t in spec.items()})
        return (s.groupby(["customer_id", "reason", "currency"], sort=True, dropna=False)
                .agg(n_lines=("line_code", "size"), open=("open", "sum"), detail=("detail", "first"))
                .reset_index())

    def summary(self) -> dict[str, Any]:
        """Counts for a banner or the CLI: reminders per level and channel, skips per reason."""
        per_level: dict[str, int] = {}
        per_channel: dict[str, int] = {}
        for r in self.reminders:
            per_level[r.level] = per_level.get(r.level, 0) + 1
            for c in r.channels:
                per_channel[c] = per_channel.get(c, 0) + 1
        reasons = self.skipped["reason"].value_counts().to_dict() if len(self.skipped) else {}
        return {"as_of": f"{self.as_of:%Y-%m-%d}", "reminders": len(self.reminders),
                "lines": sum(len(r.lines) for r in self.reminders), "per_level": per_level,
                "per_channel": per_channel, "skipped_lines": {str(k): int(v) for k, v in reasons.items()},
                "unconfirmed": len(self.unconfirmed)}


# --------------------------------------------------------------------------- planning

def _text(value: Any) -> str | None:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and value != value:
        return None
    s = str(value).strip()
    return s or None


def _truthy(value: Any) -> bool:
    if value is None or value is pd.NA:
        return False
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y", "x", "igen", "是")
    try:
        return bool(value)
    except (TypeError, ValueError):
        return False


def _day(ts: Any) -> date | None:
    if ts is None or ts is pd.NaT or ts is pd.NA:
        return None
    t = pd.Timestamp(ts)
    if t is pd.NaT:
        return None
    if t.tzinfo is not None:
        t = t.tz_convert("UTC").tz_localize(None)
    return t.date()


def _customer_info(customers: pd.DataFrame | None, default_language: str) -> dict[str, dict[str, Any]]:
    info: dict[str, dict[str, Any]] = {}
    if customers is None or len(customers) == 0 or "customer_id" not in customers.columns:
        return info
    cols = {c: customers[c].tolist() if c in customers.columns else [None] * len(customers)
            for c in ("customer_id", "name", "email", "phone", "language", "dunning_blocked")}
    for i in range(len(customers)):
        cid = _text(cols["customer_id"][i])
        if cid is None or cid in info:  # first row wins (ingest keeps keys unique anyway)
            continue
        info[cid] = {"name": _text(cols["name"][i]) or cid, "email": _text(cols["email"][i]),
                     "phone": _text(cols["phone"][i]),
                     "language": (_text(cols["language"][i]) or default_language),
                     "blocked": _truthy(cols["dunning_blocked"][i])}
    return info


def _log_state(reminder_log: pd.DataFrame | None):
    """Per line: {level: {channel: status}}, queued rows, and per customer the last reminder day."""
    per_line: dict[str, dict[str, dict[str, str]]] = {}
    queued: list[dict[str, Any]] = []
    last: dict[str, date] = {}
    if reminder_log is None or len(reminder_log) == 0:
        return per_line, queued, last
    log = reminder_log
    get = {c: log[c].tolist() if c in log.columns else [None] * len(log)
           for c in ("line_code", "level", "customer_id", "channel", "status", "sent_at", "claimed_at",
                     "created_at", "action_id", "error")}
    for i in range(len(log)):
        code, stored, status = str(get["line_code"][i]), str(get["level"][i]), str(get["status"][i])
        level, channel = split_key_level(stored)
        per_line.setdefault(code, {}).setdefault(level, {})[channel] = status
        cust = _text(get["customer_id"][i]) or ""
        when = None
        if status == "sent":
            when = _day(get["sent_at"][i]) or _day(get["claimed_at"][i]) or _day(get["created_at"][i])
        elif status == "queued":
            when = _day(get["claimed_at"][i]) or _day(get["created_at"][i])
            queued.append({"customer_id": cust, "line_code": code, "level": stored, "channel": channel,
                           "claimed_at": get["claimed_at"][i] if get["claimed_at"][i] is not None
                           else get["created_at"][i], "action_id": _text(get["action_id"][i]),
                           "error": _text(get["error"][i])})
        if when is not None and (cust not in last or when > last[cust]):
            last[cust] = when
    return per_line, queued, last


def _target(had: dict[str, dict[str, str]], dpd: int, levels: tuple[DunningLevel, ...]):
    """(target level or None, highest had level or None) for one line.

    A level is *had* once any of its channels was sent or claimed. When one of
    the highest had level's channels failed, that level is the target again:
    each channel of a level is delivered once, so a failed e-mail is retried
    even though the SMS of the same reminder went out."""
    rank = {lv.name: i for i, lv in enumerate(levels)}
    had_ranks = [rank[lv] for lv, chans in had.items()
                 if lv in rank and any(s in ("sent", "queued") for s in chans.values())]
    top = max(had_ranks) if had_ranks else -1
    highest = levels[top].name if top >= 0 else None
    if top >= 0 and "failed" in had[highest].values():
        return levels[top], highest
    for lv in levels[top + 1:]:
        if lv.days <= 0 and dpd > 0:
            continue  # a pre-due (courtesy) level is for lines not yet overdue
        return (lv if dpd >= lv.days else None), highest
    return None, highest


def _delivered(had: dict[str, dict[str, str]], level: str) -> tuple[str, ...]:
    """The channels of `level` already sent or claimed for a line (they are not sent again)."""
    return tuple(ch for ch, s in had.get(level, {}).items() if s in ("sent", "queued"))


def _held(aging: pd.DataFrame, disputes: pd.DataFrame | None):
    """Per aging row: what open disputes hold of its open amount (aging's ``disputed``, or the whole
    open amount of an ``in_dispute`` line when the aging has no amounts; the larger with `disputes`)."""
    open_ = aging["open"].to_numpy(dtype="int64")
    if "disputed" in aging.columns:
        held = aging["disputed"].to_numpy(dtype="int64")
    elif "in_dispute" in aging.columns:
        held = open_ * aging["in_dispute"].to_numpy(dtype=bool)
    else:
        held = open_ * 0
    if disputes is not None and len(disputes):
        held = held.copy()
        extra = held_amounts(disputes, aging["line_code"], open_)
        held[extra > held] = extra[extra > held]
    return held


def _pauses(aging: pd.DataFrame, paused: pd.DataFrame | None) -> list:
    """Per aging row: the date a promise pauses its reminders until (a datetime.date), else None."""
    if paused is None or len(paused) == 0:
        return [None] * len(aging)
    until = pd.to_datetime(paused["until"]).groupby(paused["line_code"].astype(str).to_numpy()).max()
    got = until.reindex(aging["line_code"].astype(str).to_numpy())
    return [None if pd.isna(v) else v.date() for v in got]


def plan_reminders(aging: pd.DataFrame, customers: pd.DataFrame | None, reminder_log: pd.DataFrame | None,
                   as_of: Any, policy: DunningPolicy = DunningPolicy(),
                   disputes: pd.DataFrame | None = None, paused: pd.DataFrame | None = None) -> DunningPlan:
    """The reminders due as of `as_of` (see the module doc).

    `aging`: ``billing.aging.line_aging`` rows (``Analysis.aging``); days are
    counted from the due date whatever the aging basis. `customers`: the
    customers table (name, email, phone, language, dunning_blocked; missing
    columns are treated as empty). `reminder_log`: ``Store.reminder_log()``.
    `disputes`: optional line_code/status rows (``Store.open_dispute_lines()``),
    added to the aging's own ``in_dispute``. A dispute holds its amount (SPEC §7, the aging's
    ``disputed``): a line lists only its undisputed open amount, and is skipped ("in_dispute")
    when nothing undisputed is open. `paused`: lines covered by an open promise to pay
    (``billing.promises.paused_lines``: line_code, until); they are skipped with the detail
    "promised until <date>" (SPEC §15).
    """
    as_of = pd.Timestamp(as_of).normalize()
    as_of_day = as_of.date()
    levels = policy.active_levels
    rank = {lv.name: i for i, lv in enumerate(levels)}
    info = _customer_info(customers, policy.default_language)
    per_line, queued, last = _log_state(reminder_log)
    queued_codes = {q["line_code"] for q in queued}
    disputed = open_dispute_codes(disputes)

    skipped: list[dict[str, Any]] = []
    due: dict[str, list[ReminderLine]] = {}
    statement: dict[str, list[ReminderLine]] = {}

    def skip(cid: str, ln: ReminderLine, level: str | None, reason: str, detail: str | None = None) -> None:
        skipped.append({"customer_id": cid, "line_code": ln.line_code, "invoice_no": ln.invoice_no,
                        "currency": ln.currency, "open": ln.open, "days_past_due": ln.days_past_due,
                        "level": level, "reason": reason, "detail": detail or SKIP_REASONS[reason]})

    a = aging
    if a is not None and len(a):
        # Only open lines and lines with a log entry can matter (a paid, never-reminded line cannot).
        keep = a["open"].to_numpy() > 0
        if per_line:
            keep |= a["line_code"].isin(list(per_line)).to_numpy(dtype=bool, na_value=False)
        if not keep.all():
            a = a.loc[keep].reset_index(drop=True)
    if a is not None and len(a):
        due_days = (as_of - pd.to_datetime(a["due_date"])).dt.days.to_numpy()
        cols = {c: a[c].tolist() for c in ("line_code", "invoice_no", "line_no", "customer_id", "currency",
                                            "invoice_date", "due_date", "amount", "open")}
        in_dispute = (a["in_dispute"].to_numpy(dtype=bool) if "in_dispute" in a.columns
                      else [False] * len(a))
        held = _held(a, disputes)
        pause_until = _pauses(a, paused)
        for i in range(len(a)):
            code = str(cols["line_code"][i])
            cid = str(cols["customer_id"][i])
            open_ = int(cols["open"][i])
            dpd = int(due_days[i])
            had = per_line.get(code, {})
            if open_ <= 0 and not had:
                continue  # paid (or credit balance) and never reminded: nothing to say
            ln = ReminderLine(line_code=code, invoice_no=str(cols["invoice_no"][i]),
                              line_no=int(cols["line_no"][i]), currency=str(cols["currency"][i]),
                              invoice_date=_day(cols["invoice_date"][i]), due_date=_day(cols["due_date"][i]),
                              amount=int(cols["amount"][i]), open=open_, days_past_due=dpd,
                              in_dispute=bool(in_dispute[i]) or code in disputed)
            target, highest = _target(had, dpd, levels)
            if open_ <= 0:
                if target is not None or code in queued_codes or any(
                        s == "failed" for ch in had.values() for s in ch.values()):
                    skip(cid, ln, target.name if target else highest, "fully_paid")
                continue
            if code in queued_codes:
                skip(cid, ln, target.name if target else highest, "unconfirmed_claim")
                continue
            if ln.in_dispute:
                if open_ - int(held[i]) <= 0:
                    if target is not None:
                        skip(cid, ln, target.name, "in_dispute")
                    continue
                ln = replace(ln, open=open_ - int(held[i]))  # only the undisputed part is reminded
            if pause_until[i] is not None:
                if target is not None:
                    skip(cid, ln, target.name, "promised", f"promised until {pause_until[i].isoformat()}")
                continue
            if target is None:
                if highest is not None and rank.get(highest) == len(levels) - 1 and dpd > 0:
                    skip(cid, ln, highest, "final_level_sent")
                elif policy.include_not_due or dpd > 0:
                    statement.setdefault(cid, []).append(ln)
                continue
            retry = any(s == "failed" for s in had.get(target.name, {}).values())
            if retry and not policy.retry_failed:
                skip(cid, ln, target.name, "send_failed")
                continue
            due.setdefault(cid, []).append(replace(ln, level=target.name, retry=retry,
                                                   delivered=_delivered(had, target.name)))

    reminders: list[Reminder] = []
    for cid in sorted(due):
        lines = sorted(due[cid], key=lambda x: (x.due_date or date.min, x.invoice_no, x.line_no))
        level = max((ln.level for ln in lines), key=lambda lv: rank[lv])
        c = info.get(cid)
        if c is None:
            for ln in lines:
                skip(cid, ln, ln.level, "no_contact", "customer is not in the customers table")
            continue
        if c["blocked"]:
            for ln in lines:
                skip(cid, ln, ln.level, "dunning_blocked")
            continue
        lv = levels[rank[level]]
        channels = tuple(ch for ch in lv.channels if (c["email"] if ch == "email" else c["phone"]))
        if not channels:
            for ln in lines:
                skip(cid, ln, ln.level, "no_contact",
                     f"no {' or '.join('email' if ch == 'email' else 'phone' for ch in lv.channels)} "
                     f"for the {level} reminder")
            continue
        prev = last.get(cid)
        if prev is not None and (as_of_day - prev).days < policy.min_interval_days:
            # A level partly delivered (its SMS went out, its e-mail failed) is completed whatever
            # the interval: the interval spaces new levels, not the channels of one reminder.
            for ln in lines:
                if not ln.delivered:
                    skip(cid, ln, ln.level, "reminded_recently",
                         f"last reminder {prev.isoformat()}, fewer than {policy.min_interval_days} days "
                         f"before {as_of_day.isoformat()}")
            lines = [ln for ln in lines if ln.delivered]
            if not lines:
                continue
        totals: dict[str, int] = {}
        for ln in lines:
            totals[ln.currency] = totals.get(ln.currency, 0) + ln.open
        under = {cur for cur, tot in totals.items() if tot < policy.min_amount_minor(cur)}
        for ln in lines:
            if ln.currency in under:
                skip(cid, ln, ln.level, "under_minimum",
                     f"{ln.currency} total due is under the minimum "
                     f"({policy.min_amount_by_currency.get(ln.currency.upper(), policy.min_amount)})")
        lines = [ln for ln in lines if ln.currency not in under]
        if not lines:
            continue
        level = max((ln.level for ln in lines), key=lambda lv_: rank[lv_])
        channels = tuple(ch for ch in levels[rank[level]].channels
                         if (c["email"] if ch == "email" else c["phone"])
                         and any(ch not in ln.delivered for ln in lines))
        if not channels:
            for ln in lines:
                skip(cid, ln, ln.level, "no_contact")
            continue
        extra = sorted((ln for ln in statement.get(cid, []) if ln.currency not in under
                        and (policy.include_not_due or ln.days_past_due > 0)),
                       key=lambda x: (x.due_date or date.min, x.invoice_no, x.line_no))
        reminders.append(Reminder(customer_id=cid, name=c["name"], language=c["language"], email=c["email"],
                                  phone=c["phone"], level=level, channels=channels, lines=tuple(lines),
                                  statement=tuple(extra), as_of=as_of_day,
                                  level_order=tuple(rank)))

    skipped_df = pd.DataFrame(skipped, columns=SKIP_COLUMNS)
    for col in ("customer_id", "line_code", "invoice_no", "currency", "level", "reason", "detail"):
        skipped_df[col] = skipped_df[col].astype("string")
    skipped_df["open"] = skipped_df["open"].astype("int64")
    skipped_df["days_past_due"] = skipped_df["days_past_due"].astype("int64")
    skipped_df = skipped_df.sort_values(["customer_id", "line_code"], kind="stable").reset_index(drop=True)

    unconfirmed = pd.DataFrame(queued, columns=UNCONFIRMED_COLUMNS)
    for col in ("customer_id", "line_code", "level", "channel", "action_id", "error"):
        unconfirmed[col] = unconfirmed[col].astype("string")
    unconfirmed["claimed_at"] = pd.to_datetime(unconfirmed["claimed_at"], utc=True)
    return DunningPlan(as_of=as_of, policy=policy, reminders=reminders, skipped=skipped_df,
                       unconfirmed=unconfirmed, level_order=tuple(lv.name for lv in levels))
