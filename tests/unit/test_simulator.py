"""The user simulator: real held-out targets, answers only from the target's facts, and the evaluation's numbers."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _systems_helpers import small_catalog  # noqa: E402

from recnb.systems.constraints import values_of
from recnb.systems.conversation import ConversationalRecommender, Turn
from recnb.systems.nlu import Lexicon
from recnb.systems.simulator import SimulatedUser, evaluate, one_shot, pick_targets, run_episode


@pytest.fixture(scope="module")
def split(dataset):
    return dataset.split(seed=0)


@pytest.fixture(scope="module")
def setup(dataset, encoder, split):
    """A catalog of 600 movies plus 6 held-out targets (so targets are findable in it)."""
    from recnb.systems.catalog import ItemCatalog

    targets = pick_targets(dataset, split, 6, seed=0)
    base = small_catalog(dataset, encoder)
    items = dataset.items[dataset.items.item_id.isin(base.ids + [t.item_id for t in targets])]
    cat = ItemCatalog(items, encoder=encoder)
    hist = {t.user_id: split.train.item_id[split.train.user_id == t.user_id].tolist() for t in targets}
    return cat, Lexicon(cat), targets, hist


def test_targets_are_real_held_out_items_liked_and_with_facts(dataset, split):
    a = pick_targets(dataset, split, 10, seed=3)
    assert a == pick_targets(dataset, split, 10, seed=3) and a != pick_targets(dataset, split, 10, seed=4)
    test = split.test.set_index("user_id")
    items = dataset.items.set_index("item_id")
    for t in a:
        assert test.loc[t.user_id, "item_id"] == t.item_id and test.loc[t.user_id, "rating"] >= 4
        assert items.loc[t.item_id, "has_facts"] and items.loc[t.item_id, "genres"]
        assert t.item_id not in set(split.train.item_id[split.train.user_id == t.user_id])  # hidden from training


def test_simulated_user_only_says_what_the_targets_facts_say(setup):
    cat, lex, targets, _ = setup
    for tg in targets:
        user = SimulatedUser(cat, tg.item_id, seed=1)
        rec = cat.record(tg.item_id)
        user.opening()
        for facet in ("genre", "era", "people", None, None, None, None):
            user._reveal(facet)
        facts = {("genre", g) for g in values_of(rec["genres"])} | {("era", int(rec["year"]) // 10 * 10)} \
            | {("cast", c) for c in values_of(rec["cast"])} | {("director", d) for d in values_of(rec["director"])}
        assert user.revealed and user.revealed <= facts


def test_simulated_user_accepts_the_target_and_criticises_relative_to_it(setup):
    cat, lex, targets, _ = setup
    tg = targets[0]
    user = SimulatedUser(cat, tg.item_id, k=5)
    year = int(cat.record(tg.item_id)["year"])
    dated = cat.items.dropna(subset=["year"])
    newest, oldest = dated.loc[dated.year.idxmax()], dated.loc[dated.year.idxmin()]
    if newest.year >= year + 5:
        other, expected = newest.item_id, "Something older, please."
    else:
        other, expected = oldest.item_id, "Something more recent, please."
    msg = user.reply(Turn(1, "x", "recommend", "recommend", "", items=[other]))
    assert msg == expected and not user.success
    msg = user.reply(Turn(2, "x", "recommend", "recommend", "", items=[other, tg.item_id]))
    assert user.success and msg.startswith("That's the one")


def test_an_episode_and_the_one_shot_baseline(setup):
    cat, lex, targets, hist = setup
    tg = targets[0]
    ep = run_episode(lambda exclude: ConversationalRecommender(cat, lexicon=lex, exclude=exclude), cat, tg,
                     hist[tg.user_id], k=5, max_turns=6, keep_transcript=True)
    assert 1 <= ep.turns <= 6 and ep.fallbacks == 0 and ep.llm_calls == 0
    assert ep.transcript[0]["user"] and ep.transcript[0]["system"]
    if ep.success_turn is not None:
        assert tg.item_id in ep.transcript[ep.success_turn - 1]["items"]
    # The one-shot baseline: the target's own description finds it; an unrelated text does not need to
    assert one_shot(cat, tg, cat.description(tg.item_id), hist[tg.user_id], k=5)


def test_evaluate_reports_success_by_turn_with_cis(setup):
    cat, lex, targets, hist = setup
    res = evaluate(lambda exclude: ConversationalRecommender(cat, lexicon=lex, exclude=exclude), cat, targets, hist,
                   profiles={t.user_id: "I like good films." for t in targets}, k=5, max_turns=4)
    per = res["per_user"]
    assert len(per) == len(targets)
    curve = [per[f"conversational@{t}"].mean() for t in range(1, 5)]
    assert curve == sorted(curve)  # success within t turns can only grow with t
    s = res["success"].set_index("system")
    assert {"one-shot request", "one-shot request+profile", "conversational@4"} <= set(s.index)
    assert (s["ci_low"] <= s["mean"]).all() and (s["mean"] <= s["ci_high"]).all()
    turns = res["turns"].set_index("measure")
    censored = per["turns_to_success"].fillna(5).mean()
    assert turns.loc["turns (failures = T+1)", "mean"] == pytest.approx(censored)
    d = res["difference_vs_one_shot"]
    assert d["mean"] == pytest.approx(per["conversational@4"].mean() - per["one-shot request"].mean())


def test_no_eligible_target_is_a_clear_error(dataset, split):
    with pytest.raises(ValueError, match="no held-out test item qualifies"):
        pick_targets(dataset, split, 3, min_rating=6.0)


@pytest.mark.parametrize("record,missing", [
    (dict(item_id=1, title="A", year=None, genres="Drama"), "no year"),
    (dict(item_id=1, title="A", year=1999, genres=""), "no genres"),
    (dict(item_id=1, title="A", year=float("nan"), genres="(no genres listed)"), "no year and no genres"),
])
def test_a_hand_picked_target_without_year_or_genres_is_one_clear_error(record, missing):
    """Review: such a target failed with a raw "cannot convert float NaN to integer" or an IndexError."""
    import pandas as pd

    from recnb.systems.catalog import ItemCatalog

    cat = ItemCatalog(pd.DataFrame([record, dict(item_id=2, title="B", year=2000, genres="Comedy")]))
    with pytest.raises(ValueError, match=f"target 1 has {missing}: the simulator speaks from its genres and year"):
        SimulatedUser(cat, 1)
    assert "comedy" in SimulatedUser(cat, 2).opening()  # a target with both still talks


def test_the_simulator_never_asks_for_a_filter_that_drops_its_target(dataset):
    """Both genre columns decide "Something lighter" and "Nothing X": the filters they become check both.

    Item 234 (Exit to Eden) is a Comedy in ``genres`` and a Thriller in ``wd_genres``; before, with Heat
    (Crime, Thriller) on top, the simulator asked for something lighter, the reader turned that into
    "no Crime / no Thriller films", and the target was filtered out for the rest of the episode. Item
    3129 (Sweet and Lowdown) is a Documentary in ``wd_genres``; "Nothing documentary" dropped it.
    """
    from recnb.systems.catalog import ItemCatalog
    from recnb.systems.constraints import Constraint

    cat = ItemCatalog(dataset.items[dataset.items.item_id.isin([234, 3129, 6])])
    assert "Thriller" in cat.record(234)["wd_genres"] and "Thriller" not in cat.record(234)["genres"]
    user = SimulatedUser(cat, 234)
    msg = user.reply(Turn(1, "x", "recommend", "recommend", "", items=[6]))
    assert msg != "Something lighter, please."
    assert set(values_of(cat.record(234)["genres"])) >= {g for k, g in user.revealed if k == "genre"}  # says only `genres`
    for target in (234, 3129):
        msg = SimulatedUser(cat, target).reply(Turn(1, "x", "elicit", "elicit", "", items=[], asked="avoid"))
        assert msg.startswith("Nothing "), msg
        avoided = next(g for g in ("Horror", "Musical", "Documentary", "War", "Western") if g.lower() in msg)
        assert target in cat.filter([Constraint("genre", "not_has", avoided)]), msg
