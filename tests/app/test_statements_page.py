"""Reminders page, "Statements of account": e-mail the statements of the filtered customers once, with a real
SMTP server (aiosmtpd) on 127.0.0.1."""
from __future__ import annotations

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
