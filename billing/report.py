"""The report of SPEC §11 as plain data (dicts and lists), ready for JSON.

Amounts are exact decimal strings in major units ("1234.50"), never floats.
`report_tables` gives the same sections as DataFrames for the XLSX export.
"""
from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np
import pandas as pd

from billing.aging import overdue_flags
from billing.analysis import Analysis
from billing.jsontext import Records, plain
from billing.model import Dataset
from billing.money import format_minor_series

SECTIONS = ("rows", "summary", "customers", "lines", "allocations", "unapplied", "adjustments", "exceptions",
            "kpis", "quarantine")


class SectionError(ValueError):
    pass


def parse_sections(text: str | None) -> tuple[str, ...]:
    """"summary,customers" -> ("summary", "customers"); None -> every section."""
    if not text:
        return SECTIONS
    wanted = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [s for s in wanted if s not in SECTIONS]
    if unknown:
        raise SectionError(f"unknown section(s): {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    return wanted


def _money(frame: pd.DataFrame, columns: Iterable[str], currency: str = "currency") -> pd.DataFrame:
    out = frame.copy()
    for col in columns:
        out[col] = format_minor_series(frame[col].astype("int64"), frame[currency])
    return out


def _dates(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    for col in columns:
        frame[col] = frame[col].dt.strftime("%Y-%m-%d")
    return frame


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts with plain Python values (NA -> None)."""
    frame = frame.astype(object).where(frame.notna(), None)
    return frame.to_dict(orient="records")


def summary_table(analysis: Analysis) -> pd.DataFrame:
    """Per currency: invoiced, allocated, open, overdue, unapplied, in_dispute, buckets (minor units)."""
    aging, labels = analysis.aging, analysis.policy.bucket_labels
    # Overdue means past the due date whatever the aging basis (as billing.kpis counts it).
    overdue = aging["open"].where(overdue_flags(aging), 0)  # billing.aging.is_overdue
    per = aging.assign(overdue=overdue).groupby("currency", observed=True).agg(
        invoiced=("amount", "sum"), allocated=("allocated", "sum"), overdue=("overdue", "sum"))
    roll = analysis.by_currency.set_index("currency")
    out = per.join(roll[["open", "in_dispute", *labels]], how="outer")
    unapplied = analysis.alloc.unapplied.groupby("currency")["amount"].sum()
    out["unapplied"] = unapplied.reindex(out.index.union(unapplied.index))
    out = out.reindex(out.index.union(unapplied.index)).fillna(0).astype("int64")
    return out.reset_index().rename(columns={"index": "currency"})


SUMMARY_MONEY = ("invoiced", "allocated", "open", "overdue", "unapplied", "in_dispute")


def base_totals(analysis: Analysis, fx_rates: pd.DataFrame, base_currency: str
                ) -> tuple[dict[str, int], dict[str, float], list[str]]:
    """Summary figures converted to `base_currency` (minor units), the rates used, currencies without one.

    Rate on the as-of date or the latest before (billing.fx.to_base, half-even to base minor
    units); a currency without a rate is left out of the totals and listed.
    """
    from billing.fx import to_base

    cols = [*SUMMARY_MONEY, *analysis.policy.bucket_labels]
    conv = to_base(summary_table(analysis), cols, fx_rates, analysis.as_of, base_currency)
    ok = ~conv["fx_missing"].to_numpy(dtype=bool)
    totals = {c: int(conv.loc[ok, f"{c}_base"].astype("int64").sum()) for c in cols}
    rates = {r.currency: float(r.fx_rate) for r in conv[ok].itertuples()}
    return totals, rates, sorted(conv.loc[~ok, "currency"].astype(str))


def base_summary(analysis: Analysis, fx_rates: pd.DataFrame, base_currency: str) -> dict:
    """`base_totals` for the JSON report: decimal strings in the base currency."""
    from billing.money import format_minor

    base = str(base_currency).upper()
    totals, rates, missing = base_totals(analysis, fx_rates, base)
    return {"base_currency": base, "rates": rates, "missing_rates": missing,
            **{c: format_minor(totals[c], base) for c in SUMMARY_MONEY},
            "aging": {b: format_minor(totals[b], base) for b in analysis.policy.bucket_labels}}


def customers_table(analysis: Analysis) -> pd.DataFrame:
    """Per customer and currency: buckets, open, unapplied credit (negative, SPEC §5), net."""
    return analysis.by_customer


def build_report(data: Dataset, analysis: Analysis, sections: Iterable[str] = SECTIONS) -> dict:
    """The JSON-ready report of SPEC §11 for the chosen sections, as one dict of plain values."""
    return {key: plain(value) for key, value in report_items(data, analysis, sections)}


def report_items(data: Dataset, analysis: Analysis, sections: Iterable[str] = SECTIONS
                 ) -> Iterator[tuple[str, object]]:
    """The report's top-level (key, value) pairs in order; table sections as `Records` (columns, not dicts).

    `billing.jsontext.iter_json` writes them as the JSON text of `build_report` without
    building a dict per row; each section is computed when it is reached.
    """
    sections = tuple(sections)
    labels = analysis.policy.bucket_labels
    aging_fields = tuple((b, b) for b in labels)
    yield "as_of", analysis.as_of.strftime("%Y-%m-%d")
    yield "basis", analysis.policy.basis
    yield "buckets", labels
    if "rows" in sections:
        yield "rows", {t: {"read": c.read, "accepted": c.accepted, "quarantined": c.quarantined}
                       for t, c in data.counts.items()}
    if "summary" in sections:
        s = _money(summary_table(analysis), ["invoiced", "allocated", "open", "overdue", "unapplied",
                                             "in_dispute", *labels])
        yield "summary", {
            row["currency"]: {**{k: row[k] for k in ("invoiced", "allocated", "open", "overdue",
                                                      "unapplied", "in_dispute")},
                              "aging": {b: row[b] for b in labels}}
            for row in _records(s)}
        if analysis.policy.base_currency:
            yield "summary_base", base_summary(analysis, data.fx_rates, analysis.policy.base_currency)
    if "customers" in sections:
        c = _money(customers_table(analysis), ["open", "unapplied", *labels])
        yield "customers", Records(c, (("customer_id", "customer_id"), ("currency", "currency"), ("open", "open"),
                                       ("unapplied", "unapplied"), ("aging", aging_fields)))
    if "lines" in sections:
        yield "lines", _columns(_lines_frame(analysis))
    if "allocations" in sections:
        a = analysis.alloc.allocations
        yield "allocations", _columns(_money(a, ["amount"])[["payment_id", "line_code", "amount", "step"]])
    if "unapplied" in sections:
        u = analysis.alloc.unapplied
        yield "unapplied", _columns(_money(u, ["amount"])[["payment_id", "customer_id", "amount"]])
    if "adjustments" in sections:
        adj = _dates(_money(adjustments_table(analysis), ["amount", "applied"]), ["on"])
        yield "adjustments", _columns(adj)
    if "exceptions" in sections:
        yield "exceptions", _exceptions_records(analysis)
    if "kpis" in sections:
        yield "kpis", kpis_json(analysis.kpis)
    if "quarantine" in sections:
        yield "quarantine", _columns(data.quarantine)


def _columns(frame: pd.DataFrame) -> Records:
    """Every column of `frame` as a key of the same name, in order."""
    return Records(frame, tuple((c, c) for c in frame.columns))


def _lines_frame(analysis: Analysis) -> pd.DataFrame:
    lines = analysis.aging[["line_code", "invoice_no", "line_no", "customer_id", "currency", "amount",
                            "allocated", "open", "due_date", "days_past_due", "bucket"]]
    lines = _dates(_money(lines, ["amount", "allocated", "open"]), ["due_date"])
    lines["bucket"] = lines["bucket"].astype(str)
    return lines


def _exceptions_records(analysis: Analysis) -> Records:
    e = analysis.exceptions
    fields = tuple((k, k) for k in ("type", "severity", "amount", "currency", "customer_id", "refs", "message",
                                    "action"))
    if not len(e):
        return Records(pd.DataFrame({k: pd.Series(dtype=object) for k, _ in fields}), fields)
    e = _money(e.assign(currency=e["currency"].fillna(analysis.policy.default_currency)), ["amount"])
    return Records(e, fields)


MONEY_KPIS = ("total_open", "overdue", "unapplied", "in_dispute", "credit_sales")


def kpis_json(kpis: pd.DataFrame) -> dict:
    """KPIs per currency; money KPIs as decimal strings, ratios as numbers rounded to 0.01."""
    out: dict = {}
    if kpis is None or len(kpis) == 0:
        return out
    money = [c for c in MONEY_KPIS if c in kpis.columns]
    frame = _money(kpis, money)
    for row in _records(frame):
        cur = row.pop("currency")
        out[cur] = {k: (round(float(v), 2) if isinstance(v, (float, np.floating)) and not np.isnan(v)
                        else (None if isinstance(v, float) else v)) for k, v in row.items()}
    return out


def report_tables(data: Dataset, analysis: Analysis, sections: Iterable[str] = SECTIONS) -> dict[str, pd.DataFrame]:
    """The report's sections as tables (money still in minor units) for the XLSX writer."""
    sections = tuple(sections)
    tables: dict[str, pd.DataFrame] = {}
    if "rows" in sections:
        tables["rows"] = pd.DataFrame([{"table": t, "read": c.read, "accepted": c.accepted,
                                        "quarantined": c.quarantined} for t, c in data.counts.items()])
    if "summary" in sections:
        tables["summary"] = summary_table(analysis)
    if "customers" in sections:
        tables["customers"] = customers_table(analysis)
    if "lines" in sections:
        tables["lines"] = analysis.aging.assign(bucket=analysis.aging["bucket"].astype(str))
    if "allocations" in sections:
        tables["allocations"] = analysis.alloc.allocations
    if "unapplied" in sections:
        tables["unapplied"] = analysis.alloc.unapplied
    if "adjustments" in sections:
        tables["adjustments"] = adjustments_table(analysis)
    if "exceptions" in sections:
        tables["exceptions"] = exceptions_table(analysis.exceptions, analysis.policy.default_currency)
    if "kpis" in sections:  # ratios to 0.01, as in the JSON report
        k = analysis.kpis
        tables["kpis"] = k.round({c: 2 for c in k.columns if pd.api.types.is_float_dtype(k[c])})
    if "quarantine" in sections:
        tables["quarantine"] = data.quarantine
    return tables


def workbook_tables(data: Dataset, analysis: Analysis, sections: Iterable[str] = SECTIONS
                    ) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, str]]]:
    """What the XLSX report holds (an "about" sheet, then the sections) and its money columns.

    The app's download and `cli.py report --format xlsx` both write exactly this.
    """
    about = pd.DataFrame({"item": ["as of", "basis", "source"],
                          "value": [analysis.as_of.strftime("%Y-%m-%d"), analysis.policy.basis, data.source]})
    tables = {"about": about, **report_tables(data, analysis, sections)}
    return tables, report_money_columns(tables, analysis.policy.bucket_labels)


def report_money_columns(tables: dict[str, pd.DataFrame], labels: list[str]) -> dict[str, dict[str, str]]:
    """For the XLSX writer: which columns of each report table hold minor units (currency column)."""
    money = {"invoiced", "allocated", "open", "overdue", "unapplied", "in_dispute", "net", "amount",
             "total_open", "credit_sales", "applied", *labels}
    return {name: {c: "currency" for c in frame.columns if c in money}
            for name, frame in tables.items() if "currency" in frame.columns}


ADJUSTMENT_TABLE_COLUMNS = ["adjustment_id", "kind", "line_code", "payment_id", "customer_id", "currency", "amount",
                            "applied", "on", "reason", "status", "why"]


def adjustments_table(analysis: Analysis) -> pd.DataFrame:
    """Every adjustment of the analysis (SPEC §15): what it asked, what it applied, its status in words;
    customer and currency of its line (the policy's default currency when the line is gone)."""
    from billing.adjustments import STATUSES

    adj = analysis.alloc.adjustments
    lines = analysis.aging[["line_code", "customer_id", "currency"]].drop_duplicates("line_code")
    out = adj.merge(lines.astype({"line_code": "string"}), on="line_code", how="left")
    out["currency"] = out["currency"].astype("string").fillna(analysis.policy.default_currency)
    out["why"] = out["status"].map(STATUSES).astype("string")
    return out[ADJUSTMENT_TABLE_COLUMNS].reset_index(drop=True)


EXCEPTION_TABLE_COLUMNS = ["type", "severity", "description", "customer_id", "currency", "amount", "refs",
                           "message", "action"]


def exceptions_table(exceptions: pd.DataFrame, default_currency: str) -> pd.DataFrame:
    """Exceptions as a flat table: refs as text, the type's description, currency filled."""
    from billing.reconcile import EXCEPTION_TYPES

    if not len(exceptions):
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "amount" else "string")
                             for c in EXCEPTION_TABLE_COLUMNS})
    out = exceptions.assign(currency=exceptions["currency"].fillna(default_currency),
                            refs=exceptions["refs"].map(refs_text),
                            description=exceptions["type"].map(
                                lambda t: EXCEPTION_TYPES.get(t, {}).get("description", "")))
    return out[EXCEPTION_TABLE_COLUMNS]


def refs_text(refs: object) -> str:
    """{"line_codes": ["A-001X"], "payment_ids": ["P1"]} -> "line codes: A-001X; payment ids: P1"."""
    if isinstance(refs, dict):
        return "; ".join(f"{k.replace('_', ' ')}: {', '.join(map(str, v))}" for k, v in refs.items() if v)
    if isinstance(refs, list):
        return ", ".join(map(str, refs))
    return "" if refs is None else str(refs)
