"""Deterministic demo data: the workbook a small wholesaler's AR desk would keep.

`generate_demo(seed, n_lines, as_of)` returns the five source tables
(customers, orders, invoices, payments, fx_rates) the way a spreadsheet holds
them: canonical column names (billing.schema), money as floats in major units
with no more decimals than the currency has (1234.5, HUF whole forints),
dates as `datetime.date`, identifiers as strings (customer and order ids keep
their leading zeros: "0010042", "0000110317"), `line_no` as ints and blanks
as missing values. It is NOT normalised data: it is what `billing.ingest`
reads.

Everything comes from one `numpy.random.default_rng(seed)` stream and is
built column-wise, so the same arguments give identical frames and a
million-line book takes a few seconds.

The book is realistic (about 18 months of invoices, 1-8 lines each, customers
in English, Chinese and Hungarian with USD/EUR/HUF/CNY accounts, late payers,
credit notes, partial and unreferenced payments, line-code remittances) and
carries a handful of deliberately planted problems, one group per
reconciliation exception type of SPEC §6. `demo_plants()` (or
`generate_demo_with_plants()`) returns their keys; see `PLANT_KEYS` for what a
key is for each type.

`template_tables()` / `template_instructions()` describe the empty workbook a
user downloads to fill in.
"""
from __future__ import annotations

import datetime as dt
import unicodedata

import numpy as np
import pandas as pd

from billing.linecode import is_valid, make_code, make_codes
from billing.model import Dataset, RawSheet, RawWorkbook
from billing.schema import TABLE_ORDER, TABLES

DEFAULT_SEED = 7
DEFAULT_LINES = 6000
DEFAULT_AS_OF = "2026-06-30"
MIN_LINES = 1000

EXCEPTION_TYPES = (
    "UNBILLED", "BILLING_BLOCKED", "OVERBILLED_QTY", "PRICE_MISMATCH", "LINE_TOTAL_MISMATCH",
    "BILLED_BEFORE_DELIVERY", "ORPHAN_INVOICE_LINE", "DUPLICATE_LINE", "DUPLICATE_LINE_CODE",
    "BAD_REFERENCE", "UNKNOWN_CUSTOMER", "CURRENCY_MISMATCH", "UNAPPLIED_CASH", "SHORT_PAID",
)

# What a planted key is, per exception type.
PLANT_KEYS: dict[str, str] = {
    "UNBILLED": "(order_id, order_line) of a delivered order line billed short or not at all",
    "BILLING_BLOCKED": "(order_id, order_line) of every order line with a billing_block reason",
    "OVERBILLED_QTY": "line code of the invoice line billing more than the order line's quantity",
    "PRICE_MISMATCH": "line code of the invoice line whose unit price differs from the order's",
    "LINE_TOTAL_MISMATCH": "line code of the line whose amount != qty x price - discount + tax",
    "BILLED_BEFORE_DELIVERY": "line code of the line invoiced before its order line's delivery",
    "ORPHAN_INVOICE_LINE": "line code of the line naming an order line missing from orders",
    "DUPLICATE_LINE": "(invoice_no, line_no) present twice in the invoices table",
    "DUPLICATE_LINE_CODE": "the user-supplied line_code value that two different lines carry",
    "BAD_REFERENCE": "payment_id whose line_code / reference / invoice_no names nothing valid",
    "UNKNOWN_CUSTOMER": "customer_id with an invoice and a payment but no row in customers",
    "CURRENCY_MISMATCH": "payment_id of a EUR payment referencing a USD invoice",
    "UNAPPLIED_CASH": "payment_id of an overpayment or of a payment from a customer with nothing open",
    "SHORT_PAID": "invoice_no referenced by a payment that left it partly open",
}

# Currencies: ISO code, USD per unit (rough), rounding unit in minor units
# (HUF is invoiced in whole forints though ISO gives it 2 decimals).
_CCY = np.array(["USD", "EUR", "HUF", "CNY"], dtype=object)
_USD_PER = np.array([1.0, 1.08, 1 / 360.0, 1 / 7.15])
_UNIT = np.array([1, 1, 100, 1], dtype=np.int64)
_DIGITS = 2  # all four currencies have 2 minor digits (ISO 4217)
_SCALE = 10 ** _DIGITS

_EN_SURNAMES = (
    "Harper", "Whitfield", "Caldwell", "Brennan", "Thornton", "Ashford", "Holloway", "Prescott",
    "Langley", "Mercer", "Sterling", "Bradford", "Fairbanks", "Carrington", "Hastings", "Redmond",
    "Kingsley", "Maddox", "Sullivan", "Donovan", "Gallagher", "Abbott", "Barlow", "Chandler",
    "Dalton", "Easton", "Fletcher", "Garrison", "Hadley", "Ingram", "Jarvis", "Keating", "Lambert",
    "Monroe", "Norwood", "Oakley", "Pemberton", "Quinn", "Radcliffe", "Sheffield", "Tillman",
    "Underwood", "Vance", "Whitaker", "York",
)
_EN_PLACES = (
    "Blue Ridge", "Summit", "Northstar", "Lakeside", "Pinecrest", "Riverbend", "Ironwood",
    "Silver Creek", "Granite", "Harbor", "Prairie", "Cascade", "Evergreen", "Red Rock", "Bayview",
    "Westfield", "Oak Valley", "Crescent", "Atlas", "Keystone",
)
_EN_TRADES = (
    "Logistics", "Supply", "Industries", "Manufacturing", "Distribution", "Hardware", "Foods",
    "Packaging", "Electric", "Plastics", "Machinery", "Textiles", "Building Products",
    "Medical Supplies", "Auto Parts", "Office Solutions", "Chemicals", "Components",
)
_EN_SUFFIXES = ("Inc.", "LLC", "Ltd", "Co.", "Corp.", "Group")
_EN_AREA = ("212", "312", "415", "617", "713", "206", "303", "404", "602", "614", "702", "919")

_ZH_CITIES = (("上海", "sh", "021"), ("北京", "bj", "010"), ("深圳", "sz", "0755"),
              ("广州", "gz", "020"), ("杭州", "hz", "0571"), ("苏州", "suzhou", "0512"),
              ("南京", "nj", "025"), ("天津", "tj", "022"), ("成都", "cd", "028"),
              ("武汉", "wh", "027"), ("宁波", "nb", "0574"), ("青岛", "qd", "0532"),
              ("厦门", "xm", "0592"), ("重庆", "cq", "023"), ("西安", "xa", "029"),
              ("无锡", "wx", "0510"))
_ZH_BRANDS = (("华联", "hualian"), ("恒通", "hengtong"), ("鑫源", "xinyuan"), ("宏达", "hongda"),
              ("金盛", "jinsheng"), ("永泰", "yongtai"), ("瑞丰", "ruifeng"), ("东方", "dongfang"),
              ("新宇", "xinyu"), ("天成", "tiancheng"), ("博远", "boyuan"), ("中信", "zhongxin"),
              ("长城", "changcheng"), ("海纳", "haina"), ("嘉禾", "jiahe"), ("明辉", "minghui"))
_ZH_TRADES = ("贸易", "科技", "电子", "机械", "物流", "化工", "五金", "纺织", "建材", "实业", "包装",
              "医疗器械")
_ZH_SUFFIXES = ("有限公司", "股份有限公司")

_HU_SURNAMES = ("Kovács", "Szabó", "Tóth", "Horváth", "Varga", "Kiss", "Molnár", "Németh",
                "Farkas", "Balogh", "Papp", "Takács", "Juhász", "Lakatos", "Mészáros", "Oláh",
                "Simon", "Rácz", "Fekete", "Szilágyi")
_HU_PLACES = ("Duna", "Tisza", "Mátra", "Balaton", "Alföld", "Pannon", "Hungária", "Bakony",
              "Zemplén", "Dráva")
_HU_TRADES = ("Építő", "Kereskedelmi", "Logisztikai", "Gépipari", "Fémipari", "Elektronikai",
              "Műanyagipari", "Szolgáltató", "Élelmiszeripari", "Nyomdaipari")

_OWNERS = (("Sarah Johnson", "David Miller", "Emily Carter"), ("Li Wei", "Zhang Min"),
           ("Kovács Anna", "Nagy Péter"))
_SEGMENTS = np.array(["Enterprise", "Mid-market", "SMB", "Distributor", "Public sector"], dtype=object)
# Postal addresses per language (en, zh, hu), picked by customer number so the random draws stay
# as they were: street, postcode, city, region, country (the parts contact exports have).
_STREETS = (np.array(["Main Street", "Oak Avenue", "Lake Road", "Market Street", "Hill Drive"], dtype=object),
            np.array(["浦东新区世纪大道", "徐汇区漕溪北路", "海淀区中关村大街", "天河区体育西路", "西湖区文三路"], dtype=object),
            np.array(["Váci utca", "Andrássy út", "Petőfi Sándor utca", "Kossuth Lajos tér", "Fő utca"], dtype=object))
_TOWNS = ((("62704", "Springfield", "IL"), ("60601", "Chicago", "IL"), ("10001", "New York", "NY")),
          (("200120", "上海市", ""), ("100080", "北京市", ""), ("510620", "广州市", "")),
          (("1052", "Budapest", ""), ("6720", "Szeged", ""), ("4024", "Debrecen", "")))
_COUNTRIES = np.array(["United States", "中国", "Magyarország"], dtype=object)


def _addresses(lang: np.ndarray) -> dict[str, np.ndarray]:
    """Address columns for customers of languages `lang` (0 en, 1 zh, 2 hu), varied by position."""
    i = np.arange(len(lang))
    number = (i * 7 % 180 + 1).astype(str).astype(object)
    street = np.empty(len(lang), dtype=object)
    postcode, city, region = (np.empty(len(lang), dtype=object) for _ in range(3))
    for k in range(3):
        own = lang == k
        street[own] = _STREETS[k][i[own] % len(_STREETS[k])]
        street[own] = (street[own] + number[own] + "号") if k == 1 else (
            number[own] + " " + street[own] if k == 0 else street[own] + " " + number[own] + ".")
        towns = np.array(_TOWNS[k], dtype=object)[i[own] % len(_TOWNS[k])]
        postcode[own], city[own], region[own] = towns[:, 0], towns[:, 1], towns[:, 2]
    region[region == ""] = None
    return {"address": street, "address_2": np.full(len(lang), None, dtype=object), "city": city,
            "postcode": postcode, "region": region, "country": _COUNTRIES[lang]}
_SEG_P = (0.10, 0.30, 0.45, 0.10, 0.05)
_SEG_VOLUME = np.array([6.0, 2.0, 1.0, 4.0, 1.5])
_SEG_LIMIT_USD = np.array([250_000, 75_000, 15_000, 150_000, 50_000])

_PRODUCTS = (  # (English, Chinese, Hungarian, SKU prefix)
    ("Steel bracket", "钢支架", "Acél konzol", "SB"),
    ("Hex bolt", "六角螺栓", "Hatlapfejű csavar", "HB"),
    ("Cable tie", "扎带", "Kábelkötegelő", "CT"),
    ("Copper wire", "铜线", "Rézhuzal", "CW"),
    ("LED panel", "LED面板", "LED panel", "LP"),
    ("Safety gloves", "安全手套", "Védőkesztyű", "SG"),
    ("Pallet wrap", "缠绕膜", "Raklapfólia", "PW"),
    ("Hydraulic hose", "液压软管", "Hidraulikus tömlő", "HH"),
    ("Ball bearing", "滚珠轴承", "Golyóscsapágy", "BB"),
    ("Circuit breaker", "断路器", "Megszakító", "CB"),
    ("PVC pipe", "PVC管", "PVC cső", "PP"),
    ("Primer paint", "底漆", "Alapozó festék", "PR"),
    ("Office chair", "办公椅", "Irodai szék", "OC"),
    ("Printer toner", "打印机墨粉", "Nyomtatótoner", "PT"),
    ("Cardboard box", "纸箱", "Kartondoboz", "CX"),
    ("Air filter", "空气过滤器", "Légszűrő", "AF"),
    ("Drill bit set", "钻头套装", "Fúrószár készlet", "DB"),
    ("Work boots", "工作靴", "Munkavédelmi bakancs", "WB"),
    ("Aluminium profile", "铝型材", "Alumínium profil", "AP"),
    ("Sensor module", "传感器模块", "Érzékelő modul", "SM"),
    ("Lubricant oil", "润滑油", "Kenőolaj", "LO"),
    ("Welding rod", "焊条", "Hegesztőpálca", "WR"),
    ("Solar cable", "光伏电缆", "Napelem kábel", "SC"),
    ("Conveyor belt", "输送带", "Szállítószalag", "CV"),
)
_VARIANTS = ("10 mm", "25 mm", "50 mm", "M8", "M10", "Type A", "Type B", "1 m", "5 m", "XL")
_FREIGHT_DESC = ("Freight and handling", "运费", "Szállítási díj")
_FREIGHT_PRICE = np.array([4500, 4000, 1_500_000, 30000], dtype=np.int64)  # minor units
_RETURN_PREFIX = ("Return: ", "退货 ", "Visszáru: ")

_BLOCK_REASONS = np.array(["Credit hold", "Awaiting PO", "Disputed price", "Missing tax number",
                           "Awaiting proof of delivery"], dtype=object)
_KINDS = np.array(["invoice", "credit_note"], dtype=object)
_LINE_VOCAB = np.array([str(10 * k) for k in range(100)], dtype=object)   # order_line "10", "20", ...
_BLOCK_P = (0.35, 0.30, 0.20, 0.10, 0.05)

# Paying behaviour: (mean days after due, sd, probability an invoice is never paid)
_DELAY_CATS = np.array([[-2, 4, 0.003], [10, 8, 0.008], [25, 12, 0.02], [70, 30, 0.05],
                        [140, 45, 0.15]])
_DELAY_P = (0.45, 0.30, 0.15, 0.07, 0.03)
# How a customer remits: 0 invoice_no column, 1 invoice number in the reference text,
# 2 line codes, 3 nothing (applied FIFO).
_STYLE_P = (0.55, 0.12, 0.13, 0.20)
_LINE_COUNT_P = (0.22, 0.20, 0.16, 0.13, 0.10, 0.08, 0.06, 0.05)

_METHODS = {0: (("ACH", "Wire", "Check", "Card"), (0.5, 0.25, 0.2, 0.05)),
            1: (("SEPA transfer", "Wire"), (0.85, 0.15)),
            2: (("Átutalás", "Bank transfer"), (0.7, 0.3)),
            3: (("Bank transfer", "电汇"), (0.6, 0.4))}

_REF_INVOICE = (("", "Payment {inv}", "Inv {inv}", "{inv}"), ("", "货款 {inv}", "{inv} 付款"),
                ("", "{inv} számla kiegyenlítése", "Számla {inv}"))
_REF_TEXT = (("Remittance advice {inv}", "Payment of invoice {inv}", "{inv} settlement"),
             ("支付发票 {inv}", "发票 {inv} 货款"), ("Számla: {inv}", "{inv} kiegyenlítése"))
_REF_NONE = (("", "ACH transfer", "Wire transfer", "Payment on account", "Monthly settlement"),
             ("", "银行转账", "货款"), ("", "Átutalás", "Számlák kiegyenlítése"))
_REF_LINE = ("Remittance {code} thanks", "付款 {code}", "Utalás {code}")
_REF_ADVANCE = ("Advance payment", "预付款", "Előleg")


# ----------------------------------------------------------------------------- public API

def generate_demo(seed: int = DEFAULT_SEED, n_lines: int = DEFAULT_LINES,
                  as_of: str = DEFAULT_AS_OF) -> dict[str, pd.DataFrame]:
    """The demo source tables, keyed customers, orders, invoices, payments, fx_rates.

    `n_lines` is the exact number of rows of the invoices table (credit notes
    and the planted duplicate rows included); it must be at least MIN_LINES.
    """
    return generate_demo_with_plants(seed, n_lines, as_of)[0]


def demo_plants(seed: int = DEFAULT_SEED, n_lines: int = DEFAULT_LINES,
                as_of: str = DEFAULT_AS_OF) -> dict[str, list]:
    """Keys of the planted problems per SPEC §6 exception type (see PLANT_KEYS)."""
    return generate_demo_with_plants(seed, n_lines, as_of)[1]


def generate_demo_with_plants(seed: int = DEFAULT_SEED, n_lines: int = DEFAULT_LINES,
                              as_of: str = DEFAULT_AS_OF
                              ) -> tuple[dict[str, pd.DataFrame], dict[str, list]]:
    """`generate_demo` and `demo_plants` from one generation pass."""
    if int(n_lines) < MIN_LINES:
        raise ValueError(f"n_lines must be at least {MIN_LINES} (got {n_lines})")
    return _Builder(int(seed), int(n_lines), np.datetime64(str(as_of), "D")).build()


def demo_dataset(seed: int = DEFAULT_SEED, n_lines: int = DEFAULT_LINES, as_of: str = DEFAULT_AS_OF,
                 source: str = "demo.xlsx") -> Dataset:
    """The demo normalised (billing.ingest), straight from the generated tables.

    Equal to writing the demo workbook and reading it back (tests/billing/test_demo.py checks
    that), without the file: the cells are what a workbook reader gives for it.
    """
    from billing.ingest import build_dataset

    return build_dataset(demo_workbook(seed, n_lines, as_of, source))


def demo_workbook(seed: int = DEFAULT_SEED, n_lines: int = DEFAULT_LINES, as_of: str = DEFAULT_AS_OF,
                  source: str = "demo.xlsx") -> RawWorkbook:
    """The demo's raw cells, one sheet per table, header in row 1, as its workbook holds them."""
    tables = generate_demo(seed, n_lines, as_of)
    return RawWorkbook(source=source, sheets=[RawSheet(name=name, cells=_sheet_cells(frame))
                                              for name, frame in tables.items()])


def _sheet_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """A table as workbook cells: the header row, then numbers as floats, dates as datetimes, blanks NaN."""
    columns = {}
    for j, col in enumerate(frame.columns):
        values = frame[col]
        if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
            body = values.astype("float64").to_numpy(dtype=object)
        else:
            body = values.to_numpy(dtype=object).copy()
            dates = np.array([isinstance(v, dt.date) for v in body], dtype=bool)
            body[dates] = [dt.datetime(v.year, v.month, v.day) for v in body[dates]]
            body[pd.isna(values).to_numpy()] = np.nan
        columns[j] = np.concatenate([np.array([col], dtype=object), body])
    return pd.DataFrame(columns)


# ----------------------------------------------------------------------------- helpers

def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _dates(days: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """datetime64[D] -> object array of datetime.date (None where not valid)."""
    out = np.asarray(days, dtype="datetime64[D]").astype(object)
    if valid is not None:
        out[~valid] = None
    return out


def _take(vocab: np.ndarray, idx: np.ndarray) -> pd.Series:
    """A pandas string column vocab[idx], missing where idx < 0 (one arrow take, no objects)."""
    arr = pd.array(np.asarray(vocab, dtype=object), dtype="str")
    return pd.Series(arr.take(np.asarray(idx, dtype=np.int64), allow_fill=True))


def _major(minor: np.ndarray) -> np.ndarray:
    return np.asarray(minor, dtype=np.int64) / _SCALE


def _bday_back(d: np.ndarray) -> np.ndarray:
    return np.busday_offset(d.astype("datetime64[D]"), 0, roll="backward")


def _bday_fwd(d: np.ndarray) -> np.ndarray:
    return np.busday_offset(d.astype("datetime64[D]"), 0, roll="forward")


def _seq_numbers(prefix: str, days: np.ndarray) -> np.ndarray:
    """Document numbers like INV-2025-000123, numbered per year in the given (date) order."""
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    order = np.arange(len(days))
    seq = np.empty(len(days), dtype=np.int64)
    for y in np.unique(years):
        idx = order[years == y]
        seq[idx] = np.arange(1, len(idx) + 1)
    return np.array([f"{prefix}-{y}-{s:06d}" for y, s in zip(years.tolist(), seq.tolist())],
                    dtype=object)


def _typo(code: str, rng: np.random.Generator) -> str:
    """`code` with one digit of its invoice-number part changed: a check-character failure."""
    start = code.rfind("-", 0, len(code) - 5)          # the invoice's sequence number onwards
    digits = [i for i in range(start + 1, len(code) - 1) if code[i].isdigit()]
    for _ in range(50):
        i = digits[int(rng.integers(len(digits)))]
        new = str((int(code[i]) + int(rng.integers(1, 10))) % 10)
        out = code[:i] + new + code[i + 1:]
        if not is_valid(out):
            return out
    raise AssertionError("could not make a typo")  # pragma: no cover - MOD 37,36 catches all


# ----------------------------------------------------------------------------- the builder

class _Builder:
    def __init__(self, seed: int, n_lines: int, as_of: np.datetime64) -> None:
        self.rng = np.random.default_rng(seed)
        self.n_lines = n_lines
        self.as_of = as_of
        self.plants: dict[str, list] = {t: [] for t in EXCEPTION_TYPES}

    # -- customers ---------------------------------------------------------------------
    def customers(self) -> None:
        rng = self.rng
        n = max(300, self.n_lines // 20)
        # one phantom customer (index n) for UNKNOWN_CUSTOMER: it gets invoices but no master row
        lang = rng.choice(3, size=n + 1, p=[0.55, 0.20, 0.25])
        r = rng.random(n + 1)
        ccy = np.select([lang == 0, lang == 1], [np.where(r < 0.8, 0, 1), np.where(r < 0.7, 0, 3)],
                        np.where(r < 0.7, 2, 1))
        lang[n], ccy[n] = 0, 0
        names = np.empty(n, dtype=object)
        emails = np.empty(n, dtype=object)
        phones = np.empty(n, dtype=object)
        for code, build in ((0, self._en_names), (1, self._zh_names), (2, self._hu_names)):
            idx = np.flatnonzero(lang[:n] == code)
            nm, em, ph = build(len(idx))
            names[idx], emails[idx], phones[idx] = nm, em, ph
        emails[rng.random(n) < 0.04] = None
        phones[rng.random(n) < 0.05] = None
        seg = rng.choice(len(_SEGMENTS), size=n + 1, p=_SEG_P)
        terms = rng.choice(np.array([15, 30, 45, 60]), size=n + 1, p=[0.1, 0.5, 0.2, 0.2])
        owner = np.empty(n, dtype=object)
        for code, people in enumerate(_OWNERS):
            idx = np.flatnonzero(lang[:n] == code)
            owner[idx] = np.array(people, dtype=object)[rng.integers(len(people), size=len(idx))]
        limit_major = _SEG_LIMIT_USD[seg[:n]] * rng.choice([0.5, 1.0, 2.0], size=n) / _USD_PER[ccy[:n]]
        step = np.where(ccy[:n] == 2, 100_000, 1000)
        credit_limit = np.round(limit_major / step) * step
        dunning = rng.random(n) < 0.03
        # tax rate by currency/country: US sales tax for some, EU reverse charge or 20 %,
        # Hungarian 27 % VAT, Chinese 13 % VAT
        rr = rng.random(n + 1)
        tax = np.select([ccy == 0, ccy == 1, ccy == 2], [np.where(rr < 0.3, 0.0825, 0.0),
                        np.where(rr < 0.5, 0.0, 0.20), np.full(n + 1, 0.27)], 0.13)
        volume = rng.lognormal(0.0, 0.9, size=n + 1) * _SEG_VOLUME[seg]
        volume[n] = 0.0          # phantom: only the planted invoice
        volume[n - 2:n] = 0.0    # two prospects who only ever pay in advance (UNAPPLIED_CASH)
        delay_cat = rng.choice(len(_DELAY_P), size=n + 1, p=_DELAY_P)
        style = rng.choice(4, size=n + 1, p=_STYLE_P)
        delay_cat[n], style[n], terms[n] = 0, 0, 30
        self.n_cust = n
        self.cust_id = np.array([f"{10001 + i:07d}" for i in range(n + 1)], dtype=object)
        self.cust_id[n] = f"{10001 + n + 17:07d}"
        self.cust_lang, self.cust_ccy, self.cust_terms = lang, ccy, terms
        self.cust_tax, self.cust_volume = tax, volume
        self.cust_delay, self.cust_style = delay_cat, style
        self.customers_df = pd.DataFrame({
            "customer_id": self.cust_id[:n], "name": names, "email": emails, "phone": phones,
            "language": np.array(["en", "zh", "hu"], dtype=object)[lang[:n]],
            "currency": _CCY[ccy[:n]], "payment_terms_days": terms[:n].astype(np.int64),
            "credit_limit": credit_limit.astype(float), "segment": _SEGMENTS[seg[:n]],
            "owner": owner, "dunning_blocked": dunning, **_addresses(lang[:n]),
            "iban": np.full(n, None, dtype=object),  # the demo's customers pay from unknown accounts
        })

    def _combos(self, sizes: tuple[int, ...], k: int) -> np.ndarray:
        """k distinct (while possible) index tuples into a product space of `sizes`."""
        total = int(np.prod(sizes))
        flat = self.rng.choice(total, size=k, replace=k > total)
        return np.stack(np.unravel_index(flat, sizes), axis=1) if k else np.zeros((0, len(sizes)), int)

    def _en_names(self, k: int) -> tuple[list, list, list]:
        rng = self.rng
        a = len(_EN_SURNAMES) + len(_EN_PLACES)
        parts = self._combos((a, len(_EN_TRADES), len(_EN_SUFFIXES)), k)
        names, emails = [], []
        prefixes = ("ap", "accounts", "billing", "finance")
        pre = rng.integers(len(prefixes), size=k)
        for (w, t, s), p in zip(parts.tolist(), pre.tolist()):
            head = _EN_SURNAMES[w] if w < len(_EN_SURNAMES) else _EN_PLACES[w - len(_EN_SURNAMES)]
            names.append(f"{head} {_EN_TRADES[t]} {_EN_SUFFIXES[s]}")
            emails.append(f"{prefixes[p]}@{_ascii(head)}{_ascii(_EN_TRADES[t].split()[0])}.com")
        area = rng.integers(len(_EN_AREA), size=k)
        num = rng.integers(100, 200, size=k)
        phones = [f"({_EN_AREA[a_]}) 555-{n_:04d}" for a_, n_ in zip(area.tolist(), num.tolist())]
        return names, emails, phones

    def _zh_names(self, k: int) -> tuple[list, list, list]:
        rng = self.rng
        parts = self._combos((len(_ZH_CITIES), len(_ZH_BRANDS), len(_ZH_TRADES), len(_ZH_SUFFIXES)), k)
        prefixes = ("finance", "ar", "caiwu")
        pre = rng.integers(len(prefixes), size=k)
        num = rng.integers(5000_0000, 6999_9999, size=k)
        names, emails, phones = [], [], []
        for (c, b, t, s), p, n_ in zip(parts.tolist(), pre.tolist(), num.tolist()):
            city, city_py, area = _ZH_CITIES[c]
            brand, brand_py = _ZH_BRANDS[b]
            names.append(f"{city}{brand}{_ZH_TRADES[t]}{_ZH_SUFFIXES[s]}")
            emails.append(f"{prefixes[p]}@{brand_py}-{city_py}.com.cn")
            phones.append(f"{area}-{n_}")
        return names, emails, phones

    def _hu_names(self, k: int) -> tuple[list, list, list]:
        rng = self.rng
        ns, npl, nt = len(_HU_SURNAMES), len(_HU_PLACES), len(_HU_TRADES)
        # forms: "X és Társa Kft.", "X <trade> Kft.", "<place> <trade> Zrt.", "X <trade> Bt."
        space = ns + ns * nt + npl * nt + ns * nt
        flat = rng.choice(space, size=k, replace=k > space)
        pre = rng.integers(2, size=k)
        mobile = rng.random(k) < 0.4
        a = rng.integers(100, 1000, size=k)
        b = rng.integers(1000, 10000, size=k)
        names, emails, phones = [], [], []
        for f, p, m, a_, b_ in zip(flat.tolist(), pre.tolist(), mobile.tolist(), a.tolist(), b.tolist()):
            if f < ns:
                name, slug = f"{_HU_SURNAMES[f]} és Társa Kft.", _ascii(_HU_SURNAMES[f]) + "estarsa"
            elif f < ns + ns * nt:
                s, t = divmod(f - ns, nt)
                name, slug = f"{_HU_SURNAMES[s]} {_HU_TRADES[t]} Kft.", _ascii(_HU_SURNAMES[s] + _HU_TRADES[t])
            elif f < ns + ns * nt + npl * nt:
                pl, t = divmod(f - ns - ns * nt, nt)
                name, slug = f"{_HU_PLACES[pl]} {_HU_TRADES[t]} Zrt.", _ascii(_HU_PLACES[pl] + _HU_TRADES[t])
            else:
                s, t = divmod(f - ns - ns * nt - npl * nt, nt)
                name, slug = f"{_HU_SURNAMES[s]} {_HU_TRADES[t]} Bt.", _ascii(_HU_SURNAMES[s] + _HU_TRADES[t]) + "bt"
            names.append(name)
            emails.append(f"{('szamla', 'penzugy')[p]}@{slug}.hu")
            phones.append(f"06 30 {a_} {b_}" if m else f"06 1 {a_} {b_}")
        return names, emails, phones

    # -- catalog -------------------------------------------------------------------------
    def catalog(self) -> None:
        rng = self.rng
        n_sku = len(_PRODUCTS) * len(_VARIANTS)
        prod = np.repeat(np.arange(len(_PRODUCTS)), len(_VARIANTS))
        var = np.tile(np.arange(len(_VARIANTS)), len(_PRODUCTS))
        self.sku_code = np.array([f"{_PRODUCTS[p][3]}-{1000 + 37 * p + v}" for p, v in
                                  zip(prod.tolist(), var.tolist())] + ["FREIGHT"], dtype=object)
        self.sku_desc = np.array(
            [[f"{_PRODUCTS[p][lg]} {_VARIANTS[v]}" for p, v in zip(prod.tolist(), var.tolist())]
             + [_FREIGHT_DESC[lg]] for lg in range(3)], dtype=object)        # [lang, sku]
        usd = np.clip(rng.lognormal(3.3, 1.0, size=n_sku), 1.5, 2500.0)
        price = np.empty((4, n_sku + 1), dtype=np.int64)                   # [ccy, sku] minor
        for c in range(4):
            unit = int(_UNIT[c])
            price[c, :n_sku] = np.maximum(np.rint(usd / _USD_PER[c] * _SCALE / unit), 1).astype(np.int64) * unit
            price[c, n_sku] = _FREIGHT_PRICE[c]
        self.sku_price = price
        self.sku_usd = np.append(usd, 45.0)
        pop = 1.0 / np.arange(1, n_sku + 1) ** 0.8
        self.sku_p = rng.permutation(pop / pop.sum())
        self.n_sku = n_sku

    # -- invoices ------------------------------------------------------------------------
    def invoices(self) -> None:
        rng, as_of = self.rng, self.as_of
        est_inv = self.n_lines / 3.42
        self.n_cn = max(3, int(round(0.02 * est_inv)))
        self.n_dup = 2
        n_reg = self.n_lines - self.n_cn - self.n_dup
        counts = rng.choice(np.arange(1, 9), size=int(n_reg / 3.42 * 1.3) + 20, p=_LINE_COUNT_P)
        while counts.sum() < n_reg:  # pragma: no cover - 30 % headroom makes this vanishingly rare
            counts = np.concatenate([counts, rng.choice(np.arange(1, 9), size=100, p=_LINE_COUNT_P)])
        cum = np.cumsum(counts)
        k = int(np.searchsorted(cum, n_reg))
        counts = counts[:k + 1].copy()
        counts[k] = n_reg - (cum[k - 1] if k else 0)
        n_inv = len(counts)
        # dates: ~18 months back, volume growing towards as_of, business days only
        u = rng.random(n_inv)
        t = np.where(rng.random(n_inv) < 0.35, np.sqrt(u), u)
        back = np.rint((1.0 - t) * 547).astype(np.int64)
        days = _bday_back(as_of - back)
        order = np.lexsort((rng.random(n_inv), days))
        days, counts = days[order], counts[order]
        p = self.cust_volume / self.cust_volume.sum()
        cust = rng.choice(len(p), size=n_inv, p=p)
        # the UNKNOWN_CUSTOMER plant: a two-line invoice 40-90 days old goes to the phantom
        cand = np.flatnonzero((counts == 2) & (days <= as_of - 40) & (days >= as_of - 90))
        if len(cand) == 0:
            cand = np.flatnonzero((counts >= 1) & (days <= as_of - 40))
        self.unknown_inv = int(rng.choice(cand))
        cust[self.unknown_inv] = self.n_cust
        self.inv_days, self.inv_cnt, self.inv_cust = days, counts, cust
        self.inv_start = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.n_inv = n_inv
        self.inv_no = _seq_numbers("INV", days)
        self.inv_ccy = self.cust_ccy[cust]
        terms = self.cust_terms[cust]
        self.inv_due = days + terms
        self.inv_has_due = rng.random(n_inv) > 0.05
        self.inv_has_due[self.unknown_inv] = True
        self.inv_freight = (counts >= 2) & (rng.random(n_inv) < 0.12)
        deliv = _bday_back(days - rng.integers(0, 8, size=n_inv))
        self.inv_odate = _bday_back(deliv - rng.integers(2, 30, size=n_inv))

        # lines
        n = n_reg
        li = np.repeat(np.arange(n_inv), counts)
        no = np.arange(n) - np.repeat(self.inv_start, counts) + 1
        freight = self.inv_freight[li] & (no == counts[li])
        sku = rng.choice(self.n_sku, size=n, p=self.sku_p)
        sku[freight] = self.n_sku
        ccy = self.inv_ccy[li]
        price = self.sku_price[ccy, sku]
        mu = 1.8 - 0.35 * np.log(self.sku_usd[sku] / 30.0)
        qty = np.minimum(np.ceil(rng.lognormal(mu, 0.8)), 1000).astype(np.int64)
        qty[freight] = 1
        disc_rate = np.where(rng.random(n) < 0.12, rng.choice([0.02, 0.05, 0.10], size=n), 0.0)
        disc_rate[freight] = 0.0
        self.ln_inv, self.ln_no, self.ln_freight, self.ln_sku = li, no, freight, sku
        self.ln_ccy, self.ln_qty, self.ln_price, self.ln_disc_rate = ccy, qty, price, disc_rate
        self.ln_tax_rate = self.cust_tax[self.inv_cust[li]]
        self.ln_net = np.zeros(n, np.int64)
        self.ln_disc = np.zeros(n, np.int64)
        self.ln_tax = np.zeros(n, np.int64)
        self.ln_amount = np.zeros(n, np.int64)
        self.recompute(np.arange(n))
        # order side of each line (regular lines bill their order line exactly)
        self.ln_oqty = qty.copy()
        self.ln_oprice = price.copy()
        self.ln_deliv = deliv[li].copy()
        self.ln_has_order = ~freight & (li != self.unknown_inv)   # the phantom's lines name no order
        self.ln_order_kept = self.ln_has_order.copy()    # False = order row deleted (ORPHAN plant)
        self.ln_code_given = np.full(n, None, dtype=object)
        self.n_reg = n

    def recompute(self, idx: np.ndarray) -> None:
        """net, discount, tax and amount of lines `idx` from their qty, price and rates."""
        unit = _UNIT[self.ln_ccy[idx]]
        net = self.ln_qty[idx] * self.ln_price[idx]
        disc = np.rint(net * self.ln_disc_rate[idx] / unit).astype(np.int64) * unit
        tax = np.rint((net - disc) * self.ln_tax_rate[idx] / unit).astype(np.int64) * unit
        self.ln_net[idx], self.ln_disc[idx], self.ln_tax[idx] = net, disc, tax
        self.ln_amount[idx] = net - disc + tax

    # -- how each invoice gets paid ----------------------------------------------------------
    def payment_plan(self) -> None:
        rng, as_of, n_inv = self.rng, self.as_of, self.n_inv
        cat = self.cust_delay[self.inv_cust]
        mean, sd, p_never = _DELAY_CATS[cat, 0], _DELAY_CATS[cat, 1], _DELAY_CATS[cat, 2]
        delay = np.rint(mean + sd * rng.standard_normal(n_inv)).astype(np.int64)
        # ~4 % of invoices are held up (queried, lost, approval) whoever the customer is
        held = rng.random(n_inv) < 0.04
        delay = np.where(held, rng.integers(40, 200, size=n_inv), delay)
        pay = np.maximum(self.inv_due + delay, self.inv_days + 3)
        self.inv_style = self.cust_style[self.inv_cust]
        self.inv_never = rng.random(n_inv) < p_never
        self.inv_never[self.unknown_inv] = False
        pay[self.unknown_inv] = self.inv_due[self.unknown_inv] + 4
        # aging seeds: in each currency, one invoice per overdue bucket is still waiting, so
        # every bucket shows up even in a small book (remitting customers: FIFO can't move it)
        dpd = (as_of - self.inv_due).astype(np.int64)
        total_usd = np.add.reduceat(self.ln_amount, self.inv_start) * _USD_PER[self.inv_ccy]
        small = total_usd <= np.median(total_usd)
        self.seed_inv: list[int] = []
        for c in range(len(_CCY)):
            for lo, hi in ((1, 30), (31, 60), (61, 90), (91, 120), (121, 400)):
                ok = (self.inv_ccy == c) & (dpd >= lo) & (dpd <= hi) & (self.inv_cust < self.n_cust)
                for mask in (ok & (self.inv_style <= 2) & small, ok & (self.inv_style <= 2), ok):
                    cand = np.flatnonzero(mask)
                    if len(cand):
                        seed_inv = int(rng.choice(cand))
                        pay[seed_inv] = as_of + int(rng.integers(5, 60))
                        self.inv_has_due[seed_inv] = True
                        self.seed_inv.append(seed_inv)
                        break
        # installments: two payments referencing the invoice
        self.inv_inst = (self.inv_style <= 1) & (rng.random(n_inv) < 0.02)
        self.inv_inst[self.unknown_inv] = False
        gap = rng.integers(15, 40, size=n_inv)
        self.inv_inst_frac = rng.uniform(0.3, 0.7, size=n_inv)
        # credit notes (~2 % of invoices): a return on one line, dated after the invoice and
        # before the customer pays the rest
        pay = _bday_fwd(pay)
        ok = ((self.inv_style <= 1) & ~self.inv_inst & ~self.inv_never & (pay <= as_of)
              & (pay - self.inv_days >= 8))
        ok[self.unknown_inv] = False
        cn_inv = np.sort(rng.choice(np.flatnonzero(ok), size=min(self.n_cn, int(ok.sum())), replace=False))
        self.n_cn = len(cn_inv)
        cn_days = np.minimum(self.inv_days[cn_inv] + rng.integers(3, 30, size=len(cn_inv)), pay[cn_inv] - 3)
        cn_days = np.maximum(_bday_back(cn_days), self.inv_days[cn_inv] + 1)
        self.inv_cn = np.full(n_inv, -1, np.int64)
        self.inv_cn[cn_inv] = np.arange(len(cn_inv))
        self.inv_pay = pay
        self.inv_pay1 = np.where(self.inv_inst, np.maximum(_bday_back(self.inv_pay - gap), self.inv_days + 3),
                                 self.inv_pay)
        self.inv_paid = ~self.inv_never & (self.inv_pay <= as_of)
        self.inv_any_paid = ~self.inv_never & (self.inv_pay1 <= as_of)
        # line-style customers: per-line payments, or one payment naming the first line's code
        self.inv_per_line = (self.inv_style == 2) & (rng.random(n_inv) < 0.6)
        self.inv_unpaid_open = ~self.inv_any_paid
        self.cn_inv, self.cn_days = cn_inv, cn_days
        self.pay_adjust = np.zeros(n_inv, np.int64)      # extra (+) / short (-) on the invoice's payment
        self.pay_ccy = self.inv_ccy.copy()                 # payment currency per invoice
        self.pay_tag = np.full(n_inv, "", dtype=object)    # plant tag of the invoice's (single) payment
        self.pay_invoice_override = np.full(n_inv, None, dtype=object)

    # -- plants --------------------------------------------------------------------------
    def _pick(self, k: int, what: str, *masks: np.ndarray) -> np.ndarray:
        """k unused invoices from the first mask that has enough, preferring customers no other
        plant touches (so one plant's cash can't wander into another's lines)."""
        free = ~self.used_inv & ~self.used_cust[self.inv_cust]
        cand = np.array([], dtype=np.int64)
        for mask in [m & free for m in masks] + [m & ~self.used_inv for m in masks]:
            cand = np.flatnonzero(mask)
            if len(cand) >= k:
                break
        if len(cand) < k:
            raise ValueError(f"demo data too small to plant {what}")
        pick = np.sort(self.rng.choice(cand, size=k, replace=False))
        self.used_inv[pick] = True
        self.used_cust[self.inv_cust[pick]] = True
        return pick

    def _line(self, inv: int, no: int) -> int:
        return int(self.inv_start[inv] + no - 1)

    def plants_(self) -> None:
        rng, as_of = self.rng, self.as_of
        self.used_inv = np.zeros(self.n_inv, bool)
        self.used_inv[self.unknown_inv] = True
        self.used_inv[self.cn_inv] = True
        self.used_cust = np.zeros(self.n_cust + 1, bool)
        self.used_cust[self.n_cust - 2:] = True
        # keep plants (whose cash may go FIFO) away from the aging seeds' customers
        self.used_inv[self.seed_inv] = True
        self.used_cust[self.inv_cust[self.seed_inv]] = True
        days = self.inv_days
        base = ~self.inv_inst & (self.inv_cn < 0)
        old_paid = base & self.inv_paid & (days <= as_of - 45)
        ref_paid = old_paid & (self.inv_style == 0)          # paid by an invoice_no reference
        recent_open = base & self.inv_unpaid_open & (days >= as_of - 20) & (self.inv_style <= 2)
        self.unbilled_extra: list[tuple[int, int, int, int]] = []   # (inv, order_line_no, sku, qty)
        self.dup_lines: list[int] = []

        # OVERBILLED_QTY: invoice quantity over the order's
        for inv in self._pick(2, "OVERBILLED_QTY", ref_paid, old_paid):
            i = self._line(inv, 1)
            self.ln_qty[i] = self.ln_oqty[i] + max(1, int(round(self.ln_oqty[i] * 0.2)))
            self.recompute(np.array([i]))
            self.plants["OVERBILLED_QTY"].append(i)
        # PRICE_MISMATCH: invoice unit price 6-9 % over the order's
        for inv in self._pick(2, "PRICE_MISMATCH", ref_paid & (self.inv_cnt >= 2), ref_paid, old_paid):
            i = self._line(inv, 1)
            if self.inv_cnt[inv] >= 2 and not self.ln_freight[i + 1]:
                i += 1
            unit = int(_UNIT[self.ln_ccy[i]])
            bumped = self.ln_oprice[i] * rng.uniform(1.06, 1.09)
            self.ln_price[i] = max(int(np.rint(bumped / unit)) * unit, self.ln_oprice[i] + unit)
            self.recompute(np.array([i]))
            self.plants["PRICE_MISMATCH"].append(i)
        # LINE_TOTAL_MISMATCH: the amount cell was typed, not computed
        for j, inv in enumerate(self._pick(2, "LINE_TOTAL_MISMATCH", ref_paid, old_paid)):
            i = self._line(inv, 1)
            off = 1000 * int(_UNIT[self.ln_ccy[i]]) if j == 0 else -int(self.ln_price[i])
            if self.ln_amount[i] + off <= 0:
                off = 1000 * int(_UNIT[self.ln_ccy[i]])
            self.ln_amount[i] += off
            self.plants["LINE_TOTAL_MISMATCH"].append(i)
        # BILLED_BEFORE_DELIVERY: one order line shipped after the invoice date
        late = old_paid & (days <= as_of - 60)
        for inv in self._pick(2, "BILLED_BEFORE_DELIVERY", late, old_paid & (days <= as_of - 30)):
            i = self._line(inv, 1)
            self.ln_deliv[i] = _bday_fwd(np.array([days[inv] + int(rng.integers(4, 15))]))[0]
            self.plants["BILLED_BEFORE_DELIVERY"].append(i)
        # ORPHAN_INVOICE_LINE: the order row is gone (a whole one-line order, and one line)
        nonfreight = self.inv_cnt - self.inv_freight
        whole = self._pick(1, "ORPHAN_INVOICE_LINE", old_paid & (nonfreight == 1), old_paid)
        part = self._pick(1, "ORPHAN_INVOICE_LINE", old_paid & (nonfreight >= 3), old_paid & (nonfreight >= 2))
        for j, inv in enumerate(whole.tolist() + part.tolist()):
            i = self._line(inv, 1 if j == 0 else 2)
            self.ln_order_kept[i] = False
            self.plants["ORPHAN_INVOICE_LINE"].append(i)
        # UNBILLED: two order lines delivered but never invoiced, one billed short
        for inv in self._pick(2, "UNBILLED", old_paid, base & self.inv_paid):
            n_of = int(nonfreight[inv])
            sku = int(rng.choice(self.n_sku, p=self.sku_p))
            self.unbilled_extra.append((int(inv), (n_of + 1) * 10, sku, int(rng.integers(2, 20))))
        for inv in self._pick(1, "UNBILLED", ref_paid, old_paid):
            i = self._line(inv, 1)
            if self.ln_oqty[i] < 2:
                self.ln_oqty[i] = self.ln_qty[i] = 2
            self.ln_qty[i] = self.ln_oqty[i] - max(1, int(self.ln_oqty[i]) // 3)
            self.recompute(np.array([i]))
            self.unbilled_short = i
        # DUPLICATE_LINE: a freight line and a product line pasted twice on open invoices
        any_open = base & self.inv_unpaid_open & (self.inv_style <= 2)
        for inv in self._pick(1, "DUPLICATE_LINE", recent_open & self.inv_freight, recent_open, any_open):
            self.dup_lines.append(self._line(inv, int(self.inv_cnt[inv])))
        for inv in self._pick(1, "DUPLICATE_LINE", recent_open & (self.inv_cnt >= 2), recent_open, any_open):
            self.dup_lines.append(self._line(inv, 1))
        # line codes typed by the user: a few invoices carry their own (correct) codes ...
        for inv in self._pick(max(4, self.n_inv // 300), "given line codes", base):
            for no in range(1, int(self.inv_cnt[inv]) + 1):
                self.ln_code_given[self._line(inv, no)] = make_code(self.inv_no[inv], no)
        # ... and DUPLICATE_LINE_CODE: two where line 1's code was filled down onto line 2
        for inv in self._pick(2, "DUPLICATE_LINE_CODE", recent_open & (self.inv_cnt >= 2),
                              any_open & (self.inv_cnt >= 2), base & (self.inv_cnt >= 2)):
            code = make_code(self.inv_no[inv], 1)
            for no in range(1, int(self.inv_cnt[inv]) + 1):
                self.ln_code_given[self._line(inv, no)] = make_code(self.inv_no[inv], no)
            self.ln_code_given[self._line(inv, 2)] = code
            self.plants["DUPLICATE_LINE_CODE"].append(code)

        # payment plants
        per_line = base & self.inv_paid & self.inv_per_line
        per_line_old = per_line & (days <= as_of - 30)
        for inv in self._pick(2, "BAD_REFERENCE", per_line_old, per_line):
            self.pay_tag[inv] = "typo_col"
        for inv in self._pick(1, "BAD_REFERENCE", per_line_old, per_line):
            self.pay_tag[inv] = "typo_text"
        for inv in self._pick(1, "BAD_REFERENCE", per_line_old, per_line):
            self.pay_tag[inv] = "unknown_line"
        for inv in self._pick(1, "BAD_REFERENCE", ref_paid, base & self.inv_paid & (self.inv_style == 0)):
            no = str(self.inv_no[inv])
            head, seq = no.rsplit("-", 1)
            self.pay_invoice_override[inv] = f"{head}-{seq[1:]}"   # a digit dropped
            self.pay_tag[inv] = "unknown_invoice"
        usd_paid = ref_paid & (self.inv_ccy == 0)
        for inv in self._pick(2, "CURRENCY_MISMATCH", usd_paid,
                              base & self.inv_paid & (self.inv_style == 0) & (self.inv_ccy == 0)):
            self.pay_ccy[inv] = 1
            self.pay_tag[inv] = "currency"
        for inv in self._pick(3, "SHORT_PAID", ref_paid, base & self.inv_paid & (self.inv_style == 0)):
            total = self._total(inv)
            unit = int(_UNIT[self.inv_ccy[inv]])
            short = (2500 if unit == 1 else 800_000) if inv % 2 else int(total * 0.1) // unit * unit
            short = max(short, unit)
            self.pay_adjust[inv] = -min(short, total - unit)
            self.pay_tag[inv] = "short"
            self.plants["SHORT_PAID"].append(str(self.inv_no[inv]))
        # UNAPPLIED_CASH overpayment: a customer fully paid up pays one invoice twice over a bit
        cust_open = np.bincount(self.inv_cust, weights=(~self.inv_paid | self.used_inv
                                                        | self.inv_inst | (self.inv_cn >= 0)
                                                        | (self.inv_style != 0)).astype(float),
                                minlength=self.n_cust + 1)
        settled = ref_paid & (cust_open[self.inv_cust] == 0)
        if settled.any():
            inv = self._pick(1, "UNAPPLIED_CASH", settled)[0]
            unit = int(_UNIT[self.inv_ccy[inv]])
            self.pay_adjust[inv] = 250 * _SCALE * unit if unit == 1 else 100_000 * _SCALE
            self.pay_tag[inv] = "overpay"

    def _total(self, inv: int) -> int:
        s = int(self.inv_start[inv])
        return int(self.ln_amount[s:s + int(self.inv_cnt[inv])].sum())

    # -- orders --------------------------------------------------------------------------
    def orders(self) -> None:
        rng, as_of = self.rng, self.as_of
        keep = self.ln_order_kept
        o_inv = self.ln_inv[keep]
        none_block = np.full(int(keep.sum()), -1, np.int64)
        frames = [{
            "ord": o_inv, "line": self.ln_no[keep] * 10, "cust": self.inv_cust[o_inv],
            "odate": self.inv_odate[o_inv], "sku": self.ln_sku[keep], "qty": self.ln_oqty[keep],
            "price": self.ln_oprice[keep], "ccy": self.inv_ccy[o_inv], "deliv": self.ln_deliv[keep],
            "delivered": self.ln_oqty[keep].astype(float), "block": none_block,
        }]
        # UNBILLED: forgotten lines on invoiced orders
        ub = self.unbilled_extra
        if ub:
            inv = np.array([u[0] for u in ub])
            sku = np.array([u[2] for u in ub])
            q = np.array([u[3] for u in ub], dtype=np.int64)
            frames.append({"ord": inv, "line": np.array([u[1] for u in ub]), "cust": self.inv_cust[inv],
                           "odate": self.inv_odate[inv], "sku": sku, "qty": q,
                           "price": self.sku_price[self.inv_ccy[inv], sku], "ccy": self.inv_ccy[inv],
                           "deliv": _bday_back(self.inv_days[inv] - 1), "delivered": q.astype(float),
                           "block": np.full(len(ub), -1, np.int64)})
        # orders not invoiced: on billing block (~2 % of lines), and open (future delivery)
        n_blk = max(3, int(round(0.02 * self.n_inv)))
        n_open = max(3, int(round(0.03 * self.n_inv)))
        n_x = n_blk + n_open
        p = self.cust_volume[:self.n_cust] / self.cust_volume[:self.n_cust].sum()
        x_cust = rng.choice(self.n_cust, size=n_x, p=p)
        x_cnt = rng.choice(np.arange(1, 9), size=n_x, p=_LINE_COUNT_P)
        blocked = np.arange(n_x) < n_blk
        x_odate = np.where(blocked, _bday_back(as_of - rng.integers(5, 75, size=n_x)),
                           _bday_back(as_of - rng.integers(0, 25, size=n_x)))
        x_deliv = np.where(blocked, _bday_fwd(x_odate + rng.integers(2, 20, size=n_x)),
                           _bday_fwd(as_of + rng.integers(3, 40, size=n_x)))
        reason = rng.choice(len(_BLOCK_REASONS), size=n_x, p=_BLOCK_P)
        xi = np.repeat(np.arange(n_x), x_cnt)
        x_line = (np.arange(len(xi)) - np.repeat(np.concatenate([[0], np.cumsum(x_cnt)[:-1]]), x_cnt) + 1) * 10
        x_sku = rng.choice(self.n_sku, size=len(xi), p=self.sku_p)
        x_ccy = self.cust_ccy[x_cust[xi]]
        mu = 1.8 - 0.35 * np.log(self.sku_usd[x_sku] / 30.0)
        x_qty = np.minimum(np.ceil(rng.lognormal(mu, 0.8)), 1000).astype(np.int64)
        x_done = x_deliv[xi] <= as_of
        frames.append({"ord": self.n_inv + xi, "line": x_line, "cust": x_cust[xi], "odate": x_odate[xi],
                       "sku": x_sku, "qty": x_qty, "price": self.sku_price[x_ccy, x_sku], "ccy": x_ccy,
                       "deliv": x_deliv[xi], "delivered": np.where(x_done, x_qty, 0).astype(float),
                       "block": np.where(blocked[xi], reason[xi], -1)})
        cols = {k: np.concatenate([f[k] for f in frames]) for k in frames[0]}
        # order ids: chronological, SAP-style with leading zeros
        all_odate = np.concatenate([self.inv_odate, x_odate])
        rank = np.empty(len(all_odate), np.int64)
        rank[np.lexsort((np.arange(len(all_odate)), all_odate))] = np.arange(len(all_odate))
        self.order_id = np.array([f"{110001 + r:010d}" for r in rank.tolist()], dtype=object)
        sort = np.lexsort((cols["line"], rank[cols["ord"]]))
        c = {k: v[sort] for k, v in cols.items()}
        lang = self.cust_lang[c["cust"]]
        self.orders_df = pd.DataFrame({
            "order_id": _take(self.order_id, c["ord"]), "order_line": _take(_LINE_VOCAB, c["line"] // 10),
            "customer_id": _take(self.cust_id, c["cust"]), "order_date": _dates(c["odate"]),
            "sku": _take(self.sku_code, c["sku"]),
            "description": _take(self.sku_desc.ravel(), lang * (self.n_sku + 1) + c["sku"]),
            "quantity": c["qty"].astype(float), "unit_price": _major(c["price"]),
            "currency": _take(_CCY, c["ccy"]), "delivery_date": _dates(c["deliv"]),
            "delivered_qty": c["delivered"], "billing_block": _take(_BLOCK_REASONS, c["block"]),
        })
        self.plants["UNBILLED"] = [(str(self.order_id[u[0]]), str(u[1])) for u in ub] + [
            (str(self.order_id[self.ln_inv[self.unbilled_short]]), str(self.ln_no[self.unbilled_short] * 10))]
        bl = c["block"] >= 0
        self.plants["BILLING_BLOCKED"] = [(str(self.order_id[o]), str(ln)) for o, ln in
                                          zip(c["ord"][bl].tolist(), c["line"][bl].tolist())]

    # -- the invoices table --------------------------------------------------------------
    def invoices_table(self) -> None:
        rng = self.rng
        n, m = self.n_reg, self.n_cn
        li = self.ln_inv
        lang = self.cust_lang[self.inv_cust]
        for k in ("OVERBILLED_QTY", "PRICE_MISMATCH", "LINE_TOTAL_MISMATCH", "BILLED_BEFORE_DELIVERY",
                  "ORPHAN_INVOICE_LINE"):
            self.plants[k] = [make_code(self.inv_no[self.ln_inv[i]], int(self.ln_no[i])) for i in self.plants[k]]
        given = np.flatnonzero(self.ln_code_given != None)  # noqa: E711
        code_idx = np.full(n, -1, np.int64)
        code_idx[given] = np.arange(len(given))
        self.code_vocab = self.ln_code_given[given]
        has_order = self.ln_has_order
        n_desc = 3 * (self.n_sku + 1)
        reg = {
            "doc": li, "date": self.inv_days[li], "no": self.ln_no, "dup": np.zeros(n, np.int64),
            "cust": self.inv_cust[li], "code": code_idx, "due": self.inv_due[li],
            "has_due": self.inv_has_due[li], "order": np.where(has_order, li, -1),
            "oline": np.where(has_order, self.ln_no, -1),
            "desc": lang[li] * (self.n_sku + 1) + self.ln_sku, "sku": self.ln_sku,
            "qty": self.ln_qty.astype(float), "price": self.ln_price, "disc": self.ln_disc,
            "tax": self.ln_tax, "amount": self.ln_amount, "ccy": self.ln_ccy,
            "kind": np.zeros(n, np.int64), "applies": np.full(n, -1, np.int64),
        }
        # credit notes: return part of one line
        cn_inv = self.cn_inv
        self.cn_no = _seq_numbers("CN", self.cn_days)
        pick = self.inv_start[cn_inv] + rng.integers(0, 1 << 30, size=m) % np.maximum(
            self.inv_cnt[cn_inv] - self.inv_freight[cn_inv], 1)
        r = np.maximum(1, np.ceil(self.ln_qty[pick] * rng.uniform(0.1, 1.0, size=m))).astype(np.int64)
        r = np.minimum(r, self.ln_qty[pick])
        unit = _UNIT[self.ln_ccy[pick]]
        net = -r * self.ln_price[pick]
        tax = np.rint(net * self.ln_tax_rate[pick] / unit).astype(np.int64) * unit
        self.cn_amount = net + tax
        cn = {
            "doc": self.n_inv + np.arange(m), "date": self.cn_days, "no": np.ones(m, np.int64),
            "dup": np.zeros(m, np.int64), "cust": self.inv_cust[cn_inv], "code": np.full(m, -1, np.int64),
            "due": self.cn_days, "has_due": np.ones(m, bool), "order": np.full(m, -1, np.int64),
            "oline": np.full(m, -1, np.int64),
            "desc": n_desc + lang[cn_inv] * (self.n_sku + 1) + self.ln_sku[pick], "sku": self.ln_sku[pick],
            "qty": (-r).astype(float), "price": self.ln_price[pick], "disc": np.zeros(m, np.int64),
            "tax": tax, "amount": self.cn_amount, "ccy": self.ln_ccy[pick],
            "kind": np.ones(m, np.int64), "applies": cn_inv,
        }
        d = np.array(self.dup_lines, dtype=np.int64)
        dup = {k: v[d] for k, v in reg.items()}
        dup["dup"] = np.ones(len(d), np.int64)
        self.plants["DUPLICATE_LINE"] = [(str(self.inv_no[self.ln_inv[i]]), int(self.ln_no[i])) for i in d]
        cols = {k: np.concatenate([reg[k], cn[k], dup[k]]) for k in reg}
        sort = np.lexsort((cols["dup"], cols["no"], cols["doc"], cols["date"]))
        c = {k: v[sort] for k, v in cols.items()}
        desc_vocab = np.concatenate([self.sku_desc.ravel(),
                                     (np.array(_RETURN_PREFIX, dtype=object)[:, None] + self.sku_desc).ravel()])
        self.invoices_df = pd.DataFrame({
            "invoice_no": _take(np.concatenate([self.inv_no, self.cn_no]), c["doc"]),
            "customer_id": _take(self.cust_id, c["cust"]),
            "invoice_date": _dates(c["date"]), "line_no": c["no"].astype(np.int64),
            "line_code": _take(self.code_vocab, c["code"]), "due_date": _dates(c["due"], c["has_due"]),
            "order_id": _take(self.order_id, c["order"]), "order_line": _take(_LINE_VOCAB, c["oline"]),
            "sku": _take(self.sku_code, c["sku"]), "description": _take(desc_vocab, c["desc"]),
            "quantity": c["qty"], "unit_price": _major(c["price"]),
            "discount": _major(c["disc"]), "tax": _major(c["tax"]), "amount": _major(c["amount"]),
            "currency": _take(_CCY, c["ccy"]), "kind": _take(_KINDS, c["kind"]),
            "applies_to": _take(self.inv_no, c["applies"]),
        })

    # -- payments ------------------------------------------------------------------------
    def payments(self) -> None:
        rng, as_of = self.rng, self.as_of
        n_inv = self.n_inv
        totals = np.add.reduceat(self.ln_amount, self.inv_start)
        cn_total = np.zeros(n_inv, np.int64)
        cn_total[self.cn_inv] = self.cn_amount
        due_amt = totals + cn_total                     # what the customer owes on the invoice
        lang = self.cust_lang[self.inv_cust]
        inv_no = self.inv_no
        recs: list[dict[str, np.ndarray]] = []

        def add(inv, date, amount, ref, inv_col, code_col, tag, ccy=None):
            k = len(inv)
            recs.append({"inv": inv, "cust": self.inv_cust[inv], "date": date, "amount": amount,
                         "ccy": self.pay_ccy[inv] if ccy is None else ccy, "ref": ref,
                         "inv_col": inv_col, "code": code_col,
                         "tag": tag if isinstance(tag, np.ndarray) else np.full(k, tag, object)})

        ref_inv = np.array([o if o is not None else v for o, v in
                            zip(self.pay_invoice_override.tolist(), inv_no.tolist())], dtype=object)
        # invoice-level single payments (styles 0, 1, 3 and line style naming the first line)
        single = ~self.inv_inst & ~self.inv_per_line & self.inv_paid
        idx = np.flatnonzero(single)
        amt = due_amt[idx] + self.pay_adjust[idx]
        cur = self.pay_tag[idx] == "currency"
        amt = np.where(cur, np.rint(amt * _USD_PER[self.inv_ccy[idx]] / _USD_PER[1]).astype(np.int64), amt)
        st = self.inv_style[idx]
        tmpl_i = rng.integers(0, 1 << 30, size=len(idx))
        refs = np.empty(len(idx), dtype=object)
        inv_col = np.full(len(idx), None, dtype=object)
        code_col = np.full(len(idx), None, dtype=object)
        first_code = {}
        line_idx = idx[st == 2]
        if len(line_idx):
            codes = make_codes(pd.Series(inv_no[line_idx]), pd.Series(np.ones(len(line_idx), np.int64)))
            first_code = dict(zip(line_idx.tolist(), codes.tolist()))
        tags = self.pay_tag
        for j, (i, s, t) in enumerate(zip(idx.tolist(), st.tolist(), tmpl_i.tolist())):
            lg = int(lang[i])
            if s == 0:
                opts = _REF_INVOICE[lg]
                refs[j] = opts[t % len(opts)].format(inv=inv_no[i]) or None
                inv_col[j] = ref_inv[i]
            elif s == 1:
                opts = _REF_TEXT[lg]
                refs[j] = opts[t % len(opts)].format(inv=inv_no[i])
            elif s == 2:
                if t % 2:
                    code_col[j] = first_code[i]
                else:
                    refs[j] = _REF_LINE[lg].format(code=first_code[i])
            else:
                opts = _REF_NONE[lg]
                refs[j] = opts[t % len(opts)] or None
            tag = tags[i]
            if tag == "unknown_invoice":
                refs[j] = None
            elif tag == "short":
                refs[j] = ("Payment {inv} less bank charges" if lg == 0 else "{inv}").format(inv=inv_no[i])
        add(idx, self.inv_pay[idx], amt, refs, inv_col, code_col, tags[idx])
        # installments
        inst = self.inv_inst & self.inv_any_paid
        idx = np.flatnonzero(inst)
        first = np.rint(due_amt[idx] * self.inv_inst_frac[idx]).astype(np.int64)
        unit = _UNIT[self.inv_ccy[idx]]
        first = first // unit * unit
        refs = np.array([f"{inv_no[i]} part payment" for i in idx.tolist()], dtype=object)
        add(idx, self.inv_pay1[idx], first, refs, inv_no[idx], np.full(len(idx), None, object), "")
        second = idx[self.inv_paid[idx]]
        sfirst = first[self.inv_paid[idx]]
        add(second, self.inv_pay[second], due_amt[second] - sfirst,
            np.array([f"{inv_no[i]} balance" for i in second.tolist()], dtype=object), inv_no[second],
            np.full(len(second), None, object), "")
        # per-line payments with codes
        per = self.inv_per_line & self.inv_paid
        lines = np.flatnonzero(per[self.ln_inv])
        linv = self.ln_inv[lines]
        codes = make_codes(pd.Series(inv_no[linv]), pd.Series(self.ln_no[lines])).to_numpy(dtype=object)
        in_col = rng.random(len(lines)) < 0.7
        code_col = np.where(in_col, codes, None)
        refs = np.where(in_col, None, codes)
        ltag = np.full(len(lines), "", dtype=object)
        first_line = self.ln_no[lines] == 1
        for i in np.flatnonzero(first_line & (tags[linv] != "")).tolist():
            tag = tags[linv[i]]
            ltag[i] = tag
            if tag == "typo_col":
                code_col[i], refs[i] = _typo(codes[i], rng), None
            elif tag == "typo_text":
                code_col[i], refs[i] = None, _typo(codes[i], rng)
            elif tag == "unknown_line":
                code_col[i] = make_code(inv_no[linv[i]], int(self.inv_cnt[linv[i]]) + 1)
                refs[i] = None
        llang = lang[linv]
        refs = np.array([None if r is None else _REF_LINE[lg].format(code=r)
                         for r, lg in zip(refs.tolist(), llang.tolist())], dtype=object)
        add(linv, self.inv_pay[linv], self.ln_amount[lines], refs, np.full(len(lines), None, object),
            code_col, ltag)
        # advance payments from the two prospects (UNAPPLIED_CASH)
        pros = np.arange(self.n_cust - 2, self.n_cust)
        p_ccy = self.cust_ccy[pros]
        p_amt = np.where(p_ccy == 2, 1_500_000 * _SCALE, 5000 * _SCALE).astype(np.int64)
        p_date = _bday_back(as_of - rng.integers(5, 40, size=2))
        recs.append({"inv": np.full(2, -1), "cust": pros, "date": p_date, "amount": p_amt, "ccy": p_ccy,
                     "ref": np.array([_REF_ADVANCE[lg] for lg in self.cust_lang[pros].tolist()], dtype=object),
                     "inv_col": np.full(2, None, object), "code": np.full(2, None, object),
                     "tag": np.full(2, "advance", object)})

        cols = {k: np.concatenate([r[k] for r in recs]) for k in recs[0]}
        keep = cols["date"] <= as_of
        cols = {k: v[keep] for k, v in cols.items()}
        sort = np.lexsort((cols["inv"], cols["cust"], cols["date"]))
        c = {k: v[sort] for k, v in cols.items()}
        m = len(sort)
        pid = np.array([f"PAY-{i:06d}" for i in range(1, m + 1)], dtype=object)
        method = np.zeros(m, np.int64)
        names: list[str] = []
        for ccy, (opts, probs) in _METHODS.items():
            w = np.flatnonzero(c["ccy"] == ccy)
            method[w] = len(names) + rng.choice(len(opts), size=len(w), p=probs)
            names.extend(opts)
        self.payments_df = pd.DataFrame({
            "payment_id": _take(pid, np.arange(m)), "customer_id": _take(self.cust_id, c["cust"]),
            "payment_date": _dates(c["date"]), "amount": _major(c["amount"]),
            "currency": _take(_CCY, c["ccy"]), "method": _take(np.array(names, dtype=object), method),
            "reference": pd.Series(c["ref"], dtype="str"), "invoice_no": pd.Series(c["inv_col"], dtype="str"),
            "line_code": pd.Series(c["code"], dtype="str"),
        })
        tags = c["tag"]
        self.plants["BAD_REFERENCE"] = pid[np.isin(tags, ["typo_col", "typo_text", "unknown_line",
                                                          "unknown_invoice"])].tolist()
        self.plants["CURRENCY_MISMATCH"] = pid[tags == "currency"].tolist()
        self.plants["UNAPPLIED_CASH"] = pid[np.isin(tags, ["overpay", "advance"])].tolist()
        self.plants["UNKNOWN_CUSTOMER"] = [str(self.cust_id[self.n_cust])]

    # -- fx ------------------------------------------------------------------------------
    def fx(self) -> None:
        rng = self.rng
        end = self.as_of.astype("datetime64[M]")
        months = np.arange(end - 19, end + 1)
        k = len(months)
        out = []
        for code, start, nd in (("EUR", 1.08, 4), ("HUF", 1 / 362.0, 7), ("CNY", 1 / 7.18, 5)):
            walk = start * np.exp(np.cumsum(rng.normal(0, 0.015, size=k)))
            out.append(pd.DataFrame({"date": _dates(months.astype("datetime64[D]")),
                                     "currency": code, "rate": np.round(walk, nd)}))
        fx = pd.concat(out, ignore_index=True)
        self.fx_df = fx.sort_values(["date", "currency"], kind="stable").reset_index(drop=True)

    def build(self) -> tuple[dict[str, pd.DataFrame], dict[str, list]]:
        self.customers()
        self.catalog()
        self.invoices()
        self.payment_plan()
        self.plants_()
        self.orders()
        self.invoices_table()
        self.payments()
        self.fx()
        tables = {"customers": self.customers_df, "orders": self.orders_df,
                  "invoices": self.invoices_df, "payments": self.payments_df, "fx_rates": self.fx_df}
        return tables, {k: list(v) for k, v in self.plants.items()}


# ----------------------------------------------------------------------------- templates

_MEANINGS: dict[str, dict[str, tuple[str, str]]] = {
    "customers": {
        "customer_id": ("Your customer number; kept as text, leading zeros included", "0010042"),
        "name": ("Customer name", "Kovács és Társa Kft."),
        "email": ("Address for statements and reminders", "szamla@kovacsestarsa.hu"),
        "phone": ("Number for SMS reminders", "06 30 555 1234"),
        "language": ("Language of reminders: en, zh, hu, ...", "hu"),
        "currency": ("Default currency of the customer's documents (ISO code)", "HUF"),
        "payment_terms_days": ("Days from invoice date to due date when an invoice has no due date", "30"),
        "credit_limit": ("Credit limit in the customer's currency", "5000000"),
        "segment": ("Your grouping for filters (Enterprise, SMB, ...)", "SMB"),
        "owner": ("Who follows up this account", "Kovács Anna"),
        "dunning_blocked": ("TRUE to never send this customer reminders", "FALSE"),
        "address": ("Street and number (several lines allowed); printed on statements", "Váci utca 12."),
        "address_2": ("Second address line (floor, building, PO box)", "III. emelet"),
        "city": ("Town or city", "Budapest"),
        "postcode": ("Postcode or ZIP code, kept as text", "1052"),
        "region": ("State, province or county, where addresses have one", "IL"),
        "country": ("Country as it should be printed", "Magyarország"),
        "iban": ("Bank account (IBAN) the customer pays from: bank payments from it are matched to the "
                 "customer", "HU42117730161111101800000000"),
    },
    "orders": {
        "order_id": ("Sales order number", "0000110317"),
        "order_line": ("Line or position of the order", "10"),
        "customer_id": ("Customer number as in customers", "0010042"),
        "order_date": ("Date the order was taken", "2026-03-02"),
        "sku": ("Item code", "SB-1003"),
        "description": ("Item description", "Steel bracket M8"),
        "quantity": ("Ordered quantity", "25"),
        "unit_price": ("Agreed net price per unit", "12.40"),
        "currency": ("ISO currency code; blank = the customer's", "USD"),
        "delivery_date": ("Date delivered (or planned, if later than today)", "2026-03-09"),
        "delivered_qty": ("Quantity delivered so far", "25"),
        "billing_block": ("Why the line must not be invoiced yet; blank = no block", "Awaiting PO"),
    },
    "invoices": {
        "invoice_no": ("Invoice or credit note number", "INV-2026-000123"),
        "customer_id": ("Customer number as in customers", "0010042"),
        "invoice_date": ("Document date", "2026-03-10"),
        "line_no": ("Line number within the invoice; blank = numbered 1, 2, ... in sheet order", "1"),
        "line_code": ("Leave blank: Linewise assigns a checked code (a code you fill in is kept)",
                      make_code("INV-2026-000123", 1)),
        "due_date": ("Payment due date; blank = invoice date + the customer's payment terms", "2026-04-09"),
        "order_id": ("Sales order the line bills", "0000110317"),
        "order_line": ("Order line the line bills", "10"),
        "sku": ("Item code", "SB-1003"),
        "description": ("Line text", "Steel bracket M8"),
        "quantity": ("Invoiced quantity", "25"),
        "unit_price": ("Net price per unit", "12.40"),
        "discount": ("Discount amount on the line", "15.50"),
        "tax": ("Tax amount on the line", "0"),
        "amount": ("Gross line total = quantity x unit price - discount + tax", "294.50"),
        "currency": ("ISO currency code; blank = the customer's", "USD"),
        "kind": ("invoice or credit_note (a negative amount is read as a credit note)", "invoice"),
        "applies_to": ("For a credit note: the invoice number it credits", "INV-2026-000098"),
    },
    "payments": {
        "payment_id": ("Your receipt or bank transaction number", "PAY-000451"),
        "customer_id": ("Customer number as in customers", "0010042"),
        "payment_date": ("Value date of the payment", "2026-04-15"),
        "amount": ("Amount received", "294.50"),
        "currency": ("ISO currency code; blank = the customer's", "USD"),
        "method": ("How it was paid", "Wire"),
        "reference": ("Remittance text as the bank shows it; invoice numbers and line codes in it are used",
                      f"Remittance {make_code('INV-2026-000123', 1)} thanks"),
        "invoice_no": ("Invoice the payment is for, if known", "INV-2026-000123"),
        "line_code": ("Line code the payment is for, if the customer quoted one", make_code("INV-2026-000123", 1)),
    },
    "fx_rates": {
        "date": ("Date the rate applies from", "2026-03-01"),
        "currency": ("ISO currency code", "EUR"),
        "rate": ("Units of the base currency per 1 unit of this currency", "1.0842"),
    },
}


def template_instructions() -> pd.DataFrame:
    """One row per canonical column: sheet, column, required, meaning, example."""
    rows = []
    for name in TABLE_ORDER:
        table = TABLES[name]
        for col in table.columns:
            meaning, example = _MEANINGS.get(name, {}).get(col.name, (col.kind, ""))
            rows.append({"sheet": name, "column": col.name,
                         "required": "yes" if col.required else "no",
                         "meaning": meaning, "example": example})
    return pd.DataFrame(rows, columns=["sheet", "column", "required", "meaning", "example"])


def template_tables() -> dict[str, pd.DataFrame]:
    """Empty frames with the canonical headers of each table, in schema order."""
    return {name: pd.DataFrame({c: pd.Series(dtype=object) for c in TABLES[name].names})
            for name in TABLE_ORDER}
