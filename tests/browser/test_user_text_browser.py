"""Stored Markdown injection in a real browser (SPEC §18): a dispute whose description, note, owner
and author carry a Markdown image, a raw <img> and a link to an HTTP server on 127.0.0.1 is shown
on the Disputes page as those characters, and that server receives NO request. A control image
created by the test itself does reach the server, so the silence means something.
"""
from __future__ import annotations

import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from billing.analysis import analyse
from billing.policy import Policy
from connectors.export import write_demo_workbook
from connectors.load import load_uploads
from connectors.store import Store
from tests.browser.helpers import assert_no_exception, main_text, open_app, wait_idle
from tests.workspace_data import import_demo
from ui import state

pytestmark = pytest.mark.browser


class _Beacon(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.server.paths.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def beacon():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Beacon)
    server.daemon_threads, server.paths = True, []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()



def plant_dispute(data_dir, evil: str) -> int:
    buf = io.BytesIO()
    write_demo_workbook(buf, seed=state.DEMO_SEED, n_lines=state.DEMO_LINES)
    aging = analyse(load_uploads([("demo.xlsx", buf.getvalue())]), state.DEMO_AS_OF, Policy(),
                    with_exceptions=False).aging
    line = aging[aging["open"] > 0].iloc[0]
    with Store(data_dir=data_dir) as store:
        import_demo(store)  # the team's own data: the demo alone is a sandbox whose disputes live elsewhere
        did = store.open_dispute(action_id="evil-open", actor=evil, lines=aging, amount=1, reason="damaged",
                                 owner=evil, line_codes=[str(line["line_code"])], description=evil)
        store.add_dispute_note(did, "note", evil, action_id="evil-note", actor=evil)
    return did


def test_planted_markup_is_shown_as_text_and_the_browser_fetches_nothing(page, streamlit_server, beacon,
                                                                          tmp_path):
    evil = (f"Look ![b]({beacon.url}/md.png) <img src=\"{beacon.url}/html.png\"> "
            f"[click]({beacon.url}/link) {beacon.url}/auto")
    did = plant_dispute(tmp_path / "data", evil)
    server = streamlit_server(data_dir=tmp_path / "data")
    open_app(page, server.url, f"disputes?dispute={did}", expect_title="Disputes")
    page.get_by_text("Opened with:", exact=False).first.wait_for()
    wait_idle(page)
    page.get_by_role("tab", name="Communication log").click()
    wait_idle(page)
    page.wait_for_timeout(1500)  # any image would have been requested by now
    assert_no_exception(page)
    text = main_text(page)
    shown = text.replace("\u2060", "")  # plain() breaks autolinks with an invisible word joiner
    assert f"![b]({beacon.url}/md.png)" in shown and "<img src=" in shown  # shown as the characters they are
    assert page.locator(f"img[src^='{beacon.url}']").count() == 0
    links = page.locator(f"a[href^='{beacon.url}']")
    assert links.count() == 0, [links.nth(i).evaluate("a => a.parentElement.innerHTML.slice(0, 200)")
                                for i in range(min(links.count(), 3))]
    assert beacon.paths == [], f"the page made the browser fetch {beacon.paths}"
    # control: an image the test adds does reach the server, so the browser could have
    page.evaluate("u => new Promise(r => { const i = new Image(); i.onload = i.onerror = () => r(); "
                  "i.src = u; })", f"{beacon.url}/control.png")
    assert beacon.paths == ["/control.png"]
