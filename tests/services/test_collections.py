"""services.collections on a real store (SQLite file and PostgreSQL): adjustments and promises survive
re-imports, are idempotent and audited, and flag what a newer import no longer has."""
from __future__ import annotations

import pandas as pd
import pytest

from billing.adjustments import AdjustmentError
from billing.analysis import analyse
from billing.dunning import plan_reminders
from billing.model import Dataset, empty_table
from billing.promises import PromiseError
from billing.roles import Actor, Mode, Role
from services import collections
from services.context import NotAllowed
from tests.billing.test_allocation import code
from tests.factories import make_customers, make_invoices, make_payments

AS_OF = "2024-03-31"
ACME = [{"customer_id": "C1", "name": "Acme", "email": "ar@acme.test", "language": "en", "owner": "olga"}]


def dataset(lines: list[dict], payments: list[dict]) -> Dataset:
    tables = {"invoices": make_invoices(lines), "payments": make_payments(payments),
              "customers": make_customers(ACME), "orders": empty_table("orders"), "fx_rates": empty_table("fx_rates")}
    return Dataset(source="test", tables=tables, quarantine=pd.DataFrame(), counts={})


def line(no: str, amount: int, due: str = "2024-02-01") -> dict:
    return {"invoice_no": no, "customer_id": "C1", "invoice_date": "2024-01-01", "due_date": due, "amount": amount}


def payment(pid: str, amount: int, **kw) -> dict:
    return {"payment_id": pid, "customer_id": "C1", "payment_date": "2024-02-10", "amount": amount, **kw}


def whole_dispute(line_code: str) -> pd.DataFrame:
    return pd.DataFrame({"line_code": pd.array([line_code], dtype="string"),
                         "status": pd.array(["open"], dtype="string")})


def run(ws, data: Dataset, disputes=None):
    return analyse(data, AS_OF, disputes=disputes, with_exceptions=False,
                   adjustments=collections.engine_adjustments(ws))


def test_write_off_and_manual_application_survive_the_next_import(ws, ann):
    # INV-1 1,000 short-paid by 10; INV-2 in dispute, so P2 stays unapplied: 290 after FIFO took INV-1's 10
    first = dataset([line("INV-1", 1000), line("INV-2", 500)],
                    [payment("P1", 990, invoice_no="INV-1"), payment("P2", 300)])
    held = whole_dispute(code("INV-2"))
    assert run(ws, first, held).alloc.unapplied["amount"].tolist() == [290]

    wid = collections.record_adjustment(ws, ann, "write_off", action_id="w1", line_code=code("INV-1"),
                                        amount_minor=10, reason="small remainder", on="2024-02-15")
    aid = collections.record_adjustment(ws, ann, "apply", action_id="a1", line_code=code("INV-2"),
                                        payment_id="P2", amount_minor=300, on="2024-02-15")
    # a double click (same action id) records nothing new
    assert collections.record_adjustment(ws, ann, "apply", action_id="a1", line_code=code("INV-2"),
                                         payment_id="P2", amount_minor=300, on="2024-02-15") == aid
    assert len(collections.list_adjustments(ws)) == 2

    second = dataset([line("INV-1", 1000), line("INV-2", 500), line("INV-3", 50)],
                     [payment("P1", 990, invoice_no="INV-1"), payment("P2", 300), payment("P3", 20)])
    a = run(ws, second, held)
    open_ = dict(zip(a.aging["line_code"], a.aging["open"].tolist()))
    assert open_ == {code("INV-1"): 0, code("INV-2"): 200, code("INV-3"): 30}
    assert a.alloc.unapplied.empty
    status = dict(zip(a.alloc.adjustments["adjustment_id"], a.alloc.adjustments["status"]))
    assert status == {wid: "applied", aid: "applied"}
    assert collections.flagged_adjustments(a.alloc).empty

    # a newer import without INV-2: the manual application is flagged, never dropped
    third = dataset([line("INV-1", 1000)], [payment("P1", 990, invoice_no="INV-1"), payment("P2", 300)])
    gone = collections.flagged_adjustments(run(ws, third).alloc)
    assert gone[["adjustment_id", "status"]].values.tolist() == [[aid, "missing_line"]]
    assert gone["why"].iloc[0] == "its line is not in this import"
    assert len(collections.list_adjustments(ws)) == 2

    audit = ws.store.audit_events(entity="adjustment")
    assert audit[["actor", "action"]].values.tolist() == [["Ann Finance", "create"]] * 2


def test_a_cancelled_adjustment_no_longer_applies(ws, ann):
    data = dataset([line("INV-1", 1000)], [])
    aid = collections.record_adjustment(ws, ann, "write_off", action_id="w1", line_code=code("INV-1"),
                                        amount_minor=100, reason="goodwill", on="2024-02-15")
    assert run(ws, data).aging["open"].tolist() == [900]
    collections.cancel_adjustment(ws, ann, aid, action_id="c1")
    assert run(ws, data).aging["open"].tolist() == [1000]
    assert collections.list_adjustments(ws, include_cancelled=True)["status"].tolist() == ["cancelled"]


def test_bad_adjustments_are_refused_with_a_sentence(ws, ann):
    with pytest.raises(AdjustmentError, match="needs the payment id"):
        collections.record_adjustment(ws, ann, "apply", action_id="x1", line_code="L", amount_minor=5)
    with pytest.raises(NotAllowed):
        collections.record_adjustment(ws, Actor("val@example.com", Mode.SIGN_IN, Role.VIEWER), "write_off",
                                      action_id="x2", line_code="L", amount_minor=5, reason="r")
    assert collections.list_adjustments(ws, include_cancelled=True).empty


def test_a_promise_pauses_reminders_until_it_is_broken(ws, ann):
    data = dataset([line("INV-1", 1000), line("INV-2", 500)], [])
    a = run(ws, data)
    collections.record_promise(ws, ann, a.aging, action_id="p1", customer_id="C1", amount_minor=1000,
                               promised_date="2024-04-05", line_codes=[code("INV-1")], grace_days=2,
                               note="will pay after the audit")
    paused = collections.paused_by_promises(ws, a)
    assert paused["line_code"].tolist() == [code("INV-1")]
    plan = plan_reminders(a.aging, data.customers, ws.store.reminder_log(), AS_OF, paused=paused)
    assert [ln.line_code for r in plan.reminders for ln in r.lines] == [code("INV-2")]
    skipped = plan.skipped.set_index("line_code")
    assert skipped.loc[code("INV-1"), "detail"] == "promised until 2024-04-07"

    # as of after the date + grace, unpaid: broken, and the reminders resume
    later = analyse(data, "2024-04-08", with_exceptions=False)
    state = collections.promises_as_of(ws, later)
    assert state["state"].tolist() == ["broken"] and state["broken"].tolist() == [True]
    assert collections.paused_by_promises(ws, later).empty


def test_a_promise_paid_in_its_window_is_kept(ws, ann):
    before = dataset([line("INV-1", 1000)], [])
    collections.record_promise(ws, ann, run(ws, before).aging, action_id="p1", customer_id="C1",
                               amount_minor=600, promised_date="2099-01-10")
    # paid after it was made (today): 600 by a payment dated within the window
    today = pd.Timestamp.today().normalize()
    paid = dataset([line("INV-1", 1000)], [payment("P9", 600, payment_date=today.date().isoformat())])
    state = collections.promises_as_of(ws, analyse(paid, today, with_exceptions=False))
    assert state[["state", "paid"]].values.tolist() == [["kept", 600]]


def test_a_promise_for_a_line_of_someone_else_is_refused(ws, ann):
    a = run(ws, dataset([line("INV-1", 1000)], []))
    with pytest.raises(PromiseError, match="not an open line of customer C1"):
        collections.record_promise(ws, ann, a.aging, action_id="p1", customer_id="C1", amount_minor=5,
                                   promised_date="2024-04-01", line_codes=["NOPE-001X"])
    assert ws.store.promises().empty


def test_next_action_defaults_the_collector_to_the_owner(ws, ann):
    data = dataset([line("INV-1", 1000)], [])
    frame = collections.next_actions(ws, data.customers)
    assert frame[["customer_id", "collector"]].values.tolist() == [["C1", "olga"]]
    collections.set_next_action(ws, ann, "C1", action_id="n1", next_action_date="2024-04-02", collector="bob",
                                note="call after lunch")
    frame = collections.next_actions(ws, data.customers)
    assert frame[["customer_id", "next_action_date", "collector"]].values.tolist() == [["C1", "2024-04-02", "bob"]]


def test_a_dispute_resolved_with_a_credit_note_becomes_credit_note_requests(ws, ann):
    data = dataset([line("INV-1", 800), line("INV-2", 500)], [])
    a = run(ws, data)
    did = ws.store.open_dispute(action_id="d1", actor="ann", lines=a.aging, amount=1000, reason="price",
                                owner="ann", line_codes=[code("INV-1"), code("INV-2")], at="2024-02-01")
    for step, to in enumerate(("in_review", "escalated")):
        ws.store.transition_dispute(did, to, action_id=f"t{step}", actor="ann", at="2024-02-02")
    ws.store.transition_dispute(did, "resolved", action_id="t9", actor="ann", outcome="credit_note",
                                resolved_amount=900, at="2024-02-03")
    ids = collections.adjust_for_resolution(ws, ann, did, a.aging, action_id="r1", on="2024-02-03")
    assert collections.adjust_for_resolution(ws, ann, did, a.aging, action_id="r1", on="2024-02-03") == ids
    adj = collections.list_adjustments(ws)
    # 900 over the lines in order: 800 of INV-1, 100 of INV-2
    assert adj[["kind", "line_code", "amount", "dispute_id"]].values.tolist() == [
        ["credit_note", code("INV-1"), 800, did], ["credit_note", code("INV-2"), 100, did]]
    after = run(ws, data)
    assert dict(zip(after.aging["line_code"], after.aging["open"].tolist())) == {code("INV-1"): 0,
                                                                                 code("INV-2"): 400}
