"""Bytes for the download buttons: XLSX and CSV through connectors.export (cells neutralised,
money written from minor units with each currency's digits). Pages pass these as callables so a
workbook is only built when the user clicks."""

from __future__ import annotations

import io

import pandas as pd

from billing.analysis import Analysis
from billing.model import Dataset
from billing.reconcile import EXCEPTION_TYPES
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


def refs_text(refs) -> str:
    """{"line_codes": ["A-001X"], "payment_ids": ["P1"]} -> "line codes: A-001X; payment ids: P1"."""
    if isinstance(refs, dict):
        return "; ".join(f"{k.replace('_', ' ')}: {', '.join(map(str, v))}" for k, v in refs.items() if v)
    if isinstance(refs, list):
        return ", ".join(map(str, refs))
    return "" if refs is None else str(refs)


def exceptions_frame(exceptions: pd.DataFrame, default_currency: str) -> pd.DataFrame:
    """Exceptions as a flat table: refs as text, currency filled (the policy's default when none)."""
    if not len(exceptions):
        return pd.DataFrame(
            columns=["type", "severity", "customer_id", "currency", "amount", "refs", "message", "action"]
        )
    out = exceptions.assign(
        currency=exceptions["currency"].fillna(default_currency), refs=exceptions["refs"].map(refs_text)
    )
    out.insert(2, "description", out["type"].map(lambda t: EXCEPTION_TYPES.get(t, {}).get("description", "")))
    return out[
        ["type", "severity", "description", "customer_id", "currency", "amount", "refs", "message", "action"]
    ]


REPORT_MONEY = {
    "customers": ["open", "unapplied", "net", "in_dispute"],
    "lines": ["amount", "allocated", "open"],
    "allocations": ["amount"],
    "unapplied": ["amount"],
    "exceptions": ["amount"],
    "kpis": ["total_open", "overdue", "unapplied", "in_dispute", "credit_sales"],
    "summary": ["invoiced", "allocated", "open", "overdue", "unapplied", "in_dispute"],
}


def report_bytes(data: Dataset, analysis: Analysis) -> bytes:
    """The SPEC §11 report's sections as an XLSX workbook (billing.report.report_tables)."""
    from billing.report import report_tables

    tables = report_tables(data, analysis)
    buckets = analysis.policy.bucket_labels
    money = {k: list(v) + (buckets if k in ("summary", "customers") else []) for k, v in REPORT_MONEY.items()}
    if "exceptions" in tables:
        tables["exceptions"] = exceptions_frame(analysis.exceptions, analysis.policy.default_currency)
    about = pd.DataFrame(
        {
            "item": ["as of", "basis", "source"],
            "value": [analysis.as_of.strftime("%Y-%m-%d"), analysis.policy.basis, data.source],
        }
    )
    return xlsx_bytes({"about": about, **tables}, money)
