"""Bank statement entries as one normalised frame, whatever the file format (SPEC §17).

The readers in `connectors/bank/` (camt.053/054, MT940, bank CSV) collect raw texts per
transaction and hand them to :func:`entries_frame`; everything after that is one code path:

* one row per transaction (a batch entry with several `TxDtls` is one row per TxDtls);
* `amount` is a positive int64 in minor units of `currency`, `direction` says "credit"
  (money in) or "debit" (money out);
* `status` is "booked" or "pending" (pending entries are shown, never booked as payments);
* `reversal` marks an entry that reverses an earlier one (camt `RvslInd`, MT940 "RC"/"RD").

`payment_id` (:func:`payment_ids`) is the bank's own reference for the transaction (its
`AcctSvcrRef` or bank reference), else the end-to-end id when the payer gave one, else a hash of
account, booking date, amount, currency and text: the same transaction read twice, from the same
statement or an overlapping one, has the same id.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from billing.money import format_minor, parse_money

# Column -> dtype of the entries frame. payer_* is the other party: the payer of a credit, the
# payee of a debit. `entry` numbers the transaction as the file does ("7" or "7.3" for the third
# TxDtls of entry 7); `statement` is the statement's id in the file (camt Stmt/Id, MT940 :20:).
ENTRY_COLUMNS: dict[str, str] = {
    "source": "string", "statement": "string", "account": "string", "entry": "string",
    "booking_date": "datetime64[ns]", "value_date": "datetime64[ns]",
    "amount": "int64", "currency": "string", "direction": "string", "status": "string",
    "reversal": "bool", "entry_ref": "string", "end_to_end_id": "string",
    "payer_name": "string", "payer_iban": "string", "remittance": "string",
    "creditor_ref": "string", "bank_text": "string", "batch_size": "int64",
}
TEXT_COLUMNS = [c for c, t in ENTRY_COLUMNS.items() if t == "string"]
BALANCE_COLUMNS = ("statement", "account", "currency", "opening", "closing")
# End-to-end ids that say "the payer gave none".
NO_REFERENCE = frozenset({"NOTPROVIDED", "NONREF", "NOT PROVIDED", ""})


class StatementError(ValueError):
    """A statement that cannot be read; the message is the sentence to show."""


@dataclass
class Statement:
    """What one file held: its transactions, the balances it states and what was odd about it.

    `balances` has one row per statement in the file (statement, account, currency, opening,
    closing in minor units, <NA> when the file states none). `warnings` are plain sentences.
    """

    source: str
    format: str
    entries: pd.DataFrame
    balances: pd.DataFrame
    warnings: list[str] = field(default_factory=list)


def _blank_to_na(s: pd.Series) -> pd.Series:
    s = s.astype("string").str.strip()
    return s.mask(s == "")


def entries_frame(records: dict[str, list], decimal: str, source: str) -> pd.DataFrame:
    """The entries frame from a reader's column lists.

    records: column -> list of raw values, all of one length. `amount` holds decimal texts
        ("1692.22", "500,", "-99,80"); `direction` may be missing (None) where the sign of the
        amount says it (bank CSV). Dates are ISO texts (YYYY-MM-DD) or missing.
    decimal: the decimal separator of the amount texts ("." or ",").
    Raises StatementError naming the first entry whose amount cannot be read exactly.
    """
    n = len(records.get("amount", ()))
    cols = {c: pd.Series(records.get(c, [None] * n), dtype="object") for c in ENTRY_COLUMNS}
    currency = _blank_to_na(cols["currency"]).str.upper()
    parsed = parse_money(cols["amount"], currency.fillna(""), decimal=decimal)
    bad = parsed.error.notna() | parsed.blank
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        why = parsed.error.iloc[i] if pd.notna(parsed.error.iloc[i]) else "is blank"
        raise StatementError(f"Entry {cols['entry'].iloc[i]}: the amount {cols['amount'].iloc[i]!r} "
                             f"{why}; the file may be damaged or not a bank statement.")
    signed = parsed.minor.astype("int64")
    given = _blank_to_na(cols["direction"]).str.lower()
    direction = given.fillna(pd.Series(np.where(signed.to_numpy() < 0, "debit", "credit"))).astype("string")
    out = pd.DataFrame({c: _blank_to_na(cols[c]) for c in TEXT_COLUMNS})
    out["source"] = source
    out["currency"] = currency
    out["direction"] = direction
    out["status"] = _blank_to_na(cols["status"]).fillna("booked")
    out["amount"] = np.abs(signed.to_numpy())
    for c in ("booking_date", "value_date"):
        out[c] = pd.to_datetime(cols[c], format="%Y-%m-%d", errors="coerce")
    out["booking_date"] = out["booking_date"].fillna(out["value_date"])
    out["reversal"] = cols["reversal"].fillna(False).astype(bool)
    out["batch_size"] = pd.to_numeric(cols["batch_size"], errors="coerce").fillna(1).astype("int64")
    return out[list(ENTRY_COLUMNS)]


def empty_entries() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in ENTRY_COLUMNS.items()})


def payment_ids(entries: pd.DataFrame) -> pd.Series:
    """The stable id of every transaction (module doc): bank reference, else end-to-end id, else
    a hash. A reference that repeats within the file for different transactions (a bank that
    puts one batch reference on each of them) is made unique with the transaction's hash."""
    e2e = entries["end_to_end_id"].where(~entries["end_to_end_id"].str.upper().isin(NO_REFERENCE))
    chosen = entries["entry_ref"].fillna(e2e)
    hashed = _hashes(entries)
    repeated = chosen.notna() & chosen.duplicated(keep=False)
    ids = chosen.mask(repeated, chosen + "/" + hashed.str[:8]).fillna("bank-" + hashed)
    # identical transactions without any reference (same account, day, amount and text)
    k = ids.groupby(ids).cumcount()
    return ids.where(k == 0, ids + "/" + (k + 1).astype("string")).astype("string").rename("payment_id")


def _hashes(entries: pd.DataFrame) -> pd.Series:
    key = (entries["account"].fillna("") + "|" + entries["booking_date"].dt.strftime("%Y-%m-%d").fillna("")
           + "|" + entries["direction"].fillna("") + entries["amount"].astype("string") + "|"
           + entries["currency"].fillna("") + "|" + entries["remittance"].fillna("") + "|"
           + entries["payer_iban"].fillna(""))
    # hashlib per distinct key: no vectorised SHA-256 exists; a statement's size bounds it
    uniq = pd.unique(key.to_numpy(dtype=object))
    digest = {k: hashlib.sha256(k.encode()).hexdigest()[:16] for k in uniq}
    return key.map(digest).astype("string")


def mark_reversals(entries: pd.DataFrame) -> pd.DataFrame:
    """Pair each booked reversal with the entry it reverses; both are then `cancelled`.

    The reversed entry is an earlier-or-same-day booked entry of the same account and currency,
    the same amount, the opposite direction, not itself a reversal, and with the same end-to-end
    id when both have one. Each original is cancelled at most once (first reversal, first
    original in file order). Adds `cancelled` (bool) and `reverses` (the entry it cancels).
    """
    out = entries.copy()
    out["cancelled"] = False
    out["reverses"] = pd.Series(pd.NA, index=out.index, dtype="string")
    booked = out["status"] == "booked"
    rev = out[booked & out["reversal"]].reset_index(names="_r")
    orig = out[booked & ~out["reversal"]].reset_index(names="_o")
    if rev.empty or orig.empty:
        return out
    rev["_want"] = np.where(rev["direction"] == "credit", "debit", "credit")
    keys = ["account", "currency", "amount"]
    pairs = rev[keys + ["_r", "_want", "end_to_end_id", "booking_date"]].merge(
        orig[keys + ["_o", "direction", "end_to_end_id", "booking_date"]], on=keys, suffixes=("", "_o"))
    same_ref = pairs["end_to_end_id"].isna() | pairs["end_to_end_id_o"].isna() | \
        (pairs["end_to_end_id"] == pairs["end_to_end_id_o"])
    pairs = pairs[(pairs["direction"] == pairs["_want"]) & same_ref
                  & (pairs["booking_date_o"] <= pairs["booking_date"])].sort_values(["_r", "_o"])
    pairs = _one_to_one(pairs)
    out.loc[pairs["_r"].to_numpy(), "cancelled"] = True
    out.loc[pairs["_o"].to_numpy(), "cancelled"] = True
    out.loc[pairs["_r"].to_numpy(), "reverses"] = out.loc[pairs["_o"].to_numpy(), "entry"].to_numpy()
    return out


def _one_to_one(pairs: pd.DataFrame) -> pd.DataFrame:
    """Greedy one-to-one pairing in (reversal, original) order; rounds until nothing changes
    (each round takes, per reversal, its first original not taken yet)."""
    taken_r: set = set()
    taken_o: set = set()
    chosen = []
    while not pairs.empty:
        first = pairs.drop_duplicates("_r")
        first = first.drop_duplicates("_o")
        chosen.append(first)
        taken_r |= set(first["_r"])
        taken_o |= set(first["_o"])
        pairs = pairs[~pairs["_r"].isin(taken_r) & ~pairs["_o"].isin(taken_o)]
    return pd.concat(chosen) if chosen else pairs


def balance_warnings(entries: pd.DataFrame, balances: pd.DataFrame) -> list[str]:
    """One sentence per statement whose opening balance + booked entries ≠ closing balance."""
    if balances.empty:
        return []
    booked = entries[entries["status"] == "booked"]
    signed = np.where(booked["direction"] == "credit", booked["amount"], -booked["amount"])
    net = pd.Series(signed, index=booked.index).groupby(booked["statement"].fillna("")).sum()
    b = balances.dropna(subset=["opening", "closing"]).copy()
    b["net"] = b["statement"].fillna("").map(net).fillna(0).astype("int64")
    b["diff"] = b["closing"].astype("int64") - b["opening"].astype("int64") - b["net"]
    out = []
    for r in b[b["diff"] != 0].itertuples():  # one sentence per bad statement, not per entry
        f = lambda v: format_minor(int(v), r.currency)  # noqa: E731
        out.append(f"Statement {r.statement} of account {r.account}: opening balance {f(r.opening)} "
                   f"+ entries {f(r.net)} = {f(r.opening + r.net)} {r.currency}, but the closing "
                   f"balance is {f(r.closing)} (difference {f(r.diff)}); entries may be missing.")
    return out


def balances_frame(rows: list[dict]) -> pd.DataFrame:
    """Balances from a reader's rows (statement, account, currency, opening/closing as
    (decimal text, sign) pairs already signed into minor units by the reader)."""
    frame = pd.DataFrame(rows, columns=list(BALANCE_COLUMNS))
    for c in ("opening", "closing"):
        frame[c] = pd.array(frame[c], dtype="Int64")
    return frame


def signed_minor(amount_text: str, currency: str, decimal: str, debit: bool) -> int:
    """One balance amount in minor units, negative when the balance is a debit balance."""
    parsed = parse_money(pd.Series([amount_text]), currency, decimal=decimal)
    if parsed.error.notna().iloc[0] or parsed.blank.iloc[0]:
        raise StatementError(f"The balance {amount_text!r} {currency} cannot be read exactly.")
    value = int(parsed.minor.iloc[0])
    return -value if debit else value


@dataclass
class Split:
    """A statement's transactions by what they are for cash application."""

    credits: pd.DataFrame    # booked money in, not reversed: these become payments
    debits: pd.DataFrame     # booked money out: listed apart
    pending: pd.DataFrame    # not booked yet: shown, not applied
    reversed: pd.DataFrame   # reversals and what they cancelled, and reversals of entries not in the file


def split_entries(entries: pd.DataFrame) -> Split:
    """Payment ids, reversals paired, and the four groups of :class:`Split`."""
    e = mark_reversals(entries)
    e.insert(0, "payment_id", payment_ids(e))
    booked = e["status"] == "booked"
    plain = booked & ~e["cancelled"] & ~e["reversal"]
    return Split(credits=e[plain & (e["direction"] == "credit")].reset_index(drop=True),
                 debits=e[plain & (e["direction"] == "debit")].reset_index(drop=True),
                 pending=e[~booked].reset_index(drop=True),
                 reversed=e[booked & (e["cancelled"] | e["reversal"])].reset_index(drop=True))
