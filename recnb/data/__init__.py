"""Stage 1 of the pipeline: catalogues, ratings, splits, and loaders for user-downloaded sets.

    import recnb
    ds = recnb.load_dataset("movielens-small")      # bundled, checksum-verified
    split = ds.split(seed=0)                         # temporal leave-one-out
    split.train, split.valid, split.test, split.history(user_id)

Sets you download yourself load the same way with ``path=`` (folder or official zip):
"ml-1m", "ml-latest", "ml-32m", "amazon-reviews-2023", "redial". Every problem with the
files raises one :class:`DatasetError` that names the file and the fix.
"""
from __future__ import annotations

from recnb.data.dataset import Dataset
from recnb.data.errors import (
    ChecksumError,
    CorruptFileError,
    DatasetError,
    EncodingError,
    MissingFileError,
    SchemaError,
    UnknownDatasetError,
)
from recnb.data.registry import DatasetSpec, available_datasets, load_dataset, register_dataset
from recnb.data.split import Split, temporal_leave_one_out

# Importing the loader modules registers their names.
from recnb.data import bundled as _bundled  # noqa: E402,F401  isort: skip
from recnb.data import movielens as _movielens  # noqa: E402,F401  isort: skip
from recnb.data import amazon as _amazon  # noqa: E402,F401  isort: skip
from recnb.data import redial as _redial  # noqa: E402,F401  isort: skip
from recnb.data.amazon import load_amazon_reviews_2023  # noqa: E402
from recnb.data.bundled import load_movielens_small  # noqa: E402
from recnb.data.movielens import load_ml_1m, load_ml_32m, load_ml_latest  # noqa: E402
from recnb.data.redial import load_redial  # noqa: E402

__all__ = [
    "Dataset", "Split", "temporal_leave_one_out", "load_dataset", "available_datasets", "register_dataset",
    "DatasetSpec", "DatasetError", "MissingFileError", "ChecksumError", "SchemaError", "EncodingError",
    "CorruptFileError", "UnknownDatasetError", "load_movielens_small", "load_ml_1m", "load_ml_latest",
    "load_ml_32m", "load_amazon_reviews_2023", "load_redial",
]
