"""Loaders for user-downloaded sets, on the format fixtures, and every bad-input case.

Fixtures are copied to a temp folder first: loaders write a manifest beside the data.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import shutil

import pandas as pd
import pytest

import recnb
from recnb.data import (
    ChecksumError,
    CorruptFileError,
    DatasetError,
    EncodingError,
    MissingFileError,
    SchemaError,
    UnknownDatasetError,
    available_datasets,
)
from recnb.data.checksums import MANIFEST_NAME

STANDARD_ITEMS = ["item_id", "title", "year", "genres", "description"]
STANDARD_RATINGS = ["user_id", "item_id", "rating", "timestamp"]


@pytest.fixture
def fx(tmp_path, repo_root):
    """fx("ml-1m") -> a fresh copy of tests/fixtures/ml-1m in a temp folder."""
    def copy(name):
        dst = tmp_path / name
        shutil.copytree(repo_root / "tests" / "fixtures" / name, dst)
        return dst
    return copy


def assert_standard(ds):
    assert list(ds.items.columns[:5]) == STANDARD_ITEMS
    assert list(ds.ratings.columns[:4]) == STANDARD_RATINGS
    assert ds.ratings["rating"].dtype == "float64" and ds.ratings["timestamp"].dtype == "int64"
    assert str(ds.items["year"].dtype) == "Int64"
    assert ds.items["item_id"].is_unique
    assert ds.ratings["item_id"].isin(ds.items["item_id"]).all()
    assert (ds.items["description"].str.len() > 10).all() and ds.items["title"].notna().all()


# --------------------------------------------------------------------------- registry
def test_all_names_are_registered():
    assert set(available_datasets()) >= {"movielens-small", "ml-1m", "ml-latest", "ml-32m",
                                         "amazon-reviews-2023", "redial"}


def test_unknown_name_lists_known_ones():
    with pytest.raises(UnknownDatasetError, match="ml-1m"):
        recnb.load_dataset("ml-999")


def test_downloaded_set_without_path_says_where_to_get_it(monkeypatch):
    monkeypatch.delenv("RECNB_DATA_DIR", raising=False)
    with pytest.raises(MissingFileError) as err:
        recnb.load_dataset("ml-1m")
    assert "files.grouplens.org/datasets/movielens/ml-1m.zip" in str(err.value)


def test_recnb_data_dir_is_searched(fx, monkeypatch):
    folder = fx("ml-1m")
    monkeypatch.setenv("RECNB_DATA_DIR", str(folder.parent))
    assert len(recnb.load_dataset("ml-1m").ratings) == 12


# --------------------------------------------------------------------------- ml-1m
def test_ml_1m_folder(fx):
    ds = recnb.load_dataset("ml-1m", fx("ml-1m"))
    assert_standard(ds)
    assert (ds.n_items, ds.n_users, len(ds.ratings)) == (7, 4, 12)
    item = ds.item(2)
    assert item["title"] == "Café Solitaire" and item["year"] == 1996  # latin-1 decoded
    assert ds.item(3)["title"] == "Night Train to Zürich"
    assert ds.item(4)["description"].startswith("The Last Orchard (1995) is a drama film")
    assert "also known as Mrs. Moon" in ds.item(6)["description"]
    assert list(ds.users.columns) == ["user_id", "gender", "age", "occupation", "zip_code"]
    assert ds.users["zip_code"].tolist()[1] == "02139"  # zip codes stay strings
    assert ds.ratings["rating"].tolist()[:2] == [5.0, 4.0]


def test_ml_1m_zip_reads_in_place_and_checks_its_md5(fx):
    folder = recnb.load_dataset("ml-1m", fx("ml-1m"))
    zdir = fx("ml-1m-zip")
    for path in (zdir / "ml-1m.zip", zdir):  # the zip itself or the folder holding it
        ds = recnb.load_dataset("ml-1m", path)
        pd.testing.assert_frame_equal(ds.items, folder.items)
        pd.testing.assert_frame_equal(ds.ratings, folder.ratings)
    md5 = (zdir / "ml-1m.zip.md5").read_text().split("= ")[1].strip()
    recnb.load_dataset("ml-1m", zdir / "ml-1m.zip", checksums={"ml-1m.zip": md5}, manifest=False)
    recnb.load_dataset("ml-1m", zdir / "ml-1m.zip", checksums=zdir / "ml-1m.zip.md5", manifest=False)
    # The .md5 that GroupLens publishes beside the zip is checked without being asked.
    (zdir / "ml-1m.zip.md5").write_text("MD5 (ml-1m.zip) = " + "0" * 32 + "\n")
    with pytest.raises(ChecksumError, match=r"ml-1m\.zip: md5 checksum mismatch"):
        recnb.load_dataset("ml-1m", zdir / "ml-1m.zip", manifest=False)


def test_ml_1m_resaved_as_utf8_still_reads(fx):
    folder = fx("ml-1m")
    text = (folder / "movies.dat").read_bytes().decode("latin-1")
    (folder / "movies.dat").write_bytes(text.encode("utf-8"))
    assert recnb.load_dataset("ml-1m", folder, manifest=False).item(2)["title"] == "Café Solitaire"


def test_ml_1m_bad_encoding(fx):
    folder = fx("ml-1m")
    text = (folder / "movies.dat").read_bytes().decode("latin-1")
    (folder / "movies.dat").write_bytes(text.encode("utf-16"))
    with pytest.raises(EncodingError) as err:
        recnb.load_dataset("ml-1m", folder)
    assert "movies.dat" in str(err.value) and "UTF-16" in str(err.value)


def test_ml_1m_missing_file(fx):
    folder = fx("ml-1m")
    (folder / "ratings.dat").unlink()
    with pytest.raises(MissingFileError) as err:
        recnb.load_dataset("ml-1m", folder)
    assert "ratings.dat" in str(err.value) and "ml-1m.zip" in err.value.fix


def test_ml_1m_missing_field(fx):
    folder = fx("ml-1m")
    lines = (folder / "ratings.dat").read_text(encoding="latin-1").splitlines()
    lines[2] = lines[2].rsplit("::", 1)[0]  # drop the timestamp of line 3
    (folder / "ratings.dat").write_text("\n".join(lines) + "\n", encoding="latin-1")
    with pytest.raises(SchemaError, match=r"ratings.dat line 3 has 3 field\(s\), expected 4"):
        recnb.load_dataset("ml-1m", folder)


def test_wrong_checksum_for_a_folder_file(fx):
    folder = fx("ml-1m")
    good = hashlib.sha256((folder / "ratings.dat").read_bytes()).hexdigest()
    recnb.load_dataset("ml-1m", folder, checksums={"ratings.dat": good}, manifest=False)
    with pytest.raises(ChecksumError) as err:
        recnb.load_dataset("ml-1m", folder, checksums={"ratings.dat": "f" * 64}, manifest=False)
    assert "ratings.dat: sha256 checksum mismatch" in str(err.value) and err.value.path.endswith("ratings.dat")
    with pytest.raises(MissingFileError, match="not among the files read"):
        recnb.load_dataset("ml-1m", folder, checksums={"genome.csv": good}, manifest=False)
    with pytest.raises(SchemaError, match="not a hex"):
        recnb.load_dataset("ml-1m", folder, checksums={"ratings.dat": "not-a-digest"}, manifest=False)


# --------------------------------------------------------------------------- manifest
def test_manifest_is_written_on_first_load_and_catches_later_changes(fx):
    folder = fx("ml-latest")
    recnb.load_dataset("ml-latest", folder)
    manifest = json.loads((folder / MANIFEST_NAME).read_text())["files"]
    assert set(manifest) == {"ratings.csv", "movies.csv", "tags.csv", "links.csv"}
    assert manifest["ratings.csv"]["sha256"] == hashlib.sha256((folder / "ratings.csv").read_bytes()).hexdigest()
    recnb.load_dataset("ml-latest", folder)  # unchanged: loads again
    with open(folder / "ratings.csv", "a") as fh:
        fh.write("3,105,1.0,1439472999\n")
    with pytest.raises(ChecksumError) as err:
        recnb.load_dataset("ml-latest", folder)
    assert "ratings.csv changed since it was first loaded" in str(err.value)
    assert MANIFEST_NAME in err.value.fix
    (folder / MANIFEST_NAME).unlink()  # the documented way to accept a deliberate change
    assert len(recnb.load_dataset("ml-latest", folder).ratings) == 11


def test_manifest_false_writes_nothing(fx):
    folder = fx("ml-latest")
    recnb.load_dataset("ml-latest", folder, manifest=False)
    assert not (folder / MANIFEST_NAME).exists()


def test_a_failed_load_records_no_manifest(fx):
    folder = fx("ml-latest")
    (folder / "movies.csv").write_text("movieId,title\n101,Harbour Lights (1994)\n")
    with pytest.raises(SchemaError):
        recnb.load_dataset("ml-latest", folder)
    assert not (folder / MANIFEST_NAME).exists()


# --------------------------------------------------------------------------- ml-latest / ml-32m
def test_ml_latest_csv(fx):
    ds = recnb.load_dataset("ml-latest", fx("ml-latest"))
    assert_standard(ds)
    assert (ds.n_items, ds.n_users, len(ds.ratings)) == (6, 3, 10)
    assert ds.item(102)["title"] == "Lighthouse Keeper's Daughter, The"  # quoted, with a comma
    assert ds.item(104)["title"] == "Heist, Interrupted" and ds.item(104)["year"] == 2011
    assert ds.item(105)["genres"] == ""  # "(no genres listed)"
    assert ds.item(102)["imdb_id"] == "tt0331002" and pd.isna(ds.item(103)["tmdb_id"])
    assert "tagged it: heist, twist ending" in ds.item(104)["description"]  # "Heist" counted with "heist"
    assert list(ds.tags.columns) == ["user_id", "item_id", "tag", "timestamp"] and len(ds.tags) == 6
    assert ds.ratings["rating"].min() == 0.5


def test_ml_32m_reads_the_same_layout_and_nrows(fx):
    ds = recnb.load_dataset("ml-32m", fx("ml-latest"), nrows=4)
    assert ds.name == "ml-32m" and len(ds.ratings) == 4 and ds.n_users == 1
    assert ds.n_items == 6  # the whole catalogue, even when ratings are cut


def test_ml_latest_missing_column(fx):
    folder = fx("ml-latest")
    (folder / "movies.csv").write_text("movieId,title\n101,Harbour Lights (1994)\n")
    with pytest.raises(SchemaError) as err:
        recnb.load_dataset("ml-latest", folder)
    assert "movies.csv lacks column(s) genres" in str(err.value)
    assert "found: movieId, title" in str(err.value)


def test_ml_latest_missing_rating_column_in_big_file(fx):
    folder = fx("ml-latest")
    (folder / "ratings.csv").write_text("userId,movieId,stars,timestamp\n1,101,4.0,1217897793\n")
    with pytest.raises(SchemaError, match=r"ratings.csv lacks column\(s\) rating"):
        recnb.load_dataset("ml-latest", folder)


def test_ml_latest_bad_encoding(fx):
    folder = fx("ml-latest")
    text = (folder / "movies.csv").read_text(encoding="utf-8")
    (folder / "movies.csv").write_bytes(text.encode("latin-1"))  # "Amélie" as a lone 0xe9 byte
    with pytest.raises(EncodingError) as err:
        recnb.load_dataset("ml-latest", folder)
    assert "movies.csv is not valid utf-8" in str(err.value) and "0xe9" in str(err.value)
    assert "line 4" in str(err.value)


def test_ml_latest_bad_value(fx):
    folder = fx("ml-latest")
    with open(folder / "ratings.csv", "a") as fh:
        fh.write("3,105,four,1439472999\n")
    with pytest.raises(SchemaError, match="ratings.csv cannot be parsed"):
        recnb.load_dataset("ml-latest", folder)


# --------------------------------------------------------------------------- Amazon Reviews 2023
def test_amazon_reviews_2023(fx):
    ds = recnb.load_dataset("amazon-reviews-2023", fx("amazon-reviews-2023"))
    assert_standard(ds)
    assert ds.info["category"] == "All_Beauty"
    assert len(ds.reviews) == 8 and {"title", "text", "asin", "helpful_vote", "verified_purchase"} <= set(
        ds.reviews.columns)
    # One rating per (user, product): the latest review wins.
    assert len(ds.ratings) == 7 and not ds.ratings.duplicated(["user_id", "item_id"]).any()
    maya = ds.ratings[(ds.ratings["user_id"] == "AEXAMPLEUSERMAYA01") & (ds.ratings["item_id"] == "B0RECNB020")]
    assert maya["rating"].tolist() == [5.0] and maya["timestamp"].tolist() == [1650000000]
    assert ds.ratings["timestamp"].max() < 10**10  # milliseconds converted to seconds
    # Variants (asin) roll up to the parent product.
    assert set(ds.reviews.loc[ds.reviews["item_id"] == "B0RECNB010", "asin"]) == {"B0RECNB011", "B0RECNB012"}
    cream = ds.item("B0RECNB010")
    assert cream["title"] == "Lavender Field Body Cream, 250 ml" and cream["store"] == "Meadow & Stone"
    assert "Price: $14.99" in cream["description"] and "Shea butter" in cream["description"]
    assert json.loads(cream["details"])["Scent"] == "Lavender"
    assert pd.isna(ds.item("B0RECNB020")["price"]) and ds.item("B0RECNB040")["price"] == 8.5
    assert ds.item("B0RECNB020")["genres"] == "Beauty & Personal Care|Hair Care|Shampoo & Conditioner"
    orphan = ds.item("B0RECNB099")  # reviewed, but not in the metadata file
    assert not orphan["has_meta"] and "no entry in meta_All_Beauty.jsonl" in orphan["description"]
    assert ds.item("B0RECNB050")["has_meta"]  # in the catalogue although never reviewed
    assert "Crème fraîche for your face" in set(ds.reviews["title"])  # UTF-8 text intact


def test_amazon_gzip_gives_the_same_dataset(fx):
    plain = recnb.load_dataset("amazon-reviews-2023", fx("amazon-reviews-2023"))
    gz = recnb.load_dataset("amazon-reviews-2023", fx("amazon-reviews-2023-gz"), category="All_Beauty")
    pd.testing.assert_frame_equal(plain.ratings, gz.ratings)
    pd.testing.assert_frame_equal(plain.reviews, gz.reviews)
    pd.testing.assert_frame_equal(plain.items.drop(columns="description"), gz.items.drop(columns="description"))


def test_amazon_review_file_path_and_nrows(fx):
    folder = fx("amazon-reviews-2023")
    ds = recnb.load_dataset("amazon-reviews-2023", folder / "All_Beauty.jsonl", nrows=3)
    assert len(ds.reviews) == 3 and ds.n_items == 5  # catalogue from meta, whatever nrows is


def test_amazon_several_categories_need_a_name(fx):
    folder = fx("amazon-reviews-2023")
    shutil.copy(folder / "All_Beauty.jsonl", folder / "Toys_and_Games.jsonl")
    with pytest.raises(DatasetError, match="category="):
        recnb.load_dataset("amazon-reviews-2023", folder)
    with pytest.raises(MissingFileError, match="meta_Toys_and_Games.jsonl"):
        recnb.load_dataset("amazon-reviews-2023", folder, category="Toys_and_Games")


def test_amazon_missing_meta_file(fx):
    folder = fx("amazon-reviews-2023")
    (folder / "meta_All_Beauty.jsonl").unlink()
    with pytest.raises(MissingFileError) as err:
        recnb.load_dataset("amazon-reviews-2023", folder)
    assert "meta_All_Beauty.jsonl" in str(err.value) and "amazon-reviews-2023.github.io" in str(err.value)


def test_amazon_missing_key(fx):
    folder = fx("amazon-reviews-2023")
    lines = (folder / "All_Beauty.jsonl").read_text(encoding="utf-8").splitlines()
    rec = json.loads(lines[4])
    del rec["user_id"]
    lines[4] = json.dumps(rec)
    (folder / "All_Beauty.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SchemaError, match="All_Beauty.jsonl line 5 lacks key"):
        recnb.load_dataset("amazon-reviews-2023", folder)


def test_amazon_bad_json_and_bad_encoding(fx):
    folder = fx("amazon-reviews-2023")
    path = folder / "meta_All_Beauty.jsonl"
    good = path.read_bytes()
    path.write_bytes(good + b'{"parent_asin": "B0RECNB060", "title": \n')
    with pytest.raises(SchemaError, match="meta_All_Beauty.jsonl line 6 is not valid JSON"):
        recnb.load_dataset("amazon-reviews-2023", folder, manifest=False)
    path.write_bytes(good)
    reviews = folder / "All_Beauty.jsonl"
    reviews.write_bytes(reviews.read_bytes().replace("Crème".encode(), "Crème".encode("latin-1")))
    with pytest.raises(EncodingError, match="All_Beauty.jsonl line 7 is not valid UTF-8"):
        recnb.load_dataset("amazon-reviews-2023", folder, manifest=False)


def test_amazon_corrupted_gzip(fx):
    folder = fx("amazon-reviews-2023-gz")
    path = folder / "All_Beauty.jsonl.gz"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # truncated download
    with pytest.raises(CorruptFileError, match="All_Beauty.jsonl.gz"):
        recnb.load_dataset("amazon-reviews-2023", folder, manifest=False)
    assert gzip.decompress(data)  # the fixture itself is fine


# --------------------------------------------------------------------------- ReDial
def test_redial(fx):
    ds = recnb.load_dataset("redial", fx("redial"))
    assert_standard(ds)
    assert ds.n_items == 5 and ds.item(204322)["title"] == "Night Train to Zürich"
    assert ds.item(204322)["year"] == 1998 and ds.item(204322)["n_conversations"] == 2
    # Seeker answers: liked -> 1.0, disliked -> 0.0, "did not say" (2) dropped.
    r = ds.ratings.set_index(["conversation_id", "item_id"])
    assert r.loc[("20001", 111776), "rating"] == 1.0 and r.loc[("20001", 92741), "rating"] == 0.0
    assert ("20001", 204322) not in r.index
    # Conversation 20002 has initiatorQuestions == []: the recommender's answers are used.
    assert set(r.loc["20002", "answered_by"]) == {"recommender"}
    assert ds.ratings["timestamp"].is_monotonic_increasing  # pseudo-time follows conversation order
    d = ds.dialogues
    assert len(d) == 19 and set(d["part"]) == {"train", "test"}
    first = d[d["conversation_id"] == "20001"]
    assert first["role"].tolist()[:2] == ["seeker", "recommender"]
    assert first["mentioned"].tolist()[2] == [111776]
    assert first["text_with_titles"].tolist()[2] == "Slow, moody stuff. I loved Harbour Lights (1994)"
    assert d[d["conversation_id"] == "20003"]["mentioned"].map(len).sum() == 0  # movieMentions == []


def test_redial_missing_files(fx):
    folder = fx("redial")
    for name in ("train_data.jsonl", "test_data.jsonl"):
        (folder / name).unlink()
    with pytest.raises(MissingFileError) as err:
        recnb.load_dataset("redial", folder)
    assert "train_data.jsonl" in str(err.value) and "redialdata.github.io" in str(err.value)


def test_redial_missing_key(fx):
    folder = fx("redial")
    conv = json.loads((folder / "test_data.jsonl").read_text(encoding="utf-8"))
    del conv["movieMentions"]
    (folder / "test_data.jsonl").write_text(json.dumps(conv) + "\n", encoding="utf-8")
    with pytest.raises(SchemaError, match="test_data.jsonl line 1 lacks key.*movieMentions"):
        recnb.load_dataset("redial", folder)


@pytest.mark.parametrize("name, line, what", [("redial", "test_data.jsonl", "JSON conversation"),
                                                ("amazon-reviews-2023", "All_Beauty.jsonl", "JSON object")])
def test_a_jsonl_line_that_is_not_an_object(fx, name, line, what):
    """Both JSONL loaders read through Source.iter_json_objects: a list on a line is named, with the fix."""
    folder = fx(name)
    path = folder / line
    path.write_text(path.read_text(encoding="utf-8") + "[1, 2]\n", encoding="utf-8")
    n = len(path.read_text(encoding="utf-8").splitlines())
    with pytest.raises(SchemaError, match=f"{line} line {n} is not a JSON object") as err:
        recnb.load_dataset(name, folder / line if name.startswith("amazon") else folder)
    assert f"one {what} per line" in str(err.value)


def test_every_error_names_a_fix(fx):
    folder = fx("redial")
    (folder / "train_data.jsonl").write_bytes(b"\xff\xfe not utf-8\n")
    with pytest.raises(DatasetError) as err:
        recnb.load_dataset("redial", folder)
    assert isinstance(err.value, EncodingError)
    assert "\n  file: " in str(err.value) and "\n  fix: " in str(err.value)
