"""The oracle for payment allocation: SPEC §3 (line codes) and §4 (allocation) as plain Python loops.

Written from the SPEC alone, to be checked against it line by line; it imports
nothing from `billing/` or `connectors/` (its own check character, tokenizer,
dispute rule and defaults), so a bug in a helper the engine uses cannot hide
here too. Slow on purpose: lists, dicts and loops, one payment at a time.

Where the SPEC leaves a convention open (names of the problems, the order of
output rows, what a suggestion is), the oracle follows docs/DESIGN.md's
output contract; those places say "convention".

`reference_allocate(...)` returns a dict:
- allocations: list of (payment_id, line_code, amount, step) in output order
  (payment order, then step, then the order the step paid lines in);
- unapplied: {payment_id: amount > 0};
- line_allocated: {line_code: (allocated, date fully paid or None)};
- issues: list of (payment_id, token, problem, suggestion or None), payment order;
- mismatches: set of (payment_id, line_code);
- payments: list of effective payment dicts in payment order.
"""
from __future__ import annotations

import datetime as dt
import unicodedata

import pandas as pd
from rapidfuzz import fuzz

# ---------------------------------------------------------------------------------------------- SPEC §3

# ISO 7064 MOD 37,36: an alphabet of 36 characters, modulus M = 36 and M + 1 = 37.
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
M = 36


def canonical(text: str) -> str:
    """§3: "Codes match case-insensitively and ignoring separators": upper case, letters and digits only."""
    out = ""
    for ch in unicodedata.normalize("NFKC", text).upper():
        if ch in ALPHABET:
            out += ch
    return out


def _carry(body: str) -> int:
    """ISO 7064 hybrid system, run over `body`: P1 = M; S_j = (P_j + a_j) mod M (0 read as M); P_j+1 = 2 S_j mod (M+1)."""
    p = M
    for ch in body:
        s = (p + ALPHABET.index(ch)) % M
        if s == 0:
            s = M
        p = (2 * s) % (M + 1)
    return p


def check_character(text: str) -> str:
    """§3: the check character C over the letters and digits of `text`, upper-cased: (P_n + C) mod M == 1."""
    return ALPHABET[(1 - _carry(canonical(text))) % M]


def has_valid_check(code: str) -> bool:
    """Whether the last letter/digit of `code` is the check character of the ones before it."""
    body = canonical(code)
    return len(body) >= 2 and check_character(body[:-1]) == body[-1]


def line_code(invoice_no: str, line_no: int) -> str:
    """§3: `{invoice_no}-{line_no:03d}{C}`."""
    stem = invoice_no + "-" + str(line_no).zfill(3)
    return stem + check_character(stem)


def _is_ascii_alnum(ch: str) -> bool:
    return ch.upper() in ALPHABET and ch.isascii()


def has_code_shape(token: str) -> bool:
    """§4 "has the shape of a line code": something, `-`, at least 3 digits, one check letter/digit.

    The something starts with a letter or digit and holds letters, digits, `-` and `/` (what fits a
    bank remittance field, §3).
    """
    head, dash, tail = token.rpartition("-")
    if not dash or not head or len(tail) < 4:
        return False
    digits, check = tail[:-1], tail[-1]
    if not all(ch in "0123456789" for ch in digits) or not _is_ascii_alnum(check):
        return False
    return _is_ascii_alnum(head[0]) and all(_is_ascii_alnum(ch) or ch in "-/" for ch in head)


def reference_tokens(text: str) -> list[str]:
    """§4: "Reference text is split into tokens on white space and punctuation other than `-` and `/`".

    Convention: the text is NFKC-normalised first, and every character that is not an ASCII letter,
    digit, `-` or `/` separates tokens (other non-ASCII letters could never be part of a code).
    """
    tokens, current = [], ""
    for ch in unicodedata.normalize("NFKC", text):
        if _is_ascii_alnum(ch) or ch in "-/":
            current += ch
        else:
            if current:
                tokens.append(current)
            current = ""
    if current:
        tokens.append(current)
    return tokens


# ---------------------------------------------------------------------------------------------- SPEC §7

# §7: the states a dispute can leave are open, in_review, escalated; resolved, rejected and withdrawn are final.
OPEN_STATUSES = ("open", "in_review", "escalated")


def held_amounts(disputes, open_amount: dict[str, int]) -> dict[str, int]:
    """§7 "A dispute holds its amount, not the whole line": line code -> amount held by open disputes.

    `open_amount`: line code -> its open amount. A dispute (rows sharing a `dispute_id`; without
    that column each row is a dispute of its own) with an `amount` holds at most that amount, taken
    from its lines in order (`seq`, then line code), each up to its open amount; one with no amount
    (or no amount column) holds its lines' whole open amounts. Never more than a line's open amount.
    """
    held: dict[str, int] = {}
    if disputes is None:
        return held
    by_dispute: dict = {}
    for k, row in enumerate(disputes.to_dict("records")):
        code, status = _text(row.get("line_code")), _text(row.get("status"))
        if code is None or status not in OPEN_STATUSES or code not in open_amount:
            continue
        key = ("row", k) if _missing(row.get("dispute_id")) else ("id", int(row["dispute_id"]))
        seq = 0 if _missing(row.get("seq")) else int(row["seq"])
        by_dispute.setdefault(key, []).append((seq, code, row.get("amount")))
    for rows in by_dispute.values():
        rows.sort(key=lambda r: (r[0], r[1]))
        amount = rows[0][2]
        left = float("inf") if _missing(amount) else int(amount)
        for _, code, _ in rows:
            take = min(max(open_amount[code], 0), left)
            left -= take
            held[code] = min(held.get(code, 0) + int(take), max(open_amount[code], 0))
    return held


# ---------------------------------------------------------------------------------------------- cells

def _missing(value) -> bool:
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))


def _text(value):
    """A cell as str, or None when blank."""
    return None if _missing(value) else str(value)


def _day(value):
    """A date cell as a datetime.date, or None."""
    if _missing(value):
        return None
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    return dt.date(value.year, value.month, value.day)


# ---------------------------------------------------------------------------------------------- SPEC §4

def _read_lines(lines, as_of, default_currency):
    out = []
    for row in lines.to_dict("records"):
        amount = int(row["amount"])
        kind = _text(row.get("kind"))
        invoice_date = _day(row["invoice_date"])
        line = {
            "code": _text(row["line_code"]), "invoice_no": _text(row["invoice_no"]),
            "line_no": int(row["line_no"]), "customer": _text(row["customer_id"]),
            "currency": _text(row.get("currency")) or default_currency,  # §2: USD when unset
            "amount": amount, "invoice_date": invoice_date, "due_date": _day(row.get("due_date")),
            # §2: kind `invoice` or `credit_note`; a negative amount with no kind is a credit note
            "credit": kind == "credit_note" or (kind is None and amount < 0),
            "applies_to": _text(row.get("applies_to")),
        }
        # §4: only lines with invoice_date <= as_of take part; credit note lines are not aged (they pay)
        line["dated"] = invoice_date is not None and invoice_date <= as_of
        line["takes_part"] = line["dated"] and not line["credit"]
        # convention: only a positive invoice line of a known customer can receive money
        line["payable"] = line["takes_part"] and amount > 0 and line["customer"] is not None
        out.append(line)
    return out


def _read_payments(payments, lines, as_of, default_currency):
    """§4: payments dated <= as_of, then credit notes dated <= as_of as payments; in (date, id) order."""
    pays = []
    for row in payments.to_dict("records"):
        date = _day(row["payment_date"])
        if date is None or date > as_of:
            continue
        pays.append({"id": _text(row["payment_id"]), "date": date, "customer": _text(row["customer_id"]),
                     "currency": _text(row.get("currency")) or default_currency, "amount": int(row["amount"]),
                     "source": "payment", "invoice_no": _text(row.get("invoice_no")),
                     "line_code": _text(row.get("line_code")), "reference": _text(row.get("reference"))})
    for line in lines:
        if line["credit"] and line["dated"]:
            # payment_id = the credit note line's code, amount = its absolute value, dated on its
            # invoice_date, referencing the invoice in applies_to
            pays.append({"id": line["code"], "date": line["invoice_date"], "customer": line["customer"],
                         "currency": line["currency"], "amount": abs(line["amount"]), "source": "credit_note",
                         "invoice_no": line["applies_to"], "line_code": None, "reference": None})
    # "Within a step, payments apply in (payment_date, payment_id) order"; convention: a payment before
    # a credit note with the same date and id
    pays.sort(key=lambda p: (p["date"], p["id"], 0 if p["source"] == "payment" else 1))
    return pays


def _reference_values(p):
    """What a payment names, in order: its line_code cell, its invoice_no cell, the tokens of its reference."""
    values = []
    if p["line_code"] is not None and p["line_code"].strip():
        values.append((p["line_code"].strip(), "line_code"))
    if p["invoice_no"] is not None and p["invoice_no"].strip():
        values.append((p["invoice_no"].strip(), "invoice_no"))
    if p["reference"] is not None:
        for token in reference_tokens(p["reference"]):
            values.append((token, "text"))
    return values


def _match(raw, source, codes, invoices):
    """One value against the customer's line codes first, then invoice numbers (§4).

    Returns ("line", i) | ("invoice", invoice_no) | ("problem", name) | None (a free-text word).
    Convention for the problems: two of the customer's lines (or invoices) with that canonical form is
    "ambiguous"; an unmatched invoice_no cell is "unknown_invoice"; an unmatched line_code cell or a
    token with a code's shape is "bad_check" when its check character is wrong, else "unknown_code".
    """
    c = canonical(raw)
    if c in codes:
        return ("line", codes[c][0]) if len(codes[c]) == 1 else ("problem", "ambiguous")
    if c in invoices:
        return ("invoice", invoices[c][0]) if len(invoices[c]) == 1 else ("problem", "ambiguous")
    if source == "invoice_no":
        return ("problem", "unknown_invoice")
    if has_code_shape(raw):
        return ("problem", "unknown_code" if has_valid_check(raw) else "bad_check")
    if source == "line_code":
        return ("problem", "unknown_code")
    return None


def _suggest(raw, invoice_numbers, min_score):
    """§4 "A fuzzy match of a reference to an invoice number is offered as a suggestion, never applied".

    Convention: the invoice number (of the customer, in string order, the first of equals) with the best
    rapidfuzz ratio of canonical forms, against the value or the value without a trailing `-001K`.
    """
    stem = raw
    head, dash, tail = raw.rpartition("-")
    if dash and len(tail) >= 4 and all(ch in "0123456789" for ch in tail[:-1]) and _is_ascii_alnum(tail[-1]):
        stem = head
    best, best_score = None, -1.0
    for number in sorted(invoice_numbers):
        score = max(fuzz.ratio(canonical(raw), canonical(number)), fuzz.ratio(canonical(stem), canonical(number)))
        if score > best_score:
            best, best_score = number, score
    return best if best is not None and best_score >= min_score else None


def _customer_keys(lines):
    """Per customer: canonical line code -> [line index]; canonical invoice number -> [invoice_no]."""
    codes_of, invoices_of = {}, {}
    for i, line in enumerate(lines):
        if line["customer"] is None:
            continue
        if line["code"] is not None and canonical(line["code"]):
            codes_of.setdefault(line["customer"], {}).setdefault(canonical(line["code"]), []).append(i)
        if line["invoice_no"] is not None:
            names = invoices_of.setdefault(line["customer"], {}).setdefault(canonical(line["invoice_no"]), [])
            if line["invoice_no"] not in names:
                names.append(line["invoice_no"])
    return codes_of, invoices_of


def _references(pays, lines, fuzzy_min_score):
    """Per payment: the lines it names, the invoices it names, and the issues its values raise."""
    codes_of, invoices_of = _customer_keys(lines)
    issues, named_lines, named_invoices = [], {}, {}
    for p in pays:
        codes, invoices = codes_of.get(p["customer"], {}), invoices_of.get(p["customer"], {})
        named_lines[p["id"]], named_invoices[p["id"]] = [], []
        reported = []
        for raw, source in _reference_values(p):
            if not canonical(raw):
                continue
            found = _match(raw, source, codes, invoices)
            if found is None:
                continue
            what, value = found
            if what == "line" and value not in named_lines[p["id"]]:
                named_lines[p["id"]].append(value)
            elif what == "invoice" and value not in named_invoices[p["id"]]:
                named_invoices[p["id"]].append(value)
            elif what == "problem" and (canonical(raw), value) not in reported:
                # reported once per (payment, value, problem); nothing is guessed from it
                reported.append((canonical(raw), value))
                numbers = [n for names in invoices.values() for n in names]
                suggestion = None if value == "ambiguous" else _suggest(raw, numbers, fuzzy_min_score)
                issues.append((p["id"], raw, value, suggestion))
    return issues, named_lines, named_invoices


def _mismatches(pays, lines, named_lines, named_invoices):
    """Lines a payment names (by code, or by invoice number) that take part but are in another currency."""
    out = set()
    for p in pays:
        named = list(named_lines[p["id"]])
        for i, line in enumerate(lines):
            if line["customer"] == p["customer"] and line["invoice_no"] in named_invoices[p["id"]]:
                named.append(i)
        for i in named:
            line = lines[i]
            if line["takes_part"] and line["amount"] > 0 and line["currency"] != p["currency"]:
                out.add((p["id"], line["code"]))
    return out


def _invoice_lines(lines, customer, invoice_no):
    """The lines of one invoice of a customer in line_no order (convention: then line code)."""
    mine = [i for i, line in enumerate(lines) if line["customer"] == customer and line["invoice_no"] == invoice_no]
    return sorted(mine, key=lambda i: (lines[i]["line_no"], lines[i]["code"]))


def _fifo_order(lines, i):
    """§4 step 3: oldest due first; ties: invoice_date, invoice_no, line_no (convention: no due date last,
    no invoice number first, then line code)."""
    line = lines[i]
    due = line["due_date"] or dt.date.max
    return (due, line["invoice_date"], line["invoice_no"] is not None, line["invoice_no"] or "", line["line_no"],
            line["code"])


def _fulfilled(adj, line, lines, as_of):
    """§15 convention: a credit-note request is fulfilled once a credit note of the customer applying
    to the line's invoice, dated on or after the request (and by as_of), is in the data."""
    return adj["kind"] == "credit_note" and any(
        other["credit"] and other["dated"] and other["customer"] == line["customer"]
        and other["applies_to"] == line["invoice_no"] and other["invoice_date"] >= adj["on"] for other in lines)


def _adjust(adjustments, as_of, all_lines, pays, open_amount, remaining, paid, closed):
    """§15 adjustments before step 1, one at a time in (date, id) order. A manual application pays its
    line from its payment (same customer and currency), a write-off or credit-note request closes part
    of the line without money; each takes at most what is left of the line (and of the payment)."""
    if adjustments is None:
        return
    rows = sorted(adjustments.to_dict("records"), key=lambda r: (_day(r["on"]), int(r["adjustment_id"])))
    code_of = {}
    for i, line in enumerate(all_lines):
        code_of.setdefault(line["code"], i)
    pay_of = {}
    for k, p in enumerate(pays):
        pay_of.setdefault(p["id"], k)
    for row in rows:
        adj = {"id": int(row["adjustment_id"]), "kind": row["kind"], "code": _text(row["line_code"]),
               "payment": _text(row.get("payment_id")), "amount": int(row["amount"]), "on": _day(row["on"])}
        i = code_of.get(adj["code"])
        if i is None or adj["on"] > as_of or i not in open_amount:
            continue
        line = all_lines[i]
        if adj["kind"] == "apply":
            k = pay_of.get(adj["payment"])
            if k is None:
                continue
            p = pays[k]
            if (p["customer"], p["currency"]) != (line["customer"], line["currency"]):
                continue
            take = min(adj["amount"], open_amount[i], remaining[p["id"]])
            if take > 0:
                remaining[p["id"]] -= take
                open_amount[i] -= take
                paid.append((k, -1, len(paid), p["id"], i, take))
        elif not _fulfilled(adj, line, all_lines, as_of):
            take = min(adj["amount"], open_amount[i])
            if take > 0:
                open_amount[i] -= take
                closed.append((f"{adj['kind']} #{adj['id']}", adj["on"], i, take, adj["kind"]))


def reference_allocate(lines, payments, as_of, *, skip_disputed: bool = True, default_currency: str = "USD",
                       fuzzy_min_score: float = 85.0, disputes=None, adjustments=None) -> dict:
    """SPEC §4 over pandas frames of invoice lines and payments (the shapes of tests/factories.py).

    Defaults are SPEC's: lines under an open dispute are skipped by FIFO ("by default"), a missing
    currency is USD (§2). `fuzzy_min_score` is the suggestion threshold (convention: 85).
    `adjustments` (§15): rows of adjustment_id, kind, line_code, payment_id, amount, on; applied
    before step 1. Convention for the output: a manual application's rows come first among its
    payment's rows; write-offs and credit-note requests are payments of their own ("write_off #12",
    dated on their date) listed after all others, in (date, id) order.
    """
    as_of = _day(as_of)
    all_lines = _read_lines(lines, as_of, default_currency)
    pays = _read_payments(payments, all_lines, as_of, default_currency)
    issues, named_lines, named_invoices = _references(pays, all_lines, fuzzy_min_score)
    mismatches = _mismatches(pays, all_lines, named_lines, named_invoices)

    open_amount = {i: line["amount"] for i, line in enumerate(all_lines) if line["payable"]}
    remaining = {p["id"]: max(p["amount"], 0) for p in pays}  # a refund (negative) pays nothing
    paid = []  # (payment index, step, sequence, payment_id, line index, amount)

    def pay(k, p, step, i, limit):
        """Payment p pays line i (same customer and currency only) up to `limit`."""
        line = all_lines[i]
        if not (line["payable"] and line["customer"] == p["customer"] and line["currency"] == p["currency"]):
            return
        take = min(remaining[p["id"]], open_amount[i], limit)
        if take > 0:
            remaining[p["id"]] -= take
            open_amount[i] -= take
            paid.append((k, step, len(paid), p["id"], i, take))

    closed = []  # (payment id, date, line index, amount, kind) of write-offs and credit-note requests
    _adjust(adjustments, as_of, all_lines, pays, open_amount, remaining, paid, closed)
    unlimited = float("inf")
    # Step 1 for all payments: the lines named, up to their open amount.
    for k, p in enumerate(pays):
        for i in named_lines[p["id"]]:
            pay(k, p, 0, i, unlimited)
    # Step 2 for all: the invoices named, then the invoices of the lines named in step 1; lines in line_no order.
    for k, p in enumerate(pays):
        invoices = list(named_invoices[p["id"]])
        for i in named_lines[p["id"]]:
            if all_lines[i]["invoice_no"] is not None and all_lines[i]["invoice_no"] not in invoices:
                invoices.append(all_lines[i]["invoice_no"])
        for invoice_no in invoices:
            for i in _invoice_lines(all_lines, p["customer"], invoice_no):
                pay(k, p, 1, i, unlimited)
    # Step 3 for all: the customer's open lines, oldest due first; an open dispute holds its amount
    # of what steps 1 and 2 left open.
    held = held_amounts(disputes, {all_lines[i]["code"]: left for i, left in open_amount.items()}) \
        if skip_disputed else {}
    queue = sorted(open_amount, key=lambda i: _fifo_order(all_lines, i))
    for k, p in enumerate(pays):
        for i in queue:
            hold = held.get(all_lines[i]["code"], 0)
            pay(k, p, 2, i, max(open_amount[i] - hold, 0))

    allocation_rows = _allocation_rows(paid, all_lines)
    for pid, on, i, take, kind in closed:
        line = all_lines[i]
        pays.append({"id": pid, "date": on, "customer": line["customer"], "currency": line["currency"],
                     "amount": take, "source": kind, "invoice_no": line["invoice_no"], "line_code": line["code"],
                     "reference": None})
        paid.append((len(pays) - 1, -1, len(paid), pid, i, take))
        allocation_rows.append((pid, line["code"], take, "adjustment"))
    return {"allocations": allocation_rows,
            "unapplied": {pid: left for pid, left in remaining.items() if left > 0},
            "line_allocated": _line_allocated(all_lines, open_amount, paid, pays),
            "issues": issues, "mismatches": mismatches, "payments": pays}


STEPS = {-1: "adjustment", 0: "line", 1: "invoice", 2: "fifo"}


def _allocation_rows(paid, lines):
    """Output order (convention): payment order, then step (adjustments first), then the order the
    step paid lines in."""
    ordered = sorted(paid, key=lambda r: (r[0], r[1], r[2]))
    return [(pid, lines[i]["code"], amount, STEPS[step]) for _, step, _, pid, i, amount in ordered]


def _line_allocated(lines, open_amount, paid, pays):
    """Per line taking part: (allocated, the latest payment date of its money when fully paid, else None)."""
    date_of = {p["id"]: p["date"] for p in pays}
    last = {}
    for _, _, _, pid, i, _ in paid:
        if i not in last or date_of[pid] > last[i]:
            last[i] = date_of[pid]
    out = {}
    for i, line in enumerate(lines):
        if not line["takes_part"]:
            continue
        if line["payable"]:
            allocated = line["amount"] - open_amount[i]
            out[line["code"]] = (allocated, last.get(i) if open_amount[i] == 0 else None)
        else:
            out[line["code"]] = (0, None)
    return out
