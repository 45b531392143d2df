"""What changed between two imports of a workspace: invoice lines and payments added, removed, changed.

Lines are matched on ``line_code`` and payments on ``payment_id`` (both
unique after ingest). A line changed when its amount, due date or customer
differs; a payment when its amount, date, customer or currency does. Lines
already acted on (a reminder sent, or an open dispute) are flagged: a change
under a reminder or a dispute is what finance must look at first.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

LINE_FIELDS = ("amount", "due_date", "customer_id")
PAYMENT_FIELDS = ("amount", "payment_date", "customer_id", "currency")
CHANGE_KINDS = ("added", "removed", "changed")


@dataclass
class Changes:
    """`lines`: line_code, change, invoice_no, currency, then old_/new_ of each LINE_FIELDS, what
    (the changed fields, e.g. "amount, due_date"), flag ("" | "reminder sent" | "open dispute" | both).
    `payments`: payment_id, change, currency, old_/new_ of each PAYMENT_FIELDS, what."""

    lines: pd.DataFrame
    payments: pd.DataFrame

    def counts(self) -> dict[str, dict[str, int]]:
        """{"lines": {"added": n, "removed": n, "changed": n}, "payments": {...}}."""
        return {name: {k: int((frame["change"] == k).sum()) for k in CHANGE_KINDS}
                for name, frame in (("lines", self.lines), ("payments", self.payments))}

    @property
    def empty(self) -> bool:
        return not len(self.lines) and not len(self.payments)


def _differs(old: pd.Series, new: pd.Series) -> np.ndarray:
    """Elementwise "not the same value" with missing == missing."""
    o_na, n_na = old.isna().to_numpy(), new.isna().to_numpy()
    same = (old == new).fillna(False).to_numpy(dtype=bool) | (o_na & n_na)
    return ~same


def compare(old: pd.DataFrame, new: pd.DataFrame, key: str, fields: tuple[str, ...],
            keep: tuple[str, ...] = ()) -> pd.DataFrame:
    """Rows of `new` not in `old` (added), of `old` not in `new` (removed), and in both with a differing
    field (changed): key, change, the `keep` columns (new value, else old), old_<f>, new_<f>, what."""
    cols = [key, *dict.fromkeys((*fields, *keep))]
    merged = old[cols].merge(new[cols], on=key, how="outer", suffixes=("_old", "_new"), indicator=True)
    side = merged["_merge"].astype(str).to_numpy()
    changed_any = np.zeros(len(merged), dtype=bool)
    what = np.full(len(merged), "", dtype=object)
    for f in fields:
        d = _differs(merged[f"{f}_old"], merged[f"{f}_new"]) & (side == "both")
        changed_any |= d
        what = np.where(d, np.where(what == "", f, what + ", " + f), what)
    change = np.select([side == "right_only", side == "left_only", changed_any],
                       ["added", "removed", "changed"], default="")
    out = pd.DataFrame({key: merged[key], "change": change})
    for k in keep:
        if k not in fields:
            out[k] = merged[f"{k}_new"].where(side != "left_only", merged[f"{k}_old"])
    for f in fields:
        out[f"old_{f}"] = merged[f"{f}_old"]
        out[f"new_{f}"] = merged[f"{f}_new"]
    out["what"] = what
    out = out[out["change"] != ""]
    order = out["change"].map({k: i for i, k in enumerate(CHANGE_KINDS)})
    return out.assign(_o=order).sort_values(["_o", key], kind="stable").drop(columns="_o") \
        .reset_index(drop=True).astype({"change": "string", "what": "string"})


def compare_imports(old_lines: pd.DataFrame, new_lines: pd.DataFrame, old_payments: pd.DataFrame,
                    new_payments: pd.DataFrame, reminded: set[str] | None = None,
                    disputed: set[str] | None = None) -> Changes:
    """The Changes from one import's invoices/payments tables to the next one's.

    `reminded`: line codes a reminder was sent for; `disputed`: line codes in
    an open dispute. Changed and removed lines among them are flagged.
    """
    lines = compare(old_lines, new_lines, "line_code", LINE_FIELDS, keep=("invoice_no", "currency"))
    codes = lines["line_code"].astype(str)
    acted = lines["change"].isin(["changed", "removed"]).to_numpy(dtype=bool)
    r = codes.isin(reminded or set()).to_numpy() & acted
    d = codes.isin(disputed or set()).to_numpy() & acted
    flag = np.where(r & d, "reminder sent, open dispute", np.where(r, "reminder sent",
                                                                   np.where(d, "open dispute", "")))
    lines["flag"] = pd.array(flag, dtype="string")
    payments = compare(old_payments, new_payments, "payment_id", PAYMENT_FIELDS)
    return Changes(lines=lines, payments=payments)
