"""What callers hand the profile scorer, live profile and retriever: caches, id lists, catalogs.

A fake encoder (deterministic vectors) keeps these fast; what is tested is the bookkeeping.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _retrieval_fakes import FakeEncoder  # noqa: E402

from recnb.candidates.embeddings import EmbeddingCache
from recnb.candidates.retriever import DenseRetriever
from recnb.profiles.edits import Edit
from recnb.profiles.live import LiveProfile
from recnb.profiles.scoring import ProfileScorer
from recnb.scores.biencoder import BiEncoderRanker
from recnb.text.profile import Profile, Statement


def catalog(n=30):
    return pd.DataFrame({"item_id": np.arange(100, 100 + n), "description": [f"movie {i} text" for i in range(n)],
                         "title": [f"T{i}" for i in range(n)], "year": [1990 + i % 20 for i in range(n)],
                         "genres": ["Comedy|Drama" if i % 2 else "Horror" for i in range(n)]})


def test_an_empty_cache_handed_in_is_the_one_used(tmp_path):
    # an EmbeddingCache has a length, so a fresh one is falsy: `cache or EmbeddingCache(...)` dropped it
    enc = FakeEncoder()
    mine = EmbeddingCache(enc, root=tmp_path)
    assert len(mine) == 0
    assert ProfileScorer(enc, catalog(), cache=mine).cache is mine and len(mine) == 30
    assert BiEncoderRanker(enc, cache=mine).cache is mine


def test_repeated_item_ids_are_refused_by_the_scorer(tmp_path):
    enc = FakeEncoder()
    items = pd.concat([catalog(5), catalog(5).iloc[[2]]], ignore_index=True)
    with pytest.raises(ValueError, match="item ids must be unique; repeated: 102"):
        ProfileScorer(enc, items, cache=EmbeddingCache(enc, root=tmp_path))


def test_exclude_as_a_series_array_or_iterator(tmp_path):
    enc = FakeEncoder()
    items = catalog()
    cache = EmbeddingCache(enc, root=tmp_path)
    seen = items["item_id"].iloc[:5]
    r = DenseRetriever(items, cache=cache, progress=False)
    for given in (seen, seen.to_numpy(), list(seen)):  # a Series / an array raised "truth value ... is ambiguous"
        got = r.search("movie 1 text", k=30, exclude=given, genres=pd.Series(["Comedy"]))
        assert not set(got.item_id) & set(seen) and len(got) == 13  # 15 comedies, 2 of them seen
    assert 101 not in set(r.more_like_this(103, k=5, exclude=np.array([101])).item_id)
    scorer = ProfileScorer(enc, items, cache=cache)
    profile = Profile([Statement("I like movie 3 text")])
    unknown = [5, 6]  # not in this catalog: counted, not an error
    from_list = LiveProfile(scorer, profile, exclude=list(seen) + unknown)
    from_iter = LiveProfile(scorer, profile, exclude=iter(list(seen) + unknown))  # an iterator was spent: -3
    assert from_list.excluded_unknown == from_iter.excluded_unknown == 2
    assert not set(from_iter.top(from_iter.state).item_id) & set(seen)


def test_a_profile_of_only_dislikes_says_its_order_is_arbitrary(tmp_path):
    enc = FakeEncoder()
    scorer = ProfileScorer(enc, catalog(), cache=EmbeddingCache(enc, root=tmp_path))
    live = LiveProfile(scorer, Profile([Statement("I like movie 3 text")]))
    result = live.apply(Edit("flip", id=live.profile.statements[0].id))
    assert live.profile.statements[0].polarity == "dislike"
    assert any("only dislikes" in n for n in result.notes)
    result = live.apply(Edit("add", text="I like movie 7 text"))
    assert not any("only dislikes" in n for n in result.notes)


def test_the_retriever_embeds_a_profiles_likes_and_says_what_it_left_out(tmp_path):
    from recnb.scores.base import Query

    enc = FakeEncoder()
    r = DenseRetriever(catalog(), cache=EmbeddingCache(enc, root=tmp_path), progress=False)
    likes = Profile([Statement("I like movie 3 text")])
    both = Profile(likes.statements + [Statement("I dislike movie 4 text", polarity="dislike")])
    with pytest.warns(UserWarning, match="1 dislike statement"):
        got = r.search(both, k=5)
    assert got.item_id.tolist() == r.search(likes, k=5).item_id.tolist()
    assert np.allclose(r.encode_query(Query(user_id=1, request="a heist", profile=likes)), enc.vector("a heist\nI like movie 3 text."))
    with pytest.warns(UserWarning, match="not embedded"), pytest.raises(ValueError, match="no request and no profile"):
        r.encode_query(Profile([Statement("I dislike movie 4 text", polarity="dislike")]))


def test_a_failed_re_rank_puts_the_history_back_as_it_was(tmp_path, monkeypatch):
    # the rollback deep-copied the whole history before every edit (389 ms at edit 500); it now keeps
    # the lists only. What it must still do: leave the same history object exactly as before the step.
    enc = FakeEncoder()
    scorer = ProfileScorer(enc, catalog(), cache=EmbeddingCache(enc, root=tmp_path))
    live = LiveProfile(scorer, Profile([Statement("I like movie 3 text")]))
    sid = live.profile.statements[0].id
    for w in (2, 3, 4):
        live.apply(Edit("weight", id=sid, weight=w))
    live.undo()  # one redo waiting
    history = live.history
    key = lambda: ([[(s.text, s.weight) for s in p] for p in history._done], [[s.weight for s in p] for p in history._undone],
                   [str(e) for e in history.log])
    before, snapshots, state = key(), list(history._done), live.state

    def broken(*a, **k):
        raise MemoryError("encoder ran out of memory")

    monkeypatch.setattr(scorer, "scores", broken)
    for step in (lambda: live.apply(Edit("add", text="I like movie 7 text")), live.undo, live.redo):
        with pytest.raises(MemoryError):
            step()
        assert live.history is history and key() == before  # the same object: whoever holds it sees the rollback
        assert live.state is state
        assert all(a is b for a, b in zip(history._done, snapshots))  # snapshots kept, not copies of them
    monkeypatch.undo()
    live.redo()
    assert live.profile.statements[0].weight == 4 and not history.can_redo


def test_string_item_ids_go_through_the_profile_stack(tmp_path):
    # Amazon ids are ASINs ('B0...'): every step cast ids with int() and raised "invalid literal for int()"
    from recnb.profiles.store import load_profile, save_profile
    from recnb.profiles.summarise import check_evidence
    from recnb.scores.base import Query
    from recnb.scores.profile_split import ProfileSplitRanker
    from recnb.text.profile import profile_from_history

    enc = FakeEncoder()
    items = catalog().assign(item_id=lambda d: [f"B0X{i:04d}" for i in d.item_id])
    comedies = items.item_id[items.genres.str.contains("Comedy")].tolist()
    history, ratings = comedies[:6], [5.0] * 6
    profile = profile_from_history(items, history, ratings, user_id="AUSER1")
    comedy = next(s for s in profile if s.facet == {"kind": "genre", "value": "Comedy"})
    assert comedy.evidence == tuple(history)
    cache = EmbeddingCache(enc, root=tmp_path)
    scorer = ProfileScorer(enc, items, cache=cache)
    assert scorer.attribution(profile, comedies[6:8]).item_id.unique().tolist() == comedies[6:8]
    live = LiveProfile(scorer, profile, exclude=pd.Series(history + ["B0GONE"]), held_out=[comedies[6]])
    assert live.excluded_unknown == 1
    result = live.apply(Edit("add", text="I like movie 7 text"))
    assert result.top.item_id.tolist() == live.top_ids() and all(isinstance(i, str) for i in live.top_ids())
    assert not set(live.top_ids()) & set(history) and result.ndcg_after is not None
    assert set(result.diff.item_id) <= set(items.item_id)
    assert check_evidence(profile, items, history, ratings).get(comedy.id).flag is None
    save_profile(profile, tmp_path / "amazon.json")
    assert load_profile(tmp_path / "amazon.json").to_dict() == profile.to_dict()
    ranker = ProfileSplitRanker(enc, cache=cache).fit(None, items)
    assert len(ranker.score(Query("AUSER1", tuple(history), tuple(ratings)), comedies[6:9])) == 3  # history centroid
    # numpy scalars and whole floats (JSON, pandas) are the plain ids they stand for; int ids stay ints
    assert Statement("x", evidence=(np.int64(3), np.str_("B0X0001"), 5.0)).evidence == (3, "B0X0001", 5)
    with pytest.raises(ValueError, match="item ids must be whole numbers or strings"):
        Statement("x", evidence=(2.5,))


def test_the_bundled_amazon_fixture_builds_a_scorer_and_a_profile(tmp_path, amazon):
    from recnb.text.profile import profile_for_user

    ds = amazon
    enc = FakeEncoder()
    scorer = ProfileScorer(enc, ds.items, cache=EmbeddingCache(enc, root=tmp_path / "cache"))
    assert scorer.rows([ds.items.item_id.iloc[2]]).tolist() == [2]
    user = ds.ratings.user_id[ds.ratings.rating >= 4].iloc[0]  # someone who liked something
    profile = profile_for_user(ds.ratings, ds.items, user, min_support=1)
    assert profile.statements and all(isinstance(i, str) for s in profile for i in s.evidence)
