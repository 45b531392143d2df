"""Customers as people see them: the one label of a customer, and which customers a filter keeps."""
from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

LABEL_SEPARATOR = " · "


def customer_names(customers: pd.DataFrame) -> pd.Series:
    """customer_id -> name (empty when the data has no customers table)."""
    if not len(customers) or "name" not in customers:
        return pd.Series(dtype="string")
    return customers.drop_duplicates("customer_id").set_index("customer_id")["name"]


DETAIL_COLUMNS = ("name", "segment", "owner")


def with_customer_details(frame: pd.DataFrame, customers: pd.DataFrame,
                          columns: tuple[str, ...] = DETAIL_COLUMNS) -> pd.DataFrame:
    """`frame` (with a customer_id column) with the customers table's `columns` right after
    customer_id; ``<NA>`` for a customer the table lacks or a column it does not have."""
    first = customers.drop_duplicates("customer_id") if len(customers) else customers
    details = pd.DataFrame({c: (first[c] if c in first else pd.Series(pd.NA, index=first.index, dtype="string"))
                            .astype("string") for c in columns})
    details.index = first["customer_id"].astype("string") if "customer_id" in first else details.index
    looked_up = details.reindex(frame["customer_id"].astype("string").to_numpy())
    out = frame.drop(columns=[c for c in columns if c in frame.columns]).reset_index(drop=True)
    at = list(out.columns).index("customer_id") + 1
    for i, c in enumerate(columns):
        out.insert(at + i, c, looked_up[c].array)
    return out


def customer_label(ids: pd.Series, customers: pd.DataFrame) -> pd.Series:
    """The label of each customer id: "id · name", or the id alone when there is no name."""
    ids = ids.astype("string")
    names = ids.map(customer_names(customers)).astype("string").fillna("").str.strip()
    return ids.where(names == "", ids + LABEL_SEPARATOR + names)


def customer_labels(customers: pd.DataFrame, invoices: pd.DataFrame) -> list[str]:
    """Every customer's label, for pickers: the customers table's, else the ids on the invoices."""
    ids = customers["customer_id"] if len(customers) else invoices["customer_id"]
    ids = pd.Series(sorted(ids.dropna().astype(str).unique()), dtype="string")
    return customer_label(ids, customers).tolist()


def label_id(label: str) -> str:
    """The customer id a label (`customer_label`) stands for."""
    return str(label).split(LABEL_SEPARATOR, 1)[0]


def selected_customers(customers: pd.DataFrame, chosen: Iterable[str] = (), segments: Iterable[str] = (),
                       owners: Iterable[str] = ()) -> set[str] | None:
    """Customer ids kept by the filters (ids or labels in `chosen`, segments, owners; all must hold),
    or None when nothing is filtered."""
    keep: set[str] | None = None
    for wanted, column in ((list(segments), "segment"), (list(owners), "owner")):
        if wanted:
            ids = set(customers.loc[customers[column].isin(wanted), "customer_id"].astype(str)) \
                if column in customers else set()
            keep = ids if keep is None else keep & ids
    chosen = [label_id(c) for c in chosen]
    if chosen:
        keep = set(chosen) if keep is None else keep & set(chosen)
    return keep


ADDRESS_PARTS = ("address", "address_2", "postcode", "city", "region", "country")


def customer_address(customers: pd.DataFrame) -> pd.Series:
    """The postal address of each customer row as one multi-line string (``<NA>`` when it has none).

    Lines: the street (``address``, which may itself hold several lines), ``address_2``, the town
    line, ``country``. The town line is "postcode city" ("1051 Budapest", "75002 Paris"); with a
    region it is "city, region postcode" as North American and Australian addresses are written
    ("Springfield, IL 62704"). Missing parts leave no blank line.
    """
    def part(name: str) -> pd.Series:
        if name not in customers:
            return pd.Series("", index=customers.index, dtype="string")
        return customers[name].astype("string").fillna("").str.strip()

    street, street_2, postcode, city, region, country = (part(n) for n in ADDRESS_PARTS)
    european = _joined([postcode, city], " ")
    with_region = _joined([_joined([city, region], ", "), postcode], " ")
    town = european.where(region == "", with_region)
    lines = [street.str.replace(r"\s*\n\s*", "\n", regex=True), street_2, town, country]
    text = _joined(lines, "\n")
    return text.mask(text == "")


def _joined(parts: list[pd.Series], sep: str) -> pd.Series:
    """Element-wise join of string Series, skipping empty parts (no doubled or dangling separators)."""
    out = parts[0]
    for p in parts[1:]:
        out = (out + sep + p).where((out != "") & (p != ""), out + p)
    return out
