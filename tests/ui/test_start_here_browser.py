"""The start-here notebook, run top to bottom in a real JupyterLab, shows its widget and chart.

The notebook's ``parameters`` cell defaults to ``TINY = True``, so "run all" is tiny mode.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import _lab

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = Path("notebooks/00_start_here.ipynb")


@pytest.mark.skipif(not (ROOT / NOTEBOOK).is_file(), reason=f"{NOTEBOOK} does not exist yet")
def test_start_here_runs_and_renders(page, lab):
    _lab.open_notebook(page, lab, NOTEBOOK)
    _lab.run_all(page)
    assert _lab.tracebacks(page) == [], "the notebook printed a traceback"

    out = _lab.output_area(page)
    ranked = out.locator(".recnb-ranked-list")
    ranked.first.wait_for(timeout=60_000)
    assert ranked.first.locator(".recnb-rl-card").count() == 10
    assert all(t.strip() for t in ranked.first.locator(".recnb-rl-title").all_inner_texts())

    # Plotly draws through its JupyterLab mime renderer (jupyterlab-plotly, shipped with plotly).
    chart = out.locator(".js-plotly-plot")
    chart.first.wait_for(timeout=60_000)
    assert chart.first.locator(".main-svg").count() > 0
