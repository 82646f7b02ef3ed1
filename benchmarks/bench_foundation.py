"""Foundation: time to first recommendation in notebook 00 (cold and warm cache), install time.

Time to first recommendation = papermill's recorded cell durations from the first cell up to and
including the cell tagged ``first-recommendation`` (kernel start excluded), in full mode (whole
catalog). Cold: an empty RECNB_CACHE (no exported models, no embeddings). Warm: the same cache
reused. Install: a fresh virtualenv and the Makefile's two pip steps (pip's download cache is
whatever this machine has, so this is the "registries reachable, wheels cached" figure).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _first_recommendation_seconds(cache: Path, tiny: bool) -> float:
    import papermill

    out = cache / "nb00.ipynb"
    env_backup = dict(os.environ)
    os.environ["RECNB_CACHE"] = str(cache)
    try:
        papermill.execute_notebook(str(ROOT / "notebooks" / "00_start_here.ipynb"), str(out),
                                   parameters={"TINY": tiny}, cwd=str(ROOT / "notebooks"),
                                   kernel_name="python3", progress_bar=False)
    finally:
        os.environ.clear()
        os.environ.update(env_backup)
    total = 0.0
    for cell in json.loads(out.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        total += cell["metadata"]["papermill"]["duration"]
        if "first-recommendation" in cell["metadata"].get("tags", []):
            return total
    raise RuntimeError("notebook 00 has no cell tagged first-recommendation")


def _install_seconds() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        no_deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["recnb"]["no-deps-requirements"]
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints.txt")]
        subprocess.run(pip + [f"{ROOT}[dev]"], check=True, cwd=ROOT)
        subprocess.run(pip + ["--no-deps", *no_deps], check=True, cwd=ROOT)
        return time.perf_counter() - t0


def run(tiny: bool = False) -> dict:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        results["first_recommendation_cold_s"] = round(_first_recommendation_seconds(cache, tiny), 2)
        results["first_recommendation_warm_s"] = round(_first_recommendation_seconds(cache, tiny), 2)
        shutil.rmtree(cache, ignore_errors=True)
    results["notebook_mode"] = "tiny" if tiny else "full catalog"
    if not tiny:
        results["install_fresh_venv_s"] = round(_install_seconds(), 1)
    return results
