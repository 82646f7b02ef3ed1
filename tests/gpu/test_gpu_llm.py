"""GPU checks for the LLM rankers and the 4-bit vs bf16 benchmark (skipped without CUDA).

Run with ``make gpu-check``. The benchmark test builds a Llama-2-7B-shaped random-weight model
(about 13 GB written to the cache once) and records section ``gpu_llm`` in benchmarks/results.json.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_llm_rankers_on_cuda(bundled_cuda):
    """bf16 on CUDA finds the contract catalog's answer; fp32 on CUDA gives the CPU's numbers."""
    import torch

    import recnb
    from recnb.evaluation.synthetic import auc, make_catalog
    from recnb.scores.llm_pointwise import LLMPointwiseRanker
    from recnb.scores.llm_title import LLMTitleRanker

    cat = make_catalog()
    title = LLMTitleRanker(bundled_cuda).fit(cat.train, cat.items)
    aucs = [auc(title.score(cat.query(c), c.candidates), c.candidates, c.relevant) for c in cat.cases]
    assert np.mean(aucs) >= 0.9, aucs  # the CPU contract floor for llm-title
    cuda32 = recnb.load_llm("smollm2-135m", device="cuda", dtype=torch.float32)
    cpu = recnb.load_llm("smollm2-135m", device="cpu")
    case = cat.cases[0]
    on_gpu = LLMPointwiseRanker(cuda32).fit(cat.train, cat.items).score(cat.query(case), case.candidates)
    on_cpu = LLMPointwiseRanker(cpu).fit(cat.train, cat.items).score(cat.query(case), case.candidates)
    np.testing.assert_allclose(on_gpu, on_cpu, atol=0.02)
    cuda32.unload()


def test_score_choices_and_constrained_generation_on_cuda(bundled_cuda):
    from recnb.models.constrained import constrained_titles

    llm = bundled_cuda
    prefix = llm.chat_prompt("Would I like the movie")
    stems = [" Alien? Answer Yes or No.", " Heat? Answer Yes or No."]
    fast = llm.score_choices(prefix, stems, ["Yes", "No"])
    slow = np.array([llm.score_naive(prefix + s, ["Yes", "No"]) for s in stems])
    np.testing.assert_allclose(fast, slow, atol=0.15)  # bf16: batched and one-by-one round differently
    titles = ["Alien (1979)", "Heat (1995)", "Toy Story (1995)"]
    order, text = constrained_titles(llm, llm.chat_prompt("List these movies: Heat, Alien, Toy Story."), titles)
    assert sorted(order) == [0, 1, 2] and sorted(text.strip().split("\n")) == sorted(titles)


def test_four_bit_bundled_model_ranks(bundled_cuda):
    pytest.importorskip("bitsandbytes", reason="bitsandbytes not installed: pip install -e '.[gpu]'")
    import recnb
    from recnb.evaluation.synthetic import auc, make_catalog
    from recnb.scores.llm_title import LLMTitleRanker

    llm = recnb.load_llm("smollm2-135m", device="cuda", quantization="4bit")
    assert "Linear4bit" in {type(m).__name__ for m in llm.model.modules()}
    cat = make_catalog()
    r = LLMTitleRanker(llm).fit(cat.train, cat.items)
    aucs = [auc(r.score(cat.query(c), c.candidates), c.candidates, c.relevant) for c in cat.cases]
    print(f"NF4 SmolLM2-135M llm-title mean AUC on the contract catalog: {np.mean(aucs):.3f}")
    assert np.all(np.isfinite(aucs))
    llm.unload()


def test_gpu_llm_benchmark_records_4bit_vs_bf16(cuda):
    sys.path.insert(0, str(ROOT))
    from benchmarks import gpu_llm
    from benchmarks.run import record

    data = gpu_llm.run("llama-2-7b")
    record("gpu_llm", data)
    rows = {(r["model"], r["quantization"]): r for r in data["rows"]}
    bf16 = rows[("random-weight llama-2-7b shape", "bf16")]
    assert 12 < bf16["weights_gib"] < 14  # 6.7e9 parameters x 2 bytes
    nf4 = next(r for r in data["rows"] if r["model"] == "random-weight llama-2-7b shape" and r["quantization"] == "4bit")
    if "weights_gib" in nf4:
        assert nf4["weights_gib"] < bf16["weights_gib"] / 3  # NF4: about half a byte per weight
    for r in data["rows"]:
        if "max_abs_diff_cached_vs_one_by_one" in r and "random" not in r["model"]:
            assert r["max_abs_diff_cached_vs_one_by_one"] < 0.5, r  # the cache changes nothing but rounding
