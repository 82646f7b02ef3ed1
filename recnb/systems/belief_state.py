"""The conversational recommender's belief state: what the person said they like, dislike and require.

Each :class:`Belief` is one sentence a person can read ("no Horror films", "released before
1990", "films directed by Michael Mann") plus, when it was understood as a catalog fact, the
structured form that filters or boosts items. The state is shown after every turn and is
editable: :meth:`BeliefState.edit` re-reads an edited sentence, :meth:`BeliefState.from_text`
reads a whole edited panel back. Nothing a person wrote is dropped: a sentence that matches no
fact is kept as free text and used as a soft preference through the encoder.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, replace

from recnb.systems.constraints import Constraint, decade_of

KINDS = ("like", "dislike", "constraint")
SOURCES = ("user", "critique", "edited", "llm")
_HEADINGS = {"likes": "like", "like": "like", "dislikes": "dislike", "dislike": "dislike",
             "constraints": "constraint", "constraint": "constraint", "must": "constraint"}


def _new_id() -> str:
    # 48 bits: 8 hex digits (32 bits) collided in a 5,000-statement profile about 1 time in 300,
    # and ids must be unique (edits address statements by id)
    return uuid.uuid4().hex[:12]


@dataclass
class Belief:
    text: str
    kind: str = "like"
    #: hard filters: a constraint belief's own, or the exclusion a facet dislike implies
    constraints: tuple = ()
    #: (field, value) when a like/dislike names a catalog fact: ("genre", "Comedy"), ("item", 6)
    facet: tuple | None = None
    source: str = "user"
    turn: int = 0
    id: str = field(default_factory=_new_id)
    #: how the sentence was read, when that is not obvious ("read as a dislike: ...")
    note: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"belief kind must be one of {KINDS}, not {self.kind!r}")
        if self.source not in SOURCES:
            raise ValueError(f"belief source must be one of {SOURCES}, not {self.source!r}")
        self.text = " ".join(str(self.text).split())
        if not self.text:
            raise ValueError("a belief needs some text")
        self.constraints = tuple(self.constraints)
        if self.facet is not None:
            self.facet = tuple(self.facet)

    @property
    def structured(self) -> bool:
        return bool(self.constraints) or self.facet is not None

    def to_dict(self) -> dict:
        return {"id": self.id, "text": self.text, "kind": self.kind, "source": self.source, "turn": self.turn,
                "constraints": [c.to_dict() for c in self.constraints],
                "facet": list(self.facet) if self.facet else None, "structured": self.structured, "note": self.note}

    @classmethod
    def from_dict(cls, d: dict) -> "Belief":
        return cls(text=d["text"], kind=d.get("kind", "like"), source=d.get("source", "user"), turn=d.get("turn", 0),
                   constraints=tuple(Constraint.from_dict(c) for c in d.get("constraints") or ()),
                   facet=tuple(d["facet"]) if d.get("facet") else None, id=d.get("id") or _new_id(),
                   note=d.get("note") or "")


def _as_list(parsed) -> list:
    """A parser's answer (None, one Belief, or a list of them) as a list."""
    if parsed is None:
        return []
    return [parsed] if isinstance(parsed, Belief) else list(parsed)


def read_beliefs(text: str, kind: str, parser=None, source: str = "edited", turn: int = 0) -> list[Belief]:
    """The beliefs one line states: ``parser(text, kind)``'s reading, else the line itself as free
    text (a person's words are never dropped); each marked with ``source`` and ``turn``."""
    found = _as_list(parser(text, kind) if parser is not None else None)
    return [replace(b, source=source, turn=turn) for b in found] or [Belief(text, kind, source=source, turn=turn)]


class BeliefState:
    """An ordered list of beliefs with conflict rules: a new belief replaces what it contradicts.

    * liking a fact removes the dislike of the same fact, and the other way round;
    * a numeric constraint replaces an earlier one on the same field and direction
      ("before 1990" then "before 1980" keeps the latter);
    * the same sentence twice is kept once.
    """

    def __init__(self, beliefs=()):
        self.beliefs: list[Belief] = []
        self.version = 0  # bumped on every change, so views know when to redraw
        for b in beliefs:
            self.add(b)

    def __len__(self):
        return len(self.beliefs)

    def __iter__(self):
        return iter(self.beliefs)

    @property
    def likes(self) -> list[Belief]:
        return [b for b in self.beliefs if b.kind == "like"]

    @property
    def dislikes(self) -> list[Belief]:
        return [b for b in self.beliefs if b.kind == "dislike"]

    @property
    def constraint_beliefs(self) -> list[Belief]:
        return [b for b in self.beliefs if b.kind == "constraint"]

    def constraints(self) -> list[Constraint]:
        """Every hard filter the state implies (constraints and facet dislikes)."""
        return [c for b in self.beliefs for c in b.constraints]

    def is_empty(self) -> bool:
        return not self.beliefs

    def get(self, belief_id: str) -> Belief:
        for b in self.beliefs:
            if b.id == belief_id:
                return b
        raise KeyError(f"no belief with id {belief_id!r} (ids: {[b.id for b in self.beliefs]})")

    # -- changes ---------------------------------------------------------------------------
    def add(self, belief: Belief) -> list[Belief]:
        """Add ``belief``; returns the beliefs it replaced (so a turn can say what changed)."""
        removed = [b for b in self.beliefs if self._conflicts(b, belief)]
        self.beliefs = [b for b in self.beliefs if b not in removed]
        self.beliefs.append(belief)
        self.version += 1
        return removed

    @staticmethod
    def _conflicts(old: Belief, new: Belief) -> bool:
        if old.text.lower() == new.text.lower():
            return True
        if old.facet and new.facet and old.facet == new.facet and {old.kind, new.kind} <= {"like", "dislike"}:
            return True
        if old.kind == new.kind == "constraint" and old.constraints and new.constraints:
            # "not from the 1980s" replaces "from the 1980s" and the other way round; several
            # decades left out all hold (a positive decade is a year range: the rule below)
            decades = decade_of(old.constraints), decade_of(new.constraints)
            if None not in decades and (False in (decades[0][1], decades[1][1])):
                return decades[0][0] == decades[1][0]

            def key(b):
                return {(c.field, c.op[0]) for c in b.constraints if c.field in ("year", "runtime")}
            return bool(key(old)) and key(old) == key(new)
        return False

    def remove(self, belief_id: str) -> Belief:
        b = self.get(belief_id)
        self.beliefs.remove(b)
        self.version += 1
        return b

    def edit(self, belief_id: str, text: str, parser=None, kind: str | None = None) -> Belief:
        """Replace a belief's sentence (and kind); ``parser(text, kind)`` re-reads its structure.

        Without a parser, or when the parser understands nothing, the edited sentence is kept
        as free text: the person's words are never dropped. When the parser reads several
        beliefs from it, the first takes the edited belief's place (and id), the others are added.
        """
        old = self.get(belief_id)
        found = read_beliefs(text, kind or old.kind, parser, "edited", old.turn)
        new = replace(found[0], id=old.id)
        # the edited belief conflicts with others as an added one would ("Horror films" vs "no horror films")
        self.beliefs = [new if b is old else b for b in self.beliefs if b is old or not self._conflicts(b, new)]
        self.version += 1
        for b in found[1:]:  # an edit naming several facts keeps all of them
            self.add(b)
        return new

    def clear(self) -> None:
        self.beliefs = []
        self.version += 1

    # -- text ------------------------------------------------------------------------------
    def to_text(self) -> str:
        """The panel as text: three headed lists, one belief per line."""
        out = []
        for heading, group in (("Likes", self.likes), ("Dislikes", self.dislikes), ("Constraints", self.constraint_beliefs)):
            out.append(f"{heading}:")
            out += [f"- {b.text}" for b in group] or ["- (none)"]
        return "\n".join(out)

    def summary(self) -> str:
        """One line for a chat reply."""
        parts = []
        if self.likes:
            parts.append("you like " + "; ".join(b.text for b in self.likes))
        if self.dislikes:
            parts.append("you dislike " + "; ".join(b.text for b in self.dislikes))
        if self.constraint_beliefs:
            parts.append("it must be " + "; ".join(b.text for b in self.constraint_beliefs))
        return ", ".join(parts) if parts else "nothing yet"

    @classmethod
    def from_text(cls, text: str, parser=None) -> "BeliefState":
        """Read an edited panel back ("Likes:" / "Dislikes:" / "Constraints:" headings, "- " lines).

        Lines before any heading are likes. ``parser(text, kind)`` gives each line its structure
        (a belief, a list of beliefs, or None for free text); it may change a line's kind (a
        negated line under Likes is a dislike).
        """
        state, kind = cls(), "like"
        for raw in str(text or "").splitlines():
            line = raw.strip()
            if not line:
                continue
            head = re.fullmatch(r"([A-Za-z]+)\s*:\s*(.*)", line)
            if head and head.group(1).lower() in _HEADINGS:
                kind = _HEADINGS[head.group(1).lower()]
                line = head.group(2).strip()
                if not line:
                    continue
            line = re.sub(r"^[-*•]\s*", "", line).strip()
            if not line or line == "(none)":
                continue
            for b in read_beliefs(line, kind, parser):
                state.add(b)
        return state

    def to_dict(self) -> dict:
        return {"beliefs": [b.to_dict() for b in self.beliefs]}

    @classmethod
    def from_dict(cls, d: dict) -> "BeliefState":
        return cls(Belief.from_dict(b) for b in d.get("beliefs", []))

    def to_profile(self, user_id=None):
        """The likes and dislikes as a :class:`recnb.text.profile.Profile` (for the kit's rankers)."""
        from recnb.text.profile import Profile, Statement

        stmts = [Statement(b.text if b.kind == "like" else f"I dislike {b.text}", polarity=b.kind, source="edited")
                 for b in self.beliefs if b.kind in ("like", "dislike")]
        return Profile(stmts, user_id=user_id)

    def __repr__(self):
        return f"BeliefState({len(self.likes)} likes, {len(self.dislikes)} dislikes, {len(self.constraint_beliefs)} constraints)"
