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


def test_each_section_records_the_code_it_measured(repo_root, tmp_path, monkeypatch):
    """A section says which commit it measured (and whether code had uncommitted changes), so a
    reader can tell numbers that predate a change from current ones."""
    sys.path.insert(0, str(repo_root))
    import benchmarks.run as run

    monkeypatch.setattr(run, "RESULTS", tmp_path / "results.json")
    monkeypatch.setattr(run, "REPORT", tmp_path / "BENCHMARKS.md")
    run.record("demo", {"x": 1.0})
    code = json.loads((tmp_path / "results.json").read_text())["demo"]["code"]
    import subprocess

    head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=repo_root, capture_output=True, text=True)
    assert code["commit"] == head.stdout.strip() and isinstance(code["uncommitted_changes"], bool)
    assert f"commit {code['commit']}" in (tmp_path / "BENCHMARKS.md").read_text()

    # outside a git checkout (a device machine's copy): recorded as unknown, and the report says so
    monkeypatch.setattr(run, "HERE", tmp_path)
    run.record("elsewhere", {"x": 2.0})
    assert json.loads((tmp_path / "results.json").read_text())["elsewhere"]["code"] is None
    assert "code version not recorded" in (tmp_path / "BENCHMARKS.md").read_text()
