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
import pyarrow as pa
import pyarrow.compute as pc

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


def _arrow_text(values: pd.Series | pa.Array | pa.ChunkedArray) -> pa.LargeStringArray:
    """Text as one contiguous Arrow large_string array (zero-copy for Arrow-backed pandas strings)."""
    arr = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    return arr


def byte_matrix(values: pd.Series | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Each string's UTF-8 bytes as a fixed-width uint8 matrix (width = longest, 0-padded).

    Returns (matrix of shape (width, n): row j holds every string's j-th byte, lengths in bytes).
    Built from Arrow's offsets and data buffers: one gather per byte position, no Python per string.
    Missing values have length 0.
    """
    arr = _arrow_text(values)
    n = len(arr)
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[arr.offset: arr.offset + n + 1] if n else \
        np.zeros(1, dtype=np.int64)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None and data_buf.size else \
        np.zeros(1, dtype=np.uint8)
    starts, lengths = offsets[:-1], np.diff(offsets)
    width = int(lengths.max()) if n else 0
    matrix = np.zeros((width, n), dtype=np.uint8)
    last = len(data) - 1
    for j in range(width):
        has = lengths > j
        matrix[j] = np.where(has, data[np.minimum(starts + j, last)], 0)
    return matrix, lengths


_FNV_OFFSET, _FNV_PRIME = np.uint64(14695981039346656037), np.uint64(1099511628211)


def all_distinct(values: pd.Series) -> bool:
    """Whether no two non-missing values of a string column are equal (`not values.dropna().duplicated().any()`).

    A 64-bit FNV-1a hash of each value's bytes over the byte matrix, sorted once: distinct
    hashes prove distinct values; only when two hashes collide does the exact pandas check run.
    """
    present = values.dropna()
    matrix, lengths = byte_matrix(present)
    h = np.full(len(present), _FNV_OFFSET, dtype=np.uint64) ^ lengths.astype(np.uint64)
    with np.errstate(over="ignore"):
        for row in matrix:
            h = (h ^ row) * _FNV_PRIME
    h.sort()
    if not (h[1:] == h[:-1]).any():
        return True
    return not present.duplicated().any()


# Character values of MOD 37,36 by byte: '0'..'9' -> 0..9, 'A'..'Z' -> 10..35; other bytes
# as the original per-character formula gave them (negative = skipped); padding (0) skipped.
_BYTE_VALUE = np.where(np.arange(256) >= 65, np.arange(256) - 55, np.arange(256) - 48).astype(np.int16)
_BYTE_VALUE[0] = -1
# ((check or 36) * 2) % 37 for check = 0..35: the doubling step as a lookup.
_DOUBLE = np.array([((c or _MOD) * 2) % (_MOD + 1) for c in range(_MOD)], dtype=np.int16)


def check_chars(bodies: pd.Series) -> np.ndarray:
    """Vectorised check characters for canonical bodies (A-Z, 0-9), as an array of 1-char strings.

    ISO 7064 MOD 37,36 over the fixed-width byte matrix of the bodies (`byte_matrix`): one
    numpy pass per character position. Equal to `check_char` row by row.
    """
    if len(bodies) == 0:
        return np.array([], dtype="<U1")
    arr = _arrow_text(pd.Series(bodies, dtype="string") if not isinstance(bodies, pd.Series) else bodies)
    if pc.all(pc.string_is_ascii(arr)).as_py() is False:
        return _check_chars_unicode(bodies)
    matrix, _ = byte_matrix(arr)
    check = np.full(len(arr), _MOD // 2, dtype=np.int16)
    for row in matrix:
        value = _BYTE_VALUE[row]
        check = np.where(value >= 0, (_DOUBLE[check] + value) % _MOD, check)
    idx = (1 - _DOUBLE[check]) % _MOD
    return _ALPHABET_CHARS[idx]


_ALPHABET_CHARS = np.array(list(ALPHABET))


def _check_chars_unicode(bodies: pd.Series) -> np.ndarray:
    """`check_chars` by code point, for bodies that are not plain ASCII (never canonical ones)."""
    arr = pd.Series(bodies).to_numpy(dtype=str)
    width = max(int(np.char.str_len(arr).max()), 1)
    chars = arr.astype(f"<U{width}").view("<U1").reshape(len(arr), width)
    codes = np.frombuffer(chars.tobytes(), dtype=np.uint32).reshape(len(arr), width)
    values = np.where(codes >= 65, codes.astype(np.int64) - 55, codes.astype(np.int64) - 48)
    values = np.where(codes == 0, -1, values)
    check = np.full(len(arr), _MOD // 2, dtype=np.int64)
    for j in range(width):
        v = values[:, j]
        stepped = (np.where(check == 0, _MOD, check) * 2 % (_MOD + 1) + v) % _MOD
        check = np.where(v >= 0, stepped, check)
    idx = (1 - (np.where(check == 0, _MOD, check) * 2) % (_MOD + 1)) % _MOD
    return _ALPHABET_CHARS[idx]


def make_codes(invoice_nos: pd.Series, line_nos: pd.Series) -> pd.Series:
    """Line codes for whole columns at once; equal to `make_code` row by row."""
    stems = invoice_nos.astype("string") + "-" + line_nos.astype("int64").astype("string").str.zfill(3)
    return append_check(stems)


def append_check(stems: pd.Series) -> pd.Series:
    """Each stem followed by its check character (vectorised `stem + check_char(stem)`)."""
    bodies = canonical_series(stems).fillna("")
    return (stems.astype("string") + check_chars(bodies)).astype("string")


def canonical_series(codes: pd.Series) -> pd.Series:
    """`canonical` for a whole column; missing stays missing (pandas "string" dtype)."""
    s = codes.astype("string")
    return pd.Series(pd.arrays.ArrowStringArray(canonical_arrow(s)), index=s.index).astype("string")


def canonical_arrow(values: pd.Series | pa.Array | pa.ChunkedArray) -> pa.LargeStringArray:
    """`canonical` of a whole column as Arrow (missing stays missing).

    ASCII values (NFKC leaves them alone) are upper-cased and stripped of "-" in Arrow
    kernels; only those with other separators take a regex, and only non-ASCII values
    (rare) are NFKC-normalised first.
    """
    arr = _arrow_text(values)
    if len(arr) == 0:
        return arr
    ascii_ = pc.string_is_ascii(arr)
    upper = pc.ascii_upper(arr)
    out = pc.replace_substring(upper, "-", "")
    messy = np.asarray(pc.fill_null(pc.and_(ascii_, pc.invert(pc.ascii_is_alnum(out))), False), dtype=bool)
    if messy.any():
        fixed = pc.replace_substring_regex(upper.filter(pa.array(messy)), r"[^0-9A-Z]", "")
        out = pc.replace_with_mask(out, pa.array(messy), fixed)
    other = np.asarray(pc.fill_null(pc.invert(ascii_), False), dtype=bool)
    if other.any():  # NFKC, then Arrow's upper case (which, unlike str.upper, keeps "ß" one letter)
        odd = pd.Series(pd.arrays.ArrowStringArray(arr.filter(pa.array(other)))).astype("string")
        fixed = odd.str.normalize("NFKC").str.upper().str.replace(r"[^0-9A-Z]", "", regex=True)
        out = pc.replace_with_mask(out, pa.array(other), _arrow_text(fixed))
    return out


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
