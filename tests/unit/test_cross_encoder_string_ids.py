"""Cross-encoder training and scoring with string ids (Amazon ASINs), integer ids unchanged.

An ISBN-10 ASIN is all digits with a leading zero ("0439064872"): an int() cast turns it into
439064872, another id, with no error. MovieLens with its ids written as ASINs (half ISBN-like,
half "B0..."; users as "A..." strings, the mapping keeps the sort order) must give the very
same training pairs as MovieLens itself, ids mapped: same users, same items, same seeds.
A fake encoder (deterministic vectors per text) keeps retrieval cheap and exact.
"""
from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # --import-mode=importlib adds no test folder
from _retrieval_fakes import FakeEncoder  # noqa: E402

from recnb.candidates import DenseRetriever, EmbeddingCache  # noqa: E402
from recnb.data.dataset import Dataset  # noqa: E402
from recnb.scores.base import Query  # noqa: E402
from recnb.scores.cross_encoder import CrossEncoderRanker, predict_logits  # noqa: E402
from recnb.scores.cross_encoder_training import (  # noqa: E402
    TrainingConfig, build_pairs, evaluate_reranking, split_users, train_cross_encoder, training_catalog)

MICRO = TrainingConfig.tiny(mode="micro", train_users=5, holdout_users=4, positives_per_user=2, catalog_items=300,
                            max_length=32, batch_size=8)


@pytest.fixture(scope="module")
def asin_of(dataset):
    ids = sorted(dataset.items["item_id"].tolist())
    half = len(ids) // 2
    # '0' < 'B': the first half as ISBN-like all-digit ids, the rest as B0 ids; sort order kept
    return {i: (f"0{n:09d}" if n < half else f"B0{n:08d}") for n, i in enumerate(ids)}


@pytest.fixture(scope="module")
def asin_dataset(dataset, asin_of):
    users = {u: f"A{u:09d}" for u in dataset.ratings["user_id"].unique().tolist()}
    items = dataset.items.assign(item_id=dataset.items["item_id"].map(asin_of).astype(object))
    ratings = dataset.ratings.assign(item_id=dataset.ratings["item_id"].map(asin_of).astype(object),
                                     user_id=dataset.ratings["user_id"].map(users).astype(object))
    return Dataset("movielens-asins", items, ratings), users


def fake_retriever(catalog, root):
    return DenseRetriever(catalog, cache=EmbeddingCache(FakeEncoder(), root=root), progress=False)


@pytest.mark.parametrize("hard_from", ["rated", "unrated"])
def test_string_ids_give_the_integer_pairs_mapped(dataset, asin_of, asin_dataset, hard_from, tmp_path):
    config = TrainingConfig.tiny(**{**MICRO.__dict__, "hard_from": hard_from})
    asins, user_of = asin_dataset
    got = {}
    for name, ds in (("int", dataset), ("str", asins)):
        split = ds.split(seed=0)
        catalog = training_catalog(ds.items, split.train, config.catalog_items)
        train_users, held, skipped = split_users(split, catalog, config)
        pairs = build_pairs(split, catalog, fake_retriever(catalog, tmp_path / name), train_users, config)
        got[name] = (catalog, train_users, held, skipped, pairs)
    (cat_i, train_i, held_i, skip_i, pairs_i), (cat_s, train_s, held_s, skip_s, pairs_s) = got["int"], got["str"]
    assert cat_s["item_id"].tolist() == [asin_of[i] for i in cat_i["item_id"]]
    assert train_s == [user_of[u] for u in train_i] and held_s == [user_of[u] for u in held_i] and skip_s == skip_i
    assert all(type(u) is int for u in train_i + held_i) and all(type(u) is str for u in train_s + held_s)
    assert set(pairs_i["kind"]) == {"positive", "hard", "random", "swap"} and len(pairs_s) == len(pairs_i)
    expected = pairs_i.assign(user_id=pairs_i["user_id"].map(user_of), query_user=pairs_i["query_user"].map(user_of),
                              item_id=pairs_i["item_id"].map(asin_of))
    assert pairs_s.to_dict("records") == expected.to_dict("records")
    assert pairs_i["item_id"].dtype == np.int64  # integer ids stay integers
    isbn = pairs_s[pairs_s["item_id"].str.startswith("0")]
    assert len(isbn) and isbn["item_id"].str.len().eq(10).all()  # leading zeros kept
    texts = dict(zip(cat_s["item_id"], cat_s["description"]))
    assert (pairs_s["text"] == pairs_s["item_id"].map(texts)).all()


def test_micro_training_and_evaluation_on_string_ids(asin_dataset, tmp_path):
    ds, _ = asin_dataset
    split = ds.split(seed=0)
    catalog = training_catalog(ds.items, split.train, MICRO.catalog_items)
    retriever = fake_retriever(catalog, tmp_path)
    trained = train_cross_encoder(MICRO, ds, split, retriever=retriever, reuse=False, save=False, progress=False)
    assert trained.path is None and trained.info["pairs"] == len(trained.pairs) > 0
    assert all(isinstance(u, str) for u in trained.info["heldout_users"]) and len(trained.info["heldout_users"]) == 4
    assert set(trained.pairs["item_id"]) <= set(catalog["item_id"])
    summary, per_user = evaluate_reranking({"trained": trained.model}, trained.info["heldout_users"], ds, split,
                                           retriever=retriever, catalog=catalog, depth=10, progress=False)
    assert set(per_user["user_id"]) <= set(trained.info["heldout_users"]) and len(per_user) > 0
    assert per_user["target"].map(type).eq(str).all() and summary["method"].tolist() == ["bi-encoder", "bm25", "trained"]


def test_amazon_fixture_users_are_counted_not_cast(amazon, tmp_path):
    split = amazon.split(seed=0)
    config = TrainingConfig.tiny(holdout_users=1, train_users=2)
    train_users, held, skipped = split_users(split, amazon.items, config)
    # Three reviewers, one training rating each: no likes profile stands out (not held out), and too short a
    # history to train on; each is counted at both steps rather than lost
    assert (train_users, held) == ([], [])
    assert skipped == {"holdout_empty_profile": 3, "train_short_history": 3, "train_empty_profile": 0}
    with pytest.raises(ValueError, match=r"no training pairs.*holdout_empty_profile': 3"):
        train_cross_encoder(config, amazon, split, retriever=fake_retriever(amazon.items, tmp_path), reuse=False,
                            save=False, progress=False)


def test_amazon_fixture_pairs_keep_the_asins(amazon, tmp_path):
    # The whole fixture as history (its split leaves each reviewer one training rating): Maya liked B0RECNB010,
    # then B0RECNB020 in the newest-rating window; Priya liked B0RECNB010, then B0RECNB099.
    split = SimpleNamespace(history=lambda u: amazon.ratings[amazon.ratings["user_id"] == u].sort_values("timestamp"))
    config = TrainingConfig.tiny(target_window=1, positives_per_user=1, hard_from="unrated", hard_pool=3)
    users = sorted(amazon.ratings["user_id"].unique())
    import recnb.scores.cross_encoder_training as training

    # One liked item makes no facts-based profile; this test is about ids, so any non-empty query will do
    profile = {"AEXAMPLEUSERMAYA01": "I like body cream.", "AEXAMPLEUSERPRIYA3": "I like hair care."}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(training, "likes_text", lambda items, hist: profile.get(hist["user_id"].iloc[0], "") if len(hist) else "")
        pairs = build_pairs(split, amazon.items, fake_retriever(amazon.items, tmp_path), users, config)
    pos = pairs[pairs["kind"] == "positive"]
    assert pos[["user_id", "item_id"]].values.tolist() == [["AEXAMPLEUSERMAYA01", "B0RECNB020"],
                                                           ["AEXAMPLEUSERPRIYA3", "B0RECNB099"]]
    assert set(pairs["item_id"]) <= set(amazon.items["item_id"]) and set(pairs["kind"]) >= {"positive", "random", "swap"}
    texts = dict(zip(amazon.items["item_id"], amazon.items["description"]))
    assert (pairs["text"] == pairs["item_id"].map(texts)).all()
    for u, rows in pairs.groupby("user_id"):
        rated = set(amazon.ratings.loc[amazon.ratings["user_id"] == u, "item_id"])
        assert not set(rows.loc[rows.kind == "random", "item_id"]) & rated


def test_cross_encoder_scores_string_ids(amazon):
    from recnb.scores.cross_encoder_training import fresh_head

    items = amazon.items.assign(item_id=["0439064872", *amazon.items["item_id"].iloc[1:]])  # an ISBN-10 ASIN too
    r = CrossEncoderRanker(fresh_head(32, seed=0)).fit(None, items)
    cands = items["item_id"].tolist()
    scores = r.score(Query(profile="I like lavender body cream."), cands)
    texts = items["description"].fillna("").astype(str).tolist()
    np.testing.assert_allclose(scores, predict_logits(r.model, [("I like lavender body cream.", t) for t in texts]),
                               atol=1e-5)
    ranked = r.rank(Query(history=("0439064872",), ratings=(5.0,)), cands, k=3)  # no text: the liked item's text
    assert set(ranked["item_id"]) <= set(cands) and r.stats["fallback_history_text"] == 1
    with pytest.raises(KeyError, match="unknown item id"):
        r.score(Query(profile="x"), [439064872])  # the int is not the ASIN
