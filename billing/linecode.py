"""Line codes: `{invoice_no}-{line_no:03d}{C}` with an ISO 7064 MOD 37,36 check character.

The check character is computed over the letters and digits before it,
upper-cased, other characters ignored, so it agrees with python-stdnum's
`iso7064.mod_37_36`. It catches every single wrong character and every swap
of two neighbouring characters. Codes compare in their *canonical* form
(upper case, letters and digits only) because banks drop separators.
"""
from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_MOD = 36
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
# A token that has the shape of a line code: something, a dash, 3+ digits, one check char.
CODE_SHAPE = re.compile(r"^[0-9A-Z][0-9A-Z/\-]*-\d{3,}[0-9A-Z]$", re.IGNORECASE)


def canonical(code: str) -> str:
    """Upper-case, ASCII letters and digits only: the form codes are compared in."""
    return _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", str(code)).upper())


def _checksum(body: str) -> int:
    check = _MOD // 2
    for ch in body:
        check = (((check or _MOD) * 2) % (_MOD + 1) + _VALUE[ch]) % _MOD
    return check


def check_char(text: str) -> str:
    """The MOD 37,36 check character for the letters and digits of `text`."""
    check = _checksum(canonical(text))
    return ALPHABET[(1 - ((check or _MOD) * 2) % (_MOD + 1)) % _MOD]


def is_valid(code: str) -> bool:
    """True when the last letter/digit of `code` is the right check character."""
    body = canonical(code)
    return len(body) >= 2 and _checksum(body) == 1


def make_code(invoice_no: str, line_no: int) -> str:
    """The line code of line `line_no` of invoice `invoice_no`, e.g. INV-7-001K."""
    stem = f"{invoice_no}-{int(line_no):03d}"
    return stem + check_char(stem)


def looks_like_code(token: str) -> bool:
    """Whether `token` has the shape of a line code (dash, 3+ digits, check char)."""
    return bool(CODE_SHAPE.match(str(token)))


def check_chars(bodies: pd.Series) -> np.ndarray:
    """Vectorised check characters for canonical bodies (one numpy pass per character position)."""
    if len(bodies) == 0:
        return np.array([], dtype="<U1")
    arr = bodies.to_numpy(dtype=str)
    width = max(int(np.char.str_len(arr).max()), 1)
    chars = arr.astype(f"<U{width}").view("<U1").reshape(len(arr), width)
    codes = np.frombuffer(chars.tobytes(), dtype=np.uint32).reshape(len(arr), width)
    # '0'..'9' -> 0..9, 'A'..'Z' -> 10..35, padding (0) -> -1
    values = np.where(codes >= 65, codes.astype(np.int64) - 55, codes.astype(np.int64) - 48)
    values = np.where(codes == 0, -1, values)
    check = np.full(len(arr), _MOD // 2, dtype=np.int64)
    for j in range(width):
        v = values[:, j]
        stepped = (np.where(check == 0, _MOD, check) * 2 % (_MOD + 1) + v) % _MOD
        check = np.where(v >= 0, stepped, check)
    idx = (1 - (np.where(check == 0, _MOD, check) * 2) % (_MOD + 1)) % _MOD
    return np.array(list(ALPHABET))[idx]


def make_codes(invoice_nos: pd.Series, line_nos: pd.Series) -> pd.Series:
    """Line codes for whole columns at once; equal to `make_code` row by row."""
    stems = invoice_nos.astype("string") + "-" + line_nos.astype("int64").astype("string").str.zfill(3)
    return append_check(stems)


def append_check(stems: pd.Series) -> pd.Series:
    """Each stem followed by its check character (vectorised `stem + check_char(stem)`)."""
    bodies = canonical_series(stems).fillna("")
    return (stems.astype("string") + check_chars(bodies)).astype("string")


def canonical_series(codes: pd.Series) -> pd.Series:
    """`canonical` for a whole column; missing stays missing."""
    s = codes.astype("string")
    if not _all_ascii(s):  # NFKC leaves ASCII text as it is
        s = s.str.normalize("NFKC")
    return s.str.upper().str.replace(r"[^0-9A-Z]", "", regex=True)


def _all_ascii(s: pd.Series) -> bool:
    if getattr(s.dtype, "storage", None) != "pyarrow":
        return False
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.chunked_array(s.array._pa_array) if hasattr(s.array, "_pa_array") else None
    if arr is None:
        return False
    return bool(pc.all(pc.or_kleene(pc.string_is_ascii(arr), pc.is_null(arr))).as_py() is not False)


def explain(code: str, known: set[str] | None = None) -> str:
    """A plain sentence saying whether `code` is a valid line code, and why not.

    `known` is an optional set of canonical codes; a valid code not in it is
    reported as unknown.
    """
    body = canonical(code)
    if len(body) < 2:
        return f"'{code}' is too short to be a line code."
    if not is_valid(code):
        right = check_char(body[:-1])
        return (f"'{code}' is not a valid line code: its check character is '{body[-1]}' but "
                f"'{right}' was expected. A character was probably mistyped or two were swapped.")
    if known is not None and body not in known:
        return f"'{code}' has a valid check character but names no invoice line in this data."
    return f"'{code}' is a valid line code."
