"""Title-likelihood LLM ranker: how likely is each candidate's title as the model's recommendation?

Raw title log-likelihood mostly measures how common and how short a title is. The default
normalisation subtracts the same title's log-likelihood under a neutral question without the
user ("pmi": log P(title | user) - log P(title)), leaving what the user's context adds. Both
prefixes are shared by all candidates, so each costs one prefix pass plus one batched pass.
"""
from __future__ import annotations

import numpy as np

from recnb.scores.base import Query
from recnb.scores.llm_base import LLMRanker
from recnb.scores.registry import RankerSpec, register

NORMALISATIONS = ("pmi", "mean", "sum")


class LLMTitleRanker(LLMRanker):
    name = "llm-title"
    task = "title"

    def __init__(self, llm, template="zero-shot", normalise: str = "pmi", end_of_answer: bool = True, **kw):
        super().__init__(llm, template, **kw)
        if normalise not in NORMALISATIONS:
            raise ValueError(f"normalise must be one of {NORMALISATIONS}, not {normalise!r}")
        self.normalise = normalise
        self.end_of_answer = end_of_answer

    def _continuations(self, titles: list[str]) -> list[str]:
        # Ending with the end-of-turn token scores the title as the whole answer ("Alien", not "Alien" then "s").
        eot = getattr(getattr(self.llm, "tokenizer", None), "eos_token", None) if self.end_of_answer else None
        return [t + (eot or "") for t in titles]

    def _score(self, query: Query, candidates: np.ndarray) -> np.ndarray:
        titles = [self.catalog[c] for c in candidates.tolist()]
        conts = self._continuations(titles)
        rp = self.render(query, reserve_tokens=max(self.llm.count_tokens(c) for c in conts) + 4, avoid=candidates.tolist())
        self._begin(rp)
        reduce = "mean" if self.normalise == "mean" else "sum"
        s = self.llm.score(rp.text, conts, reduce=reduce)
        if self.normalise == "pmi":
            neutral = self.llm.chat_prompt(self.prompt.options.get("neutral", "Recommend one movie."),
                                           system=self.prompt.system or None)
            s = s - self.llm.score(neutral, conts, reduce="sum")
        self._end(normalise=self.normalise)
        return s

    def why(self, query, candidates, scores):
        label = {"pmi": "log P(title | you) - log P(title)", "mean": "mean log P per token", "sum": "log P(title)"}[self.normalise]
        return [f"{label} = {s:.2f}" for s in scores]


register(RankerSpec("llm-title", lambda res: LLMTitleRanker(res.llm), needs=("llm",),
                    description="SmolLM2: title log-likelihood given the user, minus without the user (PMI)", tags=("llm",)))
