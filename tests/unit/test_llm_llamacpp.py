"""llama-cpp-python as an in-process CPU backend (skipped, with the reason, when it is not installed)."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import recnb
from recnb.models.llamacpp import LlamaCppUnavailableError

MISSING = importlib.util.find_spec("llama_cpp") is None


def test_missing_package_is_one_clear_error(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llama_cpp" else real(name, *a))
    with pytest.raises(LlamaCppUnavailableError, match="pip install"):
        recnb.load_llm("smollm2-135m", backend="llama-cpp")
    with pytest.raises(ValueError, match="backend must be"):
        recnb.load_llm("smollm2-135m", backend="onnx")


@pytest.fixture(scope="module")
def cpp():
    if MISSING:
        pytest.skip("llama-cpp-python is not installed: `pip install -c constraints.txt 'llama-cpp-python[server]'` "
                    "(builds from source, about 6 minutes)")
    return recnb.load_llm("smollm2-135m", backend="llama-cpp", n_threads=2)


def test_one_token_scores_match_transformers(cpp, llm):
    prefix = llm.chat_prompt("Would a fan of space films like Starship Quest? Answer Yes or No.")
    assert cpp.count_tokens(prefix) == llm.count_tokens(prefix)  # same tokenizer, special tokens parsed
    np.testing.assert_allclose(cpp.score(prefix, ["Yes", "No", "A"]), llm.score(prefix, ["Yes", "No", "A"]), atol=0.15)


def test_multi_token_scores_follow_the_fp32_model(cpp, llm):
    """Titles scored on the prefix's KV cache: the 4-bit GGUF's numbers track the fp32 model's, and
    the prefix left in the cache does not leak from one continuation into the next."""
    prefix = llm.chat_prompt("Name a classic science fiction film.")
    titles = [" Alien (1979)", " Blade Runner (1982)", " Toy Story (1995)", " Zzyzx Qqq Vvv (1901)", " Solaris (1972)", " Heat"]
    got, ref = cpp.score(prefix, titles), llm.score(prefix, titles)
    per_token = np.abs(got - ref) / np.array([llm.count_tokens(t) for t in titles])
    assert per_token.max() < 0.5, (got, ref)  # Q4_1 vs fp32 weights: close, not equal
    assert np.corrcoef(got, ref)[0, 1] > 0.95
    again = cpp.score(prefix, titles[::-1])[::-1]  # order of scoring must not matter
    np.testing.assert_allclose(again, got, atol=1e-3)
    np.testing.assert_allclose(cpp.score(prefix, titles, reduce="mean") * [cpp.count_tokens(t) for t in titles], got, atol=1e-6)
    assert cpp.generate(cpp.chat_prompt("Say hi."), max_new_tokens=4).strip()  # generation still works after scoring


def test_continuations_longer_than_the_batch_are_decoded_in_chunks(cpp):
    """llama.cpp's batch holds n_batch tokens: a 20-token title with n_batch=8 is scored in chunks,
    giving the numbers of one whole batch (it wrote past the batch's arrays before)."""
    small = recnb.load_llm("smollm2-135m", backend="llama-cpp", n_threads=2, n_batch=8)
    assert small.model.n_batch == 8
    prefix = cpp.chat_prompt("Name a long film title.")
    titles = [" The Lord of the Rings: The Fellowship of the Ring (2001), extended edition with commentary",
              " Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb (1964)", " Heat"]
    assert max(cpp.count_tokens(t) for t in titles) > 2 * 8
    np.testing.assert_allclose(small.score(prefix, titles), cpp.score(prefix, titles), atol=1e-2)


def test_generation_and_stop_strings(cpp):
    prompt = cpp.chat_prompt("List three colours, one per line.")
    text = cpp.generate(prompt, max_new_tokens=24)
    assert text.strip() and cpp.stats["generated_tokens"] > 0 and cpp.tokens_per_second() > 0
    first = cpp.generate(prompt, max_new_tokens=24, stop=["\n"])
    assert "\n" not in first
