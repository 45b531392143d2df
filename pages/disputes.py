"""Disputes: the pipeline by state, SLA flags, the list with filters, and one dispute's detail.

The detail shows the disputed lines as of the sidebar date, the amounts, the
communication log (add an entry with its channel), the audit trail, and one
button per move the dispute's state allows; resolving, rejecting and
withdrawing ask for confirmation in a dialog. Ages and SLA are counted in
calendar days up to today (disputes are today's work, whatever the as-of date).
Disputes are opened from the Aging, Reconciliation and Customer pages.
"""

import json

import pandas as pd
import streamlit as st

from billing.disputes import LEVELS, LOG_CHANNELS, OPEN_STATES, OUTCOMES, REASONS, STATES, sla_flags
from billing.roles import Action
from ui import auth, common, state
from ui import disputes as ui
from ui.fmt import money_text
from ui.tables import money_table, plain_table
from ui.text import plain

LIST_COLUMNS = ["id", "status", "sla", "customer_id", "name", "currency", "amount", "reason", "owner",
                "level", "age_days", "days_in_review", "n_lines", "invoice_no", "opened_by", "opened_at"]


def load(store, data) -> pd.DataFrame:
    """Every dispute with its SLA columns, restricted to the sidebar's customers and currencies."""
    frame = sla_flags(store.list_disputes(), pd.Timestamp.now(tz="UTC"), state.policy().review_days)
    customers = state.selected_customers(data)
    currencies = st.session_state.get("f_currency") or []
    if customers is not None:
        frame = frame[frame["customer_id"].astype(str).isin(customers).to_numpy(dtype=bool)]
    if currencies:
        frame = frame[frame["currency"].isin(currencies).to_numpy(dtype=bool, na_value=False)]
    names = state.customer_names(data)
    return frame.assign(
        name=frame["customer_id"].map(names).astype("string"),
        sla=frame["escalation_due"].map({True: "escalate", False: ""}).astype("string"),
    )


def render_pipeline(frame: pd.DataFrame) -> None:
    """One card per state: how many, how much per currency, how old."""
    cols = st.columns(len(STATES))
    for col, status in zip(cols, STATES):
        rows = frame[frame["status"] == status]
        with col.container(border=True, key=f"dispute_card_{status}"):
            st.metric(ui.STATE_LABELS[status], f"{len(rows):,}",
                      help="Disputes in this state (after the sidebar filters).")
            amounts = rows.groupby("currency")["amount"].sum()
            st.caption(" · ".join(money_text(int(v), str(c)) for c, v in amounts.items()) or "—")
            if len(rows):
                verb = "open" if status in OPEN_STATES else "to close"
                st.caption(f"Oldest {int(rows['age_days'].max())} d · average "
                           f"{rows['age_days'].mean():.0f} d {verb}")
            flagged = int(rows["escalation_due"].sum())
            if flagged:
                st.markdown(f":red-badge[:material/alarm: {flagged} past the review SLA]")


def render_filters(frame: pd.DataFrame) -> pd.DataFrame:
    st.session_state.setdefault("disputes_status", list(OPEN_STATES))
    with st.container(horizontal=True, vertical_alignment="bottom"):
        statuses = st.pills("State", list(STATES), selection_mode="multi", key="disputes_status",
                            format_func=ui.STATE_LABELS.get, persist_state="session",
                            help="Leave empty for every state.")
        owners = st.multiselect("Owner", sorted(frame["owner"].dropna().unique()), key="disputes_owner",
                                placeholder="All owners", persist_state="session")
        reasons = st.multiselect("Reason", list(REASONS), key="disputes_reason", format_func=REASONS.get,
                                 placeholder="All reasons", persist_state="session")
        late = st.toggle("Only past the review SLA", key="disputes_late", persist_state="session")
    mask = pd.Series(True, index=frame.index)
    if statuses:
        mask &= frame["status"].isin(statuses).fillna(False)
    if owners:
        mask &= frame["owner"].isin(owners).fillna(False)
    if reasons:
        mask &= frame["reason"].isin(reasons).fillna(False)
    if late:
        mask &= frame["escalation_due"]
    return frame[mask.to_numpy(dtype=bool)]


def render_list(shown: pd.DataFrame) -> None:
    table = shown.sort_values(["escalation_due", "age_days", "id"], ascending=[False, False, False])
    table = table.assign(reason=table["reason"].map(REASONS).astype("string"),
                         status=table["status"].map(ui.STATE_LABELS).astype("string"))
    chosen = money_table(
        table[LIST_COLUMNS], ["amount"], key="disputes_list", select=True, dates=["opened_at"],
        column_config={"id": st.column_config.NumberColumn("#", format="%d"),
                       "status": st.column_config.TextColumn("Status", width=95),
                       "sla": st.column_config.TextColumn("SLA", help="In review past its review days: "
                                                                      "escalate it."),
                       "age_days": st.column_config.NumberColumn("Age (days)", format="%d"),
                       "days_in_review": st.column_config.NumberColumn("In review (days)", format="%d"),
                       "n_lines": st.column_config.NumberColumn("Lines", format="%d")},
        empty="No dispute matches these filters. Open one from the Aging, Reconciliation or Customer page.",
    )
    picked = None if chosen is None else int(chosen["id"])
    if picked != st.session_state.get("disputes_list_seen"):
        st.session_state["disputes_list_seen"] = picked
        if picked is not None:
            st.session_state[ui.PICK] = picked
    if chosen is None and len(table) and st.session_state.get(ui.PICK) is None:
        st.caption("Select a dispute (or choose it below) to work it.")


def pick(frame: pd.DataFrame) -> int | None:
    wanted = st.query_params.get("dispute")
    ids = sorted(frame["id"].astype(int).tolist(), reverse=True)
    if wanted is not None:
        if wanted.isdigit() and int(wanted) in ids:
            st.session_state[ui.PICK] = int(wanted)
        del st.query_params["dispute"]
    if not ids:
        return None
    if st.session_state.get(ui.PICK) not in ids:
        st.session_state.pop(ui.PICK, None)
    rows = frame.set_index(frame["id"].astype(int))

    def label(i: int) -> str:
        r = rows.loc[i]
        name = f" · {r['name']}" if isinstance(r["name"], str) and r["name"] else ""
        return f"#{i} · {r['customer_id']}{name} · {money_text(int(r['amount']), str(r['currency']))}"

    return st.selectbox("Dispute", ids, key=ui.PICK, index=None, format_func=label,
                        placeholder="Choose a dispute", persist_state="session")


def when(ts) -> str:
    if ts is None or pd.isna(ts):
        return "—"
    return pd.Timestamp(ts).tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC")


def render_facts(d, row: pd.Series) -> None:
    title = f"Dispute #{d.id} · {d.customer_id}"
    if isinstance(row.get("name"), str) and row["name"]:
        title += f" · {row['name']}"
    st.subheader(plain(title), anchor=False)
    facts = [ui.state_badge(str(d.status)), f"**{REASONS.get(d.reason, d.reason)}**",
             f"owner **{plain(d.owner)}**", ui.level_text(d.level),
             f"opened {when(d.opened_at)} by **{plain(d.opened_by)}**"]
    if d.invoice_no:
        facts.insert(2, f"invoice **{plain(d.invoice_no)}**")
    st.markdown(" · ".join(facts))
    cols = st.columns(4)
    cols[0].metric("Disputed", money_text(d.amount, d.currency), border=True)
    cols[1].metric("Age", f"{int(row['age_days'])} days", border=True)
    review = row["days_in_review"]
    sla_days = d.review_days or state.policy().review_days
    cols[2].metric("In review", "—" if pd.isna(review) else f"{int(review)} days", border=True,
                   help=f"The SLA: escalate after {sla_days} days in review.")
    if d.outcome:
        cols[3].metric(f"Outcome: {OUTCOMES.get(d.outcome, d.outcome)}",
                       money_text(int(d.resolved_amount or 0), d.currency), border=True)
    else:
        cols[3].metric(f"Level {d.level}", LEVELS.get(int(d.level), "?").capitalize(), border=True,
                       help="Level 1 is finance; escalation hands the dispute to management (level 2).")
    if bool(row["escalation_due"]):
        st.warning(f"In review for {int(review)} days, past the {sla_days}-day SLA: escalate it to "
                   "management.", icon=":material/alarm:")
    if d.description:
        st.caption(f"Opened with: {plain(d.description)}")
    moments = [f"{k} {when(v)}" for k, v in (("review started", d.review_started_at),
                                              ("escalated", d.escalated_at), ("closed", d.closed_at))
               if v is not None]
    if moments:
        text = " · ".join(moments)
        st.caption(text[:1].upper() + text[1:])


def render_lines(d, aging: pd.DataFrame) -> None:
    rows = aging[aging["line_code"].astype(str).isin(d.line_codes).to_numpy(dtype=bool)]
    money_table(rows[[c for c in ui.LINE_COLUMNS if c in rows]], ["amount", "allocated", "open"],
                key="dispute_lines", empty="These lines are not in the loaded data as of this date.")
    missing = sorted(set(d.line_codes) - set(rows["line_code"].astype(str)))
    if missing and len(rows):
        st.caption("Not in the loaded data as of this date: " + plain(", ".join(missing)))
    if len(rows):
        st.caption(f"Open on these lines now: {money_text(int(rows['open'].sum()), d.currency)}"
                   + (" · skipped by FIFO allocation, flagged in aging, left out of reminders while the "
                      "dispute is open." if d.is_open else "."))


def render_log(store, d) -> None:
    log = store.dispute_log(int(d.id))
    if len(log):
        shown = pd.DataFrame({"at": log["at"].map(when), "who": log["actor"],
                              "channel": log["channel"].map(lambda c: LOG_CHANNELS.get(c, c)),
                              "text": log["text"]})
        plain_table(shown, key="dispute_log")
    else:
        st.caption("No entries yet.")
    with st.form("dispute_note_form", clear_on_submit=True, border=False):
        with st.container(horizontal=True, vertical_alignment="bottom"):
            st.selectbox("Channel", list(LOG_CHANNELS), key="dispute_note_channel",
                         format_func=LOG_CHANNELS.get, width=180)
            st.text_input("Entry", key="dispute_note_text", placeholder="Called the buyer; proof of delivery "
                                                                         "requested …")
            refused = auth.blocked(Action.DISPUTE_NOTE)  # drawing only: the service checks again
            st.form_submit_button("Add to log", icon=":material/add_comment:", on_click=ui.add_note,
                                  args=(int(d.id),), key="dispute_note_add", disabled=refused is not None,
                                  help=refused)


def change_text(action: str, before: str | None, after: str | None) -> str:
    b = json.loads(before) if isinstance(before, str) and before else {}
    a = json.loads(after) if isinstance(after, str) and after else {}
    if action == "open":
        return f"opened ({a.get('amount')} minor units, {REASONS.get(a.get('reason'), a.get('reason'))})"
    if action == "transition":
        text = f"{b.get('status')} → {a.get('status')}"
        if a.get("outcome"):
            text += f" ({OUTCOMES.get(a['outcome'], a['outcome'])}, {a.get('resolved_amount')} minor units)"
        if a.get("owner") != b.get("owner"):
            text += f"; owner {b.get('owner')} → {a.get('owner')}"
        return text
    if action == "log":
        return f"log entry ({LOG_CHANNELS.get(a.get('channel'), a.get('channel'))})"
    return action


def render_audit(store, d) -> None:
    events = store.audit_events("dispute", d.id)
    shown = pd.DataFrame({
        "at": events["at"].map(when), "who": events["actor"], "action": events["action"],
        "change": [change_text(a, b, c) for a, b, c in
                   zip(events["action"], events["before_json"], events["after_json"])],
    })
    plain_table(shown, key="dispute_audit", empty="No events.")


def render_detail(store, frame: pd.DataFrame, aging: pd.DataFrame) -> None:
    dispute_id = pick(frame)
    ui.show_message()
    if dispute_id is None:
        return
    d = store.get_dispute(dispute_id)
    if d is None:
        st.error(f"There is no dispute #{dispute_id}.")
        return
    row = frame.set_index(frame["id"].astype(int)).loc[dispute_id]
    with st.container(border=True, key="dispute_detail"):
        render_facts(d, row)
        ui.move_buttons(d)
        tab_lines, tab_log, tab_audit = st.tabs([f"Lines ({len(d.line_codes)})", "Communication log",
                                                 "Audit trail"])
        with tab_lines:
            render_lines(d, aging)
        with tab_log:
            render_log(store, d)
        with tab_audit:
            render_audit(store, d)


loaded = common.page_start("Disputes", "Lines as of {as_of}; ages and the review SLA up to today.")
analysis = state.view(loaded)
try:
    store = state.workspace().store
    frame = load(store, loaded.data)
except Exception as exc:  # noqa: BLE001 - a store that cannot be opened is a message, not a traceback
    st.error(f"The action store cannot be read: {plain(state.error_text(exc))}", icon=":material/database:")
    st.stop()

render_pipeline(frame)
ui.render_orphans(loaded.data)
if not len(frame):
    st.info("No disputes yet. Open one from a line or an invoice on the Aging page, from an exception on the "
            "Reconciliation page, or from a customer's open lines.", icon=":material/gavel:")
    st.page_link("pages/aging.py", label="Go to Aging", icon=":material/hourglass_bottom:")
    st.stop()
shown = render_filters(frame)
render_list(shown)
render_detail(store, frame, analysis.aging)
