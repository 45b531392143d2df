"""Aging of open invoice lines (SPEC §5): per line, rolled up, and historically.

Everything here is pure and vectorised. Amounts are int64 minor units of the
line's currency; a roll-up never converts currencies (group by ``currency``,
or convert first with `billing.fx.to_base`).

- `line_aging` — one row per invoice line invoiced on or before ``as_of``,
  with its open amount, days past due and bucket. Fully paid lines are kept,
  so totals reconcile with the invoices table.
- `rollup` — open amounts per bucket for any grouping (customer, invoice,
  currency, …) with unapplied credit as a negative column.
- `history` — open amounts per currency and bucket as of several past dates,
  re-running the allocation as of each date from the same data.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

try:  # pandas' string dtype is arrow-backed when pyarrow is installed; used for fast paths only
    import pyarrow as pa
    import pyarrow.compute as pc
except ImportError:  # pragma: no cover
    pa = pc = None

from billing.model import AllocationResult, held_amounts, open_dispute_codes
from billing.policy import Policy

LINE_AGING_COLUMNS = [
    "line_code", "invoice_no", "line_no", "customer_id", "currency", "invoice_date", "due_date",
    "due_date_derived", "amount", "allocated", "open", "days_past_due", "bucket", "in_dispute",
    "disputed", "fully_paid", "overdue",
]
HISTORY_COLUMNS = ["as_of", "currency", "bucket", "open", "overdue"]
# Keys that unapplied credit can be attributed to (the columns `AllocationResult.unapplied` has).
UNAPPLIED_KEYS = ("customer_id", "currency")

_NS_PER_DAY = 86_400_000_000_000


# --------------------------------------------------------------------------- helpers

def _as_of(as_of) -> pd.Timestamp:
    return pd.Timestamp(as_of).normalize()


def _days(values) -> np.ndarray:
    """Whole days since 1970-01-01 (int64) for a datetime column; NaT -> INT64 min."""
    arr = np.asarray(values)
    if arr.dtype.kind != "M":
        arr = pd.to_datetime(pd.Series(values)).to_numpy()
    unit, count = np.datetime_data(arr.dtype)
    if unit == "D" and count == 1:
        raw = arr.view(np.int64)
    else:
        raw = arr.astype("datetime64[ns]").view(np.int64) if unit != "ns" else arr.view(np.int64)
        nat = raw == np.iinfo(np.int64).min
        raw = raw // _NS_PER_DAY
        if nat.any():
            raw[nat] = np.iinfo(np.int64).min
    return raw


def is_overdue(due_day: np.ndarray, as_of_day: int) -> np.ndarray:
    """Overdue = past the due date: due_date < as_of (days since the epoch), whatever basis the aging
    buckets use (basis invoice_date re-labels buckets, not lateness). The one definition: line_aging's
    ``overdue`` column, and from it the KPIs, the report, the rollups and the trend."""
    due_day = np.asarray(due_day, dtype=np.int64)
    return (due_day < as_of_day) & (due_day != np.iinfo(np.int64).min)


def is_credit_note(lines: pd.DataFrame) -> np.ndarray:
    """Credit note lines: kind "credit_note", or no kind and a negative amount. The one definition
    (allocation, aging, KPIs and disputes use it)."""
    amount_neg = (lines["amount"].to_numpy() < 0) if "amount" in lines.columns else np.zeros(len(lines), bool)
    if "kind" not in lines.columns:
        return amount_neg
    kind = lines["kind"]
    pa_kind = _arrow(kind)
    if pa_kind is not None:
        cn = pc.fill_null(pc.equal(pa_kind, "credit_note"), False).to_numpy(zero_copy_only=False)
        na = pc.is_null(pa_kind).to_numpy(zero_copy_only=False)
    else:
        cn = (kind == "credit_note").to_numpy(dtype=bool, na_value=False)
        na = kind.isna().to_numpy()
    return cn | (na & amount_neg)


def bucket_codes(days_past_due: np.ndarray, edges: Sequence[int]) -> np.ndarray:
    """Bucket index (int8) of each days-past-due value for `edges` (Policy.bucket_edges).

    0 = "current" (days <= 0); k = the k-th edge's bucket (upper edge inclusive);
    len(edges) + 1 = "over_<last edge>". One comparison pass per edge, no strings.
    """
    dpd = np.asarray(days_past_due)
    codes = (dpd > 0).view(np.int8).copy()
    for edge in edges:
        codes += (dpd > edge).view(np.int8)
    return codes


def bucket_dtype(policy: Policy) -> pd.CategoricalDtype:
    return pd.CategoricalDtype(policy.bucket_labels, ordered=True)


def _arrow(s: pd.Series):
    """The column as a pyarrow ChunkedArray when it is arrow-backed (zero copy), else None."""
    if pa is None or not hasattr(s.array, "__arrow_array__") or isinstance(s.dtype, pd.CategoricalDtype):
        return None
    try:
        arr = s.array.__arrow_array__()
    except (TypeError, ValueError, NotImplementedError):
        return None
    return arr if isinstance(arr, pa.ChunkedArray) else pa.chunked_array([arr])


def _shares_buffers(a, b) -> bool:
    """Same memory (one column handed on unchanged): equal without reading a value."""
    if a.num_chunks != 1 or b.num_chunks != 1:
        return False
    ca, cb = a.chunk(0), b.chunk(0)
    if ca.offset != cb.offset or len(ca) != len(cb) or ca.type != cb.type:
        return False
    ba, bb = ca.buffers(), cb.buffers()
    return len(ba) == len(bb) and all(
        (x is None and y is None) or (x is not None and y is not None and x.address == y.address)
        for x, y in zip(ba, bb))


def _same_codes(a: pd.Series, b: pd.Series) -> bool:
    """Whether two line-code columns hold the same values in the same order (NA never matches)."""
    if len(a) != len(b):
        return False
    if a is b or len(a) == 0:
        return True
    pa_a, pa_b = _arrow(a), _arrow(b)
    if pa_a is not None and pa_b is not None and pa_a.type == pa_b.type:
        if _shares_buffers(pa_a, pa_b) and pa_a.null_count == 0:
            return True
        return bool(pc.all(pc.fill_null(pc.equal(pa_a, pa_b), False)).as_py())
    try:
        eq = a.array == b.array
        return bool(np.asarray(pd.array(eq).to_numpy(dtype=bool, na_value=False)).all())
    except (TypeError, ValueError):
        return False


def _take(s: pd.Series, keep: np.ndarray | None):
    """The column's values (ExtensionArray or ndarray) at rows `keep`, without a DataFrame take."""
    values = s.array if isinstance(s.array, pd.api.extensions.ExtensionArray) and \
        not isinstance(s.array, pd.arrays.NumpyExtensionArray) else s.to_numpy()
    return values if keep is None else values[keep]


def _lookup(keys: pd.Series, table_keys: pd.Series, values: np.ndarray, fill) -> np.ndarray:
    """values[position of each key in table_keys] (summed over duplicates), `fill` when absent."""
    both = pd.concat([table_keys.reset_index(drop=True), keys.reset_index(drop=True)], ignore_index=True)
    ids, uniques = pd.factorize(both)
    t_ids, k_ids = ids[:len(table_keys)], ids[len(table_keys):]
    out = np.full(len(uniques) + 1, fill, dtype=values.dtype)
    ok = t_ids >= 0
    if values.dtype.kind in "iu":
        out[t_ids[ok]] = 0
        np.add.at(out, t_ids[ok], values[ok])
    else:
        out[t_ids[ok]] = values[ok]
    return out[np.where(k_ids >= 0, k_ids, len(uniques))]


def _aged(lines: pd.DataFrame, as_of: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
    """(rows that are aged, invoice day numbers of all rows)."""
    inv_day = _days(lines["invoice_date"])
    as_of_day = as_of.value // _NS_PER_DAY
    keep = (inv_day <= as_of_day) & (inv_day != np.iinfo(np.int64).min) & ~is_credit_note(lines)
    return keep, inv_day


def aged_mask(lines: pd.DataFrame, as_of) -> np.ndarray:
    """The rows of `lines` that `line_aging` ages: not credit notes, invoiced on or before as_of.

    The same lines as billing.allocation lets take part (its ``line_allocated`` rows).
    """
    if len(lines) == 0:
        return np.zeros(0, dtype=bool)
    return _aged(lines, _as_of(as_of))[0]


def line_values(line_allocated: pd.DataFrame | None, column: str, codes: pd.Series,
                full_codes: pd.Series | None = None, keep: np.ndarray | None = None, fill=0) -> np.ndarray:
    """``line_allocated[column]`` for each line code in `codes` (`fill` when not listed).

    Fast paths (no hashing of 1M strings): `line_allocated` lists `codes` in
    the same order, or lists `full_codes` (the invoices table) in order and
    `codes` are its rows `keep`. Otherwise a join on line_code.
    """
    la = line_allocated
    if la is None or len(la) == 0 or "line_code" not in la.columns or column not in la.columns:
        return np.full(len(codes), fill)
    if np.asarray(fill).dtype.kind == "M":
        values = la[column].to_numpy(dtype="datetime64[ns]")
    else:
        values = la[column].to_numpy(dtype=np.int64, na_value=fill)
    if _same_codes(la["line_code"], codes):
        return values.copy()
    if keep is not None and full_codes is not None and _same_codes(la["line_code"], full_codes):
        return values[keep]
    return _lookup(codes, la["line_code"], values, fill)


def overdue_flags(aging: pd.DataFrame) -> np.ndarray:
    """aging["overdue"]; for an aging made without it (by hand, in tests), derived from days_past_due
    (which is the due-date lateness only under the due_date basis)."""
    if "overdue" in aging.columns:
        return aging["overdue"].to_numpy(dtype=bool)
    return aging["days_past_due"].to_numpy(dtype=np.int64) > 0


def _empty_aging(policy: Policy) -> pd.DataFrame:
    return pd.DataFrame({
        "line_code": pd.Series(dtype="string"), "invoice_no": pd.Series(dtype="string"),
        "line_no": pd.Series(dtype="int64"), "customer_id": pd.Series(dtype="string"),
        "currency": pd.Series(dtype="string"), "invoice_date": pd.Series(dtype="datetime64[ns]"),
        "due_date": pd.Series(dtype="datetime64[ns]"), "due_date_derived": pd.Series(dtype="bool"),
        "amount": pd.Series(dtype="int64"), "allocated": pd.Series(dtype="int64"),
        "open": pd.Series(dtype="int64"), "days_past_due": pd.Series(dtype="int64"),
        "bucket": pd.Series(pd.Categorical([], dtype=bucket_dtype(policy))),
        "in_dispute": pd.Series(dtype="bool"), "disputed": pd.Series(dtype="int64"),
        "fully_paid": pd.Series(dtype="bool"),
        "overdue": pd.Series(dtype="bool"),
    })


# --------------------------------------------------------------------------- per line

def line_aging(lines: pd.DataFrame, alloc: AllocationResult, as_of, policy: Policy = Policy(),
               disputes: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per invoice line (not credit notes) with invoice_date <= as_of, aged as of `as_of`.

    Columns: line_code, invoice_no, line_no, customer_id, currency, invoice_date,
    due_date, due_date_derived, amount, allocated (from
    ``alloc.line_allocated``; 0 when the line is not listed), open (= amount −
    allocated, int64), days_past_due (int64; as_of − due_date, or as_of −
    invoice_date with ``policy.basis == "invoice_date"``), bucket (ordered
    categorical of ``policy.bucket_labels``: "current" when days_past_due <= 0,
    then by ``policy.bucket_edges`` with upper edges inclusive, "over_N"
    beyond), in_dispute (line under an open dispute), disputed (int64: what open disputes hold of
    the open amount, min(disputed amount, open): SPEC §7), fully_paid (open == 0),
    overdue (past the due date as of `as_of`, whatever the basis: ``is_overdue``).

    Lines with open == 0 are kept so that totals reconcile; callers filter.
    A missing due_date (not produced by ingest) is taken as invoice_date +
    ``policy.default_terms_days`` and flagged ``due_date_derived``.
    Rows keep the order of `lines`; the index is a fresh RangeIndex.
    """
    as_of = _as_of(as_of)
    if lines is None or len(lines) == 0:
        return _empty_aging(policy)

    as_of_day = as_of.value // _NS_PER_DAY
    keep, inv_day = _aged(lines, as_of)
    all_kept = bool(keep.all())

    sel_keep = None if all_kept else keep
    n = int(keep.sum())
    if n == 0:
        return _empty_aging(policy)
    # Column by column (a DataFrame boolean take costs twice as much on 1M rows).
    text = {c: _take(lines[c], sel_keep) for c in ("line_code", "invoice_no", "customer_id", "currency")}
    line_code = pd.Series(text["line_code"], copy=False)
    if sel_keep is not None:
        inv_day = inv_day[sel_keep]
    invoice_date = lines["invoice_date"].to_numpy().astype("datetime64[ns]", copy=False)
    invoice_date = invoice_date if sel_keep is None else invoice_date[sel_keep]

    due = lines["due_date"].to_numpy().astype("datetime64[ns]", copy=False)
    due = due if sel_keep is None else due[sel_keep]
    due_day = _days(due)
    derived = (lines["due_date_derived"].to_numpy(dtype=bool, na_value=False)
               if "due_date_derived" in lines.columns else np.zeros(len(lines), dtype=bool))
    derived = derived if sel_keep is None else derived[sel_keep]
    missing_due = due_day == np.iinfo(np.int64).min
    if missing_due.any():
        due_day = np.where(missing_due, inv_day + policy.default_terms_days, due_day)
        due = (due_day * _NS_PER_DAY).astype("datetime64[ns]")
        derived = derived | missing_due

    amount = lines["amount"].to_numpy(dtype=np.int64)
    amount = amount if sel_keep is None else amount[sel_keep]
    la = alloc.line_allocated if alloc is not None else None
    allocated = line_values(la, "allocated", line_code, lines["line_code"], sel_keep, 0).astype(np.int64)
    open_ = amount - allocated

    ref_day = due_day if policy.basis == "due_date" else inv_day
    dpd = as_of_day - ref_day
    codes = bucket_codes(dpd, policy.bucket_edges)
    bucket = pd.Categorical.from_codes(codes, dtype=bucket_dtype(policy), validate=False)

    disputed = open_dispute_codes(disputes)
    in_dispute = (line_code.isin(disputed).to_numpy(dtype=bool, na_value=False)
                  if disputed else np.zeros(n, dtype=bool))
    held = held_amounts(disputes, line_code, open_) if disputed else np.zeros(n, dtype=np.int64)

    if "line_no" in lines.columns:
        line_no = lines["line_no"].to_numpy(dtype=np.int64)
        line_no = line_no if sel_keep is None else line_no[sel_keep]
    else:
        line_no = np.ones(n, dtype=np.int64)
    return pd.DataFrame({
        "line_code": text["line_code"],
        "invoice_no": text["invoice_no"],
        "line_no": line_no,
        "customer_id": text["customer_id"],
        "currency": text["currency"],
        "invoice_date": invoice_date,
        "due_date": due,
        "due_date_derived": derived,
        "amount": amount,
        "allocated": allocated,
        "open": open_,
        "days_past_due": dpd,
        "bucket": bucket,
        "in_dispute": in_dispute,
        "disputed": held,
        "fully_paid": open_ == 0,
        "overdue": is_overdue(due_day, as_of_day),
    }, copy=False)


# --------------------------------------------------------------------------- roll-up

def rollup(aging: pd.DataFrame, by: list[str], unapplied: pd.DataFrame | None = None,
           policy: Policy = Policy()) -> pd.DataFrame:
    """Open amounts per group and bucket.

    One row per group of `by` (e.g. ["customer_id", "currency"],
    ["invoice_no", "customer_id", "currency"], ["currency"]) that has an open
    line or unapplied credit. Columns: the `by` keys, one int64 column per
    bucket label, ``open`` (= sum of the bucket columns), ``unapplied`` (<= 0:
    the group's unapplied credit, negated), ``net`` (= open + unapplied),
    ``in_dispute`` (what open disputes hold of the open amounts, aging's ``disputed``;
    also counted in their bucket), ``overdue`` (open amount past its due date, ``is_overdue``), ``lines`` (number of lines with open != 0), ``oldest_days``
    (Int64: max days_past_due of those lines, NA for a group with only
    unapplied credit).

    Unapplied credit belongs to a customer and currency, not to an invoice: it
    is attributed only when every key of `by` is customer_id or currency;
    for any other grouping the column is 0.

    Sorted by currency (when grouped by it), then open descending, then keys.
    Bucket labels come from the aging's categorical (else ``policy``).
    """
    by = list(by)
    if not by:
        raise ValueError("rollup needs at least one column to group by, e.g. ['currency']")
    missing = [c for c in by if c not in aging.columns]
    if missing:
        raise KeyError(f"cannot group aging by {missing}: not aging columns")
    bucket = aging["bucket"]
    is_cat = isinstance(bucket.dtype, pd.CategoricalDtype)
    labels = list(bucket.cat.categories) if is_cat else policy.bucket_labels
    nb = len(labels)

    open_all = aging["open"].to_numpy(dtype=np.int64)
    mask = open_all != 0
    keep = None if mask.all() else np.flatnonzero(mask)  # open lines only

    def sub(values: np.ndarray) -> np.ndarray:
        return values if keep is None else values.take(keep)

    open_ = sub(open_all)
    codes = bucket.cat.codes.to_numpy() if is_cat else pd.Categorical(bucket, categories=labels).codes
    codes = sub(codes).astype(np.int64)
    if (codes < 0).any():
        raise ValueError("aging has a bucket not among the labels: " + ", ".join(labels))
    disputed = sub(aging["in_dispute"].to_numpy(dtype=bool))
    held = (sub(aging["disputed"].to_numpy(dtype=np.int64)) if "disputed" in aging.columns
            else np.where(disputed, open_, 0))
    dpd = sub(aging["days_past_due"].to_numpy(dtype=np.int64))
    late = sub(overdue_flags(aging))
    n = len(open_)

    # Unapplied credit belongs to a customer and currency: only for groupings by those.
    credit = None
    if unapplied is not None and len(unapplied) and set(by) <= set(UNAPPLIED_KEYS) \
            and set(by) <= set(unapplied.columns):
        credit = unapplied

    # Group ids without hashing twice: factorize each key (sorted, so codes order like values;
    # NA last) over the open lines followed by the unapplied rows, then combine the codes.
    key_codes, key_uniques = [], []
    for c in by:
        col = pd.Series(_take(aging[c], keep), copy=False)
        if credit is not None:
            col = pd.concat([col, credit[c].astype(aging[c].dtype)], ignore_index=True)
        kc, ku = pd.factorize(col, sort=True, use_na_sentinel=False)
        key_codes.append(kc.astype(np.int64))
        key_uniques.append(ku)
    dims = [max(len(u), 1) for u in key_uniques]
    total = int(np.prod(dims, dtype=object))
    m = len(key_codes[0]) if key_codes else 0
    if total <= max(4 * m, 1 << 20):
        flat = np.ravel_multi_index(key_codes, dims) if m else np.zeros(0, dtype=np.int64)
        present = np.flatnonzero(np.bincount(flat, minlength=total)) if m else np.zeros(0, dtype=np.int64)
        remap = np.full(total, -1, dtype=np.int64)
        remap[present] = np.arange(len(present))
        gid = remap[flat]
        group_codes = np.unravel_index(present, dims) if len(present) else [np.zeros(0, np.int64)] * len(by)
    else:  # many distinct combinations: sort-based
        stacked = np.stack(key_codes, axis=1)
        uniq, gid = np.unique(stacked, axis=0, return_inverse=True)
        gid = gid.reshape(-1)
        group_codes = [uniq[:, i] for i in range(len(by))]
    g = len(group_codes[0])
    gid_lines, gid_credit = gid[:n], gid[n:]

    buckets = np.zeros(g * nb, dtype=np.int64)
    np.add.at(buckets, gid_lines * nb + codes, open_)
    buckets = buckets.reshape(g, nb)
    open_sum = buckets.sum(axis=1)
    in_dispute = np.zeros(g, dtype=np.int64)
    np.add.at(in_dispute, gid_lines[disputed], held[disputed])
    overdue = np.zeros(g, dtype=np.int64)
    np.add.at(overdue, gid_lines[late], open_[late])
    lines_n = np.bincount(gid_lines, minlength=g).astype(np.int64)
    oldest = np.full(g, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(oldest, gid_lines, dpd)
    credit_sum = np.zeros(g, dtype=np.int64)
    if credit is not None:
        np.add.at(credit_sum, gid_credit, credit["amount"].to_numpy(dtype=np.int64))

    out = {c: pd.Series(u, copy=False).array.take(gc) if g else pd.Series(u, copy=False).array[:0]
           for c, u, gc in zip(by, key_uniques, group_codes)}
    for i, label in enumerate(labels):
        out[label] = buckets[:, i]
    out["open"] = open_sum
    out["unapplied"] = -credit_sum
    out["net"] = open_sum - credit_sum
    out["in_dispute"] = in_dispute
    out["overdue"] = overdue
    out["lines"] = lines_n
    out["oldest_days"] = pd.array(np.where(lines_n > 0, oldest, 0), dtype="Int64")
    out["oldest_days"][lines_n == 0] = pd.NA
    frame = pd.DataFrame(out, copy=False)

    # currency, then open descending, then the other keys (their sorted codes), NA last
    sort_keys = [np.asarray(gc) for c, gc in zip(by, group_codes) if c != "currency"][::-1]
    sort_keys.append(-open_sum)
    if "currency" in by:
        sort_keys.append(np.asarray(group_codes[by.index("currency")]))
    order = np.lexsort(sort_keys) if g else np.zeros(0, dtype=np.int64)
    return frame.take(order).reset_index(drop=True)


# --------------------------------------------------------------------------- history

def month_ends(start, end, *, include_end: bool = False) -> pd.DatetimeIndex:
    """Month-end dates (midnight) from `start` to `end` inclusive.

    ``include_end=True`` appends `end` itself when it is not a month end (so a
    trend can finish on the as-of date).
    """
    start, end = _as_of(start), _as_of(end)
    idx = pd.date_range(start, end, freq="ME").normalize().astype("datetime64[ns]")
    if include_end and (len(idx) == 0 or idx[-1] != end) and end >= start:
        idx = idx.append(pd.DatetimeIndex([end]).astype("datetime64[ns]"))
    return pd.DatetimeIndex(idx, name=None)


def history(lines: pd.DataFrame, payments: pd.DataFrame, month_ends: Sequence[pd.Timestamp] | pd.DatetimeIndex,
            policy: Policy = Policy(), disputes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Open amounts per currency and bucket as of each date in `month_ends` (long format).

    For each date the allocation is re-run as of that date
    (`billing.allocation.allocate`: only lines and payments dated on or before
    it take part) and the lines aged with `line_aging`. Columns: as_of,
    currency, bucket (ordered categorical), open (int64), overdue (int64: the
    part of ``open`` past its due date, ``is_overdue``; under the invoice-date
    basis a bucket holds lines of both kinds). Every bucket is listed (0 when empty) for each currency
    that has invoice lines as of that date. Disputes are taken as they are
    now (their history is not known here).
    """
    from billing.allocation import allocate  # lazy: allocation imports nothing of ours back

    labels = policy.bucket_labels
    dtype = bucket_dtype(policy)
    frames = []
    for as_of in sorted({_as_of(d) for d in month_ends}):
        alloc = allocate(lines, payments, as_of, policy, disputes)
        aging = line_aging(lines, alloc, as_of, policy, disputes)
        if len(aging) == 0:
            continue
        currencies = np.sort(aging["currency"].dropna().unique().astype(str))
        late = aging.assign(overdue=aging["open"].where(aging["overdue"], 0))
        sums = late.groupby(["currency", "bucket"], observed=False)[["open", "overdue"]].sum()
        idx = pd.MultiIndex.from_product([currencies, labels], names=["currency", "bucket"])
        sums = sums.reindex(idx, fill_value=0)
        frames.append(pd.DataFrame({
            "as_of": pd.Series([as_of] * len(idx), dtype="datetime64[ns]"),
            "currency": pd.array(idx.get_level_values(0), dtype="string"),
            "bucket": pd.Categorical(idx.get_level_values(1), dtype=dtype),
            "open": sums["open"].to_numpy(dtype=np.int64),
            "overdue": sums["overdue"].to_numpy(dtype=np.int64),
        }))
    if not frames:
        out = pd.DataFrame({"as_of": pd.Series(dtype="datetime64[ns]"),
                            "currency": pd.Series(dtype="string"),
                            "bucket": pd.Categorical([], dtype=dtype),
                            "open": pd.Series(dtype="int64"), "overdue": pd.Series(dtype="int64")})
    else:
        out = pd.concat(frames, ignore_index=True)
    return out[HISTORY_COLUMNS]
