"""Dense retrieval over a catalog: embed item texts once (cached), search them with FAISS.

Three kinds of query, one method each::

    r = DenseRetriever(items, encoder)                        # exact (IndexFlatIP) by default
    r.search("a funny heist movie", k=10)                     # free-text request
    r.search(profile, k=10, exclude=seen)                     # NL profile (Profile, Query or str):
                                                              # a Profile's likes; its dislikes are left out, with a warning
    r.more_like_this(item_id, k=10, years=(1990, 1999))       # an item's own vector
    r.search(text, k=10, genres=["Comedy"], years=(1980, None))

Filters (year range, genres, exclude) are :class:`~recnb.candidates.filters.FactFilter`
semantics and return exactly k items whenever k are eligible.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from recnb.candidates.embeddings import EmbeddingCache
from recnb.candidates.filters import FactFilter, id_set, make_filter
from recnb.candidates.index import VectorIndex


def _likes_only(query) -> tuple[str | None, int]:
    """(text to embed, dislikes left out) for a Profile or a Query holding one; (None, 0) otherwise.

    One embedding of "I like comedies. I dislike horror films." lands near horror too (34 of the
    top 50 were horror in a probe, 0 without the dislike): a dislike cannot be embedded away.
    """
    profile = getattr(query, "profile", None) if hasattr(query, "request") else query
    if not hasattr(profile, "likes") or not hasattr(profile, "dislikes"):
        return None, 0
    likes = type(profile)(list(profile.likes)).to_text()  # the profile's own paragraph, likes only
    text = "\n".join(p for p in (getattr(query, "request", "") or "", likes) if p)
    return text, len(profile.dislikes)


def query_text(query) -> str:
    """The text of a request, a Profile, a Query (request + profile) or any ``to_text()`` object."""
    if isinstance(query, str):
        return query
    if hasattr(query, "text") and callable(query.text):  # recnb.scores.base.Query
        return query.text()
    if hasattr(query, "to_text"):  # recnb.text.profile.Profile
        return query.to_text()
    raise TypeError(f"a query is a str, a Profile or a Query, not {type(query).__name__}")


class DenseRetriever:
    """A bi-encoder + FAISS retriever over ``items[text_column]``.

    ``kind``: "flat" (exact), "hnsw" or "ivf" (approximate; ``index_params`` go to
    :class:`VectorIndex`). ``cache``: an :class:`EmbeddingCache` to share (default: the
    encoder's on-disk cache).
    """

    def __init__(self, items: pd.DataFrame, encoder=None, text_column: str = "description", kind: str = "flat",
                 cache: EmbeddingCache | None = None, progress: bool = True, **index_params):
        if cache is None:
            if encoder is None:
                from recnb.models.encoder import load_encoder

                encoder = load_encoder("minilm")
            cache = EmbeddingCache(encoder)
        self.cache, self.encoder = cache, cache.encoder
        for col in ("item_id", text_column):
            if col not in items.columns:
                raise ValueError(f"items need an {col!r} column; they have {list(items.columns)}")
        self.items = items.reset_index(drop=True)
        self.text_column = text_column
        texts = self.items[text_column].fillna("").astype(str).tolist()
        self.vectors = self.cache.encode(texts, progress=progress)
        self.index = VectorIndex(self.items["item_id"].to_numpy(), self.vectors, kind=kind, **index_params)
        self._titles = self.items.set_index("item_id")["title"] if "title" in self.items.columns else None

    def __len__(self):
        return len(self.index)

    def encode_query(self, query) -> np.ndarray:
        """One normalised vector for a request, a Profile or a Query (its request and profile text)."""
        text, left_out = _likes_only(query)
        if left_out:
            warnings.warn(f"{left_out} dislike statement(s) not embedded (an embedding would pull those items closer, "
                          "not push them away): filter them out, or rank with the profile-split ranker "
                          "(recnb.profiles.scoring.ProfileScorer), which pushes them down", stacklevel=3)
        text = query_text(query) if text is None else text
        if not text.strip():
            raise ValueError("the query is empty: no request and no profile text (likes) to search with")
        return self.cache.encode([text], progress=False)[0]

    def _filter(self, filters, years, genres, genre_mode, exclude) -> FactFilter:
        return make_filter(filters, years=years, genres=genres, genre_mode=genre_mode, exclude=exclude)

    def search_vector(self, vector: np.ndarray, k: int = 10, filters: FactFilter | None = None, *, years=None,
                      genres=(), genre_mode: str = "any", exclude=()) -> pd.DataFrame:
        """Top-k items for a query vector: item_id, score, rank, title."""
        f = self._filter(filters, years, genres, genre_mode, exclude)
        allowed = f.allowed_ids(self.items) if f.restricts_facts else None
        ids, scores = self.index.search(vector, k, allowed=allowed, exclude=f.exclude or None)
        out = pd.DataFrame({"item_id": ids, "score": scores.astype(float), "rank": np.arange(1, len(ids) + 1)})
        if self._titles is not None:
            out["title"] = out["item_id"].map(self._titles)
        return out

    def search(self, query, k: int = 10, filters: FactFilter | None = None, **kw) -> pd.DataFrame:
        """Top-k for a free-text request, a Profile or a Query (see :meth:`search_vector` for filters)."""
        return self.search_vector(self.encode_query(query), k, filters, **kw)

    def more_like_this(self, item_id, k: int = 10, filters: FactFilter | None = None, **kw) -> pd.DataFrame:
        """Top-k items closest to ``item_id``'s own vector, the item itself left out."""
        vector = self.index.vectors_of([item_id])[0]
        exclude = id_set(kw.pop("exclude", None)) | {item_id}  # ids as given: an ASIN stays a string
        return self.search_vector(vector, k, filters, exclude=exclude, **kw)

    def brute_force(self, vector: np.ndarray, k: int = 10, filters: FactFilter | None = None, **kw) -> pd.DataFrame:
        """The same search by numpy over all vectors: the reference the index is tested against."""
        f = self._filter(filters, kw.get("years"), kw.get("genres"), kw.get("genre_mode", "any"), kw.get("exclude"))
        mask = f.mask(self.items)
        scores = self.vectors @ np.asarray(vector, dtype=np.float32)
        rows = np.flatnonzero(mask)[np.argsort(-scores[mask], kind="stable")[:k]]
        return pd.DataFrame({"item_id": self.items["item_id"].to_numpy()[rows], "score": scores[rows].astype(float),
                             "rank": np.arange(1, len(rows) + 1)})
