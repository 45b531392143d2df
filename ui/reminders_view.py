"""Reminders as tables and previews: the due list per customer, the skips, the send log, one message
as the customer will see it, and the reminders sent to one customer (the Customer page).

Everything here draws what `billing.dunning` planned and the store logged; nothing sends.
pages/reminders.py does the sending.
"""
from __future__ import annotations


import pandas as pd
import streamlit as st

from billing.dunning import SKIP_REASONS, DunningPlan, DunningPolicy, split_key_level
from billing.messages import RenderedMessage, sms_note
from ui import i18n
from ui.fmt import money_text
from ui.i18n import t
from ui.text import plain

REMINDERS_PAGE = "pages/reminders.py"
DATETIME = "YYYY-MM-DD HH:mm"
def totals_text(totals: dict[str, int]) -> str:
    """{"USD": 12050, "EUR": 500} -> "$120.50 + €5.00" (currencies are never added up)."""
    return " + ".join(money_text(v, c) for c, v in totals.items())


# --------------------------------------------------------------------------- the plan


def due_customers(plan: DunningPlan, keep: set[str] | None = None) -> pd.DataFrame:
    """One row per reminder (customer): level, channels, lines, total due per currency, oldest days."""
    rows = [
        {
            "customer_id": r.customer_id,
            "name": r.name,
            "language": r.language,
            "level": r.level,
            "channels": ", ".join(r.channels),
            "lines": len(r.lines),
            "total_due": totals_text(r.totals),
            "oldest_days": max((ln.days_past_due for ln in r.lines), default=0),
            "email": r.email or "",
            "phone": r.phone or "",
            "retry": r.retry,
        }
        for r in plan.reminders
        if keep is None or r.customer_id in keep
    ]
    columns = ["customer_id", "name", "language", "level", "channels", "lines", "total_due", "oldest_days",
               "email", "phone", "retry"]
    return pd.DataFrame(rows, columns=columns)


def due_config() -> dict:
    """column_config of the due list, headers in the user's language."""
    return {
        "customer_id": st.column_config.TextColumn(t("Customer ID"), pinned=True),
        "name": st.column_config.TextColumn(t("Name")),
        "language": st.column_config.TextColumn(t("Language"), width="small"),
        "level": st.column_config.TextColumn(t("Level"), width="small"),
        "channels": st.column_config.TextColumn(t("Channels"), width="small"),
        "lines": st.column_config.NumberColumn(t("Lines"), width="small"),
        "total_due": st.column_config.TextColumn(t("Total due")),
        "oldest_days": st.column_config.NumberColumn(t("Oldest (days past due)")),
        "email": st.column_config.TextColumn(t("E-mail")),
        "phone": st.column_config.TextColumn(t("Phone")),
        "retry": st.column_config.CheckboxColumn(t("Retry"), help=t("An earlier attempt at this level failed")),
    }


def skipped_customers(plan: DunningPlan, names: pd.Series, keep: set[str] | None = None) -> pd.DataFrame:
    """One row per (customer, reason, currency): name, lines, open amount (minor units), why in words."""
    sk = plan.skipped_customers()
    if keep is not None:
        sk = sk[sk["customer_id"].astype(str).isin(keep).to_numpy(dtype=bool)]
    sk = sk.assign(name=sk["customer_id"].map(lambda c: names.get(c, "")).astype("string"))
    sk["detail"] = sk["detail"].fillna(sk["reason"].map(SKIP_REASONS))
    columns = ["customer_id", "name", "reason", "detail", "n_lines", "currency", "open"]
    return sk[columns].reset_index(drop=True)


# --------------------------------------------------------------------------- the log


def log_lines(log: pd.DataFrame, names: pd.Series) -> pd.DataFrame:
    """The reminder log for a table, newest first: one row per (line, level, channel) attempt."""
    out = log.copy()
    parts = out["level"].astype(str).map(split_key_level)
    out["level"] = parts.map(lambda p: p[0]).astype("string")
    out["name"] = out["customer_id"].map(lambda c: names.get(c, "")).astype("string")
    cols = ["customer_id", "name", "line_code", "level", "channel", "status", "attempts", "error",
            "claimed_at", "sent_at"]
    return out.sort_values("id", ascending=False)[cols].reset_index(drop=True)


def message_log(log: pd.DataFrame, policy: DunningPolicy | None = None) -> pd.DataFrame:
    """The reminder log as messages, newest first: one row per claim (one customer, one channel, one send),
    with its level (the highest of its lines), status, lines and when it went out."""
    columns = ["claimed_at", "sent_at", "customer_id", "level", "channel", "status", "lines", "line_codes",
               "attempts", "error"]
    if log is None or not len(log):
        return pd.DataFrame(columns=columns)
    order = {lv.name: i for i, lv in enumerate((policy or DunningPolicy()).levels)}
    df = log.copy()
    df["base_level"] = df["level"].astype(str).map(lambda s: split_key_level(s)[0])
    df["group"] = df["action_id"].fillna("").astype(str) + "|" + df["channel"].astype(str) + "|" + \
        df["customer_id"].astype(str)
    rows = []
    for _, g in df.groupby("group", sort=False):
        levels = g["base_level"].tolist()
        errors = g["error"].dropna()
        rows.append({
            "first_id": int(g["id"].min()),
            "claimed_at": g["claimed_at"].min(),
            "sent_at": g["sent_at"].max(),
            "customer_id": str(g["customer_id"].iloc[0]),
            "level": max(levels, key=lambda lv: order.get(lv, -1)),
            "channel": str(g["channel"].iloc[0]),
            "status": ", ".join(sorted(g["status"].astype(str).unique())),
            "lines": len(g),
            "line_codes": ", ".join(g["line_code"].astype(str)),
            "attempts": int(g["attempts"].max()),
            "error": str(errors.iloc[0]) if len(errors) else "",
        })
    out = pd.DataFrame(rows).sort_values("first_id", ascending=False)
    return out[columns].reset_index(drop=True)


def log_config() -> dict:
    """column_config of the send log: headers in the user's language, times (stored in UTC) shown
    in the browser's time zone."""
    zone = i18n.time_zone().key
    return {
        "claimed_at": st.column_config.DatetimeColumn(t("Claimed"), format=DATETIME, timezone=zone),
        "sent_at": st.column_config.DatetimeColumn(t("Sent"), format=DATETIME, timezone=zone),
        "customer_id": st.column_config.TextColumn(t("Customer ID"), pinned=True),
        "name": st.column_config.TextColumn(t("Name")),
        "line_code": st.column_config.TextColumn(t("Line code")),
        "level": st.column_config.TextColumn(t("Level")),
        "channel": st.column_config.TextColumn(t("Channel")),
        "status": st.column_config.TextColumn(t("Status")),
        "lines": st.column_config.NumberColumn(t("Lines")),
        "line_codes": st.column_config.TextColumn(t("Line codes")),
        "attempts": st.column_config.NumberColumn(t("Attempts")),
        "error": st.column_config.TextColumn(t("Error")),
    }


# --------------------------------------------------------------------------- one message


def render_message(msg: RenderedMessage, channels: tuple[str, ...], *, key: str) -> None:
    """Subject, the HTML email as the customer's mail program shows it, the text version and the SMS."""
    st.markdown(f"**Subject:** {plain(msg.subject)}")
    st.caption(f"Template language `{msg.language}` · formatted for `{msg.locale}` · level `{msg.level}` · "
               f"{len(msg.line_codes)} line(s) · total {plain(' + '.join(msg.totals))}")
    t_html, t_text, t_sms = st.tabs(["E-mail (HTML)", "E-mail (text)", "SMS"])
    with t_html:
        with st.container(border=True, height=520, key=f"{key}_html_box"):
            # The templates escape every value (autoescape): the customer's data cannot inject markup.
            st.html(msg.html)
    with t_text:
        st.code(msg.text, language=None, wrap_lines=True)
    with t_sms:
        st.code(msg.sms, language=None, wrap_lines=True)
        note = sms_note(msg.sms)
        if "sms" not in channels:
            note += (" This level goes out by e-mail only; the SMS text is sent at levels with the "
                     "SMS channel.")
        st.caption(note)


# --------------------------------------------------------------------------- the Customer page


def render_customer_reminders(customer_id: str) -> None:
    """The reminders sent (or tried) to one customer, from the store's reminder log."""
    st.subheader("Reminders sent")
    try:
        from services.actions import reminder_log
        from ui.state import workspace

        log = reminder_log(workspace(), customer_id)
    except Exception as exc:  # noqa: BLE001 - the statement above stays usable without the store
        st.warning(f"The reminder log could not be read ({type(exc).__name__}).", icon=":material/warning:")
        return
    if not len(log):
        st.caption("No reminders sent to this customer yet.")
    else:
        msgs = message_log(log)
        sent = int((msgs["status"] == "sent").sum())
        st.caption(f"{sent} reminder(s) sent, {len(msgs) - sent} other attempt(s); newest first.")
        st.dataframe(msgs.drop(columns=["customer_id"]), hide_index=True, column_config=log_config(),
                     key="customer_reminders")
    st.page_link(REMINDERS_PAGE, label="Reminders due", icon=":material/notifications:")
