"""The one schema every loader returns, and the checks that keep it.

items:   item_id, title, year (Int64, NA when unknown), genres ("A|B", "" when unknown),
         description (never empty), then loader-specific columns.
ratings: user_id, item_id, rating (float64), timestamp (int64, seconds since 1970 UTC).
Rankers, splits and notebooks rely on these names and dtypes and on nothing else.
"""
from __future__ import annotations

from typing import Iterable

import pandas as pd

from recnb.data.errors import SchemaError

ITEM_COLUMNS = ("item_id", "title", "year", "genres", "description")
RATING_COLUMNS = ("user_id", "item_id", "rating", "timestamp")


def require_columns(columns: Iterable[str], required: Iterable[str], what: str, where=None, fix: str = "") -> None:
    """Raise one SchemaError listing every required column missing from ``columns``."""
    have = list(columns)
    missing = [c for c in required if c not in have]
    if missing:
        raise SchemaError(
            f"{what} lacks column(s) {', '.join(missing)} (found: {', '.join(map(str, have)) or 'none'})",
            path=where, fix=fix or "use the file exactly as published; its header names the columns",
        )


def finish_items(items: pd.DataFrame) -> pd.DataFrame:
    """Standard dtypes and column order, sorted by item_id; placeholders for missing titles."""
    items = items.copy()
    if "year" not in items:
        items["year"] = pd.NA
    if "genres" not in items:
        items["genres"] = ""
    items["year"] = pd.to_numeric(items["year"], errors="coerce").astype("Int64")
    untitled = items["title"].isna() | (items["title"].astype(str).str.strip() == "")
    items.loc[untitled, "title"] = [f"Untitled item {i}" for i in items.loc[untitled, "item_id"]]
    items["title"] = items["title"].astype("str")
    items["genres"] = items["genres"].fillna("").astype("str")
    items["description"] = items["description"].fillna("").astype("str")
    rest = [c for c in items.columns if c not in ITEM_COLUMNS]
    items = items[list(ITEM_COLUMNS) + rest]
    return items.sort_values("item_id", kind="mergesort").reset_index(drop=True)


def finish_ratings(ratings: pd.DataFrame) -> pd.DataFrame:
    """Standard dtypes and order: sorted by user_id, timestamp, item_id (stable)."""
    ratings = ratings.copy()
    ratings["rating"] = ratings["rating"].astype("float64")
    ratings["timestamp"] = ratings["timestamp"].astype("int64")
    rest = [c for c in ratings.columns if c not in RATING_COLUMNS]
    ratings = ratings[list(RATING_COLUMNS) + rest]
    return ratings.sort_values(["user_id", "timestamp", "item_id"], kind="mergesort").reset_index(drop=True)


def _show(value) -> str:
    """An id as the user wrote it: 9999 or 'B0X', never np.int64(9999)."""
    value = value.item() if hasattr(value, "item") else value
    return repr(value) if isinstance(value, str) else str(value)


def check_schema(items: pd.DataFrame, ratings: pd.DataFrame, name: str, items_file: str | None = None,
                 ratings_file: str | None = None, where=None, fix: str = "") -> None:
    """Loader self-check: standard columns present, ids consistent, ratings finite.

    ``items_file``/``ratings_file``: the file names the catalogue and the ratings came from;
    ``where(file)``: the path to show for one (``Source.where``); ``fix``: how to get the files.
    """
    require_columns(items.columns, ITEM_COLUMNS, f"{name} items")
    require_columns(ratings.columns, RATING_COLUMNS, f"{name} ratings")
    where = where or (lambda f: f)
    in_items = f" in {items_file}" if items_file else ""
    catalogue = items_file or "the catalogue"
    as_downloaded = "use the files exactly as downloaded, all from the same release" + (f". {fix}" if fix else "")
    if items["item_id"].duplicated().any():
        dup = items.loc[items["item_id"].duplicated(), "item_id"].iloc[0]
        raise SchemaError(f"{name}: item_id {_show(dup)} appears twice in the catalogue{in_items}",
                          path=where(items_file) if items_file else None, fix=as_downloaded)
    unknown = ~ratings["item_id"].isin(items["item_id"])
    if unknown.any():
        raise SchemaError(f"{name}: {int(unknown.sum())} rating(s)" + (f" in {ratings_file}" if ratings_file else "")
                          + f" refer to items not in {catalogue} "
                          f"(e.g. item_id {_show(ratings.loc[unknown, 'item_id'].iloc[0])})",
                          path=where(ratings_file) if ratings_file else None, fix=as_downloaded)
