"""The LLM rankers: the scoring tricks agree with plain scoring, errors are counted, prompts fit.

The contract test (tests/contract) runs every registered LLM ranker on the synthetic catalog;
these tests check what is specific to each one.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recnb.evaluation.synthetic import make_catalog
from recnb.models.interface import LLM, Capabilities
from recnb.scores.base import Query
from recnb.scores.llm_constrained import LLMConstrainedRanker
from recnb.scores.llm_listwise_generate import LLMListwiseGenerateRanker
from recnb.scores.llm_listwise_labels import LLMListwiseLabelRanker
from recnb.scores.llm_permuted import PermutedRanker
from recnb.scores.llm_pointwise import LLMPointwiseRanker
from recnb.scores.llm_rating import LLMRatingRanker, parse_rating, rating_rmse, read_rating
from recnb.scores.llm_title import LLMTitleRanker
from recnb.text.prompts import ITEM_SENTINEL


class ScriptedLLM(LLM):
    """Answers generate() from a script, to test what a ranker does with outputs a real model rarely gives on cue."""

    name, backend = "scripted", "test"
    capabilities = Capabilities(multi_token_score=False, constrained_generation=False, local=True)

    def __init__(self, answers):
        super().__init__()
        self.answers, self.prompts = list(answers), []

    def generate(self, prompts, max_new_tokens=64, temperature=0.0, stop=None, **kw):
        single = isinstance(prompts, str)
        prompts = [prompts] if single else list(prompts)
        self.prompts += prompts
        out = [self.answers[(len(self.prompts) - len(prompts) + i) % len(self.answers)] for i in range(len(prompts))]
        return out[0] if single else out

    def score(self, prefix, continuations, reduce="sum"):
        raise AssertionError("not used")

    def chat_prompt(self, user, system=None, assistant_prefix=""):
        return f"[{system}] {user} ->" + assistant_prefix

    def count_tokens(self, text):
        return len(text.split())

    @property
    def context_window(self):
        return 4096


@pytest.fixture(scope="module")
def synth():
    return make_catalog()


def _query(synth, k=0):
    case = synth.cases[k]
    return synth.query(case), case.candidates


def test_score_choices_matches_full_prompt_scoring(llm):
    prefix = llm.chat_prompt("Would I like the movie")
    stems = [" Alien? Answer Yes or No.", " Toy Story? Answer Yes or No.", ""]
    fast = llm.score_choices(prefix, stems, ["Yes", "No"])
    slow = np.array([llm.score_naive(prefix + s, ["Yes", "No"]) for s in stems])
    np.testing.assert_allclose(fast, slow, atol=2e-3)
    generic = LLM.score_choices(llm, prefix, stems, ["Yes", "No"])  # the default every backend inherits
    np.testing.assert_allclose(generic, fast, atol=2e-3)
    with pytest.raises(ValueError, match="one-token choices"):
        llm.score_choices(prefix, stems, [" Maybe not"])


def test_batched_and_cached_scoring_agree(llm):
    prefix = llm.chat_prompt("Recommend one movie.")
    conts = ["Alien (1979)", "Toy Story (1995)", "Heat"]
    np.testing.assert_allclose(llm.score_batched(prefix, conts), llm.score(prefix, conts), atol=2e-3)


def test_pointwise_uses_the_shared_prefix(llm, synth):
    r = LLMPointwiseRanker(llm).fit(synth.train, synth.items)
    q, cands = _query(synth)
    s = r.score(q, cands)
    # same numbers as asking the full question per candidate
    rp = r.render(q, item=ITEM_SENTINEL)
    prefix, pattern = rp.split_item()
    title = r.catalog[cands[0]]
    full = llm.score_naive(prefix + pattern.replace(ITEM_SENTINEL, title), ["Yes", "No"])
    assert s[0] == pytest.approx(full[0] - full[1], abs=5e-3)
    assert len(r.last["p_yes"]) == len(cands) and r.last["seconds"] > 0


def test_labels_are_a_distribution_and_depend_on_order(llm, synth):
    r = LLMListwiseLabelRanker(llm).fit(synth.train, synth.items)
    q, cands = _query(synth)
    s = r.score(q, cands)
    assert np.exp(s).sum() == pytest.approx(1.0, abs=1e-6)
    assert r.order_invariant is False
    assert set(r.last["label_probs"]) == set("ABCDEFGH")
    with pytest.raises(ValueError, match="at most 26"):
        LLMListwiseLabelRanker(llm).fit(None, pd.DataFrame({"item_id": range(30), "title": list(map(str, range(30)))})) \
            .score(Query(user_id=1, history=(0,)), list(range(1, 28)))


def test_permuted_ranker_is_order_invariant_and_reports_spread(llm, synth):
    r = PermutedRanker(LLMListwiseLabelRanker(llm), n_permutations=2).fit(synth.train, synth.items)
    q, cands = _query(synth)
    a = r.score(q, cands)
    b = r.score(q, list(reversed(cands)))
    np.testing.assert_allclose(b, a[::-1], atol=1e-6)
    rep = r.last["position_bias"]
    assert rep["n_permutations"] == 2 and rep["n_candidates"] == len(cands) and rep["mean_rank_spread"] >= 0
    assert r.stats["permutations"] == 4


def test_title_ranker_normalisations(llm, synth):
    q, cands = _query(synth)
    pmi = LLMTitleRanker(llm, normalise="pmi").fit(synth.train, synth.items).score(q, cands)
    raw = LLMTitleRanker(llm, normalise="sum").fit(synth.train, synth.items).score(q, cands)
    assert not np.allclose(pmi, raw)
    with pytest.raises(ValueError, match="normalise"):
        LLMTitleRanker(llm, normalise="softmax")


def test_generate_ranker_counts_every_error(synth):
    items = synth.items
    t = dict(zip(items.item_id, items.title))
    q, cands = _query(synth)
    c = cands
    outside = next(i for i in items.item_id if i not in c and i not in q.history)
    answer = "\n".join([f"1. {t[c[2]]}", f"2. {t[c[0]]} ({items.set_index('item_id').year[c[0]]})", f"3. {t[c[2]]}",
                        "4. The Flying Spaghetti Monster", f"5. {t[outside]}", f"6. {t[c[1]][:-1]}"])
    llm = ScriptedLLM([answer])
    r = LLMListwiseGenerateRanker(llm).fit(synth.train, items)
    s = r.score(q, c)
    assert s[2] > s[0] > s[1] > 0  # named in that order (the last one with a typo)
    assert np.all(s[3:] == 0)  # never named: tied last
    assert r.stats["duplicates"] == 1 and r.stats["invalid_titles"] == 1 and r.stats["outside_candidates"] == 1
    assert r.stats["missing"] == len(c) - 3
    assert r.last["hallucinated"] == ["The Flying Spaghetti Monster", t[outside]]
    r.score(q, c)  # same prompt again: answered from the generation cache, counted again
    assert r.stats["generation_cache_hits"] == 1 and len(llm.prompts) == 1 and r.stats["duplicates"] == 2
    junk = LLMListwiseGenerateRanker(ScriptedLLM(["I cannot rank movies."])).fit(synth.train, items)
    assert np.all(junk.score(q, c) == 0) and junk.stats["unparseable_outputs"] == 1
    # a sentence names no film: counted as prose, not as an invented title
    assert junk.stats["prose_lines"] == 1 and junk.stats["invalid_titles"] == 0
    assert junk.last["prose"] == ["I cannot rank movies."] and junk.last["hallucinated"] == []


def test_constrained_ranker_writes_every_candidate_once(llm, dataset):
    items = dataset.items
    r = LLMConstrainedRanker(llm).fit(None, items)
    q = Query(user_id=1, history=(1, 2, 3), profile="I like animated films.")
    cands = [260, 1196, 2571, 4993, 318]
    s = r.score(q, cands)
    assert sorted(s.tolist()) == [1.0, 2.0, 3.0, 4.0, 5.0] and r.stats["missing"] == 0
    lines = r.last["output"].strip().split("\n")
    assert sorted(lines) == sorted(r.catalog[c] for c in cands)
    top2 = LLMConstrainedRanker(llm, n_titles=2).fit(None, items)
    s = top2.score(q, cands)
    assert sorted(s.tolist()) == [0.0, 0.0, 0.0, 4.0, 5.0] and top2.stats["missing"] == 0
    # asked for two: the three others are "not written", not "missing"
    assert top2.last["n_missing"] == 0 and top2.last["missing"] == [] and len(top2.last["not_written"]) == 3


def test_constrained_generation_over_the_whole_catalog(llm, dataset):
    from recnb.models.constrained import constrained_titles
    from recnb.text.prompts import Catalog

    cat = Catalog(dataset.items)
    titles = list(cat.text.values())
    prompt = llm.chat_prompt("Recommend one movie for a fan of space adventures. Answer with its title only.")
    order, text = constrained_titles(llm, prompt, titles, n_titles=1)
    assert len(order) == 1 and text.strip() == titles[order[0]]
    with pytest.raises(NotImplementedError, match="constrain"):
        constrained_titles(ScriptedLLM(["x"]), prompt, titles)
    with pytest.raises(ValueError, match="contain the separator"):
        constrained_titles(llm, prompt, ["Heat (1995)", "Two\nLines (2001)"])


@pytest.mark.parametrize("answer, value, notes", [
    ("4", 4.0, set()), ("4.5", 4.5, set()), ("Rating: 3 stars", 3.0, set()), ("I'd give it 5/5", 5.0, set()),
    ("Rating: 3.5/5", 3.5, set()),
    ("4/10", 2.0, {"rescaled"}), ("2 out of 10", 1.0, {"rescaled"}), ("8/10", 4.0, {"rescaled"}),  # another scale
    ("on a scale from 1 to 5, I'd say 8", None, set()),  # the echoed scale is not the answer, 8 is off it
    ("Between 1 and 5: 4", 4.0, set()), ("1-5: 2", 2.0, set()),
    ("-2", None, set()),  # negative: not a rating
    ("Rating: 10/10, wow 3", 5.0, {"rescaled", "ambiguous"}),  # first rating kept, the disagreement noted
    ("I'd give it 9 out of 10... so 4 stars", 4.5, {"rescaled", "ambiguous"}),
    ("3/5, so 3", 3.0, set()),  # several numbers that agree: not ambiguous
    ("0.5", 1.0, {"clamped"}),  # a MovieLens half star below the prompt's 1-5 scale
    ("10", None, set()), ("0", None, set()), ("no idea", None, set()), ("", None, set()),
])
def test_parse_rating(answer, value, notes):
    assert read_rating(answer) == (value, notes)
    assert parse_rating(answer) == value


def test_rating_generate_fallback_is_counted_and_kept(synth):
    llm = ScriptedLLM(["4", "I am not sure.", "Rating: 2.5"])
    r = LLMRatingRanker(llm, method="generate").fit(synth.train, synth.items)
    q = Query(user_id=5, history=(1, 2), ratings=(5.0, 3.0))
    pred = r.predict(q, [3, 4, 5])
    assert pred.tolist() == [4.0, 4.0, 2.5]  # the unparseable answer fell back to the user's mean (4.0)
    assert r.stats["rating_parse_fallbacks"] == 1 and r.fallbacks == [(5, 4, "I am not sure.")]


def test_rating_rescales_and_ambiguities_are_counted_and_reported(synth):
    answers = ["8/10", "Rating: 10/10, wow 3", "0.5", "-2", "4"]
    r = LLMRatingRanker(ScriptedLLM(answers), method="generate").fit(synth.train, synth.items)
    pred = r.predict(Query(user_id=5, history=(1, 2), ratings=(5.0, 3.0)), [3, 4, 5, 6, 7])
    assert pred.tolist() == [4.0, 5.0, 1.0, 4.0, 4.0]  # "-2" fell back to the user's mean (4.0)
    assert {k: r.stats[k] for k in ("rating_parse_fallbacks", "rating_rescaled", "rating_clamped", "rating_ambiguous")} \
        == {"rating_parse_fallbacks": 1, "rating_rescaled": 2, "rating_clamped": 1, "rating_ambiguous": 1}
    assert r.fallbacks == [(5, 6, "-2")] and [n[:2] for n in r.noted] == [(5, 3), (5, 4), (5, 5)]
    pairs = synth.train[synth.train.user_id.isin([1, 30])].groupby("user_id").tail(2)
    rep = rating_rmse(r, pairs, synth.train[~synth.train.index.isin(pairs.index)])  # answers go on cycling
    d = rep.to_dict()
    assert rep.n == 4 and (d["fallbacks"], d["rescaled"], d["clamped"], d["ambiguous"]) == (1, 2, 1, 1)  # this run only
    assert np.isfinite(rep.rmse) and rep.rmse_user_mean >= 0


def test_expected_rating_and_rmse_report(llm, synth):
    r = LLMRatingRanker(llm, method="expected").fit(synth.train, synth.items)
    pairs = synth.train[synth.train.user_id.isin([1, 30])].groupby("user_id").tail(2)
    rep = rating_rmse(r, pairs, synth.train[~synth.train.index.isin(pairs.index)])
    assert rep.n == 4 and rep.fallbacks == 0
    assert ((rep.predictions.predicted >= 1) & (rep.predictions.predicted <= 5)).all()
    assert rep.rmse >= 0 and rep.rmse_user_mean >= 0 and set(rep.to_dict()) >= {"rmse", "rmse_user_mean", "rmse_global_mean"}


def test_long_histories_are_truncated_visibly(llm, dataset):
    r = LLMListwiseLabelRanker(llm, max_history=None).fit(None, dataset.items)
    long_history = tuple(dataset.items.item_id.iloc[:3000])
    s = r.score(Query(user_id=1, history=long_history), [1, 2, 3])
    assert np.isfinite(s).all() and r.stats["truncated_prompts"] == 1
    assert r.last["history_shown"] < 3000 and r.last["prompt_tokens"] <= llm.context_window
    assert any("to fit the context window" in n for n in r.last["notes"])
    assert "earlier movies I watched are not shown, to fit the context window" in r.last["user_text"]


def test_empty_query_is_one_clear_error(llm, synth):
    r = LLMPointwiseRanker(llm).fit(synth.train, synth.items)
    with pytest.raises(ValueError, match="empty"):
        r.score(Query(user_id=1), synth.cases[0].candidates)


def test_a_number_in_the_echoed_title_is_not_the_rating(synth):
    """A model that only repeats "Toy Story 3 (2010)" has not rated it 3 stars: a counted fallback."""
    assert read_rating("Toy Story 3 (2010)", ignore=["Toy Story 3 (2010)"]) == (None, set())
    assert read_rating("Toy Story 3: I'd say 4", ignore=["Toy Story 3 (2010)"]) == (4.0, set())
    items = synth.items.copy()
    items.loc[items.item_id == 3, ["title", "year"]] = ["Toy Story 3", 2010]
    llm = ScriptedLLM(["Toy Story 3", "4"])
    r = LLMRatingRanker(llm, method="generate").fit(synth.train, items)
    pred = r.predict(Query(user_id=5, history=(1, 2), ratings=(5.0, 3.0)), [3, 4])
    assert pred.tolist() == [4.0, 4.0] and r.stats["rating_parse_fallbacks"] == 1  # the user's mean, not 3


def test_predict_checks_its_input_like_score(synth):
    """predict() is public (rating_rmse calls it): unknown items and a missing fit are one clear error."""
    from recnb.scores.base import UnknownItemError

    with pytest.raises(RuntimeError, match="fit"):
        LLMRatingRanker(ScriptedLLM(["4"]), method="generate").predict(Query(user_id=1, history=(1,)), [2])
    r = LLMRatingRanker(ScriptedLLM(["4"]), method="generate").fit(synth.train, synth.items)
    with pytest.raises(UnknownItemError, match="999999"):
        r.predict(Query(user_id=1, history=(1,), ratings=(4.0,)), [2, 999_999])
