"""camt.053 / camt.054 (and camt.052) statements, any version, any namespace (SPEC §17).

Safe and bounded: a file whose prolog declares a document type or entities (what XXE and "billion
laughs" files need) is refused with a sentence before parsing starts; the parse itself is lxml's
iterparse with entity resolution, DTD loading and network access off (defence in depth), and each
`Ntry` is turned into rows and removed from the tree as soon as it ends, so a 100,000-entry
statement never exists as one tree.

Version differences handled: `<Sts>BOOK</Sts>` (.02/.04) and `<Sts><Cd>BOOK</Cd></Sts>` (.08);
parties as `<Dbtr><Nm>` and `<Dbtr><Pty><Nm>`; opening balance OPBD or PRCD; the amount of a
transaction in `TxDtls/Amt` or `TxDtls/AmtDtls/TxAmt/Amt` (else the entry's when it has one).
"""
from __future__ import annotations

import io
import re
from typing import IO

from lxml import etree
from lxml.etree import _Element as Element

from billing.bankstmt import (Statement, StatementError, balance_warnings, balances_frame, entries_frame,
                              signed_minor)

# The message element under Document -> (what it is, its container of entries or None).
STATEMENTS = {"BkToCstmrStmt": ("camt.053", "Stmt"), "BkToCstmrDbtCdtNtfctn": ("camt.054", "Ntfctn"),
              "BkToCstmrAcctRpt": ("camt.052", "Rpt")}
NOT_STATEMENTS = {
    "CstmrCdtTrfInitn": "a payment order (pain.001: transfers you send to your bank)",
    "CstmrDrctDbtInitn": "a direct debit order (pain.008: collections you send to your bank)",
    "CstmrPmtStsRpt": "a payment status report (pain.002: the bank's answer to a payment order)",
    "FIToFICstmrCdtTrf": "an interbank transfer (pacs.008)",
}
STATUS = {"BOOK": "booked", "PDNG": "pending", "INFO": "pending", "FUTR": "pending"}
# PostFinance's processing codes in AddtlRmtInf ("?REJECT?0", "?ERROR?000"): not remittance text.
TECHNICAL = re.compile(r"^\?[A-Z]+\?\d*$")
OPENING, CLOSING = ("OPBD", "PRCD"), ("CLBD",)


def _local(tag: str) -> tuple[str, str]:
    """(namespace, local name) of an ElementTree tag "{ns}Name"."""
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return "", tag


class _Paths:
    """Find helpers bound to the file's namespace (whatever version it is)."""

    def __init__(self, ns: str):
        self.ns = ns
        self.p = (lambda path: "/".join(f"{{{ns}}}{s}" for s in path.split("/"))) if ns else (lambda path: path)
        self._cache: dict[str, str] = {}

    def q(self, path: str) -> str:
        got = self._cache.get(path)
        if got is None:
            got = self._cache[path] = self.p(path)
        return got

    def text(self, el: Element | None, *paths: str) -> str | None:
        """The stripped text of the first of `paths` under `el` that has any."""
        if el is None:
            return None
        for path in paths:
            found = el.find(self.q(path))
            if found is not None and found.text and found.text.strip():
                return found.text.strip()
        return None

    def amount(self, el: Element | None, *paths: str) -> tuple[str | None, str | None]:
        for path in paths:
            found = None if el is None else el.find(self.q(path))
            if found is not None and found.text and found.text.strip():
                return found.text.strip(), found.get("Ccy")
        return None, None


class _Flat:
    """An element's descendants read in one walk: {path of local names: [texts]} (and the Ccy of
    amounts), so each field is a dict look-up instead of a tree search. `skip` leaves a child out
    (an entry's NtryDtls: its transactions are walked one by one)."""

    __slots__ = ("values", "ccy")
    _names: dict[str, str] = {}  # "{ns}Tag" -> "Tag": a cache of the pure function local name

    def __init__(self, el: Element, skip: str | None = None) -> None:
        self.values: dict[str, list[str]] = {}
        self.ccy: dict[str, str | None] = {}
        self._walk(el, "", skip)

    def _walk(self, el: Element, prefix: str, skip: str | None) -> None:
        names = self._names
        for child in el:
            tag = child.tag
            name = names.get(tag)
            if name is None:
                name = names[tag] = _local(tag)[1]
            if name == skip:
                continue
            if len(child):
                self._walk(child, f"{prefix}{name}/", None)
                continue
            text = child.text
            if text is not None and (text := text.strip()):
                path = prefix + name
                self.values.setdefault(path, []).append(text)
                if name == "Amt":
                    self.ccy.setdefault(path, child.get("Ccy"))

    def text(self, *paths: str) -> str | None:
        for path in paths:
            got = self.values.get(path)
            if got:
                return got[0]
        return None

    def texts(self, path: str) -> list[str]:
        return self.values.get(path, [])

    def amount(self, *paths: str) -> tuple[str | None, str | None]:
        for path in paths:
            got = self.values.get(path)
            if got:
                return got[0], self.ccy.get(path)
        return None, None


def _date(f: _Flat, path: str) -> str | None:
    value = f.text(f"{path}/Dt", f"{path}/DtTm")
    return value[:10] if value else None


def _status(f: _Flat) -> str:
    code = f.text("Sts/Cd", "Sts") or "BOOK"
    return STATUS.get(code.upper(), "pending")


def _party(f: _Flat, credit: bool) -> tuple[str | None, str | None]:
    """(name, IBAN or other account id) of the other party: the debtor of a credit, the creditor
    of a debit (the other one when the expected one is absent)."""
    order = ("Dbtr", "Cdtr") if credit else ("Cdtr", "Dbtr")
    for who in order:
        name = f.text(f"RltdPties/{who}/Nm", f"RltdPties/{who}/Pty/Nm", f"RltdPties/Ultmt{who}/Nm",
                      f"RltdPties/Ultmt{who}/Pty/Nm")
        acct = f.text(f"RltdPties/{who}Acct/Id/IBAN", f"RltdPties/{who}Acct/Id/Othr/Id")
        if name or acct:
            return name, acct.replace(" ", "") if acct else None
    return None, None


def _bank_code(f: _Flat) -> str | None:
    domain = [f.text("BkTxCd/Domn/Cd"), f.text("BkTxCd/Domn/Fmly/Cd"), f.text("BkTxCd/Domn/Fmly/SubFmlyCd")]
    return "/".join(d for d in domain if d) or f.text("BkTxCd/Prtry/Cd")


class _Rows:
    """Column lists the reader fills, one value per transaction."""

    COLUMNS = ("statement", "account", "entry", "booking_date", "value_date", "amount", "currency",
               "direction", "status", "reversal", "entry_ref", "end_to_end_id", "payer_name",
               "payer_iban", "remittance", "creditor_ref", "bank_text", "batch_size")

    def __init__(self) -> None:
        self.cols: dict[str, list] = {c: [] for c in self.COLUMNS}

    def add(self, **values) -> None:
        for c in self.COLUMNS:
            self.cols[c].append(values.get(c))

    def __len__(self) -> int:
        return len(self.cols["amount"])


def _entry_rows(p: _Paths, ntry: Element, number: int, statement: str | None, rows: _Rows) -> None:
    """One row per TxDtls of the entry (one row for an entry without any)."""
    e = _Flat(ntry, skip="NtryDtls")
    amount, ccy = e.amount("Amt")
    credit = (e.text("CdtDbtInd") or "").upper() == "CRDT"
    common = dict(statement=statement, booking_date=_date(e, "BookgDt"), value_date=_date(e, "ValDt"),
                  status=_status(e), reversal=(e.text("RvslInd") or "").lower() == "true")
    entry_ref = e.text("AcctSvcrRef", "NtryRef")
    entry_text = e.text("AddtlNtryInf")
    txs = [_Flat(tx) for tx in ntry.iterfind(p.q("NtryDtls/TxDtls"))]
    nb = ntry.find(p.q("NtryDtls/Btch/NbOfTxs"))
    batch = max(len(txs), int(nb.text) if nb is not None and (nb.text or "").strip().isdigit() else 1)
    if not txs:
        rows.add(**common, entry=str(number), amount=amount, currency=ccy, direction="credit" if credit else "debit",
                 entry_ref=entry_ref, remittance=entry_text, bank_text=_bank_code(e), batch_size=batch)
        return
    for k, t in enumerate(txs, start=1):
        tx_amount, tx_ccy = t.amount("Amt", "AmtDtls/TxAmt/Amt")
        if tx_amount is None and len(txs) == 1:
            tx_amount, tx_ccy = amount, ccy
        ind = t.text("CdtDbtInd")
        tx_credit = credit if ind is None else ind.upper() == "CRDT"
        name, iban = _party(t, tx_credit)
        extra = [x for x in t.texts("RmtInf/Strd/AddtlRmtInf") if not TECHNICAL.match(x)]
        text = " ".join(t.texts("RmtInf/Ustrd") + extra) or t.text("AddtlTxInf") or \
            (entry_text if len(txs) == 1 else None)
        ref = t.text("Refs/AcctSvcrRef")
        if ref is None and entry_ref is not None:
            ref = entry_ref if len(txs) == 1 else f"{entry_ref}/{k}"
        rows.add(**common, entry=str(number) if len(txs) == 1 else f"{number}.{k}", amount=tx_amount,
                 currency=tx_ccy or ccy, direction="credit" if tx_credit else "debit", entry_ref=ref,
                 end_to_end_id=t.text("Refs/EndToEndId"), payer_name=name, payer_iban=iban,
                 remittance=text, creditor_ref=t.text("RmtInf/Strd/CdtrRefInf/Ref"),
                 bank_text=_bank_code(t) or _bank_code(e), batch_size=batch)


def _balances(p: _Paths, container: Element, statement: str | None, account: str | None,
              currency: str | None) -> dict | None:
    found: dict[str, int] = {}
    for bal in container.iterfind(p.q("Bal")):
        code = (p.text(bal, "Tp/CdOrPrtry/Cd", "Tp/CdOrPrtry/Prtry") or "").upper()
        kind = "opening" if code in OPENING else "closing" if code in CLOSING else None
        amount, ccy = p.amount(bal, "Amt")
        if kind is None or amount is None or kind in found:
            continue
        currency = currency or ccy
        found[kind] = signed_minor(amount, ccy or currency or "", ".", (p.text(bal, "CdtDbtInd") or "") == "DBIT")
    if not found:
        return None
    return {"statement": statement, "account": account, "currency": currency,
            "opening": found.get("opening"), "closing": found.get("closing")}


def _message_kind(ns: str, name: str) -> tuple[str, str]:
    if name in STATEMENTS:
        return STATEMENTS[name]
    what = NOT_STATEMENTS.get(name)
    message = ns.rsplit(":", 1)[-1] if ns else name
    if what:
        raise StatementError(f"This is {what}, not a bank statement. Upload the statement the bank "
                             "sends you (camt.053, camt.054 or MT940).")
    raise StatementError(f"This XML file is a {message} '{name}' message, not a bank statement "
                         "(camt.053 or camt.054).")


DTD_REFUSED = ("The XML declares a document type or entities (<!DOCTYPE> / <!ENTITY>). Bank statements never "
               "do, and such files can read files of the server or expand without bound, so Linewise refuses "
               "to read it.")
PROLOG_BYTES = 1 << 16


def _refuse_dtd(head: bytes) -> None:
    """Refuse a DTD in the prolog (before the root element); UTF-16 files are looked at decoded."""
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        head = head.decode("utf-16", errors="ignore").encode()
    root = re.search(rb"<[A-Za-z_]", head)
    prolog = head[:root.start()] if root else head
    if b"<!DOCTYPE" in prolog.upper() or b"<!ENTITY" in prolog.upper():
        raise StatementError(DTD_REFUSED)


def read_camt(data: bytes | IO[bytes], source: str = "statement.xml") -> Statement:
    """Read one camt file (bytes or a binary stream) into a Statement; StatementError when it
    is not a readable statement (unsafe XML, damaged, another message)."""
    stream = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    start = stream.tell()
    _refuse_dtd(stream.read(PROLOG_BYTES))
    stream.seek(start)
    try:
        return _read(stream, source)
    except etree.XMLSyntaxError as exc:
        msg = str(exc.msg or exc)
        ended = "Premature end" in msg or "end of data" in msg or _at_end(stream, start, exc.lineno, exc.offset)
        if "Entity" in msg or "entity" in msg:
            raise StatementError(DTD_REFUSED) from None
        why = "it ends before the XML is complete (truncated download?)" if ended else "it is not well-formed XML"
        raise StatementError(f"The file cannot be read: {why} (line {exc.lineno}, column {exc.offset}). "
                             "Download the statement from the bank again.") from None


def _at_end(stream: IO[bytes], start: int, line: int, column: int) -> bool:
    """Whether a parse error sits at the very end of the file (a truncated download)."""
    stream.seek(start)
    lines, last = 1, b""
    while chunk := stream.read(1 << 20):
        lines += chunk.count(b"\n")
        last = (last + chunk).rsplit(b"\n", 1)[-1]
    return line == lines and column >= len(last.rstrip()) - 1


_PARSE = dict(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False, remove_comments=True,
              remove_pis=True)


def _message(stream: IO[bytes]) -> tuple[str, str, str]:
    """(namespace, what message, its container of entries) from the first two elements."""
    start = stream.tell()
    names = []
    for _, el in etree.iterparse(stream, events=("start",), **_PARSE):
        names.append(_local(el.tag))
        if len(names) == 2:
            break
    stream.seek(start)
    if not names:
        raise StatementError("This XML file holds no message; it is not a bank statement.")
    ns, first = names[0]
    message = names[1] if first == "Document" and len(names) > 1 else names[0]
    kind, container = _message_kind(*message)
    return ns, kind, container


def _read(stream: IO[bytes], source: str) -> Statement:
    ns, kind, container_name = _message(stream)
    p = _Paths(ns)
    container_tag, entry_tag = p.q(container_name), p.q("Ntry")
    rows, balances = _Rows(), []
    first_row = number = 0
    # only the ends of entries and statements come to Python; everything else stays in libxml2
    for _, el in etree.iterparse(stream, events=("end",), tag=(entry_tag, container_tag), **_PARSE):
        if el.tag == entry_tag:
            number += 1
            _entry_rows(p, el, number, None, rows)  # statement and account: set when the container ends
            parent = el.getparent()
            if parent is not None:
                parent.remove(el)  # bounded memory: the entry is done
        else:
            _finish_container(p, el, rows, first_row, balances)
            first_row = len(rows)
            el.clear()
    entries = entries_frame(rows.cols, ".", source)
    bal = balances_frame(balances)
    warnings = balance_warnings(entries, bal)
    if entries.empty:
        warnings.append("The statement holds no entries.")
    return Statement(source=source, format=ns.rsplit(":", 1)[-1] if kind in ns else kind,
                     entries=entries, balances=bal, warnings=warnings)


def _finish_container(p: _Paths, el: Element, rows: _Rows, first_row: int, balances: list) -> None:
    """The statement's id, account and balances (read once its entries have been removed)."""
    statement = p.text(el, "Id")
    account = p.text(el, "Acct/Id/IBAN", "Acct/Id/Othr/Id")
    account = account.replace(" ", "") if account else None
    currency = p.text(el, "Acct/Ccy")
    for i in range(first_row, len(rows)):
        rows.cols["account"][i] = account
        rows.cols["statement"][i] = statement
    bal = _balances(p, el, statement, account, currency)
    if bal is not None:
        balances.append(bal)
