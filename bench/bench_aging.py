"""Benchmark: billing.aging (line_aging + rollup per customer) vs plain pandas (merge + pd.cut + groupby).

    cd /work/main && .venv/bin/python bench/bench_aging.py [--lines 1000000] [--repeat 5]

Prints the best-of-N seconds of each step and the ratios (plain / ours),
measured side by side in one run on the same data. Cases for how
``alloc.line_allocated`` is laid out: in the invoices table's order (no join
needed), shuffled (a join on line_code, hashing 1M strings), and in the
order billing.allocation returns it (by invoice_no, line_no: the table order
here, since the generated table is sorted that way). Both versions are
checked to give the same open total per bucket.
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import time

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from billing.aging import line_aging, rollup  # noqa: E402
from billing.model import AllocationResult  # noqa: E402
from billing.policy import Policy  # noqa: E402

AS_OF = pd.Timestamp("2024-06-30")


def make_data(n: int, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n_customers = max(n // 20, 1)
    inv_no = np.arange(n) // 3
    line_no = np.arange(n) % 3 + 1
    invoice_no = pd.array([f"INV-{i:08d}" for i in inv_no], dtype="string")
    line_code = pd.array([f"INV-{i:08d}-{j:03d}X" for i, j in zip(inv_no, line_no)], dtype="string")
    cust_idx = rng.integers(0, n_customers, n // 3 + 1)[inv_no]
    customer_id = pd.array(np.char.add("C", cust_idx.astype(str)), dtype="string")
    currency = pd.array(np.array(["USD", "EUR", "HUF"])[rng.choice(3, n // 3 + 1, p=[0.6, 0.3, 0.1])[inv_no]],
                        dtype="string")
    inv_days = rng.integers(-720, 10, n // 3 + 1)[inv_no]  # ~1.4 % invoiced after as_of
    invoice_date = (AS_OF + pd.to_timedelta(inv_days, unit="D")).to_numpy().astype("datetime64[ns]")
    due_date = invoice_date + np.timedelta64(30, "D").astype("timedelta64[ns]")
    amount = rng.integers(100, 1_000_000, n).astype(np.int64)
    is_cn = rng.random(n) < 0.02
    amount[is_cn] = -amount[is_cn]
    kind = pd.array(np.where(is_cn, "credit_note", "invoice"), dtype="string")
    lines = pd.DataFrame({
        "invoice_no": invoice_no, "customer_id": customer_id, "invoice_date": invoice_date, "line_no": line_no,
        "line_code": line_code, "due_date": due_date, "amount": amount, "currency": currency, "kind": kind,
        "due_date_derived": np.ones(n, dtype=bool),
    })
    # Old lines mostly paid, recent ones mostly open; some partial payments.
    paid_share = np.clip((-inv_days) / 180.0, 0, 1)
    r = rng.random(n)
    allocated = np.where(r < paid_share * 0.85, amount, np.where(r < paid_share, amount // 2, 0))
    allocated = np.where(is_cn | (inv_days > 0), 0, allocated).astype(np.int64)
    line_allocated = pd.DataFrame({"line_code": line_code, "allocated": allocated,
                                   "last_payment_date": pd.NaT})
    return lines, line_allocated


def alloc_of(line_allocated: pd.DataFrame, unapplied: pd.DataFrame) -> AllocationResult:
    e = pd.DataFrame()
    return AllocationResult(e, unapplied, e, e, e, line_allocated)


def plain_pandas(lines, line_allocated, as_of, policy):
    """The obvious pandas version: filter, merge, pd.cut, groupby + unstack."""
    df = lines[(lines["kind"] == "invoice") & (lines["invoice_date"] <= as_of)]
    df = df.merge(line_allocated[["line_code", "allocated"]], on="line_code", how="left")
    df["allocated"] = df["allocated"].fillna(0).astype("int64")
    df["open"] = df["amount"] - df["allocated"]
    df["days_past_due"] = (as_of - df["due_date"]).dt.days
    bins = [-np.inf, 0, *policy.bucket_edges, np.inf]
    df["bucket"] = pd.cut(df["days_past_due"], bins=bins, labels=policy.bucket_labels)
    aging = df
    open_lines = aging[aging["open"] != 0]
    roll = open_lines.groupby(["customer_id", "currency", "bucket"], observed=True)["open"].sum() \
        .unstack("bucket", fill_value=0)
    roll["open"] = roll.sum(axis=1)
    return aging, roll


def best(fn, repeat):
    times, result = [], None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    policy = Policy()
    t0 = time.perf_counter()
    lines, la = make_data(args.lines)
    unapplied = pd.DataFrame({"payment_id": pd.array(["P1", "P2"], dtype="string"),
                              "payment_date": pd.to_datetime(["2024-06-01", "2024-06-02"]),
                              "customer_id": pd.array(["C1", "C2"], dtype="string"),
                              "currency": pd.array(["USD", "EUR"], dtype="string"),
                              "amount": np.array([500, 700], dtype=np.int64)})
    print(f"data: {len(lines):,} invoice lines (2% credit notes), {lines['customer_id'].nunique():,} customers, "
          f"built in {time.perf_counter() - t0:.1f}s; pandas {pd.__version__}, numpy {np.__version__}, "
          f"best of {args.repeat}")

    cases = [("line_allocated in invoices-table order (no join)", la),
             ("line_allocated shuffled (join on line_code)", la.sample(frac=1, random_state=1).reset_index(drop=True))]
    try:  # the order billing.allocation really returns (FIFO rank): same figures, its row order
        from billing.allocation import allocate
        from billing.model import empty_table
        t1 = time.perf_counter()
        real = allocate(lines, empty_table("payments"), AS_OF, policy).line_allocated["line_code"]
        pos = pd.Index(la["line_code"]).get_indexer(real)
        cases.append(("line_allocated in billing.allocation's order (invoice_no, line_no)",
                      la.iloc[pos].reset_index(drop=True)))
        print(f"(billing.allocation.allocate on these lines, no payments: {time.perf_counter() - t1:.1f}s incl. setup)")
    except ImportError:
        pass
    for case, line_allocated in cases:
        alloc = alloc_of(line_allocated, unapplied)
        t_age, aging = best(lambda: line_aging(lines, alloc, AS_OF, policy), args.repeat)
        t_roll, roll = best(lambda: rollup(aging, ["customer_id", "currency"], unapplied, policy), args.repeat)
        t_plain, (p_aging, p_roll) = best(lambda: plain_pandas(lines, line_allocated, AS_OF, policy), args.repeat)

        # same figures both ways
        ours = aging.groupby("bucket", observed=False)["open"].sum()
        theirs = p_aging.groupby("bucket", observed=False)["open"].sum()
        assert ours.tolist() == theirs.tolist(), (ours, theirs)
        assert roll["open"].sum() == p_roll["open"].sum() == aging["open"].sum()

        ours_total = t_age + t_roll
        print(f"\n[{case}]  {len(aging):,} aged lines, {len(roll):,} customer rows")
        print(f"  line_aging            {t_age:8.4f} s   (target <= 0.040 s)")
        print(f"  rollup per customer   {t_roll:8.4f} s")
        print(f"  ours total            {ours_total:8.4f} s")
        print(f"  plain pandas total    {t_plain:8.4f} s   (merge + pd.cut + groupby/unstack)")
        print(f"  ratio plain / ours    {t_plain / ours_total:8.1f}x")


if __name__ == "__main__":
    main()
