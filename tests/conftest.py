"""Shared test settings: hypothesis profiles, and a loud summary of what was skipped and why.

Hypothesis profiles (choose with HYPOTHESIS_PROFILE, default ``default``):

- ``default``: random, so every run tries new cases. A failure prints the
  ``@reproduce_failure`` blob and the seed, so it can be replayed with
  ``pytest --hypothesis-seed=N``. Locally failures are also kept in the
  example database (``.hypothesis/``) and replayed first; with ``CI`` set the
  database is off (a fresh clone has nothing to replay, and CI must not write
  into the checkout).
- ``deep``: ten times the examples of every property (``make test-deep``).
- ``mutation``: a tenth of the examples, for mutation runs (``make mutation``),
  where each mutant reruns the tests that reach it.

Property tests size themselves with ``tests.budget.examples(n)``, which scales
``n`` (the default-profile count) by the loaded profile.
"""
from __future__ import annotations

import os

import pytest
from hypothesis import settings

CI = bool(os.environ.get("CI"))

settings.register_profile("default", deadline=None, derandomize=False, print_blob=True,
                          **({"database": None} if CI else {}))
settings.register_profile("deep", parent=settings.get_profile("default"), max_examples=1000)
settings.register_profile("mutation", parent=settings.get_profile("default"), max_examples=10,
                          database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# What a skip of each kind means for the suite; matched against the skip reason (lower case).
_SKIP_KINDS = {
    "chromium": ("chromium", "playwright", "browser"),
    "postgresql": ("postgres", "initdb", "pg_ctl"),
}


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say loudly which real parts were missing: a green run with them skipped proves less."""
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    by_kind: dict[str, list[str]] = {}
    for report in skipped:
        reason = _skip_reason(report)
        kind = next((k for k, words in _SKIP_KINDS.items() if any(w in reason.lower() for w in words)), "other")
        by_kind.setdefault(kind, []).append(reason)
    terminalreporter.write_sep("!", "NOT THE FULL SUITE: some tests were skipped", red=True, bold=True)
    for kind, reasons in sorted(by_kind.items()):
        example = reasons[0].removeprefix("Skipped: ")
        terminalreporter.write_line(f"  {len(reasons)} skipped ({kind}): {example}", red=True, bold=True)
    terminalreporter.write_line("  The full suite needs Chromium (/usr/bin/chromium) and the PostgreSQL server "
                                "binaries (initdb); see README 'Tests'. With CI set these skips fail instead.",
                                red=True, bold=True)


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL server URL without a database (tests/pg.py); use tests.pg.fresh_pg_db for one."""
    from tests.pg import pg_server_url

    yield from pg_server_url()
