"""The catalog as the multi-module systems see it: facts, retrievable passages, search, filters, titles.

RAG, the tools and the conversational recommender all read items through one
:class:`ItemCatalog`, so "what the system knows about an item" is the same text everywhere:
the passage a prompt shows is the text a claim is checked against.
Works with any ``Dataset`` (MovieLens with Wikidata facts, Amazon with reviews); ids may be
ints or strings.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from recnb.data.titles import natural_title, split_title_year
from recnb.scores.base import UnknownItemError
from recnb.systems.constraints import Constraint, apply_constraints, values_of

#: Fact columns in the order passages list them, with their label.
FACT_COLUMNS = {
    "year": "year", "genres": "genres", "director": "director", "writer": "writer", "cast": "cast",
    "country": "country", "language": "language", "runtime": "runtime (minutes)", "awards": "awards",
    "store": "brand", "price": "price", "features": "features", "average_rating": "average rating",
}
MAX_LIST = 6  # values shown per multi-valued fact (a cast list can have 100 names)


class ItemCatalog:
    """Items (and their reviews, when the dataset has them) with search by text and by facts.

    encoder: a sentence encoder for :meth:`search` (loaded on first search when not given).
    n_reviews: how many reviews (most helpful first) a passage includes.
    """

    def __init__(self, items: pd.DataFrame, reviews: pd.DataFrame | None = None, encoder=None,
                 text_column: str = "description", n_reviews: int = 2, review_chars: int = 300):
        if "item_id" not in items.columns:
            raise ValueError(f"items need an item_id column, have {list(items.columns)}")
        self.items = items.drop_duplicates("item_id").reset_index(drop=True)
        self.text_column = text_column if text_column in self.items.columns else "title"
        self._row = {i: p for p, i in enumerate(self.items["item_id"].tolist())}
        self._records = self.items.to_dict("records")
        self.n_reviews, self.review_chars = n_reviews, review_chars
        self._reviews = self._group_reviews(reviews)
        self._encoder = encoder
        self._vectors = None
        self._overrides: dict = {}
        self.stats: Counter = Counter()

    @classmethod
    def from_dataset(cls, dataset, items: pd.DataFrame | None = None, **kwargs) -> "ItemCatalog":
        """The catalog of a ``Dataset`` (``items`` to restrict it, e.g. a tiny-mode subset)."""
        return cls(dataset.items if items is None else items, reviews=getattr(dataset, "reviews", None), **kwargs)

    @staticmethod
    def _group_reviews(reviews):
        if reviews is None or len(reviews) == 0 or "text" not in reviews.columns:
            return {}
        r = reviews
        if "helpful_vote" in r.columns:
            r = r.sort_values("helpful_vote", ascending=False, kind="stable")
        return {k: g.to_dict("records") for k, g in r.groupby("item_id", sort=False)}

    # -- ids -------------------------------------------------------------------------
    def __len__(self):
        return len(self.items)

    def __contains__(self, item_id) -> bool:
        return self._key(item_id) is not None

    def _key(self, item_id):
        """The catalog's own id for ``item_id`` ("12" finds 12: ids come back from JSON and text)."""
        if item_id in self._row:
            return item_id
        if isinstance(item_id, str) and item_id.strip().lstrip("-").isdigit() and int(item_id) in self._row:
            return int(item_id)
        if not isinstance(item_id, str) and str(item_id) in self._row:
            return str(item_id)
        return None

    def resolve(self, item_id):
        """The catalog id, or :class:`UnknownItemError`."""
        key = self._key(item_id)
        if key is None:
            raise UnknownItemError([item_id], where=f"catalog ({len(self):,} items)")
        return key

    @property
    def ids(self) -> list:
        return self.items["item_id"].tolist()

    # -- facts -------------------------------------------------------------------------
    def record(self, item_id) -> dict:
        rec = dict(self._records[self._row[self.resolve(item_id)]])
        rec.update(self._overrides.get(rec["item_id"], {}))
        return rec

    def title(self, item_id, with_year: bool = True) -> str:
        """The title as prompts show it: "Lady Vengeance (2005)" (alternate names dropped)."""
        return _shown_title(self.record(item_id), with_year)

    def facts(self, item_id) -> dict:
        """Non-empty facts of one item: {label: value}; multi-valued facts as lists (first few)."""
        rec = self.record(item_id)
        out = {}
        for col, label in FACT_COLUMNS.items():
            if col not in rec:
                continue
            v = rec[col]
            if col in ("genres", "director", "writer", "cast", "country", "language", "features"):
                vals = values_of(v)
                if col == "genres" and "wd_genres" in rec:  # Wikidata genres add e.g. Biography
                    vals += [g for g in values_of(rec["wd_genres"]) if g not in vals]
                if vals:
                    out[label] = vals[:MAX_LIST]
            elif v is not None and not (not isinstance(v, (list, dict)) and pd.isna(v)) and str(v).strip():
                out[label] = int(v) if isinstance(v, (float, np.floating)) and float(v).is_integer() else v
        return out

    def reviews(self, item_id, n: int | None = None) -> list[str]:
        key = self.resolve(item_id)
        rows = self._reviews.get(key, [])[: self.n_reviews if n is None else n]
        out = []
        for r in rows:
            text = " ".join(str(r.get("text", "")).split())
            if len(text) > self.review_chars:
                text = text[: self.review_chars - 1].rstrip() + "…"
            head = f"{r['rating']:.0f}/5" if r.get("rating") is not None and not pd.isna(r.get("rating")) else ""
            out.append(f"{head} {text}".strip())
        return out

    def description(self, item_id) -> str:
        rec = self.record(item_id)
        v = rec.get(self.text_column)
        return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)

    def passage(self, item_id) -> str:
        """What retrieval hands a prompt for one item: title, facts, description, reviews."""
        lines = [f"title: {self.title(item_id)}"]
        for label, v in self.facts(item_id).items():
            if label == "year":
                continue
            lines.append(f"{label}: {', '.join(map(str, v)) if isinstance(v, list) else v}")
        desc = self.description(item_id)
        if desc:
            lines.append(f"description: {desc}")
        for r in self.reviews(item_id):
            lines.append(f"review: {r}")
        return "\n".join(lines)

    # -- what-if copies (used to plant an injection in one item's text) ------------------------
    def with_description(self, item_id, text: str) -> "ItemCatalog":
        """A copy sharing everything but one item's description (the original is untouched).

        Passages, facts and claim checks see the new text; search keeps the original vectors, so
        an injection trial shows the same retrieved items with and without the planted text.
        """
        other = object.__new__(ItemCatalog)
        other.__dict__.update(self.__dict__)
        other._overrides = {**self._overrides, self.resolve(item_id): {self.text_column: text}}
        other.stats = Counter()
        return other

    # -- search ------------------------------------------------------------------------
    @property
    def encoder(self):
        if self._encoder is None:
            from recnb.models.encoder import load_encoder

            self._encoder = load_encoder("minilm")
        return self._encoder

    def _item_vectors(self) -> np.ndarray:
        if self._vectors is None:
            from recnb.candidates.embeddings import EmbeddingCache

            self._cache = EmbeddingCache(self.encoder)
            texts = self.items[self.text_column].fillna("").astype(str).tolist()
            self._vectors = self._cache.encode(texts)
        return self._vectors

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors, cached in memory only: queries are one-off texts, not worth a disk shard each."""
        memo = self.__dict__.setdefault("_query_memo", {})
        todo = [t for t in dict.fromkeys(texts) if t not in memo]
        if todo:
            vecs = self.encoder.encode(todo, show_progress_bar=False, convert_to_numpy=True, normalize_embeddings=True)
            if len(memo) > 4096:
                memo.clear()
            memo.update(zip(todo, np.asarray(vecs, dtype=np.float32)))
        return np.stack([memo[t] for t in texts])

    def similarity(self, text: str, ids: Sequence | None = None) -> np.ndarray:
        """Cosine between ``text`` and each item's description (all items, or ``ids`` in order)."""
        vecs = self._item_vectors()
        q = self.embed([text])[0]
        if ids is None:
            return vecs @ q
        return vecs[[self._row[self.resolve(i)] for i in ids]] @ q

    def search(self, text: str, k: int = 10, allowed: Iterable | None = None, exclude: Iterable = ()) -> list:
        """Top-k item ids by cosine to ``text`` among ``allowed`` (default all) minus ``exclude``.

        Exact scoring over the eligible rows with numpy: the catalogs here are at most tens of
        thousands of items, and string ids (Amazon) would need a separate id map for FAISS.
        """
        if not str(text or "").strip():
            raise ValueError("search needs a non-empty text")
        self.stats["searches"] += 1
        sims = self.similarity(text)
        keep = np.ones(len(self), dtype=bool) if allowed is None else np.zeros(len(self), dtype=bool)
        if allowed is not None:
            keep[[self._row[k_] for i in allowed if (k_ := self._key(i)) is not None]] = True
        drop = [self._row[k_] for i in exclude if (k_ := self._key(i)) is not None]
        keep[drop] = False
        rows = np.flatnonzero(keep)
        if rows.size == 0:
            return []
        top = rows[np.argsort(-sims[rows], kind="stable")[:k]]
        return [self._records[r]["item_id"] for r in top]

    def filter(self, constraints: Sequence[Constraint]) -> list:
        """Ids of items satisfying every constraint, in catalog order."""
        return self.items["item_id"][self.mask(constraints)].tolist()

    def mask(self, constraints: Sequence[Constraint]) -> np.ndarray:
        """Boolean mask over :attr:`items` rows passing every constraint."""
        return apply_constraints(self.items, constraints, cache=self.__dict__.setdefault("_mask_cache", {}))

    # -- names in the catalog (for grounding what people and models write) -----------------
    def vocabulary(self, field: str) -> list[str]:
        """Distinct values of a multi-valued fact column (directors, cast, genres...), most frequent first."""
        cache = self.__dict__.setdefault("_vocab", {})
        if field not in cache:
            cols = {"genre": ["genres", "wd_genres"]}.get(field, [field])
            counts = Counter(v for c in cols if c in self.items.columns for cell in self.items[c] for v in values_of(cell))
            cache[field] = [v for v, _ in counts.most_common()]
        return cache[field]

    def title_matcher(self):
        """Fuzzy title matcher over the whole catalog (``recnb.ranking.grounding.TitleMatcher``).

        Built from "Title (Year)", so the year written tells remakes apart: "12 Angry Men (1997)"
        is the 1997 film, not the first one in catalog order. The title is the one prompts show
        (:meth:`title`: alternate names dropped), so an item written as shown grounds back to it.
        """
        if "_matcher" not in self.__dict__:
            from recnb.ranking.grounding import TitleMatcher

            # 90, not the grounding default 85: at 85 "The Lion King II" grounds to "The Lion King".
            titles = {rec["item_id"]: _shown_title(rec) for rec in self._records}
            self._matcher = TitleMatcher(titles, threshold=90.0)
        return self._matcher

    def ground_title(self, text: str, among: Sequence | None = None):
        """(item id or None, similarity 0-100) for a title written in free text.

        With ``among``, a match there whose year differs from the one written gives way to a
        catalog item that has that year ("Sabrina (1954)" when only the 1995 one is among), and a
        close match there gives way to a catalog title that matches better ("Aliens" is not the
        retrieved "Alien": the rule :func:`recnb.ranking.grounding.ground` applies to candidates).
        """
        matcher = self.title_matcher()
        item, sim = matcher.best(text, among=among)
        if item is not None and among is not None and sim < 100.0:
            other, other_sim = matcher.best(text)
            if other is not None and other != item and other_sim > sim:
                return other, other_sim
        if item is not None and among is not None:
            year = split_title_year(str(text).strip())[1]
            if year is not None and matcher.years.get(item) != year:
                other, other_sim = matcher.best(text)
                if other is not None and matcher.years.get(other) == year:
                    return other, other_sim
        return item, sim


def _shown_title(rec: dict, with_year: bool = True) -> str:
    """ "Title (Year)" of a record, alternates dropped; a title that already ends in a year keeps it."""
    t, y = natural_title(str(rec.get("title") or rec["item_id"])), rec.get("year")
    has_year = with_year and y is not None and not pd.isna(y) and split_title_year(t)[1] is None
    return f"{t} ({int(y)})" if has_year else t
