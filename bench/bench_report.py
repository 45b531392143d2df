"""Benchmark: `cli.py report` on 1M lines read from CSV, whole process, vs a DuckDB SQL script.

    cd /work/main && .venv/bin/python bench/bench_report.py [--lines 1000000] [--payments 300000] [--repeat 3]
        [--skip-full]

Both sides start from the same two CSV files (invoices.csv, payments.csv: money as decimal
text in major units, ISO dates, the way a user exports them) and each runs as its own process
(interpreter start and imports included), timed from outside; CPU seconds (user + sys) and
peak RSS from wait4, since wall-clock on this shared machine mostly measures the others' load:
  * ours: `cli.py report <folder> --as-of D --format json --sections summary,customers,kpis`;
  * DuckDB: this file with `--duck-script`, i.e. what a data engineer would write for those
    figures: `read_csv(all_varchar=true)` + casts, each payment's named invoice (line code or
    invoice number, in the cells or the reference text), then per as-of date the invoice step
    (what the payments naming an invoice bring, up to what it can take) and FIFO per customer
    and currency as interval overlap on a running sum (window functions), aging by bucket per
    currency and per customer, as of the period start too for CEI, and the KPIs; JSON out.
    It works on invoice totals (the report's sections need nothing finer) and refuses data
    where a payment names two invoices (then the payments' order would matter).
    `bench_engine.py` keeps the line-by-line SQL of every rule for the engine's own bench.
Before the timings the DuckDB figures are checked equal to ours: per currency open and every
bucket, per (customer, currency) open and every bucket, the KPIs' total_open, overdue,
credit_sales and unapplied to the cent, and overdue %, DSO, best DSO and CEI to the 0.01 ours
prints.

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
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_engine import AS_OF, CACHE, load  # noqa: E402

SECTIONS = "summary,customers,kpis"
BUCKETS = ("current", "1-30", "31-60", "61-90", "91-120", "over_120")
PERIOD_DAYS = 90  # Policy().kpi_period_days
MONEY_KPIS = ("total_open", "overdue", "credit_sales", "unapplied")
RATIO_KPIS = ("overdue_pct", "dso_days", "best_possible_dso_days", "cei_pct")


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

CANON = "upper(replace({}, '-', ''))"  # the data's codes and numbers hold letters, digits and '-'

READ_SQL = """
CREATE OR REPLACE TEMP TABLE li AS
SELECT customer_id, invoice_no, line_code, coalesce(currency, 'USD') AS currency,
       invoice_date::DATE AS invoice_date, due_date::DATE AS due_date,
       (amount::DECIMAL(18, 2) * 100)::BIGINT AS amount,
       coalesce(kind = 'credit_note' OR (kind IS NULL AND amount::DECIMAL(18, 2) < 0), false) AS is_cn, applies_to
FROM read_csv('{folder}/invoices.csv', header=true, all_varchar=true);
CREATE OR REPLACE TEMP TABLE pay AS
SELECT payment_id, customer_id, payment_date::DATE AS payment_date,
       (amount::DECIMAL(18, 2) * 100)::BIGINT AS amount, coalesce(currency, 'USD') AS currency,
       reference, invoice_no, line_code
FROM read_csv('{folder}/payments.csv', header=true, all_varchar=true)
WHERE amount::DECIMAL(18, 2) >= 0;  -- a negative payment is quarantined (ours does the same)
"""

# Invoices (every line of one shares customer, currency and dates in this data: the check below
# would fail otherwise), the payments that take part (credit notes pay the invoice they apply
# to), and the one invoice each payment names: by a line code (cell or text token) or an
# invoice number (cell or token) of its customer, compared upper-case without separators.
PREPARE_SQL = f"""
CREATE OR REPLACE TEMP TABLE inv AS
SELECT customer_id, invoice_no, currency, invoice_date, due_date, sum(amount) AS amount,
       sum(greatest(amount, 0)) AS payable
FROM li WHERE NOT is_cn GROUP BY ALL;
CREATE OR REPLACE TEMP TABLE ep AS
SELECT payment_id, customer_id, payment_date, currency, amount, invoice_no, line_code, reference FROM pay
UNION ALL
SELECT line_code, customer_id, invoice_date, currency, -amount, applies_to, NULL, NULL FROM li WHERE is_cn;
CREATE OR REPLACE TEMP TABLE ref AS
WITH tok AS (
    SELECT payment_id, customer_id, 0 AS pos, line_code AS raw FROM ep WHERE line_code IS NOT NULL
    UNION ALL SELECT payment_id, customer_id, 1, invoice_no FROM ep WHERE invoice_no IS NOT NULL
    UNION ALL SELECT payment_id, customer_id, 1 + generate_subscripts(t, 1), unnest(t) FROM (
        SELECT payment_id, customer_id, regexp_extract_all(reference, '[0-9A-Za-z/\\-]+') AS t FROM ep
        WHERE reference IS NOT NULL)),
named AS (
    SELECT customer_id, {CANON.format('line_code')} AS canon, invoice_no FROM li WHERE NOT is_cn
    UNION ALL SELECT DISTINCT customer_id, {CANON.format('invoice_no')}, invoice_no FROM inv)
SELECT payment_id, arg_min(invoice_no, pos) AS ref_invoice, count(DISTINCT invoice_no) AS invoices_named
FROM (SELECT payment_id, customer_id, pos, {CANON.format('raw')} AS canon FROM tok)
JOIN named USING (customer_id, canon)
GROUP BY payment_id;
"""

# As of {d}: the invoice step takes from each invoice what the payments naming it bring (up to
# what its lines can take); the rest of each (customer, currency)'s money fills its open
# invoices oldest due first: an invoice's FIFO share is the overlap of its interval
# [cend - left, cend) on the running sum of what is left open with [0, money). With one named
# invoice per payment (checked), these totals are those of the line-by-line rules of SPEC §4.
AGED_SQL = """
CREATE OR REPLACE TEMP TABLE p_{name} AS
SELECT ep.customer_id, ep.currency, ep.amount, ref.ref_invoice FROM ep LEFT JOIN ref USING (payment_id)
WHERE ep.payment_date <= DATE '{d}';
CREATE OR REPLACE TEMP TABLE q_{name} AS
WITH named AS (SELECT customer_id, ref_invoice AS invoice_no, currency, sum(amount) AS paid FROM p_{name}
               WHERE ref_invoice IS NOT NULL GROUP BY ALL),
step2 AS (SELECT i.*, least(coalesce(n.paid, 0), i.payable) AS taken FROM inv i
          LEFT JOIN named n USING (customer_id, invoice_no, currency) WHERE i.invoice_date <= DATE '{d}')
SELECT *, payable - taken AS left_open,
       sum(payable - taken) OVER (PARTITION BY customer_id, currency ORDER BY due_date, invoice_date, invoice_no
                                  ROWS UNBOUNDED PRECEDING) AS cend,
       sum(taken) OVER (PARTITION BY customer_id, currency) AS taken_by_name
FROM step2;
CREATE OR REPLACE TEMP TABLE paid_{name} AS
SELECT customer_id, currency, sum(amount) AS paid FROM p_{name} GROUP BY ALL;
CREATE OR REPLACE TEMP TABLE unapplied_{name} AS  -- what the payments bring beyond what the lines can take
SELECT customer_id, currency, greatest(d.paid - coalesce(q.payable, 0), 0) AS unapplied FROM paid_{name} d
LEFT JOIN (SELECT customer_id, currency, sum(payable) AS payable FROM q_{name} GROUP BY ALL) q
USING (customer_id, currency);
CREATE OR REPLACE TEMP TABLE aged_{name} AS
SELECT customer_id, currency, due_date, date_diff('day', due_date, DATE '{d}') AS dpd,
       amount - taken - greatest(least(cend, coalesce(paid, 0) - taken_by_name) - (cend - left_open), 0) AS open
FROM q_{name} LEFT JOIN paid_{name} USING (customer_id, currency);
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
s AS (SELECT currency, sum(amount) AS sales FROM li
      WHERE NOT is_cn AND invoice_date > DATE '{start}' AND invoice_date <= DATE '{as_of}' GROUP BY currency),
u AS (SELECT currency, sum(unapplied) AS unapplied FROM unapplied_now GROUP BY currency)
SELECT n.currency, n.open AS total_open, n.open - n.current AS overdue, s.sales AS credit_sales,
       coalesce(u.unapplied, 0) AS unapplied,
       100.0 * (n.open - n.current) / n.open AS overdue_pct,
       n.open / s.sales * {days} AS dso_days, n.current / s.sales * {days} AS best_possible_dso_days,
       100.0 * (b.begin_open + s.sales - n.open) / (b.begin_open + s.sales - n.current) AS cei_pct
FROM n JOIN s USING (currency) JOIN b USING (currency) LEFT JOIN u USING (currency) ORDER BY n.currency
"""


def duck_script(folder: Path, out: Path) -> None:
    """The DuckDB side, run as its own process (`--duck-script`): CSV in, JSON of the three sections out."""
    import duckdb
    import pandas as pd

    con = duckdb.connect()
    start = AS_OF - pd.Timedelta(days=PERIOD_DAYS)
    con.execute(READ_SQL.format(folder=folder))
    con.execute(PREPARE_SQL)
    several = con.execute("SELECT count(*) FROM ref WHERE invoices_named > 1").fetchone()[0]
    if several:  # then the order of the payments would matter, which these totals leave out
        raise SystemExit(f"{several} payments name more than one invoice: this script does not apply to the data")
    for name, when in (("now", AS_OF), ("start", start)):
        con.execute(AGED_SQL.format(name=name, d=f"{when:%Y-%m-%d}"))
    summary = con.execute(BUCKET_SQL.format(by="currency")).fetchall()
    customers = con.execute(BUCKET_SQL.format(by="customer_id, currency")).fetchall()
    kpis = con.execute(KPI_SQL.format(start=f"{start:%Y-%m-%d}", as_of=f"{AS_OF:%Y-%m-%d}", days=PERIOD_DAYS))
    names = [d[0] for d in kpis.description]
    kpi_rows = [dict(zip(names, row)) for row in kpis.fetchall()]
    out.write_text(json.dumps({"summary": summary, "customers": customers, "kpis": kpi_rows}))


# --------------------------------------------------------------------------- running and checking

@dataclass(frozen=True)
class Timing:
    """Runs of one command: wall-clock and CPU seconds (user + sys, the process and the children it
    waited for, e.g. our reader worker) per run, and the largest peak RSS (MB)."""

    walls: tuple[float, ...]
    cpus: tuple[float, ...]
    rss_mb: float

    def text(self) -> str:
        return (f"wall min {min(self.walls):6.2f} s, median {statistics.median(self.walls):6.2f} s; "
                f"CPU min {min(self.cpus):6.2f} s, median {statistics.median(self.cpus):6.2f} s; "
                f"peak RSS {self.rss_mb:5.0f} MB")


def run(cmd: list[str]) -> tuple[float, float, float]:
    """Run `cmd` as a child process: (wall seconds, CPU seconds, peak RSS in MB)."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):  # 1 = some cells quarantined: still a report
        raise SystemExit(f"{' '.join(cmd)} failed ({code}):\n{proc.stderr.read().decode()[-3000:]}")
    proc.stderr.close()
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def timed(cmd: list[str], repeat: int) -> Timing:
    runs = [run(cmd) for _ in range(repeat)]
    return Timing(tuple(r[0] for r in runs), tuple(r[1] for r in runs), max(r[2] for r in runs))


def ratio(ours: Timing, theirs: Timing) -> str:
    def of(values_a, values_b, fn) -> float:
        return fn(values_a) / fn(values_b)

    return (f"wall {of(ours.walls, theirs.walls, min):.2f} (min) / {of(ours.walls, theirs.walls, statistics.median):.2f}"
            f" (median), CPU {of(ours.cpus, theirs.cpus, min):.2f} (min) / "
            f"{of(ours.cpus, theirs.cpus, statistics.median):.2f} (median)")


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
    for row in duck["kpis"]:
        k = mine["kpis"][row["currency"]]
        for name in MONEY_KPIS:
            assert cents(k[name]) == row[name], f"{row['currency']} {name}: ours {k[name]}, DuckDB {row[name]}"
        for name in RATIO_KPIS:  # ours are rounded to 2 decimals in the JSON
            assert abs(k[name] - row[name]) <= 0.005 + 1e-9, f"{row['currency']} {name}: ours {k[name]}, DuckDB {row[name]}"
    return (f"{len(duck['summary'])} currencies x (open + {len(BUCKETS)} buckets), {len(duck_customers):,} "
            f"customer rows x (open + buckets), KPIs {', '.join(MONEY_KPIS)} equal to the cent, "
            f"{', '.join(RATIO_KPIS)} to the printed 0.01")


def ingest_times(folder: Path, repeat: int) -> tuple[list[float], list[float]]:
    """connectors.load.load_dataset (read CSV in the worker + normalise + codes) in this process:
    (wall seconds, CPU seconds of this process and the worker) per run."""
    import gc

    from connectors.load import load_dataset

    walls, cpus = [], []
    for _ in range(repeat):
        gc.collect()
        t, before = time.perf_counter(), _cpu()
        load_dataset(folder)
        walls.append(time.perf_counter() - t)
        cpus.append(_cpu() - before)
    return walls, cpus


def _cpu() -> float:
    """CPU seconds of this process plus its finished children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


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
        ours = timed(ours_cmd(folder, ours_out, SECTIONS), args.repeat)
        duck_t = timed(duck, args.repeat)
        print(f"  ours   `cli.py report --sections {SECTIONS}`: {ours.text()}")
        print(f"  DuckDB script (read_csv + invoice step + FIFO + aging x2 + KPIs): {duck_t.text()}")
        print(f"  ratio ours / DuckDB: {ratio(ours, duck_t)}   goal <= 2")
        if not args.skip_full:
            full = timed(ours_cmd(folder, tmp / "full.json", None), args.repeat)
            mb = (tmp / "full.json").stat().st_size / 2**20
            print(f"  ours   full report (every section, {mb:.0f} MB of JSON): {full.text()}   "
                  "goal <= 8 s, <= 1536 MB")
    walls, cpus = ingest_times(folder, args.repeat)
    print(f"  ours   ingest (read CSV + normalise + codes, in process): wall min {min(walls):.2f} s, median "
          f"{statistics.median(walls):.2f} s; CPU min {min(cpus):.2f} s, median {statistics.median(cpus):.2f} s"
          "   goal <= 1.5 s")
    print(f"  after: {load_line()}")


if __name__ == "__main__":
    main()
