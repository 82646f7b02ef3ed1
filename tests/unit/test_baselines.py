"""ID-based baselines (item-kNN, ALS, BPR, EASE): deterministic, honest about what they cannot score."""
from __future__ import annotations

import numpy as np
import pytest

from recnb.evaluation.leaderboard import evaluate
from recnb.evaluation.metrics import random_ndcg_at
from recnb.evaluation.protocols import SampledProtocol
from recnb.evaluation.synthetic import make_catalog
from recnb.scores._interactions import COLD_SCORE
from recnb.scores.base import Query
from recnb.scores.ease import EASERanker
from recnb.scores.implicit_mf import ALSRanker, BPRRanker
from recnb.scores.itemknn import ItemKNNRanker
from recnb.scores.popularity import PopularityRanker


@pytest.fixture(scope="module")
def catalog():
    return make_catalog()


@pytest.fixture(scope="module")
def protocol(dataset):
    return SampledProtocol(dataset, n_users=100, store=False)


@pytest.mark.parametrize("make", [lambda: ALSRanker(), lambda: BPRRanker(iterations=20)], ids=["als", "bpr"])
def test_matrix_factorisation_is_deterministic(make, protocol):
    a = make().fit(protocol.train, protocol.dataset.items)
    b = make().fit(protocol.train, protocol.dataset.items)
    np.testing.assert_array_equal(a.model.item_factors, b.model.item_factors)
    assert a.effective_factors == 64  # the small-catalog cap does not bite on movielens-small


@pytest.mark.parametrize("make", [ItemKNNRanker, ALSRanker], ids=["item-knn", "als"])
def test_id_baselines_beat_the_random_baseline_on_movielens(make, protocol):
    run = evaluate(make(), protocol)
    from recnb.evaluation.bootstrap import bootstrap_ci

    ci = bootstrap_ci(run.metrics())
    assert ci.loc["ndcg@10", "ci_low"] > random_ndcg_at(10, 20)
    assert run.failed_users == 0


def test_small_catalog_caps_factors(catalog):
    r = ALSRanker().fit(catalog.train, catalog.items)
    assert r.effective_factors == 2 and r.model.item_factors.shape[1] >= 2


def test_bpr_folds_in_unknown_users_and_counts_it(catalog):
    r = BPRRanker().fit(catalog.train, catalog.items)
    case = catalog.cases[0]
    known = r.score(catalog.query(case), case.candidates)
    stranger = Query(user_id="someone-new", history=case.history)
    folded = r.score(stranger, case.candidates)
    assert r.stats["fallback_fold_in_mean"] == 1 and np.isfinite(folded).all()
    assert not np.allclose(known, folded)
    with pytest.raises(ValueError, match="empty"):
        r.score(Query(user_id="someone-new"), case.candidates)


def test_cold_items_rank_last_and_are_counted(catalog):
    items = catalog.items
    train = catalog.train[catalog.train.item_id != items.item_id.iloc[0]]  # item 1 never seen in training
    case = next(c for c in catalog.cases if c.group == "space")
    cands = [1] + [c for c in case.candidates if c != 1]
    for r in (ALSRanker(), BPRRanker(), EASERanker()):
        r.fit(train, items)
        s = r.score(catalog.query(case), cands)
        assert s[0] == COLD_SCORE and (s[1:] > COLD_SCORE).all(), r.name
        assert r.stats["cold_candidates"] == 1, r.name


def test_ease_item_cap_and_history_outside_the_model(catalog):
    r = EASERanker(max_items=5).fit(catalog.train, catalog.items)
    assert len(r.kept) == 5 and r.B.shape == (5, 5)
    assert np.allclose(np.diag(r.B), 0)
    outside = [int(i) for i in catalog.items.item_id if i not in set(r.data.item_ids[r.kept].tolist())]
    s = r.score(Query(user_id=1, history=(outside[0],)), outside[1:4])
    assert (s == COLD_SCORE).all() and r.stats["fallback_history_outside_model"] == 1


def test_history_items_outside_the_catalog_are_counted(catalog):
    r = ItemKNNRanker().fit(catalog.train, catalog.items)
    case = catalog.cases[0]
    q = Query(user_id=case.user_id, history=case.history + (987654,))
    np.testing.assert_allclose(r.score(q, case.candidates), r.score(catalog.query(case), case.candidates))
    assert r.stats["history_items_not_in_catalog"] == 1


def test_item_knn_explains_with_a_watched_title(catalog):
    r = ItemKNNRanker().fit(catalog.train, catalog.items)
    case = catalog.cases[0]
    frame = r.rank(catalog.query(case), case.candidates, k=3)
    titles = set(catalog.items.title)
    assert all(w.startswith("watched together with ") and w.split("with ", 1)[1] in titles for w in frame.why)


def test_training_rows_outside_the_catalog_are_counted_and_said(catalog):
    import pandas as pd

    extra = pd.DataFrame([dict(user_id=1, item_id=77777, rating=5.0, timestamp=1)] * 3)
    train = pd.concat([catalog.train, extra], ignore_index=True)
    for r in (ItemKNNRanker(), EASERanker(), ALSRanker(), PopularityRanker()):
        with pytest.warns(UserWarning, match="not in the catalog"):
            r.fit(train, catalog.items)
        assert r.stats["train_rows_not_in_catalog"] + r.stats["train_items_not_in_catalog"] > 0, r.name


def test_history_items_no_training_user_touched_are_counted(catalog):
    # in the catalog but never interacted with: item-kNN and ALS learned nothing about them
    cold = int(catalog.items.item_id.iloc[0])
    train = catalog.train[catalog.train.item_id != cold]
    case = next(c for c in catalog.cases if cold not in c.history)
    for r in (ItemKNNRanker(), ALSRanker(), EASERanker()):
        r.fit(train, catalog.items)
        with_cold = r.score(Query(user_id="new", history=case.history + (cold,)), case.candidates)
        np.testing.assert_allclose(with_cold, r.score(Query(user_id="new", history=case.history), case.candidates))
        assert r.stats["history_items_without_interactions"] == 1, r.name
        with pytest.raises(ValueError, match="training users interacted with"):
            r.score(Query(user_id="new", history=(cold,)), case.candidates)


def test_ease_counts_history_items_outside_its_modelled_items(catalog):
    r = EASERanker(max_items=5).fit(catalog.train, catalog.items)
    inside = [int(i) for i in r.data.item_ids[r.kept]]
    outside = [int(i) for i in catalog.items.item_id if i not in set(inside)]
    r.score(Query(user_id=1, history=(inside[0], outside[0], outside[1])), inside[1:4])
    assert r.stats["history_items_outside_model"] == 2 and r.stats["fallback_history_outside_model"] == 0


def test_bpr_reads_an_edited_history_of_a_known_user(catalog):
    r = BPRRanker().fit(catalog.train, catalog.items)
    space = next(c for c in catalog.cases if c.group == "space")
    other = next(c for c in catalog.cases if c.group != "space")
    own = r.score(catalog.query(space), space.candidates)
    edited = r.score(Query(user_id=space.user_id, history=other.history), space.candidates)
    assert not np.allclose(own, edited)  # the trained factors used to answer whatever the history said
    assert r.stats["history_differs_from_training"] == 1 and r.stats["fallback_fold_in_mean"] == 1
    np.testing.assert_allclose(r.score(catalog.query(space), space.candidates), own)  # own history: learned factors


def test_item_knn_is_not_its_own_neighbour(catalog):
    r = ItemKNNRanker().fit(catalog.train, catalog.items)
    assert r.similarity.diagonal().max() == 0
    case = catalog.cases[0]
    h = case.history[0]
    q = Query(user_id="new", history=(h,))
    s = r.score(q, [h] + list(case.candidates[:3]))
    assert s[0] == 0.0  # a watched item gets nothing from itself
    assert r.why(q, [h], s[:1]) == ["no neighbour in your history"]


def test_popularity_counts_users_not_rating_rows(catalog):
    import pandas as pd

    train = pd.DataFrame(dict(user_id=[1, 1, 1, 2, 3], item_id=[10, 10, 10, 11, 11], rating=5.0, timestamp=range(5)))
    items = pd.DataFrame(dict(item_id=[10, 11], title=["A", "B"]))
    r = PopularityRanker().fit(train, items)
    assert r.score(Query(user_id=9), [10, 11]).tolist() == [1.0, 2.0]


def test_random_ranker_takes_string_item_ids():
    """Amazon items are ASINs: the random baseline cast them to int ('invalid literal for int()')."""
    from recnb.scores.base import Query
    import zlib

    import pandas as pd

    from recnb.scores.popularity import RandomRanker, _uniform

    cands = ["B0RECNB010", "0439064872", "B0RECNB020"]
    train = pd.DataFrame({"user_id": ["AE1"], "item_id": [cands[0]], "rating": [5.0], "timestamp": [0]})
    items = pd.DataFrame({"item_id": cands, "title": ["a", "b", "c"]})
    ints = pd.DataFrame({"item_id": [1, 2], "title": ["a", "b"]})
    r = RandomRanker(seed=3).fit(train, items)
    s = r.score(Query(user_id="AE1", history=()), cands)
    assert s.shape == (3,) and np.all((s >= 0) & (s < 1)) and len(set(s.tolist())) == 3
    assert np.array_equal(s, RandomRanker(seed=3).fit(train, items).score(Query(user_id="AE1", history=()), cands))
    ri = RandomRanker(seed=3).fit(train.assign(item_id=1), ints)
    assert np.array_equal(ri.score(Query(user_id=7, history=()), [1, 2]),  # integer ids: the draws as before
                          _uniform((np.uint64(3) << np.uint64(32)) | np.uint64(zlib.crc32(b"7")), np.array([1, 2], np.uint64)))
