"""Exports of other billing tools, read as they are: fixtures written in the shapes of the real
files (Invoice Ninja, Zoho Books, FreshBooks, Wave, ERPNext, Akaunting, UCI Online Retail,
Superstore, a Chinese invoice list) and of the documented layouts of QuickBooks, Xero, Odoo,
SAP FBL5N and Sage. Each regression test names the defect it guards (issue 13)."""
from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from billing.ingest import SchemaError, build_dataset
from billing.model import Dataset
from billing.money import format_minor
from billing.tabular import locate_tables
from connectors.load import load_dataset
from connectors.sources import SourceError, read_source
from tests.factories import raw_book as book

D = dt.datetime


def write_csv(path: Path, rows: list[list[Any]]) -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def write_xlsx(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def invoiced(data: Dataset) -> dict[str, str]:
    """Invoice lines' total per currency, as the report's "invoiced" (credit notes apart)."""
    inv = data.invoices[data.invoices["kind"] == "invoice"]
    return {cur: format_minor(int(v), cur) for cur, v in inv.groupby("currency")["amount"].sum().items()}


def counts(data: Dataset, table: str) -> tuple[int, int, int]:
    c = data.counts[table]
    return c.read, c.accepted, c.quarantined


def kinds(data: Dataset, kind: str) -> list[str]:
    return [n.text for n in data.notes if n.kind == kind]


# --------------------------------------------------------------------------- defect 1: silent loss


def test_a_data_row_is_never_taken_for_the_second_row_of_a_header(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "invoices.csv", [
        ["Invoice No", "Customer", "Date", "Amount", "Description", "Notes"],
        ["I-1", "ACME", "2024-03-01", "10.00", "Widgets", "incl. VAT"],
        ["I-2", "ACME", "2024-03-02", "5.00", "Bolts", ""],
        ["I-3", "Beta", "2024-03-03", "7.50", "Nuts", ""]])
    data = load_dataset(path)
    assert counts(data, "invoices") == (3, 3, 0)
    assert sorted(data.invoices["invoice_no"]) == ["I-1", "I-2", "I-3"]


def test_akaunting_single_invoice_row_is_read(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "invoices.xlsx", {
        "invoices": [["invoice_number", "order_number", "status", "invoiced_at", "due_at", "amount",
                      "discount_type", "discount_rate", "currency_code", "currency_rate", "contact_name",
                      "contact_email"],
                     ["INV-00001", None, "paid", D(2020, 1, 1), D(2020, 1, 31), 100.0, "percentage", 10.0,
                      "USD", 1.0, "Test Customer", "test@customer.com"]],
        "invoice_items": [["invoice_number", "item_name", "item_description", "item_type", "quantity",
                           "discount_type", "discount_rate", "price", "total", "tax"],
                          ["INV-00001", "Test Item", "test invoice item", "product", 1.0, "percentage",
                           0.0, 100.0, 100.0, None]],
        "invoice_histories": [["invoice_number", "status", "notify", "description"],
                              ["INV-00001", "draft", None, "INV-00001 added!"]],
        "invoice_transactions": [["invoice_number", "transaction_number", "paid_at", "amount",
                                  "currency_code", "payment_method", "reference"],
                                 ["INV-00001", "TRA-00001", D(2020, 1, 1), 90.0, "USD",
                                  "offline-payments.cash.1", None]]})
    data = load_dataset(path)
    assert counts(data, "invoices") == (1, 1, 0)
    assert invoiced(data) == {"USD": "100.00"}
    assert data.invoices.loc[0, "customer_id"] == "Test Customer"
    assert data.invoices.loc[0, "due_date"] == pd.Timestamp("2020-01-31")
    # payments name their invoice; the customer comes from it
    assert counts(data, "payments") == (1, 1, 0)
    assert data.payments.loc[0, "customer_id"] == "Test Customer"
    assert "recognised: Akaunting invoice import workbook" in kinds(data, "layout")


# --------------------------------------------------------------------------- defect 2: whole words


def test_headers_match_whole_words_only() -> None:
    header = ["Invoice No", "Customer", "Invoice Date", "Amount", "Item Name", "Item Notes",
              "Group same items", "Transaction Line Description", "Postal Code", "Discount Type",
              "Account Type", "Is Discount Before Tax", "Price List", "Inter Company Invoice Reference", "ID"]
    found = locate_tables(book(("Invoices", [header, ["I-1", "C1", D(2024, 3, 1), 5.0] + ["x"] * 11])))
    assert found.tables["invoices"].headers == {"invoice_no": "Invoice No", "customer_id": "Customer",
                                                "invoice_date": "Invoice Date", "amount": "Amount"}


def test_postal_codes_do_not_become_line_numbers() -> None:
    header = ["Order ID", "Order Date", "Customer ID", "Postal Code", "Sales", "Row ID", "Profit"]
    rows = [["CA-1", D(2016, 11, 8), "CG-1", 42420.0, 261.96, 1.0, 41.9],
            ["CA-1", D(2016, 11, 8), "CG-1", 42420.0, 731.94, 2.0, 219.5]]
    data = build_dataset(book(("Orders", [header, *rows])))
    assert data.invoices["line_no"].tolist() == [1, 2]  # numbered, not 42420 twice
    assert "recognised: Tableau Superstore sample orders" in kinds(data, "layout")


def test_neutral_words_keep_their_column() -> None:
    header = ["Invoice Number", "Client", "Invoice Date", "Invoice Type", "Line Total", "Item Quantity",
              "Item Price", "Sales Tax Amount", "Total Amount (EUR)"]
    inv = locate_tables(book(("Invoices", [header, ["I-1", "C1", D(2024, 3, 1), "invoice", 5.0, 1, 5.0,
                                                    0.0, 5.0]]))).tables["invoices"]
    assert inv.headers == {"invoice_no": "Invoice Number", "customer_id": "Client",
                           "invoice_date": "Invoice Date", "kind": "Invoice Type", "amount": "Line Total",
                           "quantity": "Item Quantity", "unit_price": "Item Price", "tax": "Sales Tax Amount"}


def test_an_equal_fit_is_reported_as_ambiguous_with_the_best_guess_first() -> None:
    rows = [["Invoice No", "Customer", "Invoice Date", "Amount", "Total"], ["I-1", "C1", D(2024, 3, 1), 5.0, 6.0]]
    found = locate_tables(book(("Invoices", rows)))
    assert found.ambiguous == {"invoices": {"amount": ["Amount", "Total"]}}
    assert found.tables["invoices"].headers["amount"] == "Amount"
    assert [n.kind for n in found.notes].count("ambiguous") == 1
    suggestion = found.suggested_mapping()
    assert suggestion == {"invoices": {"sheet": "Invoices", "columns": {
        "invoice_no": "Invoice No", "customer_id": "Customer", "invoice_date": "Invoice Date", "amount": "Amount"}}}
    suggestion["invoices"]["columns"]["amount"] = "Total"  # the user picks the other one
    chosen = locate_tables(book(("Invoices", rows)), mapping=suggestion)
    assert chosen.ambiguous == {} and chosen.tables["invoices"].headers["amount"] == "Total"


def test_chinese_invoice_list_uses_the_gross_total_and_currency_symbols(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "zh.csv", [
        ["序号", "发票号码", "开票日期", "到期日期", "货币符号", "买方姓名", "明细名称", "数量", "单价", "金额",
         "小计", "税费", "总计", "应付"],
        ["1", "UJ6-0001", "3-Feb-26", "3-Feb-26", "₱", "Morgan Garcia", "Add-on", "5", "1260.61", "6303.05",
         "6303.05", "", "6303.05", "6303.05"],
        ["2", "KXP-0003", "4-Nov-25", "4-Dec-25", "$", "Denise Johnson", "Plus", "1", "56.23", "56.23",
         "56.23", "4.5", "60.73", "60.73"],
        ["3", "H5V-0002", "2-Nov-25", "2-Nov-25", "￥", "Ryan Edwards", "Support", "5", "17.84", "89.2",
         "89.2", "", "89.2", "89.2"]])
    data = load_dataset(path)
    assert counts(data, "invoices") == (3, 3, 0)
    assert invoiced(data) == {"PHP": "6303.05", "USD": "60.73", "CNY": "89.20"}
    assert data.invoices.set_index("invoice_no").loc["KXP-0003", "customer_id"] == "Denise Johnson"


# --------------------------------------------------------------------------- defects 3-5: optional parts


def test_an_extra_items_sheet_never_stops_the_load(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "book.xlsx", {
        "invoices": [["Invoice No", "Customer", "Invoice Date", "Amount"], ["I-1", "C1", D(2024, 3, 1), 5.0]],
        "items": [["item_name", "quantity", "price"], ["Bolt", 2, 2.5]]})
    data = load_dataset(path)
    assert counts(data, "invoices") == (1, 1, 0)
    assert any("'items'" in t for t in kinds(data, "sheet"))


def test_amount_is_computed_when_the_column_is_absent(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "2010-12-01.csv", [
        ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"],
        ["536365", "85123A", "WHITE HANGING HEART", "6", "2010-12-01 08:26:00", "2.55", "17850.0", "United Kingdom"],
        ["536365", "71053", "WHITE METAL LANTERN", "6", "2010-12-01 08:26:00", "3.39", "17850.0", "United Kingdom"],
        ["C536379", "D", "Discount", "-1", "2010-12-01 09:41:00", "27.50", "14527.0", "United Kingdom"],
        ["536414", "22139", "RETROSPOT TEA SET", "56", "2010-12-01 11:52:00", "0.00", "", "United Kingdom"]])
    data = load_dataset(path)
    assert counts(data, "invoices") == (4, 3, 1)
    assert invoiced(data) == {"USD": "35.64"}  # 6 × 2.55 + 6 × 3.39
    credit = data.invoices[data.invoices["kind"] == "credit_note"]
    assert credit["amount"].tolist() == [-2750]
    assert data.quarantine["column"].tolist() == ["CustomerID"]
    assert any("no amount column" in t for t in kinds(data, "derived"))


def test_day_files_with_the_same_columns_are_one_invoices_table(tmp_path: Path) -> None:
    header = ["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"]
    folder = tmp_path / "retail"
    folder.mkdir()
    write_csv(folder / "2010-12-01.csv", [header, ["1", "A", "2", "2010-12-01 08:00:00", "1.50", "17850.0"]])
    write_csv(folder / "2010-12-02.csv", [header, ["2", "B", "1", "2010-12-02 08:00:00", "4.00", "17850.0"],
                                          ["3", "B", "1", "2010-12-02 09:00:00", "1.00", "13047.0"]])
    data = load_dataset(folder)
    assert counts(data, "invoices") == (3, 3, 0)
    assert set(data.invoices["_sheet"]) == {"2010-12-01", "2010-12-02"}
    assert invoiced(data) == {"USD": "8.00"}
    assert counts(data, "payments") == (0, 0, 0)


def test_customers_sheet_without_an_id_is_left_out_with_a_note(tmp_path: Path) -> None:
    folder = tmp_path / "freshbooks"
    folder.mkdir()
    write_csv(folder / "freshbooks_clients.csv", [
        ["Organization", "First Name", "Last Name", "Email", "Phone", "Postal Code"],
        ["X-Men", "Scott", "Summer", "ssummers@example.edu", "987654321", ""]])
    write_csv(folder / "freshbooks_invoices.csv", [
        ["Client Name", "Invoice #", "Date Issued", "Invoice Status", "Date Paid", "Item Name",
         "Item Description", "Rate", "Quantity", "Discount Percentage", "Line Subtotal", "Tax 1 Type",
         "Tax 1 Amount", "Tax 2 Type", "Tax 2 Amount", "Line Total", "Currency"],
        ["X-Men", "0000001", "2021-01-28", "sent", "", "General Car Repair", "Bumper", "65.00", "10.00000000",
         "0.0000", "650.00", "", "0.00", "", "0.00", "650.00", "USD"],
        ["X-Men", "0000001", "2021-01-28", "sent", "", "Painting Service", "25 hours", "98.00", "5.00000000",
         "0.0000", "490.00", "", "0.00", "", "0.00", "490.00", "USD"]])
    data = load_dataset(folder)
    assert counts(data, "invoices") == (2, 2, 0)
    assert invoiced(data) == {"USD": "1140.00"}
    assert data.invoices["invoice_no"].tolist() == ["0000001", "0000001"]
    assert any("freshbooks_clients" in t and "customer_id" in t for t in kinds(data, "sheet"))
    assert "recognised: FreshBooks invoice export" in kinds(data, "layout")


def test_invoices_only_export_loads_with_everything_open() -> None:
    data = build_dataset(book(("Invoices", [["Invoice No", "Customer", "Invoice Date", "Amount"],
                                            ["I-1", "C1", D(2024, 3, 1), 5.0]])))
    assert counts(data, "payments") == (0, 0, 0)
    assert any("no payments table" in t for t in kinds(data, "table"))


# --------------------------------------------------------------------------- defect 6: carry-down


ERP_HEADER = ["ID", "Series", "Customer", "Date", "Currency", "Payment Due Date", "Grand Total",
              "Is Return (Credit Note)", "Return Against", "ID (Items)", "Amount (Items)",
              "Item Name (Items)", "Rate (Items)", "Quantity (Items)", "Item (Items)"]


def test_erpnext_item_rows_take_the_invoice_columns_from_the_first_row(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "Sales Invoice.csv", [
        ERP_HEADER,
        ["ACC-SINV-2026-00004", "ACC-SINV-.YYYY.-", "West View", "2026-08-22", "ILS", "2026-08-22", "32000.0",
         "0", "", "m93p11kqbs", "20000.0", "T-shirt", "800.0", "25.0", "SKU001"],
        ["", "", "", "", "", "", "", "", "", "m93p0a12gr", "12000.0", "Laptop", "800.0", "15.0", "SKU002"],
        ["ACC-SINV-2026-00005", "ACC-SINV-.YYYY.-", "Grant Plastics", "2026-11-02", "ILS", "2026-11-02",
         "-500.0", "1", "ACC-SINV-2026-00004", "m9a7tbpcac", "-500.0", "T-shirt", "800.0", "-1", "SKU001"]])
    data = load_dataset(path)
    assert counts(data, "invoices") == (3, 3, 0)
    inv = data.invoices.set_index("line_code")
    laptop = data.invoices[data.invoices["sku"] == "SKU002"].iloc[0]
    assert (laptop["invoice_no"], laptop["customer_id"], laptop["currency"], laptop["line_no"]) == (
        "ACC-SINV-2026-00004", "West View", "ILS", 2)
    assert invoiced(data) == {"ILS": "32000.00"}
    credit = data.invoices[data.invoices["kind"] == "credit_note"].iloc[0]
    assert (credit["amount"], credit["applies_to"]) == (-50000, "ACC-SINV-2026-00004")
    assert len(kinds(data, "carry")) == 1 and "row 3" in kinds(data, "carry")[0]
    assert len(inv) == 3


def test_a_row_with_a_customer_but_no_invoice_number_is_not_an_item_row() -> None:
    rows = [["Invoice No", "Customer", "Invoice Date", "Amount"], ["I-1", "C1", D(2024, 3, 1), 5.0],
            [None, "C2", D(2024, 3, 2), 7.0]]
    data = build_dataset(book(("Invoices", rows)))
    assert counts(data, "invoices") == (2, 1, 1)
    assert data.quarantine["column"].tolist() == ["Invoice No"]


def test_odoo_invoice_lines_export_is_carried_down() -> None:
    rows = [["Number", "Partner", "Invoice/Bill Date", "Due Date", "Currency", "Total",
             "Invoice lines/Product", "Invoice lines/Quantity", "Invoice lines/Unit Price",
             "Invoice lines/Subtotal"],
            ["INV/2024/0001", "Azure Interior", "2024-03-01", "2024-03-31", "EUR", "150.00", "Desk", "1", "100.00",
             "100.00"],
            [None, None, None, None, None, None, "Chair", "2", "25.00", "50.00"]]
    data = build_dataset(book(("Invoices", rows)))
    assert counts(data, "invoices") == (2, 2, 0)
    assert invoiced(data) == {"EUR": "150.00"}
    assert set(data.invoices["customer_id"]) == {"Azure Interior"}
    assert "recognised: Odoo invoice lines export" in kinds(data, "layout")


# --------------------------------------------------------------------------- defect 7: clear messages


def test_plain_text_named_xlsx_says_it_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "invoices.xlsx"
    path.write_text("Invoice No,Customer,Invoice Date,Amount\nI-1,C1,2024-03-01,5.00\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"is not an Excel workbook \(it holds plain text\)"):
        read_source(path)


def test_headers_without_rows_say_invoices_has_no_data_rows(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "empty.xlsx", {
        "Invoices": [["Invoice No", "Customer", "Invoice Date", "Amount"]],
        "Payments": [["Payment ID", "Customer", "Payment Date", "Amount"]]})
    with pytest.raises(SchemaError, match="invoices.*has no data rows"):
        load_dataset(path)


def test_xlsx_error_cells_are_quarantined_not_recomputed(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Invoices"
    ws.append(["Invoice No", "Customer", "Invoice Date", "Due Date", "Quantity", "Unit Price", "Amount"])
    ws.append(["I-1", "C1", D(2024, 3, 1), D(2024, 4, 1), 2, 5.0, 10.0])
    ws.append(["I-2", "C1", D(2024, 3, 1), "#DIV/0!", 2, 5.0, "#DIV/0!"])
    for cell in ws[3]:
        if cell.value == "#DIV/0!":
            cell.data_type = "e"
    wb.save(tmp_path / "err.xlsx")
    data = load_dataset(tmp_path / "err.xlsx")
    assert counts(data, "invoices") == (2, 1, 1)
    assert data.quarantine[["row", "column", "value"]].values.tolist() == [
        [3, "Amount", "#DIV/0!"], [3, "Due Date", "#DIV/0!"]]
    assert data.quarantine["message"].str.contains("formula error").all()


def test_ods_error_cells_written_by_libreoffice_are_quarantined(tmp_path: Path) -> None:
    path = write_ods_with_errors(tmp_path / "err.ods")
    data = load_dataset(path)
    assert counts(data, "invoices") == (2, 1, 1)
    q = data.quarantine
    assert q[["row", "column", "value"]].values.tolist() == [[3, "Amount", "#DIV/0!"],
                                                             [3, "Due Date", "Err:502"]]
    assert data.invoices["amount"].tolist() == [1000]  # the error row's amount was not computed


def write_ods_with_errors(path: Path) -> Path:
    """An ODS as LibreOffice writes a failed formula: office:value 0, calcext:value-type error."""
    import zipfile

    def cell(v: Any) -> str:
        if isinstance(v, tuple):  # (shown error text,)
            return ('<table:table-cell table:formula="of:=1/0" office:value-type="float" office:value="0" '
                    f'calcext:value-type="error"><text:p>{v[0]}</text:p></table:table-cell>')
        if isinstance(v, (int, float)):
            return (f'<table:table-cell office:value-type="float" office:value="{v}" calcext:value-type="float">'
                    f'<text:p>{v}</text:p></table:table-cell>')
        return f'<table:table-cell office:value-type="string"><text:p>{v}</text:p></table:table-cell>'

    rows = [["Invoice No", "Customer", "Invoice Date", "Due Date", "Quantity", "Unit Price", "Amount"],
            ["I-1", "C1", "2024-03-01", "2024-04-01", 2, 5, 10],
            ["I-2", "C1", "2024-03-01", ("Err:502",), 2, 5, ("#DIV/0!",)]]
    body = "".join("<table:table-row>" + "".join(cell(v) for v in r) + "</table:table-row>" for r in rows)
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
        'xmlns:calcext="urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0" '
        'office:version="1.2"><office:body><office:spreadsheet><table:table table:name="Invoices">'
        f'{body}</table:table></office:spreadsheet></office:body></office:document-content>')
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", compress_type=zipfile.ZIP_STORED)
        z.writestr("content.xml", content)
        z.writestr("META-INF/manifest.xml", '<?xml version="1.0"?><manifest:manifest '
                   'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>')
    return path


def test_a_csv_line_that_is_not_utf8_is_decoded_alone_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "invoices.csv"
    path.write_bytes("Invoice No,Customer,Invoice Date,Amount\nI-1,Kovács Kft,2024-03-01,10.00\n".encode()
                     + b"I-2,Kov\xe1cs Bt,2024-03-02,5.00\n")
    data = load_dataset(path)
    assert data.invoices["customer_id"].tolist() == ["Kovács Kft", "Kovács Bt"]
    notes = [(n.row, n.kind) for n in data.notes if n.kind == "encoding"]
    assert notes == [(3, "encoding")]


def test_a_gbk_csv_is_not_taken_for_utf8_with_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "fapiao.csv"
    path.write_bytes("发票号码,客户,开票日期,金额\nF-1,客户甲,2024-03-01,10.00\n".encode("gbk"))
    data = load_dataset(path)
    assert data.invoices["customer_id"].tolist() == ["客户甲"]
    assert not [n for n in data.notes if n.kind == "encoding"]


def test_peso_sign_is_php() -> None:
    rows = [["Invoice No", "Customer", "Invoice Date", "Amount", "Currency"], ["I-1", "C1", D(2024, 3, 1), 5.0, "₱"],
            ["I-2", "C1", D(2024, 3, 1), 5.0, "₩"]]
    data = build_dataset(book(("Invoices", rows)))
    assert sorted(data.invoices["currency"]) == ["KRW", "PHP"]


def test_a_row_repeated_cell_for_cell_is_kept_and_reported() -> None:
    header = ["Client", "Invoice Number", "Invoice Date", "Item Product", "Item Cost", "Item Quantity"]
    row = ["Ludwig", "2", "2020-02-19", "omnis", "8.89", "3"]
    data = build_dataset(book(("invoice", [header, ["Ludwig", "1", "2019-11-25", "et", "1.35", "10"], row, row])))
    assert counts(data, "invoices") == (3, 3, 0)
    assert invoiced(data) == {"USD": "66.84"}  # what the sheet's lines add up to, the copy included
    assert [(n.row, n.kind) for n in data.notes if n.kind == "repeat"] == [(4, "repeat")]
