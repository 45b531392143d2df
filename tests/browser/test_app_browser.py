"""The app in a real browser: KPI cards, page switching, an upload, the report download, screenshots.

One `streamlit run app.py` server for the module, on demo data (its workspace
has no import); every test gets a fresh browser context, so a fresh Streamlit
session. An upload is an import of the workspace that every session sees, so
the upload tests run on their own server (`fresh_app`). Screenshots of every page go to
test-artifacts/browser/ (overview.png, aging.png, customer.png,
reconciliation.png, payments.png, data.png, data-upload.png,
overview-upload.png).
"""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
import xlsxwriter

from tests.browser.conftest import ARTIFACTS
from tests.browser.helpers import (
    assert_no_exception,
    go_to,
    grid_with_header,
    main_text,
    metrics,
    open_app,
    raw_floats,
    screenshot,
    title,
    wait_idle,
)

pytestmark = pytest.mark.browser

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
USD = re.compile(r"^-?\$\d{1,3}(,\d{3})*\.\d{2}$")
EUR = re.compile(r"^-?€\d{1,3}(,\d{3})*\.\d{2}$")
PCT = re.compile(r"^\d{1,3}\.\d%$")
DAYS = re.compile(r"^-?\d{1,4}\.\d days$")
MONEY_DELTA = re.compile(r"^[+-]?-?\$\d{1,3}(,\d{3})*\.\d{2}$")
PP_DELTA = re.compile(r"^[+-]\d{1,3}\.\d pp$")
DAYS_DELTA = re.compile(r"^[+-]\d{1,4}\.\d days$")
KPI_FORMAT = {"Open": USD, "Overdue %": PCT, "DSO": DAYS, "CEI": PCT, "Unapplied": USD, "In dispute": USD}
DELTA_FORMAT = {
    "Open": MONEY_DELTA,
    "Overdue %": PP_DELTA,
    "DSO": DAYS_DELTA,
    "CEI": PP_DELTA,
    "Unapplied": MONEY_DELTA,
    "In dispute": MONEY_DELTA,
}
PAGES = [  # sidebar label, URL path (= the screenshot's name)
    ("Aging", "aging"),
    ("Customer", "customer"),
    ("Reconciliation", "reconciliation"),
    ("Payments & allocations", "payments"),
    ("Data", "data"),
]


@pytest.fixture(scope="module")
def app(streamlit_server):
    """The app on demo data, one server for the module (LINEWISE_DATA_DIR: a fresh temporary folder)."""
    return streamlit_server()


@pytest.fixture
def fresh_app(streamlit_server):
    """A server of its own (an empty workspace of its own) for a test that imports."""
    return streamlit_server()


def demo_banner(page):
    return page.locator(".st-key-demo_banner")


def money(text: str) -> float:
    """"$181,480.81" -> 181480.81"""
    return float(re.sub(r"[^\d.-]", "", text))


def messy_workbook() -> bytes:
    """`messy.xlsx`: Invoices with a title row above the header; 4 rows of which 2 are quarantined
    (row 6: Invoice Date "31/02/2026", not a real date; row 7: Amount 12.345, 3 decimals in USD).
    Payments: P-1 of 1,000,000.00 USD from C1 naming INV-100 (due 2026-04-01): 1,234,567.89 + 2,500.00 −
    1,000,000.00 leaves 237,067.89 open, all overdue as of the last activity, 2026-04-10."""
    d = dt.datetime
    sheets = {
        "Invoices": [
            ["Receivables 2026"],
            [],
            ["Invoice No", "Line", "Customer", "Invoice Date", "Due Date", "Amount", "Currency"],
            ["INV-100", 1, "C1", d(2026, 3, 2), d(2026, 4, 1), 1234567.89, "USD"],
            ["INV-100", 2, "C1", d(2026, 3, 2), d(2026, 4, 1), 2500, "USD"],
            ["INV-101", 1, "C2", "31/02/2026", d(2026, 4, 1), 300, "USD"],
            ["INV-102", 1, "C2", d(2026, 3, 5), d(2026, 4, 4), 12.345, "USD"],
        ],
        "Payments": [
            ["Payment ID", "Customer", "Payment Date", "Amount", "Invoice No"],
            ["P-1", "C1", d(2026, 4, 10), 1000000, "INV-100"],
        ],
    }
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True})
    date = book.add_format({"num_format": "yyyy-mm-dd"})
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if isinstance(value, dt.datetime):
                    sheet.write_datetime(r, c, value, date)
                else:
                    sheet.write(r, c, value)
    book.close()
    return buf.getvalue()


def upload_messy(page, url: str) -> None:
    """Open the Data page and upload `messy_workbook()` through the file input."""
    open_app(page, url, "data", expect_title="Data")
    uploader = page.get_by_test_id("stFileUploader").locator("input[type=file]")
    blob = messy_workbook()
    uploader.set_input_files(files=[{"name": "messy.xlsx", "mimeType": XLSX_MIME, "buffer": blob}])
    page.get_by_text(re.compile(r"Stored as import #1: 2 invoice lines")).wait_for(timeout=90_000)
    wait_idle(page)


def check_charts(page, at_least: int) -> None:
    """Plotly charts drawn, with a visible size and tick labels that are formatted numbers."""
    charts = page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot')
    charts.nth(at_least - 1).wait_for()
    assert charts.count() >= at_least
    for i in range(charts.count()):
        box = charts.nth(i).bounding_box()
        assert box and box["width"] > 300 and box["height"] > 120, f"chart {i} is too small: {box}"
        ticks = charts.nth(i).locator(".xtick text, .ytick text").all_text_contents()
        assert ticks, f"chart {i} has no axis labels"
        assert not [t for t in ticks if raw_floats(t)], f"chart {i} has raw numbers on an axis: {ticks}"


def choose_first_customer(page) -> None:
    """Customer page: pick the first customer of the list; their statement and history are drawn."""
    grid = page.locator(".st-key-customer_list [data-testid='stDataFrame']").first
    grid.wait_for()
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)  # the first data row's selection cell
    page.get_by_role("heading", name="Statement of account").wait_for()
    wait_idle(page)
    assert_no_exception(page)
    assert any(label.startswith("Open (") for label in metrics(page)), metrics(page)
    check_charts(page, 1)  # balance at month ends


# --------------------------------------------------------------------------- 1. the Overview


def test_overview_shows_formatted_kpis_and_charts(page, app):
    open_app(page, app.url)
    assert_no_exception(page)
    banner = demo_banner(page)
    assert banner.is_visible()
    assert "Demo data." in banner.inner_text()
    assert page.get_by_test_id("stSidebar").get_by_text("demo data").first.is_visible()

    page.get_by_test_id("stMetricValue").first.wait_for()
    cards = metrics(page)
    assert list(cards) == list(KPI_FORMAT), cards
    for label, fmt in KPI_FORMAT.items():
        assert fmt.match(cards[label]["value"]), f"{label}: {cards[label]['value']!r} is not formatted"
        delta = cards[label]["delta"]
        assert delta is None or DELTA_FORMAT[label].match(delta), f"{label} delta {delta!r}"
    assert money(cards["Open"]["value"]) >= 1000 and "," in cards["Open"]["value"]  # thousands separator
    assert not raw_floats(main_text(page)), raw_floats(main_text(page))

    check_charts(page, 3)  # aging by currency, AR trend, cash expected by week
    assert page.get_by_role("button", name=re.compile(r"^Delivered, not billed · \d+$")).is_visible()
    top = grid_with_header(page, "Customer ID", "Overdue", "Open", "Name")
    assert len(top) > 1
    for row in top[1:]:  # the values behind the canvas (the drawn "7,111.06" is checked on the screenshot)
        assert 0 < float(row[1]) <= float(row[2]), f"overdue {row[1]!r} > open {row[2]!r}"
    screenshot(page, "overview")

    # another currency: the cards switch to its symbol
    page.get_by_test_id("stButtonGroup").get_by_role("radio", name="EUR", exact=True).click()
    page.get_by_test_id("stMetricValue").first.filter(has_text="€").wait_for()
    wait_idle(page)
    assert EUR.match(metrics(page)["Open"]["value"])
    assert_no_exception(page)


# --------------------------------------------------------------------------- 2. the other pages


def test_sidebar_navigation_switches_pages(page, app):
    open_app(page, app.url)
    for label, path in PAGES:
        go_to(page, label)
        assert page.url.rstrip("/").endswith("/" + path), page.url
        assert_no_exception(page)
        assert title(page, label).is_visible()
        if path != "data":
            assert demo_banner(page).is_visible(), f"{label}: no demo banner"
        text = main_text(page)
        assert not raw_floats(text), f"{label}: unformatted numbers {raw_floats(text)}"
        if path == "customer":
            choose_first_customer(page)
        for card in metrics(page).values():
            assert not raw_floats(card["value"]), f"{label}: metric {card}"
        screenshot(page, path)
    # and back
    go_to(page, "Overview")
    assert_no_exception(page)


# --------------------------------------------------------------------------- 3. upload


def test_upload_shows_the_validation_report_and_replaces_the_demo(page, fresh_app):
    app = fresh_app
    upload_messy(page, app.url)
    assert_no_exception(page)
    done = page.get_by_text(re.compile(r"Stored as import #1: 2 invoice lines, 1 payments\."))
    assert "2 row(s) were quarantined" in done.inner_text()

    page.get_by_role("heading", name="Validation report").wait_for()
    counts = grid_with_header(page, "Table", "Rows read", "Accepted", "Quarantined")
    by_table = {row[0]: row[1:4] for row in counts[1:]}
    assert by_table["invoices"] == ["4", "2", "2"], counts
    assert by_table["payments"] == ["1", "1", "0"], counts

    assert page.get_by_text("Quarantined cells (2)").is_visible()
    quarantined = grid_with_header(page, "Table", "Sheet", "Row", "Column", "Value", "What happened")
    rows = {tuple(r[1:6]) for r in quarantined[1:]}
    assert rows == {
        ("Invoices", "6", "Invoice Date", "31/02/2026", "is not a real date"),
        ("Invoices", "7", "Amount", "12.345", "has 3 decimals but USD allows 2"),
    }, quarantined
    assert "messy.xlsx" in page.get_by_test_id("stSidebar").inner_text()
    screenshot(page, "data-upload")

    page.get_by_role("link", name="Go to the Overview").click()
    title(page, "Overview").wait_for()
    wait_idle(page)
    assert_no_exception(page)
    assert demo_banner(page).count() == 0, "the demo banner is still shown after an upload"
    cards = metrics(page)
    assert cards["Open"]["value"] == "$237,067.89", cards
    assert cards["Overdue %"]["value"] == "100.0%", cards
    check_charts(page, 2)
    screenshot(page, "overview-upload")


def test_an_upload_moves_the_as_of_date_to_its_last_activity(page, fresh_app):
    app = fresh_app
    upload_messy(page, app.url)
    assert page.get_by_text("As of 2026-04-10, all customers").is_visible()  # the Data page's exports
    sidebar_date = page.get_by_test_id("stSidebar").get_by_test_id("stDateInput").locator("input")
    assert sidebar_date.input_value() == "2026-04-10"
    go_to(page, "Overview")
    assert page.get_by_text("As of Apr 10, 2026.", exact=True).is_visible()


# --------------------------------------------------------------------------- 4. download


def test_download_the_xlsx_report(page, app):
    from python_calamine import CalamineWorkbook

    open_app(page, app.url)
    page.get_by_test_id("stMetricValue").first.wait_for()
    open_usd = money(metrics(page)["Open"]["value"])
    go_to(page, "Data")
    button = page.get_by_test_id("stDownloadButton").filter(has_text="Download the report (XLSX)")
    with page.expect_download(timeout=90_000) as info:
        button.get_by_role("button").click()
    download = info.value
    assert download.failure() is None
    assert download.suggested_filename == "linewise_report_2026-06-30.xlsx"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / download.suggested_filename
    download.save_as(path)

    book = CalamineWorkbook.from_path(str(path))
    assert {"about", "summary", "customers", "lines", "exceptions", "quarantine"} <= set(book.sheet_names)
    summary = book.get_sheet_by_name("summary").to_python()
    header = summary[0]
    usd = next(row for row in summary[1:] if row[header.index("currency")] == "USD")
    for column in ("invoiced", "allocated", "overdue", "open"):
        assert isinstance(usd[header.index(column)], float), (column, usd)
    assert usd[header.index("open")] == pytest.approx(open_usd), "the report and the Open card disagree"
    lines = book.get_sheet_by_name("lines").to_python()
    amount = lines[0].index("amount")
    assert all(isinstance(row[amount], float) for row in lines[1:50])
    assert_no_exception(page)
