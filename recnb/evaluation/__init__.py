"""Evaluation: protocols, metrics, the synthetic contract catalog, leaderboards.

    from recnb.evaluation import SampledProtocol, run_leaderboard
    protocol = SampledProtocol(ds, n_users=200, store="results/candidates")  # LLMRank: 1 positive + 19 negatives
    board = run_leaderboard(protocol)            # every registered ranker
    board.summary()                              # means, 95% CIs, error rates, latency, analytic random row
    board.figure("ndcg@10"); board.to_json("results/leaderboard.json")

Modules: ``metrics`` (pessimistic ties, analytic random baseline), ``bootstrap`` (CIs over
users), ``protocols`` (stored, checksummed sampled candidates; full ranking), ``leaderboard``,
``position_lab`` (position bias of order-dependent rankers), ``llmrank`` (cited ML-1M numbers),
``synthetic`` (the known-answer catalog of the shared ranker contract).
"""
from recnb.evaluation.bootstrap import bootstrap_ci, paired_difference_ci
from recnb.evaluation.leaderboard import Leaderboard, RankerRun, evaluate, run_leaderboard
from recnb.evaluation.metrics import random_baseline, random_expectation, random_ndcg_at, relevant_ranks, user_metrics
from recnb.evaluation.protocols import CandidateFileError, EvalCase, FullProtocol, SampledProtocol

__all__ = [
    "bootstrap_ci", "paired_difference_ci", "Leaderboard", "RankerRun", "evaluate", "run_leaderboard",
    "random_baseline", "random_expectation", "random_ndcg_at", "relevant_ranks", "user_metrics",
    "CandidateFileError", "EvalCase", "FullProtocol", "SampledProtocol",
]
