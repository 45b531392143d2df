"""Cash application (SPEC §17): a generated statement with known answers, the check digits,
and the property that nothing is ever matched automatically to the wrong customer."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import iso11649
from stdnum.ch import esr

from billing.cashapp import (engine_payments, match_payments, possible_duplicates, qrr_valid, rf_reference,
                             rf_valid)
from billing.linecode import make_code
from billing.policy import Policy
from tests.budget import examples


def line(invoice_no, customer, open_, line_no=1, currency="EUR"):
    return dict(line_code=make_code(invoice_no, line_no), invoice_no=invoice_no, customer_id=customer,
                currency=currency, open=open_)


def pay(pid, amount, text="", name=None, iban=None, ref=None, currency="EUR"):
    return dict(payment_id=pid, amount=amount, currency=currency, payer_name=name, payer_iban=iban,
                remittance=text, creditor_ref=ref, booking_date=pd.Timestamp("2026-11-20"))


LINES = pd.DataFrame([
    line("RE 001", "MEDIEN", 10000), line("RE 002", "MEDIEN", 5000),
    line("11063225", "DIENST", 2999),
    line("INV-77", "ACME", 40000), line("INV-77", "ACME", 1000, line_no=2),
    line("INV-78", "KUNDE", 12345),
    line("INV-90", "NORD", 20000),
    line("INV-91", "SUED", 30000),
    line("INV-92", "OST", 7000),
    line("2026-0042", "WEST", 8000),
])
CUSTOMERS = pd.DataFrame([
    dict(customer_id="MEDIEN", name="Medien GmbH", iban=None),
    dict(customer_id="DIENST", name="Dienstleister GmbH", iban="DE89370400440532013006"),
    dict(customer_id="ACME", name="Acme Trading Ltd", iban=None),
    dict(customer_id="KUNDE", name="Kunde GmbH", iban=None),
    dict(customer_id="NORD", name="Nordlicht Logistik AG", iban=None),
    dict(customer_id="SUED", name="Südwind Handels GmbH", iban=None),
    dict(customer_id="OST", name="Ostsee Fisch KG", iban=None),
    dict(customer_id="WEST", name="Westfalen Stahl GmbH", iban=None),
    dict(customer_id="WEST2", name="Westfalen Stahl AG", iban=None),
])
LEARNED = pd.DataFrame([dict(iban="NL91ABNA0417164300", customer_id="NORD")])
ACME_1 = make_code("INV-77", 1)


def statement() -> pd.DataFrame:
    """One payment per case the brief names, with the answer it must get."""
    return pd.DataFrame([
        pay("rf", 40000, "thanks", name="A. Smith", ref=rf_reference(ACME_1)),              # RF of a line code
        pay("code", 12345, f"Zahlung {make_code('INV-78', 1).lower()} danke", name="K"),  # line code in text
        pay("several", 15000, "KD 123456 RE 001, RE 002", name="Medien"),                 # two invoices, in order
        pay("rechnung", 2999, "Rechnung 11063225", name="Dienstleister"),                 # invoice in text
        pay("iban", 20000, "Zahlung November", name="NL Payer BV", iban="NL91 ABNA 0417 1643 00"),  # learned IBAN
        pay("name", 30000, "Danke", name="Suedwind Handels GmbH"),                        # misspelt name (ü → ue)
        pay("partial", 3000, "INV-92 part 1", name="Ostsee"),                             # partial payment
        pay("over", 9000, "2026-0042", name="Westfalen"),                                 # overpayment
        pay("charges", 40500, "INV-77", name="Acme"),                                     # 5.00 charges deducted
        pay("unknown", 4321, "invoice 555", name="Jane Doe"),                             # unknown payer
        pay("badcheck", 12345, make_code("INV-78", 1)[:-1] + "X", name="Kunde GmbH"),    # typo in the code
        pay("twins", 5000, "Westfalen payment", name="Westfalen Stahl"),                  # name too close to two
    ])


EXPECTED = {  # payment -> (status, step, customer)
    "rf": ("matched", "reference", "ACME"), "code": ("matched", "reference", "KUNDE"),
    "several": ("matched", "invoice", "MEDIEN"), "rechnung": ("matched", "invoice", "DIENST"),
    "iban": ("matched", "iban", "NORD"), "name": ("matched", "name", "SUED"),
    "partial": ("matched", "invoice", "OST"), "over": ("matched", "invoice", "WEST"),
    "charges": ("matched", "invoice", "ACME"), "unknown": ("review", None, None),
    "badcheck": ("review", None, None), "twins": ("review", None, None),
}


@pytest.fixture(scope="module")
def result():
    return match_payments(statement(), LINES, CUSTOMERS, LEARNED, Policy())


def test_every_case_gets_its_known_answer(result):
    got = result.matches.set_index("payment_id")
    for pid, (status, step, customer) in EXPECTED.items():
        row = got.loc[pid]
        assert (row["status"], None if pd.isna(row["step"]) else row["step"],
                None if pd.isna(row["customer_id"]) else row["customer_id"]) == (status, step, customer), pid


def test_several_invoice_numbers_are_applied_in_the_order_written(result):
    row = result.matches.set_index("payment_id").loc["several"]
    assert row["invoice_nos"] == "RE 001 | RE 002"
    assert row["reference"] == "RE001 RE002"
    assert row["expected"] == 15000 and row["difference"] == 0


def test_every_decision_carries_its_step_and_the_text_that_decided(result):
    m = result.matches.set_index("payment_id")
    assert "RF reference" in m.loc["rf", "evidence"] and ACME_1 in m.loc["rf", "evidence"]
    assert "NL91ABNA0417164300" in m.loc["iban", "evidence"] and "confirmed earlier" in m.loc["iban", "evidence"]
    assert "Südwind Handels GmbH" in m.loc["name", "evidence"]
    assert m.loc["badcheck", "note"].startswith("the text holds a reference that fails its check")


def test_bank_charges_are_proposed_as_write_off_never_partial_payments(result):
    m = result.matches.set_index("payment_id")
    assert m.loc["charges", "write_off"] == 500 and m.loc["charges", "status"] == "matched"
    assert m.loc["charges", "write_off_line"] == make_code("INV-77", 2)
    assert m.loc["partial", "write_off"] == 0 and "partial" in m.loc["partial", "note"]
    assert m.loc["over", "difference"] == 1000 and "overpaid" in m.loc["over", "note"]


def test_the_queue_has_suggestions_with_evidence(result):
    s = result.suggestions
    twins = s[s["payment_id"] == "twins"]
    assert set(twins["customer_id"]) >= {"WEST", "WEST2"}
    # an unknown payer whose amount equals no open invoice has no invented customer
    assert s[(s["payment_id"] == "unknown") & (s["score"] >= Policy().bank_name_min_score)].empty
    bad = s[s["payment_id"] == "badcheck"]
    assert "KUNDE" in set(bad["customer_id"])  # the name and the exact amount point there


def test_an_invoice_already_paid_waits_for_review():
    paid = LINES.assign(open=0)
    r = match_payments(pd.DataFrame([pay("dup", 2999, "Rechnung 11063225")]), paid, CUSTOMERS)
    assert r.matches.loc[0, "status"] == "review" and "already paid" in r.matches.loc[0, "note"]


def test_references_of_two_customers_wait_for_review():
    r = match_payments(pd.DataFrame([pay("mix", 100, "RE 001 and 11063225")]), LINES, CUSTOMERS)
    assert r.matches.loc[0, "status"] == "review" and "several customers" in r.matches.loc[0, "note"]


def test_a_reference_against_the_known_iban_waits_for_review():
    r = match_payments(pd.DataFrame([pay("x", 2999, "RE 001", iban="DE89370400440532013006")]), LINES, CUSTOMERS)
    assert r.matches.loc[0, "status"] == "review" and "IBAN belongs to DIENST" in r.matches.loc[0, "note"]


def test_an_iban_of_two_customers_is_not_used():
    learned = pd.DataFrame([dict(iban="NL91ABNA0417164300", customer_id="NORD"),
                            dict(iban="NL91ABNA0417164300", customer_id="OST")])
    r = match_payments(pd.DataFrame([pay("x", 10, "hi", iban="NL91ABNA0417164300")]), LINES, CUSTOMERS, learned)
    assert r.matches.loc[0, "status"] == "review"


def test_rf_and_qr_check_digits_agree_with_python_stdnum():
    refs = ["RF18539007547034", "RF18000000000539007547034", "RF19539007547034", rf_reference("INV77001J"),
            "RF38000000000000000000552"]
    assert list(rf_valid(pd.Series(refs, dtype="string"))) == [iso11649.is_valid(r) for r in refs]
    qrr = ["210000000003139471430009017", "210000000003139471430009018", "000000000002015110002913192"]
    assert list(qrr_valid(pd.Series(qrr, dtype="string"))) == [esr.is_valid(r) for r in qrr]


@settings(max_examples=examples(25), deadline=None)
@given(st.data())
def test_nothing_is_ever_matched_automatically_to_the_wrong_customer(data):
    n_cust = data.draw(st.integers(2, 8))
    words = st.text(alphabet="abcdefghijklmnoprstuvz", min_size=3, max_size=9)
    names = data.draw(st.lists(words, min_size=n_cust, max_size=n_cust, unique=True))
    customers = pd.DataFrame({"customer_id": [f"C{i}" for i in range(n_cust)],
                              "name": [f"{n.title()} Kft" for n in names]})
    invoices = data.draw(st.lists(st.integers(1000, 99999), min_size=n_cust, max_size=3 * n_cust, unique=True))
    lines = pd.DataFrame([line(str(no), f"C{i % n_cust}", 1000 + i) for i, no in enumerate(invoices)])
    rows, truth = [], {}
    for k in range(data.draw(st.integers(1, 12))):
        i = data.draw(st.integers(0, len(lines) - 1))
        target = lines.iloc[i]
        form = data.draw(st.sampled_from(["invoice", "code", "rf", "name", "typo", "noise"]))
        cust_name = customers.loc[int(target["customer_id"][1:]), "name"]
        text = {"invoice": f"Szamla {target['invoice_no']}", "code": f"ref {target['line_code']}",
                "rf": "", "name": "", "typo": f"ref {target['line_code'][:-1]}{'0' if target['line_code'][-1] != '0' else '1'}",
                "noise": data.draw(words)}[form]
        ref = rf_reference(target["line_code"]) if form == "rf" else None
        name = cust_name if form in ("name", "invoice", "code", "rf") else data.draw(words)
        rows.append(pay(f"p{k}", int(target["open"]), text, name=name, ref=ref))
        truth[f"p{k}"] = target["customer_id"]
    r = match_payments(pd.DataFrame(rows), lines, customers)
    matched = r.matches[r.matches["status"] == "matched"]
    wrong = matched[matched["customer_id"] != matched["payment_id"].map(truth)]
    assert wrong.empty, wrong.to_dict("records")


def test_possible_duplicates_of_workbook_payments():
    bank = pd.DataFrame([dict(payment_id="B1", customer_id="C1", amount=500, currency="EUR",
                              booking_date=pd.Timestamp("2026-11-20")),
                         dict(payment_id="B2", customer_id="C1", amount=500, currency="EUR",
                              booking_date=pd.Timestamp("2026-11-30"))])
    wb = pd.DataFrame([dict(payment_id="W1", customer_id="C1", amount=500, currency="EUR",
                            payment_date=pd.Timestamp("2026-11-18"))])
    assert possible_duplicates(bank, wb, 3).to_dict("records") == [{"payment_id": "B1", "workbook_payment_id": "W1"}]


def test_engine_payments_carry_customer_and_reference_for_the_allocation():
    credits = statement().assign(source="nov.xml", entry=[str(i) for i in range(1, 13)])
    r = match_payments(credits, LINES, CUSTOMERS, LEARNED)
    p = engine_payments(credits, r.matches)
    assert set(p["payment_id"]) == {k for k, v in EXPECTED.items() if v[0] == "matched"}
    assert p.set_index("payment_id").loc["several", "reference"] == "RE001 RE002"
    assert p["amount"].dtype == np.int64
