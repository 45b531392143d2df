"""Benchmark of the engine (SPEC §12): timings and ratios measured side by side in one run.

    cd /work/main && .venv/bin/python bench/bench_engine.py [--section allocation] [--lines 1000000]
        [--payments 300000] [--repeat 5] [--duck-repeat 2]

Sections are functions `bench_<name>(args)` registered in SECTIONS; each prints its own block.
Timings are best-of-N wall clock on a machine shared with other work: the load
average is printed with the data.

allocation: `billing.allocation.allocate` against a DuckDB SQL version of the
  same rules (window functions: running sums of open amounts and of payment
  demands per queue, ASOF joins + `range` to join the payment intervals to the
  line intervals they overlap). The plain-Python oracle is the test suite's
  (tests/billing/reference_allocation.py); a benchmark does not depend on it.
  Data: ~1M invoice lines (~200k invoices, ~50k customers, Zipf-skewed
  invoices per customer, lognormal lines per invoice, 3 currencies, ~2 %
  credit notes, a few negative lines), 300k payments (line-referenced,
  invoice-referenced, unreferenced, typo'd references, a few in the wrong
  currency or after as_of), 0.5 % of lines in open dispute. Deterministic
  seed, cached as parquet under bench/.cache/. Before timing, the two
  implementations are checked to give identical allocations and unapplied
  amounts on a 20k-line sample.
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from billing.allocation import allocate  # noqa: E402
from billing.linecode import make_codes  # noqa: E402
from billing.model import empty_table  # noqa: E402
from billing.policy import Policy  # noqa: E402

CACHE = ROOT / "bench" / ".cache"
AS_OF = pd.Timestamp("2025-12-31")
START = pd.Timestamp("2024-01-01")
SEED = 20240601


# --------------------------------------------------------------------------- data

def _strings(values) -> pd.Series:
    return pd.Series(values, dtype="string")


def _frame(table: str, cols: dict) -> pd.DataFrame:
    """A frame with the canonical columns and dtypes of `table` (as billing.ingest makes them)."""
    base = empty_table(table)
    n = len(next(iter(cols.values())))
    out = {}
    for col in base.columns:
        dtype = base[col].dtype
        if col in cols:
            out[col] = pd.Series(cols[col]).astype(dtype)
        elif str(dtype) == "bool":
            out[col] = np.zeros(n, dtype=bool)
        elif str(dtype) == "int64":
            out[col] = np.zeros(n, dtype=np.int64)
        elif str(dtype) == "float64":
            out[col] = np.full(n, np.nan)
        else:
            out[col] = pd.Series([pd.NA] * n if str(dtype) != "datetime64[ns]" else [pd.NaT] * n, dtype=dtype)
    return pd.DataFrame(out)


def generate(n_lines: int, n_payments: int, seed: int = SEED) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Invoices (lines), payments and disputes; all vectorised, deterministic for (sizes, seed)."""
    rng = np.random.default_rng(seed)
    n_invoices = max(n_lines // 5, 1)
    n_customers = max(n_lines // 20, 1)
    # invoices per customer: Zipf-like skew
    weights = 1.0 / np.arange(1, n_customers + 1) ** 0.9
    inv_cust = rng.choice(n_customers, size=n_invoices, p=weights / weights.sum())
    inv_cust[rng.permutation(n_invoices)[:n_customers]] = np.arange(n_customers)  # everyone has an invoice
    cust_cur = rng.choice(3, size=n_customers, p=[0.85, 0.10, 0.05])
    inv_cur = np.where(rng.random(n_invoices) < 0.005, rng.integers(0, 3, n_invoices), cust_cur[inv_cust])
    inv_day = np.sort(rng.integers(0, 730, n_invoices))               # numbered in date order
    terms = rng.choice([15, 30, 30, 45, 60], size=n_invoices)
    inv_is_cn = rng.random(n_invoices) < 0.02
    # lines per invoice: 1 + lognormal share of the rest; credit notes have one line
    share = rng.lognormal(0.0, 1.0, n_invoices)
    share[inv_is_cn] = 0
    n_lines_of = 1 + rng.multinomial(n_lines - n_invoices, share / share.sum())
    inv_of_line = np.repeat(np.arange(n_invoices), n_lines_of)
    line_no = np.arange(n_lines) - np.repeat(np.cumsum(n_lines_of) - n_lines_of, n_lines_of) + 1
    year = 2024 + (inv_day >= 366)
    numbers = pd.Series(np.char.add(np.char.add("INV-", year.astype(str)),
                                    np.char.add("-", np.char.zfill((np.arange(n_invoices) + 1).astype(str), 7))))
    numbers[inv_is_cn] = numbers[inv_is_cn].str.replace("INV-", "CN-", regex=False)
    # credit notes apply to a random invoice of the same customer (or none)
    by_cust = np.argsort(inv_cust, kind="stable")
    first = np.searchsorted(inv_cust[by_cust], inv_cust, side="left")
    last = np.searchsorted(inv_cust[by_cust], inv_cust, side="right")
    target = by_cust[first + (rng.random(n_invoices) * (last - first)).astype(np.int64)]
    applies = np.where(inv_is_cn & ~inv_is_cn[target] & (rng.random(n_invoices) < 0.9), target, -1)

    amount = np.round(rng.lognormal(9.5, 1.1, n_lines)).astype(np.int64) + 1      # cents, median ~130.00
    li_cn = inv_is_cn[inv_of_line]
    amount = np.where(li_cn, -(amount // 4 + 1), amount)
    odd = (~li_cn) & (rng.random(n_lines) < 0.001)
    amount = np.where(odd, -amount, amount)                                     # negative invoice lines
    currencies = np.array(["USD", "EUR", "GBP"])
    inv_date = (START + pd.to_timedelta(inv_day, unit="D")).to_numpy()
    invoice_no = _strings(numbers.to_numpy()[inv_of_line])
    line_code = make_codes(invoice_no, pd.Series(line_no))
    lines = _frame("invoices", {
        "invoice_no": invoice_no,
        "customer_id": _strings(np.char.add("C", np.char.zfill(inv_cust.astype(str), 6))[inv_of_line]),
        "invoice_date": inv_date[inv_of_line],
        "line_no": line_no.astype(np.int64),
        "line_code": line_code,
        "due_date": (inv_date + terms.astype("timedelta64[D]"))[inv_of_line],
        "amount": amount,
        "currency": _strings(currencies[inv_cur[inv_of_line]]),
        "kind": _strings(np.where(li_cn, "credit_note", "invoice")),
        "applies_to": _strings(np.where(applies >= 0, numbers.to_numpy()[np.maximum(applies, 0)], None)[inv_of_line]),
    })
    lines["line_code_original"] = lines["line_code"]
    lines["_sheet"] = _strings(["invoices"] * n_lines)
    lines["_row"] = np.arange(2, n_lines + 2, dtype=np.int64)

    # payments: each starts from a random invoice line (so big customers pay more often)
    inv_lines = np.flatnonzero(~li_cn)
    base = inv_lines[rng.integers(0, len(inv_lines), n_payments)]
    kind = rng.choice(5, size=n_payments, p=[0.33, 0.27, 0.30, 0.05, 0.05])  # line, invoice, none, typo, two codes
    inv_total = np.bincount(inv_of_line, weights=np.maximum(amount, 0), minlength=n_invoices).astype(np.int64)
    factor = rng.choice([1.0, 1.0, 1.0, 0.5, 1.25], size=n_payments)
    p_amount = np.where(kind == 1, inv_total[inv_of_line[base]], amount[base])
    p_amount = np.where(kind == 2, np.round(rng.lognormal(10.5, 1.2, n_payments)), p_amount * factor)
    p_amount = np.maximum(np.round(p_amount), 0).astype(np.int64)
    delay = rng.integers(0, 150, n_payments)
    p_date = inv_date[inv_of_line[base]] + delay.astype("timedelta64[D]")
    codes = line_code.to_numpy(dtype=object)
    code_of = pd.Series(codes[base])
    no_of = invoice_no.take(base).reset_index(drop=True)
    style = rng.integers(0, 10, n_payments)
    in_col = style < 5
    ref = pd.Series(pd.NA, index=range(n_payments), dtype="object")
    line_col = pd.Series(pd.NA, index=range(n_payments), dtype="object")
    inv_col = pd.Series(pd.NA, index=range(n_payments), dtype="object")
    # line references: the line_code cell, or in the text (sometimes lower-case, without separators)
    m = (kind == 0) & in_col
    line_col[m] = code_of[m]
    m = (kind == 0) & ~in_col
    text_code = code_of.where(style != 9, code_of.str.replace("-", "", regex=False).str.lower())
    ref[m] = ("Payment " + text_code[m] + " thank you").to_numpy()
    # invoice references
    m = (kind == 1) & in_col
    inv_col[m] = no_of[m]
    m = (kind == 1) & ~in_col
    bare = no_of[m].str.replace("-", "", regex=False)  # banks often drop the separators
    ref[m] = ("Invoice " + no_of[m].where(style[m] != 9, bare)).to_numpy()
    # unreferenced: junk or nothing
    m = (kind == 2) & (style < 3)
    ref[m] = "transfer"
    # typo'd code: last character changed (bad check) -> reported, then FIFO
    m = kind == 3
    typo = code_of[m].str.slice(0, -1) + np.where(code_of[m].str.slice(-1) == "Z", "Y", "Z")
    ref[m] = ("re " + typo).to_numpy()
    # two codes of the customer's invoice in one remittance text
    m = np.flatnonzero(kind == 4)
    other = np.minimum(base[m] + 1, n_lines - 1)
    other = np.where(inv_of_line[other] == inv_of_line[base[m]], other, base[m])
    ref[m] = (pd.Series(codes[other]) + ", " + pd.Series(codes[base[m]])).to_numpy()
    p_amount[m] = amount[base[m]] + np.maximum(amount[other], 0)

    p_cur = inv_cur[inv_of_line[base]]
    p_cur = np.where(rng.random(n_payments) < 0.003, (p_cur + 1) % 3, p_cur)
    pid = np.char.add("PAY-", np.char.zfill(rng.permutation(n_payments).astype(str), 7))
    payments = _frame("payments", {
        "payment_id": _strings(pid),
        "customer_id": lines["customer_id"].take(base).reset_index(drop=True),
        "payment_date": p_date,
        "amount": p_amount,
        "currency": _strings(currencies[p_cur]),
        "method": _strings(["bank"] * n_payments),
        "reference": _strings(ref.to_numpy()),
        "invoice_no": _strings(inv_col.to_numpy()),
        "line_code": _strings(line_col.to_numpy()),
    })
    payments["_sheet"] = _strings(["payments"] * n_payments)
    payments["_row"] = np.arange(2, n_payments + 2, dtype=np.int64)
    # shuffle payments (ids, dates and rows in no particular order)
    payments = payments.take(rng.permutation(n_payments)).reset_index(drop=True)

    disputed = rng.choice(inv_lines, size=max(len(inv_lines) // 200, 1), replace=False)
    disputes = pd.DataFrame({"line_code": line_code.take(np.sort(disputed)).reset_index(drop=True),
                             "status": _strings(["open"] * len(disputed))})
    return lines, payments, disputes


def load(n_lines: int, n_payments: int, seed: int = SEED) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """`generate(...)`, cached as parquet under bench/.cache/ (gitignored)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    ignore = CACHE / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    stem = CACHE / f"alloc_{n_lines}_{n_payments}_{seed}"
    paths = [Path(f"{stem}_{name}.parquet") for name in ("lines", "payments", "disputes")]
    if all(p.exists() for p in paths):
        frames = [pd.read_parquet(p) for p in paths]
        ref = [empty_table("invoices"), empty_table("payments")]
        for frame, base in zip(frames[:2], ref):   # parquet round trip: make the dtypes canonical again
            for col in base.columns:
                frame[col] = frame[col].astype(base[col].dtype)
        frames[2] = frames[2].astype("string")
        return frames[0], frames[1], frames[2]
    t = time.perf_counter()
    frames = generate(n_lines, n_payments, seed)
    for frame, path in zip(frames, paths):
        frame.to_parquet(path, index=False)
    print(f"  generated {n_lines:,} lines / {n_payments:,} payments in {time.perf_counter() - t:.1f} s "
          f"(cached in {CACHE.relative_to(ROOT)})")
    return frames


# --------------------------------------------------------------------------- DuckDB version of SPEC §4

def _canon_sql(expr: str) -> str:
    return f"upper(regexp_replace({expr}, '[^0-9A-Za-z]', '', 'g'))"


def duckdb_allocate(con, lines: pd.DataFrame, payments: pd.DataFrame, as_of: pd.Timestamp,
                    disputes: pd.DataFrame | None, default_currency: str = "USD") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same rules in SQL. Returns (allocations [payment_id, line_code, amount, step] in output order,
    unapplied [payment_id, amount] in payment order). Reference issues and suggestions are not computed
    (they do not change where money goes); canonical forms assume ASCII (no NFKC in DuckDB)."""
    con.register("lines_in", lines[["line_code", "invoice_no", "line_no", "customer_id", "currency", "invoice_date",
                                    "due_date", "amount", "kind", "applies_to"]])
    con.register("payments_in", payments[["payment_id", "customer_id", "payment_date", "amount", "currency",
                                           "reference", "invoice_no", "line_code"]])
    d = disputes if disputes is not None else pd.DataFrame({"line_code": pd.Series(dtype="string"),
                                                           "status": pd.Series(dtype="string")})
    con.register("disputes_in", d[["line_code", "status"]])
    duckdb_allocate_tables(con, as_of, default_currency)
    sql = con.execute
    allocations = sql("""
    SELECT p.payment_id, l.line_code, a.amount, ['line', 'invoice', 'fifo'][a.step + 1] AS step
    FROM alloc a JOIN p USING (ord) JOIN l USING (li)
    WHERE a.amount > 0
    ORDER BY a.ord, a.step, a.rk, a.slot""").df()
    unapplied = sql("""SELECT p.payment_id, pr.rem AS amount FROM pr JOIN p USING (ord)
                       WHERE pr.rem > 0 ORDER BY pr.ord""").df()
    return allocations, unapplied


def duckdb_allocate_tables(con, as_of: pd.Timestamp, default_currency: str = "USD") -> None:
    """The allocation rules in SQL over the relations lines_in, payments_in and disputes_in.

    Leaves, among others, the temp tables l (lines, `li` their key), p (effective payments,
    `ord` their key), alloc (ord, step, rk, slot, li, amount) and pr (ord, rem: unapplied).
    """
    asof = f"TIMESTAMP '{as_of.isoformat()}'"
    dc = f"'{default_currency}'"
    sql = con.execute

    sql(f"""
    CREATE OR REPLACE TEMP TABLE l AS
    SELECT (row_number() OVER () - 1)::BIGINT AS li, line_code, invoice_no, line_no, customer_id,
           coalesce(currency, {dc}) AS currency, invoice_date, due_date, amount, applies_to,
           coalesce(kind = 'credit_note' OR (kind IS NULL AND amount < 0), false) AS is_cn,
           coalesce(invoice_date <= {asof}, false) AS dated,
           {_canon_sql('line_code')} AS canon, {_canon_sql('invoice_no')} AS inv_canon
    FROM lines_in""")
    sql(f"""
    CREATE OR REPLACE TEMP TABLE p AS
    WITH ep AS (
        SELECT payment_id, payment_date, customer_id, coalesce(currency, {dc}) AS currency, amount, 0 AS src,
               invoice_no, line_code, reference
        FROM payments_in WHERE payment_date <= {asof}
        UNION ALL
        SELECT line_code, invoice_date, customer_id, currency, abs(amount), 1, applies_to, NULL, NULL
        FROM l WHERE is_cn AND dated)
    SELECT (row_number() OVER (ORDER BY payment_date, payment_id, src) - 1)::BIGINT AS ord, payment_id,
           customer_id, currency, greatest(amount, 0)::BIGINT AS rem, invoice_no, line_code, reference
    FROM ep""")
    # reference values: line_code cell (0), invoice_no cell (1), text tokens (2..)
    sql(f"""
    CREATE OR REPLACE TEMP TABLE v AS
    SELECT ord, pos, {_canon_sql('raw')} AS canon FROM (
        SELECT ord, 0 AS pos, trim(line_code) AS raw FROM p WHERE trim(line_code) <> ''
        UNION ALL SELECT ord, 1, trim(invoice_no) FROM p WHERE trim(invoice_no) <> ''
        UNION ALL SELECT ord, 1 + generate_subscripts(t, 1), unnest(t) FROM (
            SELECT ord, regexp_extract_all(reference, '[0-9A-Za-z/\\-]+') AS t FROM p WHERE reference IS NOT NULL))
    WHERE {_canon_sql('raw')} <> ''""")
    sql("""
    CREATE OR REPLACE TEMP TABLE vm AS
    WITH lc AS (SELECT customer_id, canon, count(*) AS n, min(li) AS li FROM l
                WHERE customer_id IS NOT NULL AND canon <> '' GROUP BY ALL),
         ic AS (SELECT customer_id, inv_canon AS canon, count(DISTINCT invoice_no) AS n, min(invoice_no) AS invoice_no
                FROM l WHERE customer_id IS NOT NULL AND invoice_no IS NOT NULL GROUP BY ALL)
    SELECT v.ord, v.pos, p.customer_id, lc.n AS nl, lc.li, ic.n AS ni, ic.invoice_no
    FROM v JOIN p USING (ord)
    LEFT JOIN lc ON lc.customer_id = p.customer_id AND lc.canon = v.canon
    LEFT JOIN ic ON ic.customer_id = p.customer_id AND ic.canon = v.canon""")
    sql("""
    CREATE OR REPLACE TEMP TABLE lr AS
    SELECT ord, li, min(pos) AS pos FROM vm WHERE nl = 1 GROUP BY ord, li""")
    sql("""
    CREATE OR REPLACE TEMP TABLE ir AS
    SELECT ord, customer_id, invoice_no, min(cls * 1000000000 + pos) AS k FROM (
        SELECT ord, customer_id, invoice_no, 0 AS cls, pos FROM vm WHERE nl IS NULL AND ni = 1
        UNION ALL
        SELECT lr.ord, l.customer_id, l.invoice_no, 1, lr.pos FROM lr JOIN l USING (li) WHERE l.invoice_no IS NOT NULL)
    GROUP BY ALL""")
    # state: open per payable line, remaining per payment
    sql("""
    CREATE OR REPLACE TEMP TABLE lo AS
    SELECT li, amount AS open FROM l
    WHERE NOT is_cn AND dated AND amount > 0 AND customer_id IS NOT NULL""")
    sql("CREATE OR REPLACE TEMP TABLE pr AS SELECT ord, rem FROM p")
    sql("""CREATE OR REPLACE TEMP TABLE alloc
           (ord BIGINT, step INTEGER, rk BIGINT, slot BIGINT, li BIGINT, amount BIGINT)""")

    def fixed_point(table: str, queue: str) -> None:
        """Requests `table`(ord, rk, rem0, total, <queue cols>, taken): iterate the demands to the fixed point."""
        while True:
            sql(f"""
            CREATE OR REPLACE TEMP TABLE {table}_n AS
            WITH d AS (
                SELECT *, greatest(rem0 - coalesce(sum(taken) OVER (PARTITION BY ord ORDER BY rk
                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0), 0) AS demand
                FROM {table}),
            c AS (SELECT *, sum(demand) OVER (PARTITION BY {queue} ORDER BY ord ROWS UNBOUNDED PRECEDING) AS cum
                  FROM d)
            SELECT * EXCLUDE (taken, demand, cum, s, e), least(cum - demand, total)::BIGINT AS s,
                   least(cum, total)::BIGINT AS e, (least(cum, total) - least(cum - demand, total))::BIGINT AS taken
            FROM c""")
            changed = sql(f"""SELECT count(*) FROM {table} a JOIN {table}_n b USING (ord, rk)
                              WHERE a.taken <> b.taken""").fetchone()[0]
            sql(f"DROP TABLE {table}")
            sql(f"ALTER TABLE {table}_n RENAME TO {table}")
            multi = sql(f"SELECT count(*) FROM {table} WHERE rk > 1").fetchone()[0]
            if not changed or not multi:
                break

    def settle() -> None:
        sql("""CREATE OR REPLACE TEMP TABLE lo AS
               SELECT lo.li, lo.open - coalesce(t.amount, 0) AS open FROM lo
               LEFT JOIN (SELECT li, sum(amount) AS amount FROM alloc_step GROUP BY li) t USING (li)""")
        sql("""CREATE OR REPLACE TEMP TABLE pr AS
               SELECT pr.ord, pr.rem - coalesce(t.amount, 0) AS rem FROM pr
               LEFT JOIN (SELECT ord, sum(amount) AS amount FROM alloc_step GROUP BY ord) t USING (ord)""")
        sql("INSERT INTO alloc SELECT * FROM alloc_step")

    # step 1: each named line is a queue of one
    sql("""
    CREATE OR REPLACE TEMP TABLE r1 AS
    SELECT lr.ord, row_number() OVER (PARTITION BY lr.ord ORDER BY lr.pos) AS rk, lr.li, lo.open AS total,
           pr.rem AS rem0, 0::BIGINT AS taken, 0::BIGINT AS s, 0::BIGINT AS e
    FROM lr JOIN l USING (li) JOIN lo USING (li) JOIN p USING (ord) JOIN pr USING (ord)
    WHERE l.currency = p.currency""")
    fixed_point("r1", "li")
    sql("""CREATE OR REPLACE TEMP TABLE alloc_step AS
           SELECT ord, 0 AS step, rk, 0::BIGINT AS slot, li, taken AS amount FROM r1 WHERE taken > 0""")
    settle()

    # step 2: queue = (customer, invoice_no, currency), lines in (line_no, line_code) order
    sql("""
    CREATE OR REPLACE TEMP TABLE s2 AS
    SELECT l.li, l.customer_id, l.invoice_no, l.currency, lo.open,
           sum(lo.open) OVER (PARTITION BY l.customer_id, l.invoice_no, l.currency ORDER BY l.line_no, l.line_code
                              ROWS UNBOUNDED PRECEDING) AS cend,
           row_number() OVER (PARTITION BY l.customer_id, l.invoice_no, l.currency ORDER BY l.line_no, l.line_code)
               AS slot
    FROM l JOIN lo USING (li)
    WHERE lo.open > 0 AND EXISTS (SELECT 1 FROM ir WHERE ir.customer_id = l.customer_id
                                  AND ir.invoice_no = l.invoice_no)""")
    sql("""
    CREATE OR REPLACE TEMP TABLE r2 AS
    WITH qt AS (SELECT customer_id, invoice_no, currency, sum(open) AS total FROM s2 GROUP BY ALL)
    SELECT ir.ord, row_number() OVER (PARTITION BY ir.ord ORDER BY ir.k) AS rk, ir.customer_id, ir.invoice_no,
           p.currency, qt.total, pr.rem AS rem0, 0::BIGINT AS taken, 0::BIGINT AS s, 0::BIGINT AS e
    FROM ir JOIN p USING (ord) JOIN pr USING (ord)
    JOIN qt ON qt.customer_id = ir.customer_id AND qt.invoice_no = ir.invoice_no AND qt.currency = p.currency""")
    fixed_point("r2", "customer_id, invoice_no, currency")
    sql("""
    CREATE OR REPLACE TEMP TABLE alloc_step AS
    SELECT r.ord, 1 AS step, r.rk, s.slot, s.li,
           (least(r.e, s.cend) - greatest(r.s, s.cend - s.open))::BIGINT AS amount
    FROM r2 r JOIN s2 s ON s.customer_id = r.customer_id AND s.invoice_no = r.invoice_no AND s.currency = r.currency
                      AND s.cend > r.s AND s.cend - s.open < r.e
    WHERE r.taken > 0""")
    settle()

    # step 3: FIFO per (customer, currency), disputed lines skipped
    sql("""
    CREATE OR REPLACE TEMP TABLE s3 AS
    SELECT l.li, l.customer_id, l.currency, lo.open,
           sum(lo.open) OVER w AS cend, row_number() OVER w AS slot
    FROM l JOIN lo USING (li)
    WHERE lo.open > 0 AND l.line_code NOT IN (
        SELECT line_code FROM disputes_in WHERE status IN ('open', 'in_review', 'escalated')
        AND line_code IS NOT NULL)
    WINDOW w AS (PARTITION BY l.customer_id, l.currency
                 ORDER BY l.due_date NULLS LAST, l.invoice_date, l.invoice_no, l.line_no, l.line_code
                 ROWS UNBOUNDED PRECEDING)""")
    sql("""
    CREATE OR REPLACE TEMP TABLE r3 AS
    WITH qt AS (SELECT customer_id, currency, sum(open) AS total FROM s3 GROUP BY ALL),
    r AS (SELECT pr.ord, p.customer_id, p.currency, pr.rem, qt.total,
                 sum(pr.rem) OVER (PARTITION BY p.customer_id, p.currency ORDER BY pr.ord
                                   ROWS UNBOUNDED PRECEDING) AS cum
          FROM pr JOIN p USING (ord) JOIN qt ON qt.customer_id = p.customer_id AND qt.currency = p.currency
          WHERE pr.rem > 0)
    SELECT ord, customer_id, currency, least(cum - rem, total) AS s, least(cum, total) AS e FROM r
    WHERE least(cum, total) > least(cum - rem, total)""")
    # first slot: the first whose end is > s; last slot: the first whose end is >= e (ASOF joins)
    sql("""
    CREATE OR REPLACE TEMP TABLE alloc_step AS
    WITH a AS (
        SELECT r.*, f.slot AS first_slot FROM r3 r ASOF JOIN s3 f
        ON f.customer_id = r.customer_id AND f.currency = r.currency AND f.cend > r.s),
    b AS (
        SELECT a.*, t.slot AS last_slot FROM a ASOF JOIN s3 t
        ON t.customer_id = a.customer_id AND t.currency = a.currency AND t.cend >= a.e),
    x AS (SELECT ord, customer_id, currency, s, e, unnest(range(first_slot, last_slot + 1)) AS slot FROM b)
    SELECT x.ord, 2 AS step, 0::BIGINT AS rk, x.slot, s3.li,
           (least(x.e, s3.cend) - greatest(x.s, s3.cend - s3.open))::BIGINT AS amount
    FROM x JOIN s3 ON s3.customer_id = x.customer_id AND s3.currency = x.currency AND s3.slot = x.slot""")
    settle()


# --------------------------------------------------------------------------- helpers

def best_of(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def _engine_rows(r) -> tuple[list, dict]:
    a = r.allocations
    rows = list(zip(a["payment_id"], a["line_code"], a["amount"].tolist(), a["step"]))
    return rows, dict(zip(r.unapplied["payment_id"], r.unapplied["amount"].tolist()))


def _duck_rows(allocations: pd.DataFrame, unapplied: pd.DataFrame) -> tuple[list, dict]:
    rows = list(zip(allocations["payment_id"], allocations["line_code"], allocations["amount"].astype("int64").tolist(),
                    allocations["step"]))
    return rows, dict(zip(unapplied["payment_id"], unapplied["amount"].astype("int64").tolist()))


def _check(name: str, ours: tuple[list, dict], theirs: tuple[list, dict]) -> None:
    same = ours == theirs
    print(f"  check engine == {name}: {'OK' if same else 'DIFFERENT'} "
          f"({len(ours[0]):,} allocation rows, {len(ours[1]):,} unapplied)")
    if not same:
        for i, (a, b) in enumerate(zip(ours[0], theirs[0])):
            if a != b:
                print(f"    first difference at row {i}: engine {a} vs {name} {b}")
                break
        raise SystemExit(f"engine and {name} disagree")


# --------------------------------------------------------------------------- sections

def bench_allocation(args) -> dict:
    import duckdb

    policy = Policy()
    print("== allocation (SPEC §4) ==")
    # 1. the three implementations agree on a sample
    s_lines, s_pay, s_disp = load(args.sample_lines, max(args.sample_lines * 3 // 10, 1))
    ours = _engine_rows(allocate(s_lines, s_pay, AS_OF, policy, s_disp))
    con = duckdb.connect()
    _check(f"DuckDB SQL on the {len(s_lines):,}-line sample", ours,
           _duck_rows(*duckdb_allocate(con, s_lines, s_pay, AS_OF, s_disp)))

    # 2. timings on the full set
    lines, pay, disp = load(args.lines, args.payments)
    print(f"  data: {len(lines):,} lines, {lines['invoice_no'].nunique():,} invoices, "
          f"{lines['customer_id'].nunique():,} customers, {len(pay):,} payments, {len(disp):,} open disputes; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
    allocate(lines, pay, AS_OF, policy, disp)  # warm-up (first-touch page faults, Arrow kernels)
    t_ours, r = best_of(lambda: allocate(lines, pay, AS_OF, policy, disp), args.repeat)
    steps = r.allocations["step"].value_counts().to_dict()
    print(f"  engine, 2 threads:      {t_ours:7.3f} s  (best of {args.repeat}; {len(r.allocations):,} allocation rows "
          f"[{', '.join(f'{k} {v:,}' for k, v in sorted(steps.items()))}], {len(r.unapplied):,} unapplied, "
          f"{len(r.reference_issues):,} reference issues, {len(r.currency_mismatches):,} currency mismatches)")
    shuffled = lines.sample(frac=1.0, random_state=1)
    t_shuf, r_shuf = best_of(lambda: allocate(shuffled, pay, AS_OF, policy, disp), args.repeat)
    same = r_shuf.allocations.equals(r.allocations) and r_shuf.line_allocated.equals(r.line_allocated)
    print(f"  engine, 2 threads, invoice rows shuffled: {t_shuf:7.3f} s  (same output: {same})")
    runs = []

    def profiled():
        runs.append({})
        return allocate(lines, pay, AS_OF, policy, disp, threads=False, profile=runs[-1])

    t_one, _ = best_of(profiled, args.repeat)
    print(f"  engine, 1 thread:       {t_one:7.3f} s  (best of {args.repeat}); CPU seconds by section (min of runs):")
    for name in runs[0]:
        print(f"      {min(run[name] for run in runs):6.3f}  {name}")

    t_duck, duck = best_of(lambda: duckdb_allocate(con, lines, pay, AS_OF, disp), args.duck_repeat)
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    print(f"  DuckDB SQL, {threads} threads:  {t_duck:7.3f} s  (best of {args.duck_repeat})")
    _check("DuckDB SQL on the full set", _engine_rows(r), _duck_rows(*duck))
    con.execute("SET threads = 1")
    t_duck1, _ = best_of(lambda: duckdb_allocate(con, lines, pay, AS_OF, disp), args.duck_repeat)
    print(f"  DuckDB SQL, 1 thread:   {t_duck1:7.3f} s  (best of {args.duck_repeat})")

    print(f"  ratios: DuckDB / engine = {t_duck / t_ours:.1f}x (2 threads each), {t_duck1 / t_one:.1f}x (1 thread each)")
    return {"engine": t_ours, "engine_1thread": t_one, "duckdb": t_duck, "duckdb_1thread": t_duck1}


SECTIONS = {"allocation": bench_allocation}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--section", choices=sorted(SECTIONS), action="append")
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--payments", type=int, default=300_000)
    ap.add_argument("--sample-lines", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--duck-repeat", type=int, default=2)
    args = ap.parse_args()
    print(f"python {sys.version.split()[0]}, pandas {pd.__version__}, numpy {np.__version__}, "
          f"{os.cpu_count()} cpus")
    for name in args.section or list(SECTIONS):
        SECTIONS[name](args)


if __name__ == "__main__":
    main()
