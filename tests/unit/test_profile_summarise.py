"""LLM summariser: robust parsing, the evidence check, and one run with the bundled model."""
from __future__ import annotations

import pandas as pd
import pytest

from recnb.profiles.summarise import check_evidence, check_statement, mentions_facet, parse_statement, summarise_history
from recnb.text.profile import Profile, Statement, item_facets

ITEMS = pd.DataFrame({
    "item_id": [1, 2, 3, 4, 5, 6],
    "title": ["Airplane!", "Hot Shots!", "Top Secret!", "Halloween", "The Fog", "Heat"],
    "year": [1980, 1991, 1984, 1978, 1980, 1995],
    "genres": ["Comedy", "Comedy|Action", "Comedy", "Horror", "Horror", "Crime|Thriller"],
    "director": ["Jim Abrahams", "Jim Abrahams", "Jim Abrahams", "John Carpenter", "John Carpenter", "Michael Mann"],
    "cast": ["", "", "", "", "", "Al Pacino|Robert De Niro"],
})
RATED = {1: 5.0, 2: 4.5, 3: 4.0, 4: 1.0, 5: 1.5, 6: 3.0}


@pytest.mark.parametrize("completion, expected", [
    (" that are light-hearted and fun. They are great.", "I like movies that are light-hearted and fun"),
    (" with big explosions\nMovies this person loved: 1. ...", "I like movies with big explosions"),
    ("", None),  # nothing written
    (" [1, 3] movies.", None),  # echoed the citation example
    (" 1. Airplane! 2. Hot Shots!", None),  # echoed the list
    (" " + "very " * 40, None),  # rambling
])
def test_parse_statement(completion, expected):
    assert parse_statement(completion, "I like movies") == expected


def test_facet_mentions():
    facets = item_facets(ITEMS.set_index("item_id").loc[6])
    assert mentions_facet("I like films with Al Pacino", facets)
    assert mentions_facet("I like crime stories", facets)
    assert mentions_facet("I like thrillers", facets)
    assert not mentions_facet("I like musicals", facets)
    assert mentions_facet("I like movies from the 90s", facets)


@pytest.mark.parametrize("statement, flag", [
    (Statement("I like comedies", evidence=(1, 2, 3), source="llm"), None),
    (Statement("I like films directed by Jim Abrahams", evidence=(1, 2), source="llm"), None),
    (Statement("I dislike horror films", polarity="dislike", evidence=(4, 5), source="llm"), None),
    (Statement("I like comedies", evidence=(), source="llm"), "cites no movies"),
    (Statement("I like comedies", evidence=(1, 99), source="llm"), "never rated: [99]"),
    (Statement("I like horror films", evidence=(4, 5), source="llm"), "rated the other way"),
    (Statement("I like westerns with horses", evidence=(1, 2, 3), source="llm"), "only 0 of 3"),
])
def test_check_statement(statement, flag):
    got = check_statement(statement, ITEMS, RATED)
    assert (got is None) if flag is None else (flag in got)


def test_check_evidence_leaves_edited_statements_alone():
    p = Profile([Statement("I like westerns", evidence=(1,), source="llm"), Statement("I like westerns", source="edited")])
    checked = check_evidence(p, ITEMS, list(RATED), list(RATED.values()))
    assert checked.statements[0].flag and checked.statements[1].flag is None
    assert p.statements[0].flag is None  # the input is not changed


def test_summarise_with_the_bundled_model(llm, dataset):
    split = dataset.split(seed=0)
    h = split.history(4)
    profile, report = summarise_history(llm, dataset.items, h.item_id, h.rating, user_id=4, n_likes=1, n_dislikes=1,
                                        per_group=4, max_new_tokens=16)
    assert report.counts["generated"] == len(profile) == report.counts["statements"] == 2
    assert [s.polarity for s in profile] == ["like", "dislike"]
    history = set(h.item_id)
    for s in profile:
        assert s.source in ("llm", "generated") and s.text.startswith(("I like", "I dislike"))
        assert set(s.evidence) <= history  # citations only ever point into the shown group
        assert s.flag is None or isinstance(s.flag, str)
    assert report.counts["flagged"] == sum(1 for s in profile if s.flag)
    assert report.counts["fallback_facts_statement"] == sum(1 for s in profile if s.source == "generated")
    assert len(report.raw) == 2
