"""EmbeddingCache: a second run embeds nothing, an edited text re-embeds only itself, nothing is lost."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # --import-mode=importlib adds no test folder
from _retrieval_fakes import FakeEncoder  # noqa: E402
from recnb.candidates import embeddings
from recnb.candidates.embeddings import EmbeddingCache

TEXTS = [f"item {i}: a film about {w}" for i, w in enumerate(["heists", "space", "love", "ghosts", "trains", "cats"])]


def test_cold_then_warm_run_embeds_nothing_twice(tmp_path):
    enc = FakeEncoder()
    first = EmbeddingCache(enc, root=tmp_path).encode(TEXTS, batch_size=4, progress=False)
    assert enc.embedded == TEXTS and [len(c) for c in enc.calls] == [4, 2]  # in batches

    enc2 = FakeEncoder()
    cache = EmbeddingCache(enc2, root=tmp_path)  # a new process: reads the shards
    again = cache.encode(TEXTS, progress=False)
    assert enc2.calls == []
    assert (cache.last_hits, cache.last_misses) == (len(TEXTS), 0)
    np.testing.assert_array_equal(first, again)
    assert first.dtype == np.float32 and first.shape == (len(TEXTS), 16)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-5)


def test_changed_text_re_embeds_only_that_item(tmp_path):
    EmbeddingCache(FakeEncoder(), root=tmp_path).encode(TEXTS, progress=False)
    edited = list(TEXTS)
    edited[2] = "item 2: a film about love, now with a longer description"
    enc = FakeEncoder()
    cache = EmbeddingCache(enc, root=tmp_path)
    vecs = cache.encode(edited, progress=False)
    assert enc.embedded == [edited[2]]
    assert (cache.last_hits, cache.last_misses) == (5, 1)
    np.testing.assert_allclose(vecs[2], enc.vector(edited[2]), rtol=1e-6)


def test_repeated_texts_in_one_call_are_embedded_once(tmp_path):
    enc = FakeEncoder()
    vecs = EmbeddingCache(enc, root=tmp_path).encode(["a", "b", "a", "a"], progress=False)
    assert enc.embedded == ["a", "b"]
    np.testing.assert_array_equal(vecs[0], vecs[2])


def test_empty_input_and_non_string_texts(tmp_path):
    cache = EmbeddingCache(FakeEncoder(), root=tmp_path)
    assert cache.encode([], progress=False).shape == (0, 16)
    assert cache.encode([12], progress=False).shape == (1, 16)  # str(12), not a crash


def test_model_key_separates_models(tmp_path, monkeypatch):
    monkeypatch.setenv("RECNB_CACHE", str(tmp_path))
    small, big = FakeEncoder(dim=8), FakeEncoder(dim=16)
    assert EmbeddingCache(small).dir != EmbeddingCache(big).dir  # same name, other size: other folder
    assert str(EmbeddingCache(small).dir).startswith(str(tmp_path))


def test_torn_shard_is_counted_and_re_embedded(tmp_path):
    EmbeddingCache(FakeEncoder(), root=tmp_path).encode(TEXTS, progress=False)
    (tmp_path / "shard-torn.npz").write_bytes(b"not a zip file")
    enc = FakeEncoder()
    cache = EmbeddingCache(enc, root=tmp_path)
    assert cache.torn_shards == 1
    cache.encode(TEXTS, progress=False)
    assert enc.calls == []  # the good shard still had them all


def test_interrupted_run_keeps_finished_batches(tmp_path):
    class Breaks(FakeEncoder):
        def encode(self, texts, **kw):
            if len(self.calls) == 1:
                raise KeyboardInterrupt
            return super().encode(texts, **kw)

    with pytest.raises(KeyboardInterrupt):
        EmbeddingCache(Breaks(), root=tmp_path).encode(TEXTS, batch_size=3, progress=False)
    enc = FakeEncoder()
    EmbeddingCache(enc, root=tmp_path).encode(TEXTS, progress=False)
    assert enc.embedded == TEXTS[3:]  # the first batch was kept


def test_many_small_shards_are_compacted_without_loss(tmp_path, monkeypatch):
    monkeypatch.setattr(embeddings, "COMPACT_ABOVE", 3)
    cache = EmbeddingCache(FakeEncoder(), root=tmp_path)
    for t in TEXTS:  # one shard per call, like one query at a time
        cache.encode([t], progress=False)
    assert cache.shard_count == len(TEXTS)
    reopened = EmbeddingCache(FakeEncoder(), root=tmp_path)
    assert reopened.shard_count == 1 and len(reopened) == len(TEXTS)
    enc = FakeEncoder()
    EmbeddingCache(enc, root=tmp_path).encode(TEXTS, progress=False)
    assert enc.calls == []


def test_progress_bar_is_tqdm_auto(tmp_path, monkeypatch):
    import tqdm.auto

    seen = []

    class Recording(tqdm.auto.tqdm):
        def __init__(self, *a, **kw):
            seen.append(kw)
            super().__init__(*a, **kw)

    monkeypatch.setattr(tqdm.auto, "tqdm", Recording)
    EmbeddingCache(FakeEncoder(), root=tmp_path).encode(TEXTS, batch_size=2, progress=True)
    assert seen and seen[0]["total"] == len(TEXTS) and seen[0]["disable"] is False


def test_real_encoder_vectors_come_back_unchanged(tmp_path, encoder):
    texts = ["A heist thriller in Los Angeles.", "A romantic comedy in Paris."]
    cached = EmbeddingCache(encoder, root=tmp_path).encode(texts, progress=False)
    reread = EmbeddingCache(encoder, root=tmp_path).encode(texts, progress=False)
    direct = encoder.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    np.testing.assert_array_equal(cached, reread)
    np.testing.assert_allclose(cached, direct, atol=1e-5)
