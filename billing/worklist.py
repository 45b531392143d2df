"""The collector's worklist and the credit hold list (SPEC §15): pure, vectorised, per customer and currency.

Worklist rank: expected amount at risk = Σ over the customer's overdue open lines of
(open − disputed) × P(not paid within 30 days) (``billing.prediction.predict_lines``' 1 − p_30);
amounts are minor units of the row's currency (currencies are not converted: a row per customer and
currency). Each row says why it is there (`REASONS`): a broken promise, the next action is due,
the dunning level reached, something in dispute, over the credit limit.

Credit hold: customers over their credit limit (open in the customers table's currency > credit_limit)
or with anything more than 90 days past due.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["REASONS", "WORKLIST_COLUMNS", "CREDIT_HOLD_COLUMNS", "worklist", "credit_hold", "HOLD_DAYS",
           "levels_reached"]

HOLD_DAYS = 90
REASONS = {"broken_promise": "broken promise", "next_action_due": "next action due",
           "level": "reminder level reached", "in_dispute": "in dispute", "over_limit": "over credit limit"}
WORKLIST_COLUMNS = ["rank", "customer_id", "name", "currency", "collector", "open", "overdue", "at_risk",
                    "in_dispute", "oldest_days", "credit_limit", "over_limit", "level", "broken_promises",
                    "promised_until", "next_action_date", "next_action_due", "reasons"]
CREDIT_HOLD_COLUMNS = ["customer_id", "name", "currency", "open", "credit_limit", "over_limit_by",
                       "over_90_days", "why"]


def _customer_info(customers: pd.DataFrame | None) -> pd.DataFrame:
    cols = {"customer_id": "string", "name": "string", "owner": "string", "credit_limit": "Int64",
            "currency": "string"}
    c = customers.drop_duplicates("customer_id") if customers is not None else pd.DataFrame()
    out = pd.DataFrame({k: (c[k].astype(t).to_numpy() if k in c else pd.array([pd.NA] * len(c), dtype=t))
                        for k, t in cols.items()})
    return out.rename(columns={"currency": "limit_currency"}).astype({k: t for k, t in cols.items()
                                                                      if k != "currency"})


def _limits(totals: pd.DataFrame, info: pd.DataFrame) -> pd.DataFrame:
    """credit_limit and over_limit per (customer, currency) row: the limit applies to the customers
    table's currency (to every currency of a customer without one)."""
    out = totals.merge(info[["customer_id", "name", "owner", "credit_limit", "limit_currency"]],
                       on="customer_id", how="left")
    applies = out["limit_currency"].isna() | (out["limit_currency"] == out["currency"])
    limit = out["credit_limit"].where(applies.fillna(False).to_numpy(bool))
    out["credit_limit"] = pd.array(limit, dtype="Int64")
    out["over_limit"] = (out["open"] > out["credit_limit"]).fillna(False).astype(bool)
    return out


def levels_reached(reminder_log: pd.DataFrame | None, order: list[str]) -> pd.DataFrame:
    """customer_id, level: the highest reminder level sent to each customer (`order`: levels, lowest
    first; SMS keys "first:sms" count as their level)."""
    if reminder_log is None or not len(reminder_log):
        return pd.DataFrame({"customer_id": pd.Series(dtype="string"), "level": pd.Series(dtype="string")})
    sent = reminder_log[(reminder_log["status"] == "sent").fillna(False).to_numpy(bool)]
    level = sent["level"].astype("string").str.split(":").str[0]
    rank = level.map({name: i for i, name in enumerate(order)}).fillna(-1).astype(int)
    frame = pd.DataFrame({"customer_id": sent["customer_id"].astype("string").to_numpy(),
                          "level": level.to_numpy(), "rank": rank.to_numpy()})
    frame = frame[frame["rank"] >= 0].sort_values(["customer_id", "rank"]).drop_duplicates("customer_id", keep="last")
    return frame[["customer_id", "level"]].reset_index(drop=True)


def worklist(aging: pd.DataFrame, predictions: pd.DataFrame, as_of: Any, *,
             customers: pd.DataFrame | None = None, promises: pd.DataFrame | None = None,
             next_actions: pd.DataFrame | None = None, levels: pd.DataFrame | None = None,
             fx_rates: pd.DataFrame | None = None, base_currency: str | None = None) -> pd.DataFrame:
    """Customers (per currency) with anything overdue or flagged, ranked by expected amount at risk.

    `aging`: ``line_aging``; `predictions`: ``predict_lines`` (line_code, p_30); `promises`:
    ``promise_status`` rows (customer_id, state, until); `next_actions`: customer_id,
    next_action_date, collector; `levels`: `levels_reached`. Columns `WORKLIST_COLUMNS`. With
    `fx_rates` and `base_currency`, ``at_risk_base`` (Int64, ``billing.fx.to_base``) ranks rows of
    different currencies against each other (rows without a rate last).
    """
    as_of = pd.Timestamp(as_of).normalize()
    a = aging[aging["open"].to_numpy(dtype=np.int64) > 0]
    p30 = predictions.drop_duplicates("line_code").set_index("line_code")["p_30"]
    p = p30.reindex(a["line_code"].astype(str)).fillna(0.0).to_numpy()
    open_ = a["open"].to_numpy(dtype=np.int64)
    held = a["disputed"].to_numpy(dtype=np.int64) if "disputed" in a else np.where(a["in_dispute"], open_, 0)
    late = a["overdue"].to_numpy(dtype=bool)
    per = pd.DataFrame({"customer_id": a["customer_id"].astype("string").to_numpy(),
                        "currency": a["currency"].astype("string").to_numpy(), "open": open_,
                        "overdue": np.where(late, open_, 0), "in_dispute": held,
                        "at_risk": np.where(late, (open_ - held) * (1.0 - p), 0.0),
                        "oldest_days": np.where(late, a["days_past_due"].to_numpy(dtype=np.int64), 0)})
    totals = per.groupby(["customer_id", "currency"], as_index=False).agg(
        open=("open", "sum"), overdue=("overdue", "sum"), in_dispute=("in_dispute", "sum"),
        at_risk=("at_risk", "sum"), oldest_days=("oldest_days", "max"))
    out = _limits(totals, _customer_info(customers))
    out = _with_promises(out, promises, as_of)
    out = _with_next_actions(out, next_actions, as_of)
    lv = levels if levels is not None else levels_reached(None, [])
    out = out.merge(lv.astype("string"), on="customer_id", how="left")
    flags = {"broken_promise": out["broken_promises"] > 0, "next_action_due": out["next_action_due"],
             "level": out["level"].notna(), "in_dispute": out["in_dispute"] > 0, "over_limit": out["over_limit"]}
    out["reasons"] = _reasons(out, flags)
    keep = (out["overdue"] > 0) | np.logical_or.reduce([f.fillna(False).to_numpy(bool) for f in flags.values()])
    out = out[np.asarray(keep, dtype=bool)]
    out["at_risk"] = np.round(out["at_risk"].to_numpy()).astype(np.int64)
    columns, order = list(WORKLIST_COLUMNS), ["at_risk", "overdue", "customer_id", "currency"]
    if base_currency and fx_rates is not None and len(fx_rates):
        from billing.fx import to_base

        out = to_base(out, ["at_risk"], fx_rates, as_of, base_currency)
        out["_rank_key"] = out["at_risk_base"].fillna(-1)
        order = ["_rank_key", *order]
        at = columns.index("at_risk") + 1
        columns[at:at] = ["at_risk_base", "base_currency"]
    out = out.sort_values(order, ascending=[False] * (len(order) - 2) + [True, True], kind="stable")
    out = out.reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    return out[columns]


def _reasons(out: pd.DataFrame, flags: dict[str, pd.Series]) -> pd.Series:
    """"broken promise; final sent; in dispute" per row (level named by the level it reached)."""
    parts = []
    for key, flag in flags.items():
        text = ("level " + out["level"].astype("string") + " sent") if key == "level" else REASONS[key]
        parts.append(pd.Series(np.where(flag.fillna(False).to_numpy(bool), text, ""), index=out.index, dtype="string"))
    joined = parts[0]
    for part in parts[1:]:
        joined = joined.str.cat(part, sep="; ")
    return joined.str.replace(r"(; )+", "; ", regex=True).str.strip("; ").astype("string")


def _with_promises(out: pd.DataFrame, promises: pd.DataFrame | None, as_of: pd.Timestamp) -> pd.DataFrame:
    """broken_promises (count) and promised_until (the latest date + grace of open promises) per row."""
    if promises is None or not len(promises):
        return out.assign(broken_promises=0, promised_until=pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]"))
    p = promises.astype({"customer_id": "string", "currency": "string"})
    keys = ["customer_id", "currency"]
    broken = (p[(p["state"] == "broken").fillna(False).to_numpy(bool)].groupby(keys, as_index=False).size()
              .rename(columns={"size": "broken_promises"}))
    live = (p[(p["state"] == "open").fillna(False).to_numpy(bool)].groupby(keys, as_index=False)["until"].max()
            .rename(columns={"until": "promised_until"}))
    out = out.merge(broken, on=keys, how="left").merge(live, on=keys, how="left")
    out["broken_promises"] = out["broken_promises"].fillna(0).astype(np.int64)
    out["promised_until"] = pd.to_datetime(out["promised_until"])
    return out


def _with_next_actions(out: pd.DataFrame, next_actions: pd.DataFrame | None, as_of: pd.Timestamp) -> pd.DataFrame:
    if next_actions is None or not len(next_actions):
        return out.assign(collector=out["owner"], next_action_date=pd.NaT, next_action_due=False).drop(
            columns="owner")
    n = next_actions.drop_duplicates("customer_id").astype({"customer_id": "string"})
    out = out.merge(n[["customer_id", "next_action_date", "collector"]], on="customer_id", how="left")
    out["collector"] = out["collector"].astype("string").fillna(out["owner"].astype("string"))
    out["next_action_date"] = pd.to_datetime(out["next_action_date"])
    out["next_action_due"] = (out["next_action_date"] <= as_of).fillna(False).astype(bool)
    return out.drop(columns="owner")


def credit_hold(aging: pd.DataFrame, customers: pd.DataFrame | None) -> pd.DataFrame:
    """Customers (per currency) over their credit limit or with amounts over `HOLD_DAYS` days past due,
    for sales: open, credit_limit, over_limit_by, over_90_days (minor units), why."""
    a = aging[aging["open"].to_numpy(dtype=np.int64) > 0]
    open_ = a["open"].to_numpy(dtype=np.int64)
    very_late = a["overdue"].to_numpy(dtype=bool) & (a["days_past_due"].to_numpy(dtype=np.int64) > HOLD_DAYS)
    per = pd.DataFrame({"customer_id": a["customer_id"].astype("string").to_numpy(),
                        "currency": a["currency"].astype("string").to_numpy(), "open": open_,
                        "over_90_days": np.where(very_late, open_, 0)})
    totals = per.groupby(["customer_id", "currency"], as_index=False)[["open", "over_90_days"]].sum()
    out = _limits(totals, _customer_info(customers))
    out["over_limit_by"] = pd.array((out["open"] - out["credit_limit"]).where(out["over_limit"]), dtype="Int64")
    late = out["over_90_days"] > 0
    out = out[(out["over_limit"] | late).to_numpy(bool)].copy()
    why_limit = pd.Series(np.where(out["over_limit"], "over credit limit", ""), index=out.index, dtype="string")
    why_late = pd.Series(np.where(out["over_90_days"] > 0, f"over {HOLD_DAYS} days past due", ""), index=out.index,
                         dtype="string")
    out["why"] = why_limit.str.cat(why_late, sep="; ").str.strip("; ")
    out = out.sort_values(["over_90_days", "open", "customer_id"], ascending=[False, False, True], kind="stable")
    return out[CREDIT_HOLD_COLUMNS].reset_index(drop=True)
