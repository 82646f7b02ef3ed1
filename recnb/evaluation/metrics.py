"""Ranking metrics with pessimistic tie-breaking, and their analytic random baselines.

Why our own metric code when ir-measures / ranx exist (tests cross-check against
ir-measures on random runs): those tools break score ties by document id, so a ranker that
gives every candidate the same score (an unparsed LLM answer, a cold-start fallback) can
land its positive first by luck of the id. Here a tie always puts the irrelevant candidates
first, so a tie never flatters a ranker. We also need the metrics per user (for bootstrap
CIs over users), not only their means.

Metrics, for one user (binary relevance, ranks 1-based):
    ndcg@k, recall@k, hit@k (hit rate: any relevant item in the top k), mrr (1 / rank of the
    first relevant item, no cut-off).
"""
from __future__ import annotations

from math import comb
from typing import Iterable, Sequence

import numpy as np

DEFAULT_KS = (1, 5, 10, 20)


def pessimistic_order(scores: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """Candidate indices best first; within equal scores the irrelevant ones come first.

    NaN scores count as the worst possible score (and still tie pessimistically).
    """
    scores = np.asarray(scores, dtype=float)
    relevant = np.asarray(relevant, dtype=bool)
    if scores.shape != relevant.shape:
        raise ValueError(f"scores {scores.shape} and relevance {relevant.shape} differ in shape")
    s = np.where(np.isnan(scores), -np.inf, scores)
    # lexsort: the last key is the primary one (higher score first), then irrelevant (0) first.
    return np.lexsort((relevant.astype(np.int8), -s))


def relevant_ranks(scores: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """1-based pessimistic ranks of the relevant candidates, ascending."""
    relevant = np.asarray(relevant, dtype=bool)
    order = pessimistic_order(scores, relevant)
    return np.flatnonzero(relevant[order]) + 1


def metric_names(ks: Sequence[int] = DEFAULT_KS) -> list[str]:
    return ([f"ndcg@{k}" for k in ks] + [f"recall@{k}" for k in ks] + [f"hit@{k}" for k in ks] + ["mrr"])


def _discounts(n: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, n + 2))


def metrics_from_ranks(ranks: Sequence[int], n_relevant: int | None = None, ks: Sequence[int] = DEFAULT_KS) -> dict:
    """All metrics for one user from the 1-based ranks of its relevant items."""
    ranks = np.sort(np.asarray(ranks, dtype=np.int64))
    m = len(ranks) if n_relevant is None else int(n_relevant)
    if m == 0:
        raise ValueError("a user with no relevant item has no ranking metrics")
    out = {}
    for k in ks:
        top = ranks[ranks <= k]
        dcg = float((1.0 / np.log2(top + 1)).sum())
        idcg = float(_discounts(min(k, m)).sum())
        out[f"ndcg@{k}"] = dcg / idcg
    for k in ks:
        out[f"recall@{k}"] = float((ranks <= k).sum()) / m
    for k in ks:
        out[f"hit@{k}"] = float((ranks <= k).any())
    out["mrr"] = 1.0 / float(ranks[0]) if len(ranks) else 0.0
    return out


def user_metrics(scores: np.ndarray, relevant: np.ndarray, ks: Sequence[int] = DEFAULT_KS) -> dict:
    """All metrics for one user from its candidates' scores and relevance flags."""
    relevant = np.asarray(relevant, dtype=bool)
    return metrics_from_ranks(relevant_ranks(scores, relevant), int(relevant.sum()), ks)


# -- the analytic random baseline --------------------------------------------------------------
def random_expectation(n_candidates: int, n_relevant: int = 1, ks: Sequence[int] = DEFAULT_KS) -> dict:
    """Expected metrics of a uniformly random order of ``n_candidates`` with ``n_relevant`` positives.

    Computed exactly (no simulation): the relevant item sits at each position with
    probability m/n, so E[DCG@k] = (m/n) * sum_{r<=k} 1/log2(r+1); hit@k = 1 - C(n-m,k)/C(n,k);
    the first relevant rank r has probability C(n-r, m-1)/C(n, m).
    """
    n, m = int(n_candidates), int(n_relevant)
    if not 1 <= m <= n:
        raise ValueError(f"need 1 <= n_relevant <= n_candidates, got {m} of {n}")
    out = {}
    for k in ks:
        kk = min(k, n)
        out[f"ndcg@{k}"] = (m / n) * float(_discounts(kk).sum()) / float(_discounts(min(k, m)).sum())
    for k in ks:
        out[f"recall@{k}"] = min(k, n) / n
    for k in ks:
        kk = min(k, n)
        out[f"hit@{k}"] = (comb(n, kk) - comb(n - m, kk)) / comb(n, kk)  # integer difference: exact
    total = comb(n, m)
    out["mrr"] = sum(comb(n - r, m - 1) / total / r for r in range(1, n - m + 2))
    return out


def random_baseline(n_candidates: int | Iterable[int], n_relevant: int | Iterable[int] = 1,
                    ks: Sequence[int] = DEFAULT_KS) -> dict:
    """The random baseline averaged over users (each may have a different candidate count)."""
    ns = np.atleast_1d(np.asarray(list(n_candidates) if not np.isscalar(n_candidates) else [n_candidates]))
    ms = np.broadcast_to(np.atleast_1d(np.asarray(list(n_relevant) if not np.isscalar(n_relevant) else [n_relevant])), ns.shape)
    cache: dict = {}
    rows = []
    for n, m in zip(ns.tolist(), ms.tolist()):
        if (n, m) not in cache:
            cache[(n, m)] = random_expectation(n, m, ks)
        rows.append(cache[(n, m)])
    return {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}


def random_ndcg_at(k: int = 10, n_candidates: int = 20) -> float:
    """E[NDCG@k] of a random order with one positive among ``n_candidates`` (0.2272 for k=10, n=20)."""
    return random_expectation(n_candidates, 1, (k,))[f"ndcg@{k}"]
