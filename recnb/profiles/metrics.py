"""The per-user NDCG@k the editor shows, computed by ir-measures (not by hand)."""
from __future__ import annotations

from typing import Iterable, Sequence

from recnb.text.profile import item_key


def ndcg_at(ranked_ids: Sequence, relevant: Iterable, k: int = 10) -> float | None:
    """nDCG@k of one ranked list against held-out items (binary relevance); None without held-out items."""
    import ir_measures
    from ir_measures import nDCG

    relevant = {str(item_key(i)) for i in relevant}
    if not relevant:
        return None
    qrels = [ir_measures.Qrel("u", i, 1) for i in relevant]
    run = [ir_measures.ScoredDoc("u", str(item_key(i)), float(len(ranked_ids) - r)) for r, i in enumerate(ranked_ids[:k])]
    if not run:
        return 0.0
    return float(ir_measures.calc_aggregate([nDCG @ k], qrels, run)[nDCG @ k])
