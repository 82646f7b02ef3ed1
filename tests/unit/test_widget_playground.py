"""The prompt playground without a browser: settings, a simulated Run click, results, errors shown per side."""
from __future__ import annotations

import json

import pytest
import traitlets

from recnb.evaluation.synthetic import make_catalog
from recnb.models.interface import LLM, Capabilities
from recnb.text.prompts import get_template
from recnb.widgets import asset
from recnb.widgets.prompt_playground import PromptPlayground


def front_end_update(widget, **state):
    """Deliver the message a front-end sends after ``model.set(...); model.save_changes()``."""
    widget._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": []}}, "buffers": []})


class ScriptedLLM(LLM):
    """generate() answers from a script (a real model will not hallucinate on cue); no scoring."""

    name, backend = "scripted", "test"
    capabilities = Capabilities(multi_token_score=False, constrained_generation=False, local=True)

    def __init__(self, answer):
        super().__init__()
        self.answer = answer

    def generate(self, prompts, max_new_tokens=64, temperature=0.0, stop=None, **kw):
        return self.answer if isinstance(prompts, str) else [self.answer] * len(prompts)

    def score(self, prefix, continuations, reduce="sum"):
        from recnb.models.interface import ScoringUnsupportedError

        raise ScoringUnsupportedError("this test double cannot score")

    def chat_prompt(self, user, system=None, assistant_prefix=""):
        return user

    def count_tokens(self, text):
        return len(text.split())

    @property
    def context_window(self):
        return 2048


@pytest.fixture(scope="module")
def synth():
    return make_catalog()


def _playground(llm, synth, **kw):
    cases = synth.cases[:2]
    return PromptPlayground(llm, synth.items, {c.user_id: synth.query(c) for c in cases},
                            {c.user_id: c.candidates for c in cases},
                            targets={c.user_id: sorted(c.relevant)[0] for c in cases}, train=synth.train, **kw)


def test_assets_and_initial_state(synth):
    assert "export default" in asset("prompt_playground.js").read_text()
    assert "recnb-prompt-playground" in asset("prompt_playground.css").read_text()
    w = _playground(ScriptedLLM(""), synth)
    state = w.get_state()
    json.dumps({k: state[k] for k in ("settings", "results", "user_ids", "candidates_view", "template_names")})
    assert w.user == synth.cases[0].user_id and len(w.candidates_view) == 8
    assert sum(c["is_target"] for c in w.candidates_view) == 1
    a, b = w.settings
    assert a["text"] == get_template("zero-shot", "pointwise").text and b["text"] == get_template("few-shot", "pointwise").text
    assert {"llm-pointwise", "llm-title", "llm-listwise-labels", "llm-permuted", "llm-listwise-generate",
            "llm-constrained", "llm-rating"} == set(w.ranker_names)


def test_picking_a_template_fills_its_text_and_edits_are_kept(synth):
    w = _playground(ScriptedLLM(""), synth)
    s = [dict(x) for x in w.settings]
    s[1].update(template="recency", ranker="llm-listwise-labels", text=None)  # what the front-end sends
    front_end_update(w, settings=s)
    assert w.settings[1]["task"] == "labels" and w.settings[1]["text"] == get_template("recency", "labels").text
    s = [dict(x) for x in w.settings]
    s[0]["text"] = "My taste: {profile}\nWould I like {item}? Answer Yes or No."
    front_end_update(w, settings=s)
    assert w.settings[0]["text"].startswith("My taste:")
    with pytest.raises(traitlets.TraitError, match="exactly 2"):
        w.settings = w.settings[:1]
    with pytest.raises(traitlets.TraitError, match="unknown ranker"):
        w.settings = [{**w.settings[0], "ranker": "gpt-9"}, w.settings[1]]


def _page_sends(w, side, **changed):
    """The settings prompt_playground.js sends after a pick: both sides as readSide() reads them
    (every field, the k-shot box as a number, the textarea's text) with ``changed`` on ``side``."""
    s = [dict(x) for x in w.settings]
    s[side].update(changed)
    front_end_update(w, settings=json.loads(json.dumps(s)))  # through JSON, as the page's null arrives


def test_page_picks_template_with_its_k_and_ranker_keeping_an_edited_text(synth):
    w = _playground(ScriptedLLM("1."), synth)  # A: zero-shot (k 0), B: few-shot (k 3)
    # a template pick sends text and shots as null: the template's own text and k, not the box's old number
    _page_sends(w, 0, template="few-shot", text=None, shots=None)
    _page_sends(w, 1, template="zero-shot", text=None, shots=None)
    assert [(x["template"], x["shots"]) for x in w.settings] == [("few-shot", 3), ("zero-shot", 0)]
    # a ranker pick sends the text as it is: an unedited one follows the new task...
    _page_sends(w, 0, ranker="llm-listwise-generate")
    assert w.settings[0]["text"] == get_template("few-shot", "generate").text and w.settings[0]["shots"] == 3
    a, b = w.run()
    assert a["prompt"].count("Candidate movies:") == 1
    examples = a["prompt"].split("Examples of my earlier choices:")[1].split("Candidate movies:")[0]
    assert examples.strip(), "few-shot picked in the page ran with no examples"
    assert "Examples of my earlier choices" not in b["prompt"]
    # ...and one edited in the textarea (sent with the pick, never saved before) is kept
    edited = "My words. {profile}\n{history}\nWould I like {item}? Answer Yes or No."
    _page_sends(w, 1, ranker="llm-title", text=edited)
    assert w.settings[1]["ranker"] == "llm-title" and w.settings[1]["text"] == edited


def test_run_click_ranks_both_sides(llm, synth):
    w = _playground(llm, synth, settings=[
        {"template": "zero-shot", "ranker": "llm-title", "shots": 0},
        {"template": "sequential", "ranker": "llm-listwise-labels", "shots": 1},
    ])
    front_end_update(w, run_count=1)  # the Run button
    a, b = w.results
    assert a["error"] is None and b["error"] is None
    for r in (a, b):
        assert sorted(row["item_id"] for row in r["items"]) == sorted(synth.cases[0].candidates)
        assert [row["rank"] for row in r["items"]] == list(range(1, 9))
        assert r["seconds"] > 0 and r["prompt_tokens"] > 0 and r["target_rank"] in range(1, 9)
    assert "Example 1:" in b["prompt"]  # one demo on side B
    assert w.status.startswith("done in") and len(w.history) == 1
    table = w.compare()
    assert list(table.columns) == ["title", "rank A", "score A", "rank B", "score B"] and len(table) == 8
    w.run()  # the same prompts again: the title ranker's prefixes come from the KV cache
    assert w.results[0]["cache_hits"] >= 1
    front_end_update(w, user=str(synth.cases[1].user_id))  # ids come back from JSON as strings
    assert w.user == synth.cases[1].user_id and w.results == []


def test_errors_and_hallucinations_are_shown_per_side(synth):
    t = dict(zip(synth.items.item_id, synth.items.title))
    cands = synth.cases[0].candidates
    answer = f"Here are my picks:\n1. {t[cands[3]]}\n2. The Invisible Heist\n3. {t[cands[3]]}"
    w = _playground(ScriptedLLM(answer), synth, settings=[
        {"template": "zero-shot", "ranker": "llm-listwise-generate"},
        {"template": "zero-shot", "ranker": "llm-title"},  # this backend cannot score: the side shows why
    ])
    a, b = w.run()
    assert a["items"][0]["item_id"] == cands[3]
    assert a["hallucinated"] == ["The Invisible Heist"]
    assert a["errors"] == {"invalid_titles": 1, "prose_lines": 1, "duplicates": 1, "missing": 7}
    assert a["output"] == answer
    assert b["items"] == [] and b["error"].startswith("ScoringUnsupportedError: this test double cannot score")
    assert b["target_rank"] is None and b["cache_hits"] == 0 and b["errors"] == {}  # a good run's keys: no KeyError
    assert "1 side failed" in w.status
    with pytest.warns(UserWarning, match="setting B failed .*ScoringUnsupportedError"):
        assert list(w.compare().columns) == ["title", "rank A", "score A"]
    w.settings = [{**w.settings[1]}, {**w.settings[1]}]
    w.run()
    with pytest.raises(RuntimeError, match="both settings failed: A: ScoringUnsupportedError"):
        w.compare()
    s = [dict(x) for x in w.settings]
    s[0]["text"] = "Rank {candidates} for {nobody}"
    w.settings = s
    a, _ = w.run()
    assert "unknown placeholder(s) {nobody}" in a["error"]


def test_from_split_builds_users_with_a_held_out_target(llm, dataset):
    split = dataset.split(seed=0)
    users = sorted(split.test.user_id.unique())[:2]
    w = PromptPlayground.from_split(llm, dataset.items, split, users, n_candidates=6)
    assert w.user_ids == [int(u) for u in users]
    for u in users:
        cands = w.candidates[u]
        assert len(cands) == 6 and w.targets[u] in cands
        assert not set(cands) - {w.targets[u]} & set(split.train[split.train.user_id == u].item_id)


def test_settings_defaults_follow_the_template_and_the_ranker(synth):
    w = _playground(ScriptedLLM(""), synth, settings=[{"template": "few-shot", "ranker": "llm-pointwise"},
                                                      {"template": "zero-shot", "ranker": "llm-pointwise", "shots": 1}])
    assert [x["shots"] for x in w.settings] == [3, 1]  # left out: the template's own k
    # the ranker changed from Python with the old default text: the text follows the new task
    w.settings = [{**w.settings[0], "ranker": "llm-listwise-labels"}, w.settings[1]]
    assert w.settings[0]["text"] == get_template("few-shot", "labels").text
    # an edited text is kept, and a text the task cannot use is one clear error on that side
    w.settings = [{**w.settings[0], "text": "Pick one. Answer with a letter."}, w.settings[1]]
    a, _ = w.run()
    assert "the 'labels' task needs {candidates_labelled}" in a["error"]


def test_permuted_ranker_shows_its_base_rankers_warnings(llm, synth):
    w = _playground(llm, synth, max_history=1, settings=[{"template": "zero-shot", "ranker": "llm-permuted"},
                                                         {"template": "zero-shot", "ranker": "llm-listwise-labels"}])
    a, b = w.run()
    assert a["error"] is None and b["error"] is None
    assert b["warnings"].get("truncated_prompts", 0) >= 1  # a longer history than max_history=1
    assert a["warnings"].get("truncated_prompts", 0) >= 1  # the same, counted by the base ranker as base_truncated_prompts


def test_numpy_ids_serialise_and_zero_candidates_compare(synth):
    # a kernel serialises the state: numpy ids made numpy booleans ("Can't clean for JSON: np.False_")
    import numpy as np

    c = synth.cases[0]
    w = PromptPlayground(ScriptedLLM("nothing"), synth.items, {c.user_id: synth.query(c)},
                         {c.user_id: np.asarray(c.candidates)}, targets={c.user_id: np.int64(sorted(c.relevant)[0])},
                         train=synth.train)
    json.dumps({k: v for k, v in w.get_state().items() if not isinstance(v, (bytes, memoryview))})
    assert all(type(r["is_target"]) is bool for r in w.candidates_view) and sum(r["is_target"] for r in w.candidates_view) == 1
    empty = PromptPlayground(ScriptedLLM("nothing"), synth.items, {c.user_id: synth.query(c)}, {c.user_id: []},
                             train=synth.train)
    empty.run()
    table = empty.compare()  # raised KeyError: 'title'
    assert table.empty and "title" in table.columns


def test_target_rank_never_flatters_a_tie(synth):
    """An answer naming nothing ties every candidate: the held-out item's rank is then the worst of
    the tie (the evaluation's rule), not the position it happened to be shown at."""
    w = _playground(ScriptedLLM("I cannot rank these."), synth,
                    settings=[{"template": "zero-shot", "ranker": "llm-listwise-generate"}] * 2)
    a, _ = w.run()
    assert len({row["score"] for row in a["items"]}) == 1  # all tied
    assert a["target_rank"] == len(a["items"]) == 8
    assert a["target_ties"] == 7
