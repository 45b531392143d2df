"""Benchmark: reading a large invoices workbook into raw cells and finding the table.

    .venv/bin/python -m bench.bench_read                 # 500,000 rows
    .venv/bin/python -m bench.bench_read --rows 50000    # quicker
    .venv/bin/python -m bench.bench_read --no-openpyxl   # skip the slow baseline (~2 min)
    .venv/bin/python -m bench.bench_read --repeat 3      # best of 3 for (a), (b), (d)

The workbook (one sheet "Invoices": a title row, a blank row, a 12-column
header, N invoice lines with text ids such as "00017", date cells and numbers,
and a final "Total" row) is written once with xlsxwriter in constant-memory
mode and cached under bench/.cache/ (not versioned).

Times, in one run on the same file:
  (a) fastexcel alone: read_excel(p).load_sheet(0, header_row=None).to_pandas()
  (b) connectors.sources.read_source(p)            target: (b)/(a) <= ~1.2
  (c) pandas.read_excel(p, engine="openpyxl")      target: (c)/(b) >= 15
  (d) read_source + billing.tabular.locate_tables
  (e) (d) + billing.ingest.build_dataset: the full read + normalise of the invoices
"""
from __future__ import annotations

import argparse
import datetime as dt
import gc
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CACHE = Path(__file__).resolve().parent / ".cache"
HEADER = ["Invoice No", "Line", "Customer", "Invoice Date", "Due Date", "SKU", "Description",
          "Qty", "Unit Price", "Amount", "Currency", "Type"]


def build_workbook(rows: int, folder: Path = CACHE) -> Path:
    """Write (once) and return the benchmark workbook with `rows` invoice lines."""
    import xlsxwriter

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"invoices_{rows}.xlsx"
    if path.exists():
        return path
    tmp = path.with_suffix(".tmp.xlsx")
    wb = xlsxwriter.Workbook(str(tmp), {"constant_memory": True})
    ws = wb.add_worksheet("Invoices")
    date = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_string(0, 0, "ACME Ltd — Accounts receivable (benchmark)")
    ws.write_row(2, 0, HEADER)
    base = dt.datetime(2024, 1, 1)
    month = dt.timedelta(days=30)
    total = 0.0
    for i in range(rows):
        r = i + 3
        d = base + dt.timedelta(days=i % 365)
        qty = i % 7 + 1
        amount = qty * 12.5
        total += amount
        ws.write_string(r, 0, f"INV-{i // 3:07d}")
        ws.write_number(r, 1, i % 3 + 1)
        ws.write_string(r, 2, f"{i % 997:05d}")
        ws.write_datetime(r, 3, d, date)
        ws.write_datetime(r, 4, d + month, date)
        ws.write_string(r, 5, f"SKU-{i % 500}")
        ws.write_string(r, 6, "Widget")
        ws.write_number(r, 7, qty)
        ws.write_number(r, 8, 12.5)
        ws.write_number(r, 9, amount)
        ws.write_string(r, 10, "USD" if i % 5 else "EUR")
        ws.write_string(r, 11, "invoice")
    ws.write_string(rows + 3, 0, "Total")
    ws.write_number(rows + 3, 9, total)
    wb.close()
    tmp.rename(path)
    return path


REPEAT = 1


def _time(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Best of REPEAT runs (the machine is shared: the minimum is the least disturbed)."""
    best, out = float("inf"), None
    for _ in range(REPEAT):
        out = None
        gc.collect()
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=500_000, help="invoice lines (default 500000)")
    ap.add_argument("--no-openpyxl", action="store_true", help="skip the pandas+openpyxl baseline")
    ap.add_argument("--repeat", type=int, default=1, help="best of N runs for (a), (b), (d) (default 1)")
    args = ap.parse_args(argv)
    global REPEAT

    import fastexcel
    import pandas as pd

    from billing.ingest import build_dataset
    from billing.tabular import locate_tables
    from connectors.sources import read_source

    t_build, path = _time(lambda: build_workbook(args.rows))
    REPEAT = max(1, args.repeat)
    print(f"workbook: {path} ({path.stat().st_size / 2**20:.1f} MB, {args.rows} rows x 12 columns;"
          f" ready in {t_build:.1f} s)")
    path.read_bytes()  # warm the OS file cache for every contender alike

    t_fast, df = _time(lambda: fastexcel.read_excel(str(path)).load_sheet(0, header_row=None).to_pandas())
    print(f"(a) fastexcel raw read            {t_fast:7.2f} s   {df.shape}")
    del df
    t_ours, raw = _time(lambda: read_source(path))
    print(f"(b) read_source                   {t_ours:7.2f} s   {raw.sheets[0].cells.shape}")
    del raw
    t_read2, raw = _time(lambda: read_source(path))
    t_locate, found = _time(lambda: locate_tables(raw))
    inv = found.tables["invoices"]
    print(f"(d) read_source + locate_tables   {t_read2 + t_locate:7.2f} s   (locate_tables {t_locate:.2f} s: "
          f"{len(inv)} invoice rows, header row {inv.header_row}, {len(found.notes)} notes)")
    t_norm, data = _time(lambda: build_dataset(found))
    c = data.counts["invoices"]
    print(f"(e) + build_dataset (normalise)   {t_read2 + t_locate + t_norm:7.2f} s   (normalise {t_norm:.2f} s: "
          f"{c.accepted} accepted, {c.quarantined} quarantined)")
    del raw, found, inv, data
    print(f"    ours / fastexcel = {t_ours / t_fast:.2f}  (target <= ~1.2)")
    if not args.no_openpyxl:
        REPEAT = 1
        t_opx, df = _time(lambda: pd.read_excel(path, engine="openpyxl", header=None))
        print(f"(c) pandas.read_excel(openpyxl)   {t_opx:7.2f} s   {df.shape}")
        print(f"    openpyxl / ours = {t_opx / t_ours:.1f}  (target >= 15)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
