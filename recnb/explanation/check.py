"""Check every fact an explanation states about an item against that item's facts.

A claim is a mention of something the catalog knows as a fact: a genre, a person (director,
writer or cast, two words or more), a country or language, a year or decade, a runtime, an Oscar.
The vocabulary comes from the whole catalog, so a wrong director or a genre the film does not
have is recognised and flagged, not only the right ones confirmed.

Each mention is read as being about the item or about the user, from where it sits in its clause:
after a taste phrase ("your love of X", "you like X", "fan of X") it is about the user and needs a
profile statement of the same polarity that names X ("your love of Horror" is not supported by
"I dislike Horror"); anything else ("Heat is a Horror film", "this Horror film", "directed by X")
is about the item and needs an item fact, even when the same sentence also mentions the user.
Role words ("directed by", "written by", "starring", "with", ...) decide which person field a
name is checked against; a name without one may match any of them.

Citations are checked too: [S#] must be a profile statement and [F#] an item fact that exist
(``bad_citations``), and, in a sentence that makes claims, each citation must back one of them
(``wrong_citations``); both fail ``ok``. Claims whose evidence is not cited are listed
(``uncited``) but do not fail ``ok``: uncited explanations are allowed, wrong ones are not.
This is deliberately literal (no paraphrase understanding): what it cannot read, it does not
count as supported, and the counts say how many claims were found at all.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from recnb.data.titles import natural_title
from recnb.explanation.facts import OSCAR, Fact, award_claim_holds, item_facts, numeric_claim_holds, read_award_claim
from recnb.text.profile import Profile, detect_polarity
from recnb.text.prompts import item_text

#: catalog columns -> claim group
GROUPS = {"genres": "genre", "wd_genres": "genre", "director": "person", "writer": "person", "cast": "person",
          "country": "origin", "language": "origin"}
#: claim group -> the item fact kinds that can support it
FIELDS = {"genre": ("genre",), "person": ("director", "writer", "cast"), "origin": ("country", "language")}
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
_CITE = re.compile(r"\[([SF])(\d+)\]")
# Where a clause starts: a mention's role and subject are read within its clause only.
_CLAUSE = re.compile(r"[;:,()—–]|\s-\s|\b(?:but|while|whereas|although|though|because|since|so)\b", re.I)
# Phrases that start a statement about the user's taste ("your love of", "you really like", "fan of").
# Not a bare "your" ("your evening") nor a prediction ("you'll love Al Pacino" is about the item).
_USER = re.compile(
    r"\byour\s+(?:\w+\s+)?(?:love|taste|fondness|passion|liking|preference|dislike|aversion|interest|favou?rite|"
    r"enjoyment|appetite|affinity|soft spot)s?\b|\bfan of\b|"
    r"\b(?:you|i)(?:['’](?:ve|re))?(?:\s+(?:have|are|do|really|also|clearly|always|often|already|especially|"
    r"particularly|generally|usually|evidently|obviously|seem to|tend to))*\s+(?:like|lov|enjoy|adore|prefer|rate|"
    r"dislike|hate|avoid|appreciate|(?:can'?t|cannot) stand|(?:do not|don'?t) (?:like|enjoy))\w*", re.I)
# Words that make what follows an assertion about the item (its title is rewritten to "the film").
_ITEM = re.compile(r"\b(?:the film|the movie|this|these|it|its|here)\b", re.I)
# Role words before a name ("directed by X", "starring X", "with X") and right after it ("X stars").
_ROLE_BEFORE = re.compile(
    r"\b(?:(?P<director>directed by|director|direction of|helmed by|filmmaker)|"
    r"(?P<writer>written by|writers?|screenwriters?|screenplay by|script by|penned by)|"
    r"(?P<cast>starring|stars?|starred|cast|casting|actors?|actress(?:es)?|featuring|features|with|"
    r"lead(?:ing)?(?: role)?|performances? (?:by|from)|played by))\b", re.I)
_ROLE_AFTER = re.compile(
    r"\s*(?:\[[SF]\d+\]\s*)?(?:also\s+)?(?:(?P<director>directs|directed(?!\s+by)|helms|helmed(?!\s+by))|"
    r"(?P<writer>wrote|writes|co-wrote|penned(?!\s+by))|"
    r"(?P<cast>stars?|starred|plays|played(?!\s+by)|leads|in the lead\w*|in the title role|as the lead))\b", re.I)
_ROLE_REACH = 3  # a role word governs a name at most this many words before it ("starring the great Al Pacino")
# Between two items of a list ("Al Pacino, Robert De Niro and Val Kilmer", "crime thrillers"): the role
# and subject carry over.
_LIST_GAP = re.compile(r"(?:\s|,|&|/|\[[SF]\d+\]|\b(?:and|or|plus|films?|movies?|genres?)\b)*", re.I)


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
        return [m[2:] for m in self.spans(text)]

    def spans(self, text: str) -> list[tuple[int, int, str, str, str]]:
        """As mentions(), each with its (start, end) character offsets in ``text`` first."""
        words = [(m.start(), m.group().strip(".'’")) for m in _WORD.finditer(text)]
        low = [w.lower() for _, w in words]
        out, i = [], 0
        while i < len(words):
            for n in range(min(self.max_words, len(words) - i), 0, -1):
                key = " ".join(low[i:i + n])
                if key in self.terms:
                    start, end = words[i][0], words[i + n - 1][0] + len(words[i + n - 1][1])
                    out.append((start, end, text[start:end], *self.terms[key]))
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
    role: str = ""  # for a person: director, writer or cast when the sentence says which ("" = any)
    sources: tuple = ()  # every fact / statement id that supports it
    cited: bool = False  # one of its sources is cited in its sentence


@dataclass
class ExplanationCheck:
    text: str
    claims: list = field(default_factory=list)
    citations: list = field(default_factory=list)  # "S1", "F2", ... as written
    bad_citations: list = field(default_factory=list)  # citations of statements/facts that do not exist
    wrong_citations: list = field(default_factory=list)  # citations that back none of their sentence's claims

    @property
    def unsupported(self) -> list:
        return [c for c in self.claims if not c.supported]

    @property
    def uncited(self) -> list:
        """Supported claims whose evidence their sentence does not cite (reported; does not fail ``ok``)."""
        return [c for c in self.claims if c.supported and not c.cited]

    @property
    def no_citations(self) -> bool:
        """It states item facts and cites nothing at all."""
        return not self.citations and any(c.about == "item" for c in self.claims)

    @property
    def ok(self) -> bool:
        return not self.unsupported and not self.bad_citations and not self.wrong_citations

    def summary(self) -> dict:
        return {"claims": len(self.claims), "unsupported": len(self.unsupported), "citations": len(self.citations),
                "bad_citations": len(self.bad_citations), "wrong_citations": len(self.wrong_citations),
                "uncited": len(self.uncited), "ok": self.ok}


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def _mentions(vocab: FactVocabulary, text: str) -> list[tuple[int, int, str, str, str]]:
    """(start, end, surface, kind, value) of every claim-like mention in ``text``, in reading order."""
    found = list(vocab.spans(text))
    found += [(m.start(), m.end(), m.group(0), "decade" if m.group(2) else "year", m.group(0) if m.group(2) else m.group(1))
              for m in _YEAR.finditer(text)]
    found += [(m.start(), m.end(), m.group(0), "runtime", m.group(1)) for m in _RUNTIME.finditer(text)]
    found += [(m.start(), m.end(), m.group(0), "award", read_award_claim(text, m.start(), m.end()))
              for m in OSCAR.finditer(text)]
    out, end = [], -1
    for m in sorted(found):
        if m[0] >= end:  # overlaps are read once
            out.append(m)
            end = m[1]
    return out


def _statements(profile, vocab: FactVocabulary) -> tuple[list, int]:
    """([(statement id, polarity, values it names)], how many [S#] exist). Text is one statement, S1."""
    if profile is None:
        return [], 0
    if isinstance(profile, str):
        # One citable statement, but "I like X but not Y" still has two polarities.
        parts, n = [(1, s) for s in Profile.from_text(profile).statements], int(bool(profile.strip()))
    else:
        stmts = [s for s in getattr(profile, "statements", []) if s.text]
        parts, n = list(enumerate(stmts, 1)), len(stmts)
    out = []
    for i, s in parts:
        values = {m[4].lower() for m in _mentions(vocab, s.text)}
        facet = getattr(s, "facet", None) or {}
        if facet.get("value"):
            values.add(str(facet["value"]).lower())
        out.append((f"S{i}", getattr(s, "polarity", "like"), values))
    return out, n


def _genre_reading(surface: str, value: str) -> set:
    """The genre values (lower case) that back a genre word, as the RAG claim checker reads it.

    One reading for both checkers: "family" there is the Children genre, backed by Children,
    Family or Animation; read here as the Wikidata genre Family alone, it failed 311 of the 582
    bundled Children films that the RAG checker passed.
    """
    # imported here: recnb.systems loads the whole dialogue stack, which explanations do not need
    from recnb.systems.claims import GENRE_ALIASES, GENRE_WORDS

    accepted = {value.lower()}
    for pattern, genre in GENRE_WORDS.items():
        if re.fullmatch(pattern, surface.strip(), re.IGNORECASE):
            accepted |= {genre.lower()} | GENRE_ALIASES.get(genre, set())
    return accepted


def _item_support(kind: str, value: str, role: str, facts: list[Fact], surface: str = "") -> tuple[list, str]:
    """(ids of the facts that support the claim, why not when none do)."""
    fact_of = {f.kind: f for f in facts}
    if kind in FIELDS:
        kinds = (role,) if role else FIELDS[kind]
        accepted = _genre_reading(surface or value, value) if kind == "genre" else {value.lower()}
        ids = [f.id for f in facts if f.kind in kinds and accepted & {str(v).lower() for v in f.all_values}]
        return ids, f"not a {role or kind} of this item"
    f = fact_of.get({"year": "year", "decade": "year", "runtime": "runtime", "award": "awards"}[kind])
    if kind in ("year", "decade", "runtime"):
        ok = f is not None and numeric_claim_holds(kind, value[:4] if kind == "decade" else value, f.values[0])
    else:
        ok = f is not None and award_claim_holds(value, " ".join(map(str, f.values)))
    why = {"year": "not the item's year", "decade": "not the item's decade", "runtime": "not the item's runtime",
           "award": "the item's awards do not say so"}[kind]
    return [f.id] if ok else [], why


def _reading(sentence: str, start: int, end: int) -> tuple[str, str, str]:
    """(about, polarity, role) of the mention at sentence[start:end], from the words of its clause."""
    head = sentence[max([m.end() for m in _CLAUSE.finditer(sentence, 0, start)], default=0):start]
    user = list(_USER.finditer(head))
    item = list(_ITEM.finditer(head))
    after = _ROLE_AFTER.match(sentence, end)
    about, polarity = "item", ""
    # The later of "your/you like ..." and "this/it/the film ..." decides; "X stars" is about the item.
    if user and not after and (not item or user[-1].end() > item[-1].end()):
        about, polarity = "profile", detect_polarity(head[user[-1].start():]) or "like"
    role = ""
    before = list(_ROLE_BEFORE.finditer(head))
    if before and len(_WORD.findall(_CITE.sub(" ", head[before[-1].end():]))) <= _ROLE_REACH:
        role = before[-1].lastgroup
    elif after:
        role = after.lastgroup
    return about, polarity, role


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
    statements, n_statements = _statements(profile, vocab)
    check = ExplanationCheck(text=text)
    for kind, num in _CITE.findall(text):
        check.citations.append(f"{kind}{num}")
        limit = n_statements if kind == "S" else len(facts)
        if not 1 <= int(num) <= limit:
            check.bad_citations.append(f"{kind}{num}")
    # The item's own title is not a claim ("Romance (1999)" names no genre, "(1999)" is its year label).
    titles = sorted({t for t in (item_text(item), natural_title(str(item.get("title", ""))), str(item.get("title", ""))) if t},
                    key=len, reverse=True)
    # "Heat (1995) [F1]": the title written with the item's year (both from its year column) states
    # that year, so it backs the year fact; the title alone backs nothing
    year_fact = next((f.id for f in facts if f.kind == "year"), None)
    dated = item_text(item) if year_fact else None
    for sentence in _sentences(text):
        named_dated = dated is not None and re.search(r"(?<!\w)" + re.escape(dated) + r"(?!\w)", sentence, re.I)
        for t in titles:
            sentence = re.sub(r"(?<!\w)" + re.escape(t) + r"(?!\w)", "the film", sentence, flags=re.I)
        cites = [f"{k}{n}" for k, n in _CITE.findall(sentence)]
        related: set = {year_fact} if named_dated else set()  # ids a citation in this sentence may point to
        prev = None
        for start, end, surface, kind, value in _mentions(vocab, sentence):
            about, polarity, role = _reading(sentence, start, end)
            if prev and _LIST_GAP.fullmatch(sentence[prev[0]:start]):  # "X, Y and Z" share subject and role
                about, polarity = prev[1], prev[2]
                role = role or (prev[3] if prev[4] == kind else "")
            prev = (end, about, polarity, role, kind)
            role = role if kind == "person" else ""
            fact_ids, why = _item_support(kind, value, role, facts, surface)
            naming = [sid for sid, _, values in statements if value.lower() in values]
            if about == "profile":
                # A claim about the user's taste needs a statement of the same polarity naming it.
                ids = [sid for sid, pol, values in statements if pol == polarity and value.lower() in values]
                why = f"no profile statement {'dislikes' if polarity == 'dislike' else 'likes'} {value}"
                related.update(ids, fact_ids)
            else:
                ids = fact_ids
                related.update(ids, naming)  # "a Crime film [F2][S1]" ties the fact to the user's taste
            ids = list(dict.fromkeys(ids))
            check.claims.append(Claim(surface, kind, value, about, bool(ids), ids[0] if ids else why, role, tuple(ids),
                                      bool(set(ids) & set(cites))))
        if prev:  # a sentence that claims something must cite what backs it
            check.wrong_citations += [c for c in cites if c not in related and c not in check.bad_citations]
    return check
