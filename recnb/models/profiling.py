"""Measuring LLM backends: scoring latency (one-by-one vs batched vs prefix-cached), generation speed, GPU memory.

Used by ``benchmarks/bench_llm.py`` (CPU), ``benchmarks/gpu_llm.py`` (CUDA) and notebook 09, so
every number they report comes from the same code. Random-weight models of real shapes
(``random_llm_folder``) stand in for 7B checkpoints on machines without weights: memory and
speed depend on shapes, not on weight values.
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

#: Architectures for random-weight stand-ins (Llama-2-7B's published shape, and a tiny one for tests).
SHAPES = {
    "llama-2-7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                       num_key_value_heads=32, vocab_size=32000, max_position_embeddings=4096),
    "tiny": dict(hidden_size=256, intermediate_size=688, num_hidden_layers=4, num_attention_heads=4,
                 num_key_value_heads=4, vocab_size=1024, max_position_embeddings=2048),
}


def scoring_workload(llm, n_candidates: int = 20, user: int | None = None, max_history: int = 10) -> tuple[str, list[str]]:
    """(prefix, continuations) like a title ranker's: one user's prompt and ``n_candidates`` catalog titles.

    ``max_history``: history titles in the prompt (10 gives ~206 tokens with the bundled model, 2 ~100).

    Models with a real tokenizer get a bundled-data prompt; random-weight stand-ins (word-level
    vocabulary ``w0 w1 ...``) get a word prompt of about the same length (~100 tokens, 3-8 per title).
    """
    vocab = getattr(getattr(llm, "tokenizer", None), "get_vocab", lambda: {})()
    if "w10" in vocab and "w11" in vocab:
        rng = np.random.default_rng(0)
        prefix = " ".join(f"w{i}" for i in rng.integers(4, 900, size=100))
        conts = [" " + " ".join(f"w{i}" for i in rng.integers(4, 900, size=int(rng.integers(3, 9)))) for _ in range(n_candidates)]
        return prefix, conts
    import recnb
    from recnb.scores.base import Query
    from recnb.text.prompts import Catalog, get_template, render
    from recnb.text.profile import profile_for_user

    ds = recnb.load_dataset("movielens-small")
    split = ds.split(seed=0)
    uid = user if user is not None else int(sorted(split.train.user_id.unique())[0])
    h = split.train[split.train.user_id == uid].sort_values("timestamp")
    catalog = Catalog(ds.items)
    q = Query(user_id=uid, history=tuple(h.item_id), ratings=tuple(h.rating), profile=profile_for_user(split, ds.items, uid))
    rp = render(get_template("zero-shot", "title"), llm, q, catalog, max_history=max_history)
    unseen = [i for i in ds.items.item_id.tolist() if i not in set(h.item_id)]
    picks = np.random.default_rng(0).choice(unseen, size=n_candidates, replace=False)
    return rp.text, [catalog[int(i)] for i in picks]


def _median_seconds(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def time_scoring(llm, prefix: str, continuations: list[str], repeats: int = 3, naive_repeats: int = 1,
                 batch_size: int = 32) -> dict:
    """Seconds to score all continuations three ways, and how far their numbers are apart.

    prefix_cached_cold: a new prefix each time (the cache is cleared first: what a new user costs);
    prefix_cached_warm: the prefix already cached (the same user again, e.g. a second candidate page).
    batch_size: continuations per forward pass (packed into one row; only the padded fallback for
    flash-attention holds a copy of the prefix's KV cache per continuation).
    """
    sync = _cuda_sync(llm)

    def cold():
        llm.clear_prefix_cache()
        r = llm.score(prefix, continuations, batch_size=batch_size)
        sync()
        return r

    def warm():
        r = llm.score(prefix, continuations, batch_size=batch_size)
        sync()
        return r

    llm.score(prefix, continuations[:2])  # warm-up (allocations, kernels), not timed
    naive_s, naive = _median_seconds(lambda: (llm.score_naive(prefix, continuations), sync())[0], naive_repeats)
    batched_s, batched = _median_seconds(lambda: (llm.score_batched(prefix, continuations), sync())[0], repeats)
    cold_s, cached = _median_seconds(cold, repeats)
    warm_s, _ = _median_seconds(warm, repeats)
    return {
        "n_candidates": len(continuations), "prefix_tokens": llm.count_tokens(prefix), "batch_size": batch_size,
        "one_by_one_s": round(naive_s, 4), "batched_s": round(batched_s, 4),
        "prefix_cached_cold_s": round(cold_s, 4), "prefix_cached_warm_s": round(warm_s, 4),
        "speedup_cached_vs_one_by_one": round(naive_s / cold_s, 2) if cold_s else None,
        "max_abs_diff_cached_vs_one_by_one": float(np.max(np.abs(np.asarray(cached) - np.asarray(naive)))),
        "max_abs_diff_batched_vs_one_by_one": float(np.max(np.abs(np.asarray(batched) - np.asarray(naive)))),
    }


def time_generation(llm, prompt: str, max_new_tokens: int = 64, repeats: int = 2) -> dict:
    """Greedy generation speed: new tokens per second (median over repeats)."""
    rates = []
    for _ in range(max(1, repeats)):
        before_tok, before_s = llm.stats.get("generated_tokens", 0), llm.stats.get("generate_seconds", 0.0)
        llm.generate(prompt, max_new_tokens=max_new_tokens)
        n = llm.stats["generated_tokens"] - before_tok
        s = llm.stats["generate_seconds"] - before_s
        rates.append((n, s))
    n, s = sorted(rates, key=lambda r: r[0] / r[1] if r[1] else 0)[len(rates) // 2]
    return {"backend": getattr(llm, "backend", "?"), "new_tokens": int(n), "seconds": round(s, 3),
            "tokens_per_s": round(n / s, 2) if s else None}


def _cuda_sync(llm):
    try:
        import torch

        if torch.cuda.is_available() and str(getattr(llm, "device", "cpu")).startswith("cuda"):
            return torch.cuda.synchronize
    except ImportError:
        pass
    return lambda: None


def random_llm_folder(folder, shape: str = "llama-2-7b", device: str = "cuda") -> Path:
    """A random-weight bf16 causal LM of a real architecture's shape, saved with a word-level tokenizer.

    ``recnb.load_llm(str(folder), device="cuda", quantization="4bit")`` then loads it like a
    downloaded checkpoint (so 4-bit goes through the same bitsandbytes path as real weights).
    Built once: a later call with the same folder returns it (the GPU checks share one 13 GB 7B
    folder). It is written beside ``folder`` and renamed into place, so an interrupted build never
    leaves a folder that looks complete.
    """
    import shutil

    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import AutoModelForCausalLM, LlamaConfig, PreTrainedTokenizerFast

    folder = Path(folder)
    if (folder / "config.json").exists():
        return folder
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}")
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    cfg = LlamaConfig(**SHAPES[shape])
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
    model.save_pretrained(partial)
    words = ["<pad>", "<unk>", "<s>", "</s>"] + [f"w{i}" for i in range(cfg.vocab_size - 4)]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", bos_token="<s>",
                            eos_token="</s>").save_pretrained(partial)
    del model
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if folder.exists():  # an empty folder made by cache_dir(), or a broken earlier build
        shutil.rmtree(folder)
    partial.rename(folder)
    return folder


def gpu_profile(source: str, quantization: str | None, n_candidates: int = 20, repeats: int = 5,
                label: str | None = None, batch_size: int = 32) -> dict:
    """Load ``source`` on CUDA (bf16 or 4-bit), then: weight memory, peak memory while scoring, latency."""
    import torch

    import recnb

    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    t0 = time.perf_counter()
    llm = recnb.load_llm(source, device="cuda", quantization=quantization)
    torch.cuda.synchronize()
    load_s = time.perf_counter() - t0
    weights = torch.cuda.memory_allocated() - base
    prefix, conts = scoring_workload(llm, n_candidates)
    torch.cuda.reset_peak_memory_stats()
    timing = time_scoring(llm, prefix, conts, repeats=repeats, naive_repeats=1, batch_size=batch_size)
    peak = torch.cuda.max_memory_allocated() - base
    # The padded-batch baseline holds every full sequence at once; the kit's rankers use the
    # prefix-cached path, so its own peak is measured apart (a new user: the prefix cache cleared).
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    llm.clear_prefix_cache()
    llm.score(prefix, conts, batch_size=batch_size)
    torch.cuda.synchronize()
    peak_cached = torch.cuda.max_memory_allocated() - base
    out = {"model": label or source, "quantization": quantization or "bf16",
           "load_s": round(load_s, 2), "weights_gib": round(weights / 2**30, 3),
           "peak_gib_prefix_cached": round(peak_cached / 2**30, 3), "peak_gib_all_methods": round(peak / 2**30, 3),
           **timing}
    llm.unload()
    del llm
    torch.cuda.empty_cache()
    return out
