"""The NL profile model and the deterministic facts-based generator."""
from __future__ import annotations

import pandas as pd
import pytest

from recnb.text.profile import Profile, Statement, profile_from_history

ITEMS = pd.DataFrame(
    {
        "item_id": [1, 2, 3, 4, 5, 6, 7],
        "title": list("ABCDEFG"),
        "year": [1994, 1995, 1996, 1981, 1982, 1983, 2001],
        "genres": ["Comedy", "Comedy|Romance", "Comedy", "Horror", "Horror", "Horror|Thriller", "Drama"],
        "director": ["Ann", "Ann", "Ann", "Bob", "Bob", "Bob", "Cy"],
        "cast": ["", "", "", "", "", "", ""],
    }
)


def test_likes_and_dislikes_come_from_facts_with_evidence():
    p = profile_from_history(ITEMS, [1, 2, 3, 4, 5, 6, 7], [5, 4.5, 4, 1, 2, 1.5, 3])
    texts = {s.text: s for s in p.statements}
    assert "I like Comedy films" in texts and texts["I like Comedy films"].evidence == (1, 2, 3)
    assert "I dislike Horror films" in texts and texts["I dislike Horror films"].polarity == "dislike"
    assert "I like films directed by Ann" in texts and "I dislike films directed by Bob" in texts
    assert "I like films from the 1990s" in texts and "I dislike films from the 1980s" in texts
    assert not any("Drama" in t or "Romance" in t for t in texts)  # below min_support
    assert all(s.source == "generated" and 0 < s.weight <= 1 for s in p.statements)
    assert p.likes and p.dislikes and p.statements.index(p.likes[-1]) < p.statements.index(p.dislikes[0])


def test_text_and_round_trip():
    p = Profile([Statement("I like heists"), Statement("I dislike horror.", polarity="dislike", weight=2)], user_id=3)
    assert p.to_text() == "I like heists. I dislike horror."
    q = Profile.from_dict(p.to_dict())
    assert q.to_dict() == p.to_dict() and q.dislikes[0].weight == 2.0


def test_bad_statements_and_empty_history():
    with pytest.raises(ValueError, match="polarity"):
        Statement("x", polarity="love")
    assert profile_from_history(ITEMS, [], []).is_empty()
    with pytest.raises(ValueError, match="differ in length"):
        profile_from_history(ITEMS, [1, 2], [5])
