"""Statements emailed for real (aiosmtpd on 127.0.0.1), once per customer and statement date; the CLI bulk run."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import xlsxwriter

import cli
from connectors.reminders import read_secrets_file as cli_secrets
from billing.analysis import analyse
from connectors.load import load_dataset
from connectors.mailer import Mailer, SmtpConfig
from connectors.store import Store, new_action_id
from services import statements as service
from services.auth import cli_actor
from services.context import Workspace
from tests.connectors.statement_fixtures import need_tool
from tests.connectors.test_reminders_send import smtp  # noqa: F401  (the aiosmtpd server fixture: messages are (from, rcpts, msg))

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2026-06-30"
IBAN = "DE89370400440532013000"


def write_book(path: Path) -> Path:
    wb = xlsxwriter.Workbook(path)
    cs = wb.add_worksheet("customers")
    cs.write_row(0, 0, ["customer_id", "name", "email", "language"])
    for i, r in enumerate([["C-EN", "Acme Ltd", "en@acme.test", "en"], ["C-ZH", "华东贸易有限公司", "zh@hd.test", "zh"],
                           ["C-HU", "Kovács Kft.", "hu@kovacs.test", "hu"], ["C-NO", "No Mail", "", "en"]], start=1):
        cs.write_row(i, 0, r)
    inv = wb.add_worksheet("invoices")
    inv.write_row(0, 0, ["invoice_no", "line_no", "customer_id", "invoice_date", "due_date", "amount", "currency"])
    for i, r in enumerate([["INV-1", 1, "C-EN", "2026-05-02", "2026-06-01", "100.00", "EUR"],
                           ["INV-2", 1, "C-ZH", "2026-06-10", "2026-07-10", "880.00", "EUR"],
                           ["INV-3", 1, "C-HU", "2026-05-10", "2026-06-10", "15000", "HUF"],
                           ["INV-4", 1, "C-NO", "2026-05-10", "2026-06-10", "10.00", "EUR"]], start=1):
        inv.write_row(i, 0, r)
    pay = wb.add_worksheet("payments")
    pay.write_row(0, 0, ["payment_id", "customer_id", "payment_date", "amount", "currency", "reference"])
    pay.write_row(1, 0, ["P1", "C-EN", "2026-06-05", "40.00", "EUR", "INV-1"])
    wb.close()
    return path


@pytest.fixture
def book(tmp_path) -> Path:
    return write_book(tmp_path / "ar.xlsx")


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'store.db'}")
    yield s
    s.close()


def _run(book, store, smtp, as_of=AS_OF, action_id=None):
    data = load_dataset(book)
    analysis = analyse(data, as_of, with_exceptions=False, with_kpis=False)
    settings = service.load_settings({"company": {"name": "ACME Kft.", "iban": IBAN}})
    stmts = service.build(data, analysis, store, settings=settings)
    mailer = Mailer(SmtpConfig(host="127.0.0.1", port=smtp.port, security="none",
                               from_address="AR <ar@acme.test>", timeout=10))
    return service.send(Workspace(store), cli_actor(name="test"), stmts, mailer, settings,
                        action_id=action_id or new_action_id())


def test_each_statement_is_emailed_once_with_its_pdf(book, store, smtp, tmp_path):
    first = _run(book, store, smtp)
    assert sorted(r.customer_id for r in first.sent) == ["C-EN", "C-HU", "C-ZH"]
    assert [(r.customer_id, r.error) for r in first.skipped] == [("C-NO", "no email address")]
    again = _run(book, store, smtp)  # a rerun (cron twice, a second click): nothing goes out
    assert again.sent == [] and len(smtp.messages) == 3
    assert all("already sent" in r.error for r in again.skipped if r.customer_id != "C-NO")
    msg = smtp.to("zh@hd.test")[0]
    assert "对账单" in msg["Subject"] and "ACME Kft." in msg["Subject"]
    assert "应付金额" in msg.get_body(("plain",)).get_content()
    (att,) = list(msg.iter_attachments())
    assert att.get_content_type() == "application/pdf"
    assert att.get_filename() == "statement-C-ZH-2026-06-30.pdf"
    pdf = tmp_path / "got.pdf"
    pdf.write_bytes(att.get_content())
    text = subprocess.run([need_tool("pdftotext"), str(pdf), "-"], capture_output=True, check=True).stdout.decode()
    assert "华东贸易有限公司" in text
    log = store.statement_log(AS_OF)
    assert sorted(log["customer_id"]) == ["C-EN", "C-HU", "C-ZH"] and set(log["status"]) == {"sent"}


def test_a_new_statement_date_is_a_new_statement(book, store, smtp):
    _run(book, store, smtp)
    later = _run(book, store, smtp, as_of="2026-07-31")
    assert len(later.sent) == 3 and len(smtp.messages) == 6


def test_a_refused_address_fails_and_the_next_run_retries_it(book, store, smtp):
    smtp.refuse.add("hu@kovacs.test")
    first = _run(book, store, smtp)
    assert [r.customer_id for r in first.failed] == ["C-HU"] and "550" in first.failed[0].error
    smtp.refuse.clear()
    second = _run(book, store, smtp)
    assert [r.customer_id for r in second.sent] == ["C-HU"]
    assert len(smtp.to("hu@kovacs.test")) == 1


def test_replaying_an_action_id_sends_nothing(book, store, smtp):
    aid = new_action_id()
    _run(book, store, smtp, action_id=aid)
    assert _run(book, store, smtp, action_id=aid).sent == [] and len(smtp.messages) == 3


def test_a_claim_never_confirmed_is_not_resent(book, store, smtp):
    assert store.claim_statement("C-EN", AS_OF, "email", "en@acme.test", action_id="crashed", actor="cron")
    report = _run(book, store, smtp)
    assert "C-EN" not in [r.customer_id for r in report.sent] and smtp.to("en@acme.test") == []
    assert store.statement_log(AS_OF).set_index("customer_id").loc["C-EN", "status"] == "queued"


def _secrets(tmp_path, smtp_port: int | None) -> Path:
    text = f'[company]\nname = "ACME Kft."\niban = "{IBAN}"\n[store]\nurl = "sqlite:///{tmp_path / "cli.db"}"\n'
    if smtp_port:
        text += (f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\n'
                 'from_address = "AR <ar@acme.test>"\n')
    p = tmp_path / "secrets.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_cli_writes_one_file_per_customer_and_sends_only_with_send(book, tmp_path, smtp, capsys):
    secrets = _secrets(tmp_path, smtp.port)
    out = tmp_path / "out"
    args = ["statements", str(book), "--as-of", AS_OF, "--out", str(out), "--secrets", str(secrets),
            "--format", "pdf,xlsx", "--workers", "2"]
    assert cli.main(args) == 0
    printed = capsys.readouterr().out
    assert "[8/8]" in printed and "Dry run" in printed and smtp.messages == []
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"statement-{c}-2026-06-30.{e}" for c in ("C-EN", "C-HU", "C-NO", "C-ZH") for e in ("pdf", "xlsx"))
    assert cli.main(args + ["--send", "--customer", "C-EN", "--only-open"]) == 0
    assert len(smtp.messages) == 1 and "[1/1] sent" in capsys.readouterr().out
    assert cli.main(args + ["--send"]) == 0  # C-EN was sent already: only the others go
    assert sorted(r for _, rcpts, _ in smtp.messages for r in rcpts) == [
        "en@acme.test", "hu@kovacs.test", "zh@hd.test"]


def test_cli_states_the_current_import_when_no_source_is_given(book, tmp_path, smtp, capsys):
    secrets = _secrets(tmp_path, smtp.port)
    base = ["statements", "--as-of", AS_OF, "--secrets", str(secrets), "--customer", "C-HU"]
    assert cli.main(base + ["--out", str(tmp_path / "none")]) == 2
    assert "no import yet" in capsys.readouterr().err and not (tmp_path / "none").exists()
    assert cli.main(["import", str(book), "--secrets", str(secrets)]) == 0
    capsys.readouterr()
    assert cli.main(base + ["--out", str(tmp_path / "cur"), "--send", "--actor", "cron-statements"]) == 0
    printed = capsys.readouterr()
    assert "Current import #1: ar.xlsx" in printed.err
    assert [p.name for p in (tmp_path / "cur").iterdir()] == ["statement-C-HU-2026-06-30.pdf"]
    assert "[1/1] sent    C-HU hu@kovacs.test" in printed.out and len(smtp.to("hu@kovacs.test")) == 1
    with Store.from_secrets(cli_secrets(secrets)) as store:
        log = store.statement_log(AS_OF)
        assert log[["customer_id", "status"]].values.tolist() == [["C-HU", "sent"]]
        claims = store.audit_events(entity="statement")
        assert set(claims["actor"]) == {"cron-statements"}


def test_cli_refuses_send_without_smtp_and_a_bad_iban(book, tmp_path, capsys):
    secrets = _secrets(tmp_path, None)
    base = ["statements", str(book), "--as-of", AS_OF, "--out", str(tmp_path / "o"), "--secrets", str(secrets)]
    assert cli.main(base + ["--send"]) == 2 and "SMTP" in capsys.readouterr().err
    secrets.write_text('[company]\niban = "DE00 1234"\n', encoding="utf-8")
    assert cli.main(base) == 2 and "IBAN" in capsys.readouterr().err


def test_cli_statements_from_a_shell(book, tmp_path):
    secrets = _secrets(tmp_path, None)
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), "statements", str(book), "--as-of", AS_OF,
                           "--out", str(tmp_path / "sh"), "--secrets", str(secrets), "--customer", "C-HU"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "[1/1] statement-C-HU-2026-06-30.pdf" in proc.stdout


def test_a_reminder_level_can_attach_the_statement_pdf(book, store, smtp, tmp_path):
    from billing.dunning import DunningPolicy
    from connectors.reminders import build_plan, send_reminders

    data = load_dataset(book)
    analysis = analyse(data, AS_OF, with_exceptions=False, with_kpis=False)
    settings = service.load_settings({"company": {"name": "ACME Kft.", "iban": IBAN}})
    policy = DunningPolicy(levels={"first": {"attach_pdf": True}})
    plan = build_plan(data, AS_OF, store, policy, analysis=analysis)
    mailer = Mailer(SmtpConfig(host="127.0.0.1", port=smtp.port, security="none",
                               from_address="AR <ar@acme.test>", timeout=10))
    with service.ReminderStatements(data, analysis, store, settings) as pdfs:
        report = send_reminders(plan, store, mailer, None, action_id=new_action_id(), actor="test",
                                statement_pdf=pdfs, customer_ids=["C-EN"])
    assert [r.status for r in report.results] == ["sent"]
    (msg,) = smtp.to("en@acme.test")
    (att,) = list(msg.iter_attachments())
    assert att.get_content_type() == "application/pdf" and att.get_filename() == "statement-C-EN-2026-06-30.pdf"
    assert "statement of account is attached" in msg.get_body(("plain",)).get_content()
    f = tmp_path / "r.pdf"
    f.write_bytes(att.get_content())
    text = subprocess.run([need_tool("pdftotext"), str(f), "-"], capture_output=True, check=True).stdout.decode()
    assert "Acme Ltd" in text and "Statement of account" in text


def test_cli_remind_attaches_the_pdf_at_the_levels_chosen_in_the_workspace(book, tmp_path, smtp, capsys):
    secrets = _secrets(tmp_path, smtp.port)
    with Store.from_secrets(cli_secrets(secrets)) as store:
        ws = Workspace(store)
        assert service.set_pdf_levels(ws, cli_actor(name="admin"), ["first"], action_id="choose") == "create"
        assert service.set_pdf_levels(ws, cli_actor(name="admin"), ["first"], action_id="again") == "unchanged"
        with pytest.raises(ValueError, match="no reminder level"):
            service.set_pdf_levels(ws, cli_actor(name="admin"), ["fifth"], action_id="typo")
        assert service.dunning_policy(ws).level("first").attach_pdf
        assert not service.dunning_policy(ws).level("final").attach_pdf
    assert cli.main(["remind", str(book), "--as-of", AS_OF, "--secrets", str(secrets), "--send"]) == 0
    (msg,) = smtp.to("en@acme.test")
    assert [a.get_filename() for a in msg.iter_attachments()] == ["statement-C-EN-2026-06-30.pdf", "payment-qr.png"]
    with Store.from_secrets(cli_secrets(secrets)) as store:  # unticked again: the next level goes without
        service.set_pdf_levels(Workspace(store), cli_actor(name="admin"), [], action_id="off")
        assert not service.dunning_policy(Workspace(store)).level("first").attach_pdf
        assert store.audit_events(entity="setting")["action"].tolist() == ["create", "update"]


def test_levels_without_the_option_attach_nothing(book, store, smtp):
    from billing.dunning import DunningPolicy
    from connectors.reminders import build_plan, send_reminders

    data = load_dataset(book)
    analysis = analyse(data, AS_OF, with_exceptions=False, with_kpis=False)
    settings = service.load_settings({})
    plan = build_plan(data, AS_OF, store, DunningPolicy(), analysis=analysis)
    mailer = Mailer(SmtpConfig(host="127.0.0.1", port=smtp.port, security="none",
                               from_address="AR <ar@acme.test>", timeout=10))
    with service.ReminderStatements(data, analysis, store, settings) as pdfs:
        send_reminders(plan, store, mailer, None, action_id=new_action_id(), actor="test", statement_pdf=pdfs,
                       customer_ids=["C-EN"])
    (msg,) = smtp.to("en@acme.test")
    assert list(msg.iter_attachments()) == []


def test_a_reminder_carries_an_epc_qr_paying_its_lines(book, store, smtp):
    import io
    from functools import partial

    import zxingcpp
    from PIL import Image

    from billing.dunning import DunningPolicy
    from connectors.qr import reminder_qr
    from connectors.reminders import build_plan, send_reminders

    data = load_dataset(book)
    analysis = analyse(data, AS_OF, with_exceptions=False, with_kpis=False)
    company = service.load_settings({"company": {"name": "ACME Kft.", "iban": IBAN}}).company
    plan = build_plan(data, AS_OF, store, DunningPolicy(), analysis=analysis)
    mailer = Mailer(SmtpConfig(host="127.0.0.1", port=smtp.port, security="none",
                               from_address="AR <ar@acme.test>", timeout=10))
    send_reminders(plan, store, mailer, None, action_id=new_action_id(), actor="test",
                   epc_qr=partial(reminder_qr, company), customer_ids=["C-EN", "C-HU"])
    (msg,) = smtp.to("en@acme.test")
    (att,) = list(msg.iter_attachments())
    assert att.get_content_type() == "image/png"
    (code,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(att.get_content())))
    fields = code.text.split("\n")
    assert fields[3] == "SCT" and fields[6] == IBAN and fields[7] == "EUR60"
    assert fields[-1] == plan.reminder("C-EN").line_codes[0]
    (hu,) = smtp.to("hu@kovacs.test")  # HUF: no SEPA QR
    assert list(hu.iter_attachments()) == []
