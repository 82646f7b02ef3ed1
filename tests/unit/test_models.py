"""The bundled models: loading, the two LLM calls, and the clear errors."""
from __future__ import annotations

import numpy as np
import pytest

import recnb
from recnb.models.errors import ModelNotAvailableError, QuantizationUnavailableError


def test_encoder_embeds(encoder):
    v = encoder.encode(["a space adventure", "a romantic comedy"], normalize_embeddings=True)
    assert v.shape == (2, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)


def test_prefix_cached_scoring_matches_one_by_one(llm):
    prefix = llm.chat_prompt("Would someone who loves Toy Story like this movie? Answer Yes or No.")
    conts = [" Yes", " No", " Finding Nemo (2003)", " The Godfather Part II", " Up"]
    cached = llm.score(prefix, conts, batch_size=2)  # batch of 2 exercises cache copies and padding
    naive = llm.score_naive(prefix, conts)
    np.testing.assert_allclose(cached, naive, atol=1e-4)
    assert llm.score(prefix, conts[:1]).shape == (1,)
    assert llm.stats["prefix_cache_hits"] >= 1


@pytest.mark.parametrize("path", ["packed-sdpa", "packed-eager", "padded"])
def test_every_scoring_path_matches_one_by_one(llm, monkeypatch, path):
    """Packed continuations (sdpa and eager masks) and the padded fallback agree with full passes."""
    from recnb.models.llm import LocalLLM

    if path == "padded":  # what a flash-attention model gets
        monkeypatch.setattr(LocalLLM, "_PACKABLE", ())
    impl = llm.model.config._attn_implementation
    llm.model.set_attn_implementation("eager" if path == "packed-eager" else "sdpa")
    try:
        llm.clear_prefix_cache()
        prefix = llm.chat_prompt("Recommend a movie for a fan of Alien (1979).")
        conts = [" Aliens (1986)", " Yes", " The Thing", " Blade Runner (1982)", " Toy Story 2 (1999)", " Up"]
        naive = llm.score_naive(prefix, conts)
        # cold: the prefix runs with the first pack (packed paths), the rest on its cut-back cache; warm: all cached
        hits = llm.stats["prefix_cache_hits"]
        for state in ("cold", "warm"):
            np.testing.assert_allclose(llm.score(prefix, conts, batch_size=4), naive, atol=1e-4, err_msg=state)
        assert llm.stats["prefix_cache_hits"] == hits + 1  # only the warm call found the prefix cached
        stems = ["", " Aliens (1986)?", " Up?", " The Thing (1982), a horror film?"]
        full = np.array([[llm.score_naive(prefix + s, [c])[0] for c in (" Yes", " No")] for s in stems])
        llm.clear_prefix_cache()
        for state in ("cold", "warm"):
            np.testing.assert_allclose(llm.score_choices(prefix, stems, [" Yes", " No"], batch_size=3), full, atol=1e-4, err_msg=state)
    finally:
        llm.model.set_attn_implementation(impl)
        llm.clear_prefix_cache()


def test_score_mean_reduction_and_bad_input(llm):
    prefix = "The best movie ever is"
    s = llm.score(prefix, [" Toy Story", " Star Wars: Episode IV"], reduce="sum")
    m = llm.score(prefix, [" Toy Story", " Star Wars: Episode IV"], reduce="mean")
    assert np.all(m >= s)  # log-probs are negative; averaging over >=1 tokens raises them
    with pytest.raises(ValueError, match="empty continuation"):
        llm.score(prefix, [""])
    with pytest.raises(ValueError, match="non-empty prefix"):
        llm.score("", [" Yes"])


def test_generate_batch_and_chat_template(llm):
    prompt = llm.chat_prompt("Name one movie.")
    assert "<|im_start|>assistant" in prompt
    outs = llm.generate([prompt, llm.chat_prompt("Say hello.")], max_new_tokens=5)
    assert len(outs) == 2 and all(isinstance(o, str) and o.strip() for o in outs)
    assert llm.stats["generated_tokens"] > 0


def test_four_bit_on_cpu_is_one_clear_error():
    with pytest.raises(QuantizationUnavailableError, match="needs a CUDA GPU"):
        recnb.load_llm("smollm2-135m", device="cpu", quantization="4bit")
    with pytest.raises(ValueError, match="quantization must be"):
        recnb.load_llm("smollm2-135m", device="cpu", quantization="8bit")


def test_options_a_backend_would_ignore_are_errors():
    """A typo must not load fp32 silently (from_pretrained would keep it as a config attribute)."""
    with pytest.raises(TypeError, match="quantisation"):
        recnb.load_llm("smollm2-135m", quantisation="4bit")
    with pytest.raises(ValueError, match="leave device, quantization and dtype unset"):
        recnb.load_llm("smollm2-135m", backend="llama-cpp", device="cuda")


def test_cuda_without_gpu_is_clear_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        recnb.load_llm("smollm2-135m", device="cuda")


def test_unavailable_models_name_the_bundled_alternative(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotAvailableError, match=r'load_llm\("smollm2-135m"\)'):
        recnb.load_llm("some-org/not-a-real-llm-7b")
    with pytest.raises(ModelNotAvailableError, match=r'load_encoder\("minilm"\)'):
        recnb.load_encoder("some-org/not-a-real-encoder")


def test_bundled_llm_export_is_reused():
    from recnb.models.llm import exported_dir

    first = exported_dir()
    assert (first / "model.safetensors").exists() and (first / "config.json").exists()
    assert exported_dir() == first


def test_length_batches_cut_padding_and_keep_every_item():
    from recnb.models.llm import length_batches

    lengths = [16, 8, 8, 15, 9, 8, 14, 8, 9, 12, 8, 10, 11, 8, 12, 9, 14, 10, 11, 8]
    items = list(range(100, 120))
    batches = length_batches(items, lengths, batch_size=32)
    assert sorted(sum(batches, [])) == items  # nothing lost, nothing repeated
    by_item = dict(zip(items, lengths))
    padded = sum(len(b) * max(by_item[i] for i in b) for b in batches)
    assert padded < len(items) * max(lengths)  # fewer token-passes than one padded batch (320)
    assert all(len(b) <= 32 for b in batches)
    assert all(len(b) <= 3 for b in length_batches(list(range(10)), [5] * 10, batch_size=3))
    assert length_batches([], [], 8) == []
    # equal lengths: no reason to split beyond the batch size
    assert [len(b) for b in length_batches(list(range(20)), [7] * 20, batch_size=32)] == [20]


def test_a_cache_that_does_not_crop_falls_back_to_a_prefix_pass(llm, monkeypatch):
    """If a transformers version's Cache.crop() leaves the candidates' keys in, the prefix runs on its own."""
    from transformers import DynamicCache

    monkeypatch.setattr(DynamicCache, "crop", lambda self, n: None)
    llm.clear_prefix_cache()
    prefix = llm.chat_prompt("Recommend a movie for a fan of Heat (1995).")
    conts = [" Ronin (1998)", " Up", " Collateral (2004)"]
    naive = llm.score_naive(prefix, conts)
    calls, plain = [], llm._prefix_state
    monkeypatch.setattr(llm, "_prefix_state", lambda p: calls.append(p) or plain(p))
    np.testing.assert_allclose(llm.score(prefix, conts, batch_size=2), naive, atol=1e-4)
    assert calls == [prefix]  # the fallback ran the prefix on its own (and cached it)
    np.testing.assert_allclose(llm.score(prefix, conts), naive, atol=1e-4)  # from that clean cache
    llm.clear_prefix_cache()


def test_packs_cut_by_count_and_by_tokens():
    from recnb.models.llm import packs

    assert packs("abcde", [3, 3, 3, 3, 3], batch_size=2, max_tokens=100) == [["a", "b"], ["c", "d"], ["e"]]
    assert packs("abcd", [5, 5, 20, 1], batch_size=32, max_tokens=10) == [["a", "b"], ["c"], ["d"]]  # c alone: over budget
    assert packs([], [], batch_size=4, max_tokens=10) == []


def test_a_small_token_budget_gives_the_same_scores(llm, monkeypatch):
    """Packs cut by tokens (long continuations such as reviews) score the same as one big pack."""
    monkeypatch.setattr(type(llm), "max_pack_tokens", 9)
    llm.clear_prefix_cache()
    prefix = llm.chat_prompt("Write a one-line review of a film you liked.")
    conts = [" A slow, beautiful film about memory and loss.", " Loud.", " Great cast, weak ending, still worth it.", " Fun!"]
    for state in ("cold", "warm"):
        np.testing.assert_allclose(llm.score(prefix, conts), llm.score_naive(prefix, conts), atol=1e-4, err_msg=state)
    llm.clear_prefix_cache()


def test_a_cached_prefix_holds_only_the_prefix(llm):
    """The fused first pass runs prefix + candidates; what is kept must not pin the candidates' memory."""
    llm.clear_prefix_cache()
    prefix = llm.chat_prompt("Name a long film.")
    conts = [" " + " ".join(["word"] * 60)] * 3
    llm.score(prefix, conts)
    cache, first, plen = llm._prefix_cache[prefix]
    assert first.untyped_storage().nbytes() == first.numel() * first.element_size()  # one vocab row, not (n+1)
    for layer in cache.layers:
        assert layer.keys.shape[-2] == plen
        assert layer.keys.untyped_storage().nbytes() == layer.keys.numel() * layer.keys.element_size()
    llm.clear_prefix_cache()


def test_prefix_and_continuation_must_fit_the_window(llm, monkeypatch):
    from recnb.models.llm import LocalLLM

    prefix = "The best movie ever is"
    n = llm.count_tokens(prefix)
    monkeypatch.setattr(LocalLLM, "context_window", property(lambda self: n + 3))
    assert llm.score(prefix, [" Up"]).shape == (1,)
    with pytest.raises(ValueError, match="over the model's"):
        llm.score(prefix, [" The Lord of the Rings: The Return of the King"])
    with pytest.raises(ValueError, match="over the model's"):
        llm.score_choices(prefix, [" Would I like The Lord of the Rings?"], [" Yes"])
    with pytest.raises(ValueError, match="non-empty prefix"):
        llm.score_naive("", [" Up"])


def test_generation_stops_at_a_stop_string(llm):
    prompt = llm.chat_prompt("List five colours, one per line.")
    side = llm.tokenizer.padding_side
    full = llm.generate(prompt, max_new_tokens=30)
    assert "\n" in full.strip()  # the model does write several lines
    before = llm.stats["generated_tokens"]
    first = llm.generate(prompt, max_new_tokens=30, stop=["\n"])
    used = llm.stats["generated_tokens"] - before
    assert first == full[: full.index("\n")] and used < 30  # the same text, without generating the rest
    assert llm.tokenizer.padding_side == side  # the shared tokenizer is left as found
