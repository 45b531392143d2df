"""Bank CSV exports (SPEC §17, §2, §13): the header row and columns are found by the same
matching as a workbook's tables (`billing.tabular.find_columns` on the "bank" table of
`billing.schema`), a recognised export (`billing.layouts`: Sparkasse CSV-CAMT, Erste Bank
Hungary) pins its columns, and a mapping the user chose for the layout is applied first.

Amounts are signed (money out negative) unless a debit/credit column says which way the money
went. A cell that cannot be read refuses the file with the row, the column and the value: bank
money is never dropped silently.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from billing.bankstmt import Statement, StatementError, entries_frame, balances_frame
from billing.dates import parse_dates
from billing.layouts import recognise, resolve_columns
from billing.model import RawSheet
from billing.tabular import ColumnsFound, find_columns

# What a debit/credit column's words mean (lower case).
CREDIT_WORDS = frozenset({"c", "cr", "credit", "h", "haben", "inflow", "bevétel", "jóváírás", "in", "贷"})
DEBIT_WORDS = frozenset({"d", "dr", "debit", "s", "soll", "outflow", "kiadás", "terhelés", "out", "借"})
PENDING_WORDS = ("vorgemerkt", "pending", "függő", "reserved", "nicht gebucht")


def header_texts(sheet: RawSheet, header_row: int) -> list[str]:
    row = sheet.cells.iloc[header_row - sheet.first_row]
    return [str(v).strip() for v in row if isinstance(v, str) and v.strip()]


def locate(sheet: RawSheet, mapping: dict[str, str] | None = None) -> tuple[ColumnsFound, str | None]:
    """The bank columns of `sheet` and the recognised layout's name (None when not one we know).
    `mapping` ({canonical: header text}) is the user's and wins over the layout's."""
    found = find_columns(sheet, "bank", mapping)
    if found is None:
        raise StatementError(f"No header row with bank columns found in '{sheet.name}': expected columns "
                             "like 'Booking date', 'Amount', 'Remittance' (Buchungstag, Betrag, "
                             "Verwendungszweck; Tranzakció dátuma, Összeg, Közlemény).")
    layout = recognise(header_texts(sheet, found.header_row), "bank")
    if layout is None:
        return found, None
    chosen, skip = resolve_columns(layout.columns, header_texts(sheet, found.header_row))
    pinned = find_columns(sheet, "bank", {**chosen, **(mapping or {})})
    if pinned is None:
        return found, layout.name
    cols = {k: v for k, v in pinned.columns.items() if k not in skip or k in (mapping or {})}
    return ColumnsFound(pinned.header_row, cols, {k: pinned.headers[k] for k in cols}, pinned.ambiguous), layout.name


def read_bank_csv(sheet: RawSheet, mapping: dict[str, str] | None = None) -> Statement:
    """The rows of a bank CSV sheet (as `connectors.sources.read_source` reads it) as entries."""
    found, layout = locate(sheet, mapping)
    missing = [c for c in ("booking_date", "amount") if c not in found.columns]
    if missing:
        raise StatementError(f"'{sheet.name}' has no column for {', '.join(missing)} (found: "
                             f"{', '.join(found.headers.values())}); choose the columns by hand.")
    body = sheet.cells.iloc[found.header_row - sheet.first_row + 1:]
    body = body[~body.apply(lambda col: col.astype("string").str.strip().fillna("").eq("")).all(axis=1)]
    rows = pd.Series(body.index + sheet.first_row, index=body.index)

    def col(name: str) -> pd.Series:
        label = found.columns.get(name)
        return body[label].astype("string").str.strip() if label is not None else \
            pd.Series(pd.NA, index=body.index, dtype="string")

    dates = {c: _dates(sheet, found, c, col(c), rows) for c in ("booking_date", "value_date")}
    records = {c: col(c).tolist() for c in ("account", "currency", "payer_name", "payer_iban", "remittance",
                                            "end_to_end_id", "entry_ref", "bank_text")}
    records.update(entry=[f"row {r}" for r in rows], amount=_amount_text(col("amount"), col("direction")).tolist(),
                   direction=_directions(col("direction")).tolist(), status=_status(col("status")).tolist(),
                   statement=[sheet.name] * len(body), **{c: d.tolist() for c, d in dates.items()})
    entries = entries_frame(records, None, sheet.name)
    warnings = [f"Recognised: {layout}."] if layout else []
    return Statement(source=sheet.name, format=f"bank CSV ({layout})" if layout else "bank CSV",
                     entries=entries, balances=balances_frame([]), warnings=warnings)


def _dates(sheet: RawSheet, found: ColumnsFound, name: str, values: pd.Series, rows: pd.Series) -> pd.Series:
    """ISO date texts; refuses the file on the first cell that is no date."""
    cleaned = values.str.rstrip(".")  # Hungarian "2019.04.19."
    parsed = parse_dates(cleaned)
    bad = parsed.error.notna() | (parsed.blank & (name == "booking_date"))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise StatementError(f"'{sheet.name}' row {rows.iloc[i]}, column '{found.headers.get(name, name)}': "
                             f"{values.iloc[i]!r} is not a date; correct the cell or choose another column.")
    return parsed.dates.dt.strftime("%Y-%m-%d").astype("object").where(parsed.dates.notna(), None)


def _directions(values: pd.Series) -> pd.Series:
    words = values.str.lower()
    return pd.Series(np.where(words.isin(CREDIT_WORDS), "credit", np.where(words.isin(DEBIT_WORDS), "debit", None)),
                     index=values.index, dtype="object")


def _amount_text(amount: pd.Series, direction: pd.Series) -> pd.Series:
    """Amounts as signed texts: a debit marked in the direction column is money out whatever
    the sign of its amount."""
    debit = _directions(direction).eq("debit").to_numpy()
    bare = amount.str.lstrip("+-").str.strip()
    return amount.where(~debit, "-" + bare)


def _status(values: pd.Series) -> pd.Series:
    pending = values.str.lower().str.contains("|".join(PENDING_WORDS), regex=True).fillna(False)
    return pd.Series(np.where(pending, "pending", "booked"), index=values.index, dtype="object")
