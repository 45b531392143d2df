"""Browser test fixtures: a real `streamlit run app.py` server and Debian's Chromium driven by Playwright.

Fixtures (every browser test module can use them):

- ``streamlit_server``: session factory. ``streamlit_server()`` starts
  ``python -m streamlit run app.py --server.headless true`` on a free
  localhost port, in the repository root, with ``LINEWISE_DATA_DIR`` set to
  a fresh temporary directory (or the ``data_dir`` given), waits until
  ``/_stcore/health`` answers "ok" and returns a :class:`StreamlitServer`
  (``.url``, ``.data_dir``, ``.log``, ``.stop()``, ``.start()``,
  ``.restart()``). Every server it started is stopped (its whole process
  group) at the end of the session.
- ``browser``: one headless Chromium for the session (``/usr/bin/chromium``,
  never a Playwright-downloaded browser).
- ``page``: a fresh browser context (a new Streamlit session) per test,
  1600×1000, downloads accepted; on a failed test a screenshot of it is
  saved as ``test-artifacts/browser/FAILED-<test>.png``.

The helpers that wait for Streamlit and read its widgets are in
``tests/browser/helpers.py``.

Without Chromium (or Playwright) the browser tests are skipped locally but
fail when the environment variable CI is set: CI must run them.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
VIEWPORT = {"width": 1600, "height": 1000}
HEALTH_TIMEOUT = 90.0  # s: a cold start on a loaded 2-core machine
DEFAULT_TIMEOUT_MS = 60_000  # Playwright actions and waits
HERE = Path(__file__).resolve().parent


def chromium_path() -> str | None:
    """Debian's Chromium (what .ci/run installs with apt-get), or None."""
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    return shutil.which("chromium")


def skip_or_fail(reason: str) -> None:
    """Locally a missing browser skips; in CI (env CI set) it fails, because CI must run these tests."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: the browser tests must run, not skip)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


# --------------------------------------------------------------------------- the app server


class StreamlitServer:
    """One `streamlit run app.py` process on localhost, its data directory and its log file."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, app: str = "app.py"):
        self.data_dir = Path(data_dir)
        self.extra_env = dict(env or {})
        self.app = app
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log: Path = ARTIFACTS / "server.log"
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        # sys.executable is the project's .venv python when the tests run as `.venv/bin/python -m pytest`.
        return [
            sys.executable, "-m", "streamlit", "run", self.app,
            "--server.headless", "true",
            "--server.port", str(self.port),
            "--server.address", "127.0.0.1",
            "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none",
        ]  # fmt: skip

    def start(self, timeout: float = HEALTH_TIMEOUT) -> StreamlitServer:
        """Start the server (on the same port as before when it is still free) and wait until healthy."""
        if self.proc is not None and self.proc.poll() is None:
            return self
        if not port_is_free(self.port):
            deadline = time.monotonic() + 5
            while not port_is_free(self.port) and time.monotonic() < deadline:
                time.sleep(0.2)
            if not port_is_free(self.port):
                self.port = free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        self.log = ARTIFACTS / f"server-{self.port}-{self.starts}.log"
        env = {
            **os.environ,
            "LINEWISE_DATA_DIR": str(self.data_dir),
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                self.command(),
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends streamlit and its children
            )
        self._wait_healthy(timeout)
        return self

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        health = f"{self.url}/_stcore/health"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"streamlit exited with {self.proc.returncode} before it was healthy:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(health, timeout=2) as resp:
                    if resp.read().decode().strip() == "ok":
                        return
            except OSError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"streamlit was not healthy after {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 15.0) -> None:
        """Terminate the process group (SIGTERM, then SIGKILL after `timeout`)."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(5)

    def restart(self, timeout: float = HEALTH_TIMEOUT) -> StreamlitServer:
        """Stop, then start again on the same data directory (and the same port when possible:
        compare `.url` before and after when the port matters; a page can then `page.reload()`)."""
        self.stop()
        return self.start(timeout)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def __repr__(self) -> str:
        state = "running" if self.proc is not None and self.proc.poll() is None else "stopped"
        return f"<StreamlitServer {self.url} {state} data_dir={self.data_dir}>"


@pytest.fixture(scope="session")
def streamlit_server():
    """Factory: ``streamlit_server(data_dir=None, env=None) -> StreamlitServer`` (started and healthy).

    ``data_dir`` defaults to a new temporary directory (LINEWISE_DATA_DIR).
    All servers are stopped at the end of the session.
    """
    servers: list[StreamlitServer] = []
    temp = tempfile.TemporaryDirectory(prefix="linewise-browser-")

    def start(data_dir: Path | str | None = None, env: dict[str, str] | None = None) -> StreamlitServer:
        if data_dir is None:
            data_dir = Path(temp.name) / f"data{len(servers)}"
        server = StreamlitServer(Path(data_dir), env)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()
    temp.cleanup()


# --------------------------------------------------------------------------- the browser


@pytest.fixture(scope="session", autouse=True)
def _browser_available():
    """Before any server starts: skip (locally) or fail (CI) when Chromium or Playwright is missing."""
    if chromium_path() is None:
        skip_or_fail("Chromium is not installed (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        skip_or_fail("playwright is not installed (pip install -r requirements-dev.txt)")


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        skip_or_fail("Chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed (pip install -r requirements-dev.txt)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request):
    """A fresh context (so a fresh Streamlit session) with a large viewport; downloads accepted."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True, locale="en-US")
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    pg = context.new_page()
    yield pg
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        try:
            pg.screenshot(path=str(ARTIFACTS / f"FAILED-{name}.png"), full_page=True)
        except Exception:  # noqa: BLE001 - a screenshot must not hide the test's own failure
            pass
    context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item (the `page` fixture screenshots failed tests)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def pytest_collection_modifyitems(config, items):
    """Everything under tests/browser is a browser test (`-m "not browser"` leaves them out)."""
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)
