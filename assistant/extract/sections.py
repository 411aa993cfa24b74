"""Section headers of a clinical note ("ASSESSMENT:", "A:", "Impression:", "DISCHARGE
MEDICATIONS:") mapped to a few canonical kinds, with the span of each section's body.

    find_sections("HPI: 48 y/o M ...\\nA: GAD\\nP: ...") -> [Section("history", ...), Section("assessment", ...), ...]

A header is a known heading at the start of a line, followed by a colon; "Impression:" and
"Assessment:" also count after a sentence end, as narrative notes write them inline. A body
runs to the next header (line headers) or the end of its sentence (inline ones). The kinds let
the rule extractors look for diagnoses in the assessment, imaging in the imaging section, and
skip allergies when reading medications; the LLM prompt names the sections as hints.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

SectionKind = str
# heading (lower case, as written) -> canonical kind. Longer headings are tried first.
HEADINGS: dict[str, SectionKind] = {
    "chief complaint": "complaint", "cc": "complaint", "reason for visit": "complaint",
    "hpi": "history", "history of present illness": "history", "history": "history", "s": "history",
    "subjective": "history", "interval history": "history",
    "pmh": "past_history", "past medical history": "past_history",
    "ros": "review", "review of systems": "review",
    "medications": "medications", "meds": "medications", "home medications": "medications",
    "current medications": "medications", "discharge medications": "medications",
    "allergies": "allergies",
    "vitals": "vitals", "vital signs": "vitals", "admission vitals": "vitals",
    "o": "exam", "objective": "exam", "exam": "exam", "physical exam": "exam", "examination": "exam",
    "imaging": "imaging", "radiology": "imaging", "studies": "imaging",
    "hospital course": "course", "course": "course",
    "a": "assessment", "assessment": "assessment", "impression": "assessment", "diagnosis": "assessment",
    "diagnoses": "assessment", "discharge diagnoses": "assessment", "admission diagnoses": "assessment",
    "assessment and plan": "assessment", "a/p": "assessment",
    "p": "plan", "plan": "plan",
    "follow-up": "follow_up", "follow up": "follow_up", "disposition": "follow_up",
    "admission date": "dates", "discharge date": "dates",
}
_ALTERNATION = "|".join(re.escape(h) for h in sorted(HEADINGS, key=len, reverse=True))
# Header at a line start: "ASSESSMENT:", "A:", "Discharge Medications:" (any case).
_LINE_HEADER_RE = re.compile(rf"^[ \t]*({_ALTERNATION})[ \t]*:", re.IGNORECASE | re.MULTILINE)
# Inline header after a sentence end: "... exam. Impression: strep pharyngitis."
_INLINE_HEADER_RE = re.compile(r"(?<=[.!?] )(impression|assessment|diagnosis)[ \t]*:", re.IGNORECASE)
_SENTENCE_END_RE = re.compile(r"[.!?](?=\s|$)")


@dataclass(frozen=True)
class Section:
    """kind: canonical kind (assessment, plan, imaging, ...); heading: as written ("A");
    header_start: where the heading begins; start/end: the body after the colon."""

    kind: SectionKind
    heading: str
    header_start: int
    start: int
    end: int

    @property
    def span(self) -> tuple[int, int]:
        return self.start, self.end


def find_sections(note: str) -> list[Section]:
    """Every section of `note`, in order (bodies may be empty)."""
    headers = [(m.start(1), m.end(), m.group(1), False) for m in _LINE_HEADER_RE.finditer(note)]
    line_starts = {h[0] for h in headers}
    headers += [(m.start(1), m.end(), m.group(1), True) for m in _INLINE_HEADER_RE.finditer(note)
                if m.start(1) not in line_starts]
    headers.sort()
    sections = []
    for i, (head_start, body_start, heading, inline) in enumerate(headers):
        end = headers[i + 1][0] if i + 1 < len(headers) else len(note)
        if inline:
            stop = _SENTENCE_END_RE.search(note, body_start, end)
            end = stop.start() if stop else end
        while end > body_start and note[end - 1].isspace():
            end -= 1
        start = body_start
        while start < end and note[start].isspace():
            start += 1
        sections.append(Section(HEADINGS[heading.lower()], heading, head_start, start, end))
    return sections


def sections_of(sections: list[Section], *kinds: SectionKind) -> list[Section]:
    return [s for s in sections if s.kind in kinds]


def section_at(sections: list[Section], position: int) -> Section | None:
    """The section whose body holds `position` (None before the first header)."""
    return next((s for s in sections if s.header_start <= position < max(s.end, s.start + 1)), None)
