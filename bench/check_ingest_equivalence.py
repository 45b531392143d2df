"""Check that reading + normalising (connectors.load.load_dataset) gives exactly the output it gave before.

    cd /work/main && .venv/bin/python bench/check_ingest_equivalence.py [--save] [--big]

Not a test (it needs generated data). Compares, for each case, the Dataset's
tables, quarantine, counts, notes and sheet_map with a reference pickled under
bench/.cache/ingest_ref.pkl (written by --save, from the code as it is then):
same rows, same order, same dtypes (assert_frame_equal, check_dtype=True).

Cases: bench/.cache/report_csv_100000_30000 (and the 1M folder with --big);
every builder in tests.messy.READABLE; the demo workbook (cli.py demo); plus
raw CSV cells (connectors.sources.read_source on bytes) for a set of awkward
CSVs (ragged rows, blank lines, quoted newlines, stray quotes, CR line ends,
BOMs, encodings, delimiters) so that a faster CSV path cannot drift.
"""
from __future__ import annotations

import argparse
import codecs
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CACHE = ROOT / "bench" / ".cache"
REF = CACHE / "ingest_ref.pkl"

AWKWARD_CSV: dict[str, bytes] = {
    "plain.csv": b"a,b,c\n1,2,3\n4,5,6\n",
    "no_final_newline.csv": b"a,b,c\n1,2,3\n4,5,6",
    "crlf.csv": b"a,b\r\n1,2\r\n",
    "cr_only.csv": b"a,b\r1,2\r3,4\r",
    "blank_lines.csv": b"a,b\n\n1,2\n\n\n3,4\n\n",
    "blank_lines_1col.csv": b"a\n\n1\n\n2\n\n",
    "trailing_blank_1col.csv": b"a\n1\n\n",
    "ragged_short.csv": b"a,b,c\n1,2\n3\n4,5,6\n",
    "ragged_long_late.csv": b"a,b\n" + b"1,2\n" * 2500 + b"1,2,3,4\n5,6\n",
    "ragged_long_early.csv": b"a,b\n1,2,3\n4,5\n",
    "quoted_newline.csv": b'a,b\n"x\ny",2\n"p\r\nq",3\n',
    "quoted_comma.csv": b'a,b\n"x,y",2\n"",3\n',
    "doubled_quote.csv": b'a,b\n"he said ""hi""",2\n',
    "stray_quote_mid.csv": b'a,b\nab"c,2\nd"e"f,3\n',
    "quote_then_text.csv": b'a,b\n"ab"cd,2\n',
    "unterminated_quote.csv": b'a,b\n"abc,2\n3,4\n',
    "space_before_quote.csv": b'a,b\n "x",2\n',
    "spaces.csv": b"a , b\n 1 , 2 \n   ,  \n",
    "whitespace_line_1col.csv": b"a\n   \n1\n",
    "empty_fields.csv": b",,\n,,\n1,,\n",
    "trailing_delims.csv": b"a,b,\n1,2,\n",
    "semicolon.csv": b"x;y;z\n1,5;2,5;3\n4;5;6\n",
    "tab.tsv": b"x\ty\n1\t2\n",
    "pipe.csv": b"x|y\n1|2\n3|4\n",
    "bom_utf8.csv": codecs.BOM_UTF8 + "n,é\n1,ü\n".encode(),
    "double_bom.csv": codecs.BOM_UTF8 + codecs.BOM_UTF8 + b"a,b\n1,2\n",
    "utf16.csv": codecs.BOM_UTF16_LE + "a\tb\r\n1\t2\r\n".encode("utf-16-le"),
    "utf16_nobom.csv": "a,b\r\n1,2\r\nx,y\r\n".encode("utf-16-le"),
    "cp1252.csv": "Müller;Söhne\n1;2\n".encode("cp1252"),
    "cp1250.csv": "Kő;Tűz\n1;2\n".encode("cp1250"),
    "gbk.csv": "发票号,客户\nFP-1,人民币\n".encode("gbk"),
    "bad_utf8_mix.csv": b"a,b\n\xff\xfe\xfa,2\n",
    "nul.csv": b"a,b\n1\x002,3\n",
    "hash.csv": b"#a,b\n#1,2\n",
    "one_cell.csv": b"x",
    "only_newlines.csv": b"\n\n\n",
    "only_header.csv": b"a,b,c\n",
    "numbers_like.csv": b"a,b\n00017,1e5\nNaN,NA\nnull,None\n-,#N/A\n",
    "wide_first_2000.csv": b"a\n" + b"1\n" * 2100 + b"1,2\n",
    "unicode_ls.csv": "a,b\nx\u2028y,2\nz\u0085w,3\n".encode(),
    "vertical_tab.csv": b"a,b\nx\x0by,2\nx\x0cy,3\n",
    "quoted_cr.csv": b'a,b\r\n"x\ry",2\r\n',
    "escape_backslash.csv": b'a,b\n"x\\"y",2\nx\\,y\n',
    "long_field.csv": b"a,b\n" + b"x" * 200000 + b",2\n",
    "many_rows.csv": b"id,amt,date\n" + b"".join(b"ID%d,%d.50,2024-01-%02d\n" % (i, i, i % 28 + 1)
                                                  for i in range(20000)),
}


def _snapshot(ds) -> dict:
    return {"tables": {k: v.copy() for k, v in ds.tables.items()}, "quarantine": ds.quarantine.copy(),
            "counts": dict(ds.counts), "notes": list(ds.notes), "sheet_map": dict(ds.sheet_map),
            "source": ds.source}


def _raw_snapshot(wb) -> list:
    return [(s.name, s.first_row, s.hidden, s.cells.copy()) for s in wb.sheets]


def collect(big: bool) -> dict:
    from connectors.load import load_dataset
    from connectors.sources import SourceError, read_source
    from billing.ingest import SchemaError
    from tests import messy

    out: dict = {}
    folders = ["report_csv_100000_30000"] + (["report_csv_1000000_300000"] if big else [])
    for f in folders:
        t = time.time()
        out[f"folder:{f}"] = _snapshot(load_dataset(CACHE / f))
        print(f"  {f}: {time.time() - t:.2f}s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for builder in messy.READABLE:
            sub = tmp / builder.__name__
            sub.mkdir()
            path = builder(sub)
            try:
                out[f"messy:{builder.__name__}"] = _snapshot(load_dataset(path))
            except (SourceError, SchemaError) as exc:
                out[f"messy:{builder.__name__}"] = ("error", type(exc).__name__, str(exc))
            out[f"messyraw:{builder.__name__}"] = (_raw_snapshot(read_source(path)))
        demo = CACHE / "demo6k_ingest.xlsx"
        if not demo.exists():
            subprocess.run([sys.executable, str(ROOT / "cli.py"), "demo", "--out", str(demo)],
                           check=True, cwd=ROOT, capture_output=True)
        out["demo6k"] = _snapshot(load_dataset(demo))
    for name, data in AWKWARD_CSV.items():
        try:
            out[f"raw:{name}"] = _raw_snapshot(read_source(data, name=name))
        except SourceError as exc:
            out[f"raw:{name}"] = ("error", exc.message)
    return out


def _eq(a, b, where: str) -> None:
    if isinstance(a, pd.DataFrame):
        assert isinstance(b, pd.DataFrame), where
        pd.testing.assert_frame_equal(a, b, check_dtype=True, check_index_type=True,
                                      check_column_type=True, obj=where)
        # cell types too (str vs other objects in object columns)
        for c in a.columns:
            if a[c].dtype == object:
                ta = a[c].map(type).tolist()
                tb = b[c].map(type).tolist()
                assert ta == tb, f"{where}[{c}]: python types differ"
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            _eq(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), f"{where}: {a!r} != {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            _eq(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--save", action="store_true")
    ap.add_argument("--big", action="store_true", help="also the 1M-line CSV folder")
    args = ap.parse_args()
    ref_path = REF.with_name("ingest_ref_big.pkl") if args.big else REF
    got = collect(args.big)
    if args.save or not ref_path.exists():
        ref_path.write_bytes(pickle.dumps(got, protocol=pickle.HIGHEST_PROTOCOL))
        print(f"saved {len(got)} cases to {ref_path}")
        return 0
    ref = pickle.loads(ref_path.read_bytes())
    bad = 0
    for key in ref:
        try:
            assert key in got, f"{key}: missing"
            _eq(ref[key], got[key], key)
        except AssertionError as exc:
            bad += 1
            print(f"DIFF {key}: {str(exc)[:2000]}")
    print(f"{len(ref) - bad}/{len(ref)} cases identical")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
