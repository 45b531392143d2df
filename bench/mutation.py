"""Mutation score of the domain modules (docs/TESTING.md): mutmut on a copy of the checkout, one module at a time.

    .venv/bin/python bench/mutation.py                 # every module in MODULES
    .venv/bin/python bench/mutation.py aging money     # some of them
    .venv/bin/python bench/mutation.py --report        # only print the scores of the last runs
    .venv/bin/python bench/mutation.py allocation --sample 150   # a random sample of its mutants (--seed, 0)
    .venv/bin/python bench/mutation.py linecode --survivors      # retest the survivors after adding tests
    .venv/bin/python bench/mutation.py aging --sample 150 --survivors   # ... of that sample

Each module runs in its own copy of the working tree (bench/.cache/mutation/<module>,
git-ignored, kept between runs so a rerun only tests what changed), with a
`[tool.mutmut]` section that mutates that one file and selects only the fast
test files that exercise it (mutmut then runs, per mutant, just the tests that
reach the mutated function). Hypothesis runs the `mutation` profile (a tenth of
the examples). Runs at `nice -n 19` with one worker unless MUTATION_JOBS says
otherwise: the machine is shared. Prints, per module, mutants, tested, killed,
equivalent (listed with the reason in bench/mutation_equivalent.txt, left out of
the score), the score, for a sample its 95 % Wilson interval, and the survivors'
names; appends them to bench/.cache/mutation/scores.txt.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "bench" / ".cache" / "mutation"
EQUIVALENT_FILE = REPO / "bench" / "mutation_equivalent.txt"

# module -> the fast test files that exercise it (no browser, no servers, no PostgreSQL)
# (every domain test file that imports the module; mutmut then runs, per mutant, only the tests of these
# files that call the mutated function, so a wider list costs only the one stats run)
MODULES = {
    "allocation": ["tests/billing/test_allocation.py", "tests/billing/test_aging.py", "tests/billing/test_kpis.py",
                   "tests/billing/test_dunning.py", "tests/billing/test_reconcile.py",
                   "tests/billing/test_statement.py"],
    "aging": ["tests/billing/test_aging.py", "tests/billing/test_kpis.py", "tests/billing/test_dunning.py",
              "tests/billing/test_statement.py"],
    "linecode": ["tests/billing/test_linecode.py", "tests/billing/test_allocation.py", "tests/billing/test_ingest.py",
                 "tests/billing/test_reconcile.py"],
    "money": ["tests/billing/test_money.py", "tests/billing/test_layouts.py", "tests/billing/test_ingest.py"],
    "dunning": ["tests/billing/test_dunning.py", "tests/billing/test_messages.py"],
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
        'also_copy = ["templates", "migrations", "connectors"]',
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


def equivalents() -> dict[str, str]:
    """mutant name -> why it is equivalent (does what the original does), from EQUIVALENT_FILE.

    One mutant a line, `name  # reason`; such a mutant is left out of the score. Names hold while the
    function is unchanged (mutmut numbers the mutants of a function in order).
    """
    found = {}
    for line in EQUIVALENT_FILE.read_text().splitlines() if EQUIVALENT_FILE.exists() else []:
        name, _, reason = line.partition("#")
        if name.strip():
            found[name.strip()] = reason.strip()
    return found


def wilson_interval(killed: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval (fractions 0..1) of a proportion `killed`/`n` (a random sample's score)."""
    if n == 0:
        return 0.0, 1.0
    p = killed / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def score_line(module: str, verdicts: dict[str, str], total: int | None = None) -> str:
    """killed / tested, equivalents left out, the score and (for a sample of `total`) its 95 % interval;
    then the surviving mutants' names (`mutmut show NAME` in the module's copy shows the change)."""
    equivalent = equivalents()
    counted = {n: v for n, v in verdicts.items() if v in COUNTED}
    equal = sorted(n for n in counted if n in equivalent and counted[n] not in KILLED)
    judged = [v for n, v in counted.items() if n not in equal]
    killed = sum(v in KILLED for v in judged)
    pct = 100.0 * killed / len(judged) if judged else 0.0
    line = (f"billing/{module}.py: {len(verdicts)} mutants, {len(counted)} tested, {killed} killed, "
            f"{len(equal)} equivalent, score {killed}/{len(judged)} = {pct:.1f}%")
    if total is not None and total > len(verdicts):
        low, high = wilson_interval(killed, len(judged))
        line += f", 95% interval {100 * low:.1f}-{100 * high:.1f}% [random sample of {len(verdicts)} of {total}]"
    untested = len(verdicts) - len(counted)
    if untested:
        line += f" ({untested} not run yet)"
    survivors = sorted(n for n, v in counted.items() if v not in KILLED and n not in equal)
    return line + "".join(f"\n  survived: {n} ({counted[n]})" for n in survivors)


def _sample(names: list[str], size: int, seed: int) -> list[str]:
    """A uniformly random sample (without replacement) of `size` mutant names; a larger size with the
    same seed extends a smaller one."""
    order = sorted(names)
    random.Random(seed).shuffle(order)
    return sorted(order[:size])


def run(module: str, jobs: int, sample: int | None = None, seed: int = 0, survivors: bool = False) -> str:
    """Run mutmut on `module`: all its mutants, a seeded random `sample` of them, or (`survivors`) only the
    ones of that selection that survived the last run, against the current tests."""
    work = _sync_copy(module)
    env = {**os.environ, "HYPOTHESIS_PROFILE": "mutation", "PYTHONHASHSEED": "0"}
    env.pop("CI", None)
    cmd = ["nice", "-n", "19", sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs)]
    if survivors:  # map the new tests to the functions they reach too
        (work / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
    subprocess.run(cmd + ["no-such-mutant"], cwd=work, env=env, check=False,
                   stdout=subprocess.DEVNULL)  # generate the mutants and the test map
    everything = sorted(_results(work, module))
    chosen = _sample(everything, sample, seed) if sample is not None else everything
    if sample is not None:
        print(f"billing/{module}.py: random sample of {len(chosen)} of {len(everything)} mutants, seed {seed}",
              flush=True)
    if survivors:
        verdicts = _results(work, module)
        equivalent = equivalents()  # they survive by nature: not worth a rerun
        chosen = [n for n in chosen if verdicts.get(n) in COUNTED - KILLED and n not in equivalent]
    if chosen:
        subprocess.run(cmd + chosen, cwd=work, env=env, check=False)
    verdicts = _results(work, module)
    picked = _sample(everything, sample, seed) if sample is not None else everything
    return score_line(module, {n: verdicts[n] for n in picked if n in verdicts}, total=len(everything))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", metavar="module", help=f"some of {', '.join(MODULES)} (default all)")
    parser.add_argument("--report", action="store_true", help="print the scores of the last runs only")
    parser.add_argument("--sample", type=int, help="test a seeded random sample of this many mutants per module")
    parser.add_argument("--seed", type=int, default=0, help="the sample's random seed (default 0)")
    parser.add_argument("--survivors", action="store_true", help="retest only the last run's survivors")
    args = parser.parse_args()
    unknown = sorted(set(args.modules) - set(MODULES))
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    jobs = int(os.environ.get("MUTATION_JOBS", "1"))
    lines = []
    for module in args.modules or list(MODULES):
        if args.report:
            everything = _results(CACHE / module, module)
            picked = _sample(list(everything), args.sample, args.seed) if args.sample else list(everything)
            line = score_line(module, {n: everything[n] for n in picked}, total=len(everything))
        else:
            line = run(module, jobs, args.sample, args.seed, args.survivors)
        print(line, flush=True)
        lines.append(line)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "scores.txt", "a") as f:
        f.write(f"# {stamp}: bench/mutation.py {' '.join(sys.argv[1:])}\n" + "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
