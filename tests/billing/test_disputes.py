"""billing.disputes: the SPEC §7 transition table, amounts, SLA flags and the frames the engine takes."""
from __future__ import annotations

import itertools
from datetime import datetime, timezone

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.disputes import (CLOSED_STATES, OPEN_STATES, OUTCOMES, REASONS, STATES, TRANSITIONS, Dispute,
                              DisputeError, DisputeState, InvalidTransition, allowed_next,
                              dispute_lines_frame, disputes_frame, sla_flags, transition, validate_new)
from billing.model import open_dispute_codes
from tests.budget import examples

T0 = datetime(2024, 6, 1, 9, 30, tzinfo=timezone.utc)


def lines_frame(rows: list[dict]) -> pd.DataFrame:
    """Aging-like lines: line_code, invoice_no, customer_id, currency, open (+ kind when given)."""
    base = {"invoice_no": "INV-1", "customer_id": "C1", "currency": "USD", "open": 10_000}
    df = pd.DataFrame([{**base, **r} for r in rows])
    for c in ("line_code", "invoice_no", "customer_id", "currency"):
        df[c] = df[c].astype("string")
    df["open"] = df["open"].astype("int64")
    return df


LINES = lines_frame([
    {"line_code": "L1", "invoice_no": "INV-1", "open": 10_000},
    {"line_code": "L2", "invoice_no": "INV-1", "open": 5_000},
    {"line_code": "L3", "invoice_no": "INV-2", "open": 0},
    {"line_code": "L4", "invoice_no": "INV-3", "customer_id": "C2", "open": 7_000},
    {"line_code": "L5", "invoice_no": "INV-4", "currency": "EUR", "open": 7_000},
])


def new(amount=8_000, codes=("L1",), **kw) -> Dispute:
    kw.setdefault("reason", "price")
    kw.setdefault("owner", "ann")
    kw.setdefault("opened_by", "ann")
    kw.setdefault("at", T0)
    return validate_new(LINES, amount=amount, line_codes=list(codes), **kw)


PATH = {  # how to reach each state from open
    "open": [],
    "in_review": ["in_review"],
    "escalated": ["in_review", "escalated"],
    "resolved": ["in_review", "escalated", "resolved"],
    "rejected": ["in_review", "escalated", "rejected"],
    "withdrawn": ["withdrawn"],
}


def move(d: Dispute, to: str, days: int = 1) -> Dispute:
    extra = {"outcome": "credit_note", "resolved_amount": d.amount} if to == "resolved" else {}
    return transition(d, to, at=d.opened_at + pd.Timedelta(days=days), by="bob", **extra)


def in_state(state: str) -> Dispute:
    d = new()
    for i, step in enumerate(PATH[state], start=1):
        d = move(d, step, days=i)
    assert d.status == state
    return d


# --------------------------------------------------------------------------- transition table

def test_transition_table_is_exactly_the_spec_workflow():
    assert TRANSITIONS == {
        "open": ("in_review", "withdrawn"),
        "in_review": ("resolved", "rejected", "escalated", "withdrawn"),
        "escalated": ("resolved", "rejected"),
        "resolved": (), "rejected": (), "withdrawn": (),
    }
    assert set(OPEN_STATES) == {"open", "in_review", "escalated"}
    assert set(CLOSED_STATES) == {"resolved", "rejected", "withdrawn"}
    assert all(not TRANSITIONS[s] for s in CLOSED_STATES)


@pytest.mark.parametrize("current,to", list(itertools.product(STATES, STATES)))
def test_every_state_pair_is_allowed_or_refused_naming_current_and_allowed_states(current, to):
    d = in_state(current)
    if to in TRANSITIONS[current]:
        out = move(d, to, days=10)
        assert out.status == to and out.version == d.version + 1
        assert out.is_open == (to in OPEN_STATES)
    else:
        with pytest.raises(InvalidTransition) as err:
            move(d, to, days=10)
        msg = str(err.value)
        assert f"'{current}'" in msg and f"'{to}'" in msg
        for allowed in TRANSITIONS[current]:
            assert allowed in msg
        if not TRANSITIONS[current]:
            assert "none" in msg
        assert err.value.current == current and err.value.requested == to
        assert isinstance(err.value, ValueError)


def test_unknown_target_state_is_refused_with_the_list_of_states():
    with pytest.raises(DisputeError, match="unknown dispute state 'closed'"):
        transition(new(), "closed", by="bob")
    with pytest.raises(DisputeError, match="unknown dispute state"):
        allowed_next("nope")
    assert allowed_next("open") == ("in_review", "withdrawn")


def test_review_start_escalation_and_closing_stamp_their_times_and_level():
    d = new()
    assert d.level == 1 and d.status == DisputeState.OPEN and d.review_started_at is None
    r = transition(d, "in_review", at=T0 + pd.Timedelta(days=1), by="bob")
    assert r.review_started_at == T0 + pd.Timedelta(days=1) and r.level == 1
    e = transition(r, "escalated", at=T0 + pd.Timedelta(days=12), by="bob", owner="manager-mia")
    assert e.level == 2 and e.escalated_at == T0 + pd.Timedelta(days=12) and e.owner == "manager-mia"
    done = transition(e, "resolved", at=T0 + pd.Timedelta(days=20), by="mia", outcome="write_off",
                      resolved_amount=3_000)
    assert (done.outcome, done.resolved_amount) == ("write_off", 3_000)
    assert done.closed_at == T0 + pd.Timedelta(days=20)
    assert not done.is_open and done.level == 2
    assert d.status == "open" and r.status == "in_review"  # values are immutable


def test_resolving_requires_an_outcome_and_an_amount_within_the_disputed_amount():
    e = in_state("escalated")
    with pytest.raises(DisputeError, match="outcome"):
        transition(e, "resolved", by="mia", resolved_amount=100)
    with pytest.raises(DisputeError, match="outcome"):
        transition(e, "resolved", by="mia", outcome="rejected", resolved_amount=100)
    with pytest.raises(DisputeError, match="resolved amount"):
        transition(e, "resolved", by="mia", outcome="credit_note")
    with pytest.raises(DisputeError, match="at most the disputed amount 8000"):
        transition(e, "resolved", by="mia", outcome="credit_note", resolved_amount=8_001)
    with pytest.raises(DisputeError, match="more than 0"):
        transition(e, "resolved", by="mia", outcome="credit_note", resolved_amount=0)
    with pytest.raises(DisputeError, match="whole number"):
        transition(e, "resolved", by="mia", outcome="credit_note", resolved_amount=10.5)
    for outcome in ("credit_note", "corrected_invoice", "write_off"):
        assert transition(e, "resolved", by="mia", outcome=outcome, resolved_amount=8_000).outcome == outcome


def test_rejecting_records_the_rejected_outcome_and_nothing_resolved():
    e = in_state("escalated")
    out = transition(e, "rejected", by="mia")
    assert (out.outcome, out.resolved_amount) == ("rejected", 0)
    with pytest.raises(DisputeError, match="outcome 'rejected'"):
        transition(e, "rejected", by="mia", outcome="credit_note")
    assert set(OUTCOMES) == {"credit_note", "corrected_invoice", "write_off", "rejected"}


def test_outcome_or_amount_on_a_non_closing_transition_is_refused():
    with pytest.raises(DisputeError, match="only recorded when resolving"):
        transition(new(), "in_review", by="bob", resolved_amount=5)
    with pytest.raises(DisputeError, match="outcome is only recorded"):
        transition(new(), "withdrawn", by="bob", outcome="write_off")


def test_a_change_needs_who_and_cannot_predate_the_opening():
    with pytest.raises(DisputeError, match="who makes the change"):
        transition(new(), "in_review", by=" ")
    with pytest.raises(DisputeError, match="before the dispute was opened"):
        transition(new(), "in_review", by="bob", at=T0 - pd.Timedelta(days=1))


@settings(max_examples=examples(60))
@given(st.lists(st.sampled_from(STATES), max_size=8))
def test_random_walks_only_follow_the_table_and_closed_states_are_final(steps):
    d = new()
    for to in steps:
        before = d.status
        try:
            d = move(d, to)
        except InvalidTransition:
            assert to not in TRANSITIONS[before]
            continue
        assert to in TRANSITIONS[before]
        assert d.level == (2 if d.escalated_at is not None else 1)
        assert (d.closed_at is not None) == (d.status in CLOSED_STATES)


# --------------------------------------------------------------------------- opening and amounts

def test_a_new_dispute_takes_customer_currency_and_invoice_from_its_lines():
    d = new(amount=15_000, codes=("L1", "L2"), description="unit price 9.90 agreed, billed 10.90")
    assert (d.customer_id, d.currency, d.invoice_no, d.line_codes) == ("C1", "USD", "INV-1", ("L1", "L2"))
    assert (d.status, d.level, d.opened_by, d.opened_at, d.id) == ("open", 1, "ann", T0, None)
    assert set(REASONS) == {"price", "quantity", "damaged", "not_delivered", "duplicate_billing", "other"}


def test_amount_up_to_the_open_amount_of_the_disputed_lines_is_accepted():
    assert new(amount=10_000).amount == 10_000
    assert new(amount=15_000, codes=("L1", "L2")).amount == 15_000
    assert new(amount=1).amount == 1


@pytest.mark.parametrize("amount,message", [
    (10_001, "more than the open amount of the lines \\(10000\\)"),
    (0, "must be positive"),
    (-5, "must be positive"),
    (12.5, "whole number"),
    (True, "whole number"),
    ("100", "whole number"),
    (None, "whole number"),
])
def test_amount_outside_one_to_the_open_amount_is_refused(amount, message):
    with pytest.raises(DisputeError, match=message):
        new(amount=amount)


def test_whole_float_amounts_and_numpy_ints_are_taken_as_minor_units():
    import numpy as np
    assert new(amount=100.0).amount == 100
    assert new(amount=np.int64(250)).amount == 250


@pytest.mark.parametrize("codes,message", [
    (("L1", "L4"), "one customer's lines; these belong to C1, C2"),
    (("L1", "L5"), "one currency; these lines are in EUR, USD"),
    (("L1", "NOPE"), "unknown line code\\(s\\): NOPE"),
    (("L3",), "nothing is open"),
    (("L1", "L1"), "listed twice"),
])
def test_lines_of_several_customers_or_currencies_or_unknown_are_refused(codes, message):
    with pytest.raises(DisputeError, match=message):
        new(amount=100, codes=codes)


def test_a_line_already_in_an_open_dispute_is_refused_but_a_closed_one_frees_it():
    taken = pd.DataFrame({"line_code": ["L1"], "status": ["in_review"]})
    with pytest.raises(DisputeError, match="already in an open dispute: L1"):
        new(disputes=taken)
    closed = pd.DataFrame({"line_code": ["L1"], "status": ["withdrawn"]})
    assert new(disputes=closed).line_codes == ("L1",)


def test_credit_note_lines_cannot_be_disputed():
    lines = lines_frame([{"line_code": "L1", "kind": "invoice"}, {"line_code": "CN", "kind": "credit_note"}])
    with pytest.raises(DisputeError, match="credit note lines cannot be disputed: CN"):
        validate_new(lines, amount=1, line_codes=["CN"], reason="other", owner="a", opened_by="a")


def test_disputing_an_invoice_takes_its_open_lines():
    d = validate_new(LINES, amount=15_000, invoice_no="INV-1", reason="quantity", owner="ann",
                     opened_by="ann")
    assert d.line_codes == ("L1", "L2") and d.invoice_no == "INV-1"
    with pytest.raises(DisputeError, match="invoice INV-2 has no open lines"):
        validate_new(LINES, amount=1, invoice_no="INV-2", reason="quantity", owner="ann", opened_by="ann")
    with pytest.raises(DisputeError, match="not on invoice INV-9"):
        validate_new(LINES, amount=1, line_codes=["L1"], invoice_no="INV-9", reason="price", owner="a",
                     opened_by="a")


def test_reason_owner_and_open_amounts_are_required():
    with pytest.raises(DisputeError, match="unknown reason 'rude'"):
        new(reason="rude")
    with pytest.raises(DisputeError, match="needs an owner"):
        new(owner="  ")
    with pytest.raises(DisputeError, match="needs lines or an invoice"):
        validate_new(LINES, amount=1, reason="price", owner="a", opened_by="a")
    with pytest.raises(DisputeError, match="open"):
        validate_new(LINES.drop(columns="open"), amount=1, line_codes=["L1"], reason="price", owner="a",
                     opened_by="a")
    with pytest.raises(DisputeError, match="review_days"):
        new(review_days=0)


def test_a_lines_spanning_several_invoices_dispute_has_no_single_invoice():
    lines = lines_frame([{"line_code": "A", "invoice_no": "I1"}, {"line_code": "B", "invoice_no": "I2"}])
    d = validate_new(lines, amount=100, line_codes=["A", "B"], reason="price", owner="a", opened_by="a")
    assert d.invoice_no is None


# --------------------------------------------------------------------------- SLA

def sla_case(review_start_days_ago: int, *, status="in_review", review_days=None, as_of="2024-07-01"):
    as_of = pd.Timestamp(as_of)
    start = (as_of - pd.Timedelta(days=review_start_days_ago)).tz_localize("UTC") + pd.Timedelta(hours=15)
    d = new(at=start - pd.Timedelta(days=2), review_days=review_days)
    d = transition(d, "in_review", at=start, by="bob")
    if status == "escalated":
        d = transition(d, "escalated", at=start + pd.Timedelta(days=3), by="bob")
    return sla_flags(disputes_frame([d]), as_of, review_days=10).iloc[0]


def test_a_dispute_in_review_past_review_days_is_flagged_for_escalation():
    row = sla_case(11)
    assert (row["days_in_review"], row["age_days"], bool(row["escalation_due"])) == (11, 13, True)


def test_a_dispute_exactly_at_review_days_is_not_yet_due():
    row = sla_case(10)
    assert row["days_in_review"] == 10 and not row["escalation_due"]


def test_the_disputes_own_review_days_overrides_the_policy_default():
    assert bool(sla_case(6, review_days=5)["escalation_due"])
    assert not sla_case(11, review_days=20)["escalation_due"]


def test_an_escalated_dispute_is_not_due_and_its_review_time_stops_at_escalation():
    row = sla_case(30, status="escalated")
    assert row["days_in_review"] == 3 and not row["escalation_due"]


def test_sla_of_open_and_closed_disputes():
    d = new(at=pd.Timestamp("2024-06-01 10:00", tz="UTC"))
    w = transition(d, "withdrawn", at=pd.Timestamp("2024-06-05 08:00", tz="UTC"), by="ann")
    out = sla_flags(disputes_frame([d, w]), pd.Timestamp("2024-06-30"), review_days=10)
    assert out["age_days"].tolist() == [29, 4]
    assert out["days_in_review"].isna().all() and not out["escalation_due"].any()
    before = sla_flags(disputes_frame([d]), "2024-05-01")  # history before it was opened
    assert before["age_days"].tolist() == [0]


def test_sla_on_no_disputes_gives_the_columns():
    out = sla_flags(disputes_frame([]), "2024-06-30")
    assert {"age_days", "days_in_review", "escalation_due"} <= set(out.columns) and out.empty
    with pytest.raises(ValueError):
        sla_flags(disputes_frame([]), "2024-06-30", review_days=0)


# --------------------------------------------------------------------------- frames for the engine

def test_dispute_lines_frame_is_the_engine_disputes_table_one_row_per_line():
    a = new(amount=100, codes=("L1", "L2")).model_copy(update={"id": 1})
    b = transition(new(amount=100, codes=("L4",)).model_copy(update={"id": 2}), "withdrawn", by="x",
                   at=T0 + pd.Timedelta(hours=1))
    lines = dispute_lines_frame([a, b])
    assert lines[["dispute_id", "line_code", "status"]].astype(object).values.tolist() == [
        [1, "L1", "open"], [1, "L2", "open"], [2, "L4", "withdrawn"]]
    assert open_dispute_codes(lines) == {"L1", "L2"}
    frame = disputes_frame([a, b])
    assert frame["line_codes"].tolist() == ["L1, L2", "L4"] and frame["n_lines"].tolist() == [2, 1]
    assert str(frame["opened_at"].dtype) == "datetime64[ns, UTC]"
    assert dispute_lines_frame(frame).equals(lines)


def test_dispute_values_round_trip_through_json():
    d = in_state("resolved")
    assert Dispute.model_validate(d.as_json()) == d
    with pytest.raises(ValueError):
        Dispute.model_validate({**d.as_json(), "level": 3})


def test_disputes_frame_holds_every_value_of_each_dispute():
    open_one = new(amount=100, codes=("L1", "L2"), description="price list 2024 not applied",
                   review_days=7).model_copy(update={"id": 1})
    closed = in_state("resolved").model_copy(update={"id": 2})
    frame = disputes_frame([open_one, closed])
    for row, d in zip(frame.to_dict("records"), (open_one, closed)):
        for column in ("customer_id", "currency", "invoice_no", "amount", "reason", "description", "owner",
                       "level", "review_days", "opened_at", "opened_by", "review_started_at", "escalated_at",
                       "closed_at", "outcome", "resolved_amount", "version"):
            want = getattr(d, column)
            assert (pd.isna(row[column]) and want is None) or row[column] == want, (column, row[column], want)
        assert (row["id"], row["status"], row["line_codes"]) == (d.id, str(d.status), ", ".join(d.line_codes))
    assert frame.loc[0, "description"] == "price list 2024 not applied" and frame.loc[0, "invoice_no"] == "INV-1"


def test_dispute_lines_frame_carries_each_lines_customer_and_currency():
    a = new(amount=100, codes=("L4",)).model_copy(update={"id": 3})
    b = new(amount=100, codes=("L5",)).model_copy(update={"id": 4})
    for source in ([a, b], disputes_frame([a, b])):
        got = dispute_lines_frame(source)[["line_code", "customer_id", "currency"]].astype(object).values.tolist()
        assert got == [["L4", "C2", "USD"], ["L5", "C1", "EUR"]]


def test_refusals_name_exactly_what_is_wrong():
    lines = lines_frame([{"line_code": "L1", "kind": "invoice"}, {"line_code": "CN1", "kind": "credit_note"},
                         {"line_code": "CN2", "kind": "credit_note"}])
    with pytest.raises(DisputeError) as twice:
        validate_new(lines, amount=1, line_codes=["L1", "L1"], reason="other", owner="a", opened_by="a")
    assert str(twice.value) == "the same line is listed twice"
    with pytest.raises(DisputeError) as credit:
        validate_new(lines, amount=1, line_codes=["L1", "CN2", "CN1"], reason="other", owner="a", opened_by="a")
    assert str(credit.value) == "credit note lines cannot be disputed: CN2, CN1"


def test_who_opens_must_be_named_not_blank():
    with pytest.raises(DisputeError, match="^who opens the dispute must be known$"):
        new(opened_by="   ")
    with pytest.raises(DisputeError, match="^who opens the dispute must be known$"):
        new(opened_by="")


def test_review_days_refusals_name_the_setting():
    with pytest.raises(DisputeError, match="^review_days must be a positive number of days$"):
        new(review_days=-3)
    with pytest.raises(DisputeError, match=r"^review_days .*got 2\.5$"):  # not whole: names the setting, the value
        new(review_days=2.5)


def test_a_whole_invoice_dispute_needs_the_invoice_column_and_skips_lines_without_an_invoice():
    with pytest.raises(DisputeError, match="^lines need an invoice_no column to dispute a whole invoice$"):
        validate_new(LINES.drop(columns="invoice_no"), amount=1, invoice_no="INV-1", reason="price", owner="a",
                     opened_by="a")
    lines = lines_frame([{"line_code": "A", "invoice_no": "I1"}, {"line_code": "B", "invoice_no": None}])
    d = validate_new(lines, amount=100, invoice_no="I1", reason="price", owner="a", opened_by="a")
    assert d.line_codes == ("A",)


def test_lines_already_disputed_are_all_named():
    first = new(amount=100, codes=("L1", "L2")).model_copy(update={"id": 1})
    with pytest.raises(DisputeError, match="^already in an open dispute: L1, L2$"):
        validate_new(LINES, amount=100, line_codes=["L2", "L1"], reason="price", owner="a", opened_by="a",
                     disputes=dispute_lines_frame([first]))


def test_an_overpaid_line_does_not_lower_what_the_other_lines_leave_open():
    # SPEC §7: the amount is at most the open amount of the lines; a line paid beyond its amount
    # (open -500) has nothing open and takes nothing from the 1,000 open on the other line
    lines = lines_frame([{"line_code": "A", "open": 1_000}, {"line_code": "B", "open": -500}])
    d = validate_new(lines, amount=1_000, line_codes=["A", "B"], reason="price", owner="a", opened_by="a")
    assert d.amount == 1_000
    with pytest.raises(DisputeError, match=r"more than the open amount of the lines \(1000\)"):
        validate_new(lines, amount=1_001, line_codes=["A", "B"], reason="price", owner="a", opened_by="a")


def test_resolving_with_a_wrong_outcome_names_the_outcome_given():
    d = in_state("escalated")
    with pytest.raises(DisputeError, match=r"one of credit_note, corrected_invoice, write_off \(got 'rejected'\)$"):
        transition(d, "resolved", at=d.opened_at + pd.Timedelta(days=9), by="bob", outcome="rejected",
                   resolved_amount=d.amount)
    with pytest.raises(DisputeError, match="one of credit_note, corrected_invoice, write_off$"):
        transition(d, "resolved", at=d.opened_at + pd.Timedelta(days=9), by="bob", resolved_amount=d.amount)


def test_as_json_is_plain_json_with_iso_times():
    import json

    d = in_state("resolved")
    data = json.loads(json.dumps(d.as_json()))
    assert data["opened_at"] == d.opened_at.isoformat().replace("+00:00", "Z")
    assert data["status"] == "resolved" and data["line_codes"] == list(d.line_codes)


def test_dispute_tables_have_the_column_types_the_engine_and_store_expect():
    # nullable ints for ids that are unknown before saving, pandas strings, UTC times
    want = {"id": "Int64", "customer_id": "string", "currency": "string", "invoice_no": "string",
            "line_codes": "string", "n_lines": "int64", "amount": "int64", "reason": "string",
            "description": "string", "owner": "string", "level": "int64", "status": "string",
            "review_days": "Int64", "opened_at": "datetime64[ns, UTC]", "opened_by": "string",
            "review_started_at": "datetime64[ns, UTC]", "escalated_at": "datetime64[ns, UTC]",
            "closed_at": "datetime64[ns, UTC]", "outcome": "string", "resolved_amount": "Int64", "version": "int64"}
    lines_want = {"dispute_id": "Int64", "line_code": "string", "status": "string", "customer_id": "string",
                  "currency": "string"}
    for ds in ([], [new(amount=100, codes=("L1", "L2")), in_state("resolved").model_copy(update={"id": 7})]):
        frame = disputes_frame(ds)
        assert {c: str(t) for c, t in frame.dtypes.items()} == want
        for source in (ds, frame):
            assert {c: str(t) for c, t in dispute_lines_frame(source).dtypes.items()} == lines_want
        flags = sla_flags(frame, "2024-07-01")
        assert {c: str(flags[c].dtype) for c in ("age_days", "days_in_review", "escalation_due")} == {
            "age_days": "int64", "days_in_review": "Int64", "escalation_due": "bool"}
