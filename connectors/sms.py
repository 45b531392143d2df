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

The password is never shown (``repr`` masks it; every error goes through
``connectors.redact.redact``, which also removes credentials written into the
URL). A request that was sent but never answered (a timeout or a dropped
connection while waiting for the provider) raises `SmsUnconfirmed`: the
provider may have taken it, so it is never resent automatically.
"""
from __future__ import annotations

import base64
import http.client
import json
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Mapping

from connectors.mailer import ConfigError, Unconfirmed, section_from
from connectors.redact import basic_secrets, redact, redact_url

__all__ = ["SmsConfig", "SmsClient", "SmsError", "SmsUnconfirmed", "normalise_phone"]


class SmsError(RuntimeError):
    """An SMS could not be sent; the text is safe to log."""


class SmsUnconfirmed(SmsError, Unconfirmed):
    """The request reached the provider but no answer came back: the SMS may have gone out."""


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
        return (f"SmsConfig(url={redact_url(self.url)!r}, sender={self.sender!r}, "
                f"username={self.username!r}, "
                f"password={'***' if self.password else None})")

    @property
    def secrets(self) -> list[str]:
        """Values no message may show: the password, its Basic credential, credentials in the URL."""
        _, user, password = _split_credentials(self.url, self.username, self.password)
        _, url_user, url_password = _split_credentials(self.url, None, None)
        return (basic_secrets(user, password) + basic_secrets(url_user, url_password)
                + [p for p in (url_password,) if p])

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
        url, username, password = _split_credentials(c.url, c.username, c.password)
        data = urllib.parse.urlencode({"To": number, "From": c.sender, "Body": body}).encode("utf-8")
        req = urllib.request.Request(url, data=data, method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "Accept": "application/json",
            "User-Agent": "Linewise"})
        if username:
            token = base64.b64encode(f"{username}:{password or ''}".encode("utf-8")).decode("ascii")
            req.add_header("Authorization", f"Basic {token}")
        where = urllib.parse.urlsplit(url).netloc
        try:
            with urllib.request.urlopen(req, timeout=c.timeout) as resp:
                payload = resp.read(65536)
        except urllib.error.HTTPError as exc:
            detail = _provider_message(exc.read(65536) if exc.fp else b"")
            suffix = f": {detail}" if detail else ""
            raise SmsError(redact(f"SMS provider answered HTTP {exc.code}{suffix}", c.secrets)) from None
        except urllib.error.URLError as exc:  # raised before the request was fully sent: not delivered
            reason = getattr(exc, "reason", exc)
            raise SmsError(redact(f"cannot reach the SMS provider at {where}: {reason}", c.secrets)) from None
        except (http.client.InvalidURL, ValueError) as exc:
            raise SmsError(redact(f"[sms] url is not usable: {exc}", c.secrets)) from None
        except (OSError, http.client.HTTPException) as exc:  # sent, but no answer: it may have gone out
            raise SmsUnconfirmed(redact(
                f"unconfirmed: the SMS provider at {where} took the request but did not answer "
                f"({type(exc).__name__}: {exc}); it may have been sent, so it is not resent automatically",
                c.secrets)) from None
        try:
            obj = json.loads(payload or b"{}")
        except ValueError:
            return ""
        return str(obj.get("sid") or obj.get("id") or "") if isinstance(obj, dict) else ""


def _split_credentials(url: str, username: str | None,
                       password: str | None) -> tuple[str, str | None, str | None]:
    """(URL without user-info, username, password): credentials written into the URL
    (``https://SID:TOKEN@host/...``) are sent as HTTP Basic auth unless the settings give them."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url, username, password
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, pw = userinfo.partition(":")
    clean = urllib.parse.urlunsplit(parts._replace(netloc=host))
    if username:
        return clean, username, password
    return clean, urllib.parse.unquote(user) or None, urllib.parse.unquote(pw) or None


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
