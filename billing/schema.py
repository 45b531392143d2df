"""The canonical tables: columns, kinds, required flags and header synonyms.

This is the single place that says what a Linewise table looks like. Readers
match sheet and column headers against the synonyms here (English, Chinese,
Hungarian), the normaliser converts each column by its kind, and every other
module relies on the resulting dtypes (see docs/DESIGN.md).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["id", "text", "money", "date", "int", "qty", "flag", "rate"]

# pandas dtype each kind becomes after normalising.
DTYPES: dict[str, str] = {
    "id": "string",
    "text": "string",
    "money": "Int64",  # minor units; required money columns become int64
    "date": "datetime64[ns]",
    "int": "Int64",
    "qty": "float64",
    "flag": "bool",
    "rate": "float64",
}


@dataclass(frozen=True)
class Column:
    """A canonical column. `synonyms` name it; `strong` ones name it better than the plain
    synonyms (a gross "Line Total" over a bare "Amount"), `weak` ones worse (used only when
    nothing better is in the sheet)."""

    name: str
    kind: Kind
    required: bool = False
    synonyms: tuple[str, ...] = ()
    strong: tuple[str, ...] = ()
    weak: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    required_table: bool = False
    synonyms: tuple[str, ...] = field(default=())
    # Words that may stand next to a synonym without changing what it names: "Invoice Type"
    # is the kind, "Discount Type" is not ("discount" is no neutral word).
    neutral: tuple[str, ...] = field(default=())
    # Columns that describe rows of the table but never, by themselves, make a sheet this table:
    # an invoice-line export with "CustomerID" and "Country" is not a customer master.
    supporting: tuple[str, ...] = field(default=())

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


def _c(name: str, kind: Kind, required: bool = False, *syn: str,
       strong: tuple[str, ...] = (), weak: tuple[str, ...] = ()) -> Column:
    return Column(name, kind, required, syn, strong, weak)


CUSTOMER_ID_SYN = ("customer", "customer id", "cust id", "customer no", "customer number",
                   "customer code", "client", "client id", "account", "account no", "customerid",
                   "客户", "客户编号", "客户代码", "客户号", "vevő", "vevőkód", "vevő azonosító",
                   "ügyfél", "ügyfélkód", "ügyfél azonosító", "partner", "partnerkód",
                   "customer code", "customer account", "debtor", "debtor no", "kunde", "kundennr")
# A customer's name stands in for its id when the sheet has no id column (FreshBooks "Client
# Name", Akaunting "contact_name", 买方姓名); an id column wins over it.
CUSTOMER_NAME_WEAK = ("customer name", "client name", "contact name", "contact", "buyer",
                      "buyer name", "bill to", "客户名称", "买方", "买方姓名", "购买方", "购方名称",
                      "vevő neve", "ügyfél neve")
CURRENCY_SYN = ("currency", "ccy", "cur", "currency code", "currency symbol", "币种", "货币",
                "货币符号", "pénznem", "deviza")
INVOICE_NO_SYN = ("invoice", "invoice #", "invoice no", "inv no", "inv #", "invoice number",
                  "invoicenumber", "invoice num", "bill no", "bill number", "document no",
                  "发票号", "发票号码", "发票编号", "számlaszám", "számla száma", "számla")
INVOICE_NO_WEAK = ("invoice id",)
LINE_CODE_SYN = ("line code", "linecode", "line id", "行代码", "行编码", "tételkód", "sorkód")
AMOUNT_SYN = ("amount", "total", "invoice amount", "line amount", "value", "sum", "金额",
              "总额", "összeg", "végösszeg")
# A gross line total names the amount better than a bare "Amount" beside it (金额 + 总计).
AMOUNT_STRONG = ("line total", "gross", "gross amount", "total amount", "item total",
                 "amount incl tax", "total incl tax", "总计", "含税金额", "价税合计", "bruttó",
                 "bruttó összeg")

CUSTOMERS = Table("customers", (
    _c("customer_id", "id", True, *CUSTOMER_ID_SYN, weak=CUSTOMER_NAME_WEAK),
    _c("name", "text", False, "display name", "organization", "organisation", "customer name", "client name", "company", "名称", "客户名称",
       "公司", "név", "vevő neve", "ügyfél neve", "cégnév"),
    _c("email", "text", False, "e-mail", "mail", "email address", "email id", "contact email", "邮箱", "电子邮件", "e-mail cím"),
    _c("phone", "text", False, "telephone", "mobile", "phone number", "mobile phone", "tel", "电话", "手机",
       "telefon", "telefonszám", "mobil"),
    _c("language", "text", False, "lang", "locale", "语言", "nyelv"),
    _c("currency", "text", False, *CURRENCY_SYN),
    _c("payment_terms_days", "int", False, "payment terms", "terms", "terms days", "net days",
       "付款期限", "账期", "fizetési határidő", "fizetési feltétel"),
    _c("credit_limit", "money", False, "credit", "limit", "信用额度", "hitelkeret"),
    _c("segment", "text", False, "category", "group", "class", "细分", "分类", "szegmens", "csoport"),
    _c("owner", "text", False, "owner name", "account owner", "collector", "sales rep", "salesperson",
       "负责人", "销售", "felelős", "üzletkötő"),
    _c("dunning_blocked", "flag", False, "dunning block", "no dunning", "do not remind",
       "催款冻结", "停止催款", "felszólítás tiltva", "fizetési felszólítás tiltás"),
    # The postal address, in the parts contact exports give it (Zoho "Billing Address/Street2/City/
    # State/Code/Country", Invoice Ninja "Address 1/2, City, State, Postal Code", Odoo "Street, Street2,
    # City, ZIP", QuickBooks "Billing Street/City/State/ZIP", Xero "POAddressLine1, POCity ..."); a
    # single multi-line "Address" cell works too. `billing.customers.customer_address` joins them.
    _c("address", "text", False, "street", "street address", "address 1", "address line 1", "address1",
       "street 1", "billing address", "billing street", "billing address line 1", "bill to address",
       "postal address", "mailing address", "po address line1", "地址", "账单地址", "通讯地址", "cím",
       "számlázási cím", "utca", "utca házszám", "postacím"),
    _c("address_2", "text", False, "address 2", "address line 2", "address2", "street 2", "street2",
       "billing street2", "billing street 2", "billing address 2", "billing address line 2",
       "po address line2", "地址2", "cím 2"),
    _c("city", "text", False, "town", "billing city", "po city", "城市", "város", "település", "helység"),
    _c("postcode", "text", False, "post code", "postal code", "zip", "zip code", "zipcode", "zip postcode",
       "billing code", "billing zip", "billing postal code", "billing postcode", "po postal code",
       "邮编", "邮政编码", "irányítószám", "irsz"),
    _c("region", "text", False, "state", "province", "county", "billing state", "billing region",
       "po region", "省", "省份", "megye"),
    _c("country", "text", False, "billing country", "country code", "po country", "国家", "国家地区",
       "ország"),
    _c("iban", "id", False, "customer iban", "bank account iban", "payer iban", "bankszámlaszám",
       "bankszámla", "银行账号"),
), synonyms=("customers", "customer", "clients", "accounts", "customer master", "客户",
             "客户表", "客户资料", "vevők", "ügyfelek", "partnerek", "contacts"),
   neutral=("customer", "client", "contact", "the"),
   supporting=("address", "address_2", "city", "postcode", "region", "country"))

ORDERS = Table("orders", (
    _c("order_id", "id", True, "order", "order no", "order #", "order number", "so", "so no",
       "sales order", "po", "订单", "订单号", "销售订单", "rendelés", "rendelésszám",
       "megrendelés", "rendelés száma"),
    _c("order_line", "id", True, "line", "order line no", "line no", "item", "pos", "position",
       "订单行", "行号", "项次", "tétel", "sor", "tételszám", "rendelés tétel"),
    _c("customer_id", "id", True, *CUSTOMER_ID_SYN, weak=CUSTOMER_NAME_WEAK),
    _c("order_date", "date", False, "order date", "date", "下单日期", "订单日期", "rendelés dátuma"),
    _c("sku", "text", False, "item code", "product", "product code", "article", "material",
       "物料", "物料号", "产品编号", "cikkszám", "termékkód"),
    _c("description", "text", False, "desc", "item description", "product name", "描述", "品名",
       "megnevezés", "leírás"),
    _c("quantity", "qty", True, "qty", "ordered qty", "order qty", "数量", "订购数量", "mennyiség",
       "rendelt mennyiség"),
    _c("unit_price", "money", True, "price", "unit price", "net price", "单价", "egységár", "ár"),
    _c("currency", "text", False, *CURRENCY_SYN),
    _c("delivery_date", "date", False, "delivered", "delivery", "ship date", "shipped", "发货日期",
       "交货日期", "szállítás dátuma", "teljesítés"),
    _c("delivered_qty", "qty", False, "delivered qty", "shipped qty", "发货数量", "已交数量",
       "szállított mennyiség"),
    _c("billing_block", "text", False, "billing block", "block", "hold", "billing hold",
       "开票冻结", "冻结原因", "számlázási zárolás", "zárolás"),
), synonyms=("orders", "order", "sales orders", "order lines", "订单", "销售订单",
             "rendelések", "megrendelések"), neutral=("order", "sales", "line", "item", "the"))

INVOICES = Table("invoices", (
    _c("invoice_no", "id", True, *INVOICE_NO_SYN, weak=INVOICE_NO_WEAK),
    _c("customer_id", "id", True, *CUSTOMER_ID_SYN, weak=CUSTOMER_NAME_WEAK),
    _c("invoice_date", "date", True, "date", "inv date", "invoice dt", "bill date", "document date",
       "invoicedate", "invoiced at", "date issued", "issue date", "issued", "posting date",
       "开票日期", "发票日期", "日期", "kelt", "számla kelte", "kiállítás dátuma", "számla dátuma",
       weak=("transaction date",)),
    _c("line_no", "int", False, "line", "line #", "line number", "pos", "行号", "项次",
       "sor", "tétel", "sorszám"),
    _c("line_code", "id", False, *LINE_CODE_SYN),
    _c("due_date", "date", False, "due", "due dt", "due date", "payment due", "payment due date",
       "due on", "due at", "net due date", "duedate", "到期日", "到期日期", "付款到期日",
       "esedékesség", "fizetési határidő dátuma", "lejárat"),
    _c("order_id", "id", False, "order", "order no", "order #", "order number", "so",
       "sales order", "订单号", "rendelésszám"),
    _c("order_line", "id", False, "order line", "order item", "订单行", "rendelés tétel"),
    _c("sku", "text", False, "item code", "product", "product code", "product id", "stock code",
       "article", "物料", "cikkszám"),
    _c("description", "text", False, "desc", "item description", "line description", "memo",
       "memo description", "明细名称", "描述", "品名", "megnevezés"),
    _c("quantity", "qty", False, "qty", "数量", "mennyiség"),
    _c("unit_price", "money", False, "price", "unit price", "rate", "item cost", "unit cost",
       "单价", "egységár"),
    _c("discount", "money", False, "disc", "rebate", "discount amount", "折扣", "kedvezmény",
       "engedmény"),
    _c("tax", "money", False, "vat", "gst", "tax amount", "税额", "税费", "增值税", "áfa", "adó"),
    _c("amount", "money", True, *AMOUNT_SYN, strong=AMOUNT_STRONG),
    _c("currency", "text", False, *CURRENCY_SYN),
    _c("kind", "text", False, "type", "document type", "doc type", "transaction type", "类型",
       "típus", "bizonylat típus"),
    _c("applies_to", "id", False, "credits", "credit for", "original invoice", "reference invoice",
       "return against", "原发票", "原发票号", "helyesbített számla", "eredeti számla"),
), required_table=True, synonyms=("invoices", "invoice", "invoice lines", "billing", "bills",
                                  "sales invoices", "ar", "发票", "发票明细", "开票", "számlák",
                                  "számla tételek", "számlatételek"),
   neutral=("invoice", "inv", "line", "item", "document", "doc", "bill", "sales", "the",
            "számla", "tétel"))

PAYMENTS = Table("payments", (
    _c("payment_id", "id", True, "payment", "payment no", "payment #", "payment number",
       "receipt", "receipt no", "transaction id", "transaction number", "txn id", "remittance id", "收款单号", "付款编号", "回款单号",
       "befizetés", "befizetés azonosító", "tranzakció azonosító", "bizonylatszám"),
    _c("customer_id", "id", True, *CUSTOMER_ID_SYN, weak=CUSTOMER_NAME_WEAK),
    _c("payment_date", "date", True, "date", "paid", "paid date", "paid at", "date paid", "receipt date", "value date",
       "settled date", "settleddate", "收款日期", "到账日期", "付款日期", "fizetés dátuma",
       "teljesítés dátuma", "jóváírás dátuma"),
    _c("amount", "money", True, "amount paid", "paid amount", "payment amount", "received",
       "收款金额", "金额", "befizetett összeg", "összeg"),
    _c("currency", "text", False, *CURRENCY_SYN),
    _c("method", "text", False, "payment method", "channel", "means", "付款方式", "fizetési mód"),
    _c("reference", "text", False, "remittance", "remittance info", "memo", "note", "ref",
       "narrative", "description", "备注", "摘要", "附言", "közlemény", "megjegyzés"),
    _c("invoice_no", "id", False, *INVOICE_NO_SYN, weak=INVOICE_NO_WEAK),
    _c("line_code", "id", False, *LINE_CODE_SYN),
), synonyms=("payments", "payment", "receipts", "cash receipts", "remittances",
                                  "collections", "bank", "收款", "回款", "付款", "befizetések",
                                  "kifizetések", "pénzmozgások"),
   neutral=("payment", "receipt", "the", "befizetés"))

FX_RATES = Table("fx_rates", (
    _c("date", "date", True, "rate date", "日期", "dátum"),
    _c("currency", "text", True, *CURRENCY_SYN),
    _c("rate", "rate", True, "fx rate", "exchange rate", "汇率", "árfolyam"),
), synonyms=("fx_rates", "fx", "rates", "exchange rates", "currency rates", "汇率", "árfolyamok"))

TABLES: dict[str, Table] = {t.name: t for t in (CUSTOMERS, ORDERS, INVOICES, PAYMENTS, FX_RATES)}
TABLE_ORDER = list(TABLES)

# A bank account's transactions as a bank exports them to CSV (SPEC §17). Not a workbook table:
# billing.tabular finds its header row and columns with the same matching as the tables above
# (`table_of`), connectors/bank/csv.py turns the rows into bank entries. German (Sparkasse,
# Volksbank: ASCII spellings too), Hungarian (Erste, OTP, K&H) and English bank headers.
BANK = Table("bank", (
    _c("booking_date", "date", True, "booking date", "date", "transaction date", "posting date",
       "buchungstag", "buchungsdatum", "datum", "tranzakció dátuma", "könyvelés dátuma",
       "könyvelési dátum", "dátum", "记账日期", "交易日期"),
    _c("value_date", "date", False, "value date", "valuta", "valutadatum", "wertstellung",
       "értéknap", "起息日"),
    _c("amount", "money", True, "amount", "betrag", "umsatz", "tranzakció összege", "összeg",
       "金额", "交易金额"),
    _c("currency", "text", False, *CURRENCY_SYN, "waehrung", "währung", "tranzakció devizaneme"),
    _c("direction", "text", False, "debit credit", "credit debit", "soll haben", "bevétel kiadás",
       "jóváírás terhelés", "借贷"),
    _c("payer_name", "text", False, "payer", "payee", "counterparty", "name", "beguenstigter zahlungspflichtiger",
       "begünstigter zahlungspflichtiger", "auftraggeber empfaenger", "auftraggeber empfänger",
       "name zahlungsbeteiligter", "partner neve", "partner", "ellenoldali név", "对方户名"),
    _c("payer_iban", "id", False, "iban", "counterparty iban", "payer iban", "kontonummer iban",
       "iban zahlungsbeteiligter", "kontonummer", "partner számlaszáma", "ellenoldali számlaszám",
       "对方账号"),
    _c("remittance", "text", False, "remittance", "reference", "purpose", "description", "details",
       "verwendungszweck", "közlemény", "megjegyzés", "摘要", "附言"),
    _c("end_to_end_id", "id", False, "end to end", "end to end id", "end to end reference",
       "kundenreferenz end to end", "kundenreferenz"),
    _c("entry_ref", "id", False, "transaction id", "bank reference", "entry reference",
       "megbízás azonosító", "tranzakció azonosító", "交易流水号"),
    _c("account", "id", False, "account", "own account", "auftragskonto", "számlaszám", "本方账号"),
    _c("status", "text", False, "status", "info", "state"),
    _c("bank_text", "text", False, "booking text", "transaction type", "buchungstext",
       "tranzakció típusa", "交易类型"),
), synonyms=("bank", "transactions", "umsaetze", "umsätze", "tranzakciók"),
   neutral=("transaction", "the", "tranzakció"))

# Tables that are matched like the ones above but are not part of a workbook import.
EXTRA_TABLES: dict[str, Table] = {BANK.name: BANK}


def table_of(name: str) -> Table:
    """The canonical table called `name`: a workbook table or one of EXTRA_TABLES."""
    return TABLES[name] if name in TABLES else EXTRA_TABLES[name]

# Required columns a sheet may lack because they can be derived: (table, column) -> the columns
# they are derived from (billing.ingest does it). An invoice line's amount is quantity ×
# unit_price − discount + tax; a payment without an id column is named after its sheet row;
# a payment without a customer column takes the customer of the invoice it names.
DERIVED_FROM: dict[tuple[str, str], tuple[str, ...]] = {
    ("invoices", "amount"): ("quantity", "unit_price"),
    ("payments", "payment_id"): (),
    ("payments", "customer_id"): ("invoice_no",),
}

# First texts that mark a row holding totals or subtotals rather than data ("Total for Acme
# Ltd" starts with one); matched as words, case-insensitively, by billing.tabular.
TOTAL_MARKERS = ("total", "totals", "grand total", "subtotal", "sub total", "sum", "合计", "总计",
                 "小计", "összesen", "mindösszesen", "végösszeg", "részösszeg")

INVOICE_KINDS = {
    "invoice": "invoice", "inv": "invoice", "发票": "invoice", "számla": "invoice",
    "credit_note": "credit_note", "credit note": "credit_note", "credit": "credit_note",
    "cn": "credit_note", "creditnote": "credit_note", "红字发票": "credit_note",
    "贷项通知单": "credit_note", "jóváírás": "credit_note", "helyesbítő": "credit_note",
    "helyesbítő számla": "credit_note", "stornó": "credit_note",
    "credit memo": "credit_note", "creditmemo": "credit_note", "return": "credit_note",
}

TRUE_WORDS = {"y", "yes", "true", "1", "x", "blocked", "是", "对", "igen", "i", "t", "on"}
FALSE_WORDS = {"", "n", "no", "false", "0", "否", "nem", "f", "off"}

_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def header_key(text: object) -> str:
    """Normalise a header for matching: NFKC, case-folded, spaces and punctuation removed.

    `#` survives as "no" so "Invoice #" and "Invoice No" meet.
    """
    s = unicodedata.normalize("NFKC", str(text)).casefold().replace("#", "no")
    return _PUNCT.sub("", s)


def _keys(names: tuple[str, ...]) -> set[str]:
    return {header_key(n) for n in names}


def column_keys(table: Table) -> dict[str, set[str]]:
    """Header keys that name each column of `table` (its own name first)."""
    return {c.name: _keys((c.name, *c.synonyms)) for c in table.columns}


def table_keys(table: Table) -> set[str]:
    """Sheet-name keys that name `table`."""
    return _keys((table.name, *table.synonyms))


_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_PAREN_CODE = re.compile(r"\(\s*[A-Z]{3}\s*\)")  # "Total (EUR)": a currency label, not a word
_WORD_SPLIT = re.compile(r"[\W_]+", re.UNICODE)
_CJK_CHAR = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def header_tokens(text: object) -> tuple[str, ...]:
    """The words of a header: NFKC, camelCase split ("InvoiceNo"), case-folded, `#` as "no".

    Words are what synonyms match ("Item Name" holds the words item, name, so the synonym
    "item" of no column matches it unless "name" is a neutral word). Chinese runs stay one
    word; they are matched by containment instead (no spaces between words).
    """
    s = _PAREN_CODE.sub(" ", unicodedata.normalize("NFKC", str(text)))
    s = _CAMEL.sub(" ", s).casefold().replace("#", " no ")
    return tuple(w for w in _WORD_SPLIT.split(s) if w)


def is_cjk(text: str) -> bool:
    return bool(_CJK_CHAR.search(text))


@dataclass(frozen=True)
class Synonym:
    """One way of naming a column: its key (exact match), its words, and its tier."""

    column: str
    key: str
    words: tuple[str, ...]
    tier: int  # +1 strong, 0 plain, -1 weak


def column_synonyms(table: Table) -> list[Synonym]:
    """Every synonym of every column of `table` (the column's own name is a plain one)."""
    out = []
    for c in table.columns:
        for tier, names in ((0, (c.name, *c.synonyms)), (1, c.strong), (-1, c.weak)):
            for n in names:
                out.append(Synonym(c.name, header_key(n), header_tokens(n), tier))
    return out
