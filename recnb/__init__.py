"""recnb: a Jupyter-first kit for LLM-driven recommendation.

The pipeline reads top to bottom in the package tree:

    data -> text -> candidates -> scores -> ranking -> explanation -> evaluation

``recnb.data`` loads catalogs and ratings, ``recnb.text`` turns them into language
(item descriptions, NL profiles, prompts), ``recnb.candidates`` retrieves (FAISS, BM25),
``recnb.scores`` holds every ranker behind one interface, ``recnb.ranking`` orders and
grounds their output, ``recnb.explanation`` says why, ``recnb.evaluation`` measures it.
``recnb.models`` loads the bundled encoder and LLM; ``recnb.widgets`` are thin views.
"""
from __future__ import annotations

__version__ = "0.1.0"

# Public entry points are imported lazily so `import recnb` stays fast (no torch at import).
_LAZY = {
    "load_dataset": "recnb.data",
    "load_encoder": "recnb.models.encoder",
    "load_llm": "recnb.models.llm",
    "Query": "recnb.scores.base",
    "Ranker": "recnb.scores.base",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'recnb' has no attribute {name!r}")
