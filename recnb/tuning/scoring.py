"""Yes/No margins for many questions that share one prefix, in one forward pass per batch.

``LocalLLM.score`` gives log P(continuation) for whole continuations, so the pointwise ranker asks
it for "question + Yes" and "question + No": two continuations per candidate. When the answers are
single tokens the same number, log P(Yes | question) - log P(No | question), is read from ONE
pass over the question: the prefix's KV cache (LocalLLM's LRU cache) is reused, the questions
run as one right-padded batch, and the LM head is applied only at each question's last token
(not at every position of the batch). That halves the tokens a CPU pushes through the model and
skips most of the LM head; for multi-token answers use ``LocalLLM.score`` (the fallback below).
"""
from __future__ import annotations

import copy
import time
from typing import Sequence

import numpy as np


def _body_and_head(model):
    """(decoder body returning hidden states, output embedding) of a transformers causal LM, or (None, None)."""
    body = getattr(model, getattr(model, "base_model_prefix", "model"), None)
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if body is None or head is None or body is model:
        return None, None
    return body, head


def answer_token_ids(llm, question_end: str, positive: str, negative: str) -> tuple[int, int] | None:
    """Token ids of the two answers when each adds exactly one token after ``question_end``; else None."""
    enc = llm._encode
    stem = enc(question_end)
    out = []
    for ans in (positive, negative):
        full = enc(question_end + ans)
        if len(full) != len(stem) + 1 or full[: len(stem)] != stem:
            return None
        out.append(full[-1])
    return out[0], out[1]


def yes_no_margins(llm, prefix: str, continuations: Sequence[str], positive: str = "Yes", negative: str = "No",
                   batch_size: int = 32) -> np.ndarray:
    """log P(positive) - log P(negative) after ``prefix + continuation``, for each continuation.

    ``llm`` is a :class:`recnb.models.llm.LocalLLM`. Backends without local weights, answers that
    are not single tokens, or models without a separate body/head fall back to
    ``llm.score(prefix, [c + positive, c + negative])`` (same quantity, twice the tokens).
    """
    import torch

    conts = list(continuations)
    if not conts:
        return np.zeros(0)
    model = getattr(llm, "model", None)
    ids = answer_token_ids(llm, conts[0], positive, negative) if model is not None else None
    body, head = _body_and_head(model) if model is not None else (None, None)
    if ids is None or body is None or any(answer_token_ids(llm, c, positive, negative) != ids for c in conts[1:]):
        s = llm.score(prefix, [c + positive for c in conts] + [c + negative for c in conts])
        return s[: len(conts)] - s[len(conts):]
    pos_id, neg_id = ids
    t0 = time.perf_counter()
    cache, _, plen = llm._prefix_state(prefix)
    enc = [llm._encode(c) for c in conts]
    if any(len(e) == 0 for e in enc):
        raise ValueError("yes_no_margins() got an empty continuation")
    device = next(model.parameters()).device
    pad = llm.tokenizer.pad_token_id
    rows = torch.tensor([pos_id, neg_id], device=device)
    out = np.empty(len(conts))
    for start in range(0, len(conts), batch_size):
        chunk = enc[start:start + batch_size]
        width = max(len(e) for e in chunk)
        batch = torch.tensor([e + [pad] * (width - len(e)) for e in chunk], device=device)
        # Right padding after the real tokens: causal attention never lets a real token see a pad.
        mask = torch.ones((len(chunk), plen + width), dtype=torch.long, device=device)
        kv = copy.deepcopy(cache)
        kv.batch_repeat_interleave(len(chunk))
        with torch.inference_mode():
            hidden = body(input_ids=batch, attention_mask=mask, use_cache=True, **{llm._cache_kw: kv}).last_hidden_state
            last = hidden[torch.arange(len(chunk), device=device), torch.tensor([len(e) - 1 for e in chunk], device=device)]
            logits = head(last).float()
            logp = torch.log_softmax(logits, -1)[:, rows]
        out[start:start + len(chunk)] = (logp[:, 0] - logp[:, 1]).cpu().numpy()
    llm.stats["score_calls"] += 1
    llm.stats["scored_continuations"] += len(conts)
    llm.stats["score_seconds"] += time.perf_counter() - t0
    return out
