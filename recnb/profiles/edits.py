"""Edits to a profile as pure functions: each takes a Profile and returns a new one.

An :class:`Edit` is a small record (op + arguments) so that the widget, the edit log, undo/redo
and tests all speak the same language: ``apply_edit(profile, Edit("flip", id="a1b2c3d4"))``.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

from recnb.text.profile import POLARITIES, Profile, Statement, detect_polarity, statement_topic

OPS = ("add", "edit", "delete", "move", "flip", "weight", "replace")
MAX_WEIGHT = 10.0


class ProfileEditError(ValueError):
    """An edit that cannot be applied (unknown statement, empty text, bad weight...)."""


@dataclass(frozen=True)
class Edit:
    op: str
    id: str | None = None  # the statement edited (not for "add" / "replace")
    text: str | None = None
    polarity: str | None = None
    weight: float | None = None
    index: int | None = None  # "move": the new position; "add": where to insert (default: end)
    profile: Profile | None = field(default=None, compare=False)  # "replace": the whole new profile

    @classmethod
    def from_dict(cls, d: dict) -> "Edit":
        """From a widget message: unknown keys are an error, not silently ignored."""
        known = {"op", "id", "text", "polarity", "weight", "index"}
        extra = set(d) - known
        if extra:
            raise ProfileEditError(f"unknown edit field(s) {sorted(extra)}; an edit has {sorted(known)}")
        if d.get("op") not in OPS:
            raise ProfileEditError(f"unknown edit op {d.get('op')!r}; use one of {OPS}")
        return cls(**d)


def _statement(profile: Profile, sid) -> int:
    try:
        return profile.index_of(sid)
    except KeyError as exc:
        raise ProfileEditError(str(exc.args[0])) from None


def check_weight(w, maximum: float | None = MAX_WEIGHT) -> float:
    """``w`` as a finite float in [0, ``maximum``]; ``maximum=None``: no cap (a saved file has none)."""
    try:
        w = float(w)
    except (TypeError, ValueError):
        raise ProfileEditError(f"weight must be a number, not {w!r}") from None
    if not math.isfinite(w) or w < 0 or (maximum is not None and w > maximum):
        bound = ">= 0" if maximum is None else f"between 0 and {maximum:g}"
        raise ProfileEditError(f"weight must be a finite number {bound}, not {w!r}")
    return w


def _text(t) -> str:
    t = str(t or "").strip()
    if not t:
        raise ProfileEditError("a statement needs some text (delete it instead of emptying it)")
    return t


def apply_edit(profile: Profile, edit: Edit) -> tuple[Profile, str]:
    """(new profile, one-line description for the edit log). The input profile is never changed."""
    p = profile.copy()
    st = p.statements
    if edit.op == "add":
        text = _text(edit.text)
        polarity = edit.polarity or detect_polarity(text) or "like"
        if polarity not in POLARITIES:
            raise ProfileEditError(f"polarity must be one of {POLARITIES}, not {polarity!r}")
        written = _in_words(text, polarity, explicit=edit.polarity is not None)
        weight = check_weight(1.0 if edit.weight is None else edit.weight)
        s = Statement(written, polarity=polarity, weight=weight, source="edited")
        at = len(st) if edit.index is None else max(0, min(_index(edit.index, "add"), len(st)))
        st.insert(at, s)
        return p, f"added {polarity} '{written}'" + (f" (from '{text}')" if written != text else "")
    if edit.op == "replace":
        if edit.profile is None:
            raise ProfileEditError("'replace' needs a profile")
        return edit.profile.copy(), f"replaced the profile ({len(edit.profile)} statements)"
    i = _statement(p, edit.id)
    old = st[i]
    if edit.op == "edit":
        text = _text(edit.text)
        # the words decide unless a polarity is sent; words that say neither keep the old one
        polarity = edit.polarity or detect_polarity(text) or old.polarity
        if polarity not in POLARITIES:
            raise ProfileEditError(f"polarity must be one of {POLARITIES}, not {polarity!r}")
        written = _in_words(text, polarity, explicit=edit.polarity is not None)
        st[i] = replace(old, text=written, polarity=polarity, source="edited", flag=None, facet=None)
        note = f" (polarity {polarity}, read from the text)" if polarity != old.polarity and not edit.polarity else ""
        note += f" (from '{text}')" if written != text else ""
        return p, f"edited '{old.text}' -> '{written}'{note}"
    if edit.op == "delete":
        del st[i]
        return p, f"deleted '{old.text}'"
    if edit.op == "move":
        if edit.index is None:
            raise ProfileEditError("'move' needs an index")
        j = max(0, min(_index(edit.index, "move"), len(st) - 1))
        st.insert(j, st.pop(i))
        return p, f"moved '{old.text}' from {i + 1} to {j + 1}"
    if edit.op == "flip":
        polarity = "dislike" if old.polarity == "like" else "like"
        st[i] = replace(old, polarity=polarity, text=_flip_text(old.text, polarity), source="edited")
        return p, f"flipped '{old.text}' to {polarity}"
    if edit.op == "weight":
        w = check_weight(edit.weight)
        st[i] = replace(old, weight=w, source="edited")
        return p, f"weight of '{old.text}' {old.weight:g} -> {w:g}"
    raise ProfileEditError(f"unknown edit op {edit.op!r}; use one of {OPS}")


# Words that make a text a sentence rather than a bare topic: "Westerns are great" as a dislike
# cannot become "I dislike Westerns are great"; "Westerns" or "films with Tom Hanks" can.
_SENTENCE = re.compile(r"\b(?:is|are|was|were|am|be|been|isn'?t|aren'?t|wasn'?t|i|i'm|me|my|we|you|it|they|"
                       r"has|have|had|do|does|did|can|could|will|would|should|makes?|made)\b", re.IGNORECASE)


def _in_words(text: str, polarity: str, explicit: bool) -> str:
    """``text`` saying ``polarity`` in its words: prompts and text rankers read only the words, so a
    "Horror films" added as a dislike becomes "I dislike Horror films". Words that plainly say the
    opposite of a polarity the person chose ("I love horror" sent as a dislike) are refused: one of
    the two is a mistake, and guessing which would hide it."""
    said = detect_polarity(text)
    if explicit and said is not None and said != polarity:
        raise ProfileEditError(f"'{text}' says {said}, but the edit asks for {polarity}: change the words or the polarity")
    return _flip_text(text, polarity)


def _flip_text(text: str, polarity: str) -> str:
    """The words rewritten to say ``polarity``: "I love heist films" -> "I dislike heist films".

    Text rankers and prompts read the words, not the polarity field: a flipped statement whose words
    still say the opposite ("I can't stand horror" as a like) would be read back the old way. Words
    that cannot be rewritten safely raise ProfileEditError rather than being garbled.
    """
    said = detect_polarity(text)
    if (said or "like") == polarity:
        return text  # the words already say it ("Westerns" is a like)
    cannot = ProfileEditError(f"cannot rewrite '{text}' to say {polarity}: edit its words instead")
    if len(Profile.from_text(text).statements) > 1:
        raise cannot  # several clauses ("I like X but not Y"): rewriting the lead would garble the rest
    topic = statement_topic(text)
    bare = text.strip().rstrip(".!?;").strip()
    if said is not None and topic == bare:
        raise cannot  # the polarity words are not a lead that can be swapped ("Horror is not for me")
    if said is None and _SENTENCE.search(bare):
        raise cannot  # a sentence, not a topic ("Westerns are great")
    end = "." if text.rstrip().endswith(".") else ""
    new = f"I {'dislike' if polarity == 'dislike' else 'like'} {topic}{end}"
    if (detect_polarity(new) or "like") != polarity:
        raise cannot  # the topic itself says the opposite ("I like I never watch horror")
    return new


def _index(value, op: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ProfileEditError(f"'{op}' needs a whole-number position, not {value!r}") from None
