"""The answer step (DESIGN.md §3): numbered context -> the local LLM answers with [n] markers,
streamed -> the citation verifier -> Answer(text, citations, chunks, sentences, refused,
trace, timings).

    question, hits ─▶ guard_question ─stop─▶ refusal (no model call)
                   ─▶ build_messages ─▶ llm.stream ─▶ raw reply (each piece to stream_callback)
                   ─▶ the model refused? ─▶ refusal
                   ─▶ split_sentences ─▶ Verifier.verify ─▶ policy: "remove" drops unsupported
                      sentences, "flag" keeps them marked [unverified] without their markers
                   ─▶ no supported sentence left? ─▶ refusal
                   ─▶ Answer, each Citation narrowed to the chunk sentence that best matches

A refusal is always the same sentence (prompts.REFUSAL_TEXT, or GUARD_REFUSAL_TEXT for the
guard) and carries no citations, so evals can score it (evals/metrics/refusal.py).

The stream is the model's raw reply; `Answer.text` is the verified one and may differ
(sentences removed, a citation re-pointed): a UI shows the stream as it comes and replaces
it with `Answer.text` when the call returns.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

from assistant.citations import AnswerSentence, claim_text, split_sentences, split_valid, with_markers
from assistant.context import compact_chunk
from assistant.llm.base import ChatLLM, Completion
from assistant.prompts import (
    GUARD_REFUSAL_TEXT,
    REFUSAL_TEXT,
    answer_head,
    build_messages,
    guard_question,
    injection_kinds,
    is_refusal_reply,
    leaks_system_prompt,
    passage_text,
)
from assistant.verify import SentenceCheck, Verifier, VerifierConfig, lexical_support
from knowledge.chunking.sentences import sentence_spans
from knowledge.embedder import Embedder
from knowledge.errors import CairnError
from knowledge.types import Chunk, Hit

Policy = Literal["remove", "flag"]
POLICIES: tuple[str, ...] = get_args(Policy)
FLAG_TEXT = "[unverified]"  # appended to a kept unsupported sentence under policy="flag"
# What an answer cost the model, as its trace records it: prompt tokens sent and evaluated (the
# rest came from a reused prefix), and the verifier's judge calls and their prompt tokens.
COST_KEYS = ("prompt_tokens", "prompt_tokens_evaluated", "judge_calls", "judge_tokens", "judge_tokens_evaluated")


class AnswerError(CairnError):
    """A bad argument to the answer step; the message names it and the fix."""


@dataclass(frozen=True)
class Citation:
    """One source the answer relies on.

    Fields:
        n: the source's number in the context and in the answer's [n] markers.
        doc_id / chunk_id: which document and chunk.
        span: [start, end) in the DOCUMENT's text of the supporting passage: the chunk's span,
            narrowed to the chunk sentence(s) that best match the citing claims.
        score: the best verifier score among the sentences citing it (None: not verified).
    """

    n: int
    doc_id: str
    chunk_id: str
    span: tuple[int, int]
    score: float | None

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"Citation n={self.n} must be >= 1 (sources are numbered from 1)")
        if not 0 <= self.span[0] <= self.span[1]:
            raise ValueError(f"Citation span {self.span!r} is invalid; need 0 <= start <= end")


@dataclass(frozen=True)
class Answer:
    """The result of one question.

    Fields:
        text: what to show (verified; or the refusal sentence).
        citations: sources cited by the shown, supported sentences; empty when refused.
        chunks: the numbered context: source n is chunks[n - 1] (kept when refused, so a UI
            can show what was searched).
        sentences: every sentence of the model's reply with its verdict.
        refused: the answer declines (no sources, guard, model refusal, nothing supported).
        trace: what happened, for debugging and provenance (model, context, raw reply, …).
        timings: seconds: generate_s, ttft_s, verify_s, total_s (and decode_tok_s).
    """

    text: str
    citations: list[Citation]
    chunks: list[Chunk]
    sentences: list[SentenceCheck]
    refused: bool
    trace: dict[str, Any]
    timings: dict[str, float | None]

    def __post_init__(self) -> None:
        if self.refused and self.citations:
            raise ValueError("a refused Answer cannot carry citations; this is a bug in the answer step")


def answer_question(llm: ChatLLM, question: str, hits: Sequence[Hit | Chunk], *,
                    history: Sequence[Mapping[str, Any]] = (), verify: bool = True, policy: Policy = "remove",
                    stream_callback: Callable[[str], None] | None = None, config: VerifierConfig | None = None,
                    embedder: Embedder | None = None, max_tokens: int | None = None,
                    on_sentence: Callable[[str], None] | None = None,
                    context_tokens: int | None = None) -> Answer:
    """Answer `question` from `hits` (retrieval order = source numbers) with verified citations.

    history: earlier {"role": "user"|"assistant", "content": …} turns (others are dropped).
    verify: run the verifier (off: sentences are shown as written, supported=None).
    policy: "remove" unsupported sentences, or "flag" them (kept, marked FLAG_TEXT).
    stream_callback: receives the model's reply piece by piece as it is generated.
    config / embedder: the verifier's settings and optional embedding signal.
    max_tokens: cap on the reply (None: the model's default).
    context_tokens: per-source budget of text tokens the model reads (context.compact_chunk:
        the sentences most relevant to the question); None: every source whole.
    on_sentence: receives each sentence as it will be shown, once verified (in order; under
        "flag" an unsupported one comes marked). A UI can show these instead of the raw stream:
        under "remove" nothing unsupported ever reaches it.
    """
    started = time.perf_counter()
    if not isinstance(question, str) or not question.strip():
        raise AnswerError(f"question={question!r} is empty; ask something, e.g. 'films about glaciers'")
    if policy not in POLICIES:
        raise AnswerError(f"policy={policy!r} is unknown; use one of {', '.join(POLICIES)}")
    chunks = [hit.chunk if isinstance(hit, Hit) else hit for hit in hits]
    # What the model reads of each source (context.py); citations keep the whole chunk.
    views = chunks if context_tokens is None else [compact_chunk(c, question, context_tokens, llm.count_tokens)
                                                   for c in chunks]
    passages = [passage_text(view) for view in views]
    trace: dict[str, Any] = {
        "model_id": llm.model_id, "question": question, "policy": policy, "verify": verify,
        "context": [{"n": n, "doc_id": c.doc_id, "chunk_id": c.id, "score": getattr(hit, "score", None),
                     **({"shown_chars": len(v.text)} if v is not c else {})}
                    for n, (c, v, hit) in enumerate(zip(chunks, views, hits), 1)],
        # Sources that look like they carry instructions: fenced like all others, but worth a look.
        "injection_suspects": [n for n, text in enumerate(passages, 1) if injection_kinds(text)],
    }
    timings: dict[str, float | None] = {}
    refuse = _Refuser(chunks, trace, timings, started, stream_callback)

    guard = guard_question(question)
    if guard:
        trace["guard"] = guard
        return refuse(GUARD_REFUSAL_TEXT, f"guard: {guard}", announce=True)
    if not chunks:
        return refuse(REFUSAL_TEXT, "no sources retrieved", announce=True)

    llm.pin_prefix(answer_head())
    evaluated = llm.prompt_tokens_evaluated
    completion = _generate(llm, build_messages(question, views, history), stream_callback, max_tokens)
    raw = completion.text
    timings.update(generate_s=completion.timings.get("total_s"), ttft_s=completion.timings.get("ttft_s"),
                   decode_tok_s=completion.timings.get("decode_tok_s"))
    trace.update(raw_answer=raw, finish_reason=completion.finish_reason,
                 prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens,
                 prompt_tokens_evaluated=llm.prompt_tokens_evaluated - evaluated)
    if leaks_system_prompt(raw, min_shared=_LEAKED_REPLY_SHINGLES):
        # Most of the reply is our prompt: dropping only its long sentences would leave the
        # short rules ("Do not add outside knowledge.") standing, so nothing of it is shown.
        return refuse(REFUSAL_TEXT, "the reply repeats the system prompt")
    sentences = split_sentences(raw)
    if not any(s.cited for s in sentences) and is_refusal_reply(raw):
        return refuse(REFUSAL_TEXT, "the model found no answer in the sources")

    verify_start = time.perf_counter()
    verifier = Verifier(llm, config, embedder) if verify else None
    checked = verifier.checks(sentences, passages) if verifier else (_unverified(s, len(chunks)) for s in sentences)
    checks: list[SentenceCheck] = []
    shown: list[SentenceCheck | None] = []
    release = _Release(verify, on_sentence, started, timings)
    for check in checked:  # one at a time, so each verified sentence reaches the screen at once
        # A sentence quoting our rules goes whatever the policy: flagging would still show it.
        leak = leaks_system_prompt(check.text)
        check = replace(check, supported=False, reason=_LEAK_REASON) if leak else check
        checks.append(check)
        shown.append(_shown(check, leak, policy))
        release(shown[-1])
    if verifier is not None:
        trace.update(verifier=verifier.config.to_dict(), judge_calls=verifier.judge_calls,
                     judge_tokens=verifier.judge_tokens, judge_tokens_evaluated=verifier.judge_tokens_evaluated)
    timings["verify_s"] = time.perf_counter() - verify_start

    final = [s if s is not None else c for c, s in zip(checks, shown)]  # flagged ones re-texted
    visible = [s for s in shown if s is not None]
    trace.update(removed=[c.text for c, s in zip(checks, shown) if s is None],
                 flagged=[s.text for s in visible if s.supported is False],
                 repointed=[{"text": c.text, "from": c.original_cited, "to": c.cited} for c in checks if c.repointed])
    # Verified, an answer needs one supported sentence; unverified, any sentence left will do.
    answered = any(s.supported is True for s in visible) if verify else bool(visible)
    if not answered:
        return refuse(REFUSAL_TEXT, "no sentence of the reply is supported by its sources", checks=final)
    text = _assemble(raw, sentences, shown)
    citations = _citations([s for s in visible if s.supported is not False], chunks)
    timings["total_s"] = time.perf_counter() - started
    return Answer(text, citations, chunks, final, False, trace, timings)


# -- steps -----------------------------------------------------------------------------------------

def _generate(llm: ChatLLM, messages: list[dict[str, str]], callback: Callable[[str], None] | None,
              max_tokens: int | None) -> Completion:
    options = {"max_tokens": max_tokens} if max_tokens is not None else {}
    if callback is None:
        return llm.chat(messages, **options)
    for delta in llm.stream(messages, **options):
        if delta.text:
            callback(delta.text)
        if delta.completion is not None:
            return delta.completion
    raise AnswerError(f"the stream of {llm.model_id!r} ended without a final completion; "
                      "this is a bug in its backend")


def _unverified(sentence: AnswerSentence, n_sources: int) -> SentenceCheck:
    valid, _ = split_valid(sentence.cited, n_sources)
    text = sentence.text if list(valid) == list(sentence.cited) else with_markers(sentence.text, valid)
    return SentenceCheck(text, list(valid), None, None, "not verified (verify=False)", list(sentence.cited))


_LEAK_REASON = "repeats the system prompt: removed whatever the policy"
# 8-word runs a reply shares with our prompts: one is handled per sentence; three mean the
# reply is the prompt itself.
_LEAKED_REPLY_SHINGLES = 3


def _shown(check: SentenceCheck, leak: bool, policy: Policy) -> SentenceCheck | None:
    """What is shown of one check: the check (re-texted when flagged) or None (removed)."""
    if leak or (check.supported is False and policy == "remove"):
        return None
    if check.supported is False:  # flag: keep the words, drop markers that would vouch for them
        return replace(check, text=f"{with_markers(check.text, [])} {FLAG_TEXT}")
    return check


class _Release:
    """Hands each shown sentence to `on_sentence` as soon as it may appear on screen. Verified,
    a sentence with nothing to check ("Here are two matches:"), or one kept flagged, waits for
    the next supported one: if none comes the answer is a refusal, and it must not have shown.
    `timings["first_verified_s"]`: seconds from `started` to the first sentence released."""

    def __init__(self, verify: bool, on_sentence: Callable[[str], None] | None, started: float,
                 timings: dict[str, float | None]) -> None:
        self.verify, self.on_sentence, self.started, self.timings = verify, on_sentence, started, timings
        self._waiting: list[str] = []

    def __call__(self, shown: SentenceCheck | None) -> None:
        if shown is None:
            return
        self._waiting.append(shown.text)
        if self.verify and shown.supported is not True:
            return
        self.timings.setdefault("first_verified_s", time.perf_counter() - self.started)
        if self.on_sentence is not None:
            for text in self._waiting:
                self.on_sentence(text)
        self._waiting.clear()


def _assemble(raw: str, sentences: Sequence[AnswerSentence], shown: Sequence[SentenceCheck | None]) -> str:
    """The shown sentences, each followed by the whitespace that followed it in the reply, so
    a bulleted list stays a list when an item is removed."""
    parts: list[str] = []
    for i, (sentence, item) in enumerate(zip(sentences, shown)):
        if item is None:
            continue
        end = sentence.span[1]
        gap = raw[end:sentences[i + 1].span[0]] if i + 1 < len(sentences) else ""
        parts.append(item.text + (gap or " "))
    return "".join(parts).strip()


def _citations(kept: Sequence[SentenceCheck], chunks: Sequence[Chunk]) -> list[Citation]:
    """One Citation per source cited by a kept sentence, in order of first mention."""
    claims: dict[int, list[str]] = {}
    scores: dict[int, float | None] = {}
    for check in kept:
        for n in check.cited:
            claims.setdefault(n, []).append(claim_text(check.text))
            if check.score is not None:
                scores[n] = max(check.score, scores.get(n) or 0.0)
            else:
                scores.setdefault(n, None)
    return [Citation(n, chunks[n - 1].doc_id, chunks[n - 1].id, narrow_span(chunks[n - 1], claims[n]), scores[n])
            for n in claims]


def narrow_span(chunk: Chunk, claims: Sequence[str]) -> tuple[int, int]:
    """The chunk's document span narrowed to the smallest range covering, for each claim, the
    chunk sentence with the highest lexical coverage of it (the first on a tie). A claim no
    sentence covers at all (e.g. supported by the metadata header) keeps the whole chunk."""
    sentences = [(a, b) for a, b in sentence_spans(chunk.text) if chunk.text[a:b].strip()]
    picked: list[tuple[int, int]] = []
    for claim in claims:
        coverages = [lexical_support(claim, chunk.text[a:b]).coverage for a, b in sentences]
        if not coverages or max(coverages) == 0.0:
            return chunk.span
        a, b = sentences[coverages.index(max(coverages))]
        while b > a and chunk.text[b - 1].isspace():  # spans keep trailing whitespace; a citation does not
            b -= 1
        picked.append((a, b))
    start = chunk.span[0]
    return start + min(a for a, _ in picked), start + max(b for _, b in picked)


class _Refuser:
    """Builds the refusal Answer: fixed text, no citations, the reason in the trace."""

    def __init__(self, chunks: list[Chunk], trace: dict[str, Any], timings: dict[str, float | None],
                 started: float, callback: Callable[[str], None] | None) -> None:
        self.chunks, self.trace, self.timings, self.started, self.callback = chunks, trace, timings, started, callback

    def __call__(self, text: str, reason: str, *, checks: Sequence[SentenceCheck] = (),
                 announce: bool = False) -> Answer:
        if announce and self.callback is not None:  # nothing was streamed: the UI still gets words
            self.callback(text)
        self.trace["refusal_reason"] = reason
        self.timings["total_s"] = time.perf_counter() - self.started
        return Answer(text, [], self.chunks, list(checks), True, self.trace, self.timings)
