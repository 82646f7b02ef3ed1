"""Batch text embedding with an on-disk cache keyed by model and text hash.

A second run re-embeds nothing, and an edited item description re-embeds only that item:
each text's vector is stored under sha1(text) in a per-model folder of .npy shards.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from recnb.models._paths import cache_dir


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def model_key(encoder) -> str:
    """A folder-safe name for an encoder (its path or hub id) plus its output size."""
    raw = str(getattr(encoder, "name_or_path", None) or getattr(encoder, "model_card_data", None) or type(encoder).__name__)
    try:
        raw = str(encoder[0].auto_model.name_or_path)
    except Exception:
        pass
    dim = encoder.get_embedding_dimension() if hasattr(encoder, "get_embedding_dimension") else encoder.get_sentence_embedding_dimension()
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(raw).name or raw)[-60:]
    return f"{base}-{dim}-{hashlib.sha1(raw.encode()).hexdigest()[:8]}"


class EmbeddingCache:
    """Vectors by text hash for one encoder, persisted as (keys, vectors) shard files."""

    def __init__(self, encoder, root: Path | None = None):
        self.encoder = encoder
        self.dir = Path(root) if root else cache_dir("embeddings", model_key(encoder))
        self.dir.mkdir(parents=True, exist_ok=True)
        self._mem: dict[str, np.ndarray] = {}
        self.hits = self.misses = 0
        for shard in sorted(self.dir.glob("shard-*.npz")):
            try:
                with np.load(shard, allow_pickle=False) as z:
                    self._mem.update(zip(z["keys"].tolist(), z["vectors"]))
            except Exception:  # a torn shard only costs a re-embed, never wrong vectors
                continue

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = True) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text, computing only the ones not cached."""
        keys = [text_key(t) for t in texts]
        todo = {k: t for k, t in zip(keys, texts) if k not in self._mem}
        self.hits += len(keys) - len(todo)
        self.misses += len(todo)
        if todo:
            new_keys, new_texts = list(todo), list(todo.values())
            vecs = self.encoder.encode(
                new_texts, batch_size=batch_size, show_progress_bar=progress and len(new_texts) > batch_size,
                convert_to_numpy=True, normalize_embeddings=True,
            ).astype(np.float32)
            self._mem.update(zip(new_keys, vecs))
            self._write_shard(new_keys, vecs)
        dim = self.dimension
        if not keys:
            return np.zeros((0, dim), dtype=np.float32)
        return np.stack([self._mem[k] for k in keys]).astype(np.float32)

    @property
    def dimension(self) -> int:
        enc = self.encoder
        return enc.get_embedding_dimension() if hasattr(enc, "get_embedding_dimension") else enc.get_sentence_embedding_dimension()

    def _write_shard(self, keys, vecs):
        # temp file + rename: a killed process leaves no half-written shard behind
        n = len(list(self.dir.glob("shard-*.npz")))
        target = self.dir / f"shard-{n:05d}-{os.getpid()}.npz"
        tmp = target.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(keys), vectors=vecs)
        os.replace(tmp, target)

    def __len__(self):
        return len(self._mem)
