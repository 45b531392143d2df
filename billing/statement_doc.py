"""A statement as a printable document: every text and number formatted for the customer. Pure.

`statement_document(statement, company, texts, ...)` turns a
``billing.statement.CustomerStatement`` into plain data (dicts, lists,
strings) that a layout only places on paper: the PDF layout
(``templates/statements/statement.typ``) reads it as JSON, so customer text
is data and never markup. Amounts and dates use Babel for the customer's
language (``billing.messages.format_money`` / ``format_day``, the same as the
reminders); labels come from ``templates/statements/{lang}.toml`` with
``{name}`` placeholders; a language without its file falls back to English.
"""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any, Mapping

import pandas as pd
from babel import Locale
from babel.numbers import format_decimal, parse_pattern

from billing.company import CompanyDetails
from billing.messages import format_day, format_money, resolve_locale
from billing.money import minor_digits
from billing.statement import CustomerStatement

__all__ = ["statement_document", "pick_texts", "fill", "amount_text", "qr_references"]

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def fill(template: str, **values: Any) -> str:
    """`template` with each ``{name}`` replaced by its value (unknown names stay as written)."""
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), template)


def pick_texts(texts: Mapping[str, Mapping[str, str]], language: str | None,
               default: str = "en") -> tuple[str, Locale, dict[str, str]]:
    """(language used, Babel locale, labels) for a customer's language; English fills any gap."""
    loc = resolve_locale(language, default)
    base = dict(texts.get("en", {}))
    for lang in (str(loc), loc.language, default):
        if lang in texts:
            if lang != loc.language and lang != str(loc):
                loc = resolve_locale(lang)
            return lang, loc, {**base, **texts[lang]}
    return "en", resolve_locale("en"), base


@lru_cache(maxsize=64)
def _pattern(digits: int):
    return parse_pattern("#,##0" + ("." + "0" * digits if digits else ""))


def amount_text(minor: int, currency: str, loc: Locale) -> str:
    """A table amount without the currency sign, grouped for the locale: 123450 -> "1,234.50"."""
    digits = minor_digits(currency)
    return _pattern(digits).apply(Decimal(int(minor)).scaleb(-digits), loc)


@lru_cache(maxsize=4096)
def _cached_day(value: date, locale: str) -> str:
    return format_day(value, locale)


def _day(value: Any, loc: Locale) -> str:
    return "" if value is None or pd.isna(value) else _cached_day(pd.Timestamp(value).date(), str(loc))


def _text(value: Any) -> str:
    return "" if value is None or pd.isna(value) else " ".join(str(value).split())


def _bucket(label: str, labels: Mapping[str, str]) -> str:
    if label == "current":
        return labels["bucket_current"]
    if label.startswith("over_"):
        return fill(labels["bucket_over"], days=label.removeprefix("over_"))
    low, _, high = label.partition("-")
    return fill(labels["bucket_range"], low=low, high=high) if high else label


def _activity(act: pd.DataFrame, cur: str, opening: int, loc: Locale, labels: Mapping[str, str]) -> list[list[str]]:
    rows = [["", labels["opening_balance"], "", "", "", "", "", amount_text(opening, cur, loc)]]
    kinds = {k: labels[f"kind_{k}"] for k in ("invoice", "credit_note", "payment")}
    for r in act.itertuples(index=False):
        rows.append([_day(r.date, loc), kinds[r.kind], _text(r.reference), _text(r.invoice_no),
                     _text(r.description), amount_text(r.debit, cur, loc) if r.debit else "",
                     amount_text(r.credit, cur, loc) if r.credit else "", amount_text(r.balance, cur, loc)])
    return rows


def _open_items(items: pd.DataFrame, cur: str, loc: Locale, labels: Mapping[str, str]) -> list[list[str]]:
    return [[_text(r.reference), _text(r.invoice_no), _day(r.invoice_date, loc), _day(r.due_date, loc),
             str(max(int(r.days_past_due), 0)) if r.days_past_due > 0 else "", _bucket(str(r.bucket), labels),
             amount_text(r.amount, cur, loc), amount_text(r.open, cur, loc),
             amount_text(r.disputed, cur, loc) if r.disputed else ""]
            for r in items.itertuples(index=False)]


def _charges(ch: pd.DataFrame | None, cur: str, loc: Locale) -> dict[str, Any] | None:
    if ch is None:
        return None
    part = ch[ch["currency"] == cur]
    if len(part) == 0:
        return None
    rows = [[_text(r.invoice_no), _day(r.due_date, loc), str(int(r.days)), amount_text(r.overdue, cur, loc),
             format_decimal(Decimal(str(r.rate_pct)), format="0.00##", locale=loc),
             amount_text(r.interest, cur, loc), amount_text(r.compensation, cur, loc)]
            for r in part.itertuples(index=False)]
    total = int(part["interest"].sum()) + int(part["compensation"].sum())
    return {"rows": rows, "interest": amount_text(int(part["interest"].sum()), cur, loc),
            "compensation": amount_text(int(part["compensation"].sum()), cur, loc),
            "total": format_money(total, cur, loc)}


def qr_references(st: CustomerStatement, currency: str) -> list[str]:
    """Line codes of the open undisputed items in `currency`, oldest due first: the payment reference."""
    it = st.open_items
    it = it[(it["currency"] == currency) & (it["open"] > it["disputed"])]
    return [str(c) for c in it["reference"]]


def _section(st: CustomerStatement, cur: str, loc: Locale, labels: Mapping[str, str]) -> dict[str, Any]:
    t = st.totals[st.totals["currency"] == cur].iloc[0]
    money = {k: format_money(int(t[k]), cur, loc) for k in ("opening", "invoiced", "credited", "paid", "closing",
                                                            "open", "disputed", "unapplied", "amount_due")}
    summary = [[labels["opening_balance"], money["opening"]], [labels["invoiced"], money["invoiced"]],
               [labels["credit_notes"], money["credited"]], [labels["payments"], money["paid"]],
               [labels["closing_balance"], money["closing"]]]
    if st.only_open:
        summary = [[labels["open_total"], money["open"]]]
        if t["unapplied"]:
            summary.append([labels["unapplied"], money["unapplied"]])
    if t["disputed"]:
        summary.append([labels["in_dispute"], money["disputed"]])
    summary.append([labels["amount_due"], money["amount_due"]])
    items = st.open_items[st.open_items["currency"] == cur]
    aging = st.aging[st.aging["currency"] == cur]
    return {
        "currency": cur, "title": fill(labels["currency_section"], currency=cur), "summary": summary,
        "activity": None if st.only_open else _activity(st.activity[st.activity["currency"] == cur], cur,
                                                        int(t["opening"]), loc, labels),
        "open_items": _open_items(items, cur, loc, labels), "open_total": amount_text(int(t["open"]), cur, loc),
        "has_disputed": bool(t["disputed"]),
        "aging": [[_bucket(str(r.bucket), labels), format_money(int(r.open), cur, loc)]
                  for r in aging.itertuples(index=False)],
        "charges": _charges(st.charges, cur, loc),
        "amount_due": int(t["amount_due"]), "amount_due_text": money["amount_due"],
    }


def _company(company: CompanyDetails, labels: Mapping[str, str]) -> dict[str, Any]:
    lines = list(company.address_lines)
    if company.tax_id:
        lines.append(f"{labels['tax_id']}: {company.tax_id}")
    lines += [x for x in (company.email, company.phone) if x]
    bank = []
    if company.iban:
        bank.append([labels["beneficiary"], company.name])
        bank.append([labels["iban"], company.iban_formatted])
    if company.bic:
        bank.append([labels["bic"], company.bic])
    if company.bank_name:
        bank.append(["", company.bank_name])
    return {"name": company.name, "lines": lines, "bank": bank, "instructions": company.payment_instructions,
            "logo": company.logo is not None}


def statement_document(st: CustomerStatement, company: CompanyDetails, texts: Mapping[str, Mapping[str, str]],
                       *, default_language: str = "en") -> dict[str, Any]:
    """The statement as plain data for a layout (see the module doc); ``lang`` says the language used."""
    lang, loc, labels = pick_texts(texts, st.header.get("language"), default_language)
    h = st.header
    customer_lines = st.address_lines
    if h.get("payment_terms_days") is not None:
        customer_lines.append(fill(labels["terms"], days=int(h["payment_terms_days"])))
    meta = [[labels["statement_date"], _day(st.as_of, loc)], [labels["customer_id"], st.customer_id]]
    if not st.only_open:
        meta.insert(1, [labels["period"], fill(labels["period_value"], start=_day(st.period_start, loc),
                                              end=_day(st.as_of, loc))])
    return {
        "lang": lang, "locale": str(loc), "labels": labels,
        "title": labels["title_open" if st.only_open else "title"],
        "company": _company(company, labels),
        "customer": {"name": _text(h.get("name")) or st.customer_id, "lines": customer_lines},
        "meta": meta,
        "sections": [_section(st, cur, loc, labels) for cur in st.currencies],
        "quote_reference": labels["quote_reference"],
        "qr": None,  # filled in by the renderer when an EPC QR applies
    }
