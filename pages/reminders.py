"""Reminders: who is due a payment reminder as of the sidebar date, who is skipped and why, each
message as the customer will see it, and sending them after a confirmation, exactly once.

The plan is `services.actions.plan_reminders` over the same cached Analysis the other pages draw,
with the workspace's reminder log and open disputes. Sending is `services.actions.send`: it claims each
(line, level) key in the store before sending, so a rerun, a double click, a second tab or the
cron job (`cli.py remind --send`) never sends a reminder twice. The action id of a send comes from
`ui.store.action_id` and is kept until the send has finished. On the demo sandbox every message goes
to the preview outbox instead (nothing leaves the machine).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from billing import labels
from billing.dunning import DunningPolicy
from billing.roles import Action
from connectors.mailer import ConfigError
from connectors.reminders import SendReport, clients_from_secrets, make_renderer, preview
from services import actions
from services.context import NotAllowed
from ui import auth, common, state
from ui import reminders_view as rv
from ui import statements_view
from ui.store import action_id, current_actor, done, sandbox
from ui.tables import money_table
from ui.i18n import t
from ui.text import plain

CONFIRM = "rem_confirm"  # session: {"customers": [...], "scope": "selected" | "all"} while the dialog is open
REPORT = "rem_report"  # session: what the last send or retry did
SECRETS_EXAMPLE = Path(__file__).resolve().parents[1] / ".streamlit" / "secrets.toml.example"
SMTP_EXAMPLE = """[smtp]
host = "smtp.example.com"
port = 587
security = "starttls"          # "starttls", "ssl" or "none"
username = "ar@example.com"
password = "app-password"      # or the environment variable LINEWISE_SMTP_PASSWORD
from_address = "Accounts Receivable <ar@example.com>"
"""


# --------------------------------------------------------------------------- settings


def channel_clients():
    """(mailer, sms client, problem): the clients configured in secrets; never shows a secret value.
    In the demo sandbox: the preview outbox's, whatever the secrets say (nothing is sent from demo data)."""
    if state.workspace().sandbox:
        outbox = sandbox()[1]
        return outbox.mailer(), outbox.sms(), None
    try:
        mailer, sms = clients_from_secrets(st.secrets)
    except ConfigError as exc:  # the message names the field, never its value
        return None, None, str(exc)
    return mailer, sms, None


def render_settings(mailer, sms, problem: str | None) -> None:
    if state.workspace().sandbox:
        st.info("**Demo sandbox: nothing is sent.** Reminders from the demo data go to the preview outbox "
                "(see the Sent log), never to an e-mail server or an SMS provider.", icon=":material/science:")
    elif problem:
        st.error(f"Reminder settings are wrong: {plain(problem)}. Sending is off until they are fixed in "
                 "`.streamlit/secrets.toml`.", icon=":material/error:")
    elif mailer is None and sms is None:
        with st.container(border=True, key="rem_setup"):
            st.markdown(
                ":material/mail: **Sending is off: no e-mail server is configured.** You can still check "
                "every reminder below. To send, copy `.streamlit/secrets.toml.example` to "
                "`.streamlit/secrets.toml` and fill in its `[smtp]` section (and `[sms]` for text "
                "messages), or set the environment variables `LINEWISE_SMTP_HOST`, "
                "`LINEWISE_SMTP_FROM_ADDRESS`, … then restart the app."
            )
            st.code(SMTP_EXAMPLE, language="toml")
            if SECRETS_EXAMPLE.is_file():
                st.download_button("Download secrets.toml.example", SECRETS_EXAMPLE.read_bytes(),
                                   file_name="secrets.toml.example", mime="text/plain",
                                   key="rem_secrets_example", icon=":material/download:", on_click="ignore")
    else:
        parts = ["E-mail: **configured**" if mailer else "E-mail: not configured (`[smtp]`)",
                 "SMS: **configured**" if sms else "SMS: not configured (`[sms]`)"]
        st.caption(" · ".join(parts))


# --------------------------------------------------------------------------- sending


def keep_report(kind: str, aid: str, as_of: pd.Timestamp, results: list, error: str | None) -> None:
    st.session_state[REPORT] = {"kind": kind, "action_id": aid, "as_of": f"{as_of:%Y-%m-%d}",
                                "results": SendReport(list(results)).frame(), "error": error}


def run_send(kind: str, purpose: str, plan, customers: list[str], mailer, sms, renderer) -> None:
    """Send the plan's reminders of `customers` with the action id of `purpose`, showing progress.

    The id stays the same until the send has finished (`done`): a rerun or a second click in the
    meantime replays it and the store hands out no claim twice. An interrupted run (a click while
    sending) keeps the id, so the next run finishes the same action.
    """
    aid = action_id(purpose)
    results: list = []
    bar = st.progress(0.0, text="Sending …")

    def progress(n: int, total: int, result) -> None:
        results.append(result)
        sent = sum(r.status == "sent" for r in results)
        failed = sum(r.status == "failed" for r in results)
        bar.progress(n / total,
                     text=f"{n} of {total} · sent {sent} · failed {failed} · {plain(result.customer_id)}")

    error = None
    try:
        with statements_view.reminder_statements(plan.policy, loaded.data, analysis) as statement_pdf:
            actions.send(state.workspace(), current_actor(), plan, mailer, sms, action_id=aid,
                         outbox=sandbox()[1], renderer=renderer, progress=progress, customer_ids=customers,
                         retry=kind == "retry", statement_pdf=statement_pdf,
                         epc_qr=statements_view.reminder_qr())
    except NotAllowed as exc:  # refused (and audited) before anything was claimed or sent
        error = str(exc)
    except Exception as exc:  # noqa: BLE001 - a store error: what went out so far is kept and shown
        error = f"{type(exc).__name__}: {exc}"[:500]
    keep_report(kind, aid, plan.as_of, results, error)
    done(purpose)


def open_confirm(customers: list[str], scope: str) -> None:
    """A new confirmation is a new action: its own action id (kept until its send has finished)."""
    done("send_reminders")
    st.session_state[CONFIRM] = {"customers": list(customers), "scope": scope}


def close_confirm() -> None:
    st.session_state.pop(CONFIRM, None)


@st.dialog("Send reminders", width="medium", on_dismiss=close_confirm)
def confirm_dialog(plan, customers: list[str], mailer, sms, renderer, today_warning: str | None) -> None:
    wanted = set(customers)
    rems = [r for r in plan.reminders if r.customer_id in wanted]
    jobs = [(r, ch) for r in rems for ch in r.channels]
    n_mail = sum(ch == "email" for _, ch in jobs)
    n_sms = len(jobs) - n_mail
    st.markdown(f"Send **{len(jobs)} message(s)** to **{len(rems)} customer(s)** as of "
                f"**{plan.as_of:%Y-%m-%d}**: {n_mail} e-mail(s), {n_sms} SMS, "
                f"{sum(len(r.lines) for r in rems)} line(s).")
    by_level = pd.Series([r.level for r in rems]).value_counts()
    by_lang = pd.Series([r.language for r in rems]).value_counts()
    if len(rems):
        st.caption("Levels: " + ", ".join(f"{k} {v}" for k, v in by_level.items())
                   + " · languages: " + ", ".join(f"{k} {v}" for k, v in by_lang.items()))
    if n_mail and mailer is None:
        st.warning("E-mail is not configured: the e-mails are skipped (and stay due).")
    if n_sms and sms is None:
        st.warning("SMS is not configured: the text messages are skipped (and stay due).")
    if today_warning:
        st.warning(today_warning, icon=":material/event:")
    st.caption("Each reminder goes out once: lines already reminded at their level are never sent again, "
               "whoever clicks or however often.")
    if common.send_or_cancel("rem_confirm", disabled=not jobs, on_cancel=close_confirm):
        run_send("send", "send_reminders", plan, customers, mailer, sms, renderer)
        close_confirm()
        st.rerun()


def render_report(plan, retry_ids: list[str], can_send: bool, mailer, sms, renderer) -> None:
    report = st.session_state.get(REPORT)
    if report is None and not retry_ids:
        return
    with st.container(border=True, key="rem_report_box"):
        if report is not None:
            df = report["results"]
            counts = df["status"].value_counts()
            what = "Retry" if report["kind"] == "retry" else "Send"
            st.markdown(f"**{what} as of {report['as_of']}:** {int(counts.get('sent', 0))} sent · "
                        f"{int(counts.get('failed', 0))} failed · {int(counts.get('skipped', 0))} skipped")
            if report["error"]:
                st.error(f"Sending stopped: {plain(report['error'])}. What went out before is recorded; "
                         "anything left claimed is listed under unconfirmed claims.")
            failed = df[df["status"] == "failed"]
            if len(failed):
                st.dataframe(failed[["customer_id", "channel", "level", "address", "error"]], hide_index=True,
                             key="rem_report_failed", column_config=rv.log_config())
            skipped = df[df["status"] == "skipped"]
            if len(skipped):
                with st.expander(f"Skipped while sending ({len(skipped)})"):
                    st.dataframe(skipped[["customer_id", "channel", "level", "error"]], hide_index=True,
                                 key="rem_report_skipped", column_config=rv.log_config())
            with st.expander(f"Every result ({len(df)})"):
                st.dataframe(df[["customer_id", "channel", "level", "status", "address", "subject", "error"]],
                             hide_index=True, key="rem_report_all", column_config=rv.log_config())
        if retry_ids:
            st.markdown(f":material/replay: **{len(retry_ids)} reminder(s) failed before** and can be sent "
                        "again (the log below has the errors).")
        cols = st.columns([1, 1, 3], vertical_alignment="center")
        retry = cols[0].button(f"Retry failed ({len(retry_ids)})", key="rem_retry", icon=":material/replay:",
                               disabled=not (retry_ids and can_send), width="stretch")
        if report is not None and cols[1].button("Dismiss", key="rem_report_dismiss", width="stretch"):
            st.session_state.pop(REPORT, None)
            st.rerun()
        if retry:
            run_send("retry", "retry_reminders", plan, retry_ids, mailer, sms, renderer)
            st.rerun()


def unconfirmed_of(plan, keep: set[str] | None) -> pd.DataFrame:
    unc = plan.unconfirmed
    if keep is not None:
        unc = unc[unc["customer_id"].astype(str).isin(keep).to_numpy(dtype=bool)]
    return unc


def render_unconfirmed(unc: pd.DataFrame) -> None:
    if not len(unc):
        return
    with st.container(border=True, key="rem_unconfirmed_box"):
        st.warning(
            f"**{len(unc)} reminder(s) were claimed but never confirmed sent** (a send was interrupted). "
            "They are not sent again on their own: check with the customer or the mail server's log, then "
            "mark them sent, or failed to send them again on the next run.", icon=":material/help:")
        recent = (pd.Timestamp.now(tz="UTC") - unc["claimed_at"]) < pd.Timedelta(minutes=10)
        if recent.any():
            st.caption(f"{int(recent.sum())} claim(s) are less than 10 minutes old: "
                       "a send may still be running.")
        shown = unc.reset_index(drop=True)
        event = st.dataframe(shown, hide_index=True, key="rem_unconfirmed", on_select="rerun",
                             selection_mode="multi-row", column_config=rv.log_config())
        rows = [i for i in event.selection.rows if i < len(shown)] if event is not None else []
        picked = shown.iloc[rows]
        cols = st.columns(3)
        outcome = None
        if cols[0].button(f"Mark {len(picked)} as sent", key="rem_mark_sent", disabled=not len(picked),
                          icon=":material/mark_email_read:", width="stretch"):
            outcome = "sent"
        if cols[1].button(f"Mark {len(picked)} as failed", key="rem_mark_failed", disabled=not len(picked),
                          icon=":material/unsubscribe:", width="stretch"):
            outcome = "failed"
        if not len(picked):
            cols[2].caption("Select rows to mark them.")
        if outcome:
            keys = list(zip(picked["line_code"].astype(str), picked["level"].astype(str)))
            try:
                actions.resolve_claims(state.workspace(), current_actor(), keys, outcome,
                                       action_id=action_id("resolve_reminders"))
            except NotAllowed as exc:
                auth.refusal(exc)
            except Exception as exc:  # noqa: BLE001 - shown, nothing half done (one transaction)
                st.error(f"Could not record that: {plain(state.error_text(exc))}")
            else:
                st.session_state.pop("rem_unconfirmed", None)
                st.rerun()
            finally:
                done("resolve_reminders")


# --------------------------------------------------------------------------- the page


loaded = common.page_start(t("Reminders"), t("Payment reminders due as of {as_of}."))
data = loaded.data
as_of = state.as_of(data)
today = pd.Timestamp.today().normalize()
today_warning = None
if as_of != today:
    today_warning = (f"The as-of date is {as_of:%Y-%m-%d}, not today ({today:%Y-%m-%d}): reminders are "
                     "normally sent as of today. The messages will show what was open and overdue on "
                     f"{as_of:%Y-%m-%d}. Change the date in the sidebar.")
    st.warning(today_warning, icon=":material/event:")

try:
    store = state.workspace().store
except Exception as exc:  # noqa: BLE001 - no details: a database URL may hold a password
    st.error(f"The action store (reminder log) could not be opened ({type(exc).__name__}). Check `[store]` "
             "in `.streamlit/secrets.toml` or `LINEWISE_DB_URL`.", icon=":material/error:")
    st.stop()

mailer, sms, problem = channel_clients()
render_settings(mailer, sms, problem)
refused = auth.blocked(Action.REMINDER_SEND)  # drawing only: services.actions.send checks again
can_send = problem is None and (mailer is not None or sms is not None) and refused is None

analysis = state.full_analysis(loaded)  # every line: the sidebar filters pick customers below
try:
    policy = statements_view.dunning_policy()  # the default levels + the workspace's PDF choice
    plan = actions.plan_reminders(state.workspace(), data, as_of, policy, analysis.policy, analysis=analysis)
except Exception as exc:  # noqa: BLE001 - the store could not be read: say so, show nothing half-known
    st.error(f"The reminder log could not be read ({type(exc).__name__}), so nothing can be planned or "
             "sent. Try again; if it persists, check the database.", icon=":material/error:")
    st.stop()
statement_settings = statements_view.settings()
renderer = make_renderer(policy, company=statement_settings.company if statement_settings else None)
names = state.customer_names(data)
keep = state.selected_customers(data)
if st.session_state.get("f_currency"):
    st.caption("The currency filter does not apply here: a reminder lists all of a customer's overdue lines.")

due = rv.due_customers(plan, keep)
skipped = rv.skipped_customers(plan, names, keep)
due_lines = plan.due_frame()
if keep is not None:
    due_lines = due_lines[due_lines["customer_id"].astype(str).isin(keep).to_numpy(dtype=bool)]

cols = st.columns(4)
cols[0].metric(t("Reminders due"), f"{len(due):,}", border=True)
cols[1].metric(t("Lines"), f"{int(due['lines'].sum()):,}", border=True)
cols[2].metric(t("Customers skipped"), f"{skipped['customer_id'].nunique():,}", border=True)
unconfirmed = unconfirmed_of(plan, keep)
cols[3].metric(t("Unconfirmed"), f"{len(unconfirmed):,}", border=True)

retry_ids = due.loc[due["retry"], "customer_id"].tolist()
render_unconfirmed(unconfirmed)
render_report(plan, retry_ids, can_send, mailer, sms, renderer)

t_due, t_skipped, t_log = st.tabs([t("Due ({n})", n=len(due)), t("Skipped ({n})", n=skipped["customer_id"].nunique()),
                                   t("Sent log")])

with t_due:
    if not len(due):
        st.info(t("No reminder is due as of this date."), icon=":material/check_circle:")
        chosen: list[str] = []
    else:
        event = st.dataframe(due, hide_index=True, key="rem_due", on_select="rerun",
                             selection_mode="multi-row", column_config=rv.due_config())
        rows = [i for i in event.selection.rows if i < len(due)] if event is not None else []
        chosen = due["customer_id"].iloc[rows].tolist()
        st.caption("Select rows to send to some customers only, or to preview one.")
    all_ids = due["customer_id"].tolist()
    bcols = st.columns([1, 1, 3], vertical_alignment="center")
    bcols[0].button(f"Send selected ({len(chosen)})", key="rem_send_selected", type="primary",
                    icon=":material/send:", disabled=not (chosen and can_send), on_click=open_confirm,
                    args=(chosen, "selected"), width="stretch")
    bcols[1].button(f"Send all ({len(all_ids)})", key="rem_send_all", icon=":material/forward_to_inbox:",
                    disabled=not (all_ids and can_send), on_click=open_confirm, args=(all_ids, "all"),
                    width="stretch")
    if refused:
        bcols[2].caption(plain(refused))
    elif not can_send:
        bcols[2].caption("Sending is off until an e-mail server (or SMS provider) is configured.")

    if len(due_lines):
        with st.expander(f"Lines in these reminders ({len(due_lines)})"):
            money_table(due_lines[["customer_id", "level", "line_code", "invoice_no", "due_date",
                                   "days_past_due", "currency", "open", "line_level", "retry"]],
                        ["open"], key="rem_due_lines", dates=["due_date"])

    if len(due):
        st.subheader("Preview", anchor=False)
        # The preview follows the last customer selected in the table, else the choice below.
        last = st.session_state.get("rem_due_last", [])
        new = [c for c in chosen if c not in last]
        st.session_state["rem_due_last"] = chosen
        if new:
            st.session_state["rem_preview"] = new[0]
        if st.session_state.get("rem_preview") not in all_ids:
            st.session_state.pop("rem_preview", None)
        label = due.set_index("customer_id")
        cid = st.selectbox("Customer", all_ids, key="rem_preview",
                           format_func=lambda c: f"{c} · {label.at[c, 'name']} ({label.at[c, 'language']}, "
                                                 f"{label.at[c, 'level']})")
        rem = plan.reminder(cid)
        try:
            msg = preview(plan, renderer, customer_ids=[cid])[0]
        except Exception as exc:  # noqa: BLE001 - a broken template: say which, keep the page
            st.error(f"This reminder cannot be rendered: {plain(state.error_text(exc))}",
                     icon=":material/error:")
        else:
            to = " · ".join(f"{ch}: {rem.address(ch)}" for ch in rem.channels)
            st.caption(f"To {plain(rem.name)} — {plain(to)}")
            rv.render_message(msg, rem.channels, key="rem_preview_msg")

with t_skipped:
    if not len(skipped):
        st.caption(t("Nobody is skipped."))
    else:
        reasons = plan.skipped[plan.skipped["customer_id"].astype(str).isin(set(skipped["customer_id"]))]
        st.caption(" · ".join(t("{reason}: {n} line(s)", reason=labels.label(labels.SKIP_REASONS, r, t).capitalize(), n=n)
                              for r, n in reasons["reason"].value_counts().items()))
        # the reason in words; "Why" only where it says more than the reason (a date, a minimum)
        general = skipped["reason"].map(labels.SKIP_REASONS)
        shown = skipped.assign(
            reason=skipped["reason"].map(lambda r: labels.label(labels.SKIP_REASONS, r, t).capitalize())
            .astype("string"),
            detail=skipped["detail"].where(skipped["detail"] != general, "").astype("string"))
        money_table(shown, ["open"], key="rem_skipped",
                    column_config={"n_lines": st.column_config.NumberColumn(t("Lines")),
                                   "reason": st.column_config.TextColumn(t("Reason")),
                                   "detail": st.column_config.TextColumn(t("Why"))})

with t_log:
    if state.workspace().sandbox:
        outbox = sandbox()[1].frame()
        st.caption(f"Demo sandbox: {len(outbox)} message(s) sent to the preview outbox (nothing left this "
                   "machine).")
        if len(outbox):
            st.dataframe(outbox, hide_index=True, key="rem_outbox")
    log = store.reminder_log()
    if keep is not None:
        log = log[log["customer_id"].astype(str).isin(keep).to_numpy(dtype=bool)]
    if not len(log):
        st.caption("No reminder has been sent yet.")
    else:
        msgs = rv.message_log(log, policy)
        counts = msgs["status"].value_counts()
        st.caption(" · ".join(f"{k}: {v}" for k, v in counts.items()) + " (messages, newest first)")
        view = msgs.assign(name=msgs["customer_id"].map(lambda c: names.get(c, "")).astype("string"))
        st.dataframe(view[["claimed_at", "sent_at", "customer_id", "name", "level", "channel", "status",
                           "lines", "line_codes", "attempts", "error"]],
                     hide_index=True, key="rem_log", column_config=rv.log_config())

statements_view.render_bulk_send(data, analysis, mailer if problem is None else None, keep)
statements_view.render_pdf_levels(policy)

confirm = st.session_state.get(CONFIRM)
if confirm:
    confirm_dialog(plan, confirm["customers"], mailer, sms, renderer, today_warning)
