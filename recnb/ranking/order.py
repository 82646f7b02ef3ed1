"""Turning scores into an order, with the same tie rule everywhere."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd


def rank_frame(candidates: Sequence, scores: np.ndarray, k: int | None = None, why=None) -> pd.DataFrame:
    """Sort candidates by score, best first.

    Ties keep the candidates' given order (a stable sort), so a ranker's output never
    depends on hash order. The *evaluation* breaks ties pessimistically on its own
    (see ``recnb.evaluation.metrics``), so a tie never flatters a ranker.
    """
    scores = np.asarray(scores, dtype=float)
    order = np.argsort(-scores, kind="stable")
    if k is not None:
        order = order[:k]
    frame = pd.DataFrame(
        {
            "item_id": np.asarray(list(candidates))[order],
            "score": scores[order],
            "rank": np.arange(1, len(order) + 1),
        }
    )
    frame["why"] = [why[i] for i in order] if why is not None else None
    return frame
