"""Collections in the UI (SPEC §15): the Customer page's section (next action, promises, write-offs,
manual applications), the Overview's cash forecast, the Data page's flagged adjustments, and the
worklist the Worklist page draws.

Every write goes through `services.collections` with `ui.store.action_id(purpose)` (the same id on
a rerun or a double click: the store applies it once) and the acting person; forms are disabled for
a role that may not act, and the service refuses it anyway. Rule violations are shown with
`st.error` as plain text, never a traceback.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from billing.adjustments import AdjustmentError, gone
from billing.promises import DEFAULT_GRACE_DAYS, PromiseError
from billing.roles import Action
from connectors.store import ActionConflict, StoreError
from services import collections
from services.context import NotAllowed
from ui import auth, charts, state
from ui.charts import CHART_CONFIG
from ui.disputes import number_format, to_minor
from ui.fmt import major, money_text
from ui.store import action_id, current_actor, done
from ui.tables import money_table
from ui.text import plain

FLASH = "collections_flash"  # (kind, text) shown once after an action
ERRORS = (AdjustmentError, PromiseError, StoreError, ActionConflict, NotAllowed, ValueError)
PROMISE_COLUMNS = ["promise_id", "state", "currency", "amount", "paid", "promised_date", "until", "line_codes",
                   "note", "created_by"]


def _flash() -> None:
    msg = st.session_state.pop(FLASH, None)
    if msg:
        (st.success if msg[0] == "ok" else st.error)(msg[1])


def _act(purpose: str, call, success: str) -> None:
    """Run one service call with its stable action id; remember what to say after the rerun."""
    try:
        call(action_id(purpose))
    except ERRORS as exc:
        st.session_state[FLASH] = ("error", plain(state.error_text(exc)))
        return
    done(purpose)
    st.session_state[FLASH] = ("ok", success)
    st.rerun()


def adjust_for_resolution(d) -> None:
    """After a dispute is resolved: its credit-note request or write-off as adjustments (once)."""
    purpose = f"dispute_resolution:{d.id}"
    try:
        loaded = state.current()
        aging = state.full_analysis(loaded).aging
        ids = collections.adjust_for_resolution(state.workspace(), current_actor(), int(d.id), aging,
                                                action_id=action_id(purpose), on=state.as_of(loaded.data))
    except ERRORS as exc:
        st.session_state[FLASH] = ("error", plain(state.error_text(exc)))
        return
    done(purpose)
    if ids:
        st.session_state[FLASH] = ("ok", f"Dispute #{d.id}: {len(ids)} adjustment(s) recorded from its outcome.")


# --------------------------------------------------------------------------- the Overview's forecast

def render_forecast(loaded: state.Loaded, analysis, currency: str) -> None:
    """Cash expected by week: the model's expected receipts with their band (SPEC §15)."""
    st.subheader("Cash expected by week")
    weeks = state.derived(loaded, analysis, "cash_forecast", lambda a: collections.forecast(loaded.data, a))
    weeks = weeks[weeks["currency"] == currency]
    if not len(weeks) or not weeks["expected"].any():
        st.caption(f"Nothing open in {plain(currency)} is expected in the next 13 weeks.")
        return
    st.plotly_chart(charts.cash_forecast(weeks, currency), config=CHART_CONFIG, key="overview_forecast_chart")
    total = int(round(weeks["expected"].sum()))
    st.caption(f"Open {plain(currency)} lines × the chance each is paid in that week, learnt from every "
               f"customer's own days-to-pay (open lines count as not yet paid). {money_text(total, currency)} "
               "expected in 13 weeks; the band is a 90 % range. Backtested in bench/backtest_forecast.py.")


# --------------------------------------------------------------------------- the Data page

def render_flagged_adjustments(data) -> None:
    """Adjustments whose line or payment the current import no longer has (flagged, never dropped)."""
    try:
        adj = collections.engine_adjustments(state.team())
    except Exception as exc:  # noqa: BLE001 - the page must still draw
        st.warning(f"The action store cannot be read: {plain(state.error_text(exc))}")
        return
    if adj is None:
        return
    flagged = gone(adj, data.invoices["line_code"], data.payments["payment_id"])
    st.subheader("Adjustments to look at", anchor=False)
    if not len(flagged):
        st.caption(f"All {len(adj)} adjustment(s) name lines and payments of the current import.")
        return
    st.warning(f"{len(flagged)} adjustment(s) name a line or payment the current import does not have; "
               "they apply nothing until it comes back.", icon=":material/link_off:")
    st.dataframe(flagged[["adjustment_id", "kind", "line_code", "payment_id", "amount", "on", "reason", "why"]],
                 hide_index=True, key="flagged_adjustments")


# --------------------------------------------------------------------------- the Customer page

def customer_section(cid: str, loaded: state.Loaded, analysis) -> None:
    """Next action and collector, promises to pay (broken ones flagged), write-offs, manual applications."""
    st.subheader("Collections", anchor=False)
    _flash()
    ws = state.workspace()
    try:
        promises = collections.promises_as_of(ws, analysis, customer_id=cid)
        nexts = collections.next_actions(ws, loaded.data.customers)
    except Exception as exc:  # noqa: BLE001 - the statement must still draw
        st.warning(f"The action store cannot be read: {plain(state.error_text(exc))}")
        return
    _next_action(cid, nexts)
    _promises(cid, analysis, promises)
    _adjustments(cid, analysis)


def _next_action(cid: str, nexts: pd.DataFrame) -> None:
    row = nexts[nexts["customer_id"] == cid]
    date = row["next_action_date"].iloc[0] if len(row) else None
    who = row["collector"].iloc[0] if len(row) else None
    due = date is not None and not pd.isna(date)
    st.markdown(f"**Next action:** {plain(date) if due else 'none set'} · **Collector:** "
                f"{plain(who) if who is not None and not pd.isna(who) else 'nobody'}")
    refused = auth.blocked(Action.NEXT_ACTION)
    with st.form(f"next_action_{cid}", border=False):
        cols = st.columns(3)
        day = cols[0].date_input("Next action on", value=pd.Timestamp(date).date() if due else None,
                                 key=f"next_action_date_{cid}")
        collector = cols[1].text_input("Collector", value="" if who is None or pd.isna(who) else str(who),
                                       key=f"next_action_collector_{cid}")
        note = cols[2].text_input("Note", key=f"next_action_note_{cid}")
        if st.form_submit_button("Save next action", disabled=refused is not None, help=refused):
            _act(f"next_action:{cid}", lambda aid: collections.set_next_action(
                state.workspace(), current_actor(), cid, action_id=aid, next_action_date=day,
                collector=collector or None, note=note or None), "Next action saved.")


def _promises(cid: str, analysis, promises: pd.DataFrame) -> None:
    broken = promises[promises["broken"].to_numpy(bool)] if len(promises) else promises
    if len(broken):
        st.error(f"{len(broken)} broken promise(s) to pay: reminders have resumed.", icon=":material/heart_broken:")
    live = promises[(promises["state"] == "open").to_numpy(bool)] if len(promises) else promises
    for r in live.itertuples():
        st.info(f"Promised {money_text(int(r.amount), str(r.currency))} by {r.promised_date}: reminders for what "
                f"it covers are paused until {pd.Timestamp(r.until):%Y-%m-%d}.", icon=":material/handshake:")
    if len(promises):
        money_table(promises.assign(line_codes=promises["line_codes"].map(", ".join))[PROMISE_COLUMNS],
                    ["amount", "paid"], key=f"promises_{cid}", dates=["until"])
    aging = analysis.aging
    lines = aging[(aging["customer_id"] == cid).to_numpy(bool) & (aging["open"] > 0).to_numpy(bool)]
    currencies = sorted(lines["currency"].astype(str).unique())
    if not currencies:
        return
    refused = auth.blocked(Action.PROMISE)
    with st.form(f"promise_{cid}", border=True):
        st.markdown("**Record a promise to pay**")
        cols = st.columns(4)
        currency = cols[0].selectbox("Currency", currencies, key=f"promise_currency_{cid}")
        fmt, step = number_format(currency)
        amount = cols[1].number_input("Amount", min_value=0.0, step=step, format=fmt, key=f"promise_amount_{cid}")
        day = cols[2].date_input("Promised date", value=analysis.as_of.date() + pd.Timedelta(days=7),
                                 key=f"promise_date_{cid}")
        grace = cols[3].number_input("Grace days", min_value=0, value=DEFAULT_GRACE_DAYS, step=1,
                                     key=f"promise_grace_{cid}")
        codes = st.multiselect("For these lines (none = all the customer's lines in that currency)",
                               lines["line_code"].astype(str).tolist(), key=f"promise_lines_{cid}")
        note = st.text_input("Note", key=f"promise_note_{cid}")
        if st.form_submit_button("Record promise", disabled=refused is not None, help=refused):
            _act(f"promise:{cid}", lambda aid: collections.record_promise(
                state.workspace(), current_actor(), aging, action_id=aid, customer_id=cid,
                amount_minor=to_minor(amount, currency), promised_date=day, currency=currency,
                line_codes=codes, grace_days=int(grace), note=note or None),
                "Promise recorded: reminders for what it covers are paused.")


def _adjustments(cid: str, analysis) -> None:
    aging = analysis.aging
    lines = aging[(aging["customer_id"] == cid).to_numpy(bool) & (aging["open"] > 0).to_numpy(bool)]
    mine = analysis.alloc.adjustments.merge(aging[["line_code", "customer_id", "currency"]], on="line_code")
    mine = mine[(mine["customer_id"] == cid).to_numpy(bool)]
    if len(mine):
        money_table(mine[["adjustment_id", "kind", "line_code", "payment_id", "currency", "amount", "applied", "on",
                          "reason", "status"]], ["amount", "applied"], key=f"adjustments_{cid}", dates=["on"])
    if not len(lines):
        return
    label = {str(r.line_code): f"{r.line_code} · open {money_text(int(r.open), str(r.currency))}"
             for r in lines.itertuples()}
    refused = auth.blocked(Action.ADJUSTMENT)
    left, right = st.columns(2)
    with left, st.form(f"write_off_{cid}", border=True):
        st.markdown("**Write off**")
        code = st.selectbox("Line", list(label), format_func=label.get, key=f"write_off_line_{cid}")
        currency = str(lines.loc[lines["line_code"] == code, "currency"].iloc[0]) if code else "USD"
        fmt, step = number_format(currency)
        amount = st.number_input("Amount", min_value=0.0, step=step, format=fmt, key=f"write_off_amount_{cid}")
        reason = st.text_input("Reason", key=f"write_off_reason_{cid}")
        if st.form_submit_button("Write off", disabled=refused is not None, help=refused):
            _act(f"write_off:{cid}", lambda aid: collections.record_adjustment(
                state.workspace(), current_actor(), "write_off", action_id=aid, line_code=code,
                amount_minor=to_minor(amount, currency), reason=reason, on=analysis.as_of),
                "Written off; it applies from the next run of the numbers.")
    unapplied = analysis.alloc.unapplied
    cash = unapplied[(unapplied["customer_id"] == cid).to_numpy(bool)]
    with right, st.form(f"apply_{cid}", border=True):
        st.markdown("**Apply unapplied cash**")
        pays = {str(r.payment_id): f"{r.payment_id} · {money_text(int(r.amount), str(r.currency))} unapplied"
                for r in cash.itertuples()}
        pid = st.selectbox("Payment", list(pays), format_func=pays.get, key=f"apply_payment_{cid}",
                           placeholder="No unapplied cash", index=0 if pays else None)
        code = st.selectbox("To line", list(label), format_func=label.get, key=f"apply_line_{cid}")
        currency = str(lines.loc[lines["line_code"] == code, "currency"].iloc[0]) if code else "USD"
        fmt, step = number_format(currency)
        amount = st.number_input("Amount", min_value=0.0, step=step, format=fmt, key=f"apply_amount_{cid}")
        if st.form_submit_button("Apply", disabled=refused is not None or not pays, help=refused):
            _act(f"apply:{cid}", lambda aid: collections.record_adjustment(
                state.workspace(), current_actor(), "apply", action_id=aid, line_code=code, payment_id=pid,
                amount_minor=to_minor(amount, currency), on=analysis.as_of),
                "Applied by hand; it applies from the next run of the numbers.")


# --------------------------------------------------------------------------- the Worklist page

WORKLIST_MONEY = list(collections.WORKLIST_MONEY)
HOLD_MONEY = list(collections.HOLD_MONEY)


def worklist_tables(loaded: state.Loaded, analysis, collector: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(worklist, credit hold) as of the analysis; `collector`: the "mine" filter. The worklist's
    ``at_risk_base`` is in major units of its ``base_currency`` (the other money stays minor units)."""
    frame = collections.worklist(state.workspace(), loaded.data, analysis, collector=collector)
    if "at_risk_base" in frame:  # in the base currency, not the row's: shown in its major units here
        frame = major(frame, ["at_risk_base"], frame["base_currency"].fillna("USD"))
    hold = state.derived(loaded, analysis, "credit_hold", lambda a: collections.credit_hold(loaded.data, a))
    return frame, hold
