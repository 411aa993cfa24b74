"""The OpenAI-compatible HTTP backend: any server speaking `/v1/chat/completions` — vLLM,
llama.cpp's `llama-server`, Ollama — for users who outgrow one machine (DESIGN.md §3).

    POST {base_url}/chat/completions  {"messages", "max_tokens", "temperature", "stop", "seed",
                                       "logprobs", "top_logprobs", "response_format", "stream"}
      stream=false ─▶ one JSON body with choices[0].message and usage
      stream=true  ─▶ server-sent events: `data: {chunk}` lines, then `data: [DONE]`; usage comes
                      in a last chunk when the server honours stream_options.include_usage

Servers differ in the extras: llama.cpp's server also tokenizes (`/tokenize`) and renders its
chat template (`/apply-template`); vLLM tokenizes at `/tokenize`; plain OpenAI does neither,
so `count_tokens` falls back to an estimate and `apply_chat_template` says it cannot. Every
network failure becomes an `LLMConnectionError` naming the URL and what to do.
"""
from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterator, Sequence
from typing import Any

import httpx

from assistant.llm.base import (
    MAX_TOP_LOGPROBS,
    ChatLLM,
    Completion,
    Delta,
    GenerationRequest,
    LLMConfigError,
    LLMConnectionError,
    LLMError,
    LLMUnsupportedError,
    Message,
    Sampling,
    Stopwatch,
    TokenLogprob,
    parse_logprobs,
)
from assistant.llm.config import LLMConfig

log = logging.getLogger(__name__)
# Rule of thumb for English BPE text, used only when the server cannot count tokens.
CHARS_PER_TOKEN_ESTIMATE = 4


class OpenAICompatLLM(ChatLLM):
    """A model behind an OpenAI-compatible server at `base_url` (e.g. http://127.0.0.1:8080/v1)."""

    backend = "openai"

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, timeout_s: float = 120.0,
                 defaults: Sampling | None = None, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        super().__init__(model_id=model, fingerprint=f"openai:{self.base_url}:{model}", defaults=defaults)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # connect fails fast (a server that is not running); read waits for slow generations.
        self._http = httpx.Client(headers=headers, transport=transport,
                                  timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)))
        self.timeout_s = timeout_s
        self._warned_estimate = False

    @classmethod
    def from_config(cls, config: LLMConfig) -> OpenAICompatLLM:
        assert config.base_url is not None  # LLMConfig checked it for backend=openai
        api_key = None
        if config.api_key_env:
            api_key = os.environ.get(config.api_key_env)
            if not api_key:
                raise LLMConfigError(f"api_key_env={config.api_key_env!r} names an environment variable that is "
                                     "not set; export it, or drop api_key_env for a server without auth")
        return cls(config.base_url, config.model, api_key=api_key, timeout_s=config.timeout_s,
                   defaults=config.sampling)

    @property
    def server_root(self) -> str:
        """The server without the `/v1` suffix, where llama.cpp/vLLM put /tokenize."""
        return self.base_url[: -len("/v1")] if self.base_url.endswith("/v1") else self.base_url

    # -- HTTP ---------------------------------------------------------------------------------
    def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._guard(url):
            response = self._http.post(url, json=body)
            self._check(url, response)
            return response.json()

    def _guard(self, url: str) -> Any:
        return _Guard(url, self.timeout_s)

    @staticmethod
    def _check(url: str, response: httpx.Response) -> None:
        if response.status_code >= 400:
            response.read()
            raise LLMConnectionError(f"the LLM server at {url} answered HTTP {response.status_code}: "
                                     f"{response.text[:300]!r}; check the model name and request options")

    def _body(self, request: GenerationRequest, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model_id, "messages": self.safe_messages(request.messages),
            "max_tokens": request.max_tokens, "temperature": request.temperature, "stream": stream,
        }
        if request.stop:
            body["stop"] = list(request.stop)
        if request.seed is not None:
            body["seed"] = request.seed
        if request.logprobs is not None:
            body.update(logprobs=True, top_logprobs=request.logprobs)
        if request.json_schema is not None:
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "output", "schema": request.json_schema, "strict": True}}
        if request.grammar is not None:
            body["grammar"] = request.grammar  # llama.cpp server's extension; others reject or ignore it
        if stream:
            body["stream_options"] = {"include_usage": True}
        return body

    # -- generation -----------------------------------------------------------------------------
    def _complete(self, request: GenerationRequest) -> Completion:
        clock = Stopwatch()
        data = self._post(f"{self.base_url}/chat/completions", self._body(request, stream=False))
        try:
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError) as exc:
            raise LLMConnectionError(f"the LLM server at {self.base_url} sent no choices[0].message: "
                                     f"{json.dumps(data)[:300]}; is it an OpenAI-compatible endpoint?") from exc
        usage = data.get("usage") or {}
        n_out = int(usage["completion_tokens"]) if "completion_tokens" in usage else self.count_tokens(text)
        return Completion(
            text=text, finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
            prompt_tokens=int(usage.get("prompt_tokens", 0)), completion_tokens=n_out,
            token_logprobs=parse_logprobs(choice.get("logprobs")) if request.logprobs is not None else None,
            timings=clock.timings(n_out), model_id=self.model_id,
        )

    def _stream(self, request: GenerationRequest) -> Iterator[Delta]:
        return self._stream_events(request, self._body(request, stream=True))

    def _stream_events(self, request: GenerationRequest, body: dict[str, Any]) -> Iterator[Delta]:
        url = f"{self.base_url}/chat/completions"
        clock = Stopwatch()
        pieces: list[str] = []
        logprobs: list[TokenLogprob] = []
        finish, usage = "stop", {}
        with self._guard(url), self._http.stream("POST", url, json=body) as response:
            self._check(url, response)
            for chunk in _sse_chunks(response.iter_lines(), url):
                usage = chunk.get("usage") or usage
                for choice in chunk.get("choices") or []:
                    finish = choice.get("finish_reason") or finish
                    text = (choice.get("delta") or {}).get("content") or ""
                    step = parse_logprobs(choice.get("logprobs")) if request.logprobs is not None else None
                    logprobs.extend(step or [])
                    if text:
                        clock.tick()
                        pieces.append(text)
                        yield Delta(text, token_logprobs=step)
        text = "".join(pieces)
        # Without include_usage support the server sends no counts: count what we can.
        n_out = int(usage.get("completion_tokens") or len(logprobs) or self.count_tokens(text))
        yield Delta("", completion=Completion(
            text=text, finish_reason="length" if finish == "length" else "stop",
            prompt_tokens=int(usage.get("prompt_tokens", 0)), completion_tokens=n_out,
            token_logprobs=logprobs if request.logprobs is not None else None,
            timings=clock.timings(n_out), model_id=self.model_id))

    # -- scoring, tokens, template ---------------------------------------------------------------
    def token_logprob_of(self, messages: Sequence[Message], candidates: Sequence[str]) -> dict[str, float]:
        """From ONE generated token's top-20 alternatives (servers score nothing else): a
        candidate gets the log-prob of the listed token equal to it, else of the longest listed
        token it starts with (its first token: an upper bound for multi-token candidates), else
        -inf. Exact for single-token candidates such as "Yes"/"No"."""
        reply = self.chat(messages, max_tokens=1, temperature=0.0, logprobs=MAX_TOP_LOGPROBS)
        if not reply.token_logprobs:
            raise LLMUnsupportedError(f"the LLM server at {self.base_url} returned no logprobs; start it with "
                                      "logprobs enabled (vLLM: default; llama.cpp server: recent versions) or "
                                      "use backend=llamacpp")
        first = reply.token_logprobs[0]
        table = {**first.top, first.token: first.logprob}
        scores: dict[str, float] = {}
        for candidate in candidates:
            if candidate in table:
                scores[candidate] = table[candidate]
                continue
            prefixes = [t for t in table if t and candidate.startswith(t)]
            scores[candidate] = table[max(prefixes, key=len)] if prefixes else -math.inf
        return scores

    def count_tokens(self, text: str) -> int:
        """Asks the server's /tokenize (llama.cpp server, vLLM); else estimates ~4 chars a token."""
        if not text:
            return 0
        url = f"{self.server_root}/tokenize"
        try:
            response = self._http.post(url, json={"content": text, "prompt": text, "model": self.model_id,
                                                  "add_special": False, "add_special_tokens": False})
            if response.status_code < 400:
                data = response.json()
                return int(data["count"]) if "count" in data else len(data["tokens"])
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            pass
        if not self._warned_estimate:
            log.warning("the LLM server at %s cannot tokenize (no %s); estimating token counts as "
                        "characters/%d", self.base_url, url, CHARS_PER_TOKEN_ESTIMATE)
            self._warned_estimate = True
        return math.ceil(len(text) / CHARS_PER_TOKEN_ESTIMATE)

    def apply_chat_template(self, messages: Sequence[Message]) -> str:
        """The server's rendering (llama.cpp server's /apply-template); other servers cannot say."""
        url = f"{self.server_root}/apply-template"
        try:
            response = self._http.post(url, json={"messages": self.safe_messages(messages)})
            if response.status_code < 400:
                return str(response.json()["prompt"])
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            pass
        raise LLMUnsupportedError(f"the LLM server at {self.base_url} does not expose its chat template "
                                  f"({url}); only llama.cpp's server does — use backend=llamacpp or hf to see "
                                  "the exact prompt")

    def close(self) -> None:
        self._http.close()


class _Guard:
    """Turns httpx failures into LLMConnectionErrors that name the URL and the fix."""

    def __init__(self, url: str, timeout_s: float) -> None:
        self.url, self.timeout_s = url, timeout_s

    def __enter__(self) -> _Guard:
        return self

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        if isinstance(exc, httpx.ConnectError):
            raise LLMConnectionError(f"cannot reach the LLM server at {self.url}: {exc}; start it or use "
                                     "backend=llamacpp") from exc
        if isinstance(exc, httpx.TimeoutException):
            raise LLMConnectionError(f"the LLM server at {self.url} did not answer within {self.timeout_s:g}s; "
                                     "raise timeout_s in the LLM config or check the server's load") from exc
        if isinstance(exc, httpx.HTTPError):
            raise LLMConnectionError(f"HTTP error talking to the LLM server at {self.url}: {exc}") from exc
        if isinstance(exc, json.JSONDecodeError):
            raise LLMConnectionError(f"the LLM server at {self.url} sent a body that is not JSON ({exc}); "
                                     "is base_url the server's /v1 endpoint?") from exc


def _sse_chunks(lines: Iterator[str], url: str) -> Iterator[dict[str, Any]]:
    """The JSON payloads of a server-sent-event stream (`data: {...}` lines; `[DONE]` ends it).
    Comments (`: ping`) and other fields (`event:`, `id:`) are skipped, as the SSE spec says."""
    for line in lines:
        if not line.startswith("data:"):
            continue
        payload = line[len("data:"):].strip()
        if payload == "[DONE]":
            return
        try:
            chunk = json.loads(payload)
        except json.JSONDecodeError as exc:
            raise LLMConnectionError(f"the LLM server at {url} streamed a line that is not JSON: "
                                     f"{payload[:200]!r}") from exc
        if isinstance(chunk, dict) and "error" in chunk:
            raise LLMError(f"the LLM server at {url} failed mid-stream: {chunk['error']}")
        yield chunk
