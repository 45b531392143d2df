"""Export layouts of common billing tools, recognised by their header signatures.

A team moving to Linewise brings what its old tool exports. Each `Layout` here names a tool's
export, the header texts that identify it (`signature`: every group must be present, any
text of a group will do), which header holds each canonical column (`columns`; `None` = do not
use a column a synonym would pick, e.g. an invoice total repeated on every item row), and the
conventions its rows follow:

- `split`: rows that are not invoice lines (a journal export mixes invoice lines, receivable
  postings and payments): a function of the row cells returning, per row, "invoices",
  "payments" or "skip: <why>" (skipped rows are reported, never dropped silently);
- `payments`: how the rows split off as payments map to payment columns, `payment_sign` -1
  when the export shows money received as a negative amount, 0 when it shows it either way
  (the amount's size is taken);
- `kinds`: what the tool's document type values mean (SAP RV/DR invoice, DG credit memo).

Carry-down of invoice columns onto item rows, subtotal rows, trailing minus and bracketed
negatives are handled for every sheet (billing.tabular, billing.ingest, billing.money); a
layout only says which tool it is so the user sees "recognised: Zoho Books invoice export".

Sources (public documentation and real exports): Zoho Books, FreshBooks, Wave and Invoice
Ninja exports as published in invoiceninja/invoiceninja tests/Feature/Import; ERPNext's
Data Export of Sales Invoice; Akaunting's import workbook; Xero's invoice export CSV
(*ContactName … *UnitAmount); QuickBooks Online reports (Transaction type, Num, Open
balance; "Total for <customer>" subtotal rows); Odoo's list export of account.move with
"Invoice lines/…" fields; SAP FBL5N customer line items (Document Type, Net due date,
Amount in doc. curr.); Sage 50 customer activity (A/C, No, Type SI/SR/SC/SA/SD/SP, Date, Due
on, Ref, Details, Amount, as Sage's knowledge base describes the Activity tab).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from billing.schema import header_key

__all__ = ["Layout", "LAYOUTS", "recognise", "resolve_columns", "negate_cells", "absolute_cells"]

Alternatives = tuple[str, ...]
Split = Callable[[Callable[[str], pd.Series]], np.ndarray]


@dataclass(frozen=True)
class Layout:
    name: str
    table: str
    signature: tuple[Alternatives, ...]
    columns: dict[str, Alternatives | None]
    split: Split | None = None
    payments: dict[str, Alternatives] = field(default_factory=dict)
    payment_sign: int = 1
    kinds: dict[str, str] = field(default_factory=dict)
    convention: str = ""


def _keys(texts: Alternatives) -> set[str]:
    return {header_key(t) for t in texts}


def recognise(header_texts: list[str], table: str | None = None) -> Layout | None:
    """The layout whose signature the header row carries (the most specific one), or None."""
    have = {header_key(t) for t in header_texts}
    best, best_len = None, 0
    for layout in LAYOUTS:
        if table is not None and layout.table != table:
            continue
        if all(_keys(group) & have for group in layout.signature) and len(layout.signature) > best_len:
            best, best_len = layout, len(layout.signature)
    return best


def resolve_columns(spec: dict[str, Alternatives | None], header_texts: list[str]) -> tuple[dict[str, str], set[str]]:
    """({canonical: the header text present}, {canonicals not to use}) for a header row: a
    column the layout names but the export lacks is not guessed from other headers."""
    by_key = {}
    for t in header_texts:
        by_key.setdefault(header_key(t), t)
    chosen: dict[str, str] = {}
    skip: set[str] = set()
    for canonical, alternatives in spec.items():
        if alternatives is None:
            skip.add(canonical)
            continue
        text = next((by_key[header_key(a)] for a in alternatives if header_key(a) in by_key), None)
        if text is not None:
            chosen[canonical] = text
        else:  # the tool has no such column in this export: no synonym may stand in for it
            skip.add(canonical)
    return chosen, skip


def negate_cells(values: pd.Series) -> pd.Series:
    """The cells with their sign turned: numbers times -1, text "-5" -> "5", "5" -> "-5"."""
    out = values.astype(object).copy()
    num = out.map(lambda v: isinstance(v, (int, float, np.number)) and not isinstance(v, bool))
    out[num] = -pd.to_numeric(out[num])
    text = out.map(lambda v: isinstance(v, str) and v.strip() != "")
    s = out[text].astype(str).str.strip()
    lead, trail = s.str.startswith("-"), s.str.endswith("-")
    paren = s.str.startswith("(") & s.str.endswith(")")
    turned = np.where(lead, s.str.slice(1), np.where(trail, s.str.slice(0, -1),
                      np.where(paren, s.str.slice(1, -1), "-" + s)))
    out[text] = turned
    return out


def absolute_cells(values: pd.Series) -> pd.Series:
    """The cells without their sign (a report that shows money received either way)."""
    out = values.astype(object).copy()
    negative = pd.Series(_sign(out) < 0, index=out.index)
    out[negative] = negate_cells(out[negative])
    return out


def _sign(values: pd.Series) -> np.ndarray:
    num = values.map(lambda v: isinstance(v, (int, float, np.number)) and not isinstance(v, bool)).to_numpy()
    s = values.astype("string").str.strip().fillna("")
    text_neg = (s.str.startswith("-") | s.str.endswith("-") | s.str.startswith("(")).to_numpy()
    num_neg = np.zeros(len(values), dtype=bool)
    if num.any():
        num_neg[num] = pd.to_numeric(values[num]).to_numpy() < 0
    return np.where(num, np.where(num_neg, -1, 1), np.where(text_neg, -1, 1))


def _texts(get: Callable[[str], pd.Series], header: str) -> pd.Series:
    return get(header).astype("string").str.strip().str.casefold().fillna("")


def _amount_sign(get: Callable[[str], pd.Series], header: str) -> np.ndarray:
    return _sign(get(header))


def _wave_split(get: Callable[[str], pd.Series]) -> np.ndarray:
    """Wave's journal: income lines are invoice lines; the receivable posting of an invoice is its
    total (skipped, its lines are read); a negative receivable posting is a payment received,
    whose cash side is skipped."""
    kind = _texts(get, "Account Type").to_numpy()
    sign = _amount_sign(get, "Amount (One column)")
    return np.select(
        [kind == "income", (kind == "system receivable invoice") & (sign > 0),
         (kind == "system receivable invoice") & (sign < 0), kind == "cash and bank"],
        ["invoices", "skip: receivable posting of an invoice (its total; the invoice lines are read)",
         "payments", "skip: cash side of a payment (the receivable side is read)"],
        default="skip: journal line on another account (not an invoice line or a payment)")


def _doc_type_split(column: Alternatives, invoice_types: set[str], payment_types: set[str]) -> Split:
    def split(get: Callable[[str], pd.Series]) -> np.ndarray:
        kind = None
        for text in column:
            try:
                kind = _texts(get, text).to_numpy()
                break
            except KeyError:
                continue
        if kind is None:
            return np.array([])
        return np.select([np.isin(kind, list(invoice_types)), np.isin(kind, list(payment_types))],
                         ["invoices", "payments"],
                         default="skip: document type that is neither an invoice, a credit note nor a payment")
    return split


_QB_TYPE = ("Transaction type", "Type")
_SAP_TYPE = ("Document Type", "Document type", "Doc. Type", "Type")
_SAGE_TYPE = ("Type",)

LAYOUTS: tuple[Layout, ...] = (
    # Bank CSV exports (table "bank", read by connectors/bank/csv.py)
    Layout("Sparkasse CSV-CAMT export", "bank",
           (("Auftragskonto",), ("Buchungstag",), ("Verwendungszweck",), ("Kundenreferenz (End-to-End)",),
            ("Beguenstigter/Zahlungspflichtiger", "Begünstigter/Zahlungspflichtiger"), ("Betrag",)),
           {"account": ("Auftragskonto",), "booking_date": ("Buchungstag",), "value_date": ("Valutadatum",),
            "bank_text": ("Buchungstext",), "remittance": ("Verwendungszweck",),
            "end_to_end_id": ("Kundenreferenz (End-to-End)",),
            "payer_name": ("Beguenstigter/Zahlungspflichtiger", "Begünstigter/Zahlungspflichtiger"),
            "payer_iban": ("Kontonummer/IBAN",), "amount": ("Betrag",), "currency": ("Waehrung", "Währung"),
            "status": ("Info",), "entry_ref": None, "direction": None},
           convention="signed amounts (money out negative), dates dd.mm.yy, 'Info' says "
                      "'Umsatz gebucht' (booked) or 'Umsatz vorgemerkt' (pending)"),
    Layout("Erste Bank Hungary account history", "bank",
           (("Tranzakció dátuma",), ("Partner neve",), ("Tranzakció összege",), ("Bevétel/Kiadás",)),
           {"booking_date": ("Tranzakció dátuma",), "value_date": ("Értéknap",),
            "payer_name": ("Partner neve",), "payer_iban": ("Partner számlaszáma",),
            "account": ("Számlaszám",), "bank_text": ("Tranzakció típusa",),
            "amount": ("Tranzakció összege",), "currency": ("Tranzakció devizaneme",),
            "direction": ("Bevétel/Kiadás",), "remittance": ("Közlemény",),
            "entry_ref": ("Megbízás azonosító",), "status": None},
           convention="signed amounts, dates 2019.04.19., 'Bevétel/Kiadás' says inflow or outflow; "
                      "'Egyenleg'/'Devizanem' are the running balance, not used"),
    Layout("Zoho Books invoice export", "invoices",
           (("Invoice ID",), ("Invoice Number",), ("Item Total",), ("SubTotal",), ("Balance",)),
           {"invoice_no": ("Invoice Number",), "customer_id": ("Customer ID",),
            "invoice_date": ("Invoice Date",), "due_date": ("Due Date",),
            "currency": ("Currency Code",), "amount": ("Item Total",), "quantity": ("Quantity",),
            "unit_price": ("Item Price",), "sku": ("Item Name",), "description": ("Item Desc",),
            "discount": None, "tax": ("Item Tax Amount",)},
           convention="one row per item: 'Item Total' is the line amount; 'Total', 'SubTotal' and "
                      "'Balance' are the invoice's, repeated on each item row, and not used"),
    Layout("Invoice Ninja invoice export", "invoices",
           (("Client",), ("Invoice Number",), ("Item Product",), ("Item Cost",), ("Item Quantity",)),
           {"invoice_no": ("Invoice Number",), "customer_id": ("Client",),
            "invoice_date": ("Invoice Date",), "due_date": ("Due Date",), "amount": None,
            "unit_price": ("Item Cost",), "quantity": ("Item Quantity",), "sku": ("Item Product",),
            "description": ("Item Notes",), "discount": None},
           convention="the line amount is Item Cost × Item Quantity; 'Amount' and 'Discount' are the "
                      "invoice's, repeated on each item row"),
    Layout("FreshBooks invoice export", "invoices",
           (("Client Name",), ("Invoice #",), ("Date Issued",), ("Line Total",)),
           {"invoice_no": ("Invoice #",), "customer_id": ("Client Name",),
            "invoice_date": ("Date Issued",), "amount": ("Line Total",), "unit_price": ("Rate",),
            "quantity": ("Quantity",), "sku": ("Item Name",), "description": ("Item Description",),
            "currency": ("Currency",), "discount": None, "tax": None},
           convention="'Line Total' (taxes included) is the line amount"),
    Layout("Wave transactions export", "invoices",
           (("Transaction ID",), ("Account Type",), ("Amount (One column)",), ("Invoice Number",)),
           {"invoice_no": ("Invoice Number",), "customer_id": ("Customer",),
            "invoice_date": ("Transaction Date",), "amount": ("Amount (One column)",),
            "description": ("Transaction Line Description",), "kind": None, "tax": None,
            "line_no": None},
           split=_wave_split,
           payments={"payment_id": ("Transaction ID",), "customer_id": ("Customer",),
                     "payment_date": ("Transaction Date",), "amount": ("Amount (One column)",),
                     "invoice_no": ("Invoice Number",), "reference": ("Transaction Description",)},
           payment_sign=-1,
           convention="a journal: income lines are invoice lines, negative receivable postings are "
                      "payments; the other postings are skipped and reported"),
    Layout("ERPNext Sales Invoice data export", "invoices",
           (("ID",), ("Series",), ("Is Return (Credit Note)",), ("Amount (Items)",)),
           {"invoice_no": ("ID",), "customer_id": ("Customer",), "invoice_date": ("Date", "Posting Date"),
            "due_date": ("Payment Due Date",), "currency": ("Currency",), "amount": ("Amount (Items)",),
            "quantity": ("Quantity (Items)",), "unit_price": ("Rate (Items)",),
            "sku": ("Item (Items)",), "description": ("Item Name (Items)",),
            "kind": ("Is Return (Credit Note)",), "applies_to": ("Return Against",),
            "discount": None, "tax": None, "line_no": None, "order_id": None},
           kinds={"0": "invoice", "1": "credit_note"},
           convention="one row per item; an invoice's item rows after the first leave the invoice "
                      "columns blank (carried down); 'Is Return (Credit Note)' 1 is a credit note"),
    Layout("ERPNext Sales Register report", "invoices",
           (("Invoice",), ("Posting Date",), ("Outstanding Amount",), ("Grand Total",)),
           {"invoice_no": ("Invoice",), "customer_id": ("Customer",), "invoice_date": ("Posting Date",),
            "due_date": ("Due Date",), "currency": ("Currency",), "amount": ("Grand Total",)},
           convention="one row per invoice: 'Grand Total' is the amount"),
    Layout("Akaunting invoice import workbook", "invoices",
           (("invoice_number",), ("invoiced_at",), ("contact_name",)),
           {"invoice_no": ("invoice_number",), "customer_id": ("contact_name",),
            "invoice_date": ("invoiced_at",), "due_date": ("due_at",), "currency": ("currency_code",),
            "amount": ("amount",), "order_id": ("order_number",), "discount": None},
           convention="one row per invoice in sheet 'invoices'; discount_rate is a rate, not money"),
    Layout("Akaunting invoice transactions", "payments",
           (("invoice_number",), ("transaction_number",), ("paid_at",)),
           {"payment_id": ("transaction_number",), "payment_date": ("paid_at",), "amount": ("amount",),
            "currency": ("currency_code",), "invoice_no": ("invoice_number",),
            "method": ("payment_method",), "reference": ("reference",)},
           convention="payments name their invoice; the customer is the invoice's"),
    Layout("Xero invoice export", "invoices",
           (("*ContactName", "ContactName"), ("*InvoiceNumber", "InvoiceNumber"),
            ("*UnitAmount", "UnitAmount")),
           {"invoice_no": ("*InvoiceNumber", "InvoiceNumber"),
            "customer_id": ("*ContactName", "ContactName"),
            "invoice_date": ("*InvoiceDate", "InvoiceDate"), "due_date": ("*DueDate", "DueDate"),
            "amount": ("LineAmount",), "quantity": ("*Quantity", "Quantity"),
            "unit_price": ("*UnitAmount", "UnitAmount"), "tax": ("TaxAmount",),
            "description": ("*Description", "Description"), "sku": ("InventoryItemCode",),
            "currency": ("Currency",), "discount": None, "kind": ("Type",)},
           kinds={"sales invoice": "invoice", "accrec": "invoice", "sales credit note": "credit_note",
                  "accreccredit": "credit_note"},
           convention="one row per line; 'Total' is the invoice's; without LineAmount the line is "
                      "Quantity × UnitAmount + TaxAmount"),
    Layout("QuickBooks transaction report", "invoices",
           (_QB_TYPE, ("Num", "No."), ("Open balance", "Open Balance", "Balance", "Amount")),
           {"invoice_no": ("Num", "No."), "customer_id": ("Customer", "Customer full name", "Name"),
            "invoice_date": ("Date",), "due_date": ("Due date", "Due Date"),
            "amount": ("Amount", "Total"), "description": ("Memo/Description", "Memo"),
            "kind": _QB_TYPE},
           split=_doc_type_split(_QB_TYPE, {"invoice", "credit memo"}, {"payment"}),
           payments={"payment_id": ("Num", "No."), "customer_id": ("Customer", "Customer full name", "Name"),
                     "payment_date": ("Date",), "amount": ("Amount", "Total"),
                     "reference": ("Memo/Description", "Memo")},
           payment_sign=0,
           kinds={"invoice": "invoice", "credit memo": "credit_note"},
           convention="rows by Transaction type (Invoice, Credit Memo, Payment); 'Total for …' "
                      "subtotal rows are skipped"),
    Layout("Odoo invoice lines export", "invoices",
           (("Number",), ("Invoice lines/Subtotal", "Invoice lines/Price Subtotal",
                          "Invoice Lines/Subtotal")),
           {"invoice_no": ("Number",), "customer_id": ("Partner", "Customer"),
            "invoice_date": ("Invoice/Bill Date", "Invoice Date"), "due_date": ("Due Date",),
            "currency": ("Currency",),
            "amount": ("Invoice lines/Total", "Invoice lines/Subtotal", "Invoice lines/Price Subtotal",
                       "Invoice Lines/Subtotal"),
            "quantity": ("Invoice lines/Quantity",), "unit_price": ("Invoice lines/Unit Price",),
            "description": ("Invoice lines/Label", "Invoice lines/Description"),
            "sku": ("Invoice lines/Product",), "kind": ("Type",)},
           kinds={"customer invoice": "invoice", "customer credit note": "credit_note",
                  "out_invoice": "invoice", "out_refund": "credit_note"},
           convention="one row per invoice line; the invoice's columns are blank on its lines after "
                      "the first (carried down)"),
    Layout("Odoo invoice list export", "invoices",
           (("Number",), ("Invoice/Bill Date", "Invoice Date"), ("Amount Due", "Amount Due Signed"),
            ("Total", "Total Signed")),
           {"invoice_no": ("Number",), "customer_id": ("Partner", "Customer"),
            "invoice_date": ("Invoice/Bill Date", "Invoice Date"), "due_date": ("Due Date",),
            "currency": ("Currency",), "amount": ("Total", "Total Signed")},
           convention="one row per invoice: 'Total' is the amount"),
    Layout("SAP FBL5N customer line items", "invoices",
           (_SAP_TYPE, ("Net due date", "Net Due Dt", "Net Due Date"),
            ("Amount in doc. curr.", "Amount in DC", "Amount in Doc. Curr.", "Amount in document currency")),
           {"invoice_no": ("Reference", "Document Number", "DocumentNo", "Document No"),
            "customer_id": ("Account", "Customer"),
            "invoice_date": ("Document Date", "Doc. Date", "Posting Date"),
            "due_date": ("Net due date", "Net Due Dt", "Net Due Date"),
            "amount": ("Amount in doc. curr.", "Amount in DC", "Amount in Doc. Curr.",
                       "Amount in document currency"),
            "currency": ("Document currency", "Curr.", "Crcy"), "kind": _SAP_TYPE,
            "description": ("Text",), "line_no": None},
           split=_doc_type_split(_SAP_TYPE, {"rv", "dr", "dg"}, {"dz"}),
           payments={"payment_id": ("Document Number", "DocumentNo", "Document No"),
                     "customer_id": ("Account", "Customer"),
                     "payment_date": ("Posting Date", "Document Date", "Doc. Date"),
                     "amount": ("Amount in doc. curr.", "Amount in DC", "Amount in Doc. Curr.",
                                "Amount in document currency"),
                     "currency": ("Document currency", "Curr.", "Crcy"),
                     "reference": ("Text", "Assignment")},
           payment_sign=-1,
           kinds={"rv": "invoice", "dr": "invoice", "dg": "credit_note"},
           convention="document types RV/DR invoices, DG credit memos, DZ payments (a credit, shown "
                      "negative); amounts with a trailing minus (1.234,50-)"),
    Layout("Sage 50 customer activity", "invoices",
           (_SAGE_TYPE, ("A/C", "A/C Ref", "Account Reference"), ("Details",),
            ("Amount", "Gross", "Gross Amount")),
           {"invoice_no": ("Ref", "Inv Ref", "Reference", "Invoice No"),
            "customer_id": ("A/C", "A/C Ref", "Account Reference"), "invoice_date": ("Date",),
            "due_date": ("Due on", "Due On", "Due Date"), "amount": ("Amount", "Gross", "Gross Amount"),
            "tax": ("Tax", "VAT"), "description": ("Details",), "kind": _SAGE_TYPE},
           split=_doc_type_split(_SAGE_TYPE, {"si", "sc", "sd"}, {"sr", "sa"}),
           payments={"payment_id": ("No", "No.", "Tran No."),
                     "customer_id": ("A/C", "A/C Ref", "Account Reference"),
                     "payment_date": ("Date",), "amount": ("Amount", "Gross", "Gross Amount"),
                     "reference": ("Details", "Ref")},
           kinds={"si": "invoice", "sc": "credit_note", "sd": "credit_note"},
           convention="transaction types SI sales invoice, SC sales credit and SD sales discount "
                      "(credit notes), SR sales receipt and SA payment on account (payments); SP "
                      "(a refund paid out) is skipped and reported"),
    Layout("Tableau Superstore sample orders", "invoices",
           (("Row ID",), ("Order ID",), ("Sales",), ("Profit",)),
           {"invoice_no": ("Order ID",), "customer_id": ("Customer ID",), "invoice_date": ("Order Date",),
            "amount": ("Sales",), "quantity": ("Quantity",), "sku": ("Product ID",),
            "description": ("Product Name",), "order_id": ("Order ID",), "discount": None,
            "line_no": None, "unit_price": None},
           convention="one row per order line, billed as an invoice; 'Discount' is a rate, not money"),
)
