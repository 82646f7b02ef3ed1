"""EASE (Steck 2019): a closed-form item-item linear model, B = I - P / diag(P), P = (X'X + lambda I)^-1.

No library here fits EASE (implicit has none), and it is four lines of numpy. Its cost is a
dense n x n inverse, so it is fitted on the ``max_items`` most-interacted items (3,000 inverts
in a few seconds on a laptop CPU; 9,000 would take over a minute): items outside that set
score ``COLD_SCORE`` (ranked last, counted in ``stats["cold_candidates"]``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import linalg

from recnb.scores._interactions import COLD_SCORE, Interactions, empty_query_error
from recnb.scores.base import Query, Ranker
from recnb.scores.registry import RankerSpec, register


class EASERanker(Ranker):
    name = "ease"

    def __init__(self, l2: float = 200.0, max_items: int = 3000):
        super().__init__()
        self.l2, self.max_items = l2, max_items

    def fit(self, train: pd.DataFrame | None, items: pd.DataFrame) -> "EASERanker":
        super().fit(train, items)
        self.data = Interactions(train, items, self.stats)
        counts = self.data.counts
        # most-interacted first; stable sort so equal counts keep catalog order (deterministic)
        keep = np.argsort(-counts, kind="stable")[: self.max_items]
        keep = np.sort(keep[counts[keep] > 0])
        self.kept = keep
        self.slot = np.full(len(counts), -1, dtype=np.int64)
        self.slot[keep] = np.arange(len(keep))
        X = self.data.X[:, keep]
        G = (X.T @ X).toarray().astype(np.float64)
        G[np.diag_indices_from(G)] += self.l2
        P = linalg.inv(G, overwrite_a=True, check_finite=False)
        B = P / (-np.diag(P))
        B[np.diag_indices_from(B)] = 0.0
        self.B = B.astype(np.float32)
        return self

    def _score(self, query: Query, candidates: np.ndarray) -> np.ndarray:
        hist = self.data.history_cols(query.history, self.stats)
        if len(hist) == 0:
            raise empty_query_error(self.name)
        hist = self.slot[hist]
        if (hist < 0).any():  # outside the max_items modelled: counted, the rest still scores
            self.stats["history_items_outside_model"] += int((hist < 0).sum())
        hist = hist[hist >= 0]
        if len(hist) == 0:  # every history item is outside the modelled items: nothing to go on
            self.stats["fallback_history_outside_model"] += 1
            return np.full(len(candidates), COLD_SCORE)
        slots = self.slot[self.data.cols_of(candidates.tolist())]
        scores = np.full(len(slots), COLD_SCORE)
        inside = slots >= 0
        scores[inside] = self.B[hist][:, slots[inside]].sum(axis=0)
        if (~inside).any():
            self.stats["cold_candidates"] += int((~inside).sum())
        return scores


register(RankerSpec("ease", lambda res: EASERanker(), tags=("id-based", "baseline"),
                    description="EASE closed-form item-item model (lambda=200) on the 3,000 most-interacted items"))
