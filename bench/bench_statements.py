"""Benchmark: 1,000 statements of account of 20 items each, as PDF, on 2 processes (target ≤ 60 s).

    .venv/bin/python bench/bench_statements.py [--customers 1000] [--items 20] [--workers 2] [--fpdf 3]

A synthetic book (customers in en, zh and hu; EUR and HUF; some payments and
credit notes) goes through the engine once (`billing.analysis.analyse`), the
statements of every customer are built in one pass (`billing.statement`), and
`services.statements.write_files` typesets one PDF per customer with Typst in
`--workers` processes. Printed side by side in the same run:

* the same path on one process for a tenth of the customers (the per-statement
  baseline, wall clock and CPU time, with what the CPU time makes of the full run
  on idle cores) and the speed-up of the workers over it;
* the PDF engine we did not pick, fpdf2, on `--fpdf` statements with the same
  content and fonts (if fpdf2 is installed): seconds a statement and the ratio;
* a determinism check: the same statement rendered twice gives the same bytes.

Times are wall clock on a shared machine, so the CPU seconds of every process that
rendered are printed too (user + system, start-up included) with what they make on idle
cores, next to the load average before and after.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_engine import _frame  # noqa: E402  (a frame with the canonical columns and dtypes)

from billing.analysis import analyse  # noqa: E402
from billing.company import CompanyDetails  # noqa: E402
from billing.linecode import make_codes  # noqa: E402
from billing.model import Dataset, empty_quarantine, empty_table  # noqa: E402
from connectors.statement_pdf import StatementRenderer, font_dirs, load_statement_texts  # noqa: E402
from services import statements as service  # noqa: E402

AS_OF = pd.Timestamp("2026-06-30")
COMPANY = CompanyDetails(name="ACME Kft.", address="Fő utca 1.\n1011 Budapest", tax_id="HU12345678",
                         iban="DE89370400440532013000", bic="COBADEFFXXX",
                         payment_instructions="Bank transfer within the payment terms.")
WORDS = ["Cable 20 m", "电缆 200 米", "Árvíztűrő tükörfúrógép", "Service fee", "Ball bearing 8 mm", "LED panel",
         "办公椅", "Szállítási díj"]


def synthetic_book(customers: int, items: int, seed: int = 7) -> Dataset:
    """`customers` customers with `items` invoice lines each (a few credit notes), plus payments."""
    rng = np.random.default_rng(seed)
    n = customers * items
    cust = np.repeat([f"C{i:05d}" for i in range(customers)], items)
    currency = np.where(np.repeat(np.arange(customers) % 4 == 3, items), "HUF", "EUR")
    inv_day = AS_OF - pd.to_timedelta(rng.integers(0, 150, n), unit="D")
    invoice_no = np.array([f"INV-{i // 2:07d}" for i in range(n)])
    line_no = np.arange(n) % 2 + 1
    amount = rng.integers(1_000, 500_000, n)
    credit = rng.random(n) < 0.03
    amount = np.where(credit, -(amount // 10), amount)
    invoices = _frame("invoices", {
        "invoice_no": invoice_no, "customer_id": cust, "invoice_date": inv_day.values, "line_no": line_no,
        "due_date": (inv_day + pd.Timedelta(days=30)).values, "amount": amount, "currency": currency,
        "kind": np.where(credit, "credit_note", "invoice"), "description": rng.choice(WORDS, n),
        "_sheet": "invoices", "_row": np.arange(2, n + 2)})
    invoices["line_code"] = make_codes(invoices["invoice_no"], invoices["line_no"]).astype("string")
    invoices["line_code_original"] = invoices["line_code"]
    m = customers * 3
    pidx = rng.integers(0, n, m)
    payments = _frame("payments", {
        "payment_id": [f"PAY-{i:07d}" for i in range(m)], "customer_id": cust[pidx],
        "payment_date": (AS_OF - pd.to_timedelta(rng.integers(0, 60, m), unit="D")).values,
        "amount": np.abs(amount[pidx]), "currency": currency[pidx], "reference": invoice_no[pidx],
        "_sheet": "payments", "_row": np.arange(2, m + 2)})
    ids = [f"C{i:05d}" for i in range(customers)]
    customers_t = _frame("customers", {
        "customer_id": ids, "name": [f"Customer {i} 有限公司 Kft." for i in range(customers)],
        "language": [("en", "zh", "hu")[i % 3] for i in range(customers)], "payment_terms_days": [30] * customers,
        "_sheet": "customers", "_row": np.arange(2, customers + 2)})
    tables = {t: empty_table(t) for t in ("orders", "fx_rates")}
    tables.update(invoices=invoices, payments=payments, customers=customers_t)
    return Dataset("bench", tables, empty_quarantine(), {})


def fpdf_statement(st, fonts: list[str]) -> bytes:
    """The same statement content with fpdf2 (the engine we measured against)."""
    from fpdf import FPDF

    noto = next(Path(d) / "NotoSansCJK-Regular.ttc" for d in fonts if (Path(d) / "NotoSansCJK-Regular.ttc").exists())
    pdf = FPDF()
    pdf.add_font("noto", "", str(noto), collection_font_number=2)
    pdf.add_font("noto", "B", str(noto).replace("Regular", "Bold"), collection_font_number=2)
    pdf.add_page()
    pdf.set_font("noto", "", 8)
    pdf.cell(text=f"{COMPANY.name} – {st.header['name']}", new_x="LMARGIN", new_y="NEXT")
    with pdf.table() as table:
        table.row(["Date", "Type", "Reference", "Invoice", "Description", "Debit", "Credit", "Balance"])
        for r in st.activity.itertuples(index=False):
            table.row([f"{r.date:%Y-%m-%d}", r.kind, str(r.reference), str(r.invoice_no), str(r.description or ""),
                       str(r.debit), str(r.credit), str(r.balance)])
        for r in st.open_items.itertuples(index=False):
            table.row([f"{r.due_date:%Y-%m-%d}", "open", str(r.reference), str(r.invoice_no), str(r.bucket),
                       str(r.amount), str(r.open), ""])
    return bytes(pdf.output())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1000)
    ap.add_argument("--items", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--fpdf", type=int, default=3, help="statements to render with fpdf2 (0: skip)")
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    data = synthetic_book(args.customers, args.items)
    settings = service.StatementSettings(COMPANY, load_statement_texts())

    t0 = time.perf_counter()
    analysis = analyse(data, AS_OF, with_exceptions=False, with_kpis=False)
    stmts = service.build(data, analysis, None, period_start=AS_OF - pd.Timedelta(days=150), settings=settings)
    t_build = time.perf_counter() - t0
    items = len(stmts.activity) + len(stmts.open_items)
    print(f"engine + statements of {len(stmts.customer_ids)} customers ({items} rows): {t_build:.2f} s")

    with tempfile.TemporaryDirectory() as out:
        sample = max(1, len(stmts.customer_ids) // 10)
        few = service.build(data, analysis, None, period_start=AS_OF - pd.Timedelta(days=150),
                            customer_ids=stmts.customer_ids[:sample], settings=settings)
        t0, c0 = time.perf_counter(), time.process_time()
        service.write_files(few, Path(out) / "one", settings, workers=1)
        one, cpu = (time.perf_counter() - t0) / sample, (time.process_time() - c0) / sample
        print(f"baseline, 1 process, {sample} statements: {one * 1000:.0f} ms a statement wall clock, "
              f"{cpu * 1000:.0f} ms CPU (on {args.workers} idle cores {args.customers} would take about "
              f"{cpu * args.customers / args.workers:.0f} s)")

        load_before = os.getloadavg()[0]
        stats = service.WriteStats()
        t0, c0 = time.perf_counter(), time.process_time()
        paths = service.write_files(stmts, Path(out) / "all", settings, workers=args.workers, stats=stats)
        total, parent_cpu = time.perf_counter() - t0, time.process_time() - c0
        size = sum(p.stat().st_size for p in paths) / len(paths)
        per_thousand = total / len(paths) * 1000
        cpu = stats.cpu_s + parent_cpu
        idle = cpu / args.workers  # the wall clock on idle cores: the work split evenly over them
        verdict = f"{'OK' if per_thousand <= 60 else 'MISSED'} (1,000 at this pace: {per_thousand:.0f} s)"
        print(f"{len(paths)} PDFs on {args.workers} processes: {total:.1f} s wall clock "
              f"({total / len(paths) * 1000:.0f} ms a statement, {size / 1024:.0f} KB each; "
              f"{one * len(paths) / total:.2f}x the 1-process baseline); target 60 s: {verdict}")
        print(f"  CPU: {stats.cpu_s:.1f} s in {stats.processes} worker processes (start-up included) + "
              f"{parent_cpu:.1f} s here = {cpu:.1f} CPU-s, {cpu / len(paths) * 1000:.0f} ms a statement; "
              f"on {args.workers} idle cores: {idle:.1f} s ({'within' if idle <= 60 else 'over'} 60 s); "
              f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")

    st = stmts.of(stmts.customer_ids[1])  # a Chinese one
    with StatementRenderer(COMPANY, settings.texts) as a, StatementRenderer(COMPANY, settings.texts) as b:
        same = hashlib.sha256(a.render(st)).hexdigest() == hashlib.sha256(b.render(st)).hexdigest()
    print(f"deterministic (same statement, two renderers, same bytes): {same}")

    if args.fpdf:
        try:
            import fpdf  # noqa: F401
        except ImportError:
            print("fpdf2 not installed: comparison skipped")
            return
        import logging
        logging.getLogger("fpdf").setLevel(logging.ERROR)  # it warns about each glyph its font lacks
        t0 = time.perf_counter()
        for cid in stmts.customer_ids[:args.fpdf]:
            fpdf_statement(stmts.of(cid), font_dirs())
        per = (time.perf_counter() - t0) / args.fpdf
        print(f"fpdf2, same content, {args.fpdf} statements: {per * 1000:.0f} ms a statement "
              f"({per / one:.1f}x Typst's 1-process time)")


if __name__ == "__main__":
    main()
