"""cli.py worklist / forecast / check / report with the workspace's collections records (SPEC §15)."""
from __future__ import annotations

import json

from python_calamine import CalamineWorkbook

from billing.linecode import make_code
from connectors.store import Store
from tests.test_cli import clean_xlsx, run, workspace_db  # noqa: F401 (a fixture)


def test_worklist_and_forecast_on_the_current_import(tmp_path, capsys, workspace_db):  # noqa: F811
    assert run(capsys, "import", str(clean_xlsx(tmp_path)))[0] == 0
    code, out, _ = run(capsys, "worklist", "--as-of", "2024-05-31", "--out", str(tmp_path / "w.xlsx"))
    assert code == 0 and "(2 customer row(s))" in out
    book = CalamineWorkbook.from_path(str(tmp_path / "w.xlsx"))
    assert book.sheet_names == ["worklist", "credit hold"]
    rows = book.get_sheet_by_name("worklist").to_python()
    header = rows[0]
    by_customer = {r[header.index("customer_id")]: r for r in rows[1:]}
    assert by_customer["C1"][header.index("open")] == 40 and by_customer["C2"][header.index("overdue")] == 80
    code, out, _ = run(capsys, "worklist", "--as-of", "2024-05-31", "--collector", "nobody",
                       "--out", str(tmp_path / "w2.xlsx"))
    assert code == 0 and "(0 customer row(s))" in out

    code, out, _ = run(capsys, "forecast", "--as-of", "2024-05-31", "--weeks", "4", "--out", str(tmp_path / "f.json"))
    f = json.loads((tmp_path / "f.json").read_text(encoding="utf-8"))
    assert code == 0 and f["as_of"] == "2024-05-31" and [r["week"] for r in f["forecast"]] == [1, 2, 3, 4]
    assert all(float(r["low"]) <= float(r["expected"]) <= float(r["high"]) for r in f["forecast"])
    assert run(capsys, "forecast", "--weeks", "0", "--out", str(tmp_path / "g.json"))[0] == 2


def test_adjustments_reach_the_report_and_check_flags_the_ones_whose_line_is_gone(tmp_path, capsys,
                                                                                   workspace_db):  # noqa: F811
    assert run(capsys, "import", str(clean_xlsx(tmp_path)))[0] == 0
    with Store(workspace_db) as store:
        store.record_adjustment("write_off", action_id="w1", actor="ann", line_code=make_code("INV-1", 1),
                                amount=12000, reason="goodwill", on="2024-03-15")
        store.record_adjustment("write_off", action_id="w2", actor="ann", line_code=make_code("INV-9", 1),
                                amount=100, reason="typo", on="2024-03-15")
    code, _, _ = run(capsys, "report", "--as-of", "2024-03-31", "--out", str(tmp_path / "r.json"))
    r = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    # adjustments run before step 1: C1's INV-1 is written off whole, so C1's P1 (60.00) stays unapplied
    assert code == 0 and r["summary"]["USD"]["open"] == "80.00" and r["summary"]["USD"]["unapplied"] == "60.00"
    assert [(a["line_code"], a["applied"], a["status"]) for a in r["adjustments"]] == [
        (make_code("INV-1", 1), "100.00", "partly_applied"), (make_code("INV-9", 1), "0.00", "missing_line")]
    code, out, _ = run(capsys, "check")
    assert "1 adjustment(s) name what this data no longer has" in out
    assert f"#2 write_off of line {make_code('INV-9', 1)}: its line is not in this import" in out
