"""Fact filters for retrieval: a year range, genres, and items to leave out (already seen).

A filter turns into the set of eligible item ids; the index then searches only those (a FAISS
ID selector), so a filtered search still returns exactly k items when k are eligible.

Semantics, tested against brute force in tests/unit/test_retrieval_filters.py:
* ``years=(lo, hi)``: inclusive; either end may be None (open), each other end a number (a
  bare year or a year string is an error, not a guess). Items without a year are left out
  whenever a year range is set (their year is unknown, not "in range").
* ``genres``: an item qualifies when it has ANY of them (``genre_mode="all"``: every one).
  Case-insensitive, matched against the catalog's ``genres`` column ("A|B"). A genre the
  catalog does not have is an error naming the closest ones (a typo would otherwise
  silently return nothing).
* ``exclude``: item ids never returned (ids not in the catalog are simply not there). Ids are
  kept as given (an ASIN "0439064872" is not the integer 439064872); one id alone, a string
  included, is a set of one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import pandas as pd


def _genre_sets(column: pd.Series) -> list[set[str]]:
    return [
        {g.strip().lower() for g in str(v).split("|") if g.strip()} if isinstance(v, str) else set()
        for v in column.tolist()
    ]


@dataclass(frozen=True)
class FactFilter:
    years: tuple | None = None
    genres: tuple = ()
    genre_mode: str = "any"
    exclude: frozenset = field(default_factory=frozenset)

    def __post_init__(self):
        if self.years is not None:
            object.__setattr__(self, "years", _year_range(self.years))
            lo, hi = self.years
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(f"years=({lo}, {hi}): the first year is after the last")
        genres = (self.genres,) if isinstance(self.genres, str) else tuple(_items(self.genres))
        object.__setattr__(self, "genres", tuple(g.strip() for g in genres if g and g.strip()))
        if self.genre_mode not in ("any", "all"):
            raise ValueError(f"genre_mode must be 'any' or 'all', not {self.genre_mode!r}")
        object.__setattr__(self, "exclude", id_set(self.exclude, "exclude"))

    @property
    def restricts_facts(self) -> bool:
        return self.years is not None or bool(self.genres)

    def is_empty(self) -> bool:
        return not self.restricts_facts and not self.exclude

    def mask(self, items: pd.DataFrame) -> np.ndarray:
        """Boolean mask over ``items`` rows: True where the item is eligible."""
        keep = np.ones(len(items), dtype=bool)
        if self.years is not None:
            lo, hi = self.years
            year = pd.to_numeric(items["year"], errors="coerce").to_numpy(dtype=float)
            keep &= ~np.isnan(year)
            if lo is not None:
                keep &= np.nan_to_num(year, nan=-np.inf) >= lo
            if hi is not None:
                keep &= np.nan_to_num(year, nan=np.inf) <= hi
        if self.genres:
            sets = _genre_sets(items["genres"])
            wanted = {g.lower() for g in self.genres}
            self._check_known(wanted, sets)
            test = (lambda s: bool(wanted & s)) if self.genre_mode == "any" else (lambda s: wanted <= s)
            keep &= np.fromiter((test(s) for s in sets), dtype=bool, count=len(sets))
        if self.exclude:
            keep &= ~items["item_id"].isin(self.exclude).to_numpy()
        return keep

    def allowed_ids(self, items: pd.DataFrame) -> np.ndarray:
        """Item ids of ``items`` that pass the filter."""
        return items["item_id"].to_numpy()[self.mask(items)]

    def _check_known(self, wanted: set, sets: list) -> None:
        known = set().union(*sets) if sets else set()
        unknown = sorted(wanted - known)
        if unknown:
            from rapidfuzz import process

            hints = {g: [m for m, _, _ in process.extract(g, sorted(known), limit=3)] for g in unknown}
            raise ValueError(
                "unknown genre(s) "
                + "; ".join(f"{g!r} (closest: {', '.join(h)})" for g, h in hints.items())
                + f". The catalog has {len(known)} genres: {', '.join(sorted(known))}"
            )


def _is_year(v) -> bool:
    # bool is an int subclass, and a NaN bound would silently match nothing
    return v is None or (isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
                         and not np.isnan(v))


def _year_range(years) -> tuple:
    """``years`` as a (first, last) tuple of numbers or None; anything else is one clear ValueError."""
    pair = tuple(years) if isinstance(years, (tuple, list, np.ndarray)) else None
    if pair is None or len(pair) != 2 or not all(_is_year(v) for v in pair):
        raise ValueError(f"years must be (first, last), each a number or None (open), got {years!r}; "
                         "one year is (1995, 1995)")
    return pair


def _items(values) -> Iterable:
    """None as nothing; anything else as given. Not ``values or ()``: a pandas Series or numpy
    array (seen items usually come as one) has no truth value."""
    return () if values is None else values


def id_set(values, what: str = "exclude") -> frozenset:
    """Item ids as a set, exactly as given: None is none, one id (a string too) is a set of one."""
    if values is None:
        return frozenset()
    if isinstance(values, (str, bytes)) or not np.iterable(values):
        values = (values,)  # a string is one ASIN, not its characters
    try:
        return frozenset(values.tolist() if hasattr(values, "tolist") else values)
    except TypeError as e:  # unhashable members, e.g. a list of lists
        raise ValueError(f"{what} must be item ids (a list, set or Series of them), got {type(values).__name__}: {e}") from None


def make_filter(filters: FactFilter | None = None, *, years=None, genres: Iterable[str] | str = (),
                genre_mode: str = "any", exclude=()) -> FactFilter:
    """A FactFilter from keyword arguments, merged with an existing one (keywords add to it)."""
    base = filters or FactFilter()
    if not isinstance(base, FactFilter):
        raise TypeError(f"filters must be a FactFilter, got {type(base).__name__}")
    extra = (genres,) if isinstance(genres, str) else tuple(_items(genres))
    return FactFilter(
        years=years if years is not None else base.years,
        genres=tuple(base.genres) + extra,
        genre_mode=genre_mode if genre_mode != "any" else base.genre_mode,
        exclude=frozenset(base.exclude) | id_set(exclude),
    )
