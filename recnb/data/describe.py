"""Plain-language item descriptions, composed from whatever facts an item has.

Text rankers, encoders and LLM prompts read ``items.description``; every loader fills it
with these functions so that a movie from MovieLens, ml-1m or ReDial reads the same way,
and an item with few facts still gets a (shorter) sentence rather than an empty string.
"""
from __future__ import annotations

import math
import re
from typing import Iterable

from recnb.data.titles import main_and_alternates

# MovieLens genre labels as words in a sentence.
_GENRE_WORDS = {
    "Children": "children's",
    "Children's": "children's",
    "Sci-Fi": "science fiction",
    "Film-Noir": "film noir",
    "IMAX": "IMAX",
}
_NO_GENRES = {"", "(no genres listed)"}


def _blank(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:  # pandas NA / NaT
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return True
    except ImportError:  # pragma: no cover
        pass
    return isinstance(value, str) and not value.strip()


def split_list(value, sep: str = "|") -> list[str]:
    """ "A|B" -> ["A", "B"]; blanks -> []."""
    if _blank(value):
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if not _blank(v)]
    return [v.strip() for v in str(value).split(sep) if v.strip()]


def join_words(words: Iterable[str]) -> str:
    """ ["a"] -> "a"; ["a", "b", "c"] -> "a, b and c"."""
    words = [w for w in words if w]
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _genre_phrase(genres: list[str]) -> str:
    words = [_GENRE_WORDS.get(g, g.lower()) for g in genres if g not in _NO_GENRES]
    return join_words(words)


# Country names that read with "the" ("made in the United States").
_THE_COUNTRY = re.compile(r"^(United |Republic |Democratic |People's |Czech Republic|Dominican Republic|Central African|"
                          r"Soviet Union|Netherlands|Philippines|Bahamas|Gambia|Maldives|Vatican)")


def _country(name: str) -> str:
    return f"the {name}" if _THE_COUNTRY.match(name) else name


def _a(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def describe_movie(
    title: str,
    year=None,
    genres=None,
    director=None,
    cast=None,
    country=None,
    language=None,
    awards=None,
    runtime=None,
    wd_genres=None,
) -> str:
    """One short paragraph about a movie. List arguments are lists or "|"-joined strings.

    >>> describe_movie("Matrix, The", 1999, "Action|Sci-Fi", director="Lana Wachowski|Lilly Wachowski")
    'The Matrix (1999) is an action and science fiction film directed by Lana Wachowski and Lilly Wachowski.'
    """
    main, alts = main_and_alternates(title or "")
    head = main or "An untitled film"
    if not _blank(year):
        head += f" ({int(year)})"
    if alts:
        head += ", also known as " + join_words(alts) + ","
    genre_list = split_list(genres)
    if not [g for g in genre_list if g not in _NO_GENRES]:
        genre_list = split_list(wd_genres)
    phrase = _genre_phrase(genre_list)
    sentence = f"{head} is {_a(phrase)} {phrase} film" if phrase else f"{head} is a film"
    directors = split_list(director)
    if directors:
        sentence += " directed by " + join_words(directors)
    stars = split_list(cast)[:3]
    if stars:
        sentence += (", starring " if directors else " starring ") + join_words(stars)
    parts = [sentence + "."]
    countries, languages = split_list(country), split_list(language)
    if countries:
        parts.append("Made in " + join_words(_country(c) for c in countries) + (f", in {join_words(languages)}." if languages else "."))
    elif languages:
        parts.append(f"In {join_words(languages)}.")
    if not _blank(runtime):
        parts.append(f"Runtime {int(runtime)} minutes.")
    if not _blank(awards):
        parts.append(str(awards).strip())
    return " ".join(parts)


def describe_product(
    title: str,
    store=None,
    main_category=None,
    categories=None,
    features=None,
    description=None,
    price=None,
    average_rating=None,
    rating_number=None,
    max_chars: int = 600,
) -> str:
    """One paragraph about a product (Amazon-style metadata), cut at ``max_chars``."""
    parts = [(title or "An untitled product").strip().rstrip(".") + "."]
    if not _blank(store):
        parts.append(f"By {str(store).strip()}.")
    cats = split_list(categories)
    if cats:
        parts.append("Category: " + " > ".join(cats) + ".")
    elif not _blank(main_category):
        parts.append(f"Category: {main_category}.")
    if not _blank(price):
        parts.append(f"Price: ${float(price):.2f}.")
    if not _blank(average_rating) and not _blank(rating_number):
        parts.append(f"Rated {float(average_rating):.1f}/5 by {int(rating_number)} customers.")
    feats = split_list(features)
    if feats:
        parts.append("Features: " + "; ".join(f.rstrip(".") for f in feats) + ".")
    descr = split_list(description)
    if descr:
        parts.append(" ".join(descr))
    text = " ".join(parts)
    if len(text) > max_chars:
        text = text[: max_chars - 3].rsplit(" ", 1)[0] + "..."
    return text
