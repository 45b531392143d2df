"""Bank: upload statements (camt.053/054, MT940, bank CSV, OFX), see per file what was read and
matched, and work the review queue: confirm a suggestion, choose another customer / reference, or
leave a payment unapplied, one at a time or several at once. Finance acts; a viewer sees.

Everything goes through services.bank (every action authorised and audited there); the page
only turns widgets into calls. User text (payer names, remittance) is shown as text.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from billing.roles import Action
from services import bank
from ui import auth, common, state
from ui.store import action_id, done
from ui.tables import money_table
from ui.text import plain

QUEUE_MONEY = ["amount"]


def render_upload(loaded: state.Loaded) -> None:
    why = auth.blocked(Action.BANK_IMPORT)
    with st.form("bank_upload", clear_on_submit=True):
        files = st.file_uploader("Bank statements", accept_multiple_files=True, key="bank_files",
                                 type=["xml", "sta", "mt940", "940", "txt", "csv", "ofx"], disabled=why is not None)
        go = st.form_submit_button("Import and match", type="primary", disabled=why is not None, help=why)
    if go and files:
        result = bank.import_statements(state.team(), auth.current(), [(f.name, f.getvalue()) for f in files],
                                        action_id=action_id("bank_import"), data=loaded.data,
                                        as_of=state.as_of(loaded.data), policy=state.policy())
        done("bank_import")
        st.session_state["bank_last"] = result.files


def render_summary() -> None:
    for f in st.session_state.get("bank_last", []):
        with st.container(border=True, key=f"bank_file_{abs(hash(f.name))}"):
            if f.error:
                st.error(plain(f.error), icon=":material/error:")
                continue
            st.markdown(f"**{plain(f.name)}** · {plain(f.format)}")
            steps = ", ".join(f"{n} by {s}" for s, n in f.matched.items()) or "none"
            cols = st.columns(5)
            cols[0].metric("Credits", f.credits, help=f"{f.added} new, {f.already} imported before")
            cols[1].metric("Matched automatically", sum(f.matched.values()), help=steps)
            cols[2].metric("Waiting for review", f.waiting)
            cols[3].metric("Debits skipped", f.debits, help=f"{f.pending} pending, {f.reversed} reversed")
            cols[4].metric("Possible duplicates", f.possible_duplicates)
            for w in f.warnings:
                st.warning(plain(w), icon=":material/warning:")


def render_write_offs(app, loaded: state.Loaded) -> None:
    """Shortfalls the matching proposes to write off (bank charges): applied only when confirmed."""
    proposed = app.matches[(app.matches["status"] == "matched") & (app.matches["write_off"] > 0)]
    if proposed.empty or auth.blocked(Action.BANK_CONFIRM):
        return
    st.subheader(f"Proposed write-offs ({len(proposed)})")
    money_table(proposed.merge(state.team().store.bank_payments()[["payment_id", "currency", "amount"]],
                               on="payment_id")[["payment_id", "customer_id", "write_off_line", "write_off",
                                                 "currency", "amount", "note"]],
                ["write_off", "amount"], key="bank_write_offs")
    ids = st.multiselect("Write-offs to confirm", proposed["payment_id"].tolist(), key="bank_write_off_pick")
    if ids and st.button(f"Confirm {len(ids)} write-off(s)", key="bank_write_off_go", type="primary"):
        for pid in ids:
            purpose = f"bank_write_off_{pid}"
            bank.confirm_proposal(state.team(), auth.current(), pid, action_id=action_id(purpose), data=loaded.data,
                                  policy=state.policy())
            done(purpose)
        st.rerun()


def render_matched(app) -> None:
    stored = state.team().store.bank_payments()
    m = app.matches[app.matches["status"] != "review"].merge(stored, on="payment_id")
    with st.expander(f"Bank payments applied ({len(m)}): step and the text that decided"):
        money_table(m[["payment_id", "booking_date", "amount", "currency", "payer_name", "status", "step",
                       "customer_id", "reference", "evidence", "note", "write_off"]],
                    ["amount", "write_off"], dates=["booking_date"], key="bank_matched")


def render_queue(loaded: state.Loaded) -> None:
    ws = state.team()
    queue = bank.review_queue(ws, loaded.data, policy=state.policy())
    st.subheader(f"Review queue ({len(queue)})")
    if queue.empty:
        st.info("Nothing waits for review.", icon=":material/task_alt:")
        return
    money_table(queue, QUEUE_MONEY, dates=["booking_date"], key="bank_queue")
    why = auth.blocked(Action.BANK_CONFIRM)
    if why:
        st.caption(plain(why))
        return
    ids = st.multiselect("Payments to decide", queue["payment_id"].tolist(), key="bank_pick",
                         help="One or several: they get the same decision.")
    chosen = queue[queue["payment_id"].isin(ids)]
    if chosen.empty:
        st.caption("Pick one or more payments to confirm, correct or leave unapplied.")
        return
    tables = loaded.data.tables
    customers = sorted(set(tables["customers"]["customer_id"].dropna().astype(str))
                       | set(tables["invoices"]["customer_id"].dropna().astype(str)))
    with st.form("bank_decide"):
        customer = st.selectbox("Customer", customers, key="bank_customer",
                                index=_suggested_index(chosen, customers))
        reference = st.text_input("Pays (line codes / invoice numbers, in order; empty = oldest first)",
                                  key="bank_reference")
        c1, c2 = st.columns(2)
        confirm = c1.form_submit_button(f"Confirm {len(chosen)} for this customer", type="primary")
        leave = c2.form_submit_button(f"Leave {len(chosen)} unapplied")
    if confirm or leave:
        for pid in chosen["payment_id"]:
            purpose = f"bank_decide_{pid}"
            if confirm:
                bank.confirm(ws, auth.current(), pid, customer_id=customer, reference=reference.strip() or None,
                             action_id=action_id(purpose))
            else:
                bank.leave_unapplied(ws, auth.current(), pid, action_id=action_id(purpose))
            done(purpose)
        st.rerun()


def _suggested_index(chosen: pd.DataFrame, customers: list[str]) -> int:
    """The first suggestion's customer of the first chosen payment, preselected."""
    first = chosen.iloc[0].get("suggestion_1")
    if isinstance(first, str):
        cid = first.split(" ", 1)[0]
        if cid in customers:
            return customers.index(cid)
    return 0


loaded = common.page_start("Bank", "Bank statements matched against what is open on {as_of}.")
if loaded.is_demo:
    st.info("Import your own data on the Data page first: bank payments are matched against the "
            "workspace's invoices.", icon=":material/info:")
    st.stop()
render_upload(loaded)
render_summary()
application = bank.cash_application(state.team(), loaded.data, as_of=state.as_of(loaded.data),
                                     policy=state.policy())
render_queue(loaded)
render_write_offs(application, loaded)
render_matched(application)
