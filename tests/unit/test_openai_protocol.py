"""The HTTP backend's handling of answers a real server gives only now and then: redirects, a busy
server, a proxy's HTML page, a reply without the expected fields, tokens that cross the
prefix/continuation boundary, and the different tokenize routes.

The server here is a real HTTP server on loopback (the standard library's), answering from a
script, because a real LLM server cannot be made to produce these on demand. The backend against
a real llama.cpp server is tested in test_openai_server.py.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from recnb.models.interface import ScoringUnsupportedError
from recnb.models.openai_http import OpenAICompatibleLLM, ServerError

KEY_ENV = "RECNB_TEST_PROTOCOL_KEY"
SECRET = "sk-protocol-" + "q9Z"
MODELS = {"data": [{"id": "scripted"}]}


class Scripted:
    """A loopback server: ``routes[(method, path)]`` -> a list of (status, body, headers) answers, the last repeating.

    Every request is kept in ``seen`` as (method, path, headers, json body).
    """

    def __init__(self, routes: dict):
        self.routes, self.seen = {k: list(v) for k, v in routes.items()}, []
        script = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                script.seen.append((self.command, self.path, dict(self.headers), body))
                answers = script.routes.get((self.command, self.path)) or [(404, {"error": "no route"}, {})]
                status, payload, headers = answers.pop(0) if len(answers) > 1 else answers[0]
                if callable(payload):
                    payload = payload(body)
                data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args):  # keep the test output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve_script():
    made = []

    def make(routes):
        made.append(Scripted({("GET", "/v1/models"): [(200, MODELS, {})], **routes}))
        return made[-1]

    yield make
    for s in made:
        s.close()


def test_a_redirect_is_refused_and_the_key_never_reaches_the_other_host(serve_script, monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    elsewhere = serve_script({})
    moved = serve_script({("POST", "/v1/completions"): [(307, {}, {"Location": elsewhere.url + "/completions"})]})
    llm = OpenAICompatibleLLM(moved.url, api_key_env=KEY_ENV)
    with pytest.raises(ServerError, match="redirects to .*set base_url") as err:
        llm.generate("Hi", max_new_tokens=2)
    assert SECRET not in str(err.value)
    assert moved.seen[-1][2].get("Authorization") == f"Bearer {SECRET}"  # the server named was sent the key
    assert elsewhere.seen == []  # the redirect's target never was


def test_a_busy_server_is_retried_a_bounded_number_of_times(serve_script):
    ok = {"choices": [{"text": " hello"}], "usage": {"completion_tokens": 1}}
    busy = (503, {"error": "loading"}, {"Retry-After": "0"})
    s = serve_script({("POST", "/v1/completions"): [busy, busy, (200, ok, {})]})
    llm = OpenAICompatibleLLM(s.url, retries=2)
    assert llm.generate("Hi", max_new_tokens=2) == " hello"
    assert llm.stats["http_retries"] == 2
    s.routes[("POST", "/v1/completions")] = [busy]  # always busy: one clear error after the retries
    with pytest.raises(ServerError, match="HTTP 503") as err:
        OpenAICompatibleLLM(s.url, retries=1).generate("Hi")
    assert err.value.status == 503


def test_a_proxy_page_or_a_reply_without_the_fields_is_one_clear_error(serve_script):
    s = serve_script({("POST", "/v1/completions"): [(200, "<html>502 Bad Gateway</html>", {"Content-Type": "text/html"})],
                      ("POST", "/v1/chat/completions"): [(200, {"choices": []}, {})]})
    llm = OpenAICompatibleLLM(s.url)
    with pytest.raises(ServerError, match="not JSON.*Bad Gateway"):
        llm.generate("Hi")
    with pytest.raises(ServerError, match="answered without choices.0.message.content"):
        llm.chat([{"role": "user", "content": "Hi"}])


def _echo(prefix_tokens, cont_tokens):
    """A completions answer with echoed prompt log-probs: token texts, character offsets, -1 nat per token."""
    tokens = prefix_tokens + cont_tokens
    offsets = list(np.cumsum([0] + [len(t) for t in tokens])[:-1])
    return {"choices": [{"text": "", "logprobs": {"tokens": tokens + ["!"], "text_offset": [int(o) for o in offsets] + [sum(map(len, tokens))],
                                                  "token_logprobs": [None] + [-1.0] * (len(tokens) - 1) + [-0.5]}}]}


def test_echo_scores_only_the_continuations_tokens(serve_script):
    s = serve_script({("POST", "/v1/completions"): [(200, _echo(["The", " capital", " is"], [" Paris", ",", " yes"]), {})]})
    llm = OpenAICompatibleLLM(s.url, trust_prompt_logprobs=True, tokenizer="smollm2-135m")
    assert llm.score("The capital is", [" Paris, yes"])[0] == pytest.approx(-3.0)
    assert llm.score("The capital is", [" Paris, yes"], reduce="mean")[0] == pytest.approx(-1.0)


def test_a_token_across_the_boundary_is_refused_not_dropped(serve_script):
    # The prefix ends in a space and the server's token " Paris" starts inside it: that token's
    # log-prob would be silently left out (the score 1 nat too high); it is refused instead.
    s = serve_script({("POST", "/v1/completions"): [(200, _echo(["The", " capital", " is"], [" Paris", ",", " yes"]), {})]})
    llm = OpenAICompatibleLLM(s.url, trust_prompt_logprobs=True, tokenizer="smollm2-135m")
    with pytest.raises(ScoringUnsupportedError, match="cross the prefix/continuation boundary"):
        llm.score("The capital is ", ["Paris, yes"])


def test_tokenize_routes_of_llamacpp_and_vllm_servers(serve_script):
    # llama.cpp's server: /tokenize reads "content" (an empty list for a body it does not read).
    cpp = serve_script({("POST", "/tokenize"): [(200, lambda b: {"tokens": list(range(len((b.get("content") or "").split())))}, {})]})
    assert OpenAICompatibleLLM(cpp.url).count_tokens("one two three") == 3
    assert cpp.seen[-1][3]["add_special"] is False
    # A route that adds a BOS token to every text: measured once on "" and taken off.
    bos = serve_script({("POST", "/extras/tokenize"): [(200, lambda b: {"tokens": [1] + list(range(len(b["input"].split())))}, {})]})
    llm = OpenAICompatibleLLM(bos.url)
    assert llm.count_tokens("one two three") == 3 and llm.count_tokens("Yes") == 1
    # No tokenize route at all: counts are estimated, and that is counted.
    none = serve_script({})
    bare = OpenAICompatibleLLM(none.url)
    assert bare.count_tokens("x" * 40) == 10 and bare.stats["token_counts_estimated"] == 1


def test_a_failing_tokenize_route_is_an_error_not_an_estimate(serve_script):
    s = serve_script({("POST", "/extras/tokenize"): [(401, {"error": "bad key"}, {})]})
    llm = OpenAICompatibleLLM(s.url)
    with pytest.raises(ServerError, match="HTTP 401"):
        llm.count_tokens("Yes")
    assert llm.stats["token_counts_estimated"] == 0


def test_llamacpp_server_context_window_is_the_running_one(serve_script):
    s = serve_script({("GET", "/v1/models"): [(200, {"data": [{"id": "m", "meta": {"n_ctx_train": 8192}}]}, {})],
                      ("GET", "/props"): [(200, {"default_generation_settings": {"n_ctx": 2048}}, {})]})
    assert OpenAICompatibleLLM(s.url).context_window == 2048


def test_a_label_outside_the_servers_top_k_is_a_reported_upper_bound(serve_script):
    top = {"choices": [{"text": "A", "logprobs": {"top_logprobs": [{"A": -0.2, "B": -1.9}]}}]}
    s = serve_script({("POST", "/v1/completions"): [(200, top, {})]})
    llm = OpenAICompatibleLLM(s.url, tokenizer="smollm2-135m")
    with pytest.warns(UserWarning, match="1 of 3 continuations.*top-k floor"):
        scores = llm.score("Pick one: ", ["A", "B", "C"])
    np.testing.assert_allclose(scores, [-0.2, -1.9, -1.9])
    assert llm.stats["scores_at_top_logprobs_floor"] == 1


def test_a_password_in_the_url_is_refused():
    with pytest.raises(ValueError, match="api_key_env"):
        OpenAICompatibleLLM("http://lab:" + SECRET + "@127.0.0.1:9/v1")


def test_a_reply_that_echoes_the_key_is_scrubbed_from_the_error(serve_script, monkeypatch):
    """A server or proxy that quotes the key back ("invalid key sk-...") must not put it in the
    exception a notebook prints; neither in an error nor in a page that is not JSON."""
    monkeypatch.setenv(KEY_ENV, SECRET)
    s = serve_script({("POST", "/v1/completions"): [(401, {"error": f"invalid api key {SECRET}"}, {})],
                      ("POST", "/v1/chat/completions"): [(200, f"<html>key {SECRET} refused</html>", {"Content-Type": "text/html"})]})
    llm = OpenAICompatibleLLM(s.url, api_key_env=KEY_ENV)
    with pytest.raises(ServerError, match="HTTP 401: .*invalid api key \\*\\*\\*") as err:
        llm.generate("Hi")
    assert SECRET not in str(err.value)
    with pytest.raises(ServerError, match="not JSON") as err:
        llm.chat([{"role": "user", "content": "Hi"}])
    assert SECRET not in str(err.value)


def test_a_key_passed_as_the_variable_name_is_refused_without_echoing_it():
    with pytest.raises(ValueError, match="name of an environment variable") as err:
        OpenAICompatibleLLM("http://127.0.0.1:9/v1", model="m", api_key_env=SECRET)
    assert SECRET not in str(err.value)
