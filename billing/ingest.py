"""From located raw tables to the normalised Dataset: typed columns, derived fields, quarantine.

Every data row ends up either accepted (in `Dataset.tables`) or quarantined
(one entry per bad cell in `Dataset.quarantine`, with the spreadsheet row as
the user sees it). `read = accepted + quarantined` for every table. Work is
done column by column over whole Series; per-row Python only touches the
(few) quarantined cells.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from babel.numbers import get_currency_name

from billing.dates import parse_dates
from billing.linecode import all_distinct, append_check, canonical_series, make_codes
from billing.model import Dataset, RawWorkbook, SkipNote, TableCount, empty_quarantine, empty_table
from billing.money import parse_money, single_currency_symbols, totals_fit
from billing.schema import FALSE_WORDS, INVOICE_KINDS, TABLE_ORDER, TABLES, TRUE_WORDS, Column
from billing.tabular import RawTable, TablesFound, locate_tables, rows_text

# Symbols people type in a currency column instead of the ISO code: every symbol of the money
# table that names one currency (₱, ₹, ₩, ₪ ...), then the usual readings of the shared ones.
CURRENCY_ALIASES = {
    **single_currency_symbols(),
    "$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "￥": "CNY", "元": "CNY",
    "RMB": "CNY", "人民币": "CNY", "美元": "USD", "欧元": "EUR", "FT": "HUF", "FORINT": "HUF",
    "CHF": "CHF", "ZŁ": "PLN", "KČ": "CZK",
}


# Excel's own limit for one cell; a longer field (a CSV can hold anything) quarantines its row.
MAX_CELL_CHARS = 32_767


class SchemaError(ValueError):
    """A required table or column is missing: one message naming expected and found."""


@dataclass(frozen=True)
class IngestOptions:
    """How to read one source. `decimal` and `date_order` override detection."""

    default_currency: str = "USD"
    default_terms_days: int = 30
    decimal: str | None = None  # "." or ","; None = detect per column
    date_order: str = "auto"  # "auto" | "dmy" | "mdy" | "ymd"
    mapping: dict | None = field(default=None, hash=False)


class _Table:
    """Accumulates the typed columns and the cell errors of one table."""

    def __init__(self, raw: RawTable):
        self.raw = raw
        self.n = len(raw.rows)
        self.sheets = raw.sheets_of_rows()
        self.out: dict[str, pd.Series] = {}
        self.bad = np.zeros(self.n, dtype=bool)
        self.errors: list[pd.DataFrame] = []
        _quarantine_error_cells(self)
        self._fail_overlong()

    def _fail_overlong(self) -> None:
        """Quarantine rows with a cell longer than MAX_CELL_CHARS; the value is shown cut short."""
        for column, series in self.raw.columns.items():
            if series.dtype.kind in "biufcmM":
                continue
            arrow = _arrow_text_cells(series)
            if arrow is not None and (pc.max(pc.binary_length(arrow)).as_py() or 0) <= MAX_CELL_CHARS:
                continue  # no cell has more bytes, so none has more characters
            try:
                lengths = series.str.len()
            except AttributeError:  # numbers mixed in: measure the text cells only
                lengths = series.where(series.map(type) == str).astype("string").str.len()
            long = (lengths > MAX_CELL_CHARS).fillna(False).to_numpy(dtype=bool)
            if not long.any():
                continue
            idx = np.flatnonzero(long)
            texts = series.iloc[idx].astype(str)
            self.errors.append(pd.DataFrame({
                "table": self.raw.name, "sheet": self.raw.sheet, "row": self.raw.rows[idx].astype("int64"),
                "column": self.header(column), "value": (texts.str.slice(0, 60) + "…").to_numpy(),
                "message": [f"holds {n:,} characters; Linewise reads at most {MAX_CELL_CHARS:,} in a cell "
                            "(Excel's limit): shorten it or keep the text elsewhere" for n in lengths.iloc[idx]],
            }))
            self.bad[idx] = True

    def header(self, column: str) -> str:
        series = self.raw.columns.get(column)
        label = getattr(series, "name", None)
        return str(label) if label not in (None, "") and not isinstance(label, int) else column

    def has(self, column: str) -> bool:
        return column in self.raw.columns

    def values(self, column: str) -> pd.Series:
        if column in self.raw.columns:
            return self.raw.columns[column].reset_index(drop=True)
        return pd.Series([None] * self.n, dtype="object")

    def fail(self, column: str, mask: np.ndarray | pd.Series, message: pd.Series | str) -> None:
        """Quarantine the rows in `mask`, noting the column, raw value and message."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        idx = np.flatnonzero(mask)
        raw = self.values(column).iloc[idx]
        msg = message.iloc[idx].to_numpy() if isinstance(message, pd.Series) else message
        self.errors.append(pd.DataFrame({
            "table": self.raw.name, "sheet": self.sheets[idx], "row": self.raw.rows[idx].astype("int64"),
            "column": self.header(column), "value": raw.map(_show).to_numpy(), "message": msg,
        }))
        self.bad[idx] = True


# What a spreadsheet shows for a formula that failed (Excel, Google Sheets; LibreOffice's
# Err:5xx codes). Matched exactly (a hash lookup per cell, no per-cell Python).
ERROR_CELLS = frozenset(
    ["#DIV/0!", "#N/A", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!", "#FIELD!",
     "#BLOCKED!", "#GETTING_DATA", "#ERROR", "#ERROR!", "#UNKNOWN!", "#CONNECT!", "#BUSY!", "#PYTHON!"]
    + [f"Err:{n}" for n in range(500, 600)])
_ERROR_FIRST = sorted({cell[0] for cell in ERROR_CELLS})  # "#", "E": what an error cell starts with


def _quarantine_error_cells(t: _Table) -> None:
    """Formula error cells (#DIV/0!, #N/A ...) are quarantined as such, whatever the column:
    never read as blank, so never replaced by a computed amount or a derived due date."""
    for name, col in t.raw.columns.items():
        if col.dtype != object and not pd.api.types.is_string_dtype(col.dtype):
            continue
        arrow = _arrow_text_cells(col)
        if arrow is not None and not any(pc.any(pc.starts_with(arrow, first)).as_py() for first in _ERROR_FIRST):
            continue  # a first-character test per cell rules the column out faster than the lookup
        hit = col.isin(ERROR_CELLS).to_numpy(dtype=bool)
        if hit.any():
            t.fail(name, hit, "is a formula error in the spreadsheet; fix the formula (or type the "
                              "value) and load the file again")


def _arrow_text_cells(values: pd.Series) -> pa.Array | pa.ChunkedArray | None:
    """The Arrow data of a pyarrow-backed text column (zero-copy), else None."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        return pa.array(values)
    return None


def _show(value: object) -> str:
    """A quarantined cell's value as the user typed it: blank for empty, ISO for dates."""
    if value is None or value is pd.NaT or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        stamp = pd.Timestamp(value)
        return stamp.date().isoformat() if stamp == stamp.normalize() else stamp.isoformat()
    return str(value)


def _blank(values: pd.Series) -> np.ndarray:
    """Empty cells: missing, or text that is only white space."""
    missing = values.isna().to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_datetime64_any_dtype(values.dtype):
        return missing
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty", "mixed"):
        return missing
    as_text = values.astype("string").str.strip()
    return missing | (as_text == "").fillna(True).to_numpy(dtype=bool)


def _text(t: _Table, col: Column) -> pd.Series:
    text = cells_as_text(t.values(col.name)).str.strip()
    return text.mask(text == "")


def cells_as_text(values: pd.Series) -> pd.Series:
    """Cells as the user reads them: an id typed as 17 (stored as 17.0) is "17", a date is ISO."""
    if isinstance(values.dtype, pd.StringDtype):
        return values
    if pd.api.types.is_float_dtype(values.dtype):
        values = values.astype(object)
    text = values.astype("string")
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        kind = values.map(type)
        whole = kind.isin((float, np.float64)).to_numpy() & text.str.endswith(".0").fillna(False).to_numpy()
        text[whole] = text[whole].str.slice(0, -2)
        stamp = kind.isin((pd.Timestamp, dt.datetime)).to_numpy() & \
            text.str.endswith(" 00:00:00").fillna(False).to_numpy()
        text[stamp] = text[stamp].str.slice(0, 10)
    return text


def _required(t: _Table, col: Column, blank: np.ndarray) -> None:
    if col.required:
        t.fail(col.name, blank, f"{col.name} is required but the cell is empty; fill it in or remove the row")


def _convert_simple(t: _Table, col: Column, opts: IngestOptions) -> None:
    """Columns whose conversion needs no other column: ids, text, dates, ints, qty, flags, rates."""
    if not t.has(col.name) and t.n > 1:
        _convert_absent(t, col, opts)
        return
    values = t.values(col.name)
    if col.kind in ("id", "text") and isinstance(values.dtype, pd.StringDtype):
        # _blank is exactly "missing or white space only", i.e. what _text masks out.
        text = _text(t, col)
        t.out[col.name] = text
        _required(t, col, text.isna().to_numpy(dtype=bool))
        return
    blank = _blank(values)
    if col.kind in ("id", "text"):
        t.out[col.name] = _text(t, col)
    elif col.kind == "date":
        parsed = parse_dates(values, order=opts.date_order)
        t.fail(col.name, parsed.error.notna().to_numpy(), parsed.error)
        t.out[col.name] = parsed.dates.astype("datetime64[ns]")
    elif col.kind in ("int", "qty", "rate"):
        number, error = _parse_number(values, whole=col.kind == "int")
        t.fail(col.name, error.notna().to_numpy(), error)
        if col.kind == "int":
            t.out[col.name] = number.round().astype("Int64")
        else:
            t.out[col.name] = number.astype("float64")
    elif col.kind == "flag":
        words = _text(t, col).str.casefold().fillna("")
        yes, no = words.isin(TRUE_WORDS), words.isin(FALSE_WORDS)
        t.fail(col.name, ~(yes | no).to_numpy(),
               f"{col.name} should be yes/no (also 1/0, true/false, igen/nem, 是/否)")
        t.out[col.name] = yes.astype("bool")
    _required(t, col, blank)


def _convert_absent(t: _Table, col: Column, opts: IngestOptions) -> None:
    """A column the source does not have: every cell is the same empty one, so convert one and repeat it."""
    one = _Table(replace(t.raw, rows=t.raw.rows[:1], columns={}))
    _convert_simple(one, col, opts)
    t.out[col.name] = one.out[col.name].take(np.zeros(t.n, dtype=np.intp)).reset_index(drop=True)
    for error in one.errors:
        t.fail(col.name, np.ones(t.n, dtype=bool), str(error["message"].iloc[0]))


def _parse_number(values: pd.Series, whole: bool) -> tuple[pd.Series, pd.Series]:
    """Plain numbers (quantities, terms, rates): numeric cells as they are, text with , or . decimals."""
    number = _plain_numbers(values)  # numeric cells and plain numeric text
    rest = number.isna() & values.notna()
    if rest.any():  # text like "1 234,5" or "1,234.5": strip grouping, use "." as decimal point
        text = values[rest].astype("string").str.strip().str.replace(r"[\s\u00a0\u202f']", "", regex=True)
        comma_decimal = text.str.fullmatch(r"[+-]?\d+,\d+").fillna(False)
        text = text.where(~comma_decimal, text.str.replace(",", ".", regex=False)).str.replace(",", "", regex=False)
        number[rest] = pd.to_numeric(text, errors="coerce").astype("float64").to_numpy()
    blank = _blank(values)
    error = pd.Series(pd.NA, index=values.index, dtype="string")
    error[(number.isna() & ~blank).to_numpy()] = "is not a number"
    if whole:
        fractional = number.notna() & (number != number.round())
        error[fractional.to_numpy()] = "must be a whole number"
    return number, error


# Whole numbers Arrow casts exactly as pd.to_numeric reads them ("-0" and "-007" are left to it).
_PLAIN_INT = r"^[0-9]{1,15}$|^-[1-9][0-9]{0,14}$"


def _plain_numbers(values: pd.Series) -> pd.Series:
    """pd.to_numeric(values, errors="coerce") as float64; Arrow text of plain whole numbers is cast in one go."""
    if getattr(values.dtype, "storage", None) != "pyarrow" or not isinstance(values.dtype, pd.StringDtype):
        return pd.Series(pd.to_numeric(values, errors="coerce"), index=values.index).astype("float64")
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(values)
    plain = np.asarray(pc.fill_null(pc.match_substring_regex(arr, _PLAIN_INT), False), dtype=bool)
    number = np.full(len(values), np.nan)
    number[plain] = np.asarray(pc.cast(arr.filter(pa.array(plain)), pa.int64()), dtype=np.int64)
    rest = ~plain & values.notna().to_numpy(dtype=bool)
    if rest.any():
        number[rest] = pd.to_numeric(values[rest], errors="coerce").astype("float64").to_numpy()
    return pd.Series(number, index=values.index)


def _currency(t: _Table, default: pd.Series) -> pd.Series:
    """The row's currency: its own cell, else `default` (customer's, else the source's)."""
    if not t.has("currency"):
        return default.astype("string")
    own = _text(t, TABLES[t.raw.name].column("currency")).str.upper()
    alias = own.isin(list(CURRENCY_ALIASES)).to_numpy(dtype=bool)
    if alias.any():  # a hash lookup per cell; replace() over the whole column costs far more
        own = own.mask(alias, own[alias].map(CURRENCY_ALIASES))
    known = own.dropna().unique()
    invalid = {c for c in known if not _is_currency(c)}
    if invalid:
        mask = own.isin(list(invalid)).fillna(False).to_numpy()
        t.fail("currency", mask, "is not an ISO 4217 currency code (e.g. USD, EUR, HUF, CNY)")
    return own.fillna(default.astype("string")).astype("string")


_CURRENCY_OK: dict[str, bool] = {}


def _is_currency(code: str) -> bool:
    if code not in _CURRENCY_OK:
        _CURRENCY_OK[code] = len(code) == 3 and code.isalpha() and get_currency_name(code, locale="en") != code
    return _CURRENCY_OK[code]


def _money(t: _Table, col: Column, currency: pd.Series, opts: IngestOptions) -> pd.Series:
    if not t.has(col.name):  # every cell blank: what parse_money gives for a blank cell
        _required(t, col, np.ones(t.n, dtype=bool))
        return pd.Series(pd.arrays.IntegerArray(np.zeros(t.n, dtype=np.int64), np.ones(t.n, dtype=bool)))
    values = t.values(col.name)
    parsed = parse_money(values, currency, decimal=opts.decimal)
    t.fail(col.name, parsed.error.notna().to_numpy(), parsed.error)
    _required(t, col, parsed.blank.to_numpy(dtype=bool))
    return parsed.minor.astype("Int64")


def _customer_lookup(customers: pd.DataFrame | None, ids: pd.Series, column: str) -> pd.Series:
    if customers is None or len(customers) == 0 or column not in customers:
        return pd.Series(pd.NA, index=ids.index, dtype=customers[column].dtype if customers is not None and column in customers else "object")
    first = customers.drop_duplicates("customer_id").set_index("customer_id")[column]
    return ids.map(first)


def _finish(t: _Table, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    base = empty_table(name)
    frame = pd.DataFrame(t.out)
    frame["_sheet"] = pd.Series(t.sheets, dtype="string")
    frame["_row"] = t.raw.rows.astype("int64")
    accepted = frame.loc[~t.bad].reset_index(drop=True) if t.bad.any() else frame
    for col in base.columns:
        if col not in accepted:
            accepted[col] = pd.Series([pd.NA] * len(accepted), dtype=base[col].dtype) \
                if str(base[col].dtype) not in ("bool", "int64", "float64") else \
                pd.Series(np.zeros(len(accepted), dtype=base[col].dtype))
        elif str(base[col].dtype) != str(accepted[col].dtype):
            # invoices.line_no may still be blank here: _number_lines fills it, then makes it int64.
            if not (str(base[col].dtype) == "int64" and accepted[col].isna().any()):
                accepted[col] = accepted[col].astype(base[col].dtype)
    extra = [c for c in accepted.columns if c not in base.columns]
    accepted = accepted[list(base.columns) + extra]
    errors = pd.concat(t.errors, ignore_index=True) if t.errors else empty_quarantine()
    # a formula error cell is reported once, as such, not again by the column's parser
    errors = errors.drop_duplicates(["sheet", "row", "column"], keep="first")
    return accepted, errors


def _build_customers(raw: RawTable, opts: IngestOptions) -> _Table:
    t = _Table(raw)
    for col in TABLES["customers"].columns:
        if col.kind != "money":
            _convert_simple(t, col, opts)
    t.out["language"] = t.out["language"].str.lower().str.slice(0, 2).fillna("en")
    cur = pd.Series(opts.default_currency, index=range(t.n), dtype="string")
    t.out["currency"] = _currency(t, cur)
    t.out["credit_limit"] = _money(t, TABLES["customers"].column("credit_limit"), t.out["currency"], opts)
    terms = t.out["payment_terms_days"]
    t.fail("payment_terms_days", (terms < 0).fillna(False).to_numpy(), "payment terms cannot be negative")
    return t


def _typed_with_currency(name: str, raw: RawTable, customers: pd.DataFrame | None, opts: IngestOptions,
                         skip: tuple[str, ...] = ()) -> _Table:
    """Convert the plain columns, then each row's currency (own, customer's, source default), then money."""
    t = _Table(raw)
    table = TABLES[name]
    for col in table.columns:
        if col.kind != "money" and col.name != "currency" and col.name not in skip:
            _convert_simple(t, col, opts)
    fallback = _customer_lookup(customers, t.out["customer_id"], "currency")
    t.out["currency"] = _currency(t, pd.Series(fallback, dtype="string").fillna(opts.default_currency))
    for col in table.columns:
        if col.kind == "money":
            # invoices: a blank amount may still be computed from quantity and price (_derive_amount)
            col = Column(col.name, "money", False) if name == "invoices" and col.name == "amount" else col
            t.out[col.name] = _money(t, col, t.out["currency"], opts)
    return t


def _build_orders(raw: RawTable, customers: pd.DataFrame | None, opts: IngestOptions) -> _Table:
    return _typed_with_currency("orders", raw, customers, opts)


def _build_payments(raw: RawTable, customers: pd.DataFrame | None, opts: IngestOptions) -> _Table:
    t = _typed_with_currency("payments", raw, customers, opts)
    t.fail("amount", (t.out["amount"] < 0).fillna(False).to_numpy(),
           "is a negative payment (a refund or reversal); enter refunds as a credit note or remove the row")
    return t


def _build_invoices(raw: RawTable, customers: pd.DataFrame | None, opts: IngestOptions) -> _Table:
    t = _typed_with_currency("invoices", raw, customers, opts, skip=("kind",))
    _derive_amount(t)
    _derive_kind(t)
    t.fail("line_no", (t.out["line_no"] < 1).fillna(False).to_numpy(), "line numbers start at 1")
    return t


def _derive_amount(t: _Table) -> None:
    """Blank amount = quantity × unit_price − discount + tax, rounded half-even to minor units."""
    amount = t.out["amount"]
    blank = amount.isna().to_numpy() & ~t.bad
    qty, price = t.out["quantity"], t.out["unit_price"]
    computable = blank & qty.notna().to_numpy() & price.notna().to_numpy()
    if computable.any():
        gross = np.rint(qty.to_numpy(dtype=float, na_value=0.0) * price.to_numpy(dtype=float, na_value=0.0))
        total = (gross.astype(np.int64) - t.out["discount"].fillna(0).to_numpy(dtype=np.int64)
                 + t.out["tax"].fillna(0).to_numpy(dtype=np.int64))
        amount = amount.mask(computable, pd.Series(total, index=amount.index).astype("Int64"))
        t.out["amount"] = amount
    t.fail("amount", blank & ~computable,
           "amount is required: fill it in, or give quantity and unit_price so it can be computed")


_KINDS = ("invoice", "credit_note")


def _derive_kind(t: _Table) -> None:
    """Kind from the sheet (several languages), else by sign; credit notes held negative."""
    import pyarrow as pa
    import pyarrow.compute as pc

    given = _text(t, TABLES["invoices"].column("kind"))
    codes, uniques = pd.factorize(given)  # few distinct words: case-fold and look each up once
    words = pd.Series(uniques, dtype=given.dtype).str.casefold().str.strip()
    looked = [INVOICE_KINDS.get(w, "?") for w in words]
    # Per distinct word: 0 invoice, 1 credit note, -2 not a kind; -1 blank.
    word_kind = np.array([_KINDS.index(k) if k in _KINDS else -2 for k in looked] + [-1], dtype=np.int64)
    kind_code = word_kind[codes]
    t.fail("kind", kind_code == -2, "kind should be 'invoice' or 'credit_note' (or leave it blank)")
    amount = t.out["amount"]
    by_sign = (amount < 0).fillna(False).to_numpy(dtype=bool).astype(np.int64)
    final = np.where(kind_code >= 0, kind_code, by_sign)
    t.out["amount"] = amount.mask(final == 1, -amount.abs())
    kinds = pc.take(pa.array(_KINDS, type=pa.large_string()), pa.array(final))
    t.out["kind"] = pd.Series(pd.arrays.ArrowStringArray(kinds), index=amount.index)


def _number_lines(inv: pd.DataFrame) -> pd.DataFrame:
    """Blank line_no: numbered in sheet order within the invoice, after any numbers it already has."""
    missing = inv["line_no"].isna()
    if missing.any():
        order = inv.assign(_m=missing).sort_values(["_sheet", "_row"])
        start = order.groupby("invoice_no")["line_no"].transform("max").fillna(0)
        seq = order[missing.loc[order.index]].groupby("invoice_no").cumcount() + 1
        inv.loc[seq.index, "line_no"] = (start.loc[seq.index] + seq).astype("Int64")
    inv["line_no"] = inv["line_no"].astype("int64")
    return inv


def _derive_due(inv: pd.DataFrame, customers: pd.DataFrame | None, opts: IngestOptions) -> pd.DataFrame:
    terms = _customer_lookup(customers, inv["customer_id"], "payment_terms_days")
    terms = pd.to_numeric(terms, errors="coerce").fillna(opts.default_terms_days).astype("int64")
    derived = inv["due_date"].isna()
    inv["due_date_derived"] = derived.to_numpy(dtype=bool)
    inv["due_date"] = inv["due_date"].fillna(inv["invoice_date"] + pd.to_timedelta(terms, unit="D"))
    return inv


def _assign_codes(inv: pd.DataFrame) -> pd.DataFrame:
    """Keep users' codes, derive the rest; later repeats get `{code}/{k}` + check so keys stay unique."""
    given = inv["line_code"].notna().to_numpy(dtype=bool)
    if given.all():  # nothing to derive (make_codes works row by row, so only missing rows need it)
        derived = inv["line_code"]
    else:
        missing = ~given
        derived = make_codes(inv["invoice_no"][missing], inv["line_no"][missing])
    inv["line_code_given"] = given
    inv["line_code"] = inv["line_code"].fillna(derived).astype("string")
    inv["line_code_original"] = inv["line_code"]
    key = canonical_series(inv["line_code"])
    if key.notna().all() and all_distinct(key):
        return inv  # no repeats: nothing to rename
    order = np.lexsort((inv["_row"].to_numpy(), inv["_sheet"].astype(str).to_numpy()))
    repeat = pd.Series(0, index=inv.index)
    repeat.iloc[order] = key.iloc[order].groupby(key.iloc[order].to_numpy()).cumcount().to_numpy()
    dup = repeat > 0
    if dup.any():
        stems = inv.loc[dup, "line_code"] + "/" + (repeat[dup] + 1).astype(str)
        inv.loc[dup, "line_code"] = append_check(stems)
    return inv


# An invoice's own columns: blank on its item rows in ERP exports (ERPNext, Odoo), which
# leave them to the invoice's first row.
INVOICE_COLUMNS = ("invoice_no", "customer_id", "invoice_date", "due_date", "currency", "kind",
                   "applies_to", "order_id")


def _carry_down(raw: RawTable) -> tuple[RawTable, SkipNote | None]:
    """Item rows that leave every invoice column blank take them from their invoice's first row.

    An item row: invoice_no blank and every other invoice column it has blank too (a row
    with a customer but no invoice number is an error, not an item row), below a row that has
    an invoice number on the same sheet. Reported once per sheet.
    """
    if "invoice_no" not in raw.columns or not len(raw):
        return raw, None
    no_number = _blank(raw.columns["invoice_no"].reset_index(drop=True))
    if not no_number.any():
        return raw, None  # every row has its invoice number: nothing to carry (the usual case)
    own = [c for c in INVOICE_COLUMNS if c in raw.columns]
    blank = {c: no_number if c == "invoice_no" else _blank(raw.columns[c].reset_index(drop=True))
             for c in own}
    item = np.logical_and.reduce([blank[c] for c in ("invoice_no", "customer_id", "invoice_date")
                                  if c in blank])
    heads = np.flatnonzero(~blank["invoice_no"])
    if not item.any() or not len(heads):
        return raw, None
    group = np.cumsum(~blank["invoice_no"]) - 1  # index into heads; -1 before the first invoice
    sheets = raw.sheets_of_rows()
    head_of = heads[np.maximum(group, 0)]
    item &= (group >= 0) & (sheets == sheets[head_of])
    if not item.any():
        return raw, None
    columns = dict(raw.columns)
    for c in own:
        fill = item & blank[c]
        if fill.any():
            col = raw.columns[c].reset_index(drop=True)
            vals = col.to_numpy(dtype=object, copy=True)
            vals[fill] = vals[head_of[fill]]
            columns[c] = pd.Series(vals, dtype=object, name=col.name)
    rows = raw.rows[item]
    taken = ", ".join(c for c in own if (item & blank[c]).any())
    note = SkipNote(str(sheets[np.flatnonzero(item)[0]]), int(rows[0]), "carry",
                    f"{len(rows)} item row(s) ({rows_text(rows)}) left {taken} blank and took them "
                    f"from their invoice's first row above")
    return replace(raw, columns=columns), note


def _exact_repeats(raw: RawTable) -> SkipNote | None:
    """Invoice rows that repeat an earlier row cell for cell, on a sheet with no line number
    or line code: each is read as a line of its own (numbered after the first), so the total
    counts it twice; reported so a copied row does not go unnoticed. (With line numbers the
    repeat is a DUPLICATE_LINE exception of reconciliation instead.)"""
    if not len(raw) or "line_no" in raw.columns or "line_code" in raw.columns:
        return None
    frame = pd.DataFrame({c: v.reset_index(drop=True) for c, v in raw.columns.items()})
    frame["_sheet"] = raw.sheets_of_rows()
    repeat = frame.duplicated(keep="first").to_numpy()
    if not repeat.any():
        return None
    rows = raw.rows[repeat]
    return SkipNote(str(frame["_sheet"].iloc[int(np.flatnonzero(repeat)[0])]), int(rows[0]), "repeat",
                    f"{len(rows)} row(s) ({rows_text(rows)}) repeat an earlier row cell for cell; each is "
                    f"read as one more line of its invoice: delete the copies if they are not real lines")


def _derive_payment_columns(raw: RawTable, invoices: pd.DataFrame | None) -> tuple[RawTable, list[SkipNote]]:
    """A payments sheet without an id column gets ids from its rows ("payments row 5"); one
    without a customer column takes the customer of the invoice each payment names."""
    columns = dict(raw.columns)
    notes = []
    sheets = raw.sheets_of_rows()
    if "payment_id" not in columns:
        ids = pd.Series(sheets.astype(str), dtype="string") + " row " + pd.Series(raw.rows).astype(str)
        columns["payment_id"] = ids.astype(object).rename("payment_id")
        notes.append(SkipNote(raw.sheet, raw.header_row, "derived",
                              f"payments have no id column: each payment is named after its sheet row "
                              f"(e.g. '{ids.iloc[0]}')" if len(ids) else "payments have no id column"))
    if "customer_id" not in columns and "invoice_no" in columns:
        lookup = {} if invoices is None else (
            invoices.drop_duplicates("invoice_no").set_index("invoice_no")["customer_id"].to_dict())
        names = cells_as_text(columns["invoice_no"].reset_index(drop=True)).str.strip()
        columns["customer_id"] = names.map(lookup).astype(object).rename("customer_id")
        notes.append(SkipNote(raw.sheet, raw.header_row, "derived",
                              "payments have no customer column: each takes the customer of the "
                              "invoice it names"))
    return replace(raw, columns=columns), notes


_CANONICAL_ORDER = ["invoice_no", "line_no", "_sheet", "_row"]


def _canonical_order(inv: pd.DataFrame) -> pd.DataFrame:
    """Invoices sorted (stably) by invoice_no, line_no, _sheet, _row; a sheet already in that order is kept as is.

    Exports usually come sorted by invoice: checking that each row's key is >= the previous
    one (Arrow comparisons of the shifted columns) costs far less than sorting a million rows
    and reordering every column.
    """
    if len(inv) < 2 or inv[_CANONICAL_ORDER].isna().any().any():
        return inv.sort_values(_CANONICAL_ORDER, kind="stable").reset_index(drop=True)
    keys = [_arrow_key(inv[k]) for k in _CANONICAL_ORDER]
    if _sorted_by(keys):
        return inv.reset_index(drop=True)
    import pyarrow as pa
    import pyarrow.compute as pc

    # Arrow's multi-key sort is stable, like sort_values(kind="stable"), and compares strings by code point.
    order = pc.sort_indices(pa.table(dict(zip(_CANONICAL_ORDER, keys))),
                            sort_keys=[(k, "ascending") for k in _CANONICAL_ORDER])
    return inv.take(np.asarray(order)).reset_index(drop=True)


def _arrow_key(values: pd.Series):
    import pyarrow as pa

    arr = pa.array(values.to_numpy() if values.dtype.kind in "iub" else values)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _sorted_by(keys: list) -> bool:
    """Whether consecutive rows never go down in the lexicographic order of the key arrays (no missing values)."""
    import pyarrow.compute as pc

    undecided = np.ones(len(keys[0]) - 1, dtype=bool)  # rows whose key so far equals the previous row's
    for arr in keys:
        prev, cur = arr.slice(0, len(arr) - 1), arr.slice(1)
        if (np.asarray(pc.less(cur, prev), dtype=bool) & undecided).any():
            return False
        undecided &= np.asarray(pc.equal(cur, prev), dtype=bool)
        if not undecided.any():
            return True
    return True


def _unique_ids(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Repeated ids (by sheet row) get `/k`: both rows are kept and reported, never merged."""
    if all_distinct(frame[column]):
        return frame  # no repeated ids (missing ids never count as repeats)
    order = frame.sort_values(["_sheet", "_row"])
    k = order.groupby(order[column].to_numpy()).cumcount()
    dup = k[k > 0]
    if len(dup):
        frame.loc[dup.index, column + "_original"] = frame.loc[dup.index, column]
        frame.loc[dup.index, column] = frame.loc[dup.index, column] + "/" + (dup + 1).astype(str)
    return frame


def _check_totals(tables: dict[str, pd.DataFrame]) -> None:
    """Every total the engine forms is a sum of these amounts: refuse data whose sums could wrap int64."""
    amounts = [tables[name][column] for name, column in
               (("invoices", "amount"), ("payments", "amount"), ("orders", "unit_price"))
               if name in tables and column in tables[name]]
    if not totals_fit(*amounts):
        raise SchemaError("The amounts add up to more than Linewise can total exactly (about 46 million "
                          "billion in minor units). Split the data, e.g. one file per company or year.")


def build_dataset(raw: RawWorkbook | TablesFound, options: IngestOptions = IngestOptions()) -> Dataset:
    """Normalise a whole source. Raises SchemaError when a required table/column is missing."""
    found = raw if isinstance(raw, TablesFound) else locate_tables(raw, mapping=options.mapping)
    if found.missing:
        raise SchemaError("\n".join(found.missing.values()))
    inv_raw = found.tables["invoices"]
    if not len(inv_raw):
        raise SchemaError(f"Sheet '{inv_raw.sheet}' (invoices) has no data rows below its header "
                          f"(row {inv_raw.header_row}): there is nothing to load")
    source = raw.source if isinstance(raw, RawWorkbook) else ""
    tables: dict[str, pd.DataFrame] = {}
    errors: list[pd.DataFrame] = []
    counts: dict[str, TableCount] = {}
    notes = list(found.notes)

    def take(name: str, t: _Table) -> pd.DataFrame:
        accepted, errs = _finish(t, name)
        counts[name] = TableCount(t.n, len(accepted), int(t.bad.sum()))
        errors.append(errs)
        return accepted

    customers = None
    if "customers" in found.tables:
        customers = take("customers", _build_customers(found.tables["customers"], options))
        customers = _unique_ids(customers, "customer_id")
        customers = customers.drop(columns=["customer_id_original"], errors="ignore")
        tables["customers"] = customers
    if "orders" in found.tables:
        tables["orders"] = take("orders", _build_orders(found.tables["orders"], customers, options))
    inv_raw, carried = _carry_down(inv_raw)
    notes += [n for n in (carried, _exact_repeats(inv_raw)) if n is not None]
    if "amount" not in inv_raw.columns:
        notes.append(SkipNote(inv_raw.sheet, inv_raw.header_row, "derived",
                              "invoices have no amount column: each line's amount is quantity × "
                              "unit_price − discount + tax"))
    tables["invoices"] = take("invoices", _build_invoices(inv_raw, customers, options))
    if "payments" in found.tables:
        pay_raw, derived = _derive_payment_columns(found.tables["payments"], tables["invoices"])
        notes += derived
        tables["payments"] = take("payments", _build_payments(pay_raw, customers, options))
    else:
        notes.append(SkipNote("", 0, "table", "no payments table: nothing is paid, every invoice "
                                              "line is open"))
    if "fx_rates" in found.tables:
        t = _Table(found.tables["fx_rates"])
        for col in TABLES["fx_rates"].columns:
            _convert_simple(t, col, options)
        t.out["currency"] = t.out["currency"].str.upper()
        t.fail("rate", (t.out["rate"] <= 0).fillna(False).to_numpy(), "an exchange rate must be above zero")
        tables["fx_rates"] = take("fx_rates", t)

    _check_totals(tables)
    inv = tables["invoices"]
    inv = _assign_codes(_derive_due(_number_lines(inv), customers, options))
    # Canonical order (the engine's): results never depend on the sheet's row order.
    tables["invoices"] = _canonical_order(inv)
    for name in TABLE_ORDER:
        if name not in tables:
            tables[name] = empty_table(name)
            counts[name] = TableCount(0, 0, 0)
    pay = _unique_ids(tables["payments"], "payment_id")
    tables["payments"] = pay.drop(columns=["payment_id_original"], errors="ignore")
    quarantine = pd.concat([e for e in errors if len(e)], ignore_index=True) if any(len(e) for e in errors) \
        else empty_quarantine()
    quarantine = quarantine.astype({"table": "string", "sheet": "string", "row": "int64", "column": "string",
                                    "value": "string", "message": "string"})
    quarantine = quarantine.sort_values(["table", "sheet", "row", "column"], kind="stable").reset_index(drop=True)
    sheet_map = {name: rt.sheet for name, rt in found.tables.items()}
    return Dataset(source=source, tables=tables, quarantine=quarantine, counts=counts,
                   notes=notes, sheet_map=sheet_map)
