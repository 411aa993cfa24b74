"""The rule-based extraction of all seven fields (the `rules` mode, the hybrid mode's vitals,
medications, follow-up and negations, and the fallback when the LLM fails).

    note ─▶ analyse: sections + negation scopes (read once, shared with validation)
         ─▶ vitals.py, medications.py, follow_up.py       field by field
         ─▶ findings.py: symptoms, diagnoses, imaging
         ─▶ negation.py: negated findings, except inside diagnoses/imaging ("migraine without aura")

No validation here: `pipeline.extract_note` validates whatever produced the fields.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .findings import diagnosis_spans, imaging_spans, symptom_spans
from .follow_up import extract_follow_up
from .medications import extract_medications
from .negation import NegationScope, negated_spans, negation_scopes
from .schema import Evidence, ExtractedFields
from .sections import Section, find_sections
from .spans import Span, evidence
from .vitals import extract_vitals


@dataclass(frozen=True)
class NoteAnalysis:
    """What every extractor needs to know about the note's layout."""

    sections: tuple[Section, ...]
    scopes: tuple[NegationScope, ...]


def analyse(note: str) -> NoteAnalysis:
    return NoteAnalysis(tuple(find_sections(note)), tuple(negation_scopes(note)))


def negated_findings(note: str, scopes: Sequence[NegationScope], exclude: Sequence[Span] = ()) -> tuple[Evidence, ...]:
    """Negated findings from the scopes; `exclude` holds spans of items that contain a cue
    without being negated (diagnoses, imaging results)."""
    return tuple(evidence(note, s) for s in negated_spans(note, scopes, exclude=exclude))


def rule_fields(note: str, analysis: NoteAnalysis | None = None) -> ExtractedFields:
    """Every field by rules alone."""
    analysis = analysis or analyse(note)
    sections = list(analysis.sections)
    diagnoses = diagnosis_spans(note, sections)
    imaging = imaging_spans(note, sections)
    return ExtractedFields(
        symptoms=tuple(evidence(note, s) for s in symptom_spans(note, sections)),
        vitals=tuple(extract_vitals(note)),
        imaging=tuple(evidence(note, s) for s in imaging),
        medications=tuple(extract_medications(note, sections)),
        follow_up=extract_follow_up(note),
        diagnoses=tuple(evidence(note, s) for s in diagnoses),
        negated_findings=negated_findings(note, analysis.scopes, exclude=diagnoses + imaging),
    )
