"""An Answer as the CLI shows it (sources list, trace) and as JSON (for `--json`, eval
results and the UI's API): one place, so every surface shows the same thing."""
from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from assistant.answer import Answer
from knowledge.types import Chunk


def answer_to_dict(answer: Answer) -> dict[str, Any]:
    """JSON-ready: text, refused, citations (with each cited passage), sources, sentences,
    trace, timings."""
    return {
        "text": answer.text,
        "refused": answer.refused,
        "citations": [{**asdict(c), "span": list(c.span), "title": _title(answer, c.n),
                       "quote": cited_quote(answer, c.n)} for c in answer.citations],
        "sources": [{"n": n, "doc_id": c.doc_id, "chunk_id": c.id, "span": list(c.span), "text": c.text,
                     "metadata": c.metadata} for n, c in enumerate(answer.chunks, 1)],
        "sentences": [asdict(s) for s in answer.sentences],
        "trace": answer.trace,
        "timings": answer.timings,
    }


def answer_json(answer: Answer) -> str:
    return json.dumps(answer_to_dict(answer), ensure_ascii=False, indent=2, default=str)


def cited_offsets(chunk: Chunk, span: tuple[int, int]) -> tuple[int, int]:
    """A citation's document span as [start, end) offsets inside its chunk's text, clamped to it."""
    start = min(max(0, span[0] - chunk.span[0]), len(chunk.text))
    return start, min(max(start, span[1] - chunk.span[0]), len(chunk.text))


def cited_quote(answer: Answer, n: int) -> str:
    """The supporting passage of citation n: its span cut out of the chunk's text."""
    citation = next(c for c in answer.citations if c.n == n)
    chunk = answer.chunks[n - 1]
    start, end = cited_offsets(chunk, citation.span)
    return chunk.text[start:end].strip()


def source_label(chunk: Chunk) -> str:
    """`title (type, year)` for a catalog chunk, `doc_id (patient, date, section)` for a note."""
    meta = chunk.metadata
    facts = ", ".join(str(meta[k]) for k in ("type", "year", "patient_id", "date", "section") if meta.get(k))
    label = meta.get("title") or chunk.doc_id
    return f"{label} ({facts})" if facts else str(label)


def _title(answer: Answer, n: int) -> str:
    return source_label(answer.chunks[n - 1])


def sources_text(answer: Answer, *, width: int = 160) -> str:
    """The cited sources, one block each: `[n] title (facts) doc_id` and the quoted passage."""
    if answer.refused or not answer.citations:
        return "Sources: none cited."
    lines = ["Sources:"]
    for c in sorted(answer.citations, key=lambda c: c.n):
        quote = " ".join(cited_quote(answer, c.n).split())
        quote = quote if len(quote) <= width else quote[:width - 1] + "…"
        score = f"  support {c.score:.2f}" if c.score is not None else ""
        lines += [f"  [{c.n}] {_title(answer, c.n)}  {c.doc_id}{score}", f"      \"{quote}\""]
    return "\n".join(lines)


def trace_text(answer: Answer) -> str:
    """Route, filters, tool call, verification and timings: what `--show-trace` prints."""
    t = answer.trace
    plan = t.get("plan", {})
    lines = ["Trace:", f"  route: {plan.get('route')}   resolution: {t.get('resolution')}   role: {t.get('role')}",
             f"  query: {plan.get('query')!r}   filters: {json.dumps(plan.get('filters', {}), default=str)}"]
    lines += [f"    {s['phrase']!r} -> {s['became']}" for s in plan.get("spans", [])]
    tool = t.get("tool")
    if tool:
        lines.append(f"  tool: {tool['name']}({json.dumps(tool['args'], default=str)})")
    for check in answer.sentences:
        verdict = {True: "supported", False: "UNSUPPORTED", None: "-"}[check.supported]
        lines.append(f"  [{verdict}] {check.text}  ({check.reason})")
    for key in ("removed", "flagged", "repointed", "injection_suspects"):
        if t.get(key):
            lines.append(f"  {key}: {t[key]}")
    if t.get("refusal_reason"):
        lines.append(f"  refusal: {t['refusal_reason']}")
    timings = ", ".join(f"{k}={v:.3f}" for k, v in answer.timings.items() if isinstance(v, float))
    lines.append(f"  timings: {timings}")
    return "\n".join(lines)
