"""Bank statement files in: camt.052/053/054, MT940, bank CSV, OFX (SPEC §17).

`read_statement(data, name)` tells the format from the bytes (never from the file name alone)
and returns a `billing.bankstmt.Statement`; anything unreadable is a `StatementError` whose
message is the sentence to show the user.
"""
from __future__ import annotations

import re

from billing.bankstmt import Statement, StatementError

MT940_MARKS = re.compile(rb"(^|\n|\{4:\r?\n?):20:.*?(\n|\r):(25|28C|60F|61):", re.S)
MAX_BYTES = 200 * 1024 * 1024  # a year of a busy account in camt is well under this


def sniff(data: bytes) -> str:
    """"camt", "mt940", "ofx" or "csv" from the first bytes of the file."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf\x00\x01\x02\x03 \t\r\n")
    if head.startswith(b"OFXHEADER") or b"<OFX>" in head.upper():
        return "ofx"
    if head.startswith(b"<"):
        return "camt"
    if MT940_MARKS.search(data[:65536]) or head.startswith((b":20:", b"{1:", b":940:")):
        return "mt940"
    return "csv"


def read_statement(data: bytes, name: str, mapping: dict[str, str] | None = None) -> Statement:
    """One statement file's transactions; `mapping` ({canonical: header}) is for bank CSV only."""
    if len(data) > MAX_BYTES:
        raise StatementError(f"{name} is {len(data) // 2**20} MB; bank statements are read up to "
                             f"{MAX_BYTES // 2**20} MB. Export a shorter period.")
    kind = sniff(data)
    try:
        if kind == "camt":
            from connectors.bank.camt import read_camt
            return read_camt(data, name)
        if kind == "mt940":
            from connectors.bank.mt940 import read_mt940
            return read_mt940(data, name)
        if kind == "ofx":
            from connectors.bank.ofx import read_ofx
            return read_ofx(data, name)
        return _read_csv(data, name, mapping)
    except StatementError as exc:
        raise StatementError(f"{name}: {exc}") from None


def _read_csv(data: bytes, name: str, mapping: dict[str, str] | None) -> Statement:
    from connectors.bank.csv import read_bank_csv
    from connectors.sources import SourceError, read_source
    stem = name.rsplit("/", 1)[-1]
    try:
        book = read_source(data, stem if stem.lower().endswith((".csv", ".txt")) else f"{stem}.csv")
    except SourceError as exc:
        raise StatementError(f"not a bank statement Linewise can read ({exc})") from None
    sheets = [s for s in book.sheets if not s.cells.empty]
    if not sheets:
        raise StatementError("the file is empty.")
    return read_bank_csv(sheets[0], mapping)
