"""Email over SMTP (smtplib): plain, STARTTLS or SSL, with or without login.

Configured by the ``[smtp]`` section of ``.streamlit/secrets.toml`` (or
``st.secrets``), each field overridable by an environment variable
``LINEWISE_SMTP_<FIELD>`` (e.g. ``LINEWISE_SMTP_PASSWORD``)::

    [smtp]
    host = "smtp.example.com"
    port = 587                      # default: 587 starttls, 465 ssl, 25 none
    security = "starttls"           # "starttls" | "ssl" | "none"
    username = "ar@example.com"     # optional: no login without it
    password = "app-password"
    from_address = "Accounts Receivable <ar@example.com>"
    reply_to = "ar@example.com"     # optional
    bcc = "ar-archive@example.com"  # optional: a copy of every reminder
    timeout = 30                    # seconds
    ca_file = "/etc/ssl/private-ca.pem"  # optional: trust this CA (a relay with a private certificate)

TLS certificates are always verified (system CAs, plus `ca_file`). The password is never shown: ``repr``
masks it and every error goes through ``connectors.redact.redact``.
One connection per message: a dropped connection can then never make us
resend a message the server already took. When the connection drops or times
out after the server accepted the message data (``354``) and before it
confirmed it, `MailUnconfirmed` is raised: the message may have been
delivered, so it must never be resent automatically (SPEC §18).

Every message carries ``Date``, ``Message-ID`` and ``Auto-Submitted:
auto-generated`` (RFC 3834: auto-responders must not answer it); addresses are
built with ``email.headerregistry.Address``, so a customer name with ``<``,
``>``, ``&`` or quotes is quoted, never parsed as an address. A recipient is
exactly one address, checked by `valid_address` (email-validator, no DNS).
"""
from __future__ import annotations

import os
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid, parseaddr
from typing import Any, Iterable, Mapping

from email_validator import EmailNotValidError, validate_email

from connectors.redact import redact

__all__ = ["SmtpConfig", "Mailer", "MailError", "MailUnconfirmed", "Unconfirmed", "ConfigError",
           "AddressError", "section_from", "valid_address"]

SECURITY = ("starttls", "ssl", "none")
_DEFAULT_PORT = {"starttls": 587, "ssl": 465, "none": 25}


class ConfigError(ValueError):
    """Missing or invalid [smtp]/[sms] settings (the message names the field, never its secret value)."""


class MailError(RuntimeError):
    """A message could not be sent; the text is safe to log (no credentials)."""


class Unconfirmed(Exception):
    """Mixed into a channel's error: the message was handed over but its delivery was never confirmed
    (the connection dropped or timed out waiting for the answer). Never resend it automatically."""


class MailUnconfirmed(MailError, Unconfirmed):
    """The SMTP server took the message data but never confirmed it (see `Unconfirmed`)."""


class AddressError(ValueError):
    """An e-mail cell that is not exactly one valid address; the text says why, for the skip list."""


def valid_address(text: str | None) -> str:
    """The one e-mail address in `text`, normalised (domain lower-cased, IDNA); raises AddressError
    for a blank cell, a list (``a@x, b@y``: one address per customer) or an invalid address.
    Syntax only: no DNS look-up."""
    raw = "" if text is None else str(text).strip()
    if not raw:
        raise AddressError("no e-mail address")
    found = [a for _, a in getaddresses([raw]) if a]
    if len(found) > 1 or any(sep in raw for sep in (",", ";")):
        raise AddressError(f"the e-mail cell holds more than one address ({raw[:120]}): give one address "
                           "per customer")
    name, addr = parseaddr(raw)
    candidate = addr if addr and (name or "<" in raw) else raw
    try:
        # test_environment: also accept the reserved ".test" domain (examples and test servers);
        # no DNS either way.
        found = validate_email(candidate, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise AddressError(f"not a valid e-mail address ({raw[:120]}): {exc}") from None
    return found.ascii_email or found.normalized


def section_from(secrets: Mapping | None, name: str, env_prefix: str,
                 fields: Iterable[str]) -> dict[str, Any]:
    """The `name` section of `secrets` (st.secrets or a dict from TOML) with each field overridden by
    the environment variable ``{env_prefix}{FIELD}`` when set."""
    values: dict[str, Any] = {}
    if secrets is not None:
        try:
            section = secrets[name] if name in secrets else None
        except Exception:  # st.secrets raises when there is no secrets file
            section = None
        if section is not None:
            values = {k: section[k] for k in section.keys()}
    for f in fields:
        env = os.environ.get(f"{env_prefix}{f.upper()}")
        if env is not None and env.strip() != "":
            values[f] = env.strip()
    return values


def _bool(v: Any) -> bool:
    return v if isinstance(v, bool) else str(v).strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    from_address: str
    port: int = 0  # 0: the default of `security`
    security: str = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    reply_to: str | None = None
    bcc: str | None = None
    timeout: float = 30.0
    local_hostname: str | None = None
    ca_file: str | None = None

    FIELDS = ("host", "port", "security", "username", "password", "from_address", "reply_to", "bcc",
              "timeout", "local_hostname", "ca_file")

    def __post_init__(self) -> None:
        if not self.host or not str(self.host).strip():
            raise ConfigError("[smtp] host is required")
        if self.security not in SECURITY:
            raise ConfigError(f"[smtp] security must be one of {', '.join(SECURITY)}, not {self.security!r}")
        try:
            valid_address(self.from_address)
        except AddressError as exc:
            raise ConfigError("[smtp] from_address must be one email address, e.g. "
                              f"\"AR <ar@example.com>\" ({exc})") from None
        if self.password and not self.username:
            raise ConfigError("[smtp] password is set but username is not")

    @property
    def effective_port(self) -> int:
        return int(self.port) or _DEFAULT_PORT[self.security]

    def __repr__(self) -> str:
        return (f"SmtpConfig(host={self.host!r}, port={self.effective_port}, security={self.security!r}, "
                f"username={self.username!r}, password={'***' if self.password else None}, "
                f"from_address={self.from_address!r})")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> SmtpConfig:
        unknown = set(values) - set(cls.FIELDS)
        if unknown:
            raise ConfigError(f"[smtp] has unknown field(s) {sorted(unknown)}; "
                              f"known: {', '.join(cls.FIELDS)}")
        kw: dict[str, Any] = {k: v for k, v in values.items() if v is not None and v != ""}
        try:
            if "port" in kw:
                kw["port"] = int(kw["port"])
            if "timeout" in kw:
                kw["timeout"] = float(kw["timeout"])
        except (TypeError, ValueError) as exc:
            raise ConfigError("[smtp] port and timeout must be numbers") from exc
        if "security" in kw:
            kw["security"] = str(kw["security"]).strip().lower()
        for k in ("host", "from_address"):
            if k not in kw:
                raise ConfigError(f"[smtp] {k} is required")
        return cls(**kw)

    @classmethod
    def from_secrets(cls, secrets: Mapping | None = None) -> SmtpConfig | None:
        """From ``secrets["smtp"]`` and ``LINEWISE_SMTP_*``; None when no host is configured anywhere."""
        values = section_from(secrets, "smtp", "LINEWISE_SMTP_", cls.FIELDS)
        if not values.get("host"):
            return None
        return cls.from_mapping(values)


class Mailer:
    """Builds and sends reminder emails through one SMTP server."""

    def __init__(self, config: SmtpConfig):
        self.config = config

    def __repr__(self) -> str:
        return f"Mailer({self.config!r})"

    def build(self, to: str, subject: str, text: str, html: str | None = None, *,
              attachments: Iterable[tuple[str, bytes, str]] = (), headers: Mapping[str, str] | None = None,
              to_name: str | None = None) -> EmailMessage:
        """A multipart/alternative message (text + HTML) with optional attachments
        (filename, bytes, mime type "type/subtype") to the one address `to` (raises AddressError)."""
        msg = EmailMessage()
        msg["From"] = _address(*parseaddr(self.config.from_address))
        msg["To"] = _address(to_name, valid_address(to))
        msg["Subject"] = " ".join(subject.split())
        if self.config.reply_to:
            msg["Reply-To"] = _address(*parseaddr(self.config.reply_to))
        msg["Date"] = formatdate(usegmt=True)
        domain = parseaddr(self.config.from_address)[1].rpartition("@")[2] or None
        msg["Message-ID"] = make_msgid(domain=domain)
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-reply loops
        for k, v in (headers or {}).items():
            msg[k] = " ".join(str(v).split())
        msg.set_content(text)
        if html is not None:
            msg.add_alternative(html, subtype="html")
        for filename, data, mime in attachments:
            maintype, _, subtype = mime.partition("/")
            msg.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream", filename=filename)
        return msg

    def _tls(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        if self.config.ca_file:
            ctx.load_verify_locations(cafile=self.config.ca_file)
        return ctx

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        if c.security == "ssl":
            smtp: smtplib.SMTP = _TrackedSMTPSSL(c.host, c.effective_port, timeout=c.timeout,
                                                 local_hostname=c.local_hostname, context=self._tls())
        else:
            smtp = _TrackedSMTP(c.host, c.effective_port, timeout=c.timeout, local_hostname=c.local_hostname)
        try:
            smtp.ehlo()
            if c.security == "starttls":
                smtp.starttls(context=self._tls())
                smtp.ehlo()
            if c.username:
                try:
                    smtp.login(c.username, c.password or "")
                except UnicodeError:  # smtplib's message would echo the password's character
                    raise MailError("the SMTP username or password has characters the login cannot send "
                                    "(SMTP AUTH takes ASCII only): check [smtp] username/password") from None
        except BaseException:
            _close(smtp)
            raise
        return smtp

    def _error(self, text: str) -> str:
        return redact(text, [self.config.password])

    def send(self, msg: EmailMessage) -> str:
        """Send `msg` to its one To (and the configured Bcc); returns its Message-ID.

        Raises MailError when the server cannot be reached, refuses the login,
        the sender or the recipient, or the data; MailUnconfirmed when the
        connection failed after the server took the data but before it answered."""
        to = [a for _, a in getaddresses(msg.get_all("To", []))]
        if len(to) != 1:
            raise MailError(f"a reminder goes to exactly one address, not {len(to)}")
        rcpts = to + ([self.config.bcc] if self.config.bcc else [])
        sender = parseaddr(self.config.from_address)[1]
        smtp: Any = None
        ok = False
        try:
            smtp = self._connect()
            refused = smtp.send_message(msg, from_addr=sender, to_addrs=rcpts)
            ok = True
        except smtplib.SMTPRecipientsRefused as exc:
            raise MailError(self._error("recipient refused: " + "; ".join(
                f"{addr}: {code} {_text(resp)}" for addr, (code, resp) in exc.recipients.items()))) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise MailError(self._error(f"SMTP login refused for user {self.config.username!r}: "
                                        f"{exc.smtp_code} {_text(exc.smtp_error)}")) from None
        except smtplib.SMTPResponseException as exc:  # a definite answer (incl. 4xx/5xx after the data)
            raise MailError(self._error(f"SMTP server said {exc.smtp_code} {_text(exc.smtp_error)}")) \
                from None
        except (smtplib.SMTPException, OSError, socket.timeout, ssl.SSLError) as exc:
            where = f"{self.config.host}:{self.config.effective_port}"
            if getattr(smtp, "data_handed_over", False):
                raise MailUnconfirmed(self._error(
                    f"unconfirmed: {where} took the message but did not confirm it "
                    f"({type(exc).__name__}: {exc}); it may have been delivered, so it is not resent "
                    "automatically")) from None
            raise MailError(self._error(f"cannot send through {where}: {type(exc).__name__}: {exc}")) \
                from None
        finally:
            if smtp is not None:
                _close(smtp, polite=ok)
        bad = {a: r for a, r in (refused or {}).items() if a in to}
        if bad:
            raise MailError(self._error("recipient refused: " + "; ".join(
                f"{addr}: {code} {_text(resp)}" for addr, (code, resp) in bad.items())))
        return str(msg["Message-ID"])


class _Tracked:
    """Remembers whether the server answered DATA with 354: from then on, a failure leaves the
    message's fate unknown (the server may deliver what it received)."""

    data_handed_over = False

    def data(self, msg: Any) -> Any:
        real_getreply = self.getreply

        def getreply() -> tuple[int, bytes]:
            code, resp = real_getreply()
            if code == 354:
                self.data_handed_over = True
            return code, resp

        self.getreply = getreply
        try:
            return super().data(msg)
        finally:
            del self.getreply


class _TrackedSMTP(_Tracked, smtplib.SMTP):
    pass


class _TrackedSMTPSSL(_Tracked, smtplib.SMTP_SSL):
    pass


def _address(name: str | None, addr: str) -> Address:
    """A header address: the display name quoted as needed (``<``, ``>``, ``&``, quotes are text)."""
    display = " ".join(str(name).split()) if name else ""
    local, _, domain = addr.rpartition("@")
    return Address(display_name=display, username=local, domain=domain)


def _text(resp: Any) -> str:
    return resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)


def _close(smtp: smtplib.SMTP, polite: bool = False) -> None:
    """QUIT after a send that went well; otherwise just close (a dead server would make QUIT wait the
    whole timeout again)."""
    try:
        if polite:
            smtp.quit()
            return
    except Exception:
        pass
    try:
        smtp.close()
    except Exception:
        pass
