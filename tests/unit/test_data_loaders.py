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


def test_nrows_never_keeps_a_partial_user(fx):
    """ratings.csv is sorted by user, then movie (not time): a cap inside a user's rows would give
    that user an arbitrary part of their history, so the last user cut by the cap is left out."""
    folder = fx("ml-latest")  # user 1: 4 ratings, user 2: 3, user 3: 3
    cut = recnb.load_dataset("ml-32m", folder, nrows=6)
    assert cut.ratings["user_id"].tolist() == [1] * 4 and cut.info["nrows_dropped"] == 2
    assert cut.info["nrows"] == 6
    whole = recnb.load_dataset("ml-32m", folder, nrows=7)  # the cap falls between two users
    assert len(whole.ratings) == 7 and whole.n_users == 2 and whole.info["nrows_dropped"] == 0
    everything = recnb.load_dataset("ml-32m", folder, nrows=50)
    assert len(everything.ratings) == 10 and everything.info["nrows_dropped"] == 0
    assert "nrows_dropped" not in recnb.load_dataset("ml-32m", folder).info
    with pytest.raises(ValueError, match=r"nrows=3 .*first user \(1\)"):
        recnb.load_dataset("ml-latest", folder, nrows=3)  # no complete user at all


def test_ml_latest_csvs_re_saved_with_a_utf8_bom(fx):
    """Excel and some editors save UTF-8 with a byte-order mark: the header's first name must still match."""
    folder = fx("ml-latest")
    plain = recnb.load_dataset("ml-latest", folder)
    for name in ("ratings.csv", "movies.csv", "tags.csv", "links.csv"):  # the streamed file and the small ones
        path = folder / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    bom = recnb.load_dataset("ml-latest", folder, manifest=False)
    pd.testing.assert_frame_equal(bom.ratings, plain.ratings)
    pd.testing.assert_frame_equal(bom.items, plain.items)
    pd.testing.assert_frame_equal(bom.tags, plain.tags)


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


# --------------------------------------------------------------------------- review fixes: Amazon files
def test_amazon_second_load_ignores_its_own_manifest_and_hidden_files(fx):
    folder = fx("amazon-reviews-2023")
    first = recnb.load_dataset("amazon-reviews-2023", folder)  # writes recnb-manifest.json
    assert (folder / MANIFEST_NAME).is_file()
    (folder / "._All_Beauty.jsonl").write_bytes(b"\x00\x05\x16\x07")  # a macOS resource fork
    (folder / "checksums.json").write_text("{}")  # not a review file either
    again = recnb.load_dataset("amazon-reviews-2023", folder)
    pd.testing.assert_frame_equal(first.ratings, again.ratings)


def test_amazon_explicit_review_file_is_the_one_read(fx, tmp_path):
    src = fx("amazon-reviews-2023")
    folder = tmp_path / "amz"
    folder.mkdir()
    full = (src / "All_Beauty.jsonl").read_bytes()
    (folder / "All_Beauty.jsonl.gz").write_bytes(gzip.compress(full, mtime=0))  # the download
    (folder / "All_Beauty.jsonl").write_bytes(b"".join(full.splitlines(True)[:2]))  # a half-finished gunzip
    shutil.copy(src / "meta_All_Beauty.jsonl", folder)
    gz = folder / "All_Beauty.jsonl.gz"
    ds = recnb.load_dataset("amazon-reviews-2023", gz, manifest=False)
    assert len(ds.reviews) == 8 and ds.info["files"][0] == "All_Beauty.jsonl.gz"
    sha = hashlib.sha256(gz.read_bytes()).hexdigest()
    recnb.load_dataset("amazon-reviews-2023", gz, manifest=False, checksums={"All_Beauty.jsonl.gz": sha})
    assert len(recnb.load_dataset("amazon-reviews-2023", folder / "All_Beauty.jsonl", manifest=False).reviews) == 2
    # The folder alone is ambiguous: say so and name both, rather than pick one.
    with pytest.raises(DatasetError, match="All_Beauty.jsonl and All_Beauty.jsonl.gz") as err:
        recnb.load_dataset("amazon-reviews-2023", folder, manifest=False)
    assert "path=" in err.value.fix
    with pytest.raises(DatasetError, match="category='Toys'"):
        recnb.load_dataset("amazon-reviews-2023", gz, category="Toys", manifest=False)


def test_amazon_duplicates_are_counted_and_reported(fx):
    folder = fx("amazon-reviews-2023")
    meta = folder / "meta_All_Beauty.jsonl"
    first = json.loads(meta.read_text(encoding="utf-8").splitlines()[0])
    with open(meta, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(dict(first, title="Second listing of the same parent_asin")) + "\n")
    with pytest.warns(UserWarning) as record:
        ds = recnb.load_dataset("amazon-reviews-2023", folder, manifest=False)
    text = " ".join(str(w.message) for w in record)
    assert "1 earlier review" in text and "All_Beauty.jsonl" in text
    assert "meta_All_Beauty.jsonl" in text and "line 6" in text
    assert ds.info["duplicate_reviews"] == 1 and ds.info["duplicate_meta_lines"] == 1
    assert ds.item(first["parent_asin"])["title"] == first["title"]  # the first listing is kept
    assert len(ds.reviews) == 8  # every review text stays


# --------------------------------------------------------------------------- review fixes: CSV rows
def _rewrite(path, edit):
    lines = path.read_text(encoding="utf-8").splitlines()
    edit(lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("name, edit, line, fields", [
    ("ratings.csv", lambda ls: ls.__setitem__(slice(2, 4), [ls[2] + "," + ls[3]]), 3, 8),  # two rows glued
    ("ratings.csv", lambda ls: ls.__setitem__(1, ls[1] + ",9"), 2, 5),  # the first data row
    ("ratings.csv", lambda ls: ls.__setitem__(5, ls[5].rsplit(",", 1)[0]), 6, 3),  # a field lost
    ("movies.csv", lambda ls: ls.__setitem__(3, ls[3] + ",Drama"), 4, 4),
    ("movies.csv", lambda ls: ls.__setitem__(4, ls[4].replace('"', "")), 5, 4),  # "Heist, Interrupted" unquoted
    ("movies.csv", lambda ls: ls.__setitem__(1, ls[1] + ",Drama"), 2, 4),
    ("movies.csv", lambda ls: ls.__setitem__(5, ls[5].rsplit(",", 1)[0]), 6, 2),
    ("tags.csv", lambda ls: ls.__setitem__(2, ls[2] + ",x"), 3, 5),
])
def test_csv_row_with_the_wrong_number_of_fields_is_named(fx, name, edit, line, fields):
    folder = fx("ml-latest")
    _rewrite(folder / name, edit)
    for loader in ("ml-latest", "ml-32m"):
        with pytest.raises(SchemaError, match=rf"{name} line {line} has {fields} field\(s\), expected") as err:
            recnb.load_dataset(loader, folder, manifest=False)
        assert err.value.path.endswith(name)


# --------------------------------------------------------------------------- review fixes: empty files
HEADERS = {"ratings.csv": b"userId,movieId,rating,timestamp\n", "movies.csv": b"movieId,title,genres\n",
           "movies_with_mentions.csv": b"movieId,movieName,nbMentions\n"}


@pytest.mark.parametrize("fixture, loader, name, header", [
    ("ml-1m", "ml-1m", "ratings.dat", False), ("ml-1m", "ml-1m", "movies.dat", False),
    ("ml-1m", "ml-1m", "users.dat", False),
    ("ml-latest", "ml-latest", "ratings.csv", False), ("ml-latest", "ml-latest", "ratings.csv", True),
    ("ml-latest", "ml-latest", "movies.csv", False), ("ml-latest", "ml-latest", "movies.csv", True),
    ("ml-latest", "ml-latest", "tags.csv", False), ("ml-latest", "ml-latest", "links.csv", False),
    ("amazon-reviews-2023", "amazon-reviews-2023", "All_Beauty.jsonl", False),
    ("amazon-reviews-2023", "amazon-reviews-2023", "meta_All_Beauty.jsonl", False),
    ("redial", "redial", "train_data.jsonl", False),
    ("redial", "redial", "movies_with_mentions.csv", False),
    ("redial", "redial", "movies_with_mentions.csv", True),
])
def test_an_empty_file_is_an_error_and_not_recorded(fx, fixture, loader, name, header):
    folder = fx(fixture)
    (folder / name).write_bytes(HEADERS[name] if header else b"")
    with pytest.raises(SchemaError, match=rf"{name} holds no rows") as err:
        recnb.load_dataset(loader, folder)
    assert err.value.path.endswith(name) and err.value.fix
    assert not (folder / MANIFEST_NAME).exists()


# --------------------------------------------------------------------------- review fixes: damaged containers
def _break_deflate(data: bytes, start: int) -> bytes:
    """0xff as the first byte of a deflate stream is a reserved block type: zlib fails on it."""
    return data[:start] + b"\xff" + data[start + 1:]


def _member_data_offset(zip_path, member):
    import zipfile

    with zipfile.ZipFile(zip_path) as zf:
        info = zf.getinfo(member)
    raw = zip_path.read_bytes()
    name_len = int.from_bytes(raw[info.header_offset + 26: info.header_offset + 28], "little")
    extra_len = int.from_bytes(raw[info.header_offset + 28: info.header_offset + 30], "little")
    return info.header_offset + 30 + name_len + extra_len


def test_damaged_gzip_stream_is_a_corrupt_file_error(fx):
    folder = fx("amazon-reviews-2023-gz")
    path = folder / "All_Beauty.jsonl.gz"
    path.write_bytes(_break_deflate(gzip.compress(gzip.decompress(path.read_bytes()), mtime=0), 10))
    with pytest.raises(CorruptFileError, match="All_Beauty.jsonl.gz is damaged"):
        recnb.load_dataset("amazon-reviews-2023", folder, manifest=False)


def test_damaged_zip_member_is_a_corrupt_file_error(fx, tmp_path):
    import zipfile

    src = fx("ml-1m")
    zpath = tmp_path / "z" / "ml-1m.zip"
    zpath.parent.mkdir()
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        for n in ("ratings.dat", "movies.dat", "users.dat"):
            zf.write(src / n, f"ml-1m/{n}")
    zpath.write_bytes(_break_deflate(zpath.read_bytes(), _member_data_offset(zpath, "ml-1m/ratings.dat")))
    with pytest.raises(CorruptFileError, match="ratings.dat is damaged"):
        recnb.load_dataset("ml-1m", zpath, manifest=False)


@pytest.mark.parametrize("damage", ["deflate", "crc"])
def test_damaged_big_csv_in_a_zip_is_a_corrupt_file_error(fx, tmp_path, damage):
    import zipfile

    src = fx("ml-latest")
    zpath = tmp_path / "z" / "ml-32m.zip"
    zpath.parent.mkdir()
    with zipfile.ZipFile(zpath, "w") as zf:
        for n in ("ratings.csv", "movies.csv", "tags.csv", "links.csv"):
            kind = zipfile.ZIP_DEFLATED if (n == "ratings.csv" and damage == "deflate") else zipfile.ZIP_STORED
            zf.write(src / n, f"ml-32m/{n}", compress_type=kind)
    start = _member_data_offset(zpath, "ml-32m/ratings.csv")
    raw = zpath.read_bytes()
    if damage == "deflate":
        raw = _break_deflate(raw, start)
    else:  # stored: one digit changed, so only the CRC check at the end notices
        pos = start + raw[start:].index(b"1217897793")
        raw = raw[:pos] + b"2" + raw[pos + 1:]
    zpath.write_bytes(raw)
    with pytest.raises(CorruptFileError, match="ratings.csv is damaged"):
        recnb.load_dataset("ml-32m", zpath, manifest=False)


def test_damage_that_still_decompresses_is_reported_as_damage_not_as_a_bad_row(fx, tmp_path):
    """Stored (uncompressed) blocks: a changed byte reads back as a wrong row; only the CRC at the end tells."""
    import zipfile

    amz = fx("amazon-reviews-2023-gz")
    path = amz / "All_Beauty.jsonl.gz"
    raw = gzip.compress(gzip.decompress(path.read_bytes()), compresslevel=0, mtime=0)
    pos = raw.index(b'{"rating"', raw.index(b"\n{") + 2)  # start of a later review line
    path.write_bytes(raw[:pos] + b"X" + raw[pos + 1:])
    with pytest.raises(CorruptFileError, match="All_Beauty.jsonl.gz is damaged"):
        recnb.load_dataset("amazon-reviews-2023", amz, manifest=False)

    src = fx("ml-latest")
    zpath = tmp_path / "z" / "ml-32m.zip"
    zpath.parent.mkdir()
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_STORED) as zf:
        for n in ("ratings.csv", "movies.csv", "tags.csv", "links.csv"):
            zf.write(src / n, f"ml-32m/{n}")
    raw = zpath.read_bytes()
    zpath.write_bytes(raw.replace(b"1,102,4.5,", b"1,102,,,,,", 1))  # now a row with too many fields
    with pytest.raises(CorruptFileError, match="ratings.csv is damaged"):
        recnb.load_dataset("ml-32m", zpath, manifest=False)


# --------------------------------------------------------------------------- review fixes: checksums
def test_checksum_file_path_with_tilde_is_expanded(fx, tmp_path, monkeypatch):
    zdir = fx("ml-1m-zip")
    home = tmp_path / "home"
    (home / "Downloads").mkdir(parents=True)
    for name in ("ml-1m.zip", "ml-1m.zip.md5"):
        shutil.copy(zdir / name, home / "Downloads" / name)
    monkeypatch.setenv("HOME", str(home))
    # The example in recnb/data/movielens.py's docstring.
    ds = recnb.load_dataset("ml-1m", "~/Downloads/ml-1m.zip", checksums="~/Downloads/ml-1m.zip.md5", manifest=False)
    assert len(ds.ratings) == 12
    from pathlib import Path

    recnb.load_dataset("ml-1m", "~/Downloads/ml-1m.zip", checksums=Path("~/Downloads/ml-1m.zip.md5"), manifest=False)


@pytest.mark.parametrize("digest", ["crc32:1a2b3c4d", "shake_128:abcd", "blake2b:" + "0" * 128,
                                    "sha256:" + "0" * 32, "md5:" + "0" * 64])
def test_unsupported_or_misfit_digest_is_a_schema_error(fx, digest):
    zdir = fx("ml-1m-zip")
    with pytest.raises(SchemaError, match="md5/sha1/sha256"):
        recnb.load_dataset("ml-1m", zdir / "ml-1m.zip", checksums=digest, manifest=False)


def test_digest_algorithm_spelled_with_a_dash(fx):
    zdir = fx("ml-1m-zip")
    sha = hashlib.sha256((zdir / "ml-1m.zip").read_bytes()).hexdigest()
    recnb.load_dataset("ml-1m", zdir / "ml-1m.zip", checksums=f"SHA-256:{sha}", manifest=False)


# --------------------------------------------------------------------------- review fixes: ReDial titles
def _redial_conv(cid, mentions, text, questions):
    return {"conversationId": cid, "initiatorWorkerId": 1, "respondentWorkerId": 2, "movieMentions": mentions,
            "messages": [{"timeOffset": 0, "text": text, "senderWorkerId": 1, "messageId": 1}],
            "initiatorQuestions": questions, "respondentQuestions": []}


@pytest.mark.parametrize("order", [1, -1])
def test_redial_title_does_not_depend_on_conversation_order(tmp_path, order):
    folder = tmp_path / "redial"
    folder.mkdir()
    convs = [_redial_conv("391", [], "have you seen @555 ?", []),  # @555 only in the text
             _redial_conv("392", {"555": "Real Title (2001)"}, "I loved @555",
                          {"555": {"suggested": 0, "seen": 1, "liked": 1}})][::order]
    (folder / "train_data.jsonl").write_text("\n".join(json.dumps(c) for c in convs) + "\n", encoding="utf-8")
    ds = recnb.load_dataset("redial", folder, manifest=False)
    assert ds.item(555)["title"] == "Real Title" and ds.item(555)["year"] == 2001
    assert sorted(ds.dialogues["text_with_titles"]) == ["I loved Real Title (2001)",
                                                        "have you seen Real Title (2001) ?"]


# --------------------------------------------------------------------------- review fixes: messages
def test_unknown_item_error_names_the_files_and_a_fix(fx):
    folder = fx("ml-1m")
    with open(folder / "ratings.dat", "a", encoding="latin-1") as fh:
        fh.write("1::9999::4::978300760\n")
    with pytest.raises(SchemaError) as err:
        recnb.load_dataset("ml-1m", folder, manifest=False)
    msg = str(err.value)
    assert "ratings.dat" in msg and "movies.dat" in msg and "9999" in msg and "np." not in msg
    assert err.value.path.endswith("ratings.dat") and err.value.fix


def test_duplicate_item_error_names_the_file(fx):
    folder = fx("ml-latest")
    with open(folder / "movies.csv", "a", encoding="utf-8") as fh:
        fh.write("101,Harbour Lights Again (1995),Drama\n")
    with pytest.raises(SchemaError) as err:
        recnb.load_dataset("ml-latest", folder, manifest=False)
    msg = str(err.value)
    assert "item_id 101 appears twice" in msg and "np." not in msg
    assert err.value.path.endswith("movies.csv") and err.value.fix


# --------------------------------------------------------------------------- review fixes: titles
@pytest.mark.parametrize("raw, natural", [
    ("Chien andalou, Un", "Un chien andalou"), ("Liaison pornographique, Une", "Une liaison pornographique"),
    ("Vitelloni, I", "I Vitelloni"), ("Fem benspænd, De", "De fem benspænd"), ("Aanslag, De", "De aanslag"),
    ("Boot, Ein", "Ein Boot"), ("Frau, Eine", "Eine Frau"),
    ("Meisje met het rode haar, Het", "Het meisje met het rode haar"),
    ("Cangaceiros, Os", "Os cangaceiros"), ("Pagador de Promessas, O", "O pagador de promessas"),
    ("Kärlekshistoria, En", "En kärlekshistoria"),
    ("Andalusian Dog, An (Chien andalou, Un)", "An Andalusian Dog"),
])
def test_foreign_trailing_articles_move_to_the_front(raw, natural):
    from recnb.data.titles import main_and_alternates, natural_title

    assert natural_title(raw).lower() == natural.lower()
    if "(" in raw:
        assert main_and_alternates(raw)[1] == ["Un Chien andalou"]


@pytest.mark.parametrize("title", ["I, Robot", "Me, Myself, i", "Paris, Texas", "Yes, o", "Stand, as",
                                   "Monsters, Inc.", "Crazy, Stupid, Love."])
def test_words_that_only_look_like_articles_stay(title):
    from recnb.data.titles import natural_title

    assert natural_title(title) == title
