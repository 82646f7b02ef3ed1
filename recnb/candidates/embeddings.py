"""Batch text embedding with an on-disk cache keyed by model and text hash.

A second run re-embeds nothing, and an edited item description re-embeds only that item:
each text's vector is stored under sha1(text) in a per-model folder of .npz shards.
Encoding runs in batches under a ``tqdm.auto`` bar (a widget in Jupyter, text elsewhere),
and a shard is written every ``flush_every`` new texts, so an interrupted run keeps what
it had already embedded.
"""
from __future__ import annotations

import hashlib
import os
import re
import uuid
from pathlib import Path
from typing import Sequence

import numpy as np

from recnb.models._paths import cache_dir

#: More shards than this are merged into one when a cache is opened (every call that
#: embeds something new writes a shard; query texts would otherwise pile up tiny files).
COMPACT_ABOVE = 32


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
    """Vectors by text hash for one encoder, persisted as (keys, vectors) shard files.

    ``hits``/``misses`` count texts over the cache's life; ``last_hits``/``last_misses``
    count the latest :meth:`encode` call (what a notebook prints after embedding a catalog).
    ``torn_shards`` counts shard files that could not be read (their texts are re-embedded).
    """

    def __init__(self, encoder, root: Path | None = None, flush_every: int = 2048):
        self.encoder = encoder
        self.dir = Path(root) if root else cache_dir("embeddings", model_key(encoder))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.flush_every = int(flush_every)
        self._mem: dict[str, np.ndarray] = {}
        self.hits = self.misses = 0
        self.last_hits = self.last_misses = 0
        self.torn_shards = 0
        shards = sorted(self.dir.glob("shard-*.npz"))
        loaded = []
        for shard in shards:
            try:
                with np.load(shard, allow_pickle=False) as z:
                    self._mem.update(zip(z["keys"].tolist(), z["vectors"]))
                loaded.append(shard)
            except Exception:  # a torn shard only costs a re-embed, never wrong vectors
                self.torn_shards += 1
        if len(loaded) > COMPACT_ABOVE:
            self._compact(loaded)

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = True) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text, computing only the ones not cached."""
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        keys = [text_key(t) for t in texts]
        todo = {k: t for k, t in zip(keys, texts) if k not in self._mem}  # also dedupes repeated texts
        self.last_hits, self.last_misses = len(keys) - len(todo), len(todo)
        self.hits += self.last_hits
        self.misses += self.last_misses
        if todo:
            self._embed(list(todo), list(todo.values()), batch_size, progress)
        if not keys:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._mem[k] for k in keys]).astype(np.float32, copy=False)

    def _embed(self, keys: list, texts: list, batch_size: int, progress: bool) -> None:
        from tqdm.auto import tqdm

        pending_keys, pending_vecs = [], []
        bar = tqdm(total=len(texts), desc=f"embedding {len(texts):,} texts", unit="text",
                   disable=not progress or len(texts) <= batch_size, leave=False)
        try:
            for start in range(0, len(texts), batch_size):
                chunk = texts[start:start + batch_size]
                vecs = self.encoder.encode(chunk, batch_size=batch_size, show_progress_bar=False,
                                           convert_to_numpy=True, normalize_embeddings=True)
                vecs = np.asarray(vecs, dtype=np.float32).reshape(len(chunk), -1)
                chunk_keys = keys[start:start + batch_size]
                self._mem.update(zip(chunk_keys, vecs))
                pending_keys += chunk_keys
                pending_vecs.append(vecs)
                bar.update(len(chunk))
                if len(pending_keys) >= self.flush_every:
                    self._write_shard(pending_keys, np.concatenate(pending_vecs))
                    pending_keys, pending_vecs = [], []
        finally:
            bar.close()
            if pending_keys:  # also on KeyboardInterrupt: keep what was embedded
                self._write_shard(pending_keys, np.concatenate(pending_vecs))

    @property
    def dimension(self) -> int:
        enc = self.encoder
        return enc.get_embedding_dimension() if hasattr(enc, "get_embedding_dimension") else enc.get_sentence_embedding_dimension()

    def __contains__(self, text: str) -> bool:
        return text_key(text) in self._mem

    @property
    def shard_count(self) -> int:
        return len(list(self.dir.glob("shard-*.npz")))

    def _write_shard(self, keys, vecs):
        # temp file + rename: a killed process leaves no half-written shard behind; a unique
        # name per shard: two processes filling the same cache never overwrite each other
        target = self.dir / f"shard-{uuid.uuid4().hex}-{os.getpid()}.npz"
        tmp = self.dir / f".tmp-{target.name}"
        np.savez(tmp, keys=np.array(keys), vectors=np.asarray(vecs, dtype=np.float32))
        os.replace(tmp, target)

    def _compact(self, shards: list[Path]) -> None:
        """Rewrite everything loaded as one shard, then drop the shards it came from."""
        keys = list(self._mem)
        self._write_shard(keys, np.stack([self._mem[k] for k in keys]))
        for shard in shards:
            try:
                shard.unlink()
            except FileNotFoundError:  # another process compacted it first
                pass

    def __len__(self):
        return len(self._mem)
