"""llama-cpp-python as a fast CPU backend for the bundled 4-bit GGUF (optional: ``pip install llama-cpp-python``).

It runs the Q4_1 weights as they are (transformers dequantises them to fp32), which makes
generation and scoring several times faster on a CPU, with numbers a little off the fp32
model's (4-bit weights). Scoring evaluates the prefix once and decodes each continuation on
its KV cache, reading the logits llama.cpp returns for that batch; it does not use
llama-cpp-python's prompt log-probabilities (``echo``), which were found wrong.
"""
from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from recnb.models.interface import LLM, Capabilities, cut_at_stop


class LlamaCppUnavailableError(ImportError):
    """llama-cpp-python is not installed."""


def load_llamacpp(name: str = "smollm2-135m", n_ctx: int = 4096, n_threads: int | None = None, **kw) -> "LlamaCppLLM":
    """The bundled GGUF (or a GGUF path) in llama-cpp-python, with the HF tokenizer for chat formatting."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise LlamaCppUnavailableError(
            "backend='llama-cpp' needs llama-cpp-python: `pip install -c constraints.txt 'llama-cpp-python[server]'` "
            "(builds from source in about 6 minutes; pip's wheel cache keeps the build). The default "
            "transformers backend needs nothing extra.")
    from llama_cpp import Llama

    from recnb.models.llm import BUNDLED_LLMS, bundled_gguf, exported_dir

    if name in BUNDLED_LLMS:
        path, tok_source = bundled_gguf(name), str(exported_dir(name))
    else:
        path, tok_source = Path(name), kw.pop("tokenizer", None)
        if not path.exists():
            raise FileNotFoundError(f"backend='llama-cpp' takes a bundled name ({', '.join(BUNDLED_LLMS)}) or a GGUF path; {path} does not exist")
    tokenizer = None
    if tok_source:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(tok_source)
    model = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, verbose=False, **kw)
    return LlamaCppLLM(model, tokenizer, name=name)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - (m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True)))


class LlamaCppLLM(LLM):
    backend = "llama-cpp"
    capabilities = Capabilities(multi_token_score=True, constrained_generation=False, local=True)

    def __init__(self, model, tokenizer=None, name: str = ""):
        super().__init__()
        self.model, self.tokenizer, self.name = model, tokenizer, name

    @property
    def context_window(self) -> int:
        return int(self.model.n_ctx())

    def chat_prompt(self, user: str, system: str | None = None, assistant_prefix: str = "") -> str:
        if self.tokenizer is None:
            raise ValueError("chat_prompt() needs a tokenizer for this GGUF (pass tokenizer=<HF id or folder>)")
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) + assistant_prefix

    def _tokens(self, text: str) -> list[int]:
        return self.model.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def count_tokens(self, text: str) -> int:
        return len(self._tokens(text))

    def generate(self, prompts, max_new_tokens: int = 64, temperature: float = 0.0, stop: Sequence[str] | None = None, **kwargs):
        if kwargs.get("prefix_allowed_tokens_fn") is not None:
            raise NotImplementedError("llama-cpp backend: prefix_allowed_tokens_fn is a transformers feature; use load_llm()")
        single = isinstance(prompts, str)
        out = []
        t0 = time.perf_counter()
        for p in [prompts] if single else list(prompts):
            resp = self.model.create_completion(p, max_tokens=max_new_tokens, temperature=temperature,
                                                stop=list(stop) if stop else None)
            out.append(cut_at_stop(resp["choices"][0]["text"], stop))
            self.stats["generated_tokens"] += int(resp["usage"]["completion_tokens"])
        self.stats["generate_calls"] += 1
        self.stats["generate_seconds"] += time.perf_counter() - t0
        return out[0] if single else out

    def score(self, prefix: str, continuations: Sequence[str], reduce: str = "sum") -> np.ndarray:
        """Log-likelihood of each continuation after ``prefix``: the prefix is evaluated once and kept.

        Each continuation of more than one token is decoded on top of the prefix's KV cache (the
        cache is cut back to the prefix before the next one), asking llama.cpp for the logits of
        every position of that small batch only: no ``logits_all`` table of n_ctx x vocab floats.
        """
        if reduce not in ("sum", "mean"):
            raise ValueError("reduce must be 'sum' or 'mean'")
        conts = [self._tokens(c) for c in continuations]
        if any(len(c) == 0 for c in conts):
            raise ValueError("score() got an empty continuation")
        ids = self._tokens(prefix)
        if not ids:
            raise ValueError("score() needs a non-empty prefix")
        if len(ids) + max(len(c) for c in conts) > self.context_window:
            raise ValueError(f"prefix + continuation exceed the {self.context_window}-token context; truncate the prefix")
        t0 = time.perf_counter()
        m, n_vocab = self.model, self.model.n_vocab()
        m.reset()
        m.eval(ids)
        # Without logits_all llama.cpp keeps only the last position's logits: the first token's distribution.
        first = _log_softmax(np.ctypeslib.as_array(m._ctx.get_logits(), shape=(1, n_vocab)))[0]
        plen = len(ids)
        totals = np.array([first[c[0]] for c in conts], dtype=float)
        # llama.cpp's batch holds n_batch tokens and set_batch does not check: a longer continuation
        # (a review, say) is decoded in chunks, each on the cache the chunk before it left.
        step = max(1, int(m.n_batch))
        for i, c in enumerate(conts):
            if len(c) == 1:
                continue
            m._ctx.kv_cache_seq_rm(-1, plen, -1)  # back to the prefix
            for s in range(0, len(c) - 1, step):
                part = c[s:min(s + step, len(c) - 1)]
                m._batch.set_batch(batch=part, n_past=plen + s, logits_all=True)
                m._ctx.decode(m._batch)
                logp = _log_softmax(np.ctypeslib.as_array(m._ctx.get_logits(), shape=(len(part), n_vocab)))
                totals[i] += float(logp[np.arange(len(part)), c[s + 1:s + 1 + len(part)]].sum())
        m._ctx.kv_cache_seq_rm(-1, plen, -1)
        m.n_tokens = plen  # the Llama object's own view of its cache: the prefix
        self.stats["score_calls"] += 1
        self.stats["scored_continuations"] += len(conts)
        self.stats["score_seconds"] += time.perf_counter() - t0
        lengths = np.array([len(c) for c in conts], dtype=float)
        return totals / lengths if reduce == "mean" else totals

    def __repr__(self):
        return f"LlamaCppLLM({self.name!r})"


# -- an OpenAI-compatible server on loopback (tests, benchmarks, a one-machine "lab server") ----------
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class serve:
    """Run llama-cpp-python's OpenAI-compatible server for a GGUF on 127.0.0.1; yields the ``/v1`` base URL.

    ``with serve("smollm2-135m") as url: llm = OpenAICompatibleLLM(url, tokenizer="smollm2-135m")``.
    api_key_env: the server requires the key held in that environment variable (passed to the child
    process through its environment, never on its command line). The server log goes to ``log``
    (a temporary file by default) and its tail is shown if the server does not come up.
    """

    def __init__(self, model: str = "smollm2-135m", port: int | None = None, n_threads: int = 2, n_ctx: int = 4096,
                 api_key_env: str | None = None, timeout: float = 180.0, log: str | None = None):
        self.model, self.port, self.n_threads, self.n_ctx = model, port or free_port(), n_threads, n_ctx
        self.api_key_env, self.timeout, self.log = api_key_env, timeout, log
        self.proc = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> str:
        import os
        import subprocess
        import sys
        import tempfile
        import urllib.error
        import urllib.request

        if importlib.util.find_spec("llama_cpp") is None:
            raise LlamaCppUnavailableError("serve() needs llama-cpp-python[server]: `pip install -c constraints.txt "
                                           "'llama-cpp-python[server]'` (about 6 minutes to build, once)")
        from recnb.models.llm import BUNDLED_LLMS, bundled_gguf

        path = bundled_gguf(self.model) if self.model in BUNDLED_LLMS else Path(self.model)
        env = dict(os.environ)
        if self.api_key_env:
            if not os.environ.get(self.api_key_env):
                raise ValueError(f"serve(api_key_env={self.api_key_env!r}): that environment variable is not set")
            env["API_KEY"] = os.environ[self.api_key_env]  # llama_cpp.server reads its settings from the environment
        self._log_path = self.log or tempfile.mkstemp(prefix="recnb-llama-server-", suffix=".log")[1]
        self._log = open(self._log_path, "w")
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(path), "--host", "127.0.0.1",
               "--port", str(self.port), "--n_threads", str(self.n_threads), "--n_ctx", str(self.n_ctx)]
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + self.timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                # /v1/models answers 401 when a key is required: the server is up either way
                urllib.request.urlopen(self.url + "/models", timeout=2).read()
                return self.url
            except urllib.error.HTTPError:
                return self.url
            except OSError:
                time.sleep(0.5)
        tail = Path(self._log_path).read_text(errors="replace")[-2000:]
        self.__exit__(None, None, None)
        raise RuntimeError(f"llama-cpp-python server did not come up on {self.url} within {self.timeout:.0f} s; log tail:\n{tail}")

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except Exception:
                self.proc.kill()
        if getattr(self, "_log", None):
            self._log.close()
        return False
