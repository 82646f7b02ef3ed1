"""Claims a generated answer makes about items, each checked against the item's retrieved text.

A small, pattern-based checker: it finds the items an answer names (``[id]`` citations and
"Title (Year)" mentions, grounded to the catalog with ``recnb.ranking.grounding``), attributes
each sentence to the item named last (to both items when a title and the citation next to it
name different ones: a counted mismatch), and pulls out the claims a reader can verify: year,
decade, director, cast, genre, country, runtime, awards and other person names. Each is
looked up in the item's facts and passage; what is not there is flagged ``supported=False``.

Why patterns and not an NLI model: nothing may be downloaded, and the claims that matter in
a movie recommendation are about facts the catalog has in columns. Free-form praise ("a
gripping story") is not a checkable claim and is not counted. Written here because
``recnb.explanation`` had no fact checker when this module was written.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import pandas as pd

from recnb.explanation.facts import OSCAR, award_claim_holds, numeric_claim_holds, read_award_claim
from recnb.ranking.grounding import _SMALL_WORDS, looks_like_title
from recnb.systems.constraints import values_of

GENRE_WORDS = {
    r"comed(?:y|ies)|comedic|funny|hilarious": "Comedy",
    r"dramas?|dramatic": "Drama",
    r"horror|scary": "Horror",
    r"thrillers?": "Thriller",
    r"romance|romantic|love stor(?:y|ies)": "Romance",
    r"action": "Action",
    r"animated|animation|cartoons?": "Animation",
    r"documentar(?:y|ies)": "Documentary",
    r"sci-?fi|science[- ]fiction": "Sci-Fi",
    r"westerns?": "Western",
    r"war (?:film|movie|drama|epic|story)s?": "War",
    r"musicals?": "Musical",
    r"crime": "Crime",
    r"fantasy": "Fantasy",
    r"myster(?:y|ies)": "Mystery",
    r"adventures?": "Adventure",
    r"children'?s|family|kids'?": "Children",
    r"noir": "Film-Noir",
    r"biograph(?:y|ical)|biopic": "Biography",
}
GENRE_ALIASES = {"Children": {"children", "family", "animation"}, "Animation": {"animation"}}
COUNTRY_ADJ = {
    "American": "United States", "British": "United Kingdom", "English": "United Kingdom", "French": "France",
    "German": "Germany", "Italian": "Italy", "Japanese": "Japan", "Spanish": "Spain", "Canadian": "Canada",
    "Australian": "Australia", "Indian": "India", "Korean": "South Korea", "Chinese": "China",
    "Mexican": "Mexico", "Swedish": "Sweden", "Danish": "Denmark", "Russian": "Russia", "Irish": "Ireland",
}
_NAME = r"[A-Z][a-zA-Z.'-]+(?:\s+(?:de|van|von|del|da|le|la)?\s*[A-Z][a-zA-Z.'-]+){1,3}"
_CITATION = re.compile(r"\[(?:id\s*[:=#]?\s*)?([A-Za-z0-9_-]{1,20})\]", re.IGNORECASE)
_TITLE_YEAR = re.compile(r"([\"“*]*)([A-Z0-9][^()\[\]\n\"“”*:;]{0,80}?)[\"”*]*\s*\(((?:19|20)\d\d)\)")
#: a list line naming a title without a year: "1. Heat - ...", "Title: The Last Hope", "- Fargo: ..."
_LIST_TITLE = re.compile(r"(?m)^\s*(?:\d{1,2}[.)]|[-*•]|(?:Movie\s+)?Title:)\s*(?:\*\*)?([A-Z0-9][^\n:()\[\]]{1,80}?)(?:\*\*)?\s*(?=$|\s[-–—]\s|:|\(|\[)")
_NUMBERING = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•])\s*")
_LEAD_IN = re.compile(r"^(?:\d{1,2}[.)]\s*|[-*•]\s*|(?:I\s+)?(?:would\s+)?recommend(?:ation)?s?:?\s*|try\s+"
                      r"|(?:movie\s+)?title:\s*)+", re.IGNORECASE)
#: what may sit between a title and the citation written with it: "Heat (1995) [6]", "**Heat** - [6]"
#: a verb a sentence may put before a title: "Watch Heat (1995)", "Check out Fargo (1996)"
_LEAD_VERB = re.compile(r"^(?:watch|see|enjoy|consider|check\s+out|also)\s+", re.IGNORECASE)
_ADJACENT = re.compile(r"[ \t*\"“”'`:,–—-]*")
_STOP_LEAD = {"The", "This", "It", "A", "An", "I", "You", "If", "Its", "He", "She", "They", "We", "My", "Your",
              "In", "With", "And", "But", "For", "From", "Also", "Both", "Here", "There", "Recommendation",
              "Recommended", "Title", "Director", "Starring", "Genre", "Genres", "Cast", "Year"}


@dataclass
class Mention:
    text: str
    item_id: object = None  # None: names nothing in the catalog (an invented item or id)
    kind: str = "title"  # "citation" ([id]) or "title"
    start: int = 0
    end: int = 0
    conflict: object = None  # the other item, when this title and the citation next to it name different items


@dataclass
class Claim:
    item_id: object
    kind: str
    value: str
    sentence: str
    supported: bool
    reason: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ClaimReport:
    mentions: list = field(default_factory=list)
    claims: list = field(default_factory=list)
    mismatches: list = field(default_factory=list)  # (title Mention, citation Mention) naming different items

    @property
    def invented(self) -> list:
        return [m for m in self.mentions if m.item_id is None]

    @property
    def unsupported(self) -> list:
        return [c for c in self.claims if not c.supported]

    def counts(self) -> dict:
        return {"mentions": len(self.mentions), "invented_items": len(self.invented),
                "claims": len(self.claims), "unsupported_claims": len(self.unsupported),
                "mismatches": len(self.mismatches)}

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([c.to_dict() for c in self.claims],
                            columns=["item_id", "kind", "value", "sentence", "supported", "reason"])


def find_mentions(text: str, catalog, among=None) -> list[Mention]:
    """Items the text names: ``[id]`` citations and "Title (Year)" spans, in order of appearance.

    A citation of an id the catalog lacks, and a "Title (Year)" that matches no catalog title,
    are kept with ``item_id=None``: those are invented items. ``among`` restricts title
    matching to a candidate set first (then the whole catalog). A yearless list line that matches
    no catalog title counts as an invented item only when it is written as a title: "2. Enjoy the
    show!" is a sign-off, not a film.
    """
    out = []
    for m in _CITATION.finditer(text):
        token = m.group(1)
        if token.lower() in {"s1", "s2", "f1", "f2"}:  # statement/fact labels some prompts use
            continue
        key = catalog._key(token)
        if key is None and token.isalpha():  # "[year]", "[id]": a template's placeholder, not an item id
            continue
        out.append(Mention(m.group(0), key, "citation", m.start(), m.end()))
    for m in _TITLE_YEAR.finditer(text):
        start, title, item = _read_title_year(text, m, catalog, among)
        if title:
            out.append(Mention(f"{title} ({m.group(3)})", item, "title", start, m.end()))
    covered = [(m.start, m.end) for m in out]
    for m in _LIST_TITLE.finditer(text):
        title = m.group(1).strip(" *\"“”'")
        start = m.start(1)
        if not title or len(title.split()) > 10 or any(a <= start < b or start <= a < start + len(title) for a, b in covered):
            continue
        item = _ground(catalog, title, among)
        if item is None and not looks_like_title(title):
            continue
        out.append(Mention(title, item, "title", start, m.end(1)))
    out += _titles_before_citations(text, out, catalog)
    out.sort(key=lambda x: x.start)
    # the same span found as both citation and title keeps the citation
    return out


def _ground(catalog, title: str, among=None):
    """The item a written title names: among ``among`` first, then the whole catalog (None: nothing)."""
    item = catalog.ground_title(title, among=list(among))[0] if among is not None else None
    return item if item is not None else catalog.ground_title(title)[0]


def _read_title_year(text: str, m: re.Match, catalog, among) -> tuple[int, str, object]:
    """(start, title, item) of a "Title (Year)" span. The span stops at a colon and starts at the first
    capital, so readings are tried in turn, the first that names a catalog item winning: the colon part
    before it on the same line ("Ace Ventura: When Nature Calls"), the span with a lead-in cut ("I
    recommend"), the span after its last lower-case word ("You might enjoy Heat"), the span without a
    leading verb ("Watch Heat"). When none names an item, the invented title is the tidiest reading."""
    raw, year, at = m.group(2), m.group(3), m.start(2)
    readings = []
    line_start = text.rfind("\n", 0, at) + 1
    head = re.search(r"[A-Z0-9][^()\[\]\n\"“”*;]{0,60}:\s*$", text[line_start:at])
    colon = None
    if head:
        whole = text[line_start + head.start():at] + raw
        cut = _LEAD_IN.sub("", whole).strip()
        colon = (line_start + head.start() + whole.find(cut), cut)
        readings.append(colon)
    title = _LEAD_IN.sub("", raw.strip()).strip()
    tidiest = (at + raw.find(title), title)
    readings.append(tidiest)
    words = list(re.finditer(r"\S+", title))
    lower = [n for n, w in enumerate(words) if w.group()[:1].islower()
             and w.group().strip(",.;!?").lower() not in _SMALL_WORDS]
    if lower and lower[-1] + 1 < len(words):  # prose before the title: "You might enjoy | Heat"
        after = words[lower[-1] + 1].start()
        tidiest = (tidiest[0] + after, title[after:])
        readings.append(tidiest)
    verb = _LEAD_VERB.sub("", title)
    if verb and verb != title:
        readings.append((at + raw.find(title) + len(title) - len(verb), verb))
    for start, t in readings:
        item = _ground(catalog, f"{t} ({year})", among) if t else None
        if item is not None:
            return start, t, item
    if colon is not None and looks_like_title(colon[1]):  # one invented "2019: The Last Man", not two
        return colon[0], colon[1], None
    return tidiest[0], tidiest[1], None


def _titles_before_citations(text: str, mentions, catalog) -> list[Mention]:
    """Title Case words written right before a citation ("I recommend Heat [7]", "**Heat** [7]") that
    name a catalog item exactly, other than the cited one: kept as title mentions so
    :func:`find_mismatches` sees the title and the citation disagree."""
    matcher = catalog.title_matcher()
    out = []
    for c in mentions:
        if c.kind != "citation" or c.item_id is None:
            continue
        # only the words after the line start and after any mention before this citation
        floor = max([text.rfind("\n", 0, c.start) + 1] + [m.end for m in mentions if m.end <= c.start])
        seg = text[floor:c.start]
        tail = re.search(r"[ \t*\"“”'`:,–—-]*$", seg)
        words = list(re.finditer(r"\S+", seg[:tail.start()]))[-6:]
        for n in range(len(words)):  # longest first
            span = seg[words[n].start():tail.start()].strip(" *\"“”'`")
            if not looks_like_title(span):
                continue
            key, _ = matcher.line_parts(span)
            ids = matcher.by_key.get(key, [])
            if ids and c.item_id not in ids:
                start = floor + seg.find(span, words[n].start())
                out.append(Mention(span, ids[0], "title", start, start + len(span)))
            if ids:
                break
    return out


def find_mismatches(text: str, mentions) -> list[tuple[Mention, Mention]]:
    """(title, citation) pairs written next to each other (same line, only punctuation between) that
    name two different catalog items: "Heat (1995) [7]" where [7] is Fargo. Sets each one's ``conflict``."""
    out = []
    spans = sorted(mentions, key=lambda m: m.start)
    for a, b in zip(spans, spans[1:]):
        if {a.kind, b.kind} != {"title", "citation"} or a.item_id is None or b.item_id is None or a.item_id == b.item_id:
            continue
        if a.end <= b.start and _ADJACENT.fullmatch(text[a.end:b.start]):
            a.conflict, b.conflict = b.item_id, a.item_id
            out.append((a, b) if a.kind == "title" else (b, a))
    return out


def _sentences(text: str):
    """(offset, sentence) pairs: lines, list numbering dropped, split after . ! ? before a capital."""
    offset = 0
    for line in text.splitlines(keepends=True):
        body = _NUMBERING.sub("", line)
        base = offset + len(line) - len(body)
        pos = 0
        for part in re.split(r"(?<=[.!?])\s+(?=[A-Z\[])", body):
            start = body.find(part, pos)
            pos = start + len(part)
            if part.strip():
                yield base + start, part.strip()
        offset += len(line)


def extract_claims(sentence: str) -> list[tuple[str, str]]:
    """(kind, value) pairs a sentence asserts, with item mentions already removed."""
    s = sentence
    out = []
    for m in re.finditer(rf"\bdirected\s+by\s+({_NAME})|\bdirector\s+({_NAME})|\b({_NAME})'s\s+(?:film|movie)", s):
        out.append(("director", next(g for g in m.groups() if g).rstrip(".")))
    for m in re.finditer(rf"\b(?:starring|stars|starred|featuring|features|actors?|actress)\s+((?:{_NAME})(?:\s*(?:,|and)\s*{_NAME})*)", s):
        for name in re.split(r"\s*,\s*|\s+and\s+", m.group(1)):
            name = name.strip().rstrip(".")
            if name:
                out.append(("cast", name))
    for m in re.finditer(r"\b((?:19|20)\d\d)\b", s):
        out.append(("year", m.group(1)))
    for m in re.finditer(r"(?<![\w'’])(?:((?:19|20)\d0)|['’]?([2-9]0))['’]?s\b", s):  # 1990s, 2000s, 90s, '70s
        out.append(("decade", m.group(1) or "19" + m.group(2)))
    lowered = s.lower()
    for pattern, genre in GENRE_WORDS.items():
        if re.search(rf"\b(?:{pattern})\b", lowered):
            out.append(("genre", genre))
    for adj, country in COUNTRY_ADJ.items():
        if re.search(rf"\b{adj}\s+(?:film|movie|production|comedy|drama|thriller|classic)", s):
            out.append(("country", country))
    for m in re.finditer(r"\b(\d{2,3})[\s-]*min(?:ute)?s?\b", lowered):
        out.append(("runtime", m.group(1)))
    out += [("award", read_award_claim(s, m.start(), m.end())) for m in OSCAR.finditer(s)]
    named = {v for k, v in out if k in ("director", "cast")}
    for m in re.finditer(_NAME, s):
        name = m.group(0).rstrip(".")
        first = name.split()[0]
        if name in named or first in _STOP_LEAD or any(name in n for n in named):
            continue
        if first in COUNTRY_ADJ or re.search(r"\b(?:Oscar|Academy|Award)", name):
            continue
        out.append(("name", name))
    return out


def _has(values, want: str) -> bool:
    w = want.lower().strip()
    return any(w == v.lower() or (len(w) > 3 and w in v.lower()) for v in values)


def passage_people(passage: str, role: str) -> list[str]:
    """Names a passage gives in ``role`` ("director" or "cast"): its field line and its description's phrasing."""
    names = []
    for m in re.finditer(rf"^{role}:\s*(.+)$", passage, re.MULTILINE):
        names += [n.strip() for n in m.group(1).split(",") if n.strip()]
    phrase = r"directed by ([^.,;]+(?: and [^.,;]+)?)" if role == "director" else r"starring ([^.;]+)"
    for m in re.finditer(phrase, passage):
        names += [n.strip() for n in re.split(r",\s*|\s+and\s+", m.group(1)) if n.strip()]
    return names


def check_claim(kind: str, value: str, record: dict, passage: str) -> tuple[bool, str]:
    """(supported, reason) for one claim against one item's record and retrieved passage."""
    text = passage.lower()
    year = record.get("year")
    year = None if year is None or pd.isna(year) else int(year)
    if kind == "year":
        released = str(record.get("released") or "")[:4]
        ok = numeric_claim_holds("year", value, year) or value == released
        return ok, "" if ok else f"the item's year is {year}"
    if kind == "decade":
        ok = numeric_claim_holds("decade", value, year)
        return ok, "" if ok else f"the item's year is {year}"
    if kind == "runtime":
        rt = record.get("runtime")
        ok = numeric_claim_holds("runtime", value, rt)
        return ok, "" if ok else f"the item's runtime is {rt}"
    if kind in ("director", "cast"):
        # The name must be in that role in the retrieved text, not just anywhere in it: a director
        # named as a star is a misattribution.
        ok = _has(passage_people(passage, kind), value)
        if kind == "director":
            return ok, "" if ok else f"the retrieved text says directed by {record.get('director') or 'unknown'}"
        return ok, "" if ok else "not in the retrieved cast"
    if kind == "genre":
        genres = {g.lower() for c in ("genres", "wd_genres") for g in values_of(record.get(c))}
        # Besides the genre columns, only the description, by whole word: a substring test of the
        # whole passage found "war" in "awards:", "reward" and "Edward".
        desc = re.search(r"^description:(.*?)(?=\nreview:|\Z)", passage, re.MULTILINE | re.DOTALL)
        words = "|".join([re.escape(value)] + [p for p, g in GENRE_WORDS.items() if g == value])
        ok = (value.lower() in genres or bool(GENRE_ALIASES.get(value, set()) & genres)
              or bool(desc and re.search(rf"\b(?:{words})\b", desc.group(1), re.IGNORECASE)))
        return ok, "" if ok else f"genres are {', '.join(sorted(genres)) or 'unknown'}"
    if kind == "country":
        ok = _has(values_of(record.get("country")), value)
        return ok, "" if ok else f"made in {record.get('country') or 'unknown'}"
    if kind == "award":
        ok = award_claim_holds(value, record.get("awards"), record.get("oscars"))
        return ok, "" if ok else f"awards: {record.get('awards') or 'none listed'}"
    if kind == "name":
        ok = value.lower() in text
        return ok, "" if ok else "name not in the retrieved text"
    raise ValueError(f"unknown claim kind {kind!r}")


def check_answer(text: str, catalog, retrieved=None, default_item=None, passages: dict | None = None) -> ClaimReport:
    """Mentions and checked claims of a generated answer.

    retrieved: the ids the prompt showed (title matching tries them first). default_item: the
    item a sentence is about when it names none (an explanation of one item). passages:
    {id: text shown to the model}; by default each item's catalog passage.
    """
    report = ClaimReport(mentions=find_mentions(text, catalog, among=retrieved))
    report.mismatches = find_mismatches(text, report.mentions)
    spans = sorted(report.mentions, key=lambda m: m.start)

    def passage_of(item):
        return (passages or {}).get(item) or catalog.passage(item)

    for m in spans:  # "Title (1987)" claims a year for the item it grounds to
        year = re.search(r"\(((?:19|20)\d\d)\)", m.text) if m.kind == "title" else None
        if year and m.item_id is not None:
            ok, why = check_claim("year", year.group(1), catalog.record(m.item_id), passage_of(m.item_id))
            report.claims.append(Claim(m.item_id, "year", year.group(1), m.text, ok, why))
    for start, sentence in _sentences(text):
        before = [m for m in spans if m.start < start + len(sentence)]
        current = before[-1] if before else None
        if current is None and default_item is None:
            continue  # a sentence about no item (a greeting, a question back)
        item = current.item_id if current is not None else default_item
        items, note = [item], ""
        if current is not None and current.conflict is not None:
            # The title names one item and its citation another: which one the sentence is about is
            # unknown, so its claims are checked against both (and RAG recommends neither).
            pair = (current.item_id, current.conflict)
            items = list(pair if current.kind == "title" else pair[::-1])  # title's item first
            note = f"the title names item {items[0]!r} but the citation {items[1]!r}"
        stripped = _CITATION.sub(" ", _TITLE_YEAR.sub(" ", sentence))  # mentions are not claims
        if current is not None:  # the item's own title words are not claims
            for i in items:
                if i is not None:
                    stripped = stripped.replace(catalog.title(i, with_year=False), " ")
        for kind, value in extract_claims(stripped):
            if item is None:
                report.claims.append(Claim(None, kind, value, sentence, False, f"about {current.text!r}, which is not in the catalog"))
                continue
            for i in items:
                ok, why = check_claim(kind, value, catalog.record(i), passage_of(i))
                report.claims.append(Claim(i, kind, value, sentence, ok, "; ".join(w for w in (why, note) if w)))
    return report
