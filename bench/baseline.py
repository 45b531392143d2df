"""A module as it was at an earlier commit, for benchmarks that time "before" and "after" in one run.

Loading the old source from git keeps one copy of each implementation in the tree.
"""
from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# billing/reconcile.py before it was rewritten on integer-coded keys.
RECONCILE_BEFORE = "defbd4a"


def module_at(rev: str, path: str, name: str) -> types.ModuleType:
    """Import `path` as it was at git revision `rev`, under the module name `name`."""
    if name in sys.modules:
        return sys.modules[name]
    source = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout
    module = types.ModuleType(name)
    module.__file__ = f"{rev}:{path}"
    sys.modules[name] = module  # before exec: dataclasses look their module up
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def reconcile_before() -> types.ModuleType:
    return module_at(RECONCILE_BEFORE, "billing/reconcile.py", "_reconcile_before")
