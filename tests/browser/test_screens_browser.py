"""Every page as people see it (issue 17): full-page screenshots at 1440×900 and Overview on a phone.

The PNGs go to test-artifacts/browser/screen-<page>.png (and screen-overview-phone.png,
screen-overview-zh.png, screen-overview-hu.png): look at them. The assertions here are what a
screenshot review found: no developer words (codes such as CURRENCY_MISMATCH, over_120, fifo,
reminded_recently, "minor units", a "None" value), no unformatted numbers, and the language switch
(a typed as-of date that applies on Tab is still open: see its test).
"""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import DEFAULT_TIMEOUT_MS
from tests.browser.helpers import (
    assert_no_exception,
    go_to,
    main_text,
    metrics,
    open_app,
    raw_floats,
    screenshot,
    title,
    wait_idle,
)

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
PAGES = [  # sidebar label, screenshot name
    ("Overview", "overview"),
    ("Aging", "aging"),
    ("Customer", "customer"),
    ("Reconciliation", "reconciliation"),
    ("Payments & allocations", "payments"),
    ("Disputes", "disputes"),
    ("Reminders", "reminders"),
    ("Data", "data"),
    ("Members", "members"),
]
# Words only a developer reads: an engine code in capitals with underscores, a bucket key, a step
# or reason code, amounts in minor units, a missing value printed as None.
DEVELOPER_WORDS = re.compile(
    r"\b[A-Z]{2,}_[A-Z_]{2,}\b|\bover_\d+\b|\bfifo\b|\breminded_recently\b|\bunknown_invoice\b"
    r"|\bin_review\b|minor units|: None\b|\(days\): None")


@pytest.fixture(scope="module")
def app(streamlit_server):
    return streamlit_server()


def new_page(browser, viewport: dict, timezone: str = "Europe/Budapest"):
    context = browser.new_context(viewport=viewport, locale="en-US", timezone_id=timezone)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    return context, context.new_page()


def plain_words(page, where: str) -> None:
    text = main_text(page) + "\n" + page.get_by_test_id("stSidebar").inner_text()
    found = sorted(set(DEVELOPER_WORDS.findall(text)))
    assert not found, f"{where}: developer words on screen: {found}"
    assert not raw_floats(main_text(page)), f"{where}: unformatted numbers {raw_floats(main_text(page))}"


def open_first_customer(page) -> None:
    """Customer page: nobody chosen, so the list; a click on its first row opens that statement."""
    grid = page.locator(".st-key-customer_list [data-testid='stDataFrame']").first
    grid.wait_for()
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)  # the first data row's selection cell
    page.get_by_role("heading", name="Statement of account").wait_for()
    wait_idle(page)


def test_every_page_at_1440_by_900_reads_without_a_glossary(browser, app):
    context, page = new_page(browser, DESKTOP)
    try:
        open_app(page, app.url)
        for label, name in PAGES:
            if label != "Overview":
                go_to(page, label)
            assert_no_exception(page)
            if name == "customer":
                screenshot(page, "screen-customer-list")
                open_first_customer(page)
                assert any(m.startswith("Overdue (") for m in metrics(page)), metrics(page)
            plain_words(page, label)
            for card in metrics(page).values():
                assert card["value"] not in ("None", "nan"), (label, card)
            screenshot(page, f"screen-{name}")
    finally:
        context.close()


def test_overview_on_a_phone(browser, app):
    context, page = new_page(browser, PHONE)
    try:
        open_app(page, app.url)
        assert_no_exception(page)
        page.get_by_role("heading", name="Top overdue customers").scroll_into_view_if_needed()
        plain_words(page, "Overview on a phone")
        screenshot(page, "screen-overview-phone")
    finally:
        context.close()


@pytest.mark.parametrize("lang, overview", [("zh", "概览"), ("hu", "Áttekintés")])
def test_the_language_switch_turns_the_app_into_that_language(browser, app, lang, overview):
    context, page = new_page(browser, DESKTOP)
    try:
        open_app(page, app.url)
        page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").first.click()
        page.get_by_role("option", name={"zh": "中文", "hu": "Magyar"}[lang]).click()
        title(page, overview).wait_for()
        wait_idle(page)
        assert_no_exception(page)
        basis = {"zh": "到期日", "hu": "esedékesség"}[lang]
        assert page.get_by_test_id("stSidebar").get_by_role("radio", name=basis).is_checked()
        nav = page.get_by_test_id("stSidebarNav").inner_text()
        assert "Overview" not in nav and "Reconciliation" not in nav, nav
        if lang == "hu":
            page.get_by_test_id("stButtonGroup").get_by_role("radio", name="HUF", exact=True).click()
            page.get_by_test_id("stMetricValue").first.filter(has_text="Ft").wait_for()
            wait_idle(page)
            value = page.get_by_test_id("stMetricValue").first.inner_text().strip()
            assert re.fullmatch(r"\d{1,3}(\s\d{3})+,\d{2}\sFt", value), value  # "202 500,00 Ft"
        screenshot(page, f"screen-overview-{lang}")
    finally:
        context.close()


@pytest.mark.xfail(strict=True, reason="issue 17 item 6, open: Streamlit 1.67's date field (react-aria "
                   "segments) does not commit typed digits on Tab or Enter, only when the focus leaves "
                   "the widget; this test passes (and must then lose this mark) once it does")
def test_a_typed_as_of_date_applies_on_tab(browser, app):
    context, page = new_page(browser, DESKTOP)
    try:
        open_app(page, app.url)
        field = page.get_by_test_id("stSidebar").get_by_test_id("stDateInput")
        field.get_by_role("spinbutton", name=re.compile("^month")).click()
        page.keyboard.type("05")
        field.get_by_role("spinbutton", name=re.compile("^day")).click()
        page.keyboard.type("31")
        page.keyboard.press("Tab")
        page.get_by_text("As of May 31, 2026.", exact=True).wait_for(timeout=30_000)
        wait_idle(page)
        assert_no_exception(page)
    finally:
        context.close()
