"""The oracle for aging and KPIs: SPEC §5 (and §7's in_dispute) as plain Python loops.

Like tests/billing/reference_allocation.py it imports nothing from `billing/`:
it takes the oracle allocation's results (`reference_allocate(...)`) and the
invoice lines, and computes, one line at a time, what SPEC §5 says. The KPI
formulas are the standard definitions SPEC §5 names (DSO = open ÷ credit sales
of the period × days; the others as their usual definitions, written out in
`reference_kpis`).

Defaults are SPEC's: basis `due_date`, buckets current, 1-30, 31-60, 61-90,
91-120, over_120; a KPI period of the 90 days up to as_of; a missing due date
is invoice_date + 30 days (§2).
"""
from __future__ import annotations

import datetime as dt
import math

from tests.billing.reference_allocation import _day, _read_lines, held_amounts, reference_allocate

EDGES = (30, 60, 90, 120)


def bucket_of(days_past_due: int, edges=EDGES) -> str:
    """§5: `current` (not yet due), then `1-30`, `31-60`, ... with the upper edges inclusive, `over_<last>`."""
    if days_past_due <= 0:
        return "current"
    low = 1
    for edge in edges:
        if days_past_due <= edge:
            return f"{low}-{edge}"
        low = edge + 1
    return f"over_{edges[-1]}"


def bucket_labels(edges=EDGES) -> list[str]:
    labels, low = ["current"], 1
    for edge in edges:
        labels.append(f"{low}-{edge}")
        low = edge + 1
    return labels + [f"over_{edges[-1]}"]


def reference_line_aging(lines, allocation: dict, as_of, *, basis: str = "due_date", edges=EDGES,
                         terms_days: int = 30, disputes=None, default_currency: str = "USD") -> list[dict]:
    """Per invoice line dated <= as_of (credit notes are not aged, §4): open, days past due, bucket, in_dispute.

    `allocation` is `reference_allocate(...)` as of the same date. in_dispute is an amount:
    min(held by open disputes, open) (§7; a dispute without an amount holds the whole line).
    """
    as_of = _day(as_of)
    allocated = {code: amount for code, (amount, _) in allocation["line_allocated"].items()}
    read = _read_lines(lines, as_of, default_currency)
    held = held_amounts(disputes, {line["code"]: line["amount"] - allocated.get(line["code"], 0)
                                   for line in read if line["takes_part"]})
    out = []
    for line in read:
        if not line["takes_part"]:
            continue
        due = line["due_date"] or line["invoice_date"] + dt.timedelta(days=terms_days)
        open_amount = line["amount"] - allocated.get(line["code"], 0)  # §5: open = amount − allocated
        since = due if basis == "due_date" else line["invoice_date"]
        days = (as_of - since).days
        out.append({"code": line["code"], "customer": line["customer"], "currency": line["currency"],
                    "invoice_no": line["invoice_no"], "invoice_date": line["invoice_date"], "due_date": due,
                    "open": open_amount, "days_past_due": days, "bucket": bucket_of(days, edges),
                    "in_dispute": held.get(line["code"], 0)})
    return out


def reference_rollup(aged: list[dict], allocation: dict, edges=EDGES) -> dict:
    """§5 per (customer, currency): open per bucket, open total, unapplied credit (negative), in_dispute."""
    labels = bucket_labels(edges)
    groups: dict = {}

    def group(key):
        return groups.setdefault(key, {**{label: 0 for label in labels}, "open": 0, "unapplied": 0,
                                       "in_dispute": 0})

    for line in aged:
        if line["open"] == 0:
            continue
        g = group((line["customer"], line["currency"]))
        g[line["bucket"]] += line["open"]
        g["open"] += line["open"]
        g["in_dispute"] += line["in_dispute"]
    customer_of = {p["id"]: (p["customer"], p["currency"]) for p in allocation["payments"]}
    for pid, amount in allocation["unapplied"].items():
        group(customer_of[pid])["unapplied"] -= amount  # shown per customer as a negative column
    return groups


def _ratio(num, den, scale=1.0):
    return math.nan if den == 0 else num * scale / den


def reference_kpis(lines, payments, as_of, *, period_days: int = 90, basis: str = "due_date", edges=EDGES,
                   disputes=None, **allocation_options) -> dict:
    """§5 KPIs per currency over the period (as_of − period_days, as_of].

    T = total open at as_of; C = open of lines not yet due (due_date >= as_of); S = credit sales of the
    period (invoice lines, not credit notes, invoiced in it); B = total open at the period's start
    (the allocation re-run as of that date). Then:
      overdue = T − C, overdue % = 100 (T − C) / T;
      DSO = T / S × days; best possible DSO = C / S × days; average days delinquent = DSO − best DSO;
      CEI = 100 (B + S − T) / (B + S − C);
      of the lines fully paid in the period: their number, the mean days from invoice to the day they
      were fully paid, the % paid on or before their due date;
      unapplied cash; in dispute.
    A ratio with a zero denominator is NaN.
    """
    as_of = _day(as_of)
    start = as_of - dt.timedelta(days=period_days)
    now = reference_allocate(lines, payments, as_of, disputes=disputes, **allocation_options)
    then = reference_allocate(lines, payments, start, disputes=disputes, **allocation_options)
    currency = allocation_options.get("default_currency", "USD")
    aged = reference_line_aging(lines, now, as_of, basis=basis, edges=edges, disputes=disputes,
                                default_currency=currency)
    aged_then = reference_line_aging(lines, then, start, basis=basis, edges=edges, disputes=disputes,
                                     default_currency=currency)
    acc: dict = {}

    def per(ccy):
        return acc.setdefault(ccy, {"T": 0, "C": 0, "S": 0, "B": 0, "paid": 0, "days": 0, "on_time": 0,
                                    "unapplied": 0, "in_dispute": 0})

    paid_on = {code: date for code, (_, date) in now["line_allocated"].items()}
    for line in aged:
        k = per(line["currency"])
        k["T"] += line["open"]
        if line["due_date"] >= as_of:
            k["C"] += line["open"]
        k["in_dispute"] += line["in_dispute"]
        date = paid_on.get(line["code"])
        if date is not None and start < date <= as_of:
            k["paid"] += 1
            k["days"] += (date - line["invoice_date"]).days
            k["on_time"] += date <= line["due_date"]
    for line in _read_lines(lines, as_of, currency):
        if line["takes_part"] and line["invoice_date"] > start:
            per(line["currency"])["S"] += line["amount"]
    for line in aged_then:
        per(line["currency"])["B"] += line["open"]
    currency_of = {p["id"]: p["currency"] for p in now["payments"]}
    for pid, amount in now["unapplied"].items():
        per(currency_of[pid])["unapplied"] += amount

    out = {}
    for ccy, k in acc.items():
        T, C, S, B = k["T"], k["C"], k["S"], k["B"]
        dso, best = _ratio(T, S, period_days), _ratio(C, S, period_days)
        out[ccy] = {"total_open": T, "overdue": T - C, "overdue_pct": _ratio(T - C, T, 100.0),
                    "dso_days": dso, "best_possible_dso_days": best, "add_days": dso - best,
                    "cei_pct": _ratio(B + S - T, B + S - C, 100.0),
                    "lines_paid": k["paid"], "avg_days_to_pay": _ratio(k["days"], k["paid"]),
                    "paid_on_time_pct": _ratio(k["on_time"], k["paid"], 100.0),
                    "unapplied": k["unapplied"], "in_dispute": k["in_dispute"], "credit_sales": S}
    return out
