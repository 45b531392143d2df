"""The command line end to end on real files: messages, exit codes, outputs."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import xlsxwriter
from python_calamine import CalamineWorkbook

import cli
from billing.linecode import is_valid, make_code
from tests import messy

ROOT = Path(__file__).resolve().parents[1]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def bad_cells_xlsx(folder: Path) -> Path:
    """Invoices with a title row and three bad cells (rows 5, 6, 7), payments clean."""
    path = folder / "bad.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet("Invoices")
    ws.write_row(0, 0, ["Open items March"])
    ws.write_row(2, 0, ["Invoice #", "Customer", "Date", "Amount", "Currency"])
    ws.write_row(3, 0, ["INV-1", "C1", "2024-03-01", "100.00", "USD"])
    ws.write_row(4, 0, ["INV-2", "C1", "2024-02-30", "50.00", "USD"])
    ws.write_row(5, 0, ["INV-3", "C1", "2024-03-02", "12.345", "USD"])
    ws.write_row(6, 0, ["INV-4", "", "2024-03-02", "7.00", "USD"])
    ps = wb.add_worksheet("Payments")
    ps.write_row(0, 0, ["Payment ID", "Customer", "Payment Date", "Amount", "Reference"])
    ps.write_row(1, 0, ["P1", "C1", "2024-03-10", 60, "INV-1"])
    wb.close()
    return path


def test_check_clean_workbook_exits_zero_and_reports_skipped_rows(tmp_path, capsys):
    code, out, _ = run(capsys, "check", str(messy.acme_xlsx(tmp_path)))
    assert code == 0
    assert "invoices          4         4            0" in out
    assert "Invoices!row 1 (title)" in out and "Invoices!row 9 (total)" in out
    assert "No rows quarantined." in out


def test_check_lists_each_bad_cell_with_sheet_row_column_value_and_exits_one(tmp_path, capsys):
    code, out, _ = run(capsys, "check", str(bad_cells_xlsx(tmp_path)))
    assert code == 1
    assert "invoices          4         1            3" in out
    assert "Invoices!row 5, column 'Date', value '2024-02-30': is not a real date" in out
    assert "Invoices!row 6, column 'Amount', value '12.345'" in out and "3 decimals" in out
    assert "Invoices!row 7, column 'Customer'" in out and "required" in out


def test_missing_required_column_is_one_clear_message(tmp_path, capsys):
    code, _, err = run(capsys, "check", str(messy.missing_column_xlsx(tmp_path)))
    assert code == 1
    assert "no column for invoice_no" in err and "found: 'Doc'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("builder", [messy.corrupt_xlsx, messy.empty_file, messy.pdf_file])
def test_unreadable_file_gets_a_message_not_a_traceback(tmp_path, capsys, builder):
    code, _, err = run(capsys, "check", str(builder(tmp_path)))
    assert code == 1
    assert err.startswith("error: ") and "Traceback" not in err


def test_usage_errors_exit_two(tmp_path, capsys):
    assert run(capsys, "check", str(tmp_path / "nope.xlsx"))[0] == 2
    src = str(messy.acme_xlsx(tmp_path))
    assert run(capsys, "report", src, "--as-of", "soon", "--out", str(tmp_path / "r.json"))[0] == 2
    assert run(capsys, "report", src, "--as-of", "2024-06-30", "--sections", "bogus",
               "--out", str(tmp_path / "r.json"))[0] == 2
    with pytest.raises(SystemExit) as exc:
        cli.main(["frobnicate"])
    assert exc.value.code == 2


@pytest.mark.parametrize("builder", [messy.chinese_xlsx, messy.hungarian_ods, messy.two_row_header_xlsx,
                                     messy.csv_cp1252, messy.csv_gbk, messy.csv_utf8_bom])
def test_messy_sources_read_without_quarantine(tmp_path, capsys, builder):
    code, out, err = run(capsys, "check", str(builder(tmp_path)))
    assert code == 0, out + err
    assert "No rows quarantined." in out
    counts = [line.split() for line in out.splitlines() if line.split()[:1] in (["invoices"], ["payments"])]
    assert counts and all(row[-1] == "0" and row[1] == row[2] for row in counts), out  # read == accepted


def test_codes_writes_invoices_with_valid_line_codes(tmp_path, capsys):
    out_path = tmp_path / "coded.xlsx"
    code, out, _ = run(capsys, "codes", str(messy.acme_xlsx(tmp_path)), "--out", str(out_path))
    assert code == 0 and "4 invoice lines" in out
    rows = CalamineWorkbook.from_path(str(out_path)).get_sheet_by_name("invoices").to_python()
    header = rows[0]
    got = [(r[header.index("invoice_no")], r[header.index("line_code")], r[header.index("amount")],
            r[header.index("customer_id")]) for r in rows[1:]]
    assert got == [("INV-001", make_code("INV-001", 1), 1200.0, "00017"),
                   ("INV-001", make_code("INV-001", 2), 1234.5, "00017"),
                   ("INV-002", make_code("INV-002", 1), 99.99, "42"),
                   ("INV-003", make_code("INV-003", 1), -250.0, "00017")]
    assert all(is_valid(c) for _, c, _, _ in got)


def _coded_csv(tmp_path, capsys) -> list[dict[str, str]]:
    out_path = tmp_path / "coded.csv"
    assert run(capsys, "codes", str(messy.csv_utf8_bom(tmp_path)), "--out", str(out_path))[0] == 0
    return list(csv.DictReader(io.StringIO(out_path.read_text(encoding="utf-8-sig"))))


def test_codes_to_csv_keeps_every_value_and_adds_the_codes(tmp_path, capsys):
    rows = _coded_csv(tmp_path, capsys)
    got = [(r["invoice_no"], r["customer_id"], r["invoice_date"], r["line_code"], r["currency"], r["description"])
           for r in rows]
    assert got == [("INV-001", "00017", "2024-03-05", make_code("INV-001", 1), "EUR", "Widgets, large"),
                   ("INV-002", "00042", "2024-03-06", make_code("INV-002", 1), "USD", "Café crème")]


def test_codes_to_csv_writes_amounts_as_the_user_typed_them(tmp_path, capsys):
    assert [r["amount"] for r in _coded_csv(tmp_path, capsys)] == ["1200.00", "99.99"]


def test_report_json_has_the_spec_shape_with_exact_amount_strings(tmp_path, capsys):
    out_path = tmp_path / "r.json"
    code, _, _ = run(capsys, "report", str(bad_cells_xlsx(tmp_path)), "--as-of", "2024-03-31",
                     "--out", str(out_path))
    assert code == 1  # the report is written, but the quarantine is not silent
    r = json.loads(out_path.read_text(encoding="utf-8"))
    assert r["as_of"] == "2024-03-31" and r["basis"] == "due_date"
    assert r["rows"]["invoices"] == {"read": 4, "accepted": 1, "quarantined": 3}
    usd = r["summary"]["USD"]
    assert (usd["invoiced"], usd["allocated"], usd["open"], usd["overdue"]) == ("100.00", "60.00", "40.00", "0.00")
    assert usd["aging"]["current"] == "40.00"
    assert r["allocations"] == [{"payment_id": "P1", "line_code": make_code("INV-1", 1), "amount": "60.00",
                                 "step": "invoice"}]
    assert r["lines"][0]["due_date"] == "2024-03-31" and r["lines"][0]["bucket"] == "current"
    assert len(r["quarantine"]) == 3


def test_streamed_json_report_is_the_text_json_dumps_writes_for_the_report_dict(tmp_path, capsys):
    from billing.analysis import analyse
    from billing.policy import Policy
    from billing.report import build_report
    from connectors.load import load_dataset

    source, out_path = messy.acme_xlsx(tmp_path), tmp_path / "r.json"
    run(capsys, "report", str(source), "--as-of", "2024-06-30", "--out", str(out_path))
    data = load_dataset(source)
    whole = build_report(data, analyse(data, cli._as_of("2024-06-30"), Policy()))
    assert whole["lines"] and whole["exceptions"]  # the table sections are really there
    assert out_path.read_text(encoding="utf-8") == json.dumps(whole, ensure_ascii=False, indent=1)


def test_report_sections_limit_what_is_written(tmp_path, capsys):
    out_path = tmp_path / "r.json"
    run(capsys, "report", str(messy.acme_xlsx(tmp_path)), "--as-of", "2024-06-30", "--sections",
        "summary,customers,kpis", "--out", str(out_path))
    r = json.loads(out_path.read_text(encoding="utf-8"))
    assert set(r) == {"as_of", "basis", "buckets", "summary", "customers", "kpis"}


def test_report_xlsx_has_a_sheet_per_section(tmp_path, capsys):
    out_path = tmp_path / "r.xlsx"
    code, _, _ = run(capsys, "report", str(messy.acme_xlsx(tmp_path)), "--as-of", "2024-06-30",
                     "--format", "xlsx", "--sections", "summary,lines,exceptions", "--out", str(out_path))
    assert code == 0
    assert CalamineWorkbook.from_path(str(out_path)).sheet_names == ["about", "summary", "lines", "exceptions"]


def test_demo_and_template_round_trip_through_check(tmp_path, capsys):
    demo, template = tmp_path / "demo.xlsx", tmp_path / "t.xlsx"
    assert run(capsys, "demo", "--out", str(demo), "--lines", "1000")[0] == 0
    code, out, _ = run(capsys, "check", str(demo))
    assert code == 0 and "invoices       1000      1000            0" in out
    assert run(capsys, "template", "--out", str(template))[0] == 0
    assert "Instructions" in CalamineWorkbook.from_path(str(template)).sheet_names


def test_cli_runs_as_a_program_with_spec_exit_codes(tmp_path):
    proc = subprocess.run([sys.executable, "cli.py", "check", str(bad_cells_xlsx(tmp_path))], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "is not a real date" in proc.stdout


def test_report_takes_open_disputes_from_the_action_store(tmp_path, capsys, monkeypatch):
    from billing.analysis import analyse
    from connectors.load import load_dataset
    from connectors.store import Store, new_action_id

    src = bad_cells_xlsx(tmp_path)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("LINEWISE_DB_URL", url)
    data = load_dataset(src)
    lines = analyse(data, "2024-03-31").aging
    with Store(url) as store:
        store.open_dispute(action_id=new_action_id(), actor="tester", lines=lines, amount=1000, reason="price",
                           owner="ar", line_codes=[make_code("INV-1", 1)])
    out_path = tmp_path / "r.json"
    run(capsys, "report", str(src), "--as-of", "2024-03-31", "--out", str(out_path))
    usd = json.loads(out_path.read_text(encoding="utf-8"))["summary"]["USD"]
    assert usd["in_dispute"] == "10.00"  # SPEC §7: the dispute holds its 10.00 of the line's 40.00 open


# --------------------------------------------------------------------------- the workspace


@pytest.fixture
def workspace_db(tmp_path, monkeypatch):
    """The CLI's workspace store: an SQLite file of this test (LINEWISE_DB_URL)."""
    url = f"sqlite:///{tmp_path / 'ws' / 'linewise.db'}"
    monkeypatch.setenv("LINEWISE_DB_URL", url)
    return url


def clean_xlsx(folder: Path, amount: str = "100.00") -> Path:
    path = folder / f"clean-{amount}.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet("Invoices")
    ws.write_row(0, 0, ["Invoice #", "Customer", "Date", "Due", "Amount", "Currency"])
    ws.write_row(1, 0, ["INV-1", "C1", "2024-03-01", "2024-03-31", amount, "USD"])
    ws.write_row(2, 0, ["INV-2", "C2", "2024-03-05", "2024-04-04", "80.00", "USD"])
    ps = wb.add_worksheet("Payments")
    ps.write_row(0, 0, ["Payment ID", "Customer", "Payment Date", "Amount"])
    ps.write_row(1, 0, ["P1", "C1", "2024-03-10", 60])
    wb.close()
    return path


def test_import_exit_codes_stored_clean_quarantined_unchanged_unreadable(tmp_path, capsys, workspace_db):
    book = clean_xlsx(tmp_path)
    code, out, _ = run(capsys, "import", str(book), "--actor", "cron")
    assert code == 0 and "Stored as import #1: 2 invoice lines, 1 payments." in out
    code, out, _ = run(capsys, "import", str(book))  # the same bytes, the same options
    assert code == 0 and "Already imported as #1" in out
    code, out, _ = run(capsys, "import", str(bad_cells_xlsx(tmp_path)))
    assert code == 1 and "Stored as import #2" in out and "Invoices!row 5, column 'Date'" in out
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not a workbook")
    code, _, err = run(capsys, "import", str(broken))
    assert code == 1 and "nothing was stored" in err and "broken.xlsx" in err
    assert run(capsys, "import", str(tmp_path / "missing.xlsx"))[0] == 2
    assert run(capsys, "imports", "--keep", "0")[0] == 2


def test_imports_lists_the_history_with_changes_and_keep_prunes(tmp_path, capsys, workspace_db):
    run(capsys, "import", str(clean_xlsx(tmp_path)), "--actor", "ann")
    run(capsys, "import", str(clean_xlsx(tmp_path, amount="120.00")), "--actor", "bob")
    code, out, _ = run(capsys, "imports", "--changes")
    rows = [line for line in out.splitlines() if line.strip().startswith(("*", "1", "2"))]
    assert code == 0 and rows[0].startswith("*") and " 2 " in rows[0] and "bob" in rows[0]
    assert "lines +0 -0 ~1, payments +0 -0 ~0" in out
    code, out, _ = run(capsys, "imports", "--keep", "1")
    assert code == 0 and "Deleted 1 import(s): #1." in out and "ann" not in out


def test_report_check_and_remind_without_source_use_the_current_import(tmp_path, capsys, workspace_db):
    assert run(capsys, "report", "--as-of", "2024-03-31", "--out", str(tmp_path / "none.json"))[0] == 2
    run(capsys, "import", str(clean_xlsx(tmp_path)))
    out_path = tmp_path / "r.json"
    code, _, err = run(capsys, "report", "--as-of", "2024-03-31", "--out", str(out_path))
    assert code == 0 and "Current import #1" in err
    usd = json.loads(out_path.read_text(encoding="utf-8"))["summary"]["USD"]
    assert (usd["invoiced"], usd["allocated"], usd["open"]) == ("180.00", "60.00", "120.00")
    code, out, _ = run(capsys, "check")
    assert code == 0 and "invoices" in out and "No rows quarantined." in out
    code, out, _ = run(capsys, "remind", "--as-of", "2024-04-30")
    assert code == 0 and "Dry run: nothing sent" in out


def test_check_says_which_tool_export_it_recognised(tmp_path, capsys):
    path = tmp_path / "freshbooks_invoices.csv"
    path.write_text("Client Name,Invoice #,Date Issued,Item Name,Rate,Quantity,Line Total,Currency\n"
                    "X-Men,0000001,2021-01-28,Repair,65.00,10,650.00,USD\n", encoding="utf-8")
    code, out, _ = run(capsys, "check", str(path))
    assert code == 0
    assert "Recognised: FreshBooks invoice export (sheet 'freshbooks_invoices')" in out.splitlines()[1]
