"""What a person reads for every code the engine uses: one label table per concept (SPEC §10). Pure.

The engine speaks in codes ("CURRENCY_MISMATCH", "over_120", "fifo", "in_review",
"reminded_recently"); pages, exports and e-mails show these labels instead. Each table maps a
code to its English label, which is also its gettext message id: the app translates it through
its message catalogue (``locales/<lang>/LC_MESSAGES/linewise.po``, ``ui.i18n.t``). `N_` only
marks a literal for extraction (``pybabel extract -k t -k N_``); it returns the text unchanged.

Every ``*_label`` function takes ``_``, the caller's translation function (``ui.i18n.t`` in the
app; the identity, English, by default), and falls back to a readable form of an unknown code
rather than failing. Nothing here imports streamlit or reads a file.

Tables:

- `EXCEPTION_TYPES` — reconciliation exception types (billing.reconcile.EXCEPTION_TYPES keys);
- `SEVERITIES` — their severities;
- buckets — `bucket_label`: "Not yet due", "1-30 days late", "Over 120 days late" under the
  due-date basis; "0 days old", "1-30 days old", "Over 120 days old" under the invoice-date
  basis (the buckets are then ages, not lateness: overdue always means past the due date,
  billing.aging.is_overdue);
- `STEPS` — allocation steps (billing.allocation.STEPS), `SOURCES` — what paid;
- `REFERENCE_PROBLEMS` — why a payment reference named nothing;
- `DISPUTE_STATES`, `DISPUTE_REASONS`, `DISPUTE_OUTCOMES`, `LOG_CHANNELS`, `DISPUTE_LEVELS`;
- `SKIP_REASONS` — why a reminder was not sent (billing.dunning);
- `COLUMNS` — table headers for the engine's column names.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

Translate = Callable[[str], str]


def N_(text: str) -> str:
    """Marks `text` as a message id for extraction; returns it unchanged (gettext_noop)."""
    return text


def _identity(text: str) -> str:
    return text


EXCEPTION_TYPES: dict[str, str] = {
    "UNBILLED": N_("Delivered, not billed"),
    "BILLING_BLOCKED": N_("On billing block"),
    "OVERBILLED_QTY": N_("Billed more than ordered"),
    "PRICE_MISMATCH": N_("Price differs from the order"),
    "LINE_TOTAL_MISMATCH": N_("Line total does not add up"),
    "BILLED_BEFORE_DELIVERY": N_("Billed before delivery"),
    "ORPHAN_INVOICE_LINE": N_("Invoice line without its order"),
    "DUPLICATE_LINE": N_("Billed twice"),
    "DUPLICATE_LINE_CODE": N_("Line code used twice"),
    "BAD_REFERENCE": N_("Payment reference not understood"),
    "UNKNOWN_CUSTOMER": N_("Customer not in the customer list"),
    "CURRENCY_MISMATCH": N_("Paid in another currency"),
    "UNAPPLIED_CASH": N_("Cash not applied"),
    "SHORT_PAID": N_("Invoice partly paid"),
}

SEVERITIES: dict[str, str] = {
    "high": N_("High"),
    "medium": N_("Medium"),
    "low": N_("Low"),
    "info": N_("For information"),
}

STEPS: dict[str, str] = {
    "line": N_("By line code"),
    "invoice": N_("By invoice number"),
    "fifo": N_("Oldest first"),
    "adjustment": N_("Adjustment"),
}

SOURCES: dict[str, str] = {
    "payment": N_("Payment"),
    "credit_note": N_("Credit note"),
}

REFERENCE_PROBLEMS: dict[str, str] = {
    "bad_check": N_("Wrong check character"),
    "unknown_code": N_("Unknown line code"),
    "unknown_invoice": N_("Unknown invoice"),
    "ambiguous": N_("Matches more than one"),
}

DISPUTE_STATES: dict[str, str] = {
    "open": N_("Open"),
    "in_review": N_("In review"),
    "escalated": N_("Escalated"),
    "resolved": N_("Resolved"),
    "rejected": N_("Rejected"),
    "withdrawn": N_("Withdrawn"),
}

DISPUTE_REASONS: dict[str, str] = {
    "price": N_("Price"),
    "quantity": N_("Quantity"),
    "damaged": N_("Damaged goods"),
    "not_delivered": N_("Not delivered"),
    "duplicate_billing": N_("Duplicate billing"),
    "other": N_("Other"),
}

DISPUTE_OUTCOMES: dict[str, str] = {
    "credit_note": N_("Credit note"),
    "corrected_invoice": N_("Corrected invoice"),
    "write_off": N_("Write-off"),
    "rejected": N_("Rejected"),
}

LOG_CHANNELS: dict[str, str] = {
    "note": N_("Internal note"),
    "email": N_("Email"),
    "phone": N_("Phone"),
    "meeting": N_("Meeting"),
    "letter": N_("Letter"),
    "portal": N_("Customer portal"),
    "sms": N_("SMS"),
}

DISPUTE_LEVELS: dict[int, str] = {
    1: N_("Level 1 · finance"),
    2: N_("Level 2 · management"),
}

SKIP_REASONS: dict[str, str] = {
    "dunning_blocked": N_("customer is blocked from dunning"),
    "in_dispute": N_("line is in open dispute"),
    "promised": N_("a promise to pay covers it"),
    "under_minimum": N_("total due is under the minimum amount"),
    "reminded_recently": N_("customer was reminded too recently"),
    "no_contact": N_("no contact address for the level's channels"),
    "fully_paid": N_("fully paid since its last reminder"),
    "unconfirmed_claim": N_("an earlier send was claimed but never confirmed: resolve it by hand"),
    "final_level_sent": N_("every level has been sent; escalate outside dunning"),
    "send_failed": N_("an earlier attempt failed and retrying failed sends is off (policy retry_failed)"),
}

COLUMNS: dict[str, str] = {
    "customer_id": N_("Customer ID"),
    "name": N_("Name"),
    "customer": N_("Customer"),
    "currency": N_("Currency"),
    "invoice_no": N_("Invoice"),
    "line_no": N_("Line"),
    "line_code": N_("Line code"),
    "line_codes": N_("Line codes paid"),
    "invoice_date": N_("Invoice date"),
    "due_date": N_("Due date"),
    "amount": N_("Amount"),
    "allocated": N_("Paid"),
    "applied": N_("Applied"),
    "unapplied": N_("Unapplied"),
    "open": N_("Open"),
    "net": N_("Net"),
    "overdue": N_("Overdue"),
    "in_dispute": N_("In dispute"),
    "days_past_due": N_("Days past due"),
    "days_overdue": N_("Days overdue"),
    "age_days": N_("Age (days)"),
    "bucket": N_("Bucket"),
    "lines": N_("Lines"),
    "oldest_days": N_("Oldest (days)"),
    "payment_id": N_("Payment"),
    "payment_date": N_("Payment date"),
    "steps": N_("How it was applied"),
    "step": N_("How it was applied"),
    "how": N_("How it was applied"),
    "source": N_("Paid by"),
    "reference": N_("Reference"),
    "order_id": N_("Order"),
    "order_line": N_("Order line"),
    "sku": N_("SKU"),
    "description": N_("Description"),
    "quantity": N_("Quantity"),
    "delivered_qty": N_("Delivered"),
    "billed_qty": N_("Billed"),
    "qty_to_bill": N_("Qty to bill"),
    "unit_price": N_("Unit price"),
    "amount_to_bill": N_("Amount to bill"),
    "billing_block": N_("Billing block"),
    "applies_to": N_("Applies to"),
    "due_date_derived": N_("Due date derived"),
    "type": N_("Type"),
    "severity": N_("Severity"),
    "exceptions": N_("Exceptions"),
    "refs": N_("References"),
    "message": N_("What happened"),
    "action": N_("What to do"),
    "problem": N_("Problem"),
    "token": N_("Text read"),
    "suggestion": N_("Suggestion"),
    "level": N_("Level"),
    "reason": N_("Reason"),
    "detail": N_("Why"),
    "status": N_("Status"),
    "owner": N_("Owner"),
    "segment": N_("Segment"),
    "opened": N_("Opened"),
    "created_at": N_("When"),
    "actor": N_("Who"),
    "channel": N_("Channel"),
    "text": N_("Text"),
    "email": N_("E-mail"),
    "phone": N_("Phone"),
    "measure": N_("Figure"),
    "line_level": N_("Line's level"),
    "retry": N_("Retry"),
    "pattern": N_("Address or @domain"),
    "role": N_("Role"),
    "updated_by": N_("Changed by"),
    "updated_at": N_("Changed"),
    "at": N_("When"),
    "entity": N_("What"),
    "entity_id": N_("Which"),
    "before_json": N_("Before"),
    "after_json": N_("After"),
    "table": N_("Table"),
    "sheet": N_("Sheet"),
    "row": N_("Row"),
    "column": N_("Column"),
    "value": N_("Value"),
    "kind": N_("Kind"),
    "change": N_("Change"),
    "id": N_("#"),
    "outcome": N_("Outcome"),
    "resolved_amount": N_("Resolved amount"),
    "opened_by": N_("Opened by"),
    "opened_at": N_("Opened"),
    "n_lines": N_("Lines"),
    "sla": N_("SLA"),
    "days_in_review": N_("In review (days)"),
}


def readable(code: object) -> str:
    """An unknown code in words: "SOME_CODE" -> "Some code", "in_review" -> "In review"."""
    text = str(code).replace("_", " ").strip()
    return text[:1].upper() + text[1:].lower() if text.isupper() else text[:1].upper() + text[1:]


def label(table: Mapping, code: object, _: Translate = _identity) -> str:
    """The label of `code` in `table` (one of this module's tables), translated by `_`;
    an unknown code in readable words (untranslated)."""
    text = table.get(code)
    return _(text) if text is not None else readable(code)


def bucket_label(bucket: str, basis: str = "due_date", _: Translate = _identity) -> str:
    """The label of an aging bucket (Policy.bucket_labels: "current", "1-30", ..., "over_120").

    Under the due-date basis a bucket is how late the amount is ("Not yet due", "1-30 days late",
    "Over 120 days late"); under the invoice-date basis it is how old the invoice is ("0 days old",
    "1-30 days old", "Over 120 days old"), which says nothing about lateness.
    """
    ages = basis == "invoice_date"
    text = str(bucket)
    if text == "current":
        return _(N_("0 days old")) if ages else _(N_("Not yet due"))
    if text.startswith("over_"):
        days = text.removeprefix("over_")
        return (_(N_("Over {days} days old")) if ages else _(N_("Over {days} days late"))).format(days=days)
    low, _sep, high = text.partition("-")
    if not (low.isdigit() and high.isdigit()):
        return text
    return (_(N_("{low}-{high} days old")) if ages else _(N_("{low}-{high} days late"))).format(low=low, high=high)


def basis_note(basis: str, _: Translate = _identity) -> str:
    """One sentence saying what the buckets measure and what "overdue" means under `basis`."""
    if basis == "invoice_date":
        return _(N_("Buckets are invoice ages (days since the invoice date); overdue still means past "
                    "the due date."))
    return _(N_("Buckets are days past the due date; overdue means past the due date."))


def column_label(column: str, _: Translate = _identity) -> str:
    """A table header for an engine column ("customer_id" -> "Customer ID"); bucket columns
    ("1-30", "over_120", "current") are left to `bucket_label`, which knows the basis."""
    return label(COLUMNS, column, _)
