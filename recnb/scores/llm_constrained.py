"""Constrained generation: the model ranks by writing candidate titles, and can write nothing else.

Same prompt as ``llm-listwise-generate``, but decoding goes through a prefix trie over the
candidates' titles (``recnb.models.constrained``): every line is a candidate, none repeats, all
are written. Parse errors and hallucinations are impossible by construction; what remains is
whether the order means anything. Repeated prompts are answered from a small cache (greedy
decoding is deterministic), counted as ``generation_cache_hits``.
"""
from __future__ import annotations

import numpy as np

from recnb.models.constrained import constrained_titles
from recnb.ranking.grounding import order_scores
from recnb.scores.base import Query
from recnb.scores.llm_base import LLMRanker
from recnb.scores.registry import RankerSpec, register


class LLMConstrainedRanker(LLMRanker):
    name = "llm-constrained"
    task = "generate"
    order_invariant = False

    def __init__(self, llm, template="zero-shot", n_titles: int | None = None, **kw):
        super().__init__(llm, template, **kw)
        self.n_titles = n_titles  # None: write the whole list; k: only the top k, the rest tie last

    def _score(self, query: Query, candidates: np.ndarray) -> np.ndarray:
        cands = candidates.tolist()
        titles = [self.catalog[c] for c in cands]
        reserve = sum(self.llm.count_tokens(t) + 1 for t in titles) + 2
        rp = self.render(query, candidates=cands, reserve_tokens=reserve)
        self._begin(rp)
        order, text = self.memo((rp.text, tuple(titles), self.n_titles),
                                lambda: constrained_titles(self.llm, rp.text, titles, n_titles=self.n_titles))
        expected = len(cands) if self.n_titles is None else min(self.n_titles, len(cands))
        self.stats["missing"] += expected - len(order)
        # "missing": fewer titles than asked for (n_titles caps the list); "not_written": every candidate left out
        unwritten = [cands[i] for i in range(len(cands)) if i not in set(order)]
        self._end(output=text, missing=unwritten if self.n_titles is None else [], n_missing=expected - len(order),
                  not_written=unwritten)
        return order_scores([cands[i] for i in order], cands)

    def why(self, query, candidates, scores):
        n = len(candidates)
        return [f"written #{int(n - s + 1)} under the title constraint" if s > 0 else "not written (tied last)" for s in scores]


register(RankerSpec("llm-constrained", lambda res: LLMConstrainedRanker(res.llm), needs=("llm",),
                    # Constrained output is always valid, but a 135M model's order is near random (see above).
                    contract_min_auc=0.0,
                    description="SmolLM2 writes candidate titles only (prefix trie via prefix_allowed_tokens_fn)",
                    tags=("llm", "generative", "order-dependent")))
