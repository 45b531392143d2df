"""`cli.py codes` round-trips: codes out (CSV and XLSX) → read back → the same invoice lines,
to the minor unit, in every currency (one writer for every format; SPEC §11, §12)."""
from __future__ import annotations

import csv

import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

import cli
from billing.schema import TABLES
from connectors.export import write_demo_workbook
from connectors.load import load_dataset

HEADER = ["invoice_no", "line_no", "customer_id", "invoice_date", "due_date", "amount", "currency",
          "quantity", "unit_price", "description", "kind", "applies_to"]
ROWS = [
    ["0000611365", "1", "C1", "2024-05-02", "2024-06-01", "138.32", "USD", "2", "69.16", "Widgets", "", ""],
    ["0000611365", "2", "C1", "2024-05-02", "2024-06-01", "-12.50", "USD", "1", "-12.50", "Rebate", "", ""],
    ["JP-7", "1", "C2", "2024-05-03", "2024-06-02", "15000", "JPY", "3", "5000", "東京 order", "", ""],
    ["BH-1", "1", "C3", "2024-05-04", "2024-06-03", "12.345", "BHD", "1", "12.345", "Kovács & Társa", "", ""],
    ["HU-9", "1", "C4", "2024-05-05", "2024-06-04", "150000.00", "HUF", "1.5", "100000", "Phone +36 30 555 1234",
     "", ""],
    ["CN-1", "1", "C1", "2024-05-06", "2024-05-06", "-38.32", "USD", "", "", "credit", "credit_note", "0000611365"],
]
DANGEROUS = ["=SUM(A1:A9)", "+36 30 555 1234", "-2+3", "@home", "-12.5 text"]


def source_csv(path, rows=ROWS):
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([HEADER, *rows])
    return path


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    cols = [c.name for c in TABLES["invoices"].columns if c.name in frame.columns]
    return frame[cols].reset_index(drop=True)


def codes_out(source, out):
    code = cli.main(["codes", str(source), "--out", str(out)])
    assert code == 0
    return load_dataset(out)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_codes_out_and_back_is_the_same_dataset(tmp_path, suffix, capsys):
    source = source_csv(tmp_path / "in.csv")
    before = load_dataset(source)
    assert len(before.quarantine) == 0
    after = codes_out(source, tmp_path / f"coded{suffix}")
    assert len(after.quarantine) == 0
    pd.testing.assert_frame_equal(canonical(after.invoices), canonical(before.invoices))
    assert after.invoices["line_code_given"].all()  # the codes written are read back as the user's


def test_csv_money_is_written_in_major_units_not_cents(tmp_path, capsys):
    out = tmp_path / "coded.csv"
    codes_out(source_csv(tmp_path / "in.csv"), out)
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert [r["amount"] for r in rows] == ["138.32", "-12.50", "15000", "12.345", "150000.00", "-38.32"]
    assert rows[0]["unit_price"] == "69.16" and rows[2]["unit_price"] == "5000"


def test_the_demo_workbook_round_trips_through_both_formats(tmp_path, capsys):
    demo = tmp_path / "demo.xlsx"
    write_demo_workbook(demo, n_lines=1000)
    before = canonical(load_dataset(demo).invoices)
    for suffix in (".csv", ".xlsx"):
        cli.main(["codes", str(demo), "--out", str(tmp_path / f"c{suffix}")])
        pd.testing.assert_frame_equal(canonical(load_dataset(tmp_path / f"c{suffix}").invoices), before)


def test_dangerous_text_keeps_its_value_in_xlsx_and_its_apostrophe_in_csv(tmp_path, capsys):
    rows = [[*ROWS[0][:9], text, "", ""] for text in DANGEROUS]
    rows = [[r[0], str(i + 1), *r[2:]] for i, r in enumerate(rows)]
    source = source_csv(tmp_path / "in.csv", rows)
    before = load_dataset(source)
    after = codes_out(source, tmp_path / "coded.xlsx")
    pd.testing.assert_frame_equal(canonical(after.invoices), canonical(before.invoices))
    sheet = CalamineWorkbook.from_path(str(tmp_path / "coded.xlsx")).get_sheet_by_index(0).to_python()
    col = sheet[0].index("description")
    assert [r[col] for r in sheet[1:]] == DANGEROUS  # the value unchanged: the quote-prefix style guards it
    cli.main(["codes", str(source), "--out", str(tmp_path / "coded.csv")])
    got = [r["description"] for r in csv.DictReader((tmp_path / "coded.csv").open(encoding="utf-8-sig"))]
    assert got == ["'" + t for t in DANGEROUS]
