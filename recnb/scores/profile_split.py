"""The like/dislike split profile ranker ("profile-split"): each statement scored on its own.

See :mod:`recnb.profiles.scoring`. A ``Query.profile`` may be a :class:`~recnb.text.profile.Profile`
(statements used as they are) or plain text (split into sentences, polarity read from the words);
``Query.request`` adds its sentences as statements too. With no text at all, it falls back to the
centroid of the liked history items and counts that in ``stats``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from recnb.candidates.embeddings import EmbeddingCache
from recnb.profiles.scoring import EmptyProfileError, ProfileScorer
from recnb.scores.base import Query, Ranker
from recnb.scores.registry import RankerSpec, register
from recnb.text.profile import Profile, item_key


def query_profile(query: Query) -> Profile:
    """The query's profile and request as one Profile (statements of a Profile object kept as they are)."""
    p = query.profile
    if p is None:
        profile = Profile(user_id=query.user_id)
    elif isinstance(p, Profile):
        profile = p.copy()
    elif isinstance(p, str):
        profile = Profile.from_text(p, user_id=query.user_id)
    elif hasattr(p, "statements"):
        profile = Profile(list(p.statements), user_id=query.user_id)
    else:
        profile = Profile.from_text(query.profile_text, user_id=query.user_id)
    if query.request:
        profile.statements = Profile.from_text(query.request).statements + profile.statements
    return profile


class ProfileSplitRanker(Ranker):
    name = "profile-split"
    uses = ("text", "history")

    def __init__(self, encoder, text_column: str = "description", cache: EmbeddingCache | None = None):
        super().__init__()
        self.encoder, self.text_column, self.cache = encoder, text_column, cache

    def fit(self, train: pd.DataFrame | None, items: pd.DataFrame) -> "ProfileSplitRanker":
        super().fit(train, items)
        self.scorer = ProfileScorer(self.encoder, items, self.text_column, cache=self.cache)
        return self

    def _score(self, query: Query, candidates: np.ndarray) -> np.ndarray:
        profile = query_profile(query)
        rows = self.scorer.rows(candidates)
        if not profile.is_empty():
            return self.scorer.scores(profile, rows)
        liked = [i for i in map(item_key, query.liked()) if i in self.scorer.row]
        if not liked:
            raise EmptyProfileError(
                "profile-split: the query is empty (no profile statements, no request and no liked history items)")
        self.stats["fallback_history_centroid"] += 1
        v = self.scorer.item_vectors[self.scorer.rows(liked)].mean(0)
        return self.scorer.item_vectors[rows] @ (v / (np.linalg.norm(v) or 1.0))

    def why(self, query, candidates, scores):
        profile = query_profile(query)
        if profile.is_empty():
            return None
        stmts, contrib = self.scorer.contributions(profile, self.scorer.rows(candidates))
        top = np.abs(contrib).argmax(0)
        return [f"{contrib[k, j]:+.2f} from '{stmts[k].text}'" for j, k in enumerate(top)]


register(RankerSpec(
    "profile-split", lambda res: ProfileSplitRanker(res.encoder), needs=("encoder",),
    description="all-MiniLM-L6-v2, each profile statement scored alone; likes add, dislikes subtract",
))
