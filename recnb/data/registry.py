"""Dataset names -> loaders, and ``load_dataset``, the one entry point notebooks call."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from recnb.data.dataset import Dataset
from recnb.data.errors import MissingFileError, UnknownDatasetError


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    loader: Callable[..., Dataset]
    bundled: bool  # True: ships with recnb; False: the user downloads it and passes ``path``
    how_to_get: str = ""
    summary: str = ""


_REGISTRY: dict[str, DatasetSpec] = {}


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    _REGISTRY[spec.name] = spec
    return spec


def available_datasets() -> dict[str, str]:
    """name -> one-line summary, bundled sets first."""
    specs = sorted(_REGISTRY.values(), key=lambda s: (not s.bundled, s.name))
    return {s.name: s.summary + ("" if s.bundled else " (download it yourself; pass path=)") for s in specs}


def dataset_spec(name: str) -> DatasetSpec:
    if name not in _REGISTRY:
        raise UnknownDatasetError(
            f"no dataset called {name!r}; known: {', '.join(sorted(_REGISTRY))}",
            fix="pick one of the names above, or register a loader with recnb.data.register_dataset",
        )
    return _REGISTRY[name]


def load_dataset(name: str, path: str | os.PathLike | None = None, **kw) -> Dataset:
    """Load a dataset by name.

    ``"movielens-small"`` ships with recnb (``path`` optional: another copy of the folder).
    The others read files you downloaded: pass ``path`` (the folder or the official zip), or
    set ``RECNB_DATA_DIR`` and put them in ``$RECNB_DATA_DIR/<name>``. Keyword arguments go
    to the loader (e.g. ``checksums=``, ``category=`` for Amazon, ``nrows=``).
    """
    spec = dataset_spec(name)
    if path is None and not spec.bundled:
        root = os.environ.get("RECNB_DATA_DIR")
        guess = Path(root) / name if root else None
        if guess is None or not guess.exists():
            raise MissingFileError(
                f"{name} is not bundled with recnb: pass path= (the folder or zip you downloaded)"
                + (f"; looked in {guess}" if guess else ""),
                path=guess, fix=spec.how_to_get,
            )
        path = guess
    return spec.loader(path, **kw) if path is not None else spec.loader(**kw)
