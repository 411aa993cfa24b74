"""Section chunker for clinical notes: one chunk per section (HPI, VITALS, ASSESSMENT, ...),
long sections split at sentence ends only, so a finding is never cut in half and every
chunk knows which section it came from (`metadata["section"]`, lowercased; "preamble" for
text before the first header — and so for the whole of a note without headers).

    CHIEF COMPLAINT: cough x3 days.          ─┐ section "chief complaint"
    HPI: 45M with productive cough ...        ─┤ section "hpi"  (split at sentence ends
    ... more sentences ...                     │                 if over max_chunk_chars)
    VITALS:                                   ─┤ section "vitals"
    BP: 120/80   ← a vital, not a header       │
    T: 100.2F                                  │
    A/P: CAP. Start azithromycin 500 mg p.o.  ─┘ section "a/p"

Sections are never merged: a chunk's section must be true for all of its text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import KnowledgeError
from ..types import Chunk, Document
from .base import Span, pack, to_chunks, trim
from .sentences import sentence_spans

PREAMBLE = "preamble"

# Names that are headers in any case ("Assessment:", "PLAN:", "plan:"), lowercased.
# Single SOAP letters (S:/O:/A:/P:) are left out on purpose: "P: 88" is a pulse.
HEADER_VOCABULARY: frozenset[str] = frozenset({
    "chief complaint", "cc", "reason for visit", "reason for consultation", "hpi",
    "history of present illness", "interval history", "history", "pmh", "past medical history",
    "psh", "past surgical history", "medications", "meds", "current medications", "home medications",
    "allergies", "social history", "sh", "family history", "fh", "ros", "review of systems",
    "physical exam", "physical examination", "pe", "exam", "examination", "vitals", "vital signs",
    "labs", "laboratory", "lab results", "results", "imaging", "radiology", "studies", "assessment",
    "impression", "plan", "assessment and plan", "assessment/plan", "a/p", "a&p", "diagnosis",
    "diagnoses", "differential", "differential diagnosis", "disposition", "follow-up", "follow up",
    "followup", "subjective", "objective", "hospital course", "procedure", "procedures", "findings",
    "instructions", "discharge instructions", "patient instructions", "recommendations",
    "problem list", "immunizations", "return precautions",
})

# First words of all-caps labels that introduce a measurement or a test result, not a
# section: "BP: 120/80", "TEMP: 100.2F", "CXR: bilateral infiltrates", "CT CHEST: no PE".
MEASUREMENT_LABELS: frozenset[str] = frozenset({
    "bp", "hr", "rr", "t", "temp", "temperature", "pulse", "p", "spo2", "o2", "sat", "sats", "wt",
    "weight", "ht", "height", "bmi", "pain", "glucose", "bg", "fsbg", "wbc", "hgb", "hb", "hct",
    "plt", "na", "k", "cr", "bun", "inr", "a1c", "hba1c", "ldl", "tsh", "cxr", "ct", "mri", "us",
    "xr", "ekg", "ecg", "echo", "eeg", "ua", "dose", "route", "freq",
})

# A candidate header line. The colon must be followed by a blank or the end of the line,
# so "10:30" or "ratio 1:2" never match; the name must start with a letter and may not
# hold digits, so "SpO2: 97%" and "O2 sat: 94%" are out at once. Whether a candidate
# really is a header is decided by `header_name` (vocabulary, or the all-caps rule).
HEADER_LINE = re.compile(r"""
    ^[ \t]*                                  # optional indentation
    (?P<name>[A-Za-z][A-Za-z&/ ()'-]{0,48}?) # the name: letters, spaces and & / ( ) ' -
    [ \t]*:                                  # the colon
    (?=[ \t]|$)                              # then a blank or end of line ("HPI:" / "HPI: 45M ...")
    (?P<rest>[^\n]*)                         # anything after it on the same line
""", re.VERBOSE | re.MULTILINE)
_STARTS_WITH_NUMBER = re.compile(r"[ \t]*[-+]?\.?\d")


def header_name(match: re.Match[str]) -> str | None:
    """The section name (lowercased) if a HEADER_LINE match is a section header, else None.

    A header is either a name from HEADER_VOCABULARY in any case ("Assessment:", "A/P:"),
    or an ALL-CAPS name of at least 4 letters ("HOSPITAL COURSE:", "DISCHARGE PLAN:")
    that is not a measurement label and is not followed by a number ("PULSE: 88") — the
    all-caps rule catches site-specific headers without mistaking vitals for sections.
    """
    name = " ".join(match["name"].split())
    key = name.lower()
    if key in HEADER_VOCABULARY:
        return key
    if key.split(" ", 1)[0].strip("()") in MEASUREMENT_LABELS:
        return None
    letters = sum(ch.isalpha() for ch in name)
    if name.isupper() and letters >= 4 and not _STARTS_WITH_NUMBER.match(match["rest"]):
        return key
    return None


def find_sections(text: str) -> list[tuple[str, Span]]:
    """(section name, [start, end)) covering `text` in order; a header line starts a section."""
    starts = [(m.start(), name) for m in HEADER_LINE.finditer(text) if (name := header_name(m))]
    sections: list[tuple[str, Span]] = []
    if not starts or starts[0][0] > 0:
        first = starts[0][0] if starts else len(text)
        sections.append((PREAMBLE, (0, first)))
    for i, (start, name) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(text)
        sections.append((name, (start, end)))
    return sections


@dataclass(frozen=True)
class SectionChunker:
    """max_chunk_chars: most characters in one chunk; a longer section is split between
    sentences, and a single sentence longer than this becomes a chunk of its own (cutting
    it would cut a finding in half)."""

    max_chunk_chars: int = 1200

    def __post_init__(self) -> None:
        if (isinstance(self.max_chunk_chars, bool) or not isinstance(self.max_chunk_chars, int)
                or self.max_chunk_chars <= 0):
            raise KnowledgeError(f"SectionChunker: max_chunk_chars must be a positive integer, got "
                                 f"{self.max_chunk_chars!r}")

    def chunk(self, doc: Document) -> list[Chunk]:
        return to_chunks(doc, ((span, {"section": name}) for name, span in self.spans(doc.text)))

    def spans(self, text: str) -> list[tuple[str, Span]]:
        """(section, untrimmed span) of every chunk, in order."""
        out: list[tuple[str, Span]] = []
        for name, (start, end) in find_sections(text):
            start, end = trim(text, start, end)
            if start == end:
                continue
            if end - start <= self.max_chunk_chars:
                out.append((name, (start, end)))
                continue
            # Trim each sentence so the packing counts the characters the chunk will hold.
            sentences = [trim(text, s, e) for s, e in sentence_spans(text, start, end)]
            out.extend((name, span) for span in pack([s for s in sentences if s[0] < s[1]], self.max_chunk_chars))
        return out
