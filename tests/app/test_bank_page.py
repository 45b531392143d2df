"""The Bank page (AppTest): upload a statement, see per file what was matched, confirm the one
waiting for review; the demo shows no bank work; payer text is shown as text."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from billing.ingest import IngestOptions
from services import bank
from services.context import Actor, Workspace
from services.workspace import import_files
from tests.app import files
from tests.connectors import bank_fixtures as fx
from ui import state

APP = Path(__file__).resolve().parents[2] / "app.py"


def ok(at: AppTest) -> AppTest:
    assert not at.exception, "\n".join(f"{e.value}\n{''.join(e.stack_trace)}" for e in at.exception)
    return at


def bank_page() -> AppTest:
    at = ok(AppTest.from_file(str(APP), default_timeout=120).run())
    return ok(at.switch_page("pages/bank.py").run())


def test_on_the_demo_the_page_asks_for_own_data_first():
    at = bank_page()
    assert any("Import your own data" in i.value for i in at.info)


def test_the_queue_is_worked_on_the_page_and_the_payment_then_applies(fresh_action_store):
    from ui.store import team_store
    state.load_import.clear()
    ws = Workspace(team_store())
    system = Actor("test setup", how="system")
    assert import_files(ws, system, [("messy.xlsx", files.messy_xlsx())], IngestOptions()).stored
    stmt = fx.camt053("001.04", fx.ntry("12.34", acct_ref="E4", txs=fx.tx(None, name="<b>Unknown</b> *Person*",
                                                                          iban="CH200000000000000002", ustrd="thanks")),
                      opening="0", closing="12.34")
    r = bank.import_statements(ws, system, [("nov.xml", stmt)], action_id="b1")
    assert r.files[0].waiting == 1
    at = bank_page()
    assert any(s.value == "Review queue (1)" for s in at.subheader)
    at.multiselect(key="bank_pick").select("E4").run()
    ok(at)
    chosen = at.selectbox(key="bank_customer").options[0]
    at.button[[b.label for b in at.button].index("Confirm 1 for this customer")].click().run()
    ok(at)
    assert any(s.value == "Review queue (0)" for s in at.subheader)
    decisions = ws.store.bank_decisions()
    assert decisions[["payment_id", "status", "customer_id"]].values.tolist() == [["E4", "confirmed", chosen]]
    # the confirmed bank payment is now a payment of the data every page shows
    at.switch_page("pages/payments.py").run()
    ok(at)
    data = bank.with_bank_payments(ws, ws_data(ws))
    assert "E4" in set(data.tables["payments"]["payment_id"])
    # payer text reached the page only as text
    assert not any("<b>" in m.value and "Unknown" in m.value for m in at.markdown)


def ws_data(ws):
    from services.workspace import current_data
    return current_data(ws).data
