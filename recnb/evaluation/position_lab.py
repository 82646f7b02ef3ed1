"""The position-bias lab: how much does the order candidates are shown in move an order-dependent ranker?

For each user of a protocol, the same candidates are shown in several orders (the balanced
permutations of :mod:`recnb.ranking.position_bias`, where every candidate visits evenly spaced
positions), and we measure

* per candidate: the spread (std) of its rank across orders;
* per shown position: how often the candidate shown there came out on top (flat at 1/n
  without position bias);
* per user: the target's NDCG@10 under each single order (mean, worst, best), under the
  protocol's stored order, and after averaging the scores over the orders; the paired
  difference "averaged - single order" is what permutation-averaging recovers.

This module only measures; the permutation designs and the aggregation are the ranking
stage's (recnb.ranking.position_bias), so the lab measures exactly what ``llm-permuted`` does.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recnb.evaluation.bootstrap import bootstrap_ci, paired_difference_ci
from recnb.evaluation.metrics import metrics_from_ranks, relevant_ranks


def _ndcg10(scores, relevant) -> float:
    return metrics_from_ranks(relevant_ranks(scores, relevant), 1, (10,))["ndcg@10"]


@dataclass
class PositionStudy:
    ranker: str
    n_permutations: int  # orders run per user (the most any user had); the request is in meta
    design: str
    how: str
    per_user: pd.DataFrame
    per_candidate: pd.DataFrame
    position_top1: np.ndarray  # over all users' orders with a unique winner: share whose winner was shown at each position
    meta: dict = field(default_factory=dict)

    def summary(self, seed: int = 0) -> dict:
        pu = self.per_user
        cols = ["given_order_ndcg@10", "single_order_ndcg@10_mean", "averaged_ndcg@10"]
        ci = bootstrap_ci(pu[cols], seed=seed)
        return {
            "ranker": self.ranker, "users": int(len(pu)), "n_permutations": self.n_permutations,
            "n_permutations_requested": self.meta.get("n_permutations_requested", self.n_permutations), "design": self.design,
            "aggregation": self.how,
            **{c: {k: float(ci.loc[c, k]) for k in ("mean", "ci_low", "ci_high")} for c in cols},
            "averaged_minus_single_order": paired_difference_ci(pu["averaged_ndcg@10"].to_numpy(),
                                                                pu["single_order_ndcg@10_mean"].to_numpy(), seed=seed),
            "mean_rank_spread": float(self.per_candidate["rank_spread"].mean()),
            "target_rank_spread": float(pu["target_rank_spread"].mean()),
            "first_position_top1_rate": float(self.position_top1[0]),
            "uniform_top1_rate": 1.0 / len(self.position_top1),
            "top1_agreement": float(pu["top1_agreement"].mean()),
            "tied_orders": int(pu["tied_orders"].sum()) if "tied_orders" in pu else 0,
        }

    def to_dict(self) -> dict:
        return {"summary": self.summary(), "position_top1": self.position_top1.tolist(), "meta": self.meta,
                "per_user": self.per_user.to_dict(orient="records")}


def position_bias_study(ranker, protocol, n_users: int = 20, n_permutations: int = 4, seed: int = 0,
                        design: str = "balanced", how: str = "mean", fit: bool = True, progress: bool = False,
                        budget_s: float | None = None) -> PositionStudy:
    """Run the lab for ``ranker`` on the first ``n_users`` users of ``protocol`` (see module doc).

    budget_s: stop after the user during which this many seconds had passed (``meta["stopped"]`` says so).
    """
    import time

    from recnb.ranking.position_bias import permutation_report, ranks

    t0, stopped = time.perf_counter(), None

    if fit:
        ranker.fit(protocol.train, protocol.dataset.items)
    users, cands_rows, top1 = [], [], []
    cases = protocol.cases(n_users)
    if progress:
        from tqdm.auto import tqdm

        cases = tqdm(cases, total=min(n_users, len(protocol)), desc=f"{ranker.name} permutations", leave=False)
    for case in cases:
        query = protocol.query(case)
        cands = case.candidates.tolist()
        rel = case.relevant
        given = ranker.score(query, cands)
        report = permutation_report(lambda order: ranker.score(query, order), cands, n_permutations,
                                    seed=seed, how=how, design=design)
        single = [_ndcg10(row, rel) for row in report.matrix]
        # Averages of the same numbers summed in different orders differ in the last bits; round so
        # that candidates the orders cannot tell apart really tie (and ties count pessimistically).
        averaged = np.round(report.aggregated, 9)
        target = int(np.flatnonzero(rel)[0])
        users.append({"user_id": case.user_id, "target": case.target, "given_order_ndcg@10": _ndcg10(given, rel),
                      "single_order_ndcg@10_mean": float(np.mean(single)), "single_order_ndcg@10_min": float(np.min(single)),
                      "single_order_ndcg@10_max": float(np.max(single)), "averaged_ndcg@10": _ndcg10(averaged, rel),
                      "target_rank_spread": float(report.rank_spread[target]),
                      "mean_rank_spread": report.mean_rank_spread, "top1_agreement": report.top1_agreement,
                      "tied_orders": report.n_tied_rows, "orders": report.n_permutations})
        # ties take the worst rank they span, as in rank_spread: an order that could not be read
        # (all tied) ranks every candidate last, not 1..n by where it happened to be shown
        mean_rank = ranks(report.matrix).mean(0)
        for j, c in enumerate(cands):
            cands_rows.append({"user_id": case.user_id, "item_id": c, "is_target": bool(rel[j]),
                               "mean_rank": float(mean_rank[j]), "rank_spread": float(report.rank_spread[j])})
        # counts, so users weigh by the orders that had a unique winner (every order tied: nothing)
        top1.append(report.position_top1_counts)
        if budget_s is not None and time.perf_counter() - t0 > budget_s and len(users) < min(n_users, len(protocol)):
            stopped = f"time budget of {budget_s:g} s reached after {len(users)} of {min(n_users, len(protocol))} users"
            break
    if not users:
        raise ValueError("the protocol has no users to study")
    width = max(len(t) for t in top1)
    padded = np.vstack([np.pad(t, (0, width - len(t))) for t in top1])
    decided = padded.sum()  # orders with a unique winner, over all users
    # the orders actually run: the balanced design runs at most one per candidate
    run = int(max(u["orders"] for u in users))
    return PositionStudy(getattr(ranker, "name", type(ranker).__name__), run, design, how,
                         pd.DataFrame(users), pd.DataFrame(cands_rows), padded.sum(0) / decided if decided else padded.sum(0),
                         meta={"protocol": protocol.describe(), "seed": seed, "n_users_requested": int(n_users),
                               "n_permutations_requested": int(n_permutations),
                               "budget_s": budget_s, "stopped": stopped})
