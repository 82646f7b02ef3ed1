"""Bootstrap confidence intervals over users (scipy.stats.bootstrap, percentile method).

Users are the unit of resampling: each user contributes one value per metric, and a CI says
how much a mean would move with another draw of users of the same size. The percentile
method is used because BCa is undefined when every user has the same value (a metric that
is 0 for all users is common for weak rankers at @1).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

N_RESAMPLES = 2000
CONFIDENCE = 0.95


def bootstrap_ci(values: pd.DataFrame, n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE,
                 seed: int = 0) -> pd.DataFrame:
    """Mean, CI low and CI high per column of ``values`` (one row per user).

    All columns share the same resamples, so the intervals of different metrics are drawn
    from the same user samples. One user gives a zero-width interval (nothing to resample).
    """
    if len(values) == 0:
        raise ValueError("bootstrap_ci needs at least one user")
    x = values.to_numpy(dtype=float)
    mean = x.mean(axis=0)
    if len(values) == 1:
        low = high = mean
    else:
        res = stats.bootstrap((x,), np.mean, axis=0, n_resamples=n_resamples, confidence_level=confidence,
                              method="percentile", random_state=np.random.default_rng(seed), vectorized=True)
        low, high = res.confidence_interval.low, res.confidence_interval.high
    return pd.DataFrame({"mean": mean, "ci_low": low, "ci_high": high}, index=values.columns)


def paired_difference_ci(a: np.ndarray, b: np.ndarray, n_resamples: int = N_RESAMPLES,
                         confidence: float = CONFIDENCE, seed: int = 0) -> dict:
    """Mean of a - b over the same users, with a paired bootstrap CI (users resampled together)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired values need the same users: got shapes {a.shape} and {b.shape}")
    diff = a - b
    if len(diff) < 2:
        return {"mean": float(diff.mean()), "ci_low": float(diff.mean()), "ci_high": float(diff.mean())}
    res = stats.bootstrap((diff,), np.mean, n_resamples=n_resamples, confidence_level=confidence,
                          method="percentile", random_state=np.random.default_rng(seed), vectorized=True)
    return {"mean": float(diff.mean()), "ci_low": float(res.confidence_interval.low),
            "ci_high": float(res.confidence_interval.high)}
