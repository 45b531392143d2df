"""Read every bank statement sample and print what was read, to check by hand against the
samples' README (entries, credits/debits, reversals, batches, payer and text of each credit).

    .venv/bin/python bench/bank_samples.py ../shared/samples/bank-statements [-v]
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from billing.bankstmt import split_entries  # noqa: E402
from connectors.bank import read_statement  # noqa: E402


def main(folder: str, verbose: bool) -> None:
    pd.set_option("display.width", 220)
    pd.set_option("display.max_colwidth", 48)
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.name != "README.md"):
        st = read_statement(path.read_bytes(), path.name)
        e, sp = st.entries, split_entries(st.entries)
        entries = e["entry"].str.split(".").str[0].nunique()
        print(f"{path.name}\n  {st.format}: {len(st.balances)} statement(s), {entries} entries, {len(e)} transactions "
              f"({(e.direction == 'credit').sum()} C, {(e.direction == 'debit').sum()} D, "
              f"{int(e.reversal.sum())} reversals, {(e.batch_size > 1).sum()} in batches, "
              f"{(e.status == 'pending').sum()} pending) -> {len(sp.credits)} payments, {len(sp.debits)} debits "
              f"listed apart, {len(sp.reversed)} reversed/reversing")
        for w in st.warnings:
            print(f"  warning: {w}")
        if verbose and len(sp.credits):
            print(sp.credits[["payment_id", "entry", "booking_date", "amount", "currency", "payer_name",
                              "payer_iban", "remittance", "creditor_ref"]].to_string(index=False))


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "-v"]
    main(args[0] if args else "../shared/samples/bank-statements", "-v" in sys.argv)
