"""Grounding generated lists to candidates: parsing, fuzzy matching, and every error counted."""
from __future__ import annotations

import numpy as np

from recnb.ranking.grounding import TitleMatcher, ground, order_scores, parse_list, title_key

CATALOG = {1: "Matrix, The", 2: "Alien", 3: "Aliens", 4: "Godfather, The", 5: "Toy Story", 6: "Heat", 7: "Amélie"}
CANDIDATES = [1, 2, 4, 5, 7]


def test_parse_list_strips_numbering_bullets_and_quotes():
    text = '1. The Matrix (1999)\n2) "Alien"\n\n- **Toy Story**\n* Heat\n#5 Amelie\nB. Up\n(C) Fargo'
    assert parse_list(text) == ["The Matrix (1999)", "Alien", "Toy Story", "Heat", "Amelie", "Up", "Fargo"]
    assert parse_list("Alien; Heat; Toy Story") == ["Alien", "Heat", "Toy Story"]
    assert parse_list("") == [] and parse_list(None) == []


def test_title_key_normalises_articles_years_and_commentary():
    assert title_key("Matrix, The") == title_key("The Matrix (1999)") == "the matrix"
    assert title_key("Heat (1995) - a great heist film") == "heat"
    assert title_key("Amélie") == "amelie"


def test_exact_title_wins_over_a_close_one():
    m = TitleMatcher(CATALOG)
    assert m.best("Aliens (1986)")[0] == 3
    assert m.best("Alien")[0] == 2


def test_ground_counts_every_kind_of_error():
    text = "\n".join([
        "1. Godfathr, The",  # typo: fuzzy match to 4
        "2. The Matrix (1999)",  # article moved, year added: 1
        "3. Heat",  # a real catalog film, not a candidate: outside
        "4. The Matrix",  # again: duplicate
        "5. Space Cowboys From Mars",  # invented: invalid
        "6. Amelie",  # accents folded: 7
    ])
    g = ground(text, CANDIDATES, CATALOG, catalog_titles=CATALOG)
    assert g.order == [4, 1, 7]
    assert [line for line, _ in g.outside] == ["Heat"] and g.outside[0][1] == 6
    assert [(line, i) for line, i in g.duplicates] == [("The Matrix", 1)]
    assert g.invalid == ["Space Cowboys From Mars"]
    assert g.missing == [2, 5]
    assert g.counts() == {"lines": 6, "grounded": 3, "invalid_titles": 1, "outside_candidates": 1, "duplicates": 1,
                          "missing": 2}
    assert g.hallucinated == ["Space Cowboys From Mars", "Heat"]


def test_without_a_catalog_non_candidates_are_invalid():
    g = ground(["Heat", "Alien"], CANDIDATES, CATALOG)
    assert g.invalid == ["Heat"] and g.outside == [] and g.order == [2]


def test_order_scores_ties_missing_items_at_the_bottom():
    s = order_scores([4, 1], CANDIDATES)
    assert s.tolist() == [4.0, 0.0, 5.0, 0.0, 0.0]
    named = s[[0, 2]]
    assert np.all(named > s[[1, 3, 4]].max())  # every named candidate above every unnamed one
    assert order_scores([], CANDIDATES).tolist() == [0.0] * 5  # unparseable output: all tied
