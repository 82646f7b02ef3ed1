"""String item ids (Amazon ASINs) through retrieval and the text rankers: ids come back exactly as the catalog has them.

An ISBN-10 ASIN is all digits with a leading zero ("0439064872"): an int() cast would turn it
into 439064872, a different id, without any error, so these catalogs mix such ids with
letter ASINs. Integer ids keep their int64 arrays and -1 placeholder (test_retrieval_index.py).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # --import-mode=importlib adds no test folder
from _retrieval_fakes import FakeEncoder  # noqa: E402

from recnb.candidates import BM25Index, DenseRetriever, EmbeddingCache, FactFilter, VectorIndex, recall_at_k  # noqa: E402
from recnb.candidates.filters import make_filter  # noqa: E402
from recnb.scores.base import Query  # noqa: E402
from recnb.scores.biencoder import BiEncoderRanker  # noqa: E402
from recnb.scores.bm25 import BM25Ranker  # noqa: E402

N, DIM = 600, 16
# Every other id is an all-digit ASIN with a leading zero; the rest are letter ASINs.
ASINS = np.array([f"0{i:09d}" if i % 2 else f"B0{i:08X}" for i in range(N)], dtype=object)
ISBN = "0000000007"


def unit_vectors(n, dim=DIM, seed=0):
    v = np.random.default_rng(seed).standard_normal((n, dim))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def vectors():
    return unit_vectors(N)


@pytest.fixture(scope="module", params=["flat", "hnsw", "ivf"])
def index(request, vectors):
    params = {"flat": {}, "hnsw": {"M": 16}, "ivf": {"nlist": 16, "nprobe": 4}}[request.param]
    return VectorIndex(ASINS, vectors, kind=request.param, **params)


def brute(vectors, q, k, eligible=None):
    scores = vectors @ q
    rows = np.arange(N) if eligible is None else np.flatnonzero(np.isin(ASINS, list(eligible)))
    return ASINS[rows[np.argsort(-scores[rows], kind="stable")[:k]]].tolist()


def test_vector_index_returns_the_catalog_ids(index, vectors):
    q = vectors[7]  # the ISBN item's own vector: it must come back first, as "0000000007"
    ids, scores = index.search(q, k=10)
    assert ids[0] == ISBN and all(isinstance(i, str) for i in ids)
    assert set(ids.tolist()) <= set(ASINS.tolist())
    if index.kind == "flat":
        assert ids.tolist() == brute(vectors, q, 10)
    np.testing.assert_allclose(index.vectors_of([ISBN, "B000000000"]), vectors[[7, 0]], atol=1e-6)
    with pytest.raises(KeyError, match="not in the index"):
        index.vectors_of([7])  # the integer 7 is not the ASIN "0000000007"


@pytest.mark.parametrize("exact_below", [4096, 0])  # 0: through FAISS's ID selector
def test_vector_index_filters_by_string_ids(index, vectors, exact_below):
    index.exact_below = exact_below
    rng = np.random.default_rng(3)
    allowed = set(rng.choice(ASINS, size=200, replace=False).tolist()) | {ISBN}
    exclude = {ISBN, *list(allowed)[:20]}
    eligible = allowed - exclude
    for q in unit_vectors(5, seed=9):
        ids, scores = index.search(q, k=10, allowed=allowed, exclude=exclude)
        assert len(ids) == 10 and set(ids.tolist()) <= eligible
        assert np.all(np.diff(scores) <= 1e-6)
        if index.kind == "flat" or exact_below:
            assert ids.tolist() == brute(vectors, q, 10, eligible)
    assert index.search(vectors[7], k=5, allowed=[7, "nope"])[0].size == 0  # unknown ids: nothing eligible
    index.exact_below = VectorIndex.exact_below


def test_search_many_and_recall_with_string_ids(index, vectors):
    flat = VectorIndex(ASINS, vectors)
    ids, _ = index.search_many(vectors[:4], 5)
    assert ids.shape == (4, 5) and ids[1, 0] == ASINS[1]
    assert 0.0 < recall_at_k(index, flat, vectors[:20], k=5) <= 1.0
    assert recall_at_k(flat, flat, vectors[:20], k=5) == 1.0


def test_search_many_placeholder_for_string_ids(vectors, monkeypatch):
    """Where FAISS finds fewer than k, the slot is None for string ids (-1 would be a string "-1")."""
    index = VectorIndex(ASINS[:3], vectors[:3])
    monkeypatch.setattr(index.index, "search", lambda q, k: (np.zeros((1, k), np.float32), np.array([[2, -1, -1]])))
    ids, _ = index.search_many(vectors[:1], 3)
    assert ids.tolist() == [[ASINS[2], None, None]]
    int_index = VectorIndex([10, 20, 30], vectors[:3])
    monkeypatch.setattr(int_index.index, "search", lambda q, k: (np.zeros((1, k), np.float32), np.array([[2, -1, -1]])))
    ids, _ = int_index.search_many(vectors[:1], 3)
    assert ids.dtype == np.int64 and ids.tolist() == [[30, -1, -1]]  # integer ids: as before


def test_integer_ids_stay_int64(vectors):
    index = VectorIndex(list(range(100, 110)), vectors[:10])
    ids, _ = index.search(vectors[3], k=3)
    assert ids.dtype == np.int64 and ids[0] == 103
    assert index.search(vectors[3], k=0)[0].dtype == np.int64


def test_duplicate_string_ids_are_one_clear_error(vectors):
    with pytest.raises(ValueError, match="unique"):
        VectorIndex([ISBN, ISBN], vectors[:2])
    with pytest.raises(ValueError, match="unique"):
        BM25Index([ISBN, ISBN], ["a", "b"])


# -- BM25 ---------------------------------------------------------------------------------------------
DOCS = {"0439064872": "a wizard school and a chamber of secrets",
        "0590353403": "a wizard boy and a stone",
        "B0RECNB010": "lavender body cream",
        "439064872": "a cookbook of soups"}  # the int() image of the first id is a different item


def test_bm25_index_keeps_string_ids():
    index = BM25Index(list(DOCS), list(DOCS.values()))
    ids, scores = index.search("wizard chamber", k=2)
    assert ids.tolist() == ["0439064872", "0590353403"] and (scores > 0).all()
    ids, _ = index.search("wizard", k=4, exclude=["0439064872"])
    assert "0439064872" not in ids.tolist() and len(ids) == 3
    ids, _ = index.search("wizard", k=4, allowed=["0590353403", "439064872", 439064872])
    assert sorted(ids.tolist()) == ["0590353403", "439064872"]
    s = index.scores_of("soups", ["439064872", "0439064872"])
    assert s[0] > 0 and s[1] == 0
    with pytest.raises(KeyError, match="not in the index"):
        index.scores_of("soups", [439064872])


# -- FactFilter ---------------------------------------------------------------------------------------
def test_fact_filter_keeps_string_ids():
    items = pd.DataFrame({"item_id": list(DOCS), "year": [1999, 1998, None, 2001], "genres": ["Books"] * 4})
    f = FactFilter(exclude=["0439064872"])
    assert f.exclude == {"0439064872"}
    assert f.allowed_ids(items).tolist() == ["0590353403", "B0RECNB010", "439064872"]
    merged = make_filter(f, exclude=pd.Series(["B0RECNB010"]))
    assert merged.exclude == {"0439064872", "B0RECNB010"}
    assert FactFilter(exclude="0439064872").exclude == {"0439064872"}  # one id, not its characters
    assert FactFilter(exclude=5).exclude == {5} and make_filter(exclude=np.int64(5)).exclude == {5}
    with pytest.raises(ValueError, match="exclude must be item ids"):
        FactFilter(exclude=[["0439064872"]])


# -- the retriever and rankers on the Amazon fixture ----------------------------------------------------
def test_dense_retriever_on_amazon(amazon, tmp_path):
    items = amazon.items
    r = DenseRetriever(items, cache=EmbeddingCache(FakeEncoder(), root=tmp_path), progress=False)
    got = r.search("lavender body cream", k=len(items))
    assert sorted(got["item_id"]) == sorted(items["item_id"]) and got["title"].notna().all()
    cream = "B0RECNB010"
    more = r.more_like_this(cream, k=3, exclude="B0RECNB020")
    assert cream not in set(more["item_id"]) and "B0RECNB020" not in set(more["item_id"]) and len(more) == 3
    assert list(more["item_id"]) == list(r.brute_force(r.index.vectors_of([cream])[0], k=3,
                                                       exclude=[cream, "B0RECNB020"])["item_id"])
    seen = amazon.ratings["item_id"].head(2)
    got = r.search("shampoo", k=10, exclude=seen)
    assert not set(got["item_id"]) & set(seen) and len(got) == len(items) - seen.nunique()


def test_dense_retriever_leading_zero_ids(tmp_path):
    items = pd.DataFrame({"item_id": ["0439064872", "0590353403"], "title": ["Chamber of Secrets", "Sorcerer's Stone"],
                          "description": ["a wizard book", "another wizard book"]})
    out = DenseRetriever(items, cache=EmbeddingCache(FakeEncoder(), root=tmp_path), progress=False).search("wizard", k=2)
    assert sorted(out["item_id"]) == ["0439064872", "0590353403"] and out["title"].notna().all()


def test_bm25_ranker_on_amazon(amazon):
    split = amazon.split()
    r = BM25Ranker().fit(split.train, amazon.items)
    cands = amazon.items["item_id"].tolist()
    ranked = r.rank(Query(request="lavender body cream"), cands, k=3)
    assert ranked["item_id"].iloc[0] == "B0RECNB010" and set(ranked["item_id"]) <= set(cands)
    fallback = r.rank(Query(history=("B0RECNB010",), ratings=(5.0,)), cands, k=2)  # no text: the liked item's text
    assert fallback["item_id"].iloc[0] == "B0RECNB010" and r.stats["fallback_history_text"] == 1


def test_biencoder_ranker_with_string_ids(tmp_path):
    items = pd.DataFrame({"item_id": list(DOCS), "description": list(DOCS.values())})
    enc = FakeEncoder()
    r = BiEncoderRanker(enc, cache=EmbeddingCache(enc, root=tmp_path)).fit(None, items)
    s = r.score(Query(history=("0439064872",), ratings=(5.0,)), ["439064872", "0439064872"])  # centroid of one item
    assert s[1] == pytest.approx(1.0, abs=1e-5) and s[0] < 0.99
    assert r.stats["fallback_history_centroid"] == 1
