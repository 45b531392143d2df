"""Bank statement readers (SPEC §17): camt.053/054 versions, MT940 dialects, bank CSV, OFX; unsafe,
damaged and wrong files refused with a sentence; the same statement twice gives the same ids."""
from __future__ import annotations

import pandas as pd
import pytest

from billing.bankstmt import StatementError, split_entries
from connectors.bank import read_statement, sniff
from tests.connectors import bank_fixtures as fx


def credits_of(data: bytes, name: str = "s.xml"):
    st = read_statement(data, name)
    return st, split_entries(st.entries)


@pytest.mark.parametrize("version", ["001.02", "001.04", "001.08"])
def test_camt053_batches_become_one_payment_per_transaction(version):
    v8 = version >= "001.08"
    batch = ntry_batch = fx.ntry("150.00", batch=2, v8=v8, txs=fx.tx("100.00", ustrd="RE 1", acct_ref="T1", v8=v8)
                                 + fx.tx("50.00", name="Other AG", ustrd="RE 2", acct_ref="T2", v8=v8))
    st, sp = credits_of(fx.camt053(version, batch, opening="100.00", closing="250.00"))
    assert st.format == f"camt.053.{version}"
    assert list(sp.credits["payment_id"]) == ["T1", "T2"]
    assert list(sp.credits["amount"]) == [10000, 5000]
    assert list(sp.credits["payer_name"]) == ["Kunde AG", "Other AG"]
    assert list(sp.credits["entry"]) == ["1.1", "1.2"] and set(sp.credits["batch_size"]) == {2}
    assert st.warnings == [] and ntry_batch


def test_camt_without_declaration_and_with_amount_in_tx_amount_details():
    txs = ('<TxDtls><Refs><EndToEndId>E2E-9</EndToEndId></Refs><AmtDtls><TxAmt><Amt Ccy="CHF">12.50</Amt></TxAmt>'
           "</AmtDtls></TxDtls>")
    st, sp = credits_of(fx.camt053("001.02", fx.ntry("12.50", txs=txs), opening="0", closing="12.50", declaration=False))
    assert sp.credits.loc[0, "amount"] == 1250 and sp.credits.loc[0, "payment_id"] == "E1"


def test_debits_are_listed_apart_and_pending_is_not_booked():
    entries = (fx.ntry("30.00", ind="DBIT", acct_ref="D1") + fx.ntry("20.00", status="PDNG", acct_ref="P1")
               + fx.ntry("10.00", acct_ref="C1", txs=fx.tx(None, ustrd="RE 3")))
    st, sp = credits_of(fx.camt053("001.04", entries, opening="100.00", closing="80.00"))
    assert list(sp.credits["payment_id"]) == ["C1"] and list(sp.debits["payment_id"]) == ["D1"]
    assert list(sp.pending["payment_id"]) == ["P1"] and st.warnings == []


def test_a_reversal_cancels_what_it_reverses():
    entries = (fx.ntry("40.00", acct_ref="C1", txs=fx.tx(None, e2e="E-77"))
               + fx.ntry("40.00", ind="DBIT", reversal=True, acct_ref="R1", txs=fx.tx(None, e2e="E-77"))
               + fx.ntry("5.00", acct_ref="C2"))
    st, sp = credits_of(fx.camt053("001.02", entries, opening="0", closing="5.00"))
    assert list(sp.credits["payment_id"]) == ["C2"]
    assert set(sp.reversed["payment_id"]) == {"C1", "R1"} and sp.reversed["cancelled"].all()


def test_opening_plus_entries_not_closing_is_a_warning():
    st = read_statement(fx.camt053("001.02", fx.ntry("10.00"), opening="100.00", closing="120.00"), "s.xml")
    assert len(st.warnings) == 1 and "difference 10.00" in st.warnings[0]


def test_rf_reference_and_technical_codes_of_a_structured_remittance():
    st, sp = credits_of(fx.camt053("001.08", fx.ntry("88.85", v8=True, txs=fx.tx(None, ref="RF38000000000000000000552",
                                                                                v8=True)), opening="0", closing="88.85"))
    assert sp.credits.loc[0, "creditor_ref"] == "RF38000000000000000000552"
    # "?REJECT?0" is PostFinance's processing code, not text: the entry's own text stands in
    assert sp.credits.loc[0, "remittance"] == "entry text"


def test_camt054_notification_reads_without_balances():
    st, sp = credits_of(fx.camt054(fx.ntry("30.00", txs=fx.tx("10.00", acct_ref="A") + fx.tx("20.00", acct_ref="B"))))
    assert st.format == "camt.054.001.08" and list(sp.credits["amount"]) == [1000, 2000] and st.balances.empty


@pytest.mark.parametrize("data, words", [
    (fx.XXE, "document type or entities"),
    (fx.LAUGHS, "document type or entities"),
    (fx.camt053("001.02", fx.ntry("10.00"))[:-40], "ends before the XML is complete"),
    (fx.PAIN001, "payment order (pain.001"),
    (b'<?xml version="1.0"?><Document xmlns="urn:x"><Foo/></Document>', "not a bank statement"),
])
def test_unsafe_damaged_or_wrong_xml_is_refused_with_a_sentence(data, words):
    with pytest.raises(StatementError) as err:
        read_statement(data, "upload.xml")
    assert words in str(err.value) and "Traceback" not in str(err.value)
    assert str(err.value).startswith("upload.xml: ")


def test_mt940_german_subfields_sepa_keys_and_reversal():
    st, sp = credits_of(fx.MT940_GERMAN, "d.sta")
    c = sp.credits.iloc[0]
    assert (c["amount"], c["payment_id"], c["end_to_end_id"]) == (1500005, "0724710290621954", "EndToEndIdTFNR2000400001")
    assert c["remittance"] == "RE 2007-118 Danke" and c["payer_name"] == "Richter Renate"
    assert c["payer_iban"] == "DE42100100100043921105"
    e = st.entries
    assert list(e["direction"]) == ["credit", "debit", "debit"] and list(e["reversal"]) == [False, False, True]
    assert st.warnings == []  # debit opening balance + entries = debit closing balance


def test_mt940_ing_blocks_wrapped_tags_and_structured_reference():
    st, sp = credits_of(fx.MT940_ING, "i.940")
    assert list(sp.credits["payment_id"]) == ["00000000001007", "00000000001011"]
    assert sp.credits.loc[0, "remittance"] == "Factuurnr 123456 Klantnr 00123"
    assert sp.credits.loc[0, "payer_name"] == "J.Janssen" and sp.credits.loc[0, "payer_iban"] == "NL32INGB0000012345"
    assert sp.credits.loc[1, "creditor_ref"] == "9001123412341234"
    assert st.warnings == []


def test_mt940_knab_amounts_without_decimals_and_free_text_payer():
    st, sp = credits_of(fx.MT940_KNAB, "k.sta")
    assert list(st.entries["amount"]) == [50000, 2000]
    c = sp.credits.iloc[0]
    assert c["remittance"] == "FACTUUR 201403110, 201403113" and c["payer_name"] == "PICQER"
    assert st.warnings == []


def test_mt940_mbank_control_bytes_funds_code_and_key_pairs():
    st, sp = credits_of(fx.MT940_MBANK, "m.sta")
    c = sp.credits.iloc[0]
    assert (c["amount"], c["payer_name"], c["remittance"]) == (1, "JAN NOWAK", "FV 17/01/2017")
    assert c["payer_iban"] == "56114010810000267002001001" and st.warnings == []


def test_mt940_code_page_852_positional_text():
    st, sp = credits_of(fx.MT940_RAIFFEISEN, "r.sta")
    c = sp.credits.iloc[0]
    assert c["payer_name"] == "HUNGARY KFT." and c["remittance"].startswith("UV, napi összevont utánvét, 2018.04.17")
    assert c["bank_text"] == "Csoportos átutalás jóváírása" and c["amount"] == 206663700


def test_sparkasse_csv_is_recognised_without_a_mapping():
    st, sp = credits_of(fx.SPARKASSE_CSV, "umsaetze.csv")
    assert "Sparkasse" in st.format
    assert list(sp.credits["amount"]) == [114341] and sp.credits.loc[0, "remittance"] == "KD 123456 RE 001, RE 002"
    assert list(sp.debits["amount"]) == [595] and len(sp.pending) == 1
    assert sp.credits.loc[0, "booking_date"] == pd.Timestamp("2025-12-03")


def test_erste_csv_inflow_outflow_column():
    st, sp = credits_of(fx.ERSTE_CSV, "erste.csv")
    assert "Erste" in st.format
    assert list(sp.credits["payer_name"]) == ["Vevő Zrt"] and list(sp.credits["payment_id"]) == ["M-77"]
    assert sp.credits.loc[0, "amount"] == 129000 and list(sp.debits["amount"]) == [35000]


def test_bank_csv_without_bank_columns_says_what_it_expected():
    with pytest.raises(StatementError, match="No header row with bank columns"):
        read_statement(b"foo,bar\n1,2\n", "x.csv")


def test_ofx_sgml():
    ofx = (b"OFXHEADER:100\nDATA:OFXSGML\n\n<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>USD\n<BANKACCTFROM>"
           b"<ACCTID>1452687\n</BANKACCTFROM><BANKTRANLIST>\n<STMTTRN>\n<TRNTYPE>CREDIT\n<DTPOSTED>20110331120000.000\n"
           b"<TRNAMT>12.01\n<FITID>0000486\n<NAME>ACME INC\n<MEMO>INV-7\n</STMTTRN>\n<STMTTRN>\n<TRNTYPE>DEBIT\n"
           b"<DTPOSTED>20110405\n<TRNAMT>-34.51\n<FITID>0000487\n</STMTTRN>\n</BANKTRANLIST></STMTRS></STMTTRNRS>"
           b"</BANKMSGSRSV1></OFX>")
    st, sp = credits_of(ofx, "c.ofx")
    assert list(sp.credits["payment_id"]) == ["0000486"] and list(sp.debits["amount"]) == [3451]


def test_the_same_statement_read_twice_gives_the_same_ids_also_without_bank_references():
    text = fx.MT940_KNAB.replace(b"//B4E07XM00J000023", b"").replace(b"//B4E07XM00J000024", b"")
    a = split_entries(read_statement(text, "k.sta").entries)
    b = split_entries(read_statement(text, "again.sta").entries)
    assert list(a.credits["payment_id"]) == list(b.credits["payment_id"])
    assert a.credits["payment_id"].str.startswith("bank-").all()


@pytest.mark.parametrize("data, kind", [(fx.MT940_ING, "mt940"), (fx.MT940_MBANK, "mt940"), (fx.PAIN001, "camt"),
                                        (fx.SPARKASSE_CSV, "csv")])
def test_format_is_told_from_the_bytes(data, kind):
    assert sniff(data) == kind
