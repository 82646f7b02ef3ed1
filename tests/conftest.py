"""Shared fixtures and the tiering of the suite.

Markers come from the folder a test lives in (tests/unit -> unit, tests/ui -> ui, ...),
so a new test file is tiered by where it is put. Heavy objects (dataset, encoder, LLM)
are session-scoped: each is loaded once per run.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDER_MARKS = {"unit": "unit", "contract": "unit", "notebooks": "notebook", "ui": "ui", "gpu": "gpu"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        parts = Path(str(item.fspath)).relative_to(ROOT / "tests").parts
        if parts and parts[0] in FOLDER_MARKS:
            item.add_marker(getattr(pytest.mark, FOLDER_MARKS[parts[0]]))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def dataset():
    import recnb

    return recnb.load_dataset("movielens-small")


@pytest.fixture(scope="session")
def encoder():
    import recnb

    return recnb.load_encoder("minilm")


@pytest.fixture(scope="session")
def llm():
    import recnb

    return recnb.load_llm("smollm2-135m", device="cpu")


@pytest.fixture(scope="session")
def cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine (GPU tests run under `make gpu-check`)")
    return torch.device("cuda")


@pytest.fixture(autouse=True, scope="session")
def _quiet_offline_env():
    # Tests never reach a hub: everything they need is bundled.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # The kit's cross-encoder is the newest one trained on the machine; `make bench` trains a full
    # one. The suite pins the tiny-config model (trained in seconds when missing) so its results
    # do not depend on what a benchmark left in the cache.
    os.environ.setdefault("RECNB_CROSS_ENCODER_MODE", "tiny")
    yield


@pytest.fixture(scope="session")
def amazon(tmp_path_factory):
    """The Amazon Reviews 2023 format fixture (string item ids: ASINs), loaded from a scratch copy (the
    loader writes its checksum manifest beside the files)."""
    import shutil

    import recnb

    folder = tmp_path_factory.mktemp("amazon") / "amazon-reviews-2023"
    shutil.copytree(ROOT / "tests" / "fixtures" / "amazon-reviews-2023", folder)
    with pytest.warns(UserWarning, match="reviewed again"):  # the fixture's repeated review, by design
        return recnb.load_dataset("amazon-reviews-2023", folder)
