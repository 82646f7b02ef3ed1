"""Notebooks are numbered, stored without outputs, open without a kernel dialog, and have a tiny mode."""
from __future__ import annotations

import json
import re

import pytest


def _notebooks(repo_root):
    return sorted((repo_root / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks(repo_root):
    assert (repo_root / "notebooks" / "00_start_here.ipynb").exists()


@pytest.mark.parametrize("name", ["all"])
def test_each_notebook_is_clean(repo_root, name):
    for path in _notebooks(repo_root):
        nb = json.loads(path.read_text())
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name), f"{path.name}: name it NN_topic.ipynb"
        assert nb["metadata"].get("kernelspec", {}).get("name") == "python3", f"{path.name}: needs the python3 kernelspec"
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert not any(c.get("outputs") or c.get("execution_count") for c in code), f"{path.name}: stored with outputs"
        params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(params) == 1, f"{path.name}: needs exactly one cell tagged 'parameters'"
        assert re.search(r"^TINY\s*=", "".join(params[0]["source"]), re.M), f"{path.name}: parameters cell must set TINY"
