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

Everything is merges and groupbys; the only per-row Python is formatting the
(few) exception rows: money figures, quantities and the refs dicts.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Any, Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from billing.linecode import canonical_series
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
_MAX_QTY_DECIMALS = 6


# --------------------------------------------------------------------------- numbers

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
    p = pd.to_numeric(pd.Series(np.asarray(price, dtype=object)), errors="coerce").fillna(0).astype("int64").to_numpy()
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


def _qty_gt(a: pd.Series | np.ndarray, b: pd.Series | np.ndarray) -> np.ndarray:
    """a > b beyond float noise (relative 1e-9)."""
    a = np.asarray(a, dtype="float64")
    b = np.asarray(b, dtype="float64")
    return a > b + _QTY_RTOL * np.maximum(np.maximum(np.abs(a), np.abs(b)), 1.0)


def _ints(s: pd.Series) -> np.ndarray:
    """A money column (int64 or Int64) as int64, missing = 0."""
    return pd.to_numeric(s, errors="coerce").fillna(0).astype("int64").to_numpy()


# --------------------------------------------------------------------------- formatting

def _money_formatter() -> Callable[[int, str], str]:
    try:  # billing.money is the project's formatter; fall back while it is not there.
        from billing.money import format_minor  # noqa: PLC0415
        return format_minor
    except ImportError:
        return _format_minor_local


def _format_many(amounts: np.ndarray, currencies: np.ndarray) -> list[str] | pd.Series:
    """Major-unit strings for many amounts: billing.money's vectorised formatter when there."""
    try:
        from billing.money import format_minor_series  # noqa: PLC0415
        return format_minor_series(pd.Series(amounts, dtype="int64"),
                                   pd.Series(currencies, dtype=object)).to_numpy(dtype=object)
    except Exception:  # not there yet, or a currency it does not know: one by one
        fmt = _money_formatter()
        return [fmt(int(x), str(c)) for x, c in zip(amounts, currencies)]


def _minor_digits_local(currency: str) -> int:
    try:
        from babel.numbers import get_currency_precision  # noqa: PLC0415
        return int(get_currency_precision(currency))
    except Exception:  # unknown code or no babel
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
    text = pd.Series(_format_many(a, cur), dtype="string") + " " + pd.Series(cur, dtype="string")
    return pd.Series(text.str.strip().to_numpy(dtype=object), index=index, dtype="string")


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
    return pd.Series([[v] if not pd.isna(v) else None for v in s.astype(object).to_numpy()],
                     index=s.index, dtype=object)


# --------------------------------------------------------------------------- normalising

def _norm_id(s: pd.Series) -> pd.Series:
    s = s.astype("string").str.strip()
    return s.mask(s == "")


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


def _row_order(df: pd.DataFrame) -> pd.DataFrame:
    """Rows in source order (_sheet, _row) when known: "first" means first in the sheet."""
    cols = [c for c in ("_sheet", "_row") if c in df.columns]
    return df.sort_values(cols, kind="stable") if cols else df


def _is_credit(inv: pd.DataFrame) -> pd.Series:
    kind = _col(inv, "kind").astype("string")
    return (kind == "credit_note").fillna(False) | (kind.isna() & (_ints(inv["amount"]) < 0))


def _invoice_lines(invoices: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Invoice lines dated ≤ as_of, in sheet order, with helper columns."""
    inv = invoices.loc[(invoices["invoice_date"] <= as_of).fillna(False)]
    inv = _row_order(inv).reset_index(drop=True)
    inv["_cn"] = _is_credit(inv).to_numpy()
    inv["_amount"] = _ints(inv["amount"])
    inv["_inv"] = _norm_id(inv["invoice_no"])
    line_no = pd.to_numeric(_col(inv, "line_no", "Int64"), errors="coerce").astype("Int64")
    inv["_line_no"] = line_no
    inv["_rep"] = inv.groupby(["_inv", "_line_no"], dropna=False).cumcount().to_numpy()
    inv["_key"] = _txt(inv["_inv"], "") + "\x00" + _txt(line_no.astype("string"), "")
    inv["_oid"] = _norm_id(_col(inv, "order_id"))
    inv["_oline"] = _norm_order_line(_col(inv, "order_line"))
    inv["_code_orig"] = _col(inv, "line_code_original").fillna(inv["line_code"]).astype("string")
    return inv


def _prep_orders(orders: pd.DataFrame) -> pd.DataFrame:
    o = _row_order(orders).reset_index(drop=True)
    o["_oid"] = _norm_id(o["order_id"])
    o["_oline"] = _norm_order_line(o["order_line"])
    o = o.drop_duplicates(["_oid", "_oline"], keep="first").reset_index(drop=True)
    o["_qty"] = pd.to_numeric(o["quantity"], errors="coerce").astype("float64")
    delivered = pd.to_numeric(_col(o, "delivered_qty", "float64"), errors="coerce").astype("float64")
    o["_delivered_qty"] = delivered
    o["_target"] = delivered.fillna(o["_qty"])
    block = _col(o, "billing_block").astype("string").str.strip()
    o["_block"] = block.mask(block.str.casefold().isin(_NO_BLOCK_WORDS) | (block == ""))
    o["_blocked"] = o["_block"].notna().to_numpy(dtype=bool)
    o["_price"] = pd.to_numeric(o["unit_price"], errors="coerce").astype("Int64")
    o["_ref"] = _txt(o["order_id"]) + "/" + _txt(o["order_line"])
    o["_delivery"] = _col(o, "delivery_date", "datetime64[ns]")
    return o


def _attach_orders(inv: pd.DataFrame, o: pd.DataFrame) -> pd.DataFrame:
    """Invoice lines with the order line they name (`_matched`) and its fields (`o_*`)."""
    inv = inv.copy()
    # An order reference without a line is the order's line when it has exactly one.
    lines_per_order = o.groupby("_oid")["_oline"].agg(["count", "first"])
    single = lines_per_order.loc[lines_per_order["count"] == 1, "first"]
    fill = inv["_oid"].map(single).astype("string")
    inv["_oline_eff"] = inv["_oline"].where(inv["_oline"].notna(), fill)
    cols = o[["_oid", "_oline", "_ref", "_price", "_qty", "_target", "_delivery",
              "_delivered_qty", "currency", "customer_id", "_blocked"]].rename(columns={
        "_oline": "_oline_eff", "_ref": "o_ref", "_price": "o_price", "_qty": "o_qty",
        "_target": "o_target", "_delivery": "o_delivery", "_delivered_qty": "o_delivered",
        "currency": "o_currency", "customer_id": "o_customer", "_blocked": "o_blocked"})
    cols = cols.loc[cols["_oid"].notna() & cols["_oline_eff"].notna()].assign(_matched=True)
    out = inv.merge(cols, on=["_oid", "_oline_eff"], how="left", sort=False)
    out["_matched"] = out["_matched"].astype("boolean").fillna(False).astype(bool)
    out.index = inv.index
    return out


def _billed_units(m: pd.DataFrame) -> np.ndarray:
    """Signed quantity each invoice line bills (credit notes negative); see module doc."""
    q = pd.to_numeric(m["quantity"], errors="coerce").astype("float64").to_numpy()
    price = pd.to_numeric(m["unit_price"], errors="coerce").astype("Float64")
    price = price.fillna(m["o_price"].astype("Float64")).fillna(0.0).astype("float64").to_numpy()
    disc = np.abs(_ints(_col(m, "discount", "Int64")))
    tax = np.abs(_ints(_col(m, "tax", "Int64")))
    net = (np.abs(m["_amount"].to_numpy()) + disc - tax).astype("float64")
    inferred = np.divide(net, np.abs(price), out=np.zeros(len(m)), where=price != 0)
    units = np.where(np.isnan(q), inferred, np.abs(q))
    return np.where(m["_cn"].to_numpy(), -units, np.where(np.isnan(q), units, q))


def _order_status(o: pd.DataFrame, m: pd.DataFrame) -> pd.DataFrame:
    """Orders with billed_qty and n_lines (invoice lines, not credit notes, billing them)."""
    billing = m.loc[m["_matched"]].copy()
    billing["_units"] = _billed_units(billing)
    counted = billing.loc[billing["_rep"] == 0]
    g = counted.groupby(["_oid", "_oline_eff"], sort=True)
    agg = pd.DataFrame({
        "billed_qty": g["_units"].sum(),
        "n_lines": counted.loc[~counted["_cn"]].groupby(["_oid", "_oline_eff"])["_units"].size(),
    })
    agg = agg.reset_index().rename(columns={"_oline_eff": "_oline"})
    out = o.merge(agg, on=["_oid", "_oline"], how="left")
    out["_okey"] = _okey(out["_oid"], out["_oline"])
    out["billed_qty"] = out["billed_qty"].astype("float64").fillna(0.0)
    out["n_lines"] = out["n_lines"].fillna(0).astype("int64")
    return out


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
    frame = pd.DataFrame({
        "type": kind, "severity": EXCEPTION_TYPES[kind]["severity"],
        "currency": pd.Series(currency, index=idx).astype("string"),
        "amount": np.abs(amount.astype("int64").to_numpy()),
        "customer_id": pd.Series(customer_id, index=idx).astype("string"),
        "message": pd.Series(message, index=idx).astype("string"),
        "action": pd.Series(action, index=idx).astype("string"),
    }, index=idx)
    for key in REF_KEYS:
        frame["_" + key] = _as_lists(refs.get(key), idx)
    return frame


def _as_lists(values: Any, index: pd.Index) -> pd.Series:
    """Ref cells as plain Python lists or None (missing)."""
    if values is None:
        return pd.Series([None] * len(index), index=index, dtype=object)
    s = pd.Series(values)
    cells = [v if isinstance(v, list) else None for v in s.astype(object).to_numpy()]
    return pd.Series(cells, index=s.index, dtype=object).reindex(index)


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


def _okey(oid: pd.Series, oline: pd.Series) -> pd.Series:
    return oid.astype("string") + "\x00" + oline.astype("string")


# --------------------------------------------------------------------------- order checks

def _order_line_refs(m: pd.DataFrame, sel: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(line_codes, invoice_nos) lists of the invoice lines billing each selected order line."""
    billing = m.loc[m["_matched"].to_numpy(dtype=bool)]
    billing = billing.assign(_okey=_okey(billing["_oid"], billing["_oline_eff"]))
    billing = billing.loc[_isin(billing["_okey"], sel["_okey"])]
    codes = sel["_okey"].astype(object).map(_lists(billing, "_okey", "line_code"))
    invoices = sel["_okey"].astype(object).map(_lists(billing, "_okey", "invoice_no"))
    return codes, invoices


def _order_view(orders: pd.DataFrame, invoices: pd.DataFrame, as_of: pd.Timestamp,
                inv: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    inv = _invoice_lines(invoices, as_of) if inv is None else inv
    o = _prep_orders(orders)
    m = _attach_orders(inv, o)
    return _order_status(o, m), m


def _due(status: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    delivered = (status["_delivery"] <= as_of).fillna(False).to_numpy(dtype=bool)
    short = _qty_gt(status["_target"], status["billed_qty"])
    due = status.loc[delivered & ~status["_blocked"].to_numpy() & short].copy()
    due["qty_to_bill"] = (due["_target"] - due["billed_qty"]).astype("float64")
    due["amount_to_bill"] = qty_times_price(due["qty_to_bill"].to_numpy(), due["_price"].to_numpy())
    return due


def billing_due(orders: pd.DataFrame, invoices: pd.DataFrame, as_of: Any) -> pd.DataFrame:
    """Delivered (delivery_date ≤ as_of), unblocked order lines not fully billed.

    delivered_qty is the delivered quantity (the ordered quantity when it is
    missing); qty_to_bill = delivered_qty − billed_qty; amount_to_bill =
    qty_to_bill × unit_price, half-even, int64 minor units.
    """
    as_of = pd.Timestamp(as_of).normalize()
    if len(orders) == 0:
        return _frame_like(BILLING_DUE_COLUMNS, orders)
    status, _ = _order_view(orders, invoices, as_of)
    due = _due(status, as_of)
    out = pd.DataFrame({
        "order_id": due["order_id"].astype("string"), "order_line": due["order_line"].astype("string"),
        "customer_id": due["customer_id"].astype("string"), "currency": due["currency"].astype("string"),
        "sku": _col(due, "sku").astype("string"), "description": _col(due, "description").astype("string"),
        "delivered_qty": due["_target"].astype("float64"), "billed_qty": due["billed_qty"].astype("float64"),
        "qty_to_bill": due["qty_to_bill"].astype("float64"), "unit_price": due["_price"].astype("Int64"),
        "amount_to_bill": due["amount_to_bill"].astype("int64"),
    })
    return out.sort_values(["customer_id", "order_id", "order_line"], kind="stable").reset_index(drop=True)


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
        status = _prep_orders(orders)
        status["billed_qty"] = 0.0
    else:
        status, _ = _order_view(orders, invoices, as_of)
    b = status.loc[status["_blocked"].to_numpy()].copy()
    remaining = np.maximum((b["_target"] - b["billed_qty"]).to_numpy(dtype="float64"), 0.0)
    out = pd.DataFrame({
        "order_id": b["order_id"].astype("string"), "order_line": b["order_line"].astype("string"),
        "customer_id": b["customer_id"].astype("string"), "currency": b["currency"].astype("string"),
        "sku": _col(b, "sku").astype("string"), "description": _col(b, "description").astype("string"),
        "quantity": b["_qty"].astype("float64"), "delivered_qty": b["_delivered_qty"].astype("float64"),
        "billed_qty": b["billed_qty"].astype("float64"), "unit_price": b["_price"].astype("Int64"),
        "billing_block": b["_block"].astype("string"),
        "amount": qty_times_price(remaining, b["_price"].to_numpy()),
    })
    out["amount"] = out["amount"].astype("int64")
    return out.sort_values(["customer_id", "order_id", "order_line"], kind="stable").reset_index(drop=True)


def _frame_like(columns: list[str], orders: pd.DataFrame) -> pd.DataFrame:
    dtypes = {"delivered_qty": "float64", "billed_qty": "float64", "qty_to_bill": "float64",
              "quantity": "float64", "unit_price": "Int64", "amount_to_bill": "int64", "amount": "int64"}
    return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "string")) for c in columns})


def _refs_of(m: pd.DataFrame, sel: pd.DataFrame) -> dict[str, pd.Series]:
    codes, invoices = _order_line_refs(m, sel)
    return {"line_codes": codes, "invoice_nos": invoices}


def _order_exceptions(orders: pd.DataFrame, inv: pd.DataFrame, as_of: pd.Timestamp,
                      policy: Policy) -> list[pd.DataFrame]:
    status, m = _order_view(orders, inv, as_of, inv)
    cur = status["currency"].astype("string").fillna(policy.default_currency)
    status["_cur"] = cur
    out: list[pd.DataFrame] = []
    order_ref = _one(status["_ref"])
    where = "Order " + _txt(status["order_id"]) + " line " + _txt(status["order_line"])
    sku = _txt(_col(status, "sku"), "").mask(_txt(_col(status, "sku"), "") == "", None)
    where = where + (" (" + sku + ")").fillna("")

    # UNBILLED
    due = _due(status, as_of)
    if len(due):
        ix = due.index
        out.append(_exc(
            "UNBILLED", currency=cur[ix], amount=due["amount_to_bill"], customer_id=due["customer_id"],
            message=where[ix] + " was delivered (" + _units(due["_target"]) + ") but "
            + ("only " + _fmt_qty(due["billed_qty"]) + " billed").where(due["billed_qty"] > 0, "nothing is billed")
            + ": " + _units(due["qty_to_bill"]) + " worth " + _fmt_money(due["amount_to_bill"], cur[ix])
            + " not invoiced.",
            action="Issue an invoice for the missing quantity",
            order_lines=order_ref[ix], **_refs_of(m, due)))

    # BILLING_BLOCKED
    blocked = status.loc[status["_blocked"].to_numpy()]
    if len(blocked):
        ix = blocked.index
        remaining = np.maximum((blocked["_target"] - blocked["billed_qty"]).to_numpy(dtype="float64"), 0.0)
        amount = pd.Series(qty_times_price(remaining, blocked["_price"].to_numpy()), index=ix)
        out.append(_exc(
            "BILLING_BLOCKED", currency=cur[ix], amount=amount, customer_id=blocked["customer_id"],
            message=where[ix] + " is on billing block (" + _txt(blocked["_block"]) + "); "
            + _fmt_money(amount, cur[ix]) + " is not billed.",
            action="Clear the billing block once the reason is resolved, then invoice",
            order_lines=order_ref[ix], **_refs_of(m, blocked)))

    # OVERBILLED_QTY / DUPLICATE_LINE (order line billed by several lines over its quantity)
    over_mask = _qty_gt(status["billed_qty"], status["_qty"])
    over = status.loc[over_mask].copy()
    if len(over):
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
                            **_refs_of(m, part)))

    inv_lines = m.loc[m["_matched"] & ~m["_cn"]]
    inv_where = "Invoice " + _txt(m["invoice_no"]) + " line " + _txt(m["_line_no"].astype("string"))
    inv_cur = m["currency"].astype("string").fillna(m["o_currency"].astype("string")).fillna(
        policy.default_currency)

    # PRICE_MISMATCH (same currency; an invoice line without quantity uses the order quantity)
    ip = pd.to_numeric(inv_lines["unit_price"], errors="coerce").astype("Int64")
    op = inv_lines["o_price"].astype("Int64")
    same_cur = ~(inv_lines["currency"].astype("string") != inv_lines["o_currency"].astype("string")).fillna(False)
    cand = inv_lines.loc[(ip.notna() & op.notna() & same_cur).to_numpy(dtype=bool)]
    if len(cand):
        ipc, opc = _ints(cand["unit_price"]), _ints(cand["o_price"])
        bad = _exceeds_pct(np.abs(ipc - opc), np.abs(opc), policy.price_tolerance_pct)
        pm = cand.loc[bad]
        if len(pm):
            ix = pm.index
            diff = np.abs(_ints(pm["unit_price"]) - _ints(pm["o_price"]))
            qty = pd.to_numeric(pm["quantity"], errors="coerce").astype("float64").fillna(pm["o_qty"])
            amount = pd.Series(qty_times_price(np.abs(qty.to_numpy()), diff), index=ix)
            c = inv_cur[ix]
            out.append(_exc(
                "PRICE_MISMATCH", currency=c, amount=amount, customer_id=pm["customer_id"],
                message=inv_where[ix] + " bills " + _units(qty) + " at "
                + _fmt_money(_ints(pm["unit_price"]), c) + " but order line "
                + _txt(pm["o_ref"]) + " has " + _fmt_money(_ints(pm["o_price"]), c)
                + ": " + _fmt_money(amount, c) + " at stake.",
                action="Correct the price with a credit note or a supplementary invoice",
                line_codes=_one(pm["line_code"]), invoice_nos=_one(pm["invoice_no"]),
                order_lines=_one(pm["o_ref"])))

    # BILLED_BEFORE_DELIVERY (skipped when the orders carry no delivery data at all)
    tracks_delivery = status["_delivery"].notna().any() or status["_delivered_qty"].notna().any()
    if tracks_delivery and len(inv_lines):
        dd = inv_lines["o_delivery"]
        delivered_undated = dd.isna() & (inv_lines["o_delivered"].fillna(0) > 0)
        not_yet = (dd.isna() & ~delivered_undated) | (dd > as_of).fillna(False)
        early = (inv_lines["invoice_date"] < dd).fillna(False)
        bb = inv_lines.loc[(not_yet | early).to_numpy(dtype=bool)]
        if len(bb):
            ix = bb.index
            c = inv_cur[ix]
            dd_txt = bb["o_delivery"].dt.strftime("%Y-%m-%d").astype("string").fillna("")
            undelivered = "which is not delivered as of " + as_of.strftime("%Y-%m-%d")
            when = pd.Series(np.select(
                [bb["o_delivery"].isna().to_numpy(), (bb["o_delivery"] > as_of).to_numpy(dtype=bool)],
                [undelivered, undelivered + " (delivery date " + dd_txt.to_numpy(dtype=object) + ")"],
                ("which was delivered on " + dd_txt).to_numpy(dtype=object)), index=ix, dtype="string")
            out.append(_exc(
                "BILLED_BEFORE_DELIVERY", currency=c, amount=bb["_amount"], customer_id=bb["customer_id"],
                message=inv_where[ix] + " dated " + bb["invoice_date"].dt.strftime("%Y-%m-%d").astype("string")
                + " bills " + _fmt_money(np.abs(bb["_amount"]), c) + " for order line "
                + _txt(bb["o_ref"]) + ", " + when + ".",
                action="Check the delivery; credit and re-invoice on delivery if the goods have not shipped",
                line_codes=_one(bb["line_code"]), invoice_nos=_one(bb["invoice_no"]),
                order_lines=_one(bb["o_ref"])))

    # ORPHAN_INVOICE_LINE: names an order (line) that is not there
    known_orders = set(status["_oid"].dropna())
    orphan = m.loc[(m["_oid"].notna() & ~m["_matched"]
                    & (m["_oline_eff"].notna() | ~_isin(m["_oid"], known_orders))).to_numpy(dtype=bool)]
    if len(orphan):
        ix = orphan.index
        c = inv_cur[ix]
        named = _txt(orphan["order_id"]) + ("/" + orphan["order_line"].astype("string")).fillna("")
        what = ("order line " + named).where(orphan["_oline_eff"].notna(), "order " + named)
        out.append(_exc(
            "ORPHAN_INVOICE_LINE", currency=c, amount=orphan["_amount"], customer_id=orphan["customer_id"],
            message=inv_where[ix] + " (" + _fmt_money(np.abs(orphan["_amount"]), c)
            + ") names " + what + ", which is not in the orders.",
            action="Correct the order reference on the invoice line or add the missing order line",
            line_codes=_one(orphan["line_code"]), invoice_nos=_one(orphan["invoice_no"]),
            order_lines=_one(named)))
    return out


# --------------------------------------------------------------------------- invoice checks

def _invoice_exceptions(inv: pd.DataFrame, policy: Policy) -> list[pd.DataFrame]:
    out: list[pd.DataFrame] = []
    if not len(inv):
        return out
    cur = inv["currency"].astype("string").fillna(policy.default_currency)
    where = "Invoice " + _txt(inv["invoice_no"]) + " line " + _txt(inv["_line_no"].astype("string"))

    # LINE_TOTAL_MISMATCH (credit notes compared in magnitudes, whatever signs the sheet used)
    qty = pd.to_numeric(inv["quantity"], errors="coerce").astype("float64")
    price = pd.to_numeric(inv["unit_price"], errors="coerce").astype("Int64")
    has = (qty.notna() & price.notna()).to_numpy(dtype=bool)
    if has.any():
        lt = inv.loc[has]
        cn = lt["_cn"].to_numpy()
        q = lt["quantity"].to_numpy(dtype="float64")
        p = _ints(lt["unit_price"])
        disc, tax = _ints(_col(lt, "discount", "Int64")), _ints(_col(lt, "tax", "Int64"))
        gross = qty_times_price(np.where(cn, np.abs(q), q), np.where(cn, np.abs(p), p))
        expected = np.where(cn, gross - np.abs(disc) + np.abs(tax), gross - disc + tax)
        actual = np.where(cn, np.abs(lt["_amount"].to_numpy()), lt["_amount"].to_numpy())
        diff = np.abs(actual - expected)
        bad = diff > policy.line_total_tolerance_minor
        lm = lt.loc[bad]
        if len(lm):
            ix = lm.index
            c = cur[ix]
            e = pd.Series(expected[bad], index=ix)
            out.append(_exc(
                "LINE_TOTAL_MISMATCH", currency=c, amount=pd.Series(diff[bad], index=ix),
                customer_id=lm["customer_id"],
                message=where[ix] + " has amount " + _fmt_money(pd.Series(actual[bad], index=ix), c)
                + " but " + _fmt_qty(lm["quantity"]) + " × " + _fmt_money(p[bad], c)
                + (" − discount " + _fmt_money(np.abs(disc[bad]), c)).where(disc[bad] != 0, "")
                + (" + tax " + _fmt_money(np.abs(tax[bad]), c)).where(tax[bad] != 0, "")
                + " = " + _fmt_money(e, c)
                + " (off by " + _fmt_money(pd.Series(diff[bad], index=ix), c) + ").",
                action="Correct the line amount, quantity, price, discount or tax",
                line_codes=_one(lm["line_code"]), invoice_nos=_one(lm["invoice_no"])))

    # DUPLICATE_LINE: the same (invoice_no, line_no) more than once
    key = ["_inv", "_line_no"]
    n_key = inv.groupby(key, dropna=False)["_rep"].transform("size")
    dups = inv.loc[(n_key > 1).to_numpy()].copy()
    if len(dups):
        dups["_extra"] = np.where(dups["_rep"] > 0, np.abs(dups["_amount"]), 0)
        g = dups.groupby("_key", sort=True)
        d = g.agg(invoice_no=("invoice_no", "first"), line_no=("_line_no", "first"),
                  customer_id=("customer_id", "first"), currency=("currency", "first"),
                  n=("_rep", "size"), amount=("_extra", "sum")).reset_index()
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
    inv = inv.copy()
    inv["_ccode"] = canonical_series(inv["_code_orig"])
    n_keys = inv.groupby("_ccode")["_key"].transform("nunique")
    dc = inv.loc[(n_keys > 1).to_numpy()].copy()
    if len(dc):
        first_key = dc.groupby("_ccode")["_key"].transform("first")
        dc["_extra"] = np.where(dc["_key"] != first_key, np.abs(dc["_amount"]), 0)
        dc["_label"] = _txt(dc["invoice_no"]) + " line " + _txt(dc["_line_no"].astype("string"))
        g = dc.groupby("_ccode", sort=True)
        d = g.agg(code=("_code_orig", "first"), customer_id=("customer_id", "first"),
                  currency=("currency", "first"), n=("_key", "nunique"), amount=("_extra", "sum")
                  ).reset_index()
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


# --------------------------------------------------------------------------- customer checks

def _customer_exceptions(customers: pd.DataFrame, inv: pd.DataFrame, payments: pd.DataFrame,
                         policy: Policy) -> list[pd.DataFrame]:
    known = set(_norm_id(customers["customer_id"]).dropna())
    out: list[pd.DataFrame] = []
    cid = _norm_id(inv["customer_id"])
    ui = inv.loc[cid.notna().to_numpy(dtype=bool) & ~_isin(cid, known)].copy()
    if len(ui):
        ui["_cid"] = _norm_id(ui["customer_id"])
        ui["_cur"] = ui["currency"].astype("string").fillna(policy.default_currency)
        ui["_gk"] = _txt(ui["_cid"], "") + "\x00" + _txt(ui["_inv"], "") + "\x00" + ui["_cur"]
        d = ui.groupby("_gk", sort=True).agg(
            customer_id=("customer_id", "first"), invoice_no=("invoice_no", "first"), _cur=("_cur", "first"),
            amount=("_amount", "sum")).reset_index()
        d["_codes"] = d["_gk"].astype(object).map(_lists(ui, "_gk", "line_code"))
        d["amount"] = d["amount"].abs()
        out.append(_exc(
            "UNKNOWN_CUSTOMER", currency=d["_cur"], amount=d["amount"], customer_id=d["customer_id"],
            message="Invoice " + _txt(d["invoice_no"]) + " (" + _fmt_money(d["amount"], d["_cur"])
            + ") is for customer " + _txt(d["customer_id"]) + ", who is not in the customer list.",
            action="Add the customer to the customer list or correct the customer id on the invoice",
            line_codes=d["_codes"], invoice_nos=_one(d["invoice_no"])))
    pid = _norm_id(payments["customer_id"])
    up = payments.loc[pid.notna().to_numpy(dtype=bool) & ~_isin(pid, known)]
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

def _payment_info(alloc: AllocationResult, payments: pd.DataFrame) -> pd.DataFrame:
    """payment_id -> currency, amount, source (effective payments first, then the payments table)."""
    eff = alloc.effective_payments if alloc.effective_payments is not None else pd.DataFrame()
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


def _payment_exceptions(alloc: AllocationResult, inv: pd.DataFrame, payments: pd.DataFrame,
                        policy: Policy) -> list[pd.DataFrame]:
    out: list[pd.DataFrame] = []
    info = _payment_info(alloc, payments)
    codes = canonical_series(inv["line_code"]) if len(inv) else pd.Series(dtype="string")

    # BAD_REFERENCE
    ri = alloc.reference_issues
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
        is_code = pd.Series(_isin(canonical_series(sug), codes), index=sug.index)
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
    cm = alloc.currency_mismatches
    if cm is not None and len(cm):
        target = _col(cm, "line_code").astype("string")
        is_code = pd.Series(_isin(canonical_series(target), codes), index=target.index)
        inv_no = _col(cm, "invoice_no").astype("string")
        line_refs = pd.Series([[t] if code and not pd.isna(t) else None
                               for t, code in zip(target.to_numpy(), is_code.to_numpy())],
                              index=cm.index, dtype=object)
        inv_refs = pd.Series([[i] if not pd.isna(i) else ([t] if not code and not pd.isna(t) else None)
                              for i, t, code in zip(inv_no.to_numpy(), target.to_numpy(), is_code.to_numpy())],
                             index=cm.index, dtype=object)
        named = ("line " + target).where(is_code, "invoice " + inv_no.fillna(target))
        pc = cm["payment_currency"].astype("string")
        amount = pd.Series(np.abs(_ints(cm["amount"])), index=cm.index)
        out.append(_exc(
            "CURRENCY_MISMATCH", currency=pc, amount=amount, customer_id=cm["customer_id"],
            message="Payment " + _txt(cm["payment_id"]) + " of " + _fmt_money(amount, pc) + " names "
            + _txt(named) + ", which is in " + _txt(cm["line_currency"]) + ", so it was not applied to it.",
            action="Confirm the currency with the customer; record the conversion or refund and re-collect",
            payment_ids=_one(cm["payment_id"]), line_codes=line_refs, invoice_nos=inv_refs))

    # UNAPPLIED_CASH
    un = alloc.unapplied
    if un is not None and len(un):
        u = un.loc[_ints(un["amount"]) > 0]
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

    out.extend(_short_paid(alloc, inv, payments, info, policy))
    return out


def _short_paid(alloc: AllocationResult, inv: pd.DataFrame, payments: pd.DataFrame,
                info: pd.DataFrame, policy: Policy) -> list[pd.DataFrame]:
    """Invoices left partly open after a payment that referenced them paid part of them."""
    a = alloc.allocations
    lines = inv.loc[~inv["_cn"]]
    if a is None or not len(a) or not len(lines):
        return []
    la = alloc.line_allocated
    allocated = (la.set_index("line_code")["allocated"] if la is not None and len(la)
                 else pd.Series(dtype="int64"))
    if len(allocated) == 0:  # no line_allocated given: sum the allocations
        allocated = a.groupby("line_code")["amount"].sum()
    lines = lines.assign(_open=lines["_amount"] - _ints(lines["line_code"].map(allocated)))
    line_inv = lines.set_index("line_code")[["_inv", "customer_id"]]

    al = a.assign(payment_id=a["payment_id"].astype("string"), line_code=a["line_code"].astype("string"))
    al = al.join(line_inv.rename(columns={"customer_id": "_line_customer"}), on="line_code", how="inner")
    src = al["payment_id"].map(info.set_index("payment_id")["p_source"]).astype("string")
    al = al.loc[~(src == "credit_note").fillna(False).to_numpy(dtype=bool)]
    # Payments naming the invoice in their own columns (invoice_no, or line_code of one of its lines).
    pairs = pd.DataFrame({"payment_id": pd.Series(dtype="string"), "_inv": pd.Series(dtype="string")})
    if len(payments):
        by_inv = pd.DataFrame({"payment_id": payments["payment_id"].astype("string"),
                               "_inv": _norm_id(_col(payments, "invoice_no"))})
        code_to_inv = pd.Series(lines["_inv"].to_numpy(), index=canonical_series(lines["line_code"]).to_numpy())
        code_to_inv = code_to_inv[~code_to_inv.index.duplicated()]
        by_line = pd.DataFrame({"payment_id": payments["payment_id"].astype("string"),
                                "_inv": canonical_series(_col(payments, "line_code")).map(code_to_inv).astype("string")})
        pairs = pd.concat([by_inv, by_line], ignore_index=True).dropna().drop_duplicates()
    named = al.merge(pairs.assign(_named=True), on=["payment_id", "_inv"], how="left")["_named"]
    named = named.astype("boolean").fillna(False).to_numpy(dtype=bool)
    referencing = al.loc[al["step"].astype("string").isin(["line", "invoice"]).fillna(False).to_numpy(dtype=bool)
                         | named]
    if not len(referencing):
        return []
    open_lines = lines.loc[(lines["_open"] > 0).to_numpy() & _isin(lines["_inv"], referencing["_inv"])]
    g = open_lines.groupby("_inv", sort=True)
    sp = g.agg(invoice_no=("invoice_no", "first"), customer_id=("customer_id", "first"),
               currency=("currency", "first"), amount=("_open", "sum")).reset_index()
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
    payments = payments.loc[(payments["payment_date"] <= as_of).fillna(False)]
    orders = _table(tables, "orders")
    customers = _table(tables, "customers")
    inv = _invoice_lines(invoices, as_of)

    parts: list[pd.DataFrame] = []
    if len(orders):
        parts += _order_exceptions(orders, inv, as_of, policy)
    parts += _invoice_exceptions(inv, policy)
    if len(customers):
        parts += _customer_exceptions(customers, inv, payments, policy)
    parts += _payment_exceptions(alloc, inv, payments, policy)
    parts = [p for p in parts if len(p)]
    if not parts:
        return _empty_exceptions()
    ex = pd.concat(parts, ignore_index=True)

    ref_cols = ex[["_" + k for k in REF_KEYS]].to_numpy()
    ex["refs"] = [  # per exception row only
        {k: sorted(set(v)) for k, v in zip(REF_KEYS, row) if v}
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
