"""Fact filters (year range, genres, exclude) and DenseRetriever queries, checked against brute force."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # --import-mode=importlib adds no test folder
from _retrieval_fakes import FakeEncoder  # noqa: E402

from recnb.candidates.embeddings import EmbeddingCache  # noqa: E402
from recnb.candidates.filters import FactFilter, make_filter  # noqa: E402
from recnb.candidates.retriever import DenseRetriever  # noqa: E402
from recnb.scores.base import Query  # noqa: E402
from recnb.text.profile import Profile, Statement  # noqa: E402

SMALL = pd.DataFrame({
    "item_id": [1, 2, 3, 4, 5, 6],
    "title": ["A", "B", "C", "D", "E", "F"],
    "year": [1979, 1990, 1999, 2000, None, 1995],
    "genres": ["Comedy|Romance", "Horror", "comedy", "Drama|Comedy|Romance", "Comedy", ""],
    "description": [f"text {i}" for i in range(6)],
})


def ids(f: FactFilter, items=SMALL):
    return items["item_id"].to_numpy()[f.mask(items)].tolist()


def test_year_range_is_inclusive_and_drops_unknown_years():
    assert ids(FactFilter(years=(1990, 1999))) == [2, 3, 6]
    assert ids(FactFilter(years=(None, 1990))) == [1, 2]
    assert ids(FactFilter(years=(1999, None))) == [3, 4]
    assert 5 not in ids(FactFilter(years=(None, None)))  # a year range asks for a known year
    assert ids(FactFilter()) == [1, 2, 3, 4, 5, 6]


def test_genres_any_all_case_insensitive():
    assert ids(FactFilter(genres=("comedy",))) == [1, 3, 4, 5]
    assert ids(FactFilter(genres=("Horror", "Drama"))) == [2, 4]
    assert ids(FactFilter(genres=("Comedy", "Romance"), genre_mode="all")) == [1, 4]
    assert ids(FactFilter(genres="Horror")) == [2]  # one string is one genre, not letters


def test_exclude_and_combination():
    assert ids(FactFilter(exclude={1, 4, 999})) == [2, 3, 5, 6]
    assert ids(FactFilter(years=(1980, 2005), genres=("Comedy",), exclude={3})) == [4]


def test_bad_filters_are_clear_errors():
    with pytest.raises(ValueError, match="first year is after the last"):
        FactFilter(years=(2000, 1990))
    with pytest.raises(ValueError, match=r"unknown genre.*'comdy'.*closest: comedy"):
        FactFilter(genres=("Comdy",)).mask(SMALL)
    with pytest.raises(ValueError, match="genre_mode"):
        FactFilter(genre_mode="some")
    with pytest.raises(TypeError, match="FactFilter"):
        make_filter({"years": (1, 2)})


@pytest.mark.parametrize("years", [1995, "1990-1999", ("1990", "1999"), (1990,), (1990, 1995, 1999), (1990.0, float("nan")),
                                   (True, 1999), ({1990}, None)])
def test_bad_year_ranges_are_one_clear_error(years):
    with pytest.raises(ValueError, match=r"years must be \(first, last\)"):
        FactFilter(years=years)
    with pytest.raises(ValueError, match=r"years must be \(first, last\)"):
        make_filter(years=years)


def test_year_ranges_of_numbers_and_open_ends_pass():
    assert ids(FactFilter(years=[1990, np.int64(1999)])) == [2, 3, 6]  # a list and numpy ints are fine
    assert FactFilter(years=np.array([1990, 1999])).years == (1990, 1999)
    assert ids(FactFilter(years=(1989.5, None))) == [2, 3, 4, 6]


def test_make_filter_merges_keywords_into_a_filter():
    base = FactFilter(years=(1990, 2000), genres=("Comedy",), exclude={1})
    f = make_filter(base, genres=["Romance"], exclude=[2])
    assert f.years == (1990, 2000) and f.genres == ("Comedy", "Romance") and f.exclude == {1, 2}


# -- the retriever over a catalog, against brute force ----------------------------------------------
@pytest.fixture(scope="module")
def catalog():
    rng = np.random.default_rng(0)
    genres = ["Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Western"]
    n = 900
    return pd.DataFrame({
        "item_id": np.arange(100, 100 + 3 * n, 3),
        "title": [f"Film {i}" for i in range(n)],
        "year": rng.choice([*range(1950, 2020)] + [None], size=n),
        "genres": ["|".join(rng.choice(genres, size=rng.integers(1, 3), replace=False)) for _ in range(n)],
        "description": [f"film number {i} with words {rng.integers(0, 50)}" for i in range(n)],
    })


@pytest.fixture(scope="module")
def retriever(catalog, tmp_path_factory):
    cache = EmbeddingCache(FakeEncoder(dim=32), root=tmp_path_factory.mktemp("emb"))
    return DenseRetriever(catalog, cache=cache, progress=False)


FILTERS = [
    dict(),
    dict(years=(1990, 1999)),
    dict(years=(None, 1955)),
    dict(genres=["Western"]),
    dict(genres=["Comedy", "Romance"], genre_mode="all"),
    dict(years=(1980, 2010), genres=["Horror", "Sci-Fi"]),
    dict(years=(2015, 2019), genres=["Western"], genre_mode="all"),  # very few eligible
    dict(years=(2019, 2019), genres=["Comedy", "Horror"], genre_mode="all"),  # maybe none
]


@pytest.mark.parametrize("kw", FILTERS, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "none")
def test_filtered_search_equals_brute_force(retriever, catalog, kw):
    rng = np.random.default_rng(7)
    seen = rng.choice(catalog["item_id"], size=60, replace=False).tolist()
    eligible = set(FactFilter(**kw, exclude=seen).allowed_ids(catalog).tolist())
    for text in ["a funny heist movie", "space opera", "quiet drama about a family"]:
        vec = retriever.encode_query(text)
        got = retriever.search(text, k=10, exclude=seen, **kw)
        want = retriever.brute_force(vec, k=10, exclude=seen, **kw)
        assert len(got) == min(10, len(eligible))
        assert set(got["item_id"]) <= eligible
        assert list(got["item_id"]) == list(want["item_id"])
        np.testing.assert_allclose(got["score"], want["score"], rtol=1e-5, atol=1e-6)
        assert list(got["rank"]) == list(range(1, len(got) + 1))


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_retriever_still_returns_exactly_k(catalog, tmp_path, kind):
    cache = EmbeddingCache(FakeEncoder(dim=32), root=tmp_path)
    r = DenseRetriever(catalog, cache=cache, kind=kind, progress=False)
    r.index.exact_below = 0  # make the filtered search go through FAISS's selector
    for kw in FILTERS:
        eligible = FactFilter(**kw).allowed_ids(catalog)
        got = r.search("a funny heist movie", k=10, **kw)
        assert len(got) == min(10, len(eligible)) and set(got["item_id"]) <= set(eligible.tolist())


def test_query_kinds(retriever, catalog):
    profile = Profile([Statement("I like westerns", source="edited")])
    by_profile = retriever.search(profile, k=5)
    by_text = retriever.search("I like westerns.", k=5)  # Profile.to_text() adds the full stop
    assert list(by_profile["item_id"]) == list(by_text["item_id"])
    by_query = retriever.search(Query(profile=profile, request="something short"), k=5)
    assert list(by_query["item_id"]) == list(retriever.search("something short\nI like westerns.", k=5)["item_id"])
    with pytest.raises(ValueError, match="empty"):
        retriever.search(Query(), k=5)
    with pytest.raises(TypeError, match="a query is"):
        retriever.search(3.5, k=5)


def test_more_like_this_leaves_the_item_out_and_filters(retriever, catalog):
    item = int(catalog["item_id"].iloc[10])
    got = retriever.more_like_this(item, k=10, years=(1960, 2000))
    assert item not in set(got["item_id"]) and len(got) == 10
    vec = retriever.index.vectors_of([item])[0]
    want = retriever.brute_force(vec, k=10, years=(1960, 2000), exclude=[item])
    assert list(got["item_id"]) == list(want["item_id"])
    with pytest.raises(KeyError):
        retriever.more_like_this(-1)


def test_missing_text_column_is_clear(tmp_path):
    with pytest.raises(ValueError, match="'description' column"):
        DenseRetriever(SMALL.drop(columns="description"), cache=EmbeddingCache(FakeEncoder(), root=tmp_path))
