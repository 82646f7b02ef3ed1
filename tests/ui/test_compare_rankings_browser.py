"""CompareRankings in a real JupyterLab: type a request, three columns come back; a click selects across columns."""
from __future__ import annotations

import _lab

# Three stand-in rankers whose answer depends on the typed words, so the test can tell that the
# text typed in the browser reached them (the real models are exercised by notebook 02's run).
SETUP = """\
import pandas as pd
from recnb.widgets.compare_rankings import CompareRankings
catalog = pd.DataFrame({"item_id": [101, 102, 103, 104, 105],
                        "title": ["Heat", "Up", "Alien", "Amélie", "Fargo"],
                        "year": [1995, 2009, 1979, 2001, 1996],
                        "genres": ["Crime|Thriller", "Animation", "Sci-Fi|Horror", "Comedy|Romance", "Crime|Comedy"]})
seen = []
def words(request, k):
    seen.append(request)
    n = len(request.split())
    return pd.DataFrame({"item_id": [101, 102, 103, 104, 105][:n], "score": [5.0, 4.0, 3.0, 2.0, 1.0][:n]})
def reverse(request, k):
    return pd.DataFrame({"item_id": [105, 104, 103, 102, 101][:k], "score": [1.0, 0.8, 0.6, 0.4, 0.2][:k]})
def broken(request, k):
    raise RuntimeError("this ranker always fails")
w = CompareRankings({"words": words, "reverse": reverse, "broken": broken}, catalog, k=3)
w
"""


def test_type_a_request_and_compare(page, lab, scratch_dir):
    out = _lab.run_notebook(page, lab, scratch_dir, "compare.ipynb", [SETUP, "print('ready', len(w.columns))"])
    widget = out.locator(".recnb-compare-rankings")
    widget.wait_for(timeout=60_000)
    assert widget.locator(".recnb-cr-colname").all_inner_texts() == ["words", "reverse", "broken"]
    assert widget.locator(".recnb-cr-card").count() == 0

    # Type and press Enter: the kernel runs the rankers and the columns fill.
    box = widget.locator("input.recnb-cr-input")
    box.fill("a heist")
    box.press("Enter")
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-OutputArea .recnb-cr-column[data-name=\"words\"] .recnb-cr-card').length === 2",
        timeout=90_000,
    )
    words = widget.locator('.recnb-cr-column[data-name="words"] .recnb-cr-title').all_inner_texts()
    assert words == ["Heat", "Up"]  # two words typed -> two items
    reverse = widget.locator('.recnb-cr-column[data-name="reverse"] .recnb-cr-title').all_inner_texts()
    assert reverse == ["Fargo", "Amélie", "Alien"]
    assert "this ranker always fails" in widget.locator('.recnb-cr-column[data-name="broken"] .recnb-cr-error').inner_text()
    heat = widget.locator('.recnb-cr-column[data-name="words"] .recnb-cr-card').first
    assert "reverse: —" in heat.inner_text() and "broken" not in heat.inner_text()
    assert "Crime, Thriller" in heat.inner_text()
    assert "failed: broken" in widget.locator(".recnb-cr-status").inner_text()
    assert _lab.run_code(page, "print(seen)").strip() == "['a heist']"

    # The Rank button with new text: runs again.
    box.fill("something a little longer")
    widget.locator("button.recnb-cr-submit").click()
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-OutputArea .recnb-cr-column[data-name=\"words\"] .recnb-cr-card').length === 3",
        timeout=90_000,
    )
    assert _lab.run_code(page, "print(w.request, w.ranking('words'))").strip() == "something a little longer [101, 102, 103]"

    # Click Alien in one column: it is selected in both columns that show it, and in the kernel.
    widget.locator('.recnb-cr-column[data-name="reverse"] .recnb-cr-card[data-item-id="103"]').click()
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-OutputArea .recnb-cr-card.recnb-cr-selected[data-item-id=\"103\"]').length === 2",
        timeout=90_000,
    )
    assert _lab.run_code(page, "print(repr(w.selected))").strip() == "103"
    # The shared card stylesheet (_cards.css) and this widget's narrower tweak both reached the page.
    picked = widget.locator(".recnb-cr-card.recnb-cr-selected").first
    assert "inset" in picked.evaluate("(n) => getComputedStyle(n).boxShadow")
    track, rem = picked.locator(".recnb-cr-track"), page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert track.evaluate("(n) => parseFloat(getComputedStyle(n).maxWidth)") == 10 * rem
