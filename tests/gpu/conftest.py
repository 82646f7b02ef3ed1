"""Fixtures shared by the GPU checks (every one depends on ``cuda``, so all skip without CUDA)."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def bundled_cuda(cuda):
    """The bundled SmolLM2-135M in bf16 on CUDA, unloaded after the module; skips where it is not installed."""
    import recnb
    from recnb.models.errors import ModelNotAvailableError

    try:
        llm = recnb.load_llm("smollm2-135m", device="cuda")
    except ModelNotAvailableError as exc:
        pytest.skip(f"the bundled model is not installed on this GPU machine: {exc}")
    yield llm
    llm.unload()
