"""Three-way reconciliation (SPEC §6): orders ↔ invoice lines ↔ payments, as of a date.

`find_exceptions(tables, alloc, as_of, policy)` returns one row per exception
with the columns in `EXCEPTION_COLUMNS`:

- ``type``, ``severity`` ("high" | "medium" | "low" | "info", from `EXCEPTION_TYPES`),
- ``currency``, ``amount`` (int64 minor units at stake, never negative),
- ``customer_id``, ``refs`` (dict of sorted lists, only the keys that apply:
  ``line_codes``, ``order_lines`` ("order_id/order_line"), ``payment_ids``, ``invoice_nos``),
- ``message`` (one plain sentence with the figures), ``action`` (what to do).

Rows are sorted by severity (high first), type, customer_id, then refs, so
the same input gives the same frame whatever its row order.

Conventions, applied by every check:

- *As of*: only invoice lines and payments dated ≤ ``as_of`` take part (the
  allocation result is already as of that date). Orders are not filtered by
  ``order_date``; "delivered" means ``delivery_date ≤ as_of``.
- *Order keys*: ``order_id`` is compared trimmed; ``order_line`` is trimmed
  and, when purely numeric, compared without leading zeros ("001" == "1",
  "000" == "0"; an Excel-float "1.0" is read as "1"). An invoice line that
  names an ``order_id`` but no ``order_line`` is attributed to the order's
  line when the order has exactly one. Repeated order keys in the orders
  table: the first (by sheet row) is used.
- *Billed quantity* of an order line = Σ quantity of the invoice lines
  (invoice_date ≤ as_of) naming it − Σ |quantity| of credit notes naming it.
  A repeated (invoice_no, line_no) is reported as DUPLICATE_LINE and counted
  once. An invoice line without a quantity counts
  (|amount| + discount − tax) ÷ unit_price units (invoice price, else the
  order's; 0 when no price is known).
- *Quantities* are float64 and compared with a relative tolerance of 1e-9
  (so 0.1 + 0.2 is not "more than" 0.3).
- *Quantity × price* (`qty_times_price`) is exact decimal arithmetic in
  int64 for quantities with up to 6 decimal places (whole quantities are a
  plain integer product), rounded half-even to the minor unit. Other
  quantities (e.g. 1/3), or products beyond 2**62, fall back to
  ``np.rint(qty * price)`` in float64, exact to the minor unit only while
  |product| < 2**52 (≈ 4.5e13 minor units).

Rules per type (amount always ≥ 0, int64 minor units):

- UNBILLED: delivery_date ≤ as_of, no billing block, billed < delivered_qty
  (quantity when delivered_qty is missing); missing qty × order unit_price.
- BILLING_BLOCKED (info): billing_block not blank (nor "no"/"none"/"-"/"0"…);
  amount = max(delivered-or-ordered − billed, 0) × price.
- OVERBILLED_QTY: billed > order quantity with at most one invoice line
  billing it; excess × order price.
- DUPLICATE_LINE: (a) an (invoice_no, line_no) on several rows: amount = the
  later copies' |amount|; (b) billed > order quantity by two or more invoice
  lines (then not also OVERBILLED_QTY): excess × order price.
- DUPLICATE_LINE_CODE: one canonical line_code_original on different
  (invoice_no, line_no); amount = |amount| of the lines after the first key.
- PRICE_MISMATCH: invoice (not credit note) unit_price vs the order's, same
  currency, |diff| > price_tolerance_pct % of the order price, decided exactly
  for the decimal percentage; |diff| × invoice qty (order qty when missing).
- LINE_TOTAL_MISMATCH: lines with quantity and unit_price: |amount − (qty ×
  price − discount + tax)| > line_total_tolerance_minor (credit notes in
  magnitudes); amount = the difference.
- BILLED_BEFORE_DELIVERY: invoice line (not credit note) on an order line
  with invoice_date < delivery_date, or not delivered as of as_of (no
  delivery_date and no delivered_qty, or delivery_date > as_of); skipped when
  the orders carry no delivery data at all; amount = |line amount|.
- ORPHAN_INVOICE_LINE: order_id given and (order_id, order_line) not in the
  orders (or the order_id unknown when no order_line); |line amount|.
- BAD_REFERENCE: one per alloc.reference_issues row; amount = the payment's;
  the suggestion goes in the action.
- UNKNOWN_CUSTOMER: one per invoice (|Σ amount|) and per payment whose
  customer_id is not in customers.
- CURRENCY_MISMATCH: one per alloc.currency_mismatches row; its amount.
- UNAPPLIED_CASH: one per alloc.unapplied row (credit notes named by their
  line code).
- SHORT_PAID: invoice with open > 0 after allocation that got an allocation
  from a payment (not a credit note) referencing it (step "line"/"invoice",
  or the payment's invoice_no/line_code names it); amount = its open total.

How it runs (large books: 1M invoice lines, 1M order lines in a few seconds).
Every check is decided on whole columns in numpy/Arrow, on integer codes:
string keys are coded once (short ASCII numbers by value and length, columns
already in order by runs, the rest by one Arrow hash), joins are integer
lookups, group sizes are bincounts. Only the rows that end up as exceptions
(or the few candidate rows of a grouped check: repeated keys, shared line
codes, invoices left open) are turned into small frames, on which the
messages, refs and groupings are built exactly as the rules above say.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from fractions import Fraction
from functools import cached_property
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from billing.aging import is_credit_note
from billing.linecode import canonical_arrow, canonical_series
from billing.model import AllocationResult, empty_table
from billing.policy import Policy
from billing.schema import FALSE_WORDS

# --------------------------------------------------------------------------- types

SEVERITIES = ("high", "medium", "low", "info")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
# The app shows these; `severity` is the default for the type.
EXCEPTION_TYPES: dict[str, dict[str, str]] = {
    "UNBILLED": {
        "severity": "medium",
        "description": "Delivered order line (no billing block) billed for less than the delivered "
                       "(or ordered) quantity; amount = missing quantity × order price."},
    "BILLING_BLOCKED": {
        "severity": "info",
        "description": "Order line on billing block, listed with its reason (not an error); "
                       "amount = the value not yet billed."},
    "OVERBILLED_QTY": {
        "severity": "high",
        "description": "One invoice line bills more than the order line's quantity; "
                       "amount = excess quantity × order price."},
    "PRICE_MISMATCH": {
        "severity": "medium",
        "description": "Invoice unit price differs from the order unit price by more than the "
                       "price tolerance; amount = |difference| × invoiced quantity."},
    "LINE_TOTAL_MISMATCH": {
        "severity": "medium",
        "description": "Line amount ≠ quantity × unit price − discount + tax by more than the "
                       "line-total tolerance; amount = the difference."},
    "BILLED_BEFORE_DELIVERY": {
        "severity": "medium",
        "description": "Invoice dated before the order line's delivery, or the order line is not "
                       "delivered as of the date; amount = the invoice line amount."},
    "ORPHAN_INVOICE_LINE": {
        "severity": "medium",
        "description": "Invoice line naming an order or order line that is not in the orders; "
                       "amount = the line amount."},
    "DUPLICATE_LINE": {
        "severity": "high",
        "description": "The same (invoice_no, line_no) twice, or one order line billed by several "
                       "invoice lines for more than its quantity."},
    "DUPLICATE_LINE_CODE": {
        "severity": "high",
        "description": "The same line code given to different invoice lines."},
    "BAD_REFERENCE": {
        "severity": "medium",
        "description": "Payment reference that fails its check character or names an unknown "
                       "line or invoice; amount = the payment."},
    "UNKNOWN_CUSTOMER": {
        "severity": "high",
        "description": "Invoice or payment for a customer that is not in the customer list."},
    "CURRENCY_MISMATCH": {
        "severity": "high",
        "description": "Payment in a different currency from the line or invoice it names."},
    "UNAPPLIED_CASH": {
        "severity": "low",
        "description": "Payment (or credit note) amount left unapplied: overpayment or no open lines."},
    "SHORT_PAID": {
        "severity": "medium",
        "description": "Invoice named by a payment that left it partly open; amount = what remains open."},
}

EXCEPTION_COLUMNS = ["type", "severity", "currency", "amount", "customer_id", "refs", "message", "action"]
REF_KEYS = ("line_codes", "order_lines", "payment_ids", "invoice_nos")

BILLING_DUE_COLUMNS = ["order_id", "order_line", "customer_id", "currency", "sku", "description",
                       "delivered_qty", "billed_qty", "qty_to_bill", "unit_price", "amount_to_bill"]
BILLING_BLOCKED_COLUMNS = ["order_id", "order_line", "customer_id", "currency", "sku", "description",
                           "quantity", "delivered_qty", "billed_qty", "unit_price", "billing_block",
                           "amount"]

# billing_block values that mean "no block" (besides blank).
_NO_BLOCK_WORDS = frozenset(FALSE_WORDS) | {"none", "-", "n/a", "na", "nil", "无"}
_QTY_RTOL = 1e-9
# Shortcuts that give the same result as the general path on the inputs they accept (ids already in
# order, number-like ids, small key ranges, whole quantities...). `general_paths()` turns them off for
# the calls inside it (tests and bench/check_reconcile_equivalence.py run both ways).
_SHORTCUTS: ContextVar[bool] = ContextVar("reconcile_shortcuts", default=True)


@contextmanager
def general_paths() -> Iterator[None]:
    """Inside this block reconciliation takes its general code paths only (same results, slower).

    Scoped to the current thread / async context, so other callers keep the shortcuts.
    """
    token = _SHORTCUTS.set(False)
    try:
        yield
    finally:
        _SHORTCUTS.reset(token)
_MAX_QTY_DECIMALS = 6


# --------------------------------------------------------------------------- numbers

def _price_ints(price: Any) -> np.ndarray:
    """Prices as int64 minor units, missing (or not a number) = 0."""
    if isinstance(price, np.ndarray) and price.dtype.kind == "i":
        return price.astype("int64", copy=False)
    if isinstance(price, (pd.Series, pd.api.extensions.ExtensionArray)) and str(price.dtype) in ("Int64", "int64"):
        return np.asarray(price.to_numpy(dtype="int64", na_value=0), dtype="int64")
    return pd.to_numeric(pd.Series(np.asarray(price, dtype=object)), errors="coerce").fillna(0).astype("int64").to_numpy()


def qty_times_price(qty: Any, price: Any) -> np.ndarray:
    """Quantity (float) × price (int minor units), rounded half-even to int64 minor units.

    Exact for quantities with at most 6 decimal places (1.5, 0.125, 2.333333):
    the quantity is scaled to an integer, multiplied in int64 and divided back
    with half-even rounding. Whole quantities are a plain integer product.
    Quantities with more decimals, or products beyond 2**62, use
    ``np.rint(qty * price)`` in float64 (exact only while |product| < 2**52).
    Missing quantities or prices give 0.
    """
    q = np.asarray(qty, dtype="float64")
    p = _price_ints(price)
    q = np.where(np.isfinite(q), q, 0.0)
    out = np.zeros(len(q), dtype="int64")
    done = np.zeros(len(q), dtype=bool)
    absp = np.abs(p).astype("float64")
    for d in range(_MAX_QTY_DECIMALS + 1):  # over decimal places, not rows
        if done.all():
            break
        scale = 10 ** d
        scaled = q * scale
        n = np.rint(scaled)
        whole = np.abs(scaled - n) <= 1e-12 * np.maximum(np.abs(scaled), 1.0)
        ok = ~done & whole & (np.abs(n) < 2.0 ** 53) & (np.abs(n) * absp < 2.0 ** 62)
        if not ok.any():
            continue
        if d == 0 and ok.all():  # the common case: whole quantities, no masking
            return n.astype("int64") * p
        prod = n[ok].astype("int64") * p[ok]
        if d:
            quo, rem = np.divmod(prod, scale)  # floor division, 0 <= rem < scale
            half = scale // 2
            prod = quo + ((rem > half) | ((rem == half) & (quo % 2 == 1)))
        out[ok] = prod
        done |= ok
    rest = ~done
    if rest.any():
        out[rest] = np.rint(q[rest] * p[rest].astype("float64")).astype("int64")
    return out


def _exceeds_pct(diff_abs: np.ndarray, base_abs: np.ndarray, pct: float) -> np.ndarray:
    """|diff| > pct % of |base|, decided exactly for the decimal `pct` the user wrote."""
    frac = Fraction(str(pct)).limit_denominator(10 ** 9)
    num, den = frac.numerator, frac.denominator
    diff_abs = np.asarray(diff_abs, dtype="int64")
    base_abs = np.asarray(base_abs, dtype="int64")
    if len(diff_abs) == 0:
        return np.zeros(0, dtype=bool)
    if max(int(diff_abs.max()) * 100 * den, int(base_abs.max()) * max(num, 1)) < 2 ** 62:
        return diff_abs * (100 * den) > base_abs * num
    return diff_abs.astype("float64") * 100.0 > base_abs.astype("float64") * float(pct)


def _pct_is_exact(diff_abs: np.ndarray, base_abs: np.ndarray, pct: float) -> bool:
    """Whether `_exceeds_pct` decides these rows in exact integers (then each row on its own)."""
    frac = Fraction(str(pct)).limit_denominator(10 ** 9)
    num, den = frac.numerator, frac.denominator
    if len(diff_abs) == 0:
        return True
    return max(int(np.max(diff_abs)) * 100 * den, int(np.max(base_abs)) * max(num, 1)) < 2 ** 62


def _qty_gt(a: pd.Series | np.ndarray, b: pd.Series | np.ndarray) -> np.ndarray:
    """a > b beyond float noise (relative 1e-9)."""
    a = np.asarray(a, dtype="float64")
    b = np.asarray(b, dtype="float64")
    return a > b + _QTY_RTOL * np.maximum(np.maximum(np.abs(a), np.abs(b)), 1.0)


def _ints(s: pd.Series) -> np.ndarray:
    """A money column (int64 or Int64) as int64, missing = 0."""
    if s.dtype == "int64":
        return s.to_numpy()
    if str(s.dtype) == "Int64":
        return s.to_numpy(dtype="int64", na_value=0)
    return pd.to_numeric(s, errors="coerce").fillna(0).astype("int64").to_numpy()


def _floats(s: pd.Series) -> np.ndarray:
    """`pd.to_numeric(s, errors="coerce").astype("float64")` as an array (NaN = missing)."""
    if s.dtype == "float64":
        return s.to_numpy()
    return pd.to_numeric(s, errors="coerce").astype("float64").to_numpy()


# --------------------------------------------------------------------------- formatting

def _money_formatter() -> Callable[[int, str], str]:
    try:  # billing.money is the project's formatter; fall back while it is not there.
        from billing.money import format_minor
        return format_minor
    except ImportError:
        return _format_minor_local


def _format_many(amounts: np.ndarray, currencies: np.ndarray) -> list[str]:
    """Major-unit strings for many amounts, with billing.money's `format_minor`.

    One by one: `format_minor_series` gives the same strings but costs
    milliseconds per call in pandas overhead, and the exception rows are few.
    """
    fmt = _money_formatter()
    return [_grouped(fmt(x, c)) for x, c in zip(np.asarray(amounts, dtype="int64").tolist(),
                                                [str(c) for c in currencies])]


def _grouped(text: str) -> str:
    """ "-100000.00" -> "-100,000.00": a message's amount is read by a person (thousands grouped)."""
    sign = "-" if text.startswith("-") else ""
    whole, dot, frac = text.lstrip("-").partition(".")
    return f"{sign}{int(whole):,}{dot}{frac}"


def _minor_digits_local(currency: str) -> int:
    try:
        from babel.numbers import get_currency_precision
        return int(get_currency_precision(currency))
    except Exception:  # noqa: BLE001 - unknown code or no babel
        return 2


def _format_minor_local(minor: int, currency: str) -> str:
    """Exact decimal string in major units, e.g. 123450 USD -> "1234.50"."""
    digits = _minor_digits_local(currency)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(int(minor)), 10 ** digits)
    return f"{sign}{whole}.{frac:0{digits}d}" if digits else f"{sign}{whole}"


def _fmt_money(amounts: Any, currencies: Any) -> pd.Series:
    """"1234.50 USD" per exception row; aligned by position, indexed like the Series given."""
    index = next((x.index for x in (currencies, amounts) if isinstance(x, pd.Series)), None)
    a = np.asarray(pd.Series(amounts).to_numpy(), dtype="int64")
    cur = (np.full(len(a), currencies, dtype=object) if isinstance(currencies, str)
           else pd.Series(currencies).astype("string").fillna("").to_numpy(dtype=object))
    # str.strip is pandas' str.strip here: Arrow's utf8_trim_whitespace strips the same 29 characters
    text = [f"{x} {c}".strip() for x, c in zip(_format_many(a, cur), cur.tolist())]
    return pd.Series(text, index=index, dtype="string")


def _fmt_qty(q: pd.Series) -> pd.Series:
    """Quantities without float noise: 4.0 -> "4", 1.5 -> "1.5"."""
    def one(x: float) -> str:
        if pd.isna(x):
            return "?"
        s = f"{round(float(x), 6):.6f}".rstrip("0").rstrip(".")
        return "0" if s in ("-0", "") else s
    return pd.Series([one(x) for x in q.to_numpy()], index=q.index, dtype="string")


def _units(q: pd.Series) -> pd.Series:
    """"1 unit", "2.5 units"."""
    word = pd.Series(np.where(np.isclose(q.to_numpy(dtype="float64"), 1.0), " unit", " units"),
                     index=q.index, dtype="string")
    return _fmt_qty(q) + word


def _txt(s: pd.Series, missing: str = "?") -> pd.Series:
    return s.astype("string").fillna(missing)


def _one(s: pd.Series) -> pd.Series:
    """One-element ref lists (missing -> no ref)."""
    missing = s.isna().to_numpy(dtype=bool).tolist()
    return pd.Series([None if m else [v] for v, m in zip(s.astype(object).to_numpy().tolist(), missing)],
                     index=s.index, dtype=object)


# --------------------------------------------------------------------------- normalising

def _norm_id(s: pd.Series) -> pd.Series:
    s = s.astype("string").str.strip()
    return s.mask(s == "")


def _norm_id_arrow(s: pd.Series | pa.Array) -> pa.Array:
    """`_norm_id` of a whole column in Arrow (pandas' str.strip is utf8_trim_whitespace)."""
    arr = pc.utf8_trim_whitespace(_arrow(s))
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, type=arr.type), arr)


def _norm_order_line(s: pd.Series) -> pd.Series:
    """Trimmed; purely numeric lines lose leading zeros ("001" -> "1"); "1.0" -> "1"."""
    s = _norm_id(s)
    s = s.str.replace(r"^(\d+)\.0*$", r"\1", regex=True)
    numeric = s.str.fullmatch(r"\d+").fillna(False).astype(bool)
    stripped = s.str.replace(r"^0+(?=\d)", "", regex=True)
    return s.where(~numeric, stripped)



def _isin(values: pd.Series, wanted: Any) -> np.ndarray:
    """`values.isin(wanted)` as a bool array, hashed in Arrow.

    pandas' Arrow-string `isin` turns `wanted` into a Python list first, which
    dominated reconciliation time on 100k-line books.
    """
    if not isinstance(wanted, pd.Series):
        wanted = pd.Series(list(wanted), dtype="string")
    left = pa.array(values.astype("string"))
    right = pa.array(wanted.astype("string").dropna().unique())
    return pc.fill_null(pc.is_in(left, value_set=right), False).to_numpy(zero_copy_only=False)


def _table(tables: dict[str, pd.DataFrame], name: str) -> pd.DataFrame:
    t = tables.get(name)
    return empty_table(name) if t is None else t


def _col(df: pd.DataFrame, name: str, dtype: str = "string") -> pd.Series:
    if name in df.columns:
        return df[name]
    return pd.Series(pd.NA if dtype != "float64" else np.nan, index=df.index, dtype=dtype)


# --------------------------------------------------------------------------- arrow and integer codes

def _arrow(s: pd.Series | pa.Array | pa.ChunkedArray) -> pa.Array:
    """A column as `.astype("string")` sees it, as one pyarrow large_string array (no copy when Arrow-backed)."""
    if isinstance(s, pd.Series):
        s = s.astype("string")
        arr = getattr(s.array, "_pa_array", None)
        if arr is None:
            arr = pa.array(s.to_numpy(dtype=object, na_value=None), type=pa.large_string())
    else:
        arr = s
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.chunk(0) if arr.num_chunks == 1 else (
            arr.combine_chunks() if arr.num_chunks else pa.array([], type=arr.type))
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    return arr


def _series(arr: pa.Array, index: pd.Index | None = None) -> pd.Series:
    """A pandas "string" Series over an Arrow string array."""
    return pd.Series(pd.arrays.ArrowStringArray(_arrow(arr)), index=index, copy=False)


def _np_bool(arr: pa.Array | pa.ChunkedArray, null: bool = False) -> np.ndarray:
    return np.asarray(pc.fill_null(arr, null).to_numpy(zero_copy_only=False), dtype=bool)


def _take_arrow(arr: pa.Array, idx: np.ndarray) -> pa.Array:
    return arr.take(pa.array(np.asarray(idx, dtype=np.int64), type=pa.int64()))


def _is_sorted(arr: pa.Array) -> bool:
    """Non-null values in non-decreasing order (codepoint order)."""
    n = len(arr)
    if n <= 1:
        return True
    return bool(pc.all(pc.less_equal(arr.slice(0, n - 1), arr.slice(1)), skip_nulls=False,
                       min_count=0).as_py())


def _dense(keys: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes 0..k-1 of int64 keys (equal keys, equal codes), and k."""
    n = len(keys)
    if n == 0:
        return np.zeros(0, dtype=np.int64), 0
    lo, hi = int(keys.min()), int(keys.max())
    if _SHORTCUTS.get() and hi - lo < 4 * n + 1024:  # a small range: the keys are their own codes (some unused)
        return keys - lo, hi - lo + 1
    codes, uniques = pd.factorize(keys)
    return codes.astype(np.int64, copy=False), len(uniques)


def _codes(*arrays: pa.Array) -> tuple[list[np.ndarray], int]:
    """Integer codes 0..k-1 shared by one or more string arrays: equal strings <-> equal codes; -1 = missing.

    Without hashing the strings where possible: a single array whose values are
    already in order is coded by runs; short ASCII numbers ("0010042") are keyed
    by (value, length). Everything else goes through one Arrow dictionary encode.
    """
    arrays = [_arrow(a) for a in arrays]
    if len(arrays) == 1:
        arr = arrays[0]
        valid = None if arr.null_count == 0 else _np_bool(pc.is_valid(arr))
        vals = arr if valid is None else arr.filter(pa.array(valid))
        if _SHORTCUTS.get() and _is_sorted(vals):
            codes = np.zeros(len(vals), dtype=np.int64)
            if len(vals) > 1:
                np.cumsum(_np_bool(pc.not_equal(vals.slice(1), vals.slice(0, len(vals) - 1))), out=codes[1:])
            k = int(codes[-1]) + 1 if len(codes) else 0
            if valid is None:
                return [codes], k
            out = np.full(len(arr), -1, dtype=np.int64)
            out[valid] = codes
            return [out], k
    keys, rest_at, rest_vals, nums = [], [], [], []
    for i, arr in enumerate(arrays):
        key = np.full(len(arr), -1, dtype=np.int64)
        if len(arr):
            length = pc.binary_length(arr).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
            num = _np_bool(pc.ascii_is_decimal(arr)) & (length <= 17) & _SHORTCUTS.get()
            if num.any():
                at = np.flatnonzero(num)
                nums.append((i, at, pc.cast(arr.filter(pa.array(num)), pa.int64()).to_numpy(zero_copy_only=False),
                             length[at]))
            rest = _np_bool(pc.is_valid(arr)) & ~num
            if rest.any():
                rest_at.append((i, np.flatnonzero(rest)))
                rest_vals.append(arr.filter(pa.array(rest)))
        keys.append(key)
    if nums:  # a number string is (length, value): keyed compactly, as ids are mostly of one length
        lo = min(int(v.min()) for _, _, v, _ in nums)
        width = max(int(v.max()) for _, _, v, _ in nums) - lo + 1
        short = min(int(ln.min()) for _, _, _, ln in nums)
        for i, at, v, ln in nums:
            keys[i][at] = (ln - short) * width + (v - lo)
    if rest_vals:
        enc = pc.dictionary_encode(pa.concat_arrays(rest_vals) if len(rest_vals) > 1 else rest_vals[0])
        dcodes = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        start = 0
        for (i, at) in rest_at:
            keys[i][at] = -2 - dcodes[start:start + len(at)]
            start += len(at)
    allk = np.concatenate(keys) if len(keys) > 1 else keys[0]
    valid = allk != -1
    dense = np.full(len(allk), -1, dtype=np.int64)
    dense[valid], k = _dense(allk[valid])
    bounds = np.cumsum([0] + [len(a) for a in arrays])
    return [dense[a:b] for a, b in pairwise(bounds)], k


def _norm_order_line_codes(*columns: pd.Series) -> tuple[list[np.ndarray], int]:
    """Shared codes of `_norm_order_line` of several columns (normalising only the distinct values)."""
    arrays = [_arrow(c) for c in columns]
    both = pa.concat_arrays(arrays) if len(arrays) > 1 else arrays[0]
    enc = pc.dictionary_encode(both)
    raw = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    norm = _norm_order_line(_series(enc.dictionary))
    ncodes, uniques = pd.factorize(norm.array)
    ncodes = np.append(ncodes.astype(np.int64), -1)  # raw -1 (missing) stays missing
    out = ncodes[raw]
    bounds = np.cumsum([0] + [len(a) for a in arrays])
    return [out[a:b] for a, b in pairwise(bounds)], len(uniques)


def _canonical(arr: pa.Array) -> pa.Array:
    """`linecode.canonical_series` of a whole column, as Arrow (missing stays missing)."""
    return canonical_arrow(_arrow(arr))


def _isin_arrow(values: pa.Array, wanted: pa.Array) -> np.ndarray:
    """values in wanted, missing matching missing (as pandas' joins and maps match them)."""
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    return _np_bool(pc.is_in(values, value_set=pc.unique(wanted), skip_nulls=False))


def _sheet_order(df: pd.DataFrame, keep: np.ndarray | None = None) -> np.ndarray:
    """Positions of the rows (those in `keep`) in source order: stable sort by (_sheet, _row) when present."""
    idx = np.arange(len(df), dtype=np.int64) if keep is None else np.flatnonzero(keep).astype(np.int64)
    cols = [c for c in ("_sheet", "_row") if c in df.columns]
    if not cols or len(idx) <= 1:
        return idx
    one_sheet = True
    if "_sheet" in cols:
        sheet = _arrow(df["_sheet"])
        first = sheet[0]
        one_sheet = first.is_valid and sheet.null_count == 0 and bool(
            pc.all(pc.equal(sheet, first), min_count=0).as_py())
    if one_sheet and "_row" not in cols:
        return idx
    if one_sheet and isinstance(df["_row"].dtype, np.dtype) and df["_row"].dtype.kind == "i":
        row = df["_row"].to_numpy()[idx].astype(np.int64)
        if _SHORTCUTS.get() and (row[1:] >= row[:-1]).all():
            return idx
        lo, hi = int(row.min()), int(row.max())
        if _SHORTCUTS.get() and hi - lo < 4 * len(row) + 1024:
            slot = np.full(hi - lo + 1, -1, dtype=np.int64)
            slot[row - lo] = np.arange(len(row))
            if (slot >= 0).sum() == len(row):  # distinct row numbers: a scatter is the sort
                return idx[slot[slot >= 0]]
        return idx[np.argsort(row, kind="stable")]
    keys = df[cols].iloc[idx].reset_index(drop=True)
    return idx[keys.sort_values(cols, kind="stable").index.to_numpy()]


# --------------------------------------------------------------------------- invoice lines, orders, matching

def _take_rows(df: pd.DataFrame, name: str, rows: np.ndarray, dtype: str | None = None) -> pd.Series:
    """df[name] at positions `rows` (RangeIndex); a missing column is a KeyError, or with `dtype`,
    missing values of that dtype (as `_col`)."""
    if dtype is not None and name not in df.columns:
        return pd.Series(pd.NA if dtype != "float64" else np.nan, index=pd.RangeIndex(len(rows)), dtype=dtype)
    return pd.Series(df[name].array.take(rows), copy=False)


class _Lines:
    """Invoice lines dated ≤ as_of in sheet order: positions into the invoices table plus per-line arrays.

    Line i is row `pos[i]` of the table. `frame(rows)` gives the table rows of
    some lines with the helper columns the message code uses (`_cn`,
    `_amount`, `_inv`, `_line_no`, `_rep`, `_key`, `_code_orig`), indexed by line.
    """

    def __init__(self, invoices: pd.DataFrame, as_of: pd.Timestamp):
        self.src = invoices
        self.asof = (invoices["invoice_date"] <= as_of).fillna(False).to_numpy(dtype=bool)
        self.pos = _sheet_order(invoices, self.asof)
        self.n = len(self.pos)
        self.amount = _ints(self.take("amount"))
        self.cn = is_credit_note(invoices)[self.pos]  # the one definition (billing.aging)

    def take(self, name: str, dtype: str | None = None) -> pd.Series:
        """Column `name` in line order (RangeIndex). A missing column: KeyError, or with a `dtype`,
        missing values (as `_col`)."""
        return _take_rows(self.src, name, self.pos, dtype)

    @cached_property
    def _inv_codes(self) -> tuple[np.ndarray, int]:
        (codes,), k = _codes(_norm_id_arrow(self.src["invoice_no"]))
        return codes[self.pos], k

    @property
    def inv(self) -> np.ndarray:
        """Codes 0..n_inv-1 of the trimmed invoice_no (-1 blank)."""
        return self._inv_codes[0]

    @property
    def n_inv(self) -> int:
        return self._inv_codes[1]

    @cached_property
    def line_no(self) -> pd.Series:
        return pd.to_numeric(self.take("line_no", "Int64"), errors="coerce").astype("Int64")

    @cached_property
    def key(self) -> np.ndarray:
        """Group codes of (_inv, _line_no), missing values being values of their own."""
        ln = self.line_no
        na = ln.isna().to_numpy()
        vals = ln.to_numpy(dtype="int64", na_value=0)
        lo, hi = (int(vals.min()), int(vals.max())) if self.n else (0, 0)
        span = hi - lo + 2
        inv = self.inv.astype(np.int64) + 1
        if span * (int(inv.max(initial=0)) + 1) < 2 ** 62:
            key = inv * span + np.where(na, 0, vals - lo + 1)
        else:
            ln_code, ln_uniques = pd.factorize(ln.array, use_na_sentinel=False)
            key = inv * (len(ln_uniques) + 1) + ln_code
        return _dense(key)[0]

    @cached_property
    def dup(self) -> np.ndarray:
        """Lines whose (_inv, _line_no) is on several lines."""
        return np.bincount(self.key, minlength=1)[self.key] > 1 if self.n else np.zeros(0, dtype=bool)

    @cached_property
    def rep(self) -> np.ndarray:
        """`_rep`: 0 for the first line of its (_inv, _line_no), 1, 2... for the repeats."""
        rep = np.zeros(self.n, dtype=np.int64)
        rows = np.flatnonzero(self.dup)
        if len(rows):
            rep[rows] = pd.Series(self.key[rows]).groupby(self.key[rows]).cumcount().to_numpy()
        return rep

    @cached_property
    def qty(self) -> np.ndarray:
        return _floats(self.take("quantity"))

    @cached_property
    def price(self) -> pd.Series:
        """unit_price as Int64 (line order)."""
        return pd.to_numeric(self.take("unit_price"), errors="coerce").astype("Int64")

    @cached_property
    def price_float(self) -> np.ndarray:
        """unit_price via Float64 as float64, NaN = missing."""
        if str(self.src["unit_price"].dtype) == "Int64":
            return self.price.to_numpy(dtype="float64", na_value=np.nan)
        return pd.to_numeric(self.take("unit_price"), errors="coerce").astype("Float64").to_numpy(
            dtype="float64", na_value=np.nan)

    @cached_property
    def disc(self) -> np.ndarray:
        return _ints(self.take("discount", "Int64"))

    @cached_property
    def tax(self) -> np.ndarray:
        return _ints(self.take("tax", "Int64"))

    @cached_property
    def canon_tbl(self) -> pa.Array:
        """Canonical line_code of every table row (table order)."""
        return _canonical(self.src["line_code"])

    @cached_property
    def line_of_tbl(self) -> np.ndarray:
        """Line index of each table row, -1 when not a line (dated after as_of)."""
        out = np.full(len(self.src), -1, dtype=np.int64)
        out[self.pos] = np.arange(self.n)
        return out

    def frame(self, rows: np.ndarray, cols: list[str], derived: tuple[str, ...] = (),
              optional: tuple[str, ...] = ()) -> pd.DataFrame:
        """The table columns `cols` (and `optional` ones when present) of some lines, indexed by line,
        with the helper columns `derived` (of `_cn`, `_amount`, `_inv`, `_line_no`, `_rep`, `_key`,
        `_code_orig`) as `_invoice_lines` defines them."""
        rows = np.asarray(rows, dtype=np.int64)
        at = self.pos[rows]
        src = self.src
        data = {c: src[c].array.take(at) for c in dict.fromkeys(cols + [c for c in optional if c in src.columns])}
        if "_cn" in derived:
            data["_cn"] = self.cn[rows]
        if "_amount" in derived:
            data["_amount"] = self.amount[rows]
        if "_inv" in derived or "_key" in derived:
            data["_inv"] = _norm_id(pd.Series(src["invoice_no"].array.take(at))).array
        if "_line_no" in derived or "_key" in derived:
            data["_line_no"] = self.line_no.array.take(rows)
        if "_rep" in derived:
            data["_rep"] = self.rep[rows]
        if "_key" in derived:
            data["_key"] = (_txt(pd.Series(data["_inv"]), "") + "\x00"
                            + _txt(pd.Series(data["_line_no"]).astype("string"), "")).array
        if "_code_orig" in derived:
            orig = pd.Series(_col(src, "line_code_original").array.take(at))
            data["_code_orig"] = orig.fillna(pd.Series(src["line_code"].array.take(at))).astype("string").array
        return pd.DataFrame(data, index=pd.Index(rows))


class _Orders:
    """Order lines in sheet order, the first of each (order_id, order_line) key: `pos` into the orders table."""

    def __init__(self, orders: pd.DataFrame, oid: np.ndarray, oline: np.ndarray, n_oid: int, n_oline: int):
        self.src = orders
        order = _sheet_order(orders)
        oid, oline = oid[order], oline[order]
        key, k = _dense((oid + 1) * (n_oline + 1) + (oline + 1))
        if len(key) and np.bincount(key, minlength=k).max() > 1:  # repeated keys: the first (by sheet row) is used
            first = ~pd.Series(key).duplicated(keep="first").to_numpy()
            order, oid, oline = order[first], oid[first], oline[first]
        self.pos, self.oid, self.oline = order, oid, oline
        self.n = len(order)
        self.n_oid, self.n_oline = n_oid, n_oline
        self.qty = _floats(self.take("quantity"))
        self.delivered = _floats(self.take("delivered_qty", "float64"))
        self.target = np.where(np.isnan(self.delivered), self.qty, self.delivered)
        self.blocked = self._blocked()
        price = pd.to_numeric(self.take("unit_price"), errors="coerce").astype("Int64")
        self.price_na = price.isna().to_numpy()
        self.price = price.to_numpy(dtype="int64", na_value=0)
        self.delivery = self.take("delivery_date", "datetime64[ns]")

    def take(self, name: str, dtype: str | None = None) -> pd.Series:
        return _take_rows(self.src, name, self.pos, dtype)

    def _blocked(self) -> np.ndarray:
        block = _arrow(_col(self.src, "billing_block"))
        enc = pc.dictionary_encode(block)
        words = _series(enc.dictionary).str.strip()
        words = words.mask(words.str.casefold().isin(_NO_BLOCK_WORDS) | (words == ""))
        is_block = np.append(words.notna().to_numpy(dtype=bool), False)
        return is_block[enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)][self.pos]

    def price_of(self, rows: np.ndarray, index: pd.Index | None = None) -> pd.Series:
        """`_price` (Int64) of some order rows; row -1 gives missing."""
        rows = np.asarray(rows, dtype=np.int64)
        none = rows < 0
        values = pd.arrays.IntegerArray(np.where(none, 0, self.price[rows]), self.price_na[rows] | none)
        return pd.Series(values, index=index)

    def frame(self, rows: np.ndarray, cols: list[str], derived: tuple[str, ...] = (),
              optional: tuple[str, ...] = ()) -> pd.DataFrame:
        """Table columns and `_prep_orders` columns of some order rows, indexed by row."""
        rows = np.asarray(rows, dtype=np.int64)
        at = self.pos[rows]
        src = self.src
        index = pd.Index(rows)
        data = {c: src[c].array.take(at) for c in dict.fromkeys(cols + [c for c in optional if c in src.columns])}
        if "_qty" in derived:
            data["_qty"] = self.qty[rows]
        if "_delivered_qty" in derived:
            data["_delivered_qty"] = self.delivered[rows]
        if "_target" in derived:
            data["_target"] = self.target[rows]
        if "_block" in derived:
            block = pd.Series(_col(src, "billing_block").array.take(at)).astype("string").str.strip()
            data["_block"] = block.mask(block.str.casefold().isin(_NO_BLOCK_WORDS) | (block == "")).array
        if "_price" in derived:
            data["_price"] = self.price_of(rows).array
        if "_ref" in derived:
            data["_ref"] = self.ref(rows).array
        return pd.DataFrame(data, index=index)

    def ref(self, rows: np.ndarray, index: pd.Index | None = None) -> pd.Series:
        """"order_id/order_line" as written, of some order rows."""
        at = self.pos[np.asarray(rows, dtype=np.int64)]
        ref = (_txt(pd.Series(self.src["order_id"].array.take(at))) + "/"
               + _txt(pd.Series(self.src["order_line"].array.take(at))))
        return ref if index is None else ref.set_axis(index)


def _prep_orders(orders: pd.DataFrame) -> _Orders:
    (oid,), n_oid = _codes(_norm_id_arrow(orders["order_id"]))
    (oline,), n_oline = _norm_order_line_codes(orders["order_line"])
    return _Orders(orders, oid, oline, n_oid, n_oline)


class _Match:
    """Invoice lines ↔ the order line each names (`oi`, -1 none), and per order line billed_qty / n_lines."""

    def __init__(self, L: _Lines, orders: pd.DataFrame):
        self.L = L
        (o_oid, i_oid), n_oid = _codes(_norm_id_arrow(orders["order_id"]), _norm_id_arrow(_col(L.src, "order_id")))
        (o_ol, i_ol), n_ol = _norm_order_line_codes(orders["order_line"], _col(L.src, "order_line"))
        O = self.O = _Orders(orders, o_oid, o_ol, n_oid, n_ol)
        oid, oline = i_oid[L.pos], i_ol[L.pos]
        self.oid = oid
        # An order reference without a line is the order's line when it has exactly one.
        both = np.flatnonzero((O.oid >= 0) & (O.oline >= 0))
        b_oid, b_oline = O.oid[both], O.oline[both]
        single = np.full(max(n_oid, 1) + 1, -1, dtype=np.int64)  # last slot: for oid -1
        if len(both):
            count = np.bincount(b_oid, minlength=n_oid)
            first = np.full(n_oid, len(both), dtype=np.int64)
            np.minimum.at(first, b_oid, np.arange(len(both), dtype=np.int64))
            one = np.flatnonzero(count == 1)
            single[one] = b_oline[first[one]]
        self.oline_eff = np.where(oline >= 0, oline, single[oid])
        self.oi = np.full(L.n, -1, dtype=np.int64)
        want = np.flatnonzero((oid >= 0) & (self.oline_eff >= 0))
        if len(both) and len(want):
            width = max(n_ol, 1)
            w_key = oid[want] * width + self.oline_eff[want]
            if _SHORTCUTS.get() and n_oid * width <= 8 * (len(both) + len(want)) + 1024:  # a direct table of keys
                table = np.full(n_oid * width, -1, dtype=np.int64)
                table[b_oid * width + b_oline] = both
                self.oi[want] = table[w_key]
            else:
                at = pd.Index(b_oid * width + b_oline).get_indexer(w_key)
                self.oi[want] = np.where(at >= 0, both[np.maximum(at, 0)], -1)
        self.matched = self.oi >= 0
        self.known_oid = np.zeros(max(n_oid, 1), dtype=bool)
        self.known_oid[O.oid[O.oid >= 0]] = True
        self._status()

    def _status(self) -> None:
        L, O = self.L, self.O
        rows = np.flatnonzero(self.matched)
        oi = self.oi[rows]
        q = L.qty[rows]
        o_price = np.where(O.price_na[oi], np.nan, O.price[oi].astype("float64"))
        ip = L.price_float[rows]
        price = np.where(np.isnan(ip), np.where(np.isnan(o_price), 0.0, o_price), ip)
        disc, tax = np.abs(L.disc[rows]), np.abs(L.tax[rows])
        net = (np.abs(L.amount[rows]) + disc - tax).astype("float64")
        inferred = np.divide(net, np.abs(price), out=np.zeros(len(rows)), where=price != 0)
        units = np.where(np.isnan(q), inferred, np.abs(q))
        cn = L.cn[rows]
        units = np.where(cn, -units, np.where(np.isnan(q), units, q))
        counted = L.rep[rows] == 0
        self.billed = np.zeros(O.n, dtype="float64")
        if counted.any():
            u, o = units[counted], oi[counted]
            if _SHORTCUTS.get() and np.isfinite(u).all() and (u == np.rint(u)).all() and np.abs(u).sum() < 2.0 ** 53:
                # whole quantities: every partial sum is exact, so a plain sum equals pandas' compensated one
                self.billed = np.bincount(o, weights=u, minlength=O.n)
            else:  # pandas' grouped sum (compensated, in line order), as the rules were written
                s = pd.Series(u).groupby(o).sum()
                self.billed[s.index.to_numpy()] = s.to_numpy()
        self.n_lines = np.bincount(oi[counted & ~cn], minlength=O.n).astype("int64")

    def status(self, rows: np.ndarray, cols: list[str], derived: tuple[str, ...] = (),
               optional: tuple[str, ...] = ()) -> pd.DataFrame:
        """Order rows as `_order_status` had them (index = row): columns, helpers, billed_qty, n_lines."""
        st = self.O.frame(rows, cols, derived, optional)
        st["billed_qty"] = self.billed[rows]
        st["n_lines"] = self.n_lines[rows]
        return st

    def frame(self, rows: np.ndarray, cols: list[str], derived: tuple[str, ...] = (),
              o_fields: tuple[str, ...] = ()) -> pd.DataFrame:
        """Invoice lines with fields of the order line each names (`o_*`; missing when none)."""
        rows = np.asarray(rows, dtype=np.int64)
        sub = self.L.frame(rows, cols, derived)
        oi = self.oi[rows]
        have = oi >= 0
        at = np.where(have, oi, 0)
        O = self.O
        if "o_ref" in o_fields:
            ref = pd.Series(pd.NA, index=sub.index, dtype="string")
            if have.any():
                ref[have] = O.ref(oi[have]).to_numpy()
            sub["o_ref"] = ref
        if "o_price" in o_fields:
            sub["o_price"] = O.price_of(np.where(have, oi, -1), sub.index)
        if "o_qty" in o_fields:
            sub["o_qty"] = np.where(have, O.qty[at], np.nan) if O.n else np.nan
        if "o_delivery" in o_fields:
            sub["o_delivery"] = O.delivery.iloc[at].where(have).set_axis(sub.index) if O.n else pd.NaT
        if "o_delivered" in o_fields:
            sub["o_delivered"] = np.where(have, O.delivered[at], np.nan) if O.n else np.nan
        if "o_currency" in o_fields:
            cur = O.src["currency"].iloc[O.pos[at]].astype("string").where(have) if O.n else None
            sub["o_currency"] = pd.Series(pd.NA, index=sub.index, dtype="string") if cur is None else \
                cur.set_axis(sub.index)
        sub["_has_line"] = self.oline_eff[rows] >= 0
        return sub

    def refs(self, orows: np.ndarray) -> dict[str, pd.Series]:
        """line_codes and invoice_nos of the invoice lines billing each order row (index = row)."""
        orows = np.asarray(orows, dtype=np.int64)
        flag = np.zeros(self.O.n + 1, dtype=bool)
        flag[orows] = True
        lines = np.flatnonzero(flag[self.oi])  # oi = -1 reads the False sentinel
        at = self.L.pos[lines]
        billing = pd.DataFrame({"_o": self.oi[lines], "line_code": self.L.src["line_code"].array.take(at),
                                "invoice_no": self.L.src["invoice_no"].array.take(at)})
        key = pd.Series(orows, index=orows)
        return {"line_codes": key.map(_lists(billing, "_o", "line_code")),
                "invoice_nos": key.map(_lists(billing, "_o", "invoice_no"))}


def _empty_exceptions() -> pd.DataFrame:
    return pd.DataFrame({
        "type": pd.Series(dtype="string"), "severity": pd.Series(dtype="string"),
        "currency": pd.Series(dtype="string"), "amount": pd.Series(dtype="int64"),
        "customer_id": pd.Series(dtype="string"), "refs": pd.Series(dtype=object),
        "message": pd.Series(dtype="string"), "action": pd.Series(dtype="string"),
    })


def _exc(kind: str, *, currency: Any, amount: Any, customer_id: Any, message: Any, action: Any,
         **refs: Any) -> pd.DataFrame:
    """One frame of exceptions of one type; ref columns are Series of lists (or None)."""
    amount = pd.Series(amount)
    idx = amount.index
    data = {
        "type": kind, "severity": EXCEPTION_TYPES[kind]["severity"],
        "currency": _aligned(currency, idx).astype("string"),
        "amount": np.abs(amount.astype("int64").to_numpy()),
        "customer_id": _aligned(customer_id, idx).astype("string"),
        "message": _aligned(message, idx).astype("string"),
        "action": _aligned(action, idx).astype("string"),
    }
    for key in REF_KEYS:
        data["_" + key] = _as_lists(refs.get(key), idx)
    return pd.DataFrame(data, index=idx)


def _aligned(values: Any, index: pd.Index) -> pd.Series:
    """`pd.Series(values, index=index)` (a Series is aligned by label), skipping the work when it already is."""
    if isinstance(values, pd.Series) and values.index is index:
        return values
    return pd.Series(values, index=index)


def _as_lists(values: Any, index: pd.Index) -> np.ndarray:
    """Ref cells as plain Python lists or None (missing), aligned to `index` by label."""
    if values is None:
        return np.full(len(index), None, dtype=object)
    s = pd.Series(values)
    cells = [v if isinstance(v, list) else None for v in s.astype(object).to_numpy().tolist()]
    out = pd.Series(cells, index=s.index, dtype=object)
    if not out.index.equals(index):
        out = out.reindex(index)
    return out.to_numpy(dtype=object)


def _small_groups(df: pd.DataFrame, key: str) -> dict[Any, list[int]] | None:
    """Row positions per non-missing value of a string column `key`, in row order; None when the
    frame is not small (or `key` not a string column): then pandas' groupby is used instead."""
    keys = df[key]
    if not _SHORTCUTS.get() or len(df) > 5000 or not isinstance(keys.dtype, pd.StringDtype):
        return None
    groups: dict[Any, list[int]] = {}
    for i, (k, missing) in enumerate(zip(keys.to_numpy(dtype=object).tolist(), keys.isna().to_numpy().tolist())):
        if not missing:
            groups.setdefault(k, []).append(i)
    return groups


def _agg(df: pd.DataFrame, key: str, **spec: tuple[str, str]) -> pd.DataFrame:
    """`df.groupby(key, sort=True).agg(**spec).reset_index()` for "first", "sum" (integer columns),
    "size" and "nunique". The checks group a few exception rows, where pandas' grouped aggregation
    costs milliseconds a call in overhead: then it is done in plain Python."""
    groups = _small_groups(df, key)
    if groups is None or any(how == "sum" and not (isinstance(df[col].dtype, np.dtype) and df[col].dtype.kind == "i")
                             for col, how in spec.values()):
        return df.groupby(key, sort=True).agg(**spec).reset_index()
    order = sorted(groups)
    data: dict[str, Any] = {key: pd.array(order, dtype=df[key].dtype)}
    for out, (col, how) in spec.items():
        s = df[col]
        if how == "size":
            data[out] = np.array([len(groups[k]) for k in order], dtype=np.int64)
        elif how == "sum":
            values = s.to_numpy()
            data[out] = np.array([values[groups[k]].sum() for k in order], dtype=s.dtype)
        else:
            values, missing = s.to_numpy(dtype=object).tolist(), s.isna().to_numpy().tolist()
            if how == "first":
                data[out] = pd.array([next((values[i] for i in groups[k] if not missing[i]), None) for k in order],
                                     dtype=s.dtype)
            elif how == "nunique":
                data[out] = np.array([len({values[i] for i in groups[k] if not missing[i]}) for k in order],
                                     dtype=np.int64)
            else:
                raise ValueError(how)
    return pd.DataFrame(data)


def _several_values(df: pd.DataFrame, key: str, col: str) -> np.ndarray:
    """`df.groupby(key)[col].transform("nunique") > 1` as a bool array."""
    groups = _small_groups(df, key)
    if groups is None:
        return (df.groupby(key)[col].transform("nunique") > 1).to_numpy()
    values, missing = df[col].to_numpy(dtype=object).tolist(), df[col].isna().to_numpy().tolist()
    out = np.zeros(len(df), dtype=bool)
    for rows in groups.values():
        if len({values[i] for i in rows if not missing[i]}) > 1:
            out[rows] = True
    return out


def _first_of_group(df: pd.DataFrame, key: str, col: str) -> pd.Series:
    """`df.groupby(key)[col].transform("first")` (rows with a key)."""
    groups = _small_groups(df, key)
    if groups is None:
        return df.groupby(key)[col].transform("first")
    values, missing = df[col].to_numpy(dtype=object).tolist(), df[col].isna().to_numpy().tolist()
    out: list[Any] = [None] * len(df)
    for rows in groups.values():
        first = next((values[i] for i in rows if not missing[i]), None)
        for i in rows:
            out[i] = first
    return pd.Series(pd.array(out, dtype=df[col].dtype), index=df.index)


def _lists(df: pd.DataFrame, key: str, col: str) -> pd.Series:
    """Per value of column `key`, the list of non-missing `col` values in df order.

    Indexed by the key values. Sort + split instead of groupby-agg(list), which
    is slow on string columns; callers pass only the rows of exceptions.
    """
    df = df.loc[df[key].notna().to_numpy(dtype=bool) & df[col].notna().to_numpy(dtype=bool)]
    if not len(df):
        return pd.Series(dtype=object)
    codes, uniques = pd.factorize(df[key].astype(object).to_numpy())
    order = np.argsort(codes, kind="stable")
    ordered = codes[order]
    bounds = np.flatnonzero(np.diff(ordered)) + 1
    values = df[col].astype("string").to_numpy(dtype=object)[order]
    groups = [list(g) for g in np.split(values, bounds)]
    return pd.Series(groups, index=pd.Index(uniques[ordered[np.r_[0, bounds]]], dtype=object), dtype=object)


# --------------------------------------------------------------------------- order checks

def _due_rows(M: _Match, as_of: pd.Timestamp) -> np.ndarray:
    O = M.O
    delivered = (O.delivery <= as_of).fillna(False).to_numpy(dtype=bool)
    return np.flatnonzero(delivered & ~O.blocked & _qty_gt(O.target, M.billed))


def _due(status: pd.DataFrame) -> pd.DataFrame:
    due = status.copy()
    due["qty_to_bill"] = (due["_target"] - due["billed_qty"]).astype("float64")
    due["amount_to_bill"] = qty_times_price(due["qty_to_bill"].to_numpy(), due["_price"].to_numpy())
    return due


_BLOCKED_COLS = ["order_id", "order_line", "customer_id", "currency"]
_BLOCKED_DERIVED = ("_qty", "_delivered_qty", "_target", "_block", "_price")


def billing_due(orders: pd.DataFrame, invoices: pd.DataFrame, as_of: Any) -> pd.DataFrame:
    """Delivered (delivery_date ≤ as_of), unblocked order lines not fully billed.

    delivered_qty is the delivered quantity (the ordered quantity when it is
    missing); qty_to_bill = delivered_qty − billed_qty; amount_to_bill =
    qty_to_bill × unit_price, half-even, int64 minor units.
    """
    as_of = pd.Timestamp(as_of).normalize()
    if len(orders) == 0:
        return _frame_like(BILLING_DUE_COLUMNS, orders)
    return _billing_due(_Match(_Lines(invoices, as_of), orders), as_of)


def billing_blocked(orders: pd.DataFrame, invoices: pd.DataFrame | None = None,
                    as_of: Any = None) -> pd.DataFrame:
    """Order lines on billing block with their reason.

    quantity to bill = delivered_qty (else quantity) − billed_qty; billed_qty
    is 0 unless `invoices` (and `as_of`, default: all dates) are given.
    amount = that quantity (≥ 0) × unit_price.
    """
    if len(orders) == 0:
        return _frame_like(BILLING_BLOCKED_COLUMNS, orders)
    as_of = pd.Timestamp.max.normalize() if as_of is None else pd.Timestamp(as_of).normalize()
    if invoices is None:
        O = _prep_orders(orders)
        b = O.frame(np.flatnonzero(O.blocked), _BLOCKED_COLS, _BLOCKED_DERIVED, optional=("sku", "description"))
        b["billed_qty"] = 0.0
        return _blocked_frame(b)
    return _billing_blocked(_Match(_Lines(invoices, as_of), orders))


def billing_lists(orders: pd.DataFrame, invoices: pd.DataFrame, as_of: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(`billing_due`, `billing_blocked`) as of `as_of`, matching order lines to invoice lines once."""
    as_of = pd.Timestamp(as_of).normalize()
    if len(orders) == 0:
        return _frame_like(BILLING_DUE_COLUMNS, orders), _frame_like(BILLING_BLOCKED_COLUMNS, orders)
    M = _Match(_Lines(invoices, as_of), orders)
    return _billing_due(M, as_of), _billing_blocked(M)


def _billing_due(M: _Match, as_of: pd.Timestamp) -> pd.DataFrame:
    due = _due(M.status(_due_rows(M, as_of), ["order_id", "order_line", "customer_id", "currency"],
                        ("_target", "_price"), optional=("sku", "description")))
    return _order_list(due, {
        "delivered_qty": due["_target"].astype("float64"), "billed_qty": due["billed_qty"].astype("float64"),
        "qty_to_bill": due["qty_to_bill"].astype("float64"), "unit_price": due["_price"].astype("Int64"),
        "amount_to_bill": due["amount_to_bill"].astype("int64"),
    })


def _order_list(rows: pd.DataFrame, figures: dict[str, pd.Series]) -> pd.DataFrame:
    """An order-line list: the order line's identity and text columns, then `figures`, sorted by customer and order."""
    out = pd.DataFrame({
        **{c: rows[c].astype("string") for c in ("order_id", "order_line", "customer_id", "currency")},
        "sku": _col(rows, "sku").astype("string"), "description": _col(rows, "description").astype("string"),
        **figures,
    })
    return out.sort_values(["customer_id", "order_id", "order_line"], kind="stable").reset_index(drop=True)


def _billing_blocked(M: _Match) -> pd.DataFrame:
    return _blocked_frame(M.status(np.flatnonzero(M.O.blocked), _BLOCKED_COLS, _BLOCKED_DERIVED,
                                   optional=("sku", "description")))


def _blocked_frame(b: pd.DataFrame) -> pd.DataFrame:
    remaining = np.maximum((b["_target"] - b["billed_qty"]).to_numpy(dtype="float64"), 0.0)
    return _order_list(b, {
        "quantity": b["_qty"].astype("float64"), "delivered_qty": b["_delivered_qty"].astype("float64"),
        "billed_qty": b["billed_qty"].astype("float64"), "unit_price": b["_price"].astype("Int64"),
        "billing_block": b["_block"].astype("string"),
        "amount": pd.Series(qty_times_price(remaining, b["_price"].to_numpy()), index=b.index).astype("int64"),
    })


def _frame_like(columns: list[str], orders: pd.DataFrame) -> pd.DataFrame:
    dtypes = {"delivered_qty": "float64", "billed_qty": "float64", "qty_to_bill": "float64",
              "quantity": "float64", "unit_price": "Int64", "amount_to_bill": "int64", "amount": "int64"}
    return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "string")) for c in columns})


def _order_exceptions(M: _Match, as_of: pd.Timestamp, policy: Policy) -> list[pd.DataFrame]:
    L, O = M.L, M.O
    out: list[pd.DataFrame] = []
    due_rows = _due_rows(M, as_of)
    blocked_rows = np.flatnonzero(O.blocked)
    over_rows = np.flatnonzero(_qty_gt(M.billed, O.qty))
    status = M.status(np.unique(np.concatenate([due_rows, blocked_rows, over_rows])),
                      ["order_id", "order_line", "customer_id", "currency"],
                      ("_qty", "_target", "_block", "_price", "_ref"), optional=("sku",))
    cur = status["currency"].astype("string").fillna(policy.default_currency)
    order_ref = _one(status["_ref"])
    where = "Order " + _txt(status["order_id"]) + " line " + _txt(status["order_line"])
    sku = _txt(_col(status, "sku"), "").mask(_txt(_col(status, "sku"), "") == "", None)
    where = where + (" (" + sku + ")").fillna("")

    # UNBILLED
    if len(due_rows):
        due = _due(status.loc[due_rows])
        ix = due.index
        out.append(_exc(
            "UNBILLED", currency=cur[ix], amount=due["amount_to_bill"], customer_id=due["customer_id"],
            message=where[ix] + " was delivered (" + _units(due["_target"]) + ") but "
            + ("only " + _fmt_qty(due["billed_qty"]) + " billed").where(due["billed_qty"] > 0, "nothing is billed")
            + ": " + _units(due["qty_to_bill"]) + " worth " + _fmt_money(due["amount_to_bill"], cur[ix])
            + " not invoiced.",
            action="Issue an invoice for the missing quantity",
            order_lines=order_ref[ix], **M.refs(due_rows)))

    # BILLING_BLOCKED
    if len(blocked_rows):
        blocked = status.loc[blocked_rows]
        ix = blocked.index
        remaining = np.maximum((blocked["_target"] - blocked["billed_qty"]).to_numpy(dtype="float64"), 0.0)
        amount = pd.Series(qty_times_price(remaining, blocked["_price"].to_numpy()), index=ix)
        out.append(_exc(
            "BILLING_BLOCKED", currency=cur[ix], amount=amount, customer_id=blocked["customer_id"],
            message=where[ix] + " is on billing block (" + _txt(blocked["_block"]) + "); "
            + _fmt_money(amount, cur[ix]) + " is not billed.",
            action="Clear the billing block once the reason is resolved, then invoice",
            order_lines=order_ref[ix], **M.refs(blocked_rows)))

    # OVERBILLED_QTY / DUPLICATE_LINE (order line billed by several lines over its quantity)
    if len(over_rows):
        over = status.loc[over_rows].copy()
        over["_excess"] = (over["billed_qty"] - over["_qty"]).astype("float64")
        over["_amt"] = qty_times_price(over["_excess"].to_numpy(), over["_price"].to_numpy())
        several = over["n_lines"] >= 2
        for kind, part in (("OVERBILLED_QTY", over.loc[~several]), ("DUPLICATE_LINE", over.loc[several])):
            if not len(part):
                continue
            ix = part.index
            if kind == "OVERBILLED_QTY":
                msg = (where[ix] + " is billed for " + _units(part["billed_qty"]) + " but "
                       + _fmt_qty(part["_qty"]) + " were ordered: " + _units(part["_excess"])
                       + " worth " + _fmt_money(part["_amt"], cur[ix]) + " too many.")
                action = "Issue a credit note for the excess quantity"
            else:
                msg = (where[ix] + " is billed by " + part["n_lines"].astype("string")
                       + " invoice lines for " + _units(part["billed_qty"]) + " but "
                       + _fmt_qty(part["_qty"]) + " were ordered: " + _units(part["_excess"])
                       + " worth " + _fmt_money(part["_amt"], cur[ix]) + " billed twice.")
                action = "Check for double billing and credit the duplicate invoice line"
            out.append(_exc(kind, currency=cur[ix], amount=part["_amt"], customer_id=part["customer_id"],
                            message=msg, action=action, order_lines=order_ref[ix],
                            **M.refs(ix.to_numpy())))

    def inv_where(m: pd.DataFrame) -> pd.Series:
        return "Invoice " + _txt(m["invoice_no"]) + " line " + _txt(m["_line_no"].astype("string"))

    def inv_cur(m: pd.DataFrame) -> pd.Series:
        return m["currency"].astype("string").fillna(m["o_currency"].astype("string")).fillna(
            policy.default_currency)

    inv_lines = np.flatnonzero(M.matched & ~L.cn)
    oi = M.oi[inv_lines]

    # PRICE_MISMATCH (same currency; an invoice line without quantity uses the order quantity)
    def same_currency(rows: np.ndarray, o_rows: np.ndarray) -> np.ndarray:
        i_cur = L.src["currency"].iloc[L.pos[rows]].astype("string").to_numpy()
        o_cur = O.src["currency"].iloc[O.pos[o_rows]].astype("string").to_numpy()
        return ~(pd.Series(i_cur, dtype="string") != pd.Series(o_cur, dtype="string")).fillna(False).to_numpy(bool)

    priced = ~L.price.isna().to_numpy()[inv_lines] & ~O.price_na[oi]
    cand, cand_oi = inv_lines[priced], oi[priced]
    if len(cand):
        ipc = L.price.to_numpy(dtype="int64", na_value=0)[cand]
        opc = O.price[cand_oi]
        diff, base = np.abs(ipc - opc), np.abs(opc)
        if _SHORTCUTS.get() and _pct_is_exact(diff, base, policy.price_tolerance_pct):
            # decided row by row: test the currency on the lines over tolerance only
            bad = np.flatnonzero(_exceeds_pct(diff, base, policy.price_tolerance_pct))
            bad = bad[same_currency(cand[bad], cand_oi[bad])]
        else:  # the float comparison depends on the candidates: exactly the lines in one currency
            same = same_currency(cand, cand_oi)
            cand, cand_oi, diff, base = cand[same], cand_oi[same], diff[same], base[same]
            bad = np.flatnonzero(_exceeds_pct(diff, base, policy.price_tolerance_pct))
        if len(bad):
            pm = M.frame(cand[bad], ["invoice_no", "currency", "unit_price", "quantity", "customer_id", "line_code"],
                         ("_line_no",), ("o_ref", "o_price", "o_qty", "o_currency"))
            ix = pm.index
            diff = np.abs(_ints(pm["unit_price"]) - _ints(pm["o_price"]))
            qty = pd.to_numeric(pm["quantity"], errors="coerce").astype("float64").fillna(pm["o_qty"])
            amount = pd.Series(qty_times_price(np.abs(qty.to_numpy()), diff), index=ix)
            c = inv_cur(pm)
            out.append(_exc(
                "PRICE_MISMATCH", currency=c, amount=amount, customer_id=pm["customer_id"],
                message=inv_where(pm) + " bills " + _units(qty) + " at "
                + _fmt_money(_ints(pm["unit_price"]), c) + " but order line "
                + _txt(pm["o_ref"]) + " has " + _fmt_money(_ints(pm["o_price"]), c)
                + ": " + _fmt_money(amount, c) + " at stake.",
                action="Correct the price with a credit note or a supplementary invoice",
                line_codes=_one(pm["line_code"]), invoice_nos=_one(pm["invoice_no"]),
                order_lines=_one(pm["o_ref"])))

    # BILLED_BEFORE_DELIVERY (skipped when the orders carry no delivery data at all)
    tracks_delivery = O.delivery.notna().any() or not np.isnan(O.delivered).all()
    if tracks_delivery and len(inv_lines):
        dd = O.delivery.to_numpy()[oi]
        dd_na = np.isnat(dd)
        delivered_undated = dd_na & (np.nan_to_num(O.delivered[oi], nan=0.0) > 0)
        as_of64 = np.datetime64(as_of)
        not_yet = (dd_na & ~delivered_undated) | (dd > as_of64)
        early = L.src["invoice_date"].to_numpy()[L.pos[inv_lines]] < dd
        bb_rows = inv_lines[not_yet | early]
        if len(bb_rows):
            bb = M.frame(bb_rows, ["invoice_no", "currency", "invoice_date", "customer_id", "line_code"],
                         ("_line_no", "_amount"), ("o_delivery", "o_ref", "o_currency"))
            ix = bb.index
            c = inv_cur(bb)
            dd_txt = bb["o_delivery"].dt.strftime("%Y-%m-%d").astype("string").fillna("")
            undelivered = "which is not delivered as of " + as_of.strftime("%Y-%m-%d")
            when = pd.Series(np.select(
                [bb["o_delivery"].isna().to_numpy(), (bb["o_delivery"] > as_of).to_numpy(dtype=bool)],
                [undelivered, undelivered + " (delivery date " + dd_txt.to_numpy(dtype=object) + ")"],
                ("which was delivered on " + dd_txt).to_numpy(dtype=object)), index=ix, dtype="string")
            out.append(_exc(
                "BILLED_BEFORE_DELIVERY", currency=c, amount=bb["_amount"], customer_id=bb["customer_id"],
                message=inv_where(bb) + " dated " + bb["invoice_date"].dt.strftime("%Y-%m-%d").astype("string")
                + " bills " + _fmt_money(np.abs(bb["_amount"]), c) + " for order line "
                + _txt(bb["o_ref"]) + ", " + when + ".",
                action="Check the delivery; credit and re-invoice on delivery if the goods have not shipped",
                line_codes=_one(bb["line_code"]), invoice_nos=_one(bb["invoice_no"]),
                order_lines=_one(bb["o_ref"])))

    # ORPHAN_INVOICE_LINE: names an order (line) that is not there
    oid = M.oid
    orphan_rows = np.flatnonzero((oid >= 0) & ~M.matched
                                 & ((M.oline_eff >= 0) | ~M.known_oid[np.maximum(oid, 0)]))
    if len(orphan_rows):
        orphan = M.frame(orphan_rows, ["invoice_no", "currency", "customer_id", "line_code", "order_id",
                                       "order_line"], ("_line_no", "_amount"), ("o_currency",))
        ix = orphan.index
        c = inv_cur(orphan)
        named = _txt(orphan["order_id"]) + ("/" + orphan["order_line"].astype("string")).fillna("")
        what = ("order line " + named).where(orphan["_has_line"], "order " + named)
        out.append(_exc(
            "ORPHAN_INVOICE_LINE", currency=c, amount=orphan["_amount"], customer_id=orphan["customer_id"],
            message=inv_where(orphan) + " (" + _fmt_money(np.abs(orphan["_amount"]), c)
            + ") names " + what + ", which is not in the orders.",
            action="Correct the order reference on the invoice line or add the missing order line",
            line_codes=_one(orphan["line_code"]), invoice_nos=_one(orphan["invoice_no"]),
            order_lines=_one(named)))
    return out


# --------------------------------------------------------------------------- invoice checks

def _invoice_exceptions(L: _Lines, policy: Policy) -> list[pd.DataFrame]:
    out: list[pd.DataFrame] = []
    if not L.n:
        return out

    def where(d: pd.DataFrame) -> pd.Series:
        return "Invoice " + _txt(d["invoice_no"]) + " line " + _txt(d["_line_no"].astype("string"))

    def cur(d: pd.DataFrame) -> pd.Series:
        return d["currency"].astype("string").fillna(policy.default_currency)

    # LINE_TOTAL_MISMATCH (credit notes compared in magnitudes, whatever signs the sheet used)
    has = ~np.isnan(L.qty) & L.price.notna().to_numpy()
    if has.any():
        lt = np.flatnonzero(has)
        cn = L.cn[lt]
        q = L.take("quantity").to_numpy(dtype="float64")[lt]
        p = L.price.to_numpy(dtype="int64", na_value=0)[lt]
        disc, tax = L.disc[lt], L.tax[lt]
        gross = qty_times_price(np.where(cn, np.abs(q), q), np.where(cn, np.abs(p), p))
        expected = np.where(cn, gross - np.abs(disc) + np.abs(tax), gross - disc + tax)
        amt = L.amount[lt]
        actual = np.where(cn, np.abs(amt), amt)
        diff = np.abs(actual - expected)
        bad = diff > policy.line_total_tolerance_minor
        if bad.any():
            lm = L.frame(lt[bad], ["invoice_no", "customer_id", "currency", "quantity", "line_code"], ("_line_no",))
            ix = lm.index
            c = cur(lm)
            e = pd.Series(expected[bad], index=ix)
            out.append(_exc(
                "LINE_TOTAL_MISMATCH", currency=c, amount=pd.Series(diff[bad], index=ix),
                customer_id=lm["customer_id"],
                message=where(lm) + " has amount " + _fmt_money(pd.Series(actual[bad], index=ix), c)
                + " but " + _fmt_qty(lm["quantity"]) + " × " + _fmt_money(p[bad], c)
                + (" − discount " + _fmt_money(np.abs(disc[bad]), c)).where(disc[bad] != 0, "")
                + (" + tax " + _fmt_money(np.abs(tax[bad]), c)).where(tax[bad] != 0, "")
                + " = " + _fmt_money(e, c)
                + " (off by " + _fmt_money(pd.Series(diff[bad], index=ix), c) + ").",
                action="Correct the line amount, quantity, price, discount or tax",
                line_codes=_one(lm["line_code"]), invoice_nos=_one(lm["invoice_no"])))

    # DUPLICATE_LINE: the same (invoice_no, line_no) more than once
    if L.dup.any():
        dups = L.frame(np.flatnonzero(L.dup), ["invoice_no", "customer_id", "currency", "line_code"],
                       ("_rep", "_amount", "_inv", "_line_no", "_key"), optional=("_row",))
        dups["_extra"] = np.where(dups["_rep"] > 0, np.abs(dups["_amount"]), 0)
        d = _agg(dups, "_key", invoice_no=("invoice_no", "first"), line_no=("_line_no", "first"),
                 customer_id=("customer_id", "first"), currency=("currency", "first"),
                 n=("_rep", "size"), amount=("_extra", "sum"))
        d["_codes"] = d["_key"].astype(object).map(_lists(dups, "_key", "line_code"))
        rows_col = "_row" if "_row" in dups.columns else "_rep"
        row_lists = d["_key"].astype(object).map(_lists(dups.assign(_r=dups[rows_col].astype("string")), "_key", "_r"))
        c = d["currency"].astype("string").fillna(policy.default_currency)
        rows = pd.Series([", ".join(rs) for rs in row_lists], dtype="string")
        out.append(_exc(
            "DUPLICATE_LINE", currency=c, amount=d["amount"], customer_id=d["customer_id"],
            message="Invoice " + _txt(d["invoice_no"]) + " line " + _txt(d["line_no"].astype("string"))
            + " appears " + d["n"].astype("string") + " times (rows " + rows + "); the extra copies total "
            + _fmt_money(d["amount"], c) + ".",
            action="Delete the repeated row or credit the duplicate line",
            line_codes=d["_codes"], invoice_nos=_one(d["invoice_no"])))

    # DUPLICATE_LINE_CODE: one line code on different (invoice_no, line_no)
    shared = _shared_code_lines(L)
    if len(shared):
        inv = L.frame(shared, ["invoice_no", "customer_id", "currency", "line_code"],
                      ("_amount", "_inv", "_line_no", "_key", "_code_orig"))
        inv["_ccode"] = canonical_series(inv["_code_orig"])
        dc = inv.loc[_several_values(inv, "_ccode", "_key")].copy()
    else:
        dc = ()
    if len(dc):
        first_key = _first_of_group(dc, "_ccode", "_key")
        dc["_extra"] = np.where(dc["_key"] != first_key, np.abs(dc["_amount"]), 0)
        dc["_label"] = _txt(dc["invoice_no"]) + " line " + _txt(dc["_line_no"].astype("string"))
        d = _agg(dc, "_ccode", code=("_code_orig", "first"), customer_id=("customer_id", "first"),
                 currency=("currency", "first"), n=("_key", "nunique"), amount=("_extra", "sum"))
        d["_codes"] = d["_ccode"].astype(object).map(_lists(dc, "_ccode", "line_code"))
        d["_invoices"] = d["_ccode"].astype(object).map(_lists(dc, "_ccode", "invoice_no"))
        labels = d["_ccode"].astype(object).map(_lists(dc, "_ccode", "_label"))
        d["_labels"] = pd.Series([", ".join(dict.fromkeys(x)) for x in labels], dtype="string")
        c = d["currency"].astype("string").fillna(policy.default_currency)
        out.append(_exc(
            "DUPLICATE_LINE_CODE", currency=c, amount=d["amount"], customer_id=d["customer_id"],
            message="Line code " + _txt(d["code"]) + " is on " + d["n"].astype("string")
            + " different lines (" + d["_labels"].astype("string") + "); "
            + _fmt_money(d["amount"], c) + " of lines share another line's code.",
            action="Give each line its own code; payments quoting the code cannot tell the lines apart",
            line_codes=d["_codes"], invoice_nos=d["_invoices"]))
    return out


def _shared_code_lines(L: _Lines) -> np.ndarray:
    """Lines whose canonical line_code_original (else line_code) is on more than one line."""
    canon = L.canon_tbl
    lc = _arrow(L.src["line_code"])
    if "line_code_original" in L.src.columns:  # the original code where it differs from line_code
        orig = _arrow(L.src["line_code_original"])
        differs = _np_bool(pc.is_valid(orig)) & _np_bool(pc.not_equal(orig, lc), null=True) & L.asof
        if differs.any():
            canon = pc.replace_with_mask(canon, pa.array(differs), _canonical(orig.filter(pa.array(differs))))
    (codes,), k = _codes(canon)
    codes = codes[L.pos]
    valid = codes >= 0
    if not valid.any():
        return np.zeros(0, dtype=np.int64)
    counts = np.bincount(codes[valid], minlength=k)
    return np.flatnonzero(valid & (counts[np.maximum(codes, 0)] > 1))


# --------------------------------------------------------------------------- customer checks

def _customer_exceptions(customers: pd.DataFrame, L: _Lines, payments: pd.DataFrame,
                         policy: Policy) -> list[pd.DataFrame]:
    known = pc.unique(_norm_id_arrow(customers["customer_id"]).drop_null())
    out: list[pd.DataFrame] = []
    cid = _norm_id_arrow(L.src["customer_id"])
    unknown = _np_bool(pc.is_valid(cid)) & ~_np_bool(pc.is_in(cid, value_set=known))
    rows = np.flatnonzero(unknown[L.pos])
    if len(rows):
        ui = L.frame(rows, ["customer_id", "currency", "invoice_no", "line_code"], ("_inv", "_amount"))
        ui["_cid"] = _norm_id(ui["customer_id"])
        ui["_cur"] = ui["currency"].astype("string").fillna(policy.default_currency)
        ui["_gk"] = _txt(ui["_cid"], "") + "\x00" + _txt(ui["_inv"], "") + "\x00" + ui["_cur"]
        d = _agg(ui, "_gk", customer_id=("customer_id", "first"), invoice_no=("invoice_no", "first"),
                 _cur=("_cur", "first"), amount=("_amount", "sum"))
        d["_codes"] = d["_gk"].astype(object).map(_lists(ui, "_gk", "line_code"))
        d["amount"] = d["amount"].abs()
        out.append(_exc(
            "UNKNOWN_CUSTOMER", currency=d["_cur"], amount=d["amount"], customer_id=d["customer_id"],
            message="Invoice " + _txt(d["invoice_no"]) + " (" + _fmt_money(d["amount"], d["_cur"])
            + ") is for customer " + _txt(d["customer_id"]) + ", who is not in the customer list.",
            action="Add the customer to the customer list or correct the customer id on the invoice",
            line_codes=d["_codes"], invoice_nos=_one(d["invoice_no"])))
    pid = _norm_id_arrow(payments["customer_id"])
    up = payments.loc[_np_bool(pc.is_valid(pid)) & ~_np_bool(pc.is_in(pid, value_set=known))]
    if len(up):
        c = up["currency"].astype("string").fillna(policy.default_currency)
        amount = pd.Series(np.abs(_ints(up["amount"])), index=up.index)
        out.append(_exc(
            "UNKNOWN_CUSTOMER", currency=c, amount=amount, customer_id=up["customer_id"],
            message="Payment " + _txt(up["payment_id"]) + " (" + _fmt_money(amount, c)
            + ") is from customer " + _txt(up["customer_id"]) + ", who is not in the customer list.",
            action="Add the customer to the customer list or correct the customer id on the payment",
            payment_ids=_one(up["payment_id"])))
    return out


# --------------------------------------------------------------------------- payment checks

def _payment_info(eff: pd.DataFrame, payments: pd.DataFrame) -> pd.DataFrame:
    """payment_id -> currency, amount, source (effective payments first, then the payments table)."""
    parts = []
    if len(eff) and "payment_id" in eff.columns:
        parts.append(pd.DataFrame({
            "payment_id": eff["payment_id"].astype("string"),
            "p_currency": _col(eff, "currency").astype("string"),
            "p_amount": _ints(_col(eff, "amount", "Int64")),
            "p_source": _col(eff, "source").astype("string").fillna("payment")}))
    if len(payments):
        parts.append(pd.DataFrame({
            "payment_id": payments["payment_id"].astype("string"),
            "p_currency": payments["currency"].astype("string"),
            "p_amount": _ints(payments["amount"]), "p_source": "payment"}))
    if not parts:
        return pd.DataFrame({"payment_id": pd.Series(dtype="string"), "p_currency": pd.Series(dtype="string"),
                             "p_amount": pd.Series(dtype="int64"), "p_source": pd.Series(dtype="string")})
    info = pd.concat(parts, ignore_index=True).drop_duplicates("payment_id", keep="first")
    info["p_source"] = info["p_source"].astype("string")
    return info


def _rows_with_ids(df: pd.DataFrame, ids: pa.Array) -> pd.DataFrame:
    """The rows of df whose payment_id (as a string) is one of `ids` (missing matching missing)."""
    if not len(df) or "payment_id" not in df.columns:
        return df
    return df.loc[_isin_arrow(_arrow(df["payment_id"]), ids)]


def _allocated(L: _Lines, rows: np.ndarray, la: pd.DataFrame | None, a: pd.DataFrame) -> np.ndarray:
    """`_ints(line_code.map(allocated))` for the lines `rows` (non-credit-note lines, in line order)."""
    if la is not None and len(la):
        tbl = np.sort(L.pos[rows])
        la_code = _arrow(la["line_code"])
        if (_SHORTCUTS.get() and len(la_code) == len(tbl) and la_code.null_count == 0 and len(tbl) and bool(
                pc.all(pc.less(la_code.slice(0, len(tbl) - 1), la_code.slice(1)), min_count=0).as_py())
                and bool(pc.all(pc.equal(la_code, _take_arrow(_arrow(L.src["line_code"]), tbl)),
                                min_count=0).as_py())):
            # line_allocated holds exactly these lines, in table order, each once: no lookup needed
            by_line = np.zeros(L.n, dtype=np.int64)
            by_line[L.line_of_tbl[tbl]] = _ints(la["allocated"].reset_index(drop=True))
            return by_line[rows]
        allocated = la.set_index("line_code")["allocated"]
    else:
        allocated = pd.Series(dtype="int64")
    if len(allocated) == 0:  # no line_allocated given: sum the allocations
        allocated = a.groupby("line_code")["amount"].sum()
    codes = L.take("line_code").iloc[rows]
    if (not isinstance(allocated.index.dtype, pd.StringDtype) or not allocated.index.is_unique
            or allocated.index.hasnans):
        return _ints(codes.map(allocated))  # pandas' own rules (and errors)
    at = pc.index_in(_arrow(codes), value_set=_arrow(allocated.index.to_series())).fill_null(-1)
    return _ints(allocated.reset_index(drop=True).reindex(at.to_numpy(zero_copy_only=False)))


def _short_paid_candidates(alloc: AllocationResult, L: _Lines) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(lines, their open amounts, allocation rows naming their line codes) that can make a SHORT_PAID.

    The lines are those of the invoices with an open line that an allocation
    names a line of; None when the check has nothing to look at.
    """
    a = alloc.allocations
    rows = np.flatnonzero(~L.cn)
    if a is None or not len(a) or not len(rows):
        return None
    a["payment_id"], a["line_code"], a["step"]
    open_ = L.amount[rows] - _allocated(L, rows, alloc.line_allocated, a)
    inv = L.inv[rows]
    flag = np.zeros(L.n_inv + 1, dtype=bool)
    flag[inv[(open_ > 0) & (inv >= 0)]] = True
    keep = flag[inv]  # inv = -1 reads the False sentinel
    rows, open_ = rows[keep], open_[keep]
    if not len(rows):
        return rows, open_, np.zeros(0, dtype=np.int64)
    codes = _take_arrow(_arrow(L.src["line_code"]), L.pos[rows])
    a_rows = np.flatnonzero(_isin_arrow(_arrow(a["line_code"]), codes))
    # Of those invoices, the ones with a line named by these allocations: all their lines.
    named = _isin_arrow(codes, _arrow(a["line_code"].iloc[a_rows]))
    inv = L.inv[rows]
    flag = np.zeros(L.n_inv + 1, dtype=bool)
    flag[inv[named]] = True
    keep = flag[inv] | named
    return rows[keep], open_[keep], a_rows


def _payment_exceptions(alloc: AllocationResult, L: _Lines, payments: pd.DataFrame,
                        policy: Policy) -> list[pd.DataFrame]:
    out: list[pd.DataFrame] = []
    ri, cm, un = alloc.reference_issues, alloc.currency_mismatches, alloc.unapplied
    if un is not None and len(un):
        un = un.loc[_ints(un["amount"]) > 0]
    sp = _short_paid_candidates(alloc, L)
    al = alloc.allocations.iloc[sp[2]] if sp is not None else None
    named_ids = [x["payment_id"] for x in (ri, un, al) if x is not None and len(x)]
    eff = alloc.effective_payments if alloc.effective_payments is not None else pd.DataFrame()
    if named_ids:  # payment_id -> currency, amount, source, for the payments the checks name
        wanted = _arrow(pd.concat([s.astype("string") for s in named_ids], ignore_index=True))
        info = _payment_info(_rows_with_ids(eff, wanted), _rows_with_ids(payments, wanted))
    else:
        info = _payment_info(eff.iloc[:0], payments.iloc[:0])

    def known_code(tokens: pd.Series) -> np.ndarray:
        """Canonical tokens that are the canonical line_code of a line (dated ≤ as_of)."""
        toks = _arrow(tokens)
        wanted = pc.unique(toks.drop_null())
        if not L.n or not len(wanted):
            return np.zeros(len(toks), dtype=bool)
        hit = _np_bool(pc.is_in(L.canon_tbl, value_set=wanted)) & L.asof
        return _np_bool(pc.is_in(toks, value_set=pc.unique(L.canon_tbl.filter(pa.array(hit)))))

    # BAD_REFERENCE
    if ri is not None and len(ri):
        r = ri.assign(payment_id=ri["payment_id"].astype("string")).reset_index(drop=True)
        r = r.merge(info, on="payment_id", how="left")
        c = r["p_currency"].astype("string").fillna(policy.default_currency)
        amount = pd.Series(r["p_amount"].fillna(0).astype("int64").to_numpy(), index=r.index)
        tok = "'" + _txt(_col(r, "token"), "") + "'"
        problem = r["problem"].astype("string")
        who = " of customer " + _txt(r["customer_id"])
        what = pd.Series(tok + ", which names no invoice" + who, index=r.index, dtype="string")
        what = what.mask(problem == "unknown_code", tok + ", a line code that names no line" + who)
        what = what.mask(problem == "bad_check", tok + ", which fails its check character")
        sug = _col(r, "suggestion").astype("string")
        is_code = pd.Series(known_code(canonical_series(sug)), index=sug.index)
        sug_txt = ("; suggested " + pd.Series("invoice ", index=r.index, dtype="string").mask(
            is_code, "line code ") + sug).fillna("")
        is_cn = (r["p_source"] == "credit_note").fillna(False).to_numpy(dtype=bool)
        ids = _one(r["payment_id"])
        none = pd.Series([None] * len(r), index=r.index, dtype=object)
        out.append(_exc(
            "BAD_REFERENCE", currency=c, amount=amount, customer_id=r["customer_id"],
            message=("Payment " + _txt(r["payment_id"]) + " (" + _fmt_money(amount, c) + ") quotes ").where(
                ~is_cn, "Credit note line " + _txt(r["payment_id"]) + " (" + _fmt_money(amount, c)
                + ") applies to ") + what + ".",
            action=pd.Series("Ask the customer to confirm the reference", index=r.index, dtype="string").where(
                ~is_cn, "Correct the invoice the credit note applies to") + sug_txt,
            payment_ids=ids.where(~is_cn, none), line_codes=ids.where(is_cn, none)))

    # CURRENCY_MISMATCH
    if cm is not None and len(cm):
        target = _col(cm, "line_code").astype("string")
        is_code = pd.Series(known_code(canonical_series(target)), index=target.index)
        inv_no = _col(cm, "invoice_no").astype("string")
        line_refs = pd.Series([[t] if code and not pd.isna(t) else None
                               for t, code in zip(target.to_numpy(), is_code.to_numpy())],
                              index=cm.index, dtype=object)
        inv_refs = pd.Series([[i] if not pd.isna(i) else ([t] if not code and not pd.isna(t) else None)
                              for i, t, code in zip(inv_no.to_numpy(), target.to_numpy(), is_code.to_numpy())],
                             index=cm.index, dtype=object)
        named = ("line " + target).where(is_code, "invoice " + inv_no.fillna(target))
        pcur = cm["payment_currency"].astype("string")
        amount = pd.Series(np.abs(_ints(cm["amount"])), index=cm.index)
        out.append(_exc(
            "CURRENCY_MISMATCH", currency=pcur, amount=amount, customer_id=cm["customer_id"],
            message="Payment " + _txt(cm["payment_id"]) + " of " + _fmt_money(amount, pcur) + " names "
            + _txt(named) + ", which is in " + _txt(cm["line_currency"]) + ", so it was not applied to it.",
            action="Confirm the currency with the customer; record the conversion or refund and re-collect",
            payment_ids=_one(cm["payment_id"]), line_codes=line_refs, invoice_nos=inv_refs))

    # UNAPPLIED_CASH
    if un is not None and len(un):
        u = un
        src = u["payment_id"].astype("string").map(info.set_index("payment_id")["p_source"]).astype("string")
        is_cn = (src == "credit_note").fillna(False).to_numpy(dtype=bool)
        c = u["currency"].astype("string").fillna(policy.default_currency)
        amount = pd.Series(_ints(u["amount"]), index=u.index)
        date = _col(u, "payment_date", "datetime64[ns]").dt.strftime("%Y-%m-%d").astype("string").fillna("?")
        msg_pay = "Payment " + _txt(u["payment_id"]) + " of " + date + " has " + _fmt_money(amount, c) \
            + " not applied to any line."
        msg_cn = "Credit note line " + _txt(u["payment_id"]) + " has " + _fmt_money(amount, c) \
            + " not applied to any open line."
        pids = _one(u["payment_id"])
        none = pd.Series([None] * len(u), index=u.index, dtype=object)
        out.append(_exc(
            "UNAPPLIED_CASH", currency=c, amount=amount, customer_id=u["customer_id"],
            message=msg_pay.where(~is_cn, msg_cn),
            action=pd.Series("Apply it to open invoices of the customer or refund it", index=u.index,
                             dtype="string").where(~is_cn, "Apply the credit to an open invoice or refund it"),
            payment_ids=pids.where(~is_cn, none), line_codes=pids.where(is_cn, none)))

    if sp is not None:
        out.extend(_short_paid(al, L, sp[0], sp[1], payments, info, policy))
    return out


def _short_paid(a: pd.DataFrame, L: _Lines, rows: np.ndarray, open_: np.ndarray, payments: pd.DataFrame,
                info: pd.DataFrame, policy: Policy) -> list[pd.DataFrame]:
    """Invoices left partly open after a payment that referenced them paid part of them.

    `rows`/`open_`: the lines (and open amounts) of the invoices that have an open line and a line
    named by an allocation in `a`, the allocations naming any of their codes (`_short_paid_candidates`):
    the rest of the book cannot change the result.
    """
    lines = L.frame(rows, ["line_code", "customer_id", "invoice_no", "currency"], ("_inv",)).assign(_open=open_)
    line_inv = lines.set_index("line_code")[["_inv", "customer_id"]]
    al = a.assign(payment_id=a["payment_id"].astype("string"), line_code=a["line_code"].astype("string"))
    al = al.join(line_inv.rename(columns={"customer_id": "_line_customer"}), on="line_code", how="inner")
    src = al["payment_id"].map(info.set_index("payment_id")["p_source"]).astype("string")
    al = al.loc[~(src == "credit_note").fillna(False).to_numpy(dtype=bool)]
    # Payments naming the invoice in their own columns (invoice_no, or line_code of one of its lines).
    pairs = pd.DataFrame({"payment_id": pd.Series(dtype="string"), "_inv": pd.Series(dtype="string")})
    if len(payments):
        pay = _rows_with_ids(payments, _arrow(al["payment_id"]))
        by_inv = pd.DataFrame({"payment_id": pay["payment_id"].astype("string"),
                               "_inv": _norm_id(_col(pay, "invoice_no"))})
        tokens = canonical_series(_col(pay, "line_code"))
        # code -> invoice of the first line (not a credit note) with that canonical code, for these tokens
        hit = L.line_of_tbl[np.flatnonzero(_isin_arrow(L.canon_tbl, _arrow(tokens)))]
        hit = np.sort(hit[hit >= 0])
        hit = hit[~L.cn[hit]]
        named_lines = L.src.iloc[L.pos[hit]]
        code_to_inv = pd.Series(_norm_id(named_lines["invoice_no"]).to_numpy(),
                                index=canonical_series(named_lines["line_code"]).to_numpy())
        code_to_inv = code_to_inv[~code_to_inv.index.duplicated()]
        by_line = pd.DataFrame({"payment_id": pay["payment_id"].astype("string"),
                                "_inv": tokens.map(code_to_inv).astype("string")})
        pairs = pd.concat([by_inv, by_line], ignore_index=True).dropna().drop_duplicates()
    named = al.merge(pairs.assign(_named=True), on=["payment_id", "_inv"], how="left")["_named"]
    named = named.astype("boolean").fillna(False).to_numpy(dtype=bool)
    referencing = al.loc[al["step"].astype("string").isin(["line", "invoice"]).fillna(False).to_numpy(dtype=bool)
                         | named]
    if not len(referencing):
        return []
    open_lines = lines.loc[(lines["_open"] > 0).to_numpy() & _isin(lines["_inv"], referencing["_inv"])]
    sp = _agg(open_lines, "_inv", invoice_no=("invoice_no", "first"), customer_id=("customer_id", "first"),
              currency=("currency", "first"), amount=("_open", "sum"))
    sp = sp.loc[sp["amount"] > 0].reset_index(drop=True)
    sp["_codes"] = sp["_inv"].astype(object).map(_lists(open_lines, "_inv", "line_code"))
    payers = _lists(referencing.loc[_isin(referencing["_inv"], sp["_inv"])], "_inv", "payment_id")
    sp["_payers"] = sp["_inv"].astype(object).map(payers).map(lambda p: sorted(set(p)))
    if not len(sp):
        return []
    c = sp["currency"].astype("string").fillna(policy.default_currency)
    who = pd.Series([", ".join(p) for p in sp["_payers"]], dtype="string")
    return [_exc(
        "SHORT_PAID", currency=c, amount=sp["amount"], customer_id=sp["customer_id"],
        message="Invoice " + _txt(sp["invoice_no"]) + " was paid by " + who + " quoting it but "
        + _fmt_money(sp["amount"], c) + " is still open.",
        action="Ask the customer about the short payment; open a dispute or write off the difference",
        invoice_nos=_one(sp["invoice_no"]), payment_ids=sp["_payers"], line_codes=sp["_codes"])]


# --------------------------------------------------------------------------- entry point

def find_exceptions(tables: dict[str, pd.DataFrame], alloc: AllocationResult, as_of: Any,
                    policy: Policy = Policy()) -> pd.DataFrame:
    """All reconciliation exceptions as of `as_of` (SPEC §6); see the module doc for the rules.

    `tables` holds customers, orders, invoices, payments. An empty (or absent)
    customers table skips UNKNOWN_CUSTOMER; an empty orders table skips the
    order checks (UNBILLED, BILLING_BLOCKED, OVERBILLED_QTY, PRICE_MISMATCH,
    BILLED_BEFORE_DELIVERY, ORPHAN_INVOICE_LINE and DUPLICATE_LINE by order line).
    """
    as_of = pd.Timestamp(as_of).normalize()
    invoices = _table(tables, "invoices")
    payments = _table(tables, "payments")
    paid = (payments["payment_date"] <= as_of).fillna(False).to_numpy(dtype=bool)
    if not paid.all():
        payments = payments.loc[paid]
    orders = _table(tables, "orders")
    customers = _table(tables, "customers")
    L = _Lines(invoices, as_of)

    parts: list[pd.DataFrame] = []
    if len(orders):
        parts += _order_exceptions(_Match(L, orders), as_of, policy)
    parts += _invoice_exceptions(L, policy)
    if len(customers):
        parts += _customer_exceptions(customers, L, payments, policy)
    parts += _payment_exceptions(alloc, L, payments, policy)
    parts = [p for p in parts if len(p)]
    if not parts:
        return _empty_exceptions()
    ex = pd.concat(parts, ignore_index=True)

    ref_cols = ex[["_" + k for k in REF_KEYS]].to_numpy()
    ex["refs"] = [  # per exception row only
        {k: (list(v) if len(v) == 1 else sorted(set(v))) for k, v in zip(REF_KEYS, row) if v}
        for row in ref_cols]
    ex["_rank"] = ex["severity"].map(SEVERITY_RANK).astype("int64")
    ex["_refkey"] = [str(r) for r in ex["refs"]]  # keys in REF_KEYS order, lists sorted
    ex["_cust"] = ex["customer_id"].fillna("")
    ex = ex.sort_values(["_rank", "type", "_cust", "_refkey", "message"], kind="stable")
    out = ex[EXCEPTION_COLUMNS].reset_index(drop=True)
    out["amount"] = out["amount"].astype("int64")
    for c in ("type", "severity", "currency", "customer_id", "message", "action"):
        out[c] = out[c].astype("string")
    return out
