"""Google Sheets on gspread 6: read a spreadsheet's worksheets as raw cells, write line codes back.

Reading (`read_spreadsheet`) makes two API calls whatever the size of the
spreadsheet: one `spreadsheets.get` for the worksheet list (titles, hidden
flags, grid sizes; no cell data), then ONE `values:batchGet` for every grid
worksheet with `valueRenderOption=UNFORMATTED_VALUE` and
`dateTimeRenderOption=SERIAL_NUMBER`. Cells arrive as the sheet holds them:
text stays text (`"00017"` is never turned into 17: gspread's `numericise` is
not used), numbers are JSON numbers, booleans are booleans. The result is a
`billing.model.RawWorkbook` (a `SheetsWorkbook`), so tables are located with
the same synonym matching as workbooks (`billing.tabular.locate_tables`) and
normalised and quarantined by the same `billing.ingest.build_dataset`: one
code path after the raw cells.

Cells are made to look like workbook cells (connectors.sources):
- the API drops trailing blank cells of a row and trailing blank rows; empty
  cells inside a row come back as `""`, empty rows inside the data as `[]`.
  Rows are padded with None, `""` becomes None;
- numbers are floats (JSON `17` -> `17.0`, as Excel stores them), so ids,
  money and quarantine messages read the same as from an .xlsx;
- **dates arrive as serial numbers** (days since 1899-12-30, the epoch Excel
  uses too). They are not converted here: the normaliser's date parser
  (`billing.dates.parse_dates`) reads serial numbers in date columns, so a
  date column gives the same dates as the workbook path. Limitation: a date
  typed into a non-date column (description, reference, an amount) is seen as
  its serial number (e.g. 45356), where a workbook would show 2024-03-05.
  Reading per-cell number formats (`spreadsheets.get` with grid data) would fix
  that at the cost of a far heavier request; we do not do it.

Without credentials a spreadsheet shared "anyone with the link" is read through
its CSV export (`export?format=csv&gid=N`): formatted values, one request per
worksheet. Worksheets cannot be listed anonymously, so the public path reads
the worksheets whose gid is in the URL (`#gid=0`, several as `gid=0,123`) or,
with no gid, the first worksheet. The export URL template can be changed with
`export_url=` or the LINEWISE_GSHEETS_EXPORT_URL environment variable.

Writing (`write_codes`) puts the line codes Linewise assigned into the
invoices worksheet's line_code column (appended after the last used column,
with a "line_code" header, when there is none) with ONE `values:batchUpdate`
(plus one `spreadsheets:batchUpdate` adding a grid column if the sheet has no
spare one). Before writing, the worksheets are read again and normalised the
same way; if any invoice row's key (invoice_no, line_no) differs from what
was read, or a code was typed into a cell we would fill, nothing is written
(`SheetChangedError`). Only empty line_code cells of rows Linewise coded are
written; no other cell is touched. Writing needs the read-write scope.

Quotas: HTTP 429, 408 and 5xx answers and network errors are retried with
exponential backoff (`Retry`: 1, 2, 4, 8, 16 s by default, Retry-After
honoured); when the tries run out the error says so. Every failure surfaces as
`connectors.sources.SourceError` with a message saying what to do. Secrets are
never logged or put into messages.

API: `open_client(credentials|path|None, write=False)`, `read_spreadsheet(client|None, url_or_key)`
-> SheetsWorkbook (a RawWorkbook), `write_codes(client, url_or_key, dataset)` -> WriteResult,
`parse_sheet_url`, `worksheet_matches` (for the Data page), `read_sheet_url` / `load_sheet_dataset`
(the CLI: credentials from LINEWISE_GSHEETS_KEYFILE, GOOGLE_APPLICATION_CREDENTIALS or
.streamlit/secrets.toml), and `GSheetsConnection` for `st.connection("gsheets", type=...)`.
How to set up a service account: docs/GSHEETS.md.
"""
from __future__ import annotations

import json
import os
import random
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import requests
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient
from gspread.utils import DateTimeOption, ValueInputOption, ValueRenderOption

from billing.ingest import IngestOptions, SchemaError, build_dataset
from billing.linecode import canonical
from billing.cells import is_blank_cell
from billing.model import Dataset, RawSheet, RawWorkbook
from billing.tabular import locate_tables
from connectors.sources import SourceError, read_source

try:  # the app's connection type; the plain functions work without Streamlit
    from streamlit.connections import BaseConnection
except Exception:  # pragma: no cover - streamlit is a runtime dependency
    BaseConnection = object  # type: ignore[assignment,misc]

__all__ = [
    "GSheetsConnection", "SheetsWorkbook", "WriteResult", "Retry", "SheetsHTTPClient",
    "SheetChangedError", "SourceError", "open_client", "read_spreadsheet", "read_public",
    "write_codes", "parse_sheet_url", "sheet_gids", "is_sheet_url", "credentials_from_env",
    "read_sheet_url", "load_sheet_dataset", "worksheet_matches", "GSheetsClients", "READ_SCOPES",
    "WRITE_SCOPES", "SERVICE_ACCOUNT_FIELDS",
]

SHEETS_URL_PREFIX = "https://docs.google.com/spreadsheets/"
READ_SCOPES = ("https://www.googleapis.com/auth/spreadsheets.readonly",)
WRITE_SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)
# The fields of a Google service-account JSON key, as in [connections.gsheets] of secrets.toml.
SERVICE_ACCOUNT_FIELDS = (
    "type", "project_id", "private_key_id", "private_key", "client_email", "client_id",
    "auth_uri", "token_uri", "auth_provider_x509_cert_url", "client_x509_cert_url", "universe_domain",
)
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"
DEFAULT_EXPORT_URL = "https://docs.google.com/spreadsheets/d/{key}/export?format=csv&gid={gid}"
ENV_KEYFILE = "LINEWISE_GSHEETS_KEYFILE"
ENV_EXPORT_URL = "LINEWISE_GSHEETS_EXPORT_URL"
DEFAULT_TTL = 600  # seconds a read stays cached in the app
DEFAULT_TIMEOUT = (15.0, 180.0)  # connect, read (seconds)
LINE_CODE_HEADER = "line_code"
HOW_TO = "docs/GSHEETS.md"

_METADATA_FIELDS = ("spreadsheetId,properties(title,locale,timeZone),sheets(properties(sheetId,title,index,"
                    "sheetType,hidden,gridProperties(rowCount,columnCount)))")
_URL_KEY = re.compile(r"/spreadsheets/(?:u/\d+/)?d/([A-Za-z0-9_-]+)")
_LEGACY_KEY = re.compile(r"[?&#]key=([A-Za-z0-9_-]+)")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]{20,}")
_GID = re.compile(r"(?:^|[?&#])gid=([0-9][0-9,]*)")
_A1_START = re.compile(r"!\$?([A-Za-z]{1,3})\$?([0-9]+)")


class SheetChangedError(SourceError):
    """Write-back refused: the sheet changed since it was read. Nothing was written."""

    def __init__(self, message: str, differences: list[str] | None = None) -> None:
        super().__init__(message)
        self.differences = list(differences or [])


# --------------------------------------------------------------------------- URLs and A1 notation


def is_sheet_url(source: object) -> bool:
    """True for a Google Sheets URL (https://docs.google.com/spreadsheets/...)."""
    return isinstance(source, str) and source.strip().startswith(SHEETS_URL_PREFIX)


def parse_sheet_url(url_or_key: str) -> str:
    """The spreadsheet key of a Google Sheets URL, or the key itself. SourceError if neither."""
    text = (url_or_key or "").strip()
    m = _URL_KEY.search(text)
    if m:
        if m.group(1) == "e":
            raise SourceError("This is a 'Publish to the web' link, which Linewise cannot read: open the "
                              "sheet and copy the address from the browser's address bar "
                              "(https://docs.google.com/spreadsheets/d/...).")
        return m.group(1)
    m = _LEGACY_KEY.search(text)
    if m:
        return m.group(1)
    if _BARE_KEY.fullmatch(text):
        return text
    raise SourceError(f"'{_short(text)}' is not a Google Sheets address: copy it from the browser's address "
                      "bar, it looks like https://docs.google.com/spreadsheets/d/<key>/edit")


def sheet_gids(url: str) -> list[int]:
    """Worksheet ids named in a URL (`#gid=0`, `?gid=12`, `gid=0,12`), in order, without repeats."""
    out: list[int] = []
    for m in _GID.finditer(url or ""):
        for part in m.group(1).split(","):
            if part and int(part) not in out:
                out.append(int(part))
    return out


def col_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    n, out = index + 1, ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n - 1


def quote_title(title: str) -> str:
    """A worksheet title as A1 notation wants it: always quoted, quotes doubled."""
    return "'" + title.replace("'", "''") + "'"


def _range_start(a1: str) -> tuple[int, int]:
    """(first row 1-based, first column 0-based) of a returned range such as 'Sheet 1'!A1:Z1000."""
    tail = a1.rsplit("!", 1)[-1] if "!" in a1 else ""
    m = _A1_START.search("!" + tail)
    if not m:
        return 1, 0
    return int(m.group(2)), _col_index(m.group(1))


# --------------------------------------------------------------------------- retries


@dataclass(frozen=True)
class Retry:
    """Exponential backoff for 429/408/5xx and network errors; `sleep` is injectable for tests."""

    tries: int = 6
    base: float = 1.0
    cap: float = 32.0
    sleep: Callable[[float], None] = time.sleep
    jitter: bool = True

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (0-based)."""
        if retry_after:
            try:
                return min(float(retry_after), self.cap)
            except ValueError:
                pass
        wait = min(self.base * (2 ** attempt), self.cap)
        return wait * (0.5 + random.random() / 2) if self.jitter else wait


_RETRY_STATUS = {HTTPStatus.REQUEST_TIMEOUT, HTTPStatus.TOO_MANY_REQUESTS}


def _status(err: APIError) -> int:
    resp = getattr(err, "response", None)
    code = getattr(resp, "status_code", None)
    return int(code) if code is not None else int(getattr(err, "code", -1) or -1)


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, APIError):
        code = _status(exc)
        return code in _RETRY_STATUS or code >= 500 or _usage_limit(exc)
    if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        return True
    try:
        from google.auth import exceptions as gexc
    except Exception:  # pragma: no cover
        return False
    if isinstance(exc, gexc.RefreshError):
        return bool(getattr(exc, "retryable", False))
    return isinstance(exc, gexc.TransportError)


def _usage_limit(err: APIError) -> bool:
    """Drive-style quota errors come as 403 with reason rateLimitExceeded/userRateLimitExceeded."""
    if _status(err) != 403:
        return False
    error = err.error if isinstance(err.error, Mapping) else {}
    reasons = {str(e.get("reason", "")) for e in error.get("errors", []) if isinstance(e, Mapping)}
    return bool(reasons & {"rateLimitExceeded", "userRateLimitExceeded"})


def _call_with_retries(fn: Callable[[], Any], retry: Retry) -> Any:
    waited = 0.0
    for attempt in range(max(retry.tries, 1)):
        try:
            return fn()
        except Exception as exc:
            if not _retryable(exc) or attempt + 1 >= max(retry.tries, 1):
                try:
                    exc.linewise_tries = attempt + 1  # type: ignore[attr-defined]
                    exc.linewise_waited = waited  # type: ignore[attr-defined]
                except AttributeError:  # pragma: no cover - exceptions with __slots__
                    pass
                raise
            resp = getattr(exc, "response", None)
            headers = getattr(resp, "headers", None) or {}
            wait = retry.delay(attempt, headers.get("Retry-After"))
            waited += wait
            retry.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


class SheetsHTTPClient(HTTPClient):
    """gspread's HTTPClient with exponential backoff on 429/408/5xx and network errors.

    Our own rather than gspread's BackOffHTTPClient (documented there as "not production ready"):
    that one calls time.sleep directly, waits up to 128 s per try, and keeps its try counter on the
    instance without resetting it after a final failure. `retry` (a Retry) is set per client class
    by open_client(retry=...)."""

    retry: Retry = Retry()

    def __init__(self, auth: Any, session: requests.Session | None = None) -> None:
        super().__init__(auth, session)
        self.timeout = DEFAULT_TIMEOUT

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        return _call_with_retries(lambda: HTTPClient.request(self, *args, **kwargs), self.retry)


DEFAULT_HTTP_CLIENT: type[HTTPClient] = SheetsHTTPClient  # tests swap in a canned transport


# --------------------------------------------------------------------------- credentials and client


def _credentials_info(credentials: Any) -> dict[str, Any]:
    """A service-account info dict from a mapping or a key file path; SourceError with what to fix."""
    if isinstance(credentials, (str, Path)):
        path = Path(credentials).expanduser()
        if not path.is_file():
            raise SourceError(f"The service-account key file '{path}' was not found. Download the JSON key "
                              f"of the service account (see {HOW_TO}) and give its path.")
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            raise SourceError(f"The service-account key file '{path}' is not a JSON key file: download the "
                              "key again from Google Cloud (IAM > Service accounts > Keys > Add key > JSON)."
                              ) from None
        if not isinstance(info, dict):
            raise SourceError(f"The service-account key file '{path}' is not a JSON key file.")
        where = f"the key file '{path}'"
    elif isinstance(credentials, Mapping):
        info = _plain_dict(credentials)
        where = "[connections.gsheets] in .streamlit/secrets.toml"
    else:
        raise SourceError("Google Sheets credentials must be a service-account key (the JSON key's fields) "
                          "or the path of its key file.")
    info = {k: v for k, v in info.items() if k in SERVICE_ACCOUNT_FIELDS}
    kind = info.get("type", "service_account")
    if kind != "service_account":
        raise SourceError(f"The credentials in {where} are of type '{kind}'; Linewise needs a "
                          f"service-account key (type 'service_account'). See {HOW_TO}.")
    missing = [f for f in ("client_email", "private_key") if not str(info.get(f) or "").strip()]
    if missing:
        raise SourceError(f"The service-account key in {where} has no {' and no '.join(missing)}: paste "
                          f"every field of the JSON key there (see {HOW_TO}).")
    key = str(info["private_key"])
    if "\\n" in key and "\n" not in key:  # pasted into TOML with literal \n sequences
        key = key.replace("\\n", "\n")
    if "BEGIN" not in key or "PRIVATE KEY" not in key or "..." in key:
        raise SourceError(f"The private_key in {where} is not a key (still the example's placeholder?): "
                          "paste the private_key of the JSON key, -----BEGIN PRIVATE KEY----- included.")
    info["private_key"] = key
    info["type"] = "service_account"
    info.setdefault("token_uri", DEFAULT_TOKEN_URI)
    info["_where"] = where
    return info


def _plain_dict(m: Mapping) -> dict[str, Any]:
    to_dict = getattr(m, "to_dict", None)
    return dict(to_dict()) if callable(to_dict) else {k: m[k] for k in m}


def load_credentials(credentials: Any, *, write: bool = False) -> Any:
    """google-auth service-account Credentials with read-only (or, `write`, read-write) Sheets scope."""
    from google.auth.credentials import Credentials
    from google.oauth2.service_account import Credentials as SACredentials

    scopes = list(WRITE_SCOPES if write else READ_SCOPES)
    if isinstance(credentials, Credentials):
        with_scopes = getattr(credentials, "with_scopes", None)
        return with_scopes(scopes) if callable(with_scopes) else credentials
    info = _credentials_info(credentials)
    where = info.pop("_where")
    try:
        return SACredentials.from_service_account_info(info, scopes=scopes)
    except Exception:  # never chain: the exception could quote key material
        raise SourceError(f"The service-account key in {where} could not be read: the private_key is damaged "
                          "or incomplete. Paste it again from the JSON key file.") from None


def open_client(credentials: Any = None, *, write: bool = False, http_client: type[HTTPClient] | None = None,
                retry: Retry | None = None, timeout: Any = DEFAULT_TIMEOUT):
    """A gspread Client for a service account, or None without credentials (public sheets only).

    `credentials`: the JSON key's fields (a dict, e.g. st.secrets' [connections.gsheets]), the
    path of the key file, or google-auth Credentials. Read-only scope unless `write`.
    """
    import gspread

    if credentials is None or (isinstance(credentials, Mapping) and not credentials):
        return None
    creds = load_credentials(credentials, write=write)
    cls = http_client or DEFAULT_HTTP_CLIENT
    if retry is not None:
        cls = type(cls.__name__, (cls,), {"retry": retry})
    client = gspread.Client(auth=creds, http_client=cls)
    client.set_timeout(timeout)
    return client


def credentials_from_env(environ: Mapping[str, str] | None = None,
                         secrets_path: str | Path = ".streamlit/secrets.toml") -> str | dict | None:
    """Credentials for the CLI: LINEWISE_GSHEETS_KEYFILE, GOOGLE_APPLICATION_CREDENTIALS (paths),
    else [connections.gsheets] of .streamlit/secrets.toml (key fields or `key_file`), else None."""
    env = os.environ if environ is None else environ
    for var in (ENV_KEYFILE, "GOOGLE_APPLICATION_CREDENTIALS"):
        if env.get(var, "").strip():
            return env[var].strip()
    path = Path(secrets_path)
    if path.is_file():
        import tomllib

        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise SourceError(f"{path} is not valid TOML; fix it or remove its [connections.gsheets] "
                              "section.") from None
        section = doc.get("connections", {}).get("gsheets", {})
        if isinstance(section, dict):
            if section.get("key_file"):
                return str(section["key_file"])
            info = {k: v for k, v in section.items() if k in SERVICE_ACCOUNT_FIELDS}
            if info.get("client_email") or info.get("private_key"):
                return info
    return None


def _account_email(client: Any) -> str | None:
    auth = getattr(getattr(client, "http_client", None), "auth", None)
    email = getattr(auth, "service_account_email", None)
    return email if isinstance(email, str) and email else None


# --------------------------------------------------------------------------- errors in plain words


def _explain(exc: BaseException, *, key: str, email: str | None, action: str = "read") -> SourceError:
    """A SourceError saying what went wrong and what to do; never quotes credentials."""
    if isinstance(exc, SourceError):
        return exc
    tries = getattr(exc, "linewise_tries", 1)
    waited = getattr(exc, "linewise_waited", 0.0)
    retried = f" (tried {tries} times over {waited:.0f} s)" if tries > 1 else ""
    who = email or "the service account"
    share = (f"Share the spreadsheet with {who} (Share button; Viewer is enough to read, Editor is needed "
             "to write line codes back)")
    if isinstance(exc, APIError):
        code = _status(exc)
        error = exc.error if isinstance(exc.error, Mapping) else {}
        text = str(error.get("message") or "")
        low = text.lower()
        if code == 429 or _usage_limit(exc):
            return SourceError(f"Google Sheets' request quota is used up{retried}. The Sheets API allows "
                               "about 60 requests a minute per user: wait a minute, then press Refresh (or "
                               "run the command again).")
        if code >= 500 or code == 408:
            return SourceError(f"Google Sheets did not answer properly (HTTP {code}){retried}. It is usually "
                               "temporary: try again in a few minutes.")
        if code == 403 and "scope" in low:
            return SourceError("This Google Sheets connection is read-only: writing line codes back needs "
                               "the read-write scope (open the client with write=True).")
        if code == 403 and ("has not been used" in low or "disabled" in low
                            or "service_disabled" in str(error).lower()):
            return SourceError("The Google Sheets API is not enabled for the service account's Google Cloud "
                               "project: enable it (APIs & Services > Library > Google Sheets API), wait a "
                               "few minutes, then try again.")
        if code == 403:
            verb = "write to" if action == "write" else "open"
            return SourceError(f"Permission denied: {who} may not {verb} the spreadsheet {key}. {share}.")
        if code == 404:
            return SourceError(f"No spreadsheet with key {key} was found: check the URL. If it is right, "
                               f"{share[0].lower() + share[1:]}.")
        if code == 401:
            return SourceError("Google refused the service-account credentials: create a new JSON key for "
                               f"the service account and put it in the secrets (see {HOW_TO}).")
        if code == 400 and "not supported for this document" in low:
            return SourceError("This file is an Excel workbook stored in Google Drive, not a Google Sheet: "
                               "open it and use File > Save as Google Sheets, or download it and upload the "
                               ".xlsx.")
        if code == 400 and "unable to parse range" in low:
            return SourceError(f"A worksheet disappeared while the spreadsheet was being read ({text}): it "
                               "was renamed or deleted meanwhile. Press Refresh to read it again.")
        if code == 400 and "exceeds grid limits" in low:
            return SourceError(f"Google Sheets refused the write: {text}. The sheet's size changed; press "
                               "Refresh and try again.")
        return SourceError(f"Google Sheets answered HTTP {code}: {text or 'no details'}.")
    try:
        from google.auth import exceptions as gexc
    except Exception:  # pragma: no cover
        gexc = None
    if gexc is not None and isinstance(exc, gexc.RefreshError):
        return SourceError(f"Google refused the service-account key{retried}: it may have been deleted or "
                           "disabled, or the machine's clock is wrong. Create a new JSON key (see "
                           f"{HOW_TO}).")
    if isinstance(exc, (requests.ConnectionError, requests.Timeout)) or \
            (gexc is not None and isinstance(exc, gexc.TransportError)):
        return SourceError(f"Could not reach Google Sheets{retried}: check the internet connection (or "
                           "proxy) and try again.")
    return SourceError(f"Reading the Google Sheet failed: {type(exc).__name__}.")


def _raise(exc: BaseException, **how: Any) -> NoReturn:
    """Raise `exc` explained (a SourceError is raised as it is); the cause is kept for debugging."""
    err = _explain(exc, **how)
    if err is exc:
        raise err
    raise err from exc


def _short(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


# --------------------------------------------------------------------------- reading


@dataclass
class SheetsWorkbook(RawWorkbook):
    """A RawWorkbook read from Google Sheets, with what the app shows about it."""

    key: str = ""
    title: str = ""
    gids: dict[str, int] = field(default_factory=dict)  # worksheet title -> gid (sheetId)
    public: bool = False  # read through the CSV export, without credentials
    account: str | None = None  # the service account's email (not a secret)

    def worksheet_url(self, title: str) -> str:
        gid = self.gids.get(title)
        base = f"https://docs.google.com/spreadsheets/d/{self.key}/edit"
        return base if gid is None else f"{base}#gid={gid}"


def _cell(v: Any) -> Any:
    if isinstance(v, str):
        return None if v == "" else v
    if type(v) is int:  # JSON 17 -> 17.0: numbers as Excel holds them (bool stays bool)
        return float(v)
    return v


_cells = np.frompyfunc(_cell, 1, 1)


def _raw_sheet(title: str, value_range: Mapping[str, Any], hidden: bool) -> RawSheet:
    """One worksheet's values (ragged rows, [] for empty rows) as a RawSheet."""
    rows = value_range.get("values") or []
    first_row, first_col = _range_start(str(value_range.get("range", "")))
    width = max((len(r) for r in rows), default=0)
    if not rows or width == 0:
        return RawSheet(name=title, cells=pd.DataFrame(), first_row=1, hidden=hidden)
    arr = np.full((len(rows), first_col + width), None, dtype=object)
    for i, r in enumerate(rows):
        if r:
            arr[i, first_col:first_col + len(r)] = r
    arr = _cells(arr)
    return RawSheet(name=title, cells=pd.DataFrame(arr, columns=range(arr.shape[1]), dtype=object),
                    first_row=first_row, hidden=hidden)


def _metadata(client: Any, key: str) -> dict[str, Any]:
    return client.http_client.fetch_sheet_metadata(key, params={"includeGridData": "false",
                                                                "fields": _METADATA_FIELDS})


def _grid_sheets(meta: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for s in meta.get("sheets", []):
        p = s.get("properties", {})
        if p.get("sheetType", "GRID") == "GRID":
            out.append(p)
    return sorted(out, key=lambda p: p.get("index", 0))


def _batch_get(client: Any, key: str, titles: list[str]) -> list[dict[str, Any]]:
    if not titles:
        return []
    params = {"valueRenderOption": ValueRenderOption.unformatted,
              "dateTimeRenderOption": DateTimeOption.serial_number, "majorDimension": "ROWS"}
    body = client.http_client.values_batch_get(key, [quote_title(t) for t in titles], params=params)
    ranges = body.get("valueRanges", [])
    if len(ranges) != len(titles):
        raise SourceError("Google Sheets returned an incomplete answer; press Refresh to read it again.")
    return ranges


def read_spreadsheet(client: Any, url_or_key: str, *, sheets: list[str] | None = None,
                     export_url: str | None = None, session: requests.Session | None = None,
                     retry: Retry | None = None) -> SheetsWorkbook:
    """Every grid worksheet of a spreadsheet as raw cells (module doc). `client` None = public CSV path.

    `sheets` limits the read to those worksheet titles. Raises SourceError.
    """
    key = parse_sheet_url(url_or_key)
    if client is None:
        return read_public(url_or_key, export_url=export_url, session=session, retry=retry)
    email = _account_email(client)
    try:
        meta = _metadata(client, key)
        props = _grid_sheets(meta)
        if sheets is not None:
            wanted = set(sheets)
            unknown = wanted - {p.get("title") for p in props}
            if unknown:
                names = ", ".join(repr(u) for u in sorted(unknown))
                found = ", ".join(repr(p.get("title")) for p in props) or "none"
                raise SourceError(f"The spreadsheet has no worksheet {names}; found: {found}.")
            props = [p for p in props if p.get("title") in wanted]
        titles = [str(p.get("title", "")) for p in props]
        ranges = _batch_get(client, key, titles)
    except Exception as exc:
        _raise(exc, key=key, email=email)
    out = [_raw_sheet(t, vr, bool(p.get("hidden", False))) for t, vr, p in zip(titles, ranges, props)]
    title = str(meta.get("properties", {}).get("title", key))
    return SheetsWorkbook(source=f"https://docs.google.com/spreadsheets/d/{key}", sheets=out, key=key,
                          title=title, gids={str(p.get("title")): int(p.get("sheetId", 0)) for p in props},
                          public=False, account=email)


# --------------------------------------------------------------------------- public sheets (CSV export)


def _export_url(template: str, key: str, gid: int | None) -> str:
    if gid is None:
        template = re.sub(r"[?&]gid=\{gid\}", "", template)
    return template.format(key=urllib.parse.quote(key, safe=""), gid="" if gid is None else gid)


def _disposition_name(header: str | None) -> tuple[str | None, str | None]:
    """(spreadsheet title, worksheet title) from 'attachment; filename="<spreadsheet> - <sheet>.csv"'."""
    if not header:
        return None, None
    m = re.search(r"filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)", header)
    name = urllib.parse.unquote(m.group(1).strip()) if m else None
    if name is None:
        m = re.search(r'filename\s*=\s*"([^"]*)"', header) or re.search(r"filename\s*=\s*([^;]+)", header)
        name = m.group(1).strip() if m else None
    if not name:
        return None, None
    if name.lower().endswith(".csv"):
        name = name[:-4]
    title, _, sheet = name.rpartition(" - ")
    return (title.strip() or None), (sheet.strip() or None)


def read_public(url_or_key: str, *, gids: list[int] | None = None, export_url: str | None = None,
                session: requests.Session | None = None, retry: Retry | None = None,
                timeout: Any = DEFAULT_TIMEOUT) -> SheetsWorkbook:
    """A spreadsheet shared 'anyone with the link', without credentials, through its CSV export.

    Reads the worksheets whose gid is in the URL (or `gids`), else the first worksheet. CSV cells
    are the sheet's formatted text, all `str`, like any CSV.
    """
    key = parse_sheet_url(url_or_key)
    gid_list: list[int | None] = list(gids) if gids else list(sheet_gids(url_or_key)) or [None]
    template = export_url or os.environ.get(ENV_EXPORT_URL) or DEFAULT_EXPORT_URL
    own = session is None
    http = session or requests.Session()
    try:
        return _read_public(http, key, gid_list, template, retry or Retry(), timeout)
    finally:
        if own:
            http.close()


def _read_public(http: requests.Session, key: str, gid_list: list[int | None], template: str, retry: Retry,
                 timeout: Any) -> SheetsWorkbook:
    sheets: list[RawSheet] = []
    gid_map: dict[str, int] = {}
    used: set[str] = set()
    title = key
    for gid in gid_list:
        url = _export_url(template, key, gid)

        def get(url: str = url) -> requests.Response:
            r = http.get(url, timeout=timeout, allow_redirects=True)
            if r.status_code in (408, 429) or r.status_code >= 500:
                raise APIError(r)
            return r

        try:
            resp = _call_with_retries(get, retry)
        except Exception as exc:
            _raise(exc, key=key, email=None)
        _check_public(resp, key, gid)
        book, name = _disposition_name(resp.headers.get("Content-Disposition"))
        title = book or title
        name = name or ("Sheet1" if gid is None else f"gid {gid}")
        base, k = name, 2
        while name in used:
            name, k = f"{base} ({k})", k + 1
        used.add(name)
        if not resp.content.strip():
            sheet = RawSheet(name=name, cells=pd.DataFrame(), first_row=1)
        else:
            sheet = read_source(resp.content, name=f"{_safe_stem(name)}.csv").sheets[0]
            sheet.name = name
        sheets.append(sheet)
        if gid is not None:
            gid_map[name] = gid
    return SheetsWorkbook(source=f"https://docs.google.com/spreadsheets/d/{key}", sheets=sheets, key=key,
                          title=title, gids=gid_map, public=True, account=None)


def _safe_stem(name: str) -> str:
    return re.sub(r"[\\/:*?\"<>|.]", "_", name) or "sheet"


def _not_public(key: str) -> SourceError:
    return SourceError(f"The spreadsheet {key} is not shared publicly, and no Google credentials are set up. "
                       "Either share it as 'Anyone with the link: Viewer', or set up a service account and "
                       f"share the sheet with its email (see {HOW_TO}).")


def _check_public(resp: requests.Response, key: str, gid: int | None) -> None:
    ctype = resp.headers.get("Content-Type", "").lower()
    looks_html = "html" in ctype or resp.content[:200].lstrip().lower().startswith((b"<!doctype", b"<html"))
    login = any("accounts.google.com" in (h.headers.get("Location", "") or "") for h in resp.history) or \
        "servicelogin" in resp.url.lower()
    if resp.status_code in (401, 403) or login or (resp.ok and looks_html):
        raise _not_public(key)
    if resp.status_code in (400, 404):
        if gid is not None:
            raise SourceError(f"The spreadsheet {key} has no worksheet with gid {gid} (or is not shared "
                              "publicly): check the URL.")
        raise SourceError(f"No spreadsheet with key {key} was found: check the URL.")
    if not resp.ok:
        raise SourceError(f"Google answered HTTP {resp.status_code} for the CSV export of {key}.")


def worksheet_matches(workbook: RawWorkbook, dataset: Dataset | None = None) -> pd.DataFrame:
    """One row per worksheet for the Data page: which table it was read as, its row counts, whether it
    is hidden, why it was not used, and a link to it (Google Sheets only)."""
    by_sheet = {sheet: table for table, sheet in (dataset.sheet_map if dataset else {}).items()}
    notes = {n.sheet: n.text for n in (dataset.notes if dataset else []) if n.kind == "sheet"}
    rows = []
    for s in workbook.sheets:
        table = by_sheet.get(s.name, "")
        count = dataset.counts.get(table) if dataset and table else None
        rows.append({
            "worksheet": s.name, "table": table,
            "read": count.read if count else 0, "accepted": count.accepted if count else 0,
            "quarantined": count.quarantined if count else 0, "hidden": bool(s.hidden),
            "note": notes.get(s.name, ""),
            "url": workbook.worksheet_url(s.name) if isinstance(workbook, SheetsWorkbook) else "",
        })
    return pd.DataFrame(rows, columns=["worksheet", "table", "read", "accepted", "quarantined", "hidden",
                                       "note", "url"])


# --------------------------------------------------------------------------- CLI entry


def read_sheet_url(url: str, *, environ: Mapping[str, str] | None = None) -> SheetsWorkbook:
    """The CLI's reader: credentials from the environment / secrets.toml, else the public CSV path."""
    creds = credentials_from_env(environ)
    client = open_client(creds) if creds is not None else None
    return read_spreadsheet(client, url)


def load_sheet_dataset(url: str, options: IngestOptions = IngestOptions(),
                       environ: Mapping[str, str] | None = None) -> Dataset:
    """read_sheet_url + build_dataset; a missing table read anonymously says how to read more sheets."""
    raw = read_sheet_url(url, environ=environ)
    try:
        return build_dataset(raw, options)
    except SchemaError as exc:
        if raw.public:
            raise SchemaError(f"{exc}\n(Without credentials Linewise reads only the worksheets named in the "
                              "URL: add each table's gid, e.g. ...#gid=0,123456, or set up a service account "
                              f"so every worksheet is read; see {HOW_TO}.)") from None
        raise


# --------------------------------------------------------------------------- writing line codes back


@dataclass(frozen=True)
class WriteResult:
    """What `write_codes` did (or, `dry_run`, would do)."""

    key: str
    sheet: str
    column: str  # column letter of line_code
    header_row: int
    column_created: bool
    planned: int  # empty line_code cells to fill
    written: int  # cells filled (0 in a dry run)
    already_there: int  # cells already holding the code Linewise assigned
    user_codes: int  # rows whose own code was kept, untouched
    new_rows: int  # invoice rows now readable that were not in the read (added or fixed since): no code
    updated_cells: int = 0  # as counted by Google (the header cell included)
    dry_run: bool = False

    @property
    def message(self) -> str:
        where = f"column {self.column} of worksheet '{self.sheet}'"
        if self.dry_run:
            head = (f"Will write {self.planned} line code(s) into {where}"
                    + (" (a new 'line_code' column)" if self.column_created else "") + ".")
        elif self.written:
            head = (f"Wrote {self.written} line code(s) into {where}"
                    + (" (new 'line_code' column)" if self.column_created else "") + ".")
        else:
            head = f"Nothing to write: every coded row already has its code in {where}."
        extra = []
        if self.already_there:
            extra.append(f"{self.already_there} already there")
        if self.user_codes:
            extra.append(f"{self.user_codes} own code(s) kept")
        if self.new_rows:
            extra.append(f"{self.new_rows} row(s) that were not in the read (added or fixed since) got no "
                         "code: press Refresh, then write again")
        return head + (" " + "; ".join(extra) + "." if extra else "")


def _line_code_column(cells: pd.DataFrame, first_row: int, header_row: int, header_text: str,
                      rows: np.ndarray, values: pd.Series) -> int | None:
    """The column label under which locate_tables found line_code (header text + same values)."""
    pos = header_row - first_row
    if pos < 0 or pos >= len(cells):
        return None
    want = header_text.strip()
    idx = rows - first_row
    expect = [None if _blank(v) else str(v).strip() for v in values]
    for col in cells.columns:
        cell = cells.iat[pos, col]
        if not isinstance(cell, str) or not cell.strip():
            continue
        text = cell.strip()
        if text != want and not want.endswith(" " + text):
            continue
        got = [None if _blank(v) else _text(v) for v in cells[col].to_numpy()[idx]]
        if got == expect:
            return int(col)
    return None


_blank = is_blank_cell


def _text(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _pin_mapping(dataset: Dataset, options: IngestOptions) -> dict:
    base = options.mapping or {}
    out: dict[str, dict] = {}
    for table, sheet in dataset.sheet_map.items():
        spec = dict(base.get(table) or {}) if isinstance(base.get(table), dict) else {}
        spec["sheet"] = sheet
        out[table] = spec
    return out


def write_codes(client: Any, url_or_key: str, dataset: Dataset, *, options: IngestOptions = IngestOptions(),
                dry_run: bool = False) -> WriteResult:
    """Write the line codes of `dataset` (read earlier from this spreadsheet) into its invoices worksheet.

    Re-reads and re-normalises the worksheets `dataset` came from; refuses with SheetChangedError
    (writing nothing) when any coded row's (invoice_no, line_no) differs from the read, or a cell to
    fill now holds another code. Fills only empty line_code cells of rows whose code Linewise derived,
    in one values:batchUpdate. `options` must be the IngestOptions used for the read. `client` needs
    the read-write scope (open_client(..., write=True)).
    """
    key = parse_sheet_url(url_or_key)
    if client is None:
        raise SourceError("Writing line codes back needs a service account with Editor access to the sheet; "
                          f"a public link only allows reading (see {HOW_TO}).")
    src = str(dataset.source or "")
    if is_sheet_url(src) and parse_sheet_url(src) != key:
        raise SourceError("These line codes were read from another spreadsheet; read this one first.")
    inv_sheet = dataset.sheet_map.get("invoices")
    if not inv_sheet:
        raise SourceError("The data has no invoices worksheet to write line codes into.")
    email = _account_email(client)
    titles = list(dict.fromkeys(dataset.sheet_map.values()))
    try:
        meta = _metadata(client, key)
        props = {str(p.get("title")): p for p in _grid_sheets(meta)}
        gone = [t for t in titles if t not in props]
        if gone:
            names = ", ".join(repr(t) for t in gone)
            raise SheetChangedError(f"Worksheet {names} is no longer in the spreadsheet (renamed or deleted "
                                    "since it was read). Nothing was written: press Refresh and try again.",
                                    [f"worksheet {t!r} missing" for t in gone])
        ranges = _batch_get(client, key, titles)
    except Exception as exc:
        _raise(exc, key=key, email=email, action="write")
    fresh = RawWorkbook(source=src, sheets=[_raw_sheet(t, vr, bool(props[t].get("hidden", False)))
                                            for t, vr in zip(titles, ranges)])
    changed = "Nothing was written: press Refresh to read the sheet again, check the codes, then write again."
    found = locate_tables(fresh, mapping=_pin_mapping(dataset, options))
    if found.missing or "invoices" not in found.tables:
        why = "; ".join(found.missing.values()) or "the invoices table was not found"
        raise SheetChangedError(f"The spreadsheet changed since it was read: {why}. {changed}", [why])
    try:
        now = build_dataset(found, options)
    except SchemaError as exc:  # pragma: no cover - found.missing is checked above
        raise SheetChangedError(f"The spreadsheet changed since it was read: {exc}. {changed}") from None

    old = dataset.invoices
    old = old[old["_sheet"].astype(str) == inv_sheet]
    new = now.invoices
    new = new[new["_sheet"].astype(str) == inv_sheet]
    new_by_row = {int(r): (str(i), int(n), bool(g), c) for r, i, n, g, c in zip(
        new["_row"], new["invoice_no"], new["line_no"], new["line_code_given"], new["line_code_original"])}
    diffs: list[str] = []
    targets: list[tuple[int, str]] = []
    already = user = 0
    for row, inv_no, line_no, given, code in zip(old["_row"], old["invoice_no"], old["line_no"],
                                                 old["line_code_given"], old["line_code"]):
        row, inv_no, line_no = int(row), str(inv_no), int(line_no)
        cur = new_by_row.get(row)
        if cur is None:
            diffs.append(f"row {row} ({inv_no} line {line_no}) is gone or can no longer be read")
            continue
        if (cur[0], cur[1]) != (inv_no, line_no):
            diffs.append(f"row {row} was {inv_no} line {line_no}, now {cur[0]} line {cur[1]}")
            continue
        if bool(given):
            user += 1
            continue
        if cur[2]:  # a code is in the cell now
            if canonical(str(cur[3])) == canonical(str(code)):  # codes match ignoring case/separators
                already += 1
            else:
                diffs.append(f"row {row} now has line code '{cur[3]}' typed in")
            continue
        targets.append((row, str(code)))
    if diffs:
        shown = "; ".join(diffs[:5]) + (f"; and {len(diffs) - 5} more" if len(diffs) > 5 else "")
        raise SheetChangedError(f"Worksheet '{inv_sheet}' changed since it was read ({len(diffs)} row(s) "
                                f"differ: {shown}). {changed}", diffs)
    new_rows = len(set(new_by_row) - {int(r) for r in old["_row"]})

    table = found.tables["invoices"]
    sheet = next(s for s in fresh.sheets if s.name == inv_sheet)
    col: int | None = None
    if "line_code" in table.columns:
        col = _line_code_column(sheet.cells, sheet.first_row, table.header_row, table.headers["line_code"],
                                table.rows, table.columns["line_code"])
        if col is None:
            raise SourceError(f"Could not tell which column of worksheet '{inv_sheet}' holds the line codes "
                              f"(header '{table.headers['line_code']}' appears more than once?). Rename the "
                              "extra column, then try again.")
    created = col is None and bool(targets)
    if col is None:
        col = len(sheet.cells.columns)
    assert col is not None
    letter = col_letter(col)
    result = WriteResult(key=key, sheet=inv_sheet, column=letter, header_row=table.header_row,
                         column_created=created, planned=len(targets), written=0, already_there=already,
                         user_codes=user, new_rows=new_rows, dry_run=dry_run)
    if dry_run or not targets:
        return result

    q = quote_title(inv_sheet)
    data = []
    if created:
        data.append({"range": f"{q}!{letter}{table.header_row}", "majorDimension": "ROWS",
                     "values": [[LINE_CODE_HEADER]]})
    targets.sort()
    start = 0
    for i in range(1, len(targets) + 1):  # one range per run of consecutive rows: other rows untouched
        if i == len(targets) or targets[i][0] != targets[i - 1][0] + 1:
            run = targets[start:i]
            data.append({"range": f"{q}!{letter}{run[0][0]}:{letter}{run[-1][0]}", "majorDimension": "ROWS",
                         "values": [[c] for _, c in run]})
            start = i
    try:
        grid_cols = int(props[inv_sheet].get("gridProperties", {}).get("columnCount", col + 1))
        if col >= grid_cols:
            client.http_client.batch_update(key, {"requests": [{"appendDimension": {
                "sheetId": int(props[inv_sheet].get("sheetId", 0)), "dimension": "COLUMNS",
                "length": col + 1 - grid_cols}}]})
        answer = client.http_client.values_batch_update(key, {"valueInputOption": ValueInputOption.raw,
                                                              "data": data})
    except Exception as exc:
        _raise(exc, key=key, email=email, action="write")
    return WriteResult(key=key, sheet=inv_sheet, column=letter, header_row=table.header_row,
                       column_created=created, planned=len(targets), written=len(targets),
                       already_there=already, user_codes=user, new_rows=new_rows,
                       updated_cells=int(answer.get("totalUpdatedCells", 0) or 0), dry_run=False)


# --------------------------------------------------------------------------- the Streamlit connection


@dataclass
class GSheetsClients:
    """What a GSheetsConnection holds: a read-only client (None: public sheets only), the read-write
    client once one was needed, and the credentials problem to report on first use, if any."""

    read: Any = None
    credentials: Any = field(default=None, repr=False)  # kept in memory only, never shown
    error: SourceError | None = None
    write: Any = None


class GSheetsConnection(BaseConnection):  # type: ignore[misc,valid-type]
    """`st.connection("gsheets", type=GSheetsConnection)`: Google Sheets over a gspread 6 Client.

    Credentials come from [connections.gsheets] of .streamlit/secrets.toml (the JSON key's fields,
    or `key_file = "path/to/key.json"`) or from kwargs (`credentials=`, `key_file=`). Without any,
    only public ('anyone with the link') sheets can be read. The client is read-only; a read-write
    client is opened only to write line codes back. Bad credentials do not break st.connection():
    `credentials_error` says what is wrong and reading/writing raise it as a SourceError.
    """

    def __init__(self, connection_name: str, **kwargs: Any) -> None:
        self._readers: dict[Any, Any] = {}
        self._http_client = kwargs.get("http_client")
        self._retry = kwargs.get("retry")
        self._export_url = kwargs.get("export_url")
        self._session = kwargs.get("session")
        super().__init__(connection_name, **kwargs)

    def _connect(self, **kwargs: Any) -> GSheetsClients:
        cfg = {**_plain_dict(self._secrets), **kwargs}
        creds = cfg.get("credentials")
        if creds is None:
            fields = {k: v for k, v in cfg.items() if k in SERVICE_ACCOUNT_FIELDS}
            creds = cfg.get("key_file") or fields or None
        self._export_url = cfg.get("export_url") or self._export_url
        try:
            client = open_client(creds, write=False, http_client=self._http_client, retry=self._retry)
        except SourceError as exc:
            return GSheetsClients(read=None, credentials=creds, error=exc)
        return GSheetsClients(read=client, credentials=creds)

    # -- what the page shows
    @property
    def client(self) -> Any:
        """The read-only gspread Client (None: no credentials, public sheets only)."""
        return self._instance.read

    @property
    def service_account_email(self) -> str | None:
        """The email to share sheets with (not a secret), None without credentials."""
        return _account_email(self._instance.read)

    @property
    def has_credentials(self) -> bool:
        return self._instance.read is not None

    @property
    def credentials_error(self) -> str | None:
        """What is wrong with the configured credentials (plain text), None when fine or absent."""
        err = self._instance.error
        return err.message if err else None

    def _check(self) -> GSheetsClients:
        clients = self._instance
        if clients.error is not None:
            raise clients.error
        return clients

    # -- reading
    def _read_uncached(self, source: str, sheets: tuple[str, ...] | None) -> SheetsWorkbook:
        return read_spreadsheet(self._check().read, source, sheets=list(sheets) if sheets else None,
                                export_url=self._export_url, session=self._session, retry=self._retry)

    def _reader(self, ttl: Any, show_spinner: Any) -> Callable[..., SheetsWorkbook]:
        cache_key = (str(ttl), show_spinner)
        if cache_key not in self._readers:
            import streamlit as st

            def _read(instance_id: Any, source: str,  # noqa: ARG001 - keys the cache per connection
                      sheets: tuple[str, ...] | None) -> SheetsWorkbook:
                return self._read_uncached(source, sheets)

            ttl_str = str(ttl).replace(".", "_")
            _read.__qualname__ = f"gsheets_read_{self._connection_name}_{ttl_str}"
            self._readers[cache_key] = st.cache_data(ttl=ttl, show_spinner=show_spinner)(_read)
        return self._readers[cache_key]

    def read_workbook(self, url_or_key: str, *, ttl: Any = DEFAULT_TTL, sheets: list[str] | None = None,
                      show_spinner: bool | str = "Reading the Google Sheet...") -> SheetsWorkbook:
        """All worksheets as raw cells, cached for `ttl` seconds (None = until clear_cache())."""
        parse_sheet_url(url_or_key)  # a bad URL fails here, not inside the cache
        self._check()
        reader = self._reader(ttl, show_spinner)
        return reader(self._connection_instance_id, url_or_key.strip(), tuple(sheets) if sheets else None)

    def load_dataset(self, url_or_key: str, options: IngestOptions = IngestOptions(), *,
                     ttl: Any = DEFAULT_TTL) -> Dataset:
        """read_workbook + build_dataset (raises SourceError / SchemaError with plain messages)."""
        return build_dataset(self.read_workbook(url_or_key, ttl=ttl), options)

    def clear_cache(self) -> None:
        """Forget cached reads (the page's Refresh button)."""
        for reader in self._readers.values():
            reader.clear()

    # -- writing
    def write_codes(self, url_or_key: str, dataset: Dataset, *, options: IngestOptions = IngestOptions(),
                    dry_run: bool = False) -> WriteResult:
        """write_codes() with a read-write client (opened on first use); clears the cache after a write."""
        clients = self._check()
        if clients.read is None:
            return write_codes(None, url_or_key, dataset, options=options, dry_run=dry_run)
        if clients.write is None:
            clients.write = open_client(clients.credentials, write=True, http_client=self._http_client,
                                        retry=self._retry)
        result = write_codes(clients.write, url_or_key, dataset, options=options, dry_run=dry_run)
        if not dry_run and result.written:
            self.clear_cache()
        return result
