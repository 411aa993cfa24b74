"""Validation of extracted fields against the note: negation is respected, items do not repeat,
and no phrase is claimed by two fields that exclude each other. Each step is a pure function
(fields in, fields and trace events out), run in this order by `validate_fields`:

    respect_negation   a symptom whose span lies in a negation scope ("denies chest pain") is
                       moved to negated_findings (cut to the scope), or dropped if already there;
                       a diagnosis wholly inside a scope ("denies asthma") is dropped ("migraine
                       without aura" starts before its cue, so it stays)
    drop_conflicts     a phrase that is both a symptom and a diagnosis stays a symptom when the
                       note says it where complaints are listed ("admitted with calf pain"),
                       else a diagnosis; a symptom inside a medication, vital or imaging
                       mention is dropped, and so is a diagnosis overlapping a medication
                       mention ("aspirin 81 mg" is not a condition); so are items in sections
                       that cannot hold them: a symptom (what the patient reports) in the exam,
                       vitals, imaging, medications or allergies section, a diagnosis in the
                       medications, allergies, vitals, exam or imaging section
                       ("penicillin (rash)", "tender calf")
    dedupe             repeated items (same words, any case) are kept once
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from .findings import complaint_zones
from .negation import NegationScope, scope_of
from .schema import Evidence, ExtractedFields, Medication, TraceEvent
from .sections import Section
from .spans import evidence, inside, overlaps, trim

# Sections whose words are not patient-reported symptoms, or not the patient's conditions.
NOT_SYMPTOM_SECTIONS = ("exam", "vitals", "imaging", "medications", "allergies", "dates")
NOT_DIAGNOSIS_SECTIONS = ("medications", "allergies", "vitals", "dates", "exam", "imaging")


def key(text: str) -> str:
    """How two items are compared: case and whitespace runs ignored."""
    return " ".join(text.lower().split())


def respect_negation(fields: ExtractedFields, note: str,
                     scopes: Sequence[NegationScope]) -> tuple[ExtractedFields, list[TraceEvent]]:
    kept: list[Evidence] = []
    negated = list(fields.negated_findings)
    events = []
    for item in fields.symptoms:
        scope = scope_of(item.span, scopes)
        if scope is None:
            kept.append(item)
            continue
        cut = trim(note, (max(item.start, scope.start), min(item.end, scope.end)))
        moved = evidence(note, cut, item.source) if cut else None
        if moved is None or key(moved.text) in {key(n.text) for n in negated}:
            events.append(TraceEvent("negation_dropped", f"symptom {item.text!r} at {item.span} is negated by "
                                                         f"{scope.cue!r} and already a negated finding; dropped"))
            continue
        negated.append(moved)
        events.append(TraceEvent("negation_moved", f"symptom {item.text!r} at {item.span} is negated by "
                                                   f"{scope.cue!r}; moved to negated_findings as {moved.text!r}"))
    diagnoses = []
    for item in fields.diagnoses:
        scope = next((s for s in scopes if s.start <= item.start and item.end <= s.end), None)
        if scope is None:
            diagnoses.append(item)
        else:
            events.append(TraceEvent("negation_dropped", f"diagnosis {item.text!r} at {item.span} is negated by "
                                                         f"{scope.cue!r}; dropped"))
    return replace(fields, symptoms=tuple(kept), diagnoses=tuple(diagnoses), negated_findings=tuple(negated)), events


def _mention_spans(fields: ExtractedFields) -> list[tuple[int, int]]:
    return [m.evidence.span for m in fields.medications] + [v.value.span for v in fields.vitals]


def _section_spans(sections: Sequence[Section], kinds: tuple[str, ...]) -> list[tuple[int, int]]:
    return [(s.header_start, s.end) for s in sections if s.kind in kinds]


def drop_conflicts(fields: ExtractedFields, sections: Sequence[Section] = (),
                   complaints: Sequence[tuple[int, int]] = ()) -> tuple[ExtractedFields, list[TraceEvent]]:
    events = []
    # Both a symptom and a diagnosis: where the diagnosis was found decides.
    said_as_complaint = {key(d.text) for d in fields.diagnoses if inside(d.span, complaints)}
    both = {key(d.text) for d in fields.diagnoses} & {key(s.text) for s in fields.symptoms}
    drop_diagnoses = both & said_as_complaint
    diagnoses = both - said_as_complaint
    mentions = _mention_spans(fields)
    imaging = [i.span for i in fields.imaging]
    not_symptom = _section_spans(sections, NOT_SYMPTOM_SECTIONS)
    symptoms = []
    for item in fields.symptoms:
        if key(item.text) in diagnoses:
            events.append(TraceEvent("conflict", f"symptom {item.text!r} is also a diagnosis; kept as a diagnosis"))
        elif inside(item.span, mentions + imaging):
            events.append(TraceEvent("conflict", f"symptom {item.text!r} at {item.span} lies inside a medication, "
                                                 "vital or imaging mention; dropped"))
        elif inside(item.span, not_symptom):
            events.append(TraceEvent("conflict", f"symptom {item.text!r} at {item.span} is in a section of signs "
                                                 "or history, not complaints; dropped"))
        else:
            symptoms.append(item)
    med_spans = [m.evidence.span for m in fields.medications]
    not_diagnosis = _section_spans(sections, NOT_DIAGNOSIS_SECTIONS)
    diagnoses_kept = []
    for item in fields.diagnoses:
        if key(item.text) in drop_diagnoses:
            events.append(TraceEvent("conflict", f"diagnosis {item.text!r} at {item.span} is listed as a complaint "
                                                 "there; kept as a symptom"))
        elif inside(item.span, not_diagnosis) or any(overlaps(item.span, m) for m in med_spans):
            events.append(TraceEvent("conflict", f"diagnosis {item.text!r} at {item.span} lies in a medication "
                                                 "mention or in a section of drugs, allergies or findings; dropped"))
        else:
            diagnoses_kept.append(item)
    return replace(fields, symptoms=tuple(symptoms), diagnoses=tuple(diagnoses_kept)), events


def _unique(items: Sequence[Evidence], field_name: str, events: list[TraceEvent]) -> tuple[Evidence, ...]:
    seen: set[str] = set()
    out = []
    for item in items:
        if key(item.text) in seen:
            events.append(TraceEvent("duplicate", f"{field_name} {item.text!r} at {item.span} repeats an earlier item"))
            continue
        seen.add(key(item.text))
        out.append(item)
    return tuple(out)


def _med_key(med: Medication) -> tuple[str, ...]:
    return tuple(key(v.text) if v else "" for v in med.attributes().values())


def dedupe(fields: ExtractedFields) -> tuple[ExtractedFields, list[TraceEvent]]:
    events: list[TraceEvent] = []
    lists = {name: _unique(getattr(fields, name), name, events)
             for name in ("symptoms", "imaging", "diagnoses", "negated_findings")}
    meds, seen = [], set()
    for med in fields.medications:
        if _med_key(med) in seen:
            events.append(TraceEvent("duplicate", f"medication {med.evidence.text!r} repeats an earlier one"))
            continue
        seen.add(_med_key(med))
        meds.append(med)
    return replace(fields, medications=tuple(meds), **lists), events


def validate_fields(fields: ExtractedFields, note: str, scopes: Sequence[NegationScope],
                    sections: Sequence[Section] = ()) -> tuple[ExtractedFields, list[TraceEvent]]:
    """All checks in order; returns the cleaned fields and what each step changed."""
    complaints = complaint_zones(note, list(sections))
    events: list[TraceEvent] = []
    for step in (lambda f: respect_negation(f, note, scopes), lambda f: drop_conflicts(f, sections, complaints),
                 dedupe):
        fields, found = step(fields)
        events += found
    return fields, events
