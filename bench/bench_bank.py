"""Bank statements: read a generated 100,000-entry camt.053 (target ≤ 5 s, peak memory ≤ 500 MB)
and match 100,000 bank payments against 1,000,000 open lines (target ≤ 10 s).

    .venv/bin/python bench/bench_bank.py [--entries 100000] [--lines 1000000] [--payments 100000]

The read runs in a fresh child process so its peak memory (VmHWM) is its own; as a baseline
measured in the same run the child first parses the same file with the stdlib's plain
ElementTree (whole tree in memory), the thing the streaming reader must not do.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_camt(path: Path, n: int) -> None:
    """A camt.053.001.08 with n credit entries (every tenth a batch of 3) and true balances."""
    rng = np.random.default_rng(7)
    amounts = rng.integers(100, 10_000_00, n)
    with open(path, "w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">'
                "<BkToCstmrStmt><GrpHdr><MsgId>B</MsgId></GrpHdr><Stmt><Id>S</Id><Acct><Id><IBAN>CH9300762011623852957"
                "</IBAN></Id><Ccy>CHF</Ccy></Acct>")
        total = int(amounts.sum())
        for code, value in (("OPBD", 0), ("CLBD", total)):
            f.write(f'<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy="CHF">{value // 100}.{value % 100:02d}'
                    "</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-30</Dt></Dt></Bal>")
        for i, a in enumerate(amounts):
            parts = [a // 3, a // 3, a - 2 * (a // 3)] if i % 10 == 0 else [a]
            txs = "".join(
                f"<TxDtls><Refs><AcctSvcrRef>T{i}-{k}</AcctSvcrRef><EndToEndId>NOTPROVIDED</EndToEndId></Refs>"
                f'<Amt Ccy="CHF">{p // 100}.{p % 100:02d}</Amt><CdtDbtInd>CRDT</CdtDbtInd><RltdPties><Dbtr><Pty>'
                f"<Nm>Customer {i % 5000} AG</Nm></Pty></Dbtr><DbtrAcct><Id><IBAN>CH56048350123456{i % 5000:05d}"
                f"</IBAN></Id></DbtrAcct></RltdPties><RmtInf><Ustrd>Rechnung INV-{i:07d}</Ustrd></RmtInf></TxDtls>"
                for k, p in enumerate(parts))
            f.write(f'<Ntry><Amt Ccy="CHF">{a // 100}.{a % 100:02d}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd>'
                    f"</Sts><BookgDt><Dt>2026-11-20</Dt></BookgDt><ValDt><Dt>2026-11-20</Dt></ValDt><AcctSvcrRef>E{i}"
                    f"</AcctSvcrRef><NtryDtls>{'<Btch><NbOfTxs>3</NbOfTxs></Btch>' if len(parts) > 1 else ''}{txs}"
                    "</NtryDtls></Ntry>")
        f.write("</Stmt></BkToCstmrStmt></Document>")


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child_read(path: str, mode: str) -> None:
    t = time.perf_counter()
    if mode == "tree":
        import xml.etree.ElementTree as ET
        n = sum(1 for _ in ET.parse(path).getroot().iter("{urn:iso:std:iso:20022:tech:xsd:camt.053.001.08}Ntry"))
        print(f"{time.perf_counter() - t:.2f} {peak_mb():.0f} {n} 0")
        return
    from connectors.bank.camt import read_camt
    with open(path, "rb") as f:
        st = read_camt(f, "bench.xml")
    print(f"{time.perf_counter() - t:.2f} {peak_mb():.0f} {len(st.entries)} {len(st.warnings)}")


def run_child(path: Path, mode: str) -> tuple[float, float, int, int]:
    out = subprocess.run([sys.executable, __file__, "--child", str(path), mode], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.split()
    return float(out[0]), float(out[1]), int(out[2]), int(out[3])


def bench_read(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.camt.053.xml"
        t = time.perf_counter()
        write_camt(path, n)
        print(f"generated {n:,} entries, {path.stat().st_size / 2**20:.0f} MB in {time.perf_counter() - t:.1f} s")
        base_s, base_mb, base_n, _ = run_child(path, "tree")
        s, mb, rows, warnings = run_child(path, "stream")
        print(f"baseline ElementTree.parse (whole tree):  {base_s:6.2f} s  peak {base_mb:5.0f} MB  {base_n:,} Ntry")
        print(f"read_camt (iterparse, entries removed):   {s:6.2f} s  peak {mb:5.0f} MB  {rows:,} transactions, "
              f"{warnings} warnings   ratio time {s / base_s:.2f}x, memory {mb / base_mb:.2f}x")
        print(f"  targets: <= 5 s {'OK' if s <= 5 else 'MISSED'}, <= 500 MB {'OK' if mb <= 500 else 'MISSED'}")


def make_book(n_lines: int, n_payments: int, n_customers: int):
    from billing.cashapp import rf_reference
    from billing.linecode import make_codes
    rng = np.random.default_rng(11)
    inv = np.arange(n_lines) // 2
    cust = inv % n_customers
    lines = pd.DataFrame({"invoice_no": pd.Series([f"INV-{i:07d}" for i in inv], dtype="string"),
                          "customer_id": pd.Series([f"C{c:06d}" for c in cust], dtype="string"),
                          "currency": "EUR", "open": rng.integers(100, 100_000, n_lines)})
    lines["line_code"] = make_codes(lines["invoice_no"], pd.Series(np.arange(n_lines) % 2 + 1))
    customers = pd.DataFrame({"customer_id": [f"C{c:06d}" for c in range(n_customers)],
                              "name": [f"{w} Handels GmbH {c}" for c, w in
                                       zip(range(n_customers), rng.choice(["Nord", "Sued", "Ost", "West", "Acme"], n_customers))],
                              "iban": [f"DE8937040044{c:010d}" for c in range(n_customers)]})
    pick = rng.integers(0, n_lines, n_payments)
    form = rng.choice(["invoice", "code", "rf", "iban", "name", "unknown"], n_payments, p=[.5, .2, .1, .1, .05, .05])
    t = lines.iloc[pick].reset_index(drop=True)
    text = np.where(form == "invoice", "Rechnung " + t["invoice_no"].to_numpy(dtype=object),
                    np.where(form == "code", "Ref " + t["line_code"].to_numpy(dtype=object), "Zahlung"))
    rf = [rf_reference(c) if f == "rf" else None for c, f in zip(t["line_code"], form)]
    cidx = t["customer_id"].str.slice(1).astype(int).to_numpy()
    payments = pd.DataFrame({
        "payment_id": [f"B{i}" for i in range(n_payments)], "amount": t["open"].to_numpy(), "currency": "EUR",
        "remittance": text, "creditor_ref": rf,
        "payer_iban": np.where(form == "iban", customers["iban"].to_numpy()[cidx], None),
        "payer_name": np.where(form == "name", customers["name"].to_numpy()[cidx],
                               np.where(form == "unknown", "Jane Doe", "Someone"))})
    return lines, customers, payments


def bench_match(n_lines: int, n_payments: int) -> None:
    from billing.cashapp import match_payments
    lines, customers, payments = make_book(n_lines, n_payments, max(1000, n_lines // 200))
    t = time.perf_counter()
    base = payments.merge(lines.assign(remittance="Rechnung " + lines["invoice_no"]), on="remittance", how="left")
    base_s = time.perf_counter() - t
    t = time.perf_counter()
    r = match_payments(payments, lines, customers)
    s = time.perf_counter() - t
    by = r.matches.groupby(r.matches["step"].fillna("review")).size().to_dict()
    print(f"baseline one pandas merge on the exact text: {base_s:6.2f} s ({len(base):,} rows)")
    print(f"match_payments {n_payments:,} payments x {n_lines:,} lines: {s:6.2f} s  ratio {s / base_s:.1f}x  {by}")
    print(f"  target: <= 10 s {'OK' if s <= 10 else 'MISSED'}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_read(sys.argv[2], sys.argv[3])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--payments", type=int, default=100_000)
    a = ap.parse_args()
    print(f"bench_bank on {os.cpu_count()} cores")
    bench_read(a.entries)
    bench_match(a.lines, a.payments)


if __name__ == "__main__":
    main()
