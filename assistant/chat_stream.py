"""The agent's callback stream as an iterator, for UIs that render with generators (Gradio).

    stream_ask(agent, "comedies like Silicon Valley")
        ─▶ ChatUpdate(sources=(chunk 1, chunk 2, …))               retrieved, before the model writes
        ─▶ ChatUpdate(partial="Silicon") ─▶ ChatUpdate(partial="Silicon Valley is…")     raw reply
        ─▶ ChatUpdate(verified=("Silicon Valley is a comedy [1].",))   each sentence once verified
        ─▶ … ─▶ ChatUpdate(partial=<raw reply>, answer=Answer(…))   (always last, exactly once)

Every update carries everything known so far (sources, raw text, verified sentences), so a page
can render any one of them alone.

`Agent.ask` runs in a worker thread and pushes each piece into a queue; the caller's thread
yields them as they come. One model instance is not thread-safe (llama.cpp), so every call on
the same LLM object is serialised by a lock keyed on it: two browser tabs asking at once queue
instead of corrupting each other's KV cache. A failure inside the agent ends the stream with
`error` set (the message of a CairnError, which names the fix) instead of a hung page.
"""
from __future__ import annotations

import queue
import threading
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from assistant.agent import Agent
from assistant.answer import Answer
from assistant.memory import Conversation
from knowledge.audit import Accessor
from knowledge.errors import CairnError
from knowledge.types import Chunk

_LOCKS: "weakref.WeakKeyDictionary[object, threading.Lock]" = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()
_DONE = object()


@dataclass(frozen=True)
class ChatUpdate:
    """One step of a streamed answer: the raw text so far, the retrieved `sources` (None until
    retrieval is done), the `verified` sentences so far; on the last step the verified `answer`
    (or `error`, a message for the user)."""

    partial: str
    answer: Answer | None = None
    error: str | None = None
    sources: tuple[Chunk, ...] | None = None
    verified: tuple[str, ...] = ()

    @property
    def final(self) -> bool:
        return self.answer is not None or self.error is not None


def model_lock(llm: object) -> threading.Lock:
    """The lock every caller of `llm` shares."""
    with _LOCKS_GUARD:
        lock = _LOCKS.get(llm)
        if lock is None:
            lock = _LOCKS[llm] = threading.Lock()
        return lock


def stream_ask(agent: Agent, question: str, *, conversation: Conversation | None = None,
               filters: Mapping[str, Any] | None = None, timeout_s: float = 600.0,
               accessor: Accessor | None = None) -> Iterator[ChatUpdate]:
    """Yield the answer to `question` as it is generated (see the module docstring); `accessor`
    goes to `Agent.ask` (who asks, for the audit log of note reads)."""
    pieces: queue.Queue = queue.Queue()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            with model_lock(agent.llm):
                outcome["answer"] = agent.ask(
                    question, conversation=conversation, filters=filters, accessor=accessor,
                    stream_callback=lambda piece: pieces.put(("piece", piece)),
                    on_sources=lambda chunks: pieces.put(("sources", tuple(chunks))),
                    on_sentence=lambda text: pieces.put(("sentence", text)))
        except CairnError as exc:
            outcome["error"] = str(exc)
        except Exception as exc:  # noqa: BLE001 - the page must end, and say what broke
            outcome["error"] = f"the assistant failed: {type(exc).__name__}: {exc}"
        finally:
            pieces.put(_DONE)

    threading.Thread(target=work, name="cairn-answer", daemon=True).start()
    text, sources, verified = "", None, ()
    while True:
        try:
            item = pieces.get(timeout=timeout_s)
        except queue.Empty:
            yield ChatUpdate(text, error=f"no answer after {timeout_s:.0f} s; the model may be overloaded, try again",
                             sources=sources, verified=verified)
            return
        if item is _DONE:
            break
        kind, value = item
        if kind == "piece":
            text += value
        elif kind == "sources":
            sources = value
        else:
            verified = (*verified, value)
        yield ChatUpdate(text, sources=sources, verified=verified)
    if "answer" in outcome:
        yield ChatUpdate(text, answer=outcome["answer"], sources=sources, verified=verified)
    else:
        yield ChatUpdate(text, error=outcome.get("error", "the assistant stopped without an answer"),
                         sources=sources, verified=verified)
