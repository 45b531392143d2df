"""The oracle: SPEC §4 payment allocation as a plain Python loop over dicts and lists.

Written to be obviously right rather than fast; `billing.allocation.allocate`
must agree with it exactly (tests/billing/test_allocation.py, bench/bench_engine.py).
The rules are the ones in the docstring of `billing.allocation`.

`reference_allocate(...)` returns a dict:
- allocations: list of (payment_id, line_code, amount, step) in output order
  (payment order, then step, then the order the step paid lines in);
- unapplied: {payment_id: amount > 0};
- line_allocated: {line_code: (allocated, last_payment_date or None)};
- issues: list of (payment_id, token, problem, suggestion or None), payment order;
- mismatches: set of (payment_id, line_code);
- payments: list of effective payment dicts in payment order.
"""
from __future__ import annotations

import re
import unicodedata

import pandas as pd
from rapidfuzz import fuzz

from billing.linecode import canonical, is_valid, looks_like_code
from billing.model import open_dispute_codes
from billing.policy import Policy

TOKEN = re.compile(r"[0-9A-Za-z/\-]+")
CODE_TAIL = re.compile(r"-\d{3,}[0-9A-Za-z]$")
STEPS = ["line", "invoice", "fifo"]


def _text(value):
    """A cell as str, or None when missing."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    return str(value)


def _date(value):
    if value is None or value is pd.NaT or pd.isna(value):
        return None
    return pd.Timestamp(value)


def reference_allocate(lines: pd.DataFrame, payments: pd.DataFrame, as_of, policy: Policy = Policy(),
                       disputes: pd.DataFrame | None = None) -> dict:
    as_of = pd.Timestamp(as_of)

    # ---- lines
    all_lines = []
    for row in lines.to_dict("records"):
        amount = int(row["amount"])
        kind = _text(row.get("kind"))
        is_credit = kind == "credit_note" or (kind is None and amount < 0)
        invoice_date = _date(row["invoice_date"])
        all_lines.append({
            "code": _text(row["line_code"]),
            "invoice_no": _text(row["invoice_no"]),
            "line_no": int(row["line_no"]),
            "customer": _text(row["customer_id"]),
            "currency": _text(row.get("currency")) or policy.default_currency,
            "amount": amount,
            "invoice_date": invoice_date,
            "due_date": _date(row.get("due_date")),
            "credit": is_credit,
            "dated": invoice_date is not None and invoice_date <= as_of,
            "applies_to": _text(row.get("applies_to")),
        })
    for line in all_lines:
        line["takes_part"] = not line["credit"] and line["dated"]
        line["payable"] = line["takes_part"] and line["amount"] > 0 and line["customer"] is not None

    # ---- payments, then credit notes as payments
    pays = []
    for row in payments.to_dict("records"):
        date = _date(row["payment_date"])
        if date is None or date > as_of:
            continue
        pays.append({
            "id": _text(row["payment_id"]), "date": date, "customer": _text(row["customer_id"]),
            "currency": _text(row.get("currency")) or policy.default_currency, "amount": int(row["amount"]),
            "source": "payment", "invoice_no": _text(row.get("invoice_no")),
            "line_code": _text(row.get("line_code")), "reference": _text(row.get("reference")),
        })
    for line in all_lines:
        if line["credit"] and line["dated"]:
            pays.append({
                "id": line["code"], "date": line["invoice_date"], "customer": line["customer"],
                "currency": line["currency"], "amount": abs(line["amount"]), "source": "credit_note",
                "invoice_no": line["applies_to"], "line_code": None, "reference": None,
            })
    pays.sort(key=lambda p: (p["date"], p["id"], 0 if p["source"] == "payment" else 1))

    # ---- what each customer's references can name
    codes_of = {}      # customer -> canonical code -> [line index]
    invoices_of = {}   # customer -> canonical invoice number -> {invoice_no}
    for i, line in enumerate(all_lines):
        if line["customer"] is None:
            continue
        if line["code"] is not None and canonical(line["code"]):
            codes_of.setdefault(line["customer"], {}).setdefault(canonical(line["code"]), []).append(i)
        if line["invoice_no"] is not None:
            invoices_of.setdefault(line["customer"], {}).setdefault(canonical(line["invoice_no"]), set()).add(
                line["invoice_no"])

    sorted_cache = {}

    def sorted_invoices(customer):
        if customer not in sorted_cache:
            sorted_cache[customer] = sorted(n for names in invoices_of.get(customer, {}).values() for n in names)
        return sorted_cache[customer]

    issues = []
    line_refs = {}
    invoice_refs = {}
    named_invoices = {}
    for p in pays:
        values = []
        if p["line_code"] is not None and p["line_code"].strip():
            values.append((p["line_code"].strip(), "line_code"))
        if p["invoice_no"] is not None and p["invoice_no"].strip():
            values.append((p["invoice_no"].strip(), "invoice_no"))
        if p["reference"] is not None:
            for token in TOKEN.findall(unicodedata.normalize("NFKC", p["reference"])):
                values.append((token, "text"))
        my_lines, my_invoices = [], []
        seen_problems = set()
        codes = codes_of.get(p["customer"], {})
        invoices = invoices_of.get(p["customer"], {})
        for raw, source in values:
            c = canonical(raw)
            if not c:
                continue
            problem = None
            if c in codes:
                if len(codes[c]) == 1:
                    my_lines.append(codes[c][0])
                else:
                    problem = "ambiguous"
            elif c in invoices:
                if len(invoices[c]) == 1:
                    my_invoices.append(next(iter(invoices[c])))
                else:
                    problem = "ambiguous"
            elif source == "invoice_no":
                problem = "unknown_invoice"
            elif looks_like_code(raw):
                problem = "unknown_code" if is_valid(raw) else "bad_check"
            elif source == "line_code":
                problem = "unknown_code"
            if problem is not None and (c, problem) not in seen_problems:
                seen_problems.add((c, problem))
                issues.append((p["id"], raw, problem, _suggest(raw, problem, sorted_invoices(p["customer"]),
                                                               policy.fuzzy_min_score)))
        lines_once = []
        for i in my_lines:
            if i not in lines_once:
                lines_once.append(i)
        line_refs[p["id"]] = lines_once
        named_invoices[p["id"]] = []
        for inv in my_invoices:
            if inv not in named_invoices[p["id"]]:
                named_invoices[p["id"]].append(inv)
        invoices_once = list(named_invoices[p["id"]])
        for i in lines_once:
            inv = all_lines[i]["invoice_no"]
            if inv is not None and inv not in invoices_once:
                invoices_once.append(inv)
        invoice_refs[p["id"]] = invoices_once

    lines_of_invoice = {}  # (customer, invoice_no) -> [line index] in (line_no, line_code) order
    for i, line in enumerate(all_lines):
        lines_of_invoice.setdefault((line["customer"], line["invoice_no"]), []).append(i)
    for key in lines_of_invoice:
        lines_of_invoice[key].sort(key=lambda i: (all_lines[i]["line_no"], all_lines[i]["code"]))

    # ---- currency mismatches
    mismatches = set()
    for p in pays:
        for i in line_refs[p["id"]]:
            line = all_lines[i]
            if line["takes_part"] and line["amount"] > 0 and line["currency"] != p["currency"]:
                mismatches.add((p["id"], line["code"]))
        for inv in named_invoices[p["id"]]:
            for i in lines_of_invoice[(p["customer"], inv)]:
                line = all_lines[i]
                if line["takes_part"] and line["amount"] > 0 and line["currency"] != p["currency"]:
                    mismatches.add((p["id"], line["code"]))

    # ---- the three steps
    open_amount = {i: line["amount"] for i, line in enumerate(all_lines) if line["payable"]}
    remaining = {p["id"]: max(p["amount"], 0) for p in pays}
    paid = []  # (payment index, step index, sequence, payment_id, line index, amount)

    def pay(k, p, step, i):
        take = min(remaining[p["id"]], open_amount[i])
        if take > 0:
            remaining[p["id"]] -= take
            open_amount[i] -= take
            paid.append((k, step, len(paid), p["id"], i, take))

    def can_pay(p, i):
        line = all_lines[i]
        return line["payable"] and line["customer"] == p["customer"] and line["currency"] == p["currency"]

    # step 1: the lines named
    for k, p in enumerate(pays):
        for i in line_refs[p["id"]]:
            if can_pay(p, i):
                pay(k, p, 0, i)

    # step 2: the invoices named, their lines in line_no order
    for k, p in enumerate(pays):
        for inv in invoice_refs[p["id"]]:
            for i in lines_of_invoice.get((p["customer"], inv), []):
                if can_pay(p, i):
                    pay(k, p, 1, i)

    # step 3: FIFO over the customer's open lines in the payment's currency
    skip = open_dispute_codes(disputes) if policy.fifo_skip_disputed else set()
    far = pd.Timestamp.max
    queues = {}
    for i, line in enumerate(all_lines):
        if line["payable"] and line["code"] not in skip:
            queues.setdefault((line["customer"], line["currency"]), []).append(i)
    for key in queues:
        queues[key].sort(key=lambda i: (all_lines[i]["due_date"] or far, all_lines[i]["invoice_date"],
                                        (all_lines[i]["invoice_no"] is not None, all_lines[i]["invoice_no"] or ""),
                                        all_lines[i]["line_no"], all_lines[i]["code"]))
    next_open = {key: 0 for key in queues}
    for k, p in enumerate(pays):
        key = (p["customer"], p["currency"])
        queue = queues.get(key, [])
        while remaining[p["id"]] > 0 and next_open.get(key, 0) < len(queue):
            i = queue[next_open[key]]
            pay(k, p, 2, i)
            if open_amount[i] == 0:
                next_open[key] += 1

    # ---- results
    paid.sort(key=lambda r: (r[0], r[1], r[2]))
    allocations = [(pid, all_lines[i]["code"], amount, STEPS[step]) for _, step, _, pid, i, amount in paid]
    last_date = {}
    date_of = {p["id"]: p["date"] for p in pays}
    for _, _, _, pid, i, _ in paid:
        last_date[i] = max(last_date.get(i, date_of[pid]), date_of[pid])
    line_allocated = {}
    for i, line in enumerate(all_lines):
        if not line["takes_part"]:
            continue
        if line["payable"]:
            allocated = line["amount"] - open_amount[i]
            done = open_amount[i] == 0
        else:
            allocated, done = 0, False
        line_allocated[line["code"]] = (allocated, last_date.get(i) if done else None)
    unapplied = {pid: amount for pid, amount in remaining.items() if amount > 0}
    return {"allocations": allocations, "unapplied": unapplied, "line_allocated": line_allocated,
            "issues": issues, "mismatches": mismatches, "payments": pays}


def _suggest(raw: str, problem: str, invoices: list, min_score: float):
    """The customer's invoice number closest to the value (never applied); ties to the smaller number."""
    if problem == "ambiguous":
        return None
    stem = CODE_TAIL.sub("", raw)
    best, best_score = None, -1.0
    for inv in invoices:  # in string order
        score = max(fuzz.ratio(canonical(raw), canonical(inv)), fuzz.ratio(canonical(stem), canonical(inv)))
        if score > best_score:
            best, best_score = inv, score
    return best if best is not None and best_score >= min_score else None
