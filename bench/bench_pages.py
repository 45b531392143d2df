"""Benchmark: the app's cold starts and a full script run of each page through AppTest.

    cd /work/main && .venv/bin/python bench/bench_pages.py [--lines 100000] [--repeat 3]
        [--import-lines 100000] [--rss-lines 1000000] [--parts demo,import,memory] [--skip-pages]

Cold starts, each in a fresh process (Streamlit's caches and the imports start empty), timed
from the process start to the drawn Overview (AppTest's first run of app.py), min / median of
`--repeat` processes, with CPU seconds next to wall-clock (the machine is shared):

- demo: no import in the workspace, the 6,000-line demo (built by billing.demo.demo_dataset)
  — SPEC §12 / issue 16 goal <= 1.5 s;
- import: a workspace whose current import is the `--import-lines` demo uploaded as .xlsx
  (the upload itself, reader worker + ingest + store, is timed once when the store is made)
  — goal <= 3 s;
- memory: a workspace holding `--rss-lines` invoice lines (the bench_report CSVs, 300k
  payments): the resident memory (VmRSS) of the process serving the app after the first
  Overview and after each of `--repeat` reruns, so a cache that copies the data per hit
  shows as growth, with the rerun times.

Then, unless --skip-pages, the per-page table:

For each page, in one AppTest session on the same loaded data:

- cold:     the engine caches cleared (allocation, aging, KPIs, exceptions,
            history, billing lists), then one run of the page;
- cached:   the best of N reruns of the page (nothing changed);
- filtered: the best of N reruns right after a sidebar filter change
            (a customer, alternating with none).

Reading the 100k-line demo workbook (once per process, st.cache_data) is
timed separately. Prints seconds and the cold/cached ratio per page; the
SPEC §12 bar is a cached rerun well under a second.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAGES = ["overview", "aging", "customer", "reconciliation", "payments", "data"]
CACHE = ROOT / "bench" / ".cache"
STARTED = time.perf_counter()  # this process's start (the imports above are the interpreter's own)


def _allow_app_navigation() -> None:
    """Run app.py on every AppTest run, as the server does (tests/app/conftest.py)."""
    from streamlit.runtime.pages_manager import PagesManager

    init = PagesManager.__init__

    def patched(self, *a, **k):
        init(self, *a, **k)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = patched


def _rss_mb() -> float:
    """This process's resident memory now (VmRSS), MB."""
    with open("/proc/self/status", encoding="ascii") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:")) / 1024


def cold_child(reruns: int) -> None:
    """`--cold-child`: one fresh process, app.py's first run (the Overview) and `reruns` reruns; one
    JSON line out. The workspace store is LINEWISE_DATA_DIR (set by the parent)."""
    import logging

    from streamlit.testing.v1 import AppTest

    logging.disable(logging.WARNING)
    _allow_app_navigation()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=900)
    t, cpu = time.perf_counter(), time.process_time()
    at.run()
    if at.exception:
        raise SystemExit(f"app failed: {at.exception[0].value}")
    out = {"first_run": time.perf_counter() - t, "since_start": time.perf_counter() - STARTED,
           "cpu_since_start": time.process_time(), "first_run_cpu": time.process_time() - cpu,
           "rss_mb": [_rss_mb()], "reruns": []}
    for _ in range(reruns):
        t = time.perf_counter()
        at.run()
        out["reruns"].append(time.perf_counter() - t)
        out["rss_mb"].append(_rss_mb())
    print(json.dumps(out))


def _child(data_dir: Path, reruns: int = 0) -> dict:
    env = {**os.environ, "LINEWISE_DATA_DIR": str(data_dir)}
    env.pop("LINEWISE_DB_URL", None)
    env.pop("LINEWISE_DEMO_LINES", None)
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--cold-child", str(reruns)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"cold child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _store_with(name: str, files) -> tuple[Path, float | None]:
    """A workspace store under bench/.cache/ whose current import is `files()` (made once, cached):
    (its data dir, seconds the upload took when it was made now)."""
    data_dir = CACHE / f"pages_store_{name}"
    if (data_dir / ".imported").exists():
        return data_dir, None
    from billing.ingest import IngestOptions
    from connectors.store import Store
    from services.context import Actor, Workspace
    from services.workspace import import_files

    data_dir.mkdir(parents=True, exist_ok=True)
    store = Store.from_secrets(None, data_dir=data_dir)
    content = files()
    t = time.perf_counter()
    result = import_files(Workspace(store), Actor("bench", how="system"), content, IngestOptions())
    took = time.perf_counter() - t
    if not result.stored:
        raise SystemExit(f"import failed: {result.message}")
    (data_dir / ".imported").write_text(str(result.import_id))
    return data_dir, took


def _demo_xlsx(n_lines: int):
    def files():
        import io

        from connectors.export import write_demo_workbook

        buf = io.BytesIO()
        write_demo_workbook(buf, n_lines=n_lines)
        return [("demo.xlsx", buf.getvalue())]
    return files


def _report_csvs(n_lines: int):
    def files():
        sys.path.insert(0, str(ROOT / "bench"))
        from bench_report import write_csvs

        folder = write_csvs(n_lines, n_lines * 3 // 10)
        return [(p.name, p.read_bytes()) for p in sorted(folder.glob("*.csv"))]
    return files


def _line(runs: list[dict], key: str, cpu_key: str) -> str:
    walls, cpus = [r[key] for r in runs], [r[cpu_key] for r in runs]
    return (f"wall min {min(walls):5.2f} s, median {statistics.median(walls):5.2f} s; "
            f"CPU min {min(cpus):5.2f} s, median {statistics.median(cpus):5.2f} s")


def cold_starts(args) -> None:
    print(f"load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())} (1/5/15 min) on {os.cpu_count()} cores")
    empty = CACHE / "pages_store_empty"
    empty.mkdir(parents=True, exist_ok=True)
    if "demo" in args.parts:
        runs = [_child(empty) for _ in range(args.repeat)]
        print(f"demo cold start (process start -> Overview drawn): {_line(runs, 'since_start', 'cpu_since_start')}"
              f"   goal <= 1.5 s\n    of which the first app run: {_line(runs, 'first_run', 'first_run_cpu')}")
    if "import" in args.parts:
        data_dir, took = _store_with(f"xlsx_{args.import_lines}", _demo_xlsx(args.import_lines))
        if took is not None:
            print(f"{args.import_lines:,}-line demo .xlsx uploaded and stored (worker read + ingest + store): "
                  f"{took:.2f} s")
        runs = [_child(data_dir) for _ in range(args.repeat)]
        print(f"{args.import_lines:,}-line import, cold start -> Overview drawn: "
              f"{_line(runs, 'since_start', 'cpu_since_start')}   goal <= 3 s\n"
              f"    of which the first app run: {_line(runs, 'first_run', 'first_run_cpu')}")
    if "memory" in args.parts and args.rss_lines:
        data_dir, took = _store_with(f"csv_{args.rss_lines}", _report_csvs(args.rss_lines))
        if took is not None:
            print(f"{args.rss_lines:,}-line CSV import stored: {took:.2f} s")
        r = _child(data_dir, reruns=args.repeat)
        print(f"{args.rss_lines:,}-line import: first Overview {r['first_run']:.2f} s "
              f"({r['first_run_cpu']:.2f} CPU-s); reruns " + ", ".join(f"{x:.2f}" for x in r["reruns"]) + " s; "
              "server RSS after the first run and each rerun: " + ", ".join(f"{x:.0f}" for x in r["rss_mb"]) + " MB")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--import-lines", type=int, default=100_000)
    parser.add_argument("--rss-lines", type=int, default=1_000_000, help="0 leaves the memory run out")
    parser.add_argument("--parts", default="demo,import,memory",
                        help="which cold starts: demo, import, memory (comma-separated)")
    parser.add_argument("--skip-pages", action="store_true")
    parser.add_argument("--cold-child", type=int, metavar="RERUNS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cold_child is not None:
        cold_child(args.cold_child)
        return
    cold_starts(args)
    if args.skip_pages:
        return
    os.environ["LINEWISE_DEMO_LINES"] = str(args.lines)  # read by ui.state at import
    os.environ["LINEWISE_DATA_DIR"] = str(CACHE / "pages_store_empty")  # the demo, not data/

    import logging

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    logging.disable(logging.WARNING)  # bare-mode notes ("no runtime", "missing ScriptRunContext")
    _allow_app_navigation()
    from ui import state

    engine_caches = (state.period_for, state.history_for, state.billing_lists_for, state.known_codes)
    st.cache_data.clear()

    def run(at: AppTest) -> float:
        t = time.perf_counter()
        at.run()
        took = time.perf_counter() - t
        if at.exception:
            raise SystemExit(f"page failed: {at.exception[0].value}")
        return took

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=900)
    first = run(at)
    print(
        f"{args.lines:,} invoice lines (demo seed {state.DEMO_SEED}); first app run incl. reading the "
        f"workbook and the engine: {first:.2f} s\n"
    )
    customer = at.multiselect(key="f_customer").options[0]

    print(f"{'page':<16}{'cold s':>9}{'cached s':>10}{'filtered s':>12}{'cold/cached':>13}")
    for page in PAGES:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=900)
        at.run()
        at.switch_page(f"pages/{page}.py")
        for fn in engine_caches:
            fn.clear()
        cold = run(at)
        cached = min(run(at) for _ in range(args.repeat))
        filtered = []
        for i in range(args.repeat):
            at.multiselect(key="f_customer").set_value([customer] if i % 2 == 0 else [])
            filtered.append(run(at))
        print(f"{page:<16}{cold:>9.2f}{cached:>10.3f}{min(filtered):>12.3f}{cold / cached:>13.1f}")


if __name__ == "__main__":
    main()
