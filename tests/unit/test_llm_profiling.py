"""The measuring code the LLM benchmarks and notebook 09 share, on a tiny random-weight model (CPU)."""
from __future__ import annotations

import numpy as np

import recnb
from recnb.models.profiling import random_llm_folder, scoring_workload, time_generation, time_scoring


def test_random_model_workload_and_scoring_timings(tmp_path):
    (tmp_path / "tiny").mkdir()  # empty, as cache_dir() hands it over
    folder = random_llm_folder(tmp_path / "tiny", "tiny", device="cpu")
    assert random_llm_folder(folder, "tiny", device="cpu") == folder  # built once
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny"]  # built beside it, then renamed into place
    llm = recnb.load_llm(str(folder), device="cpu")
    prefix, conts = scoring_workload(llm, n_candidates=5)
    assert len(conts) == 5 and 90 <= llm.count_tokens(prefix) <= 110
    t = time_scoring(llm, prefix, conts, repeats=1)
    for key in ("one_by_one_s", "batched_s", "prefix_cached_cold_s", "prefix_cached_warm_s"):
        assert t[key] > 0
    # the three ways compute the same log-likelihoods (fp32)
    assert t["max_abs_diff_cached_vs_one_by_one"] < 1e-3 and t["max_abs_diff_batched_vs_one_by_one"] < 1e-3
    g = time_generation(llm, prefix, max_new_tokens=4, repeats=1)
    assert g["backend"] == "transformers" and 0 < g["new_tokens"] <= 4 and g["tokens_per_s"] > 0


def test_bundled_workload_is_a_real_prompt(llm):
    prefix, conts = scoring_workload(llm, n_candidates=20)
    assert prefix.endswith("<|im_start|>assistant\n") and len(set(conts)) == 20
    assert np.all(np.isfinite(llm.score(prefix, conts[:3])))
