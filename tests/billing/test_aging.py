"""billing.aging: line aging, roll-ups and history, with figures computed by hand."""
from __future__ import annotations

import sys
import types

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.aging import LINE_AGING_COLUMNS, bucket_codes, history, line_aging, month_ends, rollup
from billing.linecode import make_code
from billing.model import AllocationResult
from billing.policy import Policy
from billing.allocation import allocate
from tests.billing.reference_aging import bucket_labels, bucket_of, reference_line_aging, reference_rollup
from tests.billing.test_allocation import oracle, scenarios
from tests.budget import examples
from tests.factories import make_invoices, make_payments

AS_OF = pd.Timestamp("2024-06-30")
LABELS = ["current", "1-30", "31-60", "61-90", "91-120", "over_120"]


def code(invoice_no: str, line_no: int = 1) -> str:
    return make_code(invoice_no, line_no)


def make_alloc(allocated: dict[str, int] | None = None, unapplied: list[dict] | None = None,
               paid_on: dict[str, str] | None = None) -> AllocationResult:
    """An AllocationResult built by hand: allocated amount per line code, unapplied rows."""
    allocated = allocated or {}
    paid_on = paid_on or {}
    la = pd.DataFrame({
        "line_code": pd.array(list(allocated), dtype="string"),
        "allocated": np.array(list(allocated.values()), dtype=np.int64),
        "last_payment_date": pd.to_datetime([paid_on.get(c) for c in allocated]).astype("datetime64[ns]"),
    })
    un = pd.DataFrame(unapplied or [], columns=["payment_id", "payment_date", "customer_id", "currency", "amount"])
    un = un.astype({"payment_id": "string", "customer_id": "string", "currency": "string", "amount": "int64"})
    un["payment_date"] = pd.to_datetime(un["payment_date"]).astype("datetime64[ns]")
    empty = pd.DataFrame()
    return AllocationResult(allocations=empty, unapplied=un, effective_payments=empty,
                            reference_issues=empty, currency_mismatches=empty, line_allocated=la)


@pytest.fixture
def book():
    """The hand-computed scenario (as of 2024-06-30, due_date basis):

    line  cust ccy  invoiced    due         amount  alloc  open   dpd  bucket
    INV-1/1 C1 USD  2024-03-01  2024-03-31   10000   4000   6000   91  91-120
    INV-1/2 C1 USD  2024-03-01  2024-03-31    5000   5000      0   91  91-120 (fully paid)
    INV-2   C1 USD  2024-05-20  2024-06-19   20000      0  20000   11  1-30
    INV-3   C1 USD  2024-06-15  2024-07-15   30000      0  30000  -15  current
    INV-4   C2 USD  2024-01-10  2024-02-09    7000   1000   6000  142  over_120
    INV-5   C2 USD  2024-04-30  2024-05-30   12345      0  12345   31  31-60 (in dispute)
    INV-7   C3 EUR  2024-04-01  2024-05-01   50000      0  50000   60  31-60
    CN-1    C1 USD  2024-06-01  credit note   -2000  -> not aged
    INV-6   C1 USD  2024-07-05  (after as_of) 9999  -> not aged
    Unapplied: C1 USD 1500, C3 EUR 700, C4 USD 900 (C4 has no lines).
    """
    lines = make_invoices([
        dict(invoice_no="INV-1", line_no=1, customer_id="C1", invoice_date="2024-03-01", due_date="2024-03-31", amount=10000),
        dict(invoice_no="INV-1", line_no=2, customer_id="C1", invoice_date="2024-03-01", due_date="2024-03-31", amount=5000),
        dict(invoice_no="INV-2", customer_id="C1", invoice_date="2024-05-20", due_date="2024-06-19", amount=20000),
        dict(invoice_no="INV-3", customer_id="C1", invoice_date="2024-06-15", due_date="2024-07-15", amount=30000),
        dict(invoice_no="CN-1", customer_id="C1", invoice_date="2024-06-01", due_date="2024-06-01", amount=-2000,
             applies_to="INV-1"),
        dict(invoice_no="INV-4", customer_id="C2", invoice_date="2024-01-10", due_date="2024-02-09", amount=7000),
        dict(invoice_no="INV-5", customer_id="C2", invoice_date="2024-04-30", due_date="2024-05-30", amount=12345),
        dict(invoice_no="INV-6", customer_id="C1", invoice_date="2024-07-05", due_date="2024-08-04", amount=9999),
        dict(invoice_no="INV-7", customer_id="C3", invoice_date="2024-04-01", due_date="2024-05-01", amount=50000,
             currency="EUR"),
    ])
    alloc = make_alloc(
        {code("INV-1", 1): 4000, code("INV-1", 2): 5000, code("INV-4"): 1000},
        [dict(payment_id="P1", payment_date="2024-06-01", customer_id="C1", currency="USD", amount=1500),
         dict(payment_id="P2", payment_date="2024-06-02", customer_id="C3", currency="EUR", amount=700),
         dict(payment_id="P3", payment_date="2024-06-03", customer_id="C4", currency="USD", amount=900)])
    disputes = pd.DataFrame({"line_code": [code("INV-5"), code("INV-2")], "status": ["in_review", "resolved"]})
    return lines, alloc, disputes


def by_code(aging: pd.DataFrame) -> pd.DataFrame:
    return aging.set_index(aging["line_code"].astype(str))


# --------------------------------------------------------------------------- line_aging

def test_line_aging_ages_each_invoice_line_by_due_date(book):
    lines, alloc, disputes = book
    aging = line_aging(lines, alloc, AS_OF, Policy(), disputes)
    a = by_code(aging)
    expected = {  # code: (open, days_past_due, bucket)
        code("INV-1", 1): (6000, 91, "91-120"),
        code("INV-1", 2): (0, 91, "91-120"),
        code("INV-2"): (20000, 11, "1-30"),
        code("INV-3"): (30000, -15, "current"),
        code("INV-4"): (6000, 142, "over_120"),
        code("INV-5"): (12345, 31, "31-60"),
        code("INV-7"): (50000, 60, "31-60"),
    }
    assert set(a.index) == set(expected)
    for c, (open_, dpd, bucket) in expected.items():
        assert (a.loc[c, "open"], a.loc[c, "days_past_due"], a.loc[c, "bucket"]) == (open_, dpd, bucket), c


def test_line_aging_has_the_contract_columns_and_dtypes(book):
    lines, alloc, disputes = book
    aging = line_aging(lines, alloc, AS_OF, Policy(), disputes)
    assert list(aging.columns) == LINE_AGING_COLUMNS
    for col in ["amount", "allocated", "open", "days_past_due", "line_no"]:
        assert aging[col].dtype == np.int64, col
    for col in ["in_dispute", "fully_paid", "due_date_derived"]:
        assert aging[col].dtype == bool, col
    for col in ["line_code", "invoice_no", "customer_id", "currency"]:
        assert aging[col].dtype == "string", col
    assert aging["invoice_date"].dtype == "datetime64[ns]"
    assert aging["due_date"].dtype == "datetime64[ns]"
    assert aging["bucket"].dtype == pd.CategoricalDtype(LABELS, ordered=True)
    assert isinstance(aging.index, pd.RangeIndex)


def test_line_aging_skips_credit_notes_and_lines_invoiced_after_as_of(book):
    lines, alloc, _ = book
    aging = line_aging(lines, alloc, AS_OF)
    assert code("CN-1") not in set(aging["line_code"])
    assert code("INV-6") not in set(aging["line_code"])
    assert len(aging) == 7


def test_line_aging_keeps_fully_paid_lines_so_totals_reconcile(book):
    lines, alloc, _ = book
    aging = line_aging(lines, alloc, AS_OF)
    a = by_code(aging)
    assert a.loc[code("INV-1", 2), "fully_paid"]
    assert not a.loc[code("INV-1", 1), "fully_paid"]
    # amounts of aged lines 134345 = allocated 10000 + open 124345
    assert aging["amount"].sum() == 134345
    assert aging["allocated"].sum() == 10000
    assert aging["open"].sum() == 124345


def test_line_aging_flags_only_lines_under_open_dispute(book):
    lines, alloc, disputes = book
    a = by_code(line_aging(lines, alloc, AS_OF, Policy(), disputes))
    assert a.loc[code("INV-5"), "in_dispute"]  # in_review is open
    assert not a.loc[code("INV-2"), "in_dispute"]  # resolved is closed
    assert a["in_dispute"].sum() == 1
    assert not line_aging(lines, alloc, AS_OF)["in_dispute"].any()


def test_line_aging_by_invoice_date_basis_counts_days_since_invoice(book):
    lines, alloc, _ = book
    a = by_code(line_aging(lines, alloc, AS_OF, Policy(basis="invoice_date")))
    expected = {  # as_of − invoice_date
        code("INV-1", 1): (121, "over_120"),  # 2024-03-01 -> 06-30
        code("INV-2"): (41, "31-60"),  # 05-20
        code("INV-3"): (15, "1-30"),  # 06-15
        code("INV-4"): (172, "over_120"),  # 01-10
        code("INV-5"): (61, "61-90"),  # 04-30
        code("INV-7"): (90, "61-90"),  # 04-01
    }
    for c, (dpd, bucket) in expected.items():
        assert (a.loc[c, "days_past_due"], a.loc[c, "bucket"]) == (dpd, bucket), c


def test_line_aging_uses_custom_bucket_edges(book):
    lines, alloc, _ = book
    policy = Policy(bucket_edges=(15, 45))
    aging = line_aging(lines, alloc, AS_OF, policy)
    assert list(aging["bucket"].cat.categories) == ["current", "1-15", "16-45", "over_45"]
    a = by_code(aging)
    assert a.loc[code("INV-2"), "bucket"] == "1-15"  # 11 days
    assert a.loc[code("INV-5"), "bucket"] == "16-45"  # 31 days
    assert a.loc[code("INV-7"), "bucket"] == "over_45"  # 60 days
    assert a.loc[code("INV-3"), "bucket"] == "current"


@pytest.mark.parametrize("dpd, bucket", [(-5, "current"), (0, "current"), (1, "1-30"), (30, "1-30"),
                                         (31, "31-60"), (60, "31-60"), (61, "61-90"), (90, "61-90"),
                                         (91, "91-120"), (120, "91-120"), (121, "over_120"), (5000, "over_120")])
def test_bucket_edges_are_inclusive_upper_bounds(dpd, bucket):
    due = AS_OF - pd.Timedelta(days=dpd)
    lines = make_invoices([dict(invoice_no="X", customer_id="C", invoice_date=min(due, AS_OF), due_date=due,
                                amount=100)])
    aging = line_aging(lines, make_alloc(), AS_OF)
    assert aging.loc[0, "days_past_due"] == dpd
    assert aging.loc[0, "bucket"] == bucket
    assert LABELS[bucket_codes(np.array([dpd]), (30, 60, 90, 120))[0]] == bucket


def test_a_line_with_no_kind_and_a_negative_amount_is_a_credit_note_and_not_aged():
    lines = make_invoices([dict(invoice_no="A", customer_id="C", invoice_date="2024-06-01", amount=100),
                           dict(invoice_no="B", customer_id="C", invoice_date="2024-06-01", amount=-40),
                           dict(invoice_no="D", customer_id="C", invoice_date="2024-06-01", amount=60)])
    lines["kind"] = pd.array([pd.NA, pd.NA, "invoice"], dtype="string")
    aging = line_aging(lines, make_alloc(), AS_OF)
    assert list(aging["invoice_no"]) == ["A", "D"]


def test_line_aging_of_no_lines_is_an_empty_frame_with_the_columns():
    aging = line_aging(make_invoices([]), make_alloc(), AS_OF)
    assert len(aging) == 0
    assert list(aging.columns) == LINE_AGING_COLUMNS
    assert aging["open"].dtype == np.int64
    roll = rollup(aging, ["customer_id", "currency"])
    assert len(roll) == 0 and list(roll.columns)[:2] == ["customer_id", "currency"]


def test_line_aging_with_only_future_lines_is_empty(book):
    lines, alloc, _ = book
    assert len(line_aging(lines, alloc, pd.Timestamp("2023-12-31"))) == 0


def test_line_aging_finds_allocations_whatever_order_line_allocated_is_in(book):
    lines, alloc, _ = book
    reference = line_aging(lines, alloc, AS_OF)
    # one row per line of the whole table, in table order (the fast path) ...
    full = pd.DataFrame({"line_code": lines["line_code"],
                         "allocated": lines["line_code"].map(dict(zip(alloc.line_allocated["line_code"],
                                                                      alloc.line_allocated["allocated"])))
                         .fillna(0).astype("int64"),
                         "last_payment_date": pd.NaT})
    # ... the aged lines in aging order (the other fast path) ...
    aged = full[full["line_code"].isin(set(reference["line_code"]))].reset_index(drop=True)
    # ... and the same shuffled (the join)
    shuffled = full.sample(frac=1, random_state=3).reset_index(drop=True)
    for la in (full, aged, shuffled):
        alloc2 = make_alloc()
        alloc2.line_allocated = la
        got = line_aging(lines, alloc2, AS_OF)
        pd.testing.assert_frame_equal(got, reference)


def test_line_aging_fills_a_missing_due_date_from_default_terms():
    lines = make_invoices([dict(invoice_no="X", customer_id="C", invoice_date="2024-06-01", amount=100)])
    lines["due_date"] = pd.Series([pd.NaT], dtype="datetime64[ns]")
    lines["due_date_derived"] = False
    aging = line_aging(lines, make_alloc(), AS_OF, Policy(default_terms_days=10))
    assert aging.loc[0, "due_date"] == pd.Timestamp("2024-06-11")
    assert aging.loc[0, "due_date_derived"]
    assert aging.loc[0, "days_past_due"] == 19


def test_line_aging_does_not_change_its_inputs(book):
    lines, alloc, disputes = book
    before = lines.copy(), alloc.line_allocated.copy()
    line_aging(lines, alloc, AS_OF, Policy(), disputes)
    pd.testing.assert_frame_equal(lines, before[0])
    pd.testing.assert_frame_equal(alloc.line_allocated, before[1])


# --------------------------------------------------------------------------- rollup

def test_rollup_per_customer_has_buckets_unapplied_credit_and_net(book):
    lines, alloc, disputes = book
    aging = line_aging(lines, alloc, AS_OF, Policy(), disputes)
    roll = rollup(aging, ["customer_id", "currency"], alloc.unapplied)
    assert list(roll.columns) == ["customer_id", "currency", *LABELS, "open", "unapplied", "net",
                                  "in_dispute", "overdue", "lines", "oldest_days"]
    got = {(r.customer_id, r.currency): r for r in roll.itertuples(index=False)}
    # sorted by currency, then open descending: EUR/C3, USD/C1 56000, USD/C2 18345, USD/C4 0
    assert list(zip(roll["currency"], roll["customer_id"])) == [("EUR", "C3"), ("USD", "C1"), ("USD", "C2"),
                                                                ("USD", "C4")]
    rows = roll.set_index(["customer_id", "currency"])
    assert rows.loc[("C1", "USD"), LABELS].tolist() == [30000, 20000, 0, 0, 6000, 0]
    assert rows.loc[("C1", "USD"), ["open", "unapplied", "net", "in_dispute", "lines", "oldest_days"]].tolist() \
        == [56000, -1500, 54500, 0, 3, 91]
    assert rows.loc[("C2", "USD"), LABELS].tolist() == [0, 0, 12345, 0, 0, 6000]
    assert rows.loc[("C2", "USD"), ["open", "unapplied", "net", "in_dispute", "lines", "oldest_days"]].tolist() \
        == [18345, 0, 18345, 12345, 2, 142]
    c4 = rows.loc[("C4", "USD")]
    assert c4[LABELS].tolist() == [0] * 6 and (c4["open"], c4["unapplied"], c4["net"], c4["lines"]) == (0, -900, -900, 0)
    assert pd.isna(c4["oldest_days"])
    assert rows.loc[("C3", "EUR"), ["open", "unapplied", "net", "oldest_days"]].tolist() == [50000, -700, 49300, 60]
    assert len(got) == 4


def test_rollup_dtypes_are_integer_minor_units(book):
    lines, alloc, disputes = book
    roll = rollup(line_aging(lines, alloc, AS_OF, Policy(), disputes), ["customer_id", "currency"], alloc.unapplied)
    for col in [*LABELS, "open", "unapplied", "net", "in_dispute", "lines"]:
        assert roll[col].dtype == np.int64, col
    assert roll["oldest_days"].dtype == "Int64"
    assert roll["customer_id"].dtype == "string"


def test_rollup_per_currency_totals(book):
    lines, alloc, disputes = book
    roll = rollup(line_aging(lines, alloc, AS_OF, Policy(), disputes), ["currency"], alloc.unapplied)
    rows = roll.set_index("currency")
    # USD: current 30000, 1-30 20000, 31-60 12345, 91-120 6000, over_120 6000 = 74345
    assert rows.loc["USD", LABELS].tolist() == [30000, 20000, 12345, 0, 6000, 6000]
    assert rows.loc["USD", ["open", "unapplied", "net", "in_dispute", "lines", "oldest_days"]].tolist() \
        == [74345, -2400, 71945, 12345, 5, 142]
    assert rows.loc["EUR", ["open", "unapplied", "net", "lines"]].tolist() == [50000, -700, 49300, 1]
    assert list(roll["currency"]) == ["EUR", "USD"]


def test_rollup_per_invoice_attributes_no_unapplied_credit(book):
    lines, alloc, _ = book
    roll = rollup(line_aging(lines, alloc, AS_OF), ["invoice_no", "customer_id", "currency"], alloc.unapplied)
    rows = roll.set_index("invoice_no")
    assert (roll["unapplied"] == 0).all()
    assert (roll["net"] == roll["open"]).all()
    assert rows.loc["INV-1", "91-120"] == 6000 and rows.loc["INV-1", "lines"] == 1  # line 2 is paid
    assert set(rows.index) == {"INV-1", "INV-2", "INV-3", "INV-4", "INV-5", "INV-7"}
    # USD invoices by open descending
    assert list(roll.loc[roll["currency"] == "USD", "invoice_no"]) == ["INV-3", "INV-2", "INV-5", "INV-1", "INV-4"]


def test_rollup_per_line_sums_to_the_aging(book):
    lines, alloc, _ = book
    aging = line_aging(lines, alloc, AS_OF)
    roll = rollup(aging, ["line_code", "currency"])
    assert roll["open"].sum() == aging["open"].sum() == 124345
    assert len(roll) == 6  # the fully paid line has no open amount


def test_rollup_without_unapplied_frame_has_zero_credit(book):
    lines, alloc, _ = book
    roll = rollup(line_aging(lines, alloc, AS_OF), ["customer_id", "currency"])
    assert (roll["unapplied"] == 0).all() and len(roll) == 3


def test_rollup_of_all_paid_lines_lists_only_unapplied_credit():
    lines = make_invoices([dict(invoice_no="A", customer_id="C1", invoice_date="2024-06-01", amount=500)])
    alloc = make_alloc({code("A"): 500}, [dict(payment_id="P", payment_date="2024-06-02", customer_id="C1",
                                              currency="USD", amount=20)])
    aging = line_aging(lines, alloc, AS_OF)
    assert aging["fully_paid"].all() and aging["open"].sum() == 0
    roll = rollup(aging, ["customer_id", "currency"], alloc.unapplied)
    assert roll[["open", "unapplied", "net", "lines"]].values.tolist() == [[0, -20, -20, 0]]


def test_rollup_accepts_buckets_as_plain_text(book):
    lines, alloc, _ = book
    aging = line_aging(lines, alloc, AS_OF)
    as_text = aging.assign(bucket=aging["bucket"].astype(str))
    pd.testing.assert_frame_equal(rollup(as_text, ["currency"], alloc.unapplied),
                                  rollup(aging, ["currency"], alloc.unapplied))


def test_rollup_by_many_keys_agrees_with_pandas_groupby():
    # 40 lines with distinct invoice, customer and due date: 40^4 key combinations (the sort-based path)
    rows = [dict(invoice_no=f"I{i:02d}", customer_id=f"C{i:02d}", invoice_date="2024-01-01",
                 due_date=pd.Timestamp("2024-01-01") + pd.Timedelta(days=3 * i), amount=100 + i) for i in range(40)]
    aging = line_aging(make_invoices(rows), make_alloc(), AS_OF)
    by = ["invoice_no", "customer_id", "due_date", "line_code"]
    roll = rollup(aging, by)
    expected = aging.groupby(by)["open"].sum()
    got = roll.set_index(by)["open"]
    assert got.sort_index().tolist() == expected.sort_index().tolist()
    assert list(roll["open"]) == sorted(roll["open"], reverse=True)


def test_rollup_refuses_an_empty_or_unknown_grouping(book):
    lines, alloc, _ = book
    aging = line_aging(lines, alloc, AS_OF)
    with pytest.raises(ValueError):
        rollup(aging, [])
    with pytest.raises(KeyError):
        rollup(aging, ["segment"])


# --------------------------------------------------------------------------- property

@st.composite
def aged_books(draw):
    n = draw(st.integers(0, 25))
    edges = tuple(sorted(draw(st.sets(st.integers(1, 200), min_size=1, max_size=5))))
    as_of = pd.Timestamp("2024-06-30")
    rows, allocated = [], {}
    for i in range(n):
        inv_offset = draw(st.integers(-10, 400))
        amount = draw(st.integers(0, 10 ** 9))
        rows.append(dict(invoice_no=f"I{i}", customer_id=draw(st.sampled_from(["A", "B", "C"])),
                         currency=draw(st.sampled_from(["USD", "EUR"])),
                         invoice_date=as_of - pd.Timedelta(days=inv_offset),
                         due_date=as_of - pd.Timedelta(days=inv_offset - draw(st.integers(0, 90))),
                         amount=amount))
        if draw(st.booleans()):
            allocated[code(f"I{i}")] = draw(st.integers(0, amount))
    basis = draw(st.sampled_from(["due_date", "invoice_date"]))
    disputed = [c for c in allocated if draw(st.booleans())]
    return (make_invoices(rows), make_alloc(allocated), as_of, Policy(basis=basis, bucket_edges=edges),
            pd.DataFrame({"line_code": disputed, "status": ["open"] * len(disputed)}))


@settings(max_examples=examples(60))
@given(aged_books(), st.sampled_from([["customer_id", "currency"], ["currency"],
                                      ["invoice_no", "customer_id", "currency"]]))
def test_property_buckets_sum_to_open_and_open_to_the_lines(data, by):
    lines, alloc, as_of, policy, disputes = data
    aging = line_aging(lines, alloc, as_of, policy, disputes)
    labels = policy.bucket_labels
    assert (aging["open"] == aging["amount"] - aging["allocated"]).all()
    # bucket = reference rule, one line at a time
    for dpd, bucket in zip(aging["days_past_due"], aging["bucket"]):
        expected = "current" if dpd <= 0 else next(
            (lab for lab, e in zip(labels[1:], policy.bucket_edges) if dpd <= e), labels[-1])
        assert bucket == expected
    roll = rollup(aging, by, alloc.unapplied, policy)
    assert (roll[labels].sum(axis=1) == roll["open"]).all()
    assert roll["open"].sum() == roll[labels].to_numpy().sum() == aging["open"].sum()
    assert roll["in_dispute"].sum() == aging.loc[aging["in_dispute"], "open"].sum()
    assert roll["lines"].sum() == int((aging["open"] != 0).sum())
    for ccy, group in aging.groupby("currency"):
        assert roll.loc[roll["currency"] == ccy, "open"].sum() == group["open"].sum()


# --------------------------------------------------------------------------- history

def test_month_ends_lists_month_end_dates_in_the_range():
    got = month_ends(pd.Timestamp("2024-01-15"), pd.Timestamp("2024-04-30"))
    assert list(got) == [pd.Timestamp(d) for d in ["2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30"]]
    with_end = month_ends("2024-01-15", "2024-03-10", include_end=True)
    assert list(with_end) == [pd.Timestamp(d) for d in ["2024-01-31", "2024-02-29", "2024-03-10"]]


@pytest.fixture
def fake_allocation(monkeypatch):
    """A stand-in billing.allocation: pays each line fully once a payment naming its code is dated <= as_of."""
    calls = []

    def allocate(lines, payments, as_of, policy, disputes=None):
        calls.append(pd.Timestamp(as_of))
        paid = payments[payments["payment_date"] <= as_of]
        by_code_ = dict(zip(lines["line_code"], lines["amount"]))
        alloc = {c: by_code_[c] for c in paid["line_code"] if c in by_code_}
        return make_alloc(alloc, paid_on={c: d for c, d in zip(paid["line_code"], paid["payment_date"])})

    module = types.ModuleType("billing.allocation")
    module.allocate = allocate
    monkeypatch.setitem(sys.modules, "billing.allocation", module)
    return calls


def test_history_re_ages_as_of_each_month_end(fake_allocation):
    # A: 1000 invoiced 01-10 due 02-09, paid 03-15. B: 2000 EUR invoiced 02-20 due 03-21, unpaid.
    lines = make_invoices([
        dict(invoice_no="A", customer_id="C", invoice_date="2024-01-10", due_date="2024-02-09", amount=1000),
        dict(invoice_no="B", customer_id="C", invoice_date="2024-02-20", due_date="2024-03-21", amount=2000,
             currency="EUR"),
    ])
    payments = make_payments([dict(payment_id="P", customer_id="C", payment_date="2024-03-15", amount=1000,
                                   line_code=code("A"))])
    h = history(lines, payments, month_ends("2024-01-01", "2024-04-30"))
    assert list(h.columns) == ["as_of", "currency", "bucket", "open", "overdue"]
    assert fake_allocation == [pd.Timestamp(d) for d in ["2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30"]]
    nonzero = h[h["open"] != 0]
    got = {(str(r.as_of.date()), r.currency, r.bucket): r.open for r in nonzero.itertuples()}
    assert got == {
        ("2024-01-31", "USD", "current"): 1000,  # due 02-09
        ("2024-02-29", "USD", "1-30"): 1000,  # 20 days past due
        ("2024-02-29", "EUR", "current"): 2000,
        ("2024-03-31", "EUR", "1-30"): 2000,  # A paid 03-15; B 10 days late
        ("2024-04-30", "EUR", "31-60"): 2000,  # 40 days
    }
    # every bucket listed for each currency present; overdue is the part of open past its due date
    assert len(h[h["as_of"] == "2024-03-31"]) == 2 * 6
    assert h.loc[h["bucket"] == "current", "overdue"].eq(0).all()
    past = h["bucket"] != "current"
    assert (h.loc[past, "overdue"] == h.loc[past, "open"]).all()  # due-date basis: every aged bucket is late
    assert h["open"].dtype == np.int64


def test_history_before_any_line_is_empty(fake_allocation):
    lines = make_invoices([dict(invoice_no="A", customer_id="C", invoice_date="2024-05-10", amount=1000)])
    h = history(lines, make_payments([]), [pd.Timestamp("2024-01-31")])
    assert len(h) == 0 and list(h.columns) == ["as_of", "currency", "bucket", "open", "overdue"]


def test_aging_with_the_real_allocation_reconciles_to_invoiced_minus_allocated():
    from billing import allocation
    lines = make_invoices([
        dict(invoice_no="A", customer_id="C", invoice_date="2024-05-01", due_date="2024-05-31", amount=1000),
        dict(invoice_no="A", line_no=2, customer_id="C", invoice_date="2024-05-01", due_date="2024-05-31", amount=500),
        dict(invoice_no="B", customer_id="C", invoice_date="2024-06-10", due_date="2024-07-10", amount=3000),
        dict(invoice_no="CN", customer_id="C", invoice_date="2024-06-12", amount=-200, applies_to="B"),
    ])
    payments = make_payments([dict(payment_id="P1", customer_id="C", payment_date="2024-06-05", amount=1200)])
    alloc = allocation.allocate(lines, payments, AS_OF, Policy())
    aging = line_aging(lines, alloc, AS_OF)
    assert aging["open"].sum() == 4500 - 1200 - 200
    roll = rollup(aging, ["customer_id", "currency"], alloc.unapplied)
    assert roll["open"].sum() == 3100 and (roll[LABELS].sum(axis=1) == roll["open"]).all()


def test_history_with_the_real_allocation():
    # A 1000 due 03-31: P1 03-15 pays 500 of it, P2 05-20 (FIFO) the rest. B 2000 invoiced 05-10 due 06-09.
    lines = make_invoices([
        dict(invoice_no="A", customer_id="C", invoice_date="2024-03-01", due_date="2024-03-31", amount=1000),
        dict(invoice_no="B", customer_id="C", invoice_date="2024-05-10", due_date="2024-06-09", amount=2000),
    ])
    payments = make_payments([
        dict(payment_id="P1", customer_id="C", payment_date="2024-03-15", amount=500, line_code=code("A")),
        dict(payment_id="P2", customer_id="C", payment_date="2024-05-20", amount=500),
    ])
    h = history(lines, payments, month_ends("2024-03-01", "2024-06-30"))
    got = {(str(r.as_of.date()), r.bucket): r.open for r in h[h["open"] != 0].itertuples()}
    assert got == {("2024-03-31", "current"): 500,  # due today: 0 days past due
                   ("2024-04-30", "1-30"): 500,
                   ("2024-05-31", "current"): 2000,  # A paid 05-20; B not yet due
                   ("2024-06-30", "1-30"): 2000}  # B 21 days past due


# --------------------------------------------------------------------------- against the oracle

EDGE_SETS = st.lists(st.integers(1, 60), min_size=1, max_size=4, unique=True).map(lambda e: tuple(sorted(e)))


def _engine_line_view(aging: pd.DataFrame) -> dict:
    """code -> (open, days_past_due, bucket, in_dispute amount): what the oracle gives per line."""
    return {c: (o, d, str(b), held) for c, o, d, b, held in zip(
        aging["line_code"], aging["open"].tolist(), aging["days_past_due"].tolist(), aging["bucket"],
        aging["disputed"].tolist())}


@settings(max_examples=examples(150), deadline=None)
@given(scenarios(), st.sampled_from(["due_date", "invoice_date"]), EDGE_SETS)
def test_aging_and_rollup_equal_the_oracle(case, basis, edges):
    """SPEC §5 end to end: the engine's allocation + aging + roll-up against the oracles' plain loops."""
    lines, payments, as_of, policy, disputes = case
    policy = policy.model_copy(update={"basis": basis, "bucket_edges": edges})
    alloc = allocate(lines, payments, as_of, policy, disputes)
    aging = line_aging(lines, alloc, as_of, policy, disputes)
    o_alloc = oracle(lines, payments, as_of, policy, disputes)
    expected = reference_line_aging(lines, o_alloc, as_of, basis=basis, edges=edges, disputes=disputes)
    assert _engine_line_view(aging) == {
        e["code"]: (e["open"], e["days_past_due"], e["bucket"], e["in_dispute"]) for e in expected}
    labels = policy.bucket_labels
    assert labels == bucket_labels(edges)
    roll = rollup(aging, ["customer_id", "currency"], alloc.unapplied, policy)
    got = {(r["customer_id"], r["currency"]): {k: int(r[k]) for k in [*labels, "open", "unapplied", "in_dispute"]}
           for r in roll.to_dict("records")}
    assert got == reference_rollup(expected, o_alloc, edges)


@pytest.mark.parametrize("days, bucket", [(-5, "current"), (0, "current"), (1, "1-30"), (30, "1-30"), (31, "31-60"),
                                          (90, "61-90"), (91, "91-120"), (120, "91-120"), (121, "over_120")])
def test_oracle_bucket_rule_is_the_spec_one(days, bucket):
    """The oracle's own bucket rule, pinned to SPEC §5's labels, so the comparison above means something."""
    assert bucket_of(days) == bucket


# --------------------------------------------------------------------------- edges (from the mutation run)

def test_a_line_due_on_the_as_of_date_is_not_yet_overdue():
    # SPEC §5: overdue = past the due date; on the due date itself the line is still on time
    lines = make_invoices([dict(invoice_no="D0", customer_id="C1", invoice_date="2024-06-01",
                                due_date="2024-06-30", amount=100),
                           dict(invoice_no="D1", customer_id="C1", invoice_date="2024-06-01",
                                due_date="2024-06-29", amount=100)])
    aging = line_aging(lines, make_alloc(), AS_OF)
    assert aging["overdue"].tolist() == [False, True]
    assert aging["days_past_due"].tolist() == [0, 1] and aging["bucket"].astype(str).tolist() == ["current", "1-30"]
    assert rollup(aging, ["currency"])["overdue"].tolist() == [100]


def test_without_an_allocation_every_line_is_open():
    lines = make_invoices([dict(invoice_no="A", customer_id="C1", invoice_date="2024-06-01", amount=700)])
    aging = line_aging(lines, None, AS_OF)
    assert (aging["allocated"].tolist(), aging["open"].tolist()) == ([0], [700])


_AGING_TYPES = {"line_code": "string", "invoice_no": "string", "line_no": "int64", "customer_id": "string",
                "currency": "string", "invoice_date": "datetime64[ns]", "due_date": "datetime64[ns]",
                "due_date_derived": "bool", "amount": "int64", "allocated": "int64", "open": "int64",
                "days_past_due": "int64", "bucket": "category", "in_dispute": "bool", "disputed": "int64",
                "fully_paid": "bool", "overdue": "bool"}


def test_an_aging_with_no_lines_has_the_columns_and_types_of_a_full_one(book):
    lines, alloc, disputes = book
    full = line_aging(lines, alloc, AS_OF, Policy(), disputes)
    none_yet = line_aging(lines, alloc, "2023-01-01", Policy(), disputes)  # nothing invoiced yet
    empty = line_aging(lines.iloc[:0], alloc, AS_OF)
    for aging in (full, none_yet, empty):
        assert {c: str(t) for c, t in aging.dtypes.items()} == _AGING_TYPES
    assert len(none_yet) == len(empty) == 0


def test_a_group_key_that_is_missing_is_its_own_group():
    # nothing is lost: a line without an invoice number still counts, in a group of its own (open descending)
    lines = make_invoices([dict(invoice_no="A", customer_id="C1", invoice_date="2024-06-01", amount=100),
                           dict(invoice_no="B", customer_id="C1", invoice_date="2024-06-01", amount=300)])
    aging = line_aging(lines, make_alloc(), AS_OF)
    aging["invoice_no"] = pd.array(["A", None], dtype="string")
    out = rollup(aging, ["invoice_no"])
    assert out["invoice_no"].isna().tolist() == [True, False] and out["invoice_no"].iloc[1] == "A"
    assert out["open"].tolist() == [300, 100]


def test_rollup_of_many_distinct_groups_equals_a_plain_group_by():
    # 120 lines with distinct customer, invoice and line code: 120**3 key combinations, the sort-based path
    n = 120
    lines = make_invoices([dict(invoice_no=f"I{i:03d}", customer_id=f"C{i % 120:03d}",
                                invoice_date="2024-05-01", amount=1000 + i) for i in range(n)])
    aging = line_aging(lines, make_alloc({code("I005"): 1005}), AS_OF)
    by = ["customer_id", "invoice_no", "line_code"]
    out = rollup(aging, by)
    want = aging[aging["open"] != 0].groupby(by)["open"].sum()
    got = out.set_index(by)["open"]
    assert len(out) == n - 1 and got.sort_index().to_dict() == want.sort_index().to_dict()
    assert out["open"].is_monotonic_decreasing


def test_rollup_of_nothing_open_keeps_the_key_types():
    lines = make_invoices([dict(invoice_no="A", customer_id="C1", invoice_date="2024-06-01", amount=100)])
    aging = line_aging(lines, make_alloc({code("A"): 100}), AS_OF)
    out = rollup(aging, ["customer_id", "currency"])
    assert len(out) == 0 and str(out["customer_id"].dtype) == "string" and str(out["currency"].dtype) == "string"


def test_an_unknown_bucket_is_refused_naming_the_labels(book):
    lines, alloc, disputes = book
    aging = line_aging(lines, alloc, AS_OF, Policy(), disputes)
    aging["bucket"] = aging["bucket"].astype(str).replace("1-30", "soon")
    with pytest.raises(ValueError, match="^aging has a bucket not among the labels: current, 1-30, 31-60, 61-90, "
                                         "91-120, over_120$"):
        rollup(aging, ["currency"])


def test_history_rows_are_numbered_from_zero(book):
    lines, _, _ = book
    payments = make_payments([dict(payment_id="P1", customer_id="C1", payment_date="2024-04-02", amount=4000,
                                   reference=code("INV-1", 1))])
    out = history(lines, payments, month_ends("2024-03-01", "2024-05-31"))
    # March: USD only (the EUR invoice is dated April 1); April and May: USD and EUR, every bucket
    assert len(out) == (1 + 2 + 2) * len(LABELS)
    assert list(out.index) == list(range(len(out)))


def test_line_values_give_a_code_missing_from_the_listed_ones_the_fill():
    from billing.aging import line_values

    la = pd.DataFrame({"line_code": pd.array(["A", "B"], dtype="string"), "allocated": np.array([5, 7])})
    codes = pd.Series(pd.array(["A", None], dtype="string"))
    assert line_values(la, "allocated", codes, fill=0).tolist() == [5, 0]
    assert line_values(la, "allocated", pd.Series(pd.array(["B", "A"], dtype="string")), fill=0).tolist() == [7, 5]


def test_aged_mask_of_no_lines_is_an_empty_boolean_mask():
    from billing.aging import aged_mask

    lines = make_invoices([])
    mask = aged_mask(lines, AS_OF)
    assert mask.dtype == bool and mask.shape == (0,)
    lines = make_invoices([dict(invoice_no="A", customer_id="C1", invoice_date="2024-06-01", amount=100),
                           dict(invoice_no="F", customer_id="C1", invoice_date="2024-07-02", amount=100),
                           dict(invoice_no="CN", customer_id="C1", invoice_date="2024-06-01", amount=-50)])
    assert aged_mask(lines, AS_OF).tolist() == [True, False, False]


def test_a_line_without_a_kind_is_a_credit_note_only_when_negative():
    # SPEC §2: kind "credit_note", or no kind and a negative amount; for text and for object columns alike
    from billing.aging import is_credit_note

    for dtype in ("string", object, "category"):
        lines = pd.DataFrame({"kind": pd.Series(["invoice", None, None, "credit_note"], dtype=dtype),
                              "amount": [-5, 5, -5, 5]})
        assert is_credit_note(lines).tolist() == [False, False, True, True], dtype


def test_line_numbers_are_kept_and_default_to_one():
    lines = make_invoices([dict(invoice_no="A", line_no=2, customer_id="C1", invoice_date="2024-06-01",
                                amount=100)])
    assert line_aging(lines, make_alloc(), AS_OF)["line_no"].tolist() == [2]
    aging = line_aging(lines.drop(columns="line_no"), make_alloc(), AS_OF)
    assert aging["line_no"].tolist() == [1] and str(aging["line_no"].dtype) == "int64"


def test_due_date_derived_is_a_plain_flag_whatever_the_input_holds():
    lines = make_invoices([dict(invoice_no="A", customer_id="C1", invoice_date="2024-06-01", due_date="2024-06-10",
                                amount=100),
                           dict(invoice_no="B", customer_id="C1", invoice_date="2024-06-01", amount=100)])
    absent = line_aging(lines.drop(columns="due_date_derived"), make_alloc(), AS_OF)
    assert absent["due_date_derived"].tolist() == [False, False] and absent["due_date_derived"].dtype == bool
    nullable = lines.assign(due_date_derived=pd.array([None, True], dtype="boolean"))
    aging = line_aging(nullable, make_alloc(), AS_OF)
    assert aging["due_date_derived"].tolist() == [False, True] and aging["due_date_derived"].dtype == bool
