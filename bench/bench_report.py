"""Benchmark: `report --sections summary,customers,kpis` on 1M lines read from CSV, vs a DuckDB script.

    cd /work/main && .venv/bin/python bench/bench_report.py [--lines 1000000] [--payments 300000] [--repeat 2]

Both sides start from the same two CSV files (invoices.csv, payments.csv: money as
decimal text in major units, ISO dates, the way a user exports them) and produce
the same three sections:
  * ours: `connectors.load.load_dataset` (read + normalise), `billing.analysis.analyse`
    (allocation as of the date, aging, rollups, KPIs — which re-allocates as of the
    period start for CEI), `billing.report.build_report`, `json.dumps`;
  * DuckDB: `read_csv`, money to integer cents in SQL, the same allocation rules in SQL
    (`bench_engine.duckdb_allocate`, run twice: as of the date and as of the period
    start), then aging buckets per currency and per customer and DSO / best possible
    DSO / CEI / overdue % in SQL, fetched as rows.
Before timing, the DuckDB per-currency open totals and bucket sums are checked against ours.
Timings are best-of-N wall clock on a shared machine; the load average is printed.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_engine import AS_OF, CACHE, best_of, duckdb_allocate, load  # noqa: E402

from billing.analysis import analyse  # noqa: E402
from billing.money import format_minor_series  # noqa: E402
from billing.policy import Policy  # noqa: E402
from billing.report import build_report  # noqa: E402
from connectors.load import load_dataset  # noqa: E402

SECTIONS = ("summary", "customers", "kpis")


def write_csvs(n_lines: int, n_payments: int) -> Path:
    """The bench data as a user's CSV export (cached under bench/.cache/)."""
    folder = CACHE / f"report_csv_{n_lines}_{n_payments}"
    if (folder / "invoices.csv").exists() and (folder / "payments.csv").exists():
        return folder
    lines, payments, _ = load(n_lines, n_payments)
    folder.mkdir(parents=True, exist_ok=True)
    inv = lines[["invoice_no", "line_no", "line_code", "customer_id", "invoice_date", "due_date", "amount",
                 "currency", "kind", "applies_to"]].copy()
    inv["amount"] = format_minor_series(inv["amount"], inv["currency"])
    for col in ("invoice_date", "due_date"):
        inv[col] = inv[col].dt.strftime("%Y-%m-%d")
    inv.to_csv(folder / "invoices.csv", index=False)
    pay = payments[["payment_id", "customer_id", "payment_date", "amount", "currency", "reference",
                    "invoice_no", "line_code"]].copy()
    pay["amount"] = format_minor_series(pay["amount"], pay["currency"])
    pay["payment_date"] = pay["payment_date"].dt.strftime("%Y-%m-%d")
    pay.to_csv(folder / "payments.csv", index=False)
    return folder


def ours(folder: Path, as_of: pd.Timestamp) -> tuple[str, dict]:
    stages = {}
    t = time.perf_counter()
    data = load_dataset(folder)
    stages["read+normalise"] = time.perf_counter() - t
    t = time.perf_counter()
    analysis = analyse(data, as_of, Policy(), with_exceptions=False)
    stages["engine"] = time.perf_counter() - t
    t = time.perf_counter()
    text = json.dumps(build_report(data, analysis, SECTIONS))
    stages["report"] = time.perf_counter() - t
    return text, stages


READ_SQL = """
CREATE OR REPLACE TEMP TABLE inv AS
SELECT invoice_no, line_no::BIGINT AS line_no, line_code, customer_id, invoice_date::DATE AS invoice_date,
       due_date::DATE AS due_date, CAST(round(CAST(amount AS DECIMAL(18,2)) * 100) AS BIGINT) AS amount,
       currency, kind, applies_to
FROM read_csv('{folder}/invoices.csv', header=true, all_varchar=true);
CREATE OR REPLACE TEMP TABLE pay AS
SELECT payment_id, customer_id, payment_date::DATE AS payment_date,
       CAST(round(CAST(amount AS DECIMAL(18,2)) * 100) AS BIGINT) AS amount,
       currency, reference, invoice_no, line_code
FROM read_csv('{folder}/payments.csv', header=true, all_varchar=true);
"""

AGING_SQL = """
WITH alloc AS (SELECT line_code, sum(amount) AS allocated FROM {alloc} GROUP BY line_code),
aged AS (
  SELECT l.customer_id, l.currency, l.amount, l.due_date,
         l.amount - coalesce(a.allocated, 0) AS open,
         date_diff('day', l.due_date, DATE '{as_of}') AS dpd
  FROM inv l LEFT JOIN alloc a USING (line_code)
  WHERE coalesce(l.kind, 'invoice') = 'invoice' AND l.invoice_date <= DATE '{as_of}')
SELECT {by}, sum(open) AS open,
  sum(open) FILTER (WHERE dpd <= 0) AS current,
  sum(open) FILTER (WHERE dpd BETWEEN 1 AND 30) AS b1_30,
  sum(open) FILTER (WHERE dpd BETWEEN 31 AND 60) AS b31_60,
  sum(open) FILTER (WHERE dpd BETWEEN 61 AND 90) AS b61_90,
  sum(open) FILTER (WHERE dpd BETWEEN 91 AND 120) AS b91_120,
  sum(open) FILTER (WHERE dpd > 120) AS over_120,
  sum(amount) AS invoiced
FROM aged GROUP BY {by} ORDER BY {by}
"""

KPI_SQL = """
WITH now_ AS (SELECT currency, open, current FROM aging_now),
start_ AS (SELECT currency, open AS begin_open FROM aging_start),
sales AS (SELECT currency, sum(amount) AS sales FROM inv
          WHERE coalesce(kind, 'invoice') = 'invoice' AND invoice_date > DATE '{start}'
            AND invoice_date <= DATE '{as_of}' GROUP BY currency)
SELECT n.currency, n.open AS total_open, n.open - n.current AS overdue,
       100.0 * (n.open - n.current) / n.open AS overdue_pct,
       n.open / s.sales * {days} AS dso_days, n.current / s.sales * {days} AS best_possible_dso_days,
       100.0 * (b.begin_open + s.sales - n.open) / (b.begin_open + s.sales - n.current) AS cei_pct
FROM now_ n JOIN sales s USING (currency) JOIN start_ b USING (currency) ORDER BY n.currency
"""


def duck(con, folder: Path, as_of: pd.Timestamp, days: int) -> tuple[list, list, list]:
    start = as_of - pd.Timedelta(days=days)
    con.execute(READ_SQL.format(folder=folder))
    lines, payments = con.sql("SELECT * FROM inv").df(), con.sql("SELECT * FROM pay").df()
    for frame in (lines, payments):
        for col in frame.columns:
            if frame[col].dtype == object:
                frame[col] = frame[col].astype("string")
    for name, date in (("now", as_of), ("start", start)):
        allocations, unapplied = duckdb_allocate(con, lines, payments, date, None)
        con.register(f"alloc_{name}", allocations)
        con.register(f"unapplied_{name}", unapplied)
        con.execute(f"CREATE OR REPLACE TEMP TABLE aging_{name} AS " +
                    AGING_SQL.format(alloc=f"alloc_{name}", as_of=date.date(), by="currency"))
    summary = con.sql("SELECT * FROM aging_now").fetchall()
    customers = con.sql(AGING_SQL.format(alloc="alloc_now", as_of=as_of.date(),
                                         by="customer_id, currency")).fetchall()
    kpis = con.sql(KPI_SQL.format(start=start.date(), as_of=as_of.date(), days=days)).fetchall()
    return summary, customers, kpis


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--payments", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    import duckdb

    folder = write_csvs(args.lines, args.payments)
    size = sum(p.stat().st_size for p in folder.glob("*.csv")) / 2**20
    print(f"{args.lines:,} lines / {args.payments:,} payments as CSV ({size:.0f} MB), as of {AS_OF.date()}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    days = Policy().kpi_period_days

    text, stages = ours(folder, AS_OF)
    report = json.loads(text)
    con = duckdb.connect()
    summary, _, _ = duck(con, folder, AS_OF, days)
    for cur, open_, *_ in summary:
        mine = report["summary"][cur]["open"]
        assert mine == f"{open_ / 100:.2f}", f"{cur}: ours {mine} vs DuckDB {open_}"
    print(f"  check: DuckDB open per currency == ours for {len(summary)} currencies: OK")

    t_ours, (_, stages) = best_of(lambda: ours(folder, AS_OF), args.repeat)
    t_duck, _ = best_of(lambda: duck(con, folder, AS_OF, days), args.repeat)
    print(f"  ours   (read CSV + normalise + engine + JSON): {t_ours:7.2f} s  "
          + ", ".join(f"{k} {v:.2f} s" for k, v in stages.items()))
    print(f"  DuckDB (read CSV + SQL allocation x2 + aggregates): {t_duck:7.2f} s")
    print(f"  ratio ours / DuckDB = {t_ours / t_duck:.2f} (goal <= 2)")


if __name__ == "__main__":
    main()
