"""A tiny stand-in for a sentence encoder: deterministic vectors, and a log of what it embedded.

Cache and index tests need to know exactly which texts reached the model; a real model
would make them slow and could not say that.
"""
from __future__ import annotations

import hashlib

import numpy as np


class FakeEncoder:
    name_or_path = "fake-encoder"

    def __init__(self, dim: int = 16):
        self.dim = dim
        self.calls: list[list[str]] = []

    @property
    def embedded(self) -> list[str]:
        return [t for call in self.calls for t in call]

    def get_sentence_embedding_dimension(self) -> int:
        return self.dim

    def vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "little")
        v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
        return v / np.linalg.norm(v)

    def encode(self, texts, batch_size=32, show_progress_bar=False, convert_to_numpy=True, normalize_embeddings=True):
        texts = list(texts)
        self.calls.append(texts)
        return np.stack([self.vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)
