"""The Customer page's statement downloads: PDF and XLSX built by services.statements on click."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from connectors.mailer import ConfigError
from connectors.statement_pdf import StatementRenderError
from services import statements as service
from ui.store import get_store


def settings() -> service.StatementSettings | None:
    """Company details and texts from the secrets; None (and a message) when a setting is wrong."""
    try:
        secrets = st.secrets if st.secrets else None
    except FileNotFoundError:  # no secrets.toml: default company details
        secrets = None
    try:
        return service.load_settings(secrets)
    except (ConfigError, StatementRenderError) as exc:
        st.error(f"Statement settings: {exc}", icon=":material/error:")
        return None


def reminder_statements(policy, data, analysis):
    """Statement PDFs for the reminder levels that attach one (a no-op context when none does)."""
    import contextlib

    if not any(lv.attach_pdf for lv in policy.active_levels):
        return contextlib.nullcontext(None)
    cfg = settings()
    if cfg is None:
        return contextlib.nullcontext(None)
    return service.ReminderStatements(data, analysis, get_store(), cfg)


def reminder_qr():
    """An EPC QR code (PNG) for each reminder's EUR lines when [company] has an IBAN, else None."""
    from functools import partial

    from connectors.qr import reminder_qr as make

    cfg = settings()
    return partial(make, cfg.company) if cfg is not None and cfg.company.can_take_sepa else None


def render_downloads(cid: str, data, analysis) -> None:
    """Options (period start, open items only) and the two download buttons."""
    cfg = settings()
    if cfg is None:
        return
    as_of = analysis.as_of
    cols = st.columns([2, 2, 3, 3], vertical_alignment="bottom")
    start = cols[0].date_input("Period from", value=as_of.replace(day=1).date(), max_value=as_of.date(),
                               key="statement_period_start")
    only_open = cols[1].toggle("Open items only", key="statement_only_open")

    def one() -> object:
        stmts = service.build(data, analysis, get_store(), period_start=pd.Timestamp(start), only_open=only_open,
                              customer_ids=[cid], settings=cfg)
        return stmts.of(cid)

    cols[2].download_button("Download statement (PDF)", lambda: service.render_pdf(one(), cfg),
                            file_name=service.file_name(cid, as_of, "pdf"), mime=service.PDF_MIME,
                            key="customer_download_pdf", icon=":material/picture_as_pdf:", on_click="ignore")
    cols[3].download_button("Download statement (XLSX)", lambda: service.render_xlsx(one(), cfg),
                            file_name=service.file_name(cid, as_of, "xlsx"), mime=service.XLSX_MIME,
                            key="customer_download", icon=":material/download:", on_click="ignore")
