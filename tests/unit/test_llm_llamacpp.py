"""llama-cpp-python as an in-process CPU backend (skipped, with the reason, when it is not installed)."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import recnb
from recnb.models.interface import ScoringUnsupportedError
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
    with pytest.raises(ScoringUnsupportedError, match="one-token continuations"):
        cpp.score(prefix, ["Starship Quest (1990)"])


def test_generation_and_stop_strings(cpp):
    prompt = cpp.chat_prompt("List three colours, one per line.")
    text = cpp.generate(prompt, max_new_tokens=24)
    assert text.strip() and cpp.stats["generated_tokens"] > 0 and cpp.tokens_per_second() > 0
    first = cpp.generate(prompt, max_new_tokens=24, stop=["\n"])
    assert "\n" not in first
