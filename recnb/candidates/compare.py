"""Three rankings of one free-text request: bi-encoder, BM25, and a cross-encoder reranking the bi-encoder.

``request_rankers`` returns ``{name: fn(request, k) -> ranking frame}``, the form
:class:`~recnb.widgets.compare_rankings.CompareRankings` takes, so a notebook shows the three
side by side. Every function takes the same filters (years, genres, exclude).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from recnb.candidates.filters import make_filter


def _frame(ids, scores, why: list[str] | None = None) -> pd.DataFrame:
    out = pd.DataFrame({"item_id": np.asarray(ids), "score": np.asarray(scores, dtype=float)})
    out["rank"] = np.arange(1, len(out) + 1)
    out["why"] = why if why is not None else None
    return out


def request_rankers(retriever, bm25=None, cross_encoder=None, depth: int = 50, filters=None, **filter_kw) -> dict[str, Callable]:
    """Ranking functions for a request over ``retriever``'s catalog.

    ``bm25``: a :class:`~recnb.candidates.lexical.BM25Index` over the same items (None: no
    column); ``cross_encoder``: a CrossEncoder that reranks the bi-encoder's top-``depth``
    (None: no column).
    """
    f = make_filter(filters, **filter_kw)
    allowed = f.allowed_ids(retriever.items) if f.restricts_facts else None
    exclude = f.exclude or None
    out: dict[str, Callable] = {}

    def bi_encoder(request: str, k: int) -> pd.DataFrame:
        top = retriever.search(request, k=k, filters=f)
        return _frame(top["item_id"], top["score"], [f"cosine {s:.2f}" for s in top["score"]])

    out["bi-encoder"] = bi_encoder
    if bm25 is not None:
        def lexical(request: str, k: int) -> pd.DataFrame:
            ids, scores = bm25.search(request, k=k, allowed=allowed, exclude=exclude)
            return _frame(ids, scores, [f"BM25 {s:.2f}" + ("" if s > 0 else ": no shared words") for s in scores])

        out["bm25"] = lexical
    if cross_encoder is not None:
        from recnb.scores.cross_encoder import predict_logits

        texts = dict(zip(retriever.items["item_id"].tolist(),
                         retriever.items[retriever.text_column].fillna("").astype(str).tolist()))

        def rerank(request: str, k: int) -> pd.DataFrame:
            top = retriever.search(request, k=max(depth, k), filters=f)
            ids = top["item_id"].tolist()
            scores = predict_logits(cross_encoder, [(request, texts[i]) for i in ids])
            order = np.argsort(-scores, kind="stable")[:k]
            first = {i: r for r, i in enumerate(ids, 1)}
            return _frame([ids[o] for o in order], scores[order],
                          [f"logit {scores[o]:.2f}; bi-encoder #{first[ids[o]]}" for o in order])

        out[f"cross-encoder (rerank top-{depth})"] = rerank
    return out
