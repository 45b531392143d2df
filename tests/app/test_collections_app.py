"""AppTest runs of the collections pieces (SPEC §15) on the demo workbook imported into the workspace:
the Worklist page, and a promise recorded on the Customer page pausing that customer's reminders."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from billing.analysis import analyse
from billing.dunning import DunningPolicy
from connectors.reminders import build_plan
from services.workspace import current_data
from services.context import Workspace
from tests.app.test_reminders_page import ok, own_store  # noqa: F401 (own_store: the demo in a fresh store)
from ui import state

APP = Path(__file__).resolve().parents[2] / "app.py"
TIMEOUT = 120


def start(page: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["f_as_of"] = state.DEMO_AS_OF.date()
    at.switch_page(page).run()
    return ok(at)


def test_the_worklist_ranks_customers_by_amount_at_risk_and_filters_mine(own_store):
    at = start("pages/worklist.py")
    assert at.title[0].value == "Worklist"
    table = at.dataframe(key="worklist_table").value
    assert len(table) > 5 and table["rank"].tolist() == list(range(1, len(table) + 1))
    assert "at_risk" in table and "reasons" in table
    hold = [d.value for d in at.dataframe if list(d.value.columns[:3]) == ["customer_id", "name", "currency"]
            and "over_90_days" in d.value]  # (a table without selection has no key in AppTest)
    assert len(hold) == 1 and len(hold[0]) > 0
    at.toggle(key="worklist_mine").set_value(True).run()
    ok(at)  # the local user collects nobody's accounts in the demo: the list says so
    assert not any(d.key == "worklist_table" for d in at.dataframe)
    assert any("None of your customers" in c.value for c in at.caption)


def test_a_promise_recorded_on_the_customer_page_pauses_that_customers_reminders(own_store):
    ws = Workspace(own_store)
    data = current_data(ws).data
    analysis = analyse(data, state.DEMO_AS_OF, with_exceptions=False)
    plan = build_plan(data, state.DEMO_AS_OF, own_store, DunningPolicy(), analysis=analysis)
    cid = plan.reminders[0].customer_id
    currency = plan.reminders[0].lines[0].currency

    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["f_as_of"] = state.DEMO_AS_OF.date()
    at.session_state["customer_pick"] = cid
    at.switch_page("pages/customer.py").run()
    ok(at)
    at.selectbox(key=f"promise_currency_{cid}").set_value(currency)
    at.number_input(key=f"promise_amount_{cid}").set_value(100.0)
    next(b for b in at.button if b.label == "Record promise").click().run()
    ok(at)
    assert any("Promise recorded" in s.value for s in at.success)
    promises = own_store.promises()
    assert promises[["customer_id", "currency", "status"]].values.tolist() == [[cid, currency, "active"]]
    assert any("reminders for what it covers are paused" in i.value for i in at.info)

    at.switch_page("pages/reminders.py").run()
    ok(at)
    due = at.dataframe(key="rem_due").value
    assert cid not in due["customer_id"].tolist()
    skipped = next(d.value for d in at.dataframe if list(d.value.columns[:3]) == ["customer_id", "name", "reason"])
    mine = skipped[skipped["customer_id"] == cid]
    assert mine["reason"].tolist() == ["A promise to pay covers it"] and mine["detail"].iloc[0].startswith("promised until ")
