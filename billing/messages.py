"""Reminder messages: subject, plain text, HTML and SMS from Jinja2 templates (SPEC §8). Pure.

The template *texts* come in as a mapping ``{"en/first.jinja": "...", ...}``
(``connectors.templates.load_templates`` reads them from ``templates/reminders``);
nothing here touches files. Per language there is

* ``{lang}/{level}.jinja`` — one per dunning level, a child template with the
  blocks ``subject``, ``greeting``, ``intro``, ``closing`` and ``sms`` (plain
  words; blank lines separate paragraphs);
* ``{lang}/layout.html`` and ``{lang}/layout.txt`` — the email bodies, which
  place those blocks around the table of lines and the totals.

A level file starts with ``{% extends layout %}``: the same blocks are rendered
once into the HTML layout (autoescaped: a customer called ``<b>&</b>`` shows
as text) and once into the text layout (not escaped). Templates run in Jinja's
sandbox, since users edit them. A language without its files falls back to
``default_language`` (English).

Amounts are formatted with Babel for the customer's locale and currency
(``$1,234.50``, ``1 234,50 Ft``, ``US$1,234.50``), dates likewise (``Jun 30,
2024``, ``2024. jún. 30.``, ``2024年6月30日``).

The sender's name (``company``) is the one configured (``[company] name`` or the dunning
policy's ``company_name``); without one, each language signs with its own words from
``{lang}/sender.txt`` ("Accounts Receivable", "财务部", "Pénzügyi osztály"), so a Chinese or
Hungarian e-mail never signs in English.

Variables a template can use: ``company``, ``company_lines`` (the company's address, tax id
and bank account, one string each; empty without ``[company]`` details), ``customer.id``, ``customer.name``,
``level``, ``lang``, ``as_of``, ``lines`` (each: ``code``, ``invoice_no``,
``line_no``, ``invoice_date``, ``due_date``, ``amount``, ``open``,
``days_overdue``, ``currency``, ``level``), ``n_lines``, ``total`` (all
currencies, e.g. ``$120.00 + €5.00``), ``totals`` (one string per currency),
``statement`` (other open lines, same fields), ``statement_total``,
``has_statement``, ``attachment`` (True when the statement is attached),
``codes_short`` (the first line codes, for SMS).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Mapping

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_currency
from jinja2 import DictLoader, StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

from billing.dunning import Reminder, ReminderLine
from billing.money import minor_digits

__all__ = ["RenderedMessage", "MessageRenderer", "render_reminder", "resolve_locale", "format_money",
           "format_day", "TemplateMissing", "REQUIRED_BLOCKS", "SmsCount", "sms_count", "sms_note"]

REQUIRED_BLOCKS = ("subject", "sms")
_LANG_ALIASES = {"english": "en", "chinese": "zh", "中文": "zh", "汉语": "zh", "hungarian": "hu",
                 "magyar": "hu", "cn": "zh", "zh_cn": "zh_Hans_CN", "zh-cn": "zh_Hans_CN"}
_SMS_CODES = 3
DEFAULT_SENDER = "Accounts Receivable"  # only when no language has a sender.txt


class TemplateMissing(TemplateError):
    """No template for a level, even in the default language."""


@dataclass(frozen=True)
class RenderedMessage:
    customer_id: str
    level: str
    language: str  # the template language used (after fallback)
    locale: str  # the Babel locale used for numbers and dates
    subject: str
    text: str
    html: str
    sms: str
    line_codes: tuple[str, ...]
    totals: tuple[str, ...]  # formatted, one per currency


# --------------------------------------------------------------------------- formatting

def resolve_locale(language: str | None, default: str = "en") -> Locale:
    """A Babel locale for a customer's language cell ("zh", "zh-CN", "HU", "magyar" ...);
    `default` when unknown."""
    raw = (language or "").strip()
    key = _LANG_ALIASES.get(raw.lower(), raw).replace("-", "_")
    for candidate in (key, key.split("_")[0] if key else "", default, "en"):
        if not candidate:
            continue
        try:
            return Locale.parse(candidate)
        except (UnknownLocaleError, ValueError, TypeError):
            continue
    return Locale.parse("en")


# CLDR's currency spacing, which Babel does not apply: a code or letters next to a digit get a
# no-break space between them ("HUF202,500.00" -> "HUF 202,500.00"); "$1", "US$1", "1 Ft" unchanged.
_LETTERS_THEN_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)")
_DIGIT_THEN_LETTERS = re.compile(r"(?<=\d)(?=[^\W\d_])")


def format_money(minor: int, currency: str, locale: Locale | str) -> str:
    """Minor units as the locale writes money: 123450 USD -> "$1,234.50" (en), "1 234,50 USD" (hu),
    20250000 HUF -> "HUF 202,500.00" (en), "202 500,00 Ft" (hu). The app's money formatter too."""
    amount = Decimal(int(minor)).scaleb(-minor_digits(currency))
    text = format_currency(amount, currency, locale=locale)
    return _DIGIT_THEN_LETTERS.sub("\u00a0", _LETTERS_THEN_DIGIT.sub("\u00a0", text))


def format_day(value: date | None, locale: Locale | str) -> str:
    return "" if value is None else format_date(value, format="medium", locale=locale)


# --------------------------------------------------------------------------- filters

def _paragraphs_html(value: Any) -> Markup:
    """Block text -> <p> per paragraph (blank line separated), escaped unless already markup."""
    text = escape(value)
    parts = [p.strip() for p in re.split(r"\n\s*\n", str(text)) if p.strip()]
    return Markup("\n").join(Markup("<p>{}</p>").format(Markup(" ".join(p.split()))) for p in parts)


def _paragraphs_text(value: Any) -> str:
    parts = [p.strip() for p in re.split(r"\n\s*\n", str(value)) if p.strip()]
    return "\n\n".join(" ".join(p.split()) for p in parts)


def _one_line(parts: Any) -> str:
    return " ".join("".join(parts).split())


# --------------------------------------------------------------------------- renderer

class MessageRenderer:
    """Renders reminders with one set of template texts (compiled once, reused for every customer)."""

    def __init__(self, templates: Mapping[str, str], default_language: str = "en",
                 company: str | None = None, company_lines: tuple[str, ...] = ()):
        self.templates = dict(templates)
        self.default_language = default_language
        self.company = company
        self.company_lines = tuple(company_lines)
        common = dict(loader=DictLoader(self.templates), undefined=StrictUndefined, trim_blocks=True,
                      lstrip_blocks=True, keep_trailing_newline=False)
        self.html_env = ImmutableSandboxedEnvironment(autoescape=True, **common)
        self.text_env = ImmutableSandboxedEnvironment(autoescape=False, **common)
        self.html_env.filters["paragraphs"] = _paragraphs_html
        self.text_env.filters["paragraphs"] = _paragraphs_text

    def sender(self, lang: str) -> str:
        """Who signs: the configured name, else the language's ``sender.txt`` (then English's)."""
        if self.company:
            return self.company
        for candidate in (lang, self.default_language, "en"):
            name = " ".join(self.templates.get(f"{candidate}/sender.txt", "").split())
            if name:
                return name
        return DEFAULT_SENDER

    @property
    def languages(self) -> list[str]:
        return sorted({k.split("/", 1)[0] for k in self.templates if "/" in k})

    def _complete(self, lang: str, level: str) -> bool:
        return all(f"{lang}/{name}" in self.templates
                   for name in (f"{level}.jinja", "layout.html", "layout.txt"))

    def template_language(self, language: str | None, level: str) -> tuple[str, Locale]:
        """(template language, Babel locale) for a customer's language and a level, with fallback."""
        loc = resolve_locale(language, self.default_language)
        for lang in (str(loc), loc.language, self.default_language, "en"):
            if self._complete(lang, level):
                if lang != loc.language and lang != str(loc):
                    loc = resolve_locale(lang)  # fell back: numbers and dates follow the text's language
                return lang, loc
        raise TemplateMissing(f"no template for the {level!r} reminder: create {self.default_language}/"
                              f"{level}.jinja (with layout.html and layout.txt) under templates/reminders")

    def context(self, reminder: Reminder, loc: Locale, lang: str, attachment: bool) -> dict[str, Any]:
        def line(ln: ReminderLine) -> dict[str, Any]:
            return {"code": ln.line_code, "invoice_no": ln.invoice_no, "line_no": ln.line_no,
                    "invoice_date": format_day(ln.invoice_date, loc),
                    "due_date": format_day(ln.due_date, loc),
                    "amount": format_money(ln.amount, ln.currency, loc),
                    "open": format_money(ln.open, ln.currency, loc), "days_overdue": max(ln.days_past_due, 0),
                    "days_past_due": ln.days_past_due, "currency": ln.currency, "level": ln.level or ""}

        totals = [format_money(v, cur, loc) for cur, v in reminder.totals.items()]
        st_totals = [format_money(v, cur, loc) for cur, v in reminder.statement_totals.items()]
        codes = reminder.line_codes
        more = len(codes) - _SMS_CODES
        short = ", ".join(codes[:_SMS_CODES]) + (f" (+{more})" if more > 0 else "")
        return {"company": self.sender(lang), "company_lines": list(self.company_lines), "customer": {"id": reminder.customer_id, "name": reminder.name},
                "level": reminder.level, "lang": lang, "locale": str(loc),
                "as_of": format_day(reminder.as_of, loc) if reminder.as_of else "",
                "lines": [line(ln) for ln in reminder.lines], "n_lines": len(reminder.lines),
                "total": " + ".join(totals), "totals": totals,
                "statement": [line(ln) for ln in reminder.statement],
                "has_statement": bool(reminder.statement),
                "statement_total": " + ".join(st_totals), "attachment": attachment, "codes_short": short,
                "layout": ""}

    def render(self, reminder: Reminder, *, attachment: bool = False) -> RenderedMessage:
        lang, loc = self.template_language(reminder.language, reminder.level)
        ctx = self.context(reminder, loc, lang, attachment)
        name = f"{lang}/{reminder.level}.jinja"
        try:
            text_t = self.text_env.get_template(name)
            html_t = self.html_env.get_template(name)
            missing = [b for b in REQUIRED_BLOCKS if b not in text_t.blocks]
            if missing:
                raise TemplateMissing(f"template {name} has no {{% block {missing[0]} %}}")
            subject = _one_line(text_t.blocks["subject"](text_t.new_context(dict(ctx))))
            sms = _one_line(text_t.blocks["sms"](text_t.new_context(dict(ctx))))
            text = text_t.render({**ctx, "layout": f"{lang}/layout.txt"})
            html = html_t.render({**ctx, "layout": f"{lang}/layout.html"})
        except TemplateMissing:
            raise
        except TemplateError as exc:
            where = f" (line {exc.lineno})" if getattr(exc, "lineno", None) else ""
            raise TemplateError(f"reminder template {name}{where}: {exc}") from exc
        text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
        return RenderedMessage(customer_id=reminder.customer_id, level=reminder.level, language=lang,
                               locale=str(loc), subject=subject, text=text, html=html, sms=sms,
                               line_codes=tuple(reminder.line_codes), totals=tuple(ctx["totals"]))


def render_reminder(reminder: Reminder, templates: Mapping[str, str], *, company: str | None = None,
                    default_language: str = "en", attachment: bool = False) -> RenderedMessage:
    """One-off render (for many reminders, build one `MessageRenderer` and reuse it)."""
    return MessageRenderer(templates, default_language, company).render(reminder, attachment=attachment)


# --------------------------------------------------------------------------- SMS length

# GSM 03.38: the default alphabet (one septet each) and its extension table (escape + one: two septets).
_GSM_BASIC = frozenset("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
                       "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM_EXTENSION = frozenset("^{}\\[~]|€\f")
# Units per message: one SMS, or each part of a concatenated one (its header takes the rest).
_SINGLE = {"GSM-7": 160, "UCS-2": 70}
_PART = {"GSM-7": 153, "UCS-2": 67}


@dataclass(frozen=True)
class SmsCount:
    """How an SMS text goes out: `characters` as a person counts them, the `encoding` a phone network
    needs for it (GSM-7, or UCS-2 as soon as one character is outside the GSM alphabet, e.g. "ő" or
    Chinese), and the number of `segments` (messages) it is billed as."""

    characters: int
    encoding: str
    segments: int


def sms_count(text: str) -> SmsCount:
    """Characters, encoding and segments of an SMS (3GPP TS 23.038 / 23.040).

    GSM-7: up to 160 septets in one message, else parts of 153; an extension character (``€``,
    ``[``, ...) takes two septets and is never split between parts. UCS-2: up to 70 UTF-16 units in one
    message, else parts of 67; a character outside the Basic Multilingual Plane (an emoji) takes two
    units and is never split. Example: 111 characters with one "ő" are UCS-2, 2 segments (67 + 44)."""
    gsm = all(c in _GSM_BASIC or c in _GSM_EXTENSION for c in text)
    encoding = "GSM-7" if gsm else "UCS-2"
    if gsm:
        units = [2 if c in _GSM_EXTENSION else 1 for c in text]
    else:
        units = [2 if ord(c) > 0xFFFF else 1 for c in text]
    total = sum(units)
    if total <= _SINGLE[encoding]:
        return SmsCount(len(text), encoding, 1 if text else 0)
    segments, used = 1, 0
    for u in units:  # one message's characters: a few hundred at most
        if used + u > _PART[encoding]:
            segments, used = segments + 1, 0
        used += u
    return SmsCount(len(text), encoding, segments)


def sms_note(text: str) -> str:
    """"111 characters · 2 SMS" (and why, when a character outside the GSM alphabet halves each SMS)."""
    n = sms_count(text)
    note = f"{n.characters} characters · {n.segments} SMS"
    if n.encoding == "UCS-2":
        note += " (Unicode: a character outside the GSM alphabet, such as ő or 中, leaves 70 an SMS)"
    return note + "."
