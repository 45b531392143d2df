"""Benchmark: a cold server's first Overview on a stored import vs re-reading the workbook.

    .venv/bin/python bench/bench_workspace.py [--lines 100000]

One run, side by side. A 100k-line demo workbook is built once (cached in
bench/.cache/) and imported into a fresh SQLite workspace store. Then, each
in a new Python process (a cold server: nothing imported, nothing cached):

- stored:  the app's path: open the store, read the current import's
           normalised tables (Parquet), run the Overview's engine
           (services.analysis.analyse_period: as of, period start, start
           before that);
- re-read: the path before the workspace existed: read and normalise the
           workbook, then the same engine run;
- app:     the whole first Overview script run through AppTest on the stored
           import (Streamlit imported, app.py, sidebar, every card and chart).

Prints seconds per path: imports (pandas, SQLAlchemy, ...: the same for both
paths, and paid once by a server before its first session), load (store or
workbook to a Dataset), engine, total; and the re-read/stored ratio of the
loads and of the totals. Targets (issue 12): stored first Overview
≤ 1.5 s of load, ≥ 5× faster than re-reading.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache"
AS_OF = "2026-06-30"


def workbook(lines: int) -> Path:
    path = CACHE / f"demo-{lines}.xlsx"
    if not path.exists():
        sys.path.insert(0, str(ROOT))
        from connectors.export import write_demo_workbook

        CACHE.mkdir(parents=True, exist_ok=True)
        write_demo_workbook(path, seed=7, n_lines=lines)
    return path


def child(mode: str, book: str, url: str) -> dict:
    """Runs in a fresh process: times its own path from a cold start (imports included)."""
    t0 = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    import pandas as pd

    from services.analysis import analyse_period
    from services.workspace import current_data, read_dataset  # noqa: F401 (both paths' modules)
    t_imports = time.perf_counter() - t0

    if mode == "app":
        import logging

        from streamlit.testing.v1 import AppTest

        logging.disable(logging.WARNING)
        os.environ["LINEWISE_DB_URL"] = url
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
        at.session_state["f_as_of"] = pd.Timestamp(AS_OF).date()
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.title[0].value == "Overview" and len(at.metric) >= 6
        assert not any("Demo data" in m.value for m in at.markdown)
        total = time.perf_counter() - t0
        return {"imports": t_imports, "load": float("nan"), "engine": float("nan"), "total": total}
    t_load = time.perf_counter()
    if mode == "stored":
        from connectors.store import Store
        from services.context import Workspace

        with Store(url) as store:
            data = current_data(Workspace(store)).data
    else:
        data = read_dataset(book)
    t1 = time.perf_counter()
    period = analyse_period(data, AS_OF)
    t2 = time.perf_counter()
    assert len(period.current.kpis)
    return {"imports": t_imports, "load": t1 - t_load, "engine": t2 - t1, "total": t2 - t0,
            "lines": len(data.invoices)}


def run_child(mode: str, book: Path, url: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(book), url], capture_output=True,
                         text=True, cwd=ROOT, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--child", nargs=3, metavar=("MODE", "BOOK", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    book = workbook(args.lines)
    sys.path.insert(0, str(ROOT))
    from billing.ingest import IngestOptions
    from connectors.store import Store
    from services.context import Actor, Workspace
    from services.workspace import import_files

    with tempfile.TemporaryDirectory(prefix="linewise-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'linewise.db'}"
        t = time.perf_counter()
        with Store(url) as store:
            result = import_files(Workspace(store), Actor("bench", how="system"), [(book.name, book.read_bytes())],
                                  IngestOptions())
        print(f"import of {book.name} ({book.stat().st_size / 1e6:.1f} MB): {time.perf_counter() - t:.2f} s, "
              f"{result.message}")
        stored = run_child("stored", book, url)
        reread = run_child("reread", book, url)
        app = run_child("app", book, url)
    print(f"{'path':<10} {'imports s':>9} {'load s':>8} {'engine s':>9} {'total s':>8}   "
          f"({stored['lines']:,} invoice lines, cold processes)")
    for name, r in (("stored", stored), ("re-read", reread)):
        print(f"{name:<10} {r['imports']:>9.2f} {r['load']:>8.2f} {r['engine']:>9.2f} {r['total']:>8.2f}")
    print(f"{'app':<10} {'':>9} {'':>8} {'':>9} {app['total']:>8.2f}   (first Overview through AppTest, "
          "stored import)")
    print(f"re-read / stored: load {reread['load'] / stored['load']:.1f}x, total {reread['total'] / stored['total']:.1f}x"
          f"  (targets: stored load <= 1.5 s, >= 5x)")


if __name__ == "__main__":
    main()
