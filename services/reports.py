"""Reports and files the entry points write: the JSON/XLSX report, the coded invoices, demo and template."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from billing.analysis import Analysis, analyse
from billing.model import Dataset
from billing.policy import Policy
from billing.report import parse_sections, report_items, workbook_tables

__all__ = ["parse_sections", "report_analysis", "write_report", "write_codes", "write_demo", "write_template"]


def report_analysis(data: Dataset, as_of: pd.Timestamp, policy: Policy, disputes: pd.DataFrame | None,
                    sections: list[str], adjustments: pd.DataFrame | None = None) -> Analysis:
    """The engine for a report: reconciliation and KPIs only when their sections are asked for;
    the workspace's `adjustments` applied (SPEC §15)."""
    return analyse(data, as_of, policy, disputes, with_exceptions="exceptions" in sections,
                   with_kpis="kpis" in sections, adjustments=adjustments)


def write_report(data: Dataset, analysis: Analysis, sections: list[str], out: Path, fmt: str) -> None:
    """The report (SPEC §11) as JSON, or as an XLSX with a sheet per section."""
    if fmt == "json":  # streamed section by section: the same text as json.dumps(build_report(...), indent=1)
        from connectors.export import write_report_json

        write_report_json(out, report_items(data, analysis, sections))
        return
    from connectors.export import write_workbook

    tables, money_columns = workbook_tables(data, analysis, sections)
    write_workbook(out, tables, money_columns=money_columns)


def write_codes(data: Dataset, out: Path) -> int:
    """The invoice lines with their line codes as .xlsx or .csv (ValueError for another suffix);
    returns the number of lines written. One writer for both formats: money in major units of
    each row's currency, so the file reads back as the same dataset."""
    from connectors.export import money_columns_of, write_table

    inv = data.invoices.drop(columns=["line_code_given", "line_code_original"], errors="ignore")
    inv = inv.sort_values(["_sheet", "_row"]).rename(columns={"_sheet": "source_sheet", "_row": "source_row"})
    write_table(out, "invoices", inv, money_columns_of("invoices", inv))
    return len(inv)


def write_demo(out: Path | str, seed: int, n_lines: int) -> None:
    from connectors.export import write_demo_workbook

    write_demo_workbook(out, seed=seed, n_lines=n_lines)


def write_template(out: Path | str) -> None:
    from connectors.export import write_template_workbook

    write_template_workbook(out)
