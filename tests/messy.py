"""A corpus of messy input files, written on demand into a folder (pytest's tmp_path).

Every builder takes the folder, writes one file (or folder) and returns its
path. Its docstring states exactly what the file holds, so tests (these and
the end-to-end CLI tests) can assert exact values. Row numbers are
spreadsheet rows as the user sees them (1-based).

The data is one small accounts-receivable story used throughout:
customers "00017" (leading zeros, text) and 42; invoices INV-001 (two lines),
INV-002, INV-003 (a credit note, negative); payments PAY-1 and PAY-2.
"""
from __future__ import annotations

import codecs
import datetime as dt
import zipfile
from pathlib import Path
from typing import Any

import xlsxwriter

D = dt.datetime


# --------------------------------------------------------------------------- xlsx


def acme_xlsx(folder: Path) -> Path:
    """`acme_ar.xlsx`: title row, blank rows, mixed cells, a totals row, hidden and empty sheets.

    Sheet "Invoices" (visible):
      row 1: A1 "ACME Ltd — Accounts receivable 2024", rest empty (a title)
      row 2: blank
      row 3: header  Invoice No | Line | Customer | Invoice Date | Due Date | Description | Amount | Currency | Notes
      row 4: "INV-001" | 1 | "00017" (text) | 2024-03-05 (date) | 2024-04-04 (date) | "Widgets" | 1200 | "EUR" | (empty)
      row 5: "INV-001" | 2 | "00017" | 2024-03-05 | 2024-04-04 | "Freight" | "1.234,50" (text) | "EUR" | "amount typed as text"
      row 6: blank
      row 7: "INV-002" | 1 | 42 (number) | "05/03/2024" (text) | (empty) | "Gadget" | 99.99 | "USD" | (empty)
      row 8: "INV-003" | 1 | "00017" | "2024.03.29." (text) | (empty) | "Credit for widgets" | -250 | "EUR" | "credit note"
      row 9: "Total" | (empty x5) | formula =SUM(G4:G8) with cached value 1049.99 | (empty) | (empty)
      So: 4 data rows (4, 5, 7, 8), blank rows 6 (2 is above the header), total row 9,
      title row 1; "Notes" is not a known column.
    Sheet "Payments" (visible), header on row 1:
      Payment ID | Customer | Payment Date | Amount | Reference
      row 2: "PAY-1" | "00017" | 2024-03-20 (date) | 1200 | "INV-001"
      row 3: "PAY-2" | 42 | 2024-04-01 (date) | 99.99 | "INV-002 thanks"
    Sheet "Lookup" (hidden): Code | Meaning / "EUR" | "Euro"; matches no table.
    Sheet "Notes" (visible): empty.
    """
    path = folder / "acme_ar.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    date = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws = wb.add_worksheet("Invoices")
    ws.write_string("A1", "ACME Ltd — Accounts receivable 2024")
    ws.write_row("A3", ["Invoice No", "Line", "Customer", "Invoice Date", "Due Date", "Description",
                        "Amount", "Currency", "Notes"])
    rows: list[list[Any]] = [
        ["INV-001", 1, "00017", D(2024, 3, 5), D(2024, 4, 4), "Widgets", 1200, "EUR", None],
        ["INV-001", 2, "00017", D(2024, 3, 5), D(2024, 4, 4), "Freight", "1.234,50", "EUR",
         "amount typed as text"],
        None,
        ["INV-002", 1, 42, "05/03/2024", None, "Gadget", 99.99, "USD", None],
        ["INV-003", 1, "00017", "2024.03.29.", None, "Credit for widgets", -250, "EUR", "credit note"],
    ]
    r = 3  # 0-based row 3 = spreadsheet row 4
    for row in rows:
        if row is not None:
            _write_row(ws, r, row, date)
        r += 1
    ws.write_string(r, 0, "Total")
    ws.write_formula(r, 6, "=SUM(G4:G8)", None, 1049.99)
    pay = wb.add_worksheet("Payments")
    pay.write_row(0, 0, ["Payment ID", "Customer", "Payment Date", "Amount", "Reference"])
    _write_row(pay, 1, ["PAY-1", "00017", D(2024, 3, 20), 1200, "INV-001"], date)
    _write_row(pay, 2, ["PAY-2", 42, D(2024, 4, 1), 99.99, "INV-002 thanks"], date)
    lk = wb.add_worksheet("Lookup")
    lk.write_row(0, 0, ["Code", "Meaning"])
    lk.write_row(1, 0, ["EUR", "Euro"])
    lk.hide()
    wb.add_worksheet("Notes")
    wb.close()
    return path


def two_row_header_xlsx(folder: Path) -> Path:
    """`two_row_header.xlsx`: a merged two-row header above the invoice lines.

    Sheet "Invoices":
      row 1: "Invoice" merged over A1:C1 (only A1 holds the text) | "Customer" merged D1:D2 |
             "Currency" merged E1:E2
      row 2: "No" | "Date" | "Amount" | (merged, empty) | (merged, empty)
      row 3: "INV-001" | 2024-03-05 (date) | 1200 | "00017" | "EUR"
      row 4: "INV-002" | 2024-03-06 (date) | 99.99 | "42" | "USD"
    Sheet "Payments", header on row 1: Payment # | Client | Paid Date | Amount Paid
      row 2: "PAY-1" | "00017" | 2024-03-20 (date) | 1200
    """
    path = folder / "two_row_header.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    date = wb.add_format({"num_format": "dd/mm/yyyy"})
    ws = wb.add_worksheet("Invoices")
    ws.merge_range("A1:C1", "Invoice")
    ws.merge_range("D1:D2", "Customer")
    ws.merge_range("E1:E2", "Currency")
    ws.write_row("A2", ["No", "Date", "Amount"])
    _write_row(ws, 2, ["INV-001", D(2024, 3, 5), 1200, "00017", "EUR"], date)
    _write_row(ws, 3, ["INV-002", D(2024, 3, 6), 99.99, "42", "USD"], date)
    pay = wb.add_worksheet("Payments")
    pay.write_row(0, 0, ["Payment #", "Client", "Paid Date", "Amount Paid"])
    _write_row(pay, 1, ["PAY-1", "00017", D(2024, 3, 20), 1200], date)
    wb.close()
    return path


def chinese_xlsx(folder: Path) -> Path:
    """`中文应收.xlsx`: Chinese sheet names and headers, a 合计 totals row.

    Sheet "发票" (invoices), header on row 1: 发票号 | 客户编号 | 开票日期 | 金额 | 币种 | 备注说明
      row 2: "FP-0001" | "00017" | 2024-03-05 (date) | 1200 | "CNY" | (empty)
      row 3: "FP-0002" | "00042" | "2024年3月6日" (text) | 880.5 | "CNY" | "加急"
      row 4: "合计" | (empty) | (empty) | 2080.5 | (empty) | (empty)
    Sheet "收款" (payments), header on row 1: 收款单号 | 客户 | 收款日期 | 收款金额
      row 2: "SK-01" | "00017" | 2024-03-20 (date) | 1200
    "备注说明" is not a known invoices column (备注 is a payments synonym only).
    """
    path = folder / "中文应收.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    date = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws = wb.add_worksheet("发票")
    ws.write_row(0, 0, ["发票号", "客户编号", "开票日期", "金额", "币种", "备注说明"])
    _write_row(ws, 1, ["FP-0001", "00017", D(2024, 3, 5), 1200, "CNY", None], date)
    _write_row(ws, 2, ["FP-0002", "00042", "2024年3月6日", 880.5, "CNY", "加急"], date)
    _write_row(ws, 3, ["合计", None, None, 2080.5, None, None], date)
    pay = wb.add_worksheet("收款")
    pay.write_row(0, 0, ["收款单号", "客户", "收款日期", "收款金额"])
    _write_row(pay, 1, ["SK-01", "00017", D(2024, 3, 20), 1200], date)
    wb.close()
    return path


def missing_column_xlsx(folder: Path) -> Path:
    """`missing_column.xlsx`: the invoices sheet has no invoice number column.

    Sheet "Invoices", header on row 1: Doc | Customer | Date | Total
      row 2: "A-1" | "00017" | 2024-03-05 (date) | 100
    Sheet "Payments", header on row 1: Payment ID | Customer | Payment Date | Amount
      row 2: "PAY-1" | "00017" | 2024-03-20 (date) | 100
    """
    path = folder / "missing_column.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    date = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws = wb.add_worksheet("Invoices")
    ws.write_row(0, 0, ["Doc", "Customer", "Date", "Total"])
    _write_row(ws, 1, ["A-1", "00017", D(2024, 3, 5), 100], date)
    pay = wb.add_worksheet("Payments")
    pay.write_row(0, 0, ["Payment ID", "Customer", "Payment Date", "Amount"])
    _write_row(pay, 1, ["PAY-1", "00017", D(2024, 3, 20), 100], date)
    wb.close()
    return path


def generic_names_xlsx(folder: Path) -> Path:
    """`export.xlsx`: sheet names say nothing; tables are recognised by their headers.

    Sheet "Sheet1": an empty sheet.
    Sheet "Sheet2" (hidden), header on row 2 under a title "Bank export" in A1:
      Transaction ID | Account No | Value Date | Received | Memo
      row 3: "T-9" | "00017" | 2024-03-20 (date) | 1200 | "INV-001"
    Sheet "Sheet3", data starting at C5 (columns A-B and rows 1-4 empty):
      C5..G5 header: Invoice # | Client ID | Inv Date | Gross Amount | Ccy
      row 6: "INV-001" | "00017" | 2024-03-05 (date) | 1200 | "EUR"
      row 7: "INV-002" | "42" | 2024-03-06 (date) | 99.99 | "USD"
    Sheet "Sheet4", header on row 1: Customer ID | Customer Name | E-mail
      row 2: "00017" | "Müller GmbH" | "ap@mueller.example"
    """
    path = folder / "export.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    date = wb.add_format({"num_format": "yyyy-mm-dd"})
    wb.add_worksheet("Sheet1")
    s2 = wb.add_worksheet("Sheet2")
    s2.write_string(0, 0, "Bank export")
    s2.write_row(1, 0, ["Transaction ID", "Account No", "Value Date", "Received", "Memo"])
    _write_row(s2, 2, ["T-9", "00017", D(2024, 3, 20), 1200, "INV-001"], date)
    s2.hide()
    s3 = wb.add_worksheet("Sheet3")
    s3.write_row(4, 2, ["Invoice #", "Client ID", "Inv Date", "Gross Amount", "Ccy"])
    _write_row(s3, 5, ["INV-001", "00017", D(2024, 3, 5), 1200, "EUR"], date, first_col=2)
    _write_row(s3, 6, ["INV-002", "42", D(2024, 3, 6), 99.99, "USD"], date, first_col=2)
    s4 = wb.add_worksheet("Sheet4")
    s4.write_row(0, 0, ["Customer ID", "Customer Name", "E-mail"])
    s4.write_row(1, 0, ["00017", "Müller GmbH", "ap@mueller.example"])
    s3.activate()
    wb.close()
    return path


def mixed_cells_xlsx(folder: Path) -> Path:
    """`mixed.xlsx`: one sheet "Data", header on row 1, columns mixing cell types.

    header: ID | Amount | When | Flag | Note
      row 2: "00017" | 12.5 | 2024-03-05 (date) | TRUE (bool) | "plain"
      row 3: 18 | "1.234,50" | "05/03/2024" | FALSE | 'quote " and \\ backslash'
      row 4: "A-3" | 7 | 45000 (number, no date format) | (empty) | "line1\\nline2"
      row 5: 19 | 2024-01-01 12:30 (datetime in the Amount column) | (empty) | (empty) | =1/0 (cached #DIV/0!)
      row 6: "00020" | 0.1 | 2024-12-31 (date) | (empty) | "中文 Összeg"
    Expected raw values (column: rows 2..6):
      ID     "00017", "18", "A-3", "19", "00020"   (text-majority column: numbers arrive as text)
      Amount 12.5, "1.234,50", 7.0, datetime(2024,1,1,12,30), 0.1
      When   datetime(2024,3,5), "05/03/2024", 45000.0, missing, datetime(2024,12,31)
      Note   "plain", 'quote " and \\ backslash', "line1\\nline2", "#DIV/0!", "中文 Összeg"
    """
    path = folder / "mixed.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    date = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws = wb.add_worksheet("Data")
    ws.write_row(0, 0, ["ID", "Amount", "When", "Flag", "Note"])
    _write_row(ws, 1, ["00017", 12.5, D(2024, 3, 5), True, "plain"], date)
    _write_row(ws, 2, [18, "1.234,50", "05/03/2024", False, 'quote " and \\ backslash'], date)
    _write_row(ws, 3, ["A-3", 7, 45000, None, "line1\nline2"], date)
    _write_row(ws, 4, [19, D(2024, 1, 1, 12, 30), None, None, None], date)
    ws.write_formula(4, 4, "=1/0", None, "#DIV/0!")
    _write_row(ws, 5, ["00020", 0.1, D(2024, 12, 31), None, "中文 Összeg"], date)
    wb.close()
    return path


def hungarian_openpyxl_xlsx(folder: Path) -> Path:
    """`szamlak_1904.xlsx`, written with openpyxl in the 1904 date system (old Mac Excel).

    Sheet "Számlák" (invoices):
      row 1: "Kintlévőségek 2024" merged over A1:E1 (a title)
      row 2: blank
      row 3: header  Számlaszám | Vevőkód | Kelt | Lejárat | Végösszeg
      row 4: "SZ-1" | "00017" | 2024-03-05 (date) | 2024-04-04 (date) | 1234.5
      row 5: "SZ-2" | "00042" | "2024.03.06." (text) | (empty) | "50 000" (text)
      row 6: "Mindösszesen" | (empty) | (empty) | (empty) | 51234.5
    Sheet "Befizetések" (payments), header on row 1:
      Bizonylatszám | Partnerkód | Jóváírás dátuma | Összeg
      row 2: "B-1" | "00017" | 2024-03-25 (date) | 1234.5
    Sheet "Régi" (hidden): "régi adat" in A1.
    """
    import openpyxl
    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    path = folder / "szamlak_1904.xlsx"
    wb = openpyxl.Workbook()
    wb.epoch = CALENDAR_MAC_1904
    ws = wb.active
    ws.title = "Számlák"
    ws["A1"] = "Kintlévőségek 2024"
    ws.merge_cells("A1:E1")
    rows = [["Számlaszám", "Vevőkód", "Kelt", "Lejárat", "Végösszeg"],
            ["SZ-1", "00017", D(2024, 3, 5), D(2024, 4, 4), 1234.5],
            ["SZ-2", "00042", "2024.03.06.", None, "50 000"],
            ["Mindösszesen", None, None, None, 51234.5]]
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            cell = ws.cell(row=3 + i, column=1 + j, value=v)
            if isinstance(v, dt.datetime):
                cell.number_format = "yyyy.mm.dd."
    pay = wb.create_sheet("Befizetések")
    for i, row in enumerate([["Bizonylatszám", "Partnerkód", "Jóváírás dátuma", "Összeg"],
                             ["B-1", "00017", D(2024, 3, 25), 1234.5]]):
        for j, v in enumerate(row):
            cell = pay.cell(row=1 + i, column=1 + j, value=v)
            if isinstance(v, dt.datetime):
                cell.number_format = "yyyy.mm.dd."
    old = wb.create_sheet("Régi")
    old["A1"] = "régi adat"
    old.sheet_state = "hidden"
    wb.save(path)
    return path


def _write_row(ws: Any, r: int, values: list[Any], date_fmt: Any, first_col: int = 0) -> None:
    for j, v in enumerate(values):
        c = first_col + j
        if v is None:
            continue
        if isinstance(v, bool):
            ws.write_boolean(r, c, v)
        elif isinstance(v, (int, float)):
            ws.write_number(r, c, v)
        elif isinstance(v, dt.datetime):
            ws.write_datetime(r, c, v, date_fmt)
        else:
            ws.write_string(r, c, str(v))


# --------------------------------------------------------------------------- ods, xls


def hungarian_ods(folder: Path) -> Path:
    """`szamlak.ods` (OpenDocument): Hungarian sheet names, headers, dates and numbers.

    Sheet "Számlák" (invoices):
      row 1: "Példa Kft. — Kintlévőségek" (title, one cell)
      row 2: header  Számlaszám | Vevőkód | Számla kelte | Esedékesség | Bruttó összeg | Pénznem
      row 3: "SZ-2024/001" | "00017" | "2024.03.05." (text) | 2024-04-04 (date cell) | "1 234,50" (text) | "HUF"
      row 4: "SZ-2024/002" | "00042" | 2024-03-06 (date cell) | (empty) | 50000 (number) | "HUF"
      row 5: blank
      row 6: "Összesen:" | (empty) | (empty) | (empty) | 51234.5 (number) | (empty)
    Sheet "Befizetések" (payments):
      row 1: header  Bizonylatszám | Vevőkód | Fizetés dátuma | Befizetett összeg | Közlemény
      row 2: "B-1" | "00017" | 2024-03-25 (date cell) | 1234.5 (number) | "SZ-2024/001"
    """
    path = folder / "szamlak.ods"
    _write_ods(path, {
        "Számlák": [
            ["Példa Kft. — Kintlévőségek"],
            ["Számlaszám", "Vevőkód", "Számla kelte", "Esedékesség", "Bruttó összeg", "Pénznem"],
            ["SZ-2024/001", "00017", "2024.03.05.", dt.date(2024, 4, 4), "1 234,50", "HUF"],
            ["SZ-2024/002", "00042", dt.date(2024, 3, 6), None, 50000, "HUF"],
            [],
            ["Összesen:", None, None, None, 51234.5, None],
        ],
        "Befizetések": [
            ["Bizonylatszám", "Vevőkód", "Fizetés dátuma", "Befizetett összeg", "Közlemény"],
            ["B-1", "00017", dt.date(2024, 3, 25), 1234.5, "SZ-2024/001"],
        ],
    })
    return path


def _write_ods(path: Path, sheets: dict[str, list[list[Any]]]) -> None:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    for name, rows in sheets.items():
        table = Table(name=name)
        for row in rows:
            tr = TableRow()
            for v in row:
                if v is None:
                    tr.addElement(TableCell())
                elif isinstance(v, (dt.date, dt.datetime)):
                    cell = TableCell(valuetype="date", datevalue=v.isoformat())
                    cell.addElement(P(text=v.isoformat()))
                    tr.addElement(cell)
                elif isinstance(v, (int, float)) and not isinstance(v, bool):
                    cell = TableCell(valuetype="float", value=v)
                    cell.addElement(P(text=str(v)))
                    tr.addElement(cell)
                else:
                    cell = TableCell(valuetype="string")
                    cell.addElement(P(text=str(v)))
                    tr.addElement(cell)
            table.addElement(tr)
        doc.spreadsheet.addElement(table)
    doc.save(str(path))


def legacy_xls(folder: Path) -> Path:
    """`legacy.xls` (Excel 97-2003, written with xlwt; raises ImportError without it).

    Sheet "Invoices", header on row 1: Invoice No | Customer | Invoice Date | Amount
      row 2: "INV-001" | "00017" | 2024-03-05 (date cell) | 1200.5
      row 3: "INV-002" | 42 (number) | 2024-03-06 (date cell) | 99.99
    Sheet "Payments", header on row 1: Payment ID | Customer | Payment Date | Amount
      row 2: "PAY-1" | "00017" | 2024-03-20 (date cell) | 1200.5
    """
    import xlwt

    path = folder / "legacy.xls"
    wb = xlwt.Workbook()
    date = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    sheets = {
        "Invoices": [["Invoice No", "Customer", "Invoice Date", "Amount"],
                     ["INV-001", "00017", D(2024, 3, 5), 1200.5],
                     ["INV-002", 42, D(2024, 3, 6), 99.99]],
        "Payments": [["Payment ID", "Customer", "Payment Date", "Amount"],
                     ["PAY-1", "00017", D(2024, 3, 20), 1200.5]],
    }
    for name, rows in sheets.items():
        ws = wb.add_sheet(name)
        for r, row in enumerate(rows):
            for c, v in enumerate(row):
                if isinstance(v, dt.datetime):
                    ws.write(r, c, v, date)
                else:
                    ws.write(r, c, v)
    wb.save(str(path))
    return path


# --------------------------------------------------------------------------- CSV

INVOICES_CSV_ROWS = [
    ["Invoice No", "Customer", "Invoice Date", "Amount", "Currency"],
    ["INV-001", "00017", "2024-03-05", "1200.00", "EUR"],
    ["INV-002", "00042", "2024-03-06", "99.99", "USD"],
]


def csv_utf8_bom(folder: Path) -> Path:
    """`invoices_bom.csv`: UTF-8 with BOM, comma-separated, CRLF line ends, a quoted comma.

    rows (all cells text):
      1: Invoice No,Customer,Invoice Date,Amount,Currency,Description
      2: INV-001,00017,2024-03-05,1200.00,EUR,"Widgets, large"
      3: INV-002,00042,2024-03-06,99.99,USD,Café crème
      4: ,,,,,            (blank row)
      5: Total,,,1299.99,,
    """
    path = folder / "invoices_bom.csv"
    text = ("Invoice No,Customer,Invoice Date,Amount,Currency,Description\r\n"
            "INV-001,00017,2024-03-05,1200.00,EUR,\"Widgets, large\"\r\n"
            "INV-002,00042,2024-03-06,99.99,USD,Café crème\r\n"
            ",,,,,\r\n"
            "Total,,,1299.99,,\r\n")
    path.write_bytes(codecs.BOM_UTF8 + text.encode("utf-8"))
    return path


def csv_cp1252(folder: Path) -> Path:
    """`rechnungen.csv`: Windows-1252, semicolon-separated, European numbers, a title line.

    rows (all cells text):
      1: Müller & Söhne — Offene Posten   (one field)
      2: Invoice #;Customer;Date;Amount;Currency
      3: INV-001;00017;05.03.2024;1.234,50;EUR
      4: INV-002;00042;06.03.2024;99,99;EUR
    Decoded text contains "Müller", "Söhne" and "—".
    """
    path = folder / "rechnungen.csv"
    text = ("Müller & Söhne — Offene Posten\r\n"
            "Invoice #;Customer;Date;Amount;Currency\r\n"
            "INV-001;00017;05.03.2024;1.234,50;EUR\r\n"
            "INV-002;00042;06.03.2024;99,99;EUR\r\n")
    path.write_bytes(text.encode("cp1252"))
    return path


def csv_gbk(folder: Path) -> Path:
    """`发票.csv`: GBK-encoded, comma-separated, Chinese headers.

    rows (all cells text):
      1: 发票号,客户,开票日期,金额,币种
      2: FP-0001,00017,2024年3月5日,"1,200.00",人民币
      3: FP-0002,00042,2024/3/6,880.50,人民币
    """
    path = folder / "发票.csv"
    text = ("发票号,客户,开票日期,金额,币种\n"
            "FP-0001,00017,2024年3月5日,\"1,200.00\",人民币\n"
            "FP-0002,00042,2024/3/6,880.50,人民币\n")
    path.write_bytes(text.encode("gbk"))
    return path


def csv_utf16(folder: Path) -> Path:
    """`payments_utf16.csv`: UTF-16 LE with BOM, tab-separated (Excel's "Unicode text").

    rows: Payment ID\\tCustomer\\tPayment Date\\tAmount / PAY-1\\t00017\\t2024-03-20\\t1200
    """
    path = folder / "payments_utf16.csv"
    text = "Payment ID\tCustomer\tPayment Date\tAmount\r\nPAY-1\t00017\t2024-03-20\t1200\r\n"
    path.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    return path


def csv_folder(folder: Path) -> Path:
    """`ar_csv/`: a folder of UTF-8 CSVs, one per table (sheet name = file stem).

    invoices.csv:  Invoice No,Line,Customer,Invoice Date,Amount,Currency
                   INV-001,1,00017,2024-03-05,1200.00,EUR
                   INV-001,2,00017,2024-03-05,34.50,EUR
                   INV-002,1,00042,2024-03-06,99.99,USD
    payments.csv:  Payment ID|Customer|Payment Date|Amount|Reference   (pipe-separated)
                   PAY-1|00017|2024-03-20|1234.50|INV-001
    customers.csv: Customer ID;Name;Currency;Payment Terms   (semicolon-separated)
                   00017;Müller GmbH;EUR;30
                   00042;Kovács Kft.;USD;15
    readme.md:     not a CSV, ignored.
    """
    d = folder / "ar_csv"
    d.mkdir()
    (d / "invoices.csv").write_text(
        "Invoice No,Line,Customer,Invoice Date,Amount,Currency\n"
        "INV-001,1,00017,2024-03-05,1200.00,EUR\n"
        "INV-001,2,00017,2024-03-05,34.50,EUR\n"
        "INV-002,1,00042,2024-03-06,99.99,USD\n", encoding="utf-8")
    (d / "payments.csv").write_text(
        "Payment ID|Customer|Payment Date|Amount|Reference\n"
        "PAY-1|00017|2024-03-20|1234.50|INV-001\n", encoding="utf-8")
    (d / "customers.csv").write_text(
        "Customer ID;Name;Currency;Payment Terms\n"
        "00017;Müller GmbH;EUR;30\n"
        "00042;Kovács Kft.;USD;15\n", encoding="utf-8")
    (d / "readme.md").write_text("# not data\n", encoding="utf-8")
    return d


# --------------------------------------------------------------------------- broken files


def corrupt_xlsx(folder: Path) -> Path:
    """`corrupt.xlsx`: the first half of a valid xlsx (a truncated zip; no central directory)."""
    good = acme_xlsx(folder)
    data = good.read_bytes()
    path = folder / "corrupt.xlsx"
    path.write_bytes(data[: len(data) // 2])
    good.unlink()
    return path


def damaged_member_xlsx(folder: Path) -> Path:
    """`damaged.xlsx`: a complete zip whose worksheet XML is cut off mid-element."""
    good = acme_xlsx(folder)
    path = folder / "damaged.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]
            dst.writestr(item, data)
    good.unlink()
    return path


def empty_file(folder: Path) -> Path:
    """`empty.xlsx`: zero bytes."""
    path = folder / "empty.xlsx"
    path.write_bytes(b"")
    return path


def password_xlsx(folder: Path) -> Path:
    """`locked.xlsx`: the start of an encrypted workbook as Excel saves it.

    Excel stores a password-protected xlsx as an OLE2 compound file holding the
    streams "EncryptionInfo" and "EncryptedPackage". This is the OLE2 header
    plus a directory sector naming those streams (not a complete compound
    file: enough for the format check, which is all a reader gets to before
    it needs the password).
    """
    header = bytearray(512)
    header[:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    directory = bytearray(512)
    for i, name in enumerate(["Root Entry", "EncryptionInfo", "EncryptedPackage"]):
        raw = name.encode("utf-16-le")
        directory[i * 128: i * 128 + len(raw)] = raw
    path = folder / "locked.xlsx"
    path.write_bytes(bytes(header) + bytes(directory) + bytes(1024))
    return path


def pdf_file(folder: Path) -> Path:
    """`statement.pdf`: a tiny PDF header; not a spreadsheet."""
    path = folder / "statement.pdf"
    path.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    return path


def html_as_xls(folder: Path) -> Path:
    """`report.xls`: an HTML table saved with an .xls name (what some ERPs export)."""
    path = folder / "report.xls"
    path.write_text("<html><body><table><tr><td>Invoice</td></tr></table></body></html>",
                    encoding="utf-8")
    return path


# Builders of files that read cleanly (legacy_xls needs xlwt) and of files that must fail
# with a plain SourceError message.
READABLE = (acme_xlsx, two_row_header_xlsx, chinese_xlsx, missing_column_xlsx, generic_names_xlsx,
            mixed_cells_xlsx, hungarian_openpyxl_xlsx, hungarian_ods, legacy_xls, csv_utf8_bom,
            csv_cp1252, csv_gbk, csv_utf16, csv_folder)
BROKEN = (corrupt_xlsx, damaged_member_xlsx, empty_file, password_xlsx, pdf_file, html_as_xls)
