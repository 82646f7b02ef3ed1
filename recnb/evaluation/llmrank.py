"""LLMRank's published ML-1M numbers, to set beside ours when ml-1m is on disk.

Source: Hou et al., "Large Language Models are Zero-Shot Rankers for Recommender Systems",
ECIR 2024 (arXiv:2305.08845): ML-1M, 200 sampled users, the held-out item plus 19 randomly
sampled candidates, NDCG@10 in percent. These are CITATIONS, typed in from the paper as quoted
in this kit's issue #6, not numbers this kit measured (and not re-checked against the PDF here).
Our random row is computed (``random_ndcg_at``), never copied from this table.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

LLMRANK_SOURCE = ("Hou et al. 2024, 'Large Language Models are Zero-Shot Rankers for Recommender Systems' "
                  "(ECIR 2024, arXiv:2305.08845), ML-1M, 1 positive + 19 random negatives, 200 users")

#: name -> (low, high) NDCG@10 in percent; low == high for a single published number.
LLMRANK_ML1M_NDCG10 = {
    "Pop": (52.33, 52.33),
    "BPRMF": (64.29, 64.29),
    "SASRec": (78.89, 78.89),
    "ChatGPT (zero-shot, prompt variants)": (42.85, 48.80),
    "random": (22.72, 22.72),
}

#: which of our rankers plays the role of each published baseline
OURS_FOR = {"Pop": "popularity", "BPRMF": "bpr", "random": "random"}


def find_ml1m(path: str | os.PathLike | None = None) -> Path | None:
    """The ml-1m folder or zip from ``path`` or ``$RECNB_ML1M``; None if neither points to something."""
    raw = path if path is not None else os.environ.get("RECNB_ML1M")
    if not raw:
        return None
    p = Path(raw).expanduser()
    return p if p.exists() else None


def beside_llmrank(leaderboard) -> pd.DataFrame:
    """Our NDCG@10 (x100, with CI) next to LLMRank's published values, one row per published line."""
    rows = []
    ours = {r.name: r for r in leaderboard.ok_runs}
    for name, (lo, hi) in LLMRANK_ML1M_NDCG10.items():
        row = {"published (LLMRank, cited)": name, "published NDCG@10": f"{lo:.2f}" if lo == hi else f"{lo:.2f}-{hi:.2f}"}
        mine = OURS_FOR.get(name)
        if mine in ours:
            ci = leaderboard.ci(mine).loc["ndcg@10"]
            row.update({"ours": mine, "our NDCG@10": round(100 * ci["mean"], 2),
                        "our 95% CI": f"[{100 * ci['ci_low']:.2f}, {100 * ci['ci_high']:.2f}]",
                        "our users": ours[mine].n_users})
        rows.append(row)
    base = leaderboard.random_baseline().get("ndcg@10")
    if base is not None:
        rows.append({"published (LLMRank, cited)": "", "ours": "random (analytic, computed)",
                     "our NDCG@10": round(100 * base, 2)})
    for r in leaderboard.ok_runs:
        if r.name not in OURS_FOR.values():
            ci = leaderboard.ci(r.name).loc["ndcg@10"]
            rows.append({"published (LLMRank, cited)": "", "ours": r.name, "our NDCG@10": round(100 * ci["mean"], 2),
                         "our 95% CI": f"[{100 * ci['ci_low']:.2f}, {100 * ci['ci_high']:.2f}]", "our users": r.n_users})
    return pd.DataFrame(rows)
