"""The conversational recommender: intents, belief updates, critiques, answers, edits, LLM policies and fallbacks."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _systems_helpers import ScriptedLLM, small_catalog  # noqa: E402

from recnb.systems.belief_state import Belief, BeliefState
from recnb.systems.constraints import Constraint, ConstraintError
from recnb.systems.conversation import ConversationalRecommender
from recnb.systems.nlu import Lexicon, extract_preferences, parse, rule_tool_call


@pytest.fixture(scope="module")
def catalog(dataset, encoder):
    return small_catalog(dataset, encoder)


@pytest.fixture(scope="module")
def lex(catalog):
    return Lexicon(catalog)


@pytest.fixture
def cr(catalog, lex):
    return ConversationalRecommender(catalog, lexicon=lex, k=5)


def years(catalog, ids):
    return [int(catalog.record(i)["year"]) for i in ids]


# -- reading messages ----------------------------------------------------------------------
@pytest.mark.parametrize("text,shown,intent", [
    ("hi there", False, "elicit"),
    ("I want a crime movie", False, "recommend"),
    ("a French drama under 2 hours", False, "recommend"),
    ("something lighter", True, "critique"),
    ("older please", True, "critique"),
    ("not by this director", True, "critique"),
    ("why did you suggest the first one?", True, "explain"),
    ("who directed the second one?", True, "question"),
    ("How long is it?", True, "question"),
    ("perfect, thanks!", True, "accept"),
    ("thanks, but something older", True, "critique"),
])
def test_intents(lex, text, shown, intent):
    assert parse(text, lex, [6, 858] if shown else [], 1).intent == intent


def test_preferences_become_structured_beliefs(lex):
    got = {(b.kind, b.text) for b in extract_preferences("a funny movie from the 90s with Al Pacino, but no horror", lex)}
    assert got == {("like", "Comedy films"), ("constraint", "from the 1990s"), ("like", "films with Al Pacino"),
                   ("dislike", "Horror films")}
    free = extract_preferences("something about a heist", lex)
    assert [(b.kind, b.text, b.structured) for b in free] == [("like", "heist", False)]  # kept as free text


def test_comparatives_do_not_negate_the_clause(lex):
    """"less than" / "no more than" state a limit; they used to turn the whole clause into a dislike."""
    def read(text):
        return {(b.kind, b.text) for b in extract_preferences(text, lex)}

    assert read("a comedy less than 90 minutes long") == {("like", "Comedy films"), ("constraint", "at most 90 minutes long")}
    assert read("a comedy no more than 90 minutes long") == {("like", "Comedy films"), ("constraint", "at most 90 minutes long")}
    assert ("constraint", "made in France") in read("a French film less than 2 hours")
    assert rule_tool_call("comedies less than 100 minutes", lex)["arguments"] == {"genre": "Comedy", "max_runtime": 100}
    # "less <word>" dislikes that word alone, and is still a critique once something was shown
    assert read("a less violent comedy") == {("like", "Comedy films"), ("dislike", "violent")}
    assert read("something less recent") == set()  # not "released in 2005 or later"
    assert parse("something less violent", lex, [6], 1).critique == ["lighter"]


@pytest.mark.parametrize("text,expected", [
    # a negation attached to a limit flips it (these read as the opposite, or as nothing, before)
    ("nothing before 1990", {("constraint", "released in 1990 or later")}),
    ("nothing older than 1980", {("constraint", "released in 1980 or later")}),
    ("no movies after 2010", {("constraint", "released in 2010 or earlier")}),
    ("nothing from the 80s", {("constraint", "not from the 1980s")}),
    ("nothing over 2 hours", {("constraint", "at most 120 minutes long")}),
    ("I don't want anything longer than 90 minutes", {("constraint", "at most 90 minutes long")}),
    ("a comedy, nothing too long", {("like", "Comedy films"), ("constraint", "at most 100 minutes long")}),
    ("something not too old", {("constraint", "released in 1970 or later")}),
    ("not too recent", {("constraint", "released before 2005")}),
    # ... and is cut out of the clause: the rest keeps its own polarity
    ("a comedy that is not too long", {("like", "Comedy films"), ("constraint", "at most 100 minutes long")}),
    ("Crime films not from the 1990s", {("like", "Crime films"), ("constraint", "not from the 1990s")}),
    # lower bounds, number words and decimals ("1.5" used to split the sentence at its dot)
    ("over 2 hours please", {("constraint", "at least 120 minutes long")}),
    ("something under two hours", {("constraint", "at most 120 minutes long")}),
    ("a drama under 1.5 hours", {("like", "Drama films"), ("constraint", "at most 90 minutes long")}),
    ("since 2000", {("constraint", "released in 2000 or later")}),
    # unchanged readings
    ("a crime movie from the 1970s, no comedy", {("like", "Crime films"), ("constraint", "from the 1970s"),
                                                 ("dislike", "Comedy films")}),
    # a limit inside a refusal ("no horror after 2000") is not applied (it demanded films after 2000)
    ("no horror after 2000", {("dislike", "Horror films")}),
    ("no comedies from the 90s", {("dislike", "Comedy films")}),
    ("as long as it's funny", {("like", "Comedy films")}),
])
def test_limits_read_with_their_own_polarity(lex, text, expected):
    assert {(b.kind, b.text) for b in extract_preferences(text, lex)} == expected


def test_a_limit_inside_a_refusal_is_said_back_not_applied(cr, lex):
    [b] = extract_preferences("no heist films after 2000", lex)
    assert (b.kind, b.text, b.constraints) == ("dislike", "heist", ())
    assert '"after 2000" was not applied' in b.note and 'say "nothing after 2000"' in b.note
    t = cr.turn("a crime movie, no comedies from the 90s")
    assert '"from the 90s" was not applied' in t.reply
    assert not [c for c in cr.belief.constraints() if c.field in ("year", "decade")]


def test_decade_left_out_filters_and_replaces_its_opposite(catalog, lex):
    out = Constraint("decade", "not_in", 1980)
    years_ = catalog.items["year"]
    mask = out.mask(catalog.items)
    assert not mask[(years_ >= 1980) & (years_ <= 1989)].any() and mask[(years_ < 1980) | (years_ > 1989)].all()
    assert not mask[years_.isna()].any()  # an unknown year is not known to be outside the decade
    assert out.holds({"year": 1979}) and not out.holds({"year": 1985}) and not out.holds({"year": None})
    assert Constraint.from_dict(out.to_dict()) == out and out.describe() == "not from the 1980s"
    with pytest.raises(ConstraintError, match="ending in 0"):
        Constraint("decade", "not_in", 1985)
    with pytest.raises(ConstraintError, match="takes ops"):
        Constraint("decade", "<", 1980)
    s = BeliefState()
    for text in ("a crime movie from the 1980s", "nothing from the 80s", "nothing from the 90s"):
        for b in extract_preferences(text, lex):
            s.add(b)
    # the newer "not from the 1980s" replaced "from the 1980s"; two decades left out both hold
    assert sorted(b.text for b in s.constraint_beliefs) == ["not from the 1980s", "not from the 1990s"]
    assert rule_tool_call("comedies over 2 hours, nothing before 1990", lex)["arguments"] == {
        "genre": "Comedy", "min_runtime": 120, "year_min": 1990}


def test_a_turn_leaving_out_a_decade_recommends_none_from_it(cr, catalog):
    t = cr.turn("a crime movie, nothing from the 90s")
    assert t.action == "recommend" and t.items and all(not 1990 <= y <= 1999 for y in years(catalog, t.items))


def test_greeting_elicits_and_questions_do_not_repeat(cr):
    t = cr.turn("hello")
    assert t.action == "elicit" and t.asked == "genre" and "genre" in t.reply
    assert cr.turn("hmm").asked == "era"


def test_recommendations_satisfy_every_hard_constraint(cr, catalog):
    t = cr.turn("I want a crime movie from the 1970s, no comedy")
    assert t.action == "recommend" and t.items and "Comedy films" in t.added
    for i in t.items:
        rec = catalog.record(i)
        assert 1970 <= rec["year"] <= 1979 and "Comedy" not in rec["genres"]
    assert 858 in t.items or 1221 in t.items  # The Godfather (I or II): crime, 1970s


def test_critiques_are_relative_to_the_criticised_item(cr, catalog):
    first = cr.turn("a crime drama with Al Pacino")
    top = first.items[0]
    older = cr.turn("something older")
    assert older.intent == "critique" and older.items
    assert max(years(catalog, older.items)) < catalog.record(top)["year"]
    assert not set(older.items) & set(first.items)  # shown and not taken: not shown again
    director = catalog.record(older.items[0])["director"]
    nd = cr.turn("not by this director")
    assert all(director not in str(catalog.record(i)["director"]) for i in nd.items)
    assert f"not directed by {director}" in nd.added


def test_lighter_removes_dark_genres_of_the_criticised_item(cr, catalog):
    cr.turn("a thriller about a heist")
    dark = set(catalog.record(cr.shown[0])["genres"].split("|")) & {"Thriller", "Crime", "Horror"}
    t = cr.turn("something lighter")
    assert dark and all(not dark & set(catalog.record(i)["genres"].split("|")) for i in t.items)
    assert "like: Thriller films" in t.removed and any(b.kind == "dislike" and b.text == "Thriller films" for b in cr.belief)


def test_a_critique_does_not_overrule_a_stated_dislike(cr, catalog):
    # "lighter" guesses Comedy; it replaced the person's own "no comedy" without a word
    cr.turn("a crime movie from the 1970s, no comedy")
    t = cr.turn("something lighter")
    assert any(b.kind == "dislike" and b.text == "Comedy films" for b in cr.belief)
    assert not any(b.kind == "like" and b.text == "Comedy films" for b in cr.belief)
    assert any("kept that rather than" in n for n in t.notes) and "kept that rather than" in t.reply
    assert all("Comedy" not in catalog.record(i)["genres"].split("|") for i in t.items)


def test_questions_are_answered_from_facts(cr, catalog):
    cr.turn("a crime movie by Michael Mann")
    assert 6 in cr.shown
    n = cr.shown.index(6) + 1
    word = ["first", "second", "third", "fourth", "fifth"][n - 1]
    t = cr.turn(f"who directed the {word} one?")
    assert t.action == "answer" and t.about == 6 and t.reply == "Heat (1995) was directed by Michael Mann."
    assert cr.turn("How long is Heat?").reply == "Heat (1995) runs 170 minutes."
    missing = cr.answer(1, "cast")  # Toy Story has no cast in the bundled facts
    assert missing == "The catalog has no cast for Toy Story (1995)."


def test_explanations_name_the_beliefs_an_item_matches(cr):
    cr.turn("a crime movie from the 1970s")
    t = cr.turn("why did you suggest the first one?")
    assert t.action == "explain" and "Crime films" in t.reply and "from the 1970s" in t.reply


def test_impossible_constraints_say_so_instead_of_returning_nothing_silently(cr):
    t = cr.turn("a western from the 1920s with Al Pacino, before 1925, no westerns")
    assert t.items == [] and "No movie in the catalog satisfies all of" in t.reply


def test_empty_result_says_whether_constraints_or_rejections_emptied_it(catalog, lex):
    cr = ConversationalRecommender(catalog, lexicon=lex, exclude=set(catalog.ids))
    t = cr.turn("a crime movie")
    assert t.items == [] and "satisfies all of" not in t.reply and "already watched" in t.reply
    cr = ConversationalRecommender(catalog, lexicon=lex)
    cr.add_belief("from the 1970s", "constraint")
    cr.rejected = set(catalog.ids)  # everything shown and not taken
    items, notes = cr.recommend()
    assert items == [] and "satisfies all of" not in notes[0] and "suggested already" in notes[0]
    assert "fits your constraints" in notes[0]
    cr.belief.clear()
    _, notes = cr.recommend()
    assert "in the catalog" in notes[0] and ": ." not in notes[0]  # never an empty list of constraints


def test_accept_closes(cr):
    cr.turn("a crime movie")
    t = cr.turn("perfect, thanks!")
    assert t.action == "close" and cr.done and t.reply.startswith("Enjoy")


# -- the person edits the belief state -------------------------------------------------------------
def test_edits_reparse_and_change_what_is_recommended(cr, catalog):
    cr.turn("a crime movie from the 1990s")
    era = next(b for b in cr.belief if b.text == "from the 1990s")
    cr.edit_belief(era.id, "from the 1970s")
    edited = cr.belief.get(era.id)
    assert edited.source == "edited" and edited.constraints == (Constraint("year", ">=", 1970), Constraint("year", "<=", 1979))
    items, _ = cr.recommend()
    assert all(1970 <= y <= 1979 for y in years(catalog, items))
    cr.remove_belief(era.id)
    assert all(b.text != "from the 1970s" for b in cr.belief)
    b = cr.add_belief("robots in space", "like")
    assert not b.structured and b in cr.belief.likes  # kept as the person wrote it


def test_a_negated_sentence_is_a_dislike_whatever_the_default_kind(cr):
    """The person's own "no" wins over add_belief's default "like", an edited like, or the Likes heading."""
    b = cr.add_belief("no horror films")
    assert b.kind == "dislike" and Constraint("genre", "not_has", "Horror") in b.constraints and "dislike" in b.note
    like = cr.add_belief("Comedy films", "like")
    edited = cr.edit_belief(like.id, "I don't want comedies")
    assert edited.id == like.id and edited.kind == "dislike" and edited.constraints == (Constraint("genre", "not_has", "Comedy"),)
    assert not any(x.kind == "like" and x.facet in (("genre", "Horror"), ("genre", "Comedy")) for x in cr.belief)
    free = cr.add_belief("no robots")
    assert free.kind == "dislike" and not free.structured  # free text keeps its polarity too
    state = BeliefState.from_text("no horror films\nLikes:\n- Drama films", parser=cr.parser)
    assert [(x.kind, x.text) for x in state] == [("dislike", "no horror films"), ("like", "Drama films")]


def test_an_edit_naming_several_facts_keeps_every_filter(cr):
    """An edited line with two facts used to keep its text and silently drop both filters."""
    drama = cr.add_belief("Drama films")
    edited = cr.edit_belief(drama.id, "Crime films from the 1970s")
    assert {(b.kind, b.text) for b in cr.belief} == {("like", "Crime films"), ("constraint", "from the 1970s")}
    assert set(cr.belief.constraints()) == {Constraint("year", ">=", 1970), Constraint("year", "<=", 1979)}
    assert edited.id == drama.id and "read from" in edited.note
    cr.edit_belief(edited.id, "no horror or westerns")
    assert {Constraint("genre", "not_has", "Horror"), Constraint("genre", "not_has", "Western")} <= set(cr.belief.constraints())
    # under Constraints every fact is a hard filter, a genre included
    era = next(b for b in cr.belief if b.text == "from the 1970s")
    cr.edit_belief(era.id, "Crime films from the 1980s")
    assert {Constraint("genre", "has", "Crime"), Constraint("year", ">=", 1980)} <= set(cr.belief.constraints())


def test_panel_text_round_trip(cr):
    cr.turn("a funny movie from the 90s, no horror, with Al Pacino")
    text = cr.belief.to_text()
    again = BeliefState.from_text(text, parser=cr.parser)
    assert again.to_text() == text and len(again) == len(cr.belief) == 4
    assert set(again.constraints()) == set(cr.belief.constraints())
    state = cr.set_belief_text("Likes:\n- Drama films\nDislikes:\n- Horror films\nConstraints:\n- released before 1950")
    assert [b.kind for b in state] == ["like", "dislike", "constraint"]
    assert Constraint("year", "<", 1950) in state.constraints() and Constraint("genre", "not_has", "Horror") in state.constraints()
    assert BeliefState.from_dict(state.to_dict()).to_text() == state.to_text()


def test_belief_conflicts_replace_instead_of_piling_up():
    s = BeliefState()
    s.add(Belief("Comedy films", "like", facet=("genre", "Comedy")))
    s.add(Belief("released before 1990", "constraint", (Constraint("year", "<", 1990),)))
    removed = s.add(Belief("Comedy films", "dislike", (Constraint("genre", "not_has", "Comedy"),), ("genre", "Comedy")))
    assert [r.kind for r in removed] == ["like"]
    s.add(Belief("released before 1980", "constraint", (Constraint("year", "<", 1980),)))
    assert [b.text for b in s.constraint_beliefs] == ["released before 1980"]
    with pytest.raises(ValueError, match="needs some text"):
        Belief("   ")
    with pytest.raises(ConstraintError, match="whole number"):
        Constraint("year", "<", "soon")


# -- LLM policies ------------------------------------------------------------------------------
def test_llm_json_malformed_output_falls_back_to_rules_and_is_counted(catalog, lex):
    llm = ScriptedLLM(["recommend\", \"likes\": [\"crime\""])  # cut off: not valid JSON
    cr = ConversationalRecommender(catalog, llm, policy="llm-json", lexicon=lex)
    t = cr.turn("I want a crime movie")
    assert t.fallback and t.fallback.startswith("malformed") and t.source == "rules"
    assert t.action == "recommend" and t.items
    assert cr.stats["fallback"] == 1 and cr.stats["llm_calls"] == 1


def test_llm_json_valid_output_is_used_and_invented_slots_are_dropped(catalog, lex):
    llm = ScriptedLLM(['recommend", "likes": ["crime", "funny"], "dislikes": ["horror"], "item": null}'])
    cr = ConversationalRecommender(catalog, llm, policy="llm-json", lexicon=lex)
    t = cr.turn("I want a crime movie, no horror")
    assert t.fallback is None and t.source == "llm-json"
    assert cr.stats["llm_ungrounded_slots"] == 1  # "funny" was never said
    assert {"Crime films", "Horror films"} <= {b.text for b in cr.belief}


def test_llm_json_slot_contradicting_the_rules_is_dropped(catalog, lex):
    """An LLM like copied from a negated word ("I hate funny films") no longer replaces the rules' dislike."""
    llm = ScriptedLLM(['recommend", "likes": ["funny"], "dislikes": [], "item": null}'])
    cr = ConversationalRecommender(catalog, llm, policy="llm-json", lexicon=lex)
    t = cr.turn("I hate funny films, give me a thriller")
    assert [(b.kind, b.source) for b in cr.belief if b.facet == ("genre", "Comedy")] == [("dislike", "user")]
    assert t.items and all("Comedy" not in catalog.record(i)["genres"] for i in t.items)
    assert t.source == "llm-json" and cr.stats["llm_slots_contradicting_rules"] == 1


def test_llm_choice_impossible_intent_falls_back(catalog, lex):
    llm = ScriptedLLM(prefer=" B")  # always "critique"
    cr = ConversationalRecommender(catalog, llm, policy="llm-choice", lexicon=lex, calibrate=False)
    t = cr.turn("I want a crime movie")
    assert t.fallback == "critique before anything was recommended" and t.action == "recommend"
    t2 = cr.turn("older please")
    assert t2.fallback is None and t2.source == "llm-choice" and t2.intent == "critique"


class LetterBiasedLLM(ScriptedLLM):
    """Prefers " A" for any message; for a real question it also leans towards " D" (question)."""

    def score(self, prefix, continuations, reduce="sum", **kw):
        self.scored.append((prefix, list(continuations)))
        base = {" A": 0.0, " D": -1.0 if "directed" in prefix else -5.0}
        return [base.get(c, -5.0) for c in continuations]


def test_calibration_removes_a_constant_letter_preference(catalog, lex):
    llm = LetterBiasedLLM()
    raw = ConversationalRecommender(catalog, llm, policy="llm-choice", lexicon=lex, calibrate=False)
    raw.shown = [6]
    assert raw.read("who directed it?")[0].intent == "recommend"  # the bias wins
    cal = ConversationalRecommender(catalog, llm, policy="llm-choice", lexicon=lex)
    cal.shown = [6]
    assert cal.read("who directed it?")[0].intent == "question"  # relative to "N/A", D moved most
    cal.read("who directed the second one?")
    assert sum('"N/A"' in p for p, _ in llm.scored) == 1  # the prior is scored once per context


def test_policy_needs_an_llm(catalog):
    with pytest.raises(ValueError, match="needs an llm"):
        ConversationalRecommender(catalog, policy="llm-json")


def test_bundled_model_turns_complete_and_fallbacks_are_counted(catalog, lex, llm):
    cr = ConversationalRecommender(catalog, llm, policy="llm-choice", lexicon=lex)
    for msg in ("I want a crime movie with Al Pacino", "something older"):
        t = cr.turn(msg)
        assert t.action in ("recommend", "elicit", "answer", "explain", "close")
        assert t.source in ("llm-choice", "rules") and (t.fallback is None) == (t.source == "llm-choice")
    assert cr.stats["llm_calls"] == 2 and cr.stats["fallback"] <= 2
    cj = ConversationalRecommender(catalog, llm, policy="llm-json", lexicon=lex, max_new_tokens=32)
    t = cj.turn("I want a crime movie with Al Pacino")
    assert t.items and t.llm_output is not None and cj.stats["llm_calls"] == 1


def test_an_llm_policy_is_not_credited_with_what_the_rules_read(catalog, lex):
    from recnb.systems.conversation import evaluate_intents, intent_summary
    from recnb.systems.nlu import INTENT_EXAMPLES

    examples = INTENT_EXAMPLES[:4]
    llm = ScriptedLLM(["not json at all"] * 20)  # every answer malformed: the rules read each message
    reads = evaluate_intents(catalog, "llm-json", llm, examples, lexicon=lex)
    row = intent_summary("llm-json", reads)
    assert row["fallback_rate"] == 1.0 and row["own_accuracy"] == 0.0 and row["accuracy"] > 0
    rules = intent_summary("rules", evaluate_intents(catalog, "rules", None, examples, lexicon=lex))
    assert rules["own_accuracy"] == rules["accuracy"]


@pytest.mark.parametrize("text, expected", [
    ("French films", (Constraint("country", "not_has", "France"),)),
    ("released before 1990", (Constraint("year", ">=", 1990),)),
    ("from the 1980s", (Constraint("decade", "not_in", 1980),)),
    ("over 150 minutes", (Constraint("runtime", "<", 150),)),  # the rules read "over" as >= 150
])
def test_a_dislike_of_a_limit_turns_its_filter_around(cr, text, expected):
    """Added as a dislike (the panel's Dislikes, or an LLM's "dislikes"), "French films" must exclude
    French films: it was kept as a requirement that every film be French."""
    b = cr.add_belief(text, "dislike")
    assert b.kind == "dislike" and b.constraints == expected


def test_an_llm_json_dislike_of_a_limit_agrees_with_the_rules(catalog, lex):
    cj = ConversationalRecommender(catalog, ScriptedLLM(['recommend", "likes": ["comedy"], "dislikes": ["before 1990"], "item": null}']),
                                   policy="llm-json", lexicon=lex)
    t = cj.turn("a comedy, nothing before 1990")
    assert t.items and set(cj.belief.constraints()) >= {Constraint("year", ">=", 1990)}
    assert Constraint("year", "<", 1990) not in cj.belief.constraints()


def test_a_movie_like_a_title_does_not_recommend_that_title(cr):
    t = cr.turn("a movie like Heat")
    assert t.items and 6 not in t.items  # Heat (1995) is the example, not a recommendation


def test_an_edit_resolves_conflicts_like_an_addition(cr):
    """Editing a like into "Horror films" while "no horror films" stands replaces the dislike, as add() does."""
    cr.add_belief("no horror films")
    like = cr.add_belief("Comedy films")
    cr.edit_belief(like.id, "Horror films")
    assert [(b.kind, b.text) for b in cr.belief] == [("like", "Horror films")]


def test_an_empty_message_is_one_clear_error(cr):
    cr.turn("a crime movie")
    before = (len(cr.turns), dict(cr.stats))
    with pytest.raises(ValueError, match="empty"):
        cr.turn("   ")
    assert (len(cr.turns), dict(cr.stats)) == before  # nothing recorded, nothing counted


def test_preferences_survive_an_llm_intent_other_than_recommend(catalog, lex):
    """The LLM read the message as small talk (elicit); the crime, 1970s and no-comedy it states
    were dropped without a word. The rules' reading of them is kept and said in the notes."""
    cr = ConversationalRecommender(catalog, ScriptedLLM(prefer=" F"), policy="llm-choice", lexicon=lex, calibrate=False)
    t = cr.turn("I want a crime movie from the 1970s, no comedy")
    assert t.intent == "elicit" and t.fallback is None
    assert [(b.kind, b.text) for b in cr.belief] == [("like", "Crime films"), ("constraint", "from the 1970s"),
                                                     ("dislike", "Comedy films")]
    assert any(n.startswith("kept the preferences you stated") for n in t.notes)
