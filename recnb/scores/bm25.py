"""BM25 ranker: lexical match between the query text and each item's description.

The lexical baseline every encoder must beat on its own ground. The query is the request and
NL profile as one text; with neither, it falls back to the texts of the items the user liked
("more like this", counted in ``stats['fallback_history_text']``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from recnb.candidates.lexical import BM25Index
from recnb.scores._text_query import text_or_history
from recnb.scores.base import Query, Ranker
from recnb.scores.registry import RankerSpec, register


class BM25Ranker(Ranker):
    name = "bm25"
    uses = ("text", "history")

    def __init__(self, text_column: str = "description", stem_language: str | None = "english", k1: float = 1.5,
                 b: float = 0.75):
        super().__init__()
        self.text_column, self.stem_language, self.k1, self.b = text_column, stem_language, k1, b

    def fit(self, train: pd.DataFrame | None, items: pd.DataFrame) -> "BM25Ranker":
        super().fit(train, items)
        texts = items[self.text_column].fillna("").astype(str).tolist()
        self.index = BM25Index(items["item_id"].to_numpy(), texts, self.stem_language, self.k1, self.b)
        self._texts = dict(zip(items["item_id"].tolist(), texts))
        return self

    def query_text(self, query: Query) -> str:
        return text_or_history(self, query)

    def _score(self, query: Query, candidates: np.ndarray) -> np.ndarray:
        before = self.index.stats["no_known_query_terms"]
        scores = self.index.scores_of(self.query_text(query), candidates)
        if self.index.stats["no_known_query_terms"] > before:
            self.stats["no_known_query_terms"] += 1  # every score is 0: the ranking is the input order
        return scores

    def why(self, query, candidates, scores):
        source = "request" if query.request else "profile" if query.profile_text else "liked items"
        return [f"BM25 {s:.2f}: words shared with your {source}" for s in scores]


register(RankerSpec("bm25", lambda res: BM25Ranker(), description="bm25s over item descriptions (stemmed, stop words out)",
                    tags=("lexical", "baseline")))
