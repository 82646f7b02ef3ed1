"""What every LLM ranker shares: a prompt template, few-shot demos, rendering, and per-call diagnostics.

Subclasses set ``task`` (which [task.*] block of the templates file they use) and implement
``_score``. After each call ``ranker.last`` holds what the playground and notebooks show:
the prompt, notes on what was cut, raw output, parse errors, seconds and cache hits.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from recnb.scores.base import Query, Ranker
from recnb.text.prompts import Catalog, PromptTemplate, RenderedPrompt, SimilarUsers, get_template, make_demos, render


class LLMRanker(Ranker):
    """Base of the LLM rankers. max_history: the most recent items shown (20 keeps a CPU prompt short;
    the prompt says how many earlier ones were left out). None shows all that fit the context window."""

    task = "pointwise"
    uses = ("history", "text")

    def __init__(self, llm, template: str | PromptTemplate = "zero-shot", shots: int | None = None,
                 demo_source: str | None = None, max_history: int | None = 20):
        """template: a name in the templates file, or a PromptTemplate of this ranker's task.
        shots / demo_source: override the template's (None keeps them; a named template's source is "self")."""
        super().__init__()
        self.llm = llm
        if isinstance(template, PromptTemplate):
            if template.task != self.task:  # e.g. a Yes/No prompt under a ranker that reads digits
                raise ValueError(f"{type(self).__name__} reads answers of task {self.task!r}; this template is for "
                                 f"{template.task!r}: use get_template(name, {self.task!r})")
            changes = {k: v for k, v in (("shots", shots), ("demo_source", demo_source)) if v is not None}
            self.prompt = template.edited(template.text, name=template.name, **changes) if changes else template
        else:
            self.prompt = get_template(template, self.task, shots=shots, demo_source=demo_source or "self")
        self.max_history = max_history
        self.last: dict = {}
        self._memo: OrderedDict = OrderedDict()

    def memo(self, key, compute: Callable, size: int = 64):
        """Greedy decoding is deterministic: the same prompt gets the same answer, so keep recent ones.

        Hits are counted (``stats["generation_cache_hits"]``) so a run's cost is never misread.
        """
        if key in self._memo:
            self._memo.move_to_end(key)
            self.stats["generation_cache_hits"] += 1
            return self._memo[key]
        value = self._memo[key] = compute()
        while len(self._memo) > size:
            self._memo.popitem(last=False)
        return value

    def fit(self, train: pd.DataFrame | None, items: pd.DataFrame) -> "LLMRanker":
        super().fit(train, items)
        self.catalog = Catalog(items)
        self._train = train
        self._similar = None
        return self

    @property
    def similar(self) -> SimilarUsers | None:
        if self._similar is None and self._train is not None and len(self._train):
            self._similar = SimilarUsers(self._train)  # built on first use: only few-shot from similar users needs it
        return self._similar

    # -- prompts -------------------------------------------------------------------------------
    def check_query(self, query: Query) -> None:
        if not [i for i in query.history if i in self.catalog.text] and not query.profile_text and not query.request:
            raise ValueError(f"{self.name}: the query is empty (no history items in the catalog, no profile, no request)")

    def render(self, query: Query, candidates: Sequence = (), item: str | None = None, reserve_tokens: int = 64,
               avoid: Sequence | None = None) -> RenderedPrompt:
        """The prompt for ``query``; ``avoid`` (default: ``candidates``) are never a demo's negative
        (per-item prompts pass their candidates here: a demo must not label one of them "No")."""
        self.check_query(query)
        demos, notes = make_demos(query, self.catalog, self.prompt.shots, self.prompt.demo_source,
                                  self.similar if self.prompt.demo_source == "similar" else None,
                                  avoid=candidates if avoid is None else avoid)
        if len(demos) < self.prompt.shots:
            self.stats["demo_shortfall"] += 1
        rp = render(self.prompt, self.llm, query, self.catalog, candidates=candidates, item=item, demos=demos,
                    max_history=self.max_history, reserve_tokens=reserve_tokens, notes=notes)
        if rp.truncated:
            self.stats["truncated_prompts"] += 1
        return rp

    def _begin(self, rp: RenderedPrompt) -> None:
        self._t0 = time.perf_counter()
        self._hits0 = self.llm.stats.get("prefix_cache_hits", 0)
        self.last = {"prompt": rp.text, "user_text": rp.user_text, "prompt_tokens": rp.n_tokens, "notes": list(rp.notes),
                     "history_shown": rp.n_history_shown, "history_total": rp.n_history, "demos": rp.n_demos}

    def _end(self, **extra) -> None:
        self.last.update(extra)
        self.last["seconds"] = time.perf_counter() - self._t0
        self.last["prefix_cache_hits"] = self.llm.stats.get("prefix_cache_hits", 0) - self._hits0

    def describe(self) -> dict:
        return {"ranker": self.name, "template": self.prompt.name, "task": self.prompt.task, "shots": self.prompt.shots,
                "demo_source": self.prompt.demo_source, "llm": getattr(self.llm, "name", "")}

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r}, template={self.prompt.name!r}, shots={self.prompt.shots})"


def softmax_logprobs(x: np.ndarray) -> np.ndarray:
    """Log-probabilities renormalised over the given options (log-softmax)."""
    x = np.asarray(x, dtype=float)
    m = x.max() if x.size else 0.0
    return x - (m + np.log(np.exp(x - m).sum())) if x.size else x
