"""A normalised Dataset as stored bytes and back: one Parquet file per table (and the quarantine).

The workspace keeps every import's normalised tables (not the workbook), so
opening the current data on a cold server is a Parquet read, never a re-parse.
Parquet keeps the pandas dtypes of ``billing/schema.py`` exactly (int64 minor
units, nullable Int64, "string", datetime64[ns], bool), so a Dataset read
back equals the one stored.
"""
from __future__ import annotations

import hashlib
import io
from typing import Any

import pandas as pd

from billing.model import Dataset, SkipNote, TableCount

QUARANTINE = "quarantine"


def table_bytes(frame: pd.DataFrame) -> bytes:
    """One table as a Parquet file (zstd; the index kept, so row order and labels survive)."""
    buf = io.BytesIO()
    frame.to_parquet(buf, engine="pyarrow", compression="zstd", index=True)
    return buf.getvalue()


def read_table(blob: bytes) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(blob), engine="pyarrow")


def dataset_blobs(data: Dataset) -> dict[str, bytes]:
    """The Parquet bytes of every table of `data`, plus its quarantine."""
    out = {name: table_bytes(frame) for name, frame in data.tables.items()}
    out[QUARANTINE] = table_bytes(data.quarantine)
    return out


def dataset_meta(data: Dataset) -> dict[str, Any]:
    """What a Dataset holds besides its tables, as JSON-ready values."""
    return {
        "counts": {t: [c.read, c.accepted, c.quarantined] for t, c in data.counts.items()},
        "notes": [[n.sheet, n.row, n.kind, n.text] for n in data.notes],
        "meta": {"source": data.source, "sheet_map": dict(data.sheet_map), "tables": list(data.tables)},
    }


def dataset_from(blobs: dict[str, bytes], counts: dict, notes: list, meta: dict) -> Dataset:
    """The Dataset stored as `dataset_blobs` + `dataset_meta`."""
    tables = {name: read_table(blobs[name]) for name in meta["tables"]}
    return Dataset(source=meta.get("source", ""), tables=tables, quarantine=read_table(blobs[QUARANTINE]),
                   counts={t: TableCount(*map(int, c)) for t, c in counts.items()},
                   notes=[SkipNote(str(s), int(r), str(k), str(t)) for s, r, k, t in notes],
                   sheet_map=dict(meta.get("sheet_map", {})))


def sha256(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()
