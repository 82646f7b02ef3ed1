"""Cross-encoder on CUDA: same scores as on CPU, a micro training run, and rerank latency for 50 candidates.

The latency is recorded in benchmarks/results.json (section ``retrieval_gpu``), not asserted.
"""
from __future__ import annotations

import time

import numpy as np

PAIRS = [("I like science fiction films. I like films from the 1980s.",
          f"Film {i} (198{i % 10}) is a science fiction and action film directed by Someone {i}. Runtime {90 + i} minutes.")
         for i in range(50)]


def test_scores_match_cpu(cuda):
    from recnb.scores.cross_encoder import predict_logits
    from recnb.scores.cross_encoder_training import fresh_head

    cpu = predict_logits(fresh_head(128, seed=0, device="cpu"), PAIRS)
    gpu = predict_logits(fresh_head(128, seed=0, device="cuda"), PAIRS)
    np.testing.assert_allclose(gpu, cpu, atol=2e-3)


def test_micro_training_on_gpu(cuda, tmp_path, monkeypatch, dataset):
    from recnb.scores.cross_encoder import predict_logits
    from recnb.scores.cross_encoder_training import TrainingConfig, fresh_head, train_cross_encoder

    monkeypatch.setenv("RECNB_CACHE", str(tmp_path))
    config = TrainingConfig.tiny(mode="gpu-micro", train_users=8, holdout_users=4, catalog_items=400, max_length=64)
    trained = train_cross_encoder(config, dataset, reuse=False, save=False, progress=False, device="cuda")
    assert trained.info["device"].startswith("cuda")
    scores = predict_logits(trained.model, PAIRS[:8])
    assert np.all(np.isfinite(scores))
    assert not np.allclose(scores, predict_logits(fresh_head(64, 0, device="cuda"), PAIRS[:8]), atol=1e-4)


def test_rerank_latency_cpu_vs_gpu(cuda):
    from benchmarks.run import record
    from recnb.scores.cross_encoder import predict_logits
    from recnb.scores.cross_encoder_training import fresh_head

    out = {}
    for device in ("cpu", "cuda"):
        model = fresh_head(160, seed=0, device=device)
        predict_logits(model, PAIRS)  # warm-up (CUDA context, kernels)
        times = []
        for _ in range(10):
            t = time.perf_counter()
            predict_logits(model, PAIRS)
            times.append(time.perf_counter() - t)
        out[f"rerank_50_{device}_median_ms"] = round(1000 * float(np.median(times)), 2)
    print(out)
    record("retrieval_gpu", out)
    assert all(v > 0 for v in out.values())

