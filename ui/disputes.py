"""Disputes in the UI: the shared "Open dispute" button and dialog, and what the Disputes page draws with.

Aging (a line or an invoice), Reconciliation (an exception naming lines) and
Customer (chosen open lines) call `open_dispute_button`. Its dialog is
pre-filled with the lines, their open amounts summed as the amount (editable;
the store checks it with `billing.disputes.validate_new`: at most the open amount), the
reason, the owner and a note. The request that shows the dialog lives in the
session (`PENDING`), so the dialog survives reruns until it is confirmed or
dismissed.

Every write goes through `ui.store`: `action_id(purpose)` is the same on a
rerun or a double click, so the store applies the action once, and `done`
forgets it after success. Who acts is `ui.store.current_actor()` (the signed-in
address, or the local-mode name); buttons are disabled for a role that may not
act, and the service refuses it anyway (NotAllowed, shown like the others).
Rule violations (`DisputeError`, `InvalidTransition`) and store problems are
shown with `st.error`, never as a traceback.
"""
from __future__ import annotations

import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd
import streamlit as st

from billing.disputes import LEVELS, OUTCOMES, REASONS, TRANSITIONS, Dispute, DisputeError, InvalidTransition
from billing import labels
from billing.roles import Action
from connectors.store import ActionConflict, StoreError
from services.context import NotAllowed
from ui import auth, state
from ui.fmt import digits_of, money_text
from services import actions
from ui.store import actor, action_id, current_actor, done
from ui.tables import money_table
from ui.i18n import t
from ui.text import plain

DISPUTES_PAGE = "pages/disputes.py"

# session_state keys
PENDING = "dispute_new"        # the open-dispute request whose dialog is showing
FLASH = "dispute_flash"        # {button key: (kind, text, dispute id)} after the dialog closed
CONFIRM = "dispute_confirm"    # the transition waiting for confirmation in a dialog
MESSAGE = "dispute_message"    # (kind, text) to show in the detail after an action
PICK = "dispute_pick"          # the dispute shown in the detail
LAST_NOTE = "dispute_last_note"  # (dispute id, channel, text) of the last log entry this session added

# the open-dispute dialog's widgets
F_AMOUNT, F_REASON, F_OWNER, F_NOTE = "dispute_new_amount", "dispute_new_reason", "dispute_new_owner", \
    "dispute_new_note"
F_SUBMIT, F_CANCEL = "dispute_new_submit", "dispute_new_cancel"

LINE_COLUMNS = ["line_code", "invoice_no", "line_no", "customer_id", "currency", "due_date", "amount",
                "allocated", "open", "days_past_due", "bucket", "in_dispute"]

STATE_LABELS = labels.DISPUTE_STATES  # English; shown through state_label (translated)
STATE_COLORS = {
    "open": "blue", "in_review": "orange", "escalated": "red",
    "resolved": "green", "rejected": "gray", "withdrawn": "gray",
}
# target state -> (button label, icon, needs a confirmation dialog)
MOVES = {
    "in_review": (labels.N_("Start review"), ":material/search:", False),
    "escalated": (labels.N_("Escalate to management"), ":material/trending_up:", False),
    "resolved": (labels.N_("Resolve …"), ":material/task_alt:", True),
    "rejected": (labels.N_("Reject …"), ":material/block:", True),
    "withdrawn": (labels.N_("Withdraw …"), ":material/undo:", True),
}
assert set(MOVES) == {t for ts in TRANSITIONS.values() for t in ts}


def state_label(status: str) -> str:
    """A dispute state in the user's words and language ("in_review" -> "In review")."""
    return labels.label(labels.DISPUTE_STATES, str(status), t)


def reason_label(reason: str) -> str:
    return labels.label(labels.DISPUTE_REASONS, str(reason), t)


def state_badge(status: str) -> str:
    return f":{STATE_COLORS.get(status, 'gray')}-badge[{state_label(status)}]"


# --------------------------------------------------------------------------- money in the widgets

def to_major(minor: int, currency: str) -> float:
    return int(minor) / 10 ** digits_of(currency)


def to_minor(value: Any, currency: str) -> int:
    """A major-unit number typed by the user -> int minor units of `currency` (half up)."""
    d = digits_of(currency)
    return int((Decimal(str(value)) * (10 ** d)).to_integral_value(ROUND_HALF_UP))


def number_format(currency: str) -> tuple[str, float]:
    d = digits_of(currency)
    return (f"%.{d}f", 10.0 ** -d) if d else ("%.0f", 1.0)


def _errors() -> tuple[type[Exception], ...]:
    return (DisputeError, StoreError, NotAllowed)


# --------------------------------------------------------------------------- opening a dispute

def _lines_for(aging: pd.DataFrame, codes: list[str]) -> pd.DataFrame:
    """Aging rows of `codes` in the given order (codes the aging does not know are left out)."""
    rows = aging[aging["line_code"].astype(str).isin(codes).to_numpy(dtype=bool)]
    order = {c: i for i, c in enumerate(codes)}
    return rows.assign(_o=rows["line_code"].astype(str).map(order)).sort_values("_o").drop(columns="_o")


def disputable(aging: pd.DataFrame, codes: list[str],
               keep_disputed: bool = False) -> tuple[pd.DataFrame, dict[str, str]]:
    """The lines of `codes` a new dispute can cover, and why the others are left out.

    `keep_disputed` keeps lines already in open dispute (a retry of a request
    the store may have applied: it answers a replay with the first result)."""
    rows = _lines_for(aging, [str(c) for c in codes])
    left_out: dict[str, str] = {c: "not an invoice line of the loaded data as of this date"
                                for c in map(str, codes) if c not in set(rows["line_code"].astype(str))}
    for r in rows.itertuples():
        if bool(r.in_dispute) and not keep_disputed:
            left_out[str(r.line_code)] = "already in an open dispute"
        elif int(r.open) <= 0:
            left_out[str(r.line_code)] = "nothing open"
    keep = rows[~rows["line_code"].astype(str).isin(left_out).to_numpy(dtype=bool)]
    return keep, left_out


def _default_owner(customer_id: str | None) -> str:
    """The customer's account owner from the customers table, else the acting user."""
    loaded = state.current()
    if customer_id and loaded.data is not None:
        cust = loaded.data.customers
        if len(cust) and "owner" in cust:
            hit = cust.loc[cust["customer_id"].astype(str) == str(customer_id), "owner"].dropna()
            if len(hit) and str(hit.iloc[0]).strip():
                return str(hit.iloc[0]).strip()
    name = actor()
    return "" if name == "anonymous" else name


def _request(key: str, codes: list[str], amount: int | None, reason: str, note: str,
             customer_id: str | None, currency: str | None, default_amount: int) -> None:
    """on_click of an "Open dispute" button: remember the request and pre-fill the dialog."""
    st.session_state[PENDING] = {"source": key, "codes": list(codes), "nonce": uuid.uuid4().hex[:8]}
    amount = default_amount if amount is None or amount <= 0 or amount > default_amount else amount
    st.session_state[F_AMOUNT] = to_major(amount, currency or "USD")
    st.session_state[F_REASON] = reason if reason in REASONS else "other"
    st.session_state[F_OWNER] = _default_owner(customer_id)
    st.session_state[F_NOTE] = note
    st.session_state.get(FLASH, {}).pop(key, None)


def _dismiss() -> None:
    st.session_state.pop(PENDING, None)


def _purpose(req: dict) -> str:
    return f"open_dispute:{req['source']}:{req['nonce']}"


def open_dispute_button(analysis, codes: list[str], *, key: str, label: str = "Open dispute",
                        reason: str = "other", amount: int | None = None, note: str = "",
                        help: str | None = None) -> None:
    """An "Open dispute" button for `codes` (pre-filled dialog), and the result of the last one.

    `amount` (minor units) pre-fills the amount when it is within the open
    amount (e.g. the amount at stake of an exception); otherwise the lines'
    open amounts summed. Lines already in open dispute or with nothing open
    are left out (the dialog says which); with none left the button is off.
    """
    flash = st.session_state.get(FLASH, {}).pop(key, None)
    if flash:
        kind, text, dispute_id = flash
        with st.container(horizontal=True, vertical_alignment="center"):
            (st.success if kind == "success" else st.info)(text, icon=":material/gavel:")
            if dispute_id is not None:
                st.page_link(DISPUTES_PAGE, label=f"Work dispute #{dispute_id}", icon=":material/gavel:",
                             query_params={"dispute": str(dispute_id)})
    lines, left_out = disputable(analysis.aging, list(codes))
    customer = str(lines["customer_id"].iloc[0]) if len(lines) else None
    currency = str(lines["currency"].iloc[0]) if len(lines) else None
    total = int(lines["open"].clip(lower=0).sum()) if len(lines) else 0
    why = None if len(lines) else ("; ".join(f"{c}: {r}" for c, r in left_out.items()) or "no lines")
    refused = auth.blocked(Action.DISPUTE_CREATE)  # drawing only: the service checks again
    st.button(label, key=key, icon=":material/gavel:", disabled=not len(lines) or refused is not None,
              help=refused or (help if len(lines) else f"Nothing to dispute here ({plain(why)})."),
              on_click=_request, args=(key, list(map(str, codes)), amount, reason, note, customer, currency,
                                       total))
    req = st.session_state.get(PENDING)
    if req and req.get("source") == key:
        _open_dialog(analysis.aging, req)


@st.dialog("Open a dispute", width="large", on_dismiss=_dismiss)
def _open_dialog(aging: pd.DataFrame, req: dict) -> None:
    # A submit of this request already had an action id that was not finished: it may have been
    # applied (a rerun cut the run short), so its lines may show as disputed by it; the store decides.
    retry = f"action_id::{_purpose(req)}" in st.session_state
    lines, left_out = disputable(aging, req["codes"], keep_disputed=retry)
    if left_out:
        st.caption("Left out: " + plain("; ".join(f"{c} ({why})" for c, why in left_out.items())))
    if not len(lines):
        st.warning("None of these lines can be disputed.")
        if st.button("Close", key=F_CANCEL):
            _dismiss()
            st.rerun()
        return
    customers = sorted(set(lines["customer_id"].astype(str)))
    currency = str(lines["currency"].iloc[0])
    names = state.customer_names(state.current().data) if state.current().data is not None else pd.Series()
    who = ", ".join(f"{c} · {names.get(c)}" if c in names else c for c in customers)
    total = int(lines["open"].clip(lower=0).sum())
    st.markdown(f"**{plain(who)}** · {len(lines)} line{'s' if len(lines) != 1 else ''} · open "
                f"**{money_text(total, currency)}**")
    money_table(lines[[c for c in LINE_COLUMNS if c in lines]], ["amount", "allocated", "open"],
                key="dispute_new_lines")
    fmt, step = number_format(currency)
    with st.container(horizontal=True):
        st.number_input(f"Disputed amount ({currency})", key=F_AMOUNT, min_value=0.0, step=step, format=fmt,
                        help="At most the open amount of the lines; the customer's lines are the default.")
        st.selectbox("Reason", list(REASONS), key=F_REASON, format_func=REASONS.get)
        st.text_input("Owner", key=F_OWNER, help="Who works it at level 1 (finance).")
    st.text_area("Note", key=F_NOTE, placeholder="What the customer says, what was agreed …", height=80)
    with st.container(horizontal=True):
        submit = st.button("Open dispute", key=F_SUBMIT, type="primary", icon=":material/gavel:")
        cancel = st.button("Cancel", key=F_CANCEL)
    if cancel:
        _dismiss()
        st.rerun()
    if not submit:
        return
    purpose = _purpose(req)
    try:
        amount = to_minor(st.session_state.get(F_AMOUNT) or 0, currency)
        codes = [str(c) for c in lines["line_code"]]
        # The store checks the request with billing.disputes.validate_new (amount at most the open
        # amount of the lines, no line already in an open dispute, one customer and currency) inside
        # its transaction; a replayed action id returns the dispute the first call opened.
        new_id = actions.open_dispute(
            state.workspace(), current_actor(), action_id=action_id(purpose), lines=lines, amount=amount, line_codes=codes,
            reason=st.session_state.get(F_REASON) or "other",
            owner=(st.session_state.get(F_OWNER) or "").strip(),
            description=(st.session_state.get(F_NOTE) or "").strip() or None)
    except ActionConflict:
        done(purpose)
        st.error("An earlier click already sent this request with other values, and it may have opened "
                 "the dispute: check the Disputes page before trying again.", icon=":material/error:")
        return
    except _errors() as exc:
        st.error(plain(exc), icon=":material/error:")
        return
    done(purpose)
    _dismiss()
    st.session_state.setdefault(FLASH, {})[req["source"]] = (
        "success", f"Dispute #{new_id} opened on {len(codes)} line{'s' if len(codes) != 1 else ''} "
                   f"for {money_text(amount, currency)}.", new_id)
    st.session_state[PICK] = new_id
    st.rerun()


# --------------------------------------------------------------------------- the Disputes page's actions

def _say(kind: str, text: str) -> None:
    st.session_state[MESSAGE] = (kind, text)


def show_message() -> None:
    msg = st.session_state.pop(MESSAGE, None)
    if msg:
        kind, text = msg
        if kind == "error":
            st.error(text, icon=":material/error:")
        else:
            st.success(text, icon=":material/check_circle:")


def _move_purpose(d: Dispute, to: str) -> str:
    return f"dispute:{d.id}:v{d.version}:{to}"


def move(d: Dispute, to: str, **kwargs: Any) -> bool:
    """Apply a transition through the store (idempotent per dispute version); report in the detail."""
    purpose = _move_purpose(d, to)
    try:
        new = actions.transition_dispute(state.workspace(), current_actor(), int(d.id), to,
                                         action_id=action_id(purpose), **kwargs)
    except InvalidTransition as exc:
        done(purpose)
        if exc.current == to:  # a second click on a button drawn before the first one was applied
            _say("success", t("Dispute #{id} is already {state}.", id=d.id, state=state_label(to).lower()))
            return True
        _say("error", plain(exc))
        return False
    except _errors() as exc:
        _say("error", plain(exc))
        return False
    done(purpose)
    _say("success", t("Dispute #{id} is now {state}.", id=new.id, state=state_label(str(new.status)).lower()))
    return True


def move_buttons(d: Dispute) -> None:
    """One button per move the dispute's state allows (nothing else is offered)."""
    allowed = TRANSITIONS[str(d.status)]
    if not allowed:
        st.caption(t("Closed ({state}): no further moves.", state=state_label(str(d.status)).lower()))
        return
    refused = auth.blocked(Action.DISPUTE_TRANSITION)  # drawing only: the service checks again
    with st.container(horizontal=True):
        for to in allowed:
            label, icon, confirm = MOVES[to]
            label = t(label)
            if confirm:
                st.button(label, key=f"dispute_to_{to}", icon=icon, on_click=_ask, args=(d, to),
                          disabled=refused is not None, help=refused)
            else:
                st.button(label, key=f"dispute_to_{to}", icon=icon, on_click=move, args=(d, to),
                          type="primary" if to == allowed[0] else "secondary", disabled=refused is not None,
                          help=refused)
    req = st.session_state.get(CONFIRM)
    if req and req["id"] == d.id:
        if req["version"] != d.version or req["to"] not in allowed:
            st.session_state.pop(CONFIRM, None)  # the dispute moved meanwhile
        else:
            _confirm_dialog(d, req["to"])


def _ask(d: Dispute, to: str) -> None:
    st.session_state[CONFIRM] = {"id": d.id, "to": to, "version": d.version}
    st.session_state["dispute_confirm_outcome"] = "credit_note"
    st.session_state["dispute_confirm_amount"] = to_major(d.amount, d.currency)
    st.session_state["dispute_confirm_note"] = ""


def _cancel_confirm() -> None:
    st.session_state.pop(CONFIRM, None)


@st.dialog("Confirm the change", on_dismiss=_cancel_confirm)
def _confirm_dialog(d: Dispute, to: str) -> None:
    st.markdown(f"Dispute **#{d.id}** · {plain(d.customer_id)} · {money_text(d.amount, d.currency)} · "
                f"{state_badge(str(d.status))} → {state_badge(to)}")
    kwargs: dict[str, Any] = {}
    if to == "resolved":
        choices = [o for o in OUTCOMES if o != "rejected"]
        outcome = st.radio("Outcome", choices, key="dispute_confirm_outcome", format_func=OUTCOMES.get,
                           horizontal=True)
        fmt, step = number_format(d.currency)
        st.number_input(f"Resolved amount ({d.currency})", key="dispute_confirm_amount", min_value=0.0,
                        step=step, format=fmt,
                        help=f"More than 0 and at most the disputed {money_text(d.amount, d.currency)}.")
        if outcome == "write_off":
            st.warning("A write-off books this amount as a loss: the customer will not be asked for it.",
                       icon=":material/warning:")
    elif to == "rejected":
        st.caption("The customer's claim is refused: the lines are owed in full and go back into "
                   "allocation and reminders.")
    else:
        st.caption("The dispute is closed without an outcome; its lines go back into allocation and "
                   "reminders.")
    st.text_area("Note for the log", key="dispute_confirm_note", height=80)
    with st.container(horizontal=True):
        ok = st.button(t("Confirm: {state}", state=state_label(to).lower()), key="dispute_confirm_ok",
                       type="primary")
        cancel = st.button(t("Cancel"), key="dispute_confirm_cancel")
    if cancel:
        _cancel_confirm()
        st.rerun()
    if not ok:
        return
    try:
        if to == "resolved":
            kwargs["outcome"] = st.session_state.get("dispute_confirm_outcome")
            kwargs["resolved_amount"] = to_minor(st.session_state.get("dispute_confirm_amount") or 0,
                                                 d.currency)
    except _errors() as exc:
        st.error(plain(exc), icon=":material/error:")
        return
    note = (st.session_state.get("dispute_confirm_note") or "").strip()
    if move(d, to, note=note or None, **kwargs):
        if to == "resolved":  # a credit note or write-off outcome becomes adjustments (SPEC §15)
            from ui.collections_view import adjust_for_resolution

            adjust_for_resolution(d)
        _cancel_confirm()
        st.rerun()
    kind, text = st.session_state.pop(MESSAGE, ("error", "failed"))
    st.error(text, icon=":material/error:")


def add_note(dispute_id: int) -> None:
    """on_click of the log form: add the entry (channel, text) as the acting user.

    The same entry submitted again right after (a double click on the form's
    button) is not added twice."""
    channel = st.session_state.get("dispute_note_channel") or "note"
    text = st.session_state.get("dispute_note_text") or ""
    entry = (int(dispute_id), channel, text.strip())
    if text.strip() and st.session_state.get(LAST_NOTE) == entry:
        _say("success", "Already in the log.")
        return
    purpose = f"dispute_note:{dispute_id}"
    try:
        actions.add_dispute_note(state.workspace(), current_actor(), dispute_id, channel, text,
                                 action_id=action_id(purpose))
    except _errors() as exc:
        _say("error", plain(exc))
        return
    done(purpose)
    st.session_state[LAST_NOTE] = entry
    _say("success", "Added to the log.")


def level_text(level: int) -> str:
    """ "Level 2 · management" (billing.labels.DISPUTE_LEVELS) in the user's language."""
    return labels.label(labels.DISPUTE_LEVELS, int(level), t)


def render_orphans(data, customer_id: str | None = None) -> None:
    """Say which disputes have lines the current import no longer has (SPEC §13: actions are keyed by
    line code and outlive the import they were made on)."""
    try:
        gone = actions.orphaned_lines(state.workspace(), data.invoices["line_code"].astype(str))
    except Exception:  # noqa: BLE001 - the page already says when the store cannot be read
        return
    if customer_id is not None and len(gone):
        gone = gone[gone["customer_id"].astype(str) == str(customer_id)]
    if not len(gone):
        return
    per = gone.groupby("dispute_id")["line_code"].apply(lambda c: ", ".join(map(str, c)))
    listed = "; ".join(f"#{int(i)}: {codes}" for i, codes in per.items())
    st.warning(f"{len(per)} dispute(s) have lines that are not in the current import any more "
               f"(removed from the source since the dispute was opened): {listed}", icon=":material/link_off:")


# --------------------------------------------------------------------------- the Customer page's section

def customer_section(customer_id: str, analysis) -> None:
    """The customer's disputes, and "Open dispute" on open lines the user picks."""
    st.subheader(t("Disputes"), anchor=False)
    try:
        mine = actions.list_disputes(state.workspace(), customer_id=str(customer_id))
    except Exception as exc:  # noqa: BLE001 - the statement must still draw
        st.warning(f"The action store cannot be read: {plain(state.error_text(exc))}",
                   icon=":material/database:")
        return
    if len(mine):
        table = mine.sort_values("id", ascending=False).assign(
            status=mine["status"].map(state_label).astype("string"),
            reason=mine["reason"].map(reason_label).astype("string"))
        money_table(table[["id", "status", "currency", "amount", "reason", "owner", "line_codes", "opened_by",
                           "opened_at", "outcome", "resolved_amount"]],
                    ["amount", "resolved_amount"], key="customer_disputes", dates=["opened_at"],
                    column_config={"id": st.column_config.NumberColumn("#", format="%d")})
        st.page_link(DISPUTES_PAGE, label=t("Work them on the Disputes page"), icon=":material/gavel:")
    else:
        st.caption(t("No disputes with this customer."))
    render_orphans(state.current().data, customer_id)
    aging = analysis.aging
    lines = aging[(aging["customer_id"] == customer_id).to_numpy(dtype=bool)
                  & (aging["open"] > 0).to_numpy(dtype=bool)
                  & ~aging["in_dispute"].to_numpy(dtype=bool)]
    lines = lines.sort_values(["due_date", "invoice_no", "line_no"])
    if not len(lines):
        st.caption(t("No open line left to dispute."))
        return
    basis = analysis.policy.basis
    label = {str(r.line_code): f"{r.line_code} · {r.invoice_no} · "
                               + t("open {amount}", amount=money_text(int(r.open), str(r.currency)))
                               + f" · {labels.bucket_label(str(r.bucket), basis, t)}"
             for r in lines.itertuples()}
    kept = [c for c in st.session_state.get("customer_dispute_lines") or [] if c in label]
    st.session_state["customer_dispute_lines"] = kept  # lines just disputed are no longer offered
    with st.container(horizontal=True, vertical_alignment="bottom"):
        chosen = st.multiselect(t("Open lines to dispute"), list(label), key="customer_dispute_lines",
                                format_func=label.get, placeholder=t("Choose lines (one currency)"))
        open_dispute_button(analysis, chosen, key="customer_dispute", label=t("Open dispute"),
                            help=t("Pre-filled with the chosen lines and their open amounts."))
