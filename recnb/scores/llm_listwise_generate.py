"""Listwise by generation: the model writes a ranked list of titles, which is parsed and grounded.

This is how most LLM recommenders are demonstrated, and at small scale it is the weakest way
(LLMRank: 7B chat models at random level on ML-1M; the bundled 135M model mostly echoes the
input order). It is kept as the honest baseline the likelihood rankers are compared with: every
failure is counted in ``stats`` (invalid titles, duplicates, items outside the candidates,
missing items, and prose lines that name no film) and unnamed candidates tie at the bottom. Greedy output is deterministic, so
repeated prompts are answered from a small cache (counted as ``generation_cache_hits``).
"""
from __future__ import annotations

import numpy as np

from recnb.ranking.grounding import TitleMatcher, ground, order_scores
from recnb.scores.base import Query
from recnb.scores.llm_base import LLMRanker
from recnb.scores.registry import RankerSpec, register


class LLMListwiseGenerateRanker(LLMRanker):
    name = "llm-listwise-generate"
    task = "generate"
    order_invariant = False

    def __init__(self, llm, template="zero-shot", threshold: float = 85.0, max_new_tokens: int | None = None, **kw):
        super().__init__(llm, template, **kw)
        self.threshold = threshold
        self.max_new_tokens = max_new_tokens

    def fit(self, train, items):
        super().fit(train, items)
        self._catalog_matcher = TitleMatcher(self.catalog.text, self.threshold)
        return self

    def _score(self, query: Query, candidates: np.ndarray) -> np.ndarray:
        cands = candidates.tolist()
        titles = [self.catalog[c] for c in cands]
        budget = self.max_new_tokens or min(512, sum(self.llm.count_tokens(t) + 2 for t in titles) + 8)
        rp = self.render(query, candidates=cands, reserve_tokens=budget)
        self._begin(rp)
        text = self.memo((rp.text, budget), lambda: self.llm.generate(rp.text, max_new_tokens=budget))
        g = ground(text, cands, self.catalog.text, threshold=self.threshold, catalog_matcher=self._catalog_matcher)
        counts = g.counts()
        for key in ("invalid_titles", "outside_candidates", "duplicates", "missing", "truncated_lines", "prose_lines"):
            self.stats[key] += counts[key]
        self.stats["unparseable_outputs"] += int(not g.order)
        self._end(output=text, grounding=counts, hallucinated=g.hallucinated, invalid=list(g.invalid), prose=list(g.prose),
                  outside=[line for line, _ in g.outside], duplicates=[line for line, _ in g.duplicates],
                  missing=list(g.missing))
        return order_scores(g.order, cands)

    def why(self, query, candidates, scores):
        n = len(candidates)
        return [f"named #{int(n - s + 1)} by the model" if s > 0 else "not named by the model (tied last)" for s in scores]


register(RankerSpec("llm-listwise-generate", lambda res: LLMListwiseGenerateRanker(res.llm), needs=("llm",),
                    # Free-text ranking by a 135M model is about random (it echoes the input order), as LLMRank
                    # found for 7B models; the contract asks only that it runs cleanly, not that it ranks well.
                    contract_min_auc=0.0,
                    description="SmolLM2 writes a ranked list; parsed, fuzzy-grounded, every error counted",
                    tags=("llm", "generative", "order-dependent")))
