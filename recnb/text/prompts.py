"""Prompt templates as editable data, few-shot demos, and fitting prompts to the context window.

The text lives in ``recnb/text/templates/prompts.toml`` (templates say who the user is, tasks
say what is asked). :func:`get_template` combines one of each into a :class:`PromptTemplate`
whose ``text`` a person may edit freely (the playground does); :func:`render` fills it for one
user and candidate set, applies the model's chat template through its tokenizer, and drops the
oldest history (then demos) until the prompt fits, saying in the prompt and in
:attr:`RenderedPrompt.notes` what was cut.
"""
from __future__ import annotations

import bisect
import os
import string
import zlib
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from recnb.data.titles import natural_title

TEMPLATES_FILE = Path(__file__).with_name("templates") / "prompts.toml"
LABELS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ITEM_SENTINEL = "\x00ITEM\x00"  # where {item} goes, so a prompt can be split for KV-cache reuse

#: Placeholders render() fills; anything else in an edited template is a clear error.
PLACEHOLDERS = {
    "profile", "history", "history_numbered", "recent", "truncation_note", "demos", "candidates",
    "candidates_labelled", "n_candidates", "item", "facts", "statements",
}
DEMO_PLACEHOLDERS = {
    "demo_history", "demo_item", "demo_negative", "demo_candidates", "demo_candidates_labelled", "demo_label",
    "demo_ranking", "demo_rating",
}


#: Placeholders a task's ranker cannot do without: a pointwise prompt must name the item it asks
#: about, a label prompt must list the labelled candidates, a generated ranking must see them.
TASK_NEEDS = {"pointwise": ("item",), "rating": ("item",), "explain": ("item",), "labels": ("candidates_labelled",),
              "generate": ("candidates",)}


class PromptTemplateError(ValueError):
    """A template uses an unknown placeholder or is malformed."""


@lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int) -> dict:
    with open(path, "rb") as f:
        return tomllib.load(f)


def template_data(path: str | Path | None = None) -> dict:
    """The parsed templates file (``path`` lets a course ship its own); read again after it is edited."""
    path = str(path or TEMPLATES_FILE)
    return _load(path, os.stat(path).st_mtime_ns)


def template_names(path=None) -> list[str]:
    return list(template_data(path)["template"])


def task_names(path=None) -> list[str]:
    return list(template_data(path)["task"])


@dataclass
class PromptTemplate:
    """One editable prompt: ``text`` (the user turn, with placeholders) and ``system``."""

    name: str
    task: str
    text: str
    system: str = ""
    shots: int = 0
    demo_source: str = "self"  # "self": the user's own earlier history; "similar": similar users
    demo_text: str = ""
    options: dict = field(default_factory=dict)  # task extras: positive/negative answers, neutral question

    def __post_init__(self):
        if self.demo_source not in ("self", "similar"):
            raise PromptTemplateError(f"demo_source must be 'self' or 'similar', not {self.demo_source!r}")
        if int(self.shots) < 0:
            raise PromptTemplateError(f"shots must be >= 0, not {self.shots}")
        self.shots = int(self.shots)
        names = check_placeholders(self.text, PLACEHOLDERS, f"template {self.name!r}")
        lacking = [n for n in TASK_NEEDS.get(self.task, ()) if n not in names]
        if lacking:
            raise PromptTemplateError(f"template {self.name!r}: the {self.task!r} task needs "
                                      f"{', '.join('{' + n + '}' for n in lacking)} in the text")
        check_placeholders(self.demo_text, DEMO_PLACEHOLDERS, f"demo format of {self.name!r}")

    @property
    def placeholders(self) -> set:
        """The placeholder names the text fills ("{{demos}}" is literal text, not one)."""
        return set(check_placeholders(self.text, PLACEHOLDERS, f"template {self.name!r}"))

    def edited(self, text: str | None = None, **changes) -> "PromptTemplate":
        """A copy with new text (or other fields); checked like the original."""
        return replace(self, text=self.text if text is None else text, name=changes.pop("name", self.name + "*"), **changes)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("name", "task", "text", "system", "shots", "demo_source", "demo_text", "options")}


def check_placeholders(text: str, allowed: set, where: str) -> list[str]:
    """The placeholder names in ``text``; unknown ones or broken braces raise PromptTemplateError."""
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        raise PromptTemplateError(f"{where}: {exc} (write {{{{ and }}}} for literal braces)") from exc
    bad = sorted({n for n in names if n not in allowed})
    if bad:
        raise PromptTemplateError(f"{where}: unknown placeholder(s) {', '.join('{' + b + '}' for b in bad)}; "
                                  f"known: {', '.join(sorted(allowed))}")
    return names


def get_template(name: str = "zero-shot", task: str = "pointwise", shots: int | None = None,
                 demo_source: str = "self", path=None) -> PromptTemplate:
    """Combine template ``name`` (who the user is) with ``task`` (what is asked)."""
    data = template_data(path)
    if name not in data["template"]:
        raise KeyError(f"no prompt template {name!r}; available: {', '.join(data['template'])}")
    if task not in data["task"]:
        raise KeyError(f"no task {task!r}; available: {', '.join(data['task'])}")
    tpl, tsk = data["template"][name], data["task"][task]
    options = {k: v for k, v in tsk.items() if k not in ("text", "description")}
    return PromptTemplate(
        name=name, task=task, text=tpl["text"].strip("\n") + "\n" + tsk["text"].strip("\n"),
        system=data.get("system", {}).get("default", ""), shots=tpl.get("shots", 0) if shots is None else shots,
        demo_source=demo_source, demo_text=data.get("demo", {}).get(task, ""), options=options,
    )


# -- items as text ----------------------------------------------------------------------------
def item_text(row) -> str:
    """ "Title (Year)" with the article in front; just the title when the year is unknown."""
    title = natural_title(str(row["title"]))
    year = row.get("year") if hasattr(row, "get") else None
    try:
        return f"{title} ({int(year)})" if year is not None and not pd.isna(year) else title
    except (TypeError, ValueError):
        return title


class Catalog:
    """Fast item-id -> text lookups for prompts (built once per ranker)."""

    def __init__(self, items: pd.DataFrame):
        self.items = items
        self.text = {iid: item_text(row) for iid, row in zip(items["item_id"].tolist(), items.to_dict("records"))}
        self.ids = np.asarray(items["item_id"].tolist())

    def __getitem__(self, item_id) -> str:
        return self.text[item_id]


# -- few-shot demos -------------------------------------------------------------------------------
@dataclass
class Demo:
    """One worked example: a short history, the item chosen next, and items not chosen."""

    history: list
    item: Any
    negatives: list
    rating: float | None = None
    source: str = "self"


def _rng(*keys) -> np.random.Generator:
    return np.random.default_rng([zlib.crc32(str(k).encode()) for k in keys])


def _negatives(catalog: Catalog, exclude: set, n: int, rng) -> list:
    out = []
    for pos in rng.permutation(len(catalog.ids)):
        i = catalog.ids[pos].item()
        if i not in exclude:
            out.append(i)
            if len(out) == n:
                break
    return out


class SimilarUsers:
    """Training users ordered by cosine overlap of watched items (for demos from similar users).

    Time-aware where the training data has timestamps: for a query user found in it, only what
    the neighbours did up to that user's latest history item counts, both for who is similar and
    for the demos. Otherwise a temporal split's demos would show neighbours' later choices, often
    made after the very item being predicted.
    """

    def __init__(self, train: pd.DataFrame):
        timed = "timestamp" in train
        t = train.sort_values("timestamp", kind="stable") if timed else train
        groups = list(t.groupby("user_id", sort=False))
        self.histories = {u: g["item_id"].tolist() for u, g in groups}
        self.ratings = {u: g["rating"].tolist() for u, g in groups} if "rating" in t else {}
        self.times = {u: g["timestamp"].tolist() for u, g in groups} if timed else {}
        self.by_item: dict = {}
        for u, h in self.histories.items():
            for i in set(h):
                self.by_item.setdefault(i, []).append(u)

    def cutoff(self, user_id, history: Sequence):
        """The time of ``user_id``'s latest ``history`` item in the training data (None if unknown)."""
        if not history or user_id not in self.times:
            return None
        last, h = history[-1], self.histories[user_id]
        at = [t for i, t in zip(h, self.times[user_id]) if i == last]
        return max(at) if at else None

    def known(self, u, cutoff=None) -> int:
        """How many of ``u``'s first interactions happened at or before ``cutoff`` (all without one)."""
        if cutoff is None or u not in self.times:
            return len(self.histories[u])
        return bisect.bisect_right(self.times[u], cutoff)

    def nearest(self, history: Sequence, k: int, exclude_user=None, cutoff=None) -> list:
        """Up to ``k`` users with at least 2 items by ``cutoff``, by cosine overlap with ``history`` then id."""
        mine = set(history)
        scored = []
        for u in {u for i in mine for u in self.by_item.get(i, ())} - {exclude_user}:
            n = self.known(u, cutoff)  # only what the neighbour had done by then
            theirs = set(self.histories[u][:n])
            shared = len(mine & theirs)
            if n >= 2 and shared:
                scored.append((-shared / np.sqrt(len(mine) * len(theirs)), str(u), u))
        return [u for *_, u in sorted(scored)][:k]


def make_demos(query, catalog: Catalog, k: int, source: str = "self", similar: SimilarUsers | None = None,
               n_negatives: int = 3, demo_history: int = 5, avoid: Sequence = ()) -> tuple[list[Demo], list[str]]:
    """Up to ``k`` demos and notes on any shortfall (never silently fewer).

    source="self": the user's own history, each demo predicting one of their later items from the
    items before it. source="similar": the latest item of each of the k most similar users, up to
    the query user's latest history item when the training data has times (see :class:`SimilarUsers`).
    avoid: items never used as a demo's negative (the query's candidates: a demo must not label one "No").
    """
    notes: list[str] = []
    if k <= 0:
        return [], notes
    history, ratings = list(query.history), list(query.ratings) or [None] * len(query.history)
    rng = _rng("demos", query.user_id, source, len(history))
    demos: list[Demo] = []
    avoid = set(avoid)
    if source == "self":
        for j in range(1, k + 1):
            cut = len(history) - j
            if cut < 1:
                break
            demos.append(Demo(history[max(0, cut - demo_history):cut], history[cut],
                              _negatives(catalog, set(history) | avoid, n_negatives, rng), ratings[cut], "self"))
    else:
        if similar is None:
            raise ValueError("demos from similar users need the training ratings: fit the ranker first")
        cutoff = similar.cutoff(query.user_id, history)
        if cutoff is None and similar.times:
            notes.append("similar-user demos are not limited in time: this user's history has no training timestamps")
        for u in similar.nearest(history, k, exclude_user=query.user_id, cutoff=cutoff):
            n = similar.known(u, cutoff)
            h = similar.histories[u][:n]
            r = similar.ratings.get(u, [None] * n)[:n]
            demos.append(Demo(h[-1 - demo_history:-1], h[-1], _negatives(catalog, set(h) | set(history) | avoid, n_negatives, rng),
                              r[-1], f"user {u}"))
    demos = [d for d in demos if d.item in catalog.text]
    if len(demos) < k:
        notes.append(f"asked for {k} demos, {len(demos)} available from {source!r} history")
    return demos, notes


def format_demo(fmt: str, demo: Demo, catalog: Catalog, index: int) -> str:
    if not fmt:
        return ""
    cands = list(demo.negatives)
    pos = index % (len(cands) + 1)  # rotate the right answer's slot so demos do not teach "always A"
    cands.insert(pos, demo.item)
    fields = dict(
        demo_history=", ".join(catalog[i] for i in demo.history if i in catalog.text) or "(nothing yet)",
        demo_item=catalog[demo.item], demo_negative=catalog[demo.negatives[0]] if demo.negatives else "",
        demo_candidates="; ".join(catalog[i] for i in cands),
        demo_candidates_labelled="; ".join(f"{LABELS[n]}. {catalog[i]}" for n, i in enumerate(cands)),
        demo_label=LABELS[pos], demo_ranking="; ".join(catalog[i] for i in [demo.item] + list(demo.negatives)),
        demo_rating=f"{demo.rating:g}" if demo.rating is not None else "liked it",
    )
    return fmt.format_map(fields)


# -- rendering ----------------------------------------------------------------------------------------
@dataclass
class RenderedPrompt:
    """A filled prompt in the model's chat format, and what was left out to make it fit."""

    text: str
    user_text: str
    n_tokens: int
    n_history: int
    n_history_shown: int
    n_demos: int
    notes: list = field(default_factory=list)

    @property
    def truncated(self) -> bool:
        return self.n_history_shown < self.n_history

    def split_item(self) -> tuple[str, str]:
        """(prefix, continuation pattern) for prompts rendered with ``item=ITEM_SENTINEL``.

        The pattern still holds ITEM_SENTINEL: ``pattern.replace(ITEM_SENTINEL, title)`` is the
        candidate's continuation. The prefix is shared by every candidate, so its KV cache is too.
        """
        if self.text.count(ITEM_SENTINEL) != 1:
            raise PromptTemplateError("the template must use {item} exactly once for per-candidate scoring")
        before, after = self.text.split(ITEM_SENTINEL)
        # "the movie |Heat" would tokenise the space alone: move it to the item's side (" Heat").
        stripped = before.rstrip(" ")
        return stripped, before[len(stripped):] + ITEM_SENTINEL + after


def _statements(profile) -> str:
    stmts = getattr(profile, "statements", None)
    if stmts:
        return "\n".join(f"[S{n}] {s.text}" for n, s in enumerate([s for s in stmts if s.text], 1))
    text = profile if isinstance(profile, str) else ""
    return f"[S1] {text}" if text else "(no statements)"


def render(template: PromptTemplate, llm, query, catalog: Catalog, candidates: Sequence = (), item: str | None = None,
           facts: str = "", demos: Sequence[Demo] = (), max_history: int | None = 50, reserve_tokens: int = 64,
           notes: Sequence[str] = ()) -> RenderedPrompt:
    """Fill ``template`` for one user (``query``) and candidate set, in ``llm``'s chat format.

    The prompt keeps the most recent ``max_history`` items and then, if it is still longer than
    the context window minus ``reserve_tokens`` (the answer's room), drops the oldest history items,
    then demos, until it fits. What was cut is written into the prompt ({truncation_note}) and
    listed in ``notes``. Raises ValueError when even an empty history does not fit.
    """
    history = [i for i in query.history if i in catalog.text]
    notes = list(notes)
    missing = len(query.history) - len(history)
    if missing:
        notes.append(f"{missing} history item(s) are not in the catalog and were left out")
    cand_text = [catalog[c] for c in candidates]
    used = template.placeholders
    if len(cand_text) > len(LABELS) and "candidates_labelled" in used:
        raise ValueError(f"label prompts take at most {len(LABELS)} candidates, got {len(cand_text)}")
    demo_lines = [format_demo(template.demo_text, d, catalog, n) for n, d in enumerate(demos)]
    demo_lines = [f"Example {n}: {t}" for n, t in enumerate([t for t in demo_lines if t], 1)]
    # An edited template can leave out a placeholder: say what the model is then not shown.
    if demos and not demo_lines:
        notes.append(f"task {template.task!r} has no demo format: {len(demos)} demo(s) not shown")
    elif demo_lines and "demos" not in used:
        notes.append(f"the template has no {{demos}}: {len(demo_lines)} demo(s) not shown")
        demo_lines = []
    budget = llm.context_window - reserve_tokens
    # What the person said: the profile, and the request they typed now (shown in the profile's place).
    request = (getattr(query, "request", None) or "").strip()
    about = " ".join(p for p in (getattr(query, "profile_text", "") or "",
                                 f"What I am looking for now: {request}" if request else "") if p)
    if request and "profile" not in used:
        notes.append(f"the template has no {{profile}}: the request {request!r} is not shown")

    def build(n_shown: int, n_demos: int) -> tuple[str, str]:
        shown = history[len(history) - n_shown:] if n_shown else []
        cut = len(history) - n_shown
        capped = max_history is not None and max_history < len(history)
        why = (("to fit the context window" + (f" (and max_history={max_history})" if capped else ""))
               if n_shown < min(len(history), max_history or len(history)) else f"max_history={max_history}")
        note = f"\n(The {cut} earlier movie{'s' if cut != 1 else ''} I watched are not shown, {why}.)" if cut else ""
        fields = dict(
            profile=about or "(no profile)",
            history=", ".join(catalog[i] for i in shown) or "(none)",
            history_numbered="\n".join(f"{n}. {catalog[i]}" for n, i in enumerate(shown, 1)) or "(none)",
            recent=catalog[history[-1]] if history else "(none)",
            truncation_note=note, demos="\n".join(demo_lines[:n_demos]),
            candidates="\n".join(f"- {t}" for t in cand_text),
            candidates_labelled="\n".join(f"{LABELS[n]}. {t}" for n, t in enumerate(cand_text)),
            n_candidates=len(cand_text), item=item if item is not None else "", facts=facts,
            statements=_statements(getattr(query, "profile", None)),
        )
        user = template.text.format_map(fields)
        return user, llm.chat_prompt(user, system=template.system or None)

    n_hist = min(len(history), max_history) if max_history is not None else len(history)
    n_dem = len(demo_lines)
    user, text = build(n_hist, n_dem)
    n_tok = llm.count_tokens(text)
    if n_tok > budget:
        lo, hi = 0, n_hist  # the largest history that fits: binary search (fewer items = fewer tokens)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if llm.count_tokens(build(mid, n_dem)[1]) <= budget:
                lo = mid
            else:
                hi = mid - 1
        n_hist = lo
        while n_hist == 0 and n_dem > 0 and llm.count_tokens(build(0, n_dem)[1]) > budget:
            n_dem -= 1
        user, text = build(n_hist, n_dem)
        n_tok = llm.count_tokens(text)
        if n_tok > budget:
            raise ValueError(f"the prompt needs {n_tok} tokens even with no history and no demos; the model's window "
                             f"is {llm.context_window} minus {reserve_tokens} for the answer: use fewer candidates")
    if n_hist < len(history):
        notes.append(f"history truncated: kept the {n_hist} most recent of {len(history)} items"
                     + (f" (max_history={max_history})" if max_history is not None and n_hist == max_history else
                        " to fit the context window"))
        if "truncation_note" not in used:
            notes.append("the template has no {truncation_note}: the model is not told that history was cut")
    if n_dem < len(demo_lines):
        notes.append(f"dropped {len(demo_lines) - n_dem} of {len(demo_lines)} demos to fit the context window")
    if "profile" in used and not about:
        notes.append("this user has no profile: the prompt says '(no profile)' in its place")
    return RenderedPrompt(text, user, n_tok, len(history), n_hist, n_dem, notes)
