"""SMS through an HTTP provider: a Twilio-style REST form post (urllib, no extra dependency).

``POST {url}`` with HTTP Basic auth and the form fields ``To``, ``From``,
``Body``; any 2xx answer is success (the provider's message id is taken from
a JSON ``sid`` or ``id`` when there is one), anything else is an error with
the provider's message. Configured by ``[sms]`` in ``.streamlit/secrets.toml``
(or ``st.secrets``), each field overridable by ``LINEWISE_SMS_<FIELD>``::

    [sms]
    url = "https://api.twilio.com/2010-04-01/Accounts/ACxxxxxxxx/Messages.json"
    username = "ACxxxxxxxx"          # Twilio: the Account SID
    password = "auth-token"          # Twilio: the Auth Token
    sender = "+15005550006"          # the From number or alphanumeric sender id
    timeout = 30

The password is never shown (``repr`` masks it; errors never include it).
"""
from __future__ import annotations

import base64
import json
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Mapping

from connectors.mailer import ConfigError, section_from

__all__ = ["SmsConfig", "SmsClient", "SmsError", "normalise_phone"]


class SmsError(RuntimeError):
    """An SMS could not be sent; the text is safe to log."""


def normalise_phone(phone: str | None) -> str | None:
    """Digits with an optional leading +, separators dropped: "(212) 555-0101" -> "2125550101"."""
    if not phone:
        return None
    s = str(phone).strip()
    plus = s.startswith("+") or s.startswith("00")
    digits = re.sub(r"\D", "", s)
    if s.startswith("00"):
        digits = digits[2:]
    if len(digits) < 5:
        return None
    return ("+" if plus else "") + digits


@dataclass(frozen=True)
class SmsConfig:
    url: str
    sender: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0

    FIELDS = ("url", "sender", "username", "password", "timeout")

    def __post_init__(self) -> None:
        if not re.match(r"^https?://", self.url or ""):
            raise ConfigError("[sms] url must be an http(s) URL")
        if not self.sender:
            raise ConfigError("[sms] sender is required")

    def __repr__(self) -> str:
        return (f"SmsConfig(url={self.url!r}, sender={self.sender!r}, username={self.username!r}, "
                f"password={'***' if self.password else None})")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> SmsConfig:
        unknown = set(values) - set(cls.FIELDS)
        if unknown:
            raise ConfigError(f"[sms] has unknown field(s) {sorted(unknown)}; known: {', '.join(cls.FIELDS)}")
        kw = {k: v for k, v in values.items() if v is not None and v != ""}
        for k in ("url", "sender"):
            if k not in kw:
                raise ConfigError(f"[sms] {k} is required")
        try:
            if "timeout" in kw:
                kw["timeout"] = float(kw["timeout"])
        except (TypeError, ValueError) as exc:
            raise ConfigError("[sms] timeout must be a number") from exc
        return cls(**{k: (str(v) if k != "timeout" else v) for k, v in kw.items()})

    @classmethod
    def from_secrets(cls, secrets: Mapping | None = None) -> SmsConfig | None:
        """From ``secrets["sms"]`` and ``LINEWISE_SMS_*``; None when no url is configured anywhere."""
        values = section_from(secrets, "sms", "LINEWISE_SMS_", cls.FIELDS)
        if not values.get("url"):
            return None
        return cls.from_mapping(values)


class SmsClient:
    def __init__(self, config: SmsConfig):
        self.config = config

    def __repr__(self) -> str:
        return f"SmsClient({self.config!r})"

    def send(self, to: str, body: str) -> str:
        """Send `body` to the phone number `to`; returns the provider's message id ("" if none)."""
        number = normalise_phone(to)
        if number is None:
            raise SmsError(f"not a phone number: {to!r}")
        c = self.config
        data = urllib.parse.urlencode({"To": number, "From": c.sender, "Body": body}).encode("utf-8")
        req = urllib.request.Request(c.url, data=data, method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "Accept": "application/json",
            "User-Agent": "Linewise"})
        if c.username:
            token = base64.b64encode(f"{c.username}:{c.password or ''}".encode("utf-8")).decode("ascii")
            req.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(req, timeout=c.timeout) as resp:
                payload = resp.read(65536)
        except urllib.error.HTTPError as exc:
            detail = _provider_message(exc.read(65536) if exc.fp else b"")
            suffix = f": {detail}" if detail else ""
            raise SmsError(f"SMS provider answered HTTP {exc.code}{suffix}") from None
        except (urllib.error.URLError, OSError, socket.timeout) as exc:
            reason = getattr(exc, "reason", exc)
            raise SmsError(f"cannot reach the SMS provider at {urllib.parse.urlsplit(c.url).netloc}: "
                           f"{reason}") from None
        try:
            obj = json.loads(payload or b"{}")
        except ValueError:
            return ""
        return str(obj.get("sid") or obj.get("id") or "") if isinstance(obj, dict) else ""


def _provider_message(body: bytes) -> str:
    try:
        obj = json.loads(body)
        if isinstance(obj, dict):
            msg = obj.get("message") or obj.get("error") or obj.get("detail")
            if msg:
                return str(msg)[:300]
    except ValueError:
        pass
    return body.decode("utf-8", "replace").strip()[:300]
