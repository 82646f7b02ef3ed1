"""Rule-backed understanding of one user message: intent, preferences, critiques, questions.

This is the conversational recommender's floor: it handles every turn the LLM cannot (a 135M
model rarely follows a JSON protocol), and it is what the LLM's output is checked against.
Names are found by looking the message's word n-grams up in the catalog's own director and
cast lists, genres through a small synonym table, years and runtimes through patterns.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from recnb.systems.belief_state import Belief
from recnb.systems.constraints import OPPOSITE_OP, Constraint, negate_constraints

INTENTS = ("recommend", "critique", "explain", "question", "accept", "elicit")

GENRE_SYNONYMS = {
    "comedy": "Comedy", "comedies": "Comedy", "funny": "Comedy", "funnier": "Comedy", "humor": "Comedy",
    "humour": "Comedy", "drama": "Drama", "dramas": "Drama", "horror": "Horror", "scary": "Horror",
    "scarier": "Horror", "thriller": "Thriller", "thrillers": "Thriller", "suspense": "Thriller",
    "romance": "Romance", "romantic": "Romance", "romcom": "Romance", "action": "Action",
    "animated": "Animation", "animation": "Animation", "cartoon": "Animation", "cartoons": "Animation",
    "anime": "Animation", "documentary": "Documentary", "documentaries": "Documentary", "sci-fi": "Sci-Fi",
    "scifi": "Sci-Fi", "science fiction": "Sci-Fi", "science-fiction": "Sci-Fi", "western": "Western",
    "westerns": "Western", "war": "War", "musical": "Musical", "musicals": "Musical", "crime": "Crime",
    "fantasy": "Fantasy", "mystery": "Mystery", "mysteries": "Mystery", "detective": "Mystery",
    "adventure": "Adventure", "adventures": "Adventure", "kids": "Children", "children": "Children",
    "children's": "Children", "family": "Children", "noir": "Film-Noir", "film-noir": "Film-Noir",
    "biography": "Biography", "biopic": "Biography", "sport": "Sport", "sports": "Sport", "history": "History",
    "historical": "History",
}
#: genres a "lighter" critique moves away from, and the ones it moves towards
DARK = {"Horror", "Thriller", "War", "Crime", "Film-Noir", "Mystery"}
LIGHT = ("Comedy",)
COUNTRIES = {
    "american": "United States", "british": "United Kingdom", "french": "France", "german": "Germany",
    "italian": "Italy", "japanese": "Japan", "spanish": "Spain", "canadian": "Canada", "australian": "Australia",
    "indian": "India", "korean": "South Korea", "chinese": "China", "mexican": "Mexico", "swedish": "Sweden",
    "danish": "Denmark", "russian": "Russia", "irish": "Ireland", "hong kong": "Hong Kong",
}
LANGUAGES = {"english", "french", "german", "italian", "japanese", "spanish", "korean", "mandarin", "cantonese",
             "hindi", "swedish", "danish", "russian", "portuguese"}
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "first": 1, "second": 2, "third": 3,
                 "fourth": 4, "fifth": 5, "last": -1}
_NEG = re.compile(r"\b(?:no|not|don'?t|doesn'?t|do not|never|hate|hates|dislike|dislikes|avoid|without|nothing|"
                  r"anything but|except|can'?t stand|cannot stand|tired of|sick of|rather not|none of)\b",
                  re.IGNORECASE)
# Comparatives that use a negation word but state a limit, not a dislike ("no more than 2 hours"):
# masked before looking for negation, so they do not reverse the rest of the clause. ("less" is
# not in _NEG at all: "a comedy less than 90 minutes" likes comedies; see _LESS.)
_COMPARATIVE = re.compile(r"\b(?:no|not)\s+(?:more|longer)\s+than\b", re.IGNORECASE)
#: "less violent": a soft dislike of that one word (critiques of shown items handle it in
#: _CRITIQUES); never "less than", which is a limit that _runtime reads.
_LESS = re.compile(r"\bless\s+(?!than\b)([a-z][\w'-]*)", re.IGNORECASE)


def _negated(text: str) -> bool:
    """Whether ``text`` says no (ignoring comparatives such as "no more than 90 minutes")."""
    return bool(_NEG.search(_COMPARATIVE.sub(" ", text)))

QUESTION_FIELDS = [
    ("director", r"\bwho\s+(?:directed|made)\b|\bdirector\b|\bdirected\b"),
    ("writer", r"\bwho\s+wrote\b|\bwriters?\b|\bscreenplay\b"),
    ("cast", r"\bwho(?:'s| is| was| are)?\s+(?:in|starring|starred)\b|\bcast\b|\bstars?\b|\bactors?\b|\bactress"),
    ("runtime", r"\bhow\s+long\b|\bruntime\b|\bminutes\b|\blength\b"),
    ("year", r"\bwhen\b|\bwhat\s+year\b|\bhow\s+old\b|\breleased\b|\byear\b"),
    ("country", r"\bcountry\b|\bwhere\b.*\bmade\b|\bmade\s+in\b"),
    ("language", r"\blanguage\b"),
    ("awards", r"\boscars?\b|\bawards?\b|\bwin\b|\bwon\b"),
    ("genres", r"\bgenre\b|\bwhat\s+kind\b|\bwhat\s+type\b|\bis\s+it\s+(?:a|an)\b"),
    ("description", r"\bwhat(?:'s| is)\s+it\s+about\b|\bplot\b|\bstory\b|\btell\s+me\s+(?:more\s+)?about\b|\babout\b"),
]


@dataclass
class Parse:
    """What the rules read in one message."""

    intent: str
    beliefs: list = field(default_factory=list)
    item_ref: object = None  # an item id, or ("rank", n) for "the second one", or "current"
    question: str | None = None  # the fact field asked about
    critique: list = field(default_factory=list)  # critique kinds found ("older", "lighter", ...)
    notes: list = field(default_factory=list)  # what could not be applied, said back to the person


class Lexicon:
    """The catalog's names (directors, cast) by lowercase form, for n-gram lookups."""

    def __init__(self, catalog, max_cast_per_item: int = 8):
        self.catalog = catalog
        self.directors = self._names("director", None)
        self.cast = self._names("cast", max_cast_per_item)
        genres = {g.lower(): g for g in catalog.vocabulary("genre")}
        self.genres = {k: v for k, v in GENRE_SYNONYMS.items() if v.lower() in genres}
        self.genres.update(genres)

    def _names(self, column, limit):
        from recnb.systems.constraints import values_of

        if column not in self.catalog.items.columns:
            return {}
        out = {}
        for cell in self.catalog.items[column]:
            for v in values_of(cell)[:limit]:
                if len(v.split()) >= 2:  # one-word names ("Madonna") match too many ordinary words
                    out.setdefault(v.lower(), v)
        return out

    def names_in(self, text: str) -> list[tuple[str, str, int]]:
        """(field, canonical name, position) for every director/cast name in ``text``, longest first."""
        words = [(m.group(0).lower().strip(".,!?;:'\""), m.start()) for m in re.finditer(r"\S+", text)]
        found, used = [], set()
        for n in (4, 3, 2):
            for i in range(len(words) - n + 1):
                if any(j in used for j in range(i, i + n)):
                    continue
                gram = " ".join(w for w, _ in words[i: i + n])
                gram = re.sub(r"'s$", "", gram)
                for field_, vocab in (("director", self.directors), ("cast", self.cast)):
                    if gram in vocab:
                        found.append((field_, vocab[gram], words[i][1]))
                        used.update(range(i, i + n))
                        break
        return sorted(found, key=lambda f: f[2])


def _clauses(text: str) -> list[str]:
    # a dot between digits is a decimal point ("under 1.5 hours"), not the end of a sentence
    parts = re.split(r"[;!?]+|(?<!\d)\.+|\.+(?!\d)|,\s*(?:but|and)?\s*|\s+but\s+|\s+and\s+(?=(?:no|not|nothing|without|i|please)\b)", text,
                     flags=re.IGNORECASE)
    return [p.strip() for p in parts if p and p.strip()]


def _genres_in(clause: str, lex: Lexicon) -> list[str]:
    low = clause.lower()
    out = []
    for word in sorted(lex.genres, key=len, reverse=True):
        if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", low):
            g = lex.genres[word]
            if g not in out and not (word == "war" and re.search(r"\bstar wars\b", low)):
                out.append(g)
            low = re.sub(rf"(?<![\w-]){re.escape(word)}(?![\w-])", " ", low)
    return out


# -- limits: years and runtimes, each with its own polarity ------------------------------------
# A negation counts for a limit only when it is attached to it, with nothing but filler between
# ("nothing over 2 hours", "I don't want anything older than 1980", "no movies after 2010"); the
# limit then flips ("nothing before 1990" = 1990 or later). The phrase and its negation are cut
# out of the clause, so "a comedy that is not too long" still likes comedies.
_ATTACHED_NEG = (r"(?P<neg>\b(?:no|not|nothing|never|none|without|don'?t|do\s+not|doesn'?t|does\s+not|hate|dislike|"
                 r"avoid|anything\s+but|except|rather\s+not)\b(?:\s+(?:want|like|see|watch|anything|something|any|"
                 r"movies?|films?|ones?|stuff|that'?s|that|which|it'?s|is|are|was|be|too|very|overly|so|made|released|"
                 r"a|an|i|really|please|to)\b)*\s+)?")
_NUM = r"(?P<n>\d+(?:\.\d+)?|an?|one|two|three|four)"
_UNIT = r"(?P<unit>hours?|hrs?|h|minutes?|mins?)"
_NUM_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4}
_UPPER_RUNTIME = r"under|less\s+than|shorter\s+than|at\s+most|below|max(?:imum)?(?:\s+of)?|up\s+to|within"
_LOWER_RUNTIME = r"over|more\s+than|longer\s+than|at\s+least|above|min(?:imum)?(?:\s+of)?|upwards\s+of"
_DECADE = (r"(?:from\s+the\s+|in\s+the\s+|the\s+)?(?:(?P<century>19|20)?(?P<digit>\d)0'?s|(?:nineteen|twenty)?\s*"
           r"(?P<word>twenties|thirties|forties|fifties|sixties|seventies|eighties|nineties))")
_DECADE_WORDS = ["twenties", "thirties", "forties", "fifties", "sixties", "seventies", "eighties", "nineties"]
_LIMITS = [  # (pattern after the attached negation, what it reads)
    ("runtime", re.compile(_ATTACHED_NEG + rf"\b(?P<w>{_UPPER_RUNTIME}|{_LOWER_RUNTIME})\s+{_NUM}\s*{_UNIT}\b(?:\s+long)?", re.I)),
    ("short", re.compile(_ATTACHED_NEG + r"\b(?:too\s+|very\s+)?short\b", re.I)),
    ("long", re.compile(_ATTACHED_NEG + r"\b(?:too\s+|very\s+|overly\s+)?long\b(?!\s+(?:ago|time|as)\b)", re.I)),
    ("year", re.compile(_ATTACHED_NEG + r"\b(?P<w>before|older\s+than|earlier\s+than|pre-?|prior\s+to|until|after|"
                        r"newer\s+than|later\s+than|post-?|since)\s*(?P<y>(?:19|20)\d\d)\b", re.I)),
    ("decade", re.compile(_ATTACHED_NEG + r"\b" + _DECADE + r"\b", re.I)),
]
_VAGUE_ERA = [  # only when no year or decade was given
    (re.compile(_ATTACHED_NEG + r"\b(?:recent|new|newer|modern|latest)\b", re.I), ("year", ">=", 2005)),
    (re.compile(_ATTACHED_NEG + r"\b(?:old|classic|vintage|golden\s+age)\b", re.I), ("year", "<", 1970)),
]


def _limit(field_: str, op: str, value: int, negated: bool) -> Belief:
    c = Constraint(field_, OPPOSITE_OP[op] if negated else op, value)
    return Belief(c.describe(), "constraint", (c,))


def _read_limit(kind: str, m: re.Match) -> Belief | None:
    neg = bool(m.group("neg"))
    if kind == "runtime":
        n = m.group("n").lower()
        amount = float(n) if n[0].isdigit() else _NUM_WORDS[n]
        minutes = int(round(amount * (60 if m.group("unit").lower().startswith("h") else 1)))
        # inclusive both ways: "nothing over 2 hours" is at most 120 minutes, as people mean it
        upper = bool(re.fullmatch(_UPPER_RUNTIME, m.group("w"), re.I)) != neg
        return _limit("runtime", "<=" if upper else ">=", minutes, False)
    if kind == "short":
        return _limit("runtime", "<=", 100, neg)
    if kind == "long":  # "long" alone says nothing ("as long as it's funny"); "not too long" does
        return _limit("runtime", "<=", 100, False) if neg else None
    if kind == "year":
        w, y = m.group("w").lower(), int(m.group("y"))
        if re.match(r"before|older|earlier|pre|prior|until", w):
            return _limit("year", "<", y, neg)
        return _limit("year", ">=" if w == "since" else ">", y, neg)
    if m.group("digit") is not None:
        start = int((m.group("century") or ("20" if m.group("digit") in "01" else "19")) + m.group("digit") + "0")
    else:
        start = 1920 + 10 * _DECADE_WORDS.index(m.group("word").lower())
    if neg:
        return _limit("decade", "in", start, True)
    return Belief(f"from the {start}s", "constraint", (Constraint("year", ">=", start), Constraint("year", "<=", start + 9)))


def _limits(clause: str) -> tuple[list[tuple[Belief, str | None]], str]:
    """Year and runtime limits in ``clause`` as (belief, its phrase when no negation is attached to
    it, else None), and the clause with them (and their negations) cut out."""
    out = []

    def cut(text, m):  # blank the span: later patterns and the clause's own polarity no longer see it
        return text[:m.start()] + " " * (m.end() - m.start()) + text[m.end():]

    def found(b, m):
        out.append((b, None if m.group("neg") else m.group(0).strip()))

    for kind, rx in _LIMITS:
        for m in list(rx.finditer(clause)):
            b = _read_limit(kind, m)
            if b is not None:
                found(b, m)
                clause = cut(clause, m)
    if not any(c.field in ("year", "decade") for b, _ in out for c in b.constraints):
        for rx, (field_, op, value) in _VAGUE_ERA:
            m = rx.search(clause)
            if m:
                found(_limit(field_, op, value, bool(m.group("neg"))), m)
                clause = cut(clause, m)
                break
    return out, clause


def _places(clause: str) -> list[Belief]:
    low = clause.lower()
    out = []
    neg = _negated(low)
    for adj, country in COUNTRIES.items():
        if re.search(rf"\b{adj}\s+(?:film|movie|cinema|comedy|drama|thriller|production|one)s?\b|\bfrom\s+{re.escape(country.lower())}\b", low):
            out.append(Belief(("not made in " if neg else "made in ") + country, "constraint",
                              (Constraint("country", "not_has" if neg else "has", country),)))
    for lang in LANGUAGES:
        if re.search(rf"\bin\s+{lang}\b|\b{lang}[- ]language\b|\b{lang}[- ]speaking\b", low):
            out.append(Belief(("not in " if neg else "in ") + lang.title(), "constraint",
                              (Constraint("language", "not_has" if neg else "has", lang.title()),)))
    return out


_FILLER = re.compile(
    r"\b(?:i|i'm|i am|i'd|id|me|my|we|you|please|can|could|would|will|some|something|anything|a|an|the|movie|movies|"
    r"film|films|one|recommend|suggest|show|find|give|want|wanna|like|love|looking|look|for|in|the mood|mood|to|watch|"
    r"see|really|very|maybe|perhaps|kind|of|sort|type|that|is|are|be|with|by|from|tonight|today|please|hi|hello|hey|"
    r"thanks|thank|ok|okay|yes|yeah|so|just|also|and|or|but|more|less|than|prefer|rather|enjoy|into|fan|fans|no|not|"
    r"don't|dont|do|hate|dislike|avoid|without|nothing|never|what|about|how|something|else|other|another|good|great|"
    r"nice|fun|well|think|feel|get|have|had|has|it|its|it's|this|these|those|there|here|any|ones|lot|bit|pretty|"
    r"quite|directed|starring|stars|actor|actress|director|year|years|minutes|hours|long|short|old|new|recent|classic|"
    r"made|s|older|newer|earlier|later|before|after|since|until|released|under|over|shorter|longer|at|most|least|"
    r"as|hmm+|um+|uh+|er|meh|dunno|idk|nope|help|yet|please|sure|know|idea|ideas|whatever|care|mind|surprise|stuff|time|night|evening|weekend|go|going|need|needs|should|must|only|all|every|too|much|many)\b",
    re.IGNORECASE)


def _leftover(clause: str, consumed: list[str]) -> str:
    """The words of a clause that no rule understood (kept as a free-text preference)."""
    text = clause
    for c in consumed:
        text = re.sub(re.escape(c), " ", text, flags=re.IGNORECASE)
    text = re.sub(r"\b(?:19|20)\d\d\b|\b\d0'?s\b|\d+", " ", text)
    rest = _FILLER.sub(" ", text)
    rest = re.sub(r"[^\w\s'-]", " ", rest)
    return " ".join(w for w in rest.split() if w.strip("'-"))  # a quote left of "it's" is no word


def extract_preferences(text: str, lex: Lexicon, turn: int = 0, source: str = "user") -> list[Belief]:
    """Beliefs stated in ``text``: genres, people, eras, runtimes, places, titles, and leftover free text."""
    out: list[Belief] = []
    for clause in _clauses(text):
        start = len(out)
        # "less violent" dislikes that word only, and the rest of the clause keeps its own polarity;
        # the phrase is cut out so no rule reads its word as wanted ("less recent" is not "recent").
        less = [m.group(1) for m in _LESS.finditer(clause) if not _FILLER.fullmatch(m.group(1))]
        clause = _LESS.sub(" ", clause)
        limits, clause = _limits(clause)
        neg = _negated(clause)
        kind = "dislike" if neg else "like"
        consumed: list[str] = []
        for g in _genres_in(clause, lex):
            out.append(Belief(f"{g} films", kind, (Constraint("genre", "not_has", g),) if neg else (), ("genre", g), source, turn))
            consumed += [w for w, v in lex.genres.items() if v == g]
        for field_, name, _pos in lex.names_in(clause):
            # A name in both lists (Tom Hanks also directed) is an actor unless the clause says "by"/"directed".
            both = name.lower() in lex.cast and name.lower() in lex.directors
            if both:
                field_ = "director" if re.search(r"\b(?:by|directed|director)\b", clause, re.I) else "cast"
            phrase = f"films directed by {name}" if field_ == "director" else f"films with {name}"
            out.append(Belief(phrase, kind, (Constraint(field_, "not_has", name),) if neg else (), (field_, name), source, turn))
            consumed.append(name)
        places = _places(clause)
        # "no comedies from the 90s": the limit qualifies what is refused, and "not (comedy and 1990s)"
        # is no AND of filters; applying it would demand the 1990s. It is left out, and said so.
        held = [phrase for _, phrase in limits if phrase] if neg else []
        for b in [b for b, phrase in limits if not (neg and phrase)] + places:
            out.append(replace_turn(b, turn, source))
        if places:
            consumed += [w for w in list(COUNTRIES) + sorted(LANGUAGES) if w in clause.lower()]
        title = re.search(r"\b(?:like|similar to|such as|as good as)\s+(.{2,60}?)\s*$", clause, re.IGNORECASE)
        if title and not neg:
            item, _ = lex.catalog.ground_title(title.group(1))
            if item is not None:
                out.append(Belief(f"movies like {lex.catalog.title(item)}", "like", (), ("item", item), source, turn))
                consumed.append(title.group(1))
        rest = _leftover(clause, consumed)
        if rest and len(rest) >= 3 and not (out and rest.lower() in {"s"}):
            out.append(Belief(rest, kind, (), None, source, turn))
        if held:
            note = (f'"{" and ".join(held)}" was not applied: it describes what you do not want; say '
                    f'"nothing {held[0]}" to rule that out on its own')
            mine = [b for b in out[start:] if b.kind == "dislike"]
            if not mine:  # nothing else in the clause to carry the words: keep them as a free-text dislike
                mine = [Belief(" ".join(clause.split()) or held[0], "dislike", (), None, source, turn)]
                out += mine
            for b in mine:
                b.note = "; ".join(n for n in (b.note, note) if n)
        out += [Belief(w.lower(), "dislike", (), None, source, turn) for w in less]
    return out


def replace_turn(b: Belief, turn: int, source: str) -> Belief:
    b.turn, b.source = turn, source
    return b


def parse_belief_text(text: str, kind: str, lex: Lexicon) -> list[Belief]:
    """Beliefs from one edited line under ``kind`` (its panel heading, or the kind asked for).

    * nothing understood: ``[]`` (the caller keeps the line as free text), except that a
      negated line ("no robots") given as a like becomes a free-text dislike;
    * one fact: one belief, with the line's own words as its text;
    * several facts ("no horror or comedy", "Crime films from the 1970s"): one belief per fact,
      each under the rules' own sentence, so no filter is dropped; ``note`` names the line.

    A negated line ("no horror films", "I don't want comedies") is a dislike even under Likes or
    as add_belief's default "like": the person's own "no" wins, and ``note`` says so. An
    un-negated line takes the heading's polarity ("Horror films" under Dislikes is a dislike).
    """
    found = extract_preferences(text, lex, source="edited")
    structured = [b for b in found if b.structured]
    if not structured:
        if kind == "like" and found and all(b.kind == "dislike" for b in found):
            return [Belief(text, "dislike", source="edited", note=_NEGATED_NOTE)]
        return []
    if len(structured) == 1:
        return [_under_heading(structured[0], kind, text, "")]
    note = f'one of {len(found)} beliefs read from "{" ".join(text.split())}"'
    return [_under_heading(b, kind, b.text, note) for b in found]


_NEGATED_NOTE = "read as a dislike: the sentence itself says no"


def _under_heading(b: Belief, kind: str, text: str, note: str) -> Belief:
    """``b`` (as the rules read it) given the requested ``kind``, with ``text`` as its sentence."""
    if b.kind == "constraint" and kind == "dislike":
        # "French films" or "before 1990" as a dislike: its filter turned around, not kept as a requirement.
        turned = negate_constraints(b.constraints)
        if turned is None:  # no single filter says it: the person's words stay, as free text
            return Belief(text, "dislike", source="edited", note="; ".join(n for n in (note, "kept as text: no one filter says it") if n))
        return Belief(text, "dislike", turned, b.facet, "edited", note="; ".join(n for n in (note, "its filter turned around") if n))
    if b.kind == "constraint":
        return Belief(text, "constraint", b.constraints, b.facet, "edited", note=note)
    if kind == "constraint":
        # Under Constraints a fact is a hard filter: "Crime films" must be Crime, "no horror" must not be
        # Horror (a constraint with no filter would drop it). A fact no filter can state keeps its kind.
        must = (Constraint(b.facet[0], "has", b.facet[1]),) if b.kind == "like" and b.facet and b.facet[0] != "item" \
            else b.constraints
        return Belief(text, "constraint" if must else b.kind, must, b.facet, "edited", note=note)
    if b.kind == "dislike":
        # The sentence is negated: that wins over a "like" heading or default.
        flipped = _NEGATED_NOTE if kind == "like" else ""
        return Belief(text, "dislike", b.constraints, b.facet, "edited", note="; ".join(n for n in (note, flipped) if n))
    if kind == "dislike":
        # An un-negated sentence takes the heading's polarity: "Horror films" under Dislikes.
        cons = (Constraint(b.facet[0], "not_has", b.facet[1]),) if b.facet and b.facet[0] != "item" else ()
        return Belief(text, "dislike", cons, b.facet, "edited", note=note)
    return Belief(text, "like", b.constraints, b.facet, "edited", note=note)


# -- intents ------------------------------------------------------------------------------------
_ACCEPT = re.compile(r"\b(?:perfect|sounds (?:good|great)|i'?ll (?:watch|take|try|go with)|that'?s (?:it|the one|great)|"
                     r"i will (?:watch|take|try)|great,? thanks|thanks?|thank you|love it|exactly|yes,? that one)\b", re.I)
_EXPLAIN = re.compile(r"^\s*(?:why|how come)\b|\bwhy\s+(?:did|do|would|is|should|that|this)\b|\bexplain\b|\bwhat makes\b", re.I)
_CRITIQUES = {
    "lighter": r"\blighter\b|\bless (?:dark|serious|heavy|intense|violent|depressing)\b|\bhappier\b|\bmore (?:fun|upbeat|cheerful|light-?hearted)\b|\btoo (?:dark|serious|heavy|violent|depressing|sad)\b",
    "darker": r"\bdarker\b|\bmore (?:serious|intense|gritty)\b|\bgrittier\b|\btoo (?:light|silly|childish)\b",
    "older": r"\bolder\b|\bless recent\b|\btoo (?:new|recent|modern)\b|\bmore classic\b",
    "newer": r"\bnewer\b|\bmore recent\b|\btoo old\b|\bmore modern\b|\bless old\b",
    "shorter": r"\bshorter\b|\btoo long\b",
    "longer": r"\blonger\b|\btoo short\b",
    "not_director": r"\bnot (?:by|from) (?:this|that|the same|him|her|them)\b|\b(?:different|another|other) director\b|\bnot (?:this|that) director\b|\bno more (?:from|by) (?:this|that)\b",
    "not_actor": r"\bwithout (?:this|that|him|her) (?:actor|actress|star)\b|\bnot with (?:this|that|him|her)\b|\b(?:different|other) (?:actor|actress|star)s?\b",
    "funnier": r"\bfunnier\b|\bmore (?:funny|comedy|humou?r)\b",
    "scarier": r"\bscarier\b|\bmore (?:scary|horror)\b",
    "other": r"\bsomething else\b|\banother\b|\bdifferent\b|\bnot (?:that|this|those|these)(?: one)?\b|\bnone of (?:these|those|them)\b|\bother (?:ones|options|suggestions)\b|\bseen (?:it|that|them)\b|\bno,",
}
_CRITIQUE_RX = {k: re.compile(v, re.I) for k, v in _CRITIQUES.items()}
_REQUEST = re.compile(r"\b(?:recommend|suggest|looking for|look for|want|wanna|in the mood|give me|show me|find me|"
                      r"something|any ideas|what should i watch|a (?:movie|film)|i (?:like|love|enjoy|prefer)|"
                      r"i'?m (?:into|a fan))\b", re.I)


def question_field(text: str) -> str | None:
    low = text.lower()
    for name, pat in QUESTION_FIELDS:
        if re.search(pat, low):
            return name
    return None


def item_reference(text: str, lex: Lexicon, shown: list):
    """Which item the message is about: an ordinal into ``shown``, a grounded title, or "current"."""
    low = text.lower()
    m = re.search(r"\b(?:the\s+)?(first|second|third|fourth|fifth|last)\b(?:\s+(?:one|movie|film|suggestion))?|#\s*(\d)\b|\bnumber\s+(\d|one|two|three|four|five)\b", low)
    if m and shown:
        word = m.group(1) or m.group(2) or m.group(3)
        n = _NUMBER_WORDS.get(word, None) if not str(word).isdigit() else int(word)
        if n is not None:
            idx = n - 1 if n > 0 else len(shown) - 1
            if 0 <= idx < len(shown):
                return shown[idx]
    cite = re.search(r"\[(\w+)\]|\bid\s*(\w+)", text)
    if cite and (cite.group(1) or cite.group(2)) in lex.catalog:
        return lex.catalog.resolve(cite.group(1) or cite.group(2))
    quoted = re.search(r"[\"“']([^\"”']{2,80})[\"”']", text)
    for cand in ([quoted.group(1)] if quoted else []) + _title_spans(text):
        item, _ = lex.catalog.ground_title(cand, among=shown or None)
        if item is None and shown:
            item, _ = lex.catalog.ground_title(cand)
        if item is not None:
            return item
    return "current"


def _title_spans(text: str) -> list[str]:
    """Capitalised spans that may be a title ("Who directed Heat?" -> "Heat")."""
    spans = re.findall(r"(?:[A-Z0-9][\w'’:-]*)(?:\s+(?:of|the|a|an|and|in|on|to|[A-Z0-9][\w'’:-]*))*", text)
    return [s for s in spans if s.split()[0] not in {"Who", "What", "When", "How", "Is", "Was", "Does", "Did", "Why",
                                                     "Tell", "I", "Which", "Where", "Can", "Could", "The"} or len(s.split()) > 1]


def classify(text: str, has_recommendations: bool) -> str:
    """The message's intent by rules (one of :data:`INTENTS`)."""
    t = str(text or "").strip()
    if not t:
        return "elicit"
    critique = has_recommendations and any(rx.search(t) for rx in _CRITIQUE_RX.values())
    if has_recommendations and _ACCEPT.search(t) and not critique and not re.search(r"\bbut\b|\bnot\b", t, re.I):
        return "accept"
    if has_recommendations and _EXPLAIN.search(t):
        return "explain"
    if critique:
        return "critique"
    if question_field(t) and (t.endswith("?") or re.match(r"^\s*(?:who|when|what|how|is|was|does|did|which|where|tell)\b", t, re.I)) \
            and not _REQUEST.search(t):
        return "question"
    if _REQUEST.search(t) or re.search(r"\b(?:no|not|without|hate|dislike)\b", t, re.I):
        return "recommend"
    return "elicit"


def critiques_in(text: str) -> list[str]:
    return [k for k, rx in _CRITIQUE_RX.items() if rx.search(text)]


def critique_beliefs(kinds: list[str], item: dict | None, lex: Lexicon, turn: int = 0) -> tuple[list[Belief], list[str]]:
    """Beliefs a critique of ``item`` (the recommendation being criticised) implies, and notes on what failed."""
    from recnb.systems.constraints import values_of

    out, notes = [], []
    src = "critique"
    genres = set(values_of((item or {}).get("genres")))
    title = lex.catalog.title(item["item_id"]) if item else "it"
    for k in kinds:
        if k in ("older", "newer"):
            year = (item or {}).get("year")
            if year is None or str(year) in ("<NA>", "nan"):
                notes.append(f"I don't know when {title} came out, so I can't go {k} than it.")
                continue
            op, word = ("<", "before") if k == "older" else (">", "after")
            out.append(Belief(f"released {word} {int(year)}", "constraint", (Constraint("year", op, int(year)),), None, src, turn))
        elif k in ("shorter", "longer"):
            rt = (item or {}).get("runtime")
            if rt is None or str(rt) in ("<NA>", "nan"):
                notes.append(f"I don't know how long {title} is, so I can't go {k} than it.")
                continue
            op = "<" if k == "shorter" else ">"
            out.append(Belief(f"{k} than {int(rt)} minutes", "constraint", (Constraint("runtime", op, int(rt)),), None, src, turn))
        elif k == "not_director":
            names = values_of((item or {}).get("director"))
            if not names:
                notes.append(f"I don't know who directed {title}.")
            for d in names:
                out.append(Belief(f"not directed by {d}", "constraint", (Constraint("director", "not_has", d),), None, src, turn))
        elif k == "not_actor":
            names = values_of((item or {}).get("cast"))[:1]
            if not names:
                notes.append(f"I don't know who is in {title}.")
            for c in names:
                out.append(Belief(f"without {c}", "constraint", (Constraint("cast", "not_has", c),), None, src, turn))
        elif k == "lighter":
            for g in sorted(genres & DARK) or (["Drama"] if "Drama" in genres and "Comedy" not in genres else []):
                out.append(Belief(f"{g} films", "dislike", (Constraint("genre", "not_has", g),), ("genre", g), src, turn))
            for g in LIGHT:
                out.append(Belief(f"{g} films", "like", (), ("genre", g), src, turn))
        elif k == "darker":
            for g in sorted(genres & {"Comedy", "Children", "Animation", "Musical"}):
                out.append(Belief(f"{g} films", "dislike", (Constraint("genre", "not_has", g),), ("genre", g), src, turn))
            out.append(Belief("Thriller films", "like", (), ("genre", "Thriller"), src, turn))
        elif k == "funnier":
            out.append(Belief("Comedy films", "like", (), ("genre", "Comedy"), src, turn))
        elif k == "scarier":
            out.append(Belief("Horror films", "like", (), ("genre", "Horror"), src, turn))
    return out, notes


def parse(text: str, lex: Lexicon, shown: list | None = None, turn: int = 0) -> Parse:
    """Everything the rules read in one message, given the items shown last turn."""
    shown = list(shown or [])
    intent = classify(text, bool(shown))
    p = Parse(intent=intent)
    if intent == "critique":
        p.critique = critiques_in(text)
        p.item_ref = item_reference(text, lex, shown)
        # "older, and with Al Pacino": the rest of the message may state preferences too
        rest = text
        for rx in _CRITIQUE_RX.values():
            rest = rx.sub(" ", rest)
        p.beliefs = [b for b in extract_preferences(rest, lex, turn) if b.structured]
    elif intent == "recommend":
        p.beliefs = extract_preferences(text, lex, turn)
    if intent == "elicit":
        # "a French drama under 2 hours" names no request verb but states preferences
        found = extract_preferences(text, lex, turn)
        if found:
            p.intent, p.beliefs = "recommend", found
    elif intent in ("question", "explain"):
        p.item_ref = item_reference(text, lex, shown)
        p.question = question_field(text) if intent == "question" else None
    return p


class RuleCall(dict):
    """A tool call (``{"tool", "arguments"}``) and ``left_out``: what the request asked that the
    tool's arguments cannot state (a second excluded genre, a decade left out...)."""

    def __init__(self, tool: str, arguments: dict, left_out=()):
        super().__init__(tool=tool, arguments=arguments)
        self.left_out = list(left_out)


def rule_tool_call(request: str, lex: Lexicon) -> RuleCall:
    """The call the rules would make for a request (the tool loop's counted fallback)."""
    field_ = question_field(request)
    if field_:
        item = item_reference(request, lex, [])
        if item != "current":
            return RuleCall("get_item_facts", {"item_id": item})
    args, left_out = {}, []

    def put(key, value, c):
        if key in args and args[key] != value:  # one value per argument: the tool cannot take a second
            left_out.append(c.describe())
        else:
            args[key] = value

    for b in extract_preferences(request, lex):
        for c in b.constraints:
            if c.field == "year":
                put("year_min" if c.op in (">", ">=") else "year_max", c.value + (1 if c.op == ">" else -1 if c.op == "<" else 0), c)
            elif c.field == "runtime":
                put("max_runtime" if c.op in ("<", "<=") else "min_runtime", c.value + {"<": -1, ">": 1}.get(c.op, 0), c)
            elif c.field in ("genre", "director"):
                put(("not_" if c.op == "not_has" else "") + c.field, c.value, c)
            elif c.field in ("country", "language", "cast") and c.op == "has":
                put(c.field, c.value, c)
            else:  # a decade left out, a negated cast, country or language: no argument says it
                left_out.append(c.describe())
        if b.kind == "like" and b.facet and b.facet[0] in ("genre", "director", "cast"):
            args.setdefault(b.facet[0], b.facet[1])
    if args:
        return RuleCall("filter_by_facts", args, left_out)
    return RuleCall("search_catalog", {"query": request.strip()[:200] or "a good movie"}, left_out)


#: A small hand-labelled set for measuring who reads intents best (rules vs LLM policies):
#: (message, whether something was just recommended, intent). Written for this kit, not sampled
#: from real conversations; it checks the protocol and the readers, not coverage of real speech.
INTENT_EXAMPLES = [
    ("hi", False, "elicit"), ("hello, can you help me?", False, "elicit"), ("not sure yet", False, "elicit"),
    ("I'm looking for a comedy", False, "recommend"), ("a crime film from the 70s please", False, "recommend"),
    ("something with Tom Hanks", False, "recommend"), ("I love sci-fi but hate horror", False, "recommend"),
    ("recommend me a western", False, "recommend"), ("any good French dramas?", False, "recommend"),
    ("something lighter", True, "critique"), ("older please", True, "critique"), ("not by this director", True, "critique"),
    ("too long, something shorter", True, "critique"), ("something more recent", True, "critique"),
    ("none of these, something else", True, "critique"),
    ("why did you pick the first one?", True, "explain"), ("why that one?", True, "explain"),
    ("explain the second suggestion", True, "explain"),
    ("who directed the first one?", True, "question"), ("how long is the second one?", True, "question"),
    ("when did it come out?", True, "question"), ("who is in the third one?", True, "question"),
    ("what is it about?", True, "question"),
    ("perfect, thanks!", True, "accept"), ("great, I'll watch the first one", True, "accept"),
    ("sounds good, thank you", True, "accept"),
]

#: Requests for the tool protocol, with the tool a correct call uses.
TOOL_REQUESTS = [
    ("Who directed Heat?", "get_item_facts"), ("Find me a movie about a bank heist", "search_catalog"),
    ("List comedies from before 1980", "filter_by_facts"), ("How long is The Godfather?", "get_item_facts"),
    ("A film about space travel and aliens", "search_catalog"), ("Dramas directed by Woody Allen", "filter_by_facts"),
    ("What genre is Fargo?", "get_item_facts"), ("Movies with Al Pacino", "filter_by_facts"),
    ("Something about a haunted house", "search_catalog"), ("French films shorter than 90 minutes", "filter_by_facts"),
]
