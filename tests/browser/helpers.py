"""Waiting for Streamlit and reading what it drew, for the Playwright tests.

Streamlit draws asynchronously: a click or an upload starts a script run on
the server and the page fills in while it runs. `wait_idle` waits until the
run is over (the app root's `data-test-script-state` is "notRunning") and
every element is drawn: element kinds (metrics, charts, tables) are loaded
lazily and stand as `stSkeleton` placeholders until their code is parsed,
which on a loaded machine can take seconds after the run ended. After an
action, wait for something the action must show (a title, a message) first,
then for `wait_idle`.

Tables (`st.dataframe`) are drawn on a canvas; `grid_rows` reads the
accessible copy of the visible rows that the grid keeps inside it. Its cells
hold the values (7111.06), not the text drawn on the canvas (7,111.06): check
number formats in tables on the screenshots.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.browser.conftest import ARTIFACTS, VIEWPORT

IDLE_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
        && !document.querySelector('[data-testid="stStatusWidget"], [data-testid="stSkeleton"]');
}"""

# A number as Python prints a float, not as the app should show it: 4+ digits before the point with no
# thousands separator (181480.81), or 3+ decimals (35.267519). Dates (2026-06-30) and codes do not match.
RAW_FLOAT = re.compile(r"(?<![\d.,])(?:\d{4,}\.\d+|\d+\.\d{3,})(?![\d])")


def wait_idle(page, timeout: float = 90_000, settle_ms: int = 400) -> None:
    """Until the current script run has finished and no new one started within `settle_ms`."""
    page.get_by_test_id("stApp").wait_for(state="attached", timeout=timeout)
    for _ in range(20):
        page.wait_for_function(IDLE_JS, timeout=timeout)
        page.wait_for_timeout(settle_ms)
        if page.evaluate(IDLE_JS):
            return
    raise AssertionError("the app never stayed idle")


def title(page, text: str):
    """The page's st.title (an h1)."""
    return page.get_by_role("heading", level=1, name=text, exact=True)


def open_app(page, url: str, path: str = "", expect_title: str = "Overview", timeout: float = 90_000) -> None:
    """Load `url/path` and wait until its page is drawn (the first run builds the demo: slow)."""
    page.goto(f"{url.rstrip('/')}/{path.lstrip('/')}")
    title(page, expect_title).wait_for(timeout=timeout)
    wait_idle(page, timeout)


def nav_link(page, text: str):
    """The sidebar navigation link whose label is exactly `text` (its icon's ligature is ignored)."""
    links = page.get_by_test_id("stSidebarNav").get_by_role("link")
    for i in range(links.count()):
        link = links.nth(i)
        if link.inner_text().strip().split("\n")[-1].strip() == text:
            return link
    raise AssertionError(f"no sidebar link {text!r}: {links.all_inner_texts()}")


def go_to(page, text: str, timeout: float = 90_000) -> None:
    """Switch page through the sidebar navigation and wait until the new page is drawn."""
    nav_link(page, text).click()
    title(page, text).wait_for(timeout=timeout)
    wait_idle(page, timeout)


def exceptions(page) -> list[str]:
    """Texts of the exception boxes (tracebacks) on the page."""
    return page.get_by_test_id("stException").all_inner_texts()


def assert_no_exception(page) -> None:
    boxes = exceptions(page)
    assert not boxes, "the page shows an exception:\n" + "\n---\n".join(boxes)


def metrics(page) -> dict[str, dict[str, str | None]]:
    """{label: {"value": .., "delta": ..}} of every st.metric on the page."""
    out = {}
    cards = page.get_by_test_id("stMetric")
    for i in range(cards.count()):
        card = cards.nth(i)
        label = card.get_by_test_id("stMetricLabel").inner_text().strip()
        delta = card.get_by_test_id("stMetricDelta")
        out[label] = {
            "value": card.get_by_test_id("stMetricValue").inner_text().strip(),
            "delta": delta.inner_text().strip() if delta.count() else None,
        }
    return out


def grid_rows(frame) -> list[list[str]]:
    """The header and visible rows of an st.dataframe (a `stDataFrame` locator): cell values as text."""
    frame.locator("table[role=grid]").wait_for(state="attached")
    return frame.evaluate(
        """e => [...e.querySelectorAll('table[role=grid] tr')].map(
               tr => [...tr.querySelectorAll('th, td')].map(c => c.textContent.trim()))"""
    )


def grid_with_header(page, *columns: str) -> list[list[str]]:
    """Rows of the first table whose header starts with `columns` (header row first)."""
    frames = page.get_by_test_id("stDataFrame")
    seen = []
    for i in range(frames.count()):
        rows = grid_rows(frames.nth(i))
        if rows and rows[0][: len(columns)] == list(columns):
            return rows
        seen.append(rows[0] if rows else [])
    raise AssertionError(f"no table with the columns {columns}; headers seen: {seen}")


def raw_floats(text: str) -> list[str]:
    return RAW_FLOAT.findall(text)


def main_text(page) -> str:
    """Visible text of the main area (tables' cells are on canvases: see `grid_rows`)."""
    return page.get_by_test_id("stMain").inner_text()


def screenshot(page, name: str) -> Path:
    """A PNG of the whole page (main area and sidebar unscrolled) in test-artifacts/browser/<name>.png.

    Streamlit scrolls inside its main container, so a "full page" screenshot
    would stop at the viewport: the viewport is made as tall as the content
    for the shot, then put back. The mouse is moved away first.
    """
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    height = page.evaluate(
        """() => Math.max(...['stMain', 'stSidebarContent'].map(id => {
               const e = document.querySelector(`[data-testid="${id}"]`);
               return e ? e.scrollHeight : 0;
           }))"""
    )
    size = page.viewport_size or VIEWPORT
    tall = max(size["height"], min(int(height) + 20, 8000))
    page.mouse.move(1, 1)  # no hover effects (plotly's mode bar, tooltips) in the picture
    try:
        if tall != size["height"]:
            page.set_viewport_size({"width": size["width"], "height": tall})
            page.wait_for_timeout(600)  # charts and grids re-lay out
        page.screenshot(path=str(path), full_page=True)
    finally:
        if tall != size["height"]:
            page.set_viewport_size(size)
    return path
