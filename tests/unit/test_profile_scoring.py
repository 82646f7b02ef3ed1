"""Split profile scoring on the bundled catalog: dislikes push down, attribution is exact, live edits diff."""
from __future__ import annotations

import numpy as np
import pytest

from recnb.profiles.edits import Edit, ProfileEditError
from recnb.profiles.live import LiveProfile
from recnb.profiles.scoring import EmptyProfileError, ProfileScorer
from recnb.scores.base import Query
from recnb.scores.biencoder import BiEncoderRanker
from recnb.scores.profile_split import query_profile
from recnb.text.profile import Profile, Statement

LIKES = [Statement("I like Comedy films"), Statement("I like films with Tom Hanks")]
DISLIKE = Statement("I dislike Horror films", polarity="dislike")


@pytest.fixture(scope="module")
def scorer(encoder, dataset):
    return ProfileScorer(encoder, dataset.items)


def _mean_rank_pct(scores, mask):
    ranks = (-scores).argsort(kind="stable").argsort()
    return ranks[mask].mean() / len(scores)


def test_dislike_pushes_matching_items_down_where_the_whole_paragraph_pulls_them_up(encoder, dataset, scorer):
    items = dataset.items
    horror = items["genres"].str.contains("Horror").to_numpy()
    base, neg = Profile(list(LIKES)), Profile(LIKES + [DISLIKE])
    split_before, split_after = _mean_rank_pct(scorer.scores(base), horror), _mean_rank_pct(scorer.scores(neg), horror)
    assert split_after > split_before + 0.05  # horror falls
    # The premise of the split: one embedding of the paragraph reads "I dislike horror" as horror.
    bi = BiEncoderRanker(encoder).fit(None, items)
    ids = items["item_id"].to_numpy()
    bi_before = _mean_rank_pct(bi.score(Query(profile=base), ids), horror)
    bi_after = _mean_rank_pct(bi.score(Query(profile=neg), ids), horror)
    assert bi_after < bi_before - 0.05  # horror rises


def test_attribution_is_the_score_change_when_a_statement_is_removed(dataset, scorer):
    p = Profile(LIKES + [DISLIKE, Statement("I like films directed by Steven Spielberg", weight=2)])
    ids = dataset.items["item_id"].to_numpy()[[0, 10, 500, 4000]]
    rows = scorer.rows(ids)
    full = scorer.scores(p, rows)
    attr = scorer.attribution(p, ids)
    for s in p:
        without = Profile([t for t in p if t.id != s.id])
        removed = full - scorer.scores(without, rows)
        got = attr[attr.statement_id == s.id].set_index("item_id").loc[ids, "contribution"].to_numpy()
        np.testing.assert_allclose(got, removed, atol=1e-5)
    dis = attr[attr.statement_id == DISLIKE.id]["contribution"]
    assert (dis <= 0).all()  # a dislike never lifts an item


def test_empty_profile_and_unknown_items(scorer):
    with pytest.raises(EmptyProfileError, match="empty"):
        scorer.scores(Profile([Statement("  ")]))
    with pytest.raises(KeyError, match="unknown item"):
        scorer.rows([1, 99_999_999])


def test_only_new_topics_are_embedded(scorer):
    p = Profile(list(LIKES))
    scorer.scores(p)
    before = scorer.stats["topics_embedded"]
    flipped = Profile([LIKES[0], Statement("I dislike films with Tom Hanks", polarity="dislike", weight=3)])
    scorer.scores(flipped)  # same topics, new polarity and weight: nothing to embed
    assert scorer.stats["topics_embedded"] == before
    scorer.scores(Profile(LIKES + [Statement("I like slow-burn Korean thrillers")]))
    assert scorer.stats["topics_embedded"] == before + 1


def test_query_profile_reads_text_and_request():
    p = query_profile(Query(profile="I love heists. I can't stand gore.", request="something funny"))
    assert [(s.text, s.polarity) for s in p] == [("something funny", "like"), ("I love heists.", "like"),
                                                 ("I can't stand gore.", "dislike")]


def test_live_edit_diff_attribution_ndcg_undo(dataset, scorer):
    split = dataset.split(seed=0)
    user = 4
    seen = split.history(user)["item_id"].tolist()
    live = LiveProfile(scorer, Profile(list(LIKES)), exclude=seen, k=10)
    before_top = live.top_ids()
    assert not set(before_top) & set(seen)

    # Hold out an item the edit will bring into the top: NDCG goes from 0 to > 0.
    res = live.apply(Edit("add", text="I love animated films for children"))
    new = res.diff[res.diff.status == "new"]
    assert len(new) >= 1
    assert set(res.diff[res.diff.status == "dropped"].item_id) == set(before_top) - set(res.top.item_id)
    assert (res.diff.cause == "I love animated films for children").all()  # the only change is the new statement
    up_or_new = res.diff[res.diff.status.isin(["new", "up"])]
    assert (up_or_new.score_change > 0).any()
    assert list(res.top.item_id) == live.top_ids() and res.top["why"].notna().all()

    held = int(new.item_id.iloc[0])
    live2 = LiveProfile(scorer, Profile(list(LIKES)), exclude=seen, held_out=[held], k=10)
    res2 = live2.apply(Edit("add", text="I love animated films for children"))
    rank = int(res2.top.set_index("item_id").loc[held, "rank"])
    assert res2.ndcg_before == 0.0 and res2.ndcg_after == pytest.approx(1 / np.log2(rank + 1))

    # Flip the new statement to a dislike: the items it brought in drop out again, attributed to it.
    sid = live.profile.statements[-1].id
    res3 = live.apply(Edit("flip", id=sid))
    dropped = res3.diff[res3.diff.status == "dropped"]
    assert held in set(dropped.item_id) and (dropped.cause_delta < 0).all()

    undone = live.undo()
    assert undone.profile.statements[-1].polarity == "like"
    live.undo()
    assert live.top_ids() == before_top
    live.redo()
    assert [e.op for e in live.history.log] == ["add", "flip", "undo", "undo", "redo"]

    # A bad edit changes nothing; deleting everything gives an empty ranking with a note.
    with pytest.raises(ProfileEditError):
        live.apply({"op": "delete", "id": "nope"})
    for s in live.profile.statements:
        res = live.apply(Edit("delete", id=s.id))
    assert res.top.empty and res.notes and (res.diff.status == "dropped").all()
