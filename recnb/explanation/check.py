"""Check every fact an explanation states about an item against that item's facts.

A claim is a mention of something the catalog knows as a fact: a genre, a person (director,
writer or cast, two words or more), a country or language, a year or decade, a runtime, an Oscar.
The vocabulary comes from the whole catalog, so a wrong director or a genre the film does not
have is recognised and flagged, not only the right ones confirmed. A mention that is not an item
fact is accepted only as a reference to the user's taste: when the profile states it and the
sentence is about the user (cites [S#] or says "you like ...", "your ...").

Citations are checked too: [S#] must be a profile statement, [F#] an item fact.
This is deliberately literal (no paraphrase understanding): what it cannot read, it does not
count as supported, and the counts say how many claims were found at all.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from recnb.data.titles import natural_title
from recnb.explanation.facts import Fact, item_facts
from recnb.text.prompts import item_text

#: catalog columns -> claim group
GROUPS = {"genres": "genre", "wd_genres": "genre", "director": "person", "writer": "person", "cast": "person",
          "country": "origin", "language": "origin"}
#: everyday words for catalog values ("science fiction" for Sci-Fi): a short, explicit list
ALIASES = {
    "science fiction": ("genre", "Sci-Fi"), "scifi": ("genre", "Sci-Fi"), "sci fi": ("genre", "Sci-Fi"),
    "animated": ("genre", "Animation"), "romantic": ("genre", "Romance"), "comedies": ("genre", "Comedy"),
    "thrillers": ("genre", "Thriller"), "dramas": ("genre", "Drama"), "musicals": ("genre", "Musical"),
    "westerns": ("genre", "Western"), "documentaries": ("genre", "Documentary"), "film noir": ("genre", "Film-Noir"),
    "american": ("origin", "United States"), "british": ("origin", "United Kingdom"), "french": ("origin", "French"),
    "italian": ("origin", "Italian"), "german": ("origin", "German"), "japanese": ("origin", "Japanese"),
    "spanish": ("origin", "Spanish"),
}
_WORD = re.compile(r"[A-Za-zÀ-ÿ0-9][A-Za-zÀ-ÿ0-9'’\-\.]*")
_YEAR = re.compile(r"\b(1[89]\d\d|20[0-4]\d)(s)?\b")
_RUNTIME = re.compile(r"\b(\d{2,3})[\s-]?(?:minutes?|mins?)\b", re.I)
_OSCAR = re.compile(r"\b(oscars?|academy awards?)\b", re.I)
_CITE = re.compile(r"\[([SF])(\d+)\]")
_TASTE = re.compile(r"\[S\d+\]|\byou(?:'ve| have)?\s+(?:like|love|enjoy|liked|loved|enjoyed|prefer|rated)\b|\byour\b|\bfan of\b", re.I)


def _norm(text: str) -> str:
    """Lower-case words joined by single spaces, split exactly as mentions() splits text."""
    return " ".join(w for w in (w.strip(".'’").lower() for w in _WORD.findall(text)) if w)


class FactVocabulary:
    """Every genre, person (2+ words), country and language in a catalog, by normalised surface form."""

    def __init__(self, items: pd.DataFrame):
        self.terms: dict[str, tuple] = {}
        for col, group in GROUPS.items():
            if col not in items:
                continue
            for raw in items[col].dropna().astype(str):
                for v in raw.split("|"):
                    v = v.strip()
                    if not v or v == "(no genres listed)" or (group == "person" and len(v.split()) < 2):
                        continue
                    self.terms.setdefault(_norm(v), (group, v))
        for k, v in ALIASES.items():
            self.terms.setdefault(_norm(k), v)
        for k, (g, v) in list(self.terms.items()):
            if "-" in k:
                self.terms.setdefault(k.replace("-", " "), (g, v))
        self.max_words = max((len(k.split()) for k in self.terms), default=1)

    def mentions(self, text: str) -> list[tuple[str, str, str]]:
        """(surface text, group, catalog value) for each known term in ``text``, longest match first."""
        words = [w.strip(".'’") for w in _WORD.findall(text)]
        words = [w for w in words if w]
        low = [w.lower() for w in words]
        out, i = [], 0
        while i < len(words):
            for n in range(min(self.max_words, len(words) - i), 0, -1):
                key = " ".join(low[i:i + n])
                if key in self.terms:
                    out.append((" ".join(words[i:i + n]), *self.terms[key]))
                    i += n
                    break
            else:
                i += 1
        return out


@dataclass
class Claim:
    text: str  # as written
    kind: str  # genre, person, origin, year, decade, runtime, award
    value: str  # the catalog value it names
    about: str  # "item" or "profile"
    supported: bool
    evidence: str = ""  # the fact id ("F3") or statement id ("S2") that supports it, or why not


@dataclass
class ExplanationCheck:
    text: str
    claims: list = field(default_factory=list)
    citations: list = field(default_factory=list)  # "S1", "F2", ... as written
    bad_citations: list = field(default_factory=list)  # citations of statements/facts that do not exist

    @property
    def unsupported(self) -> list:
        return [c for c in self.claims if not c.supported]

    @property
    def ok(self) -> bool:
        return not self.unsupported and not self.bad_citations

    def summary(self) -> dict:
        return {"claims": len(self.claims), "unsupported": len(self.unsupported), "citations": len(self.citations),
                "bad_citations": len(self.bad_citations), "ok": self.ok}


def _item_values(facts: list[Fact]) -> dict:
    by: dict = {"genre": {}, "person": {}, "origin": {}}
    group_of = {"genre": "genre", "director": "person", "writer": "person", "cast": "person", "country": "origin",
                "language": "origin"}
    for f in facts:
        g = group_of.get(f.kind)
        if g:
            for v in f.all_values:
                by[g].setdefault(str(v).lower(), f.id)
    return by


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def check_explanation(text: str, item, profile=None, vocab: FactVocabulary | None = None, items: pd.DataFrame | None = None) -> ExplanationCheck:
    """Every claim in ``text`` about ``item`` (a catalog row), checked against its facts.

    profile: a Profile (statements [S1]...) or text; vocab: a FactVocabulary (built from ``items``
    when not given; build it once for many checks).
    """
    if vocab is None:
        if items is None:
            raise ValueError("check_explanation needs vocab= or items= (the catalog the claim vocabulary comes from)")
        vocab = FactVocabulary(items)
    facts = item_facts(item)
    statements = [s.text for s in getattr(profile, "statements", []) if s.text] if profile is not None and not isinstance(profile, str) else (
        [profile] if profile else [])
    profile_text = " ".join(statements).lower()
    values = _item_values(facts)
    fact_of = {f.kind: f for f in facts}
    check = ExplanationCheck(text=text)
    for kind, num in _CITE.findall(text):
        check.citations.append(f"{kind}{num}")
        limit = len(statements) if kind == "S" else len(facts)
        if not 1 <= int(num) <= limit:
            check.bad_citations.append(f"{kind}{num}")
    # The item's own title is not a claim ("Romance (1999)" names no genre, "(1999)" is its year label).
    titles = sorted({t for t in (item_text(item), natural_title(str(item.get("title", ""))), str(item.get("title", ""))) if t},
                    key=len, reverse=True)
    for sentence in _sentences(text):
        for t in titles:
            sentence = re.sub(re.escape(t), "the film", sentence, flags=re.I)
        taste = bool(_TASTE.search(sentence))
        for surface, group, value in vocab.mentions(sentence):
            fid = values[group].get(value.lower())
            if fid:
                check.claims.append(Claim(surface, group, value, "item", True, fid))
            elif taste and (value.lower() in profile_text or surface.lower() in profile_text):
                check.claims.append(Claim(surface, group, value, "profile", True, "profile statement"))
            else:
                check.claims.append(Claim(surface, group, value, "item", False, f"not a {group} of this item"))
        year = fact_of.get("year")
        for m in _YEAR.finditer(sentence):
            y = int(m.group(1))
            if m.group(2):  # a decade, "1990s"
                ok = year is not None and int(year.values[0]) // 10 * 10 == y
                check.claims.append(Claim(m.group(0), "decade", m.group(0), "item", ok, year.id if ok else "not the item's decade"))
            else:
                ok = year is not None and int(year.values[0]) == y
                check.claims.append(Claim(m.group(0), "year", str(y), "item", ok, year.id if ok else "not the item's year"))
        runtime = fact_of.get("runtime")
        for m in _RUNTIME.finditer(sentence):
            ok = runtime is not None and abs(float(runtime.values[0]) - int(m.group(1))) <= 1
            check.claims.append(Claim(m.group(0), "runtime", m.group(1), "item", ok, runtime.id if ok else "not the item's runtime"))
        awards = fact_of.get("awards")
        for m in _OSCAR.finditer(sentence):
            ok = awards is not None and "oscar" in " ".join(map(str, awards.values)).lower()
            check.claims.append(Claim(m.group(0), "award", "Oscar", "item", ok, awards.id if ok else "no Oscar in the item's facts"))
    return check
