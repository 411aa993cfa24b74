"""The typed result of clinical-note extraction (DESIGN.md §2 fields, §3 `extract` flow): every
item carries the character span [start, end) of its evidence, so `note[start:end] == text`.

    Extraction ─ fields: ExtractedFields ─ symptoms, imaging, diagnoses, negated_findings: (Evidence, ...)
               │                         ├ vitals: (Vital(name, value: Evidence), ...)
               │                         ├ medications: (Medication(evidence, name, dose, route,
               │                         │                          frequency, duration), ...)
               │                         └ follow_up: Evidence | None
               ├ trace: (TraceEvent(kind, message), ...)   what was dropped, moved, repaired
               └ timings: {"rules_s", "llm_s", "validate_s", "total_s"}

`ExtractedFields.to_expected_fields()` is exactly the golden `expected_fields` dict, so
`evals.metrics.extraction.extraction_scores(pred, gold)` scores it. The dataclasses check
their own shape in `__post_init__`; whether a span really holds its text in a given note is
`verify_spans(fields, note)` (a dataclass does not keep the note).
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from .errors import ExtractSchemaError, SpanMismatchError

Source = Literal["rules", "llm"]
Mode = Literal["rules", "llm", "hybrid"]
MODES: tuple[str, ...] = get_args(Mode)
LIST_FIELDS = ("symptoms", "imaging", "diagnoses", "negated_findings")
FIELDS = ("symptoms", "vitals", "imaging", "medications", "follow_up", "diagnoses", "negated_findings")
MED_ATTRIBUTES = ("name", "dose", "route", "frequency", "duration")
# The usual five; other snake_case names (weight, pain_score, ...) are allowed too.
VITAL_NAMES = ("temperature", "blood_pressure", "heart_rate", "respiratory_rate", "spo2")
_VITAL_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
TraceKind = Literal["rules", "llm_call", "invalid_reply", "repair", "fallback", "dropped",
                    "negation_moved", "negation_dropped", "duplicate", "conflict"]
TRACE_KINDS: tuple[str, ...] = get_args(TraceKind)


@dataclass(frozen=True)
class Evidence:
    """A quoted piece of the note.

    Fields:
        text: the evidence exactly as the note has it (`note[start:end]`).
        start / end: character offsets into the note text, end exclusive.
        source: "rules" (a rule-based extractor found it) or "llm" (the model quoted it).
    """

    text: str
    start: int
    end: int
    source: Source = "rules"

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text.strip():
            raise ExtractSchemaError(f"evidence text {self.text!r} is empty; an item needs the words it was read from")
        if self.text != self.text.strip():
            raise ExtractSchemaError(f"evidence text {self.text!r} has surrounding whitespace; trim the span to it")
        if not (isinstance(self.start, int) and isinstance(self.end, int)) or not 0 <= self.start < self.end:
            raise ExtractSchemaError(f"span [{self.start}, {self.end}) of {self.text!r} is invalid; "
                                     "need 0 <= start < end (character offsets, end exclusive)")
        if self.end - self.start != len(self.text):
            raise ExtractSchemaError(f"span [{self.start}, {self.end}) is {self.end - self.start} characters but "
                                     f"its text {self.text!r} has {len(self.text)}; take text = note[start:end]")
        if self.source not in get_args(Source):
            raise ExtractSchemaError(f"source={self.source!r} is unknown; use one of {', '.join(get_args(Source))}")

    @property
    def span(self) -> tuple[int, int]:
        return self.start, self.end

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "start": self.start, "end": self.end, "source": self.source}


@dataclass(frozen=True)
class Vital:
    """One vital sign: `name` (temperature, blood_pressure, heart_rate, respiratory_rate, spo2,
    or another snake_case name) and its `value` as written, unit included ("101.3F", "120/80 mmHg")."""

    name: str
    value: Evidence

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _VITAL_NAME_RE.match(self.name):
            raise ExtractSchemaError(f"vital name {self.name!r} must be snake_case like {', '.join(VITAL_NAMES)}")
        if not isinstance(self.value, Evidence):
            raise ExtractSchemaError(f"vital {self.name!r} value must be an Evidence, got {type(self.value).__name__}")


@dataclass(frozen=True)
class Medication:
    """One medication mention: `evidence` covers the whole mention ("apixaban 10 mg PO BID x 7
    days"); each attribute is its own Evidence inside it, or None when the note does not say."""

    evidence: Evidence
    name: Evidence
    dose: Evidence | None = None
    route: Evidence | None = None
    frequency: Evidence | None = None
    duration: Evidence | None = None

    def __post_init__(self) -> None:
        for attr in ("evidence", *MED_ATTRIBUTES):
            value = getattr(self, attr)
            if value is None and attr in ("evidence", "name"):
                raise ExtractSchemaError(f"a medication needs {attr}; got None")
            if value is not None and not isinstance(value, Evidence):
                raise ExtractSchemaError(f"medication {attr} must be an Evidence or None, got {type(value).__name__}")
            if value is not None and attr != "evidence" and not (
                    self.evidence.start <= value.start and value.end <= self.evidence.end):
                raise ExtractSchemaError(
                    f"medication {attr} {value.text!r} at {value.span} lies outside the mention "
                    f"{self.evidence.text!r} at {self.evidence.span}; widen the mention's span to cover it")

    def attributes(self) -> dict[str, Evidence | None]:
        return {attr: getattr(self, attr) for attr in MED_ATTRIBUTES}


@dataclass(frozen=True)
class ExtractedFields:
    """The seven fields of DESIGN.md §2, each item with its evidence span."""

    symptoms: tuple[Evidence, ...] = ()
    vitals: tuple[Vital, ...] = ()
    imaging: tuple[Evidence, ...] = ()
    medications: tuple[Medication, ...] = ()
    follow_up: Evidence | None = None
    diagnoses: tuple[Evidence, ...] = ()
    negated_findings: tuple[Evidence, ...] = ()

    def __post_init__(self) -> None:
        for name, kind in (*((f, Evidence) for f in LIST_FIELDS), ("vitals", Vital), ("medications", Medication)):
            value = getattr(self, name)
            if not isinstance(value, tuple):
                raise ExtractSchemaError(f"{name} must be a tuple, got {type(value).__name__}; pass tuple(items)")
            bad = [v for v in value if not isinstance(v, kind)]
            if bad:
                raise ExtractSchemaError(f"{name} holds {bad[0]!r}; every item must be a {kind.__name__}")
        if self.follow_up is not None and not isinstance(self.follow_up, Evidence):
            raise ExtractSchemaError(f"follow_up must be an Evidence or None, got {self.follow_up!r}")
        names = [v.name for v in self.vitals]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ExtractSchemaError(f"vitals {repeated} appear more than once; keep one value per vital")

    def items(self) -> Iterator[tuple[str, str, Evidence]]:
        """(field, label, evidence) for every piece of evidence, in field order; labels are
        the vital name or the medication attribute ("amoxicillin.dose")."""
        for name in FIELDS:
            if name == "vitals":
                yield from (("vitals", v.name, v.value) for v in self.vitals)
            elif name == "medications":
                for med in self.medications:
                    yield "medications", med.name.text, med.evidence
                    yield from (("medications", f"{med.name.text}.{attr}", ev)
                                for attr, ev in med.attributes().items() if ev is not None)
            elif name == "follow_up":
                if self.follow_up is not None:
                    yield "follow_up", "interval", self.follow_up
            else:
                yield from ((name, "", ev) for ev in getattr(self, name))

    def to_expected_fields(self) -> dict[str, Any]:
        """The golden `expected_fields` form (DESIGN.md §2): plain strings, no spans."""
        return {
            "symptoms": [e.text for e in self.symptoms],
            "vitals": {v.name: v.value.text for v in self.vitals},
            "imaging": [e.text for e in self.imaging],
            "medications": [{attr: (ev.text if ev is not None else None) for attr, ev in m.attributes().items()}
                            for m in self.medications],
            "follow_up": self.follow_up.text if self.follow_up is not None else None,
            "diagnoses": [e.text for e in self.diagnoses],
            "negated_findings": [e.text for e in self.negated_findings],
        }

    def to_dict(self) -> dict[str, Any]:
        """Like `to_expected_fields`, every value an {"text", "start", "end", "source"} object."""
        out: dict[str, Any] = {name: [e.to_dict() for e in getattr(self, name)] for name in LIST_FIELDS}
        out["vitals"] = {v.name: v.value.to_dict() for v in self.vitals}
        out["medications"] = [{"evidence": m.evidence.to_dict(),
                               **{a: (ev.to_dict() if ev else None) for a, ev in m.attributes().items()}}
                              for m in self.medications]
        out["follow_up"] = self.follow_up.to_dict() if self.follow_up else None
        return {name: out[name] for name in FIELDS}


def verify_spans(fields: ExtractedFields, note: str) -> None:
    """Raise SpanMismatchError unless every item's span holds its text in `note`."""
    for name, label, ev in fields.items():
        if ev.end > len(note) or note[ev.start:ev.end] != ev.text:
            where = f"{name}{'/' + label if label else ''}"
            raise SpanMismatchError(f"{where} says {ev.text!r} at [{ev.start}, {ev.end}) but the note has "
                                    f"{note[ev.start:ev.end]!r} there; locate the quote in this note "
                                    "(assistant.extract.spans.locate) instead of reusing offsets")


@dataclass(frozen=True)
class TraceEvent:
    """One step worth knowing about: `kind` (rules, llm_call, invalid_reply, repair, fallback,
    dropped, negation_moved, negation_dropped, duplicate, conflict) and a readable message."""

    kind: TraceKind
    message: str

    def __post_init__(self) -> None:
        if self.kind not in TRACE_KINDS:
            raise ExtractSchemaError(f"trace kind {self.kind!r} is unknown; use one of {', '.join(TRACE_KINDS)}")


@dataclass(frozen=True)
class Extraction:
    """What `extract_note` returns.

    Fields:
        fields: the extracted, validated fields.
        mode: "rules", "llm" or "hybrid" as run (a fallback to rules shows in `trace`).
        trace: the steps that changed the result, in order.
        timings: seconds per stage (rules_s, llm_s, validate_s, total_s).
        model_id: the LLM used, or None in rules mode.
    """

    fields: ExtractedFields
    mode: Mode
    trace: tuple[TraceEvent, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    model_id: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ExtractSchemaError(f"mode={self.mode!r} is unknown; use one of {', '.join(MODES)}")

    def count(self, kind: TraceKind) -> int:
        return sum(1 for event in self.trace if event.kind == kind)

    @property
    def dropped(self) -> int:
        """Items whose evidence was not found in the note."""
        return self.count("dropped")

    @property
    def negation_moves(self) -> int:
        """Symptoms that sat in a negation scope (moved to negated_findings, or dropped as repeats)."""
        return self.count("negation_moved") + self.count("negation_dropped")

    @property
    def fell_back(self) -> bool:
        return self.count("fallback") > 0

    def to_expected_fields(self) -> dict[str, Any]:
        return self.fields.to_expected_fields()

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "model_id": self.model_id, "fields": self.fields.to_dict(),
                "trace": [{"kind": e.kind, "message": e.message} for e in self.trace],
                "timings": dict(self.timings)}
