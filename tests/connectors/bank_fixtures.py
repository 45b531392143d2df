"""Bank statement files built in the shapes of the public samples (camt.053 .02/.04/.08, camt.054,
MT940 dialects, bank CSV), small enough to read by eye. Tests never read ../shared."""
from __future__ import annotations


def camt053(version: str = "001.02", entries: str = "", opening: str = "100.00", closing: str = "150.00",
            declaration: bool = True) -> bytes:
    v8 = version >= "001.08"
    head = '<?xml version="1.0" encoding="UTF-8"?>\n' if declaration else ""
    return (f'{head}<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.{version}">'
            f"<BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId></GrpHdr><Stmt><Id>S-1</Id>"
            f"<Acct><Id><IBAN>CH9300762011623852957</IBAN></Id><Ccy>CHF</Ccy></Acct>"
            f"{balance('OPBD' if not v8 else 'OPBD', opening)}{balance('CLBD', closing)}"
            f"{entries}</Stmt></BkToCstmrStmt></Document>").encode()


def balance(code: str, amount: str, ind: str = "CRDT") -> str:
    return (f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy=\"CHF\">{amount}</Amt>"
            f"<CdtDbtInd>{ind}</CdtDbtInd><Dt><Dt>2026-11-30</Dt></Dt></Bal>")


def tx(amount: str | None, name: str = "Kunde AG", iban: str = "CH5604835012345678009", ustrd: str = "",
       ref: str | None = None, acct_ref: str | None = None, e2e: str = "NOTPROVIDED", v8: bool = False,
       ind: str | None = None) -> str:
    party = f"<Pty><Nm>{name}</Nm></Pty>" if v8 else f"<Nm>{name}</Nm>"
    amt = f'<Amt Ccy="CHF">{amount}</Amt>' if amount else ""
    strd = (f"<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp><Ref>{ref}</Ref></CdtrRefInf>"
            "<AddtlRmtInf>?REJECT?0</AddtlRmtInf></Strd>") if ref else ""
    rmt = f"<RmtInf>{f'<Ustrd>{ustrd}</Ustrd>' if ustrd else ''}{strd}</RmtInf>" if (ustrd or ref) else ""
    refs = f"<Refs>{f'<AcctSvcrRef>{acct_ref}</AcctSvcrRef>' if acct_ref else ''}<EndToEndId>{e2e}</EndToEndId></Refs>"
    cd = f"<CdtDbtInd>{ind}</CdtDbtInd>" if ind else ""
    return (f"<TxDtls>{refs}{amt}{cd}<RltdPties><Dbtr>{party}</Dbtr><DbtrAcct><Id><IBAN>{iban}</IBAN></Id>"
            f"</DbtrAcct></RltdPties>{rmt}</TxDtls>")


def ntry(amount: str, ind: str = "CRDT", txs: str = "", status: str = "BOOK", reversal: bool = False,
         acct_ref: str = "E1", v8: bool = False, batch: int | None = None, date: str = "2026-11-20") -> str:
    sts = f"<Sts><Cd>{status}</Cd></Sts>" if v8 else f"<Sts>{status}</Sts>"
    rvsl = "<RvslInd>true</RvslInd>" if reversal else ""
    btch = f"<Btch><NbOfTxs>{batch}</NbOfTxs></Btch>" if batch else ""
    dtls = f"<NtryDtls>{btch}{txs}</NtryDtls>" if txs or btch else ""
    return (f'<Ntry><Amt Ccy="CHF">{amount}</Amt><CdtDbtInd>{ind}</CdtDbtInd>{rvsl}{sts}'
            f"<BookgDt><Dt>{date}</Dt></BookgDt><ValDt><Dt>{date}</Dt></ValDt><AcctSvcrRef>{acct_ref}</AcctSvcrRef>"
            f"{dtls}<AddtlNtryInf>entry text</AddtlNtryInf></Ntry>")


def camt054(entries: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">'
            "<BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>N1</MsgId></GrpHdr><Ntfctn><Id>N-1</Id>"
            "<Acct><Id><IBAN>CH9300762011623852957</IBAN></Id></Acct>"
            f"{entries}</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>").encode()


PAIN001 = (b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03">'
           b"<CstmrCdtTrfInitn><GrpHdr><MsgId>P</MsgId></GrpHdr></CstmrCdtTrfInitn></Document>")
XXE = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
       b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>&x;</BkToCstmrStmt></Document>')
LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10))
          + b']><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>&lol9;'
          b"</BkToCstmrStmt></Document>")

# MT940 in the dialects of the samples: German ?NN subfields (Dresdner), ING slash tags inside
# SWIFT blocks with wrapped references, Knab free text, mBank key pairs in a 0x01..0x03 frame,
# Raiffeisen HU positional lines in code page 852.
MT940_GERMAN = (
    ":20:T089413956000001\n:25:50880050/0194777100888\n:28C:00004/00001\n:60F:D070903EUR970499,9\n"
    ":61:0709040904CR15000,05NTRFNONREF//0724710290621954\n"
    ":86:166?00GUTSCHRIFT?100399?20EREF+EndToEndIdTFNR20004000?2101?22SVWZ\n"
    "+RE 2007-118 Danke?30PBNKDEFF100?31DE42100100100043921105?32Ri\nchter Renate\n"
    ":61:0709040904DR500250,NTRFKREF+//BD7CFA74485E7E69\n:86:191?00SEPA-UEBERW?20SVWZ+Miete\n"
    ":61:0709040904RCR204,88NRTINONREF\n:86:079?00SAMMLER/STORNO?109800?200904059003\n"
    ":62F:D070904EUR1455954,73\n-\n").encode("latin-1")
MT940_ING = (
    "{1:F01INGBNL2ABXXX0000000000}\n{2:I940INGBNL2AXXXN}\n{4:\n:20:P140220000000001\n:25:NL77INGB0574908765EUR\n"
    ":28C:0000\n0\n:60F:C140219EUR662,23\n:61:1402200220C1,57NRTIEREF//00000000001\n007\n/TRCD/00190/\n"
    ":86:/RTRN/MS03//EREF/20120123456789//CNTP/NL32INGB0000012345/INGB\nNL2A/J.Janssen///REMI/USTD//Factuurnr 12\n"
    "3456 Klantnr 00123/\n:61:1402200220C32,00NTRF9001123412341234//00000000001011\n/TRCD/00108/\n"
    ":86:/EREF/15814016000676480//CNTP/NL32INGB0000012345/INGBNL2A/J.J\nanssen///REMI/STRD/CUR/9001123412341234/\n"
    ":62F:C140220EUR695,80\n:86:/SUM/4/4/134,46/36,58/\n-}").encode()
MT940_KNAB = (
    ":20:B4E08MS9D00A0009\n:25:123456789\n:28C:998/1\n:60F:C140507EUR0,\n"
    ":61:1405070507C500,NTRFNONREF//B4E07XM00J000023\n:86:FACTUUR 201403110, 201403113\n"
    "REK: NL65INGB0123456789/NAAM: PICQER\n:61:1405070507D20NTRFNONREF//B4E07XM00J000024\n:86:KOSTEN\n"
    ":62F:C140508EUR480,\n-\n").encode()
MT940_MBANK = (b"\x01\r\n:20:ST170119CYC/1\r\n:25:PL29114010810000267002001002\r\n:28C:1/1\r\n:60F:C170119PLN0,40\r\n"
               b":61:1701190119CN0,01NTRFNONREF//MB170119012058\r\n911-TRANSAKCJA IPH\r\n"
               b":86:911 TRANSAKCJA COLLECT; ID IPH: XX000000000001; Z RACH.: \r\n56114010810000267002001001; "
               b"OD: JAN NOWAK  \r\nUL. NIJAKA 1 M 2 31-234 KRAKOW; TYT.: FV 17/01/2017   ; \r\nTNR: 179171073864111.010001\r\n"
               b":62F:C170119PLN0,41\r\n-\x03")
MT940_RAIFFEISEN = (
    ":20:STARTUMS\n:25:UBRTHUHB/123456789150ABCDEF002/HUF\n:28C:0072\n\n:60F:C180417HUF1000,00\n"
    ":61:180417CF2066637,00N527\nCsoportos átutalás jóváírása\n:86:CAB18D1700041116\n109876543210000012345678\n"
    "HUNGARY KFT.\nUV, napi összevont utánvét, 2018.04\n.17, A13947109201804175000000097, X\n"
    ":62F:C180417HUF2067637,00\n").encode("cp852")

SPARKASSE_CSV = (
    '"Auftragskonto";"Buchungstag";"Valutadatum";"Buchungstext";"Verwendungszweck";"Glaeubiger ID";"Mandatsreferenz";'
    '"Kundenreferenz (End-to-End)";"Sammlerreferenz";"Lastschrift Ursprungsbetrag";"Auslagenersatz Ruecklastschrift";'
    '"Beguenstigter/Zahlungspflichtiger";"Kontonummer/IBAN";"BIC (SWIFT-Code)";"Betrag";"Waehrung";"Info"\n'
    '"DE89370400440532013000";"05.12.25";"08.12.25";"FOLGELASTSCHRIFT";"Online-Shop";"DE94ZZZ00000000001";"M1";'
    '"REF123456";"";"";"";"Online-Shop GmbH";"DE89370400440532013001";"TUBDDEDDXXX";"-99,80";"EUR";"Umsatz vorgemerkt"\n'
    '"DE89370400440532013000";"03.12.25";"03.12.25";"GUTSCHR. UEBERWEISUNG";"KD 123456 RE 001, RE 002";"";"";"";"";"";"";'
    '"Medien GmbH";"DE89370400440532013008";"COBADEFFXXX";"1.143,41";"EUR";"Umsatz gebucht"\n'
    '"DE89370400440532013000";"03.12.25";"03.12.25";"BUCHUNG";"KOSTEN";"";"";"";"";"";"";'
    '"Sparkasse";"DE89370400440532013004";"SLZODE2XXXX";"-5,95";"EUR";"Umsatz gebucht"\n').encode()
ERSTE_CSV = (
    "Tranzakció dátuma,Partner neve,Partner számlaszáma,Számla neve,Számlaszám,Tranzakció típusa,Tranzakció összege,"
    "Tranzakció devizaneme,Bevétel/Kiadás,Kártyaszám,Értéknap,Közlemény,Megbízás azonosító,Részletek,Egyenleg,Devizanem\n"
    "2019.04.19.,Bolt Kft,11773016-11111111,Folyószámla,11600006-00000000,Átutalás,-350,HUF,Kiadás,,2019.04.19.,,,,2345,HUF\n"
    "2019.04.17.,Vevő Zrt,11773016-22222222,Folyószámla,11600006-00000000,Átutalás,1290,HUF,Bevétel,,2019.04.18.,"
    "SZLA-2019-17,M-77,,1055,HUF\n").encode()
