"""Reranking: the kit's own cross-encoder, trained here, its rerank latency and the NDCG table.

    python -m benchmarks.run --only reranking          # full: TrainingConfig.full() (a few minutes)
    python -m benchmarks.run --only reranking --tiny   # smoke run: TrainingConfig.tiny()

* cross_encoder: what was trained (pairs by kind, training seconds, the machine's load) and the
  synthetic known-answer check it recorded (the shared contract's test on a fresh model);
* rerank_50: latency of the trained model on 50 (profile, description) pairs;
* ndcg_at_10: NDCG@10 on held-out users, the bi-encoder's top-50 vs BM25 / untrained head /
  trained cross-encoder reranking it (trained first if the cache has no model for this config).
"""
from __future__ import annotations

import time

import numpy as np

from benchmarks.bench_retrieval import _load


def run(tiny: bool = False) -> dict:
    import torch

    import recnb
    from recnb.candidates.retriever import DenseRetriever
    from recnb.scores.cross_encoder import predict_logits
    from recnb.scores.cross_encoder_training import (TrainingConfig, evaluate_reranking, fresh_head, likes_text,
                                                     train_cross_encoder, training_catalog)

    results: dict = {"load_average_start": _load(), "torch_threads": torch.get_num_threads()}
    ds = recnb.load_dataset("movielens-small")
    split = ds.split(seed=0)
    encoder = recnb.load_encoder("minilm")
    config = TrainingConfig.tiny() if tiny else TrainingConfig.full()
    catalog = training_catalog(ds.items, split.train, config.catalog_items)
    retriever = DenseRetriever(catalog, encoder, progress=False)
    trained = train_cross_encoder(config, ds, split, encoder=encoder, retriever=retriever, progress=False)
    results["cross_encoder"] = {k: trained.info.get(k) for k in ("name", "pairs", "pairs_by_kind", "train_users",
                                                                 "seconds_data", "seconds_train", "load_average",
                                                                 "reloaded", "synthetic_contract")}
    results["cross_encoder"].update(hard_negatives_from=config.hard_from,
                                    query_swap_negatives_per_positive=config.query_swap_negatives)
    print(f"[reranking] trained: {results['cross_encoder']}", flush=True)

    users = trained.info["heldout_users"]
    texts_of = dict(zip(catalog["item_id"], catalog["description"].fillna("")))
    latencies = []
    for u in users[:20]:
        text = likes_text(catalog, split.history(u, include_valid=True))
        top = retriever.search(text, k=50)["item_id"].tolist()
        pairs = [(text, texts_of[i]) for i in top]
        t = time.perf_counter()
        predict_logits(trained.model, pairs)
        latencies.append(time.perf_counter() - t)
    results["rerank_50"] = {"median_ms": round(1000 * float(np.median(latencies)), 1),
                            "pairs_per_s": round(50 / float(np.median(latencies)), 1), "queries": len(latencies),
                            "max_length": config.max_length}
    print(f"[reranking] rerank: {results['rerank_50']}", flush=True)

    summary, _ = evaluate_reranking(
        {"cross-encoder (trained)": trained.model,
         "cross-encoder (untrained head)": fresh_head(config.max_length, config.seed)},
        users, ds, split, retriever=retriever, catalog=catalog, depth=50, k=10, progress=False)
    results["ndcg_at_10"] = [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
                             for r in summary.to_dict("records")]
    results["load_average_end"] = _load()
    return results
