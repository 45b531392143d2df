"""Three-way reconciliation (SPEC §6): one test per exception type, with hand-computed amounts."""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.linecode import append_check, make_code
from billing.model import AllocationResult, empty_table
from billing.policy import Policy
from billing.reconcile import (
    BILLING_DUE_COLUMNS,
    EXCEPTION_COLUMNS,
    EXCEPTION_TYPES,
    billing_blocked,
    billing_due,
    billing_lists,
    find_exceptions,
    qty_times_price,
)
from tests.factories import make_customers, make_invoices, make_orders, make_payments
from tests.budget import examples

AS_OF = pd.Timestamp("2024-03-31")

# ---------------------------------------------------------------- helpers

_ALLOC_COLUMNS = {
    "allocations": {"payment_id": "string", "payment_date": "datetime64[ns]", "customer_id": "string",
                    "currency": "string", "line_code": "string", "amount": "int64", "step": "string"},
    "unapplied": {"payment_id": "string", "payment_date": "datetime64[ns]", "customer_id": "string",
                  "currency": "string", "amount": "int64"},
    "effective_payments": {"payment_id": "string", "payment_date": "datetime64[ns]",
                           "customer_id": "string", "currency": "string", "amount": "int64",
                           "source": "string", "invoice_no": "string", "line_code": "string",
                           "reference": "string"},
    "reference_issues": {"payment_id": "string", "customer_id": "string", "token": "string",
                         "problem": "string", "suggestion": "string"},
    "currency_mismatches": {"payment_id": "string", "customer_id": "string",
                            "payment_currency": "string", "line_code": "string",
                            "line_currency": "string", "amount": "int64"},
    "line_allocated": {"line_code": "string", "allocated": "int64",
                       "last_payment_date": "datetime64[ns]"},
}


def _frame(name: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    cols = _ALLOC_COLUMNS[name]
    data = {c: pd.Series([r.get(c) for r in rows], dtype=object) for c in cols}
    out = {}
    for c, dtype in cols.items():
        if dtype.startswith("datetime"):
            out[c] = pd.to_datetime(data[c]).astype(dtype)
        else:
            out[c] = data[c].astype(dtype)
    return pd.DataFrame(out)


def make_alloc(**frames: list[dict[str, Any]]) -> AllocationResult:
    """An AllocationResult built by hand, every frame with the DESIGN.md columns."""
    return AllocationResult(**{name: _frame(name, frames.get(name, [])) for name in _ALLOC_COLUMNS})


def tables(invoices=None, orders=None, payments=None, customers=None) -> dict[str, pd.DataFrame]:
    return {
        "invoices": invoices if invoices is not None else empty_table("invoices"),
        "orders": orders if orders is not None else empty_table("orders"),
        "payments": payments if payments is not None else empty_table("payments"),
        "customers": customers if customers is not None else empty_table("customers"),
    }


def run(policy: Policy = Policy(), alloc: AllocationResult | None = None, **tbl) -> pd.DataFrame:
    return find_exceptions(tables(**tbl), alloc or make_alloc(), AS_OF, policy)


def of(ex: pd.DataFrame, kind: str) -> pd.DataFrame:
    return ex.loc[ex["type"] == kind].reset_index(drop=True)


def order(**kw) -> dict[str, Any]:
    row = dict(order_id="SO-1", order_line="1", customer_id="C1", quantity=10.0, unit_price=1000,
               delivery_date="2024-03-01", sku="WIDGET")
    row.update(kw)
    return row


def line(**kw) -> dict[str, Any]:
    row = dict(invoice_no="INV-1", customer_id="C1", invoice_date="2024-03-05", order_id="SO-1",
               order_line="1", quantity=10.0, unit_price=1000, amount=10000)
    row.update(kw)
    return row


# ---------------------------------------------------------------- contract

def test_every_type_has_a_severity_and_description():
    assert len(EXCEPTION_TYPES) == 14
    assert {v["severity"] for v in EXCEPTION_TYPES.values()} == {"high", "medium", "low", "info"}
    assert all(v["description"] for v in EXCEPTION_TYPES.values())


def test_clean_data_gives_an_empty_frame_with_the_columns():
    ex = run(orders=make_orders([order()]), invoices=make_invoices([line()]),
             customers=make_customers([{"customer_id": "C1"}]))
    assert ex.empty
    assert list(ex.columns) == EXCEPTION_COLUMNS
    assert ex["amount"].dtype == "int64"


# ---------------------------------------------------------------- one test per type

def test_unbilled_delivered_line_reports_missing_quantity_times_price():
    orders = make_orders([order(quantity=10.0, delivered_qty=8.0, unit_price=1250)])
    invoices = make_invoices([line(quantity=3.0, unit_price=1250, amount=3750)])
    ex = of(run(orders=orders, invoices=invoices), "UNBILLED")
    assert len(ex) == 1
    row = ex.iloc[0]
    assert row["amount"] == 5 * 1250  # delivered 8, billed 3
    assert row["severity"] == "medium" and row["currency"] == "USD" and row["customer_id"] == "C1"
    assert row["refs"] == {"order_lines": ["SO-1/1"], "line_codes": [make_code("INV-1", 1)],
                           "invoice_nos": ["INV-1"]}
    assert "62.50 USD" in row["message"] and row["action"] == "Issue an invoice for the missing quantity"


def test_unbilled_uses_ordered_quantity_without_delivered_qty_and_credit_notes_reduce_billed():
    orders = make_orders([order(quantity=4.0, unit_price=999)])
    invoices = make_invoices([
        line(quantity=4.0, unit_price=999, amount=3996),
        line(invoice_no="CN-1", quantity=1.0, unit_price=999, amount=-999, kind="credit_note"),
    ])
    ex = of(run(orders=orders, invoices=invoices), "UNBILLED")
    assert ex["amount"].tolist() == [999]  # billed 4 − 1 credited = 3 of 4


def test_unbilled_fractional_quantities_round_half_even():
    orders = make_orders([
        order(order_line="1", quantity=2.5, unit_price=101),   # 252.5 -> 252
        order(order_line="2", quantity=3.5, unit_price=101),   # 353.5 -> 354
        order(order_line="3", quantity=0.3, unit_price=1000),  # billed 0.1: 0.2 × 1000 = 200
    ])
    invoices = make_invoices([line(order_line="3", quantity=0.1, unit_price=1000, amount=100)])
    ex = of(run(orders=orders, invoices=invoices), "UNBILLED")
    assert sorted(ex["amount"].tolist()) == [200, 252, 354]


def test_unbilled_skips_undelivered_lines_and_ignores_invoices_after_as_of():
    orders = make_orders([
        order(order_line="1", delivery_date="2024-04-02"),  # delivered after as_of
        order(order_line="2", delivery_date=None),  # not delivered
        order(order_line="3", quantity=2.0, unit_price=500),
    ])
    invoices = make_invoices([line(order_line="3", quantity=2.0, unit_price=500, amount=1000,
                                   invoice_date="2024-04-01")])
    ex = of(run(orders=orders, invoices=invoices), "UNBILLED")
    assert ex["refs"].tolist() == [{"order_lines": ["SO-1/3"]}]
    assert ex["amount"].tolist() == [1000]


def test_billing_blocked_is_info_with_reason_and_not_unbilled():
    orders = make_orders([order(quantity=3.0, unit_price=2000, billing_block="Awaiting PO")])
    ex = run(orders=orders)
    assert ex["type"].tolist() == ["BILLING_BLOCKED"]
    row = ex.iloc[0]
    assert row["severity"] == "info" and row["amount"] == 6000
    assert "Awaiting PO" in row["message"]


def test_overbilled_qty_one_line_over_the_order_quantity():
    orders = make_orders([order(quantity=10.0, unit_price=300)])
    invoices = make_invoices([line(quantity=12.0, unit_price=300, amount=3600)])
    ex = run(orders=orders, invoices=invoices)
    assert ex["type"].tolist() == ["OVERBILLED_QTY"]
    assert ex["amount"].tolist() == [2 * 300] and ex["severity"].tolist() == ["high"]


def test_duplicate_line_when_an_order_line_is_billed_twice_over_its_quantity():
    orders = make_orders([order(quantity=10.0, unit_price=300)])
    invoices = make_invoices([line(invoice_no="INV-1", quantity=10.0, unit_price=300, amount=3000),
                              line(invoice_no="INV-2", quantity=10.0, unit_price=300, amount=3000)])
    ex = run(orders=orders, invoices=invoices)
    assert ex["type"].tolist() == ["DUPLICATE_LINE"]  # not also OVERBILLED_QTY
    row = ex.iloc[0]
    assert row["amount"] == 3000
    assert row["refs"]["invoice_nos"] == ["INV-1", "INV-2"]
    assert row["refs"]["order_lines"] == ["SO-1/1"]


def test_two_partial_invoices_within_the_order_quantity_are_fine():
    orders = make_orders([order(quantity=10.0, unit_price=300)])
    invoices = make_invoices([line(invoice_no="INV-1", quantity=4.0, unit_price=300, amount=1200),
                              line(invoice_no="INV-2", quantity=6.0, unit_price=300, amount=1800)])
    assert run(orders=orders, invoices=invoices).empty


def _as_ingested(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Invoices as ingest leaves them: repeated codes suffixed `/k` + check, original kept."""
    inv = make_invoices(rows)
    original = inv["line_code"].copy()
    k = inv.groupby(original.to_numpy()).cumcount()
    dup = k > 0
    stems = inv.loc[dup, "line_code"] + "/" + (k[dup] + 1).astype(str)
    inv.loc[dup, "line_code"] = append_check(stems)
    inv["line_code_original"] = original
    return inv


def test_duplicate_line_same_invoice_line_twice_counts_once_in_billed_qty():
    orders = make_orders([order(quantity=10.0, unit_price=300)])
    invoices = _as_ingested([line(quantity=10.0, unit_price=300, amount=3000),
                             line(quantity=10.0, unit_price=300, amount=3000)])
    ex = run(orders=orders, invoices=invoices)
    assert ex["type"].tolist() == ["DUPLICATE_LINE"]  # no overbilling from the repeated row
    row = ex.iloc[0]
    assert row["amount"] == 3000
    assert row["refs"] == {"line_codes": sorted(invoices["line_code"]), "invoice_nos": ["INV-1"]}
    assert "appears 2 times" in row["message"]


def test_duplicate_line_code_user_code_reused_on_another_line():
    invoices = _as_ingested([
        dict(invoice_no="INV-1", customer_id="C1", invoice_date="2024-03-01", amount=1000,
             line_code="ACME-001"),
        dict(invoice_no="INV-2", customer_id="C1", invoice_date="2024-03-02", amount=2500,
             line_code="ACME-001"),
    ])
    ex = run(invoices=invoices)
    assert ex["type"].tolist() == ["DUPLICATE_LINE_CODE"]
    row = ex.iloc[0]
    assert row["amount"] == 2500 and row["severity"] == "high"
    assert row["refs"]["line_codes"] == sorted(invoices["line_code"])
    assert row["refs"]["invoice_nos"] == ["INV-1", "INV-2"]


def test_price_mismatch_exactly_at_tolerance_is_fine_one_cent_over_is_not():
    orders = make_orders([order(order_line="1", unit_price=10000, quantity=3.0),
                          order(order_line="2", unit_price=10000, quantity=3.0)])
    invoices = make_invoices([  # 0.5 % of 100.00 = 0.50
        line(line_no=1, order_line="1", quantity=3.0, unit_price=10050, amount=30150),
        line(line_no=2, order_line="2", quantity=3.0, unit_price=10051, amount=30153),
    ])
    ex = run(orders=orders, invoices=invoices)
    assert ex["type"].tolist() == ["PRICE_MISMATCH"]
    row = ex.iloc[0]
    assert row["amount"] == 51 * 3
    assert row["refs"] == {"line_codes": [make_code("INV-1", 2)], "order_lines": ["SO-1/2"],
                           "invoice_nos": ["INV-1"]}
    assert "100.51 USD" in row["message"] and "100.00 USD" in row["message"]


def test_price_mismatch_below_order_price_and_custom_tolerance():
    orders = make_orders([order(unit_price=2000, quantity=2.0)])
    invoices = make_invoices([line(quantity=2.0, unit_price=1960, amount=3920)])  # −2 %
    assert of(run(orders=orders, invoices=invoices), "PRICE_MISMATCH")["amount"].tolist() == [80]
    assert run(Policy(price_tolerance_pct=2.0), orders=orders, invoices=invoices).empty


def test_line_total_off_by_one_minor_unit_is_fine_two_is_not():
    # 3 × 19.99 − 5.00 + 11.00 = 65.97
    base = dict(invoice_no="INV-7", customer_id="C1", invoice_date="2024-03-01", order_id=None,
                order_line=None, quantity=3.0, unit_price=1999, discount=500, tax=1100)
    invoices = make_invoices([{**base, "line_no": 1, "amount": 6598},
                              {**base, "line_no": 2, "amount": 6599},
                              {**base, "line_no": 3, "amount": 6597}])
    ex = run(invoices=invoices)
    assert ex["type"].tolist() == ["LINE_TOTAL_MISMATCH"]
    assert ex["amount"].tolist() == [2]
    assert ex["refs"].tolist() == [{"line_codes": [make_code("INV-7", 2)], "invoice_nos": ["INV-7"]}]
    assert "65.97 USD" in ex["message"].iloc[0]


def test_line_total_skipped_without_quantity_or_price_and_credit_notes_in_magnitudes():
    invoices = make_invoices([
        dict(invoice_no="INV-1", customer_id="C1", invoice_date="2024-03-01", amount=777),
        dict(invoice_no="CN-1", customer_id="C1", invoice_date="2024-03-01", amount=-2000,
             quantity=2.0, unit_price=1000, kind="credit_note"),
    ])
    assert run(invoices=invoices).empty


def test_billed_before_delivery_and_billed_with_no_delivery_yet():
    orders = make_orders([order(order_line="1", delivery_date="2024-03-10", quantity=1.0, unit_price=700),
                          order(order_line="2", delivery_date=None, quantity=1.0, unit_price=800)])
    invoices = make_invoices([
        line(line_no=1, order_line="1", invoice_date="2024-03-09", quantity=1.0, unit_price=700, amount=700),
        line(line_no=2, order_line="2", invoice_date="2024-03-09", quantity=1.0, unit_price=800, amount=800),
    ])
    ex = run(orders=orders, invoices=invoices)
    assert ex["type"].tolist() == ["BILLED_BEFORE_DELIVERY"] * 2
    assert sorted(ex["amount"].tolist()) == [700, 800]
    assert any("not delivered as of 2024-03-31" in m for m in ex["message"])


def test_billed_on_the_delivery_date_is_fine_and_orders_without_delivery_data_are_not_flagged():
    orders = make_orders([order(delivery_date="2024-03-05", quantity=10.0)])
    assert run(orders=orders, invoices=make_invoices([line()])).empty
    no_delivery_data = make_orders([order(delivery_date=None, quantity=10.0)])
    assert run(orders=no_delivery_data, invoices=make_invoices([line()])).empty


def test_orphan_invoice_line_names_an_order_line_that_does_not_exist():
    orders = make_orders([order(quantity=10.0)])
    invoices = make_invoices([line(line_no=1, order_line="1"),
                              line(line_no=2, order_line="2", quantity=1.0, unit_price=4200, amount=4200),
                              line(line_no=3, order_id="SO-404", order_line=None, quantity=1.0,
                                   unit_price=100, amount=100)])
    ex = run(orders=orders, invoices=invoices)
    assert ex["type"].tolist() == ["ORPHAN_INVOICE_LINE"] * 2
    assert ex["amount"].tolist() == [4200, 100]
    assert [r["order_lines"] for r in ex["refs"]] == [["SO-1/2"], ["SO-404"]]


def test_order_line_keys_match_ignoring_leading_zeros():
    orders = make_orders([order(order_line="001", quantity=2.0, unit_price=500)])
    invoices = make_invoices([line(order_line="1", quantity=2.0, unit_price=500, amount=1000)])
    assert run(orders=orders, invoices=invoices).empty
    # an order reference without a line is the order's only line
    invoices = make_invoices([line(order_line=None, quantity=2.0, unit_price=500, amount=1000)])
    assert run(orders=orders, invoices=invoices).empty


def test_bad_reference_from_allocation_with_suggestion_in_the_action():
    payments = make_payments([dict(payment_id="P1", customer_id="C1", payment_date="2024-03-10",
                                   amount=5000, reference="INV-1-001X")])
    invoices = make_invoices([dict(invoice_no="INV-1", customer_id="C1", invoice_date="2024-03-01",
                                   amount=5000)])
    alloc = make_alloc(
        reference_issues=[dict(payment_id="P1", customer_id="C1", token="INV-1-001X",
                               problem="bad_check", suggestion="INV-1"),
                          dict(payment_id="P1", customer_id="C1", token="INV-9",
                               problem="unknown_invoice", suggestion=None)],
        effective_payments=[dict(payment_id="P1", payment_date="2024-03-10", customer_id="C1",
                                 currency="USD", amount=5000, source="payment")])
    ex = run(alloc=alloc, invoices=invoices, payments=payments)
    assert ex["type"].tolist() == ["BAD_REFERENCE"] * 2
    assert ex["amount"].tolist() == [5000, 5000]
    assert ex["refs"].tolist() == [{"payment_ids": ["P1"]}] * 2
    actions = set(ex["action"])
    assert "Ask the customer to confirm the reference; suggested invoice INV-1" in actions
    assert "Ask the customer to confirm the reference" in actions
    assert any("fails its check character" in m for m in ex["message"])


def test_credit_note_reference_and_unapplied_credit_are_named_by_its_line_code():
    alloc = make_alloc(
        reference_issues=[dict(payment_id="CN-1-001Z", customer_id="C3", token="INV-9",
                               problem="unknown_invoice")],
        unapplied=[dict(payment_id="CN-1-001Z", payment_date="2024-03-02", customer_id="C3",
                        currency="USD", amount=700)],
        effective_payments=[dict(payment_id="CN-1-001Z", payment_date="2024-03-02", customer_id="C3",
                                 currency="USD", amount=700, source="credit_note", invoice_no="INV-9")])
    ex = run(alloc=alloc)
    assert ex[["type", "amount"]].values.tolist() == [["BAD_REFERENCE", 700], ["UNAPPLIED_CASH", 700]]
    assert ex["refs"].tolist() == [{"line_codes": ["CN-1-001Z"]}] * 2
    assert ex["message"].str.startswith("Credit note line CN-1-001Z").all()


def test_unknown_customer_for_invoices_and_payments():
    customers = make_customers([{"customer_id": "C1"}])
    invoices = make_invoices([
        dict(invoice_no="INV-1", customer_id="C1", invoice_date="2024-03-01", amount=100),
        dict(invoice_no="INV-2", customer_id="C2", invoice_date="2024-03-01", amount=1500, line_no=1),
        dict(invoice_no="INV-2", customer_id="C2", invoice_date="2024-03-01", amount=500, line_no=2),
    ])
    payments = make_payments([dict(payment_id="P9", customer_id="C3", payment_date="2024-03-02", amount=250),
                              dict(payment_id="P8", customer_id="C3", payment_date="2024-04-02", amount=1)])
    ex = run(invoices=invoices, payments=payments, customers=customers)
    assert ex["type"].tolist() == ["UNKNOWN_CUSTOMER"] * 2
    assert ex["customer_id"].tolist() == ["C2", "C3"]
    assert ex["amount"].tolist() == [2000, 250]
    assert ex["refs"].iloc[1] == {"payment_ids": ["P9"]}


def test_currency_mismatch_from_allocation():
    invoices = make_invoices([dict(invoice_no="INV-1", customer_id="C1", invoice_date="2024-03-01",
                                   amount=5000, currency="EUR")])
    code = invoices["line_code"].iloc[0]
    alloc = make_alloc(currency_mismatches=[dict(payment_id="P1", customer_id="C1", payment_currency="USD",
                                                 line_code=code, line_currency="EUR", amount=5400)])
    ex = run(alloc=alloc, invoices=invoices)
    assert ex["type"].tolist() == ["CURRENCY_MISMATCH"]
    row = ex.iloc[0]
    assert row["amount"] == 5400 and row["currency"] == "USD" and row["severity"] == "high"
    assert row["refs"] == {"line_codes": [code], "payment_ids": ["P1"]}
    assert "54.00 USD" in row["message"] and "EUR" in row["message"]


def test_unapplied_cash_one_exception_per_payment():
    alloc = make_alloc(unapplied=[
        dict(payment_id="P1", payment_date="2024-03-10", customer_id="C1", currency="USD", amount=1234),
        dict(payment_id="P2", payment_date="2024-03-11", customer_id="C2", currency="JPY", amount=500),
    ])
    ex = run(alloc=alloc)
    assert ex["type"].tolist() == ["UNAPPLIED_CASH"] * 2
    assert ex["amount"].tolist() == [1234, 500] and set(ex["severity"]) == {"low"}
    assert ex["refs"].tolist() == [{"payment_ids": ["P1"]}, {"payment_ids": ["P2"]}]
    assert "12.34 USD" in ex["message"].iloc[0] and "500 JPY" in ex["message"].iloc[1]


def test_short_paid_invoice_referenced_by_a_payment_left_partly_open():
    invoices = make_invoices([
        dict(invoice_no="INV-1", customer_id="C1", invoice_date="2024-03-01", amount=6000, line_no=1),
        dict(invoice_no="INV-1", customer_id="C1", invoice_date="2024-03-01", amount=4000, line_no=2),
        dict(invoice_no="INV-2", customer_id="C1", invoice_date="2024-03-02", amount=3000),
    ])
    c1, c2, c3 = invoices["line_code"]
    payments = make_payments([dict(payment_id="P1", customer_id="C1", payment_date="2024-03-10",
                                   amount=7000, invoice_no="INV-1"),
                              dict(payment_id="P2", customer_id="C1", payment_date="2024-03-11", amount=1000)])
    alloc = make_alloc(
        allocations=[dict(payment_id="P1", payment_date="2024-03-10", customer_id="C1", currency="USD",
                          line_code=c1, amount=6000, step="invoice"),
                     dict(payment_id="P1", payment_date="2024-03-10", customer_id="C1", currency="USD",
                          line_code=c2, amount=1000, step="invoice"),
                     dict(payment_id="P2", payment_date="2024-03-11", customer_id="C1", currency="USD",
                          line_code=c3, amount=1000, step="fifo")],  # FIFO: not a reference
        line_allocated=[dict(line_code=c1, allocated=6000, last_payment_date="2024-03-10"),
                        dict(line_code=c2, allocated=1000), dict(line_code=c3, allocated=1000)])
    ex = run(alloc=alloc, invoices=invoices, payments=payments)
    assert ex["type"].tolist() == ["SHORT_PAID"]
    row = ex.iloc[0]
    assert row["amount"] == 3000 and row["severity"] == "medium"
    assert row["refs"] == {"line_codes": [c2], "payment_ids": ["P1"], "invoice_nos": ["INV-1"]}


# ---------------------------------------------------------------- skipping and order

def test_empty_orders_and_customers_tables_skip_their_checks():
    invoices = make_invoices([line(customer_id="NOBODY", order_id="SO-404", invoice_date="2024-03-01")])
    payments = make_payments([dict(payment_id="P1", customer_id="NOBODY", payment_date="2024-03-10", amount=1)])
    assert run(invoices=invoices, payments=payments).empty
    with_both = run(invoices=invoices, payments=payments, orders=make_orders([order()]),
                    customers=make_customers([{"customer_id": "C1"}]))
    assert set(with_both["type"]) == {"UNKNOWN_CUSTOMER", "ORPHAN_INVOICE_LINE", "UNBILLED"}


def _mixed_case() -> tuple[dict[str, pd.DataFrame], AllocationResult]:
    orders = make_orders([order(order_line="1", quantity=10.0, unit_price=300),
                          order(order_line="2", quantity=5.0, delivered_qty=5.0, unit_price=100),
                          order(order_id="SO-2", customer_id="C2", billing_block="credit hold"),
                          order(order_id="SO-3", customer_id="C1", quantity=1.0, unit_price=50)])
    invoices = make_invoices([
        line(invoice_no="INV-1", order_line="1", quantity=12.0, unit_price=300, amount=3600),
        line(invoice_no="INV-2", customer_id="C2", order_id="SO-2", quantity=1.0, unit_price=1000,
             amount=1002, invoice_date="2024-02-01"),
        line(invoice_no="INV-3", customer_id="C7", order_id="SO-9", quantity=1.0, unit_price=10, amount=10),
    ])
    payments = make_payments([dict(payment_id="P1", customer_id="C1", payment_date="2024-03-10", amount=99)])
    alloc = make_alloc(unapplied=[dict(payment_id="P1", payment_date="2024-03-10", customer_id="C1",
                                       currency="USD", amount=99)])
    customers = make_customers([{"customer_id": "C1"}, {"customer_id": "C2"}])
    return tables(invoices, orders, payments, customers), alloc


def test_sort_is_by_severity_type_customer_and_does_not_depend_on_row_order():
    tbl, alloc = _mixed_case()
    ex = find_exceptions(tbl, alloc, AS_OF)
    ranks = ex["severity"].map({"high": 0, "medium": 1, "low": 2, "info": 3}).tolist()
    assert ranks == sorted(ranks)
    assert ex["type"].tolist() == [
        "OVERBILLED_QTY", "UNKNOWN_CUSTOMER", "BILLED_BEFORE_DELIVERY", "LINE_TOTAL_MISMATCH",
        "ORPHAN_INVOICE_LINE", "UNBILLED", "UNBILLED", "UNAPPLIED_CASH", "BILLING_BLOCKED"]
    rng = np.random.default_rng(7)
    shuffled = {k: v.iloc[rng.permutation(len(v))].reset_index(drop=True) for k, v in tbl.items()}
    again = find_exceptions(shuffled, alloc, AS_OF)
    pd.testing.assert_frame_equal(ex, again)
    assert (ex["amount"] >= 0).all()


# ---------------------------------------------------------------- billing_due / billing_blocked

def test_billing_due_figures():
    orders = make_orders([
        order(order_line="1", quantity=10.0, delivered_qty=7.5, unit_price=1999, description="Bolts"),
        order(order_line="2", quantity=2.0, unit_price=5000),  # fully billed
        order(order_line="3", quantity=2.0, unit_price=5000, billing_block="hold"),
        order(order_line="4", quantity=2.0, unit_price=5000, delivery_date="2024-04-15"),
    ])
    invoices = make_invoices([line(line_no=1, order_line="1", quantity=2.5, unit_price=1999, amount=4998),
                              line(line_no=2, order_line="2", quantity=2.0, unit_price=5000, amount=10000)])
    due = billing_due(orders, invoices, AS_OF)
    assert list(due.columns) == BILLING_DUE_COLUMNS
    assert len(due) == 1
    row = due.iloc[0]
    assert (row["order_id"], row["order_line"], row["description"]) == ("SO-1", "1", "Bolts")
    assert (row["delivered_qty"], row["billed_qty"], row["qty_to_bill"]) == (7.5, 2.5, 5.0)
    assert row["unit_price"] == 1999 and row["amount_to_bill"] == 9995
    assert due["amount_to_bill"].dtype == "int64"
    blocked = billing_blocked(orders)
    assert blocked[["order_line", "billing_block", "amount"]].values.tolist() == [["3", "hold", 10000]]
    assert billing_due(empty_table("orders"), invoices, AS_OF).columns.tolist() == BILLING_DUE_COLUMNS


@pytest.mark.parametrize(("qty", "price", "expected"), [
    (3.0, 1999, 5997), (2.5, 101, 252), (3.5, 101, 354), (-2.5, 1, -2), (0.125, 4, 0),
    (0.125, 12, 2), (1 / 3, 300, 100), (123456789.0, 98765, 123456789 * 98765), (np.nan, 5, 0),
])
def test_qty_times_price_is_exact_half_even(qty, price, expected):
    assert qty_times_price(np.array([qty]), np.array([price])).tolist() == [expected]


# ---------------------------------------------------------------- properties

_order_rows = st.lists(st.tuples(st.sampled_from(["SO-1", "SO-2"]), st.sampled_from(["1", "2", "03"]),
                                 st.sampled_from([1.0, 2.0, 2.5, 10.0]), st.integers(0, 5000),
                                 st.sampled_from([None, "2024-03-01", "2024-04-10"]),
                                 st.sampled_from([None, None, None, "hold"])),
                       min_size=1, max_size=5, unique_by=lambda r: (r[0], r[1].lstrip("0")))
_invoice_rows = st.lists(st.tuples(st.sampled_from(["INV-1", "INV-2", "INV-3"]), st.integers(1, 3),
                                   st.sampled_from(["SO-1", "SO-2", "SO-9"]), st.sampled_from(["1", "2", "3"]),
                                   st.sampled_from([0.5, 1.0, 3.0]), st.integers(0, 5000),
                                   st.integers(-3, 3), st.sampled_from(["2024-02-20", "2024-03-05", "2024-04-02"])),
                         max_size=6)


@settings(max_examples=examples(10), deadline=None)
@given(_order_rows, _invoice_rows, st.randoms(use_true_random=False))
def test_properties_amounts_non_negative_order_free_and_unbilled_equals_billing_due(orows, irows, rnd):
    orders = make_orders([order(order_id=o, order_line=ln, quantity=q, unit_price=p, delivery_date=d,
                                billing_block=b) for o, ln, q, p, d, b in orows])
    invoices = _as_ingested([
        line(invoice_no=i, line_no=n, order_id=o, order_line=ln, quantity=q, unit_price=p,
             amount=int(qty_times_price(np.array([q]), np.array([p]))[0]) + off, invoice_date=d)
        for i, n, o, ln, q, p, off, d in irows])
    tbl = tables(invoices, orders)
    ex = find_exceptions(tbl, make_alloc(), AS_OF)
    assert (ex["amount"] >= 0).all() and ex["amount"].dtype == "int64"
    assert set(ex["severity"]) <= {"high", "medium", "low", "info"}
    assert all(ex["severity"] == ex["type"].map(lambda t: EXCEPTION_TYPES[t]["severity"]))
    due = billing_due(orders, invoices, AS_OF)
    assert of(ex, "UNBILLED")["amount"].sum() == due["amount_to_bill"].sum()
    both = billing_lists(orders, invoices, AS_OF)  # one matching for the two lists
    pd.testing.assert_frame_equal(both[0], due)
    pd.testing.assert_frame_equal(both[1], billing_blocked(orders, invoices, AS_OF))
    shuffled = {k: v.sample(frac=1, random_state=rnd.randint(0, 10**6)).reset_index(drop=True)
                for k, v in tbl.items()}
    pd.testing.assert_frame_equal(ex, find_exceptions(shuffled, make_alloc(), AS_OF))


def test_with_the_real_allocation_short_paid_and_unapplied_cash():
    from billing import allocation
    invoices = make_invoices([
        dict(invoice_no="INV-1", customer_id="C1", invoice_date="2024-03-01", amount=6000, line_no=1),
        dict(invoice_no="INV-1", customer_id="C1", invoice_date="2024-03-01", amount=4000, line_no=2),
    ])
    payments = make_payments([
        dict(payment_id="P1", customer_id="C1", payment_date="2024-03-10", amount=7000, invoice_no="INV-1"),
        dict(payment_id="P2", customer_id="C2", payment_date="2024-03-11", amount=500),
    ])
    customers = make_customers([{"customer_id": "C1"}, {"customer_id": "C2"}])
    alloc = allocation.allocate(invoices, payments, AS_OF, Policy())
    ex = find_exceptions(tables(invoices, None, payments, customers), alloc, AS_OF)
    assert ex[["type", "amount"]].values.tolist() == [["SHORT_PAID", 3000], ["UNAPPLIED_CASH", 500]]
    assert ex["refs"].iloc[0]["payment_ids"] == ["P1"]


# ---------------------------------------------------------------- keys and paths of the vectorised checks

def test_number_like_order_ids_are_compared_as_trimmed_text():
    orders = make_orders([order(order_id="0010", quantity=2.0, unit_price=100),
                          order(order_id="10", quantity=2.0, unit_price=100)])
    invoices = make_invoices([line(order_id=" 10 ", order_line="01", quantity=2.0, unit_price=100, amount=200)])
    ex = run(orders=orders, invoices=invoices)
    assert ex["type"].tolist() == ["UNBILLED"]  # "0010" is another order than "10"
    assert ex["refs"].tolist() == [{"order_lines": ["0010/1"]}]
    assert ex["amount"].tolist() == [200]


def test_a_repeated_order_key_uses_the_first_row_of_the_sheet():
    orders = make_orders([order(order_line="1", quantity=5.0, unit_price=100),
                          order(order_line="001", quantity=1.0, unit_price=999)])
    orders["_row"] = np.array([9, 3], dtype="int64")  # the second row comes first in the sheet
    invoices = make_invoices([line(quantity=1.0, unit_price=999, amount=999)])
    assert run(orders=orders, invoices=invoices).empty
    orders["_row"] = np.array([3, 9], dtype="int64")
    assert set(run(orders=orders, invoices=invoices)["type"]) == {"UNBILLED", "PRICE_MISMATCH"}


def test_duplicate_line_code_compares_canonical_codes():
    invoices = _as_ingested([
        dict(invoice_no="INV-1", customer_id="C1", invoice_date="2024-03-01", amount=1000, line_code="acme-001"),
        dict(invoice_no="INV-2", customer_id="C1", invoice_date="2024-03-02", amount=2500, line_code="ACME 001"),
        dict(invoice_no="INV-3", customer_id="C1", invoice_date="2024-03-03", amount=700,
             line_code="ＡＣＭＥ-００１"),  # full-width: the same code once NFKC-normalised
    ])
    ex = run(invoices=invoices)
    assert ex["type"].tolist() == ["DUPLICATE_LINE_CODE"]
    row = ex.iloc[0]
    assert row["amount"] == 2500 + 700
    assert row["message"].startswith("Line code acme-001 is on 3 different lines (INV-1 line 1, INV-2 line 1, "
                                     "INV-3 line 1)")
    assert row["refs"] == {"line_codes": sorted(invoices["line_code"]), "invoice_nos": ["INV-1", "INV-2", "INV-3"]}


def test_fractional_quantities_billed_by_several_lines_add_up_without_float_noise():
    orders = make_orders([order(quantity=0.3, unit_price=1000)])
    three = make_invoices([line(line_no=i, quantity=0.1, unit_price=1000, amount=100) for i in (1, 2, 3)])
    assert run(orders=orders, invoices=three).empty  # 0.1 + 0.1 + 0.1 is not more than 0.3
    four = make_invoices([line(line_no=i, quantity=0.1, unit_price=1000, amount=100) for i in (1, 2, 3, 4)])
    ex = run(orders=orders, invoices=four)
    assert ex["type"].tolist() == ["DUPLICATE_LINE"] and ex["amount"].tolist() == [100]
    assert "billed by 4 invoice lines for 0.4 units but 0.3 were ordered: 0.1 units" in ex["message"].iloc[0]


def test_short_paid_does_not_depend_on_the_order_or_presence_of_line_allocated():
    from billing import allocation
    invoices = make_invoices([
        dict(invoice_no="INV-1", customer_id="C1", invoice_date="2024-03-01", amount=6000, line_no=1),
        dict(invoice_no="INV-1", customer_id="C1", invoice_date="2024-03-01", amount=4000, line_no=2),
        dict(invoice_no="INV-2", customer_id="C1", invoice_date="2024-03-02", amount=500, line_no=1),
    ])
    payments = make_payments([dict(payment_id="P1", customer_id="C1", payment_date="2024-03-10", amount=7000,
                                   invoice_no="INV-1")])
    tbl = tables(invoices, None, payments)
    alloc = allocation.allocate(invoices, payments, AS_OF, Policy())
    ex = find_exceptions(tbl, alloc, AS_OF)
    assert ex[["type", "amount"]].values.tolist() == [["SHORT_PAID", 3000]]
    reversed_la = alloc.line_allocated.iloc[::-1].reset_index(drop=True)
    for la in (reversed_la, alloc.line_allocated.iloc[:0]):
        pd.testing.assert_frame_equal(ex, find_exceptions(tbl, dataclasses.replace(alloc, line_allocated=la), AS_OF))


def test_shortcuts_give_the_same_exceptions_as_the_general_path():
    """billing.reconcile takes shortcuts (ids in order, number-like ids, whole quantities...); without them
    the result is the same."""
    from billing import reconcile

    orders = make_orders([order(order_id=o, order_line=ln, quantity=q, unit_price=p, delivered_qty=d,
                                billing_block=b)
                          for o, ln, q, p, d, b in [("0007", "1", 3.0, 250, None, None), ("7", "02", 1.5, 999, 1.0, None),
                                                    ("SO-9", "1", 4.0, 100, None, "hold"), ("0007", "01", 9.0, 1, None, None)]])
    invoices = _as_ingested([
        line(invoice_no="INV-2", line_no=1, order_id="7", order_line="2", quantity=2.5, unit_price=999, amount=2498),
        line(invoice_no="INV-1", line_no=2, order_id="0007", order_line="1.0", quantity=4.0, unit_price=260,
             amount=1040),
        line(invoice_no="INV-1", line_no=1, order_id="0007", order_line=None, quantity=1.0, unit_price=250, amount=250),
        line(invoice_no="INV-1", line_no=1, order_id="SO-9", order_line="1", quantity=1.0, unit_price=100, amount=100),
        line(invoice_no="INV-3", line_no=1, order_id="SO-404", order_line="1", quantity=1.0, unit_price=1,
             amount=-1, kind="credit_note"),
    ])
    invoices["_row"] = np.array([6, 2, 5, 3, 4], dtype="int64")
    tbl = tables(invoices, orders, make_payments([]), make_customers([{"customer_id": "C1"}]))
    fast = find_exceptions(tbl, make_alloc(), AS_OF)
    due, blocked = billing_due(orders, invoices, AS_OF), billing_blocked(orders, invoices, AS_OF)
    assert {"OVERBILLED_QTY", "PRICE_MISMATCH", "DUPLICATE_LINE", "ORPHAN_INVOICE_LINE",
            "BILLING_BLOCKED"} <= set(fast["type"])
    with reconcile.general_paths():
        pd.testing.assert_frame_equal(fast, find_exceptions(tbl, make_alloc(), AS_OF))
        pd.testing.assert_frame_equal(due, billing_due(orders, invoices, AS_OF))
        pd.testing.assert_frame_equal(blocked, billing_blocked(orders, invoices, AS_OF))
