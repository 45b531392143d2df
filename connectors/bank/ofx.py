"""OFX 1.x (SGML, leaf elements without closing tags) and 2.x (XML) bank statements.

Only what cash application needs: each `STMTTRN` (signed `TRNAMT`, `DTPOSTED`, `FITID` as the
bank's reference, `NAME`/`MEMO` as payer and text), the statement's `CURDEF` and `ACCTID`. The
file is scanned with regular expressions (no DTD, no entities, nothing fetched). OFX carries no
opening balance, so no balance check is possible.
"""
from __future__ import annotations

import re

from billing.bankstmt import Statement, StatementError, balances_frame, entries_frame

STMTTRN = re.compile(r"<STMTTRN>(.*?)(?:</STMTTRN>|(?=<STMTTRN>)|(?=</BANKTRANLIST>))", re.S | re.I)
LEAF = re.compile(r"<([A-Z0-9.]+)>([^<\r\n]*)", re.I)


def _leaves(block: str) -> dict[str, str]:
    return {k.upper(): v.strip() for k, v in LEAF.findall(block) if v.strip()}


def _date(value: str | None) -> str | None:
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if value and re.match(r"\d{8}", value) else None


def read_ofx(data: bytes, source: str = "statement.ofx") -> Statement:
    text = data.decode("utf-8", errors="replace") if b"UTF-8" in data[:400].upper() else data.decode("cp1252", "replace")
    head = _leaves(text.split("<BANKTRANLIST>", 1)[0])
    blocks = [_leaves(b) for b in STMTTRN.findall(text)]
    if "<OFX>" not in text.upper():
        raise StatementError("This OFX file has no <OFX> element; it is not a bank statement.")
    currency, account = head.get("CURDEF"), head.get("ACCTID")
    records: dict[str, list] = {c: [] for c in ("statement", "account", "entry", "booking_date", "amount", "currency",
                                               "entry_ref", "payer_name", "remittance", "bank_text")}
    for i, b in enumerate(blocks, start=1):
        for c, v in (("statement", account), ("account", account), ("entry", str(i)),
                     ("booking_date", _date(b.get("DTPOSTED"))), ("amount", b.get("TRNAMT")),
                     ("currency", currency), ("entry_ref", b.get("FITID")), ("payer_name", b.get("NAME")),
                     ("remittance", b.get("MEMO")), ("bank_text", b.get("TRNTYPE"))):
            records[c].append(v)
    entries = entries_frame(records, ".", source)
    return Statement(source=source, format="OFX", entries=entries, balances=balances_frame([]), warnings=[])
