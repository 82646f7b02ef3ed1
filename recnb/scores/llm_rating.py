"""Rating prediction with an LLM, two ways, and its RMSE against the mean-rating baselines.

* ``method="generate"``: the model writes a number, which is parsed (see :func:`read_rating`); an
  answer with no rating in it falls back to the user's mean training rating. Fallbacks, rescaled
  ("8/10"), clamped ("0.5") and ambiguous answers are counted in ``stats`` and kept in lists.
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
#: the prompt's scale ("on a scale from 1 to 5"), which the "expected" method also spans
SCALE = (1.0, 5.0)
# a number, its sign (a minus not after a digit, so "3-4" is two numbers) and an optional "/N" or "out of N"
_NUMBER = re.compile(r"(?<![\d.])(-?)(\d+(?:\.\d+)?)(?:\s*(?:/|out\s+of)\s*(\d+(?:\.\d+)?))?", re.I)


def read_rating(text: str, low: float = SCALE[0], high: float = SCALE[1], ignore=()) -> tuple[float | None, set]:
    """The rating in a model's answer on the ``low``-``high`` scale, and notes on how it was read.

    * The first number that is a rating wins ("4", "4.5", "Rating: 3 stars", "5/5"); None if there is none.
    * "N/D" or "N out of D" with D != ``high`` is rescaled to the scale ("8/10" -> 4.0): note "rescaled".
      A bare number off the scale ("10", "8") is not a rating.
    * An echoed scale ("1 to 5", "1-5", "between 1 and 5") and negative numbers are not ratings.
    * A half star below the scale ("0.5": MovieLens ratings start at 0.5, the prompt's at 1) is
      clamped to ``low``: note "clamped". "0" is not a rating.
    * Other ratings in the answer that disagree with the first: note "ambiguous" (the first is kept).
    * Numbers inside the texts in ``ignore`` (the item's title, with or without its year) are not
      ratings: a model that only echoes "Toy Story 3 (2010)" has not rated it 3.
    """
    from recnb.data.titles import split_title_year

    for t in ignore:  # longest first: the title with its year before the bare title
        for part in sorted({str(t).strip(), split_title_year(str(t))[0]}, key=len, reverse=True):
            if part:
                text = re.sub(re.escape(part), " ", text or "", flags=re.I)
    # blank out the echoed scale so that its bounds are not read as the answer
    text = re.sub(rf"(?<![\d.]){low:g}\s*(?:-|–|to|and|through)\s*{high:g}(?![\d.])", " ", text or "", flags=re.I)
    found = []  # (value, notes) of every number that is a rating
    for m in _NUMBER.finditer(text):
        if m.group(1):  # negative: not a rating
            continue
        v, notes = float(m.group(2)), set()
        if m.group(3):
            top = float(m.group(3))
            if not 0 < v <= top:
                continue
            if top != high:  # another scale: rescale rather than take "4/10" as 4 stars
                v, notes = v / top * high, {"rescaled"}
        if low - 0.5 <= v < low:  # a half star below the scale
            v, notes = low, notes | {"clamped"}
        if low <= v <= high:
            found.append((v, notes))
    if not found:
        return None, set()
    v, notes = found[0]
    return v, notes | ({"ambiguous"} if any(w != v for w, _ in found[1:]) else set())


def parse_rating(text: str, low: float = SCALE[0], high: float = SCALE[1]) -> float | None:
    """The rating in ``text`` (see :func:`read_rating`), or None."""
    return read_rating(text, low, high)[0]


#: ``stats`` keys of the "generate" method: answers with no rating, and answers read with a note
RATING_STATS = ("rating_parse_fallbacks", "rating_rescaled", "rating_clamped", "rating_ambiguous")


class LLMRatingRanker(LLMRanker):
    name = "llm-rating"
    task = "rating"

    def __init__(self, llm, template="zero-shot", method: str = "expected", max_new_tokens: int = 6, **kw):
        super().__init__(llm, template, **kw)
        if method not in ("expected", "generate"):
            raise ValueError(f"method must be 'expected' or 'generate', not {method!r}")
        self.method, self.max_new_tokens = method, max_new_tokens
        self.fallbacks: list = []  # (user_id, item_id, raw answer) of every answer that could not be parsed
        self.noted: list = []  # (user_id, item_id, raw answer, notes) of every answer rescaled, clamped or ambiguous

    def fit(self, train, items):
        super().fit(train, items)
        self.global_mean = float(train["rating"].mean()) if train is not None and "rating" in train and len(train) else 3.5
        return self

    def fallback_rating(self, query: Query) -> float:
        return float(np.mean(query.ratings)) if query.ratings else self.global_mean

    def predict(self, query: Query, candidates) -> np.ndarray:
        """Predicted ratings (1-5) for ``candidates``."""
        cands = self.checked_candidates(candidates)  # public: rating_rmse calls it without score()
        if cands.size == 0:
            return np.zeros(0)
        titles = [self.catalog[c] for c in cands.tolist()]
        rp = self.render(query, item=ITEM_SENTINEL, reserve_tokens=max(self.llm.count_tokens(" " + t) for t in titles) + 8,
                         avoid=cands.tolist())
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
            v, notes = read_rating(a, ignore=(self.catalog[c],))
            for n in notes:
                self.stats[f"rating_{n}"] += 1
            if notes:
                self.noted.append((query.user_id, c, a, sorted(notes)))
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
    rescaled: int = 0  # answers on another scale ("8/10"), rescaled to 1-5
    clamped: int = 0  # half-star answers below the scale ("0.5"), clamped to 1
    ambiguous: int = 0  # answers holding several ratings that disagree (the first was taken)

    def to_dict(self) -> dict:
        return {"rmse": round(self.rmse, 4), "rmse_user_mean": round(self.rmse_user_mean, 4),
                "rmse_global_mean": round(self.rmse_global_mean, 4), "n": self.n, "fallbacks": self.fallbacks,
                "rescaled": self.rescaled, "clamped": self.clamped, "ambiguous": self.ambiguous}


def rating_rmse(predictor: LLMRatingRanker, pairs: pd.DataFrame, train: pd.DataFrame, profiles: dict | None = None) -> RatingReport:
    """RMSE of ``predictor`` on (user_id, item_id, rating) ``pairs`` against the mean-rating baselines.

    Each user's query is built from their training history (oldest first); ``profiles`` maps
    user ids to NL profiles when the prompt should include one.
    """
    before = {k: predictor.stats[k] for k in RATING_STATS}
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
    counts = {k: int(predictor.stats[k] - before[k]) for k in RATING_STATS}
    return RatingReport(err("predicted"), err("user_mean"), err("global_mean"), len(df),
                        counts["rating_parse_fallbacks"], df, rescaled=counts["rating_rescaled"],
                        clamped=counts["rating_clamped"], ambiguous=counts["rating_ambiguous"])


register(RankerSpec("llm-rating", lambda res: LLMRatingRanker(res.llm), needs=("llm",),
                    contract_min_auc=0.75,  # mean AUC 0.84 on the contract catalog (135M; `make bench`, section contract)
                    description="SmolLM2: expected rating from the probabilities of the answers 1-5", tags=("llm",)))
