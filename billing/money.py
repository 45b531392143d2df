"""Exact money: parsing spreadsheet cells to integer minor units, and formatting back.

Money in Linewise is an integer count of the currency's *minor units* (cents for
USD/EUR, yen for JPY, fils for BHD: 10**digits minor units make one major unit,
digits per ISO 4217 as Babel knows it). Nothing here ever produces a float
amount: parsing is done on decimal strings and integers only.

Parsing is vectorised: every step is a whole-column pandas string operation
(regex fullmatch/replace, which run in pyarrow's C++ engine for pandas' default
string dtype) or numpy arithmetic. Python-level loops only ever run over the
*distinct* currency codes or currency tokens, never over cells.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from billing.cells import K_BLANK as _K_BLANK, K_DT, K_STR, cell_kinds, string_series, text_cells
from billing.cells import K_NUM as _K_NUM, K_OTHER as _K_OTHER
from babel.numbers import get_currency_precision, list_currencies

__all__ = [
    "MoneyParse",
    "format_minor",
    "format_minor_series",
    "minor_digits",
    "minor_digits_series",
    "parse_money",
    "single_currency_symbols",
]

_DEFAULT_DIGITS = 2
# Any integer of at most 18 decimal digits fits int64 (10**18 < 2**63).
_MAX_SIG = 18
_POW10 = np.array([10**k for k in range(_MAX_SIG + 1)], dtype=np.int64)


# --------------------------------------------------------------------------
# Minor-unit digits
# --------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _digits_for_code(code: str) -> int:
    # Babel answers its DEFAULT (2) for codes it does not know.
    return int(get_currency_precision(code))


def minor_digits(currency: str) -> int:
    """Number of minor-unit digits of an ISO 4217 currency (USD 2, JPY 0, BHD 3).

    Taken from Babel's CLDR data (so HUF is 2, as Babel says). Case and
    surrounding spaces are ignored; an unknown, blank or non-string code is 2.
    """
    if not isinstance(currency, str) or not currency.strip():
        return _DEFAULT_DIGITS
    return _digits_for_code(currency.strip().upper())


def _normalise_codes(currencies: pd.Series | str, n: int) -> np.ndarray:
    """Currency codes per row as an object array of upper-case str or None."""
    if isinstance(currencies, str) or currencies is None:
        code = currencies.strip().upper() if isinstance(currencies, str) else ""
        return np.full(n, code or None, dtype=object)
    cur = pd.Series(currencies)
    if len(cur) != n:
        raise ValueError(f"currencies has {len(cur)} rows, values has {n}")
    return _codes_and_digits(cur)[0]


def _codes_and_digits(cur: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(upper-case code or None, minor digits) per row, from one factorize of the column."""
    if isinstance(cur.dtype, pd.CategoricalDtype) or cur.dtype == object:
        cur = pd.Series(cur.to_numpy(dtype=object))
    idx, uniques = pd.factorize(cur, use_na_sentinel=True)
    # Normalise only the distinct codes (a handful), then broadcast by code.
    norm = [u.strip().upper() or None if isinstance(u, str) else None for u in uniques]
    codes = np.array(norm + [None], dtype=object)
    digits = np.array([minor_digits(u) for u in norm] + [_DEFAULT_DIGITS], dtype=np.int64)
    return codes[idx], digits[idx]


def minor_digits_series(currencies: pd.Series) -> np.ndarray:
    """Minor-unit digits per row (int64 ndarray, same length, aligned by position).

    Missing or unknown codes give 2, like :func:`minor_digits`.
    """
    return _codes_and_digits(pd.Series(currencies))[1]


# --------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------


def format_minor(minor: int, currency: str) -> str:
    """Exact decimal string in major units: 123450 USD -> "1234.50", -5 -> "-0.05",
    1234 JPY -> "1234", 1234 BHD -> "1.234". No grouping, "." as decimal point."""
    d = minor_digits(currency)
    minor = int(minor)
    sign = "-" if minor < 0 else ""
    body = str(abs(minor)).rjust(d + 1, "0")
    return f"{sign}{body[:-d]}.{body[-d:]}" if d else f"{sign}{body}"


def format_minor_series(minor: pd.Series, currencies: pd.Series | str) -> pd.Series:
    """Vectorised :func:`format_minor`: a "string" Series, <NA> where minor is missing.

    `currencies` is a Series aligned by position, or one code for every row.
    Built in Arrow kernels (digits as text, zero-padded, the point inserted per minor-digit
    count), no Python object per row.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    m = pd.Series(minor)
    n = len(m)
    na = m.isna().to_numpy()
    vals = m.to_numpy(dtype=np.int64, na_value=0)
    digits = (
        np.full(n, minor_digits(currencies), dtype=np.int64)
        if isinstance(currencies, str)
        else minor_digits_series(currencies)
    )
    text = pa.array(np.abs(vals)).cast(pa.large_string())
    for d in np.unique(digits):
        d = int(d)
        if d == 0:
            continue
        sel = pa.array(digits == d)
        body = pc.utf8_lpad(text.filter(sel), d + 1, "0")
        point = pc.binary_join_element_wise(pc.utf8_slice_codeunits(body, 0, -d), pc.utf8_slice_codeunits(body, -d),
                                            pa.scalar(".", pa.large_string()))
        text = pc.replace_with_mask(text, sel, point)
    minus = pa.scalar("-", pa.large_string())
    text = pc.if_else(pa.array(vals < 0), pc.binary_join_element_wise(minus, text, pa.scalar("", pa.large_string())),
                      text)
    text = pc.if_else(pa.array(na), pa.scalar(None, pa.large_string()), text)
    return pd.Series(pd.arrays.ArrowStringArray(text), index=m.index, dtype="string")


# --------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MoneyParse:
    """Result of :func:`parse_money`, every Series aligned with the input.

    minor:   Int64, the amount in minor units of the row's currency; <NA> where
             the cell is blank or has an error.
    error:   "string", <NA> where the cell parsed (or is blank); otherwise a plain
             English predicate about the value, e.g. "is not a number", to be
             prefixed by the caller with the cell and value.
    decimal: "." or ",", the decimal separator used for the column's text cells
             (numbers from Excel always use ".").
    blank:   bool, True for missing / empty / whitespace-only cells (minor and
             error are both <NA> there; the caller decides if blank is allowed).
    """

    minor: pd.Series
    error: pd.Series
    decimal: str
    blank: pd.Series


_DOLLARS = frozenset(
    "USD CAD AUD NZD HKD SGD TWD MXN ARS CLP COP UYU CUP DOP BSD BBD BZD BMD BND "
    "KYD XCD FJD GYD JMD LRD NAD SBD SRD TTD ZWL TVD KID".split()
)
# Currency symbols and informal tokens -> the codes they may stand for.
# Keys are upper case: the cell's affix is upper-cased before lookup.
_SYMBOLS: dict[str, frozenset[str]] = {
    "$": _DOLLARS,
    "US$": frozenset({"USD"}),
    "U$S": frozenset({"USD"}),
    "C$": frozenset({"CAD", "NIO"}),
    "CA$": frozenset({"CAD"}),
    "A$": frozenset({"AUD"}),
    "AU$": frozenset({"AUD"}),
    "NZ$": frozenset({"NZD"}),
    "HK$": frozenset({"HKD"}),
    "S$": frozenset({"SGD"}),
    "NT$": frozenset({"TWD"}),
    "MX$": frozenset({"MXN"}),
    "R$": frozenset({"BRL"}),
    "€": frozenset({"EUR"}),
    "£": frozenset({"GBP", "GIP", "FKP", "SHP", "JEP", "GGP", "IMP"}),
    "¥": frozenset({"JPY", "CNY"}),
    "￥": frozenset({"JPY", "CNY"}),
    "円": frozenset({"JPY"}),
    "元": frozenset({"CNY"}),
    "RMB": frozenset({"CNY"}),
    "FT": frozenset({"HUF"}),
    "FT.": frozenset({"HUF"}),
    "₹": frozenset({"INR"}),
    "RS": frozenset({"INR", "PKR", "LKR", "NPR"}),
    "RS.": frozenset({"INR", "PKR", "LKR", "NPR"}),
    "₩": frozenset({"KRW"}),
    "₪": frozenset({"ILS"}),
    "₫": frozenset({"VND"}),
    "₺": frozenset({"TRY"}),
    "฿": frozenset({"THB"}),
    "₱": frozenset({"PHP"}),
    "₽": frozenset({"RUB"}),
    "₴": frozenset({"UAH"}),
    "₦": frozenset({"NGN"}),
    "ZŁ": frozenset({"PLN"}),
    "KČ": frozenset({"CZK"}),
    "KR": frozenset({"SEK", "NOK", "DKK", "ISK"}),
    "KR.": frozenset({"SEK", "NOK", "DKK", "ISK"}),
    "ЛВ": frozenset({"BGN"}),
}
_ISO_CODES = frozenset(list_currencies())


def single_currency_symbols() -> dict[str, str]:
    """Symbols of the table above that stand for exactly one currency ("₱" -> "PHP", "€" -> "EUR"):
    what a currency column may hold instead of the ISO code."""
    return {sym: next(iter(codes)) for sym, codes in _SYMBOLS.items() if len(codes) == 1}
# Longest first so "US$" wins over "$" inside the alternation.
_TOKEN_RE = "|".join(re.escape(k) for k in sorted(_SYMBOLS, key=len, reverse=True)) + "|[A-Z]{3}"

# Number body: starts and ends with a digit; between them only digits,
# separators and grouping marks (exponent handled apart).
_BODY = r"[0-9](?:[0-9.,' ]*[0-9])?"
# Fast path grammar for a whole cell: signs/brackets, one optional currency
# token, the body, then closing bracket / trailing minus / token.
_FAST = rf"(?i)[-+( ]*(?:{_TOKEN_RE})?[-+( ]*{_BODY}[-) ]*(?:{_TOKEN_RE})?[-) ]*"
# Characters str.strip() peels off around the number (fast path) and around
# the token. Digits, "." "," "'" are never affix characters here.
_AFFIX_CHARS = "".join(
    sorted(set(" ()+-" + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
               + "".join(k + k.lower() for k in _SYMBOLS)) - set(".,'0123456789"))
)  # fmt: skip
_NUM_CHARS = "0123456789.,'()+- "
# Slow path: whole-cell split into prefix / number / exponent / suffix.
_SPLIT = rf"^([^0-9]*)({_BODY})((?:[eE][+-]?[0-9]{{1,4}})?)([^0-9]*)$"
_PRE_OK = rf"(?i)[-+(]*(?:{_TOKEN_RE})?[-+(]*"
_POST_OK = rf"(?i)[-)]*(?:{_TOKEN_RE})?[-)]*"
_PRE_TOKEN = rf"(?i)^[-+(]*({_TOKEN_RE})?[-+(]*$"
_POST_TOKEN = rf"(?i)^[-)]*({_TOKEN_RE})?[-)]*$"

# Valid number bodies per decimal separator. Grouping: one mark used
# consistently, groups of 3 (or Indian lakh grouping 12,34,567 with ".").
_VALID = {
    ".": r"(?:[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+|[0-9]{1,3}(?: [0-9]{3})+|[0-9]{1,3}(?:'[0-9]{3})+"
    r"|[0-9]{1,2}(?:,[0-9]{2})+,[0-9]{3})(?:\.[0-9]+)?",
    ",": r"(?:[0-9]+|[0-9]{1,3}(?:\.[0-9]{3})+|[0-9]{1,3}(?: [0-9]{3})+|[0-9]{1,3}(?:'[0-9]{3})+)"
    r"(?:,[0-9]+)?",
}
_PLAIN = {".": r"[0-9]+(?:\.[0-9]+)?", ",": r"[0-9]+(?:,[0-9]+)?"}
_AMBIGUOUS = {".": r"[1-9][0-9]{0,2}\.[0-9]{3}", ",": r"[1-9][0-9]{0,2},[0-9]{3}"}

# Spaces that spreadsheets put in numbers (NBSP, narrow NBSP, thin, figure...).
_SPACE_CHARS = ("\u00a0", "\u202f", "\u2009", "\u2007", "\u2002", "\u2003", "\t")
_OTHER_CHARS = (("\u2212", "-"), ("\u2013", "-"), ("\u2019", "'"), ("\u02bc", "'"))
_EXOTIC = "[" + "".join(_SPACE_CHARS) + "".join(c for c, _ in _OTHER_CHARS) + "]"
_FULLWIDTH = str.maketrans(
    "０１２３４５６７８９．，－＋（）＄￡", "0123456789.,-+()$£"
)

def _cell_kinds(values: pd.Series) -> np.ndarray:
    """billing.cells.cell_kinds with dates counted as "other": a date is not money."""
    kinds = cell_kinds(values)
    kinds[kinds == K_DT] = _K_OTHER
    return kinds


def _normalise_text(s: pd.Series) -> pd.Series:
    """Unify exotic spaces, minus signs, apostrophes and full-width forms."""
    odd = s.str.contains(_EXOTIC, regex=True)
    if odd.any():  # literal replaces, on the few cells that need them
        sub = s[odd]
        for ch in _SPACE_CHARS:
            sub = sub.str.replace(ch, " ", regex=False)
        for ch, repl in _OTHER_CHARS:
            sub = sub.str.replace(ch, repl, regex=False)
        s = s.where(~odd, sub)
    wide = s.str.contains("[\uff01-\uff5e]", regex=True)
    if wide.any():
        s = s.where(~wide, s[wide].str.translate(_FULLWIDTH))
    return s.str.strip()


def _token_check(tokens: pd.Series, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For cells naming a currency (token as written): (known, matches) arrays.

    known:   the token is a currency symbol, alias or ISO code (or the row's own
             code).
    matches: the token may stand for the row's currency (always True where the
             row has no currency).
    Decided once per distinct (token, currency) pair, then broadcast.
    """
    t_idx, t_uni = pd.factorize(tokens.str.upper().to_numpy(dtype=object))
    c_idx, c_uni = pd.factorize(codes, use_na_sentinel=True)
    width = len(c_uni) + 1
    keys, inverse = np.unique(t_idx.astype(np.int64) * width + (c_idx + 1), return_inverse=True)
    known_u = np.zeros(len(keys), dtype=bool)
    match_u = np.zeros(len(keys), dtype=bool)
    for i, k in enumerate(keys.tolist()):
        tok = t_uni[k // width]
        code = c_uni[k % width - 1] if k % width else None
        allowed = _SYMBOLS.get(tok) or (frozenset({tok}) if tok in _ISO_CODES else None)
        known_u[i] = allowed is not None or tok == code
        match_u[i] = code is None or tok == code or (allowed is not None and code in allowed)
    return known_u[inverse], match_u[inverse]


def _first(err: np.ndarray, mask: np.ndarray, message) -> None:
    """Set `message` (str or per-row array) where `mask` and no earlier error."""
    mask = mask & pd.isna(err)
    if mask.any():
        err[mask] = message if isinstance(message, str) else np.asarray(message, dtype=object)[mask]


def _mismatch_message(tokens: pd.Series, codes: np.ndarray) -> np.ndarray:
    cur = pd.Series(codes).astype("str")
    return ("names " + tokens.reset_index(drop=True) + " but the row's currency is " + cur).to_numpy(
        dtype=object
    )


def _decimals_message(ndec: np.ndarray, codes: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """'has 3 decimals but EUR allows 2' for every row given."""
    nd = pd.Series(ndec).astype("str")
    plural = pd.Series(np.where(ndec == 1, "", "s"))
    cur = pd.Series(codes).fillna("the currency").astype("str")
    allows = pd.Series(np.where(digits == 0, "none", digits.astype(str)))
    msg = "has " + nd + " decimal" + plural + " but " + cur + " allows " + allows
    return msg.to_numpy(dtype=object)


def _signs(n_open, n_close, n_minus, n_plus) -> tuple[np.ndarray, np.ndarray]:
    """(negative, error) from counts of "(", ")", "-" and "+" around a number."""
    err = np.full(len(n_open), None, dtype=object)
    _first(err, (n_open != n_close) | (n_open > 1), "has unbalanced parentheses")
    negs = n_open + n_minus
    _first(err, negs + n_plus > 1, "has more than one sign")
    return negs == 1, err


def _split_fast(t: pd.Series, codes: np.ndarray):
    """Common shapes ("$1,234.50", "(1.234,50 €)", "12.50 USD", "1234.5-").

    Uses only str.strip, literal contains/counts and two fullmatches. Returns
    (handled, num, neg, err) for all rows; rows not handled go to _split_slow.
    """
    n = len(t)
    num = t.str.strip(_AFFIX_CHARS)
    body = num.str.fullmatch(_BODY).to_numpy(dtype=bool)
    bare = body & (num.str.len() == t.str.len()).to_numpy(dtype=bool)
    handled = bare.copy()
    cand = body & ~bare  # something around the number: check the grammar
    if cand.any():
        handled[cand] = t[cand].str.fullmatch(_FAST).to_numpy(dtype=bool)
    neg = np.zeros(n, dtype=bool)
    err = np.full(n, None, dtype=object)
    dressed = handled & ~bare
    if dressed.any():
        s = t[dressed]
        counts = []
        for ch in ("(", ")", "-", "+"):
            has = s.str.contains(ch, regex=False).to_numpy(dtype=bool)
            c = has.astype(np.int64)
            if has.any():  # count only where present: most cells have none
                c[has] = s[has].str.count(re.escape(ch)).to_numpy()
            counts.append(c)
        sub_neg, sub_err = _signs(*counts)  # sign errors first, as in _split_slow
        tok = s.str.strip(_NUM_CHARS)
        named = (tok.str.len() > 0).to_numpy(dtype=bool)
        if named.any():
            known, match = _token_check(tok[named], codes[dressed][named])
            # Unknown or two tokens ("$12 USD"): let the slow path decide.
            unknown = np.zeros(len(s), dtype=bool)
            unknown[named] = ~known
            wrong = np.zeros(len(s), dtype=bool)
            wrong[named] = known & ~match
            if wrong.any():
                msg = np.full(len(s), None, dtype=object)
                msg[wrong] = _mismatch_message(tok[wrong], codes[dressed][wrong])
                _first(sub_err, wrong, msg)
            handled[np.flatnonzero(dressed)[unknown]] = False
        neg[dressed] = sub_neg
        err[dressed] = sub_err
    return handled, num, neg, err


def _split_slow(t: pd.Series, codes: np.ndarray):
    """Any other shape, via a full regex split. Returns (num, exp, neg, err)."""
    n = len(t)
    err = np.full(n, None, dtype=object)
    neg = np.zeros(n, dtype=bool)
    ok = t.str.fullmatch(_SPLIT).to_numpy(dtype=bool)
    _first(err, ~ok, "is not a number")
    num = t.str.replace(_SPLIT, r"\2", regex=True).where(ok, "0")
    exp = t.str.replace(_SPLIT, r"\3", regex=True).where(ok, "")
    pre = t.str.replace(_SPLIT, r"\1", regex=True).where(ok, "").str.replace(" ", "", regex=False)
    post = t.str.replace(_SPLIT, r"\4", regex=True).where(ok, "").str.replace(" ", "", regex=False)
    good = ok & (pre.str.fullmatch(_PRE_OK) & post.str.fullmatch(_POST_OK)).to_numpy(dtype=bool)
    _first(err, ~good, "is not a number")
    counts = (
        pre.str.count(r"\(").to_numpy(),
        post.str.count(r"\)").to_numpy(),
        pre.str.count("-").to_numpy() + post.str.count("-").to_numpy(),
        pre.str.count(r"\+").to_numpy(),
    )
    neg, sign_err = _signs(*counts)
    _first(err, np.ones(n, dtype=bool), sign_err)
    for side, pattern in ((pre, _PRE_TOKEN), (post, _POST_TOKEN)):
        tok = side.str.replace(pattern, r"\1", regex=True)
        has = good & (tok.str.len() > 0).to_numpy(dtype=bool)
        if has.any():
            known, match = _token_check(tok[has], codes[has])
            unknown = np.zeros(n, dtype=bool)
            unknown[has] = ~known
            _first(err, unknown, "is not a number")
            wrong = np.zeros(n, dtype=bool)
            wrong[has] = ~match
            msg = np.full(n, None, dtype=object)
            if wrong.any():
                msg[wrong] = _mismatch_message(tok[wrong], codes[wrong])
            _first(err, wrong, msg)
    return num, exp, neg, err


def _to_int64(s: pd.Series) -> np.ndarray:
    """Digit strings (optional leading "-") -> writable int64 ndarray.

    Arrow-backed strings use Arrow's cast, ~10x faster than the generic path.
    """
    if getattr(s.dtype, "storage", None) == "pyarrow":
        return np.array(s.astype("int64[pyarrow]"), dtype=np.int64)
    return np.array(s.astype("int64"), dtype=np.int64)


def _digits_to_int(g: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Digit strings -> (trailing zeros, significant digits, mantissa).

    The digit string equals mantissa * 10**trailing (mantissa without trailing
    zeros, 0 for all zeros); the mantissa is only meaningful where
    significant digits <= 18. Strings of up to 18 digits convert straight to
    int64 and lose their trailing zeros in numpy; longer ones (rare) are
    trimmed as text first.
    """
    n = len(g)
    length = g.str.len().to_numpy()
    short = length <= _MAX_SIG
    mant = np.zeros(n, dtype=np.int64)
    trailing = np.zeros(n, dtype=np.int64)
    nsig = np.zeros(n, dtype=np.int64)
    if short.all():
        mant = _to_int64(g)
    elif short.any():
        mant[short] = _to_int64(g[short])
    if not short.all():
        lg = g[~short]
        stripped = lg.str.rstrip("0")
        sig = stripped.str.lstrip("0")
        trailing[~short] = (lg.str.len() - stripped.str.len()).to_numpy()
        ls = sig.str.len().to_numpy()
        nsig[~short] = ls
        fits = ls <= _MAX_SIG
        sub = np.zeros(len(lg), dtype=np.int64)
        sub[fits] = _to_int64(sig[fits].where(sig[fits].str.len() > 0, "0"))
        mant[~short] = sub
    # Trailing zeros of the short ones, a few numpy passes (stops when none left).
    zeros = short & (mant != 0) & (mant % 10 == 0)
    while zeros.any():
        mant = np.where(zeros, mant // 10, mant)
        trailing += zeros
        zeros = zeros & (mant % 10 == 0)
    nsig[short] = np.searchsorted(_POW10, mant[short], side="right")
    return trailing, nsig, mant


def _parse_text(
    text: pd.Series,
    codes: np.ndarray,
    digits: np.ndarray,
    decimal: str | None,
    from_numbers: bool = False,
    dot_votes: int = 0,
) -> tuple[np.ndarray, np.ndarray, str]:
    """Parse normalised, non-blank text cells.

    Returns (minor int64, error object array with None where ok, decimal used).
    `from_numbers` marks text made from numeric cells: always "." and no votes.
    `dot_votes` counts "." votes of the column's other cells (parsed by `_plain_decimals`).
    """
    n = len(text)
    t = text.reset_index(drop=True)
    minor = np.zeros(n, dtype=np.int64)

    # ".5", "-,5", "$.50": give the number a leading 0 so it starts with a digit.
    # Only after start/sign/space/bracket/symbol, so "Rs.50" stays 50 rupees.
    lead = t.str.contains(r"(?:^|[ (+\-$€£¥])[.,][0-9]", regex=True)
    if lead.any():
        fixed = t[lead].str.replace(r"(^|[ (+\-$€£¥])([.,][0-9])", "\\1\ue000\\2", regex=True)
        t = t.where(~lead, fixed.str.replace("\ue000", "0", regex=False))

    # ---- split into number, exponent, sign; check currency tokens ------------
    handled, num, neg, err = _split_fast(t, codes)
    exp = None
    slow = ~handled
    if slow.any():
        s_num, s_exp, s_neg, s_err = _split_slow(t[slow], codes[slow])
        num = num.where(~slow, pd.Series(s_num.to_numpy(), index=np.flatnonzero(slow)))
        exp = pd.Series("", index=t.index, dtype="str")
        exp[slow] = s_exp.to_numpy()
        neg[slow] = s_neg
        err[slow] = s_err
    ok = pd.isna(err)  # the number part is a candidate (errors so far are final)
    num = num.where(ok, "0")

    # ---- decimal separator ---------------------------------------------------
    has_dot = num.str.contains(".", regex=False).to_numpy(dtype=bool) & ok
    has_com = num.str.contains(",", regex=False).to_numpy(dtype=bool) & ok
    vote = np.full(n, "", dtype=object)
    if not from_numbers:
        both = has_dot & has_com
        if both.any():
            dot_last = num[both].str.fullmatch(r".*\.[0-9]*").to_numpy(dtype=bool)
            vote[both] = np.where(dot_last, ".", ",")
        for sep, other, has in ((".", ",", has_dot & ~has_com), (",", ".", has_com & ~has_dot)):
            if has.any():
                s = num[has]
                multi = (s.str.count(re.escape(sep)) > 1).to_numpy(dtype=bool)
                amb = s.str.fullmatch(_AMBIGUOUS[sep]).to_numpy(dtype=bool)
                vote[has] = np.where(multi, other, np.where(amb, "", sep))
    n_dot, n_com = int((vote == ".").sum()) + dot_votes, int((vote == ",").sum())
    if decimal is not None:
        dec = decimal
    else:
        dec = "," if n_com > n_dot else "."
    other = "," if dec == "." else "."
    mixes = vote == other
    if mixes.any():
        msg = np.full(n, None, dtype=object)
        msg[mixes] = (
            "mixes decimal separators: '" + num[mixes] + f"' has '{other}' as decimal separator "
            f"but this column uses '{dec}'"
        ).to_numpy(dtype=object)
        _first(err, mixes, msg)
    # No evidence at all and "." by default: '1.234' may be a European 1234;
    # accept it as a decimal only when the currency has 3+ minor digits.
    if decimal is None and n_dot == 0 and n_com == 0 and not from_numbers and has_dot.any():
        amb = has_dot & num.str.fullmatch(_AMBIGUOUS["."]).to_numpy(dtype=bool) & (digits < 3)
        if amb.any():
            sub = num[amb]
            alt_big = sub.str.replace(".", "", regex=False)
            msg = np.full(n, None, dtype=object)
            msg[amb] = (
                "is ambiguous: '" + sub + "' could be " + alt_big + " or " + sub
                + "; set the decimal separator for this source"
            ).to_numpy(dtype=object)
            _first(err, amb, msg)

    valid = num.str.fullmatch(_VALID[dec]).to_numpy(dtype=bool)
    if exp is not None:
        has_exp = (exp.str.len() > 0).to_numpy(dtype=bool)
        if has_exp.any():
            valid = valid & (~has_exp | num.str.fullmatch(_PLAIN[dec]).to_numpy(dtype=bool))
    _first(err, ok & ~valid, "has irregular digit grouping")

    # ---- digits -> integer ---------------------------------------------------
    good = pd.isna(err)
    if not good.any():
        return minor, err, dec
    g = num[good]
    pos = g.str.find(dec).to_numpy()
    length = g.str.len().to_numpy()
    frac = np.where(pos >= 0, length - pos - 1, 0)
    for ch in (",", ".", " ", "'"):
        if g.str.contains(ch, regex=False).any():
            g = g.str.replace(ch, "", regex=False)
    if exp is not None:
        e10 = exp[good].str.replace(r"[eE+]", "", regex=True)
        e10 = _to_int64(e10.where(e10.str.len() > 0, "0"))
    else:
        e10 = np.zeros(len(g), dtype=np.int64)
    trailing, nsig, mant = _digits_to_int(g)
    d = digits[good]
    scale = trailing + e10 - frac + d
    zero = nsig == 0
    too_many = ~zero & (scale < 0)
    too_big = ~zero & ~too_many & (nsig + scale > _MAX_SIG)
    sub_err = np.full(len(g), None, dtype=object)
    if too_many.any():
        msg = np.full(len(g), None, dtype=object)
        msg[too_many] = _decimals_message((frac - e10)[too_many], codes[good][too_many], d[too_many])
        _first(sub_err, too_many, msg)
    _first(sub_err, too_big, "is too large")
    fine = ~zero & ~too_many & ~too_big
    val = mant * _POW10[np.clip(scale, 0, _MAX_SIG)]
    val = np.where(fine, val, 0)
    minor[good] = np.where(neg[good], -val, val)
    err[good] = sub_err
    return minor, err, dec


# Text the fast path reads: an optional minus, at most 14 digits, and "." with 1 or 2 decimals.
# Such a cell needs no normalising, can only vote "." (never 3 decimals: not ambiguous) and
# never overflows (14 + 4 minor digits < 19).
_PLAIN_DECIMAL = r"^-?[0-9]{1,14}(?:\.[0-9]{1,2})?$"
_K_PLAIN = 5  # a cell kind local to parse_money: text already parsed by _plain_decimals


def _plain_decimals(values: pd.Series, is_str: np.ndarray, digits: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, int]:
    """The fast path: text cells of the `_PLAIN_DECIMAL` shape, parsed by Arrow in one cast.

    Returns (plain: bool per row, minor: int64 per row (0 elsewhere), number of "." votes).
    A cell with more decimals than its currency allows is left to the slow path (its message).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(values)
    plain = np.zeros(n, dtype=bool)
    minor = np.zeros(n, dtype=np.int64)
    if getattr(values.dtype, "storage", None) == "pyarrow":
        arr, pos = pa.array(values), None
    else:  # object cells (a workbook): only the text ones
        pos = np.flatnonzero(is_str)
        arr = pa.array(values.to_numpy(dtype=object)[pos], type=pa.large_string(), from_pandas=True)
    sel = np.asarray(pc.fill_null(pc.match_substring_regex(arr, _PLAIN_DECIMAL), False), dtype=bool)
    rows = np.flatnonzero(sel) if pos is None else pos[sel]  # missing cells never match
    text = arr.filter(pa.array(sel))
    dot = np.asarray(pc.find_substring(text, "."), dtype=np.int64)
    length = np.asarray(pc.binary_length(text), dtype=np.int64)
    decimals = np.where(dot >= 0, length - dot - 1, 0)
    fits = decimals <= digits[rows]
    whole = np.asarray(pc.cast(pc.replace_substring(text, ".", ""), pa.int64()), dtype=np.int64)
    rows, whole, decimals = rows[fits], whole[fits], decimals[fits]
    plain[rows] = True
    minor[rows] = whole * _POW10[digits[rows] - decimals]
    return plain, minor, int((dot[fits] >= 0).sum())


def _parse_text_cells(values: pd.Series, kinds: np.ndarray, codes: np.ndarray, digits: np.ndarray,
                      decimal: str | None, minor: np.ndarray, err: np.ndarray) -> str:
    """Text cells into `minor` / `err` (whitespace-only ones become K_BLANK); returns the decimal used.

    Plain decimals take the Arrow fast path; the rest go through `_parse_text`, which counts the
    plain cells' "." votes. Should the column still turn out to use ",", the plain cells "mix"
    separators and everything is parsed again on the slow path, which says so.
    """
    is_str = kinds == K_STR
    plain, plain_minor, votes = np.zeros(len(kinds), dtype=bool), None, 0
    if decimal != "," and is_str.any():
        plain, plain_minor, votes = _plain_decimals(values, is_str, digits)
    rest = kinds.copy()
    rest[plain] = _K_PLAIN
    used = decimal or "."
    text, keep = text_cells(values, rest, _normalise_text)
    if len(keep):
        m, e, used = _parse_text(text, codes[keep], digits[keep], decimal, dot_votes=votes)
        if used != "." and plain.any():
            text, keep = text_cells(values, kinds, _normalise_text)
            m, e, used = _parse_text(text, codes[keep], digits[keep], decimal)
            plain[:] = False
        minor[keep], err[keep] = m, e
    kinds[rest == _K_BLANK] = _K_BLANK
    if plain.any():
        minor[plain] = plain_minor[plain]
    return used


def _float_minor(x: np.ndarray, digits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact minor units for floats whose shortest decimal fits the currency.

    For |x| * 10**d < 2**52 a double's rounding interval is narrower than
    10**-d, so it holds at most one multiple v of 10**-d. y = rint(x * 10**d)
    finds it, and y / 10**d == x (a correctly rounded division) proves v is in
    the interval, hence v is x's shortest round-trip decimal and y is exact.
    Returns (minor, done); rows not done (too many decimals, float artefacts,
    huge or non-finite values) take the text path.
    """
    p = 10.0 ** digits
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = x * p
        fits = np.isfinite(scaled) & (np.abs(scaled) < 2.0**52)
        y = np.rint(np.where(fits, scaled, 0.0))
        done = fits & (y / p == x)
    return np.where(done, y, 0.0).astype(np.int64), done


def _numbers_to_text(nums: pd.Series, digits: np.ndarray) -> pd.Series:
    """Decimal text of numeric cells (object Series; `digits` per row).

    Ints and Decimals exactly; floats as their shortest round-trip repr. A
    float whose repr has more decimals than the currency allows *and* more
    than 15 significant digits (Excel keeps 15) is a binary artefact such as
    0.1 + 0.2 = 0.30000000000000004, shown by Excel as 0.3: it is written with
    15 significant digits instead, but only where those 15 digits reach at
    least one place past the minor unit (|x| < 10**(14 - digits)), so the
    rounding can never change a cent.
    """
    text = nums.astype("str")
    mant = text.str.replace(r"[eE].*$", "", regex=True).str.replace(r"[-+.]", "", regex=True)
    long = (mant.str.strip("0").str.len() > 15).to_numpy(dtype=bool)
    if long.any():
        sub = nums[long]
        is_float = sub.map(type).isin([float, np.float64, np.float32, np.float16]).to_numpy()
        f = sub.to_numpy(dtype=object)[is_float].astype(np.float64)
        small = np.abs(f) < 10.0 ** (14 - digits[long][is_float])
        idx = np.flatnonzero(long)[is_float][small]
        if len(idx):
            text.iloc[idx] = np.char.mod("%.15g", f[small])
    return text


def parse_money(
    values: pd.Series, currencies: pd.Series | str, decimal: str | None = None
) -> MoneyParse:
    """Parse raw spreadsheet cells into exact integer minor units.

    values:     cells as read: str, int, float (Excel), Decimal or missing.
    currencies: the row's ISO code (a Series aligned by position) or one code.
    decimal:    "." or "," to force the decimal separator of text cells;
                None detects it from the column.

    Accepted text: "1234.5", "$1,234.50", "1.234,50 €", "1 234,50" (also
    NBSP/narrow NBSP/thin space), "1'234.50", "12,34,567.00" (lakh), "(1,234.50)"
    (negative), "-1234.5", "1234.5-" (trailing minus), "+12", ".5", "1.5e3",
    a currency symbol ($ € £ ¥ ￥ 元 円 Ft kr zł Kč ₹ R$ US$ ...) or ISO code
    before or after the number, in any case, with or without spaces. A symbol
    or code that cannot stand for the row's currency is an error. Numbers from
    Excel: ints exactly, floats as their shortest decimal (15 significant
    digits at most, Excel's precision), so 0.1 is 10 cents. Exponents are
    exact ("1e-05" has 5 decimals; "1.5e+16" is 15000000000000000).

    More decimals than the currency allows is an error, never rounded; extra
    *zero* decimals are fine ("12.500" USD is 1250 when "." is the column's
    decimal separator). Results beyond 18 digits of minor units are errors.

    Decimal separator detection (decimal=None), over the column's text cells:
      * A cell votes "." or "," when its shape says so: both "." and "," in it
        (the last one is the decimal); one separator repeated ("1,234,567": it
        groups, the other is the decimal); one separator once followed by other
        than exactly 3 digits ("12,50", "1234.5"), or once after a leading 0,
        more than 3 digits or a space group ("0,125", "1234,567", "1 234,567").
      * Shapes 1-3 digits, separator, 3 digits ("1,234", "1.234") are ambiguous
        and do not vote.
      * The majority wins; a tie or no vote gives ".". Ambiguous cells are then
        read under the column's separator without error ("1,234" is 1234 with
        ".", 1.234 with ","). Cells that voted the other way are errors
        ("mixes decimal separators ...").
      * With no vote at all (and decimal not forced): "1,234" is read as 1234
        (comma grouping), but "1.234" (and "12.500") is an error "is ambiguous"
        unless the row's currency has 3+ minor digits (BHD: 1.234), because a
        European 1.234 (= 1234) would otherwise be misread silently.
    Numeric cells never vote and always use ".".

    Returns a :class:`MoneyParse`; its Series keep `values`' index.
    """
    if decimal not in (None, ".", ","):
        raise ValueError(f"decimal must be '.', ',' or None, not {decimal!r}")
    values = pd.Series(values)
    n = len(values)
    index = values.index
    if isinstance(currencies, str) or currencies is None:
        codes = _normalise_codes(currencies, n)
        digits = np.full(n, minor_digits(codes[0] if n else ""), dtype=np.int64)
    else:
        if len(currencies) != n:
            raise ValueError(f"currencies has {len(currencies)} rows, values has {n}")
        codes, digits = _codes_and_digits(pd.Series(currencies))
    kinds = _cell_kinds(values)
    minor = np.zeros(n, dtype=np.int64)
    err = np.full(n, None, dtype=object)
    used = _parse_text_cells(values, kinds, codes, digits, decimal, minor, err)

    # Numeric cells: ints exactly, floats via the exact float check, leftovers
    # (too many decimals, artefacts, huge) via their decimal text.
    is_num = kinds == _K_NUM
    if is_num.any():
        pos = np.flatnonzero(is_num)
        nums = values[is_num].reset_index(drop=True)
        if pd.api.types.is_signed_integer_dtype(nums.dtype) or nums.dtype in (np.uint8, np.uint16, np.uint32):
            v = nums.to_numpy(dtype=np.int64)
            d = digits[pos]
            # |v| < 10**(18-d) keeps v * 10**d below 10**18: no int64 overflow.
            lim = _POW10[_MAX_SIG - d]
            done = (v > -lim) & (v < lim)
            minor[pos[done]] = v[done] * _POW10[d[done]]
        elif pd.api.types.is_float_dtype(nums.dtype):
            fm, done = _float_minor(nums.to_numpy(dtype=np.float64), digits[pos])
            minor[pos[done]] = fm[done]
        else:
            done = np.zeros(len(pos), dtype=bool)
            is_float = nums.map(type).isin([float, np.float64, np.float32]).to_numpy()
            if is_float.any():
                fm, fdone = _float_minor(nums[is_float].to_numpy(dtype=np.float64), digits[pos][is_float])
                done[is_float] = fdone
                minor[pos[done]] = fm[fdone]
        left = pos[~done]
        if len(left):
            text = _numbers_to_text(nums[~done].reset_index(drop=True).astype(object), digits[left])
            text = pd.Series(text.to_numpy(dtype=object), dtype="str")
            m, e, _ = _parse_text(text, codes[left], digits[left], ".", from_numbers=True)
            minor[left], err[left] = m, e

    other = kinds == _K_OTHER
    err[other] = "is not a number"
    blank = kinds == _K_BLANK
    bad = blank | ~pd.isna(err)
    return MoneyParse(
        minor=pd.Series(pd.arrays.IntegerArray(minor, bad), index=index),
        error=string_series(err, index),
        decimal=used,
        blank=pd.Series(blank, index=index),
    )
