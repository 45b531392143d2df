"""Benchmark: `cli.py report` on 1M lines read from CSV, whole process, vs a DuckDB SQL script.

    cd /work/main && .venv/bin/python bench/bench_report.py [--lines 1000000] [--payments 300000] [--repeat 3]
        [--skip-full]

Both sides start from the same two CSV files (invoices.csv, payments.csv: money as decimal
text in major units, ISO dates, the way a user exports them) and each runs as its own process
(interpreter start and imports included), timed from outside, peak RSS from wait4:
  * ours: `cli.py report <folder> --as-of D --format json --sections summary,customers,kpis`;
  * DuckDB: this file with `--duck-script`, i.e. what a data engineer would write:
    `read_csv(all_varchar=true)` + casts to typed tables, the allocation rules in SQL
    (`bench_engine.duckdb_allocate_tables`: named lines, then the invoice-reference step, then
    FIFO per customer and currency with running sums and interval overlap, window functions
    and ASOF joins, no Python per row), aging by bucket per currency and per customer,
    run again as of the period start for CEI, and the same KPIs; written as JSON.
Before the timings the DuckDB figures are checked equal to ours to the cent: per currency
open and every bucket, per (customer, currency) open and every bucket, and the KPIs'
total_open / overdue.

Also printed: the full report (every section, JSON) of ours — time and peak RSS against the
8 s / 1.5 GB goal — and the ingest alone (read CSV + normalise + codes, in process) against
1.5 s. Each figure is min / median of `--repeat` runs; the load average is printed before and
after (the machine is shared).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_engine import AS_OF, CACHE, duckdb_allocate_tables, load  # noqa: E402

SECTIONS = "summary,customers,kpis"
BUCKETS = ("current", "1-30", "31-60", "61-90", "91-120", "over_120")
PERIOD_DAYS = 90  # Policy().kpi_period_days


def write_csvs(n_lines: int, n_payments: int) -> Path:
    """The bench data as a user's CSV export (cached under bench/.cache/)."""
    from billing.money import format_minor_series

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


# --------------------------------------------------------------------------- the DuckDB script

READ_SQL = """
CREATE OR REPLACE TEMP TABLE lines_in AS
SELECT line_code, invoice_no, line_no::BIGINT AS line_no, customer_id,
       invoice_date::DATE::TIMESTAMP AS invoice_date, due_date::DATE::TIMESTAMP AS due_date,
       CAST(round(CAST(amount AS DECIMAL(18,2)) * 100) AS BIGINT) AS amount, currency, kind, applies_to
FROM read_csv('{folder}/invoices.csv', header=true, all_varchar=true);
CREATE OR REPLACE TEMP TABLE payments_in AS
SELECT payment_id, customer_id, payment_date::DATE::TIMESTAMP AS payment_date,
       CAST(round(CAST(amount AS DECIMAL(18,2)) * 100) AS BIGINT) AS amount,
       currency, reference, invoice_no, line_code
FROM read_csv('{folder}/payments.csv', header=true, all_varchar=true)
WHERE CAST(amount AS DECIMAL(18,2)) >= 0;  -- a negative payment is quarantined (ours does the same)
CREATE OR REPLACE TEMP TABLE disputes_in (line_code VARCHAR, status VARCHAR);
"""

# Per line: open as of the date after the allocation left in `alloc` / `l`; then buckets.
AGED_SQL = """
CREATE OR REPLACE TEMP TABLE aged_{name} AS
SELECT l.customer_id, l.currency, l.amount, l.due_date, l.amount - coalesce(a.allocated, 0) AS open,
       date_diff('day', l.due_date, TIMESTAMP '{as_of}') AS dpd
FROM l LEFT JOIN (SELECT li, sum(amount) AS allocated FROM alloc GROUP BY li) a USING (li)
WHERE NOT l.is_cn AND l.dated
"""

BUCKET_SQL = """
SELECT {by}, sum(open) AS open,
  sum(open) FILTER (WHERE dpd <= 0) AS b0,
  sum(open) FILTER (WHERE dpd BETWEEN 1 AND 30) AS b1,
  sum(open) FILTER (WHERE dpd BETWEEN 31 AND 60) AS b2,
  sum(open) FILTER (WHERE dpd BETWEEN 61 AND 90) AS b3,
  sum(open) FILTER (WHERE dpd BETWEEN 91 AND 120) AS b4,
  sum(open) FILTER (WHERE dpd > 120) AS b5
FROM aged_now GROUP BY {by} ORDER BY {by}
"""

KPI_SQL = """
WITH n AS (SELECT currency, sum(open) AS open, sum(open) FILTER (WHERE dpd <= 0) AS current
           FROM aged_now GROUP BY currency),
b AS (SELECT currency, sum(open) AS begin_open FROM aged_start GROUP BY currency),
s AS (SELECT currency, sum(amount) AS sales FROM lines_in
      WHERE coalesce(kind, 'invoice') = 'invoice' AND invoice_date > TIMESTAMP '{start}'
        AND invoice_date <= TIMESTAMP '{as_of}' GROUP BY currency)
SELECT n.currency, n.open AS total_open, n.open - n.current AS overdue,
       100.0 * (n.open - n.current) / n.open AS overdue_pct,
       n.open / s.sales * {days} AS dso_days, n.current / s.sales * {days} AS best_possible_dso_days,
       100.0 * (b.begin_open + s.sales - n.open) / (b.begin_open + s.sales - n.current) AS cei_pct
FROM n JOIN s USING (currency) JOIN b USING (currency) ORDER BY n.currency
"""


def duck_script(folder: Path, out: Path) -> None:
    """The DuckDB side, run as its own process (`--duck-script`): CSV in, JSON of the three sections out."""
    import duckdb
    import pandas as pd

    con = duckdb.connect()
    as_of = AS_OF
    start = as_of - pd.Timedelta(days=PERIOD_DAYS)
    con.execute(READ_SQL.format(folder=folder))
    duckdb_allocate_tables(con, as_of)
    con.execute(AGED_SQL.format(name="now", as_of=as_of))
    summary = con.sql(BUCKET_SQL.format(by="currency")).fetchall()
    customers = con.sql(BUCKET_SQL.format(by="customer_id, currency")).fetchall()
    duckdb_allocate_tables(con, start)
    con.execute(AGED_SQL.format(name="start", as_of=start))
    kpis = con.sql(KPI_SQL.format(start=start, as_of=as_of, days=PERIOD_DAYS)).fetchall()
    out.write_text(json.dumps({"summary": summary, "customers": customers, "kpis": kpis}))


# --------------------------------------------------------------------------- running and checking

def run(cmd: list[str]) -> tuple[float, float]:
    """Run `cmd` as a child process: (wall seconds, peak RSS in MB)."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):  # 1 = some cells quarantined: still a report
        raise SystemExit(f"{' '.join(cmd)} failed ({code}):\n{proc.stderr.read().decode()[-3000:]}")
    proc.stderr.close()
    return wall, usage.ru_maxrss / 1024


def timed(cmd: list[str], repeat: int) -> tuple[float, float, float]:
    """(min, median) wall seconds and max peak RSS (MB) over `repeat` runs."""
    runs = [run(cmd) for _ in range(repeat)]
    walls = [w for w, _ in runs]
    return min(walls), statistics.median(walls), max(r for _, r in runs)


def ours_cmd(folder: Path, out: Path, sections: str | None) -> list[str]:
    cmd = [sys.executable, str(ROOT / "cli.py"), "report", str(folder), "--as-of", f"{AS_OF:%Y-%m-%d}",
           "--format", "json", "--out", str(out)]
    return cmd + (["--sections", sections] if sections else [])


def cents(text: str | None) -> int:
    """"1234.50" -> 123450 (the bench data has 2-digit currencies only)."""
    if text is None:
        return 0
    sign = -1 if text.startswith("-") else 1
    whole, _, frac = text.lstrip("-").partition(".")
    return sign * (int(whole) * 100 + int((frac + "00")[:2]))


def check(ours_json: Path, duck_json: Path) -> str:
    """DuckDB's figures equal ours to the cent; returns a one-line summary (raises on a difference)."""
    mine, duck = json.loads(ours_json.read_text()), json.loads(duck_json.read_text())
    for cur, open_, *buckets in duck["summary"]:
        got = mine["summary"][cur]
        assert cents(got["open"]) == open_, f"{cur} open: ours {got['open']}, DuckDB {open_}"
        for b, v in zip(BUCKETS, buckets):
            assert cents(got["aging"][b]) == (v or 0), f"{cur} {b}: ours {got['aging'][b]}, DuckDB {v}"
    # Groups with something open (ours also lists customers that only have unapplied credit).
    ours_customers = {(c["customer_id"], c["currency"]): c for c in mine["customers"]
                      if any(cents(v) for v in (c["open"], *c["aging"].values()))}
    duck_customers = [row for row in duck["customers"] if any(row[2:])]
    assert len(ours_customers) == len(duck_customers), \
        f"{len(ours_customers)} customer rows with open amounts in ours, {len(duck_customers)} in DuckDB"
    for cust, cur, open_, *buckets in duck_customers:
        got = ours_customers[(cust, cur)]
        assert cents(got["open"]) == open_, f"{cust} {cur} open: ours {got['open']}, DuckDB {open_}"
        for b, v in zip(BUCKETS, buckets):
            assert cents(got["aging"][b]) == (v or 0), f"{cust} {cur} {b}: ours {got['aging'][b]}, DuckDB {v}"
    for cur, total_open, overdue, *_ in duck["kpis"]:
        k = mine["kpis"][cur]
        assert (cents(k["total_open"]), cents(k["overdue"])) == (total_open, overdue), f"{cur} KPIs differ"
    return (f"{len(duck['summary'])} currencies x (open + {len(BUCKETS)} buckets), {len(duck_customers):,} "
            f"customer rows x (open + buckets), KPI open/overdue: equal to the cent")


def ingest_times(folder: Path, repeat: int) -> list[float]:
    """connectors.load.load_dataset (read CSV + normalise + codes) in this process."""
    import gc

    from connectors.load import load_dataset

    times = []
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        load_dataset(folder)
        times.append(time.perf_counter() - t)
    return times


def load_line() -> str:
    return "load average " + " / ".join(f"{x:.1f}" for x in os.getloadavg()) + f" (1/5/15 min) on {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--payments", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-full", action="store_true", help="leave out the full-report run")
    parser.add_argument("--duck-script", nargs=2, metavar=("FOLDER", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.duck_script:
        duck_script(Path(args.duck_script[0]), Path(args.duck_script[1]))
        return

    folder = write_csvs(args.lines, args.payments)
    size = sum(p.stat().st_size for p in folder.glob("*.csv")) / 2**20
    print(f"{args.lines:,} lines / {args.payments:,} payments as CSV ({size:.0f} MB), as of {AS_OF.date()}")
    print(f"  before: {load_line()}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        ours_out, duck_out = tmp / "ours.json", tmp / "duck.json"
        duck = [sys.executable, str(Path(__file__).resolve()), "--duck-script", str(folder), str(duck_out)]
        run(ours_cmd(folder, ours_out, SECTIONS))
        run(duck)
        print(f"  check: {check(ours_out, duck_out)}")
        o_min, o_med, o_rss = timed(ours_cmd(folder, ours_out, SECTIONS), args.repeat)
        d_min, d_med, d_rss = timed(duck, args.repeat)
        print(f"  ours   `cli.py report --sections {SECTIONS}`: min {o_min:6.2f} s, median {o_med:6.2f} s, "
              f"peak RSS {o_rss:6.0f} MB")
        print(f"  DuckDB script (read_csv + SQL allocation x2 + aging + KPIs): min {d_min:6.2f} s, "
              f"median {d_med:6.2f} s, peak RSS {d_rss:6.0f} MB")
        print(f"  ratio ours / DuckDB: {o_min / d_min:.2f} (min), {o_med / d_med:.2f} (median)   goal <= 2")
        if not args.skip_full:
            f_min, f_med, f_rss = timed(ours_cmd(folder, tmp / "full.json", None), args.repeat)
            mb = (tmp / "full.json").stat().st_size / 2**20
            print(f"  ours   full report (every section, {mb:.0f} MB of JSON): min {f_min:6.2f} s, "
                  f"median {f_med:6.2f} s, peak RSS {f_rss:6.0f} MB   goal <= 8 s, <= 1536 MB")
    times = ingest_times(folder, args.repeat)
    print(f"  ours   ingest (read CSV + normalise + codes, in process): min {min(times):.2f} s, "
          f"median {statistics.median(times):.2f} s   goal <= 1.5 s")
    print(f"  after: {load_line()}")


if __name__ == "__main__":
    main()
