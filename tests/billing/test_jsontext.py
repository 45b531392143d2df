"""billing.jsontext: the streamed JSON text is byte for byte json.dumps(obj, ensure_ascii=False, indent=1)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

import billing.jsontext as jsontext
from billing.jsontext import Records, iter_json, plain, value_text

texts = st.one_of(st.none(), st.text(max_size=8), st.sampled_from(['q"uote', "back\\slash", "line\nbreak", "\x01",
                                                                  "日本語", "Ő", "\u2028"]))
ints = st.one_of(st.none(), st.integers(-10**15, 10**15))


def _dumps(items) -> str:
    return json.dumps({k: plain(v) for k, v in items}, ensure_ascii=False, indent=1)


def _streamed(items) -> str:
    return b"".join(iter_json(items)).decode("utf-8")


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(texts, ints, st.integers(-5, 5), st.booleans()), max_size=9), st.integers(1, 4))
def test_records_stream_as_json_dumps_writes_their_dicts(rows, chunk):
    frame = pd.DataFrame({"s": pd.Series([r[0] for r in rows], dtype="string"),
                          "n": pd.Series([r[1] for r in rows], dtype="Int64"),
                          "i": np.array([r[2] for r in rows], dtype=np.int64),
                          "b": np.array([r[3] for r in rows], dtype=bool)})
    records = Records(frame, (("s", "s"), ("nested", (("n", "n"), ("deeper", (("i", "i"),)))), ("b", "b")))
    items = [("as_of", "2025-12-31"), ("buckets", ["a", "b"]), ("rows", records), ("kpis", {"USD": {"x": 1.5}})]
    old, jsontext.CHUNK_ROWS = jsontext.CHUNK_ROWS, chunk
    try:
        assert _streamed(items) == _dumps(items)
    finally:
        jsontext.CHUNK_ROWS = old


def test_object_values_and_floats_are_encoded_as_json_does():
    frame = pd.DataFrame({"refs": [{"line_codes": ["A-001X"], "payment_ids": []}, {}, None],
                          "f": [1.25, np.nan, 1e20]})
    items = [("x", Records(frame, (("refs", "refs"), ("f", "f"))))]
    assert _streamed(items) == _dumps(items)


def test_empty_records_and_an_empty_object():
    frame = pd.DataFrame({"a": pd.Series(dtype="string")})
    assert _streamed([("a", Records(frame, (("a", "a"),)))]) == _dumps([("a", Records(frame, (("a", "a"),)))])
    assert _streamed([]) == json.dumps({}, indent=1)


@given(st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5)),
                    lambda inner: st.one_of(st.lists(inner, max_size=3),
                                            st.dictionaries(st.text(max_size=3), inner, max_size=3)),
                    max_leaves=8), st.integers(0, 4))
def test_value_text_is_json_dumps_at_its_level(value, level):
    assert value_text(value, level) == json.dumps(value, ensure_ascii=False, indent=1).replace("\n", "\n" + " " * level)
