"""Rating prediction with an LLM, two ways, and its RMSE against the mean-rating baselines.

* ``method="generate"``: the model writes a number, which is parsed; an answer with no number
  in 1-5 falls back to the user's mean training rating, and every fallback is counted and kept.
* ``method="expected"``: no parsing at all: the probabilities of the answers "1".."5" (one token
  each, read from one position per candidate via the shared-prefix cache) give an expected rating.

``LLMRatingRanker`` ("llm-rating") ranks candidates by the expected rating.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recnb.scores.base import Query
from recnb.scores.llm_base import LLMRanker
from recnb.scores.registry import RankerSpec, register
from recnb.text.prompts import ITEM_SENTINEL

DIGITS = ["1", "2", "3", "4", "5"]
_NUMBER = re.compile(r"(?<![\d.])([0-9](?:\.\d+)?)(?![\d])")


def parse_rating(text: str, low: float = 1.0, high: float = 5.0) -> float | None:
    """The first number in ``text`` within [low, high] ("4", "Rating: 3.5/5", "I'd say 4 stars"), else None."""
    for m in _NUMBER.finditer(text or ""):
        v = float(m.group(1))
        if low <= v <= high:
            return v
    return None


class LLMRatingRanker(LLMRanker):
    name = "llm-rating"
    task = "rating"

    def __init__(self, llm, template="zero-shot", method: str = "expected", max_new_tokens: int = 6, **kw):
        super().__init__(llm, template, **kw)
        if method not in ("expected", "generate"):
            raise ValueError(f"method must be 'expected' or 'generate', not {method!r}")
        self.method, self.max_new_tokens = method, max_new_tokens
        self.fallbacks: list = []  # (user_id, item_id, raw answer) of every answer that could not be parsed

    def fit(self, train, items):
        super().fit(train, items)
        self.global_mean = float(train["rating"].mean()) if train is not None and "rating" in train and len(train) else 3.5
        return self

    def fallback_rating(self, query: Query) -> float:
        return float(np.mean(query.ratings)) if query.ratings else self.global_mean

    def predict(self, query: Query, candidates) -> np.ndarray:
        """Predicted ratings (1-5) for ``candidates``."""
        cands = np.asarray(list(candidates))
        if cands.size == 0:
            return np.zeros(0)
        titles = [self.catalog[c] for c in cands.tolist()]
        rp = self.render(query, item=ITEM_SENTINEL, reserve_tokens=max(self.llm.count_tokens(" " + t) for t in titles) + 8)
        self._begin(rp)
        if self.method == "expected":
            prefix, pattern = rp.split_item()
            logp = self.llm.score_choices(prefix, [pattern.replace(ITEM_SENTINEL, t) for t in titles], DIGITS)
            p = np.exp(logp - logp.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            out = p @ np.arange(1, 6, dtype=float)
            self._end(method="expected", digit_mass=np.exp(logp).sum(1).round(3).tolist())
            return out
        prompts = [rp.text.replace(ITEM_SENTINEL, t) for t in titles]
        answers = self.llm.generate(prompts, max_new_tokens=self.max_new_tokens)
        out = []
        for c, a in zip(cands.tolist(), answers):
            v = parse_rating(a)
            if v is None:
                self.stats["rating_parse_fallbacks"] += 1
                self.fallbacks.append((query.user_id, c, a))
                v = self.fallback_rating(query)
            out.append(v)
        self.stats["ratings_generated"] += len(answers)
        self._end(method="generate", answers=list(answers))
        return np.array(out)

    def _score(self, query: Query, candidates: np.ndarray) -> np.ndarray:
        return self.predict(query, candidates)

    def why(self, query, candidates, scores):
        return [f"predicted rating {s:.2f} / 5" for s in scores]


@dataclass
class RatingReport:
    rmse: float
    rmse_user_mean: float  # baseline: each user's mean training rating
    rmse_global_mean: float  # baseline: the mean of all training ratings
    n: int
    fallbacks: int
    predictions: pd.DataFrame = field(repr=False, default=None)

    def to_dict(self) -> dict:
        return {"rmse": round(self.rmse, 4), "rmse_user_mean": round(self.rmse_user_mean, 4),
                "rmse_global_mean": round(self.rmse_global_mean, 4), "n": self.n, "fallbacks": self.fallbacks}


def rating_rmse(predictor: LLMRatingRanker, pairs: pd.DataFrame, train: pd.DataFrame, profiles: dict | None = None) -> RatingReport:
    """RMSE of ``predictor`` on (user_id, item_id, rating) ``pairs`` against the mean-rating baselines.

    Each user's query is built from their training history (oldest first); ``profiles`` maps
    user ids to NL profiles when the prompt should include one.
    """
    before = predictor.stats["rating_parse_fallbacks"]
    global_mean = float(train["rating"].mean())
    rows = []
    for uid, group in pairs.groupby("user_id", sort=False):
        h = train[train["user_id"] == uid].sort_values("timestamp")
        q = Query(user_id=uid, history=tuple(h["item_id"]), ratings=tuple(h["rating"]),
                  profile=(profiles or {}).get(uid))
        pred = predictor.predict(q, group["item_id"].tolist())
        user_mean = float(h["rating"].mean()) if len(h) else global_mean
        for item, true, p in zip(group["item_id"], group["rating"], pred):
            rows.append({"user_id": uid, "item_id": item, "rating": float(true), "predicted": float(p), "user_mean": user_mean})
    df = pd.DataFrame(rows)
    err = lambda col: float(np.sqrt(np.mean((df[col] - df["rating"]) ** 2)))
    df["global_mean"] = global_mean
    return RatingReport(err("predicted"), err("user_mean"), err("global_mean"), len(df),
                        int(predictor.stats["rating_parse_fallbacks"] - before), df)


register(RankerSpec("llm-rating", lambda res: LLMRatingRanker(res.llm), needs=("llm",),
                    contract_min_auc=0.75,  # measured mean AUC 0.84 on the contract catalog (135M model)
                    description="SmolLM2: expected rating from the probabilities of the answers 1-5", tags=("llm",)))
