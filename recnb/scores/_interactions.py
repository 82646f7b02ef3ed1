"""The user x item interaction matrix the ID-based rankers (item-kNN, ALS, BPR, EASE) learn from.

Interactions are binary (a rating of any value is an interaction), as in the leave-one-out
protocol whose target is the next item a user rated, whatever the rating.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp

#: Score for a candidate a model knows nothing about (no training interactions). Finite and
#: below every learned score, so such an item ranks last and ties pessimistically.
COLD_SCORE = -1e6


class Interactions:
    def __init__(self, train: pd.DataFrame | None, items: pd.DataFrame, stats=None):
        self.item_ids = items["item_id"].to_numpy()
        self.col = {i: c for c, i in enumerate(self.item_ids.tolist())}
        train = train if train is not None else pd.DataFrame(columns=["user_id", "item_id"])
        known = train["item_id"].isin(self.col)
        #: training rows whose item is not in the catalog: left out, counted in ``stats`` and said
        self.dropped_rows = int((~known).sum())
        if self.dropped_rows:
            if stats is not None:
                stats["train_rows_not_in_catalog"] += self.dropped_rows
            warnings.warn(f"{self.dropped_rows} training row(s) name items not in the catalog "
                          f"(e.g. {train.loc[~known, 'item_id'].iloc[0]}); they were left out", stacklevel=3)
        train = train[known]
        self.user_ids = np.sort(train["user_id"].unique())
        self.row = {u: r for r, u in enumerate(self.user_ids.tolist())}
        rows = train["user_id"].map(self.row).to_numpy()
        cols = train["item_id"].map(self.col).to_numpy()
        X = sp.csr_matrix((np.ones(len(train), dtype=np.float32), (rows, cols)),
                          shape=(len(self.user_ids), len(self.item_ids)))
        X.sum_duplicates()
        X.data[:] = 1.0  # a re-rated item is still one interaction
        self.X = X
        self.counts = np.asarray(X.sum(axis=0)).ravel()

    def cols_of(self, ids) -> np.ndarray:
        return np.fromiter((self.col[i] for i in ids), dtype=np.int64, count=len(ids))

    def history_cols(self, history, stats=None) -> np.ndarray:
        """Catalog columns of the history items the model can use. Items not in the catalog, and
        items no training user interacted with (a model learned nothing about them), are counted
        in ``stats`` and skipped."""
        cols = [self.col[i] for i in history if i in self.col]
        if stats is not None and len(cols) < len(history):
            stats["history_items_not_in_catalog"] += len(history) - len(cols)
        cols = np.unique(np.asarray(cols, dtype=np.int64))
        used = cols[self.counts[cols] > 0]
        if stats is not None and len(used) < len(cols):
            stats["history_items_without_interactions"] += len(cols) - len(used)
        return used

    def user_vector(self, cols: np.ndarray) -> sp.csr_matrix:
        """A 1 x n_items binary row for a history given as columns."""
        return sp.csr_matrix((np.ones(len(cols), dtype=np.float32), (np.zeros(len(cols), dtype=np.int64), cols)),
                             shape=(1, len(self.item_ids)))


def empty_query_error(name: str) -> ValueError:
    return ValueError(f"{name}: the query is empty (no history item of this catalog that training users "
                      "interacted with, so nothing to start from)")
