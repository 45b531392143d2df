"""Benchmark: billing.reconcile.find_exceptions on the generated demo book.

    cd /work/main && .venv/bin/python bench/bench_reconcile.py [--sizes 100000 1000000] [--repeat 3]
                                                               [--no-before] [--all]

For each size (number of invoice lines; the demo has about as many order
lines and 0.3 payments per line) prints the best-of-N seconds of
``find_exceptions`` (with --all also ``billing_due`` and ``billing_blocked``)
today and of the pre-optimisation implementation kept in
billing/reconcile.py at commit defbd4a (bench/baseline.py), measured in the same run on the same data, and
their ratio. It also checks that both give the identical frame.

Data: `billing.demo.generate_demo(seed=7, n_lines=N, as_of="2026-06-30")`,
written as CSVs to a temp folder and read back like `connectors.load.load_dataset`
does (the real ingest, without the upload size limit), then allocated with
`billing.allocation.allocate`. The Dataset tables and the AllocationResult are
cached as a pickle under bench/.cache/ (gitignored): delete it after changing
the demo, ingest or allocation code.
"""
from __future__ import annotations

import argparse
import gc
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CACHE = ROOT / "bench" / ".cache"
AS_OF = "2026-06-30"
SEED = 7


def load_case(n_lines: int, seed: int = SEED, as_of: str = AS_OF, verbose: bool = True):
    """(tables, alloc, as_of, policy) for the demo book of `n_lines` lines, cached as a pickle."""
    from billing.policy import Policy

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"reconcile_demo_{seed}_{n_lines}_{as_of}.pkl"
    if path.exists():
        with path.open("rb") as fh:
            tables, alloc = pickle.load(fh)
        return tables, alloc, pd.Timestamp(as_of), Policy()
    from billing.allocation import allocate
    from billing.demo import generate_demo
    from billing.ingest import build_dataset
    from connectors.sources import read_source

    t0 = time.perf_counter()
    src = generate_demo(seed=seed, n_lines=n_lines, as_of=as_of)
    with tempfile.TemporaryDirectory() as tmp:
        for name, df in src.items():
            df.to_csv(os.path.join(tmp, f"{name}.csv"), index=False)
        # = connectors.load.load_dataset(tmp), without its 200 MB upload limit
        ds = build_dataset(read_source(tmp, max_bytes=1 << 40))
    alloc = allocate(ds.invoices, ds.payments, pd.Timestamp(as_of), Policy())
    tables = dict(ds.tables)
    with path.open("wb") as fh:
        pickle.dump((tables, alloc), fh, protocol=pickle.HIGHEST_PROTOCOL)
    if verbose:
        print(f"built demo {n_lines:,} lines in {time.perf_counter() - t0:.1f}s "
              f"(cached in {path.relative_to(ROOT)})", flush=True)
    return tables, alloc, pd.Timestamp(as_of), Policy()


def best_of(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-before", action="store_true", help="skip the pre-optimisation implementation")
    ap.add_argument("--all", action="store_true", help="also time billing_due and billing_blocked")
    args = ap.parse_args()

    from billing import reconcile as after
    sys.path.insert(0, str(ROOT / "bench"))
    from baseline import reconcile_before
    before = reconcile_before()

    print(f"{'lines':>10} {'orders':>10} {'payments':>9} {'function':<16} {'rows':>7} "
          f"{'before s':>9} {'after s':>8} {'ratio':>6}", flush=True)
    for n in args.sizes:
        tables, alloc, as_of, policy = load_case(n)
        inv, orders = tables["invoices"], tables["orders"]
        calls = {
            "find_exceptions": (lambda m, t=tables, a=alloc, d=as_of, p=policy: m.find_exceptions(t, a, d, p)),
            "billing_due": (lambda m, o=orders, i=inv, d=as_of: m.billing_due(o, i, d)),
            "billing_blocked": (lambda m, o=orders, i=inv, d=as_of: m.billing_blocked(o, i, d)),
        }
        for name, call in calls.items():
            if name != "find_exceptions" and not args.all:
                continue
            t_after, got = best_of(lambda c=call: c(after), args.repeat)
            if args.no_before:
                t_before, ratio = float("nan"), float("nan")
            else:
                t_before, want = best_of(lambda c=call: c(before), args.repeat)
                pd.testing.assert_frame_equal(got, want)  # and the same result
                ratio = t_before / t_after
            print(f"{len(inv):>10,} {len(orders):>10,} {len(tables['payments']):>9,} {name:<16} {len(got):>7,} "
                  f"{t_before:>9.3f} {t_after:>8.3f} {ratio:>6.1f}", flush=True)


if __name__ == "__main__":
    main()
