"""Bytes for the download buttons: XLSX and CSV through connectors.export (cells neutralised,
money written from minor units with each currency's digits). Pages pass these as callables so a
workbook is only built when the user clicks."""

from __future__ import annotations

import io

import pandas as pd

from billing.analysis import Analysis
from billing.model import Dataset
from billing.report import exceptions_table, refs_text, workbook_tables
from connectors.export import write_csv, write_template_workbook, write_workbook

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIME = "text/csv"


def xlsx_bytes(
    sheets: dict[str, pd.DataFrame], money: dict[str, list[str]] | None = None, currency: str = "currency"
) -> bytes:
    """A workbook of `sheets`; `money` {sheet: [minor-unit columns]} priced in each row's `currency`."""
    buf = io.BytesIO()
    money_columns = {
        sheet: {c: currency for c in cols if c in sheets[sheet]}
        for sheet, cols in (money or {}).items()
        if sheet in sheets and currency in sheets[sheet]
    }
    write_workbook(buf, {name: _plain(frame) for name, frame in sheets.items()}, money_columns=money_columns)
    return buf.getvalue()


def csv_bytes(frame: pd.DataFrame, money: list[str] = (), currency: str = "currency") -> bytes:
    buf = io.BytesIO()
    write_csv(buf, _plain(frame), money_columns={c: currency for c in money if c in frame})
    return buf.getvalue()


def template_bytes() -> bytes:
    buf = io.BytesIO()
    write_template_workbook(buf)
    return buf.getvalue()


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells a spreadsheet can hold: dicts/lists as text, categoricals as strings."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            out[col] = s.astype("string")
        elif s.dtype == object and len(s) and s.map(lambda v: isinstance(v, (dict, list))).any():
            out[col] = s.map(refs_text)
    return out


exceptions_frame = exceptions_table  # the flat exceptions table the report writes, for the page's download


def report_bytes(data: Dataset, analysis: Analysis) -> bytes:
    """The SPEC §11 report as an XLSX workbook: the same tables `cli.py report --format xlsx` writes."""
    tables, money_columns = workbook_tables(data, analysis)
    buf = io.BytesIO()
    write_workbook(buf, tables, money_columns=money_columns)
    return buf.getvalue()
