"""Profile edits as pure functions, undo/redo and the edit log (no models needed)."""
from __future__ import annotations

import dataclasses

import pytest

from recnb.profiles.edits import Edit, ProfileEditError, apply_edit
from recnb.profiles.history import EditHistory, NothingToUndo
from recnb.text.profile import Profile, Statement, detect_polarity, statement_topic


def base() -> Profile:
    return Profile([Statement("I like Comedy films", source="generated", evidence=(1, 2, 3)),
                    Statement("I like films from the 1990s", weight=0.7, source="generated"),
                    Statement("I dislike Horror films", polarity="dislike", source="generated")], user_id=1)


def test_each_op_returns_a_new_profile_and_leaves_the_old_one():
    p = base()
    ids = [s.id for s in p]
    q, msg = apply_edit(p, Edit("add", text="I can't stand musicals", index=1))
    assert [s.text for s in q][1] == "I can't stand musicals" and q.statements[1].polarity == "dislike"
    assert q.statements[1].source == "edited" and "added dislike" in msg
    assert [s.id for s in p] == ids and len(p) == 3  # untouched
    q, _ = apply_edit(p, Edit("edit", id=ids[0], text="I like heist films"))
    assert q.statements[0].text == "I like heist films" and q.statements[0].source == "edited"
    assert q.statements[0].id == ids[0] and q.statements[0].facet is None
    q, msg = apply_edit(p, Edit("edit", id=ids[0], text="I hate comedies"))
    assert q.statements[0].polarity == "dislike" and "read from the text" in msg
    q, _ = apply_edit(p, Edit("delete", id=ids[1]))
    assert [s.id for s in q] == [ids[0], ids[2]]
    q, _ = apply_edit(p, Edit("move", id=ids[2], index=0))
    assert [s.id for s in q] == [ids[2], ids[0], ids[1]]
    q, _ = apply_edit(p, Edit("flip", id=ids[2]))
    assert q.statements[2].polarity == "like" and q.statements[2].text == "I like Horror films"
    q, _ = apply_edit(p, Edit("weight", id=ids[1], weight=2.5))
    assert q.statements[1].weight == 2.5


@pytest.mark.parametrize("edit, match", [
    (Edit("delete", id="nope"), "no statement with id"),
    (Edit("add", text="   "), "needs some text"),
    (Edit("weight", id=None, weight=float("nan")), "no statement"),
    (Edit("move", id="x"), "no statement"),
    # these escaped as plain ValueErrors, past the editor widget's error display
    (Edit("add", text="I like westerns", index="2nd"), "whole-number position"),
    (Edit("edit", id="FIRST", text="I like horror", polarity="Like"), "polarity must be one of"),
])
def test_bad_edits_raise_clear_errors(edit, match):
    p = base()
    if edit.id == "FIRST":
        edit = dataclasses.replace(edit, id=p.statements[0].id)
    with pytest.raises(ProfileEditError, match=match):
        apply_edit(p, edit)
    with pytest.raises(ProfileEditError, match="whole-number position"):
        apply_edit(p, Edit("move", id=p.statements[0].id, index="first"))


@pytest.mark.parametrize("text,polarity,flipped", [
    ("I like Comedy films", "like", "I dislike Comedy films"),
    ("I love heist films.", "like", "I dislike heist films."),
    ("I can't stand horror", "dislike", "I like horror"),
    ("no musicals", "dislike", "I like musicals"),
    ("Westerns", "like", "I dislike Westerns"),
])
def test_flip_rewrites_the_words_so_text_readers_agree(text, polarity, flipped):
    # the words are what text rankers and prompts read: they must say the new polarity
    p = Profile([Statement(text, polarity=polarity)])
    q, _ = apply_edit(p, Edit("flip", id=p.statements[0].id))
    s = q.statements[0]
    assert (s.text, s.polarity) == (flipped, "dislike" if polarity == "like" else "like")
    assert [x.polarity for x in Profile.from_text(q.to_text())] == [s.polarity]


def test_bad_weight_and_unknown_fields():
    p = base()
    sid = p.statements[0].id
    for w in (float("nan"), -1, 11, "heavy"):
        with pytest.raises(ProfileEditError, match="weight"):
            apply_edit(p, Edit("weight", id=sid, weight=w))
    with pytest.raises(ProfileEditError, match="unknown edit field"):
        Edit.from_dict({"op": "flip", "id": sid, "colour": "red"})
    with pytest.raises(ProfileEditError, match="unknown edit op"):
        Edit.from_dict({"op": "explode"})


def test_undo_redo_and_log():
    h = EditHistory(base())
    sid = h.current.statements[0].id
    h.apply(Edit("flip", id=sid))
    h.apply(Edit("weight", id=sid, weight=3))
    assert h.current.statements[0].polarity == "dislike" and h.current.statements[0].weight == 3
    h.undo()
    assert h.current.statements[0].weight == 1.0 and h.can_redo
    h.redo()
    assert h.current.statements[0].weight == 3
    h.undo(), h.undo()
    key = lambda prof: [(s.text, s.polarity, s.weight) for s in prof]
    assert key(h.current) == key(base())
    with pytest.raises(NothingToUndo):
        h.undo()
    h.redo()
    h.apply(Edit("delete", id=sid))  # a new edit clears the redo stack
    assert not h.can_redo
    assert [e.op for e in h.log] == ["flip", "weight", "undo", "redo", "undo", "undo", "redo", "delete"]
    assert [e.seq for e in h.log] == list(range(1, 9))
    with pytest.raises(ProfileEditError):
        h.apply(Edit("delete", id="gone"))
    assert len(h.log) == 8  # a failed edit changes nothing and is not logged


def test_polarity_and_topic_reading():
    assert detect_polarity("I don't like musicals") == "dislike"
    assert detect_polarity("Not a fan of westerns") == "dislike"
    assert detect_polarity("I really enjoy heists") == "like"
    assert detect_polarity("Space operas") is None
    assert statement_topic("I dislike Horror films.") == "Horror films"
    assert statement_topic("I can't stand gore") == "gore"
    assert statement_topic("Space operas") == "Space operas"
    p = Profile.from_text("I love space operas. I can't stand horror, but I like comedies!\nWesterns")
    assert [(s.text, s.polarity) for s in p] == [("I love space operas.", "like"), ("I can't stand horror", "dislike"),
                                                 ("I like comedies!", "like"), ("Westerns", "like")]



@pytest.mark.parametrize("text,expected", [
    # a clause that starts with a negation is a dislike (they were read as likes of "not horror")
    ("I like comedies but not horror", [("I like comedies", "like", "comedies"), ("not horror", "dislike", "horror")]),
    ("Comedies, but no horror", [("Comedies", "like", "Comedies"), ("no horror", "dislike", "horror")]),
    ("Anything but horror films", [("Anything but horror films", "dislike", "horror films")]),
    ("No horror films. Please no musicals.", [("No horror films.", "dislike", "horror films"),
                                              ("Please no musicals.", "dislike", "musicals")]),
    ("Nothing with gore", [("Nothing with gore", "dislike", "gore")]),
    ("Never anything with zombies", [("Never anything with zombies", "dislike", "zombies")]),
    # ... but not a phrase that praises
    ("Nothing beats a good heist film", [("Nothing beats a good heist film", "like", "Nothing beats a good heist film")]),
    ("I love nothing more than westerns", [("I love nothing more than westerns", "like", "nothing more than westerns")]),
])
def test_negated_clauses_are_dislikes(text, expected):
    assert [(s.text, s.polarity, statement_topic(s.text)) for s in Profile.from_text(text)] == expected


@pytest.mark.parametrize("text,polarity,flipped", [
    # the negation's filler words went into the topic: 'Not into horror' flipped to 'I like into horror'
    ("Not into horror", "dislike", "I like horror"),
    ("Not a fan of musicals", "dislike", "I like musicals"),
    ("I'm not a fan of musicals", "dislike", "I like musicals"),
    ("Nothing with gore", "dislike", "I like gore"),
    ("Please no sequels", "dislike", "I like sequels"),
    ("I am sick of superhero movies", "dislike", "I like superhero movies"),
])
def test_flip_of_negated_phrasings_reads_back_as_the_new_polarity(text, polarity, flipped):
    p = Profile([Statement(text, polarity=polarity)])
    q, _ = apply_edit(p, Edit("flip", id=p.statements[0].id))
    assert q.statements[0].text == flipped
    assert [x.polarity for x in Profile.from_text(q.to_text())] == ["like"]


@pytest.mark.parametrize("text,polarity", [
    ("Horror is not for me", "dislike"),  # was 'I like Horror is not for me', which reads as a dislike
    ("I never watch horror", "dislike"),  # was 'I like I never watch horror'
    ("Westerns are great", "like"),  # was 'I dislike Westerns are great'
    ("I like Horror films but not slashers", "like"),  # two clauses: flipping the lead garbles the second
])
def test_flip_that_cannot_rewrite_the_words_says_so_and_changes_nothing(text, polarity):
    h = EditHistory(Profile([Statement(text, polarity=polarity)]))
    new = "dislike" if polarity == "like" else "like"
    with pytest.raises(ProfileEditError, match=f"cannot rewrite '{text}' to say {new}: edit its words instead"):
        h.apply(Edit("flip", id=h.current.statements[0].id))
    assert [(s.text, s.polarity) for s in h.current] == [(text, polarity)] and h.log == []


def test_negation_filler_words_are_not_part_of_the_topic():
    assert statement_topic("Not into horror") == "horror"
    assert statement_topic("not a fan of westerns.") == "westerns"
    assert statement_topic("Not interested in sequels") == "sequels"
    assert [detect_polarity(t) for t in ("Not into horror", "not a fan of westerns", "Not interested in sequels")] == ["dislike"] * 3
    # praise after a negation is still not a dislike
    assert detect_polarity("Nothing beats a good heist film") != "dislike"


def test_add_and_edit_with_a_polarity_write_it_into_the_words():
    # the editor's add box sends a topic and a chosen polarity; prompts read only the words, so
    # 'Horror films' stored as a dislike reached the LLM as 'About me: I like Comedy films. Horror films.'
    p = base()
    q, msg = apply_edit(p, Edit("add", text="Horror films", polarity="dislike"))
    s = q.statements[-1]
    assert (s.text, s.polarity) == ("I dislike Horror films", "dislike") and "dislike 'I dislike Horror films'" in msg
    assert [x.polarity for x in Profile.from_text(q.to_text())] == ["like", "like", "dislike", "dislike"]
    sid = p.statements[0].id
    q, _ = apply_edit(p, Edit("edit", id=sid, text="westerns", polarity="dislike"))
    assert (q.statements[0].text, q.statements[0].polarity) == ("I dislike westerns", "dislike")
    # no polarity sent: a statement edited to a bare topic keeps its polarity, in words too
    dis = p.statements[2].id
    q, _ = apply_edit(p, Edit("edit", id=dis, text="slasher films"))
    assert (q.statements[2].text, q.statements[2].polarity) == ("I dislike slasher films", "dislike")
    # words that already agree are kept as typed
    q, _ = apply_edit(p, Edit("add", text="I can't stand musicals", polarity="dislike"))
    assert q.statements[-1].text == "I can't stand musicals"


@pytest.mark.parametrize("edit", [
    Edit("add", text="I love horror films", polarity="dislike"),
    Edit("add", text="no musicals", polarity="like"),
    Edit("edit", id="FIRST", text="I hate westerns", polarity="like"),
])
def test_words_that_say_the_opposite_of_the_chosen_polarity_are_refused(edit):
    p = base()
    if edit.id == "FIRST":
        edit = dataclasses.replace(edit, id=p.statements[0].id)
    with pytest.raises(ProfileEditError, match=f"says {'dislike' if edit.polarity == 'like' else 'like'}"):
        apply_edit(p, edit)


def test_add_with_a_polarity_that_cannot_be_written_into_the_words_is_refused():
    with pytest.raises(ProfileEditError, match="cannot rewrite 'Westerns are great' to say dislike"):
        apply_edit(base(), Edit("add", text="Westerns are great", polarity="dislike"))
