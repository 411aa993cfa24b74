"""What the LLM is asked: the JSON schema its reply must follow (llama.cpp turns it into a
grammar, so a reply cannot leave it) and the messages around the note.

    response_schema(("symptoms", "diagnoses", "imaging"))   hybrid: the fields rules do badly
    response_schema(FIELDS)                                  llm: all seven

Every value in the schema is a string the model must copy from the note; our code finds it
there (grounding.py), so a wrong quote is dropped instead of trusted. Two worked examples (short
notes written for this prompt, not from the golden set) show the quoting and the negation
rule; `hints` from the rule extractors tell the model what is already known (negated findings,
medications), the usual confusions of a small model.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import ExtractConfigError
from .schema import FIELDS, VITAL_NAMES

_QUOTE = {"type": "string", "minLength": 1, "maxLength": 80}
# anyOf, not "type": [..]: llama.cpp's schema converter drops maxLength from a type list.
_NULLABLE_QUOTE = {"anyOf": [{"type": "string", "minLength": 1, "maxLength": 60}, {"type": "null"}]}
FIELD_SCHEMAS: dict[str, dict[str, Any]] = {
    "symptoms": {"type": "array", "items": _QUOTE, "maxItems": 8},
    "vitals": {"type": "object", "properties": {name: _NULLABLE_QUOTE for name in VITAL_NAMES},
               "required": list(VITAL_NAMES), "additionalProperties": False},
    "imaging": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 160}, "maxItems": 3},
    "medications": {"type": "array", "maxItems": 8, "items": {
        "type": "object", "additionalProperties": False,
        "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 60},
                       **{a: _NULLABLE_QUOTE for a in ("dose", "route", "frequency", "duration")}},
        "required": ["name", "dose", "route", "frequency", "duration"]}},
    "follow_up": _NULLABLE_QUOTE,
    "diagnoses": {"type": "array", "items": _QUOTE, "maxItems": 6},
    "negated_findings": {"type": "array", "items": _QUOTE, "maxItems": 8},
}
HYBRID_FIELDS = ("symptoms", "diagnoses", "imaging")

FIELD_HELP = {
    "symptoms": "complaints the patient reports now (after \"presents with\", \"c/o\", \"reports\", \"+\"), "
                "one per item. Never a denied or absent one, never an exam finding",
    "vitals": "each vital sign value with its unit as written (\"101.3F\", \"120/80\", \"96%\"), or null",
    "imaging": "each imaging study with its result, copied as one quote (\"<study>: <result>\" or "
               "\"<study> showed <result>\" as the note words it)",
    "medications": "each drug with a dose: name, dose, route, frequency, duration as written (null if not said)",
    "follow_up": "the follow-up interval as written, e.g. \"2 weeks\", or null",
    "diagnoses": "the diagnosis of the assessment or impression, and each condition of the past history "
                 "(\"PMH of\", \"history of\"), one per item",
    "negated_findings": "findings the note denies or rules out (\"denies X\", \"no X\", \"negative for X\")",
}

SYSTEM_PROMPT = (
    "You extract facts from one clinical note into JSON.\n"
    "- Copy every value word for word from the note: a short exact quote. Never paraphrase or invent.\n"
    "- A finding after \"denies\", \"no\", \"negative for\" or \"without\" is NOT a symptom.\n"
    "- Diagnoses are diseases, not symptoms and not drugs.\n"
    "- Use [] or null when the note does not say."
)

# Two worked examples (written for this prompt, not from the golden set): one with imaging
# and a numbered assessment, one narrative without imaging, so "[]" is seen as a normal answer.
EXAMPLES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("HPI: 57 y/o F with PMH of hypothyroidism presents with right shoulder pain x 2 weeks, associated with "
     "stiffness. Denies numbness or fever.\n"
     "MEDICATIONS: levothyroxine 50 mcg PO daily\n"
     "VITALS: T 98.4F, BP 128/76, HR 72, RR 14, SpO2 98%\n"
     "EXAM: painful arc; no swelling.\n"
     "IMAGING: XR shoulder: no fracture\n"
     "ASSESSMENT: 1. rotator cuff tendinopathy 2. hypothyroidism, stable\n"
     "PLAN: naproxen 500 mg PO BID PRN x 10 days. Follow up in 3 weeks.",
     {"symptoms": ["right shoulder pain", "stiffness"],
      "vitals": {"temperature": "98.4F", "blood_pressure": "128/76", "heart_rate": "72", "respiratory_rate": "14",
                 "spo2": "98%"},
      "imaging": ["XR shoulder: no fracture"],
      "medications": [{"name": "levothyroxine", "dose": "50 mcg", "route": "PO", "frequency": "daily",
                       "duration": None},
                      {"name": "naproxen", "dose": "500 mg", "route": "PO", "frequency": "BID PRN",
                       "duration": "10 days"}],
      "follow_up": "3 weeks",
      "diagnoses": ["hypothyroidism", "rotator cuff tendinopathy"],
      "negated_findings": ["numbness", "fever", "swelling"]}),
    ("Phone call with the patient, who reports ear pain and muffled hearing for 2 days. She has a history of "
     "eczema. No discharge from the ear. Likely otitis externa. Prescribed ciprofloxacin-dexamethasone 4 drops "
     "in the affected ear twice daily for 7 days. Call back as needed.",
     {"symptoms": ["ear pain", "muffled hearing"],
      "vitals": {"temperature": None, "blood_pressure": None, "heart_rate": None, "respiratory_rate": None,
                 "spo2": None},
      "imaging": [],
      "medications": [{"name": "ciprofloxacin-dexamethasone", "dose": "4 drops", "route": "in the affected ear",
                       "frequency": "twice daily", "duration": "7 days"}],
      "follow_up": "as needed",
      "diagnoses": ["eczema", "otitis externa"],
      "negated_findings": ["discharge from the ear"]}),
)


def _check_fields(fields: Sequence[str]) -> tuple[str, ...]:
    unknown = [f for f in fields if f not in FIELD_SCHEMAS]
    if unknown or not fields:
        raise ExtractConfigError(f"fields {list(fields)} must be a non-empty subset of {list(FIELDS)}")
    return tuple(f for f in FIELDS if f in fields)  # schema order = the order the model writes them


def response_schema(fields: Sequence[str]) -> dict[str, Any]:
    """The JSON schema of a reply holding `fields` (all required, nothing else allowed)."""
    fields = _check_fields(fields)
    return {"type": "object", "properties": {f: FIELD_SCHEMAS[f] for f in fields},
            "required": list(fields), "additionalProperties": False}


def _task(fields: Sequence[str]) -> str:
    return "Return a JSON object with these keys:\n" + "\n".join(f"- {f}: {FIELD_HELP[f]}" for f in fields)


def _hint_text(hints: Mapping[str, Sequence[str]] | None) -> str:
    lines = [f"- {HINT_LABELS.get(name, name)}: {'; '.join(values)}" for name, values in (hints or {}).items()
             if values]
    return ("Known from this note (not symptoms, not diagnoses):\n" + "\n".join(lines) + "\n\n") if lines else ""


HINT_LABELS = {"negated_findings": "denied or absent", "medications": "drugs"}


def build_messages(note: str, fields: Sequence[str], hints: Mapping[str, Sequence[str]] | None = None
                   ) -> list[dict[str, str]]:
    """System prompt, the worked examples (same fields), then the note; `hints` ({"negated_findings":
    [...], "medications": [...]}: what the rules already found) go before the note."""
    fields = _check_fields(fields)
    messages = [{"role": "system", "content": SYSTEM_PROMPT}]
    for example_note, answer in EXAMPLES:
        messages.append({"role": "user", "content": f"{_task(fields)}\n\nNote:\n{example_note}"})
        messages.append({"role": "assistant", "content": json.dumps({f: answer[f] for f in fields},
                                                                    ensure_ascii=False)})
    messages.append({"role": "user", "content": f"{_task(fields)}\n\n{_hint_text(hints)}Note:\n{note}"})
    return messages


def repair_messages(messages: Sequence[Mapping[str, str]], reply: str, error: str) -> list[dict[str, str]]:
    """The conversation so far plus the bad reply and what is wrong with it."""
    return [*(dict(m) for m in messages), {"role": "assistant", "content": reply},
            {"role": "user", "content": f"That reply is not valid: {error}. Answer again with only the corrected "
                                        "JSON object, the same keys, every value copied from the note."}]
