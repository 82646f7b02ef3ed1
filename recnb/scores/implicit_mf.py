"""Matrix factorisation baselines from ``implicit`` (CPU models): ALS and BPR.

Determinism: fixed ``random_state``, one implicit thread and one BLAS thread while fitting
(BPR's multi-threaded SGD is "hogwild" and differs run to run; one thread does not).
The CPU classes are used explicitly so a CUDA machine gives the same numbers as a laptop.

Scoring a query:
* ALS folds the query's history in (``recalculate_user``: a least-squares solve against the
  fixed item factors), so any history works, including one a person edits.
* BPR has no fold-in in implicit. A training user gets their learned factors (their training
  history is what the model saw; an edited history is not reflected). Anyone else is folded in
  as the mean of their history items' factors, counted in ``stats["fallback_fold_in_mean"]``.
Candidates with no training interaction get ``COLD_SCORE`` (ranked last) and are counted.

Small catalogs: the number of factors is capped at a tenth of the items with interactions
(at least 2). With more factors than that, ALS memorises each user's own items instead of
learning tastes (on the 24-item contract catalog 64 factors gave AUC 0.67-0.88 in a trial no
benchmark keeps; the capped model's 1.0 is `make bench`, section contract);
on movielens-small the cap is far above the default 64, so it changes nothing there.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from recnb.scores._interactions import COLD_SCORE, Interactions, empty_query_error
from recnb.scores.base import Query, Ranker
from recnb.scores.registry import RankerSpec, register


class _MFRanker(Ranker):
    def __init__(self, factors: int = 64, iterations: int = 15, seed: int = 0, **kw):
        super().__init__()
        self.factors, self.iterations, self.seed, self.kw = factors, iterations, seed, kw

    def _model(self):
        raise NotImplementedError

    def fit(self, train: pd.DataFrame | None, items: pd.DataFrame):
        super().fit(train, items)
        self.data = Interactions(train, items, self.stats)
        self.effective_factors = int(min(self.factors, max(2, (self.data.counts > 0).sum() // 10)))
        with threadpool_limits(1, "blas"):
            self.model = self._model()
            self.model.fit(self.data.X, show_progress=False)
        return self

    def _user_vector(self, query: Query, hist: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _score(self, query: Query, candidates: np.ndarray) -> np.ndarray:
        hist = self.data.history_cols(query.history, self.stats)
        if len(hist) == 0 and query.user_id not in self.data.row:
            raise empty_query_error(self.name)
        u = self._user_vector(query, hist)
        cols = self.data.cols_of(candidates.tolist())
        scores = np.asarray(self.model.item_factors[cols] @ u, dtype=float)
        cold = self.data.counts[cols] == 0
        if cold.any():
            self.stats["cold_candidates"] += int(cold.sum())
            scores[cold] = COLD_SCORE
        return scores


class ALSRanker(_MFRanker):
    name = "als"

    def __init__(self, factors: int = 64, iterations: int = 15, regularization: float = 1.0, alpha: float = 1.0,
                 seed: int = 0):
        super().__init__(factors, iterations, seed, regularization=regularization, alpha=alpha)

    def _model(self):
        from implicit.cpu.als import AlternatingLeastSquares

        return AlternatingLeastSquares(factors=self.effective_factors, iterations=self.iterations, random_state=self.seed,
                                       num_threads=1, **self.kw)

    def _user_vector(self, query, hist):
        if len(hist) == 0:
            raise empty_query_error(self.name)
        with threadpool_limits(1, "blas"):
            return np.asarray(self.model.recalculate_user(0, self.data.user_vector(hist))).ravel()


class BPRRanker(_MFRanker):
    name = "bpr"

    def __init__(self, factors: int = 64, iterations: int = 100, learning_rate: float = 0.05,
                 regularization: float = 0.01, seed: int = 0):
        super().__init__(factors, iterations, seed, learning_rate=learning_rate, regularization=regularization)

    def _model(self):
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        return BayesianPersonalizedRanking(factors=self.effective_factors, iterations=self.iterations, random_state=self.seed,
                                           num_threads=1, **self.kw)

    def _user_vector(self, query, hist):
        row = self.data.row.get(query.user_id)
        if row is not None:
            if len(hist) == 0 or np.array_equal(hist, self.data.X[row].indices):
                return self.model.user_factors[row]
            # An edited or other history than the one trained on: the learned factors would ignore
            # it, so it is folded in like an unknown user's (and counted).
            self.stats["history_differs_from_training"] += 1
        if len(hist) == 0:
            raise empty_query_error(self.name)
        self.stats["fallback_fold_in_mean"] += 1
        # implicit's BPR keeps an item bias in the last factor column, matched by a constant 1 for users.
        u = self.model.item_factors[hist].mean(axis=0).copy()
        u[-1] = 1.0
        return u


register(RankerSpec("als", lambda res: ALSRanker(), tags=("id-based", "baseline"),
                    description="implicit ALS (64 factors, 15 iterations), history folded in per query"))
register(RankerSpec("bpr", lambda res: BPRRanker(), tags=("id-based", "baseline"),
                    description="implicit BPR-MF (64 factors, 100 epochs, one thread for determinism)"))
