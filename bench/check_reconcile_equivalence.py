"""Check that billing.reconcile gives exactly the output it gave before the optimisation.

    cd /work/main && .venv/bin/python bench/check_reconcile_equivalence.py [--sizes 6000 100000] [--save]

Not a test (it needs generated data). For each demo size and case it compares
``find_exceptions``, ``billing_due`` and ``billing_blocked`` of the current
billing/reconcile.py with reference outputs pickled under bench/.cache/ from
the pre-optimisation implementation (billing/reconcile.py at commit defbd4a (bench/baseline.py)): same rows,
same order, same dtypes, same messages, actions and refs dicts.

--save (re)writes the reference pickles from billing/reconcile.py at commit defbd4a (bench/baseline.py); a
missing reference is written the same way. Cases per size: the demo as of its
date; as of an earlier date (allocation redone for it); the tables with their
rows shuffled; and without customers / without orders.

--fuzz N then compares both implementations live on N small random books
built to hit the corner cases (order keys with blanks, leading zeros, "1.0",
missing lines; repeated invoice lines and line codes, non-ASCII codes;
credit notes without kind; missing prices/quantities/currencies; several
sheets; columns left out; hand-made allocation results with unknown ids):
same frame, or the same exception type raised. --mutate N does the same on N
copies of the 6k demo with random damage (fractional quantities, reformatted
order lines, unknown orders and customers, price changes, shared user codes,
repeated and shuffled rows, two sheets, blocks, missing delivery dates,
line_allocated shuffled, other as-of dates). Both run billing.reconcile with
its shortcuts on and off (`general_paths()`), so the general code paths are checked too.
"""
from __future__ import annotations

import argparse
import contextlib
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_reconcile import CACHE, load_case

EARLIER = "2026-02-15"


def _cases(n: int):
    """(name, tables, alloc, as_of, policy) per case for the demo of n lines."""
    from billing.allocation import allocate
    from billing.model import empty_table
    from billing.policy import Policy

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


# --------------------------------------------------------------------------- fuzz

def _pick(rng, values, n, p_none=0.0):
    out = [values[i] for i in rng.integers(0, len(values), n)]
    return [None if rng.random() < p_none else v for v in out]


def _random_book(seed: int):
    """(tables, alloc, as_of, policy) of a small random book full of corner cases."""
    from billing.allocation import allocate
    from billing.linecode import append_check, make_code
    from billing.model import AllocationResult
    from billing.policy import Policy
    from tests.factories import make_customers, make_invoices, make_orders, make_payments

    rng = np.random.default_rng(seed)
    as_of = pd.Timestamp("2024-03-31")
    oids = ["SO-1", "SO-2", " SO-1", "007", "7", "0007 ", "SO-3", "", "  ", "X/9", "订单1", "123456789012345678901"]
    olines = ["1", "01", "001", "1.0", "1.00", " 2", "2", "02", "0", "000", "A", "1a", "", "10", "010", "1.5",
              "١", "２"]
    dates = ["2024-01-15", "2024-02-20", "2024-03-05", "2024-03-31", "2024-04-02", None]
    n_o = int(rng.integers(0, 14))
    orows = []
    for _ in range(n_o):
        orows.append(dict(
            order_id=_pick(rng, oids, 1, 0.08)[0], order_line=_pick(rng, olines, 1, 0.15)[0],
            customer_id=_pick(rng, ["C1", "C2", " C1", "C9", "c1"], 1, 0.1)[0],
            quantity=_pick(rng, [1.0, 2.0, 2.5, 10.0, 0.1 + 0.2, 1 / 3, 0.0], 1, 0.1)[0],
            unit_price=_pick(rng, [0, 1, 99, 100, 1000, 1250, 2**40], 1, 0.1)[0],
            currency=_pick(rng, ["USD", "EUR", "JPY", "usd"], 1, 0.15)[0],
            delivery_date=_pick(rng, dates, 1, 0.2)[0],
            delivered_qty=_pick(rng, [1.0, 2.0, 3.0, 0.0, 0.3], 1, 0.5)[0],
            billing_block=_pick(rng, ["hold", " credit hold ", "no", "None", "-", "0", "N/A", "", "FALSE", "无",
                                      "Hold"], 1, 0.6)[0],
            sku=_pick(rng, ["W", "", " ", "BOLT"], 1, 0.3)[0], description=_pick(rng, ["d"], 1, 0.5)[0]))
    orders = make_orders(orows)
    n_i = int(rng.integers(0, 16))
    irows = []
    for _ in range(n_i):
        qty = _pick(rng, [1.0, 2.0, 3.0, 0.5, 2.5, 1 / 3, 0.1, 12.0], 1, 0.15)[0]
        price = _pick(rng, [0, 1, 99, 100, 101, 1000, 1005, 1250, 2**40], 1, 0.15)[0]
        cn = rng.random() < 0.2
        amount = int(rng.integers(-3, 4)) + (round((qty or 1) * (price or 100)) if rng.random() < 0.8
                                              else int(rng.integers(0, 5000)))
        amount = -abs(amount) if cn else amount
        r = dict(invoice_no=_pick(rng, ["INV-1", "INV-2", "INV-3", " INV-1", "CN-1", "inv-1"], 1, 0.05)[0],
                 line_no=int(rng.integers(1, 4)),
                 customer_id=_pick(rng, ["C1", "C2", " C1", "C9", "c1", ""], 1, 0.1)[0],
                 invoice_date=_pick(rng, dates[:-1], 1)[0], order_id=_pick(rng, oids, 1, 0.25)[0],
                 order_line=_pick(rng, olines, 1, 0.3)[0], quantity=qty, unit_price=price, amount=amount,
                 discount=_pick(rng, [0, 5, -5, 100], 1, 0.5)[0], tax=_pick(rng, [0, 7, -7, 20], 1, 0.5)[0],
                 currency=_pick(rng, ["USD", "EUR", "JPY"], 1, 0.15)[0],
                 kind=(_pick(rng, ["credit_note", None], 1)[0] if cn
                       else _pick(rng, ["invoice", None, "credit_note"], 1)[0]))
        if rng.random() < 0.3:
            r["line_code"] = _pick(rng, ["ACME-001", "acme-001", "ACME001", "ACME 001!", "ÀCME-001", "ＡＣＭＥ-001",
                                         "straße-1", "STRASSE-1", "", "X"], 1)[0]
        irows.append(r)
    if irows and rng.random() < 0.5:  # repeat some rows exactly
        irows += [dict(irows[int(rng.integers(0, len(irows)))]) for _ in range(int(rng.integers(1, 3)))]
    invoices = make_invoices(irows)
    if len(invoices) and rng.random() < 0.8:  # as ingest leaves repeated codes
        original = invoices["line_code"].copy()
        k = invoices.groupby(original.to_numpy(), dropna=False).cumcount()
        dup = (k > 0).to_numpy()
        if dup.any():
            stems = invoices.loc[dup, "line_code"] + "/" + (k[dup] + 1).astype(str)
            invoices.loc[dup, "line_code"] = append_check(stems)
        invoices["line_code_original"] = original
    for frame in (invoices, orders):
        if len(frame) and rng.random() < 0.3:  # several sheets, rows out of order / repeated
            frame["_sheet"] = pd.array(_pick(rng, ["a", "b", "B"], len(frame), 0.1), dtype="string")
            frame["_row"] = rng.integers(1, 6, len(frame)).astype("int64")
        elif len(frame) and rng.random() < 0.5:
            frame["_row"] = rng.permutation(len(frame)).astype("int64") + 2
    codes = list(invoices["line_code"].dropna()) if len(invoices) else []
    inv_nos = ["INV-1", "INV-2", "INV-3", "CN-1", "INV-404", " INV-2", "inv-1"]
    n_p = int(rng.integers(0, 8))
    prows = [dict(payment_id=_pick(rng, [f"P{i}", "P1", " P2"], 1, 0.05)[0],
                  customer_id=_pick(rng, ["C1", "C2", "C9", " C1"], 1, 0.1)[0],
                  payment_date=_pick(rng, dates[:-1], 1)[0], amount=int(rng.integers(-100, 20000)),
                  currency=_pick(rng, ["USD", "EUR"], 1, 0.2)[0],
                  invoice_no=_pick(rng, inv_nos, 1, 0.5)[0],
                  line_code=_pick(rng, codes + ["ACME001", "acme-001", "ZZZ-001X", make_code("INV-1", 2)], 1,
                                  0.5)[0] if codes else None,
                  reference=_pick(rng, ["INV-1", "paid INV-2 and INV-3", "x"], 1, 0.5)[0])
             for i in range(n_p)]
    payments = make_payments(prows)
    customers = make_customers([{"customer_id": c} for c in ["C1", "C2", " C2"][: int(rng.integers(0, 4))]])
    policy = Policy(price_tolerance_pct=float(_pick(rng, [0.0, 0.5, 1.0, 12.5], 1)[0]),
                    line_total_tolerance_minor=int(rng.integers(0, 3)),
                    default_currency=str(_pick(rng, ["USD", "EUR"], 1)[0]))
    try:
        alloc = allocate(invoices, payments, as_of, policy)
    except Exception:  # noqa: BLE001 - the allocation may refuse a messy book; hand-make one below
        alloc = None
    if alloc is None or rng.random() < 0.4:
        pids = list(payments["payment_id"].dropna()) + codes[:2] + ["P404"]
        some = lambda k, p=0.0: _pick(rng, pids or ["P404"], k, p)
        hand = dict(
            allocations=pd.DataFrame({
                "payment_id": pd.array(some(6, 0.05), dtype="string"),
                "payment_date": pd.to_datetime(_pick(rng, dates[:-1], 6)).astype("datetime64[ns]"),
                "customer_id": pd.array(_pick(rng, ["C1", "C2"], 6), dtype="string"),
                "currency": pd.array(_pick(rng, ["USD", "EUR"], 6), dtype="string"),
                "line_code": pd.array(_pick(rng, (codes or ["X"]) + ["NOPE"], 6, 0.05), dtype="string"),
                "amount": rng.integers(1, 3000, 6).astype("int64"),
                "step": pd.array(_pick(rng, ["line", "invoice", "fifo"], 6), dtype="string")}),
            unapplied=pd.DataFrame({
                "payment_id": pd.array(some(2, 0.1), dtype="string"),
                "payment_date": pd.to_datetime(_pick(rng, dates[:-1], 2)).astype("datetime64[ns]"),
                "customer_id": pd.array(["C1", None], dtype="string"),
                "currency": pd.array(_pick(rng, ["USD", "EUR"], 2, 0.3), dtype="string"),
                "amount": np.array([int(rng.integers(-5, 500)), 7], dtype="int64")}),
            effective_payments=(alloc.effective_payments if alloc is not None else pd.DataFrame()),
            reference_issues=pd.DataFrame({
                "payment_id": pd.array(some(3, 0.1), dtype="string"),
                "customer_id": pd.array(["C1", "C9", None], dtype="string"),
                "token": pd.array(["INV-9", None, "ACME-001"], dtype="string"),
                "problem": pd.array(_pick(rng, ["unknown_code", "bad_check", "unknown_invoice"], 3),
                                    dtype="string"),
                "suggestion": pd.array(_pick(rng, (codes or ["x"]) + ["INV-1", "acme001"], 3, 0.3),
                                       dtype="string")}),
            currency_mismatches=pd.DataFrame({
                "payment_id": pd.array(some(2), dtype="string"),
                "customer_id": pd.array(["C1", "C2"], dtype="string"),
                "payment_currency": pd.array(["EUR", None], dtype="string"),
                "line_code": pd.array(_pick(rng, (codes or ["x"]) + ["INV-2"], 2, 0.3), dtype="string"),
                "line_currency": pd.array(["USD", "JPY"], dtype="string"),
                "amount": np.array([100, -50], dtype="int64")}),
            line_allocated=(alloc.line_allocated if alloc is not None and rng.random() < 0.7
                            else pd.DataFrame({"line_code": pd.Series(dtype="string"),
                                               "allocated": pd.Series(dtype="int64")})),
        )
        if rng.random() < 0.3:
            hand["currency_mismatches"]["invoice_no"] = pd.array(["INV-2", None], dtype="string")
        alloc = AllocationResult(**hand)
    tables = {"invoices": invoices, "orders": orders, "payments": payments, "customers": customers}
    for name, cols in (("invoices", ["kind", "line_code_original", "discount", "tax", "_sheet", "_row",
                                     "order_line", "order_id", "line_no"]),
                       ("orders", ["delivery_date", "delivered_qty", "billing_block", "sku", "_sheet"])):
        drop = [c for c in cols if rng.random() < 0.08]
        if drop:
            tables[name] = tables[name].drop(columns=drop)
    return tables, alloc, as_of, policy


def _mutated_demo(seed: int):
    """The 6k-line demo with random damage: a realistic book that takes the general code paths too."""
    from billing.allocation import allocate

    tables, alloc, as_of, policy = load_case(6000, verbose=False)
    rng = np.random.default_rng(seed)
    inv = tables["invoices"].copy()
    orders = tables["orders"].copy()
    n, m = len(inv), len(orders)

    def some(k: int, size: int) -> np.ndarray:
        return rng.choice(size, size=min(k, size), replace=False)

    q = inv["quantity"].to_numpy().copy()
    i = some(int(rng.integers(0, 200)), n)
    q[i] = q[i] + rng.choice([0.5, 0.25, 1 / 3, 0.1], len(i))  # fractional quantities
    inv["quantity"] = q
    ol = inv["order_line"].astype("string").copy()
    i = some(int(rng.integers(0, 300)), n)
    ol.iloc[i] = ol.iloc[i].map(lambda v: v if pd.isna(v) else rng.choice([f"0{v}", f"{v}.0", f" {v} ", ""]))
    inv["order_line"] = ol
    oid = inv["order_id"].astype("string").copy()
    i = some(int(rng.integers(0, 100)), n)
    oid.iloc[i] = rng.choice(["", "SO-NOPE", "0000000001", " 0000110001"], len(i))
    inv["order_id"] = oid
    price = inv["unit_price"].copy()
    i = some(int(rng.integers(0, 100)), n)
    price.iloc[i] = (price.iloc[i] * rng.choice([1.01, 0.9, 1.005], len(i))).round().astype("Int64")
    inv["unit_price"] = price
    cust = inv["customer_id"].astype("string").copy()
    i = some(int(rng.integers(0, 30)), n)
    cust.iloc[i] = rng.choice(["0099999", " 0010001"], len(i))
    inv["customer_id"] = cust
    if rng.random() < 0.5:  # one user code on several lines
        lco = inv["line_code_original"].astype("string").copy()
        i = some(int(rng.integers(2, 8)), n)
        lco.iloc[i] = rng.choice(["ACME-001", "acme001"], len(i))
        inv["line_code_original"] = lco
    if rng.random() < 0.5:  # repeated rows, as ingest leaves them (code suffixed, original kept)
        from billing.linecode import append_check
        extra = inv.iloc[some(int(rng.integers(1, 10)), n)].copy()
        extra["line_code_original"] = extra["line_code"]
        extra["line_code"] = append_check(extra["line_code"] + "/2")
        inv = pd.concat([inv, extra], ignore_index=True)
    if rng.random() < 0.5:  # not in invoice order
        inv = inv.iloc[rng.permutation(len(inv))].reset_index(drop=True)
    if rng.random() < 0.3:  # two sheets
        inv["_sheet"] = pd.array(rng.choice(["invoices", "more"], len(inv)), dtype="string")
    ob = orders["billing_block"].astype("string").copy()
    i = some(int(rng.integers(0, 50)), m)
    ob.iloc[i] = rng.choice(["no", " hold ", "", "None", "credit hold"], len(i))
    orders["billing_block"] = ob
    oq = orders["quantity"].to_numpy().copy()
    i = some(int(rng.integers(0, 100)), m)
    oq[i] = oq[i] - rng.choice([0.5, 1.0, 2.0], len(i))
    orders["quantity"] = oq
    dd = orders["delivery_date"].copy()
    i = some(int(rng.integers(0, 100)), m)
    dd.iloc[i] = pd.NaT
    orders["delivery_date"] = dd
    if rng.random() < 0.5:
        orders = pd.concat([orders, orders.iloc[some(20, m)]], ignore_index=True)
    if rng.random() < 0.5:
        orders = orders.iloc[rng.permutation(len(orders))].reset_index(drop=True)
    tables = {**tables, "invoices": inv, "orders": orders}
    as_of = pd.Timestamp(rng.choice(["2026-06-30", "2026-03-31", "2025-12-15"]))
    with contextlib.suppress(Exception):  # a damaged book may be refused: keep the demo's own allocation
        alloc = allocate(inv, tables["payments"], as_of, policy)
    if rng.random() < 0.5 and len(alloc.line_allocated):  # line_allocated in another order
        la = alloc.line_allocated
        alloc.line_allocated = la.iloc[rng.permutation(len(la))].reset_index(drop=True)
    return tables, alloc, as_of, policy


def _outcome(mod, tables, alloc, as_of, policy):
    try:
        return _outputs(mod, tables, alloc, as_of, policy)
    except Exception as err:  # noqa: BLE001 - both implementations must fail alike
        return type(err)


def fuzz(n: int, start: int = 0, books=None, label: str = "random books") -> int:
    """Both implementations on n generated books: identical frames (or the same exception raised),
    with billing.reconcile's shortcuts on and off (`general_paths()`)."""
    from baseline import reconcile_before
    before = reconcile_before()

    from billing import reconcile as after

    books = books or _random_book
    failures, errors = 0, 0
    for seed in range(start, start + n):
        book = books(seed)
        want = _outcome(before, *book)
        for fast in (True, False):
            with contextlib.nullcontext() if fast else after.general_paths():
                got = _outcome(after, *book)
            if isinstance(want, type) or isinstance(got, type):
                errors += isinstance(want, type) and fast
                if want is not got:
                    failures += 1
                    print(f"fuzz seed {seed} (fast={fast}): before {want if isinstance(want, type) else 'ok'}, "
                          f"after {got if isinstance(got, type) else 'ok'}", flush=True)
                continue
            for what in want:
                try:
                    _same(got[what], want[what], f"fuzz seed {seed}/{what}")
                except AssertionError as err:
                    failures += 1
                    print(f"DIFFERENT fuzz seed {seed} (fast={fast}) {what}\n{err}", flush=True)
                    break
    print(f"fuzz: {n} {label}, {failures} different ({errors} raised in both alike)", flush=True)
    return failures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[6000, 100_000])
    ap.add_argument("--save", action="store_true", help="rewrite the references from the pre-optimisation module")
    ap.add_argument("--fuzz", type=int, default=0, help="also compare on N random small books")
    ap.add_argument("--fuzz-start", type=int, default=0)
    ap.add_argument("--mutate", type=int, default=0, help="also compare on N randomly damaged 6k demos")
    args = ap.parse_args()

    from baseline import reconcile_before
    before = reconcile_before()

    from billing import reconcile as after

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
    if args.fuzz:
        failures += fuzz(args.fuzz, args.fuzz_start)
    if args.mutate:
        failures += fuzz(args.mutate, args.fuzz_start, _mutated_demo, "damaged demos")
    if failures:
        print(f"{failures} output(s) differ")
        sys.exit(1)
    print("all outputs identical")


if __name__ == "__main__":
    main()
