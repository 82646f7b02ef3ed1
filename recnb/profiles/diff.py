"""Before/after diff of two rankings of the same catalog: up, down, same, new, dropped.

Ranks are 1-based over the eligible items (the items the person has not seen); an item that is
not eligible has rank 0 in the arrays here and never appears in a diff.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

STATUSES = ("up", "down", "same", "new", "dropped")


def ranks_from_scores(scores: np.ndarray, eligible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(order, ranks): eligible rows best first (stable on ties), and each row's 1-based rank (0 = not eligible)."""
    rows = np.flatnonzero(eligible)
    order = rows[np.argsort(-scores[rows], kind="stable")]
    ranks = np.zeros(len(scores), dtype=np.int64)
    ranks[order] = np.arange(1, len(order) + 1)
    return order, ranks


def diff_rankings(before_ranks: np.ndarray, after_ranks: np.ndarray, k: int = 10) -> pd.DataFrame:
    """One row per catalog row in either top-k: row, status, before_rank, after_rank, moved (+ = up).

    Rows are the after top-k in order, then the dropped ones by their old rank.
    """
    def top(r):
        return set(np.flatnonzero((r > 0) & (r <= k)).tolist())

    b, a = top(before_ranks), top(after_ranks)
    out = []
    for row in sorted(a, key=lambda x: after_ranks[x]):
        br, ar = int(before_ranks[row]), int(after_ranks[row])
        status = "new" if row not in b else "up" if ar < br else "down" if ar > br else "same"
        out.append((row, status, br or None, ar, (br - ar) if br else None))
    for row in sorted(b - a, key=lambda x: before_ranks[x]):
        br, ar = int(before_ranks[row]), int(after_ranks[row])
        out.append((row, "dropped", br, ar or None, (br - ar) if ar else None))
    return pd.DataFrame(out, columns=["row", "status", "before_rank", "after_rank", "moved"]).astype(
        {"before_rank": "Int64", "after_rank": "Int64", "moved": "Int64"})
