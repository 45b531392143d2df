"""A source's layout: its sheet names and header rows, the key a remembered column mapping is filed under.

Two workbooks with the same sheets and the same header texts (the next
month's export of the same system) have the same layout, whatever their
rows hold, so the mapping chosen for one applies to the other (SPEC §13).
"""
from __future__ import annotations

import hashlib
import json

import pandas as pd

from billing.model import RawSheet, RawWorkbook
from billing.tabular import HEAD_ROWS


def header_texts(sheet: RawSheet) -> list[str]:
    """The texts of the sheet's likeliest header row: among the first HEAD_ROWS non-blank rows, the one
    with the most text cells (first such row wins), each text once, in column order."""
    best: list[str] = []
    seen = 0
    for row in sheet.cells.head(300).itertuples(index=False):  # a few hundred cells: no engine loop
        texts = [str(v).strip() for v in row if isinstance(v, str) and v.strip()]
        if not texts and all(pd.isna(v) for v in row):
            continue
        seen += 1
        if len(texts) > len(best):
            best = texts
        if seen >= HEAD_ROWS:
            break
    return list(dict.fromkeys(best))


def layout_signature(raw: RawWorkbook) -> list[list]:
    """[[sheet name, [header texts]], ...] in sheet order (header texts case-folded)."""
    return [[s.name, [t.casefold() for t in header_texts(s)]] for s in raw.sheets]


def layout_key(raw: RawWorkbook) -> str:
    """A short stable key of the layout (SHA-256 of the signature, 32 hex digits)."""
    blob = json.dumps(layout_signature(raw), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]
