"""AppTest runs of the disputes workflow on the demo data (SPEC §7, §10).

A dispute is opened from the Aging page, worked on the Disputes page
(open → in_review → escalated → resolved, a log entry, the audit trail with
the sidebar's name) and its engine effects are checked through the pages:
the line shows in_dispute on Aging and FIFO allocation skips it while the
dispute is open, and takes it again once it is resolved. Each test has its
own SQLite action store (tests/app/conftest.py).
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from billing.analysis import analyse
from billing.labels import EXCEPTION_TYPES as EXCEPTION_LABELS
from billing.labels import STEPS
from billing.policy import Policy
from connectors.export import write_demo_workbook
from connectors.load import load_uploads
from ui import disputes as ui
from ui import state
from ui.store import ACTOR_KEY, get_store

APP = Path(__file__).resolve().parents[2] / "app.py"
TIMEOUT = 120
NAME = "Anna Kovács"
pytestmark = pytest.mark.usefixtures("demo_imported")


@pytest.fixture(scope="module")
def demo():
    """The demo's engine result without disputes, and a line that FIFO allocation pays part of."""
    buf = io.BytesIO()
    write_demo_workbook(buf, seed=state.DEMO_SEED, n_lines=state.DEMO_LINES)
    data = load_uploads([("demo.xlsx", buf.getvalue())])
    now = analyse(data, state.DEMO_AS_OF, Policy(), with_exceptions=False)
    alloc = now.alloc.allocations
    fifo = set(alloc.loc[alloc["step"] == "fifo", "line_code"].astype(str))
    aging = now.aging
    target = aging[aging["line_code"].astype(str).isin(fifo) & (aging["open"] > 0)
                   & (aging["currency"] == "USD")]
    assert len(target), "the demo has no partly FIFO-paid open line any more"
    return data, now, target.iloc[0]


def ok(at: AppTest) -> AppTest:
    assert not at.exception, "\n".join(f"{e.value}\n{''.join(e.stack_trace)}" for e in at.exception)
    return at


def start(page: str | None = None, name: str | None = NAME) -> AppTest:
    """A session on the workspace holding the demo workbook (disputes are workspace records), as of the
    demo's date."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["f_as_of"] = state.DEMO_AS_OF.date()
    at = ok(at.run())
    if name:
        at.text_input(key=ACTOR_KEY).input(name).run()
    if page:
        at.switch_page(f"pages/{page}.py").run()
    return ok(at)


def select(at: AppTest, key: str, row: int) -> AppTest:
    at.session_state[key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    return ok(at.run())


def customer_label(at: AppTest, cid: str) -> str:
    return next(o for o in at.multiselect(key="f_customer").options if o.split(" · ")[0] == cid)


def show_line(at: AppTest, line: pd.Series) -> pd.Series:
    """On Aging, per line, for the line's customer: select `line`; returns its row of the lines table."""
    at.multiselect(key="f_customer").set_value([customer_label(at, str(line["customer_id"]))]).run()
    at.segmented_control(key="aging_level").set_value("Line").run()
    lines = ok(at).dataframe(key="aging_lines").value.reset_index(drop=True)
    row = int(lines.index[lines["line_code"] == line["line_code"]][0])
    select(at, "aging_lines", row)
    return lines.iloc[row]


def table(at: AppTest, *columns: str) -> pd.DataFrame | None:
    """The first table drawn with these leading columns (AppTest gives read-only tables no key)."""
    for df in at.dataframe:
        if list(df.value.columns[: len(columns)]) == list(columns):
            return df.value
    return None


def fifo_to(at: AppTest) -> pd.DataFrame:
    """FIFO allocations in the selected line's allocations table on Aging."""
    alloc = table(at, "payment_id", "payment_date", "source")
    return pd.DataFrame(columns=["step"]) if alloc is None else alloc[alloc["step"] == STEPS["fifo"]]  # as shown


def move_keys(at: AppTest) -> set[str]:
    return {b.key for b in at.button if b.key and b.key.startswith("dispute_to_")}


def status_shown(at: AppTest) -> str:
    return at.dataframe(key="disputes_list").value.iloc[0]["status"]


def test_dispute_from_aging_through_its_states_with_engine_effects(demo):
    _, _, line = demo
    code = str(line["line_code"])
    at = start("aging")
    before = show_line(at, line)
    assert not before["in_dispute"]
    fifo_before = fifo_to(at).reset_index(drop=True)
    assert len(fifo_before), "the chosen line should receive FIFO money before the dispute"

    # the dialog: pre-filled with the line's open amount; more than open is refused with a message
    at.button(key="aging_dispute_line").click().run()
    assert ok(at).number_input(key=ui.F_AMOUNT).value == pytest.approx(int(line["open"]) / 100)
    at.number_input(key=ui.F_AMOUNT).set_value(int(line["open"]) / 100 + 1).run()
    at.button(key=ui.F_SUBMIT).click().run()
    assert any("more than the open amount" in e.value for e in ok(at).error)
    assert get_store().list_disputes().empty
    at.number_input(key=ui.F_AMOUNT).set_value(int(line["open"]) / 100)
    at.selectbox(key=ui.F_REASON).set_value("price")
    at.text_area(key=ui.F_NOTE).input("Customer says the unit price was agreed lower.").run()
    request = dict(at.session_state[ui.PENDING])
    at.button(key=ui.F_SUBMIT).click().run()
    assert any("Dispute #1 opened on 1 line" in s.value for s in ok(at).success)
    assert ui.F_SUBMIT not in {b.key for b in at.button}, "the dialog closes"

    # engine effects, on the same page after the rerun: in_dispute, and FIFO pays the line no more than
    # the part not disputed (SPEC §7: the dispute holds its amount, the open remainder; what FIFO had
    # already paid stays paid)
    lines = at.dataframe(key="aging_lines").value
    assert bool(lines.loc[lines["line_code"] == code, "in_dispute"].iloc[0])
    pd.testing.assert_frame_equal(fifo_to(at).reset_index(drop=True), fifo_before)

    # a replay of the same action (a double click / a rerun before the id was forgotten) adds nothing
    used = get_store().actions()
    used = used.loc[used["kind"] == "open_dispute", "action_id"].iloc[0]
    at.session_state[ui.PENDING] = request
    at.session_state[f"action_id::{ui._purpose(request)}"] = used
    at.session_state[ui.F_AMOUNT] = int(line["open"]) / 100
    at.session_state[ui.F_REASON] = "price"
    at.session_state[ui.F_NOTE] = "Customer says the unit price was agreed lower."
    at.session_state[ui.F_OWNER] = get_store().get_dispute(1).owner
    at.run()
    at.button(key=ui.F_SUBMIT).click().run()
    assert any("Dispute #1 opened" in s.value for s in ok(at).success), (
        [e.value for e in at.error], [s.value for s in at.success], [c.value for c in at.caption])
    assert len(get_store().list_disputes()) == 1

    # the Overview counts it among the open disputes
    at.switch_page("pages/overview.py").run()
    assert any("**1** Open" in m.value for m in ok(at).markdown)

    # the Disputes page: the dispute, open, with only the moves its state allows
    at.switch_page("pages/disputes.py").run()
    ok(at)
    assert at.title[0].value == "Disputes"
    assert at.selectbox(key=ui.PICK).value == 1
    assert status_shown(at) == "Open"
    assert {m.label: m.value for m in at.metric}["Open"] == "1"
    assert move_keys(at) == {"dispute_to_in_review", "dispute_to_withdrawn"}

    at.button(key="dispute_to_in_review").click().run()
    # SPEC §7: from in_review a dispute may be resolved or rejected at level 1, escalated or withdrawn
    assert move_keys(ok(at)) == {"dispute_to_resolved", "dispute_to_rejected", "dispute_to_escalated",
                                 "dispute_to_withdrawn"}
    assert status_shown(at) == "In review"

    # the communication log: an entry with its channel; an empty one is refused with a message
    at.selectbox(key="dispute_note_channel").set_value("phone")
    at.text_input(key="dispute_note_text").input("Called the buyer; proof of price requested.")
    at.button(key="dispute_note_add").click().run()
    log = table(ok(at), "created_at", "actor", "channel", "text")
    assert log[["actor", "channel", "text"]].values.tolist()[-1] == [
        NAME, "Phone", "Called the buyer; proof of price requested."]
    at.selectbox(key="dispute_note_channel").set_value("phone")  # the same entry again: a double click
    at.text_input(key="dispute_note_text").input("Called the buyer; proof of price requested.")
    at.button(key="dispute_note_add").click().run()
    assert any("Already in the log" in m.value for m in ok(at).success)
    assert len(get_store().dispute_log(1)) == 1
    at.button(key="dispute_note_add").click().run()
    assert any("needs some text" in e.value for e in ok(at).error)

    at.button(key="dispute_to_escalated").click().run()
    assert move_keys(ok(at)) == {"dispute_to_resolved", "dispute_to_rejected"}

    # resolve: confirmed in a dialog with the outcome and the amount
    at.button(key="dispute_to_resolved").click().run()
    assert ok(at).button(key="dispute_confirm_ok")
    at.radio(key="dispute_confirm_outcome").set_value("write_off").run()
    assert any("write-off" in w.value for w in ok(at).warning)
    at.number_input(key="dispute_confirm_amount").set_value(int(line["open"]) / 100 / 2)
    at.text_area(key="dispute_confirm_note").input("Half written off as goodwill.").run()
    at.button(key="dispute_confirm_ok").click().run()
    ok(at)
    assert move_keys(at) == set()
    assert "dispute_confirm_ok" not in {b.key for b in at.button}
    d = get_store().get_dispute(1)
    assert (str(d.status), d.outcome, d.resolved_amount) == ("resolved", "write_off", int(line["open"]) // 2)
    cards = {m.label: m.value for m in at.metric}
    assert (cards["Open"], cards["Resolved"]) == ("0", "1")
    assert "disputes_list" not in {d.key for d in at.dataframe}, "the list shows open states by default"
    assert at.selectbox(key=ui.PICK).value == 1, "the detail stays on the dispute just closed"

    # every audit event records the acting user; the page shows the trail
    events = get_store().audit_events("dispute", 1)
    assert list(events["action"]) == ["open", "transition", "log", "transition", "transition", "log"]
    assert set(events["actor"]) == {NAME}
    audit = table(at, "created_at", "actor", "text")
    trail = " | ".join(audit["text"])
    assert set(audit["actor"]) == {NAME} and "Escalated → Resolved (write-off, $" in trail
    assert "Opened: $" in trail and "minor units" not in trail and "_" not in trail  # words and money

    # closed: the line is no longer in dispute and FIFO pays it again
    at.switch_page("pages/aging.py").run()
    after = show_line(ok(at), line)
    assert not after["in_dispute"]
    assert len(fifo_to(at))


def test_a_move_made_stale_by_another_tab_is_an_error_not_a_traceback(demo):
    _, now, line = demo
    store = get_store()
    new_id = store.open_dispute(action_id="t-open", actor="Bob", lines=now.aging, amount=100,
                                reason="damaged", owner="Bob", line_codes=[str(line["line_code"])])
    at = start()
    at.query_params["dispute"] = str(new_id)
    at.switch_page("pages/disputes.py").run()
    assert move_keys(ok(at)) == {"dispute_to_in_review", "dispute_to_withdrawn"}
    # the same move made meanwhile (another tab, or the first of a double click): nothing happens twice
    store.transition_dispute(new_id, "in_review", action_id="t-review", actor="Bob")
    at.button(key="dispute_to_in_review").click().run()
    assert any("already in review" in s.value for s in ok(at).success) and not at.error
    assert len(store.audit_events("dispute", new_id)) == 2
    # someone else withdraws it meanwhile; this tab still shows "Escalate"
    store.transition_dispute(new_id, "withdrawn", action_id="t-withdraw", actor="Bob")
    at.button(key="dispute_to_escalated").click().run()
    assert any("cannot move a dispute from 'withdrawn' to 'escalated'" in e.value for e in ok(at).error)
    assert move_keys(at) == set()
    assert str(store.get_dispute(new_id).status) == "withdrawn"


def test_open_dispute_from_reconciliation_and_customer_pages(demo):
    _, now, _ = demo
    at = start("reconciliation")
    at.multiselect(key="recon_types").set_value(["DUPLICATE_LINE"]).run()
    stake = ok(at).dataframe(key="recon_table_DUPLICATE_LINE").value.iloc[0]["amount"]
    select(at, "recon_table_DUPLICATE_LINE", 0)
    at.button(key="recon_dispute_DUPLICATE_LINE").click().run()
    # pre-filled: both lines of the duplicate, the reason it suggests, the amount at stake (≤ open)
    assert ok(at).selectbox(key=ui.F_REASON).value == "duplicate_billing"
    assert at.number_input(key=ui.F_AMOUNT).value == pytest.approx(float(stake))
    at.button(key=ui.F_SUBMIT).click().run()
    d = get_store().get_dispute(1)
    assert ok(at) and d is not None and d.reason == "duplicate_billing" and d.opened_by == NAME
    assert len(d.line_codes) == 2 and (d.description or "").startswith(EXCEPTION_LABELS["DUPLICATE_LINE"] + ": ")
    assert d.amount == round(float(stake) * 100)
    assert any("Dispute #1 opened on 2 lines" in s.value for s in at.success)

    # Customer: the chosen open lines, their open amounts summed
    at.switch_page("pages/customer.py").run()
    cid = str(now.aging.loc[now.aging["open"] > 0, "customer_id"].iloc[0])
    at.session_state["customer_pick"] = cid
    at.run()
    picker = ok(at).multiselect(key="customer_dispute_lines")
    codes = [o.split(" · ")[0] for o in picker.options[:2]]  # (options are the labels shown)
    picker.set_value(codes).run()
    at.button(key="customer_dispute").click().run()
    want = int(now.aging.set_index("line_code").loc[codes, "open"].sum())
    assert ok(at).number_input(key=ui.F_AMOUNT).value == pytest.approx(want / 100)
    at.button(key=ui.F_SUBMIT).click().run()
    ok(at)
    mine = get_store().list_disputes(customer_id=cid)
    assert len(mine) == 1 and mine.iloc[0]["amount"] == want
    assert table(at, "id", "status", "currency", "amount").iloc[0]["status"] == "Open"
    assert not set(codes) & {o.split(" · ")[0] for o in at.multiselect(key="customer_dispute_lines").options}
