"""Bank statements in, payments matched and explained, a review queue (SPEC §17).

Flow: `import_statements(ws, actor, files)` reads each file (connectors.bank), stores its booked
credits as bank payments in the workspace (a payment id already there adds nothing: the same or
an overlapping statement imported twice changes nothing), and matches every bank payment against
the current data (`cash_application`). A payment matched automatically, or confirmed by a clerk,
becomes a payment of the engine (`with_bank_payments`): its customer and the line codes /
invoice numbers it names go in as §4's line / invoice reference. Payments waiting for review
are never applied. `confirm` / `leave_unapplied` record the clerk's decision (and learn the
payer's IBAN for next time).

Every action takes the workspace and the actor and starts with `authorize` (finance may import
and confirm; a viewer sees the queue but cannot act).
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from billing.allocation import allocate
from billing.bankstmt import Statement, StatementError, split_entries
from billing.cashapp import BANK_SHEET, STEPS, CashApplication, engine_payments, match_payments, possible_duplicates
from billing.model import Dataset
from billing.policy import Policy
from billing.roles import Action
from connectors.bank import read_statement
from services import collections
from services.context import Actor, Workspace, authorize


@dataclass
class FileSummary:
    """What one statement file gave: counts for the page and the CLI, and its warnings."""

    name: str
    format: str = ""
    credits: int = 0
    matched: dict[str, int] = field(default_factory=dict)  # step -> payments decided automatically
    waiting: int = 0
    decided: int = 0          # confirmed or left by a clerk earlier
    debits: int = 0
    pending: int = 0
    reversed: int = 0
    already: int = 0          # payments imported before (same or overlapping statement)
    added: int = 0
    possible_duplicates: int = 0
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class BankImport:
    files: list[FileSummary]
    application: CashApplication | None

    @property
    def unreadable(self) -> bool:
        return any(f.error for f in self.files)

    @property
    def waiting(self) -> int:
        return sum(f.waiting for f in self.files)


def read_files(files: Sequence[tuple[str, bytes]]) -> list[tuple[str, Statement | str]]:
    """Each file read, or the sentence saying why it could not be."""
    out: list[tuple[str, Statement | str]] = []
    for name, data in files:
        try:
            out.append((name, read_statement(data, name)))
        except StatementError as exc:
            out.append((name, str(exc)))
    return out


def _stored_frame(credits: pd.DataFrame, sha: str) -> pd.DataFrame:
    return credits.assign(file_sha256=sha)


def import_statements(ws: Workspace, actor: Actor, files: Sequence[tuple[str, bytes]], *, action_id: str,
                      data: Dataset | None = None, as_of: pd.Timestamp | None = None,
                      policy: Policy | None = None) -> BankImport:
    """Read, store and match bank statement files (module doc). `data` is the current data to
    match against (the current import when None); action ids per file are derived from `action_id`."""
    authorize(ws, actor, Action.BANK_IMPORT, action_id=action_id, detail={"files": [n for n, _ in files]})
    summaries: list[FileSummary] = []
    ids_of: dict[str, set[str]] = {}
    for (name, raw), (_, st) in zip(files, read_files(files)):
        if isinstance(st, str):
            summaries.append(FileSummary(name, error=st))
            continue
        sp = split_entries(st.entries)
        sha = hashlib.sha256(raw).hexdigest()
        saved = ws.store.save_bank_payments(_stored_frame(sp.credits, sha), action_id=f"{action_id}:{sha[:16]}",
                                            actor=actor.name) if len(sp.credits) else {"added": 0, "already": 0}
        summaries.append(FileSummary(name, st.format, credits=len(sp.credits), debits=len(sp.debits),
                                     pending=len(sp.pending), reversed=len(sp.reversed), added=saved["added"],
                                     already=saved["already"], warnings=list(st.warnings)))
        ids_of[name] = set(sp.credits["payment_id"])
    if not ids_of:
        return BankImport(summaries, None)
    app = cash_application(ws, data, as_of=as_of, policy=policy)
    dups = duplicates_of_workbook(ws, app, data)
    for s in summaries:
        if s.error:
            continue
        m = app.matches[app.matches["payment_id"].isin(ids_of[s.name])]
        s.matched = {step: int((m["step"] == step).sum()) for step in STEPS if (m["step"] == step).any()}
        s.waiting = int((m["status"] == "review").sum())
        s.decided = int(m["status"].isin(["confirmed", "left"]).sum())
        s.possible_duplicates = int(m["payment_id"].isin(dups["payment_id"]).sum())
    return BankImport(summaries, app)




def _current(ws: Workspace, data: Dataset | None) -> Dataset | None:
    """The data to match against: the workbook's own payments only (bank payments already added
    by `with_bank_payments` must not count as paying what they are matched to)."""
    if data is None:
        from services.workspace import current_data
        cur = current_data(ws)
        data = cur.data if cur is not None else None
    if data is None:
        return None
    pays = data.tables["payments"]
    own = ~pays["_sheet"].astype("string").str.startswith(BANK_SHEET).fillna(False).to_numpy(dtype=bool)
    if own.all():
        return data
    return Dataset(source=data.source, tables={**data.tables, "payments": pays[own].reset_index(drop=True)},
                   quarantine=data.quarantine, counts=data.counts, notes=data.notes, sheet_map=data.sheet_map)


def open_lines(data: Dataset | None, as_of: pd.Timestamp | None, policy: Policy,
               adjustments: pd.DataFrame | None = None) -> pd.DataFrame:
    """The invoice lines with what is still open on them after the workbook's own payments and
    the workspace's adjustments (line_code, invoice_no, customer_id, currency, open)."""
    cols = ["line_code", "invoice_no", "customer_id", "currency", "open"]
    if data is None:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "open" else "string") for c in cols})
    inv = data.tables["invoices"]
    as_of = pd.Timestamp(as_of) if as_of is not None else pd.Timestamp.today().normalize()
    alloc = allocate(inv, data.tables["payments"], as_of, policy, adjustments=adjustments)
    lines = inv[inv["amount"] > 0][["line_code", "invoice_no", "customer_id", "currency", "amount"]]
    lines = lines.merge(alloc.line_allocated[["line_code", "allocated"]], on="line_code", how="left")
    lines["open"] = (lines["amount"] - lines["allocated"].fillna(0)).astype("int64")
    lines["currency"] = lines["currency"].fillna(policy.default_currency)
    return lines[cols]


def cash_application(ws: Workspace, data: Dataset | None = None, *, as_of: pd.Timestamp | None = None,
                     policy: Policy | None = None) -> CashApplication:
    """Every stored bank payment decided: the engine's match, replaced by the clerk's decision
    where there is one (status "confirmed" / "left", step "confirmed")."""
    policy = policy or Policy()
    data = _current(ws, data)
    payments = ws.store.bank_payments()
    customers = data.tables["customers"] if data is not None else None
    lines = open_lines(data, as_of, policy, collections.engine_adjustments(ws))
    app = match_payments(payments, lines, customers, ws.store.bank_ibans(), policy)
    return CashApplication(_with_decisions(app.matches, ws.store.bank_decisions()), app.suggestions)


def _with_decisions(matches: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    if decisions.empty:
        return matches
    m = matches.set_index("payment_id")
    d = decisions.set_index("payment_id").reindex(m.index)
    has = d["status"].notna()
    m.loc[has, "status"] = d.loc[has, "status"]
    m.loc[has, "step"] = "confirmed"
    for col in ("customer_id", "reference", "write_off", "write_off_line"):
        m.loc[has, col] = d.loc[has, col]
    m.loc[has, "evidence"] = "decided by " + d.loc[has, "decided_by"].astype(str) + " on " + \
        d.loc[has, "decided_at"].dt.strftime("%Y-%m-%d").astype(str)
    return m.reset_index()


def duplicates_of_workbook(ws: Workspace, app: CashApplication, data: Dataset | None = None,
                           policy: Policy | None = None) -> pd.DataFrame:
    """Applied bank payments that look like a payment the workbook already has (SPEC §17)."""
    policy = policy or Policy()
    data = _current(ws, data)
    if data is None:
        return pd.DataFrame(columns=["payment_id", "workbook_payment_id"])
    bank = ws.store.bank_payments().drop(columns=["payer_name"]).merge(
        app.matches[["payment_id", "customer_id", "status"]], on="payment_id")
    bank = bank[bank["status"].isin(["matched", "confirmed"])]
    return possible_duplicates(bank, data.tables["payments"], policy.bank_duplicate_days)


def with_bank_payments(ws: Workspace, data: Dataset, *, as_of: pd.Timestamp | None = None,
                       policy: Policy | None = None) -> Dataset:
    """`data` with the applied bank payments added to its payments table (not the possible
    duplicates of workbook payments, nor a payment id the workbook already has)."""
    policy = policy or Policy()
    data = _current(ws, data)
    credits = ws.store.bank_payments()
    if credits.empty:
        return data
    app = cash_application(ws, data, as_of=as_of, policy=policy)
    dups = duplicates_of_workbook(ws, app, data, policy)
    rows = engine_payments(credits, app.matches)
    known = set(data.tables["payments"]["payment_id"].astype(str)) | set(dups["payment_id"])
    rows = rows[~rows["payment_id"].isin(known)]
    payments = pd.concat([data.tables["payments"], rows], ignore_index=True)
    return Dataset(source=data.source, tables={**data.tables, "payments": payments}, quarantine=data.quarantine,
                   counts=data.counts, notes=data.notes, sheet_map=data.sheet_map)


def review_queue(ws: Workspace, data: Dataset | None = None, *, policy: Policy | None = None) -> pd.DataFrame:
    """The payments waiting for review with their payment details and up to three suggestions
    (suggestion_1..3: "customer · invoice (evidence)")."""
    app = cash_application(ws, data, policy=policy)
    q = app.queue.merge(ws.store.bank_payments(), on="payment_id")
    s = app.suggestions.assign(text=app.suggestions["customer_id"].astype(str) + app.suggestions["invoice_no"].map(
        lambda v: "" if pd.isna(v) else f" · {v}") + " (" + app.suggestions["evidence"].astype(str) + ")")
    cols = ["payment_id", "booking_date", "amount", "currency", "payer_name", "payer_iban", "remittance",
            "creditor_ref", "evidence", "note", "source", "entry"]
    out = q[cols].reset_index(drop=True)
    if len(s):
        wide = s.pivot(index="payment_id", columns="rank", values="text")
        wide.columns = [f"suggestion_{c}" for c in wide.columns]
        out = out.merge(wide, left_on="payment_id", right_index=True, how="left")
    return out


def confirm(ws: Workspace, actor: Actor, payment_id: str, *, customer_id: str, reference: str | None = None,
            write_off: int = 0, write_off_line: str | None = None, learn_iban: bool = True,
            action_id: str) -> dict:
    """Confirm a bank payment for `customer_id`, paying `reference` (line codes / invoice numbers,
    space-separated, in order; none = oldest first). Its IBAN is learned for next time."""
    authorize(ws, actor, Action.BANK_CONFIRM, action_id=action_id, detail={"payment_id": payment_id})
    iban = _payer_iban(ws, payment_id) if learn_iban else None
    result = ws.store.decide_bank_payment(payment_id, "confirmed", customer_id=customer_id, reference=reference,
                                          write_off=write_off, write_off_line=write_off_line, learn_iban=iban,
                                          action_id=action_id, actor=actor.name)
    if write_off:
        if not write_off_line:
            raise ValueError("a write-off needs the line it writes off")
        result["adjustment_id"] = collections.record_adjustment(
            ws, actor, "write_off", action_id=f"{action_id}:write_off", line_code=write_off_line,
            amount_minor=int(write_off), on=_booking_date(ws, payment_id),
            reason=f"bank charges: bank payment {payment_id} was short by this amount")
    return result


def confirm_proposal(ws: Workspace, actor: Actor, payment_id: str, *, action_id: str,
                     data: Dataset | None = None, policy: Policy | None = None) -> dict:
    """Confirm what the matching proposed for a payment: its customer and references, and the
    write-off of a small shortfall (bank charges) it proposed, which only now becomes an adjustment."""
    authorize(ws, actor, Action.BANK_CONFIRM, action_id=action_id, detail={"payment_id": payment_id})
    m = cash_application(ws, data, policy=policy).matches.set_index("payment_id")
    if payment_id not in m.index or pd.isna(m.loc[payment_id, "customer_id"]):
        raise ValueError(f"bank payment {payment_id} has no proposal to confirm; choose the customer")
    row = m.loc[payment_id]
    return confirm(ws, actor, payment_id, customer_id=str(row["customer_id"]),
                   reference=None if pd.isna(row["reference"]) else str(row["reference"]),
                   write_off=int(row["write_off"]), write_off_line=None if pd.isna(row["write_off_line"])
                   else str(row["write_off_line"]), action_id=action_id)


def leave_unapplied(ws: Workspace, actor: Actor, payment_id: str, *, note: str | None = None,
                    action_id: str) -> dict:
    """Leave a bank payment unapplied on purpose: it leaves the queue and is not applied."""
    authorize(ws, actor, Action.BANK_CONFIRM, action_id=action_id, detail={"payment_id": payment_id})
    return ws.store.decide_bank_payment(payment_id, "left", customer_id=None, reference=None, note=note,
                                        action_id=action_id, actor=actor.name)


def _booking_date(ws: Workspace, payment_id: str) -> pd.Timestamp | None:
    """The day the bank booked the payment: a write-off of its shortfall takes effect then."""
    p = ws.store.bank_payments()
    row = p[p["payment_id"] == payment_id]
    return None if row.empty else row["booking_date"].iloc[0]


def _payer_iban(ws: Workspace, payment_id: str) -> str | None:
    from billing.cashapp import normalise_iban
    p = ws.store.bank_payments()
    row = p[p["payment_id"] == payment_id]
    if row.empty or pd.isna(row["payer_iban"].iloc[0]):
        return None
    value = normalise_iban(row["payer_iban"]).iloc[0]
    return None if pd.isna(value) else str(value)
