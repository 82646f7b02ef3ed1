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


def test_notebook_sources_match(repo_root):
    """notebooks/src/NN_*.py (the reviewable source) and the .ipynb never drift apart."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("nbbuild", repo_root / "tools" / "nbbuild.py")
    nbbuild = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nbbuild)
    for src in sorted((repo_root / "notebooks" / "src").glob("[0-9][0-9]_*.py")):
        built = nbbuild.build(src.read_text())
        stored = json.loads((repo_root / "notebooks" / (src.stem + ".ipynb")).read_text())
        as_text = lambda cells: [(c["cell_type"], "".join(c["source"]), c.get("metadata", {}).get("tags", [])) for c in cells]
        assert as_text(built.cells) == as_text(stored["cells"]), (
            f"{src.name} and its notebook differ: run `python tools/nbbuild.py {src.relative_to(repo_root)} "
            f"notebooks/{src.stem}.ipynb`"
        )
