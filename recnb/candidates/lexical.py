"""BM25 over item texts (bm25s), with the same filters and id addressing as the FAISS index.

Tokens are lower-cased words minus English stop words (scikit-learn's list of 318: bm25s's
own short list keeps words such as "about", which then match titles like "About Last
Night"), stemmed with PyStemmer when it is installed (so "comedies" matches "comedy");
without it, words are matched as written and ``stemmer`` says so.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

import numpy as np

from recnb.candidates._ids import IdPositions, as_item_ids


def _stemmer(language: str | None):
    if not language:
        return None
    try:
        import Stemmer
    except ImportError:
        return None
    return Stemmer.Stemmer(language).stemWord


class BM25Index:
    """BM25 scores of one query against every item; top-k with ``allowed``/``exclude``.

    Item ids come back as given (integers or strings such as ASINs), never cast.
    """

    def __init__(self, item_ids: Sequence, texts: Sequence[str], stem_language: str | None = "english",
                 k1: float = 1.5, b: float = 0.75):
        import bm25s
        from bm25s.tokenization import Tokenizer

        self.item_ids = as_item_ids(item_ids)
        if len(self.item_ids) != len(texts):
            raise ValueError(f"{len(self.item_ids)} ids for {len(texts)} texts")
        self._ids = IdPositions(self.item_ids)  # raises on repeated ids
        stem = _stemmer(stem_language)
        self.stemmer = "PyStemmer/" + stem_language if stem else None
        self.stats: Counter = Counter()
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        self.tokenizer = Tokenizer(stopwords=sorted(ENGLISH_STOP_WORDS), stemmer=stem)
        ids = self.tokenizer.tokenize([str(t) for t in texts], update_vocab=True, return_as="ids", show_progress=False)
        self.bm25 = bm25s.BM25(k1=k1, b=b)
        self.bm25.index((ids, self.tokenizer.get_vocab_dict()), show_progress=False)
        self._empty_token = self.tokenizer.get_vocab_dict().get("")

    def __len__(self):
        return len(self.item_ids)

    def query_terms(self, text: str) -> list[int]:
        """Vocabulary ids of the query's words that occur in some item text."""
        ids = self.tokenizer.tokenize([text], update_vocab=False, return_as="ids", show_progress=False)[0]
        return [t for t in ids if t != self._empty_token]

    def scores(self, text: str) -> np.ndarray:
        """One BM25 score per item (catalog order); all zeros when no query word is in any item text."""
        terms = self.query_terms(text)
        if not terms:
            self.stats["no_known_query_terms"] += 1
            return np.zeros(len(self), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(terms), dtype=np.float32)

    def scores_of(self, text: str, ids: Iterable) -> np.ndarray:
        """BM25 scores of the given item ids, in their order; an unknown id is a KeyError."""
        return self.scores(text)[self._ids.positions(ids)]

    def search(self, text: str, k: int = 10, allowed: Iterable | None = None,
               exclude: Iterable | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (item_ids, scores) among eligible items; exactly min(k, #eligible) come back.

        Every item is scored (BM25 is cheap), so filtering is exact. Ties keep catalog order.
        """
        scores = self.scores(text)
        mask = np.ones(len(self), dtype=bool)
        if allowed is not None:
            mask[:] = False
            mask[self._ids.positions(allowed, strict=False)] = True  # unknown ids are simply not there
        if exclude is not None:
            mask[self._ids.positions(exclude, strict=False)] = False
        rows = np.flatnonzero(mask)
        top = rows[np.argsort(-scores[rows], kind="stable")[: max(0, int(k))]]
        return self.item_ids[top], scores[top]
