"""Build normalised tables in tests with only the columns a test cares about.

Amounts are minor units (ints); dates are ISO strings or Timestamps. Missing
columns get the canonical defaults, so every frame has the dtypes that
`billing.ingest.build_dataset` produces (docs/DESIGN.md).
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from billing.linecode import make_codes
from billing.model import RawSheet, RawWorkbook, empty_table


def _frame(table: str, rows: list[dict[str, Any]], defaults: dict[str, Any]) -> pd.DataFrame:
    base = empty_table(table)
    data = pd.DataFrame([{**defaults, **r} for r in rows]) if rows else pd.DataFrame(columns=list(base.columns))
    out = {}
    for col in base.columns:
        dtype = base[col].dtype
        missing = pd.NA if str(dtype) != "int64" else 0
        values = data[col] if col in data.columns else pd.Series([missing] * len(data))
        if str(dtype).startswith("datetime"):
            out[col] = pd.to_datetime(values).astype("datetime64[ns]")
        elif str(dtype) == "float64":
            out[col] = pd.to_numeric(values, errors="coerce").astype("float64")
        elif str(dtype) == "bool":
            out[col] = values.fillna(False).astype("bool")
        else:
            out[col] = values.astype(dtype) if len(values) else pd.Series(dtype=dtype)
    return pd.DataFrame(out).reset_index(drop=True)


def make_invoices(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Invoice lines; line_no defaults to 1, due_date to invoice_date + 30, code is derived."""
    rows = [dict(r) for r in rows]
    for r in rows:
        r.setdefault("line_no", 1)
        if "due_date" not in r:
            r["due_date"] = pd.Timestamp(r["invoice_date"]) + pd.Timedelta(days=30)
            r["due_date_derived"] = True
        r.setdefault("kind", "credit_note" if r["amount"] < 0 else "invoice")
    df = _frame("invoices", rows, {"currency": "USD", "_sheet": "invoices"})
    if len(df):
        derived = make_codes(df["invoice_no"], df["line_no"])
        df["line_code_given"] = df["line_code"].notna()
        df["line_code"] = df["line_code"].fillna(derived).astype("string")
        df["line_code_original"] = df["line_code"]
    df["_row"] = pd.RangeIndex(2, 2 + len(df)).astype("int64") if len(df) else df["_row"]
    return df


def make_payments(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = _frame("payments", rows, {"currency": "USD", "_sheet": "payments"})
    df["_row"] = pd.RangeIndex(2, 2 + len(df)).astype("int64") if len(df) else df["_row"]
    return df


def make_customers(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = _frame("customers", rows, {"_sheet": "customers"})
    df["_row"] = pd.RangeIndex(2, 2 + len(df)).astype("int64") if len(df) else df["_row"]
    return df


def make_orders(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = _frame("orders", rows, {"currency": "USD", "billing_block": pd.NA, "_sheet": "orders"})
    df["_row"] = pd.RangeIndex(2, 2 + len(df)).astype("int64") if len(df) else df["_row"]
    return df


def raw_book(*sheets: tuple[str, list[list[Any]]]) -> RawWorkbook:
    """A RawWorkbook of (sheet name, rows of cells) as a reader gives it; short rows padded."""
    out = []
    for name, rows in sheets:
        width = max((len(r) for r in rows), default=0)
        cells = pd.DataFrame([list(r) + [None] * (width - len(r)) for r in rows], dtype=object)
        out.append(RawSheet(name, cells))
    return RawWorkbook("test", out)
