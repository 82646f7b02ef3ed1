"""QLoRA on CUDA: the CPU LoRA training code (recnb.tuning.LoraModel.train) on a 4-bit NF4 base.

No weights can be downloaded on the GPU machine, so the bases are random-weight Llamas built from a
config with a word-level tokenizer (recnb.models.profiling.random_llm_folder): a tiny one checks that training
runs, moves the loss and reloads; a Llama-2-7B-shaped one measures QLoRA's peak memory beside
LoRA on the same base in bf16 (memory depends on shapes, not weight values). The numbers go to
benchmarks/results.json, section ``gpu_tuning``; nothing here asserts a speed.
"""
from __future__ import annotations

import time

import numpy as np
import pytest

from recnb.models._paths import cache_dir
from recnb.models.profiling import SHAPES, random_llm_folder

GIB = 2**30


def _examples(n: int = 8, prompt_words: int = 48):
    """Yes/No questions in the random tokenizer's words ("w17 w42 ..."), answers "w5" (yes) / "w6" (no)."""
    from recnb.tuning import TuningExample

    out = []
    for i in range(n):
        prefix = " ".join(f"w{10 + (7 * i + j) % 900}" for j in range(prompt_words))
        out.append(TuningExample(user_id=i, item_id=i, label=i % 2, prefix=prefix, continuation=f" w{900 + i} w{950 + i}",
                                 answer="w5" if i % 2 else "w6"))
    return out


@pytest.fixture(scope="module")
def bnb(cuda):
    return pytest.importorskip("bitsandbytes", reason="bitsandbytes not installed: pip install -e '.[gpu]'")


@pytest.fixture(scope="module")
def tiny_dir(cuda, tmp_path_factory):
    return random_llm_folder(tmp_path_factory.mktemp("qlora-tiny") / "llama", "tiny")


def test_qlora_trains_on_nf4_and_the_adapter_reloads(bnb, tiny_dir, tmp_path):
    import recnb
    from recnb.tuning import LoraModel, LoraSettings

    llm = recnb.load_llm(str(tiny_dir), device="cuda", quantization="4bit")
    assert "Linear4bit" in {type(m).__name__ for m in llm.model.modules()}
    with pytest.raises(ValueError, match="cannot be copied"):
        LoraModel(llm)  # a 4-bit base is handed over, never deep-copied
    tuned = LoraModel(llm, LoraSettings(epochs=10, batch_size=4, learning_rate=1e-2, dropout=0.0,
                                        target_modules=("q_proj", "v_proj", "o_proj")), copy_base=False)
    ex = _examples()
    before = tuned.answer_margin(ex, positive="w5", negative="w6")
    report = tuned.train(ex, progress=False)
    assert report.quantization == "4bit" and report.device.startswith("cuda")
    assert report.peak_memory_bytes and report.peak_memory_bytes > 0
    assert np.all(np.isfinite(report.losses)) and report.final_loss < report.first_loss, report.losses
    after = tuned.answer_margin(ex, positive="w5", negative="w6")
    assert not np.allclose(after, before, atol=1e-3), "training did not change the Yes/No margins"
    folder = tuned.save(tmp_path / "qlora-adapter")
    tuned.unload()
    fresh = recnb.load_llm(str(tiny_dir), device="cuda", quantization="4bit")
    back = LoraModel.load(fresh, folder, copy_base=False)
    np.testing.assert_allclose(back.answer_margin(ex, positive="w5", negative="w6"), after, atol=2e-2)
    back.unload()


@pytest.fixture(scope="module")
def big_dir(bnb):
    # The same cached folder benchmarks/gpu_llm.py uses: 13 GB written once per machine, not twice.
    return random_llm_folder(cache_dir("models", "random-llama-2-7b"), "llama-2-7b")


def _peak_training(folder, quantization, examples, settings):
    import torch

    import recnb
    from recnb.tuning import LoraModel

    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    llm = recnb.load_llm(str(folder), device="cuda", quantization=quantization)
    load_s = time.perf_counter() - t0
    loaded = torch.cuda.memory_allocated()
    tuned = LoraModel(llm, settings, copy_base=False, gradient_checkpointing=True)
    report = tuned.train(examples, progress=False)
    out = {"weights_gib": round(loaded / GIB, 3), "peak_gib": round(report.peak_memory_bytes / GIB, 3),
           "load_s": round(load_s, 2), "train_s": round(report.seconds, 2),
           "examples_per_s": round(report.examples_per_second, 2), "trainable_params": report.trainable_params,
           "first_loss": round(report.first_loss, 4), "final_loss": round(report.final_loss, 4)}
    tuned.unload()
    llm.unload()
    del tuned, llm
    torch.cuda.empty_cache()
    return out


def test_qlora_peak_memory_7b_shape(big_dir):
    from benchmarks.run import record
    from recnb.tuning import LoraSettings

    examples = _examples(n=8, prompt_words=120)
    settings = LoraSettings(epochs=1, batch_size=4, learning_rate=1e-4)  # r=8 on q_proj/v_proj, TALLRec's
    nf4 = _peak_training(big_dir, "4bit", examples, settings)
    bf16 = _peak_training(big_dir, None, examples, settings)
    out = {
        "base": "random-weight Llama-2-7B shape (" + ", ".join(f"{k}={v}" for k, v in SHAPES["llama-2-7b"].items()) + ")",
        "batch": settings.batch_size, "prompt_tokens": 120 + 2 + 1, "steps": 2, "lora": "r=8 alpha=16 on q_proj, v_proj",
        "gradient_checkpointing": True, "qlora_nf4": nf4, "lora_bf16": bf16,
        "qlora_peak_vs_bf16": round(nf4["peak_gib"] / bf16["peak_gib"], 3),
    }
    print(out)
    record("gpu_tuning", out)
    assert nf4["peak_gib"] < bf16["peak_gib"], out
    assert all(np.isfinite([nf4["final_loss"], bf16["final_loss"]]))
