"""Reminders page, "Statements of account": e-mail the statements of the filtered customers once, with a real
SMTP server (aiosmtpd) on 127.0.0.1."""
from __future__ import annotations

import pytest

from tests.app.test_reminders_page import ok, own_store, smtp, start  # noqa: F401  (fixtures)


def _dialog_text(at) -> str:
    return " ".join(m.value for m in at.markdown)


def test_statements_go_out_once_per_customer_and_date(smtp, own_store):  # noqa: F811
    at = start(smtp)
    picked = at.multiselect(key="f_customer").options[:2]
    ok(at.multiselect(key="f_customer").set_value(picked).run())
    ok(at.button(key="stm_send_open").click().run())
    assert "to **2 customer(s)**" in _dialog_text(at)
    ok(at.button(key="stm_confirm_send").click().run())
    assert smtp.count() == 2
    assert all(m.get_content_type() == "multipart/mixed" for _, m in smtp.messages)
    assert [a.get_content_type() for _, m in smtp.messages for a in m.iter_attachments()] == ["application/pdf"] * 2
    assert any("2 sent · 0 failed · 0 skipped" in m.value for m in at.markdown)
    log = own_store.statement_log()
    assert len(log) == 2 and set(log["status"]) == {"sent"}

    ok(at.button(key="stm_send_open").click().run())  # again: nothing left to send
    assert "to **0 customer(s)**" in _dialog_text(at) and at.button(key="stm_confirm_send").disabled
    ok(at.button(key="stm_confirm_cancel").click().run())
    assert smtp.count() == 2


def test_an_admin_chooses_the_levels_that_attach_the_pdf_and_the_reminders_carry_it(smtp, own_store):  # noqa: F811
    from services.statements import PDF_LEVELS_KEY
    from tests.app.test_reminders_page import due, one_per_language, rows_of, select_rows

    at = start(smtp)
    assert at.checkbox(key="stm_pdf_level_first").value is False  # the default policy attaches nothing
    at.checkbox(key="stm_pdf_level_first").check()  # in the form: sent with the Save click
    ok(at.button(key="stm_pdf_levels_save").click().run())
    assert own_store.setting(PDF_LEVELS_KEY) == ["first"]
    assert any("the first reminder(s)" in s.value for s in at.success)
    saved = own_store.audit_events(entity="setting")
    assert saved[["entity_id", "action"]].values.tolist() == [[PDF_LEVELS_KEY, "create"]]
    assert at.checkbox(key="stm_pdf_level_first").value is True  # drawn from the store after the rerun

    table = due(at)
    picked = one_per_language(table)[:1]
    select_rows(at, "rem_due", rows_of(table, picked))
    ok(at.button(key="rem_send_selected").click().run())
    ok(at.button(key="rem_confirm_send").click().run())
    assert smtp.count() == 1
    (_, msg), = smtp.messages
    assert [a.get_content_type() for a in msg.iter_attachments()] == ["application/pdf"]
    assert "statement of account is attached" in msg.get_body(("plain",)).get_content()


def test_finance_may_send_but_not_change_which_levels_attach_the_pdf(smtp, own_store):  # noqa: F811
    from streamlit.testing.v1 import AppTest

    from billing.roles import Actor, Mode, Role
    from services import statements as service
    from services.context import NotAllowed, Workspace
    from tests.app.test_reminders_page import APP, TIMEOUT
    from tests.app.test_roles_app import AUTH, FINANCE, ROLES
    from ui import state

    with pytest.raises(NotAllowed, match="admin"):  # the service refuses a forged request, audited
        service.set_pdf_levels(Workspace(own_store), Actor(FINANCE, Mode.SIGN_IN, Role.FINANCE), ["first"],
                               action_id="forged")
    assert own_store.setting(service.PDF_LEVELS_KEY) is None
    assert own_store.audit_events(entity="permission")["entity_id"].tolist() == ["change_settings"]
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.secrets["auth"], at.secrets["roles"] = AUTH, ROLES
    at.user = {"is_logged_in": True, "email": FINANCE, "email_verified": True, "name": "bob"}
    at.session_state["f_as_of"] = state.DEMO_AS_OF.date()
    ok(at.switch_page("pages/reminders.py").run())
    assert at.checkbox(key="stm_pdf_level_first").disabled and at.button(key="stm_pdf_levels_save").disabled
    assert any("admin" in c.value for c in at.caption)


def test_the_sms_preview_counts_characters_and_sms_segments(smtp, own_store):  # noqa: F811
    from billing.messages import sms_count
    from tests.app.test_reminders_page import due

    at = start(smtp)
    table = due(at)
    cid = table.loc[table["language"] == "hu", "customer_id"].iloc[0]
    ok(at.selectbox(key="rem_preview").set_value(cid).run())
    sms = at.code[-1].value
    n = sms_count(sms)
    assert n.encoding == "UCS-2"  # Hungarian: ő, á ... are outside the GSM alphabet
    assert any(c.value.startswith(f"{n.characters} characters · {n.segments} SMS (Unicode") for c in at.caption)
