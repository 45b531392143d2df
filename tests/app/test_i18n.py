"""The app in English, Chinese and Hungarian (SPEC §10; issue 17 item 9).

Every message the sources pass to ``t(...)`` or mark with ``N_(...)`` has a zh and a hu
translation with the same ``{fields}``; every page renders in every language with
``LINEWISE_I18N_STRICT=1``, where a message without a translation raises instead of falling
back to English; titles, navigation, cards and table headers come out in the chosen language,
and money is written as that locale writes it.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from connectors.catalogue import read_catalogue
from ui import state
from ui.i18n import LANGUAGE_KEY, LANGUAGES, STRICT_ENV

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "app.py"
TIMEOUT = 120
PAGES = ["overview", "aging", "customer", "reconciliation", "payments", "disputes", "reminders", "data", "admin"]
sys.path.insert(0, str(REPO / "locales"))
import messages  # noqa: E402  (locales/messages.py: the extraction `make messages` runs)

FIELDS = re.compile(r"\{[^{}]*\}")


@pytest.fixture(autouse=True)
def clear_caches():
    for fn in (state.load_import, state.period_for, state.history_for, state.billing_lists_for, state.known_codes):
        fn.clear()


@pytest.fixture(scope="module")
def used() -> set[str]:
    return {str(m.id) for m in messages.extract() if m.id}


@pytest.mark.parametrize("lang", ["zh", "hu"])
def test_every_message_of_the_sources_is_translated_with_the_same_fields(used, lang):
    catalogue = read_catalogue(lang)
    missing = sorted(used - set(catalogue))
    assert not missing, f"{lang}: no translation for {missing} (run locales/messages.py and translate)"
    wrong = {m: catalogue[m] for m in used if sorted(FIELDS.findall(m)) != sorted(FIELDS.findall(catalogue[m]))}
    assert not wrong, f"{lang}: translations that change the {{fields}}: {wrong}"
    same = [m for m in used if catalogue[m] == m and re.search(r"[a-z]{3}", m) and m not in {"SMS", "E-mail"}]
    assert len(same) <= 6, f"{lang}: left in English: {same}"  # a few (DSO, CEI, SKU) are the same words


def test_the_catalogues_hold_no_message_the_sources_no_longer_use(used):
    for lang in ("zh", "hu"):
        stale = sorted(set(read_catalogue(lang)) - used)
        assert not stale, f"{lang}: not used any more: {stale} (run locales/messages.py)"


def run_in(lang: str, monkeypatch) -> AppTest:
    monkeypatch.setenv(STRICT_ENV, "1")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state[LANGUAGE_KEY] = lang
    return at.run()


def ok(at: AppTest) -> AppTest:
    assert not at.exception, "\n".join(f"{e.value}\n{''.join(e.stack_trace)}" for e in at.exception)
    return at


def headers(at: AppTest) -> list[str]:
    """The headers of every table as drawn (their column_config labels)."""
    out = []
    for df in at.dataframe:
        config = json.loads(df.proto.columns or "{}")
        out += [c.get("label") for c in config.values() if c.get("label")]
    return out


@pytest.mark.parametrize("lang", ["zh", "hu"])
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_in_each_language_without_an_untranslated_message(page, lang, monkeypatch):
    catalogue = read_catalogue(lang)
    at = ok(run_in(lang, monkeypatch))
    if page != "overview":
        ok(at.switch_page(f"pages/{page}.py").run())
    titles = {"overview": "Overview", "aging": "Aging", "customer": "Customer", "reconciliation": "Reconciliation",
              "payments": "Payments & allocations", "disputes": "Disputes", "reminders": "Reminders", "data": "Data",
              "admin": "Members"}
    assert at.title[0].value == catalogue[titles[page]]
    sidebar_labels = [w.label for w in at.sidebar.date_input] + [w.label for w in at.sidebar.multiselect]
    assert sidebar_labels and all(label in catalogue.values() for label in sidebar_labels), sidebar_labels
    english = {"Customer ID", "Open", "Overdue", "Amount", "Currency", "Line code", "Due date", "Name"}
    assert not english & set(headers(at)), f"English table headers on {page}: {english & set(headers(at))}"


def test_overview_cards_and_headers_in_chinese(monkeypatch):
    zh = read_catalogue("zh")
    at = ok(run_in("zh", monkeypatch))
    cards = {m.label for m in at.metric}
    assert {zh["Open"], zh["Overdue %"], zh["Unapplied"], zh["In dispute"]} <= cards
    assert {zh["Customer ID"], zh["Overdue"], zh["Open"]} <= set(headers(at))
    assert any(b.label.startswith(zh["Delivered, not billed"]) for b in at.button)  # exception buttons


def test_money_in_hungarian_is_written_as_hungarian_writes_it(monkeypatch):
    at = ok(run_in("hu", monkeypatch))
    at.segmented_control(key="overview_currency").set_value("HUF").run()
    value = {m.label: m.value for m in ok(at).metric}[read_catalogue("hu")["Open"]]
    assert re.fullmatch(r"\d{1,3}(\u00a0\d{3})+,\d{2}\u00a0Ft", value), value  # "202 500,00 Ft"


def test_the_language_switch_is_in_the_sidebar_and_english_is_the_default(monkeypatch):
    at = ok(AppTest.from_file(str(APP), default_timeout=TIMEOUT).run())
    switch = at.sidebar.selectbox(key=LANGUAGE_KEY)
    assert switch.options == list(LANGUAGES.values()) and switch.value == "en"
    assert at.title[0].value == "Overview"
    switch.set_value("hu").run()
    assert ok(at).title[0].value == read_catalogue("hu")["Overview"]
