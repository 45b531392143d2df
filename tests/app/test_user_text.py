"""User text is shown as text on every page (SPEC §18): a customer name, a dispute description, a
log note and the people's names planted with a Markdown image, a raw <img> tag, a link and
Streamlit directives never reach an element as markup.

Every text-bearing element the pages draw (markdown, captions, headers, alerts, metric and widget
labels, help tooltips) is parsed with a CommonMark parser: no image, link or HTML token may come
out of any of them, and no planted URL may be left where GitHub-flavoured Markdown would make it
a link.
"""
from __future__ import annotations

import datetime as dt
import re

import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from billing.linecode import make_code
from tests.app.files import XLSX, _book
from tests.app.test_disputes_page import APP, TIMEOUT, ok
from ui.store import ACTOR_KEY, get_store
from ui.text import plain

BEACON = "http://127.0.0.1:9/x.png"
EVIL = f"Evil ![b]({BEACON}) <img src={BEACON}> [click](http://127.0.0.1:9/) *bold* :red[alarm] $x$"
TEXT_ELEMENTS = ("markdown", "caption", "header", "subheader", "title", "info", "warning", "error", "success",
                 "toast")
LABELLED = ("metric", "button", "text_input", "text_area", "selectbox", "multiselect", "number_input",
            "checkbox", "radio", "expander", "tabs", "toggle", "date_input", "segmented_control")
MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])
AUTOLINK = re.compile(r"\b(?:https?://|www\.)\S+")  # in the source: an escaped "http\\:" is no link


def book() -> bytes:
    D = dt.datetime
    return _book({
        "customers": [["customer_id", "name", "email", "language", "currency"],
                      ["C-EVIL", EVIL, "evil@example.test", "en", "USD"],
                      ["C-OK", "Plain Ltd", "ok@example.test", "en", "USD"]],
        "invoices": [["invoice_no", "line_no", "customer_id", "invoice_date", "due_date", "amount", "currency"],
                     ["INV-1", 1, "C-EVIL", D(2026, 4, 1), D(2026, 5, 1), 100.0, "USD"],
                     ["INV-2", 1, "C-EVIL", D(2026, 4, 2), D(2026, 5, 2), 50.0, "USD"],
                     ["INV-3", 1, "C-OK", D(2026, 4, 3), D(2026, 5, 3), 70.0, "USD"]],
        "payments": [["payment_id", "customer_id", "payment_date", "amount", "currency", "reference"],
                     ["P1", "C-EVIL", D(2026, 5, 10), 30.0, "USD", EVIL]],
    })


def markup_in(text: str) -> list[str]:
    """What in `text` Streamlit's Markdown would turn into an image, a link or HTML."""
    found = [f"autolink: {m.group(0)}" for m in AUTOLINK.finditer(text or "")]  # GFM literal autolinks
    for block in MD.parse(text or ""):
        for tok in [block, *(block.children or [])]:
            if tok.type in ("image", "link_open", "html_inline", "html_block"):
                found.append(f"{tok.type}: {tok.content or tok.attrs}")
    return found


def texts(at: AppTest) -> list[tuple[str, str]]:
    """(element, text) for every text the page renders as Markdown."""
    out: list[tuple[str, str]] = []
    for kind in TEXT_ELEMENTS:
        out += [(kind, str(e.value)) for e in getattr(at, kind)]
        out += [(kind, str(e.value)) for e in getattr(at.sidebar, kind)]
    for kind in LABELLED:
        for e in [*at.get(kind), *at.sidebar.get(kind)]:
            out += [(f"{kind} label", str(getattr(e, "label", "") or "")),
                    (f"{kind} help", str(getattr(e, "help", "") or ""))]
    return out


def assert_plain(at: AppTest, where: str) -> int:
    ok(at)
    shown = texts(at)
    bad = [(k, t, markup_in(t)) for k, t in shown if markup_in(t)]
    assert not bad, f"{where}: user text rendered as markup: {bad}"
    return sum(plain(EVIL) in t for _, t in shown)


def test_the_escape_leaves_no_markup_and_shows_the_same_characters():
    assert markup_in(EVIL) and not markup_in(plain(EVIL))
    rendered = MD.renderInline(plain(EVIL))
    assert "<img" not in rendered and "<a " not in rendered and "![b](" in rendered
    assert plain(None) == "" and plain("# heading\n- item") == "\\# heading - item"


@pytest.fixture
def planted():
    store = get_store()
    from billing.analysis import analyse
    from billing.policy import Policy
    from connectors.load import load_uploads

    data = load_uploads([("evil.xlsx", book())])
    aging = analyse(data, "2026-06-30", Policy(), with_exceptions=False).aging
    codes = aging.loc[aging["customer_id"] == "C-EVIL", "line_code"].astype(str).tolist()
    did = store.open_dispute(action_id="evil-open", actor=EVIL, lines=aging, amount=10_00, reason="damaged",
                             owner=EVIL, line_codes=codes[:1], description=EVIL)
    store.add_dispute_note(did, "note", EVIL, action_id="evil-note", actor=EVIL)
    return did


def test_planted_markdown_and_html_never_render_on_any_page(planted):
    at = ok(AppTest.from_file(str(APP), default_timeout=TIMEOUT).run())
    at.text_input(key=ACTOR_KEY).input(EVIL).run()
    at.switch_page("pages/data.py").run()
    at.file_uploader(key="data_upload").set_value(("evil ![b](x).xlsx", book(), XLSX)).run()
    assert_plain(at, "data")
    seen = 0
    at.session_state["f_as_of"] = dt.date(2026, 6, 30)
    at.session_state["customer_pick"] = "C-EVIL"
    for page in ("overview", "aging", "customer", "payments", "reconciliation", "reminders"):
        at.switch_page(f"pages/{page}.py").run()
        seen += assert_plain(at, page)
    # the open-dispute dialog names the customer too
    at.switch_page("pages/customer.py").run()
    at.multiselect(key="customer_dispute_lines").set_value([make_code("INV-2", 1)]).run()
    at.button(key="customer_dispute").click().run()
    assert any(plain(EVIL) in m.value for m in at.markdown), "the dialog should name the customer"
    seen += assert_plain(at, "open-dispute dialog")
    at.query_params["dispute"] = str(planted)
    at.switch_page("pages/disputes.py").run()
    seen += assert_plain(at, "disputes")
    (log,) = [d.value for d in at.dataframe if {"actor", "channel", "text"} <= set(d.value.columns)]
    assert EVIL in set(log["text"]) and EVIL in set(log["actor"])  # shown, as text, in the table
    assert seen >= 3, "the planted text should be on the customer and disputes pages (as text)"


def test_a_busy_store_is_a_plain_message_on_the_disputes_page(planted, monkeypatch):
    from tests.connectors.test_store_faults import write_lock_held

    monkeypatch.setenv("LINEWISE_DB_BUSY_TIMEOUT", "0.3")
    get_store.clear()  # reopen with the short busy timeout
    at = ok(AppTest.from_file(str(APP), default_timeout=TIMEOUT).run())
    at.text_input(key=ACTOR_KEY).input("Anna").run()
    at.switch_page("pages/data.py").run()
    at.file_uploader(key="data_upload").set_value(("ar.xlsx", book(), XLSX)).run()
    at.query_params["dispute"] = str(planted)
    at.switch_page("pages/disputes.py").run()
    with write_lock_held(get_store().sqlite_path):
        at.text_input(key="dispute_note_text").input("Called the buyer.")
        at.button(key="dispute_note_add").click().run()
        errors = [e.value for e in ok(at).error]
    assert any("is busy" in e and "linewise.db" in e for e in errors), errors
    assert not any("OperationalError" in e or "Traceback" in e for e in errors)
    at.text_input(key="dispute_note_text").input("Called the buyer.")
    at.button(key="dispute_note_add").click().run()  # the lock is gone: the same entry goes in once
    assert [t for t in get_store().dispute_log(planted)["text"]].count("Called the buyer.") == 1
