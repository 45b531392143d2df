"""JSON text, byte for byte as `json.dumps(obj, ensure_ascii=False, indent=1)` writes it, in chunks.

The report of a million lines is a few hundred MB of JSON. Building it as one dict of
dicts and encoding that with the standard library (whose C encoder is not used when
indenting) costs seconds per section and gigabytes of Python objects. Here a table
section is given as columns (`Records`): each column becomes an Arrow array of JSON
fragments in one pass, and a chunk of rows is one element-wise string join whose
bytes are taken straight from Arrow's data buffer. Small parts (dicts of a few keys)
go through `json.dumps` itself.

orjson does not fit here: it indents by 2 only, and the report's format (indent 1) is
fixed by what users already parse and diff.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any, Iterable, Iterator, Union

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# A field of a record: (key, column name) or (key, nested fields) for an object inside the record.
Field = tuple[str, Union[str, tuple["Field", ...]]]

CHUNK_ROWS = 100_000
# What json's encode_basestring escapes (with ensure_ascii=False): quote, backslash, control characters.
_NEEDS_ESCAPE = r'[\x00-\x1f"\\]'
_NOTHING = pa.scalar("", pa.large_string())  # the separator of element-wise joins


@dataclass(frozen=True)
class Records:
    """A JSON list of objects, one per row of `frame`, keys and nesting given by `fields`.

    `frame` holds JSON-ready columns: strings (missing = null), integers, booleans,
    floats, or objects (dicts and lists, encoded value by value).
    """

    frame: pd.DataFrame
    fields: tuple[Field, ...]

    def to_list(self) -> list[dict]:
        """The rows as plain Python dicts (missing values None), as `json.loads` would give them back."""
        rows = self.frame.astype(object).where(self.frame.notna(), None).to_dict(orient="records")
        return [_shape(row, self.fields) for row in rows]


def _shape(row: dict, fields: tuple[Field, ...]) -> dict:
    return {key: row[col] if isinstance(col, str) else _shape(row, col) for key, col in fields}


def plain(value: Any) -> Any:
    """`value` with every Records replaced by its list of dicts (for callers that want one dict)."""
    if isinstance(value, Records):
        return value.to_list()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def iter_json(items: Iterable[tuple[str, Any]]) -> Iterator[bytes]:
    """The UTF-8 text of the JSON object {key: value, ...} for `items`, in chunks.

    Values are anything `json.dumps` takes, or `Records`. The concatenated chunks equal
    `json.dumps(dict(items), ensure_ascii=False, indent=1)` with every Records as its list.
    """
    first = True
    for key, value in items:
        yield (b"{\n " if first else b",\n ") + (encode_basestring(key) + ": ").encode()
        first = False
        if isinstance(value, Records):
            yield from _records_json(value, level=1)
        else:
            yield _indent(json.dumps(value, ensure_ascii=False, indent=1), 1).encode()
    yield b"{}" if first else b"\n}"


def _indent(text: str, level: int) -> str:
    """JSON text made at level 0, placed at `level` (strings never hold a raw line break)."""
    return text.replace("\n", "\n" + " " * level) if level else text


def _records_json(records: Records, level: int) -> Iterator[bytes]:
    n = len(records.frame)
    if n == 0:
        yield b"[]"
        return
    yield b"[\n" + b" " * (level + 1)
    between = ",\n" + " " * (level + 1)
    for start in range(0, n, CHUNK_ROWS):
        chunk = records.frame.iloc[start:start + CHUNK_ROWS]
        pieces = _object_pieces(chunk, records.fields, level + 1)
        last = start + CHUNK_ROWS >= n
        yield _concat(pc.binary_join_element_wise(*pieces, _NOTHING), between, last)
    yield ("\n" + " " * level + "]").encode()


def _concat(rows: pa.Array, between: str, last: bool) -> bytes:
    """The rows one after the other, `between` after each but the very last row of the list."""
    joined = pc.binary_join_element_wise(rows, pa.scalar(between, pa.large_string()), _NOTHING)
    data = _buffer_bytes(joined)
    return data[: len(data) - len(between.encode())] if last else data


def _one(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous array (pandas' Arrow-backed columns may come in chunks)."""
    if isinstance(arr, pa.ChunkedArray):
        return arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    return arr


def _buffer_bytes(arr: pa.Array) -> bytes:
    """The concatenation of a null-free string array's values, straight from its data buffer."""
    arr = _one(arr)
    arr = arr.cast(pa.large_string()) if arr.type != pa.large_string() else arr
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64, count=len(arr) + 1, offset=arr.offset * 8)
    data = arr.buffers()[2]
    return b"" if data is None else memoryview(data)[int(offsets[0]):int(offsets[-1])].tobytes()


def _object_pieces(chunk: pd.DataFrame, fields: tuple[Field, ...], level: int) -> list:
    """Constant texts and value arrays that, joined element-wise, give each row's JSON object."""
    inner = "\n" + " " * (level + 1)
    pieces: list = []
    for i, (key, col) in enumerate(fields):
        pieces.append(("{" if i == 0 else ",") + inner + encode_basestring(key) + ": ")
        if isinstance(col, str):
            pieces.append(fragments(chunk[col], level + 1))
        else:
            pieces.extend(_object_pieces(chunk, col, level + 1))
    pieces.append("\n" + " " * level + "}")
    return _merge_constants(pieces)


def _merge_constants(pieces: list) -> list:
    """Adjacent constant texts as one Arrow scalar each (fewer arguments to the join)."""
    out: list = []
    for p in pieces:
        if isinstance(p, str) and out and isinstance(out[-1], str):
            out[-1] += p
        else:
            out.append(p)
    return [pa.scalar(p, pa.large_string()) if isinstance(p, str) else p for p in out]


def fragments(values: pd.Series, level: int) -> pa.Array:
    """Each value's JSON text (as json.dumps writes it at `level`), as a large_string array."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype) and not values.isna().any():
        return pc.if_else(pa.array(values.to_numpy(dtype=bool)), pa.scalar("true", pa.large_string()),
                          pa.scalar("false", pa.large_string()))
    if pd.api.types.is_integer_dtype(dtype):
        arr = _one(pa.array(values, from_pandas=True)).cast(pa.large_string())
        return pc.fill_null(arr, pa.scalar("null", pa.large_string()))
    if isinstance(dtype, pd.StringDtype) or (dtype == object and pd.api.types.infer_dtype(values) in
                                             ("string", "empty")):
        return _string_fragments(values)
    if isinstance(dtype, pd.CategoricalDtype):
        return fragments(values.astype(object), level)
    cells = values.astype(object).where(values.notna(), None)
    return pa.array([value_text(v, level) for v in cells], type=pa.large_string())


def value_text(value: Any, level: int) -> str:
    """One value's JSON text at `level`: dicts of str keys, lists, strings and None directly
    (an exception's refs, ~4 µs), anything else through json.dumps."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return encode_basestring(value)
    if isinstance(value, list):
        if not value:
            return "[]"
        inner = ",\n" + " " * (level + 1)
        return "[\n" + " " * (level + 1) + inner.join(value_text(v, level + 1) for v in value) + \
            "\n" + " " * level + "]"
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        if not value:
            return "{}"
        inner = ",\n" + " " * (level + 1)
        return "{\n" + " " * (level + 1) + inner.join(
            encode_basestring(k) + ": " + value_text(v, level + 1) for k, v in value.items()) + \
            "\n" + " " * level + "}"
    return _indent(json.dumps(value, ensure_ascii=False, indent=1), level)


def _string_fragments(values: pd.Series) -> pa.Array:
    """Strings quoted and escaped as json does (only the few that need escaping one by one); missing -> null."""
    arr = _one(pa.array(values.astype("string"), from_pandas=True))
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    quoted = pc.binary_join_element_wise(pa.scalar('"', pa.large_string()), arr,
                                         pa.scalar('"', pa.large_string()), _NOTHING)
    odd = np.asarray(pc.fill_null(pc.match_substring_regex(arr, _NEEDS_ESCAPE), False), dtype=bool)
    if odd.any():
        escaped = [encode_basestring(v) for v in arr.filter(pa.array(odd)).to_pylist()]
        quoted = pc.replace_with_mask(quoted, pa.array(odd), pa.array(escaped, type=pa.large_string()))
    return pc.fill_null(quoted, pa.scalar("null", pa.large_string()))
