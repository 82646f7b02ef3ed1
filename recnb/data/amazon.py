"""Amazon Reviews 2023 (McAuley Lab), one category at a time, from files you downloaded.

Two JSON-lines files per category, plain or gzipped, as published on
https://amazon-reviews-2023.github.io/ :

* ``<Category>.jsonl``: one review per line: rating, title, text, images, asin, parent_asin,
  user_id, timestamp (milliseconds), helpful_vote, verified_purchase;
* ``meta_<Category>.jsonl``: one product per line: main_category, title, average_rating,
  rating_number, features, description, price, images, videos, store, categories, details,
  parent_asin, bought_together.

Items are products keyed by ``parent_asin`` (variants share it, as in the paper's benchmarks).
"""
from __future__ import annotations

import itertools
import json
import math
import re
import warnings
from pathlib import Path

import pandas as pd

from recnb.data.checksums import MANIFEST_NAME
from recnb.data.dataset import Dataset
from recnb.data.describe import describe_product
from recnb.data.errors import DatasetError, MissingFileError, SchemaError
from recnb.data.files import Source
from recnb.data.registry import DatasetSpec, register_dataset
from recnb.data.schema import check_schema, finish_items, finish_ratings

NAME = "amazon-reviews-2023"
HOW_TO_GET = ("download <Category>.jsonl.gz and meta_<Category>.jsonl.gz for one category from "
              "https://amazon-reviews-2023.github.io/ (raw/review_categories and raw/meta_categories), "
              "put them in one folder and pass it as path= (with category= if it holds several)")
LICENCE_NOTE = ("Amazon Reviews 2023 (Hou et al. 2024, 'Bridging Language and Items for Retrieval and "
                "Recommendation'); see the dataset site for its terms of use.")
REVIEW_KEYS = ("rating", "parent_asin", "user_id", "timestamp")
META_KEYS = ("parent_asin", "title")
_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz")


def _split_name(name: str) -> tuple[str, str] | None:
    """ "All_Beauty.jsonl.gz" -> ("All_Beauty", ".jsonl.gz"); None for names that are not data files."""
    if name == MANIFEST_NAME or name.startswith("."):  # our own manifest; hidden files (macOS "._x")
        return None
    for suf in _SUFFIXES:
        if name.endswith(suf):
            return name[: -len(suf)], suf
    return None


def _one_form(folder: Path, files: set, stem: str, what: str) -> str | None:
    """The one file ``stem``.jsonl / .jsonl.gz / ... in ``files``; an error if there are several."""
    forms = [f"{stem}{suf}" for suf in _SUFFIXES if f"{stem}{suf}" in files]
    if len(forms) > 1:  # e.g. the .gz download beside a half-finished gunzip: never guess which
        raise DatasetError(
            f"{NAME}: {folder} holds the {what} file in {len(forms)} forms ({' and '.join(forms)}); "
            "which one should be read?",
            path=folder / forms[0],
            fix=f"pass the file you mean as path= (e.g. path='{folder / forms[-1]}'), "
                "or move the other one out of the folder",
        )
    return forms[0] if forms else None


def _find_files(path: Path, category: str | None) -> tuple[Path, str, str]:
    """(folder, review file name, meta file name) for ``category`` (guessed when the folder has one).

    A path naming a file means exactly that file; its partner is looked up beside it.
    """
    folder, wanted, review, meta = path, category, None, None
    if path.is_file():
        stem = _split_name(path.name)
        if stem is None:
            raise DatasetError(f"{NAME}: {path.name} is not a .jsonl(.gz) file", path=path, fix=HOW_TO_GET)
        folder = path.parent
        named = stem[0].removeprefix("meta_")
        if wanted and wanted != named:
            raise DatasetError(f"{NAME}: path= names a file of category {named!r} but category={wanted!r}",
                               path=path, fix="pass the category's own file, or leave category= out")
        wanted = named
        if stem[0].startswith("meta_"):
            meta = path.name
        else:
            review = path.name
    if not folder.is_dir():
        raise MissingFileError(f"{NAME}: {folder} does not exist", path=folder, fix=HOW_TO_GET)
    files = {p.name for p in folder.iterdir() if p.is_file()}
    if wanted is None:
        stems = [stem for stem in map(_split_name, files) if stem and not stem[0].startswith("meta_")]
        # The published files are .jsonl(.gz); a stray .json (checksums.json, a config) is no
        # category unless nothing else is there (then the key check names the format problem).
        published = [stem for stem in stems if stem[1].startswith(".jsonl")]
        categories = sorted({stem[0] for stem in (published or stems)})
        if len(categories) != 1:
            raise DatasetError(
                f"{NAME}: {folder} holds review files for {len(categories)} categories"
                + (f" ({', '.join(categories)})" if categories else ""),
                path=folder, fix="pass category=<name>, e.g. category='All_Beauty'" if categories else HOW_TO_GET,
            )
        wanted = categories[0]
    review = review or _one_form(folder, files, wanted, "review") or f"{wanted}.jsonl"
    meta = meta or _one_form(folder, files, f"meta_{wanted}", "metadata") or f"meta_{wanted}.jsonl"
    return folder, review, meta


def _records(src: Source, name: str, required: tuple, nrows: int | None = None):
    """Parsed JSON objects of a JSONL file (the first ``nrows``); one SchemaError naming the line for bad JSON or keys."""
    rows = src.iter_json_objects(name, required, note="; this loader reads the 2023 format")
    return rows if nrows is None else itertools.islice(rows, nrows)


def _price(value) -> float:
    """Prices come as numbers, "None", "$12.99" or null."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    m = re.search(r"\d+(?:\.\d+)?", str(value or "").replace(",", ""))
    return float(m.group()) if m else math.nan


def _text_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    return [str(v).strip() for v in value if v is not None and str(v).strip()]


def load_amazon_reviews_2023(path, category: str | None = None, checksums=None, manifest: bool = True,
                             nrows: int | None = None) -> Dataset:
    """One category of Amazon Reviews 2023.

    ``ratings``: one row per (user, product), the latest review's stars; ``reviews``: every review
    with its title and text; timestamps converted to seconds. Earlier reviews of a product by the
    same user, and metadata lines repeating a parent_asin (the first is kept), are counted in
    ``info`` (``duplicate_reviews``, ``duplicate_meta_lines``) and reported with a warning.
    ``path``: the folder, or one file (that exact file is read, its partner is found beside it).
    ``nrows`` caps the review lines read (for a first look at a big category).
    """
    folder, review_name, meta_name = _find_files(Path(path).expanduser().absolute(), category)
    src = Source(folder, NAME, [review_name, meta_name], how_to_get=HOW_TO_GET)
    src.verify(checksums, [review_name, meta_name], manifest=manifest)

    rows = []
    for no, r in _records(src, review_name, REVIEW_KEYS, nrows):
        try:
            rating, ts, votes = float(r["rating"]), int(r["timestamp"]), int(r.get("helpful_vote") or 0)
        except (TypeError, ValueError):
            raise SchemaError(f"{NAME}: {review_name} line {no}: rating/timestamp/helpful_vote are not numbers "
                              f"({r['rating']!r}, {r['timestamp']!r}, {r.get('helpful_vote')!r})",
                              path=src.where(review_name), fix=f"use the file exactly as downloaded. {HOW_TO_GET}") from None
        rows.append((str(r["user_id"]), str(r["parent_asin"]), str(r.get("asin") or r["parent_asin"]), rating,
                     ts, r.get("title") or "", r.get("text") or "", votes,
                     bool(r.get("verified_purchase", False)), no))
    if not rows and nrows != 0:
        raise src.no_rows(review_name)
    reviews = pd.DataFrame(rows, columns=["user_id", "item_id", "asin", "rating", "timestamp", "title", "text",
                                          "helpful_vote", "verified_purchase", "_line"])
    # Published timestamps are in milliseconds; values below 1e11 are already seconds.
    if len(reviews) and reviews["timestamp"].max() >= 10**11:
        reviews["timestamp"] = reviews["timestamp"] // 1000
    reviews["timestamp"] = reviews["timestamp"].astype("int64")
    reviews = reviews.sort_values(["user_id", "timestamp", "_line"], kind="mergesort")
    ratings = reviews.drop_duplicates(["user_id", "item_id"], keep="last")[["user_id", "item_id", "rating",
                                                                           "timestamp"]]
    dup_reviews = len(reviews) - len(ratings)
    if dup_reviews:  # said, not silent (as the split does for repeats); every text stays in .reviews
        warnings.warn(f"{NAME}: {dup_reviews} earlier review(s) in {review_name} of a product the same user "
                      "reviewed again count only in .reviews; ratings keep the latest per user and product",
                      stacklevel=2)
    reviews = reviews.drop(columns="_line").reset_index(drop=True)

    products, meta_lines = [], []
    for line_no, m in _records(src, meta_name, META_KEYS):
        meta_lines.append(line_no)
        cats = _text_list(m.get("categories"))
        feats, descr = _text_list(m.get("features")), _text_list(m.get("description"))
        price = _price(m.get("price"))
        avg, num = m.get("average_rating"), m.get("rating_number")
        products.append({
            "item_id": str(m["parent_asin"]),
            "title": (m.get("title") or "").strip(),
            "genres": "|".join(cats) if cats else (m.get("main_category") or ""),
            "description": describe_product(m.get("title"), m.get("store"), m.get("main_category"), cats, feats,
                                            descr, None if math.isnan(price) else price, avg, num),
            "main_category": m.get("main_category") or "",
            "store": m.get("store") or "",
            "price": price,
            "average_rating": float(avg) if avg is not None else math.nan,
            "rating_number": int(num) if num is not None else pd.NA,
            "features": "|".join(f.replace("|", "/") for f in feats),
            "source_description": " ".join(descr),
            "details": json.dumps(m.get("details") or {}, ensure_ascii=False, sort_keys=True),
            "has_meta": True,
        })
    if not products:
        raise src.no_rows(meta_name)
    items = pd.DataFrame(products)
    repeated = items["item_id"].duplicated(keep="first").to_numpy()
    if repeated.any():  # a product listed twice: the first listing is kept, and that is said
        lines = [no for no, r in zip(meta_lines, repeated) if r]
        warnings.warn(f"{NAME}: {len(lines)} line(s) of {meta_name} repeat a parent_asin listed earlier "
                      f"(line {', '.join(map(str, lines[:5]))}{', ...' if len(lines) > 5 else ''}); "
                      "the first listing of each product is kept", stacklevel=2)
        items = items.loc[~repeated]
    # Products reviewed but absent from the metadata file still get a catalogue row.
    missing = sorted(set(ratings["item_id"]) - set(items["item_id"]))
    if missing:
        extra = pd.DataFrame({"item_id": missing, "title": "", "genres": "", "has_meta": False,
                              "description": [f"An Amazon product ({a}) with no entry in {meta_name}." for a in missing]})
        items = pd.concat([items, extra], ignore_index=True)
    items["year"] = pd.NA
    items = finish_items(items)
    items["has_meta"] = items["has_meta"].astype(bool)
    ratings = finish_ratings(ratings)
    check_schema(items, ratings, NAME, meta_name, review_name, where=src.where, fix=HOW_TO_GET)
    src.record()
    return Dataset(NAME, items, ratings, reviews=reviews,
                   info={"path": str(folder), "category": _split_name(review_name)[0],
                         "files": [review_name, meta_name], "licence": LICENCE_NOTE, "nrows": nrows,
                         "duplicate_reviews": dup_reviews, "duplicate_meta_lines": int(repeated.sum())})


register_dataset(DatasetSpec(NAME, load_amazon_reviews_2023, bundled=False, how_to_get=HOW_TO_GET,
                             summary="Amazon Reviews 2023, one category: ratings, review texts, product metadata"))
