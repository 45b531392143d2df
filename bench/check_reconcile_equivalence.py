"""Check that billing.reconcile gives exactly the output it gave before the optimisation.

    cd /work/main && .venv/bin/python bench/check_reconcile_equivalence.py [--sizes 6000 100000] [--save]

Not a test (it needs generated data). For each demo size and case it compares
``find_exceptions``, ``billing_due`` and ``billing_blocked`` of the current
billing/reconcile.py with reference outputs pickled under bench/.cache/ from
the pre-optimisation implementation (bench/_reconcile_before.py): same rows,
same order, same dtypes, same messages, actions and refs dicts.

--save (re)writes the reference pickles from bench/_reconcile_before.py; a
missing reference is written the same way. Cases per size: the demo as of its
date; as of an earlier date (allocation redone for it); the tables with their
rows shuffled; and without customers / without orders.
"""
from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_reconcile import CACHE, load_case  # noqa: E402

EARLIER = "2026-02-15"


def _cases(n: int):
    """(name, tables, alloc, as_of, policy) per case for the demo of n lines."""
    from billing.allocation import allocate  # noqa: PLC0415
    from billing.model import empty_table  # noqa: PLC0415
    from billing.policy import Policy  # noqa: PLC0415

    tables, alloc, as_of, policy = load_case(n)
    yield "as_of", tables, alloc, as_of, policy
    early = pd.Timestamp(EARLIER)
    yield "earlier", tables, allocate(tables["invoices"], tables["payments"], early, policy), early, policy
    rng = np.random.default_rng(1)
    shuffled = {k: (v.iloc[rng.permutation(len(v))] if k in ("invoices", "orders", "payments") else v)
                for k, v in tables.items()}
    yield "shuffled", shuffled, alloc, as_of, Policy(price_tolerance_pct=1.25, line_total_tolerance_minor=0,
                                                      default_currency="EUR")
    yield "no_customers_orders", {**tables, "customers": empty_table("customers"),
                                  "orders": empty_table("orders")}, alloc, as_of, policy


def _outputs(mod, tables, alloc, as_of, policy) -> dict[str, pd.DataFrame]:
    out = {"find_exceptions": mod.find_exceptions(tables, alloc, as_of, policy)}
    if len(tables["orders"]):
        out["billing_due"] = mod.billing_due(tables["orders"], tables["invoices"], as_of)
        out["billing_blocked"] = mod.billing_blocked(tables["orders"], tables["invoices"], as_of)
        out["billing_blocked_no_invoices"] = mod.billing_blocked(tables["orders"])
    return out


def _same(got: pd.DataFrame, want: pd.DataFrame, what: str) -> None:
    pd.testing.assert_frame_equal(got, want, check_exact=True, obj=what)
    if "refs" in want.columns:  # dicts of lists: compare exactly, key order included
        for i, (a, b) in enumerate(zip(got["refs"].tolist(), want["refs"].tolist())):
            if a != b or list(a) != list(b) or any(type(x) is not list for x in a.values()):
                raise AssertionError(f"{what}: refs differ at row {i}: {a!r} != {b!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[6000, 100_000])
    ap.add_argument("--save", action="store_true", help="rewrite the references from _reconcile_before")
    args = ap.parse_args()

    import _reconcile_before as before  # noqa: PLC0415

    from billing import reconcile as after  # noqa: PLC0415

    failures = 0
    for n in args.sizes:
        for name, tables, alloc, as_of, policy in _cases(n):
            ref_path = CACHE / f"reconcile_ref_{n}_{name}.pkl"
            if args.save or not ref_path.exists():
                ref = _outputs(before, tables, alloc, as_of, policy)
                with ref_path.open("wb") as fh:
                    pickle.dump(ref, fh, protocol=pickle.HIGHEST_PROTOCOL)
                print(f"saved reference {ref_path.relative_to(ROOT)}")
            with ref_path.open("rb") as fh:
                ref = pickle.load(fh)
            t0 = time.perf_counter()
            got = _outputs(after, tables, alloc, as_of, policy)
            dt = time.perf_counter() - t0
            for what, want in ref.items():
                try:
                    _same(got[what], want, f"{n}/{name}/{what}")
                except AssertionError as err:
                    failures += 1
                    print(f"DIFFERENT {n:>8,} {name:<20} {what:<28}\n{err}")
                else:
                    counts = (want["type"].value_counts().to_dict() if what == "find_exceptions" else "")
                    print(f"identical {n:>8,} {name:<20} {what:<28} {len(want):>6} rows {counts}")
            print(f"          ({dt:.2f}s for the current implementation's outputs)")
    if failures:
        print(f"{failures} output(s) differ")
        sys.exit(1)
    print("all outputs identical")


if __name__ == "__main__":
    main()
