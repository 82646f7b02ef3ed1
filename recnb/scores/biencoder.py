"""Bi-encoder ranker: cosine between the query's embedding and each item's description embedding.

The query is the request and NL profile as one text; with no text it falls back to the mean
embedding of the items the user liked ("more like this"), and says so in ``stats``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from recnb.candidates.embeddings import EmbeddingCache
from recnb.scores.base import Query, Ranker
from recnb.scores.registry import RankerSpec, register


class BiEncoderRanker(Ranker):
    name = "bi-encoder"
    uses = ("text", "history")

    def __init__(self, encoder, text_column: str = "description", cache: EmbeddingCache | None = None):
        super().__init__()
        self.encoder = encoder
        self.text_column = text_column
        self.cache = cache if cache is not None else EmbeddingCache(encoder)  # an empty cache is falsy (len 0)

    def fit(self, train: pd.DataFrame | None, items: pd.DataFrame) -> "BiEncoderRanker":
        super().fit(train, items)
        self.item_ids = items["item_id"].to_numpy()
        self.item_vectors = self.cache.encode(items[self.text_column].fillna("").astype(str).tolist())
        self._row = {i: r for r, i in enumerate(self.item_ids.tolist())}  # ids as given: an ASIN is no int
        return self

    def query_vector(self, query: Query) -> np.ndarray:
        text = query.text()
        if text.strip():
            return self.cache.encode([text], progress=False)[0]
        liked = [i for i in query.liked() if i in self._row]
        if liked:
            self.stats["fallback_history_centroid"] += 1
            v = self.item_vectors[[self._row[i] for i in liked]].mean(0)
            return v / (np.linalg.norm(v) or 1.0)
        raise ValueError("bi-encoder: the query is empty (no request, no profile text and no liked history items)")

    def _score(self, query: Query, candidates: np.ndarray) -> np.ndarray:
        q = self.query_vector(query)
        return self.item_vectors[[self._row[c] for c in candidates.tolist()]] @ q

    def why(self, query, candidates, scores):
        return [f"cosine {s:.2f} to your {'request' if query.request else 'profile'}" for s in scores] if query.text() else None


register(RankerSpec("bi-encoder", lambda res: BiEncoderRanker(res.encoder), needs=("encoder",),
                    description="all-MiniLM-L6-v2 cosine, profile/request vs item description"))
