"""Statements of account: opening balance, running balance, open items, disputes, totals."""
from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings, strategies as st

from billing.aging import line_aging
from billing.allocation import allocate
from billing.policy import Policy
from billing.statement import build_statements, default_period_start, disputed_amounts
from tests.factories import make_customers, make_invoices, make_payments

AS_OF = pd.Timestamp("2026-06-30")


def _statements(inv, pay, cust=None, as_of=AS_OF, disputes=None, **kw):
    policy = Policy()
    alloc = allocate(inv, pay, as_of, policy, disputes)
    aging = line_aging(inv, alloc, as_of, policy, disputes)
    return build_statements(inv, cust, aging, alloc.effective_payments, alloc.unapplied, as_of,
                            disputes=disputes, **kw)


def _book():
    inv = make_invoices([
        {"invoice_no": "A1", "customer_id": "C1", "invoice_date": "2026-05-10", "due_date": "2026-06-09",
         "amount": 100_00, "currency": "EUR", "description": "May goods"},
        {"invoice_no": "A2", "customer_id": "C1", "invoice_date": "2026-06-05", "due_date": "2026-07-05",
         "amount": 250_00, "currency": "EUR", "line_no": 1, "description": "June goods"},
        {"invoice_no": "A2", "customer_id": "C1", "invoice_date": "2026-06-05", "due_date": "2026-07-05",
         "amount": 50_00, "currency": "EUR", "line_no": 2},
        {"invoice_no": "CN1", "customer_id": "C1", "invoice_date": "2026-06-12", "amount": -20_00,
         "currency": "EUR", "applies_to": "A2", "kind": "credit_note", "description": "Price fix"},
        {"invoice_no": "B1", "customer_id": "C2", "invoice_date": "2026-04-01", "due_date": "2026-05-01",
         "amount": 10_000, "currency": "HUF"},
        {"invoice_no": "A9", "customer_id": "C1", "invoice_date": "2026-07-02", "amount": 999_00,
         "currency": "EUR"},  # after the statement date: not on it
    ])
    pay = make_payments([
        {"payment_id": "P0", "customer_id": "C1", "payment_date": "2026-05-20", "amount": 40_00, "currency": "EUR"},
        {"payment_id": "P1", "customer_id": "C1", "payment_date": "2026-06-20", "amount": 100_00,
         "currency": "EUR", "reference": "A1 thanks"},
    ])
    cust = make_customers([{"customer_id": "C1", "name": "Acme", "language": "hu", "email": "c1@example.com"}])
    return inv, pay, cust


def test_the_period_starts_on_the_first_of_the_month():
    assert default_period_start("2026-06-30") == pd.Timestamp("2026-06-01")


def test_opening_balance_is_what_was_owed_before_the_period():
    inv, pay, cust = _book()
    s = _statements(inv, pay, cust).of("C1")
    # before June: invoiced 100.00, paid 40.00
    assert s.total("EUR", "opening") == 60_00


def test_running_balance_follows_every_movement_of_the_period():
    inv, pay, cust = _book()
    act = _statements(inv, pay, cust).of("C1").activity
    assert act["kind"].tolist() == ["invoice", "invoice", "credit_note", "payment"]
    assert act["reference"].tolist()[2:] == [inv.loc[3, "line_code"], "P1"]
    assert act["debit"].tolist() == [250_00, 50_00, 0, 0]
    assert act["credit"].tolist() == [0, 0, 20_00, 100_00]
    assert act["balance"].tolist() == [310_00, 360_00, 340_00, 240_00]
    assert act["description"].fillna("").tolist() == ["June goods", "", "Price fix", "A1 thanks"]


def test_closing_balance_equals_open_items_less_unapplied_credit():
    inv, pay, cust = _book()
    s = _statements(inv, pay, cust).of("C1")
    t = s.totals.iloc[0]
    assert t["closing"] == 240_00
    assert t["open"] - t["unapplied"] == t["closing"]
    assert t["invoiced"] == 300_00 and t["credited"] == 20_00 and t["paid"] == 100_00


def test_open_items_carry_their_line_code_days_and_bucket():
    inv, pay, cust = _book()
    items = _statements(inv, pay, cust).of("C2").open_items
    assert items["reference"].tolist() == [inv.loc[4, "line_code"]]
    assert items["days_past_due"].tolist() == [60]
    assert items["bucket"].astype(str).tolist() == ["31-60"]
    assert items["open"].tolist() == [10_000]


def test_statement_leaves_out_what_happens_after_its_date():
    inv, pay, cust = _book()
    s = _statements(inv, pay, cust).of("C1")
    assert "A9" not in set(s.activity["invoice_no"].dropna()) | set(s.open_items["invoice_no"])


def test_open_items_only_has_no_activity_but_the_same_totals():
    inv, pay, cust = _book()
    full = _statements(inv, pay, cust).of("C1")
    short = _statements(inv, pay, cust, only_open=True).of("C1")
    assert len(short.activity) == 0 and short.only_open
    pd.testing.assert_frame_equal(full.totals, short.totals)


def test_header_has_the_customers_name_and_language():
    inv, pay, cust = _book()
    s = _statements(inv, pay, cust)
    assert s.of("C1").header["name"] == "Acme" and s.of("C1").header["language"] == "hu"
    assert s.of("C2").header["name"] == "C2"  # not in the customers table: the id stands in


def test_a_dispute_holds_its_amount_not_the_whole_line():
    inv, pay, cust = _book()
    code = inv.loc[1, "line_code"]
    disputes = pd.DataFrame({"line_code": [code], "status": ["open"], "dispute_id": [1], "amount": [30_00]})
    s = _statements(inv, pay, cust, disputes=disputes).of("C1")
    row = s.open_items.set_index("reference").loc[code]
    assert bool(row["in_dispute"]) and row["disputed"] == 30_00
    assert s.total("EUR", "disputed") == 30_00
    assert s.total("EUR", "amount_due") == 240_00 - 30_00


def test_a_dispute_amount_fills_its_lines_in_order():
    items = pd.DataFrame({"reference": ["L1", "L2", "L3"], "open": [50, 80, 10]})
    d = pd.DataFrame({"line_code": ["L2", "L1", "L3"], "status": ["open", "open", "resolved"],
                      "dispute_id": [7, 7, 8], "amount": [100, 100, pd.NA], "seq": [1, 0, 0]})
    assert disputed_amounts(items, d).tolist() == [50, 50, 0]
    no_amount = d.drop(columns=["amount"])
    assert disputed_amounts(items, no_amount).tolist() == [50, 80, 0]


def test_period_after_the_statement_date_is_refused():
    inv, pay, cust = _book()
    try:
        _statements(inv, pay, cust, period_start="2026-07-01")
    except ValueError as exc:
        assert "after the statement date" in str(exc)
    else:
        raise AssertionError("no error")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["C1", "C2", "C3"]), st.integers(0, 120), st.integers(1, 10_000),
                          st.sampled_from(["EUR", "HUF"])), min_size=1, max_size=25),
       st.lists(st.tuples(st.sampled_from(["C1", "C2", "C3"]), st.integers(0, 120), st.integers(1, 8_000),
                          st.sampled_from(["EUR", "HUF"])), max_size=15),
       st.integers(0, 120))
def test_every_statement_closes_at_open_less_unapplied(lines, payments, start_offset):
    base = pd.Timestamp("2026-02-01")
    inv = make_invoices([{"invoice_no": f"I{i}", "customer_id": c, "invoice_date": base + pd.Timedelta(days=d),
                          "amount": a, "currency": cur} for i, (c, d, a, cur) in enumerate(lines)])
    pay = make_payments([{"payment_id": f"P{i}", "customer_id": c, "payment_date": base + pd.Timedelta(days=d),
                          "amount": a, "currency": cur} for i, (c, d, a, cur) in enumerate(payments)])
    s = _statements(inv, pay, None, as_of=base + pd.Timedelta(days=100),
                    period_start=base + pd.Timedelta(days=min(start_offset, 100)))
    t = s.totals
    assert (t["closing"] == t["open"] - t["unapplied"]).all()
    assert (t["closing"] == t["opening"] + t["invoiced"] - t["credited"] - t["paid"]).all()
    last = s.activity.groupby(["customer_id", "currency"]).tail(1)
    merged = last.merge(t, on=["customer_id", "currency"])
    assert (merged["balance"] == merged["closing"]).all()
    assert np.all(s.open_items["open"].to_numpy() > 0)
