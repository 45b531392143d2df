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
