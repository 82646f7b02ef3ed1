"""Retrieval: encoding throughput, exact vs HNSW vs IVF search at catalog size and at 1M vectors.

    python -m benchmarks.run --only retrieval          # full: whole catalog, 1M synthetic vectors
    python -m benchmarks.run --only retrieval --tiny   # smoke run: 1,000 items, 100k vectors

* encode: items/s embedding catalog descriptions with the bundled MiniLM, cold (empty cache)
  and again from the on-disk cache (a new cache object: shard files read back).
* search at catalog size and at 1M synthetic 384-d vectors of two kinds that bracket real data
  (a Gaussian with the catalog embeddings' mean and covariance: hard; points between two real
  embeddings: near the real manifold); queries are real encoded NL profiles: build time,
  median single-query latency for exact (IndexFlatIP), HNSW and IVF-Flat, their recall@10 against
  exact, with an efSearch / nprobe sweep. The HNSW build parameters are chosen to fit a couple of
  minutes on 2 cores; at 1M that graph is poor, and IVF (about 30 s to build, recorded as ivf_build_s) is the contrast.

The cross-encoder (training, rerank latency, the NDCG table) is the ``reranking`` section.

The machine is shared: the 1-minute load average at start and end is recorded beside the numbers.
"""
from __future__ import annotations

import gc
import os
import tempfile
import time

import numpy as np

D = 384  # MiniLM's size; the 1M test keeps it (a lower dimension would flatter the latency)


def _load():
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _median_ms(fn, queries) -> float:
    times = []
    for q in queries:
        t = time.perf_counter()
        fn(q)
        times.append(time.perf_counter() - t)
    return round(1000 * float(np.median(times)), 3)


def _search_block(name, vectors, ids, queries, hnsw_params, ivf_params=None) -> dict:
    from recnb.candidates.index import VectorIndex, recall_at_k

    out = {"vectors": int(len(vectors)), "dim": int(vectors.shape[1])}
    t = time.perf_counter()
    exact = VectorIndex(ids, vectors, kind="flat")
    out["exact_build_s"] = round(time.perf_counter() - t, 2)
    timed = queries[:50]  # single-query latency: the median of 50 is stable; recall uses all queries
    out["exact_query_ms"] = _median_ms(lambda q: exact.search(q, k=10), timed)
    truth = exact.search_many(queries, 10)[0]  # the exact top-10, computed once for every recall below
    kinds = [("hnsw", hnsw_params)] + ([("ivf", ivf_params)] if ivf_params else [])
    for kind, params in kinds:
        t = time.perf_counter()
        approx = VectorIndex(ids, vectors, kind=kind, **params)
        out[f"{kind}_build_s"] = round(time.perf_counter() - t, 2)
        out[f"{kind}_params"] = params
        out[f"{kind}_query_ms"] = _median_ms(lambda q: approx.search(q, k=10), timed)
        out[f"{kind}_recall_at_10"] = round(recall_at_k(approx, None, queries, k=10, truth=truth), 4)
        if kind == "hnsw":  # the search-time knob: recall vs latency on the same graph
            sweep = []
            for ef in (16, 32, 64, 128, 256):
                approx.index.hnsw.efSearch = ef
                sweep.append({"ef_search": ef, "query_ms": _median_ms(lambda q: approx.search(q, k=10), timed),
                              "recall_at_10": round(recall_at_k(approx, None, queries, k=10, truth=truth), 4)})
            out["hnsw_ef_search_sweep"] = sweep
        if kind == "ivf":  # cells visited per query: recall vs latency on the same lists
            sweep = []
            for nprobe in (4, 16, 64):
                approx.index.nprobe = nprobe
                sweep.append({"nprobe": nprobe, "query_ms": _median_ms(lambda q: approx.search(q, k=10), timed),
                              "recall_at_10": round(recall_at_k(approx, None, queries, k=10, truth=truth), 4)})
            out["ivf_nprobe_sweep"] = sweep
        del approx
        gc.collect()
    print(f"[retrieval] {name}: {out}", flush=True)
    return out


def _partial(results: dict, tiny: bool) -> None:
    """Record what is measured so far (marked incomplete): a run cut short still leaves its numbers."""
    from benchmarks.run import record

    record("retrieval", {**results, "complete": False, "load_average_now": _load()}, tiny=tiny)


def synthetic_vectors(base: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """n unit vectors from a Gaussian with the catalog embeddings' mean and covariance.

    Full-rank, no clusters: a hard case for graph indexes (far more intrinsic dimensions than
    real embeddings have). Not noisy copies of catalog vectors: a hundred copies of each item
    would make the exact top-10 a draw among near-ties. Built in chunks to bound memory.
    """
    rng = np.random.default_rng(seed)
    mean = base.mean(0)
    w, v = np.linalg.eigh(np.cov(base, rowvar=False))
    root = (v * np.sqrt(np.clip(w, 0, None))).astype(np.float32)  # cov = root @ root.T
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        chunk = mean + rng.standard_normal((stop - start, base.shape[1]), dtype=np.float32) @ root.T
        out[start:stop] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return out


def interpolated_vectors(base: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """n unit vectors on segments between two random catalog embeddings (plus a little noise).

    Stays near the real embeddings' manifold (low intrinsic dimension, real clusters): closer
    to what a large real catalog looks like than the Gaussian, so the two bracket HNSW's recall.
    """
    rng = np.random.default_rng(seed)
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(n, start + 100_000) - start
        lam = rng.random((m, 1), dtype=np.float32)
        chunk = lam * base[rng.integers(0, len(base), m)] + (1 - lam) * base[rng.integers(0, len(base), m)]
        chunk += 0.01 * rng.standard_normal(chunk.shape, dtype=np.float32)
        out[start:start + m] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return out


def run(tiny: bool = False) -> dict:
    import torch

    import recnb
    from recnb.candidates.embeddings import EmbeddingCache
    from recnb.scores.cross_encoder_training import likes_text

    results: dict = {"load_average_start": _load(), "torch_threads": torch.get_num_threads()}
    ds = recnb.load_dataset("movielens-small")
    split = ds.split(seed=0)
    encoder = recnb.load_encoder("minilm")

    # -- encoding, cold and cached (a rate: measured on a sample of descriptions, in a temp cache) ---------
    sample = ds.items["description"].fillna("").tolist()[: 500 if tiny else 2000]
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        EmbeddingCache(encoder, root=tmp).encode(sample, progress=False)
        cold = time.perf_counter() - t
        t = time.perf_counter()
        cache = EmbeddingCache(encoder, root=tmp)  # a new object: reads the shard files back
        cache.encode(sample, progress=False)
        warm = time.perf_counter() - t
        assert cache.last_misses == 0
    results["encode"] = {"items": len(sample), "batch_size": 64, "cold_items_per_s": round(len(sample) / cold, 1),
                         "cached_items_per_s": round(len(sample) / warm, 1), "cold_s": round(cold, 2),
                         "cached_s": round(warm, 3)}
    print(f"[retrieval] encode: {results['encode']}", flush=True)
    _partial(results, tiny)

    # The catalog's vectors come from the kit's persistent cache (embedded once, reused by the notebooks).
    items = ds.items.iloc[:1000] if tiny else ds.items
    vectors = EmbeddingCache(encoder).encode(items["description"].fillna("").tolist(), progress=False)

    # -- queries: real NL profiles ------------------------------------------------------------------
    n_queries = 50 if tiny else 200
    profile_texts = []
    for u in split.users:
        text = likes_text(ds.items, split.history(u))
        if text:
            profile_texts.append(text)
        if len(profile_texts) >= n_queries:
            break
    queries = encoder.encode(profile_texts, normalize_embeddings=True, convert_to_numpy=True).astype(np.float32)

    # -- search at catalog size ----------------------------------------------------------------------
    hnsw_catalog = dict(M=32, ef_construction=80, ef_search=64)
    results["search_catalog"] = _search_block("catalog", vectors, items["item_id"].to_numpy(), queries, hnsw_catalog,
                                              dict(nprobe=8))
    _partial(results, tiny)

    # -- search at 1M synthetic 384-d vectors ---------------------------------------------------------
    n_big = 100_000 if tiny else 1_000_000
    # M=12, efConstruction=24: a graph 2 shared cores build in a few minutes (larger M and efConstruction
    # build longer); the efSearch sweep shows what recall it still gives.
    hnsw_big = dict(M=12, ef_construction=24, ef_search=64)
    # IVF-Flat: 1,024 lists trained on faiss' default sample (256 per list); a build of about 30 s,
    # and the nprobe sweep shows the recall a richer HNSW graph would have cost far longer to build for.
    ivf_big = dict(nlist=256 if tiny else 1024, nprobe=16)
    size = "100k" if tiny else "1M"
    for name, make, how in [
        ("gaussian", synthetic_vectors, "Gaussian with the catalog embeddings' mean and covariance (full rank, no clusters)"),
        ("interpolated", interpolated_vectors, "points between two random catalog embeddings + N(0, 0.01^2) noise"),
    ]:
        big = make(vectors, n_big)
        block = _search_block(f"{n_big:,} {name}", big, np.arange(n_big), queries, hnsw_big, ivf_big)
        block["how"] = how + "; unit length; queries: real encoded NL profiles"
        results[f"search_{size}_synthetic_{name}"] = block
        del big
        gc.collect()
        _partial(results, tiny)

    results["load_average_end"] = _load()
    results["complete"] = True
    return results
