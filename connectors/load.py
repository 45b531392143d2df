"""Load any supported source into a normalised Dataset: the one entry the app and CLI share."""
from __future__ import annotations

import json
from pathlib import Path

from billing.ingest import IngestOptions, SchemaError, build_dataset
from billing.model import Dataset, RawWorkbook
from connectors.sources import CSV_SUFFIXES, SourceError
from connectors.worker import read_untrusted, read_untrusted_files

__all__ = ["load_dataset", "load_uploads", "load_mapping", "read_files", "source_files", "SourceError",
           "SchemaError", "LoadError"]

LoadError = (SourceError, SchemaError)


def load_dataset(source: str | Path | bytes, options: IngestOptions = IngestOptions(),
                 name: str | None = None) -> Dataset:
    """Read `source` (workbook, CSV, folder of CSVs, or bytes of one) and normalise it.

    Raises SourceError (unreadable file) or SchemaError (missing table/column),
    both with a message meant for the user. A Google Sheets URL
    (https://docs.google.com/spreadsheets/...) is read by connectors.gsheets.
    """
    if isinstance(source, str) and source.strip().startswith("https://docs.google.com/spreadsheets/"):
        from connectors.gsheets import load_sheet_dataset

        return load_sheet_dataset(source.strip(), options)
    raw = read_untrusted(source, name=name)  # a separate, limited process: a hostile file is a message
    return build_dataset(raw, options)


def read_files(files: list[tuple[str, bytes]]) -> RawWorkbook:
    """The raw cells of one uploaded workbook, or of several uploaded CSVs (one per table),
    read in the limited worker process (connectors.worker): a hostile file is a message."""
    if len(files) == 1:
        name, data = files[0]
        return read_untrusted(data, name=name)
    return read_untrusted_files(files)


def load_uploads(files: list[tuple[str, bytes]], options: IngestOptions = IngestOptions()) -> Dataset:
    """One uploaded workbook, or several uploaded CSVs (one per table)."""
    return build_dataset(read_files(files), options)


def source_files(path: str | Path) -> list[tuple[str, bytes]]:
    """The (name, bytes) a local SOURCE stands for: the file, or the CSV files of a folder.

    Read once, so what is fingerprinted is exactly what is parsed.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir()
                       if p.is_file() and not p.name.startswith((".", "~$")) and p.suffix.lower() in CSV_SUFFIXES)
        if not files:
            raise SourceError(f"Folder '{path.name}' has no CSV files (one .csv file per table was expected).")
        return [(p.name, p.read_bytes()) for p in files]
    if not path.is_file():
        raise SourceError(f"'{path}' was not found.")
    return [(path.name, path.read_bytes())]


def load_mapping(path: str | Path) -> dict:
    """A column mapping saved as JSON: {table: {"sheet": ..., "columns": {canonical: header}}}."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SourceError(f"could not read the mapping file {path}: {exc}") from exc
