"""Every notebook runs top to bottom in tiny mode (papermill sets TINY=True in its parameters cell)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_tiny_mode(path, tmp_path):
    import papermill

    env_backup = dict(os.environ)
    os.environ.setdefault("PLOTLY_RENDERER", "plotly_mimetype")
    try:
        papermill.execute_notebook(
            str(path), str(tmp_path / path.name), parameters={"TINY": True}, cwd=str(path.parent),
            kernel_name="python3", progress_bar=False, execution_timeout=900,
        )
    finally:
        os.environ.clear()
        os.environ.update(env_backup)
