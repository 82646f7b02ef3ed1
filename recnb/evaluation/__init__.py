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
# Imported lazily: `recnb.evaluation.synthetic` (the contract catalog) must not pull scipy.stats in.
_LAZY = {
    "bootstrap_ci": "bootstrap", "paired_difference_ci": "bootstrap",
    "Leaderboard": "leaderboard", "RankerRun": "leaderboard", "evaluate": "leaderboard", "run_leaderboard": "leaderboard",
    "random_baseline": "metrics", "random_expectation": "metrics", "random_ndcg_at": "metrics",
    "relevant_ranks": "metrics", "user_metrics": "metrics",
    "CandidateFileError": "protocols", "EvalCase": "protocols", "FullProtocol": "protocols", "SampledProtocol": "protocols",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"recnb.evaluation.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'recnb.evaluation' has no attribute {name!r}")
