"""Grounding free text to items: parse a generated list, match each line to a candidate, count every error.

An LLM asked to rank candidates writes text. Each line is matched to the candidate titles by
fuzzy match (rapidfuzz), and every way it can go wrong is kept and counted, never dropped:

* ``invalid``: a line that matches no candidate and no catalog title (a made-up title);
* ``prose``: a line that matches nothing and is not written as a title ("Here are my picks:",
  "I hope you enjoy these!"): counted, but not as a hallucinated item;
* ``outside``: a real catalog title that is not among the candidates ("Toy Story 2" when only
  "Toy Story" was offered, or the 1954 "Sabrina" when the 1995 one was);
* ``duplicates``: a candidate named again after its first mention;
* ``missing``: candidates never named;
* ``truncated``: lines past ``max_lines``, not examined.

Every line is matched against the whole catalog too, so a real film that merely resembles a
candidate is not credited to it; numbers (2, II, IV...) must agree before a fuzzy match counts,
and the year tells remakes apart.

:func:`order_scores` turns the grounded order into scores; missing candidates tie at the bottom,
below every named one, so they are never ranked above something the model did name (a
pessimistic reading of the model's answer).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
from rapidfuzz import fuzz, process

from recnb.data.titles import normalize_title, split_title_year

#: Numbering and bullets a model puts before titles, always stripped: "1.", "2)", "#3", "- ", "* ".
_BULLET = re.compile(r"^\s*(?:\d{1,3}\s*[.)\]]|#\d{1,3}[.:]?|[-*•·])\s*")
#: Labels that can also start a title ("M. Butterfly", "(500) Days of Summer", "24: Redemption"):
#: "A. ", "(B)", "(3)", "4: ", stripped only when most lines (at least two) carry one, as in an
#: answer to a prompt that labelled the candidates A, B, C. Initials ("L.A.", "I.Q.") have no space.
_LABEL = re.compile(r"^\s*(?:[A-Z][.)]\s+|\(\s*(?:[A-Z]|\d{1,3})\s*\)\s*|\d{1,3}\s*:\s+)")
_WRAP = re.compile(r'^["“”\'*_`]+|["“”\'*_`]+$')
_TRAILER = re.compile(r"\s+[-–—:]\s+.*$")  # "Heat (1995) - a great heist film"
_ARTICLE = re.compile(r"^(?:the|a|an)\s+(?=\S)")
#: words a Title Case title leaves lower-case
_SMALL_WORDS = {"a", "an", "the", "and", "or", "but", "nor", "of", "in", "on", "at", "to", "for", "by", "with",
                "from", "into", "as", "vs", "de", "la", "le", "du", "des", "von", "van", "del", "da", "di"}
_ROMAN = re.compile(r"x{0,3}(?:ix|iv|v?i{0,3})")  # i..xxxix: sequels and episodes, not words like "mix"


def _items(text: str) -> list[str]:
    """Every item of a generated list, in order: one per line (or per ';' when on one line), cleaned."""
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    if len(lines) == 1 and ";" in lines[0]:
        lines = [ln.strip() for ln in lines[0].split(";")]
    labelled = sum(bool(_LABEL.match(ln)) for ln in lines)
    strip_labels = labelled >= 2 and 2 * labelled > len(lines)
    out = []
    for ln in lines:
        ln = _LABEL.sub("", ln, count=1) if strip_labels and _LABEL.match(ln) else _BULLET.sub("", ln, count=1)
        ln = _WRAP.sub("", ln.strip()).strip()
        if ln:
            out.append(ln)
    return out


def looks_like_title(text: str) -> bool:
    """Is this line written as a title ("The Last Hope") rather than prose ("Enjoy the show!")?

    Title Case is the cue: every word but small function words starts upper-case (or is a number),
    and there is a letter somewhere. Only used for lines that match no catalog title, to tell an
    invented film from a sentence.
    """
    words = [w.strip("\"“”'`!?.,;:*()") for w in text.split()]
    words = [w for w in words if w]
    # a bare number ("2015" where a title should be) names nothing either
    return any(c.isalpha() for w in words for c in w) and all(w[0].isupper() or w[0].isdigit() or not w[0].isalpha()
                               or (i and w.lower() in _SMALL_WORDS) for i, w in enumerate(words))


def _written_title(line: str) -> str:
    """The part of a generated line that would be the title: year and " - commentary" cut."""
    title, _ = split_title_year(line.strip())
    title, _ = split_title_year(_TRAILER.sub("", title))
    return title


def parse_list(text: str, max_lines: int = 200) -> list[str]:
    """The first ``max_lines`` items of a generated list (:func:`ground` counts the rest as truncated)."""
    return _items(text)[:max_lines]


def _parts(text: str, trailer: bool = True) -> tuple[str, int | None]:
    """(normalised title, year or None) of a title as written; ``trailer`` cuts " - commentary" after it.

    Catalog titles keep theirs: "Mission: Impossible - Rogue Nation" is not "Mission: Impossible".
    """
    title, year = split_title_year(text.strip())  # "Star Wars: Episode IV - A New Hope (1977)"
    if trailer:
        title = _TRAILER.sub("", title)
        if year is None:  # "Heat (1995) - a great heist film": the year sits before the commentary
            title, year = split_title_year(title)
    return normalize_title(title), year


def _match_key(title: str) -> str:
    """The key titles are matched on: a leading English article dropped ("Matrix" is "The Matrix"; a
    fuzzy score would put the two below the threshold)."""
    return _ARTICLE.sub("", title)


def title_key(text: str) -> str:
    """A matching key: year and trailing commentary dropped, article in front, case/accents folded."""
    return _parts(text)[0]


def _sort_tokens(key: str) -> str:
    return " ".join(sorted(key.split()))


def _roman_value(s: str) -> int:
    vals = [{"i": 1, "v": 5, "x": 10}[c] for c in s]
    return sum(-v if n + 1 < len(vals) and v < vals[n + 1] else v for n, v in enumerate(vals))


def numbers(key: str) -> frozenset:
    """The numbers in a key (digits and roman numerals: "toy story 2" -> {2}, "rocky ii" -> {2}).

    Fuzzy scores barely see them ("Toy Story" vs "Toy Story 2" is 90), so they must agree exactly.
    A single letter next to another one is an initial, not a numeral ("g i jane", "p s i love you").
    """
    toks = key.split()
    out = set()
    for n, t in enumerate(toks):
        if t.isdigit():
            out.add(int(t))
        elif _ROMAN.fullmatch(t) and not (len(t) == 1 and any(len(toks[m]) == 1 for m in (n - 1, n + 1)
                                                                  if 0 <= m < len(toks))):
            out.add(_roman_value(t))
    return frozenset(out)


@dataclass
class Grounding:
    """The result of grounding one generated list to a candidate set."""

    lines: list
    order: list  # candidate ids in the order the model named them (first mention only)
    matched: list = field(default_factory=list)  # (line, item_id, similarity) per grounded line
    invalid: list = field(default_factory=list)  # lines written as a title that names nothing in the catalog
    prose: list = field(default_factory=list)  # lines naming nothing, not written as a title (counted, not items)
    outside: list = field(default_factory=list)  # (line, catalog item id) of real titles not among the candidates
    duplicates: list = field(default_factory=list)  # (line, item id) of repeated mentions
    missing: list = field(default_factory=list)  # candidate ids never named
    truncated: int = 0  # lines past max_lines, not examined (counted, never silently dropped)

    @property
    def hallucinated(self) -> list:
        """Lines that are not a candidate: invented titles and real titles outside the candidate set."""
        return list(self.invalid) + [line for line, _ in self.outside]

    def counts(self) -> dict:
        return {"lines": len(self.lines), "grounded": len(self.order), "invalid_titles": len(self.invalid),
                "outside_candidates": len(self.outside), "duplicates": len(self.duplicates), "missing": len(self.missing),
                "truncated_lines": self.truncated, "prose_lines": len(self.prose)}


class TitleMatcher:
    """Fuzzy matching of free-text titles to item ids; keys are computed once, so build one per catalog."""

    def __init__(self, titles: Mapping, threshold: float = 85.0):
        self.threshold = threshold
        self.ids = list(titles)
        parts = [_parts(str(titles[i]), trailer=False) for i in self.ids]
        self.keys = [_match_key(k) for k, _ in parts]
        self.years = {i: y for i, (_, y) in zip(self.ids, parts)}
        self.by_key: dict[str, list] = {}  # key -> ids sharing it (remakes: "Sabrina" 1954 and 1995), in order
        for i, k in zip(self.ids, self.keys):
            if k:
                self.by_key.setdefault(k, []).append(i)
        # The key without a " - subtitle" ("star wars episode iv"): a last resort for lines that leave
        # it out, never an exact match (that is the full title's: "Mission: Impossible" is the 1996 film).
        self.by_short: dict[str, list] = {}
        for i, k in zip(self.ids, self.keys):
            short = _match_key(_parts(str(titles[i]))[0])
            if short and short != k:
                self.by_short.setdefault(short, []).append(k)
        self._keys = list(self.by_key)
        self._numbers = [numbers(k) for k in self._keys]
        self._sorted = [_sort_tokens(k) for k in self._keys]  # token_sort_ratio, its sorting done once

    def best_key(self, key: str, allow: Callable[[str], bool] | None = None) -> tuple:
        """(key, similarity, exact) of the best key that ``allow`` accepts, at or above the threshold and
        with the same numbers; (None, best similarity of any key, False) when there is none."""
        if not key or not self._keys:
            return None, 0.0, False
        if key in self.by_key and (allow is None or allow(key)):
            return key, 100.0, True
        nums = numbers(key)
        # token_sort_ratio (word order and small typos tolerated) over the pre-sorted keys; ties keep key order.
        for _, score, n in process.extract(_sort_tokens(key), self._sorted, scorer=fuzz.ratio, limit=None,
                                           score_cutoff=self.threshold):
            if self._numbers[n] == nums and (allow is None or allow(self._keys[n])):
                return self._keys[n], float(score), False
        for k in self.by_short.get(key, ()):
            if allow is None or allow(k):
                return k, float(self.threshold), False
        return None, 0.0, False

    def line_parts(self, text: str, *others: "TitleMatcher | None") -> tuple[str, int | None]:
        """(match key, year) of a generated line: the whole line when it names a title here (or in
        ``others``) as written, subtitle and all; else with its trailing commentary cut."""
        full, year = _parts(text, trailer=False)
        cut, cut_year = _parts(text)
        if full != cut and any(m is not None and m.best_key(_match_key(full))[0] is not None for m in (self, *others)):
            return _match_key(full), year
        return _match_key(cut), cut_year

    def pick(self, ids: Sequence, year: int | None):
        """Of ids sharing a title key (remakes), the one of ``year`` when written and known, else the first."""
        return next((i for i in ids if year is not None and self.years[i] == year), ids[0])

    def best(self, text: str, among: Sequence | None = None) -> tuple:
        """(item id, similarity 0-100) of the best match at or above the threshold, else (None, best score).

        Of several titles sharing the key, the one with the year written ("Sabrina (1954)"), else the first.
        """
        key, year = self.line_parts(text)
        among = None if among is None else set(among)
        allow = None if among is None else (lambda k: any(i in among for i in self.by_key[k]))
        k, sim, _ = self.best_key(key, allow)
        if k is None:  # report the best score seen, as before
            hit = process.extractOne(_sort_tokens(key), self._sorted, scorer=fuzz.ratio) if key and self._keys else None
            return None, float(hit[1]) if hit else 0.0
        ids = [i for i in self.by_key[k] if among is None or i in among]
        return self.pick(ids, year), sim


def ground(text_or_lines, candidates: Sequence, titles: Mapping, catalog_titles: Mapping | None = None,
           threshold: float = 85.0, matcher: TitleMatcher | None = None,
           catalog_matcher: TitleMatcher | None = None, max_lines: int = 200) -> Grounding:
    """Match a generated ranking to ``candidates``.

    titles: {item id: title} for the candidates (at least). catalog_titles (or a prebuilt
    catalog_matcher): {item id: title} for the whole catalog, to tell a real film outside the
    candidate set from an invented one (without it, every non-candidate line counts as invalid).
    Text is cut at ``max_lines`` items (the rest counted in ``truncated``); a list is used whole.
    """
    if isinstance(text_or_lines, str):
        items = _items(text_or_lines)
        lines, truncated = items[:max_lines], max(0, len(items) - max_lines)
    else:
        lines, truncated = [str(x) for x in text_or_lines], 0
    candidates = list(candidates)
    cand_set = set(candidates)
    matcher = matcher or TitleMatcher({c: titles[c] for c in candidates}, threshold)
    if catalog_titles is not None and catalog_matcher is None:
        catalog_matcher = TitleMatcher(catalog_titles, threshold)
    cat = catalog_matcher

    def is_candidate_key(k):
        return any(i in cand_set for i in matcher.by_key.get(k, ()))

    def is_outside_key(k):  # a catalog key no candidate has (candidates' remakes are told apart by year below)
        return not is_candidate_key(k) and not any(i in cand_set for i in cat.by_key[k])

    g = Grounding(lines=lines, order=[], truncated=truncated)
    seen = set()
    for line in lines:
        key, year = matcher.line_parts(line, cat)
        k, sim, exact = matcher.best_key(key, is_candidate_key)
        # Also match the whole catalog: a real non-candidate that matches at least as well (or exactly)
        # is what the line names ("Aliens" is not "Alien", "Toy Story 2" is not "Toy Story").
        if cat is not None and not exact:
            out_k, out_sim, out_exact = cat.best_key(key, is_outside_key)
            if out_k is not None and (k is None or out_exact or out_sim >= sim):
                ids = cat.by_key[out_k]
                g.outside.append((line, cat.pick(ids, year)))
                continue
        if k is None:
            (g.invalid if looks_like_title(_written_title(line)) else g.prose).append(line)
            continue
        pool = [c for c in matcher.by_key[k] if c in cand_set]
        if year is not None:
            same = [c for c in pool if matcher.years[c] == year]
            remake = [i for i in cat.by_key.get(k, ()) if i not in cand_set and cat.years[i] == year] if cat else []
            if not same and remake:  # "Sabrina (1954)" when the candidate is the 1995 one
                g.outside.append((line, remake[0]))
                continue
            pool = same or pool  # a wrong year that no film of that title has is tolerated
        # Candidates sharing the key (remakes) are taken in turn, so naming each is not a duplicate.
        item = next((c for c in pool if c not in seen), pool[0])
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
