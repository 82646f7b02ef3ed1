"""Bootstrap CIs over users: seeded, bracketing the mean, degenerate cases handled."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recnb.evaluation.bootstrap import bootstrap_ci, paired_difference_ci


def test_ci_brackets_the_mean_and_is_reproducible():
    rng = np.random.default_rng(0)
    values = pd.DataFrame({"a": rng.random(200), "b": rng.integers(0, 2, 200).astype(float)})
    ci = bootstrap_ci(values, seed=3)
    again = bootstrap_ci(values, seed=3)
    pd.testing.assert_frame_equal(ci, again)
    assert list(ci.index) == ["a", "b"]
    assert (ci["ci_low"] <= ci["mean"]).all() and (ci["mean"] <= ci["ci_high"]).all()
    assert ci.loc["a", "mean"] == pytest.approx(values["a"].mean())
    # a standard error of about sd/sqrt(n): the 95% interval is roughly +-2 of them
    se = values["a"].std() / np.sqrt(len(values))
    assert 3 * se < ci.loc["a", "ci_high"] - ci.loc["a", "ci_low"] < 5 * se


def test_constant_and_single_user_give_zero_width():
    ci = bootstrap_ci(pd.DataFrame({"m": np.zeros(30)}))
    assert ci.loc["m"].tolist() == [0.0, 0.0, 0.0]
    one = bootstrap_ci(pd.DataFrame({"m": [0.5]}))
    assert one.loc["m"].tolist() == [0.5, 0.5, 0.5]
    with pytest.raises(ValueError, match="at least one user"):
        bootstrap_ci(pd.DataFrame({"m": []}))


def test_paired_difference():
    rng = np.random.default_rng(1)
    a = rng.random(100)
    out = paired_difference_ci(a + 0.1, a)
    assert out["mean"] == pytest.approx(0.1) and out["ci_low"] == pytest.approx(0.1) and out["ci_high"] == pytest.approx(0.1)
    b = rng.random(100)
    out = paired_difference_ci(a, b)
    assert out["ci_low"] < out["mean"] < out["ci_high"]
    with pytest.raises(ValueError, match="same users"):
        paired_difference_ci(a, b[:50])
