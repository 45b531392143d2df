"""AppTest runs of the Reminders page against a real SMTP server (aiosmtpd) on 127.0.0.1.

Each test gets its own SQLite store (LINEWISE_DB_URL) holding the demo workbook as the workspace's
import, and its own SMTP server; the app's `[smtp]` secrets point at it. On that data (as of the demo's
fixed date) the plan has one "first" reminder per overdue customer
with an e-mail address. Exactly once is checked by counting what the server received: after a second
confirmation, a replayed action id, a "send all" and a cron-style run from outside the app.
"""

from __future__ import annotations

import asyncio
import email
import os
import socket
import threading
from email import policy as email_policy
from pathlib import Path

import pandas as pd
import pytest
from aiosmtpd.controller import Controller
from streamlit.testing.v1 import AppTest

from billing.analysis import analyse
from billing.labels import SKIP_REASONS
from billing.dunning import DunningPolicy
from billing.policy import Policy
from connectors.mailer import Mailer, SmtpConfig
from connectors.reminders import build_plan, send_reminders
from connectors.store import Store, new_action_id
from tests.workspace_data import import_demo
from ui import state
from ui import store as ui_store

APP = Path(__file__).resolve().parents[2] / "app.py"
PAGE = "pages/reminders.py"
TIMEOUT = 120
SMS_SECRET = "tok-very-secret-9876"


# --------------------------------------------------------------------------- SMTP server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """aiosmtpd handler: keeps every message; refuses the addresses in `refuse`."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.refuse: set[str] = set()
        self.lock = threading.Lock()
        self.port = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        msg = email.message_from_bytes(envelope.content, policy=email_policy.default)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), msg))
        await asyncio.sleep(0)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for rcpts, m in self.messages if address in rcpts]

    def count(self) -> int:
        with self.lock:
            return len(self.messages)


@pytest.fixture
def smtp():
    inbox = Inbox()
    inbox.port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture(autouse=True)
def own_store(tmp_path, monkeypatch):
    """A fresh SQLite store per test (the app's cached Store is dropped before and after)."""
    for name in list(os.environ):
        if name.startswith(("LINEWISE_SMTP_", "LINEWISE_SMS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LINEWISE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LINEWISE_DB_URL", f"sqlite:///{tmp_path / 'store.db'}")
    ui_store.get_store.clear()
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    import_demo(store)
    yield store
    store.close()
    ui_store.get_store.clear()


def secrets_for(inbox: Inbox) -> dict:
    # SMS is configured too (nothing is sent by SMS at the demo's "first" level): its password must
    # never reach the page.
    return {
        "smtp": {"host": "127.0.0.1", "port": inbox.port, "security": "none", "timeout": 10,
                 "from_address": "Linewise AR <ar@linewise.test>"},
        "sms": {"url": "http://127.0.0.1:9/Messages.json", "sender": "+15005550006", "username": "AC1",
                "password": SMS_SECRET},
    }


def ok(at: AppTest) -> AppTest:
    assert not at.exception, "\n".join(f"{e.value}\n{''.join(e.stack_trace)}" for e in at.exception)
    return at


def start(inbox: Inbox | None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["f_as_of"] = state.DEMO_AS_OF.date()
    if inbox is not None:
        for section, values in secrets_for(inbox).items():
            at.secrets[section] = values
    at.switch_page(PAGE).run()
    assert at.title[0].value == "Reminders"
    return ok(at)


def due(at: AppTest) -> pd.DataFrame:
    return at.dataframe(key="rem_due").value


def shown(at: AppTest, key: str) -> bool:
    return any(d.key == key for d in at.dataframe)


def frame(at: AppTest, columns: list[str]) -> pd.DataFrame:
    """The first table with exactly these columns (tables without selection have no key in AppTest)."""
    for d in at.dataframe:
        if list(d.value.columns) == columns:
            return d.value
    raise AssertionError(f"no table with columns {columns}: {[list(d.value.columns) for d in at.dataframe]}")


def skipped(at: AppTest) -> pd.DataFrame:
    frames = [d.value for d in at.dataframe if list(d.value.columns[:3]) == ["customer_id", "name", "reason"]]
    assert frames, "no skipped table"
    return pd.concat(frames, ignore_index=True)


def select_rows(at: AppTest, key: str, rows: list[int]) -> AppTest:
    at.session_state[key] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    return ok(at.run())


def rows_of(table: pd.DataFrame, customers: list[str]) -> list[int]:
    ids = table["customer_id"].tolist()
    return [ids.index(c) for c in customers]


def texts(at: AppTest) -> str:
    """Every string the page shows (markdown, captions, alerts, code, HTML, tables)."""
    parts = [e.value for kind in ("markdown", "caption", "warning", "error", "info", "success", "code")
             for e in at.get(kind)]
    parts += [h.proto.body for h in at.get("html")]
    parts += [d.value.to_csv() for d in at.dataframe]
    return "\n".join(map(str, parts))


def confirm(at: AppTest) -> AppTest:
    """Click "Send now" in the open confirmation dialog."""
    return ok(at.button(key="rem_confirm_send").click().run())


def reopen(at: AppTest, customers: list[str]) -> str:
    """The dialog opened again for `customers` (a second click, another tab): its summary line."""
    at.session_state["rem_confirm"] = {"customers": customers, "scope": "selected"}
    ok(at.run())
    return next(m.value for m in at.markdown if m.value.startswith("Send **"))


def mailer_for(inbox: Inbox) -> Mailer:
    return Mailer(SmtpConfig(host="127.0.0.1", port=inbox.port, security="none",
                             from_address="Linewise AR <ar@linewise.test>"))


def one_per_language(table: pd.DataFrame) -> list[str]:
    return [table.loc[table["language"] == lang, "customer_id"].iloc[0] for lang in ("en", "zh", "hu")]


def demo_customers() -> pd.DataFrame:
    return state.load_demo().customers.set_index("customer_id")


# --------------------------------------------------------------------------- lists and preview


def test_due_and_skipped_lists_with_reasons_and_a_dispute(smtp, own_store):
    at = start(smtp)
    table = due(at)
    assert len(table) > 20 and set(table["level"]) == {"first"}
    assert {"en", "zh", "hu"} <= set(table["language"])
    assert (table["lines"] > 0).all() and table["total_due"].str.len().gt(0).all()
    assert any("not today" in w.value for w in at.warning), "the as-of warning is missing"
    assert "E-mail: **configured**" in texts(at)
    assert SMS_SECRET not in texts(at)

    cust = demo_customers()
    sk = skipped(at)
    blocked = set(cust.index[cust["dunning_blocked"].astype(bool)])
    words = {code: text.capitalize() for code, text in SKIP_REASONS.items()}  # reasons are shown in words
    shown_blocked = set(sk.loc[sk["reason"] == words["dunning_blocked"], "customer_id"])
    assert shown_blocked and shown_blocked <= blocked
    assert not blocked & set(table["customer_id"])
    assert (sk.loc[sk["reason"] == words["dunning_blocked"], "detail"] == "").all()  # nothing more to say
    assert not sk["reason"].str.contains("_").any()

    # open a dispute on one line of a customer with several lines due: that line is skipped, the rest stay
    lines = analyse(state.load_demo(), state.DEMO_AS_OF, Policy(), with_exceptions=False,
                    with_kpis=False).aging
    many = table[table["lines"] >= 2].iloc[0]
    cid = many["customer_id"]
    open_lines = lines[(lines["customer_id"] == cid) & (lines["open"] > 0) & (lines["days_past_due"] > 0)]
    code = str(open_lines["line_code"].iloc[0])
    own_store.open_dispute(action_id=new_action_id(), actor="tester", lines=lines, line_codes=[code],
                           amount=int(open_lines["open"].iloc[0]), reason="price", owner="tester")
    ok(at.run())
    sk = skipped(at)
    mine = sk[(sk["customer_id"] == cid) & (sk["reason"] == "Line is in open dispute")]
    assert len(mine) == 1 and mine["n_lines"].iloc[0] == 1
    after = due(at).set_index("customer_id")
    assert after.at[cid, "lines"] == many["lines"] - 1
    assert smtp.count() == 0 and len(own_store.reminder_log()) == 0


def test_preview_in_chinese_and_hungarian_sends_nothing(smtp, own_store):
    at = start(smtp)
    table = due(at)
    cust = demo_customers()
    for lang, subject_word in (("zh", "付款提醒"), ("hu", "Fizetési emlékeztető")):
        cid = table.loc[table["language"] == lang, "customer_id"].iloc[0]
        ok(at.selectbox(key="rem_preview").set_value(cid).run())
        subject = next(m.value for m in at.markdown if m.value.startswith("**Subject:**"))
        assert subject_word in subject.replace("\\", "")
        html = " ".join(h.proto.body for h in at.get("html"))
        assert "<table" in html and f'lang="{lang}"' in html
        name = str(cust.at[cid, "name"])
        assert name.replace("&", "&amp;") in html
        text, sms = (c.value for c in at.code[:2])
        assert name in text and sms and len(sms) < 300
    # picking a row in the due table previews that customer
    hu = table.loc[table["language"] == "hu", "customer_id"].iloc[1]
    select_rows(at, "rem_due", rows_of(table, [hu]))
    assert at.selectbox(key="rem_preview").value == hu
    assert at.button(key="rem_send_selected").label == "Send selected (1)"
    assert smtp.count() == 0 and len(own_store.reminder_log()) == 0


def test_without_smtp_settings_the_page_previews_and_explains(own_store):
    at = start(None)
    assert len(due(at)) > 0 and at.get("html")
    assert "[smtp]" in texts(at) and "secrets.toml.example" in texts(at)
    assert at.button(key="rem_send_all").disabled and at.button(key="rem_send_selected").disabled


# --------------------------------------------------------------------------- sending


def test_send_selected_once_then_again_and_replayed_and_the_customer_page(smtp, own_store):
    at = start(smtp)
    table = due(at)
    picked = one_per_language(table)
    addresses = table.set_index("customer_id").loc[picked, "email"].tolist()
    select_rows(at, "rem_due", rows_of(table, picked))
    stale = build_plan(state.load_demo(), state.DEMO_AS_OF, own_store)  # the plan the dialog opened with
    ok(at.button(key="rem_send_selected").click().run())
    dialog_text = " ".join(m.value for m in at.markdown)
    assert "Send **3 message(s)** to **3 customer(s)**" in dialog_text
    confirm(at)
    assert smtp.count() == 3
    assert [len(smtp.to(a)) for a in addresses] == [1, 1, 1]
    subjects = {a: smtp.to(a)[0]["Subject"] for a in addresses}
    assert "付款提醒" in subjects[addresses[1]] and "Fizetési" in subjects[addresses[2]]
    assert any("3 sent · 0 failed · 0 skipped" in m.value for m in at.markdown)
    assert "rem_confirm" not in at.session_state and "action_id::send_reminders" not in at.session_state
    report = at.session_state["rem_report"]
    assert set(at.session_state["rem_report"]["results"]["status"]) == {"sent"}
    assert not set(picked) & set(due(at)["customer_id"])  # no longer due
    log = own_store.reminder_log()
    assert set(log["status"]) == {"sent"} and set(log["customer_id"]) == set(picked)

    # the dialog again for the same customers: nothing left to send
    assert reopen(at, picked).startswith("Send **0 message(s)** to **0 customer(s)**")
    assert at.button(key="rem_confirm_send").disabled
    ok(at.button(key="rem_confirm_cancel").click().run())
    assert "rem_confirm" not in at.session_state
    # a double click in the open dialog replays its action id with the plan it was opened with;
    # another tab sends the same plan with its own id: neither sends anything
    for aid in (report["action_id"], new_action_id()):
        again = send_reminders(stale, own_store, mailer_for(smtp), None, action_id=aid, actor="tester",
                               customer_ids=picked)
        assert not again.sent and len(again.skipped) == 3
    assert smtp.count() == 3
    assert len(own_store.reminder_log()) == len(log)

    # the Customer page lists what was sent to that customer
    at.switch_page("pages/customer.py").run()
    at.session_state["customer_pick"] = picked[1]
    ok(at.run())
    assert any(s.value == "Reminders sent" for s in at.subheader)
    sent = frame(at, ["claimed_at", "sent_at", "level", "channel", "status", "lines", "line_codes",
                      "attempts", "error"])
    assert len(sent) == 1 and sent["status"].iloc[0] == "sent" and sent["level"].iloc[0] == "first"
    assert sent["lines"].iloc[0] == int(table.set_index("customer_id").at[picked[1], "lines"])


def test_send_all_delivers_each_reminder_exactly_once(smtp, own_store):
    at = start(smtp)
    table = due(at)
    n = len(table)
    assert at.button(key="rem_send_all").label == f"Send all ({n})"
    ok(at.button(key="rem_send_all").click().run())
    confirm(at)
    assert smtp.count() == n
    assert sorted(a for rcpts, _ in smtp.messages for a in rcpts) == sorted(table["email"])
    assert any(f"{n} sent · 0 failed" in m.value for m in at.markdown)
    assert not shown(at, "rem_due") and any("No reminder is due" in i.value for i in at.info)
    assert at.button(key="rem_send_all").disabled  # nothing left to send
    # the dialog again for everyone, and a cron run from outside the app: nothing new
    assert reopen(at, table["customer_id"].tolist()).startswith("Send **0 message(s)**")
    plan = build_plan(state.load_demo(), state.DEMO_AS_OF, own_store, DunningPolicy(), Policy())
    report = send_reminders(plan, own_store, mailer_for(smtp), None, action_id=new_action_id(), actor="cron")
    assert not report.sent and smtp.count() == n
    log = own_store.reminder_log()
    assert (log["status"] == "sent").all() and log["customer_id"].nunique() == n


def test_refused_recipient_fails_and_retry_sends_it_once(smtp, own_store):
    at = start(smtp)
    table = due(at)
    good, bad = one_per_language(table)[:2]
    bad_address = table.set_index("customer_id").at[bad, "email"]
    smtp.refuse.add(bad_address)
    select_rows(at, "rem_due", rows_of(table, [good, bad]))
    ok(at.button(key="rem_send_selected").click().run())
    confirm(at)
    assert smtp.count() == 1 and not smtp.to(bad_address)
    assert any("1 sent · 1 failed" in m.value for m in at.markdown)
    failed = frame(at, ["customer_id", "channel", "level", "address", "error"])
    assert failed["customer_id"].tolist() == [bad] and "550" in failed["error"].iloc[0]
    assert at.button(key="rem_retry").label == "Retry failed (1)" and not at.button(key="rem_retry").disabled
    assert due(at).set_index("customer_id").at[bad, "retry"]

    smtp.refuse.clear()
    ok(at.button(key="rem_retry").click().run())
    assert len(smtp.to(bad_address)) == 1 and smtp.count() == 2
    assert any("Retry as of" in m.value and "1 sent · 0 failed" in m.value for m in at.markdown)
    assert at.button(key="rem_retry").disabled
    ok(at.run())
    plan = build_plan(state.load_demo(), state.DEMO_AS_OF, own_store)  # the cron job after the retry
    again = send_reminders(plan, own_store, mailer_for(smtp), None, action_id=new_action_id(), actor="cron",
                           customer_ids=[good, bad])
    assert not again.results and smtp.count() == 2
    row = own_store.reminder_log(bad).iloc[0]
    assert row["status"] == "sent" and row["attempts"] == 2


def test_unconfirmed_claim_is_listed_and_resolved_by_hand(smtp, own_store):
    at = start(smtp)
    table = due(at)
    cid = table["customer_id"].iloc[0]
    plan = build_plan(state.load_demo(), state.DEMO_AS_OF, own_store)
    keys = plan.reminder(cid).keys("email")
    own_store.claim_reminders(keys, cid, "email", action_id=new_action_id(), actor="crashed-run")
    ok(at.run())
    assert cid not in set(due(at)["customer_id"])
    assert any("claimed but never confirmed" in w.value for w in at.warning)
    unc = at.dataframe(key="rem_unconfirmed").value
    assert set(unc["customer_id"]) == {cid} and len(unc) == len(keys)
    assert at.button(key="rem_mark_failed").disabled
    select_rows(at, "rem_unconfirmed", list(range(len(unc))))
    ok(at.button(key="rem_mark_failed").click().run())
    assert not shown(at, "rem_unconfirmed")
    assert not any("claimed but never confirmed" in w.value for w in at.warning)
    assert due(at).set_index("customer_id").at[cid, "retry"]  # due again, as a retry
    assert smtp.count() == 0
