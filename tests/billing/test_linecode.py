"""Line codes: format, check character, vectorised equals scalar, typo detection."""
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.iso7064 import mod_37_36

from billing.linecode import (ALPHABET, append_check, canonical, canonical_series, check_char, explain,
                              is_valid, looks_like_code, make_code, make_codes)
from tests.billing import reference_allocation as reference
from tests.budget import examples

invoice_numbers = st.text(alphabet="ABCXYZ0123456789-/", min_size=1, max_size=14).filter(
    lambda s: any(c.isalnum() for c in s))


def test_code_is_invoice_dash_three_digit_line_and_check_char():
    assert make_code("INV-2024-0042", 1) == "INV-2024-0042-001S"
    assert make_code("A", 1234).startswith("A-1234")


def test_check_char_agrees_with_python_stdnum():
    for inv, line in [("INV-2024-0042", 1), ("0000611365", 7), ("x/9", 12)]:
        code = make_code(inv, line)
        assert mod_37_36.is_valid(canonical(code))
        assert check_char(code[:-1]) == mod_37_36.calc_check_digit(canonical(code[:-1]))


def test_codes_match_ignoring_case_and_separators():
    code = make_code("INV-2024-0042", 3)
    assert is_valid(code.lower())
    assert is_valid(code.replace("-", ""))
    assert is_valid(code.replace("-", " "))


def test_vectorised_codes_equal_scalar_codes():
    inv = pd.Series(["INV-1", "0000611365", "发票-9", "a/b-7", "Z"], dtype="string")
    lines = pd.Series([1, 2, 1000, 45, 999])
    assert make_codes(inv, lines).tolist() == [make_code(i, n) for i, n in zip(inv, lines)]


def test_codes_do_not_depend_on_row_order():
    inv = pd.Series(["INV-1", "INV-2", "INV-3"], dtype="string")
    lines = pd.Series([1, 2, 3])
    forward = dict(zip(zip(inv, lines), make_codes(inv, lines)))
    backward = dict(zip(zip(inv[::-1], lines[::-1]), make_codes(inv[::-1], lines[::-1])))
    assert forward == backward


@settings(max_examples=examples(300))
@given(invoice_numbers, st.integers(1, 9999), st.data())
def test_every_single_substitution_is_detected(inv, line, data):
    code = make_code(inv, line)
    positions = [i for i, c in enumerate(code) if c.upper() in ALPHABET]
    pos = data.draw(st.sampled_from(positions))
    wrong = data.draw(st.sampled_from([c for c in ALPHABET if c != code[pos].upper()]))
    assert not is_valid(code[:pos] + wrong + code[pos + 1:])


def _swaps(body: str):
    for i in range(len(body) - 1):
        if body[i] != body[i + 1]:
            yield body[:i] + body[i + 1] + body[i] + body[i + 2:]


def test_adjacent_transpositions_are_detected_all_but_the_hybrid_systems_blind_spot():
    # ISO 7064 hybrid MOD 37,36 (SPEC's choice, python-stdnum compatible) catches *nearly* all
    # adjacent swaps: a swap of a,b after state s goes unseen only when
    # g(g(s)+a)+b == g(g(s)+b)+a (mod 36), g(x) = 2x mod 37. Measured exhaustively here.
    missed = total = 0
    for inv in ["INV-2025-000123", "0000611365", "B", "SO/77-A"]:
        for line in range(1, 300):
            for swapped in _swaps(canonical(make_code(inv, line))):
                total += 1
                missed += is_valid(swapped)
    assert total > 5000
    assert missed / total < 0.01


@settings(max_examples=examples(300))
@given(invoice_numbers, st.integers(1, 9999))
def test_undetected_swaps_are_exactly_the_predicted_blind_spot(inv, line):
    body = canonical(make_code(inv, line))
    state = 18
    for i in range(len(body) - 1):
        a, b = ALPHABET.index(body[i]), ALPHABET.index(body[i + 1])
        g = lambda x: (2 * (x or 36)) % 37  # noqa: E731
        if a != b:
            swapped = body[:i] + body[i + 1] + body[i] + body[i + 2:]
            predicted_blind = (g((g(state) + a) % 36) + b) % 36 == (g((g(state) + b) % 36) + a) % 36
            assert is_valid(swapped) == predicted_blind
        state = (g(state) + a) % 36


def test_exhaustive_substitutions_on_one_code():
    code = canonical(make_code("INV-2025-000123", 1))
    for pos in range(len(code)):
        for c in ALPHABET:
            if c != code[pos]:
                assert not is_valid(code[:pos] + c + code[pos + 1:])


@pytest.mark.parametrize("token,shape", [("INV-1-001K", True), ("inv-2025-000123-004z", True),
                                         ("INV-1", False), ("thanks", False), ("12345", False)])
def test_code_shape_recognises_dash_digits_check(token, shape):
    assert looks_like_code(token) is shape


def test_explain_names_the_check_character_found_and_the_one_expected():
    good = make_code("INV-7", 1)
    wrong = "A" if good[-1] != "A" else "B"
    bad = good[:-1] + wrong
    assert explain(bad) == (f"'{bad}' is not a valid line code: its check character is '{wrong}' but "
                            f"'{good[-1]}' was expected. A character was probably mistyped or two were swapped.")
    assert explain(good) == f"'{good}' is a valid line code."
    assert explain(good, known=set()) == f"'{good}' has a valid check character but names no invoice line in this data."
    assert explain(good.lower(), known={canonical(good)}) == f"'{good.lower()}' is a valid line code."


def test_the_shortest_code_is_one_character_and_its_check():
    """A body of one letter or digit is enough (SPEC §3 puts no minimum); a single character is too short."""
    for body in "07AZ":
        code = body + check_char(body)
        assert is_valid(code) and is_valid(f"-{code.lower()}-")
        assert explain(code) == f"'{code}' is a valid line code."
    assert not is_valid("7") and not is_valid("")
    assert explain("7") == "'7' is too short to be a line code."


def test_empty_and_missing_columns_get_no_codes():
    empty = pd.Series([], dtype="string")
    assert make_codes(empty, pd.Series([], dtype="int64")).tolist() == []
    assert append_check(empty).tolist() == []
    got = append_check(pd.Series(["INV-1-001", None, "B-002"], dtype="string"))
    assert got[0] == make_code("INV-1", 1) and got[2] == "B-002" + check_char("B-002") and pd.isna(got[1])
    assert str(got.dtype) == "string"


def test_column_canonical_forms_normalise_full_width_and_compatibility_characters():
    texts = ["ＩＮＶ－７－００１", "inv-7/001", "Ⅻ-1", None, "ﬁ-2"]
    for dtype in ("string[pyarrow]", "string[python]", object):
        got = canonical_series(pd.Series(texts, dtype=dtype))
        assert got[:3].tolist() + got[4:].tolist() == [canonical(t) for t in texts if t is not None], dtype
        assert pd.isna(got[3])
    assert canonical("ＩＮＶ－７－００１") == "INV7001" and canonical("ﬁ-2") == "FI2"


@settings(max_examples=examples(200))
@given(invoice_numbers, st.integers(1, 99999))
def test_engine_codes_equal_the_oracles_spec_codes(inv, line):
    """The engine's codes against the oracle's own ISO 7064 MOD 37,36 (tests/billing/reference_allocation.py)."""
    assert make_code(inv, line) == reference.line_code(inv, line)
    assert reference.check_character(inv) == mod_37_36.calc_check_digit(canonical(inv))
    assert is_valid(make_code(inv, line)) and reference.has_valid_check(make_code(inv, line))


# ---------------------------------------------------------------- the byte-matrix paths

codes_text = st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcz-/ .:@éß", max_size=24)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(codes_text, st.none()), max_size=30))
def test_canonical_series_is_canonical_of_each_ascii_value_and_keeps_missing(values):
    from billing.linecode import canonical_series

    got = canonical_series(pd.Series(values, dtype="string"))
    for value, canon in zip(values, got):
        if value is None:
            assert canon is pd.NA
        elif value.isascii():
            assert canon == canonical(value)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet=ALPHABET, max_size=22), max_size=30))
def test_vectorised_check_chars_equal_check_char_row_by_row(bodies):
    from billing.linecode import check_chars

    assert check_chars(pd.Series(bodies, dtype="str")).tolist() == [check_char(b) for b in bodies]


def test_byte_matrix_pads_shorter_strings_with_zero_bytes():
    from billing.linecode import byte_matrix

    matrix, lengths = byte_matrix(pd.Series(["AB", "", None, "é"], dtype="string"))
    assert lengths.tolist() == [2, 0, 0, 2]
    assert matrix.shape == (2, 4) and matrix[:, 0].tolist() == [65, 66] and matrix[:, 1].tolist() == [0, 0]


@given(st.lists(st.one_of(codes_text, st.none()), max_size=30))
def test_all_distinct_agrees_with_pandas_duplicated(values):
    from billing.linecode import all_distinct

    s = pd.Series(values, dtype="string")
    assert all_distinct(s) == (not s.dropna().duplicated().any())


def test_byte_matrix_of_no_strings_is_empty():
    from billing.linecode import byte_matrix

    matrix, lengths = byte_matrix(pd.Series([], dtype="string"))
    assert matrix.shape == (0, 0)
    assert lengths.tolist() == []


def test_byte_matrix_gives_a_missing_value_of_an_object_column_length_zero():
    # pandas reads a blank cell of a text column as NaN in an object column
    from billing.linecode import byte_matrix

    matrix, lengths = byte_matrix(pd.Series(["AB", float("nan"), None], dtype=object))
    assert lengths.tolist() == [2, 0, 0]
    assert matrix[:, 1].tolist() == [0, 0] and matrix[:, 2].tolist() == [0, 0]


@pytest.mark.parametrize("chunks", [[["inv-1-001", "x/2"]], [["inv-1-001"], ["x/2", None]], [[], ["x/2"]]])
def test_canonical_of_a_chunked_arrow_column_covers_every_chunk(chunks):
    import pyarrow as pa

    from billing.linecode import canonical_arrow

    values = [v for chunk in chunks for v in chunk]
    got = canonical_arrow(pa.chunked_array(chunks, type=pa.string())).to_pylist()
    assert got == [None if v is None else canonical(v) for v in values]


def test_check_chars_takes_a_plain_list_of_bodies():
    from billing.linecode import check_chars

    bodies = ["INV20240042001", "A1"]
    assert check_chars(bodies).tolist() == [check_char(b) for b in bodies]


# any text, ASCII or not: check_chars is meant for canonical bodies, but whatever it is given, one row's
# answer must not depend on what the other rows hold (a non-ASCII row sends the column another way)
_any_body = st.text(alphabet=st.sampled_from(list(ALPHABET + "az-/ ÉéőÖ中")), max_size=12)


@settings(max_examples=examples(100), deadline=None)
@given(st.lists(_any_body, min_size=1, max_size=12), st.lists(st.text(alphabet=ALPHABET, max_size=10),
                                                            min_size=1, max_size=6))
def test_check_chars_of_a_row_does_not_depend_on_the_other_rows(others, bodies):
    from billing.linecode import check_chars

    column = check_chars(pd.Series(bodies + others, dtype="string")).tolist()
    alone = [check_chars(pd.Series([b], dtype="string")).tolist()[0] for b in bodies + others]
    assert column == alone
    assert column[:len(bodies)] == [check_char(b) for b in bodies]  # canonical bodies: SPEC §3's check char
