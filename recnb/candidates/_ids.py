"""Item ids as the catalog gives them: integers (MovieLens) or strings (Amazon ASINs).

Ids are never cast: an ISBN-10 ASIN such as "0439064872" would survive ``int()`` as
439064872 and no longer match the catalog. Integer ids are kept as int64 (as before);
any other ids are kept as the objects given. Id -> row position goes through a hash
table (a pandas Index), so lookups are vectorised for both kinds.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd


def as_item_ids(ids) -> np.ndarray:
    """The ids as an array: int64 when every id is an integer, otherwise object (values unchanged)."""
    if isinstance(ids, (pd.Series, pd.Index)):
        ids = ids.to_numpy()
    # A plain list goes in as objects: np.asarray([1, "a"]) would turn the 1 into "1".
    arr = ids if isinstance(ids, np.ndarray) else np.array(list(ids), dtype=object)
    if arr.ndim != 1:
        raise ValueError(f"item ids must be one flat sequence, got shape {arr.shape}")
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype.kind == "f" and np.isfinite(arr).all() and (arr == np.round(arr)).all():
        return arr.astype(np.int64)  # whole-number floats were int ids before a NaN-able read
    if arr.dtype.kind == "O" and len(arr) and all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in arr):
        return arr.astype(np.int64)  # a list of ints, or a nullable Int64 column
    return arr.astype(object)


def no_item(ids: np.ndarray):
    """The placeholder for "no item here" in a batch of ids: -1 for integer ids, None otherwise."""
    return -1 if ids.dtype.kind == "i" else None


class IdPositions:
    """Row positions of item ids (ids must be unique)."""

    def __init__(self, ids: np.ndarray):
        # int64 or object, as as_item_ids made them (an object table of strs is ~6x faster to probe than a str one)
        self._index = pd.Index(ids, dtype=ids.dtype, tupleize_cols=False)
        if not self._index.is_unique:
            dup = self._index[self._index.duplicated()][:5].tolist()
            raise ValueError(f"item ids must be unique; repeated: {dup}")

    def lookup(self, ids: Iterable) -> tuple[np.ndarray, np.ndarray]:
        """(the ids as an array, their positions with -1 where an id is not known)."""
        if isinstance(ids, (pd.Series, pd.Index)):
            ids = ids.to_numpy()
        elif not isinstance(ids, np.ndarray):
            ids = np.array(list(ids), dtype=object)  # objects: np.asarray([7, "7"]) would make both "7"
        if len(ids) == 0:
            return ids, np.zeros(0, dtype=np.int64)
        # tupleize_cols=False: a tuple id stays one id, not a MultiIndex level
        dtype = object if self._index.dtype == object else None
        pos = self._index.get_indexer(pd.Index(ids, dtype=dtype, tupleize_cols=False))
        return ids, np.asarray(pos, dtype=np.int64)

    def positions(self, ids: Iterable, strict: bool = True) -> np.ndarray:
        """Positions of the known ids, in the order given; unknown ids raise KeyError (``strict``) or are dropped."""
        ids, pos = self.lookup(ids)
        if strict and (pos < 0).any():
            missing = ids[pos < 0].tolist()
            raise KeyError(f"{len(missing)} item id(s) not in the index: {missing[:5]}")
        return pos[pos >= 0]
