"""Item-kNN: a candidate scores the sum of its cosine similarities to the items in the history.

The neighbourhoods come from ``implicit``'s CosineRecommender (top-K neighbours per item over
the binary user x item matrix); scoring reads that similarity matrix directly, so any history
(including one a person typed in, not a training user) can be scored.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from recnb.scores._interactions import Interactions, empty_query_error
from recnb.scores.base import Query, Ranker
from recnb.scores.registry import RankerSpec, register


class ItemKNNRanker(Ranker):
    name = "item-knn"

    def __init__(self, neighbours: int = 100):
        super().__init__()
        self.neighbours = neighbours

    def fit(self, train: pd.DataFrame | None, items: pd.DataFrame) -> "ItemKNNRanker":
        from implicit.nearest_neighbours import CosineRecommender

        super().fit(train, items)
        self.data = Interactions(train, items, self.stats)
        model = CosineRecommender(K=self.neighbours, num_threads=1)
        with warnings.catch_warnings():
            # implicit 0.7.3's own normalize() hands itself a COO matrix and warns about it; not ours to fix
            warnings.filterwarnings("ignore", message="Method expects CSR input")
            model.fit(self.data.X, show_progress=False)
        # implicit stores sim[i, j] for j among i's K neighbours; the columns we read are candidates.
        # Its diagonal is 1 (every item is its own nearest neighbour): a watched candidate would
        # score +1 from itself and be "watched together with" itself. Dropped.
        sim = model.similarity.tocsr()
        sim.setdiag(0)
        sim.eliminate_zeros()
        self.similarity = sim.tocsc()
        return self

    def _contributions(self, query: Query, candidates: np.ndarray):
        hist = self.data.history_cols(query.history, self.stats)
        if len(hist) == 0:
            raise empty_query_error(self.name)
        return hist, self.similarity[hist][:, self.data.cols_of(candidates.tolist())]

    def _score(self, query: Query, candidates: np.ndarray) -> np.ndarray:
        _, sim = self._contributions(query, candidates)
        return np.asarray(sim.sum(axis=0)).ravel()

    def why(self, query, candidates, scores):
        hist, sim = self._contributions(query, np.asarray(candidates))
        sim = sim.toarray()
        titles = self.items.set_index("item_id")["title"] if "title" in self.items else None
        out = []
        for j in range(sim.shape[1]):
            if sim[:, j].max() <= 0:
                out.append("no neighbour in your history")
                continue
            src = self.data.item_ids[hist[int(np.argmax(sim[:, j]))]]
            out.append(f"watched together with {titles[src] if titles is not None else src}")
        return out


register(RankerSpec("item-knn", lambda res: ItemKNNRanker(), tags=("id-based", "baseline"),
                    description="implicit CosineRecommender item-item neighbours (K=100), summed over the history"))
