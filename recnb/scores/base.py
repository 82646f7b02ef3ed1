"""The one ranker interface every ranker in the kit implements.

A ranker gets a :class:`Query` (who is asking: history, NL profile, free-text request)
and a list of candidate item ids, and returns one score per candidate (higher is better).
ID-based, lexical, encoder and LLM rankers all look the same from the outside, so the
evaluation harness, the widgets and the shared contract test treat them alike.
"""
from __future__ import annotations

import abc
from collections import Counter
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Query:
    """Everything a ranker may use about the person asking.

    history: item ids the user interacted with, oldest first (training part only).
    ratings: the ratings for ``history`` (same length), or empty for implicit feedback.
    profile: an NL profile (str, or any object with ``to_text()``), used by text rankers.
    request: a free-text request ("a funny heist movie"), used by text rankers.
    """

    user_id: Any = None
    history: tuple = ()
    ratings: tuple = ()
    profile: Any = None
    request: str | None = None

    def __post_init__(self):
        if self.ratings and len(self.ratings) != len(self.history):
            raise ValueError(
                f"Query.ratings has {len(self.ratings)} values but history has {len(self.history)} items"
            )

    @property
    def profile_text(self) -> str:
        """The profile as one paragraph ('' when there is none)."""
        if self.profile is None:
            return ""
        return self.profile if isinstance(self.profile, str) else self.profile.to_text()

    def text(self) -> str:
        """The text a text ranker matches against: request, then profile."""
        parts = [p for p in (self.request, self.profile_text) if p]
        return "\n".join(parts)

    def liked(self, threshold: float = 4.0) -> list:
        """History items rated at or above ``threshold`` (all of them for implicit feedback)."""
        if not self.ratings:
            return list(self.history)
        return [i for i, r in zip(self.history, self.ratings) if r >= threshold]


class UnknownItemError(KeyError):
    """A candidate id is not in the catalog the ranker was fitted on."""

    def __init__(self, ids, where: str = "catalog"):
        ids = list(ids)
        shown = ", ".join(map(str, ids[:5])) + (" ..." if len(ids) > 5 else "")
        super().__init__(f"{len(ids)} unknown item id(s) not in the {where}: {shown}")
        self.ids = ids

    def __str__(self):  # KeyError quotes its message; keep it readable
        return self.args[0]


class Ranker(abc.ABC):
    """Scores candidates for a query. Subclasses implement :meth:`fit` and :meth:`_score`.

    ``stats`` counts what went wrong across calls (parse errors, hallucinated items,
    fallbacks...), so that the evaluation harness can report them instead of hiding them.
    """

    name: str = "ranker"
    #: False for rankers that give every user the same order (random, popularity).
    personalised: bool = True
    #: What the ranker reads from a Query: "history", "text" or both.
    uses: tuple = ("history",)

    def __init__(self):
        self.stats: Counter = Counter()
        self.items: pd.DataFrame | None = None

    # -- to implement -------------------------------------------------------------
    def fit(self, train: pd.DataFrame | None, items: pd.DataFrame) -> "Ranker":
        """Learn from training ratings (user_id, item_id, rating, timestamp) and the catalog."""
        self.items = items
        self._known = set(items["item_id"].tolist())
        return self

    @abc.abstractmethod
    def _score(self, query: Query, candidates: np.ndarray) -> np.ndarray:
        """Scores for known candidates, same order, finite floats."""

    # -- shared behaviour ------------------------------------------------------------
    def checked_candidates(self, candidates: Sequence) -> np.ndarray:
        """``candidates`` as an array, after one clear error for a ranker not fitted or an unknown id."""
        if self.items is None:
            raise RuntimeError(f"{self.name}: call fit(train, items) before score()")
        cands = np.asarray(list(candidates))
        unknown = [c for c in cands.tolist() if c not in self._known]
        if unknown:
            raise UnknownItemError(unknown, where=f"catalog {self.name} was fitted on")
        return cands

    def score(self, query: Query, candidates: Sequence) -> np.ndarray:
        """One finite score per candidate, in the candidates' order (higher is better)."""
        cands = self.checked_candidates(candidates)
        if cands.size == 0:
            return np.zeros(0, dtype=float)
        self.stats["queries"] += 1
        scores = np.asarray(self._score(query, cands), dtype=float)
        if scores.shape != cands.shape:
            raise RuntimeError(f"{self.name} returned {scores.shape} scores for {cands.shape} candidates")
        if not np.all(np.isfinite(scores)):
            raise RuntimeError(f"{self.name} returned non-finite scores")
        return scores

    def rank(self, query: Query, candidates: Sequence, k: int | None = None) -> pd.DataFrame:
        """The candidates sorted by score: columns item_id, score, rank (1 = best), why."""
        from recnb.ranking.order import rank_frame

        cands = list(candidates)
        scores = self.score(query, cands)
        return rank_frame(cands, scores, k=k, why=self.why(query, cands, scores))

    def why(self, query: Query, candidates: list, scores: np.ndarray) -> list | None:
        """An optional one-line reason per candidate (None when the ranker gives none)."""
        return None

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"
