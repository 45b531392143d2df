"""Mutation score of the domain modules (docs/TESTING.md): mutmut on a copy of the checkout, one module at a time.

    .venv/bin/python bench/mutation.py                 # every module in MODULES
    .venv/bin/python bench/mutation.py aging money     # some of them
    .venv/bin/python bench/mutation.py --report        # only print the scores of the last runs
    .venv/bin/python bench/mutation.py allocation --sample 150   # a random sample of its mutants (seed 0)
    .venv/bin/python bench/mutation.py linecode --survivors      # retest the survivors after adding tests

Each module runs in its own copy of the working tree (bench/.cache/mutation/<module>,
git-ignored, kept between runs so a rerun only tests what changed), with a
`[tool.mutmut]` section that mutates that one file and selects only the fast
test files that exercise it (mutmut then runs, per mutant, just the tests that
reach the mutated function). Hypothesis runs the `mutation` profile (a tenth of
the examples). Runs at `nice -n 19` with one worker unless MUTATION_JOBS says
otherwise: the machine is shared. Prints, per module, killed / total and the
score, and writes them to bench/.cache/mutation/scores.txt.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "bench" / ".cache" / "mutation"

# module -> the fast test files that exercise it (no browser, no servers, no PostgreSQL)
MODULES = {
    "allocation": ["tests/billing/test_allocation.py"],
    "aging": ["tests/billing/test_aging.py", "tests/billing/test_kpis.py"],
    "linecode": ["tests/billing/test_linecode.py", "tests/billing/test_allocation.py"],
    "money": ["tests/billing/test_money.py"],
    "dunning": ["tests/billing/test_dunning.py"],
    "disputes": ["tests/billing/test_disputes.py"],
}
# mutmut's verdicts: a mutant no test reaches ("no tests") counts as a survivor; "not checked" is not counted
KILLED = {"killed", "timeout", "caught by type check", "segfault"}
COUNTED = KILLED | {"survived", "no tests", "suspicious"}


def _checkout_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True,
                         capture_output=True).stdout.decode()
    return [f for f in out.split("\0") if f and (REPO / f).is_file()]


def _sync_copy(module: str) -> Path:
    """Copy the working tree into the module's directory (mutmut's own `mutants/` is left in place)."""
    work = CACHE / module
    work.mkdir(parents=True, exist_ok=True)
    for rel in _checkout_files():
        target = work / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_bytes() != (REPO / rel).read_bytes():
            shutil.copy2(REPO / rel, target)
    config = "\n".join([
        "", "[tool.mutmut]",
        'source_paths = ["billing"]',
        f'only_mutate = ["billing/{module}.py"]',
        f"pytest_add_cli_args_test_selection = {json.dumps(MODULES[module])}",
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-p", "no:xdist", "-q"]',
        'also_copy = ["templates", "migrations"]',
        "",
    ])
    pyproject = (REPO / "pyproject.toml").read_text() + config
    (work / "pyproject.toml").write_text(pyproject)
    return work


def _results(work: Path, module: str) -> dict[str, str]:
    """mutant name -> verdict, from `mutmut results --all true`."""
    out = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"], cwd=work,
                         capture_output=True, text=True).stdout
    verdicts = {}
    for line in out.splitlines():
        name, _, verdict = line.strip().partition(": ")
        if name.startswith(f"billing.{module}."):
            verdicts[name] = verdict.strip()
    return verdicts


def score_line(module: str, verdicts: dict[str, str]) -> str:
    counted = [v for v in verdicts.values() if v in COUNTED]
    killed = sum(v in KILLED for v in counted)
    other = len(verdicts) - len(counted)
    pct = 100.0 * killed / len(counted) if counted else 0.0
    return (f"billing/{module}.py: {killed}/{len(counted)} killed = {pct:.1f}%"
            + (f" ({other} not run / no test reaches them)" if other else ""))


def run(module: str, jobs: int, sample: int | None = None, survivors: bool = False) -> str:
    """Run mutmut on `module`: all its mutants, the first `sample` of a seeded shuffle of them (a larger
    sample extends a smaller one, whose verdicts mutmut keeps), or (`survivors`) only the ones that
    survived the last run, against the current tests."""
    work = _sync_copy(module)
    env = {**os.environ, "HYPOTHESIS_PROFILE": "mutation", "PYTHONHASHSEED": "0"}
    env.pop("CI", None)
    cmd = ["nice", "-n", "19", sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs)]
    names: list[str] = []
    if survivors:
        names = sorted(n for n, v in _results(work, module).items() if v in COUNTED - KILLED)
        if not names:
            return score_line(module, _results(work, module))
        (work / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)  # map the new tests to functions too
    elif sample is not None:
        subprocess.run(cmd + ["no-such-mutant"], cwd=work, env=env, check=False)  # generate mutants + test map
        everything = sorted(_results(work, module))
        random.Random(0).shuffle(everything)
        names = sorted(everything[:sample])
    subprocess.run(cmd + names, cwd=work, env=env, check=False)
    verdicts = _results(work, module)
    if sample is not None and not survivors:
        verdicts = {name: verdicts[name] for name in names if name in verdicts}
        return score_line(module, verdicts) + f" [random sample of {len(names)}]"
    return score_line(module, verdicts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", metavar="module", help=f"some of {', '.join(MODULES)} (default all)")
    parser.add_argument("--report", action="store_true", help="print the scores of the last runs only")
    parser.add_argument("--sample", type=int, help="test a seeded random sample of this many mutants per module")
    parser.add_argument("--survivors", action="store_true", help="retest only the last run's survivors")
    args = parser.parse_args()
    unknown = sorted(set(args.modules) - set(MODULES))
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    jobs = int(os.environ.get("MUTATION_JOBS", "1"))
    lines = []
    for module in args.modules or list(MODULES):
        if args.report:
            line = score_line(module, _results(CACHE / module, module))
        else:
            line = run(module, jobs, args.sample, args.survivors)
        print(line, flush=True)
        lines.append(line)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "scores.txt", "a") as f:
        f.write(f"# {stamp}: bench/mutation.py {' '.join(args.modules)}\n" + "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
