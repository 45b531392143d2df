"""Dates from spreadsheet cells: date objects, Excel serials and many text forms.

Results are calendar dates as datetime64[ns] at midnight (times are dropped).
Parsing is vectorised: text cells are sorted into format families with
whole-column regex matches, components are pulled out with regex replaces,
and dates are assembled by pandas/numpy from (year, month, day) columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from billing.cells import K_BLANK as _K_BLANK, K_DT as _K_DT, K_NUM as _K_NUM, cell_kinds, string_series, text_cells
from billing.cells import K_OTHER as _K_OTHER, K_STR as _K_STR

__all__ = ["DateParse", "parse_dates"]

ORDERS = ("dmy", "mdy", "ymd")

# Dates datetime64[ns] can hold, whole days only.
_MIN_DAY = np.datetime64("1677-09-22", "D")
_MAX_DAY = np.datetime64("2262-04-11", "D")
_MIN_YEAR, _MAX_YEAR = 1678, 2261
# Excel 1900 date system: serial 1 = 1900-01-01, 60 = the fictitious 1900-02-29
# (kept by Excel for Lotus 1-2-3 compatibility), 61 = 1900-03-01.
_EXCEL_EPOCH = np.datetime64("1899-12-30", "D")
_EXCEL_MAX_SERIAL = 2958465  # 9999-12-31
# Two-digit years: 00-68 -> 2000-2068, 69-99 -> 1969-1999 (POSIX strptime's pivot).
_PIVOT = 69


@dataclass(frozen=True, eq=False)
class DateParse:
    """Result of :func:`parse_dates`, every Series aligned with the input.

    dates: datetime64[ns] at midnight; NaT where blank or error.
    error: "string", <NA> where ok or blank; otherwise a plain English
           predicate such as "is not a real date", for the caller to prefix
           with the cell and value.
    order: how numeric day/month text was read: "dmy" or "mdy" (or a forced
           "ymd"); "ymd" when the column has no such text (only ISO and other
           year-first text, text months, serials or date objects).
    blank: bool, True for missing / empty / whitespace-only cells.
    """

    dates: pd.Series
    error: pd.Series
    order: str
    blank: pd.Series


_cell_kinds = cell_kinds


# ---- text formats ------------------------------------------------------------
# Patterns run on lower-cased, space-normalised text, anchored (fullmatch).
_D12 = "[0-9]{1,2}"
_Y = "(?:[0-9]{4}|[0-9]{2})"
_TIME = (
    r"(?:(?:t| +)(?:[01]?[0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:[.,][0-9]+)?)?"
    r"(?: ?[ap]\.?m\.?)?(?: ?(?:z|utc|gmt|[+-][0-9]{2}:?[0-9]{2}))?)?"
)
_MON = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_WD = r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,? )?"
_ORD = "(?:st|nd|rd|th)?"
_FAMILIES = {
    # 2024-03-05, 2024/3/5, 2024.03.05., 2024. 03. 05. (Hungarian), 2024年3月5日
    "ymd": rf"[0-9]{{4}}(?:-{_D12}-{_D12}|/{_D12}/{_D12}|\. ?{_D12}\. ?{_D12}\.?"
    rf"| ?[年년] ?{_D12} ?[月월] ?{_D12} ?[日号일]?){_TIME}",
    # 20240305
    "compact": r"[0-9]{8}",
    # 05/03/2024, 5/3/24, 05.03.2024, 05-03-2024: day/month order to decide
    "dm": rf"{_D12}(?:/{_D12}/{_Y}|-{_D12}-{_Y}|\. ?{_D12}\. ?{_Y}\.?){_TIME}",
    # 5 Mar 2024, 05-Mar-24, Tue, 5 March 2024
    "d_mon_y": rf"{_WD}{_D12}{_ORD}[ /.-]?{_MON}[ /.,-]*{_Y}{_TIME}",
    # Mar 5, 2024, March 5th 2024
    "mon_d_y": rf"{_WD}{_MON} ?{_D12}{_ORD}(?:, ?| ){_Y}{_TIME}",
    # 2024-Mar-05, 2024 March 5
    "y_mon_d": rf"[0-9]{{4}}[ /.-]?{_MON}[ /.-]?{_D12}{_TIME}",
    # 45356, 45356.5: an Excel serial typed or exported as text. A fraction
    # (the time) needs 5+ digits before it, so "5.3" or "05.03" is no serial.
    "serial": r"[1-9][0-9]{0,6}|[1-9][0-9]{4,6}[.,][0-9]+",
}
_RUNS3 = r"^[^0-9]*([0-9]+)[^0-9]+([0-9]+)[^0-9]+([0-9]+).*$"
_RUNS2 = r"^[^0-9]*([0-9]+)[^0-9]+([0-9]+).*$"
_MONTH_WORD = r"^.*?(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec).*$"
_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}

_SPACE_CHARS = ("\u00a0", "\u202f", "\u2009", "\u2007", "\u3000", "\t")
_FULLWIDTH = str.maketrans("０１２３４５６７８９．／－：", "0123456789./-:")


def _normalise_text(s: pd.Series) -> pd.Series:
    """Plain spaces, ASCII digits, lower case, single spaces, stripped."""
    odd = s.str.contains("[" + "".join(_SPACE_CHARS) + "]", regex=True)
    if odd.any():  # literal replaces, on the few cells that need them
        sub = s[odd]
        for ch in _SPACE_CHARS:
            sub = sub.str.replace(ch, " ", regex=False)
        s = s.where(~odd, sub)
    wide = s.str.contains("[\uff01-\uff5e]", regex=True)
    if wide.any():
        s = s.where(~wide, s[wide].str.translate(_FULLWIDTH))
    s = s.str.strip().str.lower()
    multi = s.str.contains("  ", regex=False)
    if multi.any():
        s = s.where(~multi, s[multi].str.replace(" +", " ", regex=True))
    return s


def _run(s: pd.Series, pattern: str, k: int) -> pd.Series:
    """The k-th captured group of `pattern` for every row (rows all match)."""
    return s.str.replace(pattern, rf"\{k}", regex=True)


def _to_int(s: pd.Series) -> np.ndarray:
    # Runs are at most a few digits here (checked by the family patterns).
    # Arrow-backed strings use Arrow's cast, ~10x faster than the generic path.
    if getattr(s.dtype, "storage", None) == "pyarrow":
        return np.array(s.astype("int64[pyarrow]"), dtype=np.int64)
    return np.array(s.astype("int64"), dtype=np.int64)


def _expand_year(y: np.ndarray, two_digit: np.ndarray) -> np.ndarray:
    return np.where(two_digit, np.where(y < _PIVOT, 2000 + y, 1900 + y), y)


def _assemble(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dates from components: (datetime64[ns] array, out_of_range, not_real)."""
    out_of_range = (y < _MIN_YEAR) | (y > _MAX_YEAR)
    comp = pd.DataFrame(
        {"year": np.where(out_of_range, 2000, y), "month": m, "day": d}
    )
    # errors="coerce": impossible dates (2024-02-30, month 13) become NaT.
    dates = pd.to_datetime(comp, errors="coerce").to_numpy().astype("datetime64[ns]")
    not_real = ~out_of_range & np.isnat(dates)
    dates[out_of_range | not_real] = np.datetime64("NaT")
    return dates, out_of_range, not_real


def _serial_dates(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Excel 1900-system serials (time fraction dropped) -> (dates, error)."""
    n = len(x)
    dates = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    err = np.full(n, None, dtype=object)
    with np.errstate(invalid="ignore"):
        day = np.floor(x)
    finite = np.isfinite(day)
    # 8-digit whole numbers are yyyymmdd (beyond any serial), e.g. 20240305.
    compact = finite & (day == x) & (day >= 10000101) & (day <= 99991231)
    serial = finite & ~compact & (day >= 1) & (day <= _EXCEL_MAX_SERIAL)
    err[~compact & ~serial] = "is not a date (Excel date numbers run from 1 to 2958465)"
    fake = serial & (day == 60)
    err[fake] = "is Excel day 60, the 29 Feb 1900 that never existed"
    ok = serial & ~fake
    di = np.where(ok, day, 61).astype(np.int64)
    # Serials before the fake leap day are one day further from the epoch.
    days = _EXCEL_EPOCH + np.where(di < 60, di + 1, di).astype("timedelta64[D]")
    in_range = days <= _MAX_DAY
    err[ok & ~in_range] = "is out of range (years 1678 to 2261)"
    good = ok & in_range
    dates[good] = days[good].astype("datetime64[ns]")
    if compact.any():
        c = day[compact].astype(np.int64)
        cd, oor, bad = _assemble(c // 10000, c // 100 % 100, c % 100)
        sub = np.full(len(c), None, dtype=object)
        sub[oor] = "is out of range (years 1678 to 2261)"
        sub[bad] = "is not a real date"
        dates[compact] = cd
        err[compact] = sub
    return dates, err


def _datetime_objects(sub: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """datetime/date/Timestamp cells -> (midnight dates, error)."""
    if pd.api.types.is_datetime64_any_dtype(sub.dtype):
        ts = sub
        if getattr(ts.dt, "tz", None) is not None:
            ts = ts.dt.tz_localize(None)  # keep the wall-clock date
    else:
        ts = pd.to_datetime(sub.to_numpy(dtype=object), errors="coerce")
        ts = pd.Series(ts)
        lost = ts.isna().to_numpy()
        if lost.any():
            # Time-zone-aware objects mixed with naive ones: keep each wall date.
            naive = sub[lost].map(lambda v: v.replace(tzinfo=None) if hasattr(v, "tzinfo") else v)
            ts[lost] = pd.to_datetime(naive.to_numpy(dtype=object), errors="coerce")
    day = ts.to_numpy().astype("datetime64[D]")
    err = np.full(len(sub), None, dtype=object)
    nat = np.isnat(day)
    err[nat] = "is not a date"
    oor = ~nat & ((day < _MIN_DAY) | (day > _MAX_DAY))
    err[oor] = "is out of range (years 1678 to 2261)"
    day[nat | oor] = np.datetime64("NaT")
    return day.astype("datetime64[ns]"), err


# Zero-padded fixed-width forms: components by position (cheap slices)
# instead of a regex replace per component.
_FIXED_YMD = r"[0-9]{4}[-/.][0-9]{2}[-/.][0-9]{2}(?:[^0-9]|$)"
_FIXED_DMY = r"[0-9]{2}[-/.][0-9]{2}[-/.][0-9]{4}(?:[^0-9]|$)"


def _three_numbers(s: pd.Series, fixed: str, *spans, last_len: bool = False):
    """The three numbers of date text: sliced where `fixed` matches, else the
    first three digit runs. With last_len, also the digit count of the third."""
    k = len(s)
    out = [np.zeros(k, dtype=np.int64) for _ in range(3)]
    third_len = np.zeros(k, dtype=np.int64)
    at = s.str.match(fixed).to_numpy(dtype=bool)
    if at.any():
        sub = s[at]
        for o, (a, b) in zip(out, spans):
            o[at] = _to_int(sub.str.slice(a, b))
        third_len[at] = spans[2][1] - spans[2][0]
    if not at.all():
        sub = s[~at]
        for i, o in enumerate(out, 1):
            run = _run(sub, _RUNS3, i)
            o[~at] = _to_int(run)
            if i == 3 and last_len:
                third_len[~at] = run.str.len().to_numpy()
    return (*out, third_len) if last_len else tuple(out)


def _parse_text(t: pd.Series, order: str,
                weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """Normalised non-empty text -> (dates, error, order used).

    `weights` (optional): how many cells each row of `t` stands for, so that the
    column's day/month vote can be taken over distinct values only.
    """
    n = len(t)
    w = np.ones(n, dtype=np.int64) if weights is None else np.asarray(weights, dtype=np.int64)
    t = t.reset_index(drop=True)
    y = np.zeros(n, dtype=np.int64)
    m = np.ones(n, dtype=np.int64)
    d = np.ones(n, dtype=np.int64)
    err = np.full(n, None, dtype=object)
    dates = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    # Families are disjoint: test each only on rows no earlier family took.
    fam = {}
    left = np.ones(n, dtype=bool)
    for k, p in _FAMILIES.items():
        hit = np.zeros(n, dtype=bool)
        if left.any():
            idx = np.flatnonzero(left)
            hit[idx] = t[left].str.fullmatch(p).to_numpy(dtype=bool)
            left &= ~hit
        fam[k] = hit
    comps = np.zeros(n, dtype=bool)  # rows with (y, m, d) to assemble

    sel = fam["ymd"]
    if sel.any():
        y[sel], m[sel], d[sel] = _three_numbers(t[sel], _FIXED_YMD, (0, 4), (5, 7), (8, 10))
        comps |= sel
    sel = fam["compact"]
    if sel.any():
        s = t[sel]
        y[sel], m[sel], d[sel] = (_to_int(s.str.slice(a, b)) for a, b in ((0, 4), (4, 6), (6, 8)))
        comps |= sel
    text_month = fam["d_mon_y"] | fam["mon_d_y"] | fam["y_mon_d"]
    if text_month.any():
        s = t[text_month]
        mon = _run(s, _MONTH_WORD, 1).map(_MONTHS).to_numpy(dtype=np.int64)
        r1, r2 = _run(s, _RUNS2, 1), _run(s, _RUNS2, 2)
        year_first = fam["y_mon_d"][text_month]
        yr = np.where(year_first, _to_int(r1), _to_int(r2))
        two = np.where(year_first, False, (r2.str.len() == 2).to_numpy())
        y[text_month] = _expand_year(yr, two)
        m[text_month] = mon
        d[text_month] = np.where(year_first, _to_int(r2), _to_int(r1))
        comps |= text_month

    # Numeric day/month text: decide the order over the whole column.
    sel = fam["dm"]
    used = order if order != "auto" else "ymd"
    if sel.any():
        s = t[sel]
        a, b, c, c_len = _three_numbers(s, _FIXED_DMY, (0, 2), (3, 5), (6, 10), last_len=True)
        c_two = c_len == 2
        ev_dmy = (a > 12) & (a <= 31) & (b >= 1) & (b <= 12)
        ev_mdy = (b > 12) & (b <= 31) & (a >= 1) & (a <= 12)
        if order == "auto":
            ws = w[sel]
            n_dmy, n_mdy = int(ws[ev_dmy].sum()), int(ws[ev_mdy].sum())
            if n_dmy != n_mdy:
                used = "dmy" if n_dmy > n_mdy else "mdy"
            else:  # no (or tied) evidence: "." separators are European
                dotted_rows = s.str.match(r"[0-9]{1,2}\.").to_numpy(dtype=bool)
                dotted = int(ws[dotted_rows].sum())  # "05.03.2024", not a time's "."
                used = "dmy" if 2 * dotted > int(ws.sum()) else "mdy"
        sub_err = np.full(len(s), None, dtype=object)
        if used == "ymd":
            yy, mm, dd = _expand_year(a, np.ones(len(s), dtype=bool)), b, c
            sub_err[~c_two] = "is not in year-month-day order"
        else:
            yy = _expand_year(c, c_two)
            mm, dd = (b, a) if used == "dmy" else (a, b)
            wrong = ev_mdy if used == "dmy" else ev_dmy
            sub_err[wrong] = (
                "is month-first (mm/dd/yyyy) but this column is day-first (dd/mm/yyyy)"
                if used == "dmy"
                else "is day-first (dd/mm/yyyy) but this column is month-first (mm/dd/yyyy)"
            )
        y[sel], m[sel], d[sel] = yy, mm, dd
        err[sel] = sub_err
        comps |= sel

    if comps.any():
        cd, oor, bad = _assemble(y[comps], m[comps], d[comps])
        sub_err = err[comps]
        free = pd.isna(sub_err)
        sub_err[free & oor] = "is out of range (years 1678 to 2261)"
        sub_err[free & bad] = "is not a real date"
        err[comps] = sub_err
        cd[~pd.isna(sub_err)] = np.datetime64("NaT")
        dates[comps] = cd

    sel = fam["serial"] & ~fam["compact"]
    if sel.any():
        x = t[sel].str.replace(",", ".", regex=False).astype("float64").to_numpy()
        dates[sel], err[sel] = _serial_dates(x)

    matched = np.logical_or.reduce(list(fam.values()))
    err[~matched] = "is not a date"
    return dates, err, used


def _parse_text_cells(values: pd.Series, is_str: np.ndarray, kinds: np.ndarray, order: str,
                      dates: np.ndarray, err: np.ndarray) -> str | None:
    """The text cells into `dates` / `err`, each distinct string normalised and parsed once.

    Dates repeat a lot (a million lines have a few hundred dates): the cells are factorized
    as read, the distinct strings go through `_normalise_text` and `_parse_text` (the column's
    day/month vote weighted by how many cells each stands for), and the results are mapped
    back. Whitespace-only cells become K_BLANK in `kinds`. Returns the order used (None: no text).
    """
    pos = np.flatnonzero(is_str)
    raw = values[is_str]
    if raw.dtype != "str":
        raw = pd.Series(raw.to_numpy(dtype=object), dtype="str")
    codes, uniques = pd.factorize(raw.reset_index(drop=True))
    distinct = pd.Series(np.asarray(uniques, dtype=object), dtype="str")
    ukinds = np.full(len(distinct), _K_STR, dtype=np.int8)
    text, keep = text_cells(distinct, ukinds, _normalise_text)
    if not len(keep):
        kinds[pos] = _K_BLANK
        return None
    u_dates = np.full(len(distinct), np.datetime64("NaT"), dtype="datetime64[ns]")
    u_err = np.full(len(distinct), None, dtype=object)
    counts = np.bincount(codes, minlength=len(distinct))
    u_dates[keep], u_err[keep], used = _parse_text(text, order, weights=counts[keep])
    dates[pos], err[pos] = u_dates[codes], u_err[codes]
    kinds[pos[ukinds[codes] == _K_BLANK]] = _K_BLANK
    return used


def parse_dates(values: pd.Series, order: str = "auto") -> DateParse:
    """Parse raw spreadsheet cells into calendar dates (datetime64[ns], midnight).

    values: cells as read: datetime / Timestamp / date objects, Excel serial
            numbers (int or float), text, or missing.
    order:  "auto" (detect), or force "dmy", "mdy" or "ymd" for numeric
            day/month text such as "05/03/2024".

    Accepted:
      * date objects (time and time zone dropped: the wall-clock date is kept);
      * Excel 1900-system serials 1..2958465 (1 = 1900-01-01; 60 is Excel's
        fictitious 1900-02-29 and is an error; the fraction, a time, is
        dropped), as numbers or as text ("45356"); 8-digit numbers or text
        are yyyymmdd ("20240305");
      * year-first text: ISO "2024-03-05", "2024-03-05T10:00:00[Z|+01:00]",
        "2024-03-05 10:00", "2024/3/5", Hungarian "2024.03.05." and
        "2024. 03. 05.", Chinese "2024年3月5日" (also Korean 년월일);
      * day/month text "05/03/2024", "5/3/24", "05.03.2024", "05-03-2024";
      * English month names: "5 Mar 2024", "05-Mar-24", "Mar 5, 2024",
        "March 5th 2024", "2024-Mar-05" (optional weekday in front).
    Two-digit years: 00-68 are 2000-2068, 69-99 are 1969-1999.

    Day/month order (numeric day/month text only), when order="auto":
      * a value whose first number is 13..31 (second <= 12) is evidence for
        day-first; a second number 13..31 (first <= 12) for month-first;
      * the majority of evidence wins; values with evidence for the losing
        order are errors ("is month-first ... but this column is day-first");
      * no evidence (or a tie): day-first if most of these values use "."
        separators (European "05.03.2024"), else month-first;
      * the reported order is "ymd" when the column has no day/month text.
    A forced order reads every day/month text that way; with "ymd" the
    first number is a two-digit year ("24/03/05"), and a four-digit last
    number is an error.

    Errors: "is not a date" (no known form), "is not a real date" (2024-02-30,
    month 13), "is out of range" (outside 1678..2261, datetime64[ns]'s span),
    the day-60 and order conflicts above. Series keep `values`' index.
    """
    if order not in ("auto", *ORDERS):
        raise ValueError(f"order must be 'auto', 'dmy', 'mdy' or 'ymd', not {order!r}")
    values = pd.Series(values)
    n = len(values)
    index = values.index
    kinds = _cell_kinds(values)
    dates = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    err = np.full(n, None, dtype=object)
    used = order if order != "auto" else "ymd"

    is_str = kinds == _K_STR
    if is_str.any():
        used = _parse_text_cells(values, is_str, kinds, order, dates, err) or used

    is_num = kinds == _K_NUM
    if is_num.any():
        x = values[is_num].to_numpy(dtype=np.float64)
        dates[is_num], err[is_num] = _serial_dates(x)

    is_dt = kinds == _K_DT
    if is_dt.any():
        dates[is_dt], err[is_dt] = _datetime_objects(values[is_dt])

    err[kinds == _K_OTHER] = "is not a date"
    blank = kinds == _K_BLANK
    return DateParse(
        dates=pd.Series(dates, index=index, dtype="datetime64[ns]"),
        error=string_series(err, index),
        order=used,
        blank=pd.Series(blank, index=index),
    )
