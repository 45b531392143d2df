"""services.actions: every action through the workspace and the actor; the sandbox sends nothing."""
from __future__ import annotations

import pandas as pd
import pytest

from billing.ingest import IngestOptions
from billing.linecode import make_code
from connectors.outbox import PreviewOutbox
from connectors.store import new_action_id
from services import actions, workspace
from services.context import Actor, Workspace
from tests.services.test_workspace import FIRST, SECOND, book


def opened(ws, ann, code: str) -> int:
    data = workspace.current_data(ws).data
    aging = data.invoices.assign(open=data.invoices["amount"])
    return actions.open_dispute(ws, ann, action_id=new_action_id(), lines=aging, amount=1000, reason="price",
                                owner="ann", line_codes=[code])


def test_an_action_records_the_actor_and_needs_one(ws, ann):
    workspace.import_files(ws, ann, FIRST, IngestOptions())
    dispute_id = opened(ws, ann, make_code("INV-1", 1))
    assert ws.store.get_dispute(dispute_id).opened_by == "Ann Finance"
    with pytest.raises(TypeError):  # a bare name is not an Actor: who acts must be known
        actions.add_dispute_note(ws, "Ann Finance", dispute_id, "note", "hi", action_id=new_action_id())
    with pytest.raises(ValueError):
        Actor("  ")


def test_disputes_whose_lines_left_the_current_import_are_found(ws, ann):
    workspace.import_files(ws, ann, FIRST, IngestOptions())
    opened(ws, ann, make_code("INV-2", 1))
    assert not len(actions.orphaned_lines(ws, workspace.current_data(ws).data.invoices["line_code"]))
    workspace.import_files(ws, ann, SECOND, IngestOptions())  # INV-2 is gone
    gone = actions.orphaned_lines(ws, workspace.current_data(ws).data.invoices["line_code"])
    assert gone[["dispute_id", "line_code"]].values.tolist() == [[1, make_code("INV-2", 1)]]


class Exploding:
    """A mailer or SMS client that must never be used."""

    def build(self, *a, **k):
        raise AssertionError("the sandbox used the real mailer")

    def send(self, *a, **k):
        raise AssertionError("the sandbox sent through a real channel")


def test_the_sandbox_files_every_reminder_in_the_preview_outbox(tmp_path, ann):
    from connectors.store import Store

    with Store(data_dir=tmp_path / "sandbox") as store:
        ws = Workspace(store, sandbox=True)
        rows = [f"INV-{i},C{i},2026-01-05,2026-02-04,100.00,USD" for i in range(1, 4)]
        customers = "customer_id,name,email\n" + "\n".join(f"C{i},Cust {i},c{i}@example.com" for i in range(1, 4))
        files = [*book(rows), ("customers.csv", customers.encode())]
        data = workspace.import_files(ws, ann, files, IngestOptions()).data
        plan = actions.plan_reminders(ws, data, pd.Timestamp("2026-03-31"))
        assert len(plan.reminders) == 3
        outbox = PreviewOutbox()
        report = actions.send(ws, ann, plan, Exploding(), Exploding(), action_id=new_action_id(), outbox=outbox)
        assert len(report.sent) == 3 and len(outbox.frame()) == 3
        assert sorted(outbox.frame()["to"]) == [f"Cust {i} <c{i}@example.com>" for i in range(1, 4)]
        with pytest.raises(ValueError):
            actions.send(ws, ann, plan, None, None, action_id=new_action_id())  # no outbox: refused
