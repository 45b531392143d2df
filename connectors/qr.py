"""EPC QR codes (EPC069-12 "SEPA credit transfer" QR) for statements and reminders, with segno.

A banking app that scans the code fills in a transfer: beneficiary name,
IBAN (and BIC), amount in EUR and the remittance text. We put the line codes
of the open items there, so the payment names the lines it pays and the
allocation engine applies it to them (step 1, line reference).
"""
from __future__ import annotations

import io
from decimal import Decimal

import segno
from segno import helpers

from billing.company import CompanyDetails
from billing.money import minor_digits

__all__ = ["epc_qr", "epc_svg", "epc_png", "remittance_text", "reminder_qr", "EPC_MAX_MINOR", "EPC_TEXT_MAX"]

EPC_TEXT_MAX = 140  # unstructured remittance information (EPC069-12)
EPC_NAME_MAX = 70
EPC_MAX_MINOR = 999_999_999_99  # EUR 999,999,999.99


def remittance_text(references: list[str], prefix: str = "") -> str:
    """Line codes separated by spaces, as many as fit in 140 characters (whole codes only)."""
    out = prefix.strip()
    for ref in references:
        candidate = f"{out} {ref}".strip()
        if len(candidate) > EPC_TEXT_MAX:
            break
        out = candidate
    return out[:EPC_TEXT_MAX]


def epc_qr(company: CompanyDetails, amount_minor: int, currency: str, text: str) -> segno.QRCode | None:
    """The EPC QR for paying `amount_minor` to the company, or None when it cannot carry one
    (no IBAN, not EUR, nothing to pay or more than the format allows)."""
    if not company.iban or str(currency).upper() != "EUR" or not 0 < amount_minor <= EPC_MAX_MINOR:
        return None
    amount = Decimal(int(amount_minor)).scaleb(-minor_digits("EUR"))
    return helpers.make_epc_qr(name=company.name[:EPC_NAME_MAX], iban=company.iban, amount=amount,
                               text=text[:EPC_TEXT_MAX] or None, bic=company.bic or None)


def epc_svg(qr: segno.QRCode) -> str:
    """The code as a standalone SVG (one path; scales to any size on paper)."""
    buf = io.BytesIO()
    qr.save(buf, kind="svg", scale=1, border=4, xmldecl=False, svgns=True)
    return buf.getvalue().decode("ascii")


def epc_png(qr: segno.QRCode, scale: int = 6) -> bytes:
    """The code as a PNG (for an email)."""
    buf = io.BytesIO()
    qr.save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


def reminder_qr(company: CompanyDetails, reminder) -> tuple[str, bytes] | None:
    """("payment-qr.png", PNG) paying the EUR lines a reminder asks for, quoting their line codes;
    None without an IBAN or EUR lines (``send_reminders(..., epc_qr=partial(reminder_qr, company))``)."""
    eur = [ln for ln in reminder.lines if str(ln.currency).upper() == "EUR"]
    qr = epc_qr(company, sum(ln.open for ln in eur), "EUR", remittance_text([ln.line_code for ln in eur]))
    return None if qr is None else ("payment-qr.png", epc_png(qr))
