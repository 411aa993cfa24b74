"""Rule-based symptoms, diagnoses and imaging: phrases after clinical cue words, cut into list
items. These are the `rules` mode's answer for the three fields the LLM handles in `hybrid`.

    symptoms   after "presents with", "c/o", "reports", "admitted with", "associated with",
               "along with", the chief complaint, and "+finding" shorthand; up to the clause end,
               a duration ("for 3 days", "x 1 week") or a negation cue
    diagnoses  the assessment sections (A:, ASSESSMENT:, Impression:, DISCHARGE DIAGNOSES:)
               split at numbering and semicolons, "PMH of"/"history of" lists, and "consistent
               with", "picture fits", "diagnosed with", a sentence-initial "Likely"
    imaging    the imaging section's sentences, and any sentence that opens with a modality
               (X-ray, XR, CXR, CT, MRI, US, ultrasound, doppler, echocardiogram, TTE) followed by
               a colon or "showed"

Each function returns spans in note order; negation and duplicates are handled afterwards
(validate.py), so a symptom read from a negated clause is caught there.
"""
from __future__ import annotations

import re

from .negation import NEGATION_CUE_RE
from .sections import Section, sections_of
from .spans import RUN_START, Span, split_list, trim

LIST_SEP_RE = re.compile(rf"{RUN_START}(?:\s*,\s*(?:and\s+|or\s+)?|\s+(?:and|or)\s+|\s*;\s*)", re.IGNORECASE)
_CLAUSE_END_RE = re.compile(r"[.;:!?](?=\s|$)|\n")
DURATION_RE = re.compile(
    rf"{RUN_START}(?:\s+(?:for|x|times|since|over)\s+(?:the (?:past|last)\s+)?(?:\d+(?:-\d+)?|a few|several|one|"
    r"two|three|four|five|six|seven|eight|nine|ten|a|an)\s*(?:hours?|hrs?|days?|weeks?|wks?|months?|years?)\b|"
    r"\s+(?:for|since)\s+(?:yesterday|today|last night|this morning)\b)", re.IGNORECASE)
SYMPTOM_CUE_RE = re.compile(
    r"\b(?:presents?(?: to (?:the )?\w+)? (?:with|c/o|complaining of)|presenting with|c/o|complains? of|"
    r"(?:seen|here|admitted) for|"
    r"complaining of|reports?|reporting|endorses?|endorsing|admitted (?:with|for)|associated with|along with|"
    r"accompanied by|as well as|also has|notes)\b\s*", re.IGNORECASE)
_PLUS_RE = re.compile(r"(?:(?<=\s)|^)\+\s?(?=[A-Za-z])", re.MULTILINE)
_SUBJECT_RE = re.compile(r"(?:the patient|patient|pt|he|she|they)\s+(?:has|had)\s+", re.IGNORECASE)

_HISTORY_CUE_RE = re.compile(
    r"\b(?:(?:PMH|PMHx|past medical history|(?:a )?(?:past )?(?:medical )?history|hx|h/o)\s*(?:of|significant for|"
    r"notable for|includes?)\s+|(?:PMH|PMHx|past medical history|hx|h/o)\s*:\s*)", re.IGNORECASE)
_HISTORY_END_RE = re.compile(rf"{RUN_START}\s+(?:who|presents?|presenting|is|was|here|now|c/o|admitted)\b"
                             r"|[.;:](?=\s|$)|\n", re.IGNORECASE)
_DIAGNOSIS_CUE_RE = re.compile(
    r"\b(?:(?:most |is |are )?consistent with|(?:picture|presentation|history) (?:fits|suggests)|diagnosed with|"
    r"diagnosis of|diagnosis is|dx(?: of|:)?)\s+|(?:^|(?<=[.!?]\s))(?:Likely|Probable|Presumed)\s+",
    re.IGNORECASE | re.MULTILINE)
# Like RUN_START, but a run may be entered right after a line break: list lines start there.
_NUMBERING_RE = re.compile(r"(?:^|(?<![^\S\n])\s+)\d+[.)]\s+|(?:(?!\s)|(?<![^\S\n]))\s*;\s*|\n\s*[-*•]?\s*",
                           re.MULTILINE)
QUALIFIER_RE = re.compile(  # a blank run is entered at its start or right after the comma (RUN_START)
    r"(?:,|(?<![\s,]))\s+(?:stable|controlled|well[- ]controlled|improving|improved|resolved|resolving|worsening|"
    r"uncontrolled|chronic|new|ongoing|on treatment|s/p treatment|at baseline)$", re.IGNORECASE)
LEADING_ARTICLE_RE = re.compile(r"(?:an?|the|his|her|their|known|likely|probable|possible|presumed)\s+",
                                 re.IGNORECASE)

_MODALITY = (r"(?:X-?rays?|XR|CXR|radiographs?|KUB|CTA?|CT scan|MRI|MRA|US|ultrasound|sonogram|"
             r"(?:venous )?doppler|duplex|echocardiogram|echo|TTE|TEE|mammogram|DEXA|bone scan|PET(?:-CT)?|"
             r"V/Q scan|fluoroscopy|angiogram)")
_IMAGING_SENTENCE_RE = re.compile(
    rf"^(?i:(?:an?|the|repeat|bedside|portable)\s+)?(?:[\w/-]+\s+){{0,3}}?{_MODALITY}(?:\s+[\w/-]+){{0,3}}?"
    rf"\s*(?::|\s(?i:showed|shows|revealed|reveals|demonstrated|demonstrates|was notable for|notable for|"
    rf"was negative for|was unremarkable|unremarkable|without|with)\b)")
_IMAGING_ARTICLE_RE = re.compile(r"(?:an?|the)\s+", re.IGNORECASE)
_SENTENCE_END_RE = re.compile(r"[.!?](?=\s|$)|\n")
# An item needs a word: 3+ letters, or an abbreviation of 2+ capitals ("CP", "SI", "HA").
_WORDY_RE = re.compile(r"[A-Za-z]{3,}|\b[A-Z][A-Z0-9]+\b")
_SENTENCE_RE = re.compile(r"[^.!?\n]+(?:[.!?](?!\s|$)[^.!?\n]*)*")


def _clause_end(note: str, start: int, stops: re.Pattern[str] = _CLAUSE_END_RE) -> int:
    m = stops.search(note, start)
    return m.start() if m else len(note)


def _items(note: str, span: Span, *, leading: re.Pattern[str] | None = None,
           trailing: re.Pattern[str] | None = None) -> list[Span]:
    out = []
    for piece in split_list(note, span, LIST_SEP_RE):
        item = trim(note, piece, leading=leading, trailing=trailing)
        if item is not None and _WORDY_RE.search(note[item[0]:item[1]]):
            out.append(item)
    return out


def _dedupe(spans: list[Span], note: str) -> list[Span]:
    seen, out = set(), []
    for span in sorted(spans):
        key = " ".join(note[span[0]:span[1]].lower().split())
        if key not in seen:
            seen.add(key)
            out.append(span)
    return out


def complaint_zones(note: str, sections: list[Section]) -> list[Span]:
    """Where the note lists complaints: from a symptom cue (or the chief complaint header, or
    a "+") to the end of its clause, the next cue, or a negation cue."""
    starts = [m.end() for m in SYMPTOM_CUE_RE.finditer(note)]
    starts += [s.start for s in sections_of(sections, "complaint")]
    starts += [m.end() for m in _PLUS_RE.finditer(note)]
    cue_starts = sorted({m.start() for m in SYMPTOM_CUE_RE.finditer(note)} | {m.start() for m in _PLUS_RE.finditer(note)})
    zones = []
    for start in sorted(set(starts)):
        end = _clause_end(note, start)
        stop = NEGATION_CUE_RE.search(note, start, end)
        end = stop.start() if stop else end
        end = min([c for c in cue_starts if start < c < end] + [end])
        if end > start:
            zones.append((start, end))
    return zones


def symptom_spans(note: str, sections: list[Section]) -> list[Span]:
    """Complaints the note states as present (negated ones are removed later, in validate)."""
    spans: list[Span] = []
    for zone in complaint_zones(note, sections):
        # A duration separates, it does not end: "chest pain since this morning, diaphoresis".
        for part in split_list(note, zone, DURATION_RE):
            spans += _items(note, part, leading=_SUBJECT_RE)
    return _dedupe(spans, note)


def _list_lines(note: str, span: Span) -> list[Span]:
    """A section body's first line and the list lines after it ("- x", "2. y"); a plain line
    after a heading's own line is prose that follows the section, not part of it."""
    lines, cursor = [], span[0]
    for i, line in enumerate(note[span[0]:span[1]].split("\n")):
        if i == 0 or re.match(r"\s*(?:[-*•]|\d+[.)])\s", line):
            lines.append((cursor, cursor + len(line)))
        elif line.strip():
            break
        cursor += len(line) + 1
    return lines


def diagnosis_spans(note: str, sections: list[Section]) -> list[Span]:
    """Conditions the note says the patient has: this visit's and the chronic ones."""
    spans: list[Span] = []
    lines = [line for section in sections_of(sections, "assessment", "past_history")
             for line in _list_lines(note, section.span)]
    for piece in (p for line in lines for p in split_list(note, line, _NUMBERING_RE)):
        piece = trim(note, piece)  # "1. flu" -> "flu" before looking for the sentence end
        if piece is None:
            continue
        end = _clause_end(note, piece[0], _SENTENCE_END_RE)
        item = trim(note, (piece[0], min(piece[1], end)), leading=LEADING_ARTICLE_RE, trailing=QUALIFIER_RE)
        if item is not None and _WORDY_RE.search(note[item[0]:item[1]]):
            spans.append(item)
    for m in _HISTORY_CUE_RE.finditer(note):
        end = _clause_end(note, m.end(), _HISTORY_END_RE)
        spans += _items(note, (m.end(), end), leading=LEADING_ARTICLE_RE, trailing=QUALIFIER_RE)
    for m in _DIAGNOSIS_CUE_RE.finditer(note):
        end = _clause_end(note, m.end())
        spans += _items(note, (m.end(), end), leading=LEADING_ARTICLE_RE, trailing=QUALIFIER_RE)
    return _dedupe(spans, note)


def imaging_spans(note: str, sections: list[Section]) -> list[Span]:
    """Imaging studies with their result, one sentence each ("CXR: no infiltrate")."""
    spans: list[Span] = []
    imaging = [s.span for s in sections_of(sections, "imaging")]
    for a, b in imaging:
        for m in _SENTENCE_RE.finditer(note, a, b):
            item = trim(note, (m.start(), m.end()), leading=_IMAGING_ARTICLE_RE)
            if item is not None:
                spans.append(item)
    bodies = {s.header_start: s.start for s in sections}  # "HOSPITAL COURSE: CT head: ..." -> after the header
    for m in _SENTENCE_RE.finditer(note):
        span = trim(note, (m.start(), m.end()))
        if span is None or any(a <= span[0] < b for a, b in imaging):
            continue
        if span[0] in bodies and bodies[span[0]] < span[1]:
            span = (bodies[span[0]], span[1])
        if _IMAGING_SENTENCE_RE.match(note[span[0]:span[1]]):
            item = trim(note, span, leading=_IMAGING_ARTICLE_RE)
            if item is not None:
                spans.append(item)
    return _dedupe(spans, note)
