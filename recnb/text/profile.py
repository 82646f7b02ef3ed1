"""Scrutable NL user profiles: an ordered list of statements a person can read and edit.

Each statement is one sentence with a polarity (like / dislike), a weight, the item ids it
was drawn from, and who wrote it (generated from facts, by an LLM, or edited by the person).
A structured ``facet`` (e.g. genre=Horror) is kept when the statement came from facts, so
that evidence can be checked and a dislike can be matched against item facts.
"""
from __future__ import annotations

import re
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Iterable

import numpy as np
import pandas as pd

POLARITIES = ("like", "dislike")
SOURCES = ("generated", "llm", "edited")

# facet name -> (items column, how a value reads in a sentence)
FACETS = {
    "genre": ("genres", "{v} films"),
    "director": ("director", "films directed by {v}"),
    "decade": ("year", "films from the {v}"),
    "cast": ("cast", "films with {v}"),
}


def _new_id() -> str:
    # 48 bits: 8 hex digits (32 bits) collided in a 5,000-statement profile about 1 time in 300,
    # and ids must be unique (edits address statements by id)
    return uuid.uuid4().hex[:12]


def item_key(item):
    """An item id as the plain value to key by: 5 for 5, np.int64(5) or 5.0 (JSON, pandas floats);
    'B0X' for an Amazon ASIN. Ids are not forced to int: string-id catalogs are as valid as MovieLens."""
    if isinstance(item, np.generic):
        item = item.item()
    if isinstance(item, float) and item.is_integer():
        return int(item)
    if isinstance(item, str) or (isinstance(item, int) and not isinstance(item, bool)):
        return item
    raise ValueError(f"item ids must be whole numbers or strings, not {item!r}")


# Phrases that make a sentence a dispreference. Embeddings ignore negation, so the polarity has
# to be read from the words; a short list covers how people write profiles ("I can't stand ...").
_DISLIKE = re.compile(
    r"\b(dislike[sd]?|hate[sd]?|loathe|detest|avoid|can'?t stand|cannot stand|"
    r"(?:do|does|did)(?:n'?t| not) (?:like|enjoy|care for|want)|not (?:a fan|into|for me|interested)|"
    r"never (?:watch|want)|no more|tired of|sick of|bored by|stay away)\b",
    re.IGNORECASE,
)
# A leading "I (really) like / dislike ..." taken off before embedding: what is left is the topic.
_LEAD = re.compile(
    r"^\s*(?:and\s+|but\s+|also\s+)?(?:i|i'm|i am)?\s*(?:really|also|generally|usually|mostly|very much|"
    r"absolutely|definitely|strongly|totally)?\s*"
    r"(?:(?:do|does)(?:n'?t| not)\s+(?:like|enjoy|care for|want)|can'?t stand|cannot stand|"
    r"(?:am\s+)?not (?:a fan of|into|interested in)|(?:am\s+)?(?:a fan of|into|tired of|sick of|bored by)|"
    r"like|love|enjoy|adore|prefer|dislike|hate|loathe|detest|avoid)\s+",
    re.IGNORECASE,
)


# A clause that starts with a negation ("not horror", "no musicals", "anything but westerns",
# "nothing with gore") is a dislike of what follows; praise built on one ("nothing beats ...") is not.
# "not into / not a fan of / not interested in" keep those words out of the topic (a flip wrote
# "I like into horror"); only after "not", where they cannot be the thing disliked.
_NEG_START = re.compile(
    r"^\s*(?:(?:and|but|also|please|so|just)\s+)*(?:not(?:\s+(?:into|a\s+(?:big\s+)?fan\s+of|interested\s+in))?|no|nothing|never|"
    r"none\s+of|anything\s+but|everything\s+but|"
    r"except|without)\b(?!\s+(?:beats|better|more|less|compares|like\s+(?:a|an|the)\b|tops))"
    r"(?:\s+(?:anything|something|films?|movies?|more))?(?:\s+(?:with|about|by|from|featuring|starring))?\s*",
    re.IGNORECASE,
)


def detect_polarity(text: str) -> str | None:
    """'dislike' when the sentence says so, 'like' when it states a liking, None when it says neither."""
    if _NEG_START.match(text) or _DISLIKE.search(text):
        return "dislike"
    if re.search(r"\b(like|love|enjoy|adore|prefer|fan of|into)\b", text, re.IGNORECASE):
        return "like"
    return None


def statement_topic(text: str) -> str:
    """The thing a statement is about: "I dislike Horror films." -> "Horror films".

    Scorers embed the topic and apply the polarity themselves; with nothing to strip the whole
    sentence is the topic (the embedding still lands near what it talks about).
    """
    text = str(text).strip()
    lead = _NEG_START if _NEG_START.match(text) else _LEAD
    topic = lead.sub("", text, count=1).strip().rstrip(".!?;").strip()
    return topic or str(text).strip()


@dataclass
class Statement:
    text: str
    polarity: str = "like"
    weight: float = 1.0
    evidence: tuple = ()
    source: str = "edited"
    facet: dict | None = None  # {"kind": "genre", "value": "Horror"} when drawn from facts
    flag: str | None = None  # why the evidence does not support it, when it does not
    id: str = field(default_factory=_new_id)

    def __post_init__(self):
        if self.polarity not in POLARITIES:
            raise ValueError(f"polarity must be one of {POLARITIES}, not {self.polarity!r}")
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, not {self.source!r}")
        self.text = str(self.text).strip()
        self.weight = float(self.weight)
        self.evidence = tuple(item_key(i) for i in self.evidence)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["evidence"] = list(self.evidence)
        return d


def check_unique_ids(statements) -> None:
    """Edits and attributions address statements by id: two under one id would hit the first."""
    seen = set()
    for s in statements:
        if s.id in seen:
            raise ValueError(f"repeated statement id {s.id!r}: each statement needs its own id")
        seen.add(s.id)


@dataclass
class Profile:
    statements: list = field(default_factory=list)
    user_id: Any = None

    def __len__(self):
        return len(self.statements)

    def __iter__(self):
        return iter(self.statements)

    def get(self, statement_id: str) -> Statement:
        for s in self.statements:
            if s.id == statement_id:
                return s
        raise KeyError(f"no statement with id {statement_id!r} in this profile (ids: {[s.id for s in self.statements]})")

    def index_of(self, statement_id: str) -> int:
        return self.statements.index(self.get(statement_id))

    @property
    def likes(self) -> list:
        return [s for s in self.statements if s.polarity == "like" and s.text]

    @property
    def dislikes(self) -> list:
        return [s for s in self.statements if s.polarity == "dislike" and s.text]

    def is_empty(self) -> bool:
        return not any(s.text for s in self.statements)

    def to_text(self) -> str:
        """One paragraph for prompts and queries, statements in the person's order."""
        return " ".join(s.text if s.text.endswith((".", "!", "?")) else s.text + "." for s in self.statements if s.text)

    def to_dict(self) -> dict:
        uid = self.user_id.item() if hasattr(self.user_id, "item") else self.user_id  # numpy ids -> JSON-safe
        return {"user_id": uid, "statements": [s.to_dict() for s in self.statements]}

    @classmethod
    def from_dict(cls, d: dict) -> "Profile":
        stmts = [Statement(**{**s, "evidence": tuple(s.get("evidence", ()))}) for s in d.get("statements", [])]
        check_unique_ids(stmts)
        return cls(statements=stmts, user_id=d.get("user_id"))

    @classmethod
    def from_text(cls, text: str, user_id: Any = None, source: str = "edited") -> "Profile":
        """Split free text into statements (sentences and "but" clauses), reading each one's polarity.

        "I love space operas. I can't stand horror." -> a like and a dislike. A sentence that
        states neither inherits "like" (a person describing their taste names what they want).
        """
        # "anything but X" is one dislike, not "anything" and a like of X
        parts = re.split(r"(?<=[.!?;])\s+|\n+|(?<!anything)(?<!everything),?\s+but\s+", str(text or ""),
                         flags=re.IGNORECASE)
        stmts = [Statement(p.strip(), polarity=detect_polarity(p) or "like", source=source)
                 for p in parts if p and p.strip(" .!?;")]
        return cls(stmts, user_id=user_id)

    def copy(self) -> "Profile":
        return Profile([replace(s) for s in self.statements], self.user_id)

    def __str__(self):
        return self.to_text()


def _facet_values(row: pd.Series, kind: str) -> list[str]:
    col = FACETS[kind][0]
    raw = row.get(col)
    if raw is None or (not isinstance(raw, str) and pd.isna(raw)):
        return []
    if kind == "decade":
        return [f"{int(raw) // 10 * 10}s"]
    vals = [v.strip() for v in str(raw).split("|") if v.strip() and v.strip() != "(no genres listed)"]
    return vals[:3] if kind == "cast" else vals  # cast lists are long; the first names are the most prominent


def item_facets(row: pd.Series) -> dict[str, list[str]]:
    """{facet kind: values} of one catalog row, used to check statements against items."""
    return {kind: _facet_values(row, kind) for kind in FACETS}


def profile_from_history(
    items: pd.DataFrame,
    history: Iterable[int],
    ratings: Iterable[float] | None = None,
    like_at: float = 4.0,
    dislike_at: float = 2.5,
    min_support: int = 3,
    min_share: float = 0.6,
    max_per_facet: int = 3,
    facets: Iterable[str] = ("genre", "director", "decade", "cast"),
    user_id: Any = None,
) -> Profile:
    """A deterministic profile from the facts of liked and disliked items.

    A facet value (a genre, a director, a decade, an actor) becomes "I like ..." when at
    least ``min_support`` liked items have it and at least ``min_share`` of the user's rated
    items with it were liked; "I dislike ..." mirrors that for disliked items. Weights are the
    share; evidence is the supporting items. Without ratings every history item counts as liked.
    """
    history = [item_key(i) for i in history]
    ratings = list(ratings) if ratings is not None else [like_at] * len(history)
    if len(ratings) != len(history):
        raise ValueError("ratings and history differ in length")
    catalog = items.set_index("item_id")
    support = {p: defaultdict(list) for p in POLARITIES}
    rated = defaultdict(int)
    for item, r in zip(history, ratings):
        if item not in catalog.index:
            continue
        polarity = "like" if r >= like_at else "dislike" if r <= dislike_at else None
        row = catalog.loc[item]
        for kind in facets:
            for v in _facet_values(row, kind):
                rated[(kind, v)] += 1
                if polarity:
                    support[polarity][(kind, v)].append(item)
    statements = []
    for kind in facets:
        for polarity in POLARITIES:
            found = []
            for (k, v), ev in support[polarity].items():
                share = len(ev) / rated[(k, v)]
                if k == kind and len(ev) >= min_support and share >= min_share:
                    found.append((len(ev), share, v, ev))
            found.sort(key=lambda t: (-t[0], -t[1], t[2]))
            for n, share, v, ev in found[:max_per_facet]:
                verb = "I like" if polarity == "like" else "I dislike"
                statements.append(Statement(
                    text=f"{verb} {FACETS[kind][1].format(v=v)}", polarity=polarity, weight=round(share, 3),
                    evidence=tuple(ev), source="generated", facet={"kind": kind, "value": v},
                ))
    order = {k: n for n, k in enumerate(facets)}
    statements.sort(key=lambda s: (s.polarity != "like", order[s.facet["kind"]], -len(s.evidence)))
    return Profile(statements, user_id=user_id)


def profile_for_user(dataset_or_split, items: pd.DataFrame, user_id, **kw) -> Profile:
    """Profile from a user's training history (a Split or a ratings frame)."""
    train = getattr(dataset_or_split, "train", dataset_or_split)
    h = train[train["user_id"] == user_id].sort_values("timestamp")
    return profile_from_history(items, h["item_id"], h["rating"], user_id=user_id, **kw)
