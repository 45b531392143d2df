"""Late-payment interest and compensation that *may be charged* (EU Directive 2011/7/EU). Pure.

An optional policy (``[interest]`` in the statement settings). Per overdue
invoice of a statement:

* **interest** — statutory interest: the reference rate (the ECB's main
  refinancing rate in force on 1 January for the first half of a year and on
  1 July for the second half, Art. 2(12)) plus ``margin_pct`` (8 points,
  Art. 2(6)) a year, simple interest, on the invoice's undisputed open amount,
  for each day from the day after its due date up to and including the
  statement date, on an actual/365 day count. When the period crosses a
  half-year, each day carries the rate in force that day.
* **compensation** — a fixed sum per overdue invoice (Art. 6: EUR 40), in the
  invoice's currency: ``compensation = {EUR = "40", HUF = "15000"}``; an
  invoice in a currency not listed gets none (the policy says what the
  equivalent is, nothing is converted silently).

**Rounding**: amounts are integer minor units. The interest of an invoice is
the exact rational ``Σ open × rate × days / (100 × 365)`` over its overdue
lines and rate periods, rounded once, half up, to the minor unit.
Nothing here is ever added to a balance: the statement shows it in a
separate "may be charged" section.
"""
from __future__ import annotations

import tomllib
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from billing.money import minor_digits

__all__ = ["ReferenceRate", "InterestPolicy", "InterestError", "late_charges", "load_interest_policy",
           "CHARGE_COLUMNS"]

CHARGE_COLUMNS = ["customer_id", "currency", "invoice_no", "due_date", "days", "overdue", "rate_pct", "interest",
                  "compensation"]
_RATE_SCALE = 10_000  # rates are held in 1/10,000 of a percent
_DAYS_A_YEAR = 365
_NS_PER_DAY = 86_400_000_000_000


class InterestError(ValueError):
    """The policy cannot price a day (no reference rate in force then)."""


class ReferenceRate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    start: date  # the rate is in force from this day (1 January / 1 July) until the next one
    rate_pct: Decimal = Field(ge=-100, le=100)

    @field_validator("rate_pct")
    @classmethod
    def _precision(cls, v: Decimal) -> Decimal:
        if (v * _RATE_SCALE) != (v * _RATE_SCALE).to_integral_value():
            raise ValueError(f"rate {v} has more than 4 decimals")
        return v


class InterestPolicy(BaseModel):
    """In TOML::

        margin_pct = "8"
        compensation = { EUR = "40" }
        [[reference_rates]]
        start = 2026-01-01
        rate_pct = "2.15"
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    reference_rates: tuple[ReferenceRate, ...] = Field(min_length=1)
    margin_pct: Decimal = Field(Decimal(8), ge=0, le=100)
    compensation: dict[str, Decimal] = Field(default_factory=lambda: {"EUR": Decimal(40)})

    @field_validator("reference_rates")
    @classmethod
    def _ordered(cls, v: tuple[ReferenceRate, ...]) -> tuple[ReferenceRate, ...]:
        v = tuple(sorted(v, key=lambda r: r.start))
        if len({r.start for r in v}) != len(v):
            raise ValueError("two reference rates start on the same day")
        return v

    @field_validator("compensation")
    @classmethod
    def _upper(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        if any(x < 0 for x in v.values()):
            raise ValueError("compensation cannot be negative")
        return {k.strip().upper(): x for k, x in v.items()}

    def rate_on(self, day: date) -> Decimal:
        """The annual interest rate in percent (reference + margin) in force on `day`."""
        current = [r for r in self.reference_rates if r.start <= day]
        if not current:
            raise InterestError(f"no reference rate in force on {day:%Y-%m-%d}: add one starting on or before "
                                "that day to the interest policy's reference_rates")
        return current[-1].rate_pct + self.margin_pct

    def compensation_minor(self, currency: str) -> int:
        major = self.compensation.get(str(currency).upper())
        return 0 if major is None else int((Decimal(major) * 10 ** minor_digits(currency)).to_integral_value("ROUND_HALF_UP"))


def load_interest_policy(text: str) -> InterestPolicy:
    return InterestPolicy(**tomllib.loads(text))


def _day_number(d: date) -> int:
    return pd.Timestamp(d).value // _NS_PER_DAY


def _empty() -> pd.DataFrame:
    spec = {"customer_id": "string", "currency": "string", "invoice_no": "string", "due_date": "datetime64[ns]",
            "days": "int64", "overdue": "int64", "rate_pct": "string", "interest": "int64", "compensation": "int64"}
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in spec.items()})


def _rate_days(first: np.ndarray, last: np.ndarray, policy: InterestPolicy) -> np.ndarray:
    """Σ rate × days per line, in 1/10,000 % × days (Python ints), for the days first..last inclusive."""
    rates = policy.reference_rates
    earliest = int(first.min())
    if earliest < _day_number(rates[0].start):
        raise InterestError(f"no reference rate in force on {pd.Timestamp(earliest * _NS_PER_DAY):%Y-%m-%d}: "
                            "add an earlier one to the interest policy's reference_rates")
    total = np.zeros(len(first), dtype=object)
    for k, r in enumerate(rates):
        lo = _day_number(r.start)
        hi = _day_number(rates[k + 1].start) - 1 if k + 1 < len(rates) else int(last.max())
        days = np.clip(np.minimum(last, hi) - np.maximum(first, lo) + 1, 0, None)
        scaled = int((r.rate_pct + policy.margin_pct) * _RATE_SCALE)
        total = total + days.astype(object) * scaled
    return total


def late_charges(items: pd.DataFrame, as_of: pd.Timestamp | str, policy: InterestPolicy) -> pd.DataFrame:
    """Interest and compensation per overdue invoice (columns ``CHARGE_COLUMNS``).

    `items`: open items (``billing.statement`` ``open_items``: customer_id, currency,
    invoice_no, due_date, open, disputed). An invoice is overdue when one of its
    lines is past due with an undisputed open amount; ``overdue`` is that amount,
    ``days`` the most days late of its lines, ``rate_pct`` the annual rate in
    force on the statement date.
    """
    as_of = pd.Timestamp(as_of).normalize()
    if items is None or len(items) == 0:
        return _empty()
    due_day = items["due_date"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)
    as_of_day = as_of.value // _NS_PER_DAY
    undisputed = items["open"].to_numpy(dtype=np.int64) - (
        items["disputed"].to_numpy(dtype=np.int64) if "disputed" in items.columns else 0)
    late = (due_day < as_of_day) & (undisputed > 0)
    if not late.any():
        return _empty()
    lines = items.loc[late, ["customer_id", "currency", "invoice_no", "due_date"]].reset_index(drop=True)
    amount = undisputed[late]
    weight = _rate_days(due_day[late] + 1, np.full(int(late.sum()), as_of_day), policy)
    lines["overdue"] = amount
    lines["_numerator"] = amount.astype(object) * weight
    lines["days"] = as_of_day - due_day[late]
    keys = ["customer_id", "currency", "invoice_no"]
    g = lines.groupby(keys, sort=True, as_index=False).agg(
        due_date=("due_date", "min"), days=("days", "max"), overdue=("overdue", "sum"),
        _numerator=("_numerator", "sum"))
    denominator = 100 * _RATE_SCALE * _DAYS_A_YEAR
    g["interest"] = pd.array([(2 * int(n) + denominator) // (2 * denominator) for n in g["_numerator"]],
                             dtype="int64")
    per_currency = {c: policy.compensation_minor(c) for c in g["currency"].astype(str).unique()}
    g["compensation"] = g["currency"].astype(str).map(per_currency).astype("int64")
    g["rate_pct"] = str(policy.rate_on(as_of.date()).normalize())
    g = g.sort_values(["customer_id", "currency", "due_date", "invoice_no"], kind="stable")
    out = g[CHARGE_COLUMNS].astype({"customer_id": "string", "currency": "string", "invoice_no": "string",
                                    "rate_pct": "string", "days": "int64", "overdue": "int64"})
    return out.reset_index(drop=True)
