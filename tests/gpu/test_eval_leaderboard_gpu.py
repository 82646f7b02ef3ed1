"""The LLM part of the leaderboard at LLMRank's size (200 users) on a GPU (skipped without CUDA).

On the 2-core CPU the LLM rankers get a few users each; on a GPU they run the whole sampled
protocol on the same stored candidates. Records section ``evaluation_gpu`` in
benchmarks/results.json (wall time per ranker, NDCG@10 with CI, users actually scored).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]
# LLMRank's 200 users; a short device session can lower the per-ranker budget (the record says
# how many users each ranker scored before its budget stopped it).
N_USERS = int(os.environ.get("RECNB_GPU_LB_USERS", 200))
BUDGET_S = float(os.environ.get("RECNB_GPU_LB_BUDGET_S", 300))


def test_llm_leaderboard_on_cuda(bundled_cuda):
    import recnb
    from recnb.evaluation.leaderboard import run_leaderboard
    from recnb.evaluation.protocols import SampledProtocol
    from recnb.scores.registry import Resources, all_rankers

    specs = all_rankers()
    names = sorted(n for n, s in specs.items() if "llm" in s.needs) + ["random", "popularity"]
    ds = recnb.load_dataset("movielens-small")
    protocol = SampledProtocol(ds, n_users=N_USERS, store=ROOT / "notebooks" / "results" / "candidates")
    lb = run_leaderboard(protocol, names, resources=Resources(llm=bundled_cuda), budget_s=BUDGET_S, log=print)
    doc = lb.to_dict()
    rows = []
    for e in doc["rankers"]:
        row = {"ranker": e["name"], "status": e["status"], "users": e["n_users"], "wall_s": round(e["wall_seconds"], 1),
               "note": e["stopped"] or e["message"] or ""}
        if e.get("metrics"):
            m = e["metrics"]["ndcg@10"]
            row.update({"ndcg@10": round(m["mean"], 4), "ndcg@10 CI": f"[{m['ci_low']:.3f}, {m['ci_high']:.3f}]",
                        "ms_per_user": round(1000 * e["latency"]["mean_s"], 1), "failed_users": e["failed_users"],
                        "parse_errors_per_user": round(e["rates"]["parse_errors_per_user"], 3),
                        "hallucinated_per_user": round(e["rates"]["hallucinated_per_user"], 3)})
            for name, v in e["metrics"].items():
                assert 0 <= v["ci_low"] <= v["mean"] <= v["ci_high"] <= 1, (e["name"], name)
        rows.append(row)
    assert any(r["status"] == "ok" and r["ranker"].startswith("llm-") for r in rows), rows
    rnd = lb.ci("random").loc["ndcg@10"]
    assert rnd["ci_low"] <= lb.random_baseline()["ndcg@10"] <= rnd["ci_high"]

    sys.path.insert(0, str(ROOT))
    from benchmarks.run import record

    record("evaluation_gpu", {"protocol": {k: v for k, v in protocol.describe().items() if k != "candidates_file"},
                              "budget_s_per_ranker": BUDGET_S,
                              "analytic_random_ndcg@10": round(lb.random_baseline()["ndcg@10"], 4), "rankers": rows})
