"""Where the kit keeps its caches (exported models, embeddings, trained heads)."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """``$RECNB_CACHE`` or ``~/.cache/recnb``, plus ``parts``; created on demand."""
    root = Path(os.environ.get("RECNB_CACHE") or Path.home() / ".cache" / "recnb")
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
