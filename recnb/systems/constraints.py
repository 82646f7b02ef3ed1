"""Fact constraints ("no horror", "before 1990", "not by Christopher Nolan") as data that filters a catalog.

A :class:`Constraint` is one (field, op, value) triple with a sentence for people and a mask
for a catalog. The belief state, the filter tool and critiques all produce these, so what a
person reads in the belief panel is exactly what filters the recommendations.

Written here rather than with ``recnb.candidates.filters.FactFilter`` because conversations
need negations and fields that filter does not have (director, cast, runtime, country).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: field -> catalog columns it reads (multi-valued columns hold "A|B").
FIELDS = {
    "genre": ("genres", "wd_genres"),
    "director": ("director",),
    "cast": ("cast",),
    "writer": ("writer",),
    "country": ("country",),
    "language": ("language",),
    "year": ("year",),
    "runtime": ("runtime",),
    # "not from the 1980s" is two ranges (before 1980 or after 1989), which the ANDed year
    # constraints cannot state: value is the decade's first year
    "decade": ("year",),
    "item": ("item_id",),
}
NUMERIC = {"year", "runtime", "decade"}
SET_OPS = ("has", "not_has")
NUM_OPS = ("<", "<=", ">", ">=")
DECADE_OPS = ("in", "not_in")
OPS = SET_OPS + NUM_OPS + DECADE_OPS


class ConstraintError(ValueError):
    """A constraint that cannot be built or applied (unknown field, bad value, column missing)."""


def values_of(cell) -> list[str]:
    """A multi-valued catalog cell ("A|B", NaN, a list) as a list of stripped strings."""
    if cell is None or (not isinstance(cell, (list, tuple, set)) and pd.isna(cell)):
        return []
    if isinstance(cell, (list, tuple, set)):
        return [str(v).strip() for v in cell if str(v).strip()]
    return [v.strip() for v in str(cell).split("|") if v.strip()]


@dataclass(frozen=True)
class Constraint:
    field: str
    op: str
    value: object

    def __post_init__(self):
        if self.field not in FIELDS:
            raise ConstraintError(f"unknown constraint field {self.field!r}; known: {', '.join(FIELDS)}")
        allowed = DECADE_OPS if self.field == "decade" else NUM_OPS if self.field in NUMERIC else SET_OPS
        if self.op not in allowed:
            raise ConstraintError(f"{self.field} takes ops {allowed}, not {self.op!r}")
        if self.field in NUMERIC:
            try:
                object.__setattr__(self, "value", int(self.value))
            except (TypeError, ValueError):
                raise ConstraintError(f"{self.field} needs a whole number, got {self.value!r}") from None
            if self.field == "decade" and self.value % 10:
                raise ConstraintError(f"a decade starts at a year ending in 0, not {self.value}")
        elif self.field != "item":
            text = str(self.value).strip()
            if not text:
                raise ConstraintError(f"{self.field} constraint needs a value")
            object.__setattr__(self, "value", text)

    # -- for people -------------------------------------------------------------------
    def describe(self) -> str:
        f, op, v = self.field, self.op, self.value
        if f == "year":
            return {"<": f"released before {v}", "<=": f"released in {v} or earlier",
                    ">": f"released after {v}", ">=": f"released in {v} or later"}[op]
        if f == "decade":
            return f"from the {v}s" if op == "in" else f"not from the {v}s"
        if f == "runtime":
            return {"<": f"shorter than {v} minutes", "<=": f"at most {v} minutes long",
                    ">": f"longer than {v} minutes", ">=": f"at least {v} minutes long"}[op]
        neg = op == "not_has"
        if f == "genre":
            return f"no {v} films" if neg else f"{v} films"
        if f == "director":
            return f"not directed by {v}" if neg else f"directed by {v}"
        if f == "cast":
            return f"without {v}" if neg else f"with {v}"
        if f == "writer":
            return f"not written by {v}" if neg else f"written by {v}"
        if f in ("country", "language"):
            word = "made in" if f == "country" else "in"
            return f"not {word} {v}" if neg else f"{word} {v}"
        return f"not item {v}" if neg else f"item {v}"

    def to_dict(self) -> dict:
        return {"field": self.field, "op": self.op, "value": self.value}

    @classmethod
    def from_dict(cls, d: dict) -> "Constraint":
        return cls(d["field"], d["op"], d["value"])

    # -- for catalogs -----------------------------------------------------------------
    def holds(self, item: dict) -> bool:
        """Whether one item (a dict of catalog columns) satisfies the constraint.

        An item whose year/runtime is unknown does not satisfy a numeric constraint: it is
        unknown, not in range (the person asked for something specific).
        """
        if self.field in NUMERIC:
            x = item.get(FIELDS[self.field][0])  # a decade reads the year
            if x is None or pd.isna(x):
                return False
            return bool(self._compare(np.array([float(x)]))[0])
        if self.field == "item":
            hit = str(item.get("item_id")) == str(self.value)
        else:
            want = self.value.lower()
            hit = any(want == v.lower() for col in FIELDS[self.field] for v in values_of(item.get(col)))
        return hit if self.op == "has" else not hit

    def _compare(self, x: np.ndarray) -> np.ndarray:
        """The numeric test on an array of years / runtimes (NaN compares False, except for not_in)."""
        v = self.value
        with np.errstate(invalid="ignore"):
            if self.field == "decade":
                inside = (x >= v) & (x < v + 10)
                return inside if self.op == "in" else ~inside
            return {"<": x < v, "<=": x <= v, ">": x > v, ">=": x >= v}[self.op]

    def mask(self, items: pd.DataFrame, cache: dict | None = None) -> np.ndarray:
        """Boolean mask over ``items`` rows: True where the constraint holds.

        cache: a dict kept by the caller for one ``items`` frame; it holds the lowercased columns
        so that a conversation's many filters do not redo the string work every turn.
        """
        cols = [c for c in FIELDS[self.field] if c in items.columns]
        if not cols:
            raise ConstraintError(
                f"this catalog has no {' / '.join(FIELDS[self.field])} column, so '{self.describe()}' cannot be checked"
            )
        if self.field in NUMERIC:
            x = pd.to_numeric(items[cols[0]], errors="coerce").to_numpy(dtype=float)
            return self._compare(x) & ~np.isnan(x)
        if self.field == "item":
            hit = items["item_id"].astype(str).to_numpy() == str(self.value)
        else:
            want = self.value.lower()
            hit = np.zeros(len(items), dtype=bool)
            for col in cols:
                padded = cache.get(col) if cache is not None else None
                if padded is None:
                    # ("|" + "a|b" + "|") contains "|a|": exact value match without splitting every row
                    padded = ("|" + items[col].fillna("").astype(str).str.lower() + "|").str.replace(r"\s*\|\s*", "|", regex=True)
                    if cache is not None:
                        cache[col] = padded
                hit |= padded.str.contains("|" + want + "|", regex=False).to_numpy()
        return hit if self.op == "has" else ~hit


def decade_of(constraints) -> tuple[int, bool] | None:
    """(first year, inside?) when ``constraints`` state one decade: "from the 1980s" is the year
    range 1980-1989, "not from the 1980s" the decade constraint; None for anything else."""
    cs = tuple(constraints)
    if len(cs) == 1 and cs[0].field == "decade":
        return cs[0].value, cs[0].op == "in"
    bounds = {(c.field, c.op): c.value for c in cs}
    if len(cs) == 2 and set(bounds) == {("year", ">="), ("year", "<=")} \
            and bounds[("year", ">=")] % 10 == 0 and bounds[("year", "<=")] == bounds[("year", ">=")] + 9:
        return bounds[("year", ">=")], True
    return None


#: Each operator and the one that keeps what it leaves out.
OPPOSITE_OP = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "has": "not_has", "not_has": "has", "in": "not_in", "not_in": "in"}


def negate_constraints(constraints) -> tuple | None:
    """The filter that keeps what ``constraints`` leave out: one constraint turned around ("made in
    France" -> "not made in France", "before 1990" -> "1990 or later"), a decade's year range as
    the decade left out; None when no single filter says it (not(A and B) is A or B)."""
    cs = tuple(constraints)
    decade = decade_of(cs)
    if decade is not None:
        return (Constraint("decade", "not_in" if decade[1] else "in", decade[0]),)
    if len(cs) == 1:
        return (Constraint(cs[0].field, OPPOSITE_OP[cs[0].op], cs[0].value),)
    return None


def apply_constraints(items: pd.DataFrame, constraints, cache: dict | None = None) -> np.ndarray:
    """Rows of ``items`` that satisfy every constraint (all True for none)."""
    keep = np.ones(len(items), dtype=bool)
    for c in constraints:
        keep &= c.mask(items, cache)
    return keep
