"""Tool `extract_note`: the DESIGN.md §2 fields of one clinical note (symptoms, vitals, imaging,
medications, follow-up, diagnoses, negated findings), every item with its evidence span, and
the Answer that shows them — cited by construction: each item points at the note section
that holds its span."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, Field

from assistant.answer import Answer, Citation
from assistant.extract import extract_note
from assistant.verify import SentenceCheck
from knowledge.similar import ItemNotFoundError
from knowledge.types import Chunk, Hit

from .base import ToolContext, ToolResult

NAME = "extract_note"
DESCRIPTION = ("Extract the structured fields of one clinical note by its id (e.g. 'note_0042'): symptoms, "
               "vitals, imaging, medications with dose/route/frequency/duration, follow-up, diagnoses and "
               "negated findings, each with the exact text it was read from.")
COLLECTION = "notes"
LABELS = {"symptoms": "Symptoms", "vitals": "Vitals", "imaging": "Imaging", "medications": "Medications",
          "follow_up": "Follow-up", "diagnoses": "Diagnoses", "negated_findings": "Negated findings"}


class Args(BaseModel):
    note_id: str = Field(description="the note's id")
    mode: Literal["hybrid", "rules", "llm"] = Field(
        default="hybrid", description="hybrid: rules + the model for symptoms/diagnoses/imaging; rules: no model")


def run(ctx: ToolContext, args: Args) -> ToolResult:
    kb = ctx.kb(COLLECTION)
    document = kb.store.get_document(args.note_id)
    if document is None:
        raise ItemNotFoundError(f"no note {args.note_id!r} in the notes collection; check the id "
                                "(`cairn search QUERY -c notes` lists note ids)")
    started = time.perf_counter()
    mode = args.mode if ctx.llm is not None else "rules"
    extraction = extract_note(document.text, llm=ctx.llm, mode=mode)
    chunks = sorted(kb.store.get_chunks(kb.store.chunk_ids_of([args.note_id])).values(), key=lambda c: c.span)
    hits = [Hit(chunk=c, score=1.0, ranks={"extract_note": i}) for i, c in enumerate(chunks, 1)]
    ctx.audit_document("extract", COLLECTION, document, f"mode {extraction.mode}")
    return ToolResult(hits, data={"note_id": args.note_id, "mode": extraction.mode,
                                  "fields": extraction.fields.to_dict(),
                                  "expected_fields": extraction.to_expected_fields()},
                      trace={"note_id": args.note_id, "mode": extraction.mode, "dropped": extraction.dropped,
                             "negation_moves": extraction.negation_moves, "fell_back": extraction.fell_back},
                      timings={"extract_s": time.perf_counter() - started})


def source_of(chunks: list[Chunk], start: int, end: int) -> int | None:
    """The number (1-based) of the chunk whose document span holds [start, end)."""
    for n, chunk in enumerate(chunks, 1):
        if chunk.span[0] <= start and end <= chunk.span[1]:
            return n
    return None


def extraction_answer(result: ToolResult, on_piece: Callable[[str], None]) -> Answer:
    """One line per non-empty field, each item followed by the [n] of the section holding its
    evidence; a citation per cited section, its span the extent of the evidence in it."""
    started = time.perf_counter()
    chunks = [hit.chunk for hit in result.hits]
    fields = (result.data or {}).get("fields", {})
    lines: list[SentenceCheck] = []
    extents: dict[int, tuple[int, int]] = {}

    cited: set[int] = set()  # the sources the current line cites

    def cite(evidence: dict) -> str:
        n = source_of(chunks, evidence["start"], evidence["end"])
        if n is None:
            return ""
        a, b = extents.get(n, (evidence["start"], evidence["end"]))
        extents[n] = (min(a, evidence["start"]), max(b, evidence["end"]))
        cited.add(n)
        return f" [{n}]"

    for name, label in LABELS.items():
        value = fields.get(name)
        if not value:
            continue
        cited.clear()
        if name == "vitals":
            parts = [f"{key.replace('_', ' ')} {ev['text']}{cite(ev)}" for key, ev in value.items()]
        elif name == "medications":
            parts = []
            for med in value:
                words = " ".join(med[a]["text"] for a in ("name", "dose", "route", "frequency") if med.get(a))
                duration = f" for {med['duration']['text']}" if med.get("duration") else ""
                parts.append(f"{words}{duration}{cite(med['evidence'])}")
        elif name == "follow_up":
            parts = [f"{value['text']}{cite(value)}"]
        else:
            parts = [f"{ev['text']}{cite(ev)}" for ev in value]
        text = f"{label}: {'; '.join(parts)}."
        lines.append(SentenceCheck(text, sorted(cited), True, 1.0, "evidence span found verbatim in the note",
                                   sorted(cited)))
    refused = not lines
    text = "\n".join(s.text for s in lines) if lines else "No fields could be extracted from this note."
    on_piece(text)
    citations = [] if refused else [Citation(n, chunks[n - 1].doc_id, chunks[n - 1].id, extents[n], 1.0)
                                    for n in sorted(extents)]
    return Answer(text, citations, chunks, lines, refused,
                  {"extraction": result.data, "refusal_reason": "no fields found" if refused else None},
                  {"generate_s": (result.timings or {}).get("extract_s"), "verify_s": time.perf_counter() - started})
