"""What kind of value each raw spreadsheet cell holds: blank, text, number, date or other.

Parsers (money, dates) branch on this per column; pandas' C type inference
answers for homogeneous columns, and only a mixed object column needs one
`type()` lookup per cell (no parsing).
"""
from __future__ import annotations

import datetime as dt
import decimal

import numpy as np
import pandas as pd

K_BLANK, K_STR, K_NUM, K_DT, K_OTHER = 0, 1, 2, 3, 4

_NUMERIC_TYPES = (
    float, int, decimal.Decimal,
    np.float16, np.float32, np.float64,
    np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
)  # fmt: skip
_TYPE_KIND = ({t: K_NUM for t in _NUMERIC_TYPES} | {str: K_STR, np.str_: K_STR}
              | {dt.datetime: K_DT, dt.date: K_DT, pd.Timestamp: K_DT, np.datetime64: K_DT})


def cell_kinds(values: pd.Series) -> np.ndarray:
    """Kind of every cell as int8 (K_BLANK, K_STR, K_NUM, K_DT, K_OTHER); booleans are "other"."""
    n = len(values)
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        values = values.astype(object)
        dtype = values.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        kinds = np.full(n, K_DT, dtype=np.int8)
    elif pd.api.types.is_bool_dtype(dtype):
        kinds = np.full(n, K_OTHER, dtype=np.int8)
    elif pd.api.types.is_numeric_dtype(dtype):
        kinds = np.full(n, K_NUM, dtype=np.int8)
    elif pd.api.types.is_string_dtype(dtype) and dtype != object:
        kinds = np.full(n, K_STR, dtype=np.int8)
    elif dtype == object:
        inferred = pd.api.types.infer_dtype(values, skipna=True)
        if inferred in ("string", "empty"):
            kinds = np.full(n, K_STR, dtype=np.int8)
        elif inferred in ("floating", "integer", "mixed-integer-float", "decimal"):
            kinds = np.full(n, K_NUM, dtype=np.int8)
        elif inferred in ("datetime", "datetime64", "date"):
            kinds = np.full(n, K_DT, dtype=np.int8)
        else:  # mixed: one type() + dict lookup per cell
            kinds = values.map(type).map(_TYPE_KIND).fillna(K_OTHER).to_numpy(dtype=np.int8).copy()
    else:  # timedeltas, intervals, ...
        kinds = np.full(n, K_OTHER, dtype=np.int8)
    kinds[values.isna().to_numpy()] = K_BLANK
    return kinds


def is_blank_cell(value: object) -> bool:
    """One cell: missing, or text that is only white space."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def text_cells(values: pd.Series, kinds: np.ndarray, normalise) -> tuple[pd.Series, np.ndarray]:
    """The non-empty text cells, normalised, and their positions; empty ones become K_BLANK in `kinds`.

    `normalise` maps a string Series to its cleaned form (each parser has its own rules).
    """
    is_str = kinds == K_STR
    pos = np.flatnonzero(is_str)
    if not len(pos):
        return pd.Series([], dtype="str"), pos
    text = values[is_str]
    if text.dtype != "str":
        text = pd.Series(text.to_numpy(dtype=object), dtype="str")
    text = normalise(text.reset_index(drop=True))
    empty = (text.str.len() == 0).to_numpy(dtype=bool)
    kinds[pos[empty]] = K_BLANK
    return text[~empty], pos[~empty]


def string_series(values: np.ndarray, index: pd.Index) -> pd.Series:
    """An object array of str / None as a pandas "string" Series (None -> <NA>), built by Arrow in C.

    The same Series as `pd.Series(values, index=index, dtype="string")`, which converts cell by cell.
    """
    import pyarrow as pa

    arr = pa.array(values, type=pa.large_string(), from_pandas=True)
    return pd.Series(pd.arrays.ArrowStringArray(arr), index=index, dtype="string")
