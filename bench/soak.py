"""Soak: 4 concurrent browser sessions uploading and working disputes against one server, on loopback.

    .venv/bin/python -m bench.soak                  # 4 sessions, 120 s
    .venv/bin/python -m bench.soak --sessions 2 --seconds 30

Starts `streamlit run app.py` on a free 127.0.0.1 port (a temporary data
directory), then runs N sessions, each in its own thread with its own
Playwright and Chromium, in bounded loops until the time is up: upload a
hostile workbook on the Data page (a cell at XFD1048576: it must be refused
with a message), then a real one (it must load), once open a dispute on
the first open line (Aging) and start its review (Disputes), and look at the
Disputes and Overview pages. Each session uploads its own invoice numbers:
the action store is shared, as in production.
An error is a Playwright timeout, a Streamlit exception on the page or a
failed health check. Prints the iterations, errors (must be 0) and the
peak RSS of the server with its children (sampled from /proc every 0.5 s).
Stops by itself; the server is stopped at the end.
"""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.browser.conftest import CHROMIUM_ARGS, VIEWPORT, StreamlitServer, chromium_path  # noqa: E402
from tests.browser.helpers import exceptions, go_to, open_app, wait_idle  # noqa: E402
from tests.hostile import corpus  # noqa: E402

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TIMEOUT_MS = 120_000


def tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        p = int(fields["Pid"])
        children.setdefault(int(fields["PPid"]), []).append(p)
        rss[p] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo.extend(children.get(p, []))
    return total


class Session(threading.Thread):
    def __init__(self, n: int, url: str, deadline: float) -> None:
        super().__init__(name=f"session-{n}", daemon=True)
        self.n, self.url, self.deadline = n, url, deadline
        self.iterations = 0
        self.errors: list[str] = []
        self.disputed = False
        self.uploads = {"hostile": 0, "real": 0}

    def run(self) -> None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport=VIEWPORT, locale="en-US")
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            while time.monotonic() < self.deadline:
                try:
                    self.step(page)
                except Exception as exc:  # noqa: BLE001 - counted and printed, the soak goes on
                    self.errors.append(f"iteration {self.iterations}: {type(exc).__name__}: {str(exc)[:200]}")
                    page.close()
                    page = context.new_page()
                self.iterations += 1
            browser.close()

    def step(self, page) -> None:
        """A hostile upload (refused), a real one (loaded), once a dispute, the Disputes and Overview pages."""
        self.upload(page, "crash", corpus.xfd_cell(), r"declares 1,048,576 rows")
        rows = 200 + self.iterations
        # each session its own invoice numbers: the store (and its disputes) is shared by all sessions
        self.upload(page, "data", corpus.invoices_workbook(rows=rows, prefix=f"S{self.n}"),
                    rf": {rows} invoice lines, 0 payments")
        if not self.disputed:
            self.open_dispute(page)
        go_to(page, "Disputes")
        self.check(page)
        go_to(page, "Overview")
        self.check(page)

    def upload(self, page, stem: str, blob: bytes, expect: str) -> None:
        open_app(page, self.url, "data", expect_title="Data")  # a new session: a fresh uploader
        page.get_by_test_id("stFileUploader").locator("input[type=file]").set_input_files(
            files=[{"name": f"s{self.n}-{self.iterations}-{stem}.xlsx", "mimeType": XLSX_MIME, "buffer": blob}])
        page.get_by_text(re.compile(expect)).wait_for()
        wait_idle(page)
        self.check(page)
        self.uploads["hostile" if stem == "crash" else "real"] += 1

    def open_dispute(self, page) -> None:
        go_to(page, "Aging")
        sidebar = page.get_by_test_id("stSidebar")
        name = sidebar.get_by_label("Your name", exact=True).and_(page.get_by_role("textbox"))
        name.fill(f"Soak {self.n}")
        name.press("Enter")
        wait_idle(page)
        page.get_by_test_id("stButtonGroup").get_by_role("radio", name="Line", exact=True).click()
        wait_idle(page)
        grid = page.locator(".st-key-aging_lines [data-testid='stDataFrame']").first
        grid.click(position={"x": 18, "y": 36 + 17})
        wait_idle(page)
        page.get_by_role("button", name=re.compile(r"^Open dispute on line ")).click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_text("Open a dispute").wait_for()
        wait_idle(page)
        dialog.get_by_role("textbox", name="Note").fill(f"Soak session {self.n}.")
        dialog.get_by_role("button", name="Open dispute").click()
        opened = page.get_by_text(re.compile(r"Dispute #\d+ opened on 1 line"))
        opened.wait_for()
        number = re.search(r"#(\d+)", opened.inner_text()).group(1)
        wait_idle(page)
        self.check(page)
        # work it: pick it on the Disputes page and start the review
        go_to(page, "Disputes")
        page.get_by_test_id("stMain").get_by_test_id("stSelectbox").filter(has_text="Dispute").click()
        page.get_by_role("option", name=re.compile(rf"^#{number} · ")).click()
        page.get_by_role("heading", name=re.compile(rf"^Dispute #{number} · ")).wait_for()
        wait_idle(page)
        page.get_by_role("button", name="Start review").click()
        page.get_by_text(f"Dispute #{number} is now in review.").wait_for()
        wait_idle(page)
        self.check(page)
        self.disputed = True

    def check(self, page) -> None:
        shown = exceptions(page)
        if shown:
            raise AssertionError(f"exception on the page: {shown[0][:200]}")
        with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=10) as resp:
            if resp.read().decode().strip() != "ok":
                raise AssertionError("health check failed")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=120.0)
    args = ap.parse_args(argv)
    if chromium_path() is None:
        print("Chromium is not installed (apt-get install chromium)")
        return 2
    with tempfile.TemporaryDirectory(prefix="linewise-soak-") as tmp:
        server = StreamlitServer(Path(tmp) / "data").start()
        peak = [tree_rss(server.proc.pid)]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], tree_rss(server.proc.pid))
                done.wait(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        start = time.monotonic()
        sessions = [Session(n, server.url, start + args.seconds) for n in range(args.sessions)]
        try:
            for s in sessions:
                s.start()
            for s in sessions:
                s.join(args.seconds + 4 * TIMEOUT_MS / 1000)
        finally:
            done.set()
            sampler.join(2)
            alive = server.proc is not None and server.proc.poll() is None
            server.stop()
        errors = [e for s in sessions for e in s.errors]
        print(f"sessions {args.sessions}, {time.monotonic() - start:.0f} s, iterations "
              f"{sum(s.iterations for s in sessions)} ({', '.join(str(s.iterations) for s in sessions)}), "
              f"disputes opened and moved to review {sum(s.disputed for s in sessions)}")
        print(f"uploads refused as hostile {sum(s.uploads['hostile'] for s in sessions)}, "
              f"loaded {sum(s.uploads['real'] for s in sessions)}")
        print(f"server alive at the end: {alive}")
        print(f"errors: {len(errors)}")
        for e in errors:
            print(f"  {e}")
        print(f"peak RSS (server + children): {peak[0] / 2**20:,.0f} MB")
        return 0 if not errors and alive else 1


if __name__ == "__main__":
    sys.exit(main())
