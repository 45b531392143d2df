"""A canned Google Sheets API v4 for offline tests: the real gspread and google-auth stacks run on top.

`SheetsFake` holds spreadsheets in memory and answers HTTP requests with bodies
shaped like the real API's:

- POST https://oauth2.googleapis.com/token (the service-account JWT grant; the
  JWT's RS256 signature is checked against the account's public key, its
  `scope` claim is remembered with the access token it gets),
- GET  /v4/spreadsheets/{id}                      spreadsheets.get (metadata),
- GET  /v4/spreadsheets/{id}/values:batchGet     ragged rows (trailing blanks
  dropped, empty rows as []), UNFORMATTED_VALUE / FORMATTED_VALUE and
  SERIAL_NUMBER / FORMATTED_STRING rendering,
- POST /v4/spreadsheets/{id}/values:batchUpdate  RAW / USER_ENTERED, grid limits,
- POST /v4/spreadsheets/{id}:batchUpdate         appendDimension only,
- the public CSV export (`export_csv`, served over real HTTP by `ExportServer`).

Access is checked like Google does: a bearer token from the token endpoint,
the readonly scope refused for writes (403 "insufficient authentication
scopes"), and per-spreadsheet sharing (reader / writer) for the account.
Faults are queued per endpoint with `fail()` (429, 500, 503, 403 ...).

`CannedHTTPClient` is gspread's HTTPClient (through connectors.gsheets'
SheetsHTTPClient, so retries are the production code) with the fake mounted
as the requests transport adapter of its AuthorizedSession and of the session
google-auth uses to fetch tokens: nothing leaves the process.
"""
from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from connectors.gsheets import SheetsHTTPClient

EPOCH = dt.datetime(1899, 12, 30)
TOKEN_URI = "https://oauth2.googleapis.com/token"
READONLY = "https://www.googleapis.com/auth/spreadsheets.readonly"
READWRITE = "https://www.googleapis.com/auth/spreadsheets"
DRIVE = "https://www.googleapis.com/auth/drive"

_KEY: rsa.RSAPrivateKey | None = None


def _private_key() -> rsa.RSAPrivateKey:
    global _KEY
    if _KEY is None:  # one 2048-bit key per test process (generating one takes ~50 ms)
        _KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _KEY


def col_letter(index: int) -> str:
    n, out = index + 1, ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def col_index(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n - 1


def a1_title(title: str) -> str:
    """How the API writes a title in a returned range: quoted only when needed."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", title) and not re.fullmatch(r"[A-Za-z]{1,3}[0-9]+", title):
        return title
    return "'" + title.replace("'", "''") + "'"


def parse_range(text: str) -> tuple[str, tuple[int, int, int | None, int | None] | None]:
    """'Title'!A2:C9 -> (title, (row0, col0, row1 or None, col1 or None)), 0-based inclusive;
    a bare title -> (title, None)."""
    text = text.strip()
    if text.startswith("'"):
        i, title = 1, ""
        while i < len(text):
            if text[i] == "'":
                if i + 1 < len(text) and text[i + 1] == "'":
                    title += "'"
                    i += 2
                    continue
                break
            title += text[i]
            i += 1
        rest = text[i + 1:]
    else:
        title, _, rest = text.partition("!")
        rest = "!" + rest if rest else ""
    if not rest:
        return title, None
    if not rest.startswith("!"):
        raise ValueError(text)
    m = re.fullmatch(r"\$?([A-Za-z]+)\$?([0-9]+)(?::\$?([A-Za-z]+)\$?([0-9]+)?)?", rest[1:])
    if not m:
        raise ValueError(text)
    r0, c0 = int(m.group(2)) - 1, col_index(m.group(1))
    c1 = col_index(m.group(3)) if m.group(3) else c0
    r1 = int(m.group(4)) - 1 if m.group(4) else (None if m.group(3) else r0)
    return title, (r0, c0, r1, c1)


@dataclass
class FakeSheet:
    sheet_id: int
    title: str
    rows: list[list[Any]]  # python values: str, int, float, bool, datetime/date, None (empty)
    hidden: bool = False
    row_count: int = 1000
    column_count: int = 26
    sheet_type: str = "GRID"

    def cell(self, r: int, c: int) -> Any:
        if r < len(self.rows) and c < len(self.rows[r]):
            return self.rows[r][c]
        return None

    def set(self, r: int, c: int, value: Any) -> None:
        while len(self.rows) <= r:
            self.rows.append([])
        row = self.rows[r]
        while len(row) <= c:
            row.append(None)
        row[c] = value

    def grid(self) -> list[list[Any]]:
        """The values as a rectangle (for before/after comparisons)."""
        width = max((len(r) for r in self.rows), default=0)
        return [list(r) + [None] * (width - len(r)) for r in self.rows]


@dataclass
class FakeSpreadsheet:
    key: str
    title: str
    sheets: list[FakeSheet]
    shared: dict[str, str] = field(default_factory=dict)  # email -> "reader" | "writer"
    public: bool = False
    kind: str = "sheets"  # "excel": an .xlsx stored in Drive (the API refuses it)

    def sheet(self, title: str) -> FakeSheet | None:
        return next((s for s in self.sheets if s.title == title), None)


def _empty(v: Any) -> bool:
    return v is None or (isinstance(v, str) and v == "")


def _serial(v: dt.date) -> float | int:
    d = v if isinstance(v, dt.datetime) else dt.datetime(v.year, v.month, v.day)
    days = (d - EPOCH).total_seconds() / 86400
    return int(days) if days == int(days) else days


def _formatted(v: Any) -> str:
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, dt.datetime) and (v.hour or v.minute or v.second):
        return f"{v.month}/{v.day}/{v.year} {v.hour}:{v.minute:02d}:{v.second:02d}"
    if isinstance(v, (dt.date, dt.datetime)):
        return f"{v.month}/{v.day}/{v.year}"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    return str(v)


def render(v: Any, value_option: str, date_option: str) -> Any:
    if value_option == "FORMATTED_VALUE":
        return _formatted(v)
    if isinstance(v, bool) or isinstance(v, str):
        return v
    if isinstance(v, (dt.date, dt.datetime)):
        return _serial(v) if date_option == "SERIAL_NUMBER" else _formatted(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _b64json(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


class SheetsFake:
    """The in-memory Sheets API. See the module doc."""

    def __init__(self) -> None:
        self.spreadsheets: dict[str, FakeSpreadsheet] = {}
        self.accounts: dict[str, Any] = {}  # email -> public key
        self.tokens: dict[str, tuple[str, set[str]]] = {}
        self.faults: dict[str, list[tuple[int, dict | None]]] = {}
        self.calls: list[tuple[str, str, dict]] = []  # (endpoint, key, query/body)
        self.unexpected: list[str] = []
        self._lock = threading.Lock()

    # -- set-up
    def add_account(self, email: str = "linewise@acme-ar.iam.gserviceaccount.com") -> dict[str, str]:
        """Register a service account; returns its JSON key's fields (a real RSA key)."""
        key = _private_key()
        self.accounts[email] = key.public_key()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
        project = email.split("@")[1].split(".")[0]
        return {
            "type": "service_account", "project_id": project, "private_key_id": "0123456789abcdef",
            "private_key": pem, "client_email": email, "client_id": "109876543210987654321",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": TOKEN_URI,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
                                    + urllib.parse.quote(email), "universe_domain": "googleapis.com",
        }

    def add_spreadsheet(self, key: str, title: str, sheets: dict[str, list[list[Any]]], *,
                        shared: dict[str, str] | None = None, public: bool = False,
                        hidden: tuple[str, ...] = (), kind: str = "sheets", column_count: int = 26
                        ) -> FakeSpreadsheet:
        fs = [FakeSheet(sheet_id=0 if i == 0 else 1000 + 7 * i, title=t, rows=[list(r) for r in rows],
                        hidden=t in hidden, row_count=max(1000, len(rows)),
                        column_count=max(column_count, max((len(r) for r in rows), default=0)))
              for i, (t, rows) in enumerate(sheets.items())]
        ss = FakeSpreadsheet(key=key, title=title, sheets=fs, shared=dict(shared or {}), public=public,
                             kind=kind)
        self.spreadsheets[key] = ss
        return ss

    def fail(self, endpoint: str, status: int, times: int = 1, error: dict | None = None) -> None:
        """The next `times` calls of `endpoint` answer `status` (endpoint names: see `endpoint_of`)."""
        self.faults.setdefault(endpoint, []).extend([(status, error)] * times)

    def count(self, endpoint: str) -> int:
        return sum(1 for e, _, _ in self.calls if e == endpoint)

    def http_client_class(self) -> type[CannedHTTPClient]:
        return type("CannedHTTPClient", (CannedHTTPClient,), {"fake": self})

    # -- HTTP
    @staticmethod
    def endpoint_of(method: str, path: str) -> tuple[str, str]:
        m = re.fullmatch(r"/v4/spreadsheets/([^/:]+)(.*)", path)
        if not m:
            return "unknown", ""
        key, rest = m.group(1), m.group(2)
        table = {("GET", ""): "get", ("GET", "/values:batchGet"): "batchGet",
                 ("POST", "/values:batchUpdate"): "valuesBatchUpdate",
                 ("POST", ":batchUpdate"): "batchUpdate"}
        return table.get((method, rest), "unknown"), key

    def handle(self, method: str, url: str, headers: Any, body: bytes | str | None
               ) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            return self._handle(method.upper(), url, headers, body)

    def _handle(self, method: str, url: str, headers: Any, body: bytes | str | None
                ) -> tuple[int, dict[str, str], bytes]:
        parts = urllib.parse.urlsplit(url)
        query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        raw = body.encode() if isinstance(body, str) else (body or b"")
        if parts.netloc == "oauth2.googleapis.com" and parts.path == "/token":
            self.calls.append(("token", "", {}))
            if (fault := self._fault("token")) is not None:
                return self._error(*fault)
            return self._token(urllib.parse.parse_qs(raw.decode()))
        if parts.netloc != "sheets.googleapis.com":
            self.unexpected.append(f"{method} {url}")
            return self._error(404, {"code": 404, "message": "fake: no such host", "status": "NOT_FOUND"})
        endpoint, key = self.endpoint_of(method, parts.path)
        payload = json.loads(raw) if raw else {}
        self.calls.append((endpoint, key, payload if method == "POST" else query))
        if endpoint == "unknown":
            self.unexpected.append(f"{method} {url}")
            return self._error(404, {"code": 404, "message": "fake: unsupported call", "status": "NOT_FOUND"})
        if (fault := self._fault(endpoint)) is not None:
            return self._error(*fault)
        auth = headers.get("Authorization", "") if headers else ""
        token = auth[7:] if auth.startswith("Bearer ") else ""
        if token not in self.tokens:
            return self._error(401, {"code": 401, "message": "Request is missing required authentication "
                                     "credential. Expected OAuth 2 access token, login cookie or other valid "
                                     "authentication credential.", "status": "UNAUTHENTICATED"})
        email, scopes = self.tokens[token]
        write = endpoint in ("valuesBatchUpdate", "batchUpdate")
        insufficient = {"code": 403, "message": "Request had insufficient authentication scopes.",
                        "status": "PERMISSION_DENIED", "details": [{
                            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                            "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT", "domain": "googleapis.com",
                            "metadata": {"service": "sheets.googleapis.com"}}]}
        if write and not scopes & {READWRITE, DRIVE}:
            return self._error(403, insufficient)
        if not scopes & {READONLY, READWRITE, DRIVE, "https://www.googleapis.com/auth/drive.readonly"}:
            return self._error(403, insufficient)
        ss = self.spreadsheets.get(key)
        if ss is None:
            return self._error(404, {"code": 404, "message": "Requested entity was not found.",
                                     "status": "NOT_FOUND"})
        role = ss.shared.get(email)
        if role is None and not ss.public or (write and role != "writer"):
            return self._error(403, {"code": 403, "message": "The caller does not have permission",
                                     "status": "PERMISSION_DENIED"})
        if ss.kind == "excel":
            return self._error(400, {"code": 400, "message": "This operation is not supported for this "
                                     "document", "status": "FAILED_PRECONDITION"})
        if endpoint == "get":
            return self._ok(self._metadata(ss))
        if endpoint == "batchGet":
            return self._batch_get(ss, query)
        if endpoint == "valuesBatchUpdate":
            return self._values_batch_update(ss, payload)
        return self._batch_update(ss, payload)

    def _fault(self, endpoint: str) -> tuple[int, dict | None] | None:
        queue = self.faults.get(endpoint)
        return queue.pop(0) if queue else None

    @staticmethod
    def _ok(obj: Any) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "application/json; charset=UTF-8"}, json.dumps(obj).encode()

    @staticmethod
    def _error(status: int, error: dict | None) -> tuple[int, dict[str, str], bytes]:
        if status == 0:
            return 0, {}, b""
        if error is None:
            defaults = {
                429: ("Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute "
                      "per user' of service 'sheets.googleapis.com' for consumer 'project_number:123456789'.",
                      "RESOURCE_EXHAUSTED"),
                500: ("Internal error encountered.", "INTERNAL"),
                503: ("The service is currently unavailable.", "UNAVAILABLE"),
                403: ("The caller does not have permission", "PERMISSION_DENIED"),
                404: ("Requested entity was not found.", "NOT_FOUND"),
            }
            message, status_text = defaults.get(status, ("Error", "UNKNOWN"))
            error = {"code": status, "message": message, "status": status_text}
        body = json.dumps({"error": error}).encode()
        return status, {"Content-Type": "application/json; charset=UTF-8"}, body

    def _token(self, form: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        bad = (400, {"Content-Type": "application/json"},
               json.dumps({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}).encode())
        try:
            assert form.get("grant_type") == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
            jwt = form["assertion"][0]
            head, claims_b64, sig = jwt.split(".")
            claims = _b64json(claims_b64)
            public = self.accounts[claims["iss"]]
            public.verify(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)),
                          f"{head}.{claims_b64}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except Exception:
            return bad
        token = f"ya29.fake-{len(self.tokens) + 1}"
        self.tokens[token] = (claims["iss"], set(str(claims.get("scope", "")).split()))
        return 200, {"Content-Type": "application/json"}, json.dumps(
            {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}).encode()

    @staticmethod
    def _metadata(ss: FakeSpreadsheet) -> dict:
        return {
            "spreadsheetId": ss.key,
            "properties": {"title": ss.title, "locale": "en_US", "timeZone": "Europe/Budapest"},
            "sheets": [{"properties": {
                "sheetId": s.sheet_id, "title": s.title, "index": i, "sheetType": s.sheet_type,
                **({"hidden": True} if s.hidden else {}),
                "gridProperties": {"rowCount": s.row_count, "columnCount": s.column_count}}}
                for i, s in enumerate(ss.sheets)],
            "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{ss.key}/edit",
        }

    def _batch_get(self, ss: FakeSpreadsheet, query: dict[str, list[str]]
                   ) -> tuple[int, dict[str, str], bytes]:
        value_opt = query.get("valueRenderOption", ["FORMATTED_VALUE"])[0]
        date_opt = query.get("dateTimeRenderOption", ["SERIAL_NUMBER"])[0]
        out = []
        for text in query.get("ranges", []):
            try:
                title, box = parse_range(text)
            except ValueError:
                box, title = None, None
            sheet = ss.sheet(title) if title is not None else None
            if sheet is None:
                return self._error(400, {"code": 400, "message": f"Unable to parse range: {text}",
                                         "status": "INVALID_ARGUMENT"})
            r0, c0, r1, c1 = box or (0, 0, sheet.row_count - 1, sheet.column_count - 1)
            r1 = sheet.row_count - 1 if r1 is None else r1
            c1 = sheet.column_count - 1 if c1 is None else c1
            rows = []
            for r in range(r0, min(r1, sheet.row_count - 1) + 1):
                row = [sheet.cell(r, c) for c in range(c0, min(c1, sheet.column_count - 1) + 1)]
                while row and _empty(row[-1]):
                    row.pop()
                rows.append(["" if _empty(v) else render(v, value_opt, date_opt) for v in row])
            while rows and not rows[-1]:
                rows.pop()
            vr: dict[str, Any] = {"range": f"{a1_title(sheet.title)}!{col_letter(c0)}{r0 + 1}:"
                                           f"{col_letter(c1)}{r1 + 1}", "majorDimension": "ROWS"}
            if rows:
                vr["values"] = rows
            out.append(vr)
        return self._ok({"spreadsheetId": ss.key, "valueRanges": out})

    def _values_batch_update(self, ss: FakeSpreadsheet, body: dict) -> tuple[int, dict[str, str], bytes]:
        if body.get("valueInputOption") not in ("RAW", "USER_ENTERED"):
            return self._error(400, {"code": 400, "message": "Invalid valueInputOption",
                                     "status": "INVALID_ARGUMENT"})
        plan = []
        for item in body.get("data", []):
            title, box = parse_range(item["range"])
            sheet = ss.sheet(title)
            if sheet is None or box is None:
                return self._error(400, {"code": 400, "message": f"Unable to parse range: {item['range']}",
                                         "status": "INVALID_ARGUMENT"})
            r0, c0, _, _ = box
            values = item.get("values", [])
            for i, row in enumerate(values):
                for j, v in enumerate(row):
                    r, c = r0 + i, c0 + j
                    if r >= sheet.row_count or c >= sheet.column_count:
                        return self._error(400, {
                            "code": 400, "status": "INVALID_ARGUMENT",
                            "message": f"Range ({a1_title(title)}!{col_letter(c)}{r + 1}) exceeds grid "
                                       f"limits. Max rows: {sheet.row_count}, max columns: "
                                       f"{sheet.column_count}"})
                    if v is not None:
                        plan.append((sheet, r, c, v))
        responses = []
        for item in body.get("data", []):
            title, (r0, c0, _, _) = parse_range(item["range"])  # type: ignore[misc]
            values = item.get("values", [])
            n_rows = len(values)
            n_cols = max((len(r) for r in values), default=0)
            responses.append({"spreadsheetId": ss.key,
                              "updatedRange": f"{a1_title(title)}!{col_letter(c0)}{r0 + 1}:"
                                              f"{col_letter(c0 + max(n_cols, 1) - 1)}{r0 + max(n_rows, 1)}",
                              "updatedRows": n_rows, "updatedColumns": n_cols,
                              "updatedCells": sum(1 for r in values for v in r if v is not None)})
        for sheet, r, c, v in plan:
            sheet.set(r, c, v)
        return self._ok({
            "spreadsheetId": ss.key,
            "totalUpdatedRows": sum(r["updatedRows"] for r in responses),
            "totalUpdatedColumns": max((r["updatedColumns"] for r in responses), default=0),
            "totalUpdatedCells": len(plan),
            "totalUpdatedSheets": len({id(p[0]) for p in plan}),
            "responses": responses,
        })

    def _batch_update(self, ss: FakeSpreadsheet, body: dict) -> tuple[int, dict[str, str], bytes]:
        replies = []
        for req in body.get("requests", []):
            if "appendDimension" not in req:
                return self._error(400, {"code": 400, "message": "fake: only appendDimension",
                                         "status": "INVALID_ARGUMENT"})
            spec = req["appendDimension"]
            sheet = next((s for s in ss.sheets if s.sheet_id == spec["sheetId"]), None)
            if sheet is None:
                return self._error(400, {"code": 400, "message": f"No grid with id: {spec['sheetId']}",
                                         "status": "INVALID_ARGUMENT"})
            if spec["dimension"] == "COLUMNS":
                sheet.column_count += int(spec["length"])
            else:
                sheet.row_count += int(spec["length"])
            replies.append({})
        return self._ok({"spreadsheetId": ss.key, "replies": replies})

    # -- public CSV export
    def export_csv(self, key: str, gid: int | None) -> tuple[int, dict[str, str], bytes]:
        ss = self.spreadsheets.get(key)
        if ss is None:
            return 404, {"Content-Type": "text/html; charset=utf-8"}, b"<html><body>Not found</body></html>"
        if not ss.public:
            return 302, {"Location": "/ServiceLogin?continue=" + urllib.parse.quote(key)}, b""
        sheet = ss.sheets[0] if gid is None else next((s for s in ss.sheets if s.sheet_id == gid), None)
        if sheet is None:
            return 400, {"Content-Type": "text/html; charset=utf-8"}, b"<html><body>Bad request</body></html>"
        buf = io.StringIO()
        width = max((len(r) for r in sheet.rows), default=0)
        writer = csv.writer(buf, lineterminator="\r\n")
        for row in sheet.rows:
            padded = list(row) + [None] * (width - len(row))
            writer.writerow(["" if _empty(v) else _formatted(v) for v in padded])
        name = f"{ss.title} - {sheet.title}.csv"
        disposition = (f'attachment; filename="{name.encode("ascii", "replace").decode()}"; '
                       f"filename*=UTF-8''{urllib.parse.quote(name)}")
        return 200, {"Content-Type": "text/csv", "Content-Disposition": disposition}, buf.getvalue().encode()


class CannedAdapter(BaseAdapter):
    """A requests transport adapter answering from a SheetsFake."""

    def __init__(self, fake: SheetsFake) -> None:
        super().__init__()
        self.fake = fake

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        status, headers, body = self.fake.handle(request.method or "GET", request.url or "", request.headers,
                                                 request.body)
        if status == 0:  # fail(endpoint, 0): the network is down
            raise requests.ConnectionError("fake: network unreachable", request=request)
        resp = requests.Response()
        resp.status_code = status
        resp._content = body
        resp.headers = CaseInsensitiveDict(headers)
        resp.url = request.url or ""
        resp.request = request
        resp.encoding = "utf-8"
        resp.reason = HTTPStatus(status).phrase
        return resp

    def close(self) -> None:
        pass


class CannedHTTPClient(SheetsHTTPClient):
    """gspread's HTTPClient (via SheetsHTTPClient) whose transport is the fake. Use
    `fake.http_client_class()` to get one bound to a SheetsFake."""

    fake: SheetsFake

    def __init__(self, auth: Any, session: requests.Session | None = None) -> None:
        super().__init__(auth, session)
        adapter = CannedAdapter(self.fake)
        for s in (self.session, getattr(self.session, "_auth_request_session", None)):
            if s is not None:
                s.mount("https://", adapter)
                s.mount("http://", adapter)


class ExportServer:
    """A real HTTP server on 127.0.0.1 serving the fake's public CSV exports (and a login page)."""

    def __init__(self, fake: SheetsFake) -> None:
        self.fake = fake
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.requests.append(self.path)
                parts = urllib.parse.urlsplit(self.path)
                q = urllib.parse.parse_qs(parts.query)
                m = re.fullmatch(r"/spreadsheets/d/([^/]+)/export", parts.path)
                if parts.path == "/ServiceLogin":
                    status, headers, body = 200, {"Content-Type": "text/html; charset=utf-8"}, \
                        b"<!DOCTYPE html><html><body>Sign in - Google Accounts</body></html>"
                elif m and q.get("format") == ["csv"]:
                    gid = int(q["gid"][0]) if q.get("gid") and q["gid"][0] else None
                    status, headers, body = outer.fake.export_csv(m.group(1), gid)
                else:
                    status, headers, body = 404, {"Content-Type": "text/html"}, b"<html>404</html>"
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @property
    def template(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/spreadsheets/d/{{key}}/export?format=csv&gid={{gid}}"

    def __enter__(self) -> ExportServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
