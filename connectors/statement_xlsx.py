"""Statement of account as XLSX: the same content as the PDF, as values (no formulas).

Written with ``connectors.export.write_workbook``, so every export rule holds
(SPEC §12): text that could run as a formula is neutralised, amounts are
numbers in major units with the currency's decimals, dates are real dates.
Sheet and column headings are in the customer's language
(``templates/statements/{lang}.toml``).
"""
from __future__ import annotations

import io
from typing import Mapping

import pandas as pd

from billing.company import CompanyDetails
from billing.statement import CustomerStatement
from billing.statement_doc import fill, pick_texts
from connectors.export import write_workbook

__all__ = ["statement_xlsx", "XLSX_MIME"]

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _header(st: CustomerStatement, company: CompanyDetails, L: Mapping[str, str]) -> pd.DataFrame:
    rows = [(L["title_open" if st.only_open else "title"], company.name)]
    rows += [("", line) for line in company.address_lines]
    if company.tax_id:
        rows.append((L["tax_id"], company.tax_id))
    if company.iban:
        rows.append((L["iban"], company.iban_formatted))
    if company.bic:
        rows.append((L["bic"], company.bic))
    rows += [(L["customer_id"], st.customer_id), ("", str(st.header.get("name") or st.customer_id))]
    rows += [("", line) for line in st.address_lines]
    rows.append((L["statement_date"], st.as_of.strftime("%Y-%m-%d")))
    if not st.only_open:
        rows.append((L["period"], fill(L["period_value"], start=st.period_start.strftime("%Y-%m-%d"),
                                       end=st.as_of.strftime("%Y-%m-%d"))))
    rows.append(("", L["quote_reference"]))
    return pd.DataFrame(rows, columns=["item", "value"]).astype("string")


def _summary(st: CustomerStatement, L: Mapping[str, str]) -> tuple[pd.DataFrame, dict[str, str]]:
    cols = {"currency": "currency", "opening": L["opening_balance"], "invoiced": L["invoiced"],
            "credited": L["credit_notes"], "paid": L["payments"], "closing": L["closing_balance"],
            "open": L["open_total"], "disputed": L["in_dispute"], "unapplied": L["unapplied"],
            "amount_due": L["amount_due"]}
    df = st.totals[list(cols)].rename(columns=cols)
    return df, {v: "currency" for k, v in cols.items() if k != "currency"}


def _activity(st: CustomerStatement, L: Mapping[str, str]) -> tuple[pd.DataFrame, dict[str, str]]:
    kinds = {k: L[f"kind_{k}"] for k in ("invoice", "credit_note", "payment")}
    a = st.activity
    df = pd.DataFrame({
        "currency": a["currency"], L["col_date"]: a["date"], L["col_type"]: a["kind"].map(kinds).astype("string"),
        L["col_reference"]: a["reference"], L["col_invoice"]: a["invoice_no"],
        L["col_description"]: a["description"], L["col_debit"]: a["debit"], L["col_credit"]: a["credit"],
        L["col_balance"]: a["balance"]})
    opening = st.totals[["currency", "opening"]].rename(columns={"opening": L["col_balance"]})
    opening[L["col_type"]] = L["opening_balance"]
    df = pd.concat([opening, df], ignore_index=True)[list(df.columns)]
    df = df.sort_values("currency", kind="stable").reset_index(drop=True)
    return df, {L[c]: "currency" for c in ("col_debit", "col_credit", "col_balance")}


def _open_items(st: CustomerStatement, L: Mapping[str, str]) -> tuple[pd.DataFrame, dict[str, str]]:
    it = st.open_items
    df = pd.DataFrame({
        "currency": it["currency"], L["col_reference"]: it["reference"], L["col_invoice"]: it["invoice_no"],
        L["col_invoice_date"]: it["invoice_date"], L["col_due_date"]: it["due_date"],
        L["col_days"]: it["days_past_due"].clip(lower=0), L["col_bucket"]: it["bucket"].astype("string"),
        L["col_amount"]: it["amount"], L["col_open"]: it["open"], L["col_disputed"]: it["disputed"]})
    return df, {L[c]: "currency" for c in ("col_amount", "col_open", "col_disputed")}


def _charges(st: CustomerStatement, L: Mapping[str, str]) -> tuple[pd.DataFrame, dict[str, str]]:
    c = st.charges
    df = pd.DataFrame({
        "currency": c["currency"], L["col_invoice"]: c["invoice_no"], L["col_due_date"]: c["due_date"],
        L["col_days"]: c["days"], L["col_amount"]: c["overdue"],
        L["col_rate"]: pd.to_numeric(c["rate_pct"]).astype("float64"),
        L["col_interest"]: c["interest"], L["col_compensation"]: c["compensation"]})
    return df, {L[k]: "currency" for k in ("col_amount", "col_interest", "col_compensation")}


def statement_xlsx(st: CustomerStatement, company: CompanyDetails, texts: Mapping[str, Mapping[str, str]],
                   *, default_language: str = "en") -> bytes:
    """The statement as an XLSX workbook (bytes): header, summary, activity, open items, late charges."""
    _, _, L = pick_texts(texts, st.header.get("language"), default_language)
    sheets: dict[str, pd.DataFrame] = {L["title"][:31]: _header(st, company, L)}
    money: dict[str, dict[str, str]] = {}
    parts = [(L["summary"], _summary)]
    if not st.only_open:
        parts.append((L["activity"], _activity))
    parts.append((L["open_items"], _open_items))
    if st.charges is not None and len(st.charges):
        parts.append((L["charges_title"], _charges))
    for name, build in parts:
        df, cols = build(st, L)
        sheets[name[:31]] = df
        money[name[:31]] = cols
    buf = io.BytesIO()
    write_workbook(buf, sheets, money_columns=money)
    return buf.getvalue()
