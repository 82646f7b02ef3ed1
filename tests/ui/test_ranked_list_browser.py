"""RankedList in a real JupyterLab: cards render, and a click round-trips to the kernel."""
from __future__ import annotations

import _lab

ITEMS = [
    {"item_id": 101, "title": "Heat", "year": 1995, "facts": {"genres": "Crime|Thriller", "director": "Michael Mann"},
     "score": 3.0, "why": "You liked heist films"},
    {"item_id": 102, "title": "Up", "year": 2009, "facts": {"genres": ["Animation", "Adventure"]}, "score": 2.5},
    {"item_id": 103, "title": "Alien", "year": 1979, "facts": "Ridley Scott", "score": 1.0},
    {"item_id": 104, "title": "Amélie", "year": 2001, "score": 0.5, "why": "Whimsical, like Up"},
    {"item_id": 105, "title": "Fargo", "year": 1996, "score": -1.0},
]

SETUP = f"""\
from recnb.widgets import RankedList
clicks = []
w = RankedList({ITEMS!r}, caption="UI test list")
w.observe(lambda change: clicks.append(change["new"]), names="selected")
w
"""


def test_cards_render_and_click_reaches_kernel(page, lab, scratch_dir):
    out = _lab.run_notebook(page, lab, scratch_dir, "ranked_list.ipynb", [SETUP, "print('ready', len(w.items))"])
    cards = out.locator(".recnb-ranked-list .recnb-rl-card")
    cards.first.wait_for(timeout=60_000)
    assert cards.count() == len(ITEMS)
    assert out.locator(".recnb-rl-caption").inner_text() == "UI test list"
    titles = out.locator(".recnb-rl-title").all_inner_texts()
    assert titles == [i["title"] for i in ITEMS]
    assert out.locator(".recnb-rl-rank").all_inner_texts() == ["1", "2", "3", "4", "5"]
    assert "genres: Crime, Thriller · director: Michael Mann" in cards.nth(0).inner_text()
    assert out.locator(".recnb-rl-why").all_inner_texts() == ["You liked heist films", "Whimsical, like Up"]

    # Score bars: one per card, widths relative to the list's min/max (best widest).
    bars = out.locator(".recnb-rl-bar")
    assert bars.count() == len(ITEMS)
    widths = [b.evaluate("(n) => n.getBoundingClientRect().width") for b in bars.all()]
    assert widths == sorted(widths, reverse=True) and widths[0] > widths[-1] > 0
    percent = [b.evaluate("(n) => parseFloat(n.style.width)") for b in bars.all()]
    assert percent[0] == 100 and percent[-1] == 4  # max score: full track; min: a sliver
    assert "ready 5" in out.locator('[data-mime-type="application/vnd.jupyter.stdout"]').all_inner_texts()[-1]

    # Click a card: the front-end sets `selected`, the kernel sees it, the observer fires.
    cards.nth(2).click()
    page.wait_for_function(
        "() => document.querySelector('.jp-OutputArea .recnb-rl-card[data-item-id=\"103\"]')"
        ".classList.contains('recnb-rl-selected')"
    )
    assert _lab.run_code(page, "print(repr(w.selected), clicks)").strip() == "103 [103]"

    # And back: Python sets `selected`, the view re-renders that card as selected.
    _lab.run_code(page, "w.selected = 105")
    page.wait_for_function(
        "() => document.querySelector('.jp-OutputArea .recnb-rl-card[data-item-id=\"105\"]')"
        ".getAttribute('aria-selected') === 'true'"
    )
    assert out.locator(".recnb-rl-card.recnb-rl-selected").count() == 1
    # The selected look comes from the shared card stylesheet (_cards.css).
    assert "inset" in out.locator(".recnb-rl-card.recnb-rl-selected").evaluate("(n) => getComputedStyle(n).boxShadow")
    assert _lab.run_code(page, "print(clicks)").strip() == "[103, 105]"
