"""Payment allocation (SPEC §4): exact, deterministic and vectorised.

`allocate(lines, payments, as_of, policy, disputes)` returns a
`billing.model.AllocationResult` (columns in docs/DESIGN.md, "The engine").

Rules as implemented
--------------------
* Lines take part when `invoice_date <= as_of`. Invoice lines (kind
  "invoice"; a line with no kind counts by its sign) can receive money when
  their amount is > 0; a negative or zero invoice line takes part (it is in
  `line_allocated` with 0) but is never paid. Credit note lines dated
  `<= as_of` become payments (payment_id = the credit note's line code,
  amount = |amount|, dated on invoice_date, invoice_no = applies_to).
* A payment pays only lines of its own customer and currency. Payments are
  ordered by (payment_date, payment_id, source) with source "payment" before
  "credit_note". A payment with a negative amount (a refund) pays nothing and
  leaves nothing unapplied. A missing currency is `policy.default_currency`.
* References. Each payment has an ordered list of reference values: its
  `line_code` cell, its `invoice_no` cell (applies_to for a credit note), then
  the tokens of its `reference` text in order of appearance. Reference text
  is NFKC-normalised and split on every character other than ASCII letters,
  digits, `-` and `/` (white space and punctuation per SPEC; other non-ASCII
  characters separate tokens too, so "发票INV-7付款" finds INV-7, and
  `canonical()` would drop them anyway). Each value is compared in canonical
  form (`billing.linecode.canonical`) with the line codes of the payment's
  customer first (all of that customer's lines, whatever their date or kind),
  then with its invoice numbers. A canonical form naming two different line
  codes (or two invoice numbers) of the customer is reported as "ambiguous"
  and not used. A value that matches nothing is reported: the `invoice_no`
  cell as "unknown_invoice"; the `line_code` cell or a text token with the
  shape of a line code (`linecode.looks_like_code`) as "bad_check" when its
  check character is wrong, else "unknown_code"; the `line_code` cell of
  another shape as "unknown_code"; other free-text words are ignored. One
  row per (payment, canonical value, problem). Nothing is guessed: the
  closest invoice number of the customer (rapidfuzz ratio of canonical
  forms, the better of the whole value and the value without a trailing
  `-001K`, >= `policy.fuzzy_min_score`, ties to the smaller invoice number)
  is put in `suggestion` only.
* Step 1 (line): the matched line codes in list order pay their lines. Step 2
  (invoice): the matched invoice numbers in list order, then the invoices of
  the step-1 lines, pay their lines in (line_no, line_code) order. Step 3
  (fifo): what is left pays the customer's lines in the payment's currency by
  (due_date, invoice_date, invoice_no, line_no, line_code); when
  `policy.fifo_skip_disputed`, an open dispute holds its amount (SPEC §7,
  `billing.model.held_amounts` of the open amounts left by steps 1-2): FIFO
  pays only the rest of the line (a dispute without an amount, or of the
  whole open amount, keeps the line out of FIFO); a missing due date sorts
  last. Steps run one after the other over all payments.
* `currency_mismatches`: one row per (payment, line) for a line named by a
  line reference, or a line of an invoice named by an invoice reference
  (not one derived from a line reference), that takes part, is > 0 and is in
  another currency than the payment. The money is not applied to it.
* `line_allocated.last_payment_date`: for a fully paid line the latest
  payment_date among its allocations (the day the money that completed it had
  all arrived); NaT while open and for lines that are never payable.
* Output order: allocations by (payment_date, payment_id, source, step, rank
  of the reference, line order within the step); unapplied, issues and
  mismatches in payment order; line_allocated by (invoice_no, line_no,
  line_code). Nothing depends on the input row order (payment_id and line
  code are unique keys per docs/DESIGN.md).

Algorithm
---------
Each step is a set of *queues* (step 1: one line; step 2: the lines of one
invoice in one currency; step 3: a customer's lines in one currency, FIFO
order) and *requests* (payment, queue) in global order (payment order, rank
of the reference). All queues are laid end to end on one integer axis
(cumulative open amounts). Within a queue the requests, in payment order,
consume consecutive intervals of it (grouped cumulative sum of their
demands, capped at the queue's total), and `np.searchsorted` of each
request's interval against the line intervals yields the allocation rows.
A payment with several requests in a step demands what its earlier requests
left; that is a triangular system solved by fixed-point iteration (exact,
usually 1-2 rounds; a payment with one request needs none). Sorting packs
the keys into one int64 (numpy's SIMD quicksort, made stable by the row
number as the last key). String work (tokenising, canonical forms) runs on
the Arrow buffers with numpy byte operations and Arrow hash kernels. Line
codes are canonicalised only where a value of the same customer could match:
a bitmap of (customer, last characters of each value's canonical form)
filters the lines by their last bytes first (`_line_code_ids`). On big inputs
that job and the issue/mismatch reports run on a second thread.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process

from billing.adjustments import adjustment_payment_id, fulfilled_requests, settle
from billing.aging import is_credit_note
from billing.linecode import CODE_SHAPE, check_chars, canonical
from billing.model import AllocationResult, held_amounts
from billing.policy import Policy

STEPS = ("line", "invoice", "fifo", "adjustment")
SOURCES = ("payment", "credit_note")  # + an adjustment's kind for write-offs and credit-note requests
PROBLEMS = ("bad_check", "unknown_code", "unknown_invoice", "ambiguous")
TOKEN_PATTERN = r"[0-9A-Za-z/\-]+"  # a token: a maximal run of these (after NFKC)

_NAT = np.iinfo(np.int64).min
_BIG = np.iinfo(np.int64).max

# byte lookup tables
_TOKEN_BYTE = np.zeros(256, dtype=bool)
for _ch in b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-/":
    _TOKEN_BYTE[_ch] = True
_CANON_BYTE = np.zeros(256, dtype=np.uint8)  # 0 = dropped, else the upper-case byte
for _ch in b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ":
    _CANON_BYTE[_ch] = _ch
for _ch in b"abcdefghijklmnopqrstuvwxyz":
    _CANON_BYTE[_ch] = _ch - 32
_BASE36 = np.full(256, -1, dtype=np.int64)  # value of an ASCII letter/digit in a canonical form, else -1
for _i, _ch in enumerate(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
    _BASE36[_ch] = _i
    _BASE36[bytes([_ch]).lower()[0]] = _i
_TAIL_DIGIT = np.maximum(_BASE36 + 1, 0)        # 1..36 for a letter/digit, else 0
_TAIL_MUL = np.where(_BASE36 >= 0, 37, 1).astype(np.int64)
_TAIL_ALNUM = (_BASE36 >= 0).astype(np.int8)
_TAIL = 8            # line-code prefilter: (customer, letters/digits among a line code's last _TAIL bytes)
_TAIL_BITS = 22      # size of its membership bitmap (2**_TAIL_BITS bools)

# A second thread for independent string jobs pays off only on big inputs (results are identical either way).
PARALLEL_MIN_ROWS = 100_000  # lines + payments; below this a thread hand-off costs more than it saves


class _Laps:
    """CPU seconds per section of one `allocate` call, added into the dict `into` (nothing when None)."""

    def __init__(self, into: dict[str, float] | None):
        self.into = into
        self.last = time.process_time()

    def __call__(self, name: str) -> None:
        if self.into is None:
            return
        now = time.process_time()
        self.into[name] = self.into.get(name, 0.0) + now - self.last
        self.last = now


def _arrow(values: pd.Series | pa.Array | pa.ChunkedArray | None, n: int = 0) -> pa.LargeStringArray:
    """A column as one contiguous pyarrow large_string array (zero-copy for Arrow-backed strings).

    `None` (a column the frame does not have) gives `n` missing values.
    """
    if values is None:
        return pa.nulls(n, type=pa.large_string())
    if isinstance(values, pd.Series):
        if not isinstance(values.dtype, pd.StringDtype) or values.dtype.storage != "pyarrow":
            values = values.astype(pd.StringDtype("pyarrow"))
        values = pa.array(values.array)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if values.type != pa.large_string():
        values = values.cast(pa.large_string())
    return values


# --------------------------------------------------------------------------- strings (byte level)

def _buffers(arr: pa.LargeStringArray) -> tuple[np.ndarray, np.ndarray]:
    """(offsets rebased to 0, utf-8 bytes) of a large_string array; null slots are empty."""
    n = len(arr)
    if n == 0:
        return np.zeros(1, np.int64), np.zeros(0, np.uint8)
    bufs = arr.buffers()
    off = np.frombuffer(bufs[1], dtype=np.int64, count=n + 1, offset=arr.offset * 8)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    data = data[off[0]:off[-1]]
    off = off - off[0]
    if arr.null_count:
        valid = arr.is_valid().to_numpy(zero_copy_only=False)
        lens = np.diff(off)
        if lens[~valid].any():  # null slots that still own bytes: drop them
            data = data[np.repeat(valid, lens)]
            off = np.concatenate(([0], np.cumsum(np.where(valid, lens, 0))))
    return off, data


def _from_buffers(off: np.ndarray, data: np.ndarray) -> pa.LargeStringArray:
    off = np.ascontiguousarray(off, dtype=np.int64)
    data = np.ascontiguousarray(data, dtype=np.uint8)
    return pa.Array.from_buffers(pa.large_string(), len(off) - 1, [None, pa.py_buffer(off), pa.py_buffer(data)])


def _per_string_sum(flags: np.ndarray, off: np.ndarray) -> np.ndarray:
    """Number of set flags within each string's byte range (the last range ends at len(flags)).

    Only non-empty ranges are passed to reduceat (an empty range clamped into the array, e.g. an empty
    last string, would cut the range before it short)."""
    n = len(off) - 1
    sums = np.zeros(n, dtype=np.int64)
    nonempty = np.flatnonzero(off[1:] > off[:-1])
    if len(flags) and len(nonempty):
        sums[nonempty] = np.add.reduceat(flags, off[:-1][nonempty], dtype=np.int64)
    return sums


def _canonical(arr: pa.LargeStringArray) -> pa.LargeStringArray:
    """`billing.linecode.canonical` for a whole column (byte-level); missing values become ""."""
    off, data = _buffers(arr)
    code = np.take(_CANON_BYTE, data)
    keep = code != 0
    if keep.all():
        out = _from_buffers(off, code)
    else:
        out = _from_buffers(np.concatenate(([0], np.cumsum(_per_string_sum(keep, off)))), code[keep])
    if len(arr) and not pc.all(pc.string_is_ascii(arr), skip_nulls=True, min_count=0).as_py():
        # rare: NFKC + full upper-casing in Python for exactly the non-ASCII rows
        idx = np.flatnonzero(~pc.fill_null(pc.string_is_ascii(arr), True).to_numpy(zero_copy_only=False))
        fixed = pa.array([canonical(v) for v in arr.take(pa.array(idx)).to_pylist()], type=pa.large_string())
        mask = np.zeros(len(arr), dtype=bool)
        mask[idx] = True
        out = pc.replace_with_mask(out, pa.array(mask), fixed)
    return out


def _nfkc(arr: pa.LargeStringArray) -> pa.LargeStringArray:
    if len(arr) and not pc.all(pc.string_is_ascii(arr), skip_nulls=True, min_count=0).as_py():
        arr = _arrow(pc.utf8_normalize(arr, form="NFKC"))
    return arr


def _tokenize(arr: pa.LargeStringArray) -> tuple[np.ndarray, np.ndarray, pa.LargeStringArray]:
    """(row, pos, token) for every token of every text: byte-level, no Python loop per text."""
    off, data = _buffers(_nfkc(arr))
    istok = np.take(_TOKEN_BYTE, data)
    prev = np.zeros_like(istok)
    if len(prev):
        prev[1:] = istok[:-1]
        prev[off[:-1][np.diff(off) > 0]] = False  # a token never continues across texts
    tstart = istok & ~prev
    start_at = np.flatnonzero(tstart)
    ntok = len(start_at)
    tok_row = np.searchsorted(off, start_at, side="right") - 1
    tok_len = _per_string_sum(istok, np.append(start_at, len(istok))) if ntok else np.zeros(0, np.int64)
    tokens_arr = _from_buffers(np.concatenate(([0], np.cumsum(tok_len))), data[istok])
    pos = np.arange(ntok, dtype=np.int64) - np.searchsorted(tok_row, tok_row, side="left")
    return tok_row, pos, tokens_arr


def tokens(reference: pd.Series) -> pd.DataFrame:
    """Tokens of reference texts, vectorised.

    One row per token: `row` (position of its text in `reference`), `pos`
    (0-based index of the token within its text), `token` (as written, after
    NFKC), `canonical` (its `billing.linecode.canonical` form). A token is a
    maximal run of ASCII letters, digits, `-` and `/`.
    """
    row, pos, toks = _tokenize(_arrow(reference.reset_index(drop=True)))
    return pd.DataFrame({"row": row, "pos": pos, "token": _pd_string(toks), "canonical": _pd_string(_canonical(toks))})


def _pd_string(arr: pa.Array) -> pd.Series:
    """A pandas "string" (Arrow-backed) Series over the array, no copy."""
    return pd.Series(pd.arrays.ArrowStringArray(_arrow(arr)), copy=False)


def _take(arr: pa.Array, idx: np.ndarray) -> pa.Array:
    return arr.take(pa.array(np.asarray(idx, dtype=np.int64), type=pa.int64()))


def _encode(*arrays: pa.Array) -> tuple[list[np.ndarray], pa.Array]:
    """Joint dictionary codes of several string arrays (-1 for missing) and the dictionary."""
    arrays = [_arrow(a) for a in arrays]
    enc = pc.dictionary_encode(pa.concat_arrays(arrays) if len(arrays) > 1 else arrays[0])
    idx = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    bounds = np.cumsum([0] + [len(a) for a in arrays])
    return [idx[a:b] for a, b in zip(bounds[:-1], bounds[1:])], enc.dictionary


def _rank_of_dictionary(dictionary: pa.Array) -> np.ndarray:
    """Rank of each dictionary entry in string (codepoint) order, as Python sorts str."""
    rank = np.empty(len(dictionary), dtype=np.int64)
    rank[pc.sort_indices(dictionary).to_numpy()] = np.arange(len(dictionary))
    return rank


def _sorted_codes(arr: pa.Array) -> np.ndarray:
    """Codes whose order is the string order; -1 for missing."""
    (idx,), dictionary = _encode(arr)
    if len(dictionary) == 0:
        return idx
    return np.where(idx >= 0, _rank_of_dictionary(dictionary)[np.maximum(idx, 0)], -1)


# --------------------------------------------------------------------------- numpy helpers

def _argsort_keys(*keys: np.ndarray, unique: bool = False) -> np.ndarray:
    """Stable order of rows by integer keys (first = most significant).

    The keys (and, unless `unique` promises no two rows tie, the row number as a
    last key) are packed into one int64 when they fit, so that numpy's fast
    (SIMD) quicksort gives a stable result; otherwise `np.lexsort`.
    """
    n = len(keys[0]) if keys else 0
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if not unique:
        keys = (*keys, np.arange(n, dtype=np.int64))
    parts: list[tuple[np.ndarray, int]] = []
    for k in keys:
        k = np.asarray(k, dtype=np.int64)
        lo, hi = int(k.min()), int(k.max())
        parts.append((k - lo if lo else k, max((hi - lo).bit_length(), 1)))
    if sum(bits for _, bits in parts) <= 63:
        word = parts[0][0]
        for k, bits in parts[1:]:
            word = (word << bits) | k
        return np.argsort(word)
    return np.lexsort([k for k, _ in parts[::-1]])


def _first_of_run(sorted_keys: np.ndarray) -> np.ndarray:
    first = np.ones(len(sorted_keys), dtype=bool)
    if len(sorted_keys) > 1:
        first[1:] = sorted_keys[1:] != sorted_keys[:-1]
    return first


def _grouped_exclusive_cumsum(values: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Sum of the earlier values of the same run (runs marked by `first`)."""
    excl = np.cumsum(values) - values
    start = np.maximum.accumulate(np.where(first, np.arange(len(first)), 0))
    return excl - excl[start]


def _dense_lookup(sorted_unique: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Index of each key in a sorted unique array, -1 when absent."""
    if len(sorted_unique) == 0:
        return np.full(len(keys), -1, dtype=np.int64)
    i = np.minimum(np.searchsorted(sorted_unique, keys), len(sorted_unique) - 1)
    return np.where(sorted_unique[i] == keys, i, -1)


def _expand(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges [lo, hi): (range number, value) of every element, ranges in order."""
    cnt = hi - lo
    total = int(cnt.sum())
    which = np.repeat(np.arange(len(lo)), cnt)
    ends = np.cumsum(cnt)
    return which, np.arange(total, dtype=np.int64) + np.repeat(lo - (ends - cnt), cnt)


# --------------------------------------------------------------------------- the fill kernel

def _fill(slot_q: np.ndarray, slot_open: np.ndarray, req_q: np.ndarray, req_p: np.ndarray,
          rem: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Requests, in global order, consume their queues. Returns allocation rows (request, slot, amount).

    slot_q: dense queue id per slot (non-decreasing, 0..Q-1 all present), slots in
    queue order, slot_open > 0. req_q: queue per request (-1: nothing to pay);
    req_p: payment per request, non-decreasing (requests are in (payment order,
    rank) order); rem: what each payment has left. Rows come out in request order,
    then slot order.
    """
    nreq = len(req_q)
    empty = np.zeros(0, dtype=np.int64)
    if nreq == 0 or len(slot_q) == 0:
        return empty, empty, empty
    slot_end = np.cumsum(slot_open)
    slot_start = slot_end - slot_open
    qfirst = _first_of_run(slot_q)
    qbase = slot_start[qfirst]
    qtotal = np.diff(np.append(qbase, slot_end[-1]))

    live = np.flatnonzero(req_q >= 0)
    order = live[_argsort_keys(req_q[live])]  # by queue, then global (payment) order
    qs = req_q[order]
    qfirst_r = _first_of_run(qs)
    total = qtotal[qs]
    rem0 = np.maximum(rem[req_p], 0)
    pfirst = _first_of_run(req_p[live])
    multi = not pfirst.all()   # some payment has several requests: iterate to the fixed point
    taken = np.zeros(nreq, dtype=np.int64)
    while True:
        demand = rem0
        if multi:
            demand = rem0.copy()
            demand[live] = np.maximum(rem0[live] - _grouped_exclusive_cumsum(taken[live], pfirst), 0)
        d = demand[order]
        excl = _grouped_exclusive_cumsum(d, qfirst_r)
        s = np.minimum(excl, total)
        e = np.minimum(excl + d, total)
        new = np.zeros(nreq, dtype=np.int64)
        new[order] = e - s
        done = not multi or np.array_equal(new, taken)
        taken = new
        if done:
            break
    # slot ranges: searched in axis order (sorted keys: fast), then laid out in request order
    a_sorted = s + qbase[qs]
    lo = np.zeros(nreq, dtype=np.int64)
    hi = np.zeros(nreq, dtype=np.int64)
    lo[order] = np.searchsorted(slot_end, a_sorted, side="right")
    hi[order] = np.searchsorted(slot_start, a_sorted + (e - s), side="left")
    start = np.zeros(nreq, dtype=np.int64)
    start[order] = a_sorted
    has = np.flatnonzero(taken > 0)
    a, b = start[has], start[has] + taken[has]
    k, row_slot = _expand(lo[has], hi[has])
    row_amount = np.minimum(b[k], slot_end[row_slot]) - np.maximum(a[k], slot_start[row_slot])
    return has[k], row_slot, row_amount


# --------------------------------------------------------------------------- inputs

def _dates(s: pd.Series) -> np.ndarray:
    """datetime64[ns] column as int64 nanoseconds (NaT = int64 min)."""
    if s.dtype != "datetime64[ns]":
        s = pd.to_datetime(s).astype("datetime64[ns]")
    return s.to_numpy().view(np.int64)


def _ints(s: pd.Series) -> np.ndarray:
    return s.to_numpy(dtype=np.int64, na_value=0) if s.dtype != np.int64 else s.to_numpy()


def _days(v: np.ndarray) -> np.ndarray:
    """Dates (ns) as a smaller sort key: whole days when all values are midnights."""
    day = 86_400_000_000_000
    if len(v) and not (v % day).any():
        return v // day
    return v


class _Lines:
    """The invoices table as arrays (positions = row positions of `lines`)."""

    def __init__(self, lines: pd.DataFrame, as_of: pd.Timestamp, policy: Policy):
        n = self.n = len(lines)
        self.amount = _ints(lines["amount"])
        self.date = _dates(lines["invoice_date"])
        self.due = _dates(lines["due_date"]) if "due_date" in lines else np.full(n, _NAT)
        self.line_no = _ints(lines["line_no"]) if "line_no" in lines else np.ones(n, np.int64)
        self.is_cn = is_credit_note(lines)  # the one definition of a credit note
        self.dated = (self.date != _NAT) & (self.date <= as_of.value)
        self.part = ~self.is_cn & self.dated          # take part: listed in line_allocated
        self.code = _arrow(lines["line_code"])
        self.invoice_no = _arrow(lines["invoice_no"])
        self.applies_to = _arrow(lines["applies_to"] if "applies_to" in lines else None, n)
        self.customer_id = _arrow(lines["customer_id"])
        cur = lines["currency"] if "currency" in lines else None
        self.currency = _arrow(pc.fill_null(_arrow(cur, n), policy.default_currency))


class _Payments:
    """Effective payments (payments and credit notes dated <= as_of) in (date, id, source) order."""

    def __init__(self, payments: pd.DataFrame, L: _Lines, as_of: pd.Timestamp, policy: Policy):
        asof = as_of.value
        m = len(payments)
        pdate = _dates(payments["payment_date"]) if m else np.zeros(0, np.int64)
        pi = np.flatnonzero((pdate != _NAT) & (pdate <= asof))
        ci = np.flatnonzero(L.is_cn & L.dated)
        nul = pa.nulls(len(ci), type=pa.large_string())

        def col(name: str, from_credit_notes: pa.Array) -> pa.Array:
            """payments[name] for all rows, then the credit notes' values (taken with `sel` below)."""
            return pa.concat_arrays([_arrow(payments[name] if name in payments else None, m),
                                     _arrow(from_credit_notes)])

        sel = np.concatenate([pi, m + np.arange(len(ci), dtype=np.int64)])
        pid = col("payment_id", _take(L.code, ci))
        date = np.concatenate([pdate[pi], L.date[ci]])
        src = np.concatenate([np.zeros(len(pi), np.int8), np.ones(len(ci), np.int8)])
        order = pc.sort_indices(pa.table({"d": date, "id": _take(pid, sel), "s": src}),
                                sort_keys=[("d", "ascending"), ("id", "ascending"), ("s", "ascending")]).to_numpy()
        sel = sel[order]
        self.n = len(order)
        self.id = _take(pid, sel)
        self.date = date[order]
        self.src = src[order]
        amount = np.concatenate([_ints(payments["amount"]) if m else np.zeros(0, np.int64), np.abs(L.amount[ci])])
        self.amount = amount[sel]
        self.customer_id = _take(col("customer_id", _take(L.customer_id, ci)), sel)
        cur = _take(col("currency", _take(L.currency, ci)), sel)
        self.currency = _arrow(pc.fill_null(cur, policy.default_currency)) if cur.null_count else cur
        self.invoice_no = _take(col("invoice_no", _take(L.applies_to, ci)), sel)
        self.line_code = _take(col("line_code", nul), sel)
        self.reference = _take(col("reference", nul), sel)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({
            "payment_id": _pd_string(self.id),
            "payment_date": self.date.view("datetime64[ns]"),
            "customer_id": _pd_string(self.customer_id),
            "currency": _pd_string(self.currency),
            "amount": self.amount,
            "source": _pd_string(_take(pa.array(list(SOURCES), type=pa.large_string()), self.src)),
            "invoice_no": _pd_string(self.invoice_no),
            "line_code": _pd_string(self.line_code),
            "reference": _pd_string(self.reference),
        })


def _line_rank(inv_rank: np.ndarray, line_no: np.ndarray, code: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Rank of every line by (invoice_no, line_no, line_code), and the lines in that order."""
    n = len(inv_rank)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    o = _argsort_keys(inv_rank, line_no)
    k1, k2 = inv_rank[o], line_no[o]
    same = np.zeros(n, dtype=bool)
    same[1:] = (k1[1:] == k1[:-1]) & (k2[1:] == k2[:-1])
    if same.any():  # the same (invoice_no, line_no) twice: order those by line_code
        tie = same.copy()
        tie[:-1] |= same[1:]
        pos = np.flatnonzero(tie)
        run = np.cumsum(~same[pos])
        sub = _argsort_keys(run, _sorted_codes(_take(code, o[pos])))
        o[pos] = o[pos][sub]
    rank = np.empty(n, dtype=np.int64)
    rank[o] = np.arange(n, dtype=np.int64)
    return rank, o


# --------------------------------------------------------------------------- allocate

def allocate(lines: pd.DataFrame, payments: pd.DataFrame, as_of: pd.Timestamp | str,
             policy: Policy = Policy(), disputes: pd.DataFrame | None = None, *,
             adjustments: pd.DataFrame | None = None,
             threads: bool | None = None, profile: dict[str, float] | None = None) -> AllocationResult:
    """Allocate payments and credit notes to invoice lines as of `as_of` (SPEC §4; rules in the module doc).

    `adjustments` (SPEC §15, `billing.adjustments`): write-offs, manual applications and credit-note
    requests, applied before step 1 (step "adjustment"); what each did is in the result's
    `adjustments` frame.

    `threads`: run the independent string jobs on a second thread (None: only when lines + payments
    >= PARALLEL_MIN_ROWS); the result is the same either way. `profile`: a dict that receives the CPU
    seconds spent per section (bench/bench_engine.py prints them; meaningful with threads=False).
    """
    lap = _Laps(profile)
    as_of = pd.Timestamp(as_of)
    L = _Lines(lines, as_of, policy)
    lap("lines")
    P = _Payments(payments, L, as_of, policy)
    lap("payments (filter, order)")
    V = _Values(P)
    lap("reference values (tokens, canonical)")
    use_thread = L.n + P.n >= PARALLEL_MIN_ROWS if threads is None else threads
    with _helper(use_thread) as helper:
        return _allocate(L, P, V, policy, disputes, helper, lap, adjustments, as_of)


def _allocate(L: _Lines, P: _Payments, V: _Values, policy: Policy, disputes: pd.DataFrame | None,
              helper, lap: _Laps, adjustments: pd.DataFrame | None = None,
              as_of: pd.Timestamp | None = None) -> AllocationResult:
    n = L.n
    # ---- integer codes: customers and currencies shared by lines and payments
    (cust, p_cust), cust_dict = _encode(L.customer_id, P.customer_id)
    line_hits = helper.submit(_line_code_ids, L.code, cust, p_cust[V.p], V)  # the biggest string job
    (cur, p_cur), cur_dict = _encode(L.currency, P.currency)
    ncust, ncur = max(len(cust_dict), 1), max(len(cur_dict), 1)
    payable = L.part & (L.amount > 0) & (cust >= 0)

    # ---- invoices: identity (customer, invoice_no); line order (invoice_no, line_no, line_code)
    (inv_code,), inv_dict = _encode(L.invoice_no)
    inv_rank_of = _rank_of_dictionary(inv_dict)
    inv_rank = np.where(inv_code >= 0, inv_rank_of[np.maximum(inv_code, 0)], -1)
    line_rank, by_rank = _line_rank(inv_rank, L.line_no, L.code)
    c_sorted, i_sorted = cust[by_rank], inv_code[by_rank]
    same_inv = i_sorted[1:] == i_sorted[:-1]
    if (c_sorted >= 0).all() and (i_sorted >= 0).all() and (c_sorted[1:][same_inv] == c_sorted[:-1][same_inv]).all():
        # each invoice_no belongs to one customer: the invoice id is the invoice_no's code
        inv_id = inv_code
        inv_cust = np.zeros(len(inv_dict), dtype=np.int64)
        inv_cust[inv_code] = cust
        invoices = _Invoices(np.arange(len(inv_dict), dtype=np.int64), inv_cust, inv_dict, inv_rank_of)
    else:
        inv_key = np.where((inv_code >= 0) & (cust >= 0), inv_code * ncust + cust, -1)
        inv_uniq, inv_id = np.unique(inv_key, return_inverse=True)
        inv_id = inv_id.astype(np.int64).reshape(-1)
        if len(inv_uniq) and inv_uniq[0] == -1:   # lines without invoice_no or customer: no invoice
            inv_id, inv_uniq = inv_id - 1, inv_uniq[1:]
        invoices = _Invoices(inv_uniq // ncust, inv_uniq % ncust, inv_dict, inv_rank_of)
    lap("codes, invoices, line order")

    # ---- references
    refs = _References(V, line_hits.result(), P, p_cust, L, cust, inv_id, invoices, policy, lap)
    lap("references (matching)")
    issues = helper.submit(refs.issues)
    mismatches = helper.submit(refs.mismatches, p_cur, cur, cur_dict)

    open_ = np.where(payable, L.amount, 0)
    rem = np.maximum(P.amount, 0)
    out: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []

    def record(step: int, row_p: np.ndarray, row_line: np.ndarray, row_amt: np.ndarray) -> None:
        out.append((step, row_p, row_line, row_amt))
        np.subtract.at(open_, row_line, row_amt)
        np.subtract.at(rem, row_p, row_amt)

    # adjustments (SPEC §15) before step 1: manual applications pay from their payment, write-offs and
    # credit-note requests close part of the line without money (rows of their own, added at the end)
    settled = None
    if adjustments is not None and len(adjustments):
        settled = _settle(adjustments, as_of, L, cust, cur, p_cust, p_cur, ncur, payable, open_, P, rem)
        paid = np.flatnonzero((settled.taken > 0) & (settled.payment >= 0))
        record(3, settled.payment[paid], settled.line[paid], settled.taken[paid])
        closed = np.flatnonzero((settled.taken > 0) & (settled.payment < 0))
        np.subtract.at(open_, settled.line[closed], settled.taken[closed])
    lap("adjustments")

    # step 1: each named line is a queue of its own
    r_p, r_line = refs.line_requests
    ok = payable[r_line] & (cur[r_line] == p_cur[r_p])
    r_p, r_line = r_p[ok], r_line[ok]
    if len(r_p):
        slots = np.sort(r_line)
        slots = slots[_first_of_run(slots)]
        req_q = _dense_lookup(slots, r_line)
        rr, rs, ra = _fill(np.arange(len(slots), dtype=np.int64), open_[slots], req_q, r_p, rem)
        record(0, r_p[rr], slots[rs], ra)
    lap("step 1 line")

    # step 2: queue = (invoice, currency), lines in (line_no, line_code) order
    r_p, r_inv = refs.invoice_requests
    if len(r_p):
        wanted = np.zeros(max(len(invoices), 1), dtype=bool)
        wanted[r_inv] = True
        cand = np.flatnonzero(payable & (open_ > 0))
        cand = cand[(inv_id[cand] >= 0) & wanted[np.maximum(inv_id[cand], 0)]]
        qkey = inv_id[cand] * ncur + cur[cand]
        o = _argsort_keys(qkey, line_rank[cand], unique=True)
        cand, qkey = cand[o], qkey[o]
        qfirst = _first_of_run(qkey)
        req_q = _dense_lookup(qkey[qfirst], r_inv * ncur + p_cur[r_p])
        rr, rs, ra = _fill(np.cumsum(qfirst) - 1, open_[cand], req_q, r_p, rem)
        record(1, r_p[rr], cand[rs], ra)
    lap("step 2 invoice")

    # step 3: FIFO, queue = (customer, currency), by (due_date, invoice_date, invoice_no, line_no, line_code)
    # an open dispute holds its amount (SPEC §7): FIFO pays only what is left of the line above it
    held = _held(disputes, L, open_) if policy.fifo_skip_disputed else 0
    fifo_open = open_ - held
    fifo = payable & (fifo_open > 0)
    r_p = np.flatnonzero((rem > 0) & (p_cust >= 0))
    wanted = np.zeros(ncust * ncur, dtype=bool)
    wanted[p_cust[r_p] * ncur + p_cur[r_p]] = True     # only queues some payment still draws on
    cand = np.flatnonzero(fifo)
    cand = cand[wanted[cust[cand] * ncur + cur[cand]]]
    if len(cand) and len(r_p):
        qkey = cust[cand] * ncur + cur[cand]
        due = L.due[cand]
        due = np.where(due == _NAT, _BIG, due)
        big = due == _BIG
        due_key = _days(np.where(big, 0, due))
        due_key = np.where(big, due_key.max(initial=0) + 1, due_key)
        o = _argsort_keys(qkey, due_key, _days(L.date[cand]), line_rank[cand], unique=True)
        cand, qkey = cand[o], qkey[o]
        qfirst = _first_of_run(qkey)
        req_q = _dense_lookup(qkey[qfirst], p_cust[r_p] * ncur + p_cur[r_p])
        rr, rs, ra = _fill(np.cumsum(qfirst) - 1, fifo_open[cand], req_q, r_p, rem)
        record(2, r_p[rr], cand[rs], ra)
    lap("step 3 fifo")

    # ---- results
    if out:
        a_step = np.concatenate([np.full(len(o[1]), o[0], dtype=np.int8) for o in out])
        a_p = np.concatenate([o[1] for o in out])
        a_line = np.concatenate([o[2] for o in out])
        a_amt = np.concatenate([o[3] for o in out])
        o = _argsort_keys(a_p)  # stable: each step's rows are already in (payment, rank, line) order
        a_p, a_step, a_line, a_amt = a_p[o], a_step[o], a_line[o], a_amt[o]
    else:
        a_p = a_line = a_amt = np.zeros(0, dtype=np.int64)
        a_step = np.zeros(0, dtype=np.int8)
    allocations = pd.DataFrame({
        "payment_id": _pd_string(_take(P.id, a_p)),
        "payment_date": P.date[a_p].view("datetime64[ns]"),
        "customer_id": _pd_string(_take(P.customer_id, a_p)),
        "currency": _pd_string(_take(P.currency, a_p)),
        "line_code": _pd_string(_take(L.code, a_line)),
        "amount": a_amt,
        "step": _pd_string(_take(pa.array(list(STEPS), type=pa.large_string()), a_step)),
    })
    if settled is not None:
        allocations = pd.concat([allocations, _adjustment_rows(settled, L)[list(allocations.columns)]],
                                ignore_index=True)
    up = np.flatnonzero(rem > 0)
    unapplied = pd.DataFrame({
        "payment_id": _pd_string(_take(P.id, up)),
        "payment_date": P.date[up].view("datetime64[ns]"),
        "customer_id": _pd_string(_take(P.customer_id, up)),
        "currency": _pd_string(_take(P.currency, up)),
        "amount": rem[up],
    })
    # line_allocated: lines that take part, in (invoice_no, line_no, line_code) order
    last = np.full(n, _NAT, dtype=np.int64)
    if len(a_line):
        np.maximum.at(last, a_line, P.date[a_p])
    if settled is not None:
        closed = np.flatnonzero((settled.taken > 0) & (settled.payment < 0))
        np.maximum.at(last, settled.line[closed], _dates(settled.result["on"].iloc[closed]))
    last = np.where(payable & (open_ == 0), last, _NAT)
    lp = by_rank[L.part[by_rank]]
    line_allocated = pd.DataFrame({
        "line_code": _pd_string(_take(L.code, lp)),
        "allocated": np.where(payable, L.amount - open_, 0)[lp],
        "last_payment_date": last[lp].view("datetime64[ns]"),
    })
    lap("output: allocations, unapplied, line_allocated")
    effective = P.frame()
    if settled is not None:
        effective = pd.concat([effective, _adjustment_rows(settled, L)[list(effective.columns)]],
                              ignore_index=True)
    lap("output: effective_payments")
    issues, mismatches = issues.result(), mismatches.result()
    lap("output: reference_issues, currency_mismatches")
    result = AllocationResult(
        allocations=allocations,
        unapplied=unapplied,
        effective_payments=effective,
        reference_issues=issues,
        currency_mismatches=mismatches,
        line_allocated=line_allocated,
    )
    if settled is not None:
        result.adjustments = settled.result
    return result


def _settle(adjustments: pd.DataFrame, as_of: pd.Timestamp, L: _Lines, cust: np.ndarray, cur: np.ndarray,
            p_cust: np.ndarray, p_cur: np.ndarray, ncur: int, payable: np.ndarray, open_: np.ndarray,
            P: _Payments, rem: np.ndarray):
    """`billing.adjustments.settle` over this allocation's lines and payments."""
    frame = pd.DataFrame({"line_code": _pd_string(L.code), "customer_id": _pd_string(L.customer_id),
                          "invoice_no": _pd_string(L.invoice_no), "applies_to": _pd_string(L.applies_to),
                          "invoice_date": L.date.view("datetime64[ns]")})
    return settle(adjustments, as_of, line_codes=frame["line_code"],
                  line_key=np.where(cust >= 0, cust * ncur + cur, -1), payable=payable, open_=open_,
                  payment_ids=_pd_string(P.id), payment_key=np.where(p_cust >= 0, p_cust * ncur + p_cur, -2),
                  unapplied=rem, fulfilled=fulfilled_requests(adjustments, frame, L.is_cn & L.dated))


def _adjustment_rows(settled, L: _Lines) -> pd.DataFrame:
    """Write-offs and credit-note requests that closed part of a line, as allocation rows and effective
    payments of their own (payment_id "write_off #12", dated on their `on` date, source = the kind)."""
    res = settled.result
    closed = np.flatnonzero((settled.taken > 0) & (settled.payment < 0))
    line = settled.line[closed]
    r = res.iloc[closed]
    return pd.DataFrame({
        "payment_id": adjustment_payment_id(r["adjustment_id"], r["kind"]).array,
        "payment_date": r["on"].to_numpy(dtype="datetime64[ns]"),
        "customer_id": _pd_string(_take(L.customer_id, line)),
        "currency": _pd_string(_take(L.currency, line)),
        "line_code": _pd_string(_take(L.code, line)),
        "amount": settled.taken[closed],
        "step": pd.array(["adjustment"] * len(closed), dtype="string"),
        "source": r["kind"].array,
        "invoice_no": _pd_string(_take(L.invoice_no, line)),
        "reference": r["reason"].array,
    })


def _held(disputes: pd.DataFrame | None, L: _Lines, open_: np.ndarray) -> np.ndarray | int:
    """What open disputes hold of each line's open amount before FIFO (`billing.model.held_amounts`)."""
    if disputes is None or len(disputes) == 0 or L.n == 0:
        return 0
    return held_amounts(disputes, _pd_string(L.code), open_)


class _Now:
    """A finished 'future': runs the job at once (the serial mode)."""

    def __init__(self, fn, *args):
        self.value = fn(*args)

    def result(self):
        return self.value


class _Serial:
    def submit(self, fn, *args) -> _Now:
        return _Now(fn, *args)

    def __enter__(self) -> "_Serial":
        return self

    def __exit__(self, *exc) -> None:
        return None


def _helper(use_thread: bool):
    """A second thread for independent string jobs (numpy and Arrow release the GIL), else serial."""
    if use_thread:
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="allocate")
    return _Serial()


# --------------------------------------------------------------------------- reference matching

class _Invoices:
    """Distinct invoices (customer, invoice_no): invoice id i has `cust[i]` and `no[i]` (code into `names`)."""

    def __init__(self, no: np.ndarray, cust: np.ndarray, names: pa.Array, name_rank: np.ndarray):
        self.no, self.cust, self.names, self.name_rank = no, cust, names, name_rank

    def __len__(self) -> int:
        return len(self.no)


class _Values:
    """The reference values of every payment, in (payment, position) order.

    Positions: the line_code cell (0), the invoice_no cell (1), the tokens of the
    reference text (2..). Values whose canonical form is empty are dropped.
    """

    def __init__(self, P: _Payments):
        lc = pc.utf8_trim_whitespace(P.line_code)
        ic = pc.utf8_trim_whitespace(P.invoice_no)
        lc_rows = np.flatnonzero(pc.fill_null(pc.greater(pc.utf8_length(lc), 0), False).to_numpy(zero_copy_only=False))
        ic_rows = np.flatnonzero(pc.fill_null(pc.greater(pc.utf8_length(ic), 0), False).to_numpy(zero_copy_only=False))
        t_row, t_pos, t_tok = _tokenize(P.reference)
        raw = pa.concat_arrays([_arrow(_take(lc, lc_rows)), _arrow(_take(ic, ic_rows)), t_tok])
        v_p = np.concatenate([lc_rows, ic_rows, t_row])
        v_pos = np.concatenate([np.zeros(len(lc_rows), np.int64), np.ones(len(ic_rows), np.int64), t_pos + 2])
        canon = _canonical(raw)
        keep = np.flatnonzero(pc.greater(pc.utf8_length(canon), 0).to_numpy(zero_copy_only=False))
        keep = keep[_argsort_keys(v_p[keep], v_pos[keep], unique=True)]
        self.p, self.pos = v_p[keep], v_pos[keep]
        self.raw, self.canon = _take(raw, keep), _take(canon, keep)
        (self.id,), self.distinct = _encode(self.canon)   # id: index of the canonical form in `distinct`


def _canonical_hits(texts: pa.Array, distinct: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Canonical forms of `texts` and the index of each in `distinct` (-1 when absent; a hash lookup)."""
    canon = _canonical(texts)
    idx = pc.index_in(canon, value_set=distinct)
    return canon, idx.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def _lookup(keys: np.ndarray, rows: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each query key: how many `keys` equal it, and the row of the first of them (-1 if none)."""
    o = np.argsort(keys)
    keys, rows = keys[o], rows[o]
    qo = np.argsort(queries)          # sorted queries: a cache-friendly search
    qs = queries[qo]
    a, b = np.searchsorted(keys, qs, "left"), np.searchsorted(keys, qs, "right")
    count = np.zeros(len(queries), dtype=np.int64)
    first = np.full(len(queries), -1, dtype=np.int64)
    count[qo] = np.where(qs >= 0, b - a, 0)
    first[qo] = np.where((qs >= 0) & (b > a), rows[np.minimum(a, len(rows) - 1)] if len(rows) else -1, -1)
    return count, first


def _line_tails(off: np.ndarray, data: np.ndarray, cust: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(key, m) per line: m = number of ASCII letters/digits among its last _TAIL bytes and key = customer
    * 37**_TAIL + their base-37 number (upper-cased, in order); key -1 when the line is shorter than
    _TAIL bytes, has a non-ASCII byte among them, has no letter/digit there or has no customer."""
    n = len(off) - 1
    ok = (np.diff(off) >= _TAIL) & (cust >= 0)
    key = np.zeros(n, dtype=np.int64)
    m = np.zeros(n, dtype=np.int8)
    if len(data) < _TAIL:
        return np.full(n, -1, dtype=np.int64), m
    # the last _TAIL bytes of every line (rows of a sliding window), one contiguous row per byte position
    cols = np.lib.stride_tricks.sliding_window_view(data, _TAIL)[np.where(ok, off[1:], _TAIL) - _TAIL].T.copy()
    for b in cols:
        key = key * _TAIL_MUL[b] + _TAIL_DIGIT[b]
        m += _TAIL_ALNUM[b]
    ok &= (np.bitwise_or.reduce(cols, axis=0) < 128) & (m > 0)
    return np.where(ok, cust * 37 ** _TAIL + key, -1), m


def _value_tails(off: np.ndarray, data: np.ndarray, cust: np.ndarray, m: int) -> np.ndarray:
    """The key `_line_tails` gives a line whose canonical form ends like each canonical value's last m
    characters (-1: value shorter than m or without customer)."""
    lens = np.diff(off)
    ok = (lens >= m) & (cust >= 0)
    end = np.where(ok, off[1:], m)
    key = np.zeros(len(lens), dtype=np.int64)
    for j in range(m, 0, -1):
        key = key * 37 + _BASE36[data[np.minimum(end - j, len(data) - 1)]] + 1 if len(data) else key
    return np.where(ok, cust * 37 ** _TAIL + key, -1)


def _tail_hash(key: np.ndarray) -> np.ndarray:
    return ((key.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - _TAIL_BITS)).astype(np.int64)


def _line_code_ids(code: pa.Array, cust: np.ndarray, v_cust: np.ndarray, V: _Values) -> np.ndarray:
    """For each line, the index of its canonical form in `V.distinct` where a value of the line's customer
    could have that form, else -1 (lines without a customer: -1).

    Exact, but only a few lines are canonicalised: when a line's last _TAIL bytes are ASCII, its letters
    and digits among them (m of them, upper-cased) are the end of its canonical form, so the line can match
    a value of its customer only if (customer, those m characters) is (customer, last m characters) of such
    a value; a bitmap of those keys (a hash, so a superset) filters the lines. Lines whose tail is not of
    that form, or that are not ASCII, are always canonicalised.
    """
    n = len(code)
    ids = np.full(n, -1, dtype=np.int64)
    if n == 0 or len(V.distinct) == 0:
        return ids
    off, data = _buffers(code)
    key, m = _line_tails(off, data, cust)
    has = key >= 0
    voff, vdata = _buffers(_arrow(V.canon))
    table = np.zeros(1 << _TAIL_BITS, dtype=bool)
    for k in np.flatnonzero(np.bincount(m[has], minlength=_TAIL + 1)):
        vkey = _value_tails(voff, vdata, v_cust, int(k))
        table[_tail_hash(vkey[vkey >= 0])] = True
    cand = np.where(has, table[_tail_hash(np.maximum(key, 0))], cust >= 0)
    if not pc.all(pc.string_is_ascii(code), skip_nulls=True, min_count=0).as_py():
        cand |= ~pc.fill_null(pc.string_is_ascii(code), True).to_numpy(zero_copy_only=False) & (cust >= 0)
    cand = np.flatnonzero(cand)
    ids[cand] = _canonical_hits(_take(code, cand), V.distinct)[1]
    return ids


class _References:
    """What each payment names: values -> matched lines / invoices, problems, step-1 and step-2 requests."""

    def __init__(self, V: _Values, l_ids: np.ndarray, P: _Payments, p_cust: np.ndarray,
                 L: _Lines, cust: np.ndarray, inv_id: np.ndarray, invoices: _Invoices, policy: Policy,
                 lap: _Laps):
        self.P, self.p_cust, self.L, self.cust, self.inv_id, self.invoices = P, p_cust, L, cust, inv_id, invoices
        self.policy = policy
        self.v_p, self.v_pos, self.raw, self.canon = V.p, V.pos, V.raw, V.canon
        nv = len(self.v_p)
        v_cust = p_cust[self.v_p]

        # ---- candidates: only lines / invoice numbers whose canonical form some value has
        cand = np.flatnonzero((l_ids >= 0) & (cust >= 0))
        name_canon, n_ids = _canonical_hits(invoices.names, V.distinct)
        self.name_canon = name_canon
        inv_cand = np.flatnonzero(n_ids[invoices.no] >= 0) if len(invoices) else np.zeros(0, np.int64)
        width = max(int(max(cust.max(initial=0), p_cust.max(initial=0))) + 1, 1)
        vkey = np.where(v_cust >= 0, V.id * width + v_cust, -1)
        lap("refs: candidates")
        # line codes first, then invoice numbers (keys: canonical form, customer)
        nline, v_line = _lookup(l_ids[cand] * width + cust[cand], cand, vkey)
        ninv, v_inv = _lookup(n_ids[invoices.no[inv_cand]] * width + invoices.cust[inv_cand], inv_cand,
                              np.where(nline == 0, vkey, -1))
        v_line = np.where(nline == 1, v_line, -1)
        v_inv = np.where(ninv == 1, v_inv, -1)
        lap("refs: match keys")

        # ---- problems (codes into PROBLEMS; -1 none)
        problem = np.full(nv, -1, dtype=np.int64)
        um = np.flatnonzero((nline == 0) & (ninv == 0))
        if len(um):
            um_raw = _take(self.raw, um)
            shape = pc.fill_null(pc.match_substring_regex(um_raw, CODE_SHAPE.pattern, ignore_case=True),
                                 False).to_numpy(zero_copy_only=False)
            valid = np.zeros(len(um), dtype=bool)
            valid[shape] = _valid_check(_take(self.canon, um[shape]))
            pos = self.v_pos[um]
            problem[um] = np.where(pos == 1, 2, np.where(shape, np.where(valid, 1, 0), np.where(pos == 0, 1, -1)))
        problem[(nline > 1) | (ninv > 1)] = 3
        self.problem = problem
        lap("refs: problems")

        # ---- step-1 requests: (payment, line), first mention wins
        lm = np.flatnonzero(v_line >= 0)
        keep = _first_mask(self.v_p[lm], v_line[lm], n=max(L.n, 1))
        r1_p, r1_line = self.v_p[lm][keep], v_line[lm][keep]
        self.line_requests = (r1_p, r1_line)
        # ---- step-2 requests: invoices named (class 0) in order, then invoices of the named lines (class 1)
        im = np.flatnonzero(v_inv >= 0)
        line_inv = inv_id[r1_line]
        has = line_inv >= 0
        c_p = np.concatenate([self.v_p[im], r1_p[has]])
        c_inv = np.concatenate([v_inv[im], line_inv[has]])
        c_cls = np.concatenate([np.zeros(len(im), np.int64), np.ones(int(has.sum()), np.int64)])
        c_pos = np.concatenate([self.v_pos[im], np.arange(int(has.sum()), dtype=np.int64)])
        o = _argsort_keys(c_p, c_cls, c_pos, unique=True) if len(c_p) else c_p
        c_p, c_inv, c_cls = c_p[o], c_inv[o], c_cls[o]
        keep = _first_mask(c_p, c_inv, n=max(len(invoices), 1))
        self.invoice_requests = (c_p[keep], c_inv[keep])
        self.named_invoices = (c_p[keep][c_cls[keep] == 0], c_inv[keep][c_cls[keep] == 0])

    # ---- reference_issues
    def issues(self) -> pd.DataFrame:
        P, problem = self.P, self.problem
        idx = np.flatnonzero(problem >= 0)
        if len(idx):  # one row per (payment, canonical value, problem), first mention
            (cid,), _ = _encode(_take(self.canon, idx))
            key = (self.v_p[idx] * (int(cid.max()) + 1) + cid) * len(PROBLEMS) + problem[idx]
            o = _argsort_keys(key)
            idx = idx[np.sort(o[_first_of_run(key[o])])]
        tok = _take(self.raw, idx)
        prob = problem[idx]
        stem = pc.replace_substring_regex(tok, r"-\d{3,}[0-9A-Za-z]$", "")
        suggestion = _suggest(_canonical(tok), _canonical(_arrow(stem)), self.p_cust[self.v_p[idx]], self.invoices,
                              self.name_canon, self.policy.fuzzy_min_score)
        suggestion[prob == 3] = None
        p = self.v_p[idx]
        return pd.DataFrame({
            "payment_id": _pd_string(_take(P.id, p)),
            "customer_id": _pd_string(_take(P.customer_id, p)),
            "token": _pd_string(tok),
            "problem": _pd_string(_take(pa.array(list(PROBLEMS), type=pa.large_string()), prob)),
            "suggestion": _pd_string(pa.array(suggestion, type=pa.large_string())),
        })

    # ---- currency_mismatches
    def mismatches(self, p_cur: np.ndarray, cur: np.ndarray, cur_dict: pa.Array) -> pd.DataFrame:
        L, P = self.L, self.P
        real = L.part & (L.amount > 0)
        r1_p, r1_line = self.line_requests
        bad = real[r1_line] & (cur[r1_line] != p_cur[r1_p])
        mp, ml = [r1_p[bad]], [r1_line[bad]]
        r2_p, r2_inv = self.named_invoices
        if len(r2_p):
            wanted = np.zeros(max(len(self.invoices), 1), dtype=bool)
            wanted[r2_inv] = True
            lines_of = np.flatnonzero(real & (self.inv_id >= 0))
            lines_of = lines_of[wanted[self.inv_id[lines_of]]]
            lines_of = lines_of[_argsort_keys(self.inv_id[lines_of])]
            li = self.inv_id[lines_of]
            k, at = _expand(np.searchsorted(li, r2_inv, "left"), np.searchsorted(li, r2_inv, "right"))
            rp, rl = r2_p[k], lines_of[at]
            bad = cur[rl] != p_cur[rp]
            mp.append(rp[bad])
            ml.append(rl[bad])
        mp_a, ml_a = np.concatenate(mp), np.concatenate(ml)
        if len(mp_a):
            o = _argsort_keys(mp_a, _sorted_codes(_take(L.code, ml_a)), ml_a)
            mp_a, ml_a = mp_a[o], ml_a[o]
            first = np.ones(len(mp_a), dtype=bool)
            first[1:] = (mp_a[1:] != mp_a[:-1]) | (ml_a[1:] != ml_a[:-1])
            mp_a, ml_a = mp_a[first], ml_a[first]
        return pd.DataFrame({
            "payment_id": _pd_string(_take(P.id, mp_a)),
            "customer_id": _pd_string(_take(P.customer_id, mp_a)),
            "payment_currency": _pd_string(_take(P.currency, mp_a)),
            "line_code": _pd_string(_take(L.code, ml_a)),
            "line_currency": _pd_string(_take(cur_dict, cur[ml_a])),
            "amount": P.amount[mp_a],
        })


def _valid_check(bodies: pa.Array) -> np.ndarray:
    """Whether each canonical code's last character is the right check character for the rest."""
    bodies = _arrow(bodies)
    out = np.zeros(len(bodies), dtype=bool)
    idx = np.flatnonzero(pc.utf8_length(bodies).to_numpy(zero_copy_only=False) >= 2)
    if len(idx):
        sub = _take(bodies, idx)
        head = _pd_string(pc.utf8_slice_codeunits(sub, 0, -1))
        tail = pc.utf8_slice_codeunits(sub, -1).to_numpy(zero_copy_only=False).astype(str)
        out[idx] = check_chars(head) == tail   # linecode's vectorised check characters
    return out


def _first_mask(p: np.ndarray, target: np.ndarray, n: int) -> np.ndarray:
    """First occurrence of each (payment, target) pair; the input is in (payment, rank) order."""
    if len(p) == 0:
        return np.zeros(0, dtype=bool)
    key = p * n + target
    o = _argsort_keys(key)
    mask = np.zeros(len(p), dtype=bool)
    mask[o[_first_of_run(key[o])]] = True
    return mask


def _suggest(q_canon: pa.Array, q_stem: pa.Array, q_cust: np.ndarray, invoices: _Invoices, name_canon: pa.Array,
             min_score: float) -> np.ndarray:
    """Closest invoice number of the same customer; ties to the smaller number.

    Score = rapidfuzz ratio of canonical forms, the better of the whole value and
    the value without a trailing line-code part (`-001K`). An invoice whose
    canonical form equals that stem scores 100, the best there is, so those are
    found with a join; only the other values are scored against all of their
    customer's invoice numbers (rapidfuzz cdist, one call per customer).
    """
    nq = len(q_cust)
    out = np.full(nq, None, dtype=object)
    if nq == 0 or len(invoices) == 0:
        return out
    inv_cust, inv_no = invoices.cust, invoices.no

    def names(codes: np.ndarray) -> list:
        return _take(invoices.names, codes).to_pylist()

    # exact stem: the smallest invoice number of the customer with that canonical form
    hit = _canonical_hits(name_canon, pc.unique(q_stem))[1]
    cand = np.flatnonzero(hit[inv_no])
    (stem_id, canon_id), _ = _encode(q_stem, _take(name_canon, inv_no[cand]))
    width = int(max(inv_cust.max(), q_cust.max(), 0)) + 1
    key = canon_id * width + inv_cust[cand]
    o = _argsort_keys(key, invoices.name_rank[inv_no[cand]])
    key_s, no_s = key[o], inv_no[cand][o]
    qkey = np.where(q_cust >= 0, stem_id * width + q_cust, -1)
    exact = np.zeros(nq, dtype=bool)
    if len(key_s):
        at = np.minimum(np.searchsorted(key_s, qkey), len(key_s) - 1)
        exact = (qkey >= 0) & (key_s[at] == qkey)
        out[exact] = names(no_s[at[exact]])
    # the rest: full scan of the customer's invoice numbers
    rest = np.flatnonzero(~exact & (q_cust >= 0))
    if len(rest):
        o = _argsort_keys(inv_cust, invoices.name_rank[inv_no])   # invoices by (customer, invoice_no)
        ic, ino = inv_cust[o], inv_no[o]
        lo = np.searchsorted(ic, q_cust[rest], side="left")
        hi = np.searchsorted(ic, q_cust[rest], side="right")
        canon_names = np.array(name_canon.to_pylist(), dtype=object)
        full_q = np.array(_take(q_canon, rest).to_pylist(), dtype=object)
        stem_q = np.array(_take(q_stem, rest).to_pylist(), dtype=object)
        by_cust = _argsort_keys(q_cust[rest])
        firsts = np.flatnonzero(_first_of_run(q_cust[rest][by_cust]))
        for a, b in zip(firsts, np.append(firsts[1:], len(by_cust))):   # one cdist per customer
            qi = by_cust[a:b]
            l0, h0 = lo[qi[0]], hi[qi[0]]
            if h0 == l0:
                continue
            choices = list(canon_names[ino[l0:h0]])
            score = np.maximum(
                process.cdist(list(full_q[qi]), choices, scorer=fuzz.ratio, score_cutoff=min_score,
                              dtype=np.float64, workers=1),
                process.cdist(list(stem_q[qi]), choices, scorer=fuzz.ratio, score_cutoff=min_score,
                              dtype=np.float64, workers=1))
            best = score.argmax(axis=1)  # the first best is the smallest invoice number
            ok = score[np.arange(len(qi)), best] >= min_score
            if ok.any():
                out[rest[qi[ok]]] = names(ino[l0 + best[ok]])
    return out
