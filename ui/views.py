"""Derived frames more than one page draws (built from an Analysis; money stays in minor units)."""

from __future__ import annotations

from itertools import groupby

import numpy as np
import pandas as pd

MAX_CODES_SHOWN = 5
PAYMENT_COLUMNS = [
    "payment_id",
    "payment_date",
    "customer_id",
    "currency",
    "amount",
    "applied",
    "unapplied",
    "steps",
    "line_codes",
    "source",
    "reference",
]


def _texts(allocations: pd.DataFrame) -> tuple[dict[str, str], dict[str, str]]:
    """payment_id -> its steps ("line, fifo") and the line codes it paid ("A, B, … (+3)")."""
    pid = allocations["payment_id"].to_numpy(dtype=object)
    codes = allocations["line_code"].to_numpy(dtype=object)
    steps = allocations["step"].to_numpy(dtype=object)
    order = np.argsort(pid, kind="stable")  # keeps the engine's order within a payment
    step_text, code_text = {}, {}
    for p, rows in groupby(order.tolist(), key=pid.__getitem__):
        rows = list(rows)
        step_text[p] = ", ".join(dict.fromkeys(steps[rows].tolist()))
        shown = ", ".join(codes[rows[:MAX_CODES_SHOWN]].tolist())
        code_text[p] = shown + (f" … (+{len(rows) - MAX_CODES_SHOWN})" if len(rows) > MAX_CODES_SHOWN else "")
    return step_text, code_text


def payments_table(alloc) -> pd.DataFrame:
    """One row per payment or credit note used as one: amount, applied, unapplied, steps, line codes paid.

    Newest first. `line_codes` lists the first few codes a payment paid and how many more.
    """
    eff, allocations = alloc.effective_payments, alloc.allocations
    applied = allocations.groupby("payment_id")["amount"].sum()
    unapplied = alloc.unapplied.groupby("payment_id")["amount"].sum()
    steps, codes = _texts(allocations)
    out = eff.copy()
    out["applied"] = out["payment_id"].map(applied).fillna(0).astype("int64")
    out["unapplied"] = out["payment_id"].map(unapplied).fillna(0).astype("int64")
    out["steps"] = out["payment_id"].map(steps).astype("string")
    out["line_codes"] = out["payment_id"].map(codes).astype("string")
    return out.sort_values(["payment_date", "payment_id"], ascending=[False, True])[PAYMENT_COLUMNS]
