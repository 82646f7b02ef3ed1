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
from pathlib import Path

import pandas as pd

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
    for suf in _SUFFIXES:
        if name.endswith(suf):
            return name[: -len(suf)], suf
    return None


def _find_files(path: Path, category: str | None) -> tuple[Path, str, str]:
    """(folder, review file name, meta file name) for ``category`` (guessed when the folder has one)."""
    folder, wanted = path, category
    if path.is_file():
        stem = _split_name(path.name)
        if stem is None:
            raise DatasetError(f"{NAME}: {path.name} is not a .jsonl(.gz) file", path=path, fix=HOW_TO_GET)
        folder = path.parent
        wanted = wanted or stem[0].removeprefix("meta_")
    if not folder.is_dir():
        raise MissingFileError(f"{NAME}: {folder} does not exist", path=folder, fix=HOW_TO_GET)
    files = {p.name for p in folder.iterdir() if p.is_file()}
    reviews = {}
    for name in sorted(files):
        stem = _split_name(name)
        if stem and not stem[0].startswith("meta_"):
            reviews.setdefault(stem[0], name)
    if wanted is None:
        if len(reviews) != 1:
            raise DatasetError(
                f"{NAME}: {folder} holds review files for {len(reviews)} categories"
                + (f" ({', '.join(sorted(reviews))})" if reviews else ""),
                path=folder, fix="pass category=<name>, e.g. category='All_Beauty'" if reviews else HOW_TO_GET,
            )
        wanted = next(iter(reviews))
    review = reviews.get(wanted) or f"{wanted}.jsonl"
    meta = next((f"meta_{wanted}{suf}" for suf in _SUFFIXES if f"meta_{wanted}{suf}" in files), f"meta_{wanted}.jsonl")
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

    ``ratings``: one row per (user, product), the latest review's stars (duplicates dropped);
    ``reviews``: every review with its title and text; timestamps converted to seconds.
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
    reviews = pd.DataFrame(rows, columns=["user_id", "item_id", "asin", "rating", "timestamp", "title", "text",
                                          "helpful_vote", "verified_purchase", "_line"])
    # Published timestamps are in milliseconds; values below 1e11 are already seconds.
    if len(reviews) and reviews["timestamp"].max() >= 10**11:
        reviews["timestamp"] = reviews["timestamp"] // 1000
    reviews["timestamp"] = reviews["timestamp"].astype("int64")
    reviews = reviews.sort_values(["user_id", "timestamp", "_line"], kind="mergesort")
    ratings = reviews.drop_duplicates(["user_id", "item_id"], keep="last")[["user_id", "item_id", "rating",
                                                                           "timestamp"]]
    reviews = reviews.drop(columns="_line").reset_index(drop=True)

    products = []
    for _, m in _records(src, meta_name, META_KEYS):
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
    items = pd.DataFrame(products).drop_duplicates("item_id", keep="first") if products else pd.DataFrame(
        columns=["item_id", "title", "genres", "description", "has_meta"])
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
    check_schema(items, ratings, NAME)
    src.record()
    cat = review_name
    for suf in _SUFFIXES:
        cat = cat.removesuffix(suf)
    return Dataset(NAME, items, ratings, reviews=reviews,
                   info={"path": str(folder), "category": cat, "files": [review_name, meta_name],
                         "licence": LICENCE_NOTE, "nrows": nrows})


register_dataset(DatasetSpec(NAME, load_amazon_reviews_2023, bundled=False, how_to_get=HOW_TO_GET,
                             summary="Amazon Reviews 2023, one category: ratings, review texts, product metadata"))
