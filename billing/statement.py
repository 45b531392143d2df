"""Statements of account (SPEC §16): per customer, as of a date. Pure and vectorised.

`build_statements(invoices, customers, analysis_parts..., as_of)` works on all
customers at once (one sort, one grouped cumulative sum) and `Statements.of`
hands out one customer's slices, so a bulk run of thousands of statements
costs one engine pass. It reuses the engine's results: the line aging
(``billing.aging.line_aging``: open amounts, days, buckets) and the
allocation's effective payments and unapplied credit
(``billing.allocation.allocate``); nothing is re-allocated here.

A statement in one currency of one customer reads::

    opening balance at period_start            (invoiced − paid before the period)
    + every invoice line of the period         (debit; its line code is the reference)
    − every credit note and payment of it      (credit)
    = closing balance as of as_of              (a running balance after each row)

and the closing balance always equals ``open − unapplied``: the open items
(each with days past due, bucket and the amount in dispute) less the credit
not yet applied. Amounts are int64 minor units of the row's currency.
``amount_due`` = closing − disputed, never below 0: what the customer can pay
today to clear the undisputed account (the EPC QR amount).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import pandas as pd

from billing.model import held_amounts

__all__ = ["ACTIVITY_KINDS", "ACTIVITY_COLUMNS", "OPEN_ITEM_COLUMNS", "TOTAL_COLUMNS", "Statements",
           "CustomerStatement", "build_statements", "statements_from", "default_period_start", "disputed_amounts"]

# Order of rows on one day: what was billed first, then what reduced it.
ACTIVITY_KINDS = ("invoice", "credit_note", "payment")
ACTIVITY_COLUMNS = ["customer_id", "currency", "date", "kind", "reference", "invoice_no", "description",
                    "debit", "credit", "balance"]
OPEN_ITEM_COLUMNS = ["customer_id", "currency", "reference", "invoice_no", "line_no", "invoice_date",
                     "due_date", "amount", "open", "days_past_due", "bucket", "in_dispute", "disputed"]
TOTAL_COLUMNS = ["customer_id", "currency", "opening", "invoiced", "credited", "paid", "closing", "open",
                 "overdue", "disputed", "unapplied", "amount_due"]
HEADER_FIELDS = ("name", "email", "language", "currency", "payment_terms_days", "address")


def default_period_start(as_of: pd.Timestamp | str) -> pd.Timestamp:
    """The first day of the month of `as_of`: a month-end run states that month."""
    return pd.Timestamp(as_of).normalize().replace(day=1)


# --------------------------------------------------------------------------- disputes

def disputed_amounts(items: pd.DataFrame, disputes: pd.DataFrame | None) -> np.ndarray:
    """Minor units of each item's open amount held by an open dispute (SPEC §7).

    `items`: rows with ``reference`` (line code) and ``open``. `disputes`: one row
    per disputed line (``line_code``, ``status``; optional ``dispute_id`` and
    ``amount`` = the dispute's amount, the same on each of its lines, and
    ``seq`` = line order). A dispute with an amount holds at most that amount,
    filled over its lines in order (``seq``, else line code); one without an
    amount holds the lines' whole open amounts.
    """
    return held_amounts(disputes, items["reference"], items["open"].to_numpy(dtype=np.int64))


# --------------------------------------------------------------------------- the result

@dataclass(frozen=True)
class CustomerStatement:
    """One customer's statement: the slices of `Statements` for that customer."""

    customer_id: str
    header: dict
    as_of: pd.Timestamp
    period_start: pd.Timestamp
    only_open: bool
    activity: pd.DataFrame
    open_items: pd.DataFrame
    totals: pd.DataFrame
    aging: pd.DataFrame  # currency, bucket, open
    charges: pd.DataFrame | None = None  # billing.interest.late_charges rows, or None (policy off)

    @property
    def currencies(self) -> list[str]:
        return [str(c) for c in self.totals["currency"]]

    def total(self, currency: str, column: str) -> int:
        row = self.totals[self.totals["currency"] == currency]
        return int(row[column].iloc[0]) if len(row) else 0


@dataclass
class Statements:
    """Statements of many customers as of one date (see the module doc for the columns)."""

    as_of: pd.Timestamp
    period_start: pd.Timestamp
    only_open: bool
    headers: pd.DataFrame  # one row per customer: customer_id + HEADER_FIELDS
    activity: pd.DataFrame  # ACTIVITY_COLUMNS, in statement order
    open_items: pd.DataFrame  # OPEN_ITEM_COLUMNS
    totals: pd.DataFrame  # TOTAL_COLUMNS, one row per (customer, currency)
    aging: pd.DataFrame  # customer_id, currency, bucket, open
    charges: pd.DataFrame | None = None
    _rows: dict = field(default_factory=dict, repr=False)

    @property
    def customer_ids(self) -> list[str]:
        return [str(c) for c in self.totals["customer_id"].drop_duplicates()]

    def _index(self, name: str) -> dict[str, np.ndarray]:
        if name not in self._rows:
            frame = getattr(self, name)
            self._rows[name] = ({} if frame is None or len(frame) == 0 else
                                {str(k): v for k, v in frame.groupby("customer_id", sort=False).indices.items()})
        return self._rows[name]

    def _slice(self, name: str, cid: str) -> pd.DataFrame | None:
        frame = getattr(self, name)
        if frame is None:
            return None
        rows = self._index(name).get(cid)
        part = frame.iloc[rows] if rows is not None else frame.iloc[0:0]
        return part.drop(columns="customer_id").reset_index(drop=True)

    def of(self, customer_id: str) -> CustomerStatement:
        """One customer's statement (empty frames when they have nothing to state)."""
        cid = str(customer_id)
        h = self.headers[self.headers["customer_id"] == cid]
        header = {k: (None if pd.isna(v) else v) for k, v in h.iloc[0].items()} if len(h) else {
            "customer_id": cid, **{f: None for f in HEADER_FIELDS}}
        if not header.get("name"):
            header["name"] = cid
        return CustomerStatement(cid, header, self.as_of, self.period_start, self.only_open,
                                 self._slice("activity", cid), self._slice("open_items", cid),
                                 self._slice("totals", cid), self._slice("aging", cid),
                                 self._slice("charges", cid))


# --------------------------------------------------------------------------- building

def _days(values: pd.Series | np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)


def _texts(invoices: pd.DataFrame, column: str) -> pd.Series:
    """`column` of the invoices by line code ("" when the table has no such column)."""
    codes = invoices["line_code"].astype("string")
    values = invoices[column].astype("string") if column in invoices.columns else pd.Series(
        pd.NA, index=invoices.index, dtype="string")
    s = pd.Series(values.to_numpy(), index=codes.to_numpy(), dtype="string")
    return s[~s.index.duplicated()]


def _invoice_rows(aging: pd.DataFrame, descriptions: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": aging["customer_id"].astype("string"), "currency": aging["currency"].astype("string"),
        "date": aging["invoice_date"].to_numpy(dtype="datetime64[ns]"), "kind": "invoice",
        "reference": aging["line_code"].astype("string"), "invoice_no": aging["invoice_no"].astype("string"),
        "description": descriptions.reindex(aging["line_code"].astype(str)).to_numpy(),
        "debit": aging["amount"].to_numpy(dtype=np.int64), "credit": np.zeros(len(aging), dtype=np.int64)})


def _payment_rows(effective: pd.DataFrame, descriptions: pd.Series) -> pd.DataFrame:
    source = effective["source"].astype("string")
    is_cn = (source == "credit_note").to_numpy(dtype=bool, na_value=False)
    reference_text = (effective["reference"].astype("string") if "reference" in effective.columns
                      else pd.Series(pd.NA, index=effective.index, dtype="string"))
    cn_text = descriptions.reindex(effective["payment_id"].astype(str)).to_numpy()
    return pd.DataFrame({
        "customer_id": effective["customer_id"].astype("string"),
        "currency": effective["currency"].astype("string"),
        "date": effective["payment_date"].to_numpy(dtype="datetime64[ns]"),
        "kind": np.where(is_cn, "credit_note", "payment"),
        "reference": effective["payment_id"].astype("string"),
        "invoice_no": effective["invoice_no"].astype("string") if "invoice_no" in effective.columns else pd.NA,
        "description": np.where(is_cn, cn_text, reference_text.to_numpy()),
        "debit": np.zeros(len(effective), dtype=np.int64),
        "credit": effective["amount"].to_numpy(dtype=np.int64)})


def _activity(movements: pd.DataFrame, start_day: int, keys: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(opening per customer/currency, the period's rows with a running balance)."""
    day = _days(movements["date"])
    before = day < start_day
    net = movements["debit"].to_numpy(dtype=np.int64) - movements["credit"].to_numpy(dtype=np.int64)
    opening = (pd.DataFrame({"customer_id": movements["customer_id"][before],
                             "currency": movements["currency"][before], "opening": net[before]})
               .groupby(["customer_id", "currency"], sort=False, as_index=False)["opening"].sum())
    opening = keys.merge(opening, on=["customer_id", "currency"], how="left")
    opening["opening"] = opening["opening"].fillna(0).astype(np.int64)
    period = movements.loc[~before].copy()
    period["_kind"] = pd.Categorical(period["kind"], categories=list(ACTIVITY_KINDS), ordered=True).codes
    period = period.sort_values(["customer_id", "currency", "date", "_kind", "invoice_no", "reference"],
                                kind="stable", na_position="first").drop(columns="_kind")
    period = period.merge(opening, on=["customer_id", "currency"], how="left")
    step = period["debit"].to_numpy(dtype=np.int64) - period["credit"].to_numpy(dtype=np.int64)
    period["balance"] = (period["opening"].to_numpy(dtype=np.int64)
                         + pd.Series(step).groupby([period["customer_id"], period["currency"]], sort=False)
                         .cumsum().to_numpy(dtype=np.int64))
    return opening, period[ACTIVITY_COLUMNS].reset_index(drop=True)


def _open_items(aging: pd.DataFrame, as_of: pd.Timestamp, disputes: pd.DataFrame | None) -> pd.DataFrame:
    a = aging[aging["open"].to_numpy() > 0]
    items = pd.DataFrame({
        "customer_id": a["customer_id"].astype("string"), "currency": a["currency"].astype("string"),
        "reference": a["line_code"].astype("string"), "invoice_no": a["invoice_no"].astype("string"),
        "line_no": a["line_no"].to_numpy(dtype=np.int64),
        "invoice_date": a["invoice_date"].to_numpy(dtype="datetime64[ns]"),
        "due_date": a["due_date"].to_numpy(dtype="datetime64[ns]"),
        "amount": a["amount"].to_numpy(dtype=np.int64), "open": a["open"].to_numpy(dtype=np.int64),
        # days past the due date whatever the aging basis: that is what the customer is late by
        "days_past_due": (as_of.value // 86_400_000_000_000) - _days(a["due_date"]),
        "bucket": pd.Categorical(a["bucket"].to_numpy(), dtype=a["bucket"].dtype), "in_dispute": a["in_dispute"].to_numpy(dtype=bool)})
    items["disputed"] = disputed_amounts(items, disputes)
    items["in_dispute"] = items["in_dispute"].to_numpy() | (items["disputed"].to_numpy() > 0)
    items = items.sort_values(["customer_id", "currency", "due_date", "invoice_no", "line_no"], kind="stable")
    return items[OPEN_ITEM_COLUMNS].reset_index(drop=True)


def _sum_by(frame: pd.DataFrame, value: str | np.ndarray, name: str, keys: pd.DataFrame) -> np.ndarray:
    vals = frame[value].to_numpy(dtype=np.int64) if isinstance(value, str) else value
    g = (pd.DataFrame({"customer_id": frame["customer_id"].to_numpy(), "currency": frame["currency"].to_numpy(),
                       name: vals}).groupby(["customer_id", "currency"], sort=False, as_index=False)[name].sum())
    return keys.merge(g, on=["customer_id", "currency"], how="left")[name].fillna(0).to_numpy(dtype=np.int64)


def _totals(keys: pd.DataFrame, opening: pd.DataFrame, activity: pd.DataFrame, items: pd.DataFrame,
            unapplied: pd.DataFrame, closing: np.ndarray) -> pd.DataFrame:
    t = keys.copy()
    t["opening"] = opening["opening"].to_numpy(dtype=np.int64)
    kind = activity["kind"].to_numpy()
    t["invoiced"] = _sum_by(activity, "debit", "invoiced", keys)
    t["credited"] = _sum_by(activity, np.where(kind == "credit_note", activity["credit"], 0), "credited", keys)
    t["paid"] = _sum_by(activity, np.where(kind == "payment", activity["credit"], 0), "paid", keys)
    t["closing"] = closing
    t["open"] = _sum_by(items, "open", "open", keys)
    t["overdue"] = _sum_by(items, np.where(items["days_past_due"] > 0, items["open"], 0), "overdue", keys)
    t["disputed"] = _sum_by(items, "disputed", "disputed", keys)
    t["unapplied"] = _sum_by(unapplied, "amount", "unapplied", keys)
    t["amount_due"] = np.maximum(t["closing"].to_numpy() - t["disputed"].to_numpy(), 0)
    return t[TOTAL_COLUMNS]


def _headers(customers: pd.DataFrame | None, ids: Iterable[str]) -> pd.DataFrame:
    ids = list(ids)
    out = pd.DataFrame({"customer_id": pd.Series(ids, dtype="string")})
    if customers is None or len(customers) == 0:
        for f in HEADER_FIELDS:
            out[f] = pd.NA
        return out
    first = customers.drop_duplicates("customer_id")
    c = first.set_index(first["customer_id"].astype(str))
    for f in HEADER_FIELDS:
        out[f] = c[f].reindex(ids).to_numpy() if f in c.columns else pd.NA
    return out


def _aging(items: pd.DataFrame) -> pd.DataFrame:
    if len(items) == 0:
        return pd.DataFrame({"customer_id": pd.Series(dtype="string"), "currency": pd.Series(dtype="string"),
                             "bucket": pd.Series(dtype="string"), "open": pd.Series(dtype="int64")})
    g = items.groupby(["customer_id", "currency", "bucket"], sort=True, observed=True, as_index=False)["open"].sum()
    g["bucket"] = g["bucket"].astype("string")
    return g[g["open"] != 0].reset_index(drop=True)


def build_statements(invoices: pd.DataFrame, customers: pd.DataFrame | None, aging: pd.DataFrame,
                     effective_payments: pd.DataFrame, unapplied: pd.DataFrame, as_of: pd.Timestamp | str, *,
                     period_start: pd.Timestamp | str | None = None, only_open: bool = False,
                     customer_ids: Iterable[str] | None = None, disputes: pd.DataFrame | None = None,
                     interest=None) -> Statements:
    """Statements of account as of `as_of` for every customer with something to state.

    `invoices`: the invoices table (descriptions; credit notes' texts).
    `aging`: ``line_aging`` rows as of `as_of` (``Analysis.aging``).
    `effective_payments`, `unapplied`: from the allocation as of `as_of`
    (``Analysis.alloc``). `period_start` (default the first of the month):
    movements before it make the opening balance. `only_open`: no activity
    section (an open-items statement). `customer_ids`: only these.
    `disputes`: open dispute lines (see `disputed_amounts`). `interest`: a
    ``billing.interest.InterestPolicy`` to list late-payment charges that may
    be claimed (never added to a balance), or None.
    """
    as_of = pd.Timestamp(as_of).normalize()
    start = default_period_start(as_of) if period_start is None else pd.Timestamp(period_start).normalize()
    if start > as_of:
        raise ValueError(f"the period starts {start:%Y-%m-%d}, after the statement date {as_of:%Y-%m-%d}")
    wanted = None if customer_ids is None else {str(c) for c in customer_ids}
    if wanted is not None:
        aging = aging[aging["customer_id"].astype(str).isin(wanted)]
        effective_payments = effective_payments[effective_payments["customer_id"].astype(str).isin(wanted)]
        unapplied = unapplied[unapplied["customer_id"].astype(str).isin(wanted)]
    descriptions = _texts(invoices, "description")
    movements = pd.concat([_invoice_rows(aging, descriptions), _payment_rows(effective_payments, descriptions)],
                          ignore_index=True)
    items = _open_items(aging, as_of, disputes)
    keys = (pd.concat([movements[["customer_id", "currency"]], unapplied[["customer_id", "currency"]].astype("string")])
            .drop_duplicates().sort_values(["customer_id", "currency"]).reset_index(drop=True))
    opening, activity = _activity(movements, int(start.value // 86_400_000_000_000), keys)
    closing = opening["opening"].to_numpy(dtype=np.int64) + _sum_by(activity, activity["debit"].to_numpy(
        dtype=np.int64) - activity["credit"].to_numpy(dtype=np.int64), "net", keys)
    totals = _totals(keys, opening, activity, items, unapplied, closing)
    # nothing to say: no balance, no movement in the period, nothing open
    quiet = (totals[["opening", "invoiced", "credited", "paid", "closing", "open", "unapplied"]] == 0).all(axis=1)
    totals = totals[~quiet.to_numpy()].reset_index(drop=True)
    if only_open:
        activity = activity.iloc[0:0]
    charges = None
    if interest is not None:
        from billing.interest import late_charges

        charges = late_charges(items, as_of, interest)
    ids = totals["customer_id"].astype(str).drop_duplicates().tolist()
    return Statements(as_of, start, only_open, _headers(customers, ids), activity, items, totals,
                      _aging(items), charges)


def statements_from(data, analysis, **kw) -> Statements:
    """`build_statements` for a Dataset and its ``billing.analysis.Analysis``."""
    return build_statements(data.invoices, data.customers, analysis.aging, analysis.alloc.effective_payments,
                            analysis.alloc.unapplied, analysis.as_of, **kw)

