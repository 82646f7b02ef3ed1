"""Evaluation section: the leaderboard with CIs, and wall time per ranker, in the tiny and full settings.

The settings mirror notebook 08's parameters (tiny: what the test suite runs; full: LLMRank's
200 users). LLM rankers get their own user count and scoring-time budget, and every row says
how many users were actually scored and whether the budget stopped it. The candidates are the
stored, checksum-verified file the notebook uses (notebooks/results/candidates/).
"""
from __future__ import annotations

import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: keep in step with the parameters cell (and its TINY overrides) of notebooks/src/08_evaluation.py
PLANS = {
    "tiny": dict(n_users=50, slow_users=1, slow_budget_s=8.0, budget_s=10.0, full_ranking_users=10, full_ranking_budget_s=20.0,
                 skip_tags=("llm",)),
    "full": dict(n_users=200, slow_users=200, slow_budget_s=300.0, budget_s=None, full_ranking_users=200, full_ranking_budget_s=300.0,
                 skip_tags=()),
}


def _rows(lb) -> list[dict]:
    rows = []
    for e in lb.to_dict()["rankers"]:
        row = {"ranker": e["name"], "status": e["status"], "users": e["n_users"], "requested": e["n_requested"],
               "fit_s": round(e["fit_seconds"], 2), "score_s": round(e["eval_seconds"], 2),
               "wall_s": round(e["wall_seconds"], 2)}
        if e.get("metrics"):
            for m in ("ndcg@10", "recall@10", "mrr"):
                row[m] = round(e["metrics"][m]["mean"], 4)
                row[f"{m} CI"] = f"[{e['metrics'][m]['ci_low']:.3f}, {e['metrics'][m]['ci_high']:.3f}]"
            row["ms_per_user"] = round(1000 * e["latency"]["mean_s"], 1)
            row["failed_users"] = e["failed_users"]
            row["parse_errors_per_user"] = round(e["rates"]["parse_errors_per_user"], 3)
            row["hallucinated_per_user"] = round(e["rates"]["hallucinated_per_user"], 3)
            ci = (e.get("rates_ci") or {}).get("hallucinated_per_user")
            if ci:
                row["hallucinated_per_user CI"] = f"[{ci['ci_low']:.3f}, {ci['ci_high']:.3f}]"
        row["note"] = e["stopped"] or e["message"] or ""
        rows.append(row)
    return rows


def run(tiny: bool) -> dict:
    import recnb
    from recnb.evaluation.leaderboard import run_leaderboard
    from recnb.evaluation.protocols import FullProtocol, SampledProtocol
    from recnb.scores.cross_encoder_training import TrainingConfig, train_cross_encoder
    from recnb.scores.registry import Resources, all_rankers

    specs = all_rankers()
    slow = sorted(n for n, s in specs.items() if "llm" in s.needs)
    fast = sorted(n for n, s in specs.items() if "llm" not in s.needs and "reranker" not in s.tags)
    ds = recnb.load_dataset("movielens-small")
    split = ds.split(seed=0)
    resources = Resources()
    # The cross-encoder row uses the default config's model, trained here when the cache lacks it
    # (reloaded otherwise): not whichever model the machine's cache happens to hold newest.
    trained = train_cross_encoder(TrainingConfig.tiny() if tiny else TrainingConfig.full(), ds, split,
                                  encoder=resources.encoder, progress=False)
    resources = Resources(encoder=resources.encoder, cross_encoder=trained.model)
    out = {"cross_encoder_model": {"name": trained.info["name"], "reloaded": bool(trained.info.get("reloaded")),
                                   "synthetic_contract": trained.info.get("synthetic_contract")}}
    for mode in (["tiny"] if tiny else ["tiny", "full"]):
        plan = PLANS[mode]
        protocol = SampledProtocol(ds, split, n_users=plan["n_users"], seed=0,
                                   store=ROOT / "notebooks" / "results" / "candidates")
        t0 = time.perf_counter()
        lb = run_leaderboard(protocol, sorted(specs), resources=resources,
                             users_per_ranker={n: plan["slow_users"] for n in slow},
                             budget_s={n: plan["slow_budget_s"] if n in slow else plan["budget_s"] for n in specs},
                             log=None,
                             skip={n: f"tagged {set(s.tags) & set(plan['skip_tags'])} in the {mode} plan"
                                   for n, s in specs.items() if set(s.tags) & set(plan["skip_tags"])})
        wall = time.perf_counter() - t0
        full = FullProtocol(ds, split, n_users=plan["full_ranking_users"], seed=0)
        t1 = time.perf_counter()
        lb_full = run_leaderboard(full, fast, resources=resources, budget_s=plan["full_ranking_budget_s"],
                                  fitted=lb.rankers, log=None)
        out[f"{mode}_leaderboard"] = {
            "plan": plan, "protocol": {k: v for k, v in protocol.describe().items() if k != "candidates_file"},
            "analytic_random_ndcg@10": round(lb.random_baseline()["ndcg@10"], 4),
            "wall_s_total": round(wall, 1), "rankers": _rows(lb),
        }
        out[f"{mode}_full_ranking"] = {
            "users": len(full), "analytic_random_ndcg@10": round(lb_full.random_baseline().get("ndcg@10", float("nan")), 6),
            "wall_s_total": round(time.perf_counter() - t1, 1), "rankers": _rows(lb_full),
        }
    return out


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(tiny="--tiny" in sys.argv), indent=1))
