"""Linewise from the command line: the same code paths as the app, for cron and scripts.

Exit codes: 0 ok, 1 data errors (quarantined rows, unreadable file, missing
table/column), 2 usage errors and action-store problems (busy, damaged, empty
or unreachable store: the message names the store, never the input file).

`import SOURCE` stores SOURCE as the workspace's current import (the data
every app session shows); `report`, `remind`, `statements` and `check` without SOURCE work
on that current import, so cron can run `.venv/bin/linewise remind --send` alone (and
`statements --as-of D --out DIR --send`).
Everything goes through the application layer (`services/`).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

EXIT_OK, EXIT_DATA, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


def _options(args: argparse.Namespace):
    from services.workspace import IngestOptions, load_mapping

    mapping = load_mapping(args.mapping) if getattr(args, "mapping", None) else None
    return IngestOptions(default_currency=args.currency, decimal=args.decimal,
                         date_order=args.date_order, mapping=mapping)


def _load(args: argparse.Namespace):
    """The Dataset of SOURCE, or of the workspace's current import when no SOURCE is given."""
    from services import workspace

    source = args.source
    if source is None:
        with _workspace(args) as ws:
            current = workspace.current_data(ws)
        if current is None:
            raise UsageError("the workspace has no import yet: run `cli.py import SOURCE` first, "
                             "or give SOURCE")
        print(f"Current import #{current.import_id}: {current.record['source_label']} "
              f"({workspace.imported_at(current.record)})", file=sys.stderr)
        return current.data
    _check_source(source)
    return workspace.read_dataset(source, _options(args))


def _check_source(source: str) -> None:
    if source.startswith(("http://", "https://")):
        return
    if not Path(source).exists():
        raise UsageError(f"{source}: no such file or folder")
    from connectors.store import default_data_dir

    own = default_data_dir().expanduser().resolve()
    if Path(source).resolve() == own:  # its linewise.db and backups are no CSVs of invoices
        raise UsageError(f"{source} is the folder where Linewise keeps its own store ({own}); put the CSV "
                         "files of your invoices and payments in another folder and give that one")


class _Opened:
    """`with _workspace(args) as ws:` — the workspace store, closed afterwards."""

    def __init__(self, args: argparse.Namespace):
        from connectors.reminders import read_secrets_file
        from connectors.store import Store, StoreError
        from services.context import Workspace

        try:
            self.store = Store.from_secrets(read_secrets_file(_secrets_path(getattr(args, "secrets", None))))
        except StoreError as exc:
            raise UsageError(f"cannot open the workspace store: {exc}") from exc
        self.ws = Workspace(self.store)

    def __enter__(self):
        return self.ws

    def __exit__(self, *exc) -> None:
        self.store.close()


def _workspace(args: argparse.Namespace) -> _Opened:
    return _Opened(args)


def _actor(args: argparse.Namespace):
    """--actor, else LINEWISE_ACTOR, else cli:<os user> (services.auth.cli_actor): recorded on every change."""
    from services.auth import cli_actor

    return cli_actor(name=getattr(args, "actor", None))


def _policy(args: argparse.Namespace):
    from billing.policy import Policy, load_policy

    policy = Policy()
    if getattr(args, "policy", None):
        try:
            policy = load_policy(Path(args.policy).read_text(encoding="utf-8"))
        except OSError as exc:
            raise UsageError(f"cannot read policy file {args.policy}: {exc}") from exc
        except ValueError as exc:
            raise UsageError(f"policy file {args.policy} is not valid: {exc}") from exc
    updates = {"default_currency": args.currency}
    if getattr(args, "basis", None):
        updates["basis"] = args.basis
    if getattr(args, "base_currency", None):
        updates["base_currency"] = args.base_currency.upper()
    return policy.model_copy(update=updates)


def _as_of(text: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(text).normalize()
    except (ValueError, TypeError) as exc:
        raise UsageError(f"--as-of {text!r} is not a date; use YYYY-MM-DD") from exc


def print_counts(data, out=None) -> None:
    out = out or sys.stdout
    print(f"{'table':<10} {'read':>8} {'accepted':>9} {'quarantined':>12}", file=out)
    for table, c in data.counts.items():
        if c.read or table in ("invoices", "payments"):
            print(f"{table:<10} {c.read:>8} {c.accepted:>9} {c.quarantined:>12}", file=out)


def print_quarantine(data, out=None, limit: int | None = None) -> None:
    out = out or sys.stdout
    q = data.quarantine
    if len(q) == 0:
        print("No rows quarantined.", file=out)
        return
    print(f"\n{len(q)} problem(s) in {q[['table', 'row']].drop_duplicates().shape[0]} row(s):", file=out)
    shown = q if limit is None else q.head(limit)
    for r in shown.itertuples(index=False):
        print(f"  {r.sheet}!row {r.row}, column '{r.column}', value '{r.value}': {r.message}", file=out)
    if limit is not None and len(q) > limit:
        print(f"  ... and {len(q) - limit} more (use --all to list every one)", file=out)


def cmd_check(args: argparse.Namespace) -> int:
    data = _load(args)
    print(f"Source: {args.source or 'the current import'}")
    for note in data.notes:
        if note.kind == "layout":  # "recognised: Zoho Books invoice export"
            print(f"{note.text[:1].upper()}{note.text[1:]} (sheet '{note.sheet}')")
    print_counts(data)
    for note in data.notes:
        print(f"  note: {_note_place(note)}({note.kind}): {note.text}")
    missing = [t for t in ("payments", "customers", "orders") if t not in data.sheet_map]
    if missing:
        print(f"  note: no {', '.join(missing)} table found (optional; the report treats them as empty)")
    print_quarantine(data, limit=None if args.all else 200)
    print_gone_adjustments(args, data)
    return EXIT_DATA if len(data.quarantine) else EXIT_OK


def _note_place(note) -> str:
    """"Invoices!row 3 ", "sheet Invoices " or nothing: a note about the whole file (no payments
    table at all) has no sheet to name."""
    if not note.sheet:
        return ""
    return f"{note.sheet}!row {note.row} " if note.row else f"sheet {note.sheet} "


def cmd_codes(args: argparse.Namespace) -> int:
    from services.reports import write_codes

    out = Path(args.out)
    if out.suffix.lower() not in (".csv", ".xlsx", ".xlsm"):
        raise UsageError("--out must end in .xlsx or .csv")
    data = _load(args)
    n = write_codes(data, out)
    print(f"Wrote {n} invoice lines with line codes to {out}")
    print_quarantine(data, limit=20)
    return EXIT_DATA if len(data.quarantine) else EXIT_OK


def _engine_records(args: argparse.Namespace):
    """(lines in open dispute, adjustments) from the workspace store the app writes to ((None, None)
    when there is no store yet).

    The report then holds the disputed amounts and applies the adjustments, exactly as the dashboards do.
    """
    from connectors.reminders import read_secrets_file
    from connectors.store import store_url_from
    from services.actions import open_dispute_lines
    from services.collections import engine_adjustments

    url = store_url_from(read_secrets_file(_secrets_path(getattr(args, "secrets", None))))
    if url.startswith("sqlite") and not Path(url.split(":///", 1)[-1]).exists():
        return None, None
    with _workspace(args) as ws:
        return open_dispute_lines(ws), engine_adjustments(ws)


def print_gone_adjustments(args: argparse.Namespace, data, out=None) -> int:
    """The workspace's adjustments whose line or payment is not in `data` (SPEC §15: flagged, never
    dropped); returns how many."""
    from billing.adjustments import gone

    out = out or sys.stdout
    _, adjustments = _engine_records(args)
    if adjustments is None:
        return 0
    flagged = gone(adjustments, data.invoices["line_code"], data.payments["payment_id"])
    if len(flagged):
        print(f"\n{len(flagged)} adjustment(s) name what this data no longer has (they apply nothing):", file=out)
        for r in flagged.itertuples(index=False):
            what = f"payment {r.payment_id} -> line {r.line_code}" if r.kind == "apply" else f"line {r.line_code}"
            print(f"  #{r.adjustment_id} {r.kind} of {what}: {r.why}", file=out)
    return len(flagged)


def cmd_import(args: argparse.Namespace) -> int:
    """Store SOURCE as a new import of the workspace (its current data)."""
    from services import workspace

    _check_source(args.source)
    with _workspace(args) as ws:
        result = workspace.import_source(ws, _actor(args), args.source, _options(args))
    if result.mapping_note:
        print(f"Column {result.mapping_note}.")
    if result.status == workspace.UNREADABLE:
        print(f"error: nothing was stored: {result.message}", file=sys.stderr)
        if result.data is not None:
            print_quarantine(result.data, out=sys.stderr, limit=None if args.all else 200)
        return EXIT_DATA
    print(result.message)
    if result.status == workspace.UNCHANGED or result.data is None:
        return EXIT_OK
    print_counts(result.data)
    print_quarantine(result.data, limit=None if args.all else 200)
    return EXIT_DATA if len(result.data.quarantine) else EXIT_OK


def cmd_imports(args: argparse.Namespace) -> int:
    """The import history (newest first); --keep N prunes all but the N newest (never the current)."""
    from services import workspace

    with _workspace(args) as ws:
        if args.keep is not None:
            if args.keep < 1:
                raise UsageError("--keep must be at least 1")
            deleted = workspace.prune(ws, _actor(args), args.keep)
            print(f"Deleted {len(deleted)} import(s)" + (f": {', '.join(f'#{i}' for i in deleted)}" if deleted
                                                         else "") + ".")
        frame = workspace.history(ws)
        changes = {int(i): workspace.differences(ws, int(i)) for i in frame["id"]} if args.changes else {}
    if not len(frame):
        print("No imports yet: run `cli.py import SOURCE`.")
        return EXIT_OK
    print(f"{'':1} {'id':>4}  {'when (UTC)':<16}  {'who':<20} {'lines':>8} {'payments':>9} {'quarant.':>8}  source")
    for r in frame.itertuples(index=False):
        mark = "*" if r.current else " "
        print(f"{mark} {r.id:>4}  {r.created_at:%Y-%m-%d %H:%M}  {str(r.actor)[:20]:<20} {r.n_lines:>8} "
              f"{r.n_payments:>9} {r.n_quarantined:>8}  {r.source_label}")
        ch = changes.get(int(r.id))
        if ch is not None:
            c = ch.counts()
            flagged = int((ch.lines["flag"] != "").sum())
            print(f"        lines +{c['lines']['added']} -{c['lines']['removed']} ~{c['lines']['changed']}, "
                  f"payments +{c['payments']['added']} -{c['payments']['removed']} ~{c['payments']['changed']}"
                  + (f", {flagged} flagged (reminder sent / open dispute)" if flagged else ""))
    print("* = the current import")
    return EXIT_OK


def _bank_files(paths: list[str]) -> list[tuple[str, bytes]]:
    files = []
    for name in paths:
        path = Path(name)
        if not path.is_file():
            raise UsageError(f"{name}: no such file")
        files.append((path.name, path.read_bytes()))
    return files


def cmd_bank_import(args: argparse.Namespace) -> int:
    """Bank statements in (camt.053/054, MT940, bank CSV, OFX): per file what was read and matched.
    Exit 0 when every payment was matched, 1 when some wait for review, 2 when a file is unreadable."""
    from connectors.store import new_action_id
    from services import bank
    from services.context import NotAllowed

    files = _bank_files(args.files)
    with _workspace(args) as ws:
        try:
            result = bank.import_statements(ws, _actor(args), files, action_id=new_action_id(),
                                            as_of=_as_of(args.as_of) if args.as_of else None, policy=_policy(args))
        except NotAllowed as exc:
            raise UsageError(str(exc)) from exc
    for f in result.files:
        _print_bank_file(f)
    if result.unreadable:
        return EXIT_USAGE
    return EXIT_DATA if result.waiting else EXIT_OK


def _print_bank_file(f) -> None:
    if f.error:
        print(f"{f.name}: unreadable: {f.error}", file=sys.stderr)
        return
    steps = ", ".join(f"{n} by {step}" for step, n in f.matched.items()) or "none"
    print(f"{f.name} ({f.format})\n"
          f"  credits {f.credits} ({f.added} new, {f.already} imported before)\n"
          f"  matched automatically {sum(f.matched.values())}: {steps}\n"
          f"  decided by a clerk earlier {f.decided}\n"
          f"  waiting for review {f.waiting}\n"
          f"  debits skipped {f.debits}; pending (not booked) {f.pending}; reversed {f.reversed}\n"
          f"  possible duplicates of workbook payments {f.possible_duplicates}")
    for w in f.warnings:
        print(f"  warning: {w}")


def cmd_bank_queue(args: argparse.Namespace) -> int:
    """The review queue with suggestions, to .xlsx or .csv (amounts in major units)."""
    from connectors.export import write_table
    from services import bank

    with _workspace(args) as ws:
        queue = bank.review_queue(ws, policy=_policy(args))
    out = Path(args.out)
    if out.suffix.lower() not in (".xlsx", ".csv"):
        raise UsageError("--out must end in .xlsx or .csv")
    write_table(out, "review queue", queue, money_columns={"amount": "currency"})
    print(f"{len(queue)} bank payment(s) waiting for review written to {out}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from billing.report import SectionError
    from services.reports import parse_sections, report_analysis, write_report

    try:
        sections = parse_sections(args.sections)
    except SectionError as exc:
        raise UsageError(str(exc)) from exc
    as_of, policy = _as_of(args.as_of), _policy(args)
    data = _load(args)
    disputes, adjustments = _engine_records(args)
    analysis = report_analysis(data, as_of, policy, disputes, sections, adjustments=adjustments)
    out = Path(args.out)
    write_report(data, analysis, sections, out, args.format)
    print(f"Wrote the report as of {as_of:%Y-%m-%d} to {out}")
    if len(data.quarantine):
        print(f"{len(data.quarantine)} cell(s) quarantined; run `cli.py check` to list them.")
    return EXIT_DATA if len(data.quarantine) else EXIT_OK


def _collections_analysis(args: argparse.Namespace, ws, data):
    """The engine as of --as-of (default today) with the workspace's disputes and adjustments."""
    from billing.analysis import analyse
    from services.actions import open_dispute_lines
    from services.collections import engine_adjustments

    as_of = _as_of(args.as_of) if args.as_of else pd.Timestamp.today().normalize()
    return analyse(data, as_of, _policy(args), open_dispute_lines(ws), with_exceptions=False, with_kpis=False,
                   adjustments=engine_adjustments(ws))


def cmd_worklist(args: argparse.Namespace) -> int:
    """Customers ranked by amount at risk, with the credit hold list, to XLSX (SPEC §15)."""
    from services import collections

    out = Path(args.out)
    if out.suffix.lower() not in (".xlsx", ".xlsm"):
        raise UsageError("--out must end in .xlsx")
    data = _load(args)
    with _workspace(args) as ws:
        analysis = _collections_analysis(args, ws, data)
        frame = collections.worklist(ws, data, analysis, collector=args.collector)
        hold = collections.credit_hold(data, analysis)
    collections.write_worklist(out, frame, hold)
    who = f" for {args.collector}" if args.collector else ""
    print(f"Wrote the worklist{who} as of {analysis.as_of:%Y-%m-%d} ({len(frame)} customer row(s)) and the "
          f"credit hold list ({len(hold)}) to {out}")
    return EXIT_OK


def cmd_forecast(args: argparse.Namespace) -> int:
    """Expected receipts per week with a band, to JSON (SPEC §15)."""
    from services import collections

    if not 1 <= args.weeks <= 52:
        raise UsageError("--weeks must be between 1 and 52")
    data = _load(args)
    with _workspace(args) as ws:
        analysis = _collections_analysis(args, ws, data)
    frame = collections.forecast(data, analysis, args.weeks)
    collections.write_forecast(Path(args.out), frame, analysis.as_of, args.weeks)
    print(f"Wrote the {args.weeks}-week cash forecast as of {analysis.as_of:%Y-%m-%d} to {args.out}")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from services.reports import write_demo

    if args.lines < 1000:
        raise UsageError("--lines must be at least 1000 (the demo plants every exception type)")
    write_demo(args.out, seed=args.seed, n_lines=args.lines)
    print(f"Wrote demo workbook to {args.out}")
    return EXIT_OK


def cmd_template(args: argparse.Namespace) -> int:
    from services.reports import write_template

    write_template(args.out)
    print(f"Wrote template workbook to {args.out}")
    return EXIT_OK


def _secrets_path(arg: str | None) -> Path | None:
    """--secrets, else .streamlit/secrets.toml in the working directory, else beside cli.py."""
    if arg:
        if not Path(arg).expanduser().is_file():
            raise UsageError(f"--secrets {arg}: no such file")
        return Path(arg).expanduser()
    for candidate in (Path.cwd() / ".streamlit" / "secrets.toml",
                      Path(__file__).resolve().parent / ".streamlit" / "secrets.toml"):
        if candidate.is_file():
            return candidate
    return None


def _before_sending(args: argparse.Namespace, data, dry_run: str) -> int | None:
    """The gate of every command that sends: quarantined cells are announced; without --send it is a
    dry run; with quarantined cells nothing is sent unless --allow-data-errors. Returns the exit code
    to stop with, or None to go on and send."""
    if len(data.quarantine):
        print(f"{len(data.quarantine)} cell(s) quarantined; run `cli.py check` to list them.", file=sys.stderr)
    if not args.send:
        print(dry_run)
        return EXIT_DATA if len(data.quarantine) else EXIT_OK
    if len(data.quarantine) and not args.allow_data_errors:
        print("error: not sending: the source has quarantined cells, so some payments may be missing "
              "(fix them, or add --allow-data-errors)", file=sys.stderr)
        return EXIT_DATA
    return None


def cmd_remind(args: argparse.Namespace) -> int:
    """Payment reminders: print the plan (dry run), or send with --send (for cron)."""
    import tomllib

    from billing.dunning import DunningPolicy, load_dunning_policy
    from billing.messages import sms_note
    from connectors.mailer import ConfigError, Mailer, SmtpConfig
    from connectors.reminders import make_renderer, plan_text, preview, read_secrets_file
    from connectors.sms import SmsClient, SmsConfig
    from connectors.store import new_action_id
    from services import actions
    from services import statements as statements_service

    as_of = _as_of(args.as_of) if args.as_of else pd.Timestamp.today().normalize()
    engine_policy = _policy(args)
    dunning = DunningPolicy()
    if args.dunning_policy:
        try:
            dunning = load_dunning_policy(Path(args.dunning_policy).read_text(encoding="utf-8"))
        except OSError as exc:
            raise UsageError(f"cannot read dunning policy file {args.dunning_policy}: {exc}") from exc
        except (ValueError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"dunning policy file {args.dunning_policy} is not valid: {exc}") from exc
    if args.attach_statement:
        dunning = dunning.model_copy(update={"attach_statement": True})
    try:
        secrets = read_secrets_file(_secrets_path(args.secrets))
        smtp = SmtpConfig.from_secrets(secrets)
        sms_cfg = SmsConfig.from_secrets(secrets)
        from connectors.company import company_from_secrets

        company = company_from_secrets(secrets)
        renderer = make_renderer(dunning, templates_dir=args.templates, company=company)
    except (ConfigError, FileNotFoundError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(str(exc)) from exc
    data = _load(args)
    with _workspace(args) as ws:
        dunning = statements_service.dunning_policy(ws, dunning)  # the levels chosen in the app attach the PDF
        plan = actions.plan_reminders(ws, data, as_of, dunning, engine_policy)
        for line in plan_text(plan):
            print(line)
        for msg in preview(plan, renderer, customer_ids=args.preview or []):
            print(f"\n--- {msg.customer_id} ({msg.level}, {msg.language}) ---\nSubject: {msg.subject}\n\n"
                  f"{msg.text}\nSMS ({sms_note(msg.sms)}): {msg.sms}")
        stop = _before_sending(args, data, "Dry run: nothing sent (add --send to send).")
        if stop is not None:
            return stop
        channels = {ch for r in plan.reminders for ch in r.channels}
        if "email" in channels and smtp is None:
            raise UsageError("--send needs an SMTP server: [smtp] in .streamlit/secrets.toml (or --secrets) "
                             "or LINEWISE_SMTP_HOST / LINEWISE_SMTP_FROM_ADDRESS ...")
        if "sms" in channels and sms_cfg is None:
            print("note: no [sms] settings: SMS reminders are left unsent", file=sys.stderr)

        def progress(done: int, total: int, r) -> None:
            extra = f": {r.error}" if r.error else ""
            print(f"[{done}/{total}] {r.status:<7} {r.customer_id} {r.level} {r.channel} "
                  f"{len(r.line_codes)} line(s){extra}", flush=True)

        with _reminder_statements(dunning, data, as_of, engine_policy, ws.store, secrets) as statement_pdf:
            report = actions.send(ws, _actor(args), plan, Mailer(smtp) if smtp else None,
                                  SmsClient(sms_cfg) if sms_cfg else None, action_id=new_action_id(),
                                  renderer=renderer, progress=progress, statement_pdf=statement_pdf,
                                  epc_qr=_reminder_qr(company))
        print(f"Sent {len(report.sent)}, failed {len(report.failed)}, skipped {len(report.skipped)}.")
        if report.unconfirmed:
            print(f"Unconfirmed {len(report.unconfirmed)}: handed over but never confirmed, so not resent; "
                  "check whether the customer got it, then mark it sent or failed on the Reminders page.")
        return EXIT_OK if report.ok else EXIT_DATA


def cmd_statements(args: argparse.Namespace) -> int:
    """Statements of account: one file per customer (PDF, optionally XLSX); --send emails each once.
    Without SOURCE: the workspace's current import."""
    import tomllib

    from connectors.mailer import ConfigError, Mailer, SmtpConfig
    from connectors.reminders import read_secrets_file
    from connectors.statement_pdf import StatementRenderError
    from connectors.store import new_action_id
    from services import statements as statements_service

    as_of = _as_of(args.as_of)
    period_start = _as_of(args.period_start) if args.period_start else None
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    try:
        secrets = read_secrets_file(_secrets_path(args.secrets))
        settings = statements_service.load_settings(secrets, args.texts)
        smtp = SmtpConfig.from_secrets(secrets) if args.send else None
    except (ConfigError, StatementRenderError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(str(exc)) from exc
    if args.send and smtp is None:
        raise UsageError("--send needs an SMTP server: [smtp] in .streamlit/secrets.toml (or --secrets) "
                         "or LINEWISE_SMTP_HOST / LINEWISE_SMTP_FROM_ADDRESS ...")
    data = _load(args)
    with _workspace(args) as ws:
        stmts = _build_statements(args, data, ws, as_of, period_start, settings)

        def wrote(done: int, total: int, name: str) -> None:
            print(f"[{done}/{total}] {name}", flush=True)

        try:
            paths = statements_service.write_files(stmts, args.out, settings, formats=formats,
                                                   workers=args.workers, progress=wrote)
        except (ValueError, StatementRenderError) as exc:
            raise UsageError(str(exc)) from exc
        print(f"Wrote {len(paths)} statement file(s) as of {as_of:%Y-%m-%d} to {args.out}")
        stop = _before_sending(args, data, "Dry run: nothing emailed (add --send to email each statement once).")
        if stop is not None:
            return stop

        def sent(done: int, total: int, r) -> None:
            extra = f": {r.error}" if r.error else ""
            print(f"[{done}/{total}] {r.status:<7} {r.customer_id} {r.address or ''}{extra}", flush=True)

        report = statements_service.send(ws, _actor(args), stmts, Mailer(smtp), settings,
                                         action_id=new_action_id(), progress=sent)
        print(f"Sent {len(report.sent)}, failed {len(report.failed)}, skipped {len(report.skipped)}.")
        return EXIT_OK if report.ok else EXIT_DATA


def _build_statements(args: argparse.Namespace, data, ws, as_of: pd.Timestamp, period_start, settings):
    """Every wanted customer's statement from one engine pass, with the workspace's open disputes."""
    from billing.analysis import analyse
    from services import statements as statements_service

    adjustments = ws.store.adjustments()
    analysis = analyse(data, as_of, _policy(args), ws.store.open_dispute_lines(), with_exceptions=False,
                       with_kpis=False, adjustments=adjustments if len(adjustments) else None)
    try:
        stmts = statements_service.build(data, analysis, ws.store, period_start=period_start,
                                         only_open=args.only_open, customer_ids=args.customer,
                                         settings=settings)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    for cid in sorted(set(args.customer or []) - set(stmts.customer_ids)):
        print(f"note: customer {cid} has nothing to state as of {as_of:%Y-%m-%d}", file=sys.stderr)
    return stmts


def _reminder_qr(company):
    """An EPC QR code for each reminder's EUR lines when [company] has an IBAN, else None."""
    from functools import partial

    from connectors.qr import reminder_qr

    return partial(reminder_qr, company) if company.can_take_sepa else None


def _reminder_statements(dunning, data, as_of, engine_policy, store, secrets):
    """Statement PDFs for reminder levels with attach_pdf (a no-op context when no level has it)."""
    import contextlib

    if not any(lv.attach_pdf for lv in dunning.active_levels):
        return contextlib.nullcontext(None)
    from billing.analysis import analyse
    from connectors.mailer import ConfigError
    from services import statements as statements_service

    try:
        settings = statements_service.load_settings(secrets)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    adjustments = store.adjustments()
    analysis = analyse(data, as_of, engine_policy, store.open_dispute_lines(), with_exceptions=False,
                       with_kpis=False, adjustments=adjustments if len(adjustments) else None)
    return statements_service.ReminderStatements(data, analysis, store, settings)


def _source_args(p: argparse.ArgumentParser, optional: bool = False) -> None:
    p.add_argument("source", nargs="?" if optional else None,
                   help="workbook (.xlsx/.xlsm/.xls/.ods), .csv, a folder of CSVs, or a Google Sheet URL "
                        "(https://docs.google.com/spreadsheets/d/...)"
                        + ("; default: the workspace's current import" if optional else ""))
    p.add_argument("--currency", default="USD", help="currency when a row and its customer have none")
    p.add_argument("--decimal", choices=[".", ","], help="decimal separator (default: detected per column)")
    p.add_argument("--date-order", default="auto", choices=["auto", "dmy", "mdy", "ymd"],
                   help="how to read 05/03/2024 (default: detected per column)")
    p.add_argument("--mapping", help="JSON column mapping {table: {sheet, columns: {canonical: header}}}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cli.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("import", help="store a source as the workspace's current import (what the app shows)")
    _source_args(p)
    p.add_argument("--all", action="store_true", help="list every quarantined cell")
    p.add_argument("--actor", help="who imports, for the history (default $LINEWISE_ACTOR, else cli:<user>)")
    p.add_argument("--secrets", help="secrets TOML ([store] url); default .streamlit/secrets.toml")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("imports", help="the workspace's import history; --keep N prunes old imports")
    p.add_argument("--keep", type=int, help="delete all but the N newest imports (the current one stays)")
    p.add_argument("--changes", action="store_true", help="also print what each import changed")
    p.add_argument("--actor", help="who prunes, for the audit trail (default $LINEWISE_ACTOR, else cli:<user>)")
    p.add_argument("--secrets", help="secrets TOML ([store] url); default .streamlit/secrets.toml")
    p.set_defaults(func=cmd_imports)

    p = sub.add_parser("check", help="validate a source: per-table counts and quarantined cells")
    _source_args(p, optional=True)
    p.add_argument("--secrets", help="secrets TOML ([store] url); default .streamlit/secrets.toml")
    p.add_argument("--all", action="store_true", help="list every quarantined cell")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("codes", help="write the invoices with their line codes")
    _source_args(p)
    p.add_argument("--out", required=True, help="output .xlsx or .csv")
    p.set_defaults(func=cmd_codes)

    p = sub.add_parser("report", help="aging, allocations, KPIs and exceptions as JSON or XLSX")
    _source_args(p, optional=True)
    p.add_argument("--as-of", required=True, help="YYYY-MM-DD")
    p.add_argument("--basis", choices=["due_date", "invoice_date"])
    p.add_argument("--base-currency", help="also convert the summary to this currency with the fx_rates table")
    p.add_argument("--format", choices=["json", "xlsx"], default="json")
    p.add_argument("--out", required=True)
    p.add_argument("--sections", help="comma-separated: rows,summary,customers,lines,allocations,"
                                      "unapplied,adjustments,exceptions,kpis,quarantine (default all)")
    p.add_argument("--policy", help="policy TOML file (buckets, basis, tolerances ...)")
    p.add_argument("--secrets", help="secrets TOML ([store] url); default .streamlit/secrets.toml")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("remind", help="payment reminders: print the plan (dry run) or --send them",
                       description="Payment reminders due as of a date (dry run by default). --send claims, "
                       "sends and records each reminder once, safe to run from cron. SMTP/SMS settings: "
                       "[smtp]/[sms] in .streamlit/secrets.toml or LINEWISE_SMTP_*/LINEWISE_SMS_* variables; "
                       "the store: LINEWISE_DB_URL or [store] url. Exit 1 on data errors or a failed send. "
                       "Without SOURCE: the workspace's current import.")
    _source_args(p, optional=True)
    p.add_argument("--as-of", help="YYYY-MM-DD (default: today)")
    p.add_argument("--send", action="store_true", help="send the reminders (default: only print the plan)")
    p.add_argument("--dunning-policy", help="dunning policy TOML (levels, channels, minimum, interval ...)")
    p.add_argument("--policy", help="engine policy TOML (basis, tolerances ...)")
    p.add_argument("--secrets",
                   help="secrets TOML with [smtp], [sms], [store] (default .streamlit/secrets.toml)")
    p.add_argument("--templates", help="folder of reminder templates overriding the shipped ones")
    p.add_argument("--attach-statement", action="store_true", help="attach the statement as XLSX")
    p.add_argument("--preview", action="append", metavar="CUSTOMER_ID",
                   help="also print the message to this customer (repeatable)")
    p.add_argument("--actor", help="who sends, for the audit trail (default $LINEWISE_ACTOR, else cli:<user>)")
    p.add_argument("--allow-data-errors", action="store_true",
                   help="send even when the source has quarantined cells")
    p.set_defaults(func=cmd_remind)

    p = sub.add_parser("statements", help="statements of account, one file per customer; --send emails them",
                       description="Statements of account as of a date: one PDF (and/or XLSX) per customer in "
                       "--out, in the customer's language, with the company details of [company] in the "
                       "secrets. --send emails each customer's statement once per statement date (dry run "
                       "by default). Exit 1 on data errors or a failed send. Without SOURCE: the workspace's "
                       "current import.")
    _source_args(p, optional=True)
    p.add_argument("--as-of", required=True, help="statement date YYYY-MM-DD")
    p.add_argument("--out", required=True, help="folder for the files (created if missing)")
    p.add_argument("--customer", action="append", metavar="ID", help="only this customer (repeatable)")
    p.add_argument("--only-open", action="store_true", help="open items only (no account activity)")
    p.add_argument("--period-start", help="first day of the period (default: the first of the as-of month)")
    p.add_argument("--format", default="pdf", help="pdf, xlsx or pdf,xlsx (default pdf)")
    p.add_argument("--workers", type=int, help="processes that render (default: the CPUs, at most 4)")
    p.add_argument("--send", action="store_true", help="email each statement (PDF attached), once")
    p.add_argument("--policy", help="engine policy TOML (basis, tolerances ...)")
    p.add_argument("--secrets", help="secrets TOML with [company], [smtp], [store], [late_payment]")
    p.add_argument("--texts", help="folder of statement texts ({lang}.toml) overriding the shipped ones")
    p.add_argument("--actor", help="who sends, for the audit trail (default $LINEWISE_ACTOR, else cli:<user>)")
    p.add_argument("--allow-data-errors", action="store_true",
                   help="send even when the source has quarantined cells")
    p.set_defaults(func=cmd_statements)

    p = sub.add_parser("worklist", help="customers ranked by amount at risk + the credit hold list (XLSX)")
    _source_args(p, optional=True)
    p.add_argument("--as-of", help="YYYY-MM-DD (default: today)")
    p.add_argument("--collector", help="only this collector's customers (the customer's owner by default)")
    p.add_argument("--out", required=True, help="output .xlsx")
    p.add_argument("--policy", help="engine policy TOML (basis, tolerances ...)")
    p.add_argument("--secrets", help="secrets TOML ([store] url); default .streamlit/secrets.toml")
    p.set_defaults(func=cmd_worklist)

    p = sub.add_parser("forecast", help="expected receipts per week with a band (JSON)")
    _source_args(p, optional=True)
    p.add_argument("--as-of", help="YYYY-MM-DD (default: today)")
    p.add_argument("--weeks", type=int, default=13, help="weeks ahead (default 13)")
    p.add_argument("--out", required=True, help="output .json")
    p.add_argument("--policy", help="engine policy TOML (basis, tolerances ...)")
    p.add_argument("--secrets", help="secrets TOML ([store] url); default .streamlit/secrets.toml")
    p.set_defaults(func=cmd_forecast)

    p = sub.add_parser("bank", help="bank statements: import them as payments, list the review queue")
    bank_sub = p.add_subparsers(dest="bank_command", required=True)
    b = bank_sub.add_parser("import", help="read camt.053/054, MT940, bank CSV or OFX files and match their payments")
    b.add_argument("files", nargs="+", metavar="FILE")
    b.add_argument("--as-of", help="match against what is open on this date (YYYY-MM-DD; default today)")
    b.add_argument("--currency", default="USD", help="currency of rows without one")
    b.add_argument("--policy", help="policy TOML (bank_name_min_score, bank_charges_pct, ...)")
    b.add_argument("--actor", help="who imports (default $LINEWISE_ACTOR, else cli:<user>)")
    b.add_argument("--secrets", help="secrets TOML ([store] url); default .streamlit/secrets.toml")
    b.set_defaults(func=cmd_bank_import)
    b = bank_sub.add_parser("queue", help="write the bank payments waiting for review, with suggestions")
    b.add_argument("--out", required=True, help="queue.xlsx or queue.csv")
    b.add_argument("--currency", default="USD", help="currency of rows without one")
    b.add_argument("--policy", help="policy TOML")
    b.add_argument("--secrets", help="secrets TOML ([store] url); default .streamlit/secrets.toml")
    b.set_defaults(func=cmd_bank_queue)

    p = sub.add_parser("demo", help="write the demo workbook")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--lines", type=int, default=6000)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("template", help="write an empty template workbook with instructions")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_template)
    return parser


def main(argv: list[str] | None = None) -> int:
    from connectors.redact import redact
    from connectors.store import StoreError
    from services.workspace import LoadError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"error: {redact(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except LoadError as exc:
        print(f"error: {redact(exc)}", file=sys.stderr)
        return EXIT_DATA
    except StoreError as exc:  # the store's fault (busy, damaged, unreachable), not the input file's
        print(f"error: {redact(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # a bug of ours must still not greet the user with a traceback
        print(f"error: Linewise could not process {getattr(args, 'source', 'the input')}: "
              f"{redact(f'{type(exc).__name__}: {exc}', one_line=True)}. "
              "Please report this with the file attached.",
              file=sys.stderr)
        return EXIT_DATA


if __name__ == "__main__":
    sys.exit(main())
