"""The statement workbook: the PDF's content as values, headings in the customer's language, neutralised text."""
from __future__ import annotations

import io

import openpyxl
from python_calamine import CalamineWorkbook

from connectors.statement_pdf import load_statement_texts
from connectors.statement_xlsx import statement_xlsx
from tests.connectors.statement_fixtures import COMPANY, EVIL, statements

TEXTS = load_statement_texts()


def _sheets(data: bytes) -> dict[str, list[list]]:
    wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    return {name: wb.get_sheet_by_name(name).to_python() for name in wb.sheet_names}


def test_workbook_has_the_statement_sections_with_numbers_not_text():
    st = statements().of("C-EN")
    sheets = _sheets(statement_xlsx(st, COMPANY, TEXTS))
    assert list(sheets) == ["Statement of account", "Summary", "Account activity", "Open items"]
    summary = dict(zip(sheets["Summary"][0], sheets["Summary"][1]))
    assert summary["Opening balance"] == 1000.0 and summary["Closing balance"] == 834.56
    activity = sheets["Account activity"]
    head = activity[0]
    balances = [row[head.index("Balance")] for row in activity[1:]]
    assert balances == [1000.0, 1234.56, 834.56]
    items = sheets["Open items"]
    refs = [r[items[0].index("Reference")] for r in items[1:]]
    assert refs == list(st.open_items["reference"])


def test_formula_like_text_is_neutralised():
    data = statement_xlsx(statements().of("C-EN"), COMPANY, TEXTS)
    ws = openpyxl.load_workbook(io.BytesIO(data))["Account activity"]
    cells = [c for row in ws.iter_rows() for c in row if isinstance(c.value, str) and "HYPERLINK" in c.value]
    # SPEC §12: a string cell with the quote-prefix style, its value unchanged
    assert [(c.value, c.data_type, c.quotePrefix) for c in cells] == [(EVIL, "s", True)]
    assert not any(c.data_type == "f" for row in ws.iter_rows() for c in row)


def test_headings_follow_the_customers_language():
    sheets = _sheets(statement_xlsx(statements().of("C-HU"), COMPANY, TEXTS))
    assert "Folyószámla-kivonat" in sheets and "Nyitott tételek" in sheets
    assert sheets["Összesítés"][1][sheets["Összesítés"][0].index("Záró egyenleg")] == 150000.0
    cover = [row[1] for row in sheets["Folyószámla-kivonat"]]
    name = cover.index("Kovács és Társa Kft.")
    assert cover[name + 1:name + 5] == ["Váci utca 12.", "III. emelet", "1052 Budapest", "Magyarország"]
