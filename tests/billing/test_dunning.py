"""billing.dunning: levels one at a time, the reminder level, skip reasons, retries and the policy."""
from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest
from pydantic import ValidationError

from billing.aging import line_aging
from billing.allocation import allocate
from billing.dunning import (DunningPolicy, ReminderLine, key_level, load_dunning_policy, plan_reminders,
                             split_key_level)
from billing.linecode import make_code
from tests.factories import make_customers, make_invoices, make_payments

AS_OF = pd.Timestamp("2024-06-30")
NOW = pd.Timestamp("2024-06-30 08:00", tz="UTC")


def due_in(days_past_due: int) -> pd.Timestamp:
    return AS_OF - pd.Timedelta(days=days_past_due)


def aging_of(lines: list[dict], payments: list[dict] | None = None) -> pd.DataFrame:
    inv = make_invoices(lines)
    pay = make_payments(payments or [])
    return line_aging(inv, allocate(inv, pay, AS_OF), AS_OF)


def line(inv: str, cust: str, dpd: int, amount: int = 100_00, line_no: int = 1, currency: str = "USD") -> dict:
    due = due_in(dpd)
    return {"invoice_no": inv, "line_no": line_no, "customer_id": cust, "invoice_date": due - pd.Timedelta(days=30),
            "due_date": due, "amount": amount, "currency": currency}


def customers(*rows: dict) -> pd.DataFrame:
    base = [{"customer_id": "C1", "name": "Acme", "email": "ar@acme.test", "language": "en"}]
    return make_customers(list(rows) or base)


def log(*rows: tuple) -> pd.DataFrame:
    """Reminder-log rows (line_code, stored level, status, days before AS_OF, customer)."""
    recs = []
    for i, (code, level, status, ago, cust) in enumerate(rows, start=1):
        at = NOW - pd.Timedelta(days=ago)
        recs.append({"id": i, "line_code": code, "level": level, "customer_id": cust,
                     "channel": split_key_level(level)[1], "status": status, "attempts": 1,
                     "error": "boom" if status == "failed" else None, "created_at": at, "claimed_at": at,
                     "sent_at": at if status == "sent" else pd.NaT, "action_id": f"a{i}"})
    return pd.DataFrame(recs)


def plan(aging, cust=None, reminder_log=None, policy=DunningPolicy(), disputes=None):
    return plan_reminders(aging, customers() if cust is None else cust, reminder_log, AS_OF, policy, disputes)


L1, L2, L3 = make_code("INV-1", 1), make_code("INV-2", 1), make_code("INV-3", 1)


# --------------------------------------------------------------------------- policy

def test_default_policy_is_the_spec():
    p = DunningPolicy()
    assert [(lv.name, lv.days, lv.enabled) for lv in p.levels] == [
        ("courtesy", -3, False), ("first", 1, True), ("second", 15, True), ("final", 30, True)]
    assert p.min_interval_days == 5 and p.level("final").channels == ("email", "sms")
    assert [lv.name for lv in p.active_levels] == ["first", "second", "final"]


def test_policy_from_toml_changes_levels_by_name_and_refuses_unknown_keys():
    p = load_dunning_policy("""
min_interval_days = 7
min_amount = "10.00"
min_amount_by_currency = { jpy = "1000" }
include_not_due = true
[levels.courtesy]
enabled = true
[levels.final]
days = 45
channels = ["sms"]
""")
    assert p.min_interval_days == 7 and p.include_not_due
    assert [(lv.name, lv.days, lv.enabled) for lv in p.levels][0] == ("courtesy", -3, True)
    assert p.level("final").days == 45 and p.level("final").channels == ("sms",)
    assert p.min_amount_minor("USD") == 1000 and p.min_amount_minor("JPY") == 1000
    assert p.min_amount_minor("BHD") == 10_000
    with pytest.raises(ValidationError, match="minimum_amount"):
        load_dunning_policy("minimum_amount = 5")
    with pytest.raises(ValidationError, match="increasing"):
        load_dunning_policy("[levels.second]\ndays = 40")
    with pytest.raises(ValidationError, match="channels"):
        load_dunning_policy("[levels.first]\nchannels = ['fax']")
    full = load_dunning_policy("[[levels]]\nname = 'only'\ndays = 10\n")
    assert [lv.name for lv in full.levels] == ["only"]


def test_keys_are_per_channel():
    assert key_level("first", "email") == "first" and key_level("final", "sms") == "final:sms"
    assert split_key_level("final:sms") == ("final", "sms") and split_key_level("second") == ("second", "email")


# --------------------------------------------------------------------------- levels

@pytest.mark.parametrize("dpd, expected", [(-5, None), (0, None), (1, "first"), (14, "first"), (40, "first")])
def test_a_line_never_reminded_gets_the_first_level_however_late(dpd, expected):
    p = plan(aging_of([line("INV-1", "C1", dpd)]))
    got = p.reminders[0].level if p.reminders else None
    assert got == expected


def test_one_level_at_a_time_from_the_log():
    aging = aging_of([line("INV-1", "C1", 40)])
    p = plan(aging, reminder_log=log((L1, "first", "sent", 20, "C1")))
    assert p.reminders[0].level == "second"
    p = plan(aging, reminder_log=log((L1, "first", "sent", 30, "C1"), (L1, "second", "sent", 10, "C1")))
    assert p.reminders[0].level == "final"
    assert p.reminders[0].keys("email") == [(L1, "final")] and p.reminders[0].keys("sms") == [(L1, "final:sms")]
    p = plan(aging, reminder_log=log((L1, "first", "sent", 30, "C1"), (L1, "second", "sent", 20, "C1"),
                                     (L1, "final:sms", "sent", 10, "C1")))
    assert p.reminders == [] and p.skipped["reason"].tolist() == ["final_level_sent"]


def test_next_level_waits_for_its_days():
    p = plan(aging_of([line("INV-1", "C1", 10)]), reminder_log=log((L1, "first", "sent", 9, "C1")))
    assert p.reminders == [] and len(p.skipped) == 0  # second is at +15: nothing due yet


def test_courtesy_is_optional_and_only_before_the_due_date():
    on = DunningPolicy(levels={"courtesy": {"enabled": True}})
    aging = aging_of([line("INV-1", "C1", -3), line("INV-2", "C1", -4), line("INV-3", "C1", 5)])
    p = plan(aging, policy=on)
    r = p.reminders[0]
    by_code = {ln.line_code: ln.level for ln in r.lines}
    assert by_code == {L1: "courtesy", L3: "first"}  # -4 not yet; +5 skips courtesy, gets first
    assert r.level == "first"
    assert plan(aging_of([line("INV-1", "C1", -2)])).reminders == []  # courtesy off by default


def test_reminder_level_is_the_highest_and_each_line_keeps_its_own():
    aging = aging_of([line("INV-1", "C1", 40), line("INV-2", "C1", 3)])
    p = plan(aging, reminder_log=log((L1, "first", "sent", 30, "C1"), (L1, "second", "sent", 10, "C1")))
    (r,) = p.reminders
    assert r.level == "final" and r.channels == ("email",)  # no phone: sms dropped, email stays
    assert sorted(r.keys("email")) == sorted([(L1, "final"), (L2, "first")])
    assert r.totals == {"USD": 200_00}


def test_sms_only_when_the_level_has_it_and_a_phone_is_known():
    cust = customers({"customer_id": "C1", "name": "Acme", "phone": "+36 30 123 4567"})
    aging = aging_of([line("INV-1", "C1", 40)])
    p = plan(aging, cust, log((L1, "first", "sent", 30, "C1"), (L1, "second", "sent", 10, "C1")))
    assert p.reminders[0].channels == ("sms",)
    p = plan(aging, cust)  # first is email only, and there is no email
    assert p.reminders == [] and set(p.skipped["reason"]) == {"no_contact"}


# --------------------------------------------------------------------------- skips

def test_every_skip_carries_its_reason():
    cust = customers(
        {"customer_id": "C1", "name": "Ok", "email": "ok@x.test"},
        {"customer_id": "C2", "name": "Blocked", "email": "b@x.test", "dunning_blocked": True},
        {"customer_id": "C3", "name": "Small", "email": "s@x.test"},
        {"customer_id": "C4", "name": "Recent", "email": "r@x.test"},
        {"customer_id": "C5", "name": "Nobody"},
        {"customer_id": "C6", "name": "Paid", "email": "p@x.test"},
        {"customer_id": "C7", "name": "Crashed", "email": "c@x.test"},
    )
    lines = [line("A-1", "C1", 20), line("A-2", "C1", 20), line("B-1", "C2", 20), line("S-1", "C3", 20, 5_00),
             line("R-1", "C4", 20), line("R-2", "C4", 20), line("N-1", "C5", 20), line("P-1", "C6", 20),
             line("K-1", "C7", 20)]
    aging = aging_of(lines, [{"payment_id": "PAY1", "customer_id": "C6", "payment_date": AS_OF - pd.Timedelta(days=1),
                              "amount": 100_00, "invoice_no": "P-1"}])
    code = {r["invoice_no"]: make_code(r["invoice_no"], 1) for r in lines}
    disputes = pd.DataFrame({"line_code": [code["A-2"]], "status": ["in_review"]})
    reminder_log = log((code["R-1"], "first", "sent", 2, "C4"), (code["P-1"], "first", "failed", 3, "C6"),
                       (code["K-1"], "first", "queued", 1, "C7"))
    p = plan(aging, cust, reminder_log, DunningPolicy(min_amount=Decimal("10")), disputes)
    assert [r.customer_id for r in p.reminders] == ["C1"]
    assert p.reminders[0].line_codes == [code["A-1"]]
    reasons = dict(zip(p.skipped["line_code"], p.skipped["reason"]))
    assert reasons == {code["A-2"]: "in_dispute", code["B-1"]: "dunning_blocked", code["S-1"]: "under_minimum",
                       code["R-1"]: "reminded_recently", code["R-2"]: "reminded_recently", code["N-1"]: "no_contact", code["P-1"]: "fully_paid",
                       code["K-1"]: "unconfirmed_claim"}
    assert p.skipped["detail"].notna().all()
    assert p.unconfirmed[["line_code", "level", "customer_id"]].values.tolist() == [[code["K-1"], "first", "C7"]]
    by_cust = p.skipped_customers()
    assert set(by_cust["customer_id"]) == {"C1", "C2", "C3", "C4", "C5", "C6", "C7"}
    summary = p.summary()
    assert summary["reminders"] == 1 and summary["unconfirmed"] == 1 and summary["skipped_lines"]["no_contact"] == 1


def test_reminded_recently_counts_days_from_the_last_send():
    aging = aging_of([line("INV-1", "C1", 40), line("INV-2", "C1", 40)])
    sent = lambda ago: log((L1, "first", "sent", ago, "C1"))  # noqa: E731
    assert plan(aging, reminder_log=sent(4)).reminders == []
    r = plan(aging, reminder_log=sent(5)).reminders[0]
    assert r.level == "second" and {ln.line_code: ln.level for ln in r.lines} == {L1: "second", L2: "first"}


def test_minimum_is_per_currency():
    aging = aging_of([line("INV-1", "C1", 20, 5_00, currency="EUR"), line("INV-2", "C1", 20, 50_00)])
    p = plan(aging, policy=DunningPolicy(min_amount=Decimal("10")))
    assert p.reminders[0].line_codes == [L2]
    assert p.skipped["reason"].tolist() == ["under_minimum"]
    p = plan(aging, policy=DunningPolicy(min_amount_by_currency={"EUR": Decimal("1")}, min_amount=Decimal("100")))
    assert p.reminders[0].line_codes == [L1]


def test_customer_missing_from_the_customers_table_has_no_contact():
    p = plan(aging_of([line("INV-1", "ZZ", 20)]))
    assert p.reminders == [] and p.skipped.loc[0, "reason"] == "no_contact"
    assert "customers table" in p.skipped.loc[0, "detail"]


# --------------------------------------------------------------------------- retries, claims

def test_a_failed_send_is_retried_at_the_same_level():
    aging = aging_of([line("INV-1", "C1", 40)])
    p = plan(aging, reminder_log=log((L1, "first", "failed", 1, "C1")))
    (r,) = p.reminders
    assert r.level == "first" and r.retry and r.lines[0].retry
    p = plan(aging, reminder_log=log((L1, "first", "failed", 1, "C1")), policy=DunningPolicy(retry_failed=False))
    assert p.reminders == [] and p.skipped["reason"].tolist() == ["send_failed"]


def test_a_failed_email_is_retried_even_when_the_sms_of_the_same_reminder_went_out():
    # The final level goes out by e-mail and SMS; today the SMS went out and the e-mail failed.
    aging = aging_of([line("INV-1", "C1", 40)])
    cust = customers({"customer_id": "C1", "name": "Acme", "email": "ar@acme.test", "phone": "+3630555123",
                      "language": "en"})
    had = log((L1, "first", "sent", 30, "C1"), (L1, "second", "sent", 20, "C1"),
              (L1, "final:sms", "sent", 0, "C1"), (L1, "final", "failed", 0, "C1"))
    (r,) = plan(aging, cust, reminder_log=had).reminders
    assert (r.level, r.channels, r.retry) == ("final", ("email",), True)
    assert r.keys("email") == [(L1, "final")] and r.keys("sms") == []  # the SMS is never sent twice
    delivered = log((L1, "first", "sent", 30, "C1"), (L1, "second", "sent", 20, "C1"),
                    (L1, "final:sms", "sent", 0, "C1"), (L1, "final", "sent", 0, "C1"))
    p = plan(aging, cust, reminder_log=delivered)
    assert p.reminders == [] and p.skipped["reason"].tolist() == ["final_level_sent"]


def test_the_interval_still_holds_back_a_new_level_beside_a_retry():
    aging = aging_of([line("INV-1", "C1", 40), line("INV-2", "C1", 20)])
    cust = customers({"customer_id": "C1", "name": "Acme", "email": "ar@acme.test", "phone": "+3630555123",
                      "language": "en"})
    had = log((L1, "first", "sent", 30, "C1"), (L1, "second", "sent", 20, "C1"),
              (L1, "final:sms", "sent", 1, "C1"), (L1, "final", "failed", 1, "C1"))
    p = plan(aging, cust, reminder_log=had)
    (r,) = p.reminders
    assert r.line_codes == [L1] and r.channels == ("email",)
    assert dict(zip(p.skipped["line_code"], p.skipped["reason"])) == {L2: "reminded_recently"}


def test_a_queued_claim_is_never_planned_again_and_counts_as_recent():
    aging = aging_of([line("INV-1", "C1", 40), line("INV-2", "C1", 40)])
    p = plan(aging, reminder_log=log((L1, "first", "queued", 1, "C1")))
    assert p.reminders == []  # L2 waits too: the customer may have been reminded a day ago
    assert dict(zip(p.skipped["line_code"], p.skipped["reason"])) == {L1: "unconfirmed_claim",
                                                                       L2: "reminded_recently"}
    p = plan(aging, reminder_log=log((L1, "first", "queued", 30, "C1")))
    assert [r.line_codes for r in p.reminders] == [[L2]] and len(p.unconfirmed) == 1


def test_statement_lists_other_open_lines_and_not_due_ones_on_request():
    aging = aging_of([line("INV-1", "C1", 20), line("INV-2", "C1", 3), line("INV-3", "C1", -10)])
    reminder_log = log((L2, "first", "sent", 30, "C1"))
    r = plan(aging, reminder_log=reminder_log).reminders[0]
    assert r.line_codes == [L1] and [ln.line_code for ln in r.statement] == [L2]
    r = plan(aging, reminder_log=reminder_log, policy=DunningPolicy(include_not_due=True)).reminders[0]
    assert [ln.line_code for ln in r.statement] == [L2, L3]
    assert r.statement_totals == {"USD": 300_00} and r.totals == {"USD": 100_00}


def test_only_keeps_the_claimed_lines_and_recomputes_the_level():
    aging = aging_of([line("INV-1", "C1", 40), line("INV-2", "C1", 3)])
    p = plan(aging, reminder_log=log((L1, "first", "sent", 30, "C1"), (L1, "second", "sent", 10, "C1")))
    r = p.reminders[0].only([L2])
    assert r.level == "first" and r.line_codes == [L2] and [ln.line_code for ln in r.statement] == [L1]
    assert isinstance(r.statement[0], ReminderLine) and r.statement[0].level is None


def test_due_frame_has_one_row_per_reminded_line():
    aging = aging_of([line("INV-1", "C1", 20), line("INV-2", "C1", 20)])
    df = plan(aging).due_frame()
    assert df["line_code"].tolist() == [L1, L2] and (df["level"] == "first").all()
    assert str(df["open"].dtype) == "int64"


def test_plan_does_not_depend_on_row_order():
    rows = [line(f"INV-{i}", f"C{i % 3}", 5 + i) for i in range(9)]
    cust = customers(*[{"customer_id": f"C{i}", "name": f"N{i}", "email": f"c{i}@x.test"} for i in range(3)])
    a = plan(aging_of(rows), cust)
    b = plan(aging_of(rows[::-1]), cust)
    assert [(r.customer_id, r.line_codes) for r in a.reminders] == [(r.customer_id, r.line_codes) for r in b.reminders]


def test_a_paid_line_with_an_unconfirmed_reminder_is_shown_as_fully_paid_not_dropped():
    """The reminder's delivery is unknown (SPEC §18) and the line is now paid: the plan says so."""
    aging = aging_of([line("INV-1", "C1", 5), line("INV-2", "C1", 5)],
                     [{"payment_id": "P1", "customer_id": "C1", "payment_date": AS_OF - pd.Timedelta(days=1),
                       "amount": 100_00, "line_code": L1}])
    p = plan(aging, reminder_log=log((L1, "first", "queued", 1, "C1")))
    assert dict(zip(p.skipped["line_code"], p.skipped["reason"]))[L1] == "fully_paid"
    assert L1 not in [c for r in p.reminders for c in r.line_codes]


# --------------------------------------------------------------------------- frames and flags (from the mutation run)

def test_due_frame_columns_types_and_values():
    from billing.dunning import REMINDER_COLUMNS

    cust = customers({"customer_id": "C1", "name": "Acme", "email": "ar@acme.test", "phone": "+3630555123",
                      "language": "hu"})
    aging = aging_of([line("INV-1", "C1", 40)])
    df = plan(aging, cust, log((L1, "first", "sent", 30, "C1"), (L1, "second", "sent", 10, "C1"))).due_frame()
    assert list(df.columns) == REMINDER_COLUMNS
    assert df.iloc[0].to_dict() == {
        "customer_id": "C1", "name": "Acme", "language": "hu", "level": "final", "channels": "email, sms",
        "email": "ar@acme.test", "phone": "+3630555123", "line_code": L1, "invoice_no": "INV-1", "currency": "USD",
        "open": 100_00, "due_date": due_in(40), "days_past_due": 40, "line_level": "final", "retry": False}
    assert {c: str(t) for c, t in df.dtypes.items() if c in ("open", "days_past_due", "due_date", "retry")} == {
        "open": "int64", "due_date": "datetime64[ns]", "days_past_due": "int64", "retry": "bool"}


def test_skipped_customers_sum_each_customers_lines_per_reason_and_currency():
    cust = customers({"customer_id": "C1", "name": "Acme", "email": "ar@acme.test", "dunning_blocked": True},
                     {"customer_id": "C2", "name": "Nobody"})
    aging = aging_of([line("INV-1", "C1", 20, 30_00), line("INV-2", "C1", 25, 12_00),
                      line("INV-3", "C1", 20, 5_00, currency="EUR"), line("INV-4", "C2", 20, 7_00)])
    got = plan(aging, cust).skipped_customers()
    assert list(got.columns) == ["customer_id", "reason", "currency", "n_lines", "open", "detail"]
    rows = got[["customer_id", "reason", "currency", "n_lines", "open"]].astype(object).values.tolist()
    assert rows == [["C1", "dunning_blocked", "EUR", 1, 5_00], ["C1", "dunning_blocked", "USD", 2, 42_00],
                    ["C2", "no_contact", "USD", 1, 7_00]]
    assert got["detail"].notna().all()
    empty = plan(aging_of([line("INV-1", "C1", 20)])).skipped_customers()
    assert len(empty) == 0 and {c: str(t) for c, t in empty.dtypes.items()} == {
        "customer_id": "string", "reason": "string", "currency": "string", "n_lines": "int64", "open": "int64",
        "detail": "string"}


def test_summary_counts_reminders_per_level_and_channel():
    cust = customers(*[{"customer_id": c, "name": c, "email": f"{c}@x.test"} for c in ("C1", "C2", "C3")])
    aging = aging_of([line("INV-1", "C1", 20), line("INV-2", "C2", 20), line("INV-3", "C3", 20)])
    summary = plan(aging, cust, log((L3, "first", "sent", 30, "C3"))).summary()
    assert summary["per_level"] == {"first": 2, "second": 1}
    assert summary["per_channel"] == {"email": 3} and summary["reminders"] == 3 and summary["lines"] == 3


@pytest.mark.parametrize("flag, blocked", [("yes", True), ("Y", True), ("1", True), ("true", True), ("x", True),
                                           ("igen", True), ("是", True), (" YES ", True), (True, True), (1, True),
                                           ("no", False), ("0", False), ("", False), (None, False), (0, False)])
def test_a_dunning_block_flag_is_read_in_the_ways_people_write_yes(flag, blocked):
    cust = customers({"customer_id": "C1", "name": "Acme", "email": "ar@acme.test"})
    cust["dunning_blocked"] = pd.Series([flag], dtype=object)
    p = plan(aging_of([line("INV-1", "C1", 20)]), cust)
    assert (p.reminders == [] and p.skipped["reason"].tolist() == ["dunning_blocked"]) is blocked


def test_the_first_row_of_a_customer_wins():
    cust = customers({"customer_id": "C1", "name": "Acme", "email": "first@acme.test"},
                     {"customer_id": "C1", "name": "Acme again", "email": "second@acme.test"})
    (r,) = plan(aging_of([line("INV-1", "C1", 20)]), cust).reminders
    assert (r.name, r.email) == ("Acme", "first@acme.test")


def test_a_reminder_log_with_only_the_key_columns_is_read():
    minimal = log((L1, "first", "sent", 30, "C1"))[["line_code", "level", "status", "sent_at", "customer_id"]]
    (r,) = plan(aging_of([line("INV-1", "C1", 40)]), reminder_log=minimal).reminders
    assert r.level == "second"


def test_an_unconfirmed_claim_shows_when_it_was_claimed():
    had = log((L1, "first", "queued", 30, "C1"))
    had["created_at"] = had["claimed_at"] - pd.Timedelta(days=3)
    p = plan(aging_of([line("INV-1", "C1", 40)]), reminder_log=had)
    assert p.unconfirmed["claimed_at"].tolist() == [NOW - pd.Timedelta(days=30)]
    had["claimed_at"] = None  # never claimed: the row's creation time
    p = plan(aging_of([line("INV-1", "C1", 40)]), reminder_log=had)
    assert p.unconfirmed["claimed_at"].tolist() == [NOW - pd.Timedelta(days=33)]


def test_only_takes_the_highest_level_of_the_claimed_lines_and_keeps_it_when_none_were():
    # the later line was never reminded (first), the other one already had first and second (final)
    aging = aging_of([line("INV-1", "C1", 40), line("INV-2", "C1", 35)])
    p = plan(aging, reminder_log=log((L2, "first", "sent", 30, "C1"), (L2, "second", "sent", 10, "C1")))
    r = p.reminders[0]
    assert [(ln.line_code, ln.level) for ln in r.lines] == [(L1, "first"), (L2, "final")]
    assert r.only([L1, L2]).level == "final" and r.only([L1]).level == "first"
    nothing = r.only([])
    assert nothing.level == "final" and nothing.lines == () and len(nothing.statement) == 2


def test_a_plan_finds_each_customers_reminder():
    cust = customers(*[{"customer_id": c, "name": c, "email": f"{c}@x.test"} for c in ("C1", "C2")])
    p = plan(aging_of([line("INV-1", "C1", 20), line("INV-2", "C2", 20)]), cust)
    assert p.reminder("C2").line_codes == [L2] and p.reminder("C1").line_codes == [L1]
    assert p.reminder("C9") is None


def test_a_line_the_aging_marks_in_dispute_is_not_reminded_without_a_disputes_table():
    aging = aging_of([line("INV-1", "C1", 20), line("INV-2", "C1", 20)])
    marked = aging["line_code"] == L1  # a whole-line dispute: the aging holds all that is open
    aging.loc[marked, "in_dispute"] = True
    aging.loc[marked, "disputed"] = aging.loc[marked, "open"]
    p = plan(aging)
    assert [r.line_codes for r in p.reminders] == [[L2]]
    assert p.skipped[["line_code", "invoice_no", "reason"]].values.tolist() == [[L1, "INV-1", "in_dispute"]]


def test_reminder_lines_carry_their_invoice_and_due_dates():
    (r,) = plan(aging_of([line("INV-1", "C1", 20)])).reminders
    (ln,) = r.lines
    assert (ln.invoice_date, ln.due_date) == ((due_in(20) - pd.Timedelta(days=30)).date(), due_in(20).date())


def test_the_skip_details_say_what_is_missing_and_which_minimum():
    cust = customers({"customer_id": "C1", "name": "Acme", "phone": "+3630555123"},
                     {"customer_id": "C2", "name": "Small", "email": "s@x.test"})
    aging = aging_of([line("INV-1", "C1", 20), line("INV-2", "C2", 20, 5_00)])
    p = plan(aging, cust, policy=DunningPolicy(min_amount=Decimal("10")))
    assert p.skipped[["customer_id", "reason", "detail"]].values.tolist() == [
        ["C1", "no_contact", "no email for the first reminder"],
        ["C2", "under_minimum", "USD total due is under the minimum (10)"]]


def test_a_customer_without_contact_does_not_stop_the_others():
    cust = customers({"customer_id": "C1", "name": "No address"},
                     {"customer_id": "C2", "name": "Acme", "email": "ar@acme.test"})
    p = plan(aging_of([line("INV-1", "C1", 20), line("INV-2", "C2", 20)]), cust)
    assert [r.customer_id for r in p.reminders] == ["C2"]


def test_a_retry_with_no_channel_left_to_send_is_skipped_not_sent_twice():
    # final went out by SMS, its e-mail failed, and the customer has no e-mail address any more
    cust = customers({"customer_id": "C1", "name": "Acme", "phone": "+3630555123", "language": "en"})
    had = log((L1, "first", "sent", 30, "C1"), (L1, "second", "sent", 20, "C1"),
              (L1, "final:sms", "sent", 0, "C1"), (L1, "final", "failed", 0, "C1"))
    p = plan(aging_of([line("INV-1", "C1", 40)]), cust, reminder_log=had)
    assert p.reminders == []
    assert p.skipped[["line_code", "level", "reason"]].values.tolist() == [[L1, "final", "no_contact"]]


def test_a_currency_under_the_minimum_is_left_out_of_the_statement_too():
    # L1 USD is reminded; EUR: L2 would be reminded but EUR is under the minimum, L3 (first sent 10 days ago,
    # second not due before 15 days) would only be listed
    aging = aging_of([line("INV-1", "C1", 20), line("INV-2", "C1", 20, 1_00, currency="EUR"),
                      line("INV-3", "C1", 10, 1_00, currency="EUR")])
    p = plan(aging, reminder_log=log((L3, "first", "sent", 9, "C1")), policy=DunningPolicy(
        min_amount=Decimal("10"), min_interval_days=1))
    (r,) = p.reminders
    assert r.line_codes == [L1] and r.statement == ()


def test_the_skipped_table_has_its_columns_and_types():
    from billing.dunning import SKIP_COLUMNS

    cust = customers({"customer_id": "C1", "name": "Acme", "email": "ar@acme.test", "dunning_blocked": True})
    skipped = plan(aging_of([line("INV-1", "C1", 20)]), cust).skipped
    assert list(skipped.columns) == SKIP_COLUMNS
    assert {c: str(t) for c, t in skipped.dtypes.items()} == {
        "customer_id": "string", "line_code": "string", "invoice_no": "string", "currency": "string",
        "open": "int64", "days_past_due": "int64", "level": "string", "reason": "string", "detail": "string"}


def test_a_phone_only_customer_gets_the_sms_of_the_highest_level_beside_lower_level_lines():
    cust = customers({"customer_id": "C1", "name": "Acme", "phone": "+3630555123"})
    aging = aging_of([line("INV-1", "C1", 40), line("INV-2", "C1", 3)])
    p = plan(aging, cust, log((L1, "first", "sent", 30, "C1"), (L1, "second", "sent", 10, "C1")))
    (r,) = p.reminders
    assert (r.level, r.channels) == ("final", ("sms",))
    assert r.keys("sms") == [(L1, "final:sms"), (L2, "first:sms")]
