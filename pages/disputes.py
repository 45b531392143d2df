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

from billing import labels
from billing.disputes import LOG_CHANNELS, OPEN_STATES, REASONS, STATES, sla_flags
from billing.roles import Action
from ui import auth, common, state
from ui import disputes as ui
from ui import i18n
from ui.fmt import money_text
from ui.i18n import option_names, t
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
        sla=frame["escalation_due"].map({True: t("escalate"), False: ""}).astype("string"),
    )


def render_pipeline(frame: pd.DataFrame) -> None:
    """One card per state: how many, how much per currency, how old."""
    cols = st.columns(len(STATES))
    for col, status in zip(cols, STATES):
        rows = frame[frame["status"] == status]
        with col.container(border=True, key=f"dispute_card_{status}"):
            st.metric(ui.state_label(status), f"{len(rows):,}",
                      help=t("Disputes in this state (after the sidebar filters)."))
            amounts = rows.groupby("currency")["amount"].sum()
            st.caption(" · ".join(money_text(int(v), str(c)) for c, v in amounts.items()) or "—")
            if len(rows):
                text = (t("Oldest {oldest} d · average {average} d open") if status in OPEN_STATES
                        else t("Oldest {oldest} d · average {average} d to close"))
                st.caption(text.format(oldest=int(rows["age_days"].max()), average=f"{rows['age_days'].mean():.0f}"))
            flagged = int(rows["escalation_due"].sum())
            if flagged:
                st.markdown(":red-badge[:material/alarm: " + t("{n} past the review SLA", n=flagged) + "]")


def render_filters(frame: pd.DataFrame) -> pd.DataFrame:
    st.session_state.setdefault("disputes_status", list(OPEN_STATES))
    with st.container(horizontal=True, vertical_alignment="bottom"):
        statuses = st.pills(t("State"), list(STATES), selection_mode="multi", key="disputes_status",
                            format_func=option_names(STATES, ui.state_label), persist_state="session",
                            help=t("Leave empty for every state."))
        owners = st.multiselect(t("Owner"), sorted(frame["owner"].dropna().unique()), key="disputes_owner",
                                placeholder=t("All owners"), persist_state="session")
        reasons = st.multiselect(t("Reason"), list(REASONS), key="disputes_reason", format_func=option_names(REASONS, ui.reason_label),
                                 placeholder=t("All reasons"), persist_state="session")
        late = st.toggle(t("Only past the review SLA"), key="disputes_late", persist_state="session")
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
    table = table.assign(reason=table["reason"].map(ui.reason_label).astype("string"),
                         status=table["status"].map(ui.state_label).astype("string"),
                         level=table["level"].map(ui.level_text).astype("string"),
                         # a dispute not (yet) in review has no review days: a dash, not "None"
                         days_in_review=table["days_in_review"].map(
                             lambda v: "—" if pd.isna(v) else f"{int(v)}").astype("string"))
    chosen = money_table(
        table[LIST_COLUMNS], ["amount"], key="disputes_list", select=True, dates=["opened_at"],
        column_config={"id": st.column_config.NumberColumn("#", format="%d", pinned=True),
                       "status": st.column_config.TextColumn(t("Status")),
                       "sla": st.column_config.TextColumn(t("SLA"), help=t("In review past its review days: "
                                                                          "escalate it.")),
                       "level": st.column_config.TextColumn(t("Level")),
                       "age_days": st.column_config.NumberColumn(t("Age (days)"), format="%d"),
                       "days_in_review": st.column_config.TextColumn(t("In review (days)")),
                       "n_lines": st.column_config.NumberColumn(t("Lines"), format="%d"),
                       "opened_by": st.column_config.TextColumn(t("Opened by")),
                       "opened_at": st.column_config.DateColumn(t("Opened"), format="YYYY-MM-DD")},
        empty=t("No dispute matches these filters. Open one from the Aging, Reconciliation or Customer page."),
    )
    picked = None if chosen is None else int(chosen["id"])
    if picked != st.session_state.get("disputes_list_seen"):
        st.session_state["disputes_list_seen"] = picked
        if picked is not None:
            st.session_state[ui.PICK] = picked
    if chosen is None and len(table) and st.session_state.get(ui.PICK) is None:
        st.caption(t("Select a dispute (or choose it below) to work it."))


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

    return st.selectbox(t("Dispute"), ids, key=ui.PICK, index=None, format_func=label,
                        placeholder=t("Choose a dispute"), persist_state="session")


def when(ts) -> str:
    """A stored UTC time in the user's time zone and language."""
    return i18n.moment(ts)


def render_facts(d, row: pd.Series) -> None:
    title = t("Dispute #{id} · {customer}", id=d.id, customer=d.customer_id)
    if isinstance(row.get("name"), str) and row["name"]:
        title += f" · {row['name']}"
    st.subheader(plain(title), anchor=False)
    facts = [ui.state_badge(str(d.status)), f"**{ui.reason_label(d.reason)}**",
             t("owner **{owner}**", owner=plain(d.owner)), ui.level_text(d.level),
             t("opened {when} by **{who}**", when=when(d.opened_at), who=plain(d.opened_by))]
    if d.invoice_no:
        facts.insert(2, t("invoice **{invoice}**", invoice=plain(d.invoice_no)))
    st.markdown(" · ".join(facts))
    cols = st.columns(4)
    cols[0].metric(t("Disputed"), money_text(d.amount, d.currency), border=True)
    cols[1].metric(t("Age"), t("{n} days", n=int(row["age_days"])), border=True)
    review = row["days_in_review"]
    sla_days = d.review_days or state.policy().review_days
    cols[2].metric(t("In review"), "—" if pd.isna(review) else t("{n} days", n=int(review)), border=True,
                   help=t("The SLA: escalate after {n} days in review.", n=sla_days))
    if d.outcome:
        cols[3].metric(t("Outcome: {outcome}", outcome=labels.label(labels.DISPUTE_OUTCOMES, d.outcome, t)),
                       money_text(int(d.resolved_amount or 0), d.currency), border=True)
    else:  # the level is in the line above; a short figure here, nothing to truncate
        cols[3].metric(t("Review SLA"), t("{n} days", n=sla_days), border=True,
                       help=t("Level 1 is finance; escalation hands the dispute to management (level 2)."))
    if bool(row["escalation_due"]):
        st.warning(t("In review for {n} days, past the {sla}-day SLA: escalate it to management.",
                     n=int(review), sla=sla_days), icon=":material/alarm:")
    if d.description:
        st.caption(t("Opened with: {text}", text=plain(d.description)))
    moments = [f"{k} {when(v)}" for k, v in ((t("Review started"), d.review_started_at),
                                              (t("Escalated"), d.escalated_at), (t("Closed"), d.closed_at))
               if v is not None]
    if moments:
        st.caption(" · ".join(moments))


def render_lines(d, aging: pd.DataFrame) -> None:
    rows = aging[aging["line_code"].astype(str).isin(d.line_codes).to_numpy(dtype=bool)]
    money_table(rows[[c for c in ui.LINE_COLUMNS if c in rows]], ["amount", "allocated", "open"],
                key="dispute_lines", empty=t("These lines are not in the loaded data as of this date."))
    missing = sorted(set(d.line_codes) - set(rows["line_code"].astype(str)))
    if missing and len(rows):
        st.caption(t("Not in the loaded data as of this date: {codes}", codes=plain(", ".join(missing))))
    if len(rows):
        st.caption(t("Open on these lines now: {amount}", amount=money_text(int(rows["open"].sum()), d.currency))
                   + (" · " + t("skipped by oldest-first allocation, flagged in aging, left out of reminders "
                                "while the dispute is open.") if d.is_open else "."))


def render_log(store, d) -> None:
    log = store.dispute_log(int(d.id))
    if len(log):
        shown = pd.DataFrame({"created_at": i18n.moments(log["at"]), "actor": log["actor"],
                              "channel": log["channel"].map(lambda c: labels.label(labels.LOG_CHANNELS, c, t)),
                              "text": log["text"]})
        plain_table(shown, key="dispute_log")
    else:
        st.caption(t("No entries yet."))
    with st.form("dispute_note_form", clear_on_submit=True, border=False):
        with st.container(horizontal=True, vertical_alignment="bottom"):
            st.selectbox(t("Channel"), list(LOG_CHANNELS), key="dispute_note_channel",
                         format_func=option_names(LOG_CHANNELS, lambda c: labels.label(labels.LOG_CHANNELS, c, t)), width=180)
            st.text_input(t("Entry"), key="dispute_note_text",
                          placeholder=t("Called the buyer; proof of delivery requested …"))
            refused = auth.blocked(Action.DISPUTE_NOTE)  # drawing only: the service checks again
            st.form_submit_button(t("Add to log"), icon=":material/add_comment:", on_click=ui.add_note,
                                  args=(int(d.id),), key="dispute_note_add", disabled=refused is not None,
                                  help=refused)


def change_text(action: str, before: str | None, after: str | None, currency: str) -> str:
    """An audit event in words: "Opened: $100.00, price", "In review → Resolved (credit note, $50.00)"."""
    b = json.loads(before) if isinstance(before, str) and before else {}
    a = json.loads(after) if isinstance(after, str) and after else {}

    def money(value) -> str:
        return "—" if value is None else money_text(int(value), currency)

    if action == "open":
        return t("Opened: {amount}, {reason}", amount=money(a.get("amount")),
                 reason=ui.reason_label(a.get("reason")).lower())
    if action == "transition":
        text = f"{ui.state_label(b.get('status'))} → {ui.state_label(a.get('status'))}"
        if a.get("outcome"):
            outcome = labels.label(labels.DISPUTE_OUTCOMES, a["outcome"], t).lower()
            text += f" ({outcome}, {money(a.get('resolved_amount'))})"
        if a.get("owner") != b.get("owner"):
            text += "; " + t("owner {before} → {after}", before=b.get("owner"), after=a.get("owner"))
        return text
    if action == "log":
        return t("Log entry ({channel})", channel=labels.label(labels.LOG_CHANNELS, a.get("channel"), t).lower())
    return labels.readable(action)


def render_audit(store, d) -> None:
    events = store.audit_events("dispute", d.id)
    shown = pd.DataFrame({
        "created_at": i18n.moments(events["at"]), "actor": events["actor"],
        "text": [change_text(a, b, c, d.currency) for a, b, c in
                 zip(events["action"], events["before_json"], events["after_json"])],
    })
    plain_table(shown, key="dispute_audit", empty=t("No events."))


def render_detail(store, frame: pd.DataFrame, aging: pd.DataFrame) -> None:
    dispute_id = pick(frame)
    ui.show_message()
    if dispute_id is None:
        return
    d = store.get_dispute(dispute_id)
    if d is None:
        st.error(t("There is no dispute #{id}.", id=dispute_id))
        return
    row = frame.set_index(frame["id"].astype(int)).loc[dispute_id]
    with st.container(border=True, key="dispute_detail"):
        render_facts(d, row)
        ui.move_buttons(d)
        tab_lines, tab_log, tab_audit = st.tabs([t("Lines ({n})", n=len(d.line_codes)), t("Communication log"),
                                                 t("Audit trail")])
        with tab_lines:
            render_lines(d, aging)
        with tab_log:
            render_log(store, d)
        with tab_audit:
            render_audit(store, d)


loaded = common.page_start(t("Disputes"), t("Lines as of {as_of}; ages and the review SLA up to today."))
analysis = state.view(loaded)
try:
    store = state.workspace().store
    frame = load(store, loaded.data)
except Exception as exc:  # noqa: BLE001 - a store that cannot be opened is a message, not a traceback
    st.error(t("The action store cannot be read: {error}", error=plain(state.error_text(exc))),
             icon=":material/database:")
    st.stop()

render_pipeline(frame)
ui.render_orphans(loaded.data)
if not len(frame):
    st.info(t("No disputes yet. Open one from a line or an invoice on the Aging page, from an exception on the "
              "Reconciliation page, or from a customer's open lines."), icon=":material/gavel:")
    st.page_link("pages/aging.py", label=t("Go to Aging"), icon=":material/hourglass_bottom:")
    st.stop()
shown = render_filters(frame)
render_list(shown)
render_detail(store, frame, analysis.aging)
