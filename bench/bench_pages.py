"""Benchmark: a full script run of each page through AppTest on the large demo (100k invoice lines).

    cd /work/main && .venv/bin/python bench/bench_pages.py [--lines 100000] [--repeat 3]

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
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAGES = ["overview", "aging", "customer", "reconciliation", "payments", "data"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ["LINEWISE_DEMO_LINES"] = str(args.lines)  # read by ui.state at import

    import logging

    import streamlit as st
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest

    logging.disable(logging.WARNING)  # bare-mode notes ("no runtime", "missing ScriptRunContext")
    init = PagesManager.__init__

    def patched(self, *a, **k):  # run app.py on every AppTest run, as the server does (tests/app/conftest.py)
        init(self, *a, **k)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = patched
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
