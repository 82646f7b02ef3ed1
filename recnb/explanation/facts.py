"""An item's facts as numbered, citable lines ([F1] Year: 1995, [F2] Genres: ..., [F3] Director: ...)."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

#: (fact kind, catalog columns, label, how many values to show). People lists are long; the first names lead.
FACT_FIELDS = (
    ("year", ("year",), "Year", 1),
    ("genre", ("genres", "wd_genres"), "Genres", 6),
    ("director", ("director",), "Director", 3),
    ("writer", ("writer",), "Writers", 3),
    ("cast", ("cast",), "Cast", 5),
    ("country", ("country",), "Country", 3),
    ("language", ("language",), "Language", 3),
    ("runtime", ("runtime",), "Runtime", 1),
    ("awards", ("awards",), "Awards", 1),
)


@dataclass(frozen=True)
class Fact:
    id: str  # "F1"
    kind: str  # year, genre, director, writer, cast, country, language, runtime, awards
    values: tuple  # the values shown (genre names, people, ...)
    all_values: tuple  # every value the catalog has for this kind (a claim may name one not shown)

    @property
    def text(self) -> str:
        label = dict((k, lab) for k, _, lab, _ in FACT_FIELDS)[self.kind]
        shown = ", ".join(map(str, self.values)) + (" minutes" if self.kind == "runtime" else "")
        return f"[{self.id}] {label}: {shown}"


def _values(row, columns) -> list:
    out: list = []
    for col in columns:
        raw = row.get(col) if hasattr(row, "get") else None
        if raw is None or (not isinstance(raw, str) and pd.isna(raw)):
            continue
        if isinstance(raw, str):
            parts = [p.strip() for p in raw.split("|") if p.strip() and p.strip() != "(no genres listed)"]
        else:
            parts = [int(raw) if float(raw).is_integer() else float(raw)]
        for p in parts:
            if p not in out:
                out.append(p)
    return out


def item_facts(row) -> list[Fact]:
    """The facts the catalog has for one item (a row dict or Series), numbered F1, F2, ... in a fixed order."""
    facts = []
    for kind, columns, _, show in FACT_FIELDS:
        vals = _values(row, columns)
        if kind in ("runtime", "year") and vals and not vals[0]:
            vals = []
        if vals:
            facts.append(Fact(f"F{len(facts) + 1}", kind, tuple(vals[:show]), tuple(vals)))
    return facts


#: Minutes a stated runtime may be off and still agree: prose rounds runtimes ("about 165 minutes"
#: for 170), while a runtime taken from another film is usually further off. One rule for every
#: checker (explanations and RAG answers), so the same sentence is judged the same everywhere.
RUNTIME_TOLERANCE = 5


def numeric_claim_holds(kind: str, stated, actual) -> bool:
    """Whether a stated year / decade (its first year) / runtime agrees with the catalog's value.

    An unknown catalog value supports nothing.
    """
    if actual is None or (not isinstance(actual, str) and pd.isna(actual)):
        return False
    stated, actual = int(float(stated)), float(actual)
    if kind == "year":
        return stated == int(actual)
    if kind == "decade":
        return stated == int(actual) // 10 * 10
    if kind == "runtime":
        return abs(actual - stated) <= RUNTIME_TOLERANCE
    raise ValueError(f"not a numeric claim kind: {kind!r}")


def facts_text(facts: list[Fact]) -> str:
    return "\n".join(f.text for f in facts) or "(no facts known)"
