"""A ranked list of items as cards: rank, title, year, a few facts, a score bar, a "why" line.

A thin view: it shows what a ranker returned and reports which card was clicked
(``selected``, an item id or None). Front-end: ``widgets/ranked_list.js`` and ``.css``.
"""
from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any, Iterable, Mapping

import traitlets

from recnb.widgets._assets import KitWidget

#: Catalog columns shown as facts when ``from_ranking`` is not told which ones, in order.
DEFAULT_FACT_COLUMNS = ("genres", "director", "cast", "country", "language", "runtime")
_MAX_FACT_CHARS = 80
_MAX_LIST_VALUES = 3
_MAX_DESCRIPTION_CHARS = 400


class RankedList(KitWidget):
    """Cards for a ranked list; clicking a card sets ``selected`` to its item id.

    ``items`` is a list of dicts with ``item_id`` (required), ``title``, ``year``, ``facts``
    (a short dict or a string), ``score``, ``why`` and optionally ``rank`` (defaults to the
    position, 1-based) and ``description`` (shown as the card's tooltip). Values are
    normalised to JSON-friendly Python types on assignment.
    """

    _asset_name = "ranked_list"
    _prelude = ("_cards",)

    items = traitlets.List(traitlets.Dict()).tag(sync=True)
    caption = traitlets.Unicode("").tag(sync=True)
    selected = traitlets.Any(None, allow_none=True).tag(sync=True)

    def __init__(self, items: Iterable[Mapping] = (), caption: str = "", selected: Any = None, **kwargs):
        super().__init__(items=list(items), caption=caption, selected=selected, **kwargs)

    # -- validation ----------------------------------------------------------------
    @traitlets.validate("items")
    def _validate_items(self, proposal):
        return [_normalise_item(item, position) for position, item in enumerate(proposal["value"])]

    @traitlets.validate("selected")
    def _validate_selected(self, proposal):
        value = _plain(proposal["value"])
        if value is None:
            return None
        ids = self.item_ids
        if value not in ids:
            # The front-end serialises ids through JSON: accept "3" for 3 and 3 for "3".
            by_text = {str(i): i for i in ids}
            if str(value) in by_text:
                return by_text[str(value)]
            raise traitlets.TraitError(f"selected={value!r} is not an item id of this list")
        return value

    @traitlets.observe("items")
    def _drop_stale_selection(self, change):
        if self.selected is not None and self.selected not in self.item_ids:
            self.selected = None

    # -- conveniences --------------------------------------------------------------
    @property
    def item_ids(self) -> list:
        return [item["item_id"] for item in self.items]

    @property
    def selected_item(self) -> dict | None:
        """The dict of the selected item (None when nothing is selected)."""
        for item in self.items:
            if item["item_id"] == self.selected:
                return item
        return None

    @classmethod
    def from_ranking(
        cls,
        ranking_df,
        items_df=None,
        caption: str = "",
        facts: Iterable[str] | None = None,
        max_facts: int = 3,
        **kwargs,
    ) -> "RankedList":
        """Build the list from ``Ranker.rank()`` output and a catalog.

        ``ranking_df``: columns item_id, score, rank, why (rank and why optional; rows are
        shown in rank order). ``items_df``: the catalog (item_id, title, year, genres,
        director, description...); any column may be missing, and items absent from the
        catalog show their id as title. ``facts``: catalog columns to show (default: the
        first ``max_facts`` of :data:`DEFAULT_FACT_COLUMNS` that the catalog has).
        """
        rows = _ranking_rows(ranking_df)
        catalog = _catalog_lookup(items_df)
        columns = list(items_df.columns) if items_df is not None else []
        if facts is None:
            facts = [c for c in DEFAULT_FACT_COLUMNS if c in columns][:max_facts]
        else:
            facts = [c for c in facts if c in columns]
        items = []
        for row in rows:
            meta = catalog.get(_plain(row["item_id"]), {})
            items.append(
                {
                    "item_id": row["item_id"],
                    "rank": row.get("rank"),
                    "score": row.get("score"),
                    "why": row.get("why"),
                    "title": meta.get("title"),
                    "year": meta.get("year"),
                    "facts": {c: meta.get(c) for c in facts},
                    "description": meta.get("description"),
                }
            )
        return cls(items=items, caption=caption, **kwargs)


# -- helpers -------------------------------------------------------------------------
def _missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    try:
        import pandas as pd

        return bool(pd.isna(value)) if _is_scalar(value) else False
    except (TypeError, ValueError, ImportError):
        return False


def _is_scalar(value) -> bool:
    return not isinstance(value, (list, tuple, set, dict)) and getattr(value, "ndim", 0) == 0


def _plain(value):
    """numpy / pandas scalars -> Python scalars; missing -> None."""
    if _missing(value):
        return None
    if hasattr(value, "item") and _is_scalar(value) and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        return float(value)
    return value


def _fact_text(value) -> str | None:
    """One fact value as short text: lists joined (first few), 'A|B' split, long text cut."""
    if _missing(value):
        return None
    if isinstance(value, str):
        parts = value.split("|") if "|" in value else [value]
    elif _is_scalar(value):
        parts = [value]
    else:
        parts = list(value)
    parts = [str(_plain(p)) for p in parts if not _missing(p) and str(p).strip()]
    if not parts:
        return None
    text = ", ".join(parts[:_MAX_LIST_VALUES]) + (", …" if len(parts) > _MAX_LIST_VALUES else "")
    return _cut(text, _MAX_FACT_CHARS)


def _cut(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _normalise_item(item: Mapping, position: int) -> dict:
    if not isinstance(item, Mapping) or "item_id" not in item:
        raise traitlets.TraitError(f"items[{position}] needs an 'item_id' key, got {item!r}")
    item_id = _plain(item["item_id"])
    if item_id is None:
        raise traitlets.TraitError(f"items[{position}] has a missing item_id")
    title = _plain(item.get("title"))
    year = _plain(item.get("year"))
    if isinstance(year, float) and year.is_integer():
        year = int(year)
    score = _plain(item.get("score"))
    if score is not None:
        score = float(score)
        if not math.isfinite(score):
            score = None
    rank = _plain(item.get("rank"))
    facts = item.get("facts")
    if isinstance(facts, Mapping):
        facts = {str(k): t for k, v in facts.items() if (t := _fact_text(v)) is not None}
    else:
        facts = _fact_text(facts) or {}
    why = _plain(item.get("why"))
    description = _plain(item.get("description"))
    return {
        "item_id": item_id,
        "rank": int(rank) if rank is not None else position + 1,
        "title": str(title) if title is not None else str(item_id),
        "year": year,
        "facts": facts,
        "score": score,
        "why": str(why) if why not in (None, "") else None,
        "description": _cut(description, _MAX_DESCRIPTION_CHARS) if description else None,
    }


def _ranking_rows(ranking_df) -> list[dict]:
    if "item_id" not in ranking_df.columns:
        raise ValueError(f"ranking_df needs an item_id column, has {list(ranking_df.columns)}")
    frame = ranking_df.sort_values("rank", kind="stable") if "rank" in ranking_df.columns else ranking_df
    return frame.to_dict("records")


def _catalog_lookup(items_df) -> dict:
    if items_df is None:
        return {}
    if "item_id" not in items_df.columns:
        raise ValueError(f"items_df needs an item_id column, has {list(items_df.columns)}")
    catalog = items_df.drop_duplicates("item_id")
    return {_plain(rec["item_id"]): rec for rec in catalog.to_dict("records")}
