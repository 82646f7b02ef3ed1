"""Type a request, see several rankings of it side by side (e.g. bi-encoder, BM25, cross-encoder).

A thin view over ranker functions: ``rankers`` maps a column name to ``fn(request, k)``
returning a ranking frame (item_id, score, optional why), such as ``Ranker.rank()`` or
``DenseRetriever.search()`` output. Cards are the ranked list's (same normalisation as
:class:`~recnb.widgets.RankedList`); each card also says where the other columns put that
item, and clicking a card selects that item in every column (``selected``).

A ranker that raises does not take the others down: its column shows the error, and
``errors`` counts it. Front-end: ``widgets/compare_rankings.js`` and ``.css``.
"""
from __future__ import annotations

import time
from collections import Counter
from typing import Callable, Iterable, Mapping

import traitlets

from recnb.widgets._assets import KitWidget
from recnb.widgets.ranked_list import DEFAULT_FACT_COLUMNS, _catalog_lookup, _normalise_item, _plain, _ranking_rows


class CompareRankings(KitWidget):
    """Columns of ranked cards for one free-text request; ``submit(text)`` or type it in the box."""

    _asset_name = "compare_rankings"
    _prelude = ("_cards",)

    request = traitlets.Unicode("").tag(sync=True)
    #: The front-end bumps this on Enter / the Rank button, so the same text can be re-run.
    submitted = traitlets.Int(0).tag(sync=True)
    columns = traitlets.List(traitlets.Dict()).tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    busy = traitlets.Bool(False).tag(sync=True)
    selected = traitlets.Any(None, allow_none=True).tag(sync=True)
    placeholder = traitlets.Unicode("Type a request, e.g. a funny heist movie, and press Enter").tag(sync=True)
    k = traitlets.Int(10).tag(sync=True)

    def __init__(self, rankers: Mapping[str, Callable], items_df=None, k: int = 10, request: str = "",
                 facts: Iterable[str] | None = None, max_facts: int = 2, **kwargs):
        if not rankers:
            raise ValueError("CompareRankings needs at least one ranker: {name: fn(request, k) -> ranking frame}")
        bad = [n for n, fn in rankers.items() if not callable(fn)]
        if bad:
            raise TypeError(f"rankers must be callables fn(request, k); not callable: {bad}")
        self.rankers = dict(rankers)
        self.errors: Counter = Counter()
        self._catalog = _catalog_lookup(items_df)
        columns = list(items_df.columns) if items_df is not None else []
        self._facts = [c for c in (DEFAULT_FACT_COLUMNS if facts is None else facts) if c in columns][:max_facts]
        super().__init__(k=k, request=request, **kwargs)
        self.columns = [{"name": n, "items": [], "error": None, "seconds": None} for n in self.rankers]
        if request.strip():
            self.submit(request)

    # -- running --------------------------------------------------------------------------------
    def submit(self, request: str | None = None) -> list[dict]:
        """Rank ``request`` (default: the current text) with every ranker; returns the columns."""
        if request is not None:
            self.request = request
        text = self.request.strip()
        if not text:
            self.status = "Type a request first."
            return self.columns
        self.busy, self.status = True, f"Ranking {text!r} ..."
        t0 = time.perf_counter()
        columns = []
        try:
            for name, fn in self.rankers.items():
                columns.append(self._column(name, fn, text))
            _cross_reference(columns)
            self.columns = columns
        finally:
            self.busy = False
        failed = [c["name"] for c in columns if c["error"]]
        self.status = (f"{len(columns) - len(failed)} rankings of {text!r} in {time.perf_counter() - t0:.2f} s"
                       + (f"; failed: {', '.join(failed)}" if failed else ""))
        if self.selected is not None and not any(self.selected in _ids(c) for c in columns):
            self.selected = None
        return columns

    def _column(self, name: str, fn: Callable, text: str) -> dict:
        t = time.perf_counter()
        try:
            frame = fn(text, self.k)
            items = self._items(frame)[: self.k]
            error = None
        except Exception as exc:  # shown in that column and counted; the other columns still run
            self.errors[name] += 1
            items, error = [], f"{type(exc).__name__}: {exc}"
        return {"name": name, "items": items, "error": error, "seconds": round(time.perf_counter() - t, 3)}

    def _items(self, frame) -> list[dict]:
        out = []
        for position, row in enumerate(_ranking_rows(frame)):
            meta = self._catalog.get(_plain(row["item_id"]), {})
            item = _normalise_item({
                "item_id": row["item_id"], "rank": row.get("rank"), "score": row.get("score"), "why": row.get("why"),
                "title": meta.get("title", row.get("title")), "year": meta.get("year"),
                "facts": {c: meta.get(c) for c in self._facts}, "description": meta.get("description"),
            }, position)
            out.append(item)
        return out

    @traitlets.observe("submitted")
    def _on_submitted(self, change):
        self.submit()

    @traitlets.validate("selected")
    def _validate_selected(self, proposal):
        value = _plain(proposal["value"])
        if value is None:
            return None
        known = {i for c in self.columns for i in _ids(c)}
        if value not in known:
            by_text = {str(i): i for i in known}  # JSON may turn 3 into "3" and back
            if str(value) in by_text:
                return by_text[str(value)]
            raise traitlets.TraitError(f"selected={value!r} is in none of the columns")
        return value

    # -- conveniences -----------------------------------------------------------------------------
    def ranking(self, name: str) -> list:
        """Item ids of one column, best first."""
        for c in self.columns:
            if c["name"] == name:
                return _ids(c)
        raise KeyError(f"no column {name!r}; columns: {[c['name'] for c in self.columns]}")

    def overlap(self) -> dict:
        """How many items each pair of columns share in their top-k."""
        sets = {c["name"]: set(_ids(c)) for c in self.columns}
        names = list(sets)
        return {(a, b): len(sets[a] & sets[b]) for i, a in enumerate(names) for b in names[i + 1:]}


def _ids(column: dict) -> list:
    return [it["item_id"] for it in column["items"]]


def _cross_reference(columns: list[dict]) -> None:
    """Each card gets ``elsewhere``: {other column: its rank there, or None if not in its top-k}."""
    # a column that failed has no ranks to report: leave it out rather than show "not in its top-k"
    ranks = {c["name"]: {it["item_id"]: it["rank"] for it in c["items"]} for c in columns if not c["error"]}
    for c in columns:
        for it in c["items"]:
            it["elsewhere"] = {o: ranks[o].get(it["item_id"]) for o in ranks if o != c["name"]}
