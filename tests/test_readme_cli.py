"""The README's command-line examples work as written (SPEC §18: the two commands and the CLI a
newcomer copies), the `linewise` entry point runs cli.main, and the app's own data/ folder is never
read as a folder of exports."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import cli

ROOT = Path(__file__).resolve().parents[1]
PROGRAM = ".venv/bin/linewise"
# Run end to end below; the others (every customer's PDF, the two --send) are parsed only: they need
# minutes of typesetting or an SMTP server, and the same paths are tested in tests/connectors.
PARSED_ONLY = ("--send", "--out statements/")


def readme_commands() -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Command line"):]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    lines = [ln.split("  #", 1)[0].strip() for ln in block.splitlines() if ln.strip()]
    assert all(ln.startswith(PROGRAM + " ") for ln in lines), lines
    return [shlex.split(ln)[1:] for ln in lines]


def test_the_entry_point_is_cli_main():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts == {"linewise": "cli:main"}
    script = Path(sys.prefix) / "bin" / "linewise"
    if not script.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{script} is missing: `make setup` installs it (pip install --editable .)")
        pytest.skip(f"{script} is not installed yet: run `make setup`")
    proc = subprocess.run([str(script), "demo", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "usage: " in proc.stdout and "--lines" in proc.stdout


def test_every_readme_example_parses_and_the_quick_ones_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LINEWISE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LINEWISE_DB_URL", raising=False)
    for name in list(os.environ):
        if name.startswith("LINEWISE_SMTP_"):
            monkeypatch.delenv(name)
    exports = tmp_path / "exports"  # the README's folder of CSVs, one per table
    exports.mkdir()
    (exports / "invoices.csv").write_text("Invoice #,Customer,Date,Due,Amount,Currency\n"
                                          "INV-1,C1,2026-05-01,2026-05-31,100.00,USD\n", encoding="utf-8")
    (exports / "payments.csv").write_text("Payment ID,Customer,Payment Date,Amount,Currency\n"
                                          "P1,C1,2026-06-01,40.00,USD\n", encoding="utf-8")
    parser = cli.build_parser()
    commands = readme_commands()
    assert [c[0] for c in commands[:2]] == ["demo", "template"]
    for argv in commands:
        parser.parse_args(argv)  # every option exists as written
        if any(part in " ".join(argv) for part in PARSED_ONLY):
            continue
        if argv[0] == "demo":
            argv = argv + ["--lines", "1000"]  # the same workbook, smaller: the suite runs on 2 cores
        code = cli.main(argv)
        out = capsys.readouterr()
        assert code in (0, 1), f"{' '.join(argv)} exited {code}: {out.err}"  # 1: the demo plants bad cells
        assert "Traceback" not in out.err and "error:" not in out.err and "nothing to state" not in out.err, out.err
    assert {"invoices.xlsx", "template.xlsx", "coded.xlsx", "report.json", "r.xlsx", "r.json"} <= {
        p.name for p in tmp_path.iterdir()}
    assert sorted(p.name for p in (tmp_path / "st").iterdir()) == ["statement-0010002-2026-06-30.pdf",
                                                           "statement-0010002-2026-06-30.xlsx"]


def test_the_apps_own_data_folder_is_refused_as_a_source_with_what_to_do(tmp_path, monkeypatch, capsys):
    store = tmp_path / "data"
    store.mkdir()
    (store / "linewise.db").write_bytes(b"")
    monkeypatch.setenv("LINEWISE_DATA_DIR", str(store))
    monkeypatch.delenv("LINEWISE_DB_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    code = cli.main(["report", "data/", "--as-of", "2026-06-30", "--out", "r.json"])
    err = capsys.readouterr().err
    assert code == 2 and "data/ is the folder where Linewise keeps its own store" in err
    assert "put the CSV files" in err and not (tmp_path / "r.json").exists()
