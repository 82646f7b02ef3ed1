"""The profile editor widget, headless: set statements, fire edits as the front-end would, check the view."""
from __future__ import annotations

import pytest

from recnb.profiles.scoring import ProfileScorer
from recnb.text.profile import Profile, Statement
from recnb.widgets import ProfileEditor


@pytest.fixture(scope="module")
def scorer(encoder, dataset):
    return ProfileScorer(encoder, dataset.items)


@pytest.fixture
def editor(scorer, dataset):
    split = dataset.split(seed=0)
    profile = Profile([Statement("I like Comedy films"), Statement("I like films with Tom Hanks")], user_id=4)
    return ProfileEditor.for_user(scorer, split, dataset.items, 4, profile=profile)


def _front_end(w, **edit):
    """What widgets/profile_editor.js sends: model.send({type: 'edit', edit})."""
    w._on_msg(w, {"type": "edit", "edit": edit}, [])


def test_initial_state(editor):
    assert [s["text"] for s in editor.statements] == ["I like Comedy films", "I like films with Tom Hanks"]
    assert len(editor.ranking) == 10 and [r["rank"] for r in editor.ranking] == list(range(1, 11))
    assert all(r["title"] and r["why"] for r in editor.ranking)
    assert editor.metrics["held_out"] == 2 and editor.metrics["ndcg_after"] is not None
    assert editor.log == [] and not editor.can_undo and editor.error == ""


def test_edit_shows_diff_attribution_and_log(editor):
    before = [r["item_id"] for r in editor.ranking]
    _front_end(editor, op="add", text="I love animated films for children")
    after = [r["item_id"] for r in editor.ranking]
    assert after != before
    statuses = {r["status"] for r in editor.ranking}
    assert "new" in statuses
    for r in editor.ranking:
        if r["status"] in ("new", "up"):
            assert r["cause"] == "I love animated films for children" and r["cause_delta"] > 0
    assert {d["item_id"] for d in editor.dropped} == set(before) - set(after)
    assert all(d["before_rank"] <= 10 and d["after_rank"] > 10 for d in editor.dropped)
    assert editor.metrics["ms"] is not None and editor.log == ["#1 added like 'I love animated films for children'"]
    assert editor.can_undo and not editor.can_redo

    sid = editor.statements[-1]["id"]
    _front_end(editor, op="flip", id=sid)
    assert editor.statements[-1]["polarity"] == "dislike"
    assert all(d["cause_delta"] < 0 for d in editor.dropped)

    _front_end(editor, op="weight", id=sid, weight="2.5")  # <input type=number> values may come as text
    assert editor.statements[-1]["weight"] == 2.5
    _front_end(editor, op="move", id=sid, index=0)
    assert editor.statements[0]["id"] == sid
    _front_end(editor, op="edit", id=sid, text="I like documentaries")
    assert editor.statements[0]["text"] == "I like documentaries" and editor.statements[0]["polarity"] == "like"
    _front_end(editor, op="delete", id=sid)
    assert len(editor.statements) == 2

    for _ in range(5):
        _front_end(editor, op="undo")
    assert [r["item_id"] for r in editor.ranking] == after and editor.can_redo
    _front_end(editor, op="undo")
    assert [r["item_id"] for r in editor.ranking] == before
    _front_end(editor, op="redo")
    assert [r["item_id"] for r in editor.ranking] == after
    assert [line.split(" ")[1] for line in editor.log][-3:] == ["undo", "undo", "redo"]


def test_bad_edits_are_reported_not_applied(editor):
    ranking = list(editor.ranking)
    _front_end(editor, op="weight", id=editor.statements[0]["id"], weight=-3)
    assert "weight" in editor.error and editor.ranking == ranking and editor.log == []
    _front_end(editor, op="delete", id="nope")
    assert "no statement" in editor.error
    _front_end(editor, op="undo")
    assert "nothing to undo" in editor.error
    _front_end(editor, op="flip", id=editor.statements[0]["id"])
    assert editor.error == ""  # a good edit clears the message


def test_deleting_everything_says_so(editor):
    for s in list(editor.statements):
        editor.apply({"op": "delete", "id": s["id"]})
    assert editor.ranking == [] and editor.metrics["notes"] and len(editor.dropped) == 10


def test_a_failed_re_rank_is_shown_and_the_edit_is_put_back(editor, monkeypatch):
    before = [s["text"] for s in editor.statements]
    undo_before = editor.live.history.can_undo

    def broken(*a, **k):
        raise MemoryError("encoder ran out of memory")

    monkeypatch.setattr(editor.live.scorer, "scores", broken)
    _front_end(editor, op="add", text="I like westerns")
    assert "MemoryError" in editor.error and "not applied" in editor.error
    assert [s.text for s in editor.live.profile] == before == [s["text"] for s in editor.statements]
    assert editor.live.history.can_undo == undo_before == editor.can_undo
    monkeypatch.undo()
    _front_end(editor, op="add", text="I like westerns")
    assert editor.error == "" and [s["text"] for s in editor.statements] == before + ["I like westerns"]


def test_the_published_state_is_strict_json(editor):
    import json

    # rows that rose because others fell have no cause: NaN there made every edit warn
    # "Out of range float values are not JSON compliant" in the notebook
    _front_end(editor, op="add", text="I dislike Horror films")
    json.dumps({"ranking": editor.ranking, "dropped": editor.dropped, "metrics": editor.metrics}, allow_nan=False)
    assert any(r["cause"] is None for r in editor.ranking)
