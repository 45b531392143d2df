"""Sending reminders for real: an SMTP server (aiosmtpd) and an SMS provider (http.server) on 127.0.0.1.

Exactly once is tested the hard way: two `cli.py remind --send` processes started
together plus a double click in the app, all against one SQLite store and one
SMTP server; a refused recipient fails and is retried; a claim left by a crash
is reported and never resent.
"""
from __future__ import annotations

import asyncio
import base64
import email
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from email import policy as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pandas as pd
import pytest
import xlsxwriter
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from python_calamine import CalamineWorkbook

import cli
from billing.dunning import DunningPolicy
from billing.linecode import make_code
from connectors.load import load_dataset
from connectors.mailer import ConfigError, Mailer, MailError, SmtpConfig
from connectors.reminders import build_plan, preview, resolve_unconfirmed, send_reminders
from connectors.sms import SmsClient, SmsConfig, normalise_phone
from connectors.store import Store, new_action_id

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2024-06-30"
EN, ZH, HU = "en@acme.test", "zh@huadong.test", "hu@kovacs.test"
EVIL_NAME = "Acme <b>&</b> Co"
C = {k: make_code(*k) for k in [("INV-100", 1), ("INV-100", 2), ("INV-200", 1), ("INV-300", 1), ("INV-400", 1),
                                 ("INV-500", 1), ("INV-101", 1)]}
EXTRA = [f"X{i:02d}" for i in range(8)]  # more customers, so that concurrent senders interleave


# --------------------------------------------------------------------------- servers

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """aiosmtpd handler: keeps every message; refuses the addresses in `refuse`; waits `delay` s per message.

    With `barrier` = n, a message's DATA is held until n sessions are in DATA at the same time (or
    `barrier_timeout` s pass): a sender is sequential, so n sessions in DATA at once are n senders
    sending at once. `most_in_data` records the most sessions ever in DATA together.
    """

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []
        self.refuse: set[str] = set()
        self.delay = 0.0
        self.lock = threading.Lock()
        self.barrier = 0
        self.barrier_timeout = 30.0
        self.in_data = 0
        self.most_in_data = 0
        self._all_there: asyncio.Event | None = None

    async def _wait_for_the_others(self) -> None:
        if self._all_there is None:
            self._all_there = asyncio.Event()  # created in the server's event loop
        if self.in_data >= self.barrier:
            self._all_there.set()
        try:
            await asyncio.wait_for(self._all_there.wait(), timeout=self.barrier_timeout)
        except asyncio.TimeoutError:
            pass  # the test's assertion on most_in_data says so

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.in_data += 1  # the handlers all run in the server's one event loop: no lock needed
        self.most_in_data = max(self.most_in_data, self.in_data)
        try:
            if self.barrier:
                await self._wait_for_the_others()
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            self.in_data -= 1
        msg = email.message_from_bytes(envelope.content, policy=email_policy.default)
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for _, rcpts, m in self.messages if address in rcpts]


@pytest.fixture
def smtp():
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    inbox.port = port
    try:
        yield inbox
    finally:
        controller.stop()


class SmsProvider(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SmsHandler)
        self.received: list[dict] = []
        self.fail = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/2010-04-01/Accounts/AC123/Messages.json"


class _SmsHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8")).items()}
        self.server.received.append({"path": self.path, "auth": self.headers.get("Authorization"), "form": form})
        status, payload = ((400, {"code": 21211, "message": "The 'To' number is not a valid phone number"})
                           if self.server.fail else (201, {"sid": f"SM{len(self.server.received):04d}"}))
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def sms_provider():
    server = SmsProvider()
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- data

def write_workbook(path: Path) -> Path:
    wb = xlsxwriter.Workbook(path)
    cs = wb.add_worksheet("customers")
    cs.write_row(0, 0, ["customer_id", "name", "email", "phone", "language", "currency", "dunning_blocked"])
    rows = [["C-EN", EVIL_NAME, EN, "", "en", "USD", "no"],
            ["C-ZH", "华东贸易有限公司", ZH, "", "zh", "USD", "no"],
            ["C-HU", "Kovács Kft.", HU, "+36 30 123 4567", "hu", "HUF", "no"],
            ["C-BL", "Blocked Inc", "bl@blocked.test", "", "en", "USD", "yes"],
            ["C-NO", "No Mail Ltd", "", "", "en", "USD", "no"]]
    rows += [[x, f"Extra {x}", f"{x.lower()}@extra.test", "", ("en", "zh", "hu")[i % 3], "USD", "no"]
             for i, x in enumerate(EXTRA)]
    for i, r in enumerate(rows, start=1):
        cs.write_row(i, 0, r)
    inv = wb.add_worksheet("invoices")
    inv.write_row(0, 0, ["invoice_no", "line_no", "customer_id", "invoice_date", "due_date", "amount", "currency"])
    lines = [["INV-100", 1, "C-EN", "2024-05-02", "2024-06-01", "100.00", "USD"],
             ["INV-100", 2, "C-EN", "2024-05-02", "2024-06-01", "250.50", "USD"],
             ["INV-101", 1, "C-EN", "2024-06-15", "2024-07-15", "75.00", "USD"],
             ["INV-200", 1, "C-ZH", "2024-04-20", "2024-05-20", "1200.00", "USD"],
             ["INV-300", 1, "C-HU", "2024-05-10", "2024-06-10", "150000.00", "HUF"],
             ["INV-400", 1, "C-BL", "2024-05-02", "2024-06-01", "99.00", "USD"],
             ["INV-500", 1, "C-NO", "2024-05-02", "2024-06-01", "10.00", "USD"]]
    lines += [[f"INV-{x}", 1, x, "2024-05-01", "2024-05-31", f"{10 + i}.00", "USD"] for i, x in enumerate(EXTRA)]
    for i, r in enumerate(lines, start=1):
        inv.write_row(i, 0, r)
    pay = wb.add_worksheet("payments")
    pay.write_row(0, 0, ["payment_id", "customer_id", "payment_date", "amount", "currency", "reference"])
    pay.write_row(1, 0, ["P1", "C-EN", "2024-06-05", "50.00", "USD", "INV-100"])
    wb.close()
    return path


@pytest.fixture(scope="module")
def workbook(tmp_path_factory) -> Path:
    return write_workbook(tmp_path_factory.mktemp("remind") / "ar.xlsx")


@pytest.fixture(scope="module")
def data(workbook):
    return load_dataset(workbook)


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'store.db'}")
    yield s
    s.close()


def mailer_for(inbox: Inbox, **kw) -> Mailer:
    return Mailer(SmtpConfig(host="127.0.0.1", port=inbox.port, security="none",
                             from_address="Linewise AR <ar@linewise.test>", timeout=10, **kw))


def sms_for(provider: SmsProvider) -> SmsClient:
    return SmsClient(SmsConfig(url=provider.url, sender="+15005550006", username="AC123", password="tok-secret"))


def body(msg: email.message.EmailMessage, kind: str) -> str:
    return msg.get_body(preferencelist=(kind,)).get_content()


def expected_email_codes(plan) -> dict[str, list[str]]:
    return {r.email: sorted(r.line_codes) for r in plan.reminders if "email" in r.channels}


# --------------------------------------------------------------------------- tests

def test_plan_for_the_workbook(data, store):
    plan = build_plan(data, AS_OF, store)
    assert {r.customer_id for r in plan.reminders} == {"C-EN", "C-ZH", "C-HU", *EXTRA}
    assert plan.reminder("C-EN").line_codes == [C[("INV-100", 1)], C[("INV-100", 2)]]
    assert plan.reminder("C-EN").totals == {"USD": 300_50}  # 50.00 of line 1 was paid
    reasons = dict(zip(plan.skipped["customer_id"], plan.skipped["reason"]))
    assert reasons == {"C-BL": "dunning_blocked", "C-NO": "no_contact"}


def test_send_emails_and_sms_with_progress(data, store, smtp, sms_provider):
    policy = DunningPolicy(levels={"first": {"channels": ["email", "sms"]}}, attach_statement=True,
                           company_name="Linewise Demo Co")
    plan = build_plan(data, AS_OF, store, policy)
    calls = []
    report = send_reminders(plan, store, mailer_for(smtp), sms_for(sms_provider), action_id=new_action_id(),
                            actor="clerk@test", progress=lambda d, t, r: calls.append((d, t, r.status)))
    n = len(plan.reminders) + 1  # every customer by email, C-HU also by SMS
    assert [c[:2] for c in calls] == [(i, n) for i in range(1, n + 1)]
    assert report.ok and len(report.sent) == n and not report.skipped

    (en,) = smtp.to(EN)
    assert en["Subject"] == "Payment reminder from Linewise Demo Co: $300.50 overdue"
    assert en["From"] == "Linewise AR <ar@linewise.test>" and EN in en["To"]
    text, html = body(en, "plain"), body(en, "html")
    for code in (C[("INV-100", 1)], C[("INV-100", 2)]):
        assert code in text and code in html
    assert "$50.00" in text and "$250.50" in text and "Total due: $300.50" in text
    assert "Dear Acme <b>&</b> Co," in text
    assert "Dear Acme &lt;b&gt;&amp;&lt;/b&gt; Co," in html and "<b>&</b>" not in html
    assert C[("INV-101", 1)] not in text  # not yet due, not in the statement by default
    (att,) = list(en.iter_attachments())
    assert att.get_filename() == "statement-C-EN-2024-06-30.xlsx"
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(att.get_content())).get_sheet_by_name("Statement").to_python()
    assert sheet[0][:3] == ["line_code", "invoice_no", "line_no"]
    assert sorted(r[0] for r in sheet[1:]) == sorted([C[("INV-100", 1)], C[("INV-100", 2)]])

    (zh,) = smtp.to(ZH)
    assert "付款提醒" in zh["Subject"] and "尊敬的 华东贸易有限公司：" in body(zh, "plain")
    assert "US$1,200.00" in body(zh, "plain") and C[("INV-200", 1)] in body(zh, "plain")
    (hu,) = smtp.to(HU)
    hu_text = body(hu, "plain").replace("\xa0", " ").replace("\u202f", " ")
    assert "Fizetési emlékeztető" in hu["Subject"] and "150 000,00 Ft" in hu_text and C[("INV-300", 1)] in hu_text
    assert len(smtp.messages) == len(plan.reminders)

    (sms,) = sms_provider.received
    assert sms["path"] == "/2010-04-01/Accounts/AC123/Messages.json"
    assert sms["auth"] == "Basic " + base64.b64encode(b"AC123:tok-secret").decode()
    assert sms["form"]["To"] == "+36301234567" and sms["form"]["From"] == "+15005550006"
    assert C[("INV-300", 1)] in sms["form"]["Body"] and "fizetési emlékeztető" in sms["form"]["Body"]

    log = store.reminder_log()
    assert len(log) == sum(len(r.lines) for r in plan.reminders) + 1
    assert (log["status"] == "sent").all() and (log["attempts"] == 1).all()
    assert log.loc[log["channel"] == "sms", "level"].tolist() == ["first:sms"]
    again = build_plan(data, AS_OF, store, policy)
    assert again.reminders == [] and set(again.skipped["reason"]) >= {"reminded_recently"}


def test_same_action_twice_and_a_new_click_send_once(data, store, smtp):
    plan = build_plan(data, AS_OF, store)
    aid = new_action_id()
    first = send_reminders(plan, store, mailer_for(smtp), None, action_id=aid, actor="clerk")
    second = send_reminders(plan, store, mailer_for(smtp), None, action_id=aid, actor="clerk")
    third = send_reminders(plan, store, mailer_for(smtp), None, action_id=new_action_id(), actor="clerk")
    assert len(first.sent) == len(plan.reminders)
    assert not second.sent and not third.sent and len(second.skipped) == len(plan.reminders)
    assert "already claimed" in second.skipped[0].error
    assert sorted(rcpts[0] for _, rcpts, _ in smtp.messages) == sorted(expected_email_codes(plan))


def test_refused_recipient_fails_with_its_error_then_a_retry_succeeds(data, store, smtp):
    smtp.refuse = {EN}
    plan = build_plan(data, AS_OF, store)
    report = send_reminders(plan, store, mailer_for(smtp), None, action_id=new_action_id(), actor="cron")
    (failed,) = report.failed
    assert failed.customer_id == "C-EN" and "550" in failed.error and "mailbox unavailable" in failed.error
    assert not report.ok and len(report.sent) == len(plan.reminders) - 1
    log = store.reminder_log("C-EN")
    assert set(log["status"]) == {"failed"} and log["error"].str.contains("550").all()

    smtp.refuse = set()
    retry = build_plan(data, AS_OF, store)
    assert [r.customer_id for r in retry.reminders] == ["C-EN"] and retry.reminders[0].retry
    report = send_reminders(retry, store, mailer_for(smtp), None, action_id=new_action_id(), actor="cron")
    assert report.ok and [r.customer_id for r in report.sent] == ["C-EN"]
    log = store.reminder_log("C-EN")
    assert set(log["status"]) == {"sent"} and (log["attempts"] == 2).all() and log["error"].isna().all()
    assert len(smtp.to(EN)) == 1
    assert len(smtp.messages) == len(plan.reminders)


def test_sms_provider_error_is_recorded_and_retried(data, store, sms_provider):
    policy = DunningPolicy(levels={"first": {"channels": ["sms"]}})
    sms_provider.fail = True
    plan = build_plan(data, AS_OF, store, policy)
    assert [r.customer_id for r in plan.reminders] == ["C-HU"]  # the only one with a phone
    report = send_reminders(plan, store, None, sms_for(sms_provider), action_id=new_action_id(), actor="cron")
    (failed,) = report.failed
    assert "HTTP 400" in failed.error and "not a valid phone number" in failed.error
    assert "tok-secret" not in failed.error
    sms_provider.fail = False
    report = send_reminders(build_plan(data, AS_OF, store, policy), store, None, sms_for(sms_provider),
                            action_id=new_action_id(), actor="cron")
    assert report.ok and len(report.sent) == 1 and len(sms_provider.received) == 2
    assert store.reminder_log()["status"].tolist() == ["sent"]


def test_a_crashed_claim_is_reported_for_manual_resolution_and_never_resent(data, store, smtp):
    plan = build_plan(data, AS_OF, store)
    zh = plan.reminder("C-ZH")
    # a sender claimed C-ZH's keys and died before sending
    assert store.claim_reminders(zh.keys("email"), "C-ZH", "email", action_id=new_action_id(), actor="cron")
    after = build_plan(data, AS_OF, store)
    assert after.reminder("C-ZH") is None
    assert after.unconfirmed[["customer_id", "line_code", "level"]].values.tolist() == [
        ["C-ZH", C[("INV-200", 1)], "first"]]
    assert after.skipped.set_index("line_code").loc[C[("INV-200", 1)], "reason"] == "unconfirmed_claim"
    # even the stale plan that still lists C-ZH does not send it
    report = send_reminders(plan, store, mailer_for(smtp), None, action_id=new_action_id(), actor="clerk")
    assert smtp.to(ZH) == [] and [r.customer_id for r in report.skipped] == ["C-ZH"]
    # someone checked: it never went out
    resolve_unconfirmed(store, after.unconfirmed[["line_code", "level"]].values.tolist(), "failed",
                        action_id=new_action_id(), actor="clerk")
    retry = build_plan(data, AS_OF, store)
    assert [r.customer_id for r in retry.reminders] == ["C-ZH"] and len(retry.unconfirmed) == 0
    send_reminders(retry, store, mailer_for(smtp), None, action_id=new_action_id(), actor="clerk")
    assert len(smtp.to(ZH)) == 1
    log = store.reminder_log("C-ZH")
    assert log[["status", "attempts"]].values.tolist() == [["sent", 2]]


def test_two_cron_runs_and_a_double_click_at_once_send_each_reminder_once(tmp_path, workbook, data, smtp):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    store = Store(url)  # the app created the store; both cron runs and the app share it
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'[smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\nsecurity = "none"\n'
                       'from_address = "Linewise AR <ar@linewise.test>"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINEWISE_SMTP_", "LINEWISE_SMS_"))}
    env.update(LINEWISE_DB_URL=url, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, str(ROOT / "cli.py"), "remind", str(workbook), "--as-of", AS_OF, "--send",
           "--secrets", str(secrets), "--actor", "cron"]
    plan = build_plan(data, AS_OF, store)  # the page's plan, previewed before the click
    expected = expected_email_codes(plan)
    smtp.delay = 0.05
    smtp.barrier = 2  # the first message waits until a second sender is sending too: they overlap for sure
    procs = [subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    aid = new_action_id()  # one confirmation dialog, its button clicked twice
    results = []

    def click() -> None:
        deadline = time.monotonic() + 30
        while not smtp.messages and time.monotonic() < deadline:  # click while the cron runs are sending
            time.sleep(0.01)
        results.append(send_reminders(plan, store, mailer_for(smtp), None, action_id=aid, actor="clerk"))

    clicks = [threading.Thread(target=click) for _ in range(2)]
    for t in clicks:
        t.start()
    outs = [p.communicate(timeout=90) for p in procs]
    for t in clicks:
        t.join(timeout=60)
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, out + err
    assert smtp.most_in_data >= 2, "the senders never sent at the same time: the race was not tested"
    received = sorted(rcpts[0] for _, rcpts, _ in smtp.messages)
    assert received == sorted(expected)  # every reminder once, none twice
    for address, codes in expected.items():
        (msg,) = smtp.to(address)
        text = body(msg, "plain")
        assert all(code in text for code in codes)
    sent_by_cli = sum(int(out.split("Sent ")[-1].split(",")[0]) for out, _ in outs)
    sent_by_clicks = sum(len(r.sent) for r in results)
    assert sent_by_cli + sent_by_clicks == len(expected)
    log = store.reminder_log()
    assert len(log) == sum(len(c) for c in expected.values())
    assert (log["status"] == "sent").all() and (log["attempts"] == 1).all()
    assert not log.duplicated(["line_code", "level"]).any()
    store.close()


def test_cli_dry_run_prints_the_plan_and_sends_nothing(tmp_path, workbook, smtp, capsys, monkeypatch):
    monkeypatch.setenv("LINEWISE_DB_URL", f"sqlite:///{tmp_path / 'dry.db'}")
    for var in ("HOST", "PORT", "FROM_ADDRESS", "SECURITY"):
        monkeypatch.delenv(f"LINEWISE_SMTP_{var}", raising=False)
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("[store]\n", encoding="utf-8")
    code = cli.main(["remind", str(workbook), "--as-of", AS_OF, "--secrets", str(secrets), "--preview", "C-HU"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"Reminders due as of {AS_OF}: {3 + len(EXTRA)}" in out
    assert "C-EN" in out and "USD 300.50" in out and "HUF 150000.00" in out
    assert "C-BL" in out and "dunning_blocked" in out and "C-NO" in out and "no_contact" in out
    assert "Subject: Fizetési emlékeztető" in out and "Dry run: nothing sent" in out
    assert smtp.messages == []
    # --send without any SMTP settings is a usage error; a broken policy file too
    assert cli.main(["remind", str(workbook), "--as-of", AS_OF, "--secrets", str(secrets), "--send"]) == 2
    assert "needs an SMTP server" in capsys.readouterr().err
    bad = tmp_path / "dunning.toml"
    bad.write_text("min_interval = 3\n", encoding="utf-8")
    assert cli.main(["remind", str(workbook), "--as-of", AS_OF, "--secrets", str(secrets),
                     "--dunning-policy", str(bad)]) == 2
    assert "min_interval" in capsys.readouterr().err
    # SMTP settings from the environment; a refused recipient makes the run exit 1
    monkeypatch.setenv("LINEWISE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("LINEWISE_SMTP_PORT", str(smtp.port))
    monkeypatch.setenv("LINEWISE_SMTP_SECURITY", "none")
    monkeypatch.setenv("LINEWISE_SMTP_FROM_ADDRESS", "ar@linewise.test")
    smtp.refuse = {ZH}
    assert cli.main(["remind", str(workbook), "--as-of", AS_OF, "--secrets", str(secrets), "--send"]) == 1
    out = capsys.readouterr().out
    assert "failed  C-ZH first email 1 line(s): recipient refused" in out
    assert f"Sent {2 + len(EXTRA)}, failed 1, skipped 0." in out


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_login_and_secrets_are_never_shown(tmp_path, monkeypatch):
    class Auth:
        def __call__(self, server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"ar" and auth_data.password == b"s3cret!"
            return AuthResult(success=ok, handled=False)

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=Auth(), auth_required=True,
                            auth_require_tls=False)
    controller.start()
    try:
        cfg = SmtpConfig.from_secrets({"smtp": {"host": "127.0.0.1", "port": port, "security": "none",
                                                "username": "ar", "password": "wrong",
                                                "from_address": "ar@linewise.test"}})
        assert "wrong" not in repr(cfg) and "***" in repr(cfg) and "wrong" not in repr(Mailer(cfg))
        mailer = Mailer(cfg)
        msg = mailer.build("c@x.test", "Hello", "text", "<p>html</p>")
        with pytest.raises(MailError) as exc:
            mailer.send(msg)
        assert "login refused" in str(exc.value) and "wrong" not in str(exc.value)
        monkeypatch.setenv("LINEWISE_SMTP_PASSWORD", "s3cret!")
        good = SmtpConfig.from_secrets({"smtp": {"host": "127.0.0.1", "port": port, "security": "none",
                                                 "username": "ar", "from_address": "ar@linewise.test"}})
        Mailer(good).send(Mailer(good).build("c@x.test", "Hello", "text", "<p>html</p>"))
        assert [rcpts for _, rcpts, _ in inbox.messages] == [["c@x.test"]]
    finally:
        controller.stop()
    with pytest.raises(MailError, match="cannot send through 127.0.0.1"):
        Mailer(SmtpConfig(host="127.0.0.1", port=free_port(), security="none", from_address="a@b.test",
                          timeout=2)).send(Mailer(good).build("c@x.test", "s", "t"))
    with pytest.raises(ConfigError, match="security"):
        SmtpConfig.from_mapping({"host": "h", "from_address": "a@b.test", "security": "tls1"})
    with pytest.raises(ConfigError, match="unknown"):
        SmtpConfig.from_mapping({"host": "h", "from_address": "a@b.test", "pasword": "x"})
    sms = SmsConfig.from_secrets({"sms": {"url": "https://sms.test/send", "sender": "ACME", "password": "tok"}})
    assert "tok" not in repr(sms) and "tok" not in repr(SmsClient(sms))
    assert SmtpConfig.from_secrets({}) is None and SmsConfig.from_secrets(None) is None
    assert normalise_phone("(212) 555-0101") == "2125550101" and normalise_phone("0036 30 123 4567") == "+36301234567"
    assert normalise_phone("n/a") is None


def test_preview_renders_without_sending_or_claiming(data, store):
    plan = build_plan(data, AS_OF, store)
    msgs = preview(plan, customer_ids=["C-EN", "C-ZH"])
    assert [m.customer_id for m in msgs] == ["C-EN", "C-ZH"] and [m.language for m in msgs] == ["en", "zh"]
    assert len(store.reminder_log()) == 0
    assert isinstance(plan.due_frame(), pd.DataFrame) and len(plan.due_frame()) == sum(
        len(r.lines) for r in plan.reminders)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 / localhost and its key (PEM files)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_pem, key_pem = folder / "cert.pem", folder / "key.pem"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return cert_pem, key_pem


def test_starttls_and_implicit_ssl_with_verified_certificates(tmp_path):
    import ssl

    cert, key = self_signed(tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=server_ctx, require_starttls=True)
    controller.start()
    try:
        cfg = dict(host="127.0.0.1", port=port, from_address="ar@linewise.test", timeout=10)
        with pytest.raises(MailError, match="(?i)certificate"):  # a certificate we were not told to trust
            Mailer(SmtpConfig(security="starttls", **cfg)).send(Mailer(SmtpConfig(**cfg)).build("a@x.test", "s", "t"))
        with pytest.raises(MailError, match="530|STARTTLS"):  # the server insists on TLS
            Mailer(SmtpConfig(security="none", **cfg)).send(Mailer(SmtpConfig(**cfg)).build("a@x.test", "s", "t"))
        mailer = Mailer(SmtpConfig(security="starttls", ca_file=str(cert), **cfg))
        mailer.send(mailer.build("a@x.test", "over starttls", "t"))
    finally:
        controller.stop()
    assert [m["Subject"] for _, _, m in inbox.messages] == ["over starttls"]

    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=server_ctx)
    controller.start()
    try:
        mailer = Mailer(SmtpConfig(host="127.0.0.1", port=port, security="ssl", ca_file=str(cert),
                                   from_address="ar@linewise.test", timeout=10))
        mailer.send(mailer.build("b@x.test", "over ssl", "t"))
    finally:
        controller.stop()
    assert [m["Subject"] for _, _, m in inbox.messages] == ["over starttls", "over ssl"]
