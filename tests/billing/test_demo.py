"""The demo book: deterministic, realistic, and every SPEC §6 problem planted exactly once-ish.

The row-level checks below recompute each anomaly from the raw tables with
plain pandas and compare with `demo_plants`: the planted keys must all be
there, and nothing else may look anomalous, so dashboards on the demo show a
clean business with a handful of deliberate problems.
"""
from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest

from billing.demo import (EXCEPTION_TYPES, MIN_LINES, PLANT_KEYS, demo_plants, generate_demo,
                          generate_demo_with_plants, template_instructions, template_tables)
from billing.linecode import canonical, is_valid, looks_like_code, make_codes
from billing.schema import TABLE_ORDER, TABLES

AS_OF = dt.date(2026, 6, 30)
TOKEN_SPLIT = re.compile(r"[^\w\-/]+")


@pytest.fixture(scope="module")
def demo() -> tuple[dict[str, pd.DataFrame], dict[str, list]]:
    return generate_demo_with_plants()


@pytest.fixture(scope="module")
def tables(demo):
    return demo[0]


@pytest.fixture(scope="module")
def plants(demo):
    return demo[1]


def minor(values: pd.Series) -> np.ndarray:
    return np.rint(values.to_numpy(dtype=float) * 100).astype(np.int64)


def line_codes(inv: pd.DataFrame) -> pd.Series:
    return make_codes(inv["invoice_no"], inv["line_no"])


# ----------------------------------------------------------------------------- determinism

def test_same_seed_gives_identical_frames(tables):
    again = generate_demo()
    assert list(again) == list(tables)
    for name in tables:
        pd.testing.assert_frame_equal(again[name], tables[name])


def test_plants_are_deterministic_and_match_generate(plants):
    assert demo_plants() == plants


def test_another_seed_gives_another_book(tables):
    other = generate_demo(seed=8)
    assert not other["invoices"]["amount"].equals(tables["invoices"]["amount"])


# ----------------------------------------------------------------------------- shape and types

def test_tables_have_the_canonical_columns_in_schema_order(tables):
    assert list(tables) == TABLE_ORDER
    for name, df in tables.items():
        assert list(df.columns) == TABLES[name].names, name


@pytest.mark.parametrize("n_lines", [MIN_LINES, 6000, 20000])
def test_invoices_table_has_exactly_n_lines_rows(n_lines):
    t = generate_demo(n_lines=n_lines)
    assert len(t["invoices"]) == n_lines
    assert len(t["customers"]) >= 300


def test_customers_scale_with_the_book():
    assert len(generate_demo(n_lines=20000)["customers"]) == 1000


def test_too_small_a_book_is_refused():
    with pytest.raises(ValueError, match="at least"):
        generate_demo(n_lines=MIN_LINES - 1)


def test_dates_are_python_dates(tables):
    for name, cols in {"invoices": ["invoice_date"], "orders": ["order_date", "delivery_date"],
                       "payments": ["payment_date"], "fx_rates": ["date"]}.items():
        for c in cols:
            assert all(type(v) is dt.date for v in tables[name][c]), (name, c)
    due = tables["invoices"]["due_date"]
    assert due.isna().any() and all(type(v) is dt.date for v in due.dropna())


def test_ids_are_strings_and_keep_leading_zeros(tables):
    cust = tables["customers"]["customer_id"]
    assert pd.api.types.is_string_dtype(cust) and cust.str.fullmatch(r"00\d{5}").all()
    assert tables["orders"]["order_id"].str.fullmatch(r"0000\d{6}").all()
    assert tables["orders"]["order_line"].str.fullmatch(r"\d+0").all()
    assert tables["invoices"]["line_no"].dtype == np.int64


def test_money_has_no_more_decimals_than_the_currency_allows(tables):
    for name, cols in {"invoices": ["unit_price", "discount", "tax", "amount"],
                       "orders": ["unit_price"], "payments": ["amount"]}.items():
        df = tables[name]
        for c in cols:
            v = df[c].to_numpy(dtype=float)
            assert np.allclose(v * 100, np.rint(v * 100), atol=1e-6), (name, c)
            huf = (df["currency"] == "HUF").to_numpy()
            assert np.allclose(v[huf], np.rint(v[huf])), (name, c, "HUF is whole forints")


# ----------------------------------------------------------------------------- realism

def test_customers_look_like_an_international_client_base(tables):
    cust = tables["customers"]
    assert len(cust) >= 300
    assert set(cust["language"]) == {"en", "zh", "hu"}
    assert {"USD", "EUR", "HUF", "CNY"} <= set(cust["currency"])
    assert set(cust["payment_terms_days"]) == {15, 30, 45, 60}
    assert cust["name"].str.contains(r"[\u4e00-\u9fff]+有限公司$").any()
    assert cust["name"].str.contains(r"(?:Kft|Zrt|Bt)\.$").any()
    assert cust["name"].str.contains(r"[áéíóöőúüű]").any()
    assert 0.005 < cust["dunning_blocked"].mean() < 0.08
    assert cust["email"].str.contains("@").mean() > 0.9
    assert not cust["phone"].dropna().str.match(r"[=+\-@]").any(), "phones must survive export as-is"
    assert cust["segment"].nunique() >= 4 and cust["owner"].nunique() >= 5


def test_invoices_span_eighteen_months_in_several_currencies(tables):
    inv = tables["invoices"]
    dates = pd.to_datetime(inv["invoice_date"])
    assert dates.max() <= pd.Timestamp(AS_OF)
    assert 500 <= (pd.Timestamp(AS_OF) - dates.min()).days <= 560
    assert inv["currency"].nunique() >= 2 and {"USD", "EUR", "HUF", "CNY"} <= set(inv["currency"])
    regular = inv[inv["kind"] == "invoice"]
    assert regular["invoice_no"].str.fullmatch(r"INV-20\d{2}-\d{6}").all()
    per_invoice = regular.drop_duplicates(["invoice_no", "line_no"]).groupby("invoice_no").size()
    assert per_invoice.min() == 1 and per_invoice.max() == 8


def test_normal_lines_add_up_to_their_amount(tables, plants):
    inv = tables["invoices"]
    computed = np.rint(inv["quantity"].to_numpy() * minor(inv["unit_price"])) - minor(inv["discount"]) \
        + minor(inv["tax"])
    off = np.abs(computed - minor(inv["amount"])) > 1
    assert set(line_codes(inv)[off]) == set(plants["LINE_TOTAL_MISMATCH"])


def test_credit_notes_are_negative_and_credit_an_earlier_invoice(tables):
    inv = tables["invoices"]
    cn = inv[inv["kind"] == "credit_note"]
    assert 0.005 < cn["invoice_no"].nunique() / inv["invoice_no"].nunique() < 0.04
    assert (cn["amount"] < 0).all() and cn["invoice_no"].str.match("CN-").all()
    first = inv[inv["kind"] == "invoice"].groupby("invoice_no")["invoice_date"].first()
    credited = cn.set_index("invoice_no")["applies_to"]
    assert credited.isin(first.index).all()
    assert all(cn_date > first[target] for cn_date, target in zip(cn["invoice_date"], cn["applies_to"]))


def test_payments_reference_invoices_lines_and_nothing(tables):
    pay = tables["payments"]
    assert pay["payment_id"].str.fullmatch(r"PAY-\d{6}").all() and pay["payment_id"].is_unique
    with_code = pay["line_code"].notna()
    in_text = pay["reference"].fillna("").str.contains(r"INV-\d{4}-\d{6}-\d{3}\w")
    by_invoice = pay["invoice_no"].notna()
    bare = ~with_code & ~in_text & ~by_invoice & ~pay["reference"].fillna("").str.contains("INV-")
    assert with_code.sum() > 20 and in_text.sum() > 20 and by_invoice.sum() > 200 and bare.sum() > 100
    assert pay["reference"].str.contains(r"^Remittance INV-\S+ thanks$").any()
    assert pay["currency"].nunique() >= 3


def test_payment_days_give_a_realistic_dso(tables):
    inv, pay = tables["invoices"], tables["payments"]
    # customers that pay by invoice number: days from invoice date to payment
    ref = pay.dropna(subset=["invoice_no"]).merge(
        inv.drop_duplicates("invoice_no")[["invoice_no", "invoice_date"]], on="invoice_no")
    days = (pd.to_datetime(ref["payment_date"]) - pd.to_datetime(ref["invoice_date"])).dt.days
    assert 35 <= days.median() <= 65
    assert (days > 120).mean() < 0.1


def test_every_overdue_bucket_has_unpaid_invoices(tables, plants):
    inv, pay = tables["invoices"], tables["payments"]
    text = " ".join(pay["reference"].dropna()) + " " + " ".join(pay["invoice_no"].dropna()) \
        + " " + " ".join(pay["line_code"].dropna())
    referenced = set(re.findall(r"INV-\d{4}-\d{6}", text))
    # customers whose cash may be applied FIFO (no usable reference) could pay any open line
    bare = pay["invoice_no"].isna() & pay["line_code"].isna() & \
        ~pay["reference"].fillna("").str.contains("INV-")
    stray = pay["payment_id"].isin(plants["BAD_REFERENCE"] + plants["UNAPPLIED_CASH"])
    fifo = set(pay.loc[bare | stray, "customer_id"])
    regular = inv[(inv["kind"] == "invoice") & ~inv["invoice_no"].isin(referenced)
                  & ~inv["customer_id"].isin(fifo) & inv["due_date"].notna()]
    dpd = (pd.Timestamp(AS_OF) - pd.to_datetime(regular["due_date"])).dt.days
    buckets = pd.cut(dpd, [-10_000, 0, 30, 60, 90, 120, 10_000],
                     labels=["current", "1-30", "31-60", "61-90", "91-120", "over_120"])
    for ccy in ("USD", "EUR", "HUF", "CNY"):
        seen = set(buckets[(regular["currency"] == ccy).to_numpy()].dropna())
        assert seen == set(buckets.cat.categories), ccy


def test_fx_rates_are_monthly_to_usd(tables):
    fx = tables["fx_rates"]
    assert set(fx["currency"]) == {"EUR", "HUF", "CNY"}
    assert all(d.day == 1 for d in fx["date"])
    assert fx.groupby("currency")["date"].nunique().min() >= 18
    mean = fx.groupby("currency")["rate"].mean()
    assert 0.9 < mean["EUR"] < 1.3 and 0.002 < mean["HUF"] < 0.0035 and 0.11 < mean["CNY"] < 0.17


# ----------------------------------------------------------------------------- plants

def test_every_exception_type_has_planted_keys(plants):
    assert set(plants) == set(EXCEPTION_TYPES) == set(PLANT_KEYS)
    for kind, keys in plants.items():
        assert keys, kind
        limit = 0.05 * 6000 if kind == "BILLING_BLOCKED" else 6
        assert len(keys) <= limit, kind


def test_planted_keys_name_rows_that_exist(tables, plants):
    inv, orders, pay = tables["invoices"], tables["orders"], tables["payments"]
    codes = set(line_codes(inv))
    order_keys = set(zip(orders["order_id"], orders["order_line"]))
    for kind in ("OVERBILLED_QTY", "PRICE_MISMATCH", "LINE_TOTAL_MISMATCH", "BILLED_BEFORE_DELIVERY",
                 "ORPHAN_INVOICE_LINE", "DUPLICATE_LINE_CODE"):
        assert set(plants[kind]) <= codes, kind
    for kind in ("UNBILLED", "BILLING_BLOCKED"):
        assert set(plants[kind]) <= order_keys, kind
    assert set(plants["DUPLICATE_LINE"]) <= set(zip(inv["invoice_no"], inv["line_no"]))
    for kind in ("BAD_REFERENCE", "CURRENCY_MISMATCH", "UNAPPLIED_CASH"):
        assert set(plants[kind]) <= set(pay["payment_id"]), kind
    assert set(plants["SHORT_PAID"]) <= set(inv["invoice_no"])


def _billed(tables) -> pd.DataFrame:
    inv = tables["invoices"]
    lines = inv[(inv["kind"] == "invoice") & inv["order_id"].notna()].copy()
    lines["code"] = line_codes(lines).to_numpy()
    return lines.merge(tables["orders"], on=["order_id", "order_line"], how="left",
                       suffixes=("", "_order"), indicator=True)


def test_order_anomalies_are_exactly_the_planted_ones(tables, plants):
    billed = _billed(tables)
    found = billed[billed["_merge"] == "both"]
    over = found["quantity"] > found["quantity_order"]
    assert set(found.loc[over, "code"]) == set(plants["OVERBILLED_QTY"])
    price_off = (found["unit_price"] - found["unit_price_order"]).abs() > 0.005 * found["unit_price_order"]
    assert set(found.loc[price_off, "code"]) == set(plants["PRICE_MISMATCH"])
    early = pd.to_datetime(found["invoice_date"]) < pd.to_datetime(found["delivery_date"])
    assert set(found.loc[early, "code"]) == set(plants["BILLED_BEFORE_DELIVERY"])
    orphan = billed["_merge"] == "left_only"
    assert set(billed.loc[orphan, "code"]) == set(plants["ORPHAN_INVOICE_LINE"])


def test_unbilled_and_blocked_order_lines_are_exactly_the_planted_ones(tables, plants):
    orders = tables["orders"]
    inv = tables["invoices"]
    qty = inv[inv["kind"] == "invoice"].groupby(["order_id", "order_line"])["quantity"].sum()
    key = list(zip(orders["order_id"], orders["order_line"]))
    billed = np.array([qty.get(k, 0.0) for k in key])
    delivered = pd.to_datetime(orders["delivery_date"]) <= pd.Timestamp(AS_OF)
    unblocked = orders["billing_block"].isna()
    short = (delivered & unblocked & (billed < orders["delivered_qty"])).to_numpy()
    assert {k for k, s in zip(key, short) if s} == set(plants["UNBILLED"])
    blocked = orders["billing_block"].notna().to_numpy()
    assert {k for k, b in zip(key, blocked) if b} == set(plants["BILLING_BLOCKED"])
    assert set(orders["billing_block"].dropna()) <= {"Credit hold", "Awaiting PO", "Disputed price",
                                                     "Missing tax number", "Awaiting proof of delivery"}
    assert 0.01 < blocked.mean() < 0.04


def test_duplicate_lines_and_codes_are_exactly_the_planted_ones(tables, plants):
    inv = tables["invoices"]
    dup = inv.duplicated(["invoice_no", "line_no"], keep=False)
    assert set(zip(inv.loc[dup, "invoice_no"], inv.loc[dup, "line_no"])) == set(plants["DUPLICATE_LINE"])
    given = inv["line_code"].dropna()
    assert 0 < len(given) < 0.02 * len(inv), "line_code is blank for most rows"
    assert set(given[given.duplicated()]) == set(plants["DUPLICATE_LINE_CODE"])
    assert all(is_valid(c) for c in given)


def _bad_tokens(tables) -> dict[str, list[str]]:
    inv, pay = tables["invoices"], tables["payments"]
    lines = inv[inv["kind"] == "invoice"]
    code_owner = dict(zip(line_codes(lines).map(canonical), lines["customer_id"]))
    inv_owner = dict(zip(lines["invoice_no"], lines["customer_id"]))
    bad: dict[str, list[str]] = {}
    for p in pay.itertuples():
        tokens = [t for t in TOKEN_SPLIT.split(p.reference if isinstance(p.reference, str) else "") if t]
        if isinstance(p.line_code, str):
            tokens.append(p.line_code)
        for t in tokens:
            if code_owner.get(canonical(t)) == p.customer_id or inv_owner.get(t) == p.customer_id:
                continue
            if looks_like_code(t):
                bad.setdefault(p.payment_id, []).append(t)
        if isinstance(p.invoice_no, str) and inv_owner.get(p.invoice_no) != p.customer_id:
            bad.setdefault(p.payment_id, []).append(p.invoice_no)
    return bad


def test_bad_references_are_exactly_the_planted_ones(tables, plants):
    assert set(_bad_tokens(tables)) == set(plants["BAD_REFERENCE"])


def test_typo_codes_fail_their_check_character(tables, plants):
    bad = _bad_tokens(tables)
    tokens = [t for pid in plants["BAD_REFERENCE"] for t in bad[pid]]
    typos = [t for t in tokens if looks_like_code(t) and not is_valid(t)]
    assert len(typos) >= 3
    pay = tables["payments"].set_index("payment_id")
    in_column = [pid for pid in plants["BAD_REFERENCE"] if isinstance(pay.at[pid, "line_code"], str)
                 and not is_valid(pay.at[pid, "line_code"])]
    in_text = [pid for pid in plants["BAD_REFERENCE"] if isinstance(pay.at[pid, "reference"], str)
               and any(looks_like_code(t) and not is_valid(t) for t in pay.at[pid, "reference"].split())]
    assert in_column and in_text
    valid_but_unknown = [t for t in tokens if looks_like_code(t) and is_valid(t) and t.count("-") == 3]
    unknown_invoice = [t for t in tokens if re.fullmatch(r"INV-\d{4}-\d{5}", t)]
    assert valid_but_unknown and unknown_invoice


def test_unknown_customer_has_an_invoice_and_a_payment(tables, plants):
    known = set(tables["customers"]["customer_id"])
    strangers = (set(tables["invoices"]["customer_id"]) | set(tables["payments"]["customer_id"])) - known
    assert strangers == set(plants["UNKNOWN_CUSTOMER"])
    (cid,) = plants["UNKNOWN_CUSTOMER"]
    assert (tables["invoices"]["customer_id"] == cid).any() and (tables["payments"]["customer_id"] == cid).any()
    assert not tables["orders"]["customer_id"].isin(strangers).any()


def test_currency_mismatches_are_eur_payments_for_usd_invoices(tables, plants):
    inv, pay = tables["invoices"], tables["payments"]
    ccy = inv.drop_duplicates("invoice_no")[["invoice_no", "currency", "customer_id"]]
    ref = pay.dropna(subset=["invoice_no"]).merge(ccy, on="invoice_no", suffixes=("", "_inv"))
    mismatch = ref[ref["currency"] != ref["currency_inv"]]
    assert set(mismatch["payment_id"]) == set(plants["CURRENCY_MISMATCH"])
    assert (mismatch["currency"] == "EUR").all() and (mismatch["currency_inv"] == "USD").all()
    assert (mismatch["customer_id"] == mismatch["customer_id_inv"]).all()


def test_unapplied_cash_is_an_overpayment_or_an_advance(tables, plants):
    inv, pay = tables["invoices"], tables["payments"].set_index("payment_id")
    totals = inv.groupby("invoice_no")["amount"].sum()
    kinds = []
    for pid in plants["UNAPPLIED_CASH"]:
        p = pay.loc[pid]
        if not (inv["customer_id"] == p["customer_id"]).any():
            kinds.append("advance")
        else:
            assert isinstance(p["invoice_no"], str) and p["amount"] > totals[p["invoice_no"]] + 1
            kinds.append("overpayment")
    assert set(kinds) == {"advance", "overpayment"}


def test_short_paid_invoices_are_referenced_and_partly_paid(tables, plants):
    inv, pay = tables["invoices"], tables["payments"]
    totals = inv.groupby("invoice_no")["amount"].sum()
    paid = pay.groupby("invoice_no")["amount"].sum()
    for no in plants["SHORT_PAID"]:
        assert 0 < paid[no] < totals[no] - 0.005, no


# ----------------------------------------------------------------------------- templates

def test_template_tables_have_the_canonical_headers_and_no_rows():
    t = template_tables()
    assert list(t) == TABLE_ORDER
    for name, df in t.items():
        assert list(df.columns) == TABLES[name].names and df.empty


def test_template_instructions_describe_every_schema_column():
    ins = template_instructions()
    assert list(ins.columns) == ["sheet", "column", "required", "meaning", "example"]
    expected = [(t, c.name, "yes" if c.required else "no") for t in TABLE_ORDER for c in TABLES[t].columns]
    assert list(zip(ins["sheet"], ins["column"], ins["required"])) == expected
    assert ins["meaning"].str.len().min() > 5 and (ins["example"] != "").all()


# ----------------------------------------------------------------------------- end to end

def test_reconciliation_of_the_demo_finds_every_planted_problem(tables, plants):
    """Through the real pipeline (ingest, allocation, reconciliation) every planted key shows up."""
    from billing import ingest
    from billing import allocation
    from billing import reconcile
    from billing.model import RawSheet, RawWorkbook
    from billing.policy import Policy

    sheets = []
    for name, df in tables.items():
        rows = [list(df.columns)] + df.astype(object).where(df.notna(), None).values.tolist()
        sheets.append(RawSheet(name, pd.DataFrame(rows)))
    ds = ingest.build_dataset(RawWorkbook("demo", sheets), ingest.IngestOptions())
    assert all(c.quarantined == 0 for c in ds.counts.values()), ds.quarantine.head()
    as_of = pd.Timestamp(AS_OF)
    alloc = allocation.allocate(ds.invoices, ds.payments, as_of, Policy())
    ex = reconcile.find_exceptions(ds.tables, alloc, as_of, Policy())
    for kind, keys in plants.items():
        found = ex[ex["type"] == kind]
        seen = {str(v) for refs in found["refs"] for vals in refs.values() for v in vals}
        seen |= set(found["customer_id"].astype(str))
        for key in keys:
            if kind in ("UNBILLED", "BILLING_BLOCKED"):
                key = f"{key[0]}/{key[1]}"
            elif kind == "DUPLICATE_LINE":
                key = key[0]
            assert str(key) in seen, (kind, key)
    counts = ex["type"].value_counts()
    for kind in ("OVERBILLED_QTY", "PRICE_MISMATCH", "LINE_TOTAL_MISMATCH", "BILLED_BEFORE_DELIVERY",
                 "ORPHAN_INVOICE_LINE", "DUPLICATE_LINE", "DUPLICATE_LINE_CODE", "BAD_REFERENCE", "UNBILLED"):
        assert counts[kind] == len(plants[kind]), kind


# ----------------------------------------------------------------------------- the demo without a file

def test_demo_dataset_equals_the_demo_workbook_written_and_read_back():
    import io

    from billing.demo import demo_dataset
    from connectors.export import write_demo_workbook
    from connectors.load import load_uploads

    buf = io.BytesIO()
    write_demo_workbook(buf, n_lines=MIN_LINES)
    via_file = load_uploads([("demo.xlsx", buf.getvalue())])
    direct = demo_dataset(n_lines=MIN_LINES)
    assert list(direct.tables) == list(via_file.tables)
    for name in via_file.tables:
        pd.testing.assert_frame_equal(direct.tables[name], via_file.tables[name], obj=name)
    pd.testing.assert_frame_equal(direct.quarantine, via_file.quarantine)
    assert (direct.counts, direct.notes, direct.sheet_map, direct.source) == \
        (via_file.counts, via_file.notes, via_file.sheet_map, via_file.source)
