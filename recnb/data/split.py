"""Seeded temporal leave-one-out: each user's latest rating is the test target.

For every user with at least 2 ratings, the latest rating (by timestamp) goes to ``test``;
for users with at least 3, the latest of the rest goes to ``valid``; everything else is
``train``. Users with a single rating stay entirely in ``train`` (nothing to predict from).
Ratings with the same timestamp are ordered by a random key drawn from ``seed`` (not by
file order, which often follows item id and would leak "higher ids come last"). The same
ratings and seed always give the same split. Nothing in ``train`` is later than its user's
``valid`` or ``test`` row, so fitting on ``train`` never sees the future.

Tune on ``valid`` with ``train`` as history; evaluate on ``test`` with ``train_valid`` as
history (what :mod:`recnb.evaluation.protocols` does: everything before the target).

A user who rated the same item more than once (ReDial mentions, re-watches) keeps only the
latest rating of it: otherwise the test target could also sit in that user's training history.
How many rows that removed is in ``Split.repeats_dropped`` (and a warning says so).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recnb.data.schema import RATING_COLUMNS


@dataclass(repr=False)
class Split:
    """train/valid/test frames (ratings schema), each sorted by user, then time."""

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    seed: int = 0
    name: str = ""
    repeats_dropped: int = 0  # earlier ratings of an item the same user rated again (only the latest is kept)
    _groups: dict = field(default_factory=dict, init=False, repr=False)

    @property
    def users(self) -> np.ndarray:
        """Users with a test rating (everyone with >= 2 ratings), sorted."""
        return self.test["user_id"].to_numpy()

    @property
    def train_valid(self) -> pd.DataFrame:
        """train and valid together, for the final fit before scoring on test."""
        both = pd.concat([self.train.assign(_o=0), self.valid.assign(_o=1)], ignore_index=True)
        both = both.sort_values(["user_id", "_o", "timestamp"], kind="mergesort")
        return both.drop(columns="_o").reset_index(drop=True)

    def _index(self, part: str) -> dict:
        if part not in self._groups:
            frame = self.train if part == "train" else self.train_valid
            self._groups[part] = (frame, frame.groupby("user_id", sort=False).indices)
        return self._groups[part]

    def history(self, user_id, include_valid: bool = False) -> pd.DataFrame:
        """The user's training ratings, oldest first (plus the valid row if asked)."""
        frame, idx = self._index("train_valid" if include_valid else "train")
        rows = idx.get(user_id)
        if rows is None:
            return frame.iloc[0:0]
        return frame.iloc[rows]

    def target(self, user_id, part: str = "test"):
        """The held-out item id of ``user_id`` in ``test`` (or ``valid``); None if it has none."""
        key = f"target:{part}"
        if key not in self._groups:
            frame = self.test if part == "test" else self.valid
            self._groups[key] = dict(zip(frame["user_id"].tolist(), frame["item_id"].tolist()))
        return self._groups[key].get(user_id)

    def summary(self) -> dict:
        return {"train": len(self.train), "valid": len(self.valid), "test": len(self.test),
                "users": int(self.test["user_id"].nunique()), "seed": self.seed}

    def __repr__(self):
        s = self.summary()
        return (f"Split({self.name or 'ratings'}: train={s['train']:,}, valid={s['valid']:,}, "
                f"test={s['test']:,} rows; seed={self.seed})")


def temporal_leave_one_out(ratings: pd.DataFrame, seed: int = 0, valid: bool = True, name: str = "") -> Split:
    """Split ``ratings`` (user_id, item_id, rating, timestamp) as described in the module docstring.

    ``valid=False`` keeps the would-be valid rows in ``train`` (``valid`` is then empty).
    """
    missing = [c for c in ("user_id", "item_id", "timestamp") if c not in ratings.columns]
    if missing:
        raise ValueError(f"split needs columns user_id, item_id, timestamp; missing {missing}")
    # A canonical order first, so the random tie-break does not depend on the input's row order.
    frame = ratings.sort_values(["user_id", "timestamp", "item_id"], kind="mergesort").reset_index(drop=True)
    tie = np.random.default_rng(seed).random(len(frame))
    user_code = pd.factorize(frame["user_id"], sort=True)[0]
    order = np.lexsort((tie, frame["timestamp"].to_numpy(), user_code))
    frame = frame.iloc[order].reset_index(drop=True)
    repeats = frame.duplicated(["user_id", "item_id"], keep="last")
    if repeats.any():  # the latest rating of a re-rated item counts; said, not silent
        import warnings

        warnings.warn(f"{int(repeats.sum())} earlier rating(s) of items their user rated again were dropped before "
                      "splitting (only the latest counts), so a held-out item is never also in the history",
                      stacklevel=2)
        frame = frame.loc[~repeats].reset_index(drop=True)

    from_end = frame.groupby("user_id", sort=False).cumcount(ascending=False).to_numpy()
    size = frame.groupby("user_id", sort=False)["user_id"].transform("size").to_numpy()
    is_test = (from_end == 0) & (size >= 2)
    is_valid = (from_end == 1) & (size >= 3) & valid
    is_train = ~(is_test | is_valid)
    parts = [frame.loc[mask].reset_index(drop=True) for mask in (is_train, is_valid, is_test)]
    return Split(*parts, seed=seed, name=name, repeats_dropped=int(repeats.sum()))


__all__ = ["Split", "temporal_leave_one_out", "RATING_COLUMNS"]
