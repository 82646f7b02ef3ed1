"""RankedList without a browser: state, normalisation, from_ranking, and a simulated click."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import traitlets

from recnb.ranking.order import rank_frame
from recnb.widgets import KitWidget, RankedList, WidgetAssetsNotFound, asset
from recnb.widgets import _assets

ITEMS = [
    {"item_id": 10, "title": "Heat", "year": 1995, "facts": {"genres": "Crime"}, "score": 2.0, "why": "heist"},
    {"item_id": 20, "title": "Up", "year": 2009, "facts": "Pixar", "score": 1.0},
    {"item_id": 30, "title": "Alien", "year": 1979, "score": 0.5},
]


def front_end_update(widget, **state):
    """Deliver the message a front-end sends after ``model.set(...); model.save_changes()``."""
    widget._handle_msg(
        {"content": {"data": {"method": "update", "state": state, "buffer_paths": []}}, "buffers": []}
    )


# -- assets ------------------------------------------------------------------------------
def test_assets_found_from_checkout():
    js, css = asset("ranked_list.js"), asset("ranked_list.css")
    assert js.is_file() and css.is_file()
    assert "export default" in js.read_text()
    assert RankedList._esm and "recnb-ranked-list" in str(RankedList._css)


def test_list_widgets_share_one_card_module():
    """ranked_list and compare_rankings draw cards with _cards.js, put in front of their own module."""
    from recnb.widgets.compare_rankings import CompareRankings

    shared = asset("_cards.js").read_text()
    assert "export" not in shared  # helpers only: each widget's own module has the one export
    for widget, own in ((RankedList, "ranked_list.js"), (CompareRankings, "compare_rankings.js")):
        assert widget._esm.startswith(shared) and widget._esm.endswith(asset(own).read_text())
        assert widget._esm.count("export default") == 1 and "function itemCard(" not in asset(own).read_text()


def test_list_widgets_share_one_card_stylesheet():
    """The card styles live once in _cards.css, in front of each list widget's own CSS, which only adjusts them."""
    from recnb.widgets.compare_rankings import CompareRankings

    shared = asset("_cards.css").read_text()
    assert ".recnb-card-title" in shared and ".recnb-card.recnb-card-selected" in shared
    for widget, own, prefix in ((RankedList, "ranked_list.css", "recnb-rl"), (CompareRankings, "compare_rankings.css", "recnb-cr")):
        assert widget._css.startswith(shared) and widget._css.endswith(asset(own).read_text())
        assert f"{prefix}-card" not in asset(own).read_text()  # no card styles of its own, only tweaks of the shared ones


def test_missing_asset_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(_assets, "_CANDIDATES", (tmp_path / "pkg", tmp_path / "repo"))
    with pytest.raises(WidgetAssetsNotFound, match="nope.js") as err:
        asset("nope.js")
    assert str(tmp_path / "pkg" / "nope.js") in str(err.value)
    assert str(tmp_path / "repo" / "nope.js") in str(err.value)
    assert isinstance(err.value, FileNotFoundError)


def test_packaged_assets_win_and_kitwidget_reads_files(tmp_path, monkeypatch):
    pkg, repo = tmp_path / "pkg", tmp_path / "repo"
    for folder, marker in ((pkg, "packaged"), (repo, "checkout")):
        folder.mkdir()
        (folder / "demo.js").write_text(f"// {marker}\nexport default {{ render() {{}} }};\n")
    (repo / "demo.css").write_text(".demo {}\n")
    monkeypatch.setattr(_assets, "_CANDIDATES", (pkg, repo))
    assert asset("demo.js") == pkg / "demo.js"

    class Demo(KitWidget):
        _asset_name = "demo"

    widget = Demo()
    assert "packaged" in widget._esm
    assert widget._css == ".demo {}\n"  # css is looked up on its own, falls back to the checkout

    (repo / "demo.css").unlink()

    class NoCss(KitWidget):  # the stylesheet is optional
        _asset_name = "demo"

    assert "_css" not in NoCss.__dict__
    assert "packaged" in NoCss()._esm


# -- state -------------------------------------------------------------------------------
def test_set_values_and_state():
    w = RankedList(ITEMS, caption="Top 3")
    assert w.item_ids == [10, 20, 30]
    assert [i["rank"] for i in w.items] == [1, 2, 3]
    assert w.items[1]["facts"] == "Pixar"
    assert w.items[2]["facts"] == {} and w.items[2]["why"] is None
    assert w.selected is None and w.selected_item is None
    state = w.get_state()
    assert state["caption"] == "Top 3" and state["selected"] is None
    json.dumps(state["items"])  # what goes over the comm is plain JSON
    w.caption = "changed"
    assert w.get_state()["caption"] == "changed"


def test_items_are_normalised_to_json_types():
    w = RankedList(
        [
            {"item_id": np.int64(7), "title": None, "year": np.float64(2001.0), "score": np.float32(0.25),
             "facts": {"genres": ["A", "B", "C", "D"], "director": float("nan"), "cast": "X|Y"},
             "why": float("nan"), "rank": np.int64(4)},
            {"item_id": "tt1", "score": float("inf")},
        ]
    )
    first, second = w.items
    assert first["item_id"] == 7 and type(first["item_id"]) is int
    assert first["title"] == "7" and first["year"] == 2001 and type(first["year"]) is int
    assert first["score"] == pytest.approx(0.25) and type(first["score"]) is float
    assert first["facts"] == {"genres": "A, B, C, …", "cast": "X, Y"}
    assert first["why"] is None and first["rank"] == 4
    assert second["score"] is None and second["rank"] == 2 and second["title"] == "tt1"
    json.dumps(w.items)


def test_items_without_id_are_rejected():
    with pytest.raises(traitlets.TraitError, match="item_id"):
        RankedList([{"title": "no id"}])


def test_selected_is_checked_against_items():
    w = RankedList(ITEMS)
    w.selected = np.int64(20)
    assert w.selected == 20 and type(w.selected) is int
    assert w.selected_item["title"] == "Up"
    with pytest.raises(traitlets.TraitError, match="not an item id"):
        w.selected = 99
    w.selected = "30"  # JSON round trips may turn ids into strings
    assert w.selected == 30
    w.selected = None
    assert w.selected is None


def test_new_items_drop_a_stale_selection():
    w = RankedList(ITEMS, selected=10)
    assert w.selected == 10
    w.items = ITEMS[1:]
    assert w.selected is None
    w.selected = 20
    w.items = ITEMS  # still there: kept
    assert w.selected == 20


def test_front_end_click_updates_selected_and_fires_observer():
    w = RankedList(ITEMS)
    seen = []
    w.observe(lambda change: seen.append((change["old"], change["new"])), names="selected")
    front_end_update(w, selected=20)
    assert w.selected == 20
    assert seen == [(None, 20)]
    front_end_update(w, selected=30)
    assert w.selected == 30 and seen[-1] == (20, 30)


# -- from_ranking ------------------------------------------------------------------------
@pytest.fixture
def catalog():
    return pd.DataFrame(
        {
            "item_id": [1, 2, 3, 4],
            "title": ["Toy Story", "Jumanji", "Heat", "Alien"],
            "year": [1995, 1995, None, 1979],
            "genres": [["Animation", "Comedy"], "Adventure|Fantasy", "Crime", None],
            "director": ["John Lasseter", "Joe Johnston", "Michael Mann", np.nan],
            "description": ["Toys come alive.", "A board game.", "A heist.", "In space."],
        }
    )


def test_from_ranking_uses_ranker_output(catalog):
    ranking = rank_frame([1, 2, 3, 4], np.array([0.1, 0.9, 0.5, 0.2]), k=3, why=["a", "b", None, "d"])
    w = RankedList.from_ranking(ranking, catalog, caption="For you")
    assert w.caption == "For you"
    assert w.item_ids == [2, 3, 4]
    top = w.items[0]
    assert top["title"] == "Jumanji" and top["year"] == 1995 and top["rank"] == 1
    assert top["facts"] == {"genres": "Adventure, Fantasy", "director": "Joe Johnston"}
    assert top["why"] == "b" and top["description"] == "A board game."
    assert w.items[1]["year"] is None and w.items[1]["why"] is None
    assert w.items[2]["facts"] == {}  # nothing known: no empty facts


def test_from_ranking_degrades_gracefully(catalog):
    ranking = pd.DataFrame({"item_id": [3, 99], "score": [1.0, 0.0]})  # no rank, no why
    w = RankedList.from_ranking(ranking, catalog[["item_id", "title"]])
    assert [(i["title"], i["rank"], i["year"], i["facts"], i["why"]) for i in w.items] == [
        ("Heat", 1, None, {}, None),
        ("99", 2, None, {}, None),  # not in the catalog: its id is the title
    ]
    w = RankedList.from_ranking(ranking, None)
    assert [i["title"] for i in w.items] == ["3", "99"]


def test_from_ranking_orders_by_rank_and_picks_facts(catalog):
    ranking = pd.DataFrame({"item_id": [1, 2], "score": [0.2, 0.8], "rank": [2, 1], "why": [None, None]})
    w = RankedList.from_ranking(ranking, catalog, facts=["director", "missing_column"])
    assert w.item_ids == [2, 1]
    assert w.items[0]["facts"] == {"director": "Joe Johnston"}


def test_from_ranking_needs_item_ids(catalog):
    with pytest.raises(ValueError, match="item_id"):
        RankedList.from_ranking(pd.DataFrame({"score": [1.0]}), catalog)
