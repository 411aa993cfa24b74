"""A scripted `ChatLLM` for tests across the project: queued replies and log-prob tables, every
call recorded (DESIGN.md §5 "scripted fakes, not network"; simonw/llm's test fixtures).

    llm = FakeLLM(["The film is Alien [1].", "Yes"], logprob_tables=[{"SUPPORTED": -0.1}])
    llm.chat([{"role": "user", "content": "q"}]).text        -> "The film is Alien [1]."
    llm.token_logprob_of(msgs, ["SUPPORTED", "UNSUPPORTED"]) -> {"SUPPORTED": -0.1, "UNSUPPORTED": -inf}
    llm.calls[0].messages, llm.prompts[0], llm.last_request.stop   (what the code under test sent)

It behaves like a real backend where tests care: a reply is cut at the request's stop
sequences and at `max_tokens` words (finish_reason "length"), streams word by word with the
same final summary, counts tokens as words and punctuation, and renders a visible chat
template. A reply may be a string, a `FakeReply` (finish reason, scripted logprobs) or a
function of the messages (for routers and loops that call the model an unknown number of
times).
"""
from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from assistant.llm.base import (
    ChatLLM,
    Completion,
    Delta,
    FinishReason,
    GenerationRequest,
    LLMError,
    Message,
    Sampling,
    Stopwatch,
    TokenLogprob,
    truncate_at_stop,
)

# A "token" of the fake: a word or one punctuation mark, with the whitespace before it, so
# that joining tokens gives back the text exactly.
_TOKEN_RE = re.compile(r"\s*(?:\w+|[^\w\s])|\s+")


@dataclass(frozen=True)
class FakeReply:
    """A scripted reply. `token_logprobs`, when given, is returned as is when the caller
    asks for logprobs (else every token gets log p = 0, i.e. certainty)."""

    text: str
    finish_reason: FinishReason | None = None  # None: "stop", or "length" if max_tokens cut it
    token_logprobs: list[TokenLogprob] | None = None


Reply = str | FakeReply | Callable[[Sequence[Message]], "str | FakeReply"]


@dataclass(frozen=True)
class FakeCall:
    """One recorded call: which method, the messages, the rendered prompt, the request
    (None for token_logprob_of) and the candidates scored (token_logprob_of only)."""

    kind: Literal["chat", "stream", "token_logprob_of"]
    messages: list[dict[str, str]]
    prompt: str
    request: GenerationRequest | None = None
    candidates: list[str] = field(default_factory=list)


def fake_tokens(text: str) -> list[str]:
    """The fake's tokenization: words and punctuation marks, each with its leading space."""
    return _TOKEN_RE.findall(text)


class FakeLLM(ChatLLM):
    """Scripted chat model. Replies are served in order; when the queue is empty `default`
    answers (if set), else the call fails naming the prompt, so a test never silently gets
    an answer it did not script."""

    backend = "fake"

    def __init__(self, replies: Iterable[Reply] = (), *, default: Reply | None = None,
                 logprob_tables: Iterable[Mapping[str, float]] = (), model_id: str = "fake-llm",
                 defaults: Sampling | None = None) -> None:
        super().__init__(model_id=model_id, fingerprint=f"fake:{model_id}", defaults=defaults)
        self.replies: deque[Reply] = deque(replies)
        self.default = default
        self.logprob_tables: deque[Mapping[str, float]] = deque(logprob_tables)
        self.calls: list[FakeCall] = []

    # -- scripting and inspection ------------------------------------------------------------
    def queue(self, *replies: Reply) -> FakeLLM:
        """Append replies; returns self so `FakeLLM().queue("a", "b")` reads well."""
        self.replies.extend(replies)
        return self

    def queue_logprobs(self, *tables: Mapping[str, float]) -> FakeLLM:
        """Append {candidate: log p} tables for the next `token_logprob_of` calls."""
        self.logprob_tables.extend(tables)
        return self

    @property
    def prompts(self) -> list[str]:
        """The rendered prompt of every call, in order."""
        return [call.prompt for call in self.calls]

    @property
    def last_messages(self) -> list[dict[str, str]]:
        self._require_calls()
        return self.calls[-1].messages

    @property
    def last_request(self) -> GenerationRequest | None:
        self._require_calls()
        return self.calls[-1].request

    def _require_calls(self) -> None:
        if not self.calls:
            raise LLMError("FakeLLM has not been called yet; call the code under test first")

    # -- ChatLLM -----------------------------------------------------------------------------
    def _complete(self, request: GenerationRequest) -> Completion:
        return self._generate(request, "chat")[1]

    def _stream(self, request: GenerationRequest) -> Iterator[Delta]:
        # Record and script now, not at the first next(): a stream created but never
        # consumed still counts as a call, like a real request sent to a server.
        pieces, completion = self._generate(request, "stream")
        return _replay(pieces, completion)

    def _generate(self, request: GenerationRequest, kind: Literal["chat", "stream"]) -> tuple[list[str], Completion]:
        clock = Stopwatch()
        messages = self.safe_messages(request.messages)  # what a real model would be shown
        self._record(kind, messages, request=request)
        reply = self._next_reply(messages)
        text, hit_stop = truncate_at_stop(reply.text, request.stop)
        tokens = fake_tokens(text)
        finish: FinishReason = reply.finish_reason or "stop"
        if len(tokens) > request.max_tokens:
            tokens, finish = tokens[: request.max_tokens], "length"
        elif hit_stop:
            finish = "stop"
        for _ in tokens:
            clock.tick()
        logprobs = None
        if request.logprobs is not None:
            logprobs = reply.token_logprobs or [TokenLogprob(t, 0.0, {t: 0.0} if request.logprobs else {})
                                                for t in tokens]
        completion = Completion(
            text="".join(tokens), finish_reason=finish,
            prompt_tokens=self.count_tokens(self.calls[-1].prompt), completion_tokens=len(tokens),
            token_logprobs=logprobs, timings=clock.timings(len(tokens)), model_id=self.model_id,
        )
        return tokens, completion

    def _next_reply(self, messages: Sequence[Message]) -> FakeReply:
        if self.replies:
            reply = self.replies.popleft()
        elif self.default is not None:
            reply = self.default
        else:
            raise LLMError(
                f"FakeLLM has no scripted reply left (call {len(self.calls)}, last message "
                f"{messages[-1]['content'][:80]!r}); queue one with fake.queue(...) or pass default=..."
            )
        if callable(reply):
            reply = reply(messages)
        return reply if isinstance(reply, FakeReply) else FakeReply(str(reply))

    def token_logprob_of(self, messages: Sequence[Message], candidates: Sequence[str]) -> dict[str, float]:
        """From the next queued table (candidates missing from it get -inf); with no table
        queued, a uniform distribution over the candidates."""
        self._record("token_logprob_of", self.safe_messages(messages), candidates=list(candidates))
        if self.logprob_tables:
            table = self.logprob_tables.popleft()
            return {c: float(table.get(c, -math.inf)) for c in candidates}
        return {c: -math.log(len(candidates)) for c in candidates}

    def count_tokens(self, text: str) -> int:
        return len([t for t in fake_tokens(text) if t.strip()])

    def apply_chat_template(self, messages: Sequence[Message]) -> str:
        turns = "".join(f"<|{m['role']}|>\n{m['content']}\n" for m in self.safe_messages(messages))
        return turns + "<|assistant|>\n"

    def _record(self, kind: Literal["chat", "stream", "token_logprob_of"], messages: Sequence[Message],
                request: GenerationRequest | None = None, candidates: list[str] | None = None) -> None:
        self.calls.append(FakeCall(kind=kind, messages=[dict(m) for m in messages],
                                   prompt=self.apply_chat_template(messages), request=request,
                                   candidates=candidates or []))
        n = self.count_tokens(self.calls[-1].prompt)  # it reuses nothing: every token is evaluated
        self.prompt_tokens_seen += n
        self.prompt_tokens_evaluated += n


def _replay(pieces: list[str], completion: Completion) -> Iterator[Delta]:
    logprobs = completion.token_logprobs
    for i, piece in enumerate(pieces):
        yield Delta(piece, token_logprobs=None if logprobs is None else logprobs[i:i + 1])
    yield Delta("", completion=completion)
