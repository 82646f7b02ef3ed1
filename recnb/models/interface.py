"""What every LLM backend offers the rest of the kit: two calls and a few facts about itself.

Rankers, explanations and the playground only use this surface, so the bundled local model,
a 4-bit model on a GPU, a llama.cpp CPU build and a lab's shared OpenAI-compatible server are
interchangeable. What a backend cannot do it says up front (``capabilities``) and refuses with
:class:`ScoringUnsupportedError`, instead of returning numbers that look right and are not.
"""
from __future__ import annotations

import abc
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np


class ScoringUnsupportedError(NotImplementedError):
    """The backend cannot give trustworthy log-likelihoods for this request."""


@dataclass(frozen=True)
class Capabilities:
    #: score() works for continuations of more than one token.
    multi_token_score: bool = True
    #: generate() accepts a token-level constraint (``prefix_allowed_tokens_fn``).
    constrained_generation: bool = False
    #: the backend runs the model in this process (so it has a tokenizer and a KV cache).
    local: bool = True


class LLM(abc.ABC):
    """The kit's LLM interface (see :class:`recnb.models.llm.LocalLLM` for the reference one)."""

    name: str = ""
    backend: str = ""
    capabilities: Capabilities = Capabilities()

    def __init__(self):
        #: counts and seconds: generate_calls, generated_tokens, score_calls, prefix_cache_hits...
        self.stats: Counter = Counter()

    @abc.abstractmethod
    def generate(self, prompts: str | Sequence[str], max_new_tokens: int = 64, temperature: float = 0.0,
                 stop: Sequence[str] | None = None, **kwargs) -> str | list[str]:
        """Continuations of already formatted prompts (see :meth:`chat_prompt`), one per prompt."""

    @abc.abstractmethod
    def score(self, prefix: str, continuations: Sequence[str], reduce: str = "sum") -> np.ndarray:
        """Log-likelihood of each continuation after ``prefix`` (natural log, summed or mean per token)."""

    def score_choices(self, prefix: str, stems: Sequence[str], choices: Sequence[str]) -> np.ndarray:
        """log P(choice | prefix + stem) for one-token ``choices`` after each stem: a (stems x choices) matrix.

        Pointwise Yes/No and rating digits use it. This default asks :meth:`score` once per stem;
        the local backend overrides it to run all stems from the prefix's KV cache in one batch.
        """
        return np.array([self.score(prefix + s, list(choices)) for s in stems]).reshape(len(stems), len(choices))

    @abc.abstractmethod
    def chat_prompt(self, user: str, system: str | None = None, assistant_prefix: str = "") -> str:
        """One user turn in the model's chat format, ending where the assistant starts writing."""

    @abc.abstractmethod
    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in this model's tokenizer (used to fit prompts to the window)."""

    @property
    @abc.abstractmethod
    def context_window(self) -> int:
        """The model's context length in tokens."""

    def tokens_per_second(self) -> float:
        """Generated tokens per second of generate() time so far (0 before any generation)."""
        s = self.stats.get("generate_seconds", 0.0)
        return self.stats.get("generated_tokens", 0) / s if s else 0.0


def cut_at_stop(text: str, stop: Sequence[str] | None) -> str:
    """``text`` up to the first stop string (backends without server-side stops use this)."""
    if not stop:
        return text
    cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]
