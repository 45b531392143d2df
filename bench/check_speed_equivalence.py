"""Check that the speed work changed no output byte: old and new `cli.py report` on the same data.

    cd /work/main && .venv/bin/python bench/check_speed_equivalence.py [--lines 1000000] [--payments 300000]
        [--before 0c432e7] [--skip-full]

Not a test (it needs generated data and minutes). The code as it was at `--before`
is exported from git (`git archive`, like bench/baseline.py loads old modules from
git instead of keeping copies) into a temporary folder; both trees run
`cli.py report <CSV folder> --as-of 2025-12-31 --format json` in their own process,
once with `--sections summary,customers,kpis` and once with every section, and the
two files are compared byte for byte. The demo workbook is compared the same way
(`cli.py demo`, then `cli.py report` on it). The old outputs are cached under
bench/.cache/ keyed by revision and case. Prints "identical" per case, or the first
differing line.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_engine import AS_OF, CACHE  # noqa: E402
from bench_report import write_csvs  # noqa: E402

# Before the session-3 speed work. (Against 5cea203, the session-2 baseline, the full report now
# lists the "rows" counts with invoices before payments: ingest builds payments after invoices
# since the real-exports work, which derives a payment's customer from its invoice.)
BEFORE = "0c432e7"


def export_tree(rev: str, dest: Path) -> Path:
    """The repository as it was at `rev`, unpacked under `dest` (no .git)."""
    tar = subprocess.run(["git", "archive", "--format=tar", rev], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(dest, filter="data")
    return dest


def run_report(tree: Path, source: Path, sections: str | None, out: Path) -> float:
    """`cli.py report` of `tree` in its own process; returns the wall-clock seconds."""
    cmd = [sys.executable, str(tree / "cli.py"), "report", str(source), "--as-of", f"{AS_OF:%Y-%m-%d}",
           "--format", "json", "--out", str(out)]
    if sections:
        cmd += ["--sections", sections]
    t = time.perf_counter()
    done = subprocess.run(cmd, cwd=tree, capture_output=True, text=True)
    if done.returncode not in (0, 1):  # 1 = some cells quarantined, still a report
        raise SystemExit(f"{tree}: cli.py report failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - t


def first_difference(a: bytes, b: bytes) -> str:
    la, lb = a.splitlines(), b.splitlines()
    for i, (x, y) in enumerate(zip(la, lb)):
        if x != y:
            return f"line {i + 1}: before {x[:200]!r} / now {y[:200]!r}"
    return f"lengths differ: before {len(la)} lines, now {len(lb)} lines"


def demo_workbook(tree: Path, dest: Path) -> Path:
    """The demo workbook as `tree` writes it (`cli.py demo`)."""
    subprocess.run([sys.executable, str(tree / "cli.py"), "demo", "--out", str(dest)], cwd=tree, check=True,
                   capture_output=True)
    return dest


def compare(name: str, old_tree: Path, source_old: Path, source_new: Path, sections: str | None,
            rev: str, tmp: Path) -> bool:
    key = hashlib.sha1(f"{rev}|{name}|{sections}".encode()).hexdigest()[:12]
    cached = CACHE / f"speed_before_{key}.json"
    if not cached.exists():
        t_old = run_report(old_tree, source_old, sections, cached)
        print(f"  {name} [{sections or 'all sections'}]: before took {t_old:.1f} s", flush=True)
    new = tmp / f"{key}_now.json"
    t_new = run_report(ROOT, source_new, sections, new)
    a, b = cached.read_bytes(), new.read_bytes()
    same = a == b
    verdict = "identical" if same else "DIFFERENT: " + first_difference(a, b)
    print(f"  {name} [{sections or 'all sections'}]: now {t_new:.1f} s, {len(b) / 2**20:.1f} MB: {verdict}",
          flush=True)
    return same


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--payments", type=int, default=300_000)
    parser.add_argument("--before", default=BEFORE)
    parser.add_argument("--skip-full", action="store_true", help="only the summary,customers,kpis report")
    args = parser.parse_args()
    folder = write_csvs(args.lines, args.payments)
    ok = True
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        old_tree = export_tree(args.before, tmp / "before")
        print(f"before = {args.before} (exported to {old_tree}); data {folder.name}")
        for sections in ["summary,customers,kpis"] + ([] if args.skip_full else [None]):
            ok &= compare(folder.name, old_tree, folder, folder, sections, args.before, tmp)
        demo_old = demo_workbook(old_tree, tmp / "demo_before.xlsx")
        demo_new = demo_workbook(ROOT, tmp / "demo_now.xlsx")
        ok &= compare("demo", old_tree, demo_old, demo_new, None, args.before, tmp)
    print("identical" if ok else "NOT identical")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
