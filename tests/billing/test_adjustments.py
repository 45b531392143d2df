"""Adjustments (SPEC §15) and partial disputes (SPEC §7): hand-computed cases, the oracle, invariants."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.adjustments import AdjustmentError, flagged, sequential_take, validate_new
from billing.aging import line_aging, rollup
from billing.allocation import allocate
from billing.dunning import plan_reminders
from billing.policy import Policy
from tests.billing.test_allocation import _csv, _last, code, inv, issues, oracle, pay, rows, scenarios, unapplied
from tests.budget import examples
from tests.factories import make_customers, make_invoices, make_payments

AS_OF = "2024-03-31"


def adjustments(*rows_: dict) -> pd.DataFrame:
    """Adjustment rows: adjustment_id numbered from 1 unless given, `on` defaulting to 2024-02-15."""
    out = [{"adjustment_id": i + 1, "payment_id": None, "reason": "test", "on": "2024-02-15", **r}
           for i, r in enumerate(rows_)]
    return pd.DataFrame({
        "adjustment_id": pd.array([r["adjustment_id"] for r in out], dtype="int64"),
        "kind": pd.array([r["kind"] for r in out], dtype="string"),
        "line_code": pd.array([r["line_code"] for r in out], dtype="string"),
        "payment_id": pd.array([r["payment_id"] for r in out], dtype="string"),
        "amount": pd.array([r["amount"] for r in out], dtype="int64"),
        "on": pd.to_datetime(pd.Series([r["on"] for r in out], dtype="object")).astype("datetime64[ns]"),
        "reason": pd.array([r["reason"] for r in out], dtype="string"),
    })


def dispute(*codes: str, amount: int | None, dispute_id: int = 1, status: str = "open") -> pd.DataFrame:
    return pd.DataFrame({"dispute_id": pd.array([dispute_id] * len(codes), dtype="Int64"),
                         "line_code": pd.array(list(codes), dtype="string"),
                         "status": pd.array([status] * len(codes), dtype="string"),
                         "amount": pd.array([amount] * len(codes), dtype="Int64"),
                         "seq": pd.array(list(range(len(codes))), dtype="Int64")})


def status_of(result) -> dict[int, tuple[int, str]]:
    a = result.adjustments
    return dict(zip(a["adjustment_id"].tolist(), zip(a["applied"].tolist(), a["status"])))


# --------------------------------------------------------------------------- settling, by hand

def test_sequential_take_follows_the_docstring_example():
    # L open 100: A1 writes off 70; A2 applies 50 of P (120 left) to L; A3 applies 90 of P to M (open 500)
    taken = sequential_take(amount=np.array([70, 50, 90]), line=np.array([0, 0, 1]),
                            line_room=np.array([100, 100, 500]), payment=np.array([-1, 0, 0]),
                            pay_room=np.array([0, 120, 120]))
    assert taken.tolist() == [70, 30, 90]


def test_a_write_off_closes_the_remainder_before_fifo():
    lines = [inv("INV-1", amount=1000), inv("INV-2", date="2024-01-05", amount=500)]
    r = allocate(make_invoices(lines), make_payments([pay("P1", 990)]), AS_OF,
                 adjustments=adjustments({"kind": "write_off", "line_code": code("INV-1"), "amount": 10}))
    assert rows(r) == [("P1", code("INV-1"), 990, "fifo"), ("write_off #1", code("INV-1"), 10, "adjustment")]
    assert unapplied(r) == {}
    assert status_of(r) == {1: (10, "applied")}
    la = r.line_allocated.set_index("line_code")
    assert la.loc[code("INV-1"), "allocated"] == 1000 and la.loc[code("INV-2"), "allocated"] == 0
    # the line is closed on the later of its money and its write-off
    assert la.loc[code("INV-1"), "last_payment_date"] == pd.Timestamp("2024-02-15")


def test_manual_application_pays_the_chosen_line_before_the_reference_steps():
    # P1 names INV-1, but the clerk applied 300 of it to INV-2 by hand: that happens first
    lines = [inv("INV-1", amount=1000), inv("INV-2", amount=500)]
    r = allocate(make_invoices(lines), make_payments([pay("P1", 1100, invoice_no="INV-1")]), AS_OF,
                 adjustments=adjustments({"kind": "apply", "line_code": code("INV-2"), "payment_id": "P1",
                                          "amount": 300}))
    assert rows(r) == [("P1", code("INV-2"), 300, "adjustment"), ("P1", code("INV-1"), 800, "invoice")]
    assert unapplied(r) == {}


def test_adjustments_are_capped_by_what_is_left_and_flag_what_they_cannot_do():
    lines = [inv("INV-1", amount=100), inv("INV-2", amount=100, customer="C2")]
    adj = adjustments(
        {"kind": "write_off", "line_code": code("INV-1"), "amount": 80},
        {"kind": "apply", "line_code": code("INV-1"), "payment_id": "P1", "amount": 50},   # only 20 left
        {"kind": "apply", "line_code": code("INV-1"), "payment_id": "P1", "amount": 5},    # nothing left
        {"kind": "apply", "line_code": code("INV-2"), "payment_id": "P1", "amount": 5},    # other customer
        {"kind": "write_off", "line_code": code("INV-404"), "amount": 5},                  # line gone
        {"kind": "apply", "line_code": code("INV-1"), "payment_id": "P-GONE", "amount": 5},  # payment gone
        {"kind": "write_off", "line_code": code("INV-1"), "amount": 5, "on": "2024-04-02"},  # after as_of
    )
    r = allocate(make_invoices(lines), make_payments([pay("P1", 30)]), AS_OF, adjustments=adj)
    assert status_of(r) == {1: (80, "applied"), 2: (20, "partly_applied"), 3: (0, "nothing_open"),
                            4: (0, "mismatch"), 5: (0, "missing_line"), 6: (0, "missing_payment"),
                            7: (0, "not_effective")}
    assert unapplied(r) == {"P1": 10}
    assert sorted(flagged(r.adjustments)["adjustment_id"].tolist()) == [3, 4, 5, 6]


def test_a_credit_note_request_holds_until_the_credit_note_arrives():
    request = adjustments({"kind": "credit_note", "line_code": code("INV-1"), "amount": 200, "on": "2024-02-10"})
    before = [inv("INV-1", amount=1000)]
    r = allocate(make_invoices(before), make_payments([]), AS_OF, adjustments=request)
    assert rows(r) == [("credit_note #1", code("INV-1"), 200, "adjustment")]
    after = before + [inv("CN-1", date="2024-02-20", amount=-200, applies_to="INV-1")]
    r = allocate(make_invoices(after), make_payments([]), AS_OF, adjustments=request)
    assert status_of(r) == {1: (0, "fulfilled")}
    assert rows(r) == [(code("CN-1"), code("INV-1"), 200, "invoice")]


def test_validate_new_refuses_what_cannot_be_recorded():
    with pytest.raises(AdjustmentError, match="payment id"):
        validate_new("apply", line_code="X", amount=5)
    with pytest.raises(AdjustmentError, match="reason"):
        validate_new("write_off", line_code="X", amount=5)
    with pytest.raises(AdjustmentError, match="positive"):
        validate_new("write_off", line_code="X", amount=0, reason="r")
    with pytest.raises(AdjustmentError, match="whole number"):
        validate_new("write_off", line_code="X", amount=1.5, reason="r")
    assert validate_new("write_off", line_code=" X ", amount=5, reason="small", on="2024-02-01")["on"] == "2024-02-01"


# --------------------------------------------------------------------------- partial disputes, by hand

def test_a_dispute_holds_its_amount_not_the_whole_line():
    # SPEC §7's example: 100.00 disputed on a line of 1,100.00; FIFO pays the other 1,000.00
    lines = make_invoices([inv("INV-1", amount=110_000, due_date="2024-01-31"),
                           inv("INV-2", amount=50_000, due_date="2024-02-10")])
    d = dispute(code("INV-1"), amount=10_000)
    r = allocate(lines, make_payments([pay("P1", 120_000)]), AS_OF, Policy(), d)
    assert rows(r) == [("P1", code("INV-1"), 100_000, "fifo"), ("P1", code("INV-2"), 20_000, "fifo")]
    aging = line_aging(lines, r, AS_OF, Policy(), d)
    assert aging.set_index("line_code").loc[code("INV-1"), ["open", "disputed"]].tolist() == [10_000, 10_000]
    assert rollup(aging, ["currency"], r.unapplied)["in_dispute"].tolist() == [10_000]


def test_a_dispute_over_several_lines_fills_them_in_order():
    lines = make_invoices([inv("INV-1", amount=8_000), inv("INV-1", line_no=2, amount=5_000)])
    d = dispute(code("INV-1", 1), code("INV-1", 2), amount=10_000)
    r = allocate(lines, make_payments([pay("P1", 20_000)]), AS_OF, Policy(), d)
    assert rows(r) == [("P1", code("INV-1", 2), 3_000, "fifo")]   # 8,000 + 2,000 held
    aging = line_aging(lines, r, AS_OF, Policy(), d)
    assert aging["disputed"].tolist() == [8_000, 2_000]


def test_reminders_list_only_the_undisputed_open_amount():
    lines = make_invoices([inv("INV-1", amount=110_000, due_date="2024-02-01"),
                           inv("INV-2", amount=5_000, due_date="2024-02-01")])
    d = pd.concat([dispute(code("INV-1"), amount=10_000), dispute(code("INV-2"), amount=5_000, dispute_id=2)])
    r = allocate(lines, make_payments([]), AS_OF, Policy(), d)
    acme = make_customers([{"customer_id": "C1", "name": "Acme", "email": "ar@acme.test", "language": "en"}])
    plan = plan_reminders(line_aging(lines, r, AS_OF, Policy(), d), acme, None, AS_OF)
    reminded = {ln.line_code: ln.open for rem in plan.reminders for ln in rem.lines}
    assert reminded == {code("INV-1"): 100_000}
    assert list(zip(plan.skipped["line_code"], plan.skipped["reason"])) == [(code("INV-2"), "in_dispute")]


# --------------------------------------------------------------------------- properties

@st.composite
def adjusted_scenarios(draw):
    """scenarios() plus adjustments naming its lines and payments (and some that are gone)."""
    lines, payments, as_of, policy, disputes = draw(scenarios())
    codes = list(lines["line_code"]) + [code("INV-404")]
    pids = list(payments["payment_id"]) + ["P-GONE"]
    rows_ = []
    for i in draw(st.lists(st.integers(1, 60), unique=True, max_size=6)):
        kind = draw(st.sampled_from(["write_off", "apply", "apply", "credit_note"]))
        rows_.append({"adjustment_id": i, "kind": kind, "line_code": draw(st.sampled_from(codes)),
                      "payment_id": draw(st.sampled_from(pids)) if kind == "apply" else None,
                      "amount": draw(st.one_of(st.sampled_from([1, 100, 10 ** 6]), st.integers(1, 4000))),
                      "on": pd.Timestamp("2024-01-01") + pd.Timedelta(days=draw(st.integers(0, 45)))})
    return lines, payments, as_of, policy, disputes, adjustments(*rows_) if rows_ else adjustments()


@settings(max_examples=examples(250), deadline=None)
@given(adjusted_scenarios())
def test_engine_with_adjustments_equals_the_oracle_and_conserves_every_cent(case):
    lines, payments, as_of, policy, disputes, adj = case
    r = allocate(lines, payments, as_of, policy, disputes, adjustments=adj)
    o = oracle(lines, payments, as_of, policy, disputes, adj)
    assert rows(r) == o["allocations"]
    assert unapplied(r) == o["unapplied"]
    assert list(r.effective_payments["payment_id"]) == [p["id"] for p in o["payments"]]
    la = r.line_allocated
    assert dict(zip(la["line_code"], zip(la["allocated"].tolist(), map(_last, la["last_payment_date"])))) \
        == o["line_allocated"]
    assert issues(r) == o["issues"]
    # conservation: each payment's allocations + unapplied = its amount; no line over its amount
    paid = r.allocations.groupby("payment_id")["amount"].sum().to_dict()
    for pid, amount in zip(r.effective_payments["payment_id"], r.effective_payments["amount"].tolist()):
        assert paid.get(pid, 0) + unapplied(r).get(pid, 0) == max(amount, 0), pid
    per_line = r.allocations.groupby("line_code")["amount"].sum()
    amount_of = dict(zip(lines["line_code"], lines["amount"].tolist()))
    assert all(total <= amount_of[c] for c, total in per_line.items())
    assert (r.allocations["amount"] > 0).all() and (r.line_allocated["allocated"] >= 0).all()
    res = r.adjustments
    assert ((res["applied"] >= 0) & (res["applied"] <= res["amount"])).all()
    assert res["applied"].sum() == r.allocations.loc[r.allocations["step"] == "adjustment", "amount"].sum()


@settings(max_examples=examples(120), deadline=None)
@given(adjusted_scenarios(), st.randoms(use_true_random=False))
def test_adjustments_do_not_depend_on_row_order(case, rnd):
    lines, payments, as_of, policy, disputes, adj = case
    first = _csv(allocate(lines, payments, as_of, policy, disputes, adjustments=adj))
    li, pi, ai = list(range(len(lines))), list(range(len(payments))), list(range(len(adj)))
    for order in (li, pi, ai):
        rnd.shuffle(order)
    again = allocate(lines.iloc[li], payments.iloc[pi], as_of, policy, disputes.iloc[::-1],
                     adjustments=adj.iloc[ai])
    assert _csv(again) == first


@settings(max_examples=examples(150), deadline=None)
@given(scenarios())
def test_a_dispute_of_the_whole_line_behaves_exactly_as_before(case):
    """A dispute without an amount (today's frames) and one whose amount covers its lines give the
    same allocation and aging, byte for byte."""
    lines, payments, as_of, policy, disputes = case
    whole = disputes[["line_code", "status"]]
    covering = disputes.assign(amount=pd.array([10 ** 9] * len(disputes), dtype="Int64"))
    a, b = allocate(lines, payments, as_of, policy, whole), allocate(lines, payments, as_of, policy, covering)
    assert _csv(a) == _csv(b)
    aging_a, aging_b = line_aging(lines, a, as_of, policy, whole), line_aging(lines, b, as_of, policy, covering)
    pd.testing.assert_frame_equal(aging_a, aging_b)
    held = aging_a["disputed"].to_numpy()
    assert (held == np.where(aging_a["in_dispute"], np.maximum(aging_a["open"], 0), 0)).all()

