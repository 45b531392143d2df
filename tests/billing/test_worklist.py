"""Worklist and credit hold (SPEC §15): ranking by amount at risk, the reasons, the hold list, by hand."""
from __future__ import annotations

import pandas as pd

from billing.worklist import credit_hold, levels_reached, worklist

AS_OF = pd.Timestamp("2024-03-31")


def aging(rows):
    """(code, customer, currency, open, days past due, disputed) -> line_aging columns the lists read."""
    return pd.DataFrame({
        "line_code": pd.array([r[0] for r in rows], dtype="string"),
        "customer_id": pd.array([r[1] for r in rows], dtype="string"),
        "currency": pd.array([r[2] for r in rows], dtype="string"),
        "open": [r[3] for r in rows], "days_past_due": [r[4] for r in rows],
        "overdue": [r[4] > 0 for r in rows], "disputed": [r[5] for r in rows],
        "in_dispute": [r[5] > 0 for r in rows]})


def predictions(p30: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame({"line_code": list(p30), "p_30": list(p30.values())})


CUSTOMERS = pd.DataFrame({"customer_id": ["A", "B", "C"], "name": ["Acme", "Bolt", "Cog"],
                          "owner": ["olga", "olga", "piet"], "credit_limit": pd.array([None, 500, None], dtype="Int64"),
                          "currency": ["USD", "USD", "USD"]})


def test_customers_are_ranked_by_overdue_open_times_the_chance_it_is_not_paid_in_30_days():
    a = aging([("A1", "A", "USD", 1000, 40, 0), ("A2", "A", "USD", 500, -5, 0),   # A2 not yet due: no risk
               ("B1", "B", "USD", 600, 10, 200),                                  # 200 of it held by a dispute
               ("C1", "C", "USD", 3000, 5, 0)])
    w = worklist(a, predictions({"A1": 0.5, "A2": 0.0, "B1": 0.25, "C1": 0.9}), AS_OF, customers=CUSTOMERS)
    # A: 1000 × 0.5 = 500; B: (600 − 200) × 0.75 = 300; C: 3000 × 0.1 = 300 (ties: more overdue first)
    assert w[["customer_id", "at_risk"]].values.tolist() == [["A", 500], ["C", 300], ["B", 300]]
    assert w["rank"].tolist() == [1, 2, 3]
    b = w.set_index("customer_id").loc["B"]
    assert b["over_limit"] and b["in_dispute"] == 200 and b["reasons"] == "in dispute; over credit limit"
    assert w.set_index("customer_id").loc["A", "collector"] == "olga"


def test_reasons_name_broken_promises_due_next_actions_and_the_level_reached():
    a = aging([("A1", "A", "USD", 100, 3, 0), ("C1", "C", "USD", 100, -10, 0)])
    promises = pd.DataFrame({"customer_id": ["A", "A"], "currency": ["USD", "USD"], "state": ["broken", "open"],
                             "until": pd.to_datetime(["2024-03-20", "2024-04-09"])})
    nxt = pd.DataFrame({"customer_id": ["A", "C"], "next_action_date": ["2024-03-31", "2024-03-30"],
                        "collector": [None, "zoe"]})
    log = pd.DataFrame({"customer_id": ["A", "A", "A"], "level": ["first", "second:sms", "first"],
                        "status": ["sent", "sent", "failed"]})
    w = worklist(a, predictions({"A1": 0.0}), AS_OF, customers=CUSTOMERS, promises=promises, next_actions=nxt,
                 levels=levels_reached(log, ["courtesy", "first", "second", "final"])).set_index("customer_id")
    assert w.loc["A", "reasons"] == "broken promise; next action due; level second sent"
    assert w.loc["A", "broken_promises"] == 1 and w.loc["A", "promised_until"] == pd.Timestamp("2024-04-09")
    # C owes nothing overdue, but its next action is due: it is on the list, with its collector
    assert w.loc["C", "reasons"] == "next action due" and w.loc["C", "collector"] == "zoe"


def test_credit_hold_lists_customers_over_their_limit_or_over_90_days_late():
    a = aging([("A1", "A", "USD", 100, 91, 0), ("A2", "A", "USD", 50, 10, 0),
               ("B1", "B", "USD", 600, 10, 0), ("C1", "C", "USD", 100, 90, 0)])
    hold = credit_hold(a, CUSTOMERS)
    assert hold[["customer_id", "open", "over_90_days", "why"]].values.tolist() == [
        ["A", 150, 100, "over 90 days past due"], ["B", 600, 0, "over credit limit"]]
    assert hold.set_index("customer_id").loc["B", "over_limit_by"] == 100
