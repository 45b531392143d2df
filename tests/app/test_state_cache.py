"""The app's caches hold one copy of an import and of its engine results, shared by every rerun
and session; what a caller gets is a view it may change without touching the shared value."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from billing.demo import MIN_LINES, demo_dataset
from services.analysis import analyse_period
from ui import state


@pytest.fixture(scope="module")
def data():
    return demo_dataset(n_lines=MIN_LINES)


def test_a_view_shares_the_data_instead_of_copying_it(data):
    view = state.shared_view(data)
    assert view is not data and view.invoices is not data.invoices
    assert np.shares_memory(view.invoices["amount"].to_numpy(), data.invoices["amount"].to_numpy())


def test_changes_to_a_view_never_reach_the_shared_value(data):
    before = data.invoices.copy()
    view = state.shared_view(data)
    view.invoices.loc[0, "amount"] = -1          # in place on the view: copy-on-write
    view.invoices["scratch"] = 1                 # a column added to the view
    view.tables["invoices"] = view.invoices.head(3)  # a table replaced in the view's dict
    view.notes.clear()
    pd.testing.assert_frame_equal(data.invoices, before)
    assert "scratch" not in data.invoices and len(data.tables["invoices"]) == len(before)
    assert data.notes == demo_dataset(n_lines=MIN_LINES).notes


def test_a_period_view_gets_its_own_analyses(data):
    period = analyse_period(data, "2026-06-30")
    view = state.shared_view(period)
    view.current.disputes_version = "v1"
    view.current.aging["open"] = 0
    assert not hasattr(period.current, "disputes_version")
    assert view.current.alloc is not period.current.alloc
    assert period.current.aging["open"].sum() == analyse_period(data, "2026-06-30").current.aging["open"].sum()
    pd.testing.assert_frame_equal(state.shared_view(period).current.kpis, period.current.kpis)


def test_an_import_is_loaded_once_and_shared_by_later_calls(demo_imported):
    from ui.store import team_workspace

    ws = team_workspace()
    key = state._store_key(ws)
    first, _ = state.load_import(key, demo_imported, ws)
    again, _ = state.load_import(key, demo_imported, ws)
    assert again is first  # the cached object itself: no copy per hit
    assert len(first.invoices) == first.counts["invoices"].accepted == state.DEMO_LINES
