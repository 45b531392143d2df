"""Reminder delivery when things go wrong, against real servers on 127.0.0.1 (SPEC §8, §18).

An SMTP server that takes DATA and never answers, an SMS provider that reads the
request and never answers, a half-delivered level (SMS out, e-mail refused),
hostile customer names and e-mail cells with two addresses, and credentials
that must never reach a result, the reminder log or a printed line.
"""
from __future__ import annotations

import email.utils

import asyncio
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import xlsxwriter
from aiosmtpd.controller import Controller

from billing.dunning import DunningPolicy
from billing.linecode import make_code
from connectors.load import load_dataset
from connectors.mailer import AddressError, Mailer, MailError, SmtpConfig, valid_address
from connectors.reminders import build_plan, resolve_unconfirmed, send_reminders
from connectors.sms import SmsClient, SmsConfig, SmsError
from connectors.store import Store, new_action_id
from tests.connectors.test_reminders_send import Inbox, free_port, sms_provider, smtp  # noqa: F401 (fixtures)

AS_OF = "2024-06-30"
HOSTILE = "Kovács & Társa <Kft.>"
L_HU, L_TWO, L_OK = make_code("INV-1", 1), make_code("INV-2", 1), make_code("INV-3", 1)
# the final level (30+ days) goes out by e-mail and SMS
FINAL = DunningPolicy.model_validate({"levels": {"first": {"enabled": False}, "second": {"enabled": False}}})


def write_book(path: Path) -> Path:
    wb = xlsxwriter.Workbook(path)
    cs = wb.add_worksheet("customers")
    cs.write_row(0, 0, ["customer_id", "name", "email", "phone", "language", "currency"])
    cs.write_row(1, 0, ["C-HU", HOSTILE, "kovacs@example.test", "+36 30 555 1234", "en", "USD"])
    cs.write_row(2, 0, ["C-TWO", "Two Addresses Ltd", "a@x.test, b@evil.test", "", "en", "USD"])
    cs.write_row(3, 0, ["C-OK", "Plain Ltd", "plain@ok.test", "", "en", "USD"])
    inv = wb.add_worksheet("invoices")
    inv.write_row(0, 0, ["invoice_no", "line_no", "customer_id", "invoice_date", "due_date", "amount", "currency"])
    for i, (no, cust) in enumerate([("INV-1", "C-HU"), ("INV-2", "C-TWO"), ("INV-3", "C-OK")], start=1):
        inv.write_row(i, 0, [no, 1, cust, "2024-04-01", "2024-05-01", "100.00", "USD"])
    wb.close()
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return load_dataset(write_book(tmp_path_factory.mktemp("faults") / "ar.xlsx"))


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'store.db'}")
    yield s
    s.close()


def mailer_at(port: int, timeout: float = 10) -> Mailer:
    return Mailer(SmtpConfig(host="127.0.0.1", port=port, security="none", timeout=timeout,
                             from_address="Linewise AR <ar@linewise.test>"))


def send(data, store, mailer, sms=None, policy=FINAL, customers=None):
    plan = build_plan(data, AS_OF, store, policy)
    return plan, send_reminders(plan, store, mailer, sms, action_id=new_action_id(), actor="test",
                                customer_ids=customers)


# --------------------------------------------------------------------------- SMTP never answers DATA

class Silent(Inbox):
    """Takes the message data, then never answers (until released at the end of the test)."""

    def __init__(self) -> None:
        super().__init__()
        self.data_calls = 0
        self.release: asyncio.Event | None = None

    async def handle_DATA(self, server, session, envelope):
        self.data_calls += 1
        if self.release is None:
            self.release = asyncio.Event()
        await self.release.wait()
        return "451 too late"


@pytest.fixture
def silent_smtp():
    handler = Silent()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.port = port
    try:
        yield handler
    finally:
        if handler.release is not None:
            controller.loop.call_soon_threadsafe(handler.release.set)
        controller.stop()


def test_a_server_that_takes_data_and_never_answers_leaves_the_send_unconfirmed_never_resent(
        data, store, silent_smtp, smtp):
    mailer = mailer_at(silent_smtp.port, timeout=1.5)
    for _ in range(3):  # three runs (cron, a rerun, a double click): one message handed over
        _, report = send(data, store, mailer, customers=["C-OK"])
    assert silent_smtp.data_calls == 1
    log = store.reminder_log()
    row = log[log["line_code"] == L_OK].iloc[0]
    assert row["status"] == "queued" and row["attempts"] == 1 and "unconfirmed" in row["error"]
    plan = build_plan(data, AS_OF, store, FINAL)
    unc = plan.unconfirmed
    assert unc["line_code"].tolist() == [L_OK] and "not resent" in unc["error"].iloc[0]
    assert plan.reminder("C-OK") is None
    assert dict(zip(plan.skipped["line_code"], plan.skipped["reason"]))[L_OK] == "unconfirmed_claim"
    # A person checks, confirms "not received" (failed), and the next run sends it once.
    resolve_unconfirmed(store, list(zip(unc["line_code"], unc["level"])), "failed", action_id=new_action_id(),
                        actor="clerk", note="customer says nothing arrived")
    _, report = send(data, store, mailer_at(smtp.port), customers=["C-OK"])
    _, again = send(data, store, mailer_at(smtp.port), customers=["C-OK"])
    assert [r.status for r in report.results] == ["sent"] and not again.results
    assert len(smtp.to("plain@ok.test")) == 1


def test_the_first_of_the_three_runs_reports_unconfirmed_not_failed(data, store, silent_smtp):
    _, report = send(data, store, mailer_at(silent_smtp.port, timeout=1.5), customers=["C-OK"])
    (r,) = report.results
    assert r.status == "unconfirmed" and not report.ok and report.unconfirmed == [r]
    assert "took the message but did not confirm it" in r.error


def test_a_refusal_before_the_data_is_a_plain_failure_and_is_retried(data, store, smtp):
    smtp.refuse.add("plain@ok.test")
    _, report = send(data, store, mailer_at(smtp.port), customers=["C-OK"])
    assert [r.status for r in report.results] == ["failed"]
    smtp.refuse.clear()
    _, report = send(data, store, mailer_at(smtp.port), customers=["C-OK"])
    assert [r.status for r in report.results] == ["sent"] and len(smtp.to("plain@ok.test")) == 1


# --------------------------------------------------------------------------- SMS never answers

class _SilentSms(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.calls += 1
        self.server.release.wait(10)

    def log_message(self, *args) -> None:
        pass


def test_an_sms_provider_that_never_answers_is_unconfirmed_and_a_refused_connection_is_failed(data, store):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SilentSms)
    server.daemon_threads, server.calls, server.release = True, 0, threading.Event()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/Messages.json"
        client = SmsClient(SmsConfig(url=url, sender="ACME", username="AC1", password="tok-SECRET", timeout=1))
        for _ in range(2):
            _, report = send(data, store, None, client, customers=["C-HU"])
        assert server.calls == 1
        sms = [r for r in report.results if r.channel == "sms"]
        assert sms == [] or sms[0].status == "skipped"
        row = store.reminder_log().set_index("level").loc["final:sms"]
        assert row["status"] == "queued" and "did not answer" in row["error"]
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
    dead = SmsClient(SmsConfig(url=f"http://127.0.0.1:{free_port()}/x", sender="ACME", timeout=1))
    with pytest.raises(SmsError) as exc:
        dead.send("+3630555123", "hi")
    assert "cannot reach" in str(exc.value) and type(exc.value) is SmsError


# --------------------------------------------------------------------------- each channel once

def test_a_failed_email_is_retried_and_the_sms_of_the_same_level_is_not_resent(data, store, smtp, sms_provider):
    sms = SmsClient(SmsConfig(url=sms_provider.url, sender="ACME", username="AC1", password="tok"))
    smtp.refuse.add("kovacs@example.test")
    _, first = send(data, store, mailer_at(smtp.port), sms, customers=["C-HU"])
    assert sorted((r.channel, r.status) for r in first.results) == [("email", "failed"), ("sms", "sent")]
    smtp.refuse.clear()
    plan, second = send(data, store, mailer_at(smtp.port), sms, customers=["C-HU"])
    assert [(r.channel, r.status) for r in second.results] == [("email", "sent")]
    _, third = send(data, store, mailer_at(smtp.port), sms, customers=["C-HU"])
    assert third.results == []
    assert len(sms_provider.received) == 1 and len(smtp.to("kovacs@example.test")) == 1


# --------------------------------------------------------------------------- headers and addresses

def test_headers_quote_hostile_names_and_carry_date_message_id_and_auto_submitted(data, store, smtp):
    _, report = send(data, store, mailer_at(smtp.port), customers=["C-HU"])
    assert [(r.channel, r.status) for r in report.results] == [("email", "sent"), ("sms", "skipped")]
    (msg,) = smtp.to("kovacs@example.test")
    (_, rcpts, _), = smtp.messages
    assert rcpts == ["kovacs@example.test"]
    to = msg["To"].addresses
    assert len(to) == 1 and to[0].addr_spec == "kovacs@example.test" and to[0].display_name == HOSTILE
    assert msg["Auto-Submitted"] == "auto-generated"
    assert email.utils.parsedate_to_datetime(msg["Date"]).tzinfo is not None  # RFC 5322 date with its zone
    assert msg["Message-ID"].startswith("<") and msg["Message-ID"].endswith("@linewise.test>")
    assert msg["From"].addresses[0].addr_spec == "ar@linewise.test"


def test_an_email_cell_with_two_addresses_is_skipped_with_its_reason_and_sends_to_nobody(data, store, smtp):
    _, report = send(data, store, mailer_at(smtp.port), customers=["C-TWO"])
    (r,) = report.results
    assert r.status == "skipped" and "more than one address" in r.error and "one address per customer" in r.error
    assert smtp.messages == [] and len(store.reminder_log()) == 0  # nothing claimed: fix the cell, send later
    with pytest.raises(AddressError, match="more than one"):
        mailer_at(smtp.port).build("a@x.test, b@evil.test", "s", "t")


@pytest.mark.parametrize("cell, expected", [
    ("ar@acme.test", "ar@acme.test"), (" Ar@ACME.test ", "Ar@acme.test"), ("Acme AR <ar@acme.test>", "ar@acme.test"),
])
def test_one_address_per_customer_is_accepted(cell, expected):
    assert valid_address(cell) == expected


@pytest.mark.parametrize("cell, why", [
    ("a@x.test, b@evil.test", "more than one"), ("a@x.test; b@evil.test", "more than one"),
    ("a@x.test b@evil.test", "not a valid"), ("no-at-sign", "not a valid"), ("b@evil", "not a valid"), ("", "no e-mail"),
])
def test_lists_and_invalid_addresses_are_refused(cell, why):
    with pytest.raises(AddressError, match=why):
        valid_address(cell)


def test_a_non_ascii_password_error_does_not_echo_the_character(smtp):
    from aiosmtpd.smtp import AuthResult

    port = free_port()
    controller = Controller(Inbox(), hostname="127.0.0.1", port=port, auth_require_tls=False,
                            authenticator=lambda *a: AuthResult(success=False, handled=False))
    controller.start()
    try:
        cfg = SmtpConfig(host="127.0.0.1", port=port, security="none", username="ar", password="jelszó-Ő9",
                         from_address="ar@linewise.test", timeout=5)
        with pytest.raises(MailError) as exc:
            Mailer(cfg).send(Mailer(cfg).build("c@x.test", "s", "t"))
    finally:
        controller.stop()
    text = str(exc.value)
    assert "ASCII" in text and "ó" not in text and "\\xf3" not in text and "jelsz" not in text
