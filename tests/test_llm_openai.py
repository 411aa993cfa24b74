"""The OpenAI-compatible backend against a scripted fake server on 127.0.0.1 (http.server in a
thread): request bodies, non-streamed and SSE replies, usage, logprobs, tokenize/template
extras, and the error messages for unreachable, slow and failing servers."""
from __future__ import annotations

import json
import math
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from assistant.llm import LLMConfig, LLMConfigError, LLMConnectionError, LLMError, LLMUnsupportedError, load_llm
from assistant.llm.openai_compat import OpenAICompatLLM

USER = [{"role": "user", "content": "Which film has a xenomorph?"}]


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up (the timeout test) is expected, not news


class FakeServer:
    """Scripts replies per path: a dict is sent as JSON, a list of dicts as SSE chunks,
    ("status", code, text) as an error, ("sleep", s) stalls; records each request body."""

    def __init__(self) -> None:
        self.replies: dict[str, deque[Any]] = {}
        self.requests: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                server.requests.append((self.path, body, dict(self.headers)))
                queue = server.replies.get(self.path)
                reply = queue.popleft() if queue else ("status", 404, "no such endpoint")
                if isinstance(reply, tuple) and reply[0] == "sleep":
                    time.sleep(reply[1])
                    reply = {"choices": []}
                if isinstance(reply, tuple):
                    self._send(reply[1], "text/plain", reply[2].encode())
                elif isinstance(reply, list):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    for event in reply:
                        line = event if isinstance(event, str) else f"data: {json.dumps(event)}"
                        self.wfile.write(f"{line}\n\n".encode())
                        self.wfile.flush()
                    self.wfile.write(b"data: [DONE]\n\n")
                else:
                    self._send(200, "application/json", json.dumps(reply).encode())

            def _send(self, code: int, kind: str, data: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def script(self, path: str, *replies: Any) -> None:
        self.replies.setdefault(path, deque()).extend(replies)

    def body(self, i: int = -1) -> dict[str, Any]:
        return self.requests[i][1]


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer()
    yield fake
    fake.httpd.shutdown()
    fake.httpd.server_close()


def completion(text: str, finish: str = "stop", usage: dict | None = None, logprobs: dict | None = None) -> dict:
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish,
                         "logprobs": logprobs}],
            "usage": usage or {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}}


def chunk(text: str | None = None, finish: str | None = None, logprobs: dict | None = None) -> dict:
    delta = {} if text is None else {"content": text}
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": logprobs}]}


def lp(token: str, logprob: float, top: dict[str, float]) -> dict:
    return {"content": [{"token": token, "logprob": logprob,
                         "top_logprobs": [{"token": t, "logprob": v} for t, v in top.items()]}]}


def test_chat_sends_an_openai_body_and_reads_usage(server: FakeServer) -> None:
    server.script("/v1/chat/completions", completion("Alien [1]."))
    llm = OpenAICompatLLM(server.url, "qwen-1.5b", api_key="sk-test")
    done = llm.chat(USER, max_tokens=32, temperature=0.0, stop=["\n\n"], seed=5)
    assert (done.text, done.finish_reason, done.prompt_tokens, done.completion_tokens) == ("Alien [1].", "stop", 12, 3)
    body = server.body()
    assert body == {"model": "qwen-1.5b", "messages": USER, "max_tokens": 32, "temperature": 0.0, "stream": False,
                    "stop": ["\n\n"], "seed": 5}
    assert server.requests[-1][2]["Authorization"] == "Bearer sk-test"
    assert done.timings["ttft_s"] is None and done.timings["total_s"] > 0
    assert (llm.model_id, llm.fingerprint) == ("qwen-1.5b", f"openai:{server.url}:qwen-1.5b")


def test_length_finish_logprobs_and_json_schema(server: FakeServer) -> None:
    server.script("/v1/chat/completions", completion("Yes", "length", logprobs=lp("Yes", -0.1, {"Yes": -0.1, "No": -2.5})))
    llm = OpenAICompatLLM(server.url, "m")
    done = llm.chat(USER, logprobs=2, json_schema={"type": "object"})
    assert done.finish_reason == "length"
    assert done.token_logprobs == [("Yes", -0.1, {"Yes": -0.1, "No": -2.5})]
    body = server.body()
    assert (body["logprobs"], body["top_logprobs"]) == (True, 2)
    assert body["response_format"]["json_schema"]["schema"] == {"type": "object"}


def test_stream_parses_sse_with_usage_and_logprobs(server: FakeServer) -> None:
    server.script("/v1/chat/completions", [
        ": keep-alive comment",
        {"choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]},
        chunk("Ali", logprobs=lp("Ali", -0.5, {})), chunk("en", logprobs=lp("en", -0.01, {})),
        chunk(None, "stop"),
        {"choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": 2, "total_tokens": 22}},
    ])
    llm = OpenAICompatLLM(server.url, "m")
    deltas = list(llm.stream(USER, logprobs=0))
    assert [d.text for d in deltas] == ["Ali", "en", ""]
    assert deltas[0].token_logprobs == [("Ali", -0.5, {})]
    final = deltas[-1].completion
    assert final is not None
    assert (final.text, final.prompt_tokens, final.completion_tokens) == ("Alien", 20, 2)
    assert [t.token for t in final.token_logprobs or []] == ["Ali", "en"]
    assert final.timings["ttft_s"] is not None
    assert server.body()["stream"] is True and server.body()["stream_options"] == {"include_usage": True}


def test_stream_without_usage_counts_via_tokenize(server: FakeServer) -> None:
    server.script("/v1/chat/completions", [chunk("a b"), chunk(None, "length")])
    server.script("/tokenize", {"tokens": [1, 2]})
    final = list(OpenAICompatLLM(server.url, "m").stream(USER))[-1].completion
    assert final is not None and (final.completion_tokens, final.finish_reason) == (2, "length")
    assert server.requests[-1][0] == "/tokenize" and server.body()["content"] == "a b"


def test_count_tokens_uses_the_server_or_estimates(server: FakeServer, caplog: pytest.LogCaptureFixture) -> None:
    llm = OpenAICompatLLM(server.url, "m")
    server.script("/tokenize", {"tokens": [5, 6, 7]}, {"count": 4, "tokens": [1, 2, 3, 4]})
    assert llm.count_tokens("three tokens here") == 3  # llama.cpp server shape
    assert llm.count_tokens("four") == 4  # vLLM shape
    assert llm.count_tokens("x" * 10) == 3  # 404: estimated as ceil(10 / 4), with one warning
    assert "cannot tokenize" in caplog.text
    assert llm.count_tokens("") == 0


def test_apply_chat_template_from_llamacpp_server_or_unsupported(server: FakeServer) -> None:
    llm = OpenAICompatLLM(server.url, "m")
    server.script("/apply-template", {"prompt": "<|im_start|>user\nhi<|im_end|>\n"})
    assert llm.apply_chat_template(USER) == "<|im_start|>user\nhi<|im_end|>\n"
    with pytest.raises(LLMUnsupportedError, match="does not expose its chat template"):
        llm.apply_chat_template(USER)


def test_token_logprob_of_reads_the_first_token_alternatives(server: FakeServer) -> None:
    top = {"SUP": -0.2, "UN": -1.9, "Yes": -4.0}
    server.script("/v1/chat/completions", completion("SUP", logprobs=lp("SUP", -0.2, top)), completion("x"))
    llm = OpenAICompatLLM(server.url, "m")
    scores = llm.token_logprob_of(USER, ["SUPPORTED", "UNSUPPORTED", "Yes", "No"])
    assert scores == {"SUPPORTED": -0.2, "UNSUPPORTED": -1.9, "Yes": -4.0, "No": -math.inf}
    assert (server.body()["max_tokens"], server.body()["top_logprobs"], server.body()["temperature"]) == (1, 20, 0.0)
    with pytest.raises(LLMUnsupportedError, match="returned no logprobs"):
        llm.token_logprob_of(USER, ["Yes"])


def test_connection_refused_names_the_url_and_the_fix() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    llm = OpenAICompatLLM(f"http://127.0.0.1:{port}/v1", "m")
    with pytest.raises(LLMConnectionError, match=rf"cannot reach the LLM server at http://127.0.0.1:{port}/v1/chat"
                                                 r"/completions: .*start it or use backend=llamacpp"):
        llm.chat(USER)
    with pytest.raises(LLMConnectionError, match="cannot reach"):
        list(llm.stream(USER))


def test_timeout_http_errors_and_garbage(server: FakeServer) -> None:
    server.script("/v1/chat/completions", ("sleep", 1.0), ("status", 500, "model not loaded"), {"unexpected": 1},
                  [chunk("a"), {"error": {"message": "out of memory"}}], ["data: {not json"])
    llm = OpenAICompatLLM(server.url, "m", timeout_s=0.3)
    with pytest.raises(LLMConnectionError, match=r"did not answer within 0.3s; raise timeout_s"):
        llm.chat(USER)
    with pytest.raises(LLMConnectionError, match="answered HTTP 500: 'model not loaded'"):
        llm.chat(USER)
    with pytest.raises(LLMConnectionError, match="sent no choices"):
        llm.chat(USER)
    with pytest.raises(LLMError, match="failed mid-stream: .*out of memory"):
        list(llm.stream(USER))
    with pytest.raises(LLMConnectionError, match="streamed a line that is not JSON"):
        list(llm.stream(USER))


def test_load_llm_builds_the_backend_from_config(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    server.script("/v1/chat/completions", completion("ok"))
    monkeypatch.setenv("MY_LLM_KEY", "secret")
    llm = load_llm(LLMConfig(backend="openai", base_url=server.url, model="qwen", api_key_env="MY_LLM_KEY",
                             max_tokens=77, temperature=0.5))
    assert isinstance(llm, OpenAICompatLLM) and llm.chat(USER).text == "ok"
    assert (server.body()["max_tokens"], server.body()["temperature"]) == (77, 0.5)
    assert server.requests[-1][2]["Authorization"] == "Bearer secret"
    monkeypatch.delenv("MY_LLM_KEY")
    with pytest.raises(LLMConfigError, match="'MY_LLM_KEY' names an environment variable that is not set"):
        load_llm(LLMConfig(backend="openai", base_url=server.url, api_key_env="MY_LLM_KEY"))


@pytest.mark.parametrize(("fields", "match"), [
    ({"backend": "openai"}, "needs base_url"),
    ({"backend": "openai", "base_url": "localhost:8080"}, "needs base_url"),
    ({"backend": "openai", "base_url": "http://h/v1", "adapter": "a"}, "cannot be loaded into a remote server"),
    ({"base_url": "http://h/v1"}, "only used by backend=openai"),
    ({"backend": "openai", "base_url": "http://h/v1", "api_key_env": "sk-123"}, "never the key itself"),
    ({"backend": "openai", "base_url": "http://h/v1", "timeout_s": 0}, "timeout_s=0"),
])
def test_openai_config_checks(fields: dict, match: str) -> None:
    with pytest.raises(LLMConfigError, match=match):
        LLMConfig(**fields)
