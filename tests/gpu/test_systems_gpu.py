"""GPU check for the multi-module systems: the conversation and RAG with the bundled model on CUDA.

Measures latency per turn by policy on the GPU (the same six-turn dialogue the CPU benchmark
uses) and one RAG answer in each mode, asserts the turns complete with fallbacks counted, and
records the numbers as the ``systems_gpu`` section of benchmarks/results.json.
"""
from __future__ import annotations

import statistics
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # benchmarks.run records the numbers


@pytest.fixture(scope="module")
def catalog(dataset):
    from recnb.systems.catalog import ItemCatalog

    items = dataset.items
    return ItemCatalog(items[(items.index < 1500) | items.item_id.isin([6, 858, 1221, 431])])


def test_conversation_and_rag_on_cuda(bundled_cuda, catalog):
    from benchmarks.bench_systems import DIALOGUE
    from benchmarks.run import record

    from recnb.systems.conversation import ConversationalRecommender
    from recnb.systems.nlu import Lexicon
    from recnb.systems.rag import RAGRecommender

    import torch

    lex = Lexicon(catalog)
    rows = []
    for policy in ("rules", "llm-choice", "llm-json"):
        cr = ConversationalRecommender(catalog, None if policy == "rules" else bundled_cuda, policy=policy, lexicon=lex)
        cr.turn("hello")  # warm-up (CUDA kernels, tokenizer)
        cr.reset()
        cr.stats.clear()  # reset() starts a new conversation but keeps the counters: count this dialogue alone
        turns = [cr.turn(m) for m in DIALOGUE]
        assert all(t.action in ("elicit", "recommend", "answer", "explain", "close") for t in turns)
        assert cr.stats.get("fallback", 0) == sum(t.fallback is not None for t in turns)
        secs = [t.seconds for t in turns]
        rows.append({"backend": f"transformers CUDA bf16 ({torch.cuda.get_device_name(0)}), SmolLM2-135M", "policy": policy,
                     "mean_s_per_turn": round(statistics.mean(secs), 4), "max_s_per_turn": round(max(secs), 4),
                     "fallbacks": int(cr.stats.get("fallback", 0))})
    rag_rows = []
    for mode in ("generate", "score"):
        rag = RAGRecommender(catalog, bundled_cuda, k=5, n=2, mode=mode)
        rag.answer("a crime film with Al Pacino")  # warm-up
        a = rag.answer("a tense crime thriller about a heist")
        assert set(a.recommended) <= set(a.retrieved) and a.recommended
        rag_rows.append({"mode": mode, "seconds": round(a.seconds, 4), "fallback": a.fallback,
                         "unsupported_claims": len(a.report.unsupported), "claims": len(a.report.claims)})
    record("systems_gpu", {"latency_per_turn": rows, "rag_answer": rag_rows})


def test_larger_model_reads_intents(cuda, catalog):
    """With RECNB_LARGER_LLM (a local folder or cached HF id of a bigger instruct model), compare its
    intent reading with the bundled model's on the labelled set, and record both (no downloads)."""
    import os

    import recnb
    from benchmarks.run import load, record

    from recnb.systems.conversation import evaluate_intents
    from recnb.systems.nlu import Lexicon

    name = os.environ.get("RECNB_LARGER_LLM")
    if not name:
        pytest.skip("set RECNB_LARGER_LLM to a local instruct model (folder or cached Hugging Face id) to compare")
    lex = Lexicon(catalog)
    rows = []
    for label, llm_name in (("bundled SmolLM2-135M", "smollm2-135m"), (name, name)):
        llm = recnb.load_llm(llm_name, device="cuda")
        for policy in ("llm-choice", "llm-json"):
            df = evaluate_intents(catalog, policy, llm, lexicon=lex)
            assert len(df) and df.fallback.isna().sum() + df.fallback.notna().sum() == len(df)
            rows.append({"model": label, "policy": policy, "accuracy": round(float(df.correct.mean()), 4),
                         "fallback_rate": round(float(df.fallback.notna().mean()), 4),
                         "mean_s": round(float(df.seconds.mean()), 4)})
        llm.unload()
    previous = load().get("systems_gpu", {}).get("results", {})
    record("systems_gpu", {**previous, "intents_by_model": rows})
