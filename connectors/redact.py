"""One redaction rule for every message that can carry a URL or a credential (SPEC §9, §18).

`redact(text, secrets=())` is applied to every error text before it is shown,
printed, logged or stored (``reminder_log.error``): the SMS and SMTP clients,
the store, the CLI and the pages all call it. It removes

* credentials inside URLs — ``scheme://user:password@host`` becomes
  ``scheme://***@host``, also when the password holds an unencoded ``@``
  (``postgresql://app:p@ss@db/x``: everything up to the last ``@`` before
  the host is the user-info) and for a bare ``user:password@host`` netloc
  (what ``urlsplit(url).netloc`` prints);
* authorization headers and token-like parameters (``Authorization: Basic …``,
  ``Bearer …``, ``password=…``, ``token=…``, ``api_key=…``, ``secret=…``);
* the character a codec could not encode (``'ascii' codec can't encode
  character '\\xe9'`` echoes part of a non-ASCII password);
* every known secret value passed in `secrets` (a configured password or
  token), also URL-encoded and inside HTTP Basic credentials.

Lines are kept (a validation message lists its fields one per line);
``one_line=True`` keeps only the first, for a table cell or a log column.
"""
from __future__ import annotations

import base64
import re
import urllib.parse
from typing import Iterable

__all__ = ["redact", "redact_url", "MASK"]

MASK = "***"

# scheme://userinfo@ — greedy inside the authority (no "/", "?", "#", whitespace), so the
# last "@" before the host ends the user-info even when the password has an unencoded "@".
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s/?#]*@")
# scheme://user:password@ whose password holds a raw "/", "?" or "#": up to the token's last "@"
_URL_USER_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s:/?#@]+:[^\s]*@")
# a bare user:password@host (a netloc printed without its scheme)
_BARE_USERINFO = re.compile(r"(?<![\w/.@:-])[^\s:/@'\"(]+:[^\s/'\"]+@(?=[\w\[][\w.\-\[\]:]*)")
_HEADER = re.compile(r"(?i)\b(authorization\s*[:=]\s*)(basic|bearer|token|digest)?\s*[^\s,;]+")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/\-]{8,}=*")
_PARAM = re.compile(r"(?i)\b((?:pass(?:word|wd)?|pwd|secret|token|auth[_-]?token|access[_-]?token|"
                    r"api[_-]?key|apikey|private[_-]?key|client[_-]?secret)\s*[=:]\s*)"
                    r"(\"[^\"]*\"|'[^']*'|[^\s,;&'\"]+)")
_CODEC = re.compile(r"(codec can't (?:en|de)code )(?:character '[^']*'|bytes?[^:]*)"
                    r"( in position \d+(?:-\d+)?)?")


def _variants(secret: str) -> set[str]:
    forms = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}
    return {f for f in forms if len(f) >= 3}


def redact(text: object, secrets: Iterable[str | None] = (), *, one_line: bool = False) -> str:
    """`text` (any object, str() of it) with credentials and `secrets` masked (first line only
    with `one_line`)."""
    s = "" if text is None else str(text).strip()
    if one_line and s:
        s = s.splitlines()[0]
    known = sorted({v for sec in secrets if sec for v in _variants(str(sec))}, key=len, reverse=True)
    for value in known:
        s = s.replace(value, MASK)
    s = _URL_USER_PASSWORD.sub(lambda m: f"{m.group(1)}{MASK}@", s)
    s = _URL_USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", s)
    s = _BARE_USERINFO.sub(f"{MASK}@", s)
    s = _HEADER.sub(lambda m: f"{m.group(1)}{MASK}", s)
    s = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", s)
    s = _PARAM.sub(lambda m: f"{m.group(1)}{MASK}", s)
    s = _CODEC.sub(lambda m: f"{m.group(1)}a character", s)
    return s


def redact_url(url: str) -> str:
    """A URL safe to show: its user-info replaced by ``***`` (``postgresql://***@db:5432/x``)."""
    s = _URL_USER_PASSWORD.sub(lambda m: f"{m.group(1)}{MASK}@", str(url))
    return _URL_USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", s)


def basic_secrets(username: str | None, password: str | None) -> list[str]:
    """The known secrets of an HTTP Basic login: the password and the base64 credential."""
    if not password:
        return []
    token = base64.b64encode(f"{username or ''}:{password}".encode("utf-8")).decode("ascii")
    return [password, token]
