"""A FAISS index over item vectors, searched by item id, with fact filters that still return k.

Exact search (``IndexFlatIP`` on normalised vectors = cosine) is the default; HNSW and IVF
are for catalogs far larger than the bundled one (see :func:`recall_at_k` for what they
give up). Vectors live in FAISS under their row position; item ids are mapped on the way out,
exactly as the catalog gives them (int64 for integer ids, otherwise the objects themselves,
such as ASIN strings: see :mod:`recnb.candidates._ids`).

Filters (``allowed`` / ``exclude``) become a FAISS bitmap ID selector, so every kind searches
only eligible items. An approximate kind can still come back short (HNSW's graph walk or
IVF's probed lists may reach fewer than k eligible items); then, and whenever the eligible
set is small, the eligible vectors are scored exactly. Either way exactly min(k, #eligible)
items come back; ``stats`` counts how often each path ran.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

import numpy as np

from recnb.candidates._ids import IdPositions, as_item_ids, no_item

KINDS = ("flat", "hnsw", "ivf")


class VectorIndex:
    """Item vectors in FAISS, addressed by the catalog's own item ids (integers or strings)."""

    #: Filtered searches over at most this many eligible items are scored exactly (cheaper
    #: than a graph walk that skips most nodes, and never short).
    exact_below = 4096

    def __init__(self, item_ids: Sequence, vectors: np.ndarray, kind: str = "flat", **params):
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.item_ids = as_item_ids(item_ids)
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be 2-d (n, dim), got shape {vectors.shape}")
        if len(self.item_ids) != len(vectors):
            raise ValueError(f"{len(self.item_ids)} ids for {len(vectors)} vectors")
        self._ids = IdPositions(self.item_ids)  # raises on repeated ids
        #: what search_many puts where FAISS found no item: -1 for integer ids, None otherwise
        self.no_item = no_item(self.item_ids)
        if kind not in KINDS:
            raise ValueError(f"unknown index kind {kind!r}: use 'flat', 'hnsw' or 'ivf'")
        self.kind, self.dim, self.params = kind, vectors.shape[1], dict(params)
        self.stats: Counter = Counter()
        # _quantizer: IVF only borrows it (FAISS does not own it), so it must live as long as the index
        self.index, self._quantizer = self._make(kind, self.dim, vectors, **params)
        self.index.add(vectors)
        if kind == "ivf":
            self.index.make_direct_map()  # lets reconstruct() fetch stored vectors by position

    @staticmethod
    def _make(kind, dim, vectors, **params):
        import faiss

        if kind == "flat":
            return faiss.IndexFlatIP(dim), None
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, params.get("M", 32), faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = params.get("ef_construction", 80)
            index.hnsw.efSearch = params.get("ef_search", 64)
            return index, None
        nlist = params.get("nlist", max(1, int(np.sqrt(len(vectors)))))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
        index.nprobe = params.get("nprobe", max(1, nlist // 8))
        return index, quantizer

    def __len__(self):
        return len(self.item_ids)

    def __repr__(self):
        return f"VectorIndex(kind={self.kind!r}, items={len(self):,}, dim={self.dim})"

    # -- ids <-> positions ------------------------------------------------------------------
    def positions(self, ids: Iterable, strict: bool = True) -> np.ndarray:
        """Row positions of item ids; unknown ids raise KeyError (``strict``) or are dropped.

        Ids match by value and type as the catalog has them: 7 is not the ASIN "0000000007".
        """
        return self._ids.positions(ids, strict=strict)

    def vectors_of(self, ids: Iterable) -> np.ndarray:
        """Stored vectors of the given item ids (for "more like this" queries)."""
        return self._reconstruct(self.positions(ids))

    def _reconstruct(self, pos: np.ndarray) -> np.ndarray:
        if len(pos) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self.index.reconstruct_batch(np.asarray(pos, dtype=np.int64)), dtype=np.float32)

    def eligible_positions(self, allowed: Iterable | None = None, exclude: Iterable | None = None):
        """Positions that pass ``allowed`` minus ``exclude`` (None: no filter at all).

        Allowed ids that are not in the index are counted in ``stats['allowed_unknown']``.
        """
        if allowed is None and exclude is None:
            return None
        if allowed is not None:
            allowed, pos = self._ids.lookup(allowed)
            mask = np.zeros(len(self), dtype=bool)
            self.stats["allowed_unknown"] += len(set(allowed[pos < 0].tolist()))
            mask[pos[pos >= 0]] = True
        else:
            mask = np.ones(len(self), dtype=bool)
        if exclude is not None:
            mask[self.positions(exclude, strict=False)] = False
        return np.flatnonzero(mask)

    # -- search -----------------------------------------------------------------------------
    def search(self, query: np.ndarray, k: int = 10, allowed: Iterable | None = None,
               exclude: Iterable | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (item_ids, scores) for one query vector, restricted to ``allowed`` minus ``exclude``.

        Exactly min(k, #eligible) items come back, best first.
        """
        q = np.ascontiguousarray(np.atleast_2d(query), dtype=np.float32)
        if q.shape != (1, self.dim):
            raise ValueError(f"query must be one {self.dim}-d vector, got shape {np.shape(query)}")
        eligible = self.eligible_positions(allowed, exclude)
        n_eligible = len(self) if eligible is None else len(eligible)
        k_eff = min(int(k), n_eligible)
        if k_eff <= 0:
            return self.item_ids[:0], np.zeros(0, dtype=np.float32)
        if eligible is not None and n_eligible <= self.exact_below:
            self.stats["filtered_exact_small"] += 1
            return self._exact_subset(q[0], eligible, k_eff)
        pos, scores = self._faiss_search(q, k_eff, eligible)
        if len(pos) < k_eff:  # the approximate search did not reach k eligible items
            self.stats["filtered_exact_fallback"] += 1
            return self._exact_subset(q[0], eligible if eligible is not None else np.arange(len(self)), k_eff)
        return self.item_ids[pos], scores

    def search_many(self, queries: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Unfiltered top-k for a batch of queries: (item_ids [nq, k], scores).

        Where FAISS found no item the id is :attr:`no_item` (-1 for integer ids, None otherwise).
        """
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        scores, pos = self.index.search(q, min(int(k), len(self)))
        ids = self.item_ids[np.clip(pos, 0, None)]  # a copy (fancy indexing), safe to write into
        ids[pos < 0] = self.no_item
        return ids, scores

    def _faiss_search(self, q, k, eligible):
        import faiss

        params, keep = None, None
        if eligible is not None:
            mask = np.zeros(len(self), dtype=bool)
            mask[eligible] = True
            keep = np.packbits(mask, bitorder="little")  # FAISS reads bit i of byte i // 8
            sel = faiss.IDSelectorBitmap(len(self), faiss.swig_ptr(keep))
            if self.kind == "hnsw":
                params = faiss.SearchParametersHNSW(sel=sel, efSearch=max(self.index.hnsw.efSearch, k))
            elif self.kind == "ivf":
                params = faiss.SearchParametersIVF(sel=sel, nprobe=self.index.nprobe)
            else:
                params = faiss.SearchParameters(sel=sel)
        scores, pos = self.index.search(q, k, params=params)
        del keep  # the selector reads this buffer during search(); only free it afterwards
        ok = pos[0] >= 0
        return pos[0][ok], scores[0][ok]

    def _exact_subset(self, q: np.ndarray, pos: np.ndarray, k: int):
        """Brute-force top-k over the given positions (scores from the stored vectors)."""
        scores = self._reconstruct(pos) @ q
        top = np.argsort(-scores, kind="stable")[:k]
        return self.item_ids[pos[top]], scores[top].astype(np.float32)


def recall_at_k(approx: VectorIndex, exact: VectorIndex | None, queries: np.ndarray, k: int = 10,
                truth: np.ndarray | None = None) -> float:
    """Mean share of the exact top-k that the approximate index also returns (1.0 = same sets).

    ``truth``: the exact top-k ids per query, when already computed (exact search over a large
    index is the expensive part of a parameter sweep); otherwise ``exact`` is searched.
    """
    got, _ = approx.search_many(queries, k)
    want = truth if truth is not None else exact.search_many(queries, k)[0]
    return float(np.mean([len({i for i in g.tolist() if i != approx.no_item} & set(w.tolist())) / len(w)
                          for g, w in zip(got, want)]))
