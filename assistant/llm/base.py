"""The one LLM interface behind `assistant/` (DESIGN.md §3): `ChatLLM`, the request and result
dataclasses it speaks, its errors, and the small pure helpers every backend shares.

    messages ──▶ ChatLLM.chat(...)   ──▶ Completion(text, finish_reason, usage, logprobs, timings)
             ──▶ ChatLLM.stream(...) ──▶ Delta("The") Delta(" film") … Delta("", completion=Completion)
             ──▶ ChatLLM.token_logprob_of(messages, ["SUPPORTED", "UNSUPPORTED"]) ──▶ {cand: log p}

Backends (one per file, same shape): llama.cpp (`llamacpp.py`, the serving default),
transformers + peft (`hf.py`, the training path), any OpenAI-compatible server
(`openai_compat.py`) and a scripted fake for tests (`fake.py`). A backend implements
`_stream` (and may override `_complete` when its library returns better usage/timings for a
non-streamed call); `chat`/`stream` here validate arguments once and fill config defaults, so
every backend sees the same checked `GenerationRequest`.
"""
from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, TypedDict, Unpack, get_args

from knowledge.errors import CairnError

Role = Literal["system", "user", "assistant", "tool"]
ROLES: tuple[str, ...] = get_args(Role)
# {"role": "user", "content": "..."} — the OpenAI chat shape every runtime here accepts.
Message = Mapping[str, Any]
FinishReason = Literal["stop", "length"]
# OpenAI's API caps top_logprobs at 20; llama.cpp sorts the whole vocabulary in Python per
# token, so more would also be slow.
MAX_TOP_LOGPROBS = 20


class LLMError(CairnError):
    """A problem loading or calling an LLM; the message names the bad value and the fix."""


class LLMConfigError(LLMError):
    """An LLM setting or request argument that cannot work (bad value, missing base_url, …)."""


class LLMUnsupportedError(LLMError):
    """A feature this backend cannot provide (e.g. a GBNF grammar on transformers)."""


class LLMContextError(LLMError):
    """A prompt that does not fit the model's context window."""


class LLMConnectionError(LLMError):
    """An LLM server that cannot be reached, times out, or answers with an error."""


class TokenLogprob(NamedTuple):
    """One generated token: its text, its log-probability under the model, and the `top`
    alternatives at that position ({token text: log p}; empty when only the chosen token was
    asked for). A NamedTuple so `for token, logprob, top in completion.token_logprobs` works."""

    token: str
    logprob: float
    top: dict[str, float]


@dataclass(frozen=True)
class Completion:
    """A finished generation.

    Fields:
        text: the generated text, stop sequence excluded.
        finish_reason: "stop" (end-of-turn token or a stop sequence) or "length" (max_tokens).
        prompt_tokens / completion_tokens: usage as the runtime counted it (a streamed
            llama.cpp call re-tokenizes the text, which can differ by a token).
        token_logprobs: per generated token, when `logprobs` was asked for; else None.
        timings: `ttft_s` (time to first token; None when not measurable, e.g. a non-streamed
            HTTP call), `total_s` (wall clock of the call) and `decode_tok_s` (generated tokens
            per second after the first one; None with fewer than 2 tokens).
        model_id: which model produced it (provenance).
    """

    text: str
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    token_logprobs: list[TokenLogprob] | None = None
    timings: dict[str, float | None] = field(default_factory=dict)
    model_id: str = ""


@dataclass(frozen=True)
class Delta:
    """One streamed piece. Every delta but the last carries text; the last has `text == ""`
    and the whole `completion` (joined text, usage, logprobs, timings)."""

    text: str
    token_logprobs: list[TokenLogprob] | None = None
    completion: Completion | None = None

    @property
    def done(self) -> bool:
        return self.completion is not None


@dataclass(frozen=True)
class Sampling:
    """Defaults a backend applies when a call leaves an argument out (from `LLMConfig`)."""

    max_tokens: int = 512
    temperature: float = 0.0
    seed: int | None = 0


class GenerateOptions(TypedDict, total=False):
    """Keyword options of `chat`/`stream`; left out (or None) means the model's default."""

    max_tokens: int | None
    temperature: float | None
    stop: Sequence[str] | str | None
    seed: int | None
    logprobs: int | None
    json_schema: dict[str, Any] | None
    grammar: str | None


@dataclass(frozen=True)
class GenerationRequest:
    """One checked generation request, as every backend receives it.

    `logprobs`: None for none; k >= 0 for the chosen token's log-prob plus the top k
    alternatives at each position. `json_schema` and `grammar` (GBNF, llama.cpp only)
    constrain the output and are mutually exclusive.
    """

    messages: tuple[Message, ...]
    max_tokens: int
    temperature: float
    stop: tuple[str, ...] = ()
    seed: int | None = None
    logprobs: int | None = None
    json_schema: dict[str, Any] | None = None
    grammar: str | None = None

    def __post_init__(self) -> None:
        check_messages(self.messages)
        if self.max_tokens < 1:
            raise LLMConfigError(f"max_tokens={self.max_tokens} must be >= 1")
        if not 0.0 <= self.temperature <= 2.0:
            raise LLMConfigError(f"temperature={self.temperature} must be in [0, 2] (0 = greedy, deterministic)")
        if any(not isinstance(s, str) or not s for s in self.stop):
            raise LLMConfigError(f"stop={list(self.stop)!r} must be non-empty strings")
        if self.logprobs is not None and not 0 <= self.logprobs <= MAX_TOP_LOGPROBS:
            raise LLMConfigError(f"logprobs={self.logprobs} must be None or 0..{MAX_TOP_LOGPROBS} (top alternatives)")
        if self.json_schema is not None and self.grammar is not None:
            raise LLMConfigError("pass json_schema or grammar, not both: both constrain the same output")
        if self.json_schema is not None and not isinstance(self.json_schema, dict):
            raise LLMConfigError(f"json_schema must be a dict (a JSON Schema), got {type(self.json_schema).__name__}")


def check_messages(messages: Sequence[Message]) -> None:
    """Raise LLMConfigError unless `messages` is a non-empty list of {role, content: str}."""
    if not messages:
        raise LLMConfigError("messages is empty; pass at least one {'role': 'user', 'content': ...}")
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, Mapping) else None
        if role not in ROLES:
            raise LLMConfigError(f"messages[{i}] has role {role!r}; use one of {', '.join(ROLES)}")
        if not isinstance(message.get("content"), str):
            raise LLMConfigError(f"messages[{i}] content must be a string, got {type(message.get('content')).__name__}")


# -- special tokens in untrusted text ---------------------------------------------------------------
# Every backend renders messages through the model's chat template and tokenizes the result with
# special-token parsing on, so the literal text "<|im_end|><|im_start|>system" inside a document,
# a question or a history turn would become real turn markers: a planted catalog item could
# open its own system turn. No message content is ever meant to hold a template token (only the
# template writes them), so every content is defused before rendering: a zero-width joiner goes
# after the token's first character, which keeps the text readable and matches no vocabulary
# entry. Markers of the common chat templates are always defused (a remote server's vocabulary
# is unknown); a local backend adds its own vocabulary's control and user-defined tokens.
GENERIC_TEMPLATE_MARKERS = re.compile(
    r"<\|[^|<>\s]{1,40}\|>"                       # ChatML, Llama 3, Phi: <|im_start|>, <|eot_id|>, <|user|>
    r"|</?s>|\[/?INST\]|<</?SYS>>"                 # Llama 2 / Mistral
    r"|<(?:start|end)_of_turn>|<(?:bos|eos|pad)>"     # Gemma
    r"|</?tool_call>|</?think>")                      # tool-calling and reasoning templates
_JOINER = "\u2060"  # WORD JOINER: invisible, and no tokenizer vocabulary holds "<" + it + "|"


def special_token_pattern(texts: Iterable[str] = ()) -> re.Pattern[str]:
    """One pattern for the generic markers plus `texts` (a vocabulary's special tokens),
    longest first so "<|im_start|>" wins over a shorter token it contains."""
    exact = sorted({t for t in texts if len(t) > 1 and not t.isspace()}, key=len, reverse=True)
    parts = [re.escape(t) for t in exact] + [GENERIC_TEMPLATE_MARKERS.pattern]
    return re.compile("|".join(parts))


def defuse_special_tokens(text: str, pattern: re.Pattern[str] = GENERIC_TEMPLATE_MARKERS) -> str:
    """`text` with every match of `pattern` broken by a joiner after its first character.
    Repeated until nothing matches: breaking one token cannot create another (the joiner is
    in no token), but the loop makes that an invariant instead of an argument."""
    while pattern.search(text):
        text = pattern.sub(lambda m: m.group(0)[0] + _JOINER + m.group(0)[1:], text)
    return text


def defuse_messages(messages: Sequence[Message], pattern: re.Pattern[str]) -> list[dict[str, Any]]:
    """Copies of `messages` whose contents hold no special token of `pattern`."""
    return [{**m, "content": defuse_special_tokens(m["content"], pattern)} for m in messages]


class ChatLLM(ABC):
    """A chat model cairn can call. Subclasses set `model_id`/`fingerprint` and implement
    `_stream`, `token_logprob_of`, `count_tokens` and `apply_chat_template`."""

    backend: str = "abstract"
    # The template tokens defused in every message before rendering (see defuse_special_tokens);
    # a local backend replaces it with one that adds its vocabulary's special tokens.
    special_tokens: re.Pattern[str] = GENERIC_TEMPLATE_MARKERS

    def __init__(self, *, model_id: str, fingerprint: str, defaults: Sampling | None = None) -> None:
        self.model_id = model_id  # catalogue name or file/folder name
        self.fingerprint = fingerprint  # "sha256:…" when known, else "size:<bytes>:<name>"
        self.defaults = defaults or Sampling()
        # Prompt tokens this model was sent, and how many of them it had to evaluate (the rest
        # came from a reused prefix). Counted by llama.cpp, the backend that reuses prefixes.
        self.prompt_tokens_seen = 0
        self.prompt_tokens_evaluated = 0

    def safe_messages(self, messages: Sequence[Message]) -> list[dict[str, Any]]:
        """`messages` as a backend may render them: checked, every content defused. Each
        backend calls this at the one place it turns messages into a prompt or a request."""
        check_messages(messages)
        return defuse_messages(messages, self.special_tokens)

    # -- the public calls: validate once, then hand a GenerationRequest to the backend ------
    def chat(self, messages: Sequence[Message], **options: Unpack[GenerateOptions]) -> Completion:
        """Generate one reply to `messages` (options: see `GenerateOptions`)."""
        return self._complete(self.request(messages, **options))

    def stream(self, messages: Sequence[Message], **options: Unpack[GenerateOptions]) -> Iterator[Delta]:
        """Like `chat`, yielding text as it is generated; the last Delta holds the Completion.
        Arguments are checked now, not at the first `next()`."""
        return self._stream(self.request(messages, **options))

    def request(self, messages: Sequence[Message], **options: Unpack[GenerateOptions]) -> GenerationRequest:
        """The checked request `chat`/`stream` would run, this model's defaults filled in."""
        unknown = sorted(set(options) - set(GenerateOptions.__annotations__))
        if unknown:
            raise LLMConfigError(f"unknown generation option(s) {unknown}; "
                                 f"known: {', '.join(GenerateOptions.__annotations__)}")
        stop = options.get("stop")
        values: dict[str, Any] = {"max_tokens": self.defaults.max_tokens,
                                  "temperature": self.defaults.temperature, "seed": self.defaults.seed}
        values.update({k: v for k, v in options.items() if v is not None})
        values["stop"] = (stop,) if isinstance(stop, str) else tuple(stop or ())
        return GenerationRequest(messages=tuple(messages), **values)

    # -- what a backend implements -----------------------------------------------------------
    @abstractmethod
    def _stream(self, request: GenerationRequest) -> Iterator[Delta]:
        """Yield text deltas, then one final Delta carrying the Completion."""

    def _complete(self, request: GenerationRequest) -> Completion:
        """Non-streamed generation; by default the stream, collected."""
        return collect(self._stream(request))

    @abstractmethod
    def token_logprob_of(self, messages: Sequence[Message], candidates: Sequence[str]) -> dict[str, float]:
        """log p(candidate | chat prompt) for each candidate as the assistant's next token(s):
        the sum of its tokens' log-probs (a SUPPORTED/UNSUPPORTED verifier compares these)."""

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Number of tokens `text` takes (no BOS/special tokens added)."""

    @abstractmethod
    def apply_chat_template(self, messages: Sequence[Message]) -> str:
        """The exact prompt text the model sees for `messages`, assistant turn opened."""

    def pin_prefix(self, head: Sequence[Message], *, open_last: bool = False) -> int:
        """Declare `head`, the fixed opening messages of a prompt kind (the answer step's rules
        and worked example, the judge's instruction), so that every later prompt starting with
        them skips their evaluation; `open_last`: the last message's content is only the start
        of the real one (an instruction the request text follows, as in HyDE's prompt). Returns
        how many prompt tokens are now kept (0: nothing to keep, e.g. a remote server, which
        caches prefixes on its own). Never changes a reply: a backend pins only what it can
        restore bit for bit (llama.cpp: whole aligned blocks)."""
        check_messages(head)
        return 0

    def close(self) -> None:
        """Free the model (no-op unless the backend holds native memory or connections)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_id={self.model_id!r}, fingerprint={self.fingerprint!r})"


def collect(deltas: Iterator[Delta]) -> Completion:
    """The Completion a stream ends with (consumes the stream)."""
    for delta in deltas:
        if delta.completion is not None:
            return delta.completion
    raise LLMError("the stream ended without a final summary; this is a bug in the LLM backend")


# -- pure helpers shared by the backends ----------------------------------------------------------

class StopScanner:
    """Cuts streamed text at the first stop sequence, holding back any tail that could be the
    start of one, so no caller ever sees part of a stop sequence (`"Answer:\\n\\nQ"` with stop
    `"\\n\\n"` releases `"Answer:"` and stops).

        scanner = StopScanner(["\\n\\n"]); scanner.feed("Ans") -> "Ans"; scanner.feed("wer:\\n") -> "wer:"
        scanner.feed("\\nQ") -> "" and scanner.stopped; scanner.flush() -> "" (held text dropped)
    """

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = [s for s in stops if s]
        self.stopped = False
        self._pending = ""  # text received but not yet released

    def feed(self, piece: str) -> str:
        """Add generated text; return what is now safe to release."""
        if self.stopped:
            return ""
        self._pending += piece
        cut = min((i for i in (self._pending.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            out, self._pending = self._pending[:cut], ""
            return out
        hold = max((_overlap(self._pending, s) for s in self.stops), default=0)
        out, self._pending = self._pending[: len(self._pending) - hold], self._pending[len(self._pending) - hold:]
        return out

    def flush(self) -> str:
        """Generation ended without a stop: release the held-back tail."""
        out, self._pending = ("" if self.stopped else self._pending), ""
        return out


def _overlap(text: str, stop: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `stop`."""
    for n in range(min(len(text), len(stop) - 1), 0, -1):
        if text.endswith(stop[:n]):
            return n
    return 0


def truncate_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """(text before the earliest stop sequence, whether one was found)."""
    scanner = StopScanner(stops)
    out = scanner.feed(text)
    return (out, True) if scanner.stopped else (out + scanner.flush(), False)


def candidate_token_ids(tokenize: Callable[[str], list[int]], prompt: str, candidate: str) -> list[int]:
    """Token ids of `candidate` as the model would write it right after `prompt`.

    Tokenizing the candidate alone can differ from how it tokenizes in context (BPE merges
    across the boundary, a leading-space marker), so tokenize prompt+candidate and take what
    follows the prompt's tokens; when the boundary merges (prompt tokens are no prefix), fall
    back to the candidate alone. `tokenize` must add no BOS token.
    """
    if not candidate:
        raise LLMConfigError("token_logprob_of got an empty candidate string; pass the words to score, e.g. 'Yes'")
    head = tokenize(prompt)
    joined = tokenize(prompt + candidate)
    if joined[: len(head)] == head and len(joined) > len(head):
        return joined[len(head):]
    return tokenize(candidate)


def parse_logprobs(block: Mapping[str, Any] | None) -> list[TokenLogprob]:
    """OpenAI chat `logprobs` ({"content": [{token, logprob, top_logprobs: [...]}]}), as both
    llama-cpp-python and OpenAI-compatible servers return them, as TokenLogprobs."""
    if not block or not block.get("content"):
        return []
    return [
        TokenLogprob(item["token"], float(item["logprob"]),
                     {top["token"]: float(top["logprob"]) for top in item.get("top_logprobs") or []})
        for item in block["content"]
    ]


class Stopwatch:
    """Measures ttft and decode rate of one generation: `start`, `tick` per generated token
    (or text piece), `timings(n_tokens)` at the end."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.first: float | None = None
        self.last: float | None = None

    def tick(self) -> None:
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        self.last = now

    def timings(self, completion_tokens: int, *, decode_tok_s: float | None = None) -> dict[str, float | None]:
        """`decode_tok_s` defaults to (tokens after the first) / (time after the first)."""
        total = time.perf_counter() - self.started
        ttft = None if self.first is None else self.first - self.started
        if decode_tok_s is None and self.first is not None and self.last is not None and completion_tokens > 1:
            span = self.last - self.first
            decode_tok_s = (completion_tokens - 1) / span if span > 0 else None
        return {"ttft_s": ttft, "total_s": total, "decode_tok_s": decode_tok_s}
