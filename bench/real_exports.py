"""Run `check` and `report` over every file (or folder of CSVs) in a folder of real exports.

    .venv/bin/python bench/real_exports.py ../shared/samples/real-exports [--as-of 2026-12-31]

Per entry it prints: the tables found (sheet, header row), the layout recognised, rows
read/accepted/quarantined per table, how every sheet row was accounted for (data, title,
header, blank, subtotal, total, skipped), the most frequent notes and quarantine messages,
and the invoiced total per currency from the JSON report, with the seconds it took. This is a
measuring tool for people (not run in CI): compare its totals with the files' own sums.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from billing.analysis import analyse  # noqa: E402
from billing.ingest import IngestOptions  # noqa: E402
from billing.money import format_minor  # noqa: E402
from billing.report import build_report  # noqa: E402
from connectors.load import LoadError, load_dataset  # noqa: E402

SKIP = {"README.md", "README.txt", "LICENSE"}


def _entries(folder: Path) -> list[Path]:
    return [p for p in sorted(folder.iterdir(), key=lambda p: p.name.casefold())
            if p.name not in SKIP and not p.name.startswith(".")]


def _source(entry: Path) -> Path:
    """A folder holding one workbook and no CSV files is that workbook; otherwise the entry."""
    if entry.is_dir():
        books = [p for p in entry.iterdir() if p.suffix.lower() in (".xlsx", ".xlsm", ".xls", ".ods")]
        csvs = [p for p in entry.iterdir() if p.suffix.lower() in (".csv", ".tsv", ".txt")]
        if len(books) == 1 and not csvs:
            return books[0]
    return entry


def _top(counter: Counter, n: int) -> list[str]:
    return [f"{k} (×{v})" if v > 1 else k for k, v in counter.most_common(n)]


def run_one(path: Path, as_of: str, top: int) -> None:
    print(f"\n=== {path.name}")
    start = time.perf_counter()
    try:
        data = load_dataset(_source(path), IngestOptions())
    except LoadError as exc:
        print(f"  NOT LOADED: {getattr(exc, 'message', str(exc))}")
        return
    report = build_report(data, analyse(data, as_of), sections=("summary", "rows"))
    seconds = time.perf_counter() - start
    layouts = [n.text for n in data.notes if n.kind == "layout"]
    print("  tables:   " + ", ".join(f"{t} <- sheet '{s}'" for t, s in data.sheet_map.items()))
    print("  layout:   " + ("; ".join(layouts) if layouts else "none recognised"))
    for table, c in data.counts.items():
        if c.read:
            print(f"  rows:     {table:<9} read {c.read:>6}  accepted {c.accepted:>6}  "
                  f"quarantined {c.quarantined:>5}")
    kinds = Counter(n.kind for n in data.notes)
    print("  notes:    " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    shown = Counter(f"[{n.kind}] {n.text[:110]}" for n in data.notes
                    if n.kind in ("layout", "ambiguous", "carry", "derived", "table", "skipped", "repeat",
                                  "subtotal", "total"))
    for line in _top(shown, top):
        print(f"            {line}")
    q = data.quarantine
    if len(q):
        messages = Counter(f"{r.column}: {r.message[:100]}" for r in q.itertuples(index=False))
        rows = q[["table", "sheet", "row"]].drop_duplicates().shape[0]
        print(f"  quarantine ({len(q)} cells in {rows} rows):")
        for line in _top(messages, top):
            print(f"            {line}")
    invoiced = {cur: s["invoiced"] for cur, s in report.get("summary", {}).items()}
    print("  invoiced: " + (", ".join(f"{cur} {v}" for cur, v in sorted(invoiced.items())) or "nothing"))
    inv = data.invoices
    credits = inv[inv["kind"] == "credit_note"].groupby("currency")["amount"].sum()
    if len(credits):
        print("  credited: " + ", ".join(f"{cur} {format_minor(int(v), cur)}" for cur, v in credits.items())
              + " (credit notes, not in 'invoiced')")
    print(f"  time:     {seconds:.2f} s")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--as-of", default="2026-12-31")
    p.add_argument("--top", type=int, default=6, help="messages shown per entry")
    args = p.parse_args(argv)
    if not args.folder.is_dir():
        print(f"{args.folder}: not a folder", file=sys.stderr)
        return 2
    for entry in _entries(args.folder):
        run_one(entry, args.as_of, args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
