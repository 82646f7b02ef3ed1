"""Grounding free text to items: parse a generated list, match each line to a candidate, count every error.

An LLM asked to rank candidates writes text. Each line is matched to the candidate titles by
fuzzy match (rapidfuzz), and every way it can go wrong is kept and counted, never dropped:

* ``invalid``: a line that matches no candidate and no catalog title (a made-up title);
* ``outside``: a real catalog title that is not among the candidates;
* ``duplicates``: a candidate named again after its first mention;
* ``missing``: candidates never named.

:func:`order_scores` turns the grounded order into scores; missing candidates tie at the bottom,
below every named one, so they are never ranked above something the model did name (a
pessimistic reading of the model's answer).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
from rapidfuzz import fuzz, process, utils

from recnb.data.titles import normalize_title, split_title_year

#: Numbering and bullets a model puts before titles: "1.", "2)", "#3", "- ", "* ", "A.", "(B)".
_BULLET = re.compile(r"^\s*(?:(?:\d{1,3}|[A-Z])\s*[.):\]]|\(\s*(?:\d{1,3}|[A-Z])\s*\)|#\d{1,3}[.:]?|[-*•·])\s*")
_WRAP = re.compile(r'^["“”\'*_`]+|["“”\'*_`]+$')
_TRAILER = re.compile(r"\s+[-–—:]\s+.*$")  # "Heat (1995) - a great heist film"


def parse_list(text: str, max_lines: int = 200) -> list[str]:
    """The items of a generated list, in order: one per line (or per ';' when on one line), cleaned."""
    lines = [ln for ln in (text or "").splitlines() if ln.strip()]
    if len(lines) == 1 and ";" in lines[0]:
        lines = lines[0].split(";")
    out = []
    for ln in lines[:max_lines]:
        ln = _BULLET.sub("", ln.strip(), count=1)
        ln = _WRAP.sub("", ln.strip()).strip()
        if ln:
            out.append(ln)
    return out


def title_key(text: str) -> str:
    """A matching key: year and trailing commentary dropped, article in front, case/accents folded."""
    text = _TRAILER.sub("", text.strip())
    title, _ = split_title_year(text)
    return normalize_title(title)


@dataclass
class Grounding:
    """The result of grounding one generated list to a candidate set."""

    lines: list
    order: list  # candidate ids in the order the model named them (first mention only)
    matched: list = field(default_factory=list)  # (line, item_id, similarity) per grounded line
    invalid: list = field(default_factory=list)  # lines naming nothing in the catalog
    outside: list = field(default_factory=list)  # (line, catalog item id) of real titles not among the candidates
    duplicates: list = field(default_factory=list)  # (line, item id) of repeated mentions
    missing: list = field(default_factory=list)  # candidate ids never named

    @property
    def hallucinated(self) -> list:
        """Lines that are not a candidate: invented titles and real titles outside the candidate set."""
        return list(self.invalid) + [line for line, _ in self.outside]

    def counts(self) -> dict:
        return {"lines": len(self.lines), "grounded": len(self.order), "invalid_titles": len(self.invalid),
                "outside_candidates": len(self.outside), "duplicates": len(self.duplicates), "missing": len(self.missing)}


class TitleMatcher:
    """Fuzzy matching of free-text titles to item ids (candidates first, then the whole catalog)."""

    def __init__(self, titles: Mapping, threshold: float = 85.0):
        self.threshold = threshold
        self.ids = list(titles)
        self.keys = [title_key(str(titles[i])) for i in self.ids]

    def best(self, text: str, among: Sequence | None = None) -> tuple:
        """(item id, similarity 0-100) of the best match at or above the threshold, else (None, best score)."""
        key = title_key(text)
        if not key:
            return None, 0.0
        if among is None:
            choices = self.keys
            ids = self.ids
        else:
            pos = {i: n for n, i in enumerate(self.ids)}
            ids = [i for i in among if i in pos]
            choices = [self.keys[pos[i]] for i in ids]
        if not choices:
            return None, 0.0
        # token_sort_ratio: word order and small typos tolerated, a different film is not ("Alien" vs "Aliens" 91,
        # so the exact key is checked first).
        for n, c in enumerate(choices):
            if c == key:
                return ids[n], 100.0
        hit = process.extractOne(key, choices, scorer=fuzz.token_sort_ratio, processor=utils.default_process)
        if hit is None:
            return None, 0.0
        _, score, n = hit
        return (ids[n], float(score)) if score >= self.threshold else (None, float(score))


def ground(text_or_lines, candidates: Sequence, titles: Mapping, catalog_titles: Mapping | None = None,
           threshold: float = 85.0, matcher: TitleMatcher | None = None,
           catalog_matcher: TitleMatcher | None = None) -> Grounding:
    """Match a generated ranking to ``candidates``.

    titles: {item id: title} for the candidates (at least). catalog_titles: {item id: title} for
    the whole catalog, to tell a real film outside the candidate set from an invented one (without
    it, every non-candidate line counts as invalid).
    """
    lines = parse_list(text_or_lines) if isinstance(text_or_lines, str) else [str(x) for x in text_or_lines]
    candidates = list(candidates)
    matcher = matcher or TitleMatcher({c: titles[c] for c in candidates}, threshold)
    if catalog_titles is not None and catalog_matcher is None:
        catalog_matcher = TitleMatcher(catalog_titles, threshold)
    g = Grounding(lines=lines, order=[])
    seen = set()
    for line in lines:
        item, sim = matcher.best(line, among=candidates)
        if item is None:
            other = catalog_matcher.best(line)[0] if catalog_matcher is not None else None
            if other is not None and other not in set(candidates):
                g.outside.append((line, other))
            else:
                g.invalid.append(line)
            continue
        if item in seen:
            g.duplicates.append((line, item))
            continue
        seen.add(item)
        g.order.append(item)
        g.matched.append((line, item, sim))
    g.missing = [c for c in candidates if c not in seen]
    return g


def order_scores(order: Sequence, candidates: Sequence) -> np.ndarray:
    """Scores from a (partial) order: the first named gets n, the next n-1, ...; unnamed candidates all get 0.

    Unnamed candidates tie below every named one; the evaluation breaks such ties pessimistically.
    """
    n = len(candidates)
    pos = {item: r for r, item in enumerate(order)}
    return np.array([float(n - pos[c]) if c in pos else 0.0 for c in candidates])
