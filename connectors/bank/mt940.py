"""MT940 statements in the dialects banks really send (SPEC §17).

One reader for all of them, no per-bank switch: the file is decoded (UTF-8, else the one of
cp1252 / cp852 / latin-1 that gives the most letters: Hungarian exports are code page 852),
control bytes (mBank's 0x01 ... 0x03 frame) dropped, SWIFT blocks `{1:}{2:}{4:` ... `-}`
unwrapped, and split into tags. Each `:61:` with the `:86:` that follows it is one transaction;
the `:86:` text is read by its shape:

* German structured (`166?00GUTSCHRIFT?20EREF+...?21SVWZ+...?32name`): `?NN` subfields, the
  SEPA keys `EREF+` (end-to-end id), `SVWZ+` (purpose), `?31` IBAN, `?32`/`?33` name;
* Dutch slash tags (`/EREF/.../CNTP/iban/bic/name//REMI/USTD//text/`, `/REMI/STRD/CUR/ref/`,
  `/BENM//NAME/x/`);
* `KEY: value;` pairs (mBank: `TYT.:` title, `OD:` payer, `Z RACH.:` account);
* positional lines (Raiffeisen HU: bank reference / counter account / counter name / text);
* free text, with a Knab-style `REK: iban/NAAM: name` line read for the payer.

Text wrapped at 65 characters in the middle of words and tags is joined back without a
separator. `:61:` quirks covered: amounts without decimals ("C500,", "C500"), zero padding,
a funds code after the mark ("CN0,01", "CR300,"), reversal marks RC/RD, a bank reference wrapped
onto the next line, the counter IBAN or booking text on the continuation line.
"""
from __future__ import annotations

import re

from billing.bankstmt import (Statement, StatementError, balance_warnings, balances_frame, entries_frame,
                              signed_minor)

TAG = re.compile(r"^:(\d{2}[A-Z]?):(.*)$")
LINE_61 = re.compile(r"^(\d{6})(\d{4})?(RC|RD|C|D)([A-Z])?(\d[\d,]*)([NFS][A-Z0-9]{3})(.*)$")
BALANCE = re.compile(r"^([CD])(\d{6})([A-Z]{3})(\d[\d,]*)$")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
IBAN_SHAPE = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{10,30}$")
WRAP = 65  # SWIFT's line length for :86:
DIALECT_GERMAN = re.compile(r"^\d{3}\?\d{2}")
SUBFIELD = re.compile(r"\?(\d{2})")
# SEPA keys inside the purpose (DK rules) and Dresdner's "MTLG:" (a message to the payee).
SEPA_KEY = re.compile(r"((?:EREF|KREF|MREF|CRED|DEBT|SVWZ|ABWA|ABWE|IBAN|BIC)\+|MTLG:)")
SLASH_TAGS = frozenset({"EREF", "PREF", "RTRN", "MARF", "CSID", "CNTP", "REMI", "ISDT", "BENM", "ORDP", "TRCD",
                        "BUSP", "PURP", "ULTC", "ULTD", "ULTB", "IREF", "EXCH", "CHGS", "SUM", "OCMT", "ACCW"})
KNAB_PARTY = re.compile(r"REK:\s*([A-Z]{2}\d{2}[A-Z0-9]+)\s*/\s*NAAM:\s*(.+)$")
NO_REF = {"NONREF", "NOTPROVIDED", ""}
CANDIDATE_ENCODINGS = ("cp1252", "cp852", "latin-1")


def decode(data: bytes) -> str:
    """The text of an MT940 file: UTF-8 when it is, else the single-byte code page that reads the
    most letters (cp852's "ö" is cp1252's "”"), with control bytes removed."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        def letters(enc: str) -> int:
            return sum(ch.isalpha() for ch in data.decode(enc, errors="replace") if ord(ch) > 127)
        text = data.decode(max(CANDIDATE_ENCODINGS, key=letters), errors="replace")
    return CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _unwrap_blocks(text: str) -> str:
    """The text blocks {4: ... -} of SWIFT-framed messages, else the text itself."""
    if "{4:" not in text:
        return text
    return "\n-\n".join(m.group(1) for m in re.finditer(r"\{4:(.*?)(?:\n-\}|-\}|\Z)", text, re.S))


def tags(text: str) -> list[tuple[str, list[str]]]:
    """(tag, lines) in file order; lines after a tag line are its continuation."""
    out: list[tuple[str, list[str]]] = []
    for line in _unwrap_blocks(text).split("\n"):
        m = TAG.match(line)
        if m:
            out.append((m.group(1), [m.group(2)]))
        elif line.strip() in ("-", "") or line.startswith("{"):
            continue
        elif out:
            out[-1][1].append(line)
    return out


def _join_wrapped(lines: list[str]) -> str:
    """Lines of a text wrapped at 65 characters: a full line continues without a separator."""
    out = ""
    for i, line in enumerate(lines):
        out += line
        if i + 1 < len(lines) and len(line) < WRAP:
            out += " "
    return out


def _amount(text: str) -> str:
    return text + "00" if text.endswith(",") else text


def _iso(yymmdd: str) -> str:
    yy = int(yymmdd[:2])
    return f"{2000 + yy if yy < 80 else 1900 + yy}-{yymmdd[2:4]}-{yymmdd[4:6]}"


def _booking_date(value: str, mmdd: str | None) -> str:
    if not mmdd:
        return value
    year, vmonth, month = int(value[:4]), int(value[5:7]), int(mmdd[:2])
    year += 1 if (vmonth == 12 and month == 1) else -1 if (vmonth == 1 and month == 12) else 0
    return f"{year:04d}-{mmdd[:2]}-{mmdd[2:]}"


def parse_61(lines: list[str]) -> dict:
    """The fields of one :61: (value date, booking date, mark, amount, refs, details)."""
    m = LINE_61.match(lines[0].strip())
    if not m:
        raise StatementError(f"The transaction line ':61:{lines[0].strip()}' cannot be read "
                             "(expected date, C/D, amount, type code).")
    vdate, bdate, mark, _funds, amount, ttype, rest = m.groups()
    customer_ref, _, bank_ref = rest.partition("//")
    more = list(lines[1:])
    bank_ref = bank_ref.strip()
    if bank_ref and more and len(bank_ref) < 16 and re.fullmatch(r"[0-9A-Za-z]+", more[0].strip()) \
            and len(bank_ref) + len(more[0].strip()) <= 16:
        bank_ref += more.pop(0).strip()  # a bank reference wrapped onto the next line (ING)
    details = re.sub(r"/TRCD/[^/]*/", "", "".join(s.strip() for s in more)).strip(" /")
    value = _iso(vdate)
    return {"value_date": value, "booking_date": _booking_date(value, bdate),
            "direction": "credit" if mark in ("C", "RD") else "debit", "reversal": mark.startswith("R"),
            "amount": _amount(amount), "type": ttype, "customer_ref": customer_ref.strip(),
            "bank_ref": bank_ref or None, "details": details or None}


def _german(text: str) -> dict:
    parts = SUBFIELD.split(text)
    fields: dict[str, str] = {}
    for code, value in zip(parts[1::2], parts[2::2]):
        fields[code] = fields.get(code, "") + value
    purpose = "".join(fields.get(f"{k}", "") for k in [*map(str, range(20, 30)), "60", "61", "62", "63"])
    keyed = SEPA_KEY.split(purpose)
    keys = dict(zip((k[:-1] for k in keyed[1::2]), (v.strip() for v in keyed[2::2])))
    remittance = keys.get("SVWZ") or keys.get("MTLG") or keyed[0].strip()
    return {"remittance": remittance or None, "end_to_end_id": keys.get("EREF"),
            "payer_iban": (fields.get("31") or "").strip() or None,
            "payer_name": (fields.get("32", "") + fields.get("33", "")).strip() or None,
            "bank_text": (fields.get("00") or "").strip() or None}


def _slash(text: str) -> dict:
    tokens = text.split("/")
    groups: dict[str, list[str]] = {}
    current = None
    for tok in tokens:
        if tok in SLASH_TAGS:
            current = tok
            groups.setdefault(current, [])
        elif current is not None:
            groups[current].append(tok)
    out: dict = {"end_to_end_id": (groups.get("EREF") or [None])[0]}
    cntp = [t for t in groups.get("CNTP", [])]
    if cntp:
        out["payer_iban"] = cntp[0] or None
        out["payer_name"] = cntp[2] if len(cntp) > 2 and cntp[2] else None
    for party in ("BENM", "ORDP"):
        vals = groups.get(party, [])
        if "NAME" in vals and vals.index("NAME") + 1 < len(vals):
            out["payer_name"] = vals[vals.index("NAME") + 1] or None
    remi = groups.get("REMI", [])
    if remi[:1] == ["STRD"]:
        out["creditor_ref"] = next((t for t in remi[2:] if t), None)
    elif remi[:1] == ["USTD"]:
        out["remittance"] = "/".join(remi[1:]).strip("/ ") or None
    else:
        out["remittance"] = "/".join(remi).strip("/ ") or None
    return out


def _keyed(text: str) -> dict:
    pairs = {}
    for part in text.split(";"):
        key, sep, value = part.partition(":")
        if sep:
            pairs[key.strip().upper()] = value.strip()
    name = re.split(r"\s{2,}", pairs.get("OD", ""))[0].strip()
    return {"remittance": pairs.get("TYT.") or None, "payer_name": name or None,
            "payer_iban": (pairs.get("Z RACH.") or "").replace(" ", "") or None}


def _positional(lines: list[str]) -> dict:
    account = lines[1].strip().replace(" ", "")
    if len(lines) >= 3 and re.fullmatch(r"[0-9A-Z]{8,34}", account):
        return {"entry_ref": lines[0].strip(), "payer_iban": account, "payer_name": lines[2].strip() or None,
                "remittance": "".join(lines[3:]).strip() or None}
    return {"entry_ref": lines[0].strip(), "remittance": " ".join(s.strip() for s in lines[1:]).strip() or None}


def _free(lines: list[str]) -> dict:
    out: dict = {}
    kept = []
    for line in lines:
        m = KNAB_PARTY.search(line)
        if m:
            out["payer_iban"], out["payer_name"] = m.group(1), m.group(2).strip()
        else:
            kept.append(line)
    out["remittance"] = _join_wrapped([s.rstrip() for s in kept]).strip() or None
    return out


def parse_86(lines: list[str]) -> dict:
    """The transaction details of one :86:, by the shape of its text (module doc)."""
    joined = "".join(lines)
    if DIALECT_GERMAN.match(joined):
        return _german(joined)
    if joined.startswith("/") and any(f"/{t}/" in joined for t in ("EREF", "REMI", "CNTP", "BENM", "ORDP", "PREF")):
        return _slash(joined)
    if "TYT.:" in joined or re.search(r";\s*OD:", joined):
        return _keyed(joined)
    first = lines[0].strip()
    if len(lines) >= 2 and re.fullmatch(r"[0-9A-Z]{8,}", first):
        return _positional(lines)
    return _free(lines)


class _Statements:
    """Collects rows and balances while walking the tags of a file."""

    def __init__(self) -> None:
        self.rows: dict[str, list] = {c: [] for c in (
            "statement", "account", "entry", "booking_date", "value_date", "amount", "currency", "direction",
            "reversal", "entry_ref", "end_to_end_id", "payer_name", "payer_iban", "remittance", "creditor_ref",
            "bank_text")}
        self.balances: list[dict] = []
        self.seen: dict[str, int] = {}
        self.current: dict | None = None
        self.number = 0

    def start(self, ref: str) -> None:
        k = self.seen[ref] = self.seen.get(ref, 0) + 1
        self.current = {"statement": ref if k == 1 else f"{ref} ({k})", "account": None,
                        "currency": None, "opening": None, "closing": None}
        self.balances.append(self.current)

    def balance(self, kind: str, value: str) -> None:
        m = BALANCE.match(value.strip())
        if not m or self.current is None:
            raise StatementError(f"The balance line '{value.strip()}' cannot be read (expected C/D, date, "
                                 "currency, amount).")
        mark, _date, ccy, amount = m.groups()
        self.current["currency"] = self.current["currency"] or ccy
        if self.current[kind] is None:
            self.current[kind] = signed_minor(_amount(amount), ccy, ",", mark == "D")

    def entry(self, t61: dict, t86: dict) -> None:
        self.number += 1
        cur = self.current or {}
        details = t61["details"]
        iban = t86.get("payer_iban") or (details.replace(" ", "") if details and
                                         IBAN_SHAPE.match(details.replace(" ", "")) else None)
        bank_text = t86.get("bank_text") or (details if details and not iban == details else None)
        e2e = t86.get("end_to_end_id")
        values = {"statement": cur.get("statement"), "account": cur.get("account"), "entry": str(self.number),
                  "booking_date": t61["booking_date"], "value_date": t61["value_date"],
                  "amount": t61["amount"], "currency": cur.get("currency"), "direction": t61["direction"],
                  "reversal": t61["reversal"],
                  "entry_ref": t61["bank_ref"] if t61["bank_ref"] not in NO_REF else t86.get("entry_ref"),
                  "end_to_end_id": e2e if e2e and e2e.upper() not in NO_REF else None,
                  "payer_name": t86.get("payer_name"), "payer_iban": iban,
                  "remittance": t86.get("remittance"), "creditor_ref": t86.get("creditor_ref"),
                  "bank_text": bank_text}
        for c, v in values.items():
            self.rows[c].append(v)


def read_mt940(data: bytes, source: str = "statement.sta") -> Statement:
    """Read an MT940 file (one or more statements) into a Statement; StatementError if it holds
    no statement or a line cannot be read."""
    found = _Statements()
    pending_61: dict | None = None
    for tag, lines in tags(decode(data)):
        if tag != "86" and pending_61 is not None:
            found.entry(pending_61, {})
            pending_61 = None
        if tag == "20":
            found.start(lines[0].strip())
        elif found.current is None:
            continue
        elif tag == "25":
            found.current["account"] = lines[0].strip()
        elif tag in ("60F", "60M"):
            found.balance("opening", "".join(lines))
        elif tag in ("62F", "62M"):
            found.balance("closing", "".join(lines))
        elif tag == "61":
            pending_61 = parse_61(lines)
        elif tag == "86" and pending_61 is not None:
            found.entry(pending_61, parse_86(lines))
            pending_61 = None
    if pending_61 is not None:
        found.entry(pending_61, {})
    if not found.balances:
        raise StatementError("This file holds no MT940 statement (no ':20:' line); it is not a bank statement.")
    _fill_currency(found)
    entries = entries_frame(found.rows, ",", source)
    bal = balances_frame(found.balances)
    return Statement(source=source, format="MT940", entries=entries, balances=bal,
                     warnings=balance_warnings(entries, bal))


def _fill_currency(found: _Statements) -> None:
    """Entries read before their statement's opening balance named the currency get it now."""
    by_statement = {b["statement"]: b["currency"] for b in found.balances}
    found.rows["currency"] = [c or by_statement.get(s) for c, s in
                              zip(found.rows["currency"], found.rows["statement"])]
