"""Scoring a profile with likes and dislikes kept apart.

A bi-encoder on the whole paragraph embeds "I dislike horror films" next to horror films, so a
dislike pulls horror *up*. Here every statement is scored on its own: its topic ("horror films")
is embedded without the polarity words, each catalog item gets a standardised similarity to it
(z-score over the whole catalog, so statements are comparable), and the polarity decides the sign:

    score(item) = sum over likes    of  weight * z(item, statement)
                - sum over dislikes of  weight * max(z(item, statement) - DISLIKE_MARGIN, 0)

A dislike only pushes down items closer to its topic than the catalog average (DISLIKE_MARGIN
says why no higher); it never lifts unrelated items. The score is a sum of per-statement contributions, so a statement's attribution
(the score change when it is removed) is exactly its contribution.
"""
from __future__ import annotations

from collections import OrderedDict
from contextlib import contextmanager
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from recnb.candidates.embeddings import EmbeddingCache
from recnb.text.profile import Profile, Statement, item_key, statement_topic


@contextmanager
def _one_thread(active: bool):
    """Embed a handful of sentences on one torch thread: intra-op threads buy nothing for ~10 tokens,
    and on a busy 2-core laptop their spin-waits made one sentence take 0.2-1 s instead of ~50 ms."""
    if not active:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


#: A dislike pushes down only items this many standard deviations closer to its topic than
#: average. Measured on movielens-small: at 1, "I dislike Horror films" pushed 8% of the non-horror
#: movies instead of 41%, but the negation probe's mean fall of the disliked genre halved (0.044 ->
#: 0.021) and the users whose disliked genre fell went from 96% to 76% (38% of horror movies got no
#: push at all). The probe is what a person feels, so 0: anything closer than average is pushed,
#: the closest the most.
DISLIKE_MARGIN = 0.0


class EmptyProfileError(ValueError):
    """The profile has no statement with text, so there is nothing to score."""


class ProfileScorer:
    """Scores the whole catalog for a profile; item vectors are embedded once (cached on disk).

    Only statements whose topic text is new are embedded (through the EmbeddingCache), and each
    topic's standardised similarity column is kept in a small LRU, so a flip, a weight change or
    a reorder costs one weighted sum over the catalog.
    """

    def __init__(self, encoder, items: pd.DataFrame, text_column: str = "description",
                 cache: EmbeddingCache | None = None, column_cache_size: int = 256):
        if "item_id" not in items.columns or text_column not in items.columns:
            raise ValueError(f"items need item_id and {text_column!r} columns, have {list(items.columns)}")
        self.cache = cache if cache is not None else EmbeddingCache(encoder)  # an empty cache is falsy (len 0)
        self.item_ids = items["item_id"].to_numpy()
        if items["item_id"].duplicated().any():  # a second row of an id would stay eligible when the id is excluded
            dup = items.loc[items["item_id"].duplicated(), "item_id"].astype(str).unique()[:5]
            raise ValueError(f"item ids must be unique; repeated: {', '.join(dup)}")
        self.row = {item_key(i): r for r, i in enumerate(self.item_ids)}  # raw ids: ASINs are ids too
        texts = items[text_column].fillna("").astype(str).tolist()
        self.item_vectors = np.ascontiguousarray(self.cache.encode(texts), dtype=np.float32)
        self._columns: OrderedDict[str, np.ndarray] = OrderedDict()
        self._column_cache_size = column_cache_size
        self.stats = {"topics_embedded": 0, "column_cache_hits": 0}

    def __len__(self):
        return len(self.item_ids)

    def rows(self, item_ids: Iterable) -> np.ndarray:
        from recnb.scores.base import UnknownItemError

        ids = [item_key(i) for i in item_ids]
        missing = [i for i in ids if i not in self.row]
        if missing:
            raise UnknownItemError(missing, where="profile scorer's catalog")
        return np.fromiter((self.row[i] for i in ids), dtype=np.int64, count=len(ids))

    # -- per statement ------------------------------------------------------------------
    def topic_columns(self, topics: Sequence[str]) -> np.ndarray:
        """(len(topics), n_items) standardised similarities, computing only unseen topics."""
        todo = [t for t in dict.fromkeys(topics) if t not in self._columns]
        if todo:
            with _one_thread(len(todo) <= 4):
                q = self.cache.encode(todo, progress=False)  # disk/memory cache: only new text hits the encoder
            sims = q @ self.item_vectors.T  # (new topics, items): one matrix product over the catalog
            mu = sims.mean(1, keepdims=True)
            sd = sims.std(1, keepdims=True)
            z = (sims - mu) / np.where(sd > 0, sd, 1.0)
            for t, col in zip(todo, z.astype(np.float32)):
                self._columns[t] = col
            self.stats["topics_embedded"] += len(todo)
        self.stats["column_cache_hits"] += len(topics) - len(todo)
        out = np.stack([self._columns[t] for t in topics]) if topics else np.zeros((0, len(self)), np.float32)
        for t in topics:
            self._columns.move_to_end(t)
        while len(self._columns) > max(self._column_cache_size, len(topics)):
            self._columns.popitem(last=False)
        return out

    def contributions(self, profile: Profile, rows: np.ndarray | None = None) -> tuple[list[Statement], np.ndarray]:
        """(statements, matrix): each scored statement's contribution to each item (all items, or ``rows``)."""
        stmts = [s for s in profile.statements if s.text]
        if not stmts:
            raise EmptyProfileError("the profile is empty: add at least one statement (e.g. 'I like heist films')")
        z = self.topic_columns([statement_topic(s.text) for s in stmts])
        if rows is not None:
            z = z[:, rows]
        weights = np.array([s.weight for s in stmts], dtype=np.float32)[:, None]
        like = np.array([s.polarity == "like" for s in stmts])[:, None]
        contrib = np.where(like, weights * z, -weights * np.maximum(z - DISLIKE_MARGIN, 0.0))
        return stmts, contrib

    def scores(self, profile: Profile, rows: np.ndarray | None = None) -> np.ndarray:
        """Total score per item (all items in catalog order, or ``rows``)."""
        return self.contributions(profile, rows)[1].sum(0).astype(np.float64)

    def attribution(self, profile: Profile, item_ids: Iterable) -> pd.DataFrame:
        """Long frame item_id, statement_id, text, polarity, contribution: the score change if removed."""
        ids = [item_key(i) for i in item_ids]
        stmts, contrib = self.contributions(profile, self.rows(ids))
        return pd.DataFrame(
            [
                {"item_id": i, "statement_id": s.id, "text": s.text, "polarity": s.polarity,
                 "contribution": float(contrib[k, j])}
                for j, i in enumerate(ids) for k, s in enumerate(stmts)
            ]
        )
