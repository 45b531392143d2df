"""services.workspace on a real store (SQLite file and PostgreSQL): imports, the current data, history,
differences with flags, remembered mappings, pruning."""
from __future__ import annotations

import pandas as pd
import pytest

from billing.ingest import IngestOptions
from billing.linecode import make_code
from connectors.store import Store, new_action_id
from services import workspace
from services.context import Workspace
from tests.app import files

HEAD_INV = "invoice_no,customer_id,invoice_date,due_date,amount,currency\n"
HEAD_PAY = "payment_id,customer_id,payment_date,amount,currency\n"


def book(lines: list[str], payments: list[str] = ()) -> list[tuple[str, bytes]]:
    """Two CSV files, one per table (what a folder of CSVs or a multi-file upload holds)."""
    return [("invoices.csv", (HEAD_INV + "\n".join(lines) + "\n").encode()),
            ("payments.csv", (HEAD_PAY + "\n".join(payments) + "\n").encode())]


FIRST = book(["INV-1,C1,2026-01-05,2026-02-04,100.00,USD", "INV-2,C1,2026-01-10,2026-02-09,50.00,USD",
              "INV-3,C2,2026-01-12,2026-02-11,70.00,USD"],
             ["P1,C1,2026-02-01,40.00,USD"])
# INV-1 amount changed, INV-2 removed, INV-4 added; P1 changed, P2 added
SECOND = book(["INV-1,C1,2026-01-05,2026-02-04,120.00,USD", "INV-3,C2,2026-01-12,2026-02-11,70.00,USD",
               "INV-4,C2,2026-02-01,2026-03-03,10.00,USD"],
              ["P1,C1,2026-02-01,45.00,USD", "P2,C2,2026-02-20,70.00,USD"])


def test_an_import_is_stored_and_becomes_everyones_current_data(ws, ann):
    result = workspace.import_files(ws, ann, FIRST, IngestOptions())
    assert result.status == workspace.STORED and result.import_id == 1
    current = workspace.current_data(ws)
    assert current.import_id == 1 and current.record["actor"] == "Ann Finance"
    assert [f["name"] for f in current.record["files"]] == ["invoices.csv", "payments.csv"]
    assert current.record["n_lines"] == 3 and current.record["n_payments"] == 1
    # read back from the stored tables, exactly (dtypes included)
    for name in ("invoices", "payments", "customers", "orders", "fx_rates"):
        pd.testing.assert_frame_equal(current.data.tables[name], result.data.tables[name])
    pd.testing.assert_frame_equal(current.data.quarantine, result.data.quarantine)
    assert current.data.counts == result.data.counts and current.data.notes == result.data.notes
    # another process (a second Store on the same database) sees the same current import
    other = Workspace(Store(str(ws.store.url.render_as_string(hide_password=False))))
    try:
        assert workspace.current_data(other).import_id == 1
    finally:
        other.store.close()


def test_the_same_bytes_with_the_same_options_make_no_new_version(ws, ann):
    workspace.import_files(ws, ann, FIRST, IngestOptions())
    again = workspace.import_files(ws, ann, FIRST, IngestOptions())
    assert again.status == workspace.UNCHANGED and again.import_id == 1
    assert "already imported as #1" in again.message.lower()
    other_options = workspace.import_files(ws, ann, FIRST, IngestOptions(default_terms_days=45))
    assert other_options.status == workspace.STORED and other_options.import_id == 2
    assert len(workspace.history(ws)) == 2


def test_an_unreadable_file_stores_nothing_and_says_why(ws, ann):
    for name, blob in (("broken.xlsx", b"PK\x03\x04 a zip that ends here"), ("empty.csv", b"")):
        result = workspace.import_files(ws, ann, [(name, blob)], IngestOptions())
        assert result.status == workspace.UNREADABLE and name in result.message
    nothing = workspace.import_files(ws, ann, [("nothing.xlsx", files.all_quarantined_xlsx())], IngestOptions())
    assert nothing.status == workspace.UNREADABLE and "None of the 2 invoice rows" in nothing.message
    assert len(nothing.data.quarantine) == 2  # the report still lists them
    assert workspace.current_data(ws) is None and not len(workspace.history(ws))


def test_differences_list_lines_and_payments_added_removed_changed(ws, ann):
    workspace.import_files(ws, ann, FIRST, IngestOptions())
    second = workspace.import_files(ws, ann, SECOND, IngestOptions())
    assert workspace.differences(ws, 1) is None  # the first import has nothing before it
    changes = workspace.differences(ws, second.import_id)
    assert changes.counts() == {"lines": {"added": 1, "removed": 1, "changed": 1},
                                "payments": {"added": 1, "removed": 0, "changed": 1}}
    lines = changes.lines.set_index("invoice_no")
    assert lines.loc["INV-1", "change"] == "changed" and lines.loc["INV-1", "what"] == "amount"
    assert (lines.loc["INV-1", "old_amount"], lines.loc["INV-1", "new_amount"]) == (10000, 12000)
    assert lines.loc["INV-2", "change"] == "removed" and lines.loc["INV-4", "change"] == "added"
    pay = changes.payments.set_index("payment_id")
    assert pay.loc["P1", "change"] == "changed" and pay.loc["P2", "change"] == "added"


def test_a_changed_line_with_a_reminder_or_an_open_dispute_is_flagged(ws, ann):
    first = workspace.import_files(ws, ann, FIRST, IngestOptions())
    inv1, inv2 = make_code("INV-1", 1), make_code("INV-2", 1)
    store = ws.store
    claimed = store.claim_reminders([(inv1, "first")], "C1", "email", action_id=new_action_id(), actor="ann")
    store.mark_reminder(claimed, "sent", action_id=new_action_id(), actor="ann")
    aging = first.data.invoices.assign(open=first.data.invoices["amount"])
    store.open_dispute(action_id=new_action_id(), actor="ann", lines=aging, amount=1000, reason="price",
                       owner="ann", line_codes=[inv2])
    workspace.import_files(ws, ann, SECOND, IngestOptions())
    lines = workspace.differences(ws, 2).lines.set_index("line_code")
    assert lines.loc[inv1, "flag"] == "reminder sent"  # changed after a reminder
    assert lines.loc[inv2, "flag"] == "open dispute"  # gone while in dispute
    assert lines.loc[make_code("INV-4", 1), "flag"] == ""


def test_a_mapping_is_remembered_per_layout_and_applied_next_time(ws, ann):
    unmapped = [("unmapped.xlsx", files.unmapped_xlsx())]
    first = workspace.import_files(ws, ann, unmapped, IngestOptions())
    assert first.status == workspace.UNREADABLE and "invoice_no" in first.message and first.layout
    chosen = {"invoices": {"sheet": "Invoices", "columns": {"invoice_no": "Doc", "amount": "Total",
                                                            "invoice_date": "Date"}}}
    stored = workspace.import_files(ws, ann, unmapped, IngestOptions(mapping=chosen))
    assert stored.status == workspace.STORED and stored.mapping_note is None  # chosen by hand
    # next month's file of the same layout: the mapping applies itself and says so
    nxt = workspace.import_files(ws, ann, [("march.xlsx", files.unmapped_xlsx(amount=250))], IngestOptions())
    assert nxt.status == workspace.STORED
    today = pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d")
    assert nxt.mapping_note == f"mapping from {today} applied"
    assert int(nxt.data.invoices["amount"].iloc[0]) == 25000
    assert workspace.current_data(ws).record["mapping"] == chosen
    # another layout (other headers) is not touched by it
    other = workspace.import_files(ws, ann, FIRST, IngestOptions())
    assert other.mapping_note is None


def test_prune_keeps_the_newest_and_never_the_current_one(ws, ann):
    for terms in (10, 20, 30):
        workspace.import_files(ws, ann, FIRST, IngestOptions(default_terms_days=terms))
    again = workspace.import_files(ws, ann, FIRST, IngestOptions(default_terms_days=10))  # #1 current again
    assert again.status == workspace.UNCHANGED and workspace.current_import_id(ws) == 1
    assert workspace.prune(ws, ann, keep=1) == [2]
    assert set(workspace.history(ws)["id"]) == {1, 3}
    assert workspace.load_import(ws, 1).counts["invoices"].accepted == 3
    with pytest.raises(ValueError):
        workspace.prune(ws, ann, keep=0)


def test_large_tables_are_stored_in_chunks_and_read_back_whole(ws, ann, monkeypatch):
    import connectors.store as store_module

    monkeypatch.setattr(store_module, "CHUNK_BYTES", 1024)
    rows = [f"INV-{i},C{i % 7},2026-01-05,2026-02-04,{i}.25,USD" for i in range(1, 2001)]
    result = workspace.import_files(ws, ann, book(rows), IngestOptions())
    with ws.store.engine.connect() as conn:
        chunks = conn.exec_driver_sql("SELECT count(*) FROM import_chunks WHERE name = 'invoices'").scalar()
    assert chunks > 5
    pd.testing.assert_frame_equal(workspace.load_import(ws, result.import_id).invoices, result.data.invoices)
