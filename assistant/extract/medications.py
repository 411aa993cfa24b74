"""Medication mentions anchored on their dose: NAME DOSE [ROUTE] [FREQUENCY] [DURATION].

    "Start apixaban 10 mg PO BID x 7 days; lisinopril 10 mg by mouth once daily."
        ─▶ apixaban | 10 mg | PO | BID | 7 days      lisinopril | 10 mg | by mouth | once daily | -

A dose is an amount with a unit ("500 mg", "160/4.5 mcg", "15 mg/kg", "2 sprays", "1 g") or
a topical amount ("thin layer"). The name is the run of words just before it, back to a list
boundary (";", ",", "-", "and", a colon) or a prescribing verb ("start", "takes", "prescribed").
Route, frequency and duration are read from a fixed vocabulary right after the dose, in that
order, each optional; a concentration inside the name ("triamcinolone 0.1% cream") stays in
the name. Mentions in the allergies section are skipped (an allergy is not a prescription).
"""
from __future__ import annotations

import re

from .schema import Medication
from .sections import Section, find_sections, sections_of
from .spans import evidence

_UNITS = (r"(?:mg/kg/day|mg/kg/dose|mg/kg|mcg/kg|mg/m2|mg|mcg|µg|μg|micrograms?|milligrams?|grams?|g|mL|ml|"
          r"units?|IU|mEq|sprays?|puffs?|tabs?|tablets?|capsules?|caps?|drops?|patch(?:es)?|applications?)")
# At most four more numbers after the first ("1-2", "160/4.5", "5/325-10/325"): an unbounded
# chain was re-read from each of its numbers, so a long "0/0/0/…" with no unit took time
# quadratic in its length.
_AMOUNT = rf"\d+(?:\.\d+)?(?:\s*{_UNITS})?(?:\s*(?:/|-|to)\s*\d+(?:\.\d+)?){{0,4}}\s*{_UNITS}"
DOSE_RE = re.compile(rf"(?<![\w.])(?:{_AMOUNT}(?:\s*/\s*{_AMOUNT})?|(?:a )?thin (?:layer|film))(?![\w%])",
                     re.IGNORECASE)
ROUTE_RE = re.compile(
    r"(?:PO|P\.O\.|by mouth|orally|oral|IV|intravenously|intravenous|IM|intramuscularly|SC|SQ|subq|"
    r"subcutaneously|inhaled|INH|via inhaler|by inhalation|intranasally|nasal|per nares|topically|topical|"
    r"SL|sublingually|PR|rectally|per rectum|transdermally|ophthalmic|in each eye|in the affected ear)\b",
    re.IGNORECASE)
# One frequency term; a frequency is one or more of them ("every 6 hours as needed", "q8h PRN").
_FREQ_TERM = (r"(?:divided\s+)?(?:once daily|twice daily|three times daily|four times daily|once a day|twice a day|"
              r"three times a day|four times a day|every other day|every morning|every evening|every night|"
              r"every \d+(?:-\d+)? hours?|every \d+ days?|q\s?\d+(?:-\d+)?\s?h(?:rs?|ours?)?|"
              r"QD|QAM|QPM|QHS|QOD|BID|TID|QID|daily|nightly|weekly|at bedtime|with meals|"
              r"PRN|as needed(?: for [a-z ]+?(?=[;,.]|$))?|once|stat|STAT)")
FREQUENCY_RE = re.compile(rf"{_FREQ_TERM}(?:\s+{_FREQ_TERM})*\b", re.IGNORECASE)
DURATION_RE = re.compile(r"(?:x|for|times)\s+(?P<value>\d+(?:-\d+)?\s*(?:days?|weeks?|months?|doses?)|"
                         r"(?:one|two|three|four|five|six|seven|eight|nine|ten|fourteen)\s+(?:days?|weeks?|months?))\b",
                         re.IGNORECASE)
# Words that end a name when walking back from the dose.
_STOP_WORDS = {"and", "or", "start", "started", "starting", "begin", "began", "prescribed", "prescribe", "takes",
               "take", "taking", "took", "continue", "continued", "resume", "resumed", "restart", "give", "given",
               "on", "with", "of", "the", "a", "an", "i", "we", "he", "she", "they", "pt", "patient", "have",
               "has", "had", "will", "rx", "sent", "to", "pharmacy", "then", "plus", "also", "added", "add",
               "increase", "increased", "decrease", "decreased", "switch", "switched", "change", "changed",
               "discharged", "home", "is", "was", "s/p", "trial", "using", "uses", "use", "daily", "in", "x"}
_NAME_TOKEN_RE = re.compile(r"[A-Za-z0-9][\w\-%.]*[\w%]|[A-Za-z]")
_MAX_NAME_WORDS = 4
_GAP_RE = re.compile(r"\s*")


def _name_before(note: str, dose_start: int, floor: int) -> tuple[int, int] | None:
    """Span of the medication name ending right before the dose: word tokens walking back
    until a stop word, a list boundary, or _MAX_NAME_WORDS."""
    segment_start = max(floor, max(note.rfind(c, 0, dose_start) for c in ";,:\n(") + 1)
    dash = re.search(r"(?:^|\s)-\s", note[segment_start:dose_start])
    if dash:
        segment_start += dash.end()
    tokens = list(_NAME_TOKEN_RE.finditer(note, segment_start, dose_start))
    kept: list[re.Match[str]] = []
    for token in reversed(tokens):
        word = token.group(0)
        if word.lower() in _STOP_WORDS or len(kept) == _MAX_NAME_WORDS:
            break
        if note[token.end():(kept[-1].start() if kept else dose_start)].strip():
            break  # punctuation between words ends the name
        kept.append(token)
    while kept and re.fullmatch(r"[\d.%]+", kept[0].group(0)):  # "... 2 tablets": a count is not a name
        kept.pop(0)
    if not kept or not re.search(r"[A-Za-z]{3,}", " ".join(k.group(0) for k in kept)):
        return None
    return kept[-1].start(), kept[0].end()


def _after(pattern: re.Pattern[str], note: str, position: int, end: int) -> re.Match[str] | None:
    """`pattern` right after `position` (only whitespace between), before `end`."""
    gap = _GAP_RE.match(note, position, end)
    return pattern.match(note, gap.end(), end) if gap else None


def medication_at(note: str, dose: re.Match[str], floor: int = 0) -> Medication | None:
    """The medication whose dose is `dose`, or None when no name precedes it."""
    name = _name_before(note, dose.start(), floor)
    if name is None:
        return None
    line_end = note.find("\n", dose.end())
    limit = len(note) if line_end < 0 else line_end
    cursor, parts = dose.end(), {}
    for attr, pattern in (("route", ROUTE_RE), ("frequency", FREQUENCY_RE), ("duration", DURATION_RE)):
        m = _after(pattern, note, cursor, limit)
        if m is None:
            continue
        span = (m.start("value"), m.end("value")) if attr == "duration" else (m.start(), m.end())
        parts[attr] = evidence(note, span)
        cursor = m.end()
    return Medication(evidence=evidence(note, (name[0], cursor)), name=evidence(note, name),
                      dose=evidence(note, (dose.start(), dose.end())), **parts)


def extract_medications(note: str, sections: list[Section] | None = None) -> list[Medication]:
    """Every dosed medication mention outside the allergies section, in note order."""
    sections = find_sections(note) if sections is None else sections
    allergies = [s.span for s in sections_of(sections, "allergies")]
    meds: list[Medication] = []
    for dose in DOSE_RE.finditer(note):
        if any(a <= dose.start() < b for a, b in allergies):
            continue
        floor = meds[-1].evidence.end if meds else 0
        med = medication_at(note, dose, floor)
        if med is not None:
            meds.append(med)
    return meds
