"""GPU checks for model loading: bf16 and NF4 on CUDA, and that unload() gives memory back."""
from __future__ import annotations

import numpy as np
import pytest

import recnb
from recnb.models.profiling import random_llm_folder


@pytest.fixture(scope="module")
def tiny_dir(cuda, tmp_path_factory):
    return random_llm_folder(tmp_path_factory.mktemp("tiny") / "llama", "tiny")


def test_bf16_scoring_matches_one_by_one(tiny_dir):
    llm = recnb.load_llm(str(tiny_dir), device="cuda")
    assert next(llm.model.parameters()).dtype.__str__() == "torch.bfloat16"
    prefix = "w1 w2 w3 w4 w5 w6"
    conts = [" w7", " w8 w9", " w10 w11 w12", " w13"]
    np.testing.assert_allclose(llm.score(prefix, conts, batch_size=2), llm.score_naive(prefix, conts), atol=0.1)
    llm.unload()


def test_unload_frees_gpu_memory(tiny_dir):
    import torch

    torch.cuda.empty_cache()
    before = torch.cuda.memory_allocated()
    llm = recnb.load_llm(str(tiny_dir), device="cuda")
    llm.score("w1 w2 w3", [" w4", " w5 w6"])
    loaded = torch.cuda.memory_allocated()
    assert loaded > before
    llm.unload()
    after = torch.cuda.memory_allocated()
    assert after - before < 0.05 * (loaded - before), f"unload left {(after - before) / 2**20:.1f} MiB of {(loaded - before) / 2**20:.1f}"


def test_four_bit_loads_nf4_and_scores(tiny_dir):
    pytest.importorskip("bitsandbytes", reason="bitsandbytes not installed: pip install -e '.[gpu]'")
    llm = recnb.load_llm(str(tiny_dir), device="cuda", quantization="4bit")
    names = {type(m).__name__ for m in llm.model.modules()}
    assert "Linear4bit" in names, names
    scores = llm.score("w1 w2 w3", [" w4", " w5 w6"])
    assert np.all(np.isfinite(scores))
    llm.unload()
