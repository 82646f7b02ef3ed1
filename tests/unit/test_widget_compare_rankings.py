"""CompareRankings without a browser: columns, cross references, errors per column, simulated typing and clicks."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import traitlets

sys.path.insert(0, str(Path(__file__).resolve().parent))  # --import-mode=importlib adds no test folder
from _retrieval_fakes import FakeEncoder  # noqa: E402

from recnb.candidates.compare import request_rankers  # noqa: E402
from recnb.candidates.embeddings import EmbeddingCache  # noqa: E402
from recnb.candidates.lexical import BM25Index  # noqa: E402
from recnb.candidates.retriever import DenseRetriever  # noqa: E402
from recnb.widgets import asset  # noqa: E402
from recnb.widgets.compare_rankings import CompareRankings  # noqa: E402

CATALOG = pd.DataFrame({
    "item_id": [1, 2, 3, 4, 5],
    "title": ["Heat", "Up", "Alien", "Amélie", "Fargo"],
    "year": [1995, 2009, 1979, 2001, 1996],
    "genres": ["Crime|Thriller", "Animation", "Sci-Fi|Horror", "Comedy|Romance", "Crime|Comedy"],
    "director": ["Michael Mann", "Pete Docter", "Ridley Scott", "Jean-Pierre Jeunet", "Joel Coen"],
    "description": ["a heist in LA", "a flying house", "a monster in space", "a shy waitress in Paris", "a kidnapping"],
})


def fixed(order, scores=None):
    def fn(request, k):
        return pd.DataFrame({"item_id": order[:k], "score": (scores or list(range(len(order), 0, -1)))[:k]})
    return fn


def front_end_update(widget, **state):
    """The message a front-end sends after ``model.set(...); model.save_changes()``."""
    widget._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": []}}, "buffers": []})


def test_assets_exist():
    assert "export default" in asset("compare_rankings.js").read_text()
    assert ".recnb-compare-rankings" in asset("compare_rankings.css").read_text()
    assert "recnb-compare-rankings" in str(CompareRankings._css)


def test_submit_fills_columns_with_catalog_facts_and_cross_references():
    w = CompareRankings({"a": fixed([1, 2, 3]), "b": fixed([3, 5, 1])}, CATALOG, k=3)
    assert [c["items"] for c in w.columns] == [[], []]  # nothing until a request
    w.submit("crime films")
    assert w.request == "crime films"
    assert w.ranking("a") == [1, 2, 3] and w.ranking("b") == [3, 5, 1]
    first = w.columns[0]["items"][0]
    assert first["title"] == "Heat" and first["year"] == 1995 and first["rank"] == 1
    assert first["facts"] == {"genres": "Crime, Thriller", "director": "Michael Mann"}
    assert first["elsewhere"] == {"b": 3}  # Heat is #3 in column b
    assert w.columns[0]["items"][1]["elsewhere"] == {"b": None}  # Up is not in b's top-3
    assert w.overlap() == {("a", "b"): 2}
    assert "2 rankings of 'crime films'" in w.status and not w.busy


def test_k_cuts_every_column():
    w = CompareRankings({"a": lambda r, k: pd.DataFrame({"item_id": [1, 2, 3, 4, 5], "score": [5, 4, 3, 2, 1]})},
                        CATALOG, k=2, request="x")
    assert w.ranking("a") == [1, 2]


def test_a_failing_ranker_shows_its_error_and_others_still_run():
    def broken(request, k):
        raise RuntimeError("model not loaded")

    w = CompareRankings({"ok": fixed([1, 2]), "broken": broken}, CATALOG, k=2)
    w.submit("anything")
    assert w.ranking("ok") == [1, 2]
    bad = w.columns[1]
    assert bad["items"] == [] and bad["error"] == "RuntimeError: model not loaded"
    assert w.errors == {"broken": 1} and "failed: broken" in w.status
    assert w.columns[0]["items"][0]["elsewhere"] == {}  # a failed column is not "—" (not in its top-k)


def test_empty_request_is_not_run():
    calls = []
    w = CompareRankings({"a": lambda r, k: calls.append(r) or pd.DataFrame({"item_id": [1], "score": [1.0]})}, CATALOG)
    w.submit("   ")
    assert calls == [] and w.status == "Type a request first."


def test_typing_in_the_front_end_runs_the_rankers():
    seen = []

    def spy(request, k):
        seen.append(request)
        return pd.DataFrame({"item_id": [4, 1], "score": [0.9, 0.1]})

    w = CompareRankings({"spy": spy}, CATALOG)
    front_end_update(w, request="romance in Paris", submitted=1)
    assert seen == ["romance in Paris"] and w.ranking("spy") == [4, 1]
    front_end_update(w, submitted=2)  # the same text again (Rank pressed twice) re-runs
    assert seen == ["romance in Paris"] * 2


def test_click_selects_across_columns_and_accepts_json_ids():
    w = CompareRankings({"a": fixed([1, 2]), "b": fixed([2, 3])}, CATALOG, k=2, request="x")
    front_end_update(w, selected="2")  # JSON round trip may turn 2 into "2"
    assert w.selected == 2
    with pytest.raises(traitlets.TraitError, match="none of the columns"):
        w.selected = 5
    w.rankers["a"], w.rankers["b"] = fixed([4]), fixed([5])
    w.submit("y")
    assert w.selected is None  # the selected item left every column


def test_bad_construction_is_clear():
    with pytest.raises(ValueError, match="at least one ranker"):
        CompareRankings({}, CATALOG)
    with pytest.raises(TypeError, match="not callable"):
        CompareRankings({"a": 3}, CATALOG)
    with pytest.raises(KeyError, match="no column"):
        CompareRankings({"a": fixed([1])}, CATALOG).ranking("z")


def test_state_is_json_ready():
    import json

    w = CompareRankings({"a": lambda r, k: pd.DataFrame({"item_id": np.array([1, 2]), "score": np.float32([1, 0.5])})},
                        CATALOG, request="x")
    json.dumps(w.get_state()["columns"])  # numpy values were turned into plain Python


def test_request_rankers_three_columns(tmp_path):
    retriever = DenseRetriever(CATALOG, cache=EmbeddingCache(FakeEncoder(), root=tmp_path), progress=False)
    bm25 = BM25Index(CATALOG["item_id"], CATALOG["description"])

    class FakeCrossEncoder:  # prefers short descriptions: a rule the test can check
        def predict(self, pairs, **kw):
            return np.array([-len(t) for _, t in pairs], dtype=float)

    fns = request_rankers(retriever, bm25, FakeCrossEncoder(), depth=5, exclude=[3])
    assert list(fns) == ["bi-encoder", "bm25", "cross-encoder (rerank top-5)"]
    w = CompareRankings(fns, CATALOG, k=3, request="a heist")
    assert w.ranking("bm25")[0] == 1  # the only description with "heist"
    reranked = w.ranking("cross-encoder (rerank top-5)")
    lengths = CATALOG.set_index("item_id").loc[reranked, "description"].str.len().tolist()
    assert lengths == sorted(lengths) and 3 not in reranked
    assert all(3 not in w.ranking(c["name"]) for c in w.columns)
    assert "bi-encoder #" in w.columns[2]["items"][0]["why"]


def test_no_facts_asked_means_none_shown_and_a_stale_click_is_refused_back():
    w = CompareRankings({"a": fixed([1, 2, 3])}, CATALOG, k=3, request="heist", facts=[])
    assert all(not it.get("facts") for c in w.columns for it in c["items"])  # facts=[] showed the defaults
    w.rankers = {"a": fixed([4, 5])}
    w.submit("another")
    front_end_update(w, selected=1)  # a card of the previous ranking, clicked while it was replaced
    assert w.selected is None  # refused (the kernel's value goes back to the page), not an uncaught TraitError
    front_end_update(w, selected=4)
    assert w.selected == 4
    js = asset("compare_rankings.js").read_text()
    assert "Type a request first." in js  # an empty box is answered on the page, never left at "Ranking…"
