"""An item's facts as numbered, citable lines ([F1] Year: 1995, [F2] Genres: ..., [F3] Director: ...)."""
from __future__ import annotations

import re
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


# -- Oscar claims: one reading for explanations and RAG answers --------------------------------------
OSCAR = re.compile(r"\b(oscars?|academy awards?)\b", re.I)
_COUNTS = {w: n for n, w in enumerate("zero one two three four five six seven eight nine ten eleven".split())}
_COUNT_BEFORE = re.compile(r"\b(\d{1,2}|" + "|".join(_COUNTS) + r")\s+$", re.I)
_VERBS = re.compile(r"\b(won|wins|winning|winner of|received|earned|took home|nominated|nomination|nominations)\b", re.I)


def read_award_claim(text: str, start: int, end: int) -> str:
    """What the Oscar mention at ``text[start:end]`` claims: "won 3 Oscars", "won an Oscar",
    "nominated for 5 Oscars", "nominated for an Oscar", or "an Oscar" (no verb: any Oscar fact backs it).

    The verb is the last one before the mention in its sentence, or "-winning"/"-nominated" after it.
    """
    before = re.split(r"[.!?]\s", text[max(0, start - 60):start])[-1]
    after = text[end:end + 12].lower()
    verbs = _VERBS.findall(before)
    verb = ("won" if re.match(r"[- ](?:winning|winner)", after) else
            "nominated" if re.match(r"[- ](?:nominated|nominee)", after) else
            ("nominated" if verbs[-1].lower().startswith("nominat") else "won") if verbs else "")
    m = _COUNT_BEFORE.search(before)
    count = None if m is None else int(m.group(1)) if m.group(1).isdigit() else _COUNTS[m.group(1).lower()]
    what = f"{count} Oscars" if count is not None and count != 1 else "an Oscar"
    return {"won": f"won {what}", "nominated": f"nominated for {what}"}.get(verb, "an Oscar")


def _oscar_count(pattern: str, awards: str) -> int:
    m = re.search(pattern + r"\s+(\d+|an?|" + "|".join(_COUNTS) + r")\s+(?:oscars?|academy awards?)", awards)
    if m is None:
        return 0
    w = m.group(1)
    return int(w) if w.isdigit() else 1 if w in ("a", "an") else _COUNTS[w]


def award_claim_holds(claim: str, awards, oscars=None) -> bool:
    """Whether the catalog's awards text (OMDb style: "Won 3 Oscars.", "Nominated for 5 Oscars.") and
    Oscar count back a claim read by :func:`read_award_claim`. A stated count must match."""
    text = "" if awards is None or (not isinstance(awards, str) and pd.isna(awards)) else str(awards).lower()
    won = _oscar_count(r"\bwon", text)
    if oscars is not None and not pd.isna(oscars):
        won = max(won, int(oscars))
    nominated = _oscar_count(r"\bnominated for", text)
    m = re.match(r"(won|nominated for) (\d+|an) ", claim)
    stated = None if m is None or m.group(2) == "an" else int(m.group(2))
    if claim.startswith("won"):
        return won > 0 and stated in (None, won)
    if claim.startswith("nominated"):
        return (nominated > 0 or won > 0) and stated in (None, nominated)
    return won > 0 or nominated > 0 or bool(OSCAR.search(text))


def facts_text(facts: list[Fact]) -> str:
    return "\n".join(f.text for f in facts) or "(no facts known)"
