"""The column-mapping editor: when automatic matching misses a required table or column, the user
points at the sheet and the header by hand. The mapping has the shape `billing.tabular.locate_tables`
takes ({table: {"sheet": name, "columns": {canonical: header text}}}) and is remembered in the
workspace per source layout (services.workspace.remember_mapping)."""

from __future__ import annotations

import re

import streamlit as st

from billing.layout import header_texts
from billing.model import RawWorkbook
from billing.schema import TABLES, column_keys, header_key
from billing.tabular import locate_tables

CHOOSE = "(choose)"
_SHEET_IN_MESSAGE = re.compile(r"Sheet '([^']+)'")


def unresolved(raw: RawWorkbook, mapping: dict | None) -> dict[str, str]:
    """{table: message} for what automatic matching (plus `mapping`) could not find."""
    return dict(locate_tables(raw, mapping=mapping).missing)


def guess(table: str, column: str, texts: list[str]) -> str | None:
    keys = column_keys(TABLES[table])[column]
    return next((t for t in texts if header_key(t) in keys), None)


def render_editor(raw: RawWorkbook, missing: dict[str, str], mapping: dict | None) -> dict | None:
    """Sheet and header pickers for each unresolved table; the new mapping when the user applies it."""
    mapping = {k: dict(v) for k, v in (mapping or {}).items()}
    sheets = [s.name for s in raw.sheets]
    by_name = {s.name: s for s in raw.sheets}
    chosen: dict[str, dict] = {}
    for table, message in missing.items():
        spec = TABLES[table]
        st.markdown(f"**{table}** — needs {', '.join(spec.required_columns)}")
        hint = _SHEET_IN_MESSAGE.search(message)
        default = mapping.get(table, {}).get("sheet") or (hint.group(1) if hint else None)
        sheet = st.selectbox(
            f"Sheet holding {table}",
            sheets,
            key=f"data_map_{table}_sheet",
            index=sheets.index(default) if default in sheets else None,
            placeholder="Choose the sheet",
        )
        if sheet is None:
            continue
        texts = header_texts(by_name[sheet])
        columns: dict[str, str] = {}
        cols = st.columns(max(len(spec.required_columns), 1))
        for col, name in zip(cols, spec.required_columns):
            before = mapping.get(table, {}).get("columns", {}).get(name) or guess(table, name, texts)
            options = [CHOOSE, *texts]
            pick = col.selectbox(
                name,
                options,
                key=f"data_map_{table}_{name}",
                index=options.index(before) if before in options else 0,
                help=f"The header of the column holding {name}.",
            )
            if pick and pick != CHOOSE:
                columns[name] = pick
        chosen[table] = {"sheet": sheet, "columns": columns}
    if st.button(
        "Apply mapping and read again",
        key="data_map_apply",
        type="primary",
        disabled=not chosen,
        icon=":material/sync:",
    ):
        for table, spec in chosen.items():
            old = mapping.get(table, {})
            mapping[table] = {
                "sheet": spec["sheet"],
                "columns": {**old.get("columns", {}), **spec["columns"]},
            }
        return mapping
    return None
