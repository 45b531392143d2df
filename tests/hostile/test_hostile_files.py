"""Hostile and unlucky files: refused (or read) within bounded memory and time, with a plain message.

Every file is built by tests/hostile/corpus.py (bombs a few MB at most). The
CLI cases run `cli.py check` as a real process: exit 1 with the message, never
an abort (134) or a traceback. The worker cases read through
connectors.worker with limits, and assert the worker's own peak memory
(`resource.getrusage` in the worker, reported back) stays bounded.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from billing.ingest import SchemaError, build_dataset
from billing.model import RawSheet, RawWorkbook
from billing.money import MAX_AMOUNT_MINOR, parse_money, totals_fit
from connectors.guard import MB, ReadLimits, check_upload_size, read_limits
from connectors.load import load_dataset
from connectors.sources import SourceError
from connectors.worker import read_untrusted, read_untrusted_with_stats
from tests.hostile import corpus

REPO = Path(__file__).resolve().parents[2]
# Ratio and total-size checks off, so that each scan of the sheet / shared strings is what refuses.
SCANS_ONLY = ReadLimits(max_ratio=1e9, max_uncompressed_mb=1e6)
PEAK_BOUND = 700 * MB  # the worker refusing a bomb: the interpreter, pandas, one chunk


def cli(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "cli.py", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=600)


def refused(source, limits: ReadLimits, name: str) -> SourceError:
    with pytest.raises(SourceError) as info:
        read_untrusted(source, name=name, limits=limits)
    assert "Traceback" not in info.value.message
    return info.value


CLI_CASES = {
    "xfd_cell.xlsx": (corpus.xfd_cell, "declares 1,048,576 rows × 16,384 columns (A1:XFD1048576)"),
    "rows_85m.xlsx": (lambda: corpus.rows_without_r(85_000_000), "unpacks to 2,107.0 MB; Linewise reads at most"),
    "one_huge_string.xlsx": (lambda: corpus.huge_shared_string(2_200_000_000), "unpacks to 2,098.0 MB"),
    "whitespace.xlsx": (lambda: corpus.whitespace_sheet(2_200_000_000), "unpacks to 2,098.0 MB"),
    "strings_50m.xlsx": (lambda: corpus.many_shared_strings(50_000_000), "looks like a decompression bomb"),
    "commas.csv": (lambda: corpus.comma_line_csv(50 * MB), "Line 2 of 'commas.csv' has more than 16,384 fields"),
    "repeated.ods": (corpus.ods_repeated_cells, "repeats cells with values up to 1,048,001 rows × 1,000 columns"),
}


@pytest.mark.parametrize("name", list(CLI_CASES))
def test_cli_check_refuses_the_hostile_file_with_a_message(tmp_path, name):
    build, expected = CLI_CASES[name]
    path = corpus.write(tmp_path, name, build())
    assert path.stat().st_size < 60 * MB
    done = cli("check", path)
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    assert expected in done.stderr, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "split" in done.stderr.lower() or "save each table" in done.stderr


@pytest.mark.parametrize("build, limits, expected", [
    (lambda: corpus.rows_without_r(2_000_000), SCANS_ONLY, "has more than 1,048,576 rows"),
    (lambda: corpus.huge_shared_string(600 * MB), SCANS_ONLY, "(its shared strings) unpack to more than 512.0 MB"),
    (lambda: corpus.many_shared_strings(50_000_000), SCANS_ONLY, "declares 50,000,000 different texts"),
    (lambda: corpus.many_shared_strings(12_000_000, declare=False), SCANS_ONLY, "holds at least 10,0"),
    (lambda: corpus.whitespace_sheet(600 * MB), ReadLimits(max_uncompressed_mb=500),
     "unpacks to 600.0 MB; Linewise reads at most 500.0 MB"),
], ids=["rows", "string-size", "strings-declared", "strings-counted", "unpacked-size"])
def test_each_scan_refuses_within_bounded_memory(build, limits, expected):
    error = refused(build(), limits, "bomb.xlsx")
    assert expected in error.message
    assert 0 < error.stats.peak_rss < PEAK_BOUND, error.stats


def test_a_reader_that_aborts_is_a_message_and_the_next_read_works():
    # The guard told to let the XFD1048576 cell through: calamine asks for 512 GB and aborts
    # (SIGABRT) under the worker's address-space limit; the caller only sees a SourceError.
    loose = ReadLimits(max_cells=10**13, worker_memory_mb=1024)
    error = refused(corpus.xfd_cell(), loose, "crash.xlsx")
    assert "Reading 'crash.xlsx' needs more than 1,024 MB of memory" in error.message
    raw, stats = read_untrusted_with_stats(corpus.invoices_workbook(), name="fine.xlsx", limits=loose)
    assert raw.sheets[0].cells.shape == (21, 4)
    assert stats.peak_rss < PEAK_BOUND


def test_a_read_past_the_wall_clock_limit_is_stopped():
    error = refused(corpus.invoices_workbook(), ReadLimits(worker_timeout_seconds=0.05), "slow.xlsx")
    assert "took longer than 0.05 seconds and was stopped" in error.message


def test_a_cell_on_the_last_excel_row_is_read_within_bounded_memory():
    raw, stats = read_untrusted_with_stats(corpus.last_row_cell(), name="last.xlsx")
    sheet = raw.sheets[0]
    assert sheet.first_row + len(sheet.cells) - 1 == 1_048_576
    assert sheet.cells.iat[-1, 0] == "x"
    assert stats.peak_rss < 1500 * MB, stats
    data = build_dataset(raw)
    assert data.counts["invoices"].accepted == 20


def test_one_overlong_field_quarantines_its_row_and_the_others_load(tmp_path):
    path = corpus.write(tmp_path, "long.csv", corpus.long_field_csv())
    data = load_dataset(path)
    assert (data.counts["invoices"].read, data.counts["invoices"].accepted) == (49, 48)
    bad = data.quarantine.iloc[0]
    assert (bad["row"], bad["column"]) == (26, "description")
    assert bad["message"].startswith("holds 140,000 characters; Linewise reads at most 32,767")
    assert len(bad["value"]) < 100
    done = cli("check", path)
    assert done.returncode == 1 and "holds 140,000 characters" in done.stdout


def test_amounts_whose_sum_would_wrap_int64_are_quarantined(tmp_path):
    path = corpus.write(tmp_path, "over.csv", corpus.overflow_csv())
    out = tmp_path / "report.json"
    done = cli("report", path, "--as-of", "2026-06-30", "--format", "json", "--out", out)
    assert "Traceback" not in done.stderr
    report = json.loads(out.read_text())
    assert report["rows"]["invoices"] == {"read": 21, "accepted": 1, "quarantined": 20}
    assert report["summary"]["USD"]["invoiced"] == "138.32"
    messages = {q["message"] for q in report["quarantine"]}
    assert messages == {"is too large: Linewise keeps totals exact for amounts up to 999999999999999.99 USD; "
                        "check the cell"}
    assert cli("check", path).returncode == 1


def test_the_amount_bound_is_inclusive_and_per_currency():
    parsed = parse_money(pd.Series(["999999999999999.99", "1000000000000000.00", "99999999999999999"]),
                         pd.Series(["USD", "USD", "JPY"]))
    assert parsed.minor.tolist()[0] == MAX_AMOUNT_MINOR
    assert pd.isna(parsed.minor.iloc[1]) and "up to 999999999999999.99 USD" in parsed.error.iloc[1]
    assert parsed.minor.tolist()[2] == MAX_AMOUNT_MINOR  # JPY has no minor digits


def test_a_dataset_whose_total_cannot_be_exact_is_refused():
    assert totals_fit(pd.Series([MAX_AMOUNT_MINOR] * 40, dtype="Int64"))
    assert not totals_fit(pd.Series([MAX_AMOUNT_MINOR] * 40), pd.Series([MAX_AMOUNT_MINOR] * 20))
    rows = [["invoice_no", "customer_id", "invoice_date", "amount"]]
    rows += [[f"I{i}", "C1", "2026-01-05", "9999999999999.99"] for i in range(4700)]
    raw = RawWorkbook("big", [RawSheet("invoices", pd.DataFrame(rows, dtype=object))])
    with pytest.raises(SchemaError, match="add up to more than Linewise can total exactly"):
        build_dataset(raw)


def test_the_upload_limit_is_for_all_files_together():
    three = [("a.csv", 150 * MB), ("b.csv", 150 * MB), ("c.csv", 150 * MB)]
    with pytest.raises(SourceError, match=r"the 3 files are 450\.0 MB together; Linewise reads at most "
                                          r"200\.0 MB per upload"):
        check_upload_size(three, ReadLimits())
    check_upload_size(three[:1], ReadLimits())


def test_limits_come_from_secrets_then_the_environment(tmp_path, monkeypatch):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("[limits]\nmax_upload_mb = 50\nmax_rows = 5000\n", encoding="utf-8")
    monkeypatch.setenv("LINEWISE_LIMIT_MAX_ROWS", "7000")
    limits = read_limits(secrets)
    assert (limits.max_upload_mb, limits.max_rows, limits.max_cells) == (50, 7000, ReadLimits().max_cells)
    monkeypatch.setenv("LINEWISE_LIMIT_MAX_CELLS", "lots")
    with pytest.raises(ValueError, match=r"\[limits\] max_cells must be a number"):
        read_limits(secrets)


def test_a_normal_workbook_passes_the_guard_and_reads_as_before():
    data = corpus.invoices_workbook(rows=300)
    from connectors.sources import read_source

    direct = read_source(data, name="ok.xlsx")
    guarded = read_untrusted(data, name="ok.xlsx")
    pd.testing.assert_frame_equal(direct.sheets[0].cells, guarded.sheets[0].cells)


def test_a_reply_naming_anything_but_cell_types_is_not_unpickled():
    import io
    import os
    import pickle

    from connectors.worker import _ReplyUnpickler

    class Gadget:
        def __reduce__(self):
            return (os.system, ("true",))

    with pytest.raises(pickle.UnpicklingError, match="may not name posix.system"):
        _ReplyUnpickler(io.BytesIO(pickle.dumps(("ok", Gadget(), 0, 0.0)))).load()


@pytest.mark.parametrize("build", __import__("tests.messy", fromlist=["READABLE"]).READABLE,
                         ids=lambda b: b.__name__)
def test_every_readable_sample_reads_the_same_through_the_worker(tmp_path, build):
    from connectors.sources import read_source

    path = build(tmp_path)
    direct, guarded = read_source(path), read_untrusted(path)
    assert [s.name for s in guarded.sheets] == [s.name for s in direct.sheets]
    for a, b in zip(direct.sheets, guarded.sheets):
        assert (a.first_row, a.hidden) == (b.first_row, b.hidden)
        pd.testing.assert_frame_equal(a.cells, b.cells)
