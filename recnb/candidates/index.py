"""A FAISS index over item vectors, searched by item id, with fact filters that still return k.

Exact search (``IndexFlatIP`` on normalised vectors = cosine) is the default; approximate
kinds are for catalogs far larger than the bundled one.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np


class VectorIndex:
    """Item vectors in FAISS, addressed by the catalog's own item ids (int64)."""

    def __init__(self, item_ids: Sequence[int], vectors: np.ndarray, kind: str = "flat", **params):
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.item_ids = np.asarray(item_ids, dtype=np.int64)
        if len(self.item_ids) != len(vectors):
            raise ValueError(f"{len(self.item_ids)} ids for {len(vectors)} vectors")
        if len(np.unique(self.item_ids)) != len(self.item_ids):
            raise ValueError("item ids must be unique")
        self.kind, self.dim = kind, vectors.shape[1]
        base = self._make(kind, self.dim, vectors, **params)
        self.index = faiss.IndexIDMap2(base) if kind == "flat" else base
        if kind == "flat":
            self.index.add_with_ids(vectors, self.item_ids)
        else:
            self.index.add(vectors)  # approximate kinds keep positions; map back below
        self._pos = {int(i): p for p, i in enumerate(self.item_ids)}

    @staticmethod
    def _make(kind, dim, vectors, **params):
        import faiss

        if kind == "flat":
            return faiss.IndexFlatIP(dim)
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, params.get("M", 32), faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = params.get("ef_construction", 80)
            index.hnsw.efSearch = params.get("ef_search", 64)
            return index
        if kind == "ivf":
            nlist = params.get("nlist", max(1, int(np.sqrt(len(vectors)))))
            quantizer = faiss.IndexFlatIP(dim)
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.train(vectors)
            index.nprobe = params.get("nprobe", max(1, nlist // 8))
            index._quantizer_ref = quantizer  # keep the quantizer alive with the index
            return index
        raise ValueError(f"unknown index kind {kind!r}: use 'flat', 'hnsw' or 'ivf'")

    def __len__(self):
        return len(self.item_ids)

    def vectors_of(self, ids: Iterable[int]) -> np.ndarray:
        """Stored vectors of the given item ids (for "more like this" queries)."""
        rows = [self._pos[int(i)] for i in ids]
        return np.vstack([self.index.reconstruct(int(self.item_ids[r])) if self.kind == "flat" else self.index.reconstruct(r) for r in rows])

    def search(self, query: np.ndarray, k: int = 10, allowed: Iterable[int] | None = None,
               exclude: Iterable[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (item_ids, scores) for one query vector, restricted to ``allowed`` minus ``exclude``.

        With a filter, exactly min(k, #eligible) items come back: the flat index searches through a
        FAISS ID selector; approximate indexes over-fetch and widen until enough pass the filter.
        """
        import faiss

        q = np.ascontiguousarray(np.atleast_2d(query), dtype=np.float32)
        eligible = None
        if allowed is not None or exclude is not None:
            eligible = set(map(int, allowed)) if allowed is not None else set(self._pos)
            if exclude is not None:
                eligible -= set(map(int, exclude))
            eligible &= set(self._pos)
            if not eligible:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        k_eff = min(k, len(self) if eligible is None else len(eligible))
        if k_eff <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if eligible is None:
            scores, ids = self.index.search(q, k_eff)
            return self._ids(ids[0]), scores[0]
        if self.kind == "flat":
            sel = faiss.IDSelectorBatch(np.fromiter(eligible, dtype=np.int64))
            scores, ids = self.index.search(q, k_eff, params=faiss.SearchParameters(sel=sel))
            return ids[0], scores[0]
        fetch = min(len(self), max(4 * k_eff, 32))
        while True:
            scores, ids = self.index.search(q, fetch)
            found = [(i, s) for i, s in zip(self._ids(ids[0]), scores[0]) if i >= 0 and int(i) in eligible]
            if len(found) >= k_eff or fetch >= len(self):
                found = found[:k_eff]
                return np.array([i for i, _ in found], dtype=np.int64), np.array([s for _, s in found], dtype=np.float32)
            fetch = min(len(self), fetch * 4)

    def _ids(self, raw: np.ndarray) -> np.ndarray:
        if self.kind == "flat":
            return raw
        return np.where(raw >= 0, self.item_ids[np.clip(raw, 0, None)], -1)
