"""Tools: the JSON call protocol, schema validation, clear errors, and nothing run blindly."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _systems_helpers import ScriptedLLM, small_catalog  # noqa: E402

from recnb.systems.nlu import Lexicon, rule_tool_call
from recnb.systems.tools import TOOLS, ToolBox, ToolCallError, call_with_model, parse_call


@pytest.fixture(scope="module")
def catalog(dataset, encoder):
    return small_catalog(dataset, encoder)


@pytest.fixture
def box(catalog):
    return ToolBox(catalog)


def test_valid_calls_run(box, catalog):
    r = box.execute('{"tool": "search_catalog", "arguments": {"query": "a crime film by Coppola", "k": 3}}')
    assert r.ok and len(r.result) == 3 and {"item_id", "title"} <= set(r.result[0])
    r = box.execute({"tool": "filter_by_facts", "arguments": {"genre": "Crime", "director": "Francis Ford Coppola"}})
    assert r.ok and {i["item_id"] for i in r.result["items"]} >= {858, 1221}
    assert all(catalog.record(i["item_id"])["year"] for i in r.result["items"])
    r = box.execute('Sure! {"tool": "get_item_facts", "arguments": {"item_id": "6"}} hope that helps')
    assert r.ok and r.result["item_id"] == 6 and r.result["director"] == ["Michael Mann"]
    assert box.stats["executed"] == 3 and box.stats["rejected"] == 0


def test_filter_semantics(box, catalog):
    r = box.execute({"tool": "filter_by_facts", "arguments": {"not_genre": "Drama", "year_max": 1980, "max_runtime": 100, "k": 20}})
    assert r.ok
    for it in r.result["items"]:
        rec = catalog.record(it["item_id"])
        assert "Drama" not in rec["genres"] and rec["year"] <= 1980 and rec["runtime"] <= 100
    assert r.result["matches"] >= len(r.result["items"])


@pytest.mark.parametrize("call,code,says", [
    ("I think you should search for heist movies", "no_json", "No JSON object"),
    ('{"tool": "search_catalog", "arguments": {"query": "heist",}', "bad_json", "malformed"),
    ('{"tool": "search_catalog"}', "bad_call", "'arguments' is a required property"),
    ('{"tool": "search_catalog", "arguments": {}, "also": 1}', "bad_call", "Additional properties"),
    ('{"tool": "delete_catalog", "arguments": {}}', "unknown_tool", "Tools: search_catalog"),
    ('{"tool": "search_catalog", "arguments": {"query": "heist", "k": 500}}', "bad_arguments", "500 is greater than the maximum of 20"),
    ('{"tool": "search_catalog", "arguments": {"q": "heist"}}', "bad_arguments", "'query' is a required property"),
    ('{"tool": "filter_by_facts", "arguments": {"year_min": "nineties"}}', "bad_arguments", "is not of type 'integer'"),
    ('{"tool": "filter_by_facts", "arguments": {}}', "bad_arguments", "should be non-empty"),
    ('{"tool": "get_item_facts", "arguments": {"item_id": 424242}}', "unknown_item", "No movie has id 424242"),
])
def test_malformed_calls_get_a_clear_error_and_never_run(box, monkeypatch, call, code, says):
    ran = []
    for name in TOOLS:
        if name != "get_item_facts":  # unknown_item is the tool refusing after validation
            monkeypatch.setattr(box, f"_{name}", lambda **kw: ran.append(kw))
    r = box.execute(call)
    assert not r.ok and r.code == code and says in r.error, r.error
    assert ran == []  # nothing executed
    assert r.for_model().startswith(f"Tool error ({code}):")
    assert box.stats["rejected"] == 1 and box.stats[f"rejected_{code}"] == 1
    if code == "bad_arguments":  # the message shows a valid call to copy
        assert "Example of a valid call" in r.error
    # a well-formed call the tool refused keeps what was asked (it used to lose its arguments)
    assert (r.tool, r.arguments) == (("get_item_facts", {"item_id": 424242}) if code == "unknown_item" else (None, {}))


def test_truncated_json_is_bad_json_not_its_inner_object(box):
    """A call missing its last brace used to fall through to the inner {"item_id": 6} and come back as
    bad_call "'tool' is a required property": the wrong advice, and bad_json undercounted."""
    r = box.execute('{"tool": "get_item_facts", "arguments": {"item_id": 6}')
    assert not r.ok and r.code == "bad_json" and "close every brace" in r.error
    assert box.stats["rejected_bad_json"] == 1 and box.stats["rejected_bad_call"] == 0
    # a brace in the prose before a whole, valid call: the call is still found
    ok = box.execute('Sure {thinking done}. {"tool": "search_catalog", "arguments": {"query": "a heist movie"}}')
    assert ok.ok and ok.tool == "search_catalog"


def test_blank_text_arguments_are_rejected_before_running(box):
    r = box.execute('{"tool": "search_catalog", "arguments": {"query": "   "}}')  # the catalog would raise
    assert not r.ok and r.code == "bad_arguments" and "arguments.query: must not be blank" in r.error
    r = box.execute({"tool": "filter_by_facts", "arguments": {"genre": " "}})
    assert not r.ok and r.code == "bad_arguments"


def test_a_tool_that_raises_is_a_failed_result_never_an_exception(box, monkeypatch):
    """execute promises never to raise: a ValueError/KeyError from the catalog comes back as "failed"."""
    def boom(*a, **kw):
        raise ValueError("search needs a non-empty text")

    monkeypatch.setattr(box.catalog, "search", boom)
    r = box.execute('{"tool": "search_catalog", "arguments": {"query": "heist"}}')
    assert not r.ok and r.code == "failed" and r.tool == "search_catalog" and "non-empty text" in r.error
    assert r.for_model().startswith("Tool error (failed):")
    monkeypatch.setattr(box.catalog, "facts", lambda i: {}["year"])  # a KeyError
    r = box.execute({"tool": "get_item_facts", "arguments": {"item_id": 6}})
    assert not r.ok and r.code == "failed"
    assert box.stats["rejected_failed"] == 2 and box.stats["executed"] == 0


def test_parse_call_returns_name_and_arguments():
    assert parse_call('```json\n{"tool": "get_item_facts", "arguments": {"item_id": 1}}\n```') == ("get_item_facts", {"item_id": 1})
    with pytest.raises(ToolCallError) as err:
        parse_call("[1, 2]")
    assert err.value.code == "no_json"


def test_errors_go_back_to_the_model_and_a_corrected_call_runs(box):
    llm = ScriptedLLM(['search_catalog", "arguments": {"query": "heist", "k": 99}}',
                       'search_catalog", "arguments": {"query": "heist", "k": 3}}'])
    out = call_with_model(llm, box, "find me a heist movie")
    assert out.protocol_ok and len(out.attempts) == 2 and len(out.result.result) == 3
    assert "99 is greater than the maximum of 20" in llm.prompts[1] and "Write a corrected call" in llm.prompts[1]


def test_rule_fallback_is_used_and_counted_when_the_model_never_complies(box, catalog):
    lex = Lexicon(catalog)
    llm = ScriptedLLM(["I like turtles"])
    out = call_with_model(llm, box, "Who directed Heat?", max_attempts=2, fallback=lambda r: rule_tool_call(r, lex))
    assert out.fallback and not out.protocol_ok and out.result.ok
    assert out.result.tool == "get_item_facts" and out.result.result["director"] == ["Michael Mann"]
    assert box.stats["fallback_calls"] == 1 and box.stats["rejected_bad_json"] == 2  # the reply continues {"tool": "


def test_rule_tool_calls(catalog):
    lex = Lexicon(catalog)
    assert rule_tool_call("a comedy from before 1980, no horror", lex) == {
        "tool": "filter_by_facts", "arguments": {"genre": "Comedy", "year_max": 1979, "not_genre": "Horror"}}
    assert rule_tool_call("something about a heist", lex)["tool"] == "search_catalog"
    for req in ("a comedy from before 1980, no horror", "something about a heist", "Who directed Heat?"):
        parse_call(rule_tool_call(req, lex))  # rule calls pass the same validation


def test_bundled_model_calls_are_validated_before_running(box, catalog, llm):
    """Whatever the 135M model writes is validated; bad calls are rejected with a reason, never run."""
    out = call_with_model(llm, box, "Who directed Heat?", max_attempts=1, max_new_tokens=40,
                          fallback=lambda r: rule_tool_call(r, Lexicon(catalog)))
    text, first = out.attempts[0]
    if first.ok:
        parse_call(text)  # it really was a valid call
    else:
        assert first.code in ("no_json", "bad_json", "bad_call", "unknown_tool", "bad_arguments", "unknown_item")
        assert out.fallback and out.result.ok
    assert json.dumps(out.result.result, default=str)


def test_what_a_rule_call_cannot_state_is_reported_not_left_out_silently(catalog):
    """The filter tool has one not_genre and no decade, negated cast, country or language: the
    rule fallback names what it left out, and the tool loop's result carries it."""
    lex = Lexicon(catalog)
    call = rule_tool_call("comedies, nothing from the 90s", lex)
    assert call == {"tool": "filter_by_facts", "arguments": {"genre": "Comedy"}}
    assert call.left_out == ["not from the 1990s"]
    call = rule_tool_call("no horror, no westerns", lex)
    assert call["arguments"] == {"not_genre": "Horror"} and call.left_out == ["no Western films"]
    parse_call(call)  # still a valid call

    class Broken:
        def chat_prompt(self, user, system=None, assistant_prefix=""):
            return user

        def generate(self, prompt, max_new_tokens=60, stop=None):
            return "not json"

    out = call_with_model(Broken(), ToolBox(catalog), "no horror, no westerns", max_attempts=1,
                          fallback=lambda r: rule_tool_call(r, lex))
    assert out.fallback and out.left_out == ["no Western films"]
