"""benchmarks/run.py keeps results.json strict JSON: numpy scalars become numbers, NaN/inf become null."""
from __future__ import annotations

import json
import sys

import numpy as np


def test_results_are_strict_json(repo_root):
    sys.path.insert(0, str(repo_root))
    from benchmarks.run import _finite

    out = _finite({"nan": np.float64("nan"), "row": [np.int64(3), np.bool_(True), float("inf"), (np.float32(0.5),)],
                   "nested": {"x": -np.inf, "y": "text"}})
    assert out == {"nan": None, "row": [3, True, None, [0.5]], "nested": {"x": None, "y": "text"}}
    assert type(out["row"][0]) is int and type(out["row"][1]) is bool
    json.dumps(out, allow_nan=False)  # raises on anything JSON cannot hold
