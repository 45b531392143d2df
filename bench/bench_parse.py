"""Benchmark: vectorised money/date parsing vs naive per-cell Python loops.

Run:  .venv/bin/python bench/bench_parse.py [rows] [repeats]
Prints seconds and rows/s for billing.money.parse_money and
billing.dates.parse_dates on `rows` (default 1,000,000) generated cells, and
speed ratios against per-cell Python loops on 100k cells, measured in the
same run. Each timing is the best of `repeats` (default 3) runs, to damp
noise from other processes on a shared machine. Not a test: nothing is
asserted on time.

Money has two baselines:
  * "same rules": a per-cell loop applying parse_money's rules (normalise,
    split, signs, currency token check, column separator vote, grouping
    check, Decimal with no rounding) - the like-for-like comparison;
  * "minimal": regex + Decimal for US style only (no separator detection, no
    currency check) - a floor for what any per-cell loop costs.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import sys
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from billing import money as _m  # noqa: E402
from billing.dates import parse_dates  # noqa: E402
from billing.money import minor_digits, parse_money  # noqa: E402

NAIVE_ROWS = 100_000


def money_cells(n: int, rng: np.random.Generator) -> pd.Series:
    """US-style text amounts in assorted spreadsheet styles."""
    cents = rng.integers(-10**9, 10**9, n)
    styles = rng.integers(0, 6, n)
    out = []
    for c, s in zip(cents.tolist(), styles.tolist()):
        a = abs(c)
        body = f"{a // 100:,}.{a % 100:02d}"
        if s == 0:
            out.append(f"{c / 100:.2f}")
        elif s == 1:
            out.append(f"${body}" if c >= 0 else f"(${body})")
        elif s == 2:
            out.append(f"{'-' if c < 0 else ''}{body} USD")
        elif s == 3:
            out.append(f"{body}-" if c < 0 else body)
        elif s == 4:
            out.append(f"USD {'-' if c < 0 else ''}{a // 100}.{a % 100:02d}")
        else:
            out.append(f"{'-' if c < 0 else ''}{a // 100}.{a % 100:02d}")
    return pd.Series(out, dtype=object)


def date_cells(n: int, rng: np.random.Generator) -> pd.Series:
    days = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 4000, n), unit="D")
    fmts = ["%Y-%m-%d", "%d/%m/%Y", "%Y-%m-%d %H:%M", "%d %b %Y", "%Y.%m.%d."]
    pick = rng.integers(0, len(fmts), n)
    parts = [pd.Series(days.strftime(f)) for f in fmts]
    out = parts[0].copy()
    for i, p in enumerate(parts[1:], 1):
        out[pick == i] = p[pick == i]
    return out.astype(object)


_NAIVE_MONEY = re.compile(r"^\(?\s*(?:USD|\$)?\s*(-?)([\d,]+(?:\.\d+)?)\s*(-?)\s*(?:USD)?\s*\)?$")


def naive_money_minimal(cells: pd.Series) -> list:
    """Per-cell loop: regex + Decimal + try/except (US style only)."""
    out = []
    for v in cells:
        try:
            s = str(v).strip()
            m = _NAIVE_MONEY.match(s)
            if not m:
                raise ValueError("is not a number")
            d = Decimal(m.group(2).replace(",", "")) * 100
            if d != d.to_integral_value():
                raise ValueError("too many decimals")
            neg = bool(m.group(1) or m.group(3) or s.startswith("("))
            out.append(-int(d) if neg else int(d))
        except (ValueError, InvalidOperation):
            out.append(None)
    return out


_R_SPLIT = re.compile(r"^([^0-9]*)([0-9](?:[0-9.,' ]*[0-9])?)((?:[eE][+-]?[0-9]{1,4})?)([^0-9]*)$")
_R_PRE = re.compile(rf"(?i)^[-+(]*({_m._TOKEN_RE})?[-+(]*$")
_R_POST = re.compile(rf"(?i)^[-)]*({_m._TOKEN_RE})?[-)]*$")
_R_VALID = {k: re.compile(v) for k, v in _m._VALID.items()}
_R_AMB = {k: re.compile(v) for k, v in _m._AMBIGUOUS.items()}


def naive_money_same_rules(cells: pd.Series, currency: str) -> list:
    """Per-cell loop with parse_money's rules, two passes (vote, then parse)."""
    digits = minor_digits(currency)
    rows, votes = [], {".": 0, ",": 0}
    for v in cells:  # pass 1: split, signs, token, vote
        if v is None or (isinstance(v, float) and math.isnan(v)):
            rows.append(None)
            continue
        s = str(v)
        for ch in _m._SPACE_CHARS:
            s = s.replace(ch, " ")
        s = s.strip()
        m = _R_SPLIT.match(s)
        if not m:
            rows.append("is not a number")
            continue
        pre, num, exp, post = m.groups()
        pre, post = pre.replace(" ", ""), post.replace(" ", "")
        mp, mq = _R_PRE.match(pre), _R_POST.match(post)
        if not (mp and mq):
            rows.append("is not a number")
            continue
        bad_token = False
        for tok in (mp.group(1), mq.group(1)):
            if tok:
                allowed = _m._SYMBOLS.get(tok.upper()) or {tok.upper()}
                bad_token |= currency not in allowed
        opens, closes = pre.count("("), post.count(")")
        negs = opens + pre.count("-") + post.count("-")
        if bad_token or opens != closes or opens > 1 or negs + pre.count("+") > 1:
            rows.append("bad sign or currency")
            continue
        if "." in num and "," in num:
            vote = "." if num.rfind(".") > num.rfind(",") else ","
        elif "." in num or "," in num:
            sep = "." if "." in num else ","
            other = "," if sep == "." else "."
            vote = other if num.count(sep) > 1 else ("" if _R_AMB[sep].fullmatch(num) else sep)
        else:
            vote = ""
        if vote:
            votes[vote] += 1
        rows.append((num, exp, negs == 1, vote))
    dec = "," if votes[","] > votes["."] else "."
    out = []
    for r in rows:  # pass 2: check grouping, convert exactly
        if not isinstance(r, tuple):
            out.append(None)
            continue
        num, exp, neg, vote = r
        try:
            if vote and vote != dec:
                raise ValueError("mixes decimal separators")
            if not _R_VALID[dec].fullmatch(num):
                raise ValueError("has irregular digit grouping")
            plain = num.replace(" ", "").replace("'", "").replace("," if dec == "." else ".", "")
            value = Decimal(plain.replace(",", ".") + exp).scaleb(digits)
            if value != value.to_integral_value() or abs(value) >= 10**18:
                raise ValueError("too many decimals or too large")
            out.append(-int(value) if neg else int(value))
        except (ValueError, InvalidOperation):
            out.append(None)
    return out


_NAIVE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%Y-%m-%d %H:%M", "%d %b %Y", "%Y.%m.%d."]


def naive_dates(cells: pd.Series) -> list:
    """Per-cell loop: try each strptime format with try/except."""
    out = []
    for v in cells:
        for f in _NAIVE_FORMATS:
            try:
                out.append(dt.datetime.strptime(v, f).date())
                break
            except ValueError:
                continue
        else:
            out.append(None)
    return out


def timed(fn, *args, repeats: int = 1):
    """(result, best wall time in seconds over `repeats` runs)."""
    best, res = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return res, best


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    rng = np.random.default_rng(42)
    money = money_cells(n, rng)
    floats = pd.Series(rng.integers(-10**9, 10**9, n) / 100)
    dates = date_cells(n, rng)
    k = min(NAIVE_ROWS, n)

    print(f"rows: {n:,} vectorised, {k:,} per-cell loops; best of {repeats}")
    cases = (
        ("money text", parse_money, (money, "USD"), [
            ("same rules", naive_money_same_rules, (money.iloc[:k], "USD")),
            ("minimal", naive_money_minimal, (money.iloc[:k],)),
        ]),
        ("money floats", parse_money, (floats, "USD"), []),
        ("dates text", parse_dates, (dates,), [("strptime", naive_dates, (dates.iloc[:k],))]),
    )
    for name, fn, args, baselines in cases:
        res, secs = timed(fn, *args, repeats=repeats)
        errors = int(res.error.notna().sum())
        print(f"{name:13s} vectorised: {secs:6.2f} s {n / secs:12,.0f} rows/s  (errors={errors})")
        for label, nfn, nargs in baselines:
            _, nsecs = timed(nfn, *nargs, repeats=repeats)
            rate = k / nsecs
            ratio = n / secs / rate
            print(f"{'':13s} loop {label:10s}: {rate:12,.0f} rows/s  -> vectorised is {ratio:5.1f}x")


if __name__ == "__main__":
    main()
