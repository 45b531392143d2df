"""The preview outbox: where reminders from the demo sandbox go instead of an SMTP server or SMS gateway.

`PreviewOutbox.mailer()` and `.sms()` stand in for `connectors.mailer.Mailer`
and `connectors.sms.SmsClient`: the message is built exactly as it would be
sent, then kept in memory (nothing opens a socket), so the Reminders page can
show a "sent to the preview outbox" log for the demo data.
"""
from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage

import pandas as pd

from connectors.mailer import Mailer, SmtpConfig

PREVIEW_FROM = "Linewise demo <demo@preview.linewise.test>"
OUTBOX_COLUMNS = ["at", "channel", "to", "subject", "message_id"]


@dataclass(frozen=True)
class OutboxEntry:
    at: datetime
    channel: str
    to: str
    subject: str
    message_id: str


class _PreviewMailer(Mailer):
    """Builds like Mailer (same headers, parts, attachments); `send` files the message in the outbox."""

    def __init__(self, outbox: PreviewOutbox):
        super().__init__(SmtpConfig(host="preview.invalid", from_address=PREVIEW_FROM, security="none"))
        self._outbox = outbox

    def send(self, msg: EmailMessage) -> str:
        return self._outbox.add("email", str(msg["To"]), str(msg["Subject"]), str(msg["Message-ID"]))


class _PreviewSms:
    def __init__(self, outbox: PreviewOutbox):
        self._outbox = outbox

    def send(self, to: str, body: str) -> str:
        return self._outbox.add("sms", to, body[:80], f"preview-{uuid.uuid4().hex[:12]}")


class PreviewOutbox:
    """Messages "sent" from the sandbox, newest last (thread-safe; one per sandbox)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[OutboxEntry] = []

    def mailer(self) -> Mailer:
        return _PreviewMailer(self)

    def sms(self) -> _PreviewSms:
        return _PreviewSms(self)

    def add(self, channel: str, to: str, subject: str, message_id: str) -> str:
        with self._lock:
            self._entries.append(OutboxEntry(datetime.now(timezone.utc), channel, to, subject, message_id))
        return message_id

    def frame(self) -> pd.DataFrame:
        """at, channel, to, subject, message_id; newest first."""
        with self._lock:
            rows = list(reversed(self._entries))
        return pd.DataFrame([vars(e) for e in rows], columns=OUTBOX_COLUMNS)
