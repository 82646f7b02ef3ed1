"""Shared pieces for the recnb.systems tests: a small real catalog and a scripted LLM.

The scripted LLM has the kit's LLM surface (generate, chat_prompt, score, count_tokens) and
answers from a script, so protocol handling (malformed JSON, invented citations, fallbacks)
is tested exactly; the tests that need real model behaviour use the bundled model (``llm``).
"""
from __future__ import annotations

from collections import Counter

import numpy as np

#: Items every small catalog keeps (the tests name them): Toy Story, Heat, Godfather,
#: Godfather II, Casablanca, Annie Hall, Alien, Aliens, Fargo, The Lion King, Carlito's Way.
KNOWN = [1, 6, 858, 1221, 912, 1230, 1214, 1200, 608, 364, 431]
_CACHE = {}


def small_catalog(dataset, encoder=None, n: int = 600):
    """The first ``n`` movies plus :data:`KNOWN`, as an ItemCatalog (built once per process)."""
    from recnb.systems.catalog import ItemCatalog

    key = (id(dataset), n, encoder is not None)
    if key not in _CACHE:
        items = dataset.items
        keep = items[items.item_id.isin(KNOWN) | (items.index < n)]
        _CACHE[key] = ItemCatalog(keep, encoder=encoder)
    return _CACHE[key]


class ScriptedLLM:
    """generate() returns the scripted replies in turn (the last one repeats); score() a fixed preference.

    ``prefer``: a substring; continuations that contain it score 0, others -5 (None: all -1).
    Every prompt is recorded in ``prompts``.
    """

    name = "scripted"
    backend = "scripted"

    def __init__(self, replies=("",), prefer: str | None = None):
        self.replies, self.prefer = list(replies), prefer
        self.prompts: list[str] = []
        self.scored: list[tuple] = []
        self.stats = Counter()

    def chat_prompt(self, user, system=None, assistant_prefix=""):
        return f"<system>{system or ''}</system><user>{user}</user><assistant>{assistant_prefix}"

    def generate(self, prompts, max_new_tokens=64, temperature=0.0, stop=None, **kw):
        single = isinstance(prompts, str)
        outs = []
        for p in [prompts] if single else prompts:
            self.prompts.append(p)
            n = min(self.stats["generate_calls"], len(self.replies) - 1)
            self.stats["generate_calls"] += 1
            outs.append(self.replies[n])
        return outs[0] if single else outs

    def score(self, prefix, continuations, reduce="sum", **kw):
        self.scored.append((prefix, list(continuations)))
        self.stats["score_calls"] += 1
        if self.prefer is None:
            return np.full(len(continuations), -1.0)
        return np.array([0.0 if self.prefer in c else -5.0 for c in continuations])

    def count_tokens(self, text):
        return len(text.split())

    context_window = 8192
