"""Tuning: LoRA training throughput on this CPU, and tuned vs untuned on the sampled protocol.

* ``throughput``: examples/s of one LoRA epoch on 16 (tiny: 8) TALLRec-style questions from the
  bundled data, with adapters on the top 4 layers (the kit's default) and on all 30 layers
  (TALLRec's q_proj/v_proj everywhere), at 1 and at the default number of torch threads. The load
  average is recorded too: on a shared machine it changes these numbers several-fold.
* ``comparison``: :func:`recnb.tuning.measure.compare_tuning` on the sampled protocol (held-out
  item + 19 stored random unseen items): untuned zero-shot and few-shot, LoRA with 16 / 64 / 256
  examples, ID baselines; metrics and AUC with 95% bootstrap CIs over users. Adapters already
  trained with the same recipe are loaded (the 16-example one ships in the package); each row of
  ``training`` says whether it was trained in this run, and its numbers are from when it was.
  Tiny mode: 5 users, the 16-example adapter only.
"""
from __future__ import annotations

import os
import time

FULL_USERS = 50


def _throughput(llm, ds, n: int) -> list:
    import torch

    from recnb.tuning import LoraModel, LoraSettings, build_examples

    examples = build_examples(ds.split(seed=0), ds.items, llm, n=n, seed=0)
    default_threads = torch.get_num_threads()
    rows = []
    for threads in sorted({1, os.cpu_count() or 1}):
        torch.set_num_threads(threads)
        try:
            for label, top in (("top 4 layers", 4), ("all layers", None)):
                load = os.getloadavg()[0]
                tuned = LoraModel(llm, LoraSettings(top_layers=top, epochs=1, batch_size=4))
                rep = tuned.train(examples, progress=False)
                rows.append({"adapters": label, "torch_threads": threads, "examples": rep.n_examples,
                             "mean_prompt_tokens": round(rep.mean_prompt_tokens, 1),
                             "examples_per_s": round(rep.examples_per_second, 3),
                             "tokens_per_s": round(rep.tokens_per_second, 1),
                             "trainable_params": rep.trainable_params, "load_avg_1min_before": round(load, 2)})
                tuned.unload()
        finally:
            torch.set_num_threads(default_threads)
    return rows


def run(tiny: bool = False) -> dict:
    import torch

    import recnb
    from recnb.tuning.measure import compare_tuning, epochs_for
    from recnb.tuning.store import DEFAULT_SETTINGS

    ds = recnb.load_dataset("movielens-small")
    llm = recnb.load_llm("smollm2-135m", device="cpu")
    out = {"cpu_count": os.cpu_count(), "torch_threads_default": torch.get_num_threads(),
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"), "load_avg_1min_at_start": round(os.getloadavg()[0], 2)}
    out["throughput"] = _throughput(llm, ds, 8 if tiny else 16)
    sizes = (16,) if tiny else (16, 64, 256)
    t0 = time.perf_counter()
    res = compare_tuning(ds, llm, sizes=sizes, n_users=5 if tiny else FULL_USERS, shots=2,
                         baselines=("popularity", "item-knn", "bpr", "als", "ease"), progress=False)
    d = res.to_dict()
    out["comparison"] = {
        "protocol": d["protocol"], "table": d["table"], "auc_vs_zero_shot": d["auc_vs_zero_shot"], "training": d["training"],
        "settings": {**DEFAULT_SETTINGS.to_dict(), "epochs": {f"lora-{n}": epochs_for(n) for n in sizes}},
        "prompt": "pointwise zero-shot template, 5 most recent history items, first 3 likes + 1 dislike of the profile",
        "seconds": round(time.perf_counter() - t0, 1),
    }
    out["load_avg_1min_at_end"] = round(os.getloadavg()[0], 2)
    return out
