"""`cli.py bank import FILE...` and `cli.py bank queue --out` (SPEC §17): per-file summary, exit
codes 0 (all matched) / 1 (some wait for review) / 2 (unreadable), re-import adds nothing."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from billing.cashapp import rf_reference
from billing.linecode import make_code
from tests.connectors import bank_fixtures as fx

ROOT = Path(__file__).resolve().parents[1]


def workbook(path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "invoices"
    ws.append(["invoice_no", "customer_id", "invoice_date", "amount", "currency"])
    ws.append(["INV-1", "ACME", "2026-10-01", 100.00, "CHF"])
    ws.append(["INV-2", "ACME", "2026-10-05", 50.00, "CHF"])
    c = wb.create_sheet("customers")
    c.append(["customer_id", "name"])
    c.append(["ACME", "Acme Trading AG"])
    wb.save(path)
    return path


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LINEWISE_DB_URL": f"sqlite:///{tmp_path / 'ws.db'}", "LINEWISE_ACTOR": "cli-test"}
    return subprocess.run([sys.executable, "cli.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def workspace(tmp_path):
    assert run(tmp_path, "import", str(workbook(tmp_path / "book.xlsx"))).returncode == 0
    return tmp_path


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def test_all_matched_exits_0_and_the_same_statement_again_adds_nothing(workspace):
    rf = rf_reference(make_code("INV-1", 1))
    st = write(workspace / "nov.xml", fx.camt053("001.08", fx.ntry("100.00", v8=True, acct_ref="E1",
                                                                   txs=fx.tx(None, ref=rf, v8=True))
                                                 + fx.ntry("50.00", v8=True, acct_ref="E2",
                                                           txs=fx.tx(None, ustrd="Rechnung INV-2", v8=True)),
                                                 opening="0", closing="150.00"))
    first = run(workspace, "bank", "import", st)
    assert first.returncode == 0, first.stderr
    assert "credits 2 (2 new, 0 imported before)" in first.stdout
    assert "matched automatically 2: 1 by reference, 1 by invoice" in first.stdout
    again = run(workspace, "bank", "import", st)
    assert again.returncode == 0 and "credits 2 (0 new, 2 imported before)" in again.stdout


def test_some_waiting_exits_1_and_the_queue_is_written(workspace):
    st = write(workspace / "mt.sta", fx.MT940_KNAB)
    r = run(workspace, "bank", "import", st)
    assert r.returncode == 1, r.stderr
    assert "waiting for review 1" in r.stdout and "debits skipped 1" in r.stdout
    out = workspace / "queue.xlsx"
    q = run(workspace, "bank", "queue", "--out", str(out))
    assert q.returncode == 0 and "1 bank payment(s) waiting for review" in q.stdout
    rows = list(openpyxl.load_workbook(out).active.iter_rows(values_only=True))
    header, first = rows[0], rows[1]
    assert first[header.index("payment_id")] == "B4E07XM00J000023"
    assert first[header.index("amount")] == 500  # major units


def test_an_unreadable_file_exits_2_with_a_sentence(workspace):
    bad = write(workspace / "order.xml", fx.PAIN001)
    r = run(workspace, "bank", "import", bad)
    assert r.returncode == 2 and "this is a payment order" in r.stderr.lower() and "Traceback" not in r.stderr
    assert run(workspace, "bank", "import", str(workspace / "missing.sta")).returncode == 2
