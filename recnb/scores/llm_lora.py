"""Pointwise Yes/No ranker for a LoRA-tuned LLM (TALLRec style), and its untuned twin.

``LoraPointwiseRanker(tuned)`` scores each candidate with log P(Yes) - log P(No) to the pointwise
question of :mod:`recnb.scores.llm_pointwise` (same template, same "Title (Year)" text), asked of
a :class:`recnb.tuning.LoraModel`. Given a plain LLM instead it is the *untuned* baseline with the
very same prompt (zero-shot, or few-shot with ``template="few-shot"``), so tuned vs untuned
differ only in the weights. The prompt shows the ``max_history`` most recent items and the
profile's first ``max_likes`` / ``max_dislikes`` statements, the same cut the training examples
get (:func:`recnb.tuning.examples.render_question`).

The registered "llm-lora" loads the adapter shipped in the package (trained with this kit's code on
16 examples from the bundled data's training split, seed 0; its recipe and training report are in
its ``recnb_tuning.json``), or the cached/retrained one when the settings differ
(:func:`recnb.tuning.store.cached_adapter`).

``fit`` checks the training data against the ratings the adapter learned from
(:meth:`recnb.tuning.lora.LoraModel.check_data`): data that holds one of them out (another split
seed, a custom split, a subset) is refused with a clear error, since the adapter may know its
held-out items; other data sets are allowed, and ``data_check`` / ``describe()`` say which case it was.
"""
from __future__ import annotations

import numpy as np

from recnb.scores.base import Query
from recnb.scores.llm_pointwise import LLMPointwiseRanker
from recnb.scores.registry import RankerSpec, register
from recnb.text.prompts import ITEM_SENTINEL


class LoraPointwiseRanker(LLMPointwiseRanker):
    name = "llm-lora"

    def __init__(self, model, template: str = "zero-shot", shots: int | None = None, max_history: int | None = 5,
                 max_likes: int | None = 3, max_dislikes: int | None = 1, name: str | None = None):
        from recnb.tuning.lora import LoraModel

        self.tuned = model if isinstance(model, LoraModel) else None
        llm = model.llm if self.tuned is not None else model
        super().__init__(llm, template=template, shots=shots, max_history=max_history)
        self.max_likes, self.max_dislikes = max_likes, max_dislikes
        self.data_check: str | None = None  # set by fit: "checked", "other data", "unchecked" (or None: untuned)
        if name:
            self.name = name

    def fit(self, train, items):
        if self.tuned is not None:
            # Before anything else: an adapter that learned a rating this data holds out would leak it.
            self.data_check = self.tuned.check_data(train) if train is not None else "unchecked"
            if self.data_check == "unchecked":
                import warnings

                why = ("no training data was given to compare with" if train is None else
                       "the adapter has no record of the ratings it was trained on (examples from "
                       "recnb.tuning.build_examples record them)")
                warnings.warn(f"{self.name}: nothing checks that the adapter never saw this data's held-out items: "
                              f"{why}", UserWarning, stacklevel=2)
        return super().fit(train, items)

    def question(self, query: Query, item_id) -> tuple[str, str]:
        """(shared prefix, the item's continuation) as scored: what a training example must match."""
        from recnb.tuning.examples import shorten_profile

        rp = self.render(shorten_profile(query, self.max_likes, self.max_dislikes), item=ITEM_SENTINEL,
                         reserve_tokens=self.llm.count_tokens(" " + self.catalog[item_id]) + 8, avoid=[item_id])
        prefix, pattern = rp.split_item()
        return prefix, pattern.replace(ITEM_SENTINEL, self.catalog[item_id])

    def _score(self, query: Query, candidates: np.ndarray) -> np.ndarray:
        from recnb.tuning.examples import shorten_profile

        # The pointwise ranker's own scoring (score_choices: one pass per candidate on the prefix's KV
        # cache), on the same shortened profile the training examples show.
        return super()._score(shorten_profile(query, self.max_likes, self.max_dislikes), candidates)

    def describe(self) -> dict:
        d = super().describe()
        d.update(max_history=self.max_history, max_likes=self.max_likes, max_dislikes=self.max_dislikes,
                 tuned=self.tuned is not None)
        if self.tuned is not None:
            d["adapter"] = {k: self.tuned.meta.get(k) for k in ("key", "n_examples", "negatives", "folder") if k in self.tuned.meta}
            d["adapter"]["data_check"] = self.data_check
        return d


def _factory(res):
    from recnb.tuning.store import cached_adapter

    return LoraPointwiseRanker(cached_adapter(res.llm))


register(RankerSpec("llm-lora", _factory, needs=("llm",),
                    # 0.71 mean AUC on the 6 synthetic contract users with the shipped 16-example adapter
                    # (the same prompt untuned, llm-pointwise: 0.69; `make bench`, section contract): a 135M model's Yes/No is weak, and 16 MovieLens
                    # questions do not teach the synthetic catalog. The bar checks "better than chance".
                    contract_min_auc=0.6,
                    description="SmolLM2 + LoRA adapter tuned on 16 Yes/No questions (TALLRec style, cached); "
                                "log P(Yes) - log P(No)", tags=("llm", "tuned")))
