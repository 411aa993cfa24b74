"""Grounding the model's quotes in the note: each quoted value is located (exact, then ignoring
case and whitespace) and becomes an Evidence with its span; a quote the note does not contain
is DROPPED and recorded, never trusted.

    reply {"symptoms": ["Cough", "chest pain"], ...}   note "... c/o cough. Denies chest pain."
        "Cough"      ─▶ Evidence("cough", 40, 45, "llm")
        "chest pain" ─▶ found only inside "denies ..." ─▶ kept here; validate.py moves it
        "dyspnea"    ─▶ not in the note ─▶ dropped, TraceEvent("dropped", ...)

Which occurrence: a symptom prefers one outside negation scopes and a negated finding one
inside; a vital value the one right after its label ("HR 96", not "SpO2 96%"); a
medication's attributes must lie within the line after its name. Located quotes are trimmed
of cue words the model tends to copy along ("denies", "c/o", "for 3 days"), a dose is narrowed
to its amount ("10 mg PO BID" -> "10 mg") and a follow-up to its interval ("PCP in 1 week").
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .findings import DURATION_RE, LEADING_ARTICLE_RE, LIST_SEP_RE, QUALIFIER_RE, SYMPTOM_CUE_RE
from .follow_up import FOLLOW_UP_RE, INTERVAL_RE
from .medications import DOSE_RE
from .negation import CIRCUMSTANCE_RE, NEGATION_CUE_RE, scope_of
from .rules import NoteAnalysis
from .schema import Evidence, Medication, TraceEvent, Vital
from .spans import RUN_START, Span, evidence, inside, locate, split_list, trim
from .validate import NOT_SYMPTOM_SECTIONS
from .vitals import label_pattern

_MED_WINDOW = 160  # characters after a medication's name in which its dose/route/... must be
_NARROW = {"dose": DOSE_RE}  # attributes narrowed to what their own pattern matches
# A quoted list ("cough and fever") is cut like the rules cut theirs, so both modes agree on items.
_SPLITTERS = {"symptoms": LIST_SEP_RE, "negated_findings": LIST_SEP_RE,
              "diagnoses": re.compile(rf"{RUN_START}(?:\s*;\s*|\s+\d+[.)]\s+)")}


def _trimmers(field: str) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
    return {"symptoms": (SYMPTOM_CUE_RE, DURATION_RE), "negated_findings": (NEGATION_CUE_RE, CIRCUMSTANCE_RE),
            "diagnoses": (LEADING_ARTICLE_RE, QUALIFIER_RE)}.get(field, (None, None))


def ground_list(note: str, field: str, quotes: list[str], analysis: NoteAnalysis
                ) -> tuple[tuple[Evidence, ...], list[TraceEvent]]:
    """Evidence for each quote of a list field (symptoms, diagnoses, imaging, negated_findings)."""
    scopes = analysis.scopes
    signs = [(s.header_start, s.end) for s in analysis.sections if s.kind in NOT_SYMPTOM_SECTIONS]
    prefer = {"symptoms": lambda s: scope_of(s, scopes) is None and not inside(s, signs),
              "negated_findings": lambda s: scope_of(s, scopes) is not None}.get(field)
    leading, trailing = _trimmers(field)
    items, events, used = [], [], set()
    for quote in quotes:
        found = locate(note, quote, prefer=lambda s: s not in used and (prefer is None or prefer(s)))
        if found is None:
            events.append(TraceEvent("dropped", f"{field} quote {quote!r} is not in the note; dropped"))
            continue
        used.add(found)
        pieces = split_list(note, found, _SPLITTERS[field]) if field in _SPLITTERS else [found]
        for piece in pieces:
            span = trim(note, piece, leading=leading, trailing=trailing)
            if span is not None:
                items.append(evidence(note, span, "llm"))
    return tuple(items), events


def _after_label(note: str, name: str) -> set[Span]:
    pattern = label_pattern(name)
    return {(m.start("value"), m.end("value")) for m in pattern.finditer(note)} if pattern else set()


def ground_vitals(note: str, values: Mapping[str, str | None]) -> tuple[tuple[Vital, ...], list[TraceEvent]]:
    vitals, events = [], []
    for name, quote in values.items():
        if not quote:
            continue
        labelled = _after_label(note, name)
        span = locate(note, quote, prefer=lambda s: any(a <= s[0] and s[1] <= b for a, b in labelled))
        span = trim(note, span) if span else None
        if span is None:
            events.append(TraceEvent("dropped", f"vitals {name} quote {quote!r} is not in the note; dropped"))
            continue
        vitals.append(Vital(name, evidence(note, span, "llm")))
    return tuple(vitals), events


def _narrow(note: str, span: Span, pattern: re.Pattern[str]) -> Span:
    """The part of `span` the attribute's own pattern matches (the first match), else `span`."""
    m = pattern.search(note, span[0], span[1])
    return (m.start(), m.end()) if m else span


def _window(note: str, start: int) -> Span:
    line_end = note.find("\n", start)
    end = min(len(note), start + _MED_WINDOW, line_end if line_end >= 0 else len(note))
    return start, end


def ground_medications(note: str, meds: list[Mapping[str, Any]]) -> tuple[tuple[Medication, ...], list[TraceEvent]]:
    out, events, used = [], [], set()
    for med in meds:
        name_quote = str(med.get("name") or "")
        # Prefer the mention that has a dose right after it (a prescription, not an allergy).
        name = locate(note, name_quote, prefer=lambda s: s not in used and bool(
            DOSE_RE.search(note, s[1], min(len(note), s[1] + 40))))
        name = trim(note, name) if name else None
        if name is None:
            events.append(TraceEvent("dropped", f"medication {name_quote!r} is not in the note; dropped with its "
                                                "attributes"))
            continue
        used.add(name)
        window = _window(note, name[0])
        parts: dict[str, Evidence] = {}
        for attr in ("dose", "route", "frequency", "duration"):
            quote = med.get(attr)
            if not quote:
                continue
            span = locate(note, str(quote), within=window)
            span = trim(note, span) if span else None
            if span is not None and attr in _NARROW:  # "10 mg PO BID" quoted as the dose -> "10 mg"
                span = _narrow(note, span, _NARROW[attr])
            if span is None:
                events.append(TraceEvent("dropped", f"medication {name_quote!r} {attr} {quote!r} is not near its "
                                                    "name in the note; attribute dropped"))
                continue
            parts[attr] = evidence(note, span, "llm")
        end = max([name[1]] + [p.end for p in parts.values()])
        out.append(Medication(evidence=evidence(note, (name[0], end), "llm"), name=evidence(note, name, "llm"),
                              **parts))
    return tuple(out), events


def ground_follow_up(note: str, quote: str | None) -> tuple[Evidence | None, list[TraceEvent]]:
    if not quote:
        return None, []
    cued = {(m.start("value"), m.end("value")) for m in FOLLOW_UP_RE.finditer(note)}
    span = locate(note, quote, prefer=lambda s: any(a <= s[0] and s[1] <= b for a, b in cued))
    span = trim(note, span) if span else None
    span = _narrow(note, span, INTERVAL_RE) if span else None  # "PCP in 1 week" -> "1 week"
    if span is None:
        return None, [TraceEvent("dropped", f"follow_up quote {quote!r} is not in the note; dropped")]
    return evidence(note, span, "llm"), []


def ground_reply(note: str, reply: Mapping[str, Any], analysis: NoteAnalysis
                 ) -> tuple[dict[str, Any], list[TraceEvent]]:
    """ExtractedFields keyword arguments for the fields present in `reply`, and the drops."""
    fields: dict[str, Any] = {}
    events: list[TraceEvent] = []
    for field, value in reply.items():
        if field == "vitals":
            fields[field], found = ground_vitals(note, value)
        elif field == "medications":
            fields[field], found = ground_medications(note, value)
        elif field == "follow_up":
            fields[field], found = ground_follow_up(note, value)
        else:
            fields[field], found = ground_list(note, field, list(value), analysis)
        events += found
    return fields, events
