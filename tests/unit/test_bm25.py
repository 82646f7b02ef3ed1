"""BM25 index and ranker: the Lucene BM25 formula, stemming, filters against brute force, empty and unknown queries."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from recnb.candidates.lexical import BM25Index
from recnb.scores.base import Query
from recnb.scores.bm25 import BM25Ranker

DOCS = {
    10: "A heist thriller in Los Angeles with a crew of thieves.",
    20: "A romantic comedy about a wedding in Paris.",
    30: "Space adventure: a starship crew explores alien planets.",
    40: "Two comedies in one: a wedding and a funeral.",
    50: "A quiet drama.",
}


@pytest.fixture(scope="module")
def index():
    return BM25Index(list(DOCS), list(DOCS.values()))


def test_scores_follow_lucene_bm25(index):
    # One query word ("heist") in one document: score = idf * tf / (tf + k1*(1 - b + b*len/avglen)),
    # Lucene's variant (it drops the constant (k1 + 1) factor), idf = ln(1 + (n - df + 0.5) / (df + 0.5)).
    n, df, k1, b = len(DOCS), 1, 1.5, 0.75
    lengths = [len(index.query_terms(t)) for t in DOCS.values()]  # document lengths in index tokens
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    want = idf * 1 / (1 + k1 * (1 - b + b * lengths[0] / np.mean(lengths)))
    scores = index.scores("heist")
    assert scores[0] == pytest.approx(want, rel=1e-4)
    assert (scores[1:] == 0).all()


def test_stemming_matches_word_forms(index):
    if index.stemmer is None:
        pytest.skip("PyStemmer is not installed: words are matched as written")
    ids, scores = index.search("comedy weddings", k=2)
    assert set(ids.tolist()) == {20, 40} and (scores > 0).all()


def test_filters_equal_brute_force(index):
    for allowed, exclude in [(None, None), ([20, 40, 50], None), (None, [20]), ([10, 20, 30], [10]), ([], None)]:
        eligible = [i for i in DOCS if (allowed is None or i in allowed) and (exclude is None or i not in exclude)]
        scores = dict(zip(DOCS, index.scores("crew wedding")))
        want = sorted(eligible, key=lambda i: -scores[i])[:3]
        got, got_scores = index.search("crew wedding", k=3, allowed=allowed, exclude=exclude)
        assert len(got) == min(3, len(eligible))
        assert [scores[i] for i in got] == pytest.approx([scores[i] for i in want])
        assert np.all(np.diff(got_scores) <= 0)


def test_query_with_no_known_word_is_zeros_and_counted(index):
    assert (index.scores("zebra xylophone") == 0).all()
    assert (index.scores("the and of") == 0).all()  # stop words only
    assert index.stats["no_known_query_terms"] == 2


def test_bad_construction():
    with pytest.raises(ValueError, match="ids for"):
        BM25Index([1, 2], ["one text"])
    with pytest.raises(ValueError, match="unique"):
        BM25Index([1, 1], ["a", "b"])


def test_ranker_text_fallback_and_errors():
    items = pd.DataFrame({"item_id": list(DOCS), "description": list(DOCS.values())})
    r = BM25Ranker().fit(None, items)
    s = r.score(Query(request="a wedding comedy"), list(DOCS))
    assert s.argmax() in (1, 3)
    ranked = r.rank(Query(history=(10,), ratings=(5.0,)), [20, 30, 10], k=3)  # no text: liked items' texts
    assert r.stats["fallback_history_text"] == 1 and ranked["item_id"].iloc[0] == 10
    assert "liked items" in ranked["why"].iloc[0]
    r.score(Query(request="zebra"), [10, 20])
    assert r.stats["no_known_query_terms"] == 1
    with pytest.raises(ValueError, match="empty"):
        r.score(Query(), [10])
