"""The app in the user's language (en, zh, hu): messages, money, dates and times (SPEC §10, §8).

Use ``t("English text")`` for every text a person reads: the English text is the gettext
message id, translated through ``locales/<lang>/LC_MESSAGES/linewise.po`` (read with Babel by
`connectors.catalogue`, no compile step). Placeholders are ``str.format`` fields:
``t("Open ({currency})", currency=cur)``; a translation keeps the same fields. Labels of engine
codes (buckets, exception types, states, ...) come from `billing.labels`, translated with ``t``:
``labels.label(labels.STEPS, step, t)``.

After adding a text, run ``.venv/bin/python locales/messages.py`` (extracts ``t(...)`` and ``N_(...)`` literals into
``locales/linewise.pot`` and merges them into each language) and translate the new entries;
tests/app/test_i18n.py fails while a message has no zh or hu translation, and renders every page
in every language with ``LINEWISE_I18N_STRICT=1``, where a missing translation raises.

The language is the sidebar's choice (`LANGUAGE_KEY`), else the browser's (``st.context.locale``),
else English. Money is written as the locale writes it, with the formatter the e-mails use
(`billing.messages.format_money`: "$1,234.50", "202 500,00 Ft", "US$1,234.50"); times are stored
in UTC and shown in the browser's time zone (``st.context.timezone``).
"""
from __future__ import annotations

import functools
import os
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
import streamlit as st
from babel import Locale
from babel.dates import format_date, format_datetime

from billing.messages import format_money
from connectors.catalogue import read_catalogue

__all__ = ["LANGUAGES", "LANGUAGE_KEY", "Untranslated", "language", "t", "locale", "money", "day",
           "moment", "moments", "time_zone", "option_names", "render_switch"]

LANGUAGES: dict[str, str] = {"en": "English", "zh": "中文", "hu": "Magyar"}
LOCALES: dict[str, str] = {"en": "en_US", "zh": "zh_Hans_CN", "hu": "hu_HU"}
LANGUAGE_KEY = "ui_language"  # session_state: the sidebar's language switch
STRICT_ENV = "LINEWISE_I18N_STRICT"  # "1": a message without a translation raises (tests)


class Untranslated(KeyError):
    """A message has no translation in the chosen language (raised only in strict mode)."""


@functools.cache
def _catalogue(lang: str) -> dict[str, str]:
    """The catalogue of `lang`, read once per process (the shipped files do not change while running)."""
    return read_catalogue(lang)


def _browser_language() -> str | None:
    try:
        tag = st.context.locale or ""
    except Exception:  # noqa: BLE001 - outside a browser session (AppTest, bare mode) there is none
        tag = ""
    code = tag.replace("_", "-").split("-")[0].lower()
    return code if code in LANGUAGES else None


def language() -> str:
    """The language of this session: the sidebar's choice, else the browser's, else "en"."""
    chosen = st.session_state.get(LANGUAGE_KEY)
    if chosen in LANGUAGES:
        return chosen
    return _browser_language() or "en"


def t(msgid: str, /, **values: object) -> str:
    """`msgid` (the English text) in the session's language, its ``{fields}`` filled from `values`."""
    lang = language()
    text = msgid
    if lang != "en":
        found = _catalogue(lang).get(msgid)
        if found is None and os.environ.get(STRICT_ENV) == "1":
            raise Untranslated(f"no {lang} translation for {msgid!r}")
        text = found or msgid
    return text.format(**values) if values else text


def locale() -> Locale:
    """The Babel locale of the session's language (numbers, money, dates)."""
    return Locale.parse(LOCALES[language()])


def money(minor: int, currency: str) -> str:
    """Minor units as this locale writes money: 123450 USD -> "$1,234.50" (en), "1 234,50 USD" (hu)."""
    return format_money(int(minor), str(currency), locale())


def day(value) -> str:
    """A date as this locale writes it: "Jun 30, 2026", "2026. jún. 30.", "2026年6月30日"; NaT -> "—"."""
    if value is None or pd.isna(value):
        return "—"
    return format_date(pd.Timestamp(value).date(), format="medium", locale=locale())


def time_zone() -> ZoneInfo:
    """The browser's time zone (``st.context.timezone``), else UTC."""
    try:
        name = st.context.timezone
    except Exception:  # noqa: BLE001 - no browser session
        name = None
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def moment(value) -> str:
    """A stored UTC timestamp (naive ones are UTC) in the user's time zone and locale, with the zone:
    "Jun 30, 2026, 14:05 (Europe/Budapest)"; missing -> "—"."""
    if value is None or pd.isna(value):
        return "—"
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts
    zone = time_zone()
    local: datetime = ts.to_pydatetime().astimezone(zone)
    text = format_datetime(local, format="medium", locale=locale(), tzinfo=zone)
    return f"{text} ({zone.key})"


def moments(values: pd.Series) -> pd.Series:
    """`moment` of each value of a timestamp column (one formatting per distinct value)."""
    uniques = pd.Series(values.dropna().unique())
    shown = dict(zip(uniques.tolist(), [moment(v) for v in uniques]))
    return values.map(lambda v: shown.get(v, "—")).astype("string")


def option_names(options, label) -> Callable[[object], str]:
    """A widget's format_func: each option's `label(option)`, worked out now, in this run's language.

    Streamlit may call a format_func outside the script run (AppTest reads widget values from the
    test's thread), where the session's language is not at hand: a table made in the run is.
    """
    names = {option: label(option) for option in options}
    return lambda option: names.get(option, str(option))


def render_switch() -> None:
    """The sidebar's language switch (its label in all three languages, so anyone finds it)."""
    if st.session_state.get(LANGUAGE_KEY) not in LANGUAGES:
        st.session_state[LANGUAGE_KEY] = language()
    st.selectbox("Language · 语言 · Nyelv", list(LANGUAGES), key=LANGUAGE_KEY, format_func=LANGUAGES.get,
                 on_change=_keep_choices)


# Widgets whose option labels are translated: a new language draws them anew, and a choice made
# in the old one must carry over (Streamlit matches a kept value by its label).
TRANSLATED_CHOICES = ("f_basis", "aging_level", "aging_buckets", "recon_types", "recon_severity",
                      "disputes_status", "disputes_reason", "dispute_note_channel")


def _keep_choices() -> None:
    for key in TRANSLATED_CHOICES:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
