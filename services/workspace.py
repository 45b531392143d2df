"""The workspace's data: imports, the current import, history and differences, remembered mappings.

An import is the bytes read (upload, CLI SOURCE) or a Google Sheet read,
normalised once and stored with who, when, what and how (SPEC §13). The same
bytes with the same reading options are not stored twice. Whatever cannot be
read stores nothing and says why.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path

import pandas as pd

from billing.changes import Changes, compare_imports
from billing.ingest import IngestOptions, SchemaError, build_dataset
from billing.layout import layout_key
from billing.model import Dataset, RawWorkbook
from billing.roles import Action
from connectors.load import LoadError, load_dataset, load_mapping, read_files, source_files
from connectors.snapshot import dataset_blobs, dataset_from, dataset_meta, sha256
from connectors.store import new_action_id
from services.context import Actor, Workspace, authorize

__all__ = ["IngestOptions", "ImportResult", "Current", "import_files", "import_source", "import_sheet",
           "current_data", "load_import", "read_dataset", "load_mapping", "history", "differences", "prune",
           "remembered_mapping", "remember_mapping", "source_files_of", "fingerprint", "LoadError"]

STORED, UNCHANGED, UNREADABLE = "stored", "unchanged", "unreadable"
FILE_PREFIX = "file:"  # import_chunks.name of the source files kept with an import
MAPPING_PREFIX = "layout:"  # column_mappings.source_key of a layout's remembered mapping


@dataclass
class ImportResult:
    """What an import did. `status`: stored | unchanged (already imported as `import_id`) | unreadable
    (nothing stored; `message` says why; `data` is the read when it got that far, for its report)."""

    status: str
    message: str
    import_id: int | None = None
    data: Dataset | None = None
    layout: str | None = None  # the layout key: where a mapping chosen for these files is remembered
    raw: RawWorkbook | None = None  # the raw cells when they were read (for the mapping editor)
    mapping_note: str | None = None  # "mapping from 2026-12-04 applied"

    @property
    def stored(self) -> bool:
        return self.status in (STORED, UNCHANGED)


@dataclass(frozen=True)
class Current:
    """The workspace's current import: its id, its record (``Store.import_record``) and data."""

    import_id: int
    record: dict = field(hash=False)
    data: Dataset = field(hash=False)

    @property
    def label(self) -> str:
        return f"#{self.import_id} {self.record['source_label']}"


def options_json(options: IngestOptions) -> dict:
    """Reading options as JSON (the mapping included: it changes what is read)."""
    return asdict(options)


def options_from(obj: dict | None) -> IngestOptions:
    return IngestOptions(**obj) if obj else IngestOptions()


def fingerprint(files: list[tuple[str, bytes]], options: IngestOptions, content: bytes = b"") -> str:
    """SHA-256 of the options, each file's name and SHA-256, and any `content` (a sheet read's tables)."""
    h = hashlib.sha256(json.dumps(options_json(options), sort_keys=True, default=str).encode())
    for name, blob in files:
        h.update(name.encode("utf-8") + b"\0" + hashlib.sha256(blob).digest())
    h.update(content)
    return h.hexdigest()


# --------------------------------------------------------------------------- mappings


def remembered_mapping(ws: Workspace, layout: str) -> dict | None:
    """{"mapping", "updated_at", "updated_by"} remembered for a layout, or None."""
    return ws.store.mapping_record(MAPPING_PREFIX + layout)


def remember_mapping(ws: Workspace, actor: Actor, layout: str, mapping: dict) -> None:
    """File `mapping` under `layout`: the next import of the same layout applies it."""
    authorize(ws, actor, Action.MAPPING, detail={"layout": layout})
    ws.store.save_mapping(MAPPING_PREFIX + layout, mapping, action_id=new_action_id(), actor=actor.name)


def _with_remembered(ws: Workspace, raw: RawWorkbook, options: IngestOptions) -> tuple[IngestOptions, str | None]:
    if options.mapping is not None:
        return options, None
    rec = remembered_mapping(ws, layout_key(raw))
    if rec is None:
        return options, None
    when = pd.Timestamp(rec["updated_at"]).strftime("%Y-%m-%d")
    return replace(options, mapping=rec["mapping"]), f"mapping from {when} applied"


# --------------------------------------------------------------------------- imports


def import_files(ws: Workspace, actor: Actor, files: list[tuple[str, bytes]], options: IngestOptions,
                 *, kind: str = "upload", label: str | None = None) -> ImportResult:
    """Import uploaded (name, bytes) files: one workbook or several CSVs."""
    authorize(ws, actor, Action.IMPORT)
    files = [(str(n), bytes(b)) for n, b in files]
    try:
        raw = read_files(files)
    except LoadError as exc:
        return ImportResult(UNREADABLE, _message(exc))
    return _import_raw(ws, actor, raw, options, files, kind, label or ", ".join(n for n, _ in files))


def import_source(ws: Workspace, actor: Actor, source: str | Path, options: IngestOptions,
                  *, kind: str = "cli") -> ImportResult:
    """Import a local SOURCE (workbook, CSV, folder of CSVs) or a Google Sheet URL."""
    authorize(ws, actor, Action.IMPORT)
    text = str(source).strip()
    if text.startswith("https://docs.google.com/spreadsheets/"):
        from connectors.gsheets import read_sheet_url

        try:
            raw = read_sheet_url(text)
        except LoadError as exc:
            return ImportResult(UNREADABLE, _message(exc))
        return import_sheet(ws, actor, raw, options, label=getattr(raw, "title", "") or text, kind=kind)
    try:
        files = source_files(text)
    except LoadError as exc:
        return ImportResult(UNREADABLE, _message(exc))
    return import_files(ws, actor, files, options, kind=kind, label=Path(text).name)


def import_sheet(ws: Workspace, actor: Actor, raw: RawWorkbook, options: IngestOptions, *, label: str,
                 kind: str = "gsheet") -> ImportResult:
    """Import a Google Sheet already read into raw cells (its normalised tables are its fingerprint)."""
    authorize(ws, actor, Action.IMPORT)
    return _import_raw(ws, actor, raw, options, [], kind, f"{label} (Google Sheet)")


def _already(ws: Workspace, actor: Actor, fp: str) -> int | None:
    """The import stored with fingerprint `fp` (made current again), or None."""
    hit = ws.store.imports()
    hit = hit[hit["fingerprint"] == fp]
    if not len(hit):
        return None
    import_id = int(hit["id"].iloc[0])
    ws.store.set_current_import(import_id, action_id=new_action_id(), actor=actor.name)
    return import_id


def _unchanged(import_id: int, layout: str, raw: RawWorkbook, note: str | None) -> ImportResult:
    return ImportResult(UNCHANGED, f"Already imported as #{import_id} (the same data read with the same "
                                   "options): nothing new was stored.",
                        import_id=import_id, layout=layout, raw=raw, mapping_note=note)


def _import_raw(ws: Workspace, actor: Actor, raw: RawWorkbook, options: IngestOptions,
                files: list[tuple[str, bytes]], kind: str, label: str) -> ImportResult:
    """Normalise `raw` (with the layout's remembered mapping unless `options` has one) and store it."""
    layout = layout_key(raw)
    used, note = _with_remembered(ws, raw, options)
    if files and (known := _already(ws, actor, fingerprint(files, used))) is not None:
        return _unchanged(known, layout, raw, note)
    try:
        data = build_dataset(raw, used)
    except SchemaError as exc:
        return ImportResult(UNREADABLE, _message(exc), layout=layout, raw=raw, mapping_note=note)
    inv = data.counts["invoices"]
    if inv.accepted == 0:
        why = ("The invoices table has no rows under its header." if inv.read == 0 else
               f"None of the {inv.read:,} invoice rows could be read (each is listed with the reason).")
        return ImportResult(UNREADABLE, why + " Nothing was stored.", data=data, layout=layout, raw=raw,
                            mapping_note=note)
    blobs = dataset_blobs(data)
    content = b"" if files else b"".join(sha256(blobs[k]).encode() for k in sorted(blobs))
    fp = fingerprint(files, used, content)
    if not files and (known := _already(ws, actor, fp)) is not None:
        return _unchanged(known, layout, raw, note)
    if options.mapping is not None:  # chosen by hand for these files: remembered for their layout
        remember_mapping(ws, actor, layout, options.mapping)
    record = {"fingerprint": fp, "source_kind": kind, "source_label": label, "layout_key": layout,
              "files": [{"name": n, "sha256": hashlib.sha256(b).hexdigest(), "bytes": len(b)} for n, b in files],
              "options": options_json(options), "mapping": used.mapping, **dataset_meta(data),
              "n_lines": int(inv.accepted), "n_payments": int(data.counts["payments"].accepted),
              "n_quarantined": int(len(data.quarantine))}
    blobs.update({f"{FILE_PREFIX}{i}": b for i, (_, b) in enumerate(files)})  # for the codes write-back
    import_id, created = ws.store.save_import(record, blobs, action_id=new_action_id(), actor=actor.name)
    if not created:
        return _unchanged(import_id, layout, raw, note)
    q = sum(c.quarantined for c in data.counts.values())
    extra = f" {q:,} row(s) were quarantined and left out." if q else ""
    return ImportResult(STORED, f"Stored as import #{import_id}: {inv.accepted:,} invoice lines, "
                                f"{data.counts['payments'].accepted:,} payments.{extra}",
                        import_id=import_id, data=data, layout=layout, raw=raw, mapping_note=note)


def source_files_of(ws: Workspace, import_id: int) -> list[tuple[str, bytes]]:
    """The files an import was read from (name, bytes); empty for a Google Sheet."""
    rec = ws.store.import_record(import_id)
    names = [f"{FILE_PREFIX}{i}" for i in range(len(rec["files"]))] if rec else []
    blobs = ws.store.import_tables(import_id, names) if names else {}
    return [(f["name"], blobs[n]) for f, n in zip(rec["files"], names) if n in blobs] if rec else []


def _message(exc: BaseException) -> str:
    return getattr(exc, "message", None) or str(exc)


# --------------------------------------------------------------------------- reading back


def read_dataset(source: str | Path, options: IngestOptions = IngestOptions()) -> Dataset:
    """SOURCE read and normalised without storing it (``cli.py check|codes|report SOURCE``).
    Raises connectors.load.LoadError with a message for the user."""
    return load_dataset(source, options)



def current_import_id(ws: Workspace) -> int | None:
    return ws.store.current_import_id()


def load_import(ws: Workspace, import_id: int) -> Dataset:
    """An import's Dataset, read from its stored tables (no re-parse of the source)."""
    rec = ws.store.import_record(import_id)
    if rec is None:
        raise KeyError(f"there is no import #{import_id}")
    return dataset_from(ws.store.import_tables(import_id), rec["counts"], rec["notes"], rec["meta"])


def current_data(ws: Workspace) -> Current | None:
    """The workspace's current import (None while nothing was imported)."""
    import_id = ws.store.current_import_id()
    if import_id is None:
        return None
    return Current(import_id, ws.store.import_record(import_id), load_import(ws, import_id))


def history(ws: Workspace) -> pd.DataFrame:
    """Imports newest first: id, created_at, actor, source_kind, source_label, n_lines, n_payments,
    n_quarantined, current (bool)."""
    frame = ws.store.imports().drop(columns=["fingerprint", "layout_key"])
    frame["current"] = frame["id"] == (ws.store.current_import_id() or -1)
    return frame


def _tables(ws: Workspace, import_id: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    from connectors.snapshot import read_table

    blobs = ws.store.import_tables(import_id, ["invoices", "payments"])
    return read_table(blobs["invoices"]), read_table(blobs["payments"])


def differences(ws: Workspace, import_id: int) -> Changes | None:
    """What import `import_id` changed since the import before it (None for the first import).

    Changed or removed lines with a reminder sent or in an open dispute are flagged.
    """
    before = ws.store.previous_import_id(import_id)
    if before is None:
        return None
    old_lines, old_pay = _tables(ws, before)
    new_lines, new_pay = _tables(ws, import_id)
    log = ws.store.reminder_log()
    reminded = set(log.loc[log["status"] == "sent", "line_code"].astype(str))
    disputed = set(ws.store.open_dispute_lines()["line_code"].astype(str))
    return compare_imports(old_lines, new_lines, old_pay, new_pay, reminded, disputed)


def prune(ws: Workspace, actor: Actor, keep: int) -> list[int]:
    """Delete all but the `keep` newest imports (never the current one); returns the ids deleted."""
    authorize(ws, actor, Action.RETENTION, detail={"keep": int(keep)})
    return ws.store.prune_imports(keep, action_id=new_action_id(), actor=actor.name)


def imported_at(record: dict) -> str:
    when = record["created_at"]
    return when.strftime("%Y-%m-%d %H:%M UTC") if isinstance(when, datetime) else str(when)
