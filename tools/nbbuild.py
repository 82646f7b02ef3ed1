"""Write a notebook from a light cell script (no outputs, python3 kernelspec, tagged cells).

Cells are separated by lines starting with ``# %%``; ``# %% [markdown]`` starts a markdown
cell (its lines are written as ``# text``) and ``# %% tags=parameters`` tags a code cell.
Usage: python tools/nbbuild.py notebooks/src/00_start_here.py notebooks/00_start_here.ipynb
The .ipynb is what users open and the suite runs; the script is kept only to make review and
editing easy.
"""
from __future__ import annotations

import re
import sys

import nbformat


def build(src: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for block in re.split(r"^# %%", src, flags=re.M)[1:]:
        header, _, body = block.partition("\n")
        body = body.strip("\n")
        if "[markdown]" in header:
            text = "\n".join(re.sub(r"^# ?", "", line) for line in body.splitlines())
            nb.cells.append(nbformat.v4.new_markdown_cell(text))
        else:
            cell = nbformat.v4.new_code_cell(body)
            m = re.search(r"tags=([\w,-]+)", header)
            if m:
                cell.metadata["tags"] = m.group(1).split(",")
            nb.cells.append(cell)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"
    return nb


if __name__ == "__main__":
    src, dst = sys.argv[1], sys.argv[2]
    nbformat.write(build(open(src).read()), dst)
