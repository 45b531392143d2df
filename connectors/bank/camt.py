"""camt.053 / camt.054 (and camt.052) statements, any version, any namespace (SPEC §17).

Safe and bounded: the XML is read by defusedxml's iterparse with DTDs, entities and external
references forbidden (an XXE or "billion laughs" file is refused with a sentence saying so, never
expanded), and each `Ntry` is turned into rows and removed from the tree as soon as it ends, so
a 100,000-entry statement never exists as one tree.

Version differences handled: `<Sts>BOOK</Sts>` (.02/.04) and `<Sts><Cd>BOOK</Cd></Sts>` (.08);
parties as `<Dbtr><Nm>` and `<Dbtr><Pty><Nm>`; opening balance OPBD or PRCD; the amount of a
transaction in `TxDtls/Amt` or `TxDtls/AmtDtls/TxAmt/Amt` (else the entry's when it has one).
"""
from __future__ import annotations

import io
import re
from typing import IO
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeET

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

    def texts(self, el: Element | None, path: str) -> list[str]:
        return [] if el is None else [f.text.strip() for f in el.iterfind(self.q(path)) if f.text and f.text.strip()]

    def amount(self, el: Element | None, *paths: str) -> tuple[str | None, str | None]:
        for path in paths:
            found = None if el is None else el.find(self.q(path))
            if found is not None and found.text and found.text.strip():
                return found.text.strip(), found.get("Ccy")
        return None, None


def _date(p: _Paths, el: Element, path: str) -> str | None:
    value = p.text(el, f"{path}/Dt", f"{path}/DtTm")
    return value[:10] if value else None


def _status(p: _Paths, ntry: Element) -> str:
    code = p.text(ntry, "Sts/Cd", "Sts") or "BOOK"
    return STATUS.get(code.upper(), "pending")


def _party(p: _Paths, tx: Element, credit: bool) -> tuple[str | None, str | None]:
    """(name, IBAN or other account id) of the other party: the debtor of a credit, the creditor
    of a debit (the other one when the expected one is absent)."""
    order = ("Dbtr", "Cdtr") if credit else ("Cdtr", "Dbtr")
    for who in order:
        name = p.text(tx, f"RltdPties/{who}/Nm", f"RltdPties/{who}/Pty/Nm", f"RltdPties/Ultmt{who}/Nm",
                      f"RltdPties/Ultmt{who}/Pty/Nm")
        acct = p.text(tx, f"RltdPties/{who}Acct/Id/IBAN", f"RltdPties/{who}Acct/Id/Othr/Id")
        if name or acct:
            return name, acct.replace(" ", "") if acct else None
    return None, None


def _bank_code(p: _Paths, el: Element) -> str | None:
    domain = [p.text(el, "BkTxCd/Domn/Cd"), p.text(el, "BkTxCd/Domn/Fmly/Cd"),
              p.text(el, "BkTxCd/Domn/Fmly/SubFmlyCd")]
    return "/".join(d for d in domain if d) or p.text(el, "BkTxCd/Prtry/Cd")


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
    amount, ccy = p.amount(ntry, "Amt")
    credit = (p.text(ntry, "CdtDbtInd") or "").upper() == "CRDT"
    common = dict(statement=statement, booking_date=_date(p, ntry, "BookgDt"),
                  value_date=_date(p, ntry, "ValDt"), status=_status(p, ntry),
                  reversal=(p.text(ntry, "RvslInd") or "").lower() == "true")
    entry_ref = p.text(ntry, "AcctSvcrRef", "NtryRef")
    entry_text = p.text(ntry, "AddtlNtryInf")
    txs = list(ntry.iterfind(p.q("NtryDtls/TxDtls")))
    batch = max(len(txs), int(p.text(ntry, "NtryDtls/Btch/NbOfTxs") or 1))
    if not txs:
        rows.add(**common, entry=str(number), amount=amount, currency=ccy, direction="credit" if credit else "debit",
                 entry_ref=entry_ref, remittance=entry_text, bank_text=_bank_code(p, ntry), batch_size=batch)
        return
    for k, tx in enumerate(txs, start=1):
        tx_amount, tx_ccy = p.amount(tx, "Amt", "AmtDtls/TxAmt/Amt")
        if tx_amount is None and len(txs) == 1:
            tx_amount, tx_ccy = amount, ccy
        ind = p.text(tx, "CdtDbtInd")
        tx_credit = credit if ind is None else ind.upper() == "CRDT"
        name, iban = _party(p, tx, tx_credit)
        extra = [t for t in p.texts(tx, "RmtInf/Strd/AddtlRmtInf") if not TECHNICAL.match(t)]
        text = " ".join(p.texts(tx, "RmtInf/Ustrd") + extra) or \
            p.text(tx, "AddtlTxInf") or (entry_text if len(txs) == 1 else None)
        ref = p.text(tx, "Refs/AcctSvcrRef")
        if ref is None and entry_ref is not None:
            ref = entry_ref if len(txs) == 1 else f"{entry_ref}/{k}"
        rows.add(**common, entry=str(number) if len(txs) == 1 else f"{number}.{k}", amount=tx_amount,
                 currency=tx_ccy or ccy, direction="credit" if tx_credit else "debit", entry_ref=ref,
                 end_to_end_id=p.text(tx, "Refs/EndToEndId"), payer_name=name, payer_iban=iban,
                 remittance=text, creditor_ref=p.text(tx, "RmtInf/Strd/CdtrRefInf/Ref"),
                 bank_text=_bank_code(p, tx) or _bank_code(p, ntry), batch_size=batch)


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


def read_camt(data: bytes | IO[bytes], source: str = "statement.xml") -> Statement:
    """Read one camt file (bytes or a binary stream) into a Statement; StatementError when it
    is not a readable statement (unsafe XML, damaged, another message)."""
    stream = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    try:
        return _read(stream, source)
    except (defusedxml.DTDForbidden, defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden):
        raise StatementError("The XML declares a document type or entities (<!DOCTYPE> / <!ENTITY>). Bank "
                             "statements never do, and such files can read files of the server or "
                             "expand without bound, so Linewise refuses to read it.") from None
    except ParseError as exc:
        line, col = getattr(exc, "position", (0, 0))
        ended = "no element found" in str(exc) or "unclosed token" in str(exc)
        why = "it ends before the XML is complete (truncated download?)" if ended else "it is not well-formed XML"
        raise StatementError(f"The file cannot be read: {why} (line {line}, column {col}). "
                             "Download the statement from the bank again.") from None


def _read(stream: IO[bytes], source: str) -> Statement:
    events = SafeET.iterparse(stream, events=("start", "end"), forbid_dtd=True)
    rows, balances = _Rows(), []
    p: _Paths | None = None
    kind = container_tag = entry_tag = None
    container: Element | None = None
    first_row = number = 0
    for event, el in events:
        if p is None:  # the first start: Document (or the message itself)
            ns, name = _local(el.tag)
            p = _Paths(ns)
            continue
        if kind is None and event == "start":
            kind, container_name = _message_kind(*_local(el.tag))
            container_tag, entry_tag = p.q(container_name), p.q("Ntry")
            continue
        if event == "start" and el.tag == container_tag:
            container, first_row = el, len(rows)
        elif event == "end" and el.tag == entry_tag and container is not None:
            number += 1
            _entry_rows(p, el, number, p.text(container, "Id"), rows)
            container.remove(el)  # bounded memory: the entry is done
        elif event == "end" and el.tag == container_tag:
            _finish_container(p, el, rows, first_row, balances)
            el.clear()
            container = None
    if kind is None:
        raise StatementError("This XML file holds no message; it is not a bank statement.")
    entries = entries_frame(rows.cols, ".", source)
    bal = balances_frame(balances)
    warnings = balance_warnings(entries, bal)
    if entries.empty:
        warnings.append("The statement holds no entries.")
    return Statement(source=source, format=p.ns.rsplit(":", 1)[-1] if kind in p.ns else kind,
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
