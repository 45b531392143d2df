"""Workspace data for app and browser tests: the demo workbook imported as a team's own data."""
from __future__ import annotations

import functools
import io


@functools.lru_cache(maxsize=2)
def demo_workbook(n_lines: int | None = None) -> bytes:
    """The demo workbook's bytes (deterministic; built once per process)."""
    from connectors.export import write_demo_workbook
    from ui.state import DEMO_LINES, DEMO_SEED

    buf = io.BytesIO()
    write_demo_workbook(buf, seed=DEMO_SEED, n_lines=n_lines or DEMO_LINES)
    return buf.getvalue()


def import_demo(store) -> int:
    """The demo workbook imported into `store` as the workspace's own data (not the sandbox): what a
    team that uploaded it would see. Returns the import id."""
    from billing.ingest import IngestOptions
    from services.context import Actor, Workspace
    from services.workspace import import_files

    result = import_files(Workspace(store), Actor("test setup", how="system"),
                          [("demo.xlsx", demo_workbook())], IngestOptions())
    assert result.stored, result.message
    return result.import_id
