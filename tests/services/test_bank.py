"""Bank statements as workspace records (SPEC §17): import, re-import adds nothing, the review
queue, a confirmation that learns the IBAN and turns the payment into one the engine applies."""
from __future__ import annotations

import pandas as pd
import pytest

from billing.aging import line_aging
from billing.allocation import allocate
from billing.cashapp import rf_reference
from billing.linecode import make_code
from billing.model import Dataset
from billing.policy import Policy
from billing.roles import Actor, Mode, Role
from services import bank
from services.context import NotAllowed
from tests.connectors import bank_fixtures as fx
from tests.factories import make_customers, make_invoices, make_payments

FINANCE = Actor("fin@example.com", Mode.SIGN_IN, Role.FINANCE)
VIEWER = Actor("val@example.com", Mode.SIGN_IN, Role.VIEWER)
AS_OF = pd.Timestamp("2026-11-30")


def book() -> Dataset:
    invoices = make_invoices([
        dict(invoice_no="INV-1", customer_id="ACME", invoice_date="2026-10-01", amount=10000, currency="CHF"),
        dict(invoice_no="INV-2", customer_id="ACME", invoice_date="2026-10-05", amount=5000, currency="CHF"),
        dict(invoice_no="INV-3", customer_id="BETA", invoice_date="2026-10-07", amount=7000, currency="CHF"),
    ])
    customers = make_customers([dict(customer_id="ACME", name="Acme Trading AG"),
                                dict(customer_id="BETA", name="Beta Logistik GmbH")])
    payments = make_payments([dict(payment_id="W1", customer_id="BETA", payment_date="2026-11-19", amount=3000,
                                   currency="CHF")])
    tables = {"invoices": invoices, "customers": customers, "payments": payments}
    return Dataset(source="test", tables=tables, quarantine=pd.DataFrame(), counts={})


def statement() -> bytes:
    rf = rf_reference(make_code("INV-1", 1))
    entries = (fx.ntry("100.00", acct_ref="E1", txs=fx.tx(None, ref=rf, name="Somebody"))
               + fx.ntry("50.00", acct_ref="E2", txs=fx.tx(None, ustrd="Rechnung INV-2", name="Acme"))
               + fx.ntry("30.00", acct_ref="E3", txs=fx.tx(None, name="Beta Logistik GmbH", iban="CH100000000000000001",
                                                          ustrd="payment"))
               + fx.ntry("12.34", acct_ref="E4", txs=fx.tx(None, name="Unknown Person", iban="CH200000000000000002",
                                                          ustrd="thanks"))
               + fx.ntry("9.00", ind="DBIT", acct_ref="D1"))
    return fx.camt053("001.04", entries, opening="0", closing="183.34")


def test_import_matches_and_a_second_import_adds_nothing(ws):
    first = bank.import_statements(ws, FINANCE, [("nov.xml", statement())], action_id="b1", data=book(), as_of=AS_OF)
    f = first.files[0]
    assert (f.credits, f.added, f.already, f.debits) == (4, 4, 0, 1)
    assert f.matched == {"reference": 1, "invoice": 1, "name": 1} and f.waiting == 1
    again = bank.import_statements(ws, FINANCE, [("nov-again.xml", statement())], action_id="b2", data=book(),
                                   as_of=AS_OF)
    assert (again.files[0].added, again.files[0].already) == (0, 4)
    assert len(ws.store.bank_payments()) == 4


def test_a_bank_payment_like_a_workbook_payment_is_flagged_and_not_counted_twice(ws):
    result = bank.import_statements(ws, FINANCE, [("nov.xml", statement())], action_id="b1", data=book(), as_of=AS_OF)
    assert result.files[0].possible_duplicates == 1  # E3: BETA, 30.00, a day after W1
    data = bank.with_bank_payments(ws, book(), as_of=AS_OF)
    ids = set(data.tables["payments"]["payment_id"])
    assert ids == {"W1", "E1", "E2"}  # E3 is the possible duplicate, E4 waits for review


def test_the_engine_applies_matched_bank_payments_by_their_reference(ws):
    bank.import_statements(ws, FINANCE, [("nov.xml", statement())], action_id="b1", data=book(), as_of=AS_OF)
    data = bank.with_bank_payments(ws, book(), as_of=AS_OF)
    alloc = allocate(data.tables["invoices"], data.tables["payments"], AS_OF, Policy())
    a = alloc.allocations.set_index("payment_id")
    assert (a.loc["E1", "line_code"], a.loc["E1", "step"], a.loc["E1", "amount"]) == (make_code("INV-1", 1), "line", 10000)
    assert (a.loc["E2", "line_code"], a.loc["E2", "step"]) == (make_code("INV-2", 1), "invoice")
    assert alloc.reference_issues.empty


def test_confirming_from_the_queue_learns_the_iban_for_next_time(ws):
    bank.import_statements(ws, FINANCE, [("nov.xml", statement())], action_id="b1", data=book(), as_of=AS_OF)
    queue = bank.review_queue(ws, book())
    assert list(queue["payment_id"]) == ["E4"]
    bank.confirm(ws, FINANCE, "E4", customer_id="ACME", action_id="c1")
    bank.confirm(ws, FINANCE, "E4", customer_id="ACME", action_id="c1")  # a double click: one decision
    assert bank.review_queue(ws, book()).empty
    assert ws.store.bank_ibans()[["iban", "customer_id"]].values.tolist() == [["CH200000000000000002", "ACME"]]
    assert len(ws.store.audit_events(entity="bank_payment")) == 1
    # the next statement from that IBAN is matched by it
    nxt = fx.camt053("001.04", fx.ntry("5.00", acct_ref="E9", txs=fx.tx(None, name="U. P.", iban="CH200000000000000002")),
                     opening="0", closing="5.00")
    r = bank.import_statements(ws, FINANCE, [("dec.xml", nxt)], action_id="b3", data=book(), as_of=AS_OF)
    assert r.files[0].matched == {"iban": 1}


def test_leaving_a_payment_unapplied_takes_it_out_of_the_queue_and_the_engine(ws):
    bank.import_statements(ws, FINANCE, [("nov.xml", statement())], action_id="b1", data=book(), as_of=AS_OF)
    bank.leave_unapplied(ws, FINANCE, "E4", note="refund to be sent back", action_id="l1")
    assert bank.review_queue(ws, book()).empty
    assert "E4" not in set(bank.with_bank_payments(ws, book(), as_of=AS_OF).tables["payments"]["payment_id"])


def test_a_viewer_sees_the_queue_but_cannot_import_or_confirm(ws):
    bank.import_statements(ws, FINANCE, [("nov.xml", statement())], action_id="b1", data=book(), as_of=AS_OF)
    assert len(bank.review_queue(ws, book())) == 1
    with pytest.raises(NotAllowed):
        bank.confirm(ws, VIEWER, "E4", customer_id="ACME", action_id="v1")
    with pytest.raises(NotAllowed):
        bank.import_statements(ws, VIEWER, [("nov.xml", statement())], action_id="v2", data=book())
    assert ws.store.bank_decisions().empty


def test_an_unreadable_file_is_reported_and_stores_nothing(ws):
    r = bank.import_statements(ws, FINANCE, [("order.xml", fx.PAIN001)], action_id="b1", data=book())
    assert r.unreadable and "payment order" in r.files[0].error
    assert ws.store.bank_payments().empty


def test_matching_the_data_with_its_bank_payments_added_gives_the_same_decisions(ws):
    bank.import_statements(ws, FINANCE, [("nov.xml", statement())], action_id="b1", data=book(), as_of=AS_OF)
    plain = bank.cash_application(ws, book(), as_of=AS_OF).matches
    again = bank.cash_application(ws, bank.with_bank_payments(ws, book(), as_of=AS_OF), as_of=AS_OF).matches
    pd.testing.assert_frame_equal(plain, again)


def test_a_proposed_bank_charges_write_off_becomes_an_adjustment_only_when_confirmed(ws):
    from services import collections
    short = fx.camt053("001.04", fx.ntry("99.00", acct_ref="S1", txs=fx.tx(None, ustrd="INV-1", name="Acme")),
                       opening="0", closing="99.00")
    bank.import_statements(ws, FINANCE, [("short.xml", short)], action_id="b1", data=book(), as_of=AS_OF)
    m = bank.cash_application(ws, book(), as_of=AS_OF).matches.set_index("payment_id")
    assert (m.loc["S1", "status"], m.loc["S1", "write_off"]) == ("matched", 100)
    assert collections.list_adjustments(ws).empty  # proposed, not applied
    with pytest.raises(NotAllowed):
        bank.confirm_proposal(ws, VIEWER, "S1", action_id="v1", data=book())
    bank.confirm_proposal(ws, FINANCE, "S1", action_id="w1", data=book())
    adj = collections.list_adjustments(ws)
    assert adj[["kind", "line_code", "amount"]].values.tolist() == [["write_off", make_code("INV-1", 1), 100]]
    data = bank.with_bank_payments(ws, book(), as_of=AS_OF)
    alloc = allocate(data.tables["invoices"], data.tables["payments"], AS_OF, Policy(),
                     adjustments=collections.engine_adjustments(ws))
    aging = line_aging(data.tables["invoices"], alloc, AS_OF, Policy()).set_index("line_code")
    assert aging.loc[make_code("INV-1", 1), "open"] == 0  # 99.00 paid + 1.00 written off: settled
