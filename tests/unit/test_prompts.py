"""Prompt templates as data: loading, editing, placeholders, demos, and fitting the context window."""
from __future__ import annotations

import pandas as pd
import pytest

from recnb.scores.base import Query
from recnb.text.prompts import (ITEM_SENTINEL, Catalog, PromptTemplate, PromptTemplateError, SimilarUsers, get_template,
                                make_demos, render, task_names, template_data, template_names)


class WordCountLLM:
    """Stands in for a tokenizer in the truncation tests: one token per word, a settable window."""

    def __init__(self, window=10_000):
        self.context_window = window

    def chat_prompt(self, user, system=None, assistant_prefix=""):
        return f"<sys>{system}</sys><user>{user}</user><assistant>" + assistant_prefix

    def count_tokens(self, text):
        return len(text.split())


@pytest.fixture(scope="module")
def items():
    return pd.DataFrame({"item_id": range(1, 41), "title": [f"Film {n}" for n in range(1, 41)],
                         "year": [1980 + n for n in range(40)]})


@pytest.fixture(scope="module")
def catalog(items):
    return Catalog(items)


def test_every_template_combines_with_every_task(items, catalog):
    assert {"zero-shot", "few-shot", "sequential", "recency"} <= set(template_names())
    assert {"pointwise", "title", "labels", "generate", "rating", "explain"} <= set(task_names())
    q = Query(user_id=1, history=(1, 2, 3, 4, 5, 6), ratings=(5, 4, 3, 5, 4, 5), profile="I like films.")
    for name in template_names():
        for task in task_names():
            t = get_template(name, task)
            demos, _ = make_demos(q, catalog, t.shots, "self")
            rp = render(t, WordCountLLM(), q, catalog, candidates=[7, 8, 9], item="Film 7 (1986)", demos=demos)
            assert "{" not in rp.user_text.replace("{{", "")  # every placeholder filled
            assert rp.text.startswith("<sys>") and rp.n_tokens > 0


def test_sequential_and_recency_follow_llmrank(catalog):
    q = Query(user_id=1, history=(3, 1, 2))
    seq = render(get_template("sequential", "generate"), WordCountLLM(), q, catalog, candidates=[5, 6]).user_text
    assert "in the past in order:\n1. Film 3 (1982)\n2. Film 1 (1980)\n3. Film 2 (1981)" in seq
    rec = render(get_template("recency", "generate"), WordCountLLM(), q, catalog, candidates=[5, 6]).user_text
    assert "my most recently watched movie is Film 2 (1981)" in rec
    lab = render(get_template("zero-shot", "labels"), WordCountLLM(), q, catalog, candidates=[5, 6]).user_text
    assert "A. Film 5 (1984)\nB. Film 6 (1985)" in lab


def test_unknown_names_and_placeholders_are_clear_errors():
    with pytest.raises(KeyError, match="no prompt template 'nope'"):
        get_template("nope")
    with pytest.raises(KeyError, match="no task"):
        get_template("zero-shot", "haiku")
    t = get_template("zero-shot", "pointwise")
    with pytest.raises(PromptTemplateError, match=r"unknown placeholder\(s\) \{user_name\}"):
        t.edited("Hi {user_name}, would you like {item}?")
    with pytest.raises(PromptTemplateError, match="literal braces"):
        t.edited("a lone { brace")
    ok = t.edited("JSON like {{\"x\": 1}} about {item}?")
    assert ok.name == "zero-shot*" and ok.task == "pointwise"
    with pytest.raises(PromptTemplateError, match="demo_source"):
        PromptTemplate("x", "pointwise", "{item}", demo_source="friends")


def test_templates_file_is_plain_toml_data():
    data = template_data()
    assert set(data) >= {"system", "template", "task", "demo"}
    assert all("text" in t and "description" in t for t in data["template"].values())


def test_max_history_cut_is_noted_in_the_prompt(catalog):
    q = Query(user_id=1, history=tuple(range(1, 31)))
    rp = render(get_template("zero-shot", "pointwise"), WordCountLLM(), q, catalog, item="Film 35", max_history=10)
    assert rp.n_history == 30 and rp.n_history_shown == 10 and rp.truncated
    assert "Film 30 (2009)" in rp.user_text and "Film 20 (1999)" not in rp.user_text
    assert "(The 20 earlier movies I watched are not shown, max_history=10.)" in rp.user_text
    assert rp.notes == ["history truncated: kept the 10 most recent of 30 items (max_history=10)",
                        "this user has no profile: the prompt says '(no profile)' in its place"]
    with_profile = render(get_template("zero-shot", "pointwise"), WordCountLLM(), Query(user_id=1, history=(1,), profile="I like films."),
                          catalog, item="Film 35")
    assert with_profile.notes == [] and "About me: I like films." in with_profile.user_text


def test_a_template_must_keep_what_its_task_needs():
    pointwise = get_template("zero-shot", "pointwise")
    with pytest.raises(PromptTemplateError, match=r"the 'pointwise' task needs \{item\}"):
        pointwise.edited(pointwise.text.replace("{item}", "it"))
    labels = get_template("zero-shot", "labels")
    with pytest.raises(PromptTemplateError, match=r"needs \{candidates_labelled\}"):
        labels.edited(labels.text.replace("{candidates_labelled}", ""))


def test_long_history_is_cut_to_the_context_window(catalog):
    q = Query(user_id=1, history=tuple(range(1, 41)))
    llm = WordCountLLM(window=120)
    rp = render(get_template("zero-shot", "pointwise"), llm, q, catalog, item="Film 1", max_history=None, reserve_tokens=20)
    assert rp.n_tokens <= 100 and rp.n_tokens == llm.count_tokens(rp.text)
    assert 0 < rp.n_history_shown < 40
    assert "Film 40 (2019)" in rp.user_text  # the most recent are kept
    assert "to fit the context window" in rp.user_text and "to fit the context window" in rp.notes[0]
    # a window too small for the candidates alone: one clear error
    with pytest.raises(ValueError, match="even with no history"):
        render(get_template("zero-shot", "labels"), WordCountLLM(window=30), q, catalog, candidates=list(range(1, 20)))


def test_self_demos_come_from_the_users_own_history(catalog):
    q = Query(user_id=7, history=(1, 2, 3, 4, 5), ratings=(5, 4, 3, 2, 1))
    demos, notes = make_demos(q, catalog, 3, "self")
    assert [d.item for d in demos] == [5, 4, 3] and notes == []
    assert demos[0].history == [1, 2, 3, 4] and demos[0].rating == 1
    assert all(not set(d.negatives) & set(q.history) for d in demos)
    assert make_demos(q, catalog, 3, "self") == (demos, notes)  # deterministic
    few, notes = make_demos(Query(user_id=8, history=(1, 2)), catalog, 3, "self")
    assert len(few) == 1 and notes == ["asked for 3 demos, 1 available from 'self' history"]
    rp = render(get_template("few-shot", "pointwise"), WordCountLLM(), q, catalog, item="Film 9", demos=demos)
    assert rp.n_demos == 3 and "Example 3: Watched:" in rp.user_text and "Would like Film 3 (1982)? Yes." in rp.user_text


def test_similar_user_demos(catalog):
    train = pd.DataFrame({"user_id": [10, 10, 10, 11, 11, 11, 12, 12], "item_id": [1, 2, 9, 30, 31, 32, 1, 8],
                          "rating": [5.0] * 8, "timestamp": range(8)})
    q = Query(user_id=99, history=(1, 2, 3))
    demos, notes = make_demos(q, catalog, 2, "similar", SimilarUsers(train))
    assert [d.source for d in demos] == ["user 10", "user 12"]  # user 11 shares nothing
    assert demos[0].item == 9 and demos[0].history == [1, 2]
    with pytest.raises(ValueError, match="training ratings"):
        make_demos(q, catalog, 2, "similar", None)


def test_similar_user_demos_use_only_what_neighbours_did_by_then(catalog):
    """A temporal split: user 5's latest history item is at t=10. Neighbour 20 later (t=30, 31) watched
    items 7 and 8: they are neither its demo item nor what makes it similar."""
    train = pd.DataFrame({"user_id": [5, 5, 5, 20, 20, 20, 20, 21, 21, 21, 21],
                          "item_id": [1, 2, 3, 1, 2, 7, 8, 4, 5, 3, 6],
                          "timestamp": [8, 9, 10, 1, 2, 30, 31, 3, 4, 40, 41], "rating": [4.0] * 11})
    sim = SimilarUsers(train)
    q = Query(user_id=5, history=(1, 2, 3))
    assert sim.cutoff(5, q.history) == 10 and sim.known(20, 10) == 2
    demos, notes = make_demos(q, catalog, 2, "similar", sim)
    assert [(d.source, d.item, d.history) for d in demos] == [("user 20", 2, [1])]  # not item 8, seen at t=31
    # user 21 shares item 3 only at t=40, after the cutoff: not similar yet
    assert notes == ["asked for 2 demos, 1 available from 'similar' history"]
    # without times in the data (or for a user the data does not know) the whole histories count, and that is said
    demos, notes = make_demos(Query(user_id=99, history=(1, 2, 3)), catalog, 2, "similar", sim)
    assert {d.source: d.item for d in demos}["user 20"] == 8 and notes[0].startswith("similar-user demos are not limited in time")


def test_demo_negatives_avoid_the_querys_candidates(catalog):
    q = Query(user_id=7, history=(1, 2, 3, 4, 5))
    plain, _ = make_demos(q, catalog, 3, "self")
    used = sorted({i for d in plain for i in d.negatives})
    demos, _ = make_demos(q, catalog, 3, "self", avoid=used)
    assert not {i for d in demos for i in d.negatives} & set(used)


def test_an_edited_templates_file_is_read_again(tmp_path):
    import os
    import shutil

    from recnb.text.prompts import TEMPLATES_FILE

    path = tmp_path / "prompts.toml"
    shutil.copy(TEMPLATES_FILE, path)
    before = get_template("zero-shot", "pointwise", path=path).text
    path.write_text(path.read_text().replace("Answer Yes or No.", "Reply Yes or No."))
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a later mtime even on a coarse clock
    after = get_template("zero-shot", "pointwise", path=path).text
    assert "Answer Yes or No." in before and "Reply Yes or No." in after


def test_a_ranker_keeps_its_templates_demo_source_and_refuses_another_task(llm):
    from recnb.scores.llm_pointwise import LLMPointwiseRanker
    from recnb.scores.llm_rating import LLMRatingRanker

    tpl = get_template("few-shot", "pointwise", demo_source="similar")
    assert LLMPointwiseRanker(llm, template=tpl).prompt.demo_source == "similar"
    assert LLMPointwiseRanker(llm, template=tpl, demo_source="self", shots=1).prompt.demo_source == "self"
    assert LLMPointwiseRanker(llm, template="few-shot", demo_source="similar").prompt.demo_source == "similar"
    with pytest.raises(ValueError, match="task 'rating'"):
        LLMRatingRanker(llm, template=tpl)


def test_what_an_edited_template_leaves_out_is_noted(catalog):
    q = Query(user_id=7, history=tuple(range(1, 31)))
    demos, _ = make_demos(q, catalog, 2, "self")
    few = get_template("few-shot", "pointwise")
    bare = few.edited(few.text.replace("{demos}", "").replace("{truncation_note}", ""))
    rp = render(bare, WordCountLLM(), q, catalog, item="Film 9", demos=demos, max_history=5)
    assert rp.n_demos == 0 and "Example 1" not in rp.user_text
    assert "the template has no {demos}: 2 demo(s) not shown" in rp.notes
    assert "the template has no {truncation_note}: the model is not told that history was cut" in rp.notes
    # a literal "{{demos}}" (escaped braces) is text, not the placeholder: still noted
    literal = few.edited(few.text.replace("{demos}", "{{demos}}"))
    rp = render(literal, WordCountLLM(), q, catalog, item="Film 9", demos=demos)
    assert "{demos}" in rp.user_text and "Example 1" not in rp.user_text
    assert "the template has no {demos}: 2 demo(s) not shown" in rp.notes
    explain = render(get_template("few-shot", "explain"), WordCountLLM(), q, catalog, item="Film 9", demos=demos)
    assert "task 'explain' has no demo format: 2 demo(s) not shown" in explain.notes
    # cut by max_history AND the window: the prompt names both
    both = render(get_template("zero-shot", "pointwise"), WordCountLLM(window=150), q, catalog, item="Film 9", max_history=20)
    assert both.n_history_shown < 20 and "to fit the context window (and max_history=20)" in both.user_text


def test_item_split_for_kv_cache_keeps_the_space_with_the_title(catalog):
    rp = render(get_template("zero-shot", "pointwise"), WordCountLLM(), Query(user_id=1, history=(1,)), catalog,
                item=ITEM_SENTINEL)
    prefix, pattern = rp.split_item()
    assert prefix.endswith("Would I like the movie") and pattern.startswith(" " + ITEM_SENTINEL + "?")
    assert prefix + pattern.replace(ITEM_SENTINEL, "Heat") == rp.text.replace(ITEM_SENTINEL, "Heat")


def test_chat_template_comes_from_the_tokenizer(llm, catalog):
    rp = render(get_template("zero-shot", "labels"), llm, Query(user_id=1, history=(1, 2)), catalog, candidates=[3, 4])
    assert rp.text.startswith("<|im_start|>system\nYou are a movie recommender.")
    assert rp.text.endswith("<|im_start|>assistant\n")
    assert rp.n_tokens == llm.count_tokens(rp.text)


def test_a_request_is_shown_or_its_absence_noted(catalog):
    """The free-text request of a Query reaches the prompt (beside the profile); a template
    without {profile} says it is not shown instead of dropping it silently."""
    q = Query(user_id=1, history=(1,), request="a funny heist movie")
    rp = render(get_template("zero-shot", "pointwise"), WordCountLLM(), q, catalog, item="Film 35")
    assert "a funny heist movie" in rp.user_text and "(no profile)" not in rp.user_text
    assert not any("no profile" in n for n in rp.notes)
    both = render(get_template("zero-shot", "pointwise"), WordCountLLM(),
                  Query(user_id=1, history=(1,), profile="I like films.", request="a funny heist movie"), catalog, item="Film 35")
    assert "I like films." in both.user_text and "a funny heist movie" in both.user_text
    bare = get_template("zero-shot", "pointwise").edited("Would you like {item}? History: {history}")
    rp = render(bare, WordCountLLM(), q, catalog, item="Film 35")
    assert "heist" not in rp.user_text
    assert "the template has no {profile}: the request 'a funny heist movie' is not shown" in rp.notes
