"""Clinical-note extraction (DESIGN.md §2 fields, §3 `extract` flow): `extract_note(text, llm=...,
mode="rules"|"llm"|"hybrid")` returns fields where every item carries its evidence span.

    schema.py      Evidence, Vital, Medication, ExtractedFields, Extraction, TraceEvent
    spans.py       locating quotes in the note          sections.py   section headers
    negation.py    NegEx-style negation scopes          vitals.py / medications.py / follow_up.py
    findings.py    rule symptoms/diagnoses/imaging      rules.py      all fields by rules
    prompt.py      JSON schema + messages               decode.py     constrained decoding, repair
    grounding.py   model quotes -> spans (or dropped)   validate.py   negation, conflicts, repeats
    pipeline.py    extract_note                         cli.py / evaluate.py   `cairn extract`, evals
"""
from __future__ import annotations

from .errors import (
    ExtractConfigError,
    ExtractError,
    ExtractSchemaError,
    NoteNotFoundError,
    ReplyError,
    SpanMismatchError,
)
from .pipeline import ExtractConfig, extract_note
from .schema import (
    FIELDS,
    MODES,
    Evidence,
    ExtractedFields,
    Extraction,
    Medication,
    Mode,
    TraceEvent,
    Vital,
    verify_spans,
)

__all__ = [
    "FIELDS", "MODES", "Evidence", "ExtractConfig", "ExtractConfigError", "ExtractError", "ExtractSchemaError",
    "ExtractedFields", "Extraction", "Medication", "Mode", "NoteNotFoundError", "ReplyError", "SpanMismatchError",
    "TraceEvent", "Vital", "extract_note", "verify_spans",
]
