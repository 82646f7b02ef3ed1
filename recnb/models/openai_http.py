"""An OpenAI-compatible HTTP backend: a lab's shared vLLM / llama.cpp / any server behind the kit's two calls.

* ``generate`` posts to ``/v1/completions`` when the prompt is already in the model's chat format
  (connect with ``tokenizer=`` and ``chat_prompt`` applies its chat template here), and to
  ``/v1/chat/completions`` otherwise: without a tokenizer ``chat_prompt`` returns a
  :class:`ChatPrompt` (the messages), and the server applies its own template.
* ``score`` uses completion log-probabilities. Next-token log-probabilities are what every such
  server reports correctly, so continuations of ONE token (Yes/No, labels A/B/C, rating digits) are
  scored from the top log-probabilities of a single ``max_tokens: 1`` request. Longer continuations
  need the server's log-probabilities of prompt tokens (``echo``), which some servers get wrong
  (llama-cpp-python 0.3.x: off by tens of nats); they are refused with :class:`ScoringUnsupportedError`
  unless :meth:`verify_prompt_logprobs` has checked them against a local reference model (or you
  pass ``trust_prompt_logprobs=True`` for a server you have checked yourself).
* The API key is read from the environment variable named by ``api_key_env`` at each request. It
  is never stored on the object, printed, or put in ``repr``, so it never lands in a notebook.

Only the standard library is used for HTTP (urllib): no new dependency for the scale-out path.
"""
from __future__ import annotations

import http.client
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from recnb.models.interface import LLM, Capabilities, ScoringUnsupportedError


class ServerError(RuntimeError):
    """The server could not be reached or answered with an error (``status``: the HTTP code, if any)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


_REDIRECTS = (301, 302, 303, 307, 308)
_TRANSIENT = (429, 502, 503, 504)  # rate limits and a restarting server: worth a bounded retry


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises the 3xx as an HTTPError, reported by _request


_OPENER = urllib.request.build_opener(_NoRedirect)


def _retry_after(header: str | None, attempt: int) -> float:
    """Seconds before the next try: the server's Retry-After when short, else 0.5 s, 1 s, 2 s..."""
    try:
        return min(float(header), 10.0)
    except (TypeError, ValueError):
        return 0.5 * 2 ** attempt


def _field(resp: dict, route: str, *path):
    """``resp[path[0]][path[1]]...`` or one ServerError naming the route and what came back."""
    out = resp
    try:
        for key in path:
            out = out[key]
    except (KeyError, IndexError, TypeError):
        raise ServerError(f"{route} answered without {'.'.join(map(str, path))}: {json.dumps(resp)[:200]}") from None
    return out


_CHAT_MARK = "\x02chat-messages\x03"


class ChatPrompt(str):
    """Chat messages for ``/v1/chat/completions``, passed where the kit passes a formatted prompt string.

    Its text is a marker plus a readable rendering, so a prompt built from it (per-candidate stems
    appended to a shared prefix, which need the model's exact chat format) is recognised and
    refused instead of being sent as a garbled completion prompt.
    """

    def __new__(cls, messages: list[dict], assistant_prefix: str = ""):
        shown = "".join(f"<{m['role']}>\n{m['content']}\n" for m in messages) + "<assistant>\n" + assistant_prefix
        obj = super().__new__(cls, _CHAT_MARK + shown)
        obj.messages, obj.assistant_prefix = messages, assistant_prefix
        return obj


def _chat_messages(prompt: str) -> list | None:
    """The messages of a ChatPrompt (None for a plain completion prompt); a modified one is an error."""
    if isinstance(prompt, ChatPrompt):
        if prompt.assistant_prefix:
            raise ScoringUnsupportedError("chat/completions cannot continue a started assistant answer "
                                          "(assistant_prefix); connect with tokenizer= to use raw completions")
        return prompt.messages
    if _CHAT_MARK in prompt:
        raise ScoringUnsupportedError(
            "this prompt extends a chat prompt with more text (e.g. a per-candidate question after a shared prefix), "
            "which needs the served model's exact chat format: connect with tokenizer=<HF id or folder> "
            "(tokenizer='smollm2-135m' for the bundled model)")
    return None


def _load_tokenizer(tokenizer):
    """A tokenizer object from a bundled name, a Hugging Face id or folder, or a ``.gguf`` file (its own vocabulary)."""
    if tokenizer is None or not isinstance(tokenizer, str):
        return tokenizer
    from transformers import AutoTokenizer

    from recnb.models.llm import BUNDLED_LLMS, exported_dir

    if tokenizer.endswith(".gguf"):  # the file a llama.cpp server serves carries its tokenizer and chat template
        path = Path(tokenizer)
        if not path.is_file():
            raise FileNotFoundError(f"tokenizer={tokenizer!r}: no such GGUF file")
        return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    return AutoTokenizer.from_pretrained(str(exported_dir(tokenizer)) if tokenizer in BUNDLED_LLMS else tokenizer)


class OpenAICompatibleLLM(LLM):
    """A model served over the OpenAI API (``base_url`` like ``http://host:8000/v1``).

    tokenizer: the served model's tokenizer (an object, a Hugging Face id, ``"smollm2-135m"``, or the served ``.gguf`` file)
    for chat formatting and exact token counts. Without it, chat formatting is unavailable
    (use :meth:`chat`) and token counts come from the server's tokenize endpoint when it has one.
    retries: further tries after HTTP 429/502/503/504 or a dropped connection (counted in
    ``stats["http_retries"]``). Redirects are refused, not followed, so the key never travels on.
    """

    backend = "openai-http"

    def __init__(self, base_url: str, model: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 tokenizer=None, context_window: int | None = None, timeout: float = 120.0,
                 top_logprobs: int = 20, trust_prompt_logprobs: bool = False, retries: int = 2):
        super().__init__()
        if urllib.parse.urlsplit(base_url).password is not None:  # it would show in repr and every error
            raise ValueError("base_url holds a password (user:pass@host): put the key in an environment variable "
                             "and pass its name as api_key_env")
        if api_key_env and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", api_key_env):  # the key itself, by mistake?
            raise ValueError("api_key_env is the name of an environment variable (letters, digits, underscores) that "
                             "holds the key, not the key itself: os.environ['MY_KEY'] = ...; api_key_env='MY_KEY'")
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.timeout, self.retries = timeout, retries
        self.top_logprobs = top_logprobs
        self.tokenizer = _load_tokenizer(tokenizer)
        self._prompt_logprobs_ok = bool(trust_prompt_logprobs)
        self._tokenize_route: str | None = None
        self._tokenize_extra = 0  # ids a tokenize route adds to every text (a BOS token)
        self.model = model or self._first_model()
        self.name = self.model
        self._context_window = context_window

    # ---- plumbing
    def _headers(self) -> dict:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _scrub(self, text: str) -> str:
        """``text`` with the API key blanked: a server or proxy may quote it back in an error page."""
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        return text.replace(key, "***") if key else text

    def _request(self, method: str, route: str, body: dict | None = None, root: bool = False) -> dict:
        base = self.base_url[: -len("/v1")] if root and self.base_url.endswith("/v1") else self.base_url
        url = base + route
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(url, data=data, method=method, headers=self._headers())
            try:
                with _OPENER.open(req, timeout=self.timeout) as resp:
                    raw = self._scrub(resp.read().decode(errors="replace"))  # so no error below can quote the key
                break
            except urllib.error.HTTPError as exc:
                if exc.code in _REDIRECTS:  # never followed: the key would go with the request to the new host
                    raise ServerError(f"{method} {url} -> HTTP {exc.code}: the server redirects to "
                                      f"{exc.headers.get('Location')!r}; set base_url to that address "
                                      "(redirects are not followed, so the API key is not sent on)") from None
                detail = self._scrub(exc.read().decode(errors="replace"))[:300]
                if exc.code in _TRANSIENT and attempt < self.retries:  # busy or restarting: wait, then again
                    self.stats["http_retries"] += 1
                    time.sleep(_retry_after(exc.headers.get("Retry-After"), attempt))
                    continue
                raise ServerError(f"{method} {url} -> HTTP {exc.code}: {detail}", status=exc.code) from None
            except (urllib.error.URLError, OSError) as exc:
                dropped = isinstance(getattr(exc, "reason", exc), (ConnectionResetError, http.client.RemoteDisconnected))
                if dropped and attempt < self.retries:
                    self.stats["http_retries"] += 1
                    time.sleep(_retry_after(None, attempt))
                    continue
                raise ServerError(f"cannot reach the LLM server at {url}: {exc}") from None
        # (the key is only in the request headers; replies are scrubbed of it before any message quotes them)
        try:
            return json.loads(raw)
        except ValueError:
            raise ServerError(f"{method} {url} answered with something that is not JSON (a proxy's page?): "
                              f"{raw[:200]!r}") from None

    def _first_model(self) -> str:
        resp = self._request("GET", "/models")
        data = (resp.get("data") if isinstance(resp, dict) else None) or []
        if not data:
            raise ServerError(f"{self.base_url}/models lists no model; pass model=")
        self._models = data
        return _field(data, "/models", 0, "id")

    @property
    def capabilities(self) -> Capabilities:  # type: ignore[override]
        return Capabilities(multi_token_score=self._prompt_logprobs_ok, constrained_generation=False, local=False)

    @property
    def context_window(self) -> int:
        if self._context_window is None:
            info = next((m for m in getattr(self, "_models", []) if m.get("id") == self.model), {})
            n = info.get("max_model_len") or self._llamacpp_n_ctx() or info.get("meta", {}).get("n_ctx_train")
            if not n and self.tokenizer is not None and getattr(self.tokenizer, "model_max_length", 0) < 10**6:
                n = self.tokenizer.model_max_length
            if not n:
                n = 2048
                self.stats["context_window_assumed"] += 1
            self._context_window = int(n)
        return self._context_window

    def _llamacpp_n_ctx(self) -> int | None:
        """llama.cpp's server lists the model's training length; the window it runs with is in /props."""
        if not any("meta" in m for m in getattr(self, "_models", [])):
            return None
        try:
            props = self._request("GET", "/props", root=True)
        except ServerError:
            return None
        n = (props.get("default_generation_settings") or {}).get("n_ctx") or props.get("n_ctx")
        return int(n) if n else None

    # ---- prompts
    def chat_prompt(self, user: str, system: str | None = None, assistant_prefix: str = "") -> str:
        """The model's chat format via its tokenizer, or (no tokenizer) a :class:`ChatPrompt` for chat/completions."""
        if self.tokenizer is None:
            return ChatPrompt(([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}],
                              assistant_prefix)
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) + assistant_prefix

    def count_tokens(self, text: str) -> int:
        if isinstance(text, ChatPrompt):  # the server adds its template: a few tokens per message on top
            return sum(self.count_tokens(m["content"]) + 8 for m in text.messages)
        if self.tokenizer is not None:
            return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        ids = self._server_tokenize(text)
        if ids is None:
            self.stats["token_counts_estimated"] += 1  # no tokenizer anywhere: about 4 characters a token
            return max(1, len(text) // 4)
        return len(ids)

    def _server_tokenize(self, text: str) -> list | None:
        """Token ids from the server's own tokenize route, or None where it has none.

        llama-cpp-python: ``/extras/tokenize`` {"input"}; llama.cpp's server: ``/tokenize`` {"content",
        "add_special"}; vLLM: ``/tokenize`` {"prompt", "add_special_tokens"}. One body serves both
        ``/tokenize`` servers. A route that adds a BOS token anyway is measured once on "" and the
        extra ids are taken off. Only "no such route" answers move on to the next route; a server
        that is down or refuses the key is an error, not a reason to estimate.
        """
        routes = [self._tokenize_route] if self._tokenize_route else ["/extras/tokenize", "/tokenize"]
        for route in routes:
            if route == "none":
                return None
            ids = self._tokenize_on(route, text)
            if ids is None or (text and not ids):  # no route, or a body this server does not read
                continue
            if self._tokenize_route != route:
                self._tokenize_route = route
                self._tokenize_extra = len(self._tokenize_on(route, "") or [])
            return ids[self._tokenize_extra:] if self._tokenize_extra and len(ids) > self._tokenize_extra else ids
        self._tokenize_route = "none"
        return None

    def _tokenize_on(self, route: str, text: str) -> list | None:
        body = ({"input": text} if route == "/extras/tokenize" else
                {"model": self.model, "prompt": text, "add_special_tokens": False, "content": text, "add_special": False})
        try:
            out = self._request("POST", route, body, root=True)
        except ServerError as exc:
            if exc.status in (400, 404, 405, 422):
                return None
            raise
        tokens = out.get("tokens") if isinstance(out, dict) else None
        return tokens if isinstance(tokens, list) else None

    # ---- generation
    def generate(self, prompts, max_new_tokens: int = 64, temperature: float = 0.0, stop=None, **kwargs):
        if kwargs.get("prefix_allowed_tokens_fn") is not None:
            raise NotImplementedError("an HTTP server cannot run prefix_allowed_tokens_fn; use the local backend")
        single = isinstance(prompts, str)
        out = []
        t0 = time.perf_counter()
        for p in [prompts] if single else list(prompts):
            messages = _chat_messages(p)
            body = {"model": self.model, "max_tokens": max_new_tokens, "temperature": temperature}
            if stop:
                body["stop"] = list(stop)
            if messages is None:
                resp = self._request("POST", "/completions", {**body, "prompt": p})
                out.append(_field(resp, "/completions", "choices", 0, "text"))
            else:
                resp = self._request("POST", "/chat/completions", {**body, "messages": messages})
                out.append(_field(resp, "/chat/completions", "choices", 0, "message", "content") or "")
            self.stats["generated_tokens"] += int((resp.get("usage") or {}).get("completion_tokens", 0))
        self.stats["generate_calls"] += 1
        self.stats["generate_seconds"] += time.perf_counter() - t0
        return out[0] if single else out

    def chat(self, messages: list[dict], max_new_tokens: int = 64, temperature: float = 0.0) -> str:
        """One chat turn through ``/v1/chat/completions`` (the server applies its own chat template)."""
        resp = self._request("POST", "/chat/completions", {"model": self.model, "messages": messages,
                                                           "max_tokens": max_new_tokens, "temperature": temperature})
        self.stats["generated_tokens"] += int((resp.get("usage") or {}).get("completion_tokens", 0))
        return _field(resp, "/chat/completions", "choices", 0, "message", "content") or ""

    # ---- scoring
    def next_token_logprobs(self, prefix: str) -> dict:
        """{token text: log-probability} of the server's top ``top_logprobs`` next tokens after ``prefix``.

        A plain prompt goes to /v1/completions; a ChatPrompt to /v1/chat/completions (the first token
        of the assistant's answer), which OpenAI-style servers cap at 20 top log-probabilities.
        """
        messages = _chat_messages(prefix)
        if messages is not None:
            resp = self._request("POST", "/chat/completions", {
                "model": self.model, "messages": messages, "max_tokens": 1, "temperature": 0.0, "logprobs": True,
                "top_logprobs": min(self.top_logprobs, 20)})
            content = (_field(resp, "/chat/completions", "choices", 0).get("logprobs") or {}).get("content") or []
            if not content or not content[0].get("top_logprobs"):
                raise ScoringUnsupportedError(f"{self.base_url} returned no top log-probabilities for /chat/completions")
            return {t["token"]: t["logprob"] for t in content[0]["top_logprobs"]}
        resp = self._request("POST", "/completions", {"model": self.model, "prompt": prefix, "max_tokens": 1,
                                                      "temperature": 0.0, "logprobs": self.top_logprobs})
        lp = _field(resp, "/completions", "choices", 0).get("logprobs") or {}
        top = (lp.get("top_logprobs") or [None])[0]
        if not top:
            raise ScoringUnsupportedError(f"{self.base_url} returned no top log-probabilities for /completions "
                                          "with logprobs set; this server cannot score")
        return dict(top)

    def _n_tokens(self, text: str) -> int | None:
        if self.tokenizer is not None:
            return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        ids = self._server_tokenize(text)
        return None if ids is None else len(ids)

    def score(self, prefix: str, continuations: Sequence[str], reduce: str = "sum") -> np.ndarray:
        """Log-likelihoods from the server (see the module notes for what it can be trusted with)."""
        if reduce not in ("sum", "mean"):
            raise ValueError("reduce must be 'sum' or 'mean'")
        conts = list(continuations)
        if not prefix:
            raise ValueError("score() needs a non-empty prefix")
        if any(not c for c in conts):
            raise ValueError("score() got an empty continuation")
        t0 = time.perf_counter()
        _chat_messages(prefix)  # a chat prompt extended with more text is refused here, clearly
        lengths = [self._n_tokens(c) for c in conts]
        if all(n == 1 for n in lengths):
            out = self._score_single_tokens(prefix, conts)
        elif self._prompt_logprobs_ok:
            if isinstance(prefix, ChatPrompt):
                raise ScoringUnsupportedError("multi-token scoring needs raw completion prompts: connect with tokenizer=")
            out = np.array([self._echo_logprobs(prefix, c, reduce) for c in conts])
        else:
            long = [c for c, n in zip(conts, lengths) if n != 1][:3]
            raise ScoringUnsupportedError(
                f"{self.base_url} can only score one-token continuations here (Yes/No, labels, digits); "
                f"{long!r} {'are' if len(long) > 1 else 'is'} longer or of unknown length. Scoring longer ones needs "
                "the server's prompt log-probabilities, which some servers report wrongly (llama-cpp-python's echo); "
                "call verify_prompt_logprobs(reference_llm) first, or use the local backend"
                + ("" if self.tokenizer is not None else ", and pass tokenizer= so token lengths are known"))
        self.stats["score_calls"] += 1
        self.stats["scored_continuations"] += len(conts)
        self.stats["score_seconds"] += time.perf_counter() - t0
        return out

    def _score_single_tokens(self, prefix: str, conts: list[str]) -> np.ndarray:
        top = self.next_token_logprobs(prefix)
        floor = min(top.values())
        out = []
        for c in conts:
            if c in top:
                out.append(float(top[c]))
            else:
                # Not among the server's top-k: its log-prob is at most the k-th one. Use that bound, and count it.
                self.stats["scores_at_top_logprobs_floor"] += 1
                out.append(float(floor))
        below = [c for c in conts if c not in top]
        if below:  # a reported fallback: these tie at an upper bound, which the caller should know
            warnings.warn(f"{len(below)} of {len(conts)} continuations ({below[:3]!r}) are not among the server's top "
                          f"{len(top)} next tokens: scored at the top-k floor ({floor:.2f}), an upper bound, so they tie",
                          stacklevel=3)
        return np.array(out)

    def _echo_logprobs(self, prefix: str, cont: str, reduce: str) -> float:
        resp = self._request("POST", "/completions", {"model": self.model, "prompt": prefix + cont, "max_tokens": 1,
                                                      "temperature": 0.0, "echo": True, "logprobs": 1})
        lp = _field(resp, "/completions", "choices", 0).get("logprobs") or {}
        offsets, values = lp.get("text_offset"), lp.get("token_logprobs")
        if not offsets or not values:
            raise ScoringUnsupportedError(f"{self.base_url} does not return prompt log-probabilities with echo")
        if len(prefix) not in offsets:
            # One token spans the end of the prefix and the start of the continuation (e.g. a prefix
            # ending in a space before " Paris"): its log-prob belongs to neither, so no honest score exists.
            raise ScoringUnsupportedError(
                f"the server's tokens of the prompt cross the prefix/continuation boundary at {cont!r}; "
                "end the prefix where a token ends (no trailing space) or use the local backend")
        picked = [v for o, v in zip(offsets, values) if o >= len(prefix) and o < len(prefix) + len(cont) and v is not None]
        if not picked:
            raise ScoringUnsupportedError(f"{self.base_url} returned no log-probabilities for the continuation {cont!r}")
        return float(np.sum(picked) / (len(picked) if reduce == "mean" else 1))

    def verify_prompt_logprobs(self, reference, prefix: str = "The capital of France is",
                               continuation: str = " Paris, and the capital of Italy is Rome.", tolerance: float = 0.25) -> dict:
        """Compare the server's echoed prompt log-probabilities with a local ``reference`` model of the same weights.

        Multi-token scoring is switched on only when they agree within ``tolerance`` nats per token.
        Returns {"server", "reference", "per_token_gap", "ok"}.
        """
        ref = float(reference.score(prefix, [continuation])[0])
        try:
            srv = self._echo_logprobs(prefix, continuation, "sum")
        except ScoringUnsupportedError:
            self._prompt_logprobs_ok = False
            return {"server": None, "reference": ref, "per_token_gap": None, "ok": False}
        n = max(1, reference.count_tokens(continuation))
        gap = abs(srv - ref) / n
        self._prompt_logprobs_ok = gap <= tolerance
        return {"server": srv, "reference": ref, "per_token_gap": gap, "ok": self._prompt_logprobs_ok}

    def __repr__(self):
        key = "set" if self.api_key_env and os.environ.get(self.api_key_env) else "not set"
        return f"OpenAICompatibleLLM({self.base_url!r}, model={self.model!r}, api key from ${self.api_key_env}: {key})"


def connect_llm(base_url: str | None = None, model: str | None = None, api_key_env: str = "OPENAI_API_KEY", **kw) -> OpenAICompatibleLLM:
    """Connect to an OpenAI-compatible server; ``base_url`` defaults to ``$RECNB_LLM_URL``."""
    base_url = base_url or os.environ.get("RECNB_LLM_URL")
    if not base_url:
        raise ValueError("connect_llm() needs base_url= (e.g. 'http://127.0.0.1:8000/v1') or $RECNB_LLM_URL")
    return OpenAICompatibleLLM(base_url, model=model, api_key_env=api_key_env, **kw)
