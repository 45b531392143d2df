"""Cash application: which customer and which lines a bank payment is for (SPEC §17, §4).

`match_payments(payments, lines, customers, known_ibans, policy)` decides every payment by the
first of four steps that can, and says why:

1. **reference** — a structured creditor reference in the text or the structured field: an RF
   reference (ISO 11649, check digits verified), a Swiss QR/ISR reference (27 digits, check digit
   verified), or a Linewise line code (its check character makes a typo fail), naming a line or
   an invoice;
2. **invoice** — invoice numbers found in the free text ("RE 001, RE 002", "Factuurnr 123456",
   "Rechnung 11063225"): a token, or two neighbouring tokens written together, equal to an
   invoice number in canonical form (`billing.linecode.canonical`); several are applied in the
   order written;
3. **iban** — the payer's IBAN is a customer's (customers table, or learned from confirmed
   payments);
4. **name** — the payer's name against customer names (rapidfuzz token_sort_ratio of names
   with legal forms removed, at least `policy.bank_name_min_score` and ahead of the next
   customer by `policy.bank_name_margin`).

Steps 1-2 give a line / invoice reference (§4 steps 1 and 2 apply it), steps 3-4 the customer
only (§4 FIFO). Anything else waits in the **review queue**, never guessed: references naming
several customers, a reference whose customer differs from the one the IBAN belongs to, invoices
already paid, a line code with a wrong check character, an IBAN of several customers, a name
below the threshold or too close to another, an unknown payer. Queue entries carry the best
suggestions with their evidence (a near name, an open invoice of exactly the amount).

A payment short of what it references by at most `bank_charges_pct` % of the amount due or
`bank_charges_max` major units gets a proposed write-off; the engine never applies it by itself.

Everything is vectorised: tokens come from `billing.allocation.tokens`, references are found by
hash joins of canonical tokens against canonical line codes and invoice numbers, names are
compared once per distinct payer name with rapidfuzz's `cdist` (C++), in blocks.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from billing.allocation import tokens
from billing.linecode import CODE_SHAPE, byte_matrix, canonical_series, check_chars
from billing.money import minor_digits_series
from billing.policy import Policy

STEPS = ("reference", "invoice", "iban", "name")
MATCH_COLUMNS = ("payment_id", "status", "step", "customer_id", "line_codes", "invoice_nos", "reference",
                 "evidence", "expected", "difference", "write_off", "write_off_line", "note")
SUGGESTION_COLUMNS = ("payment_id", "rank", "customer_id", "invoice_no", "score", "evidence")
# Legal forms and filler words that say nothing about who a company is.
LEGAL_FORMS = ("gmbh", "ag", "kg", "ohg", "ug", "ev", "kft", "zrt", "nyrt", "bt", "rt", "bv", "nv", "vof", "ltd",
               "limited", "llc", "inc", "corp", "corporation", "co", "company", "plc", "sa", "sas", "sarl",
               "srl", "spa", "sro", "as", "ab", "oy", "sp", "zoo", "the", "und", "and", "et", "es", "mbh")
_LEGAL = re.compile(r"\b(?:" + "|".join(LEGAL_FORMS) + r")\b")
UMLAUTS = {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"}
RF_SHAPE = r"^RF\d{2}[0-9A-Z]{1,21}$"
QRR_SHAPE = r"^\d{27}$"
BANK_SHEET = "bank: "  # `_sheet` of the engine payments made from bank payments (with the file name)
JOIN = " | "  # between several line codes / invoice numbers of one payment, as shown
MIN_INVOICE_KEY = 3  # shorter canonical tokens ("12", "A1") are too common in free text to name an invoice


@dataclass
class CashApplication:
    """Per payment the decision (`matches`, columns MATCH_COLUMNS, one row per payment in input
    order) and, for those waiting for review, ranked suggestions (`suggestions`)."""

    matches: pd.DataFrame
    suggestions: pd.DataFrame

    @property
    def queue(self) -> pd.DataFrame:
        return self.matches[self.matches["status"] == "review"]


# ----------------------------------------------------------------------------- check digits

def _alnum_values(matrix: np.ndarray) -> np.ndarray:
    """Byte matrix -> character values (0-9 digits, 10-35 letters, -1 padding)."""
    v = np.full(matrix.shape, -1, dtype=np.int64)
    digit = (matrix >= 48) & (matrix <= 57)
    letter = (matrix >= 65) & (matrix <= 90)
    v[digit] = matrix[digit] - 48
    v[letter] = matrix[letter] - 55
    return v


def rf_valid(refs: pd.Series) -> np.ndarray:
    """ISO 11649 check (mod 97 of the reference rotated by four, letters as two digits) for
    canonical texts of RF shape; vectorised over the characters' positions."""
    rotated = refs.str.slice(4) + refs.str.slice(0, 4)
    matrix, _ = byte_matrix(rotated.fillna(""))
    rem = np.zeros(len(refs), dtype=np.int64)
    for row in _alnum_values(matrix):
        rem = np.where(row < 0, rem, np.where(row >= 10, (rem * 100 + row) % 97, (rem * 10 + row) % 97))
    return (rem == 1) & refs.notna().to_numpy()


def rf_reference(body: str) -> str:
    """The ISO 11649 creditor reference for `body` (letters and digits): "RF" + 2 check digits +
    body, e.g. for a line code's canonical form. What customers type back is checked by rf_valid."""
    body = canonical_series(pd.Series([body])).iloc[0]
    digits = "".join(str(int(ch, 36)) for ch in body + "RF00")
    return f"RF{98 - int(digits) % 97:02d}{body}"


_MOD10R = np.array([0, 9, 4, 6, 8, 2, 7, 1, 3, 5], dtype=np.int64)


def qrr_valid(refs: pd.Series) -> np.ndarray:
    """Swiss QR / ISR reference check (recursive mod 10 over the first 26 digits)."""
    matrix, _ = byte_matrix(refs.fillna(""))
    v = _alnum_values(matrix)
    carry = np.zeros(len(refs), dtype=np.int64)
    for row in v[:-1]:
        carry = _MOD10R[(carry + np.maximum(row, 0)) % 10]
    last = v[-1] if len(v) else np.zeros(len(refs), dtype=np.int64)
    return ((10 - carry) % 10 == last) & refs.notna().to_numpy()


# ----------------------------------------------------------------------------- helpers

def _isin(values: pd.Series, among: pd.Series | pd.Index) -> np.ndarray:
    """`values.isin(among)` for text, in Arrow's hash kernel (pandas' goes through Python lists)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    arr = pa.array(values.astype("string").to_numpy(dtype=object, na_value=None), type=pa.large_string())
    pool = pa.array(pd.Series(among).astype("string").dropna().to_numpy(dtype=object), type=pa.large_string())
    return np.asarray(pc.fill_null(pc.is_in(arr, value_set=pool), False), dtype=bool)


def _joined(keys: pd.Series, values: pd.Series, sep: str) -> pd.Series:
    """`values` joined with `sep` per key, in their order: one string per distinct key. Keys with
    one value (most) are taken as they are; only keys with several go through str.join."""
    keys = keys.reset_index(drop=True)
    values = values.astype("string").reset_index(drop=True)
    single = keys.map(keys.value_counts()).to_numpy() == 1
    alone = pd.Series(values[single].to_numpy(), index=keys[single].to_numpy())
    several = values[~single].groupby(keys[~single].to_numpy(), sort=False).agg(sep.join)
    return pd.concat([alone, several]).astype("string")


def normalise_iban(values: pd.Series) -> pd.Series:
    s = values.astype("string").str.upper().str.replace(r"[^0-9A-Z]", "", regex=True)
    return s.mask(s == "")


def normalise_name(values: pd.Series) -> pd.Series:
    """Names for comparison: NFKC, case-folded, German umlauts spelt out, other accents dropped,
    punctuation and legal forms removed."""
    s = values.astype("string").str.normalize("NFKC").str.casefold()
    for umlaut, spelt in UMLAUTS.items():  # banks spell "Südwind" as "Suedwind" or "Sudwind"
        s = s.str.replace(umlaut, spelt, regex=False)
    s = s.str.normalize("NFKD").str.replace(r"[\u0300-\u036f]", "", regex=True)
    s = s.str.replace(r"[^\w\s]", " ", regex=True).str.replace(_LEGAL, " ", regex=True)
    s = s.str.replace(r"\s+", " ", regex=True).str.strip()
    return s.mask(s == "")


def charge_tolerance(expected: pd.Series, currency: pd.Series, policy: Policy) -> np.ndarray:
    """Minor units a payment may fall short of `expected` and still be proposed as a write-off."""
    digits = minor_digits_series(currency.fillna(""))
    cap = np.round(policy.bank_charges_max * 10.0 ** digits).astype(np.int64)
    share = (expected.to_numpy(dtype=np.int64) * policy.bank_charges_pct) // 100
    return np.maximum(cap, share.astype(np.int64))


def _targets(lines: pd.DataFrame) -> pd.DataFrame:
    """Canonical keys a reference may name: every line code (kind "line") and every invoice
    number (kind "invoice", one row per customer/currency holding it)."""
    codes = pd.DataFrame({"key": canonical_series(lines["line_code"]), "kind": "line",
                          "customer_id": lines["customer_id"].astype("string"),
                          "line_code": lines["line_code"].astype("string"),
                          "invoice_no": lines["invoice_no"].astype("string")})
    inv = lines[["customer_id", "invoice_no"]].drop_duplicates()
    invoices = pd.DataFrame({"key": canonical_series(inv["invoice_no"]), "kind": "invoice",
                             "customer_id": inv["customer_id"].astype("string"),
                             "line_code": pd.NA, "invoice_no": inv["invoice_no"].astype("string")})
    return pd.concat([codes, invoices], ignore_index=True).astype({"line_code": "string"})


def _candidates(payments: pd.DataFrame) -> pd.DataFrame:
    """Every token of each payment's structured reference and text, and every pair of neighbouring
    tokens written together ("RE 001" -> RE001): row, pos, key, origin ("structured" | "text")."""
    structured = payments["creditor_ref"].astype("string").fillna("")
    text = payments["remittance"].astype("string").fillna("")
    # the structured reference is one token however it is spaced ("RF18 5390 0754 7034")
    comp = structured.str.replace(r"\s+", "", regex=True)
    t = tokens(comp + " " + text)
    t = t[t["canonical"].str.len() > 0]
    t["origin"] = np.where((t["pos"] == 0) & (comp.iloc[t["row"]].to_numpy() != ""), "structured", "text")
    nxt = t.shift(-1)
    pair = (nxt["row"] == t["row"]) & (t["origin"] == "text")
    pairs = pd.DataFrame({"row": t["row"][pair], "pos": t["pos"][pair],
                          "token": t["token"][pair] + " " + nxt["token"][pair],
                          "canonical": t["canonical"][pair] + nxt["canonical"][pair], "origin": "pair"})
    out = pd.concat([t, pairs], ignore_index=True)
    return out.rename(columns={"canonical": "key"})


# ----------------------------------------------------------------------------- steps 1 and 2

def _structured_keys(c: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """RF and QR references among the candidates: (keys they stand for, invalid ones)."""
    rf = c[c["key"].str.fullmatch(RF_SHAPE).fillna(False).astype(bool)]
    qrr = c[c["key"].str.fullmatch(QRR_SHAPE).fillna(False).astype(bool)]
    rf_ok, qrr_ok = rf_valid(rf["key"]), qrr_valid(qrr["key"])
    bodies = [rf[rf_ok].assign(key=rf[rf_ok]["key"].str.slice(4), via="RF reference"),
              rf[rf_ok].assign(key=rf[rf_ok]["key"].str.slice(4).str.lstrip("0"), via="RF reference"),
              qrr[qrr_ok].assign(key=qrr[qrr_ok]["key"].str.slice(0, 26).str.lstrip("0"), via="QR reference")]
    bad = pd.concat([rf[~rf_ok].assign(problem="RF reference with wrong check digits"),
                     qrr[~qrr_ok & (qrr["origin"] == "structured")].assign(problem="QR reference with a wrong check digit")])
    return pd.concat(bodies, ignore_index=True), bad


def _hits(c: pd.DataFrame, targets: pd.DataFrame, structured: pd.DataFrame) -> pd.DataFrame:
    """(row, pos, step, kind, customer, line, invoice, token) for every reference found."""
    lines = targets[targets["kind"] == "line"]
    invoices = targets[(targets["kind"] == "invoice") & (targets["key"].str.len() >= MIN_INVOICE_KEY)
                       & targets["key"].str.contains(r"\d", regex=True)]
    step1 = pd.concat([structured.merge(targets, on="key"),
                       c.merge(lines, on="key").assign(via="line code")], ignore_index=True)
    step1["step"] = "reference"
    step2 = c[c["origin"] != "structured"].merge(invoices, on="key").assign(via="invoice number", step="invoice")
    # a pair "RE 001" that names an invoice hides its halves' own hits
    pair_at = step2.loc[step2["origin"] == "pair", ["row", "pos"]]
    hidden = pd.concat([pair_at, pair_at.assign(pos=pair_at["pos"] + 1)]).assign(_hide=True)
    step2 = step2.merge(hidden.drop_duplicates(), on=["row", "pos"], how="left")
    step2 = step2[~(step2["_hide"].eq(True) & (step2["origin"] != "pair"))].drop(columns="_hide")
    return pd.concat([step1, step2], ignore_index=True)


def _bad_codes(c: pd.DataFrame, targets: pd.DataFrame) -> pd.DataFrame:
    """Tokens with the shape of a line code that name no line and fail their check character."""
    shaped = c[(c["origin"] == "text") & c["token"].str.match(CODE_SHAPE.pattern).fillna(False).astype(bool)]
    shaped = shaped[~_isin(shaped["key"], targets.loc[targets["kind"] == "line", "key"])]
    if shaped.empty:
        return shaped.assign(problem=pd.Series(dtype="string"))
    ok = check_chars(shaped["key"].str.slice(0, -1)) == shaped["key"].str.slice(-1).to_numpy()
    return shaped[~ok].assign(problem="line code " + shaped["token"][~ok] + " has a wrong check character")


def _decide_references(hits: pd.DataFrame, step: str) -> pd.DataFrame:
    """Per payment row with hits of `step`: its one customer, its references in written order,
    or a conflict (several customers)."""
    h = hits[hits["step"] == step].sort_values(["row", "pos", "kind"])
    if h.empty:
        return pd.DataFrame(columns=["row", "customer_id", "n_customers", "line_codes", "invoice_nos", "reference",
                                     "evidence"])
    h = h.drop_duplicates(["row", "kind", "customer_id", "line_code", "invoice_no"])
    g = h.groupby("row", sort=False)
    ref_name = h["line_code"].fillna(h["invoice_no"])
    evidence = h["via"] + " '" + h["token"] + "' → " + h["kind"] + " " + ref_name + " of customer " + h["customer_id"]
    lines, invs, keys = h[h["kind"] == "line"], h[h["kind"] == "invoice"], h.drop_duplicates(["row", "key"])
    out = pd.DataFrame({
        "customer_id": g["customer_id"].first(), "n_customers": g["customer_id"].nunique(),
        "line_codes": _joined(lines["row"], lines["line_code"], JOIN),
        "invoice_nos": _joined(invs["row"], invs["invoice_no"], JOIN),
        # what §4 reads: canonical forms, separated by spaces, in the order written
        "reference": _joined(keys["row"], keys["key"], " "),
        "evidence": _joined(h["row"], evidence, "; ")})
    return out.rename_axis("row").reset_index()


# ----------------------------------------------------------------------------- steps 3 and 4

def _iban_owners(customers: pd.DataFrame, known_ibans: pd.DataFrame) -> pd.DataFrame:
    """iban -> customer_id, n_customers, source, from the customers table and confirmations."""
    parts = []
    if "iban" in customers.columns:
        parts.append(pd.DataFrame({"iban": normalise_iban(customers["iban"]),
                                   "customer_id": customers["customer_id"].astype("string"),
                                   "source": "customers table"}))
    if len(known_ibans):
        parts.append(pd.DataFrame({"iban": normalise_iban(known_ibans["iban"]),
                                   "customer_id": known_ibans["customer_id"].astype("string"),
                                   "source": "confirmed earlier"}))
    if not parts:
        return pd.DataFrame(columns=["iban", "customer_id", "source", "n_customers"])
    owners = pd.concat(parts, ignore_index=True).dropna(subset=["iban"]).drop_duplicates(["iban", "customer_id"])
    owners["n_customers"] = owners.groupby("iban")["customer_id"].transform("nunique")
    return owners


def _name_scores(names: pd.Series, customers: pd.DataFrame, block: int = 2048) -> pd.DataFrame:
    """For each distinct normalised payer name: the best and second-best customer by score
    (token_sort_ratio), and the top 3 for suggestions."""
    choices = normalise_name(customers.get("name", pd.Series(dtype="string")))
    keep = choices.notna().to_numpy()
    choice_names, choice_ids = choices[keep].tolist(), customers["customer_id"].astype("string")[keep].to_numpy()
    display = customers.get("name", pd.Series(dtype="string")).astype("string")[keep].to_numpy()
    uniq = pd.unique(names.dropna().to_numpy(dtype=object))
    rows = []
    if not len(uniq) or not choice_names:
        return pd.DataFrame(columns=["norm", "rank", "customer_id", "customer_name", "score"])
    for start in range(0, len(uniq), block):  # blocks bound the score matrix's memory
        q = list(uniq[start:start + block])
        m = process.cdist(q, choice_names, scorer=fuzz.token_sort_ratio, dtype=np.uint8, workers=-1)
        k = min(3, m.shape[1])
        top = np.argsort(-m.astype(np.int16), axis=1, kind="stable")[:, :k]
        for r in range(k):
            rows.append(pd.DataFrame({"norm": q, "rank": r + 1, "customer_id": choice_ids[top[:, r]],
                                      "customer_name": display[top[:, r]],
                                      "score": m[np.arange(len(q)), top[:, r]].astype(np.float64)}))
    return pd.concat(rows, ignore_index=True)


# ----------------------------------------------------------------------------- the decision

def match_payments(payments: pd.DataFrame, lines: pd.DataFrame, customers: pd.DataFrame | None = None,
                   known_ibans: pd.DataFrame | None = None, policy: Policy | None = None) -> CashApplication:
    """Decide each bank payment (module doc).

    payments: payment_id, amount (int64 minor units, > 0), currency, payer_name, payer_iban,
        remittance, creditor_ref (the bank credits of `billing.bankstmt.split_entries`).
    lines: the open items: line_code, invoice_no, customer_id, currency, open (int64 minor
        units still open; 0 for a paid line: a reference to it is still recognised).
    customers: customer_id, name and optionally iban. known_ibans: iban, customer_id learned
        from confirmed payments.
    """
    policy = policy or Policy()
    customers = customers if customers is not None else pd.DataFrame(columns=["customer_id", "name"])
    known_ibans = known_ibans if known_ibans is not None else pd.DataFrame(columns=["iban", "customer_id"])
    p = payments.reset_index(drop=True)
    n = len(p)
    out = pd.DataFrame({"payment_id": p["payment_id"].astype("string"),
                        "status": pd.Series(["review"] * n, dtype="string"),
                        **{c: pd.Series(pd.NA, index=p.index, dtype="string")
                           for c in ("step", "customer_id", "line_codes", "invoice_nos", "reference", "evidence",
                                     "note")}})
    targets = _targets(lines)
    c = _candidates(p)
    structured, bad_structured = _structured_keys(c)
    hits = _hits(c, targets, structured)
    problems = pd.concat([bad_structured, _bad_codes(c, targets)])
    owners = _iban_owners(customers, known_ibans)
    iban = normalise_iban(p["payer_iban"])
    iban_owner = _iban_customer(iban, owners)
    decided = np.zeros(n, dtype=bool)
    for step in ("reference", "invoice"):
        decided |= _apply_references(out, _decide_references(hits, step), step, decided, iban_owner, lines)
    decided |= _apply_iban(out, iban, owners, decided)
    decided |= _apply_names(out, p, customers, decided, policy)
    _explain_problems(out, problems)
    _amounts(out, p, lines, policy)
    suggestions = _suggestions(out, p, customers, lines, policy)
    # only a decision names a customer; for the queue the candidates are in `suggestions`
    out.loc[out["status"] == "review", ["step", "customer_id"]] = pd.NA
    return CashApplication(out[list(MATCH_COLUMNS)], suggestions)


def _iban_customer(iban: pd.Series, owners: pd.DataFrame) -> pd.Series:
    """The single customer each payer IBAN belongs to (<NA> when none or several)."""
    single = owners[owners["n_customers"] == 1].drop_duplicates("iban").set_index("iban")["customer_id"]
    return iban.map(single).astype("string")


def _apply_references(out: pd.DataFrame, d: pd.DataFrame, step: str, decided: np.ndarray,
                      iban_owner: pd.Series, lines: pd.DataFrame) -> np.ndarray:
    """Mark the rows this step decides; conflicts go to review with their evidence."""
    now = np.zeros(len(out), dtype=bool)
    if d.empty:
        return now
    d = d[~decided[d["row"].to_numpy()]]
    rows = d["row"].to_numpy()
    owner = iban_owner.iloc[rows].reset_index(drop=True)
    several = d["n_customers"].to_numpy() > 1
    conflict = ~several & (owner.notna() & (owner != d["customer_id"].astype("string").reset_index(drop=True))
                           ).fillna(False).to_numpy(dtype=bool)
    ok = ~several & ~conflict
    label = "Reference" if step == "reference" else "Invoice numbers"
    why = np.where(several, f"{label} in the text name lines of several customers",
                   "the reference names customer " + d["customer_id"].astype(str).to_numpy()
                   + " but the payer's IBAN belongs to " + owner.fillna("").to_numpy(dtype=object))
    for col in ("line_codes", "invoice_nos", "reference", "evidence"):
        out.loc[rows, col] = d[col].to_numpy()
    out.loc[rows[ok], "customer_id"] = d["customer_id"].to_numpy()[ok]
    out.loc[rows[ok], ["status", "step"]] = ["matched", step]
    out.loc[rows[~ok], "note"] = why[~ok]
    now[rows] = True  # conflicts are decided too: they wait for review, later steps must not guess
    return now


def _apply_iban(out: pd.DataFrame, iban: pd.Series, owners: pd.DataFrame, decided: np.ndarray) -> np.ndarray:
    now = np.zeros(len(out), dtype=bool)
    if owners.empty:
        return now
    first = owners.drop_duplicates("iban").set_index("iban")
    known = _isin(iban, first.index) & ~decided
    rows = np.flatnonzero(known)
    hit = first.loc[iban.iloc[rows].to_numpy()]
    single = hit["n_customers"].to_numpy() == 1
    out.loc[rows[single], "customer_id"] = hit["customer_id"].to_numpy()[single]
    out.loc[rows[single], ["status", "step"]] = ["matched", "iban"]
    out.loc[rows, "evidence"] = ("payer IBAN " + iban.iloc[rows].to_numpy() + np.where(
        single, " belongs to customer " + hit["customer_id"].astype(str).to_numpy() + " (" + hit["source"].to_numpy() + ")",
        " is on several customers"))
    out.loc[rows[~single], "note"] = "the payer's IBAN is on several customers"
    now[rows] = True
    return now


def _apply_names(out: pd.DataFrame, p: pd.DataFrame, customers: pd.DataFrame, decided: np.ndarray,
                 policy: Policy) -> np.ndarray:
    now = np.zeros(len(out), dtype=bool)
    norm = normalise_name(p["payer_name"]).where(~decided)
    scores = _name_scores(norm, customers)
    if scores.empty:
        return now
    best = scores[scores["rank"] == 1].set_index("norm")
    second = scores[scores["rank"] == 2].set_index("norm")["score"]
    rows = np.flatnonzero(_isin(norm, best.index))
    b = best.loc[norm.iloc[rows].to_numpy()]
    s2 = second.reindex(norm.iloc[rows].to_numpy()).fillna(0).to_numpy()
    score = b["score"].to_numpy()
    ok = (score >= policy.bank_name_min_score) & (score - s2 >= policy.bank_name_margin)
    text = ("payer name '" + p["payer_name"].iloc[rows].astype(str).to_numpy() + "' ~ customer "
            + b["customer_id"].astype(str).to_numpy() + " '" + b["customer_name"].astype(str).to_numpy()
            + "' (score " + np.round(score).astype(int).astype(str) + ")")
    out.loc[rows, "evidence"] = text
    out.loc[rows[ok], "customer_id"] = b["customer_id"].to_numpy()[ok]
    out.loc[rows[ok], ["status", "step"]] = ["matched", "name"]
    close = ~ok & (score >= policy.bank_name_min_score)
    out.loc[rows[close], "note"] = "the payer's name fits more than one customer"
    out.loc[rows[~ok & ~close], "note"] = f"the payer's name is below the threshold {policy.bank_name_min_score:g}"
    now[rows[ok]] = True
    return now


def _explain_problems(out: pd.DataFrame, problems: pd.DataFrame) -> None:
    """A bad check character / check digit is said. A payment it leaves undecided, or decided only
    by IBAN or name (the mistyped reference may name another customer's line), waits for review."""
    if problems.empty:
        return
    per_row = _joined(problems["row"], problems["problem"], "; ").sort_index()
    rows = per_row.index.to_numpy()
    ev = out.loc[rows, "evidence"]
    out.loc[rows, "evidence"] = np.where(ev.isna(), per_row.to_numpy(), ev.astype(str) + "; " + per_row.to_numpy())
    weak = out.loc[rows, "status"].eq("review").to_numpy() | out.loc[rows, "step"].isin(["iban", "name"]).to_numpy()
    out.loc[rows[weak], "status"] = "review"
    out.loc[rows[weak], "note"] = "the text holds a reference that fails its check: " + per_row.to_numpy()[weak]


def _amounts(out: pd.DataFrame, p: pd.DataFrame, lines: pd.DataFrame, policy: Policy) -> None:
    """expected (open amount of what steps 1-2 reference), difference, proposed write-off, note."""
    out["expected"] = pd.array([pd.NA] * len(out), dtype="Int64")
    out["difference"] = pd.array([pd.NA] * len(out), dtype="Int64")
    out["write_off"] = pd.array([0] * len(out), dtype="Int64")
    out["write_off_line"] = pd.Series(pd.NA, index=out.index, dtype="string")
    refd = out["status"].eq("matched") & out["step"].isin(["reference", "invoice"])
    if not refd.any():
        return
    named = _referenced_lines(out[refd], lines)
    expected = named.groupby("row")["open"].sum().reindex(np.flatnonzero(refd)).fillna(0).astype("int64")
    last_line = named.groupby("row")["line_code"].last().reindex(expected.index)
    rows = expected.index.to_numpy()
    amount = p["amount"].iloc[rows].to_numpy(dtype=np.int64)
    diff = amount - expected.to_numpy()
    tol = charge_tolerance(expected, p["currency"].iloc[rows].astype("string"), policy)
    short = (diff < 0) & (-diff <= tol)
    out.loc[rows, "expected"] = expected.to_numpy()
    out.loc[rows, "difference"] = diff
    out.loc[rows[short], "write_off"] = -diff[short]
    out.loc[rows[short], "write_off_line"] = last_line.to_numpy()[short]
    paid = expected.to_numpy() == 0
    note = np.select([paid, short, diff < 0, diff > 0],
                     ["everything it names is already paid: a duplicate payment?",
                      "short by a little (bank charges?): write-off proposed, applied only when confirmed",
                      "partial payment: the rest stays open",
                      "overpaid: the rest is applied oldest first, then left as unapplied credit"], "exact")
    out.loc[rows, "note"] = note
    out.loc[rows[paid], "status"] = "review"


def _referenced_lines(m: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """(row, line_code, open) of each line a matched payment names, in the order it pays them."""
    frame = m.assign(row=m.index.to_numpy())
    by_line = frame[["row", "customer_id", "line_codes"]].dropna().assign(
        line_code=lambda f: f["line_codes"].str.split(JOIN, regex=False)).explode("line_code")
    by_inv = frame[["row", "customer_id", "invoice_nos"]].dropna().assign(
        invoice_no=lambda f: f["invoice_nos"].str.split(JOIN, regex=False)).explode("invoice_no")
    named = _isin(lines["line_code"], by_line["line_code"]) | _isin(lines["invoice_no"], by_inv["invoice_no"])
    l_ = lines.loc[named, ["line_code", "invoice_no", "customer_id", "open"]].astype(
        {"customer_id": "string", "line_code": "string", "invoice_no": "string"})
    by_line = by_line.astype({"line_code": "string"})
    by_inv = by_inv.astype({"invoice_no": "string"})
    a = by_line.merge(l_, on=["customer_id", "line_code"])[["row", "line_code", "open"]]
    b = by_inv.merge(l_, on=["customer_id", "invoice_no"])[["row", "line_code", "open"]]
    both = pd.concat([a, b], ignore_index=True).drop_duplicates(["row", "line_code"])
    return both[both["open"] > 0].sort_values("row", kind="stable") if len(both) else both


def _suggestions(out: pd.DataFrame, p: pd.DataFrame, customers: pd.DataFrame, lines: pd.DataFrame,
                 policy: Policy) -> pd.DataFrame:
    """Top suggestions for the queue: customers whose name is near, open invoices of exactly the
    amount (same currency), and the references a conflict named."""
    q = np.flatnonzero(out["status"].eq("review").to_numpy())
    parts = []
    if len(q):
        norm = normalise_name(p["payer_name"].iloc[q])
        s = _name_scores(norm, customers)
        s = s[s["score"] >= policy.bank_suggest_min_score]
        names = pd.DataFrame({"payment_id": out["payment_id"].iloc[q].to_numpy(), "norm": norm.to_numpy()}).merge(s, on="norm")
        parts.append(names.assign(invoice_no=pd.NA, evidence="payer name '" + names["norm"] + "' ~ '"
                                  + names["customer_name"].astype(str) + "'")[list(SUGGESTION_COLUMNS[:1]) + ["customer_id", "invoice_no", "score", "evidence"]])
        inv_open = lines.groupby(["customer_id", "invoice_no", "currency"], as_index=False)["open"].sum()
        pay = pd.DataFrame({"payment_id": out["payment_id"].iloc[q].to_numpy(),
                            "currency": p["currency"].iloc[q].to_numpy(), "open": p["amount"].iloc[q].to_numpy()})
        same = pay.merge(inv_open[inv_open["open"] > 0], on=["currency", "open"])
        parts.append(same.assign(score=100.0, evidence="open amount of invoice " + same["invoice_no"].astype(str)
                                 + " equals the payment")[["payment_id", "customer_id", "invoice_no", "score", "evidence"]])
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in SUGGESTION_COLUMNS})
    sug = pd.concat(parts, ignore_index=True).sort_values(["payment_id", "score"], ascending=[True, False], kind="stable")
    sug = sug.drop_duplicates(["payment_id", "customer_id", "invoice_no"]).groupby("payment_id").head(3)
    sug["rank"] = sug.groupby("payment_id").cumcount() + 1
    return sug[list(SUGGESTION_COLUMNS)].reset_index(drop=True)


# ----------------------------------------------------------------------------- to the engine

def possible_duplicates(bank: pd.DataFrame, workbook: pd.DataFrame, days: int) -> pd.DataFrame:
    """Bank payments (payment_id, customer_id, amount, currency, booking_date) that look like a
    workbook payment (same customer, currency and amount, dated within `days`): payment_id,
    workbook_payment_id."""
    if bank.empty or workbook.empty:
        return pd.DataFrame(columns=["payment_id", "workbook_payment_id"])
    w = workbook[["payment_id", "customer_id", "amount", "currency", "payment_date"]].rename(
        columns={"payment_id": "workbook_payment_id"})
    b = bank[["payment_id", "customer_id", "amount", "currency", "booking_date"]].dropna(subset=["customer_id"])
    m = b.astype({"customer_id": "string", "currency": "string"}).merge(
        w.astype({"customer_id": "string", "currency": "string"}), on=["customer_id", "amount", "currency"])
    near = (m["booking_date"] - m["payment_date"]).abs() <= pd.Timedelta(days=days)
    m = m[near & (m["payment_id"] != m["workbook_payment_id"])]
    return m[["payment_id", "workbook_payment_id"]].drop_duplicates("payment_id").reset_index(drop=True)


def engine_payments(credits: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    """The payments table rows (billing.schema "payments" columns + origin) for the bank credits
    whose decision applies them: matched automatically or confirmed. `decisions`: payment_id,
    customer_id, reference (line codes then invoice numbers, in the order to apply), step."""
    d = decisions[decisions["status"].isin(["matched", "confirmed"])]
    c = credits.merge(d[["payment_id", "customer_id", "reference", "step"]], on="payment_id")
    return pd.DataFrame({
        "payment_id": c["payment_id"].astype("string"), "customer_id": c["customer_id"].astype("string"),
        "payment_date": c["booking_date"], "amount": c["amount"].astype("int64"),
        "currency": c["currency"].astype("string"), "method": pd.Series("bank", index=c.index, dtype="string"),
        "reference": c["reference"].astype("string"), "invoice_no": pd.Series(pd.NA, index=c.index, dtype="string"),
        "line_code": pd.Series(pd.NA, index=c.index, dtype="string"),
        "_sheet": (BANK_SHEET + c["source"].astype("string")).astype("string"),
        "_row": pd.to_numeric(c["entry"].str.extract(r"(\d+)")[0], errors="coerce").fillna(0).astype("int64")})
