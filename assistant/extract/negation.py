"""Negation scopes, NegEx-style (Chapman et al., 2001, "A simple algorithm for identifying
negated findings and diseases in discharge summaries"): a negation cue ("denies", "no",
"without", "negative for", ...) negates the words after it up to the end of its clause.

    "Pt denies chest pain or fever. Reports cough."
        cue "denies" ─▶ scope "chest pain or fever" ─▶ negated_findings: chest pain | fever

A clause ends at a sentence end, a semicolon, a colon, a line break, or a word that turns the
sentence positive again ("but", "however", "reports"). Findings are the scope cut at list
separators (",", "or", "and", "nor"), with fillers ("any", "signs of") and trailing
circumstances ("on admission", "on exam") trimmed. Scopes inside an item that is described,
not negated — "migraine without aura" (a diagnosis), "CT head: no acute bleed" (an imaging
result) — are passed as `exclude` and yield no findings.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .spans import RUN_START, Span, inside, overlaps, split_list, trim

# Pre-negation cues (NegEx's list, the common ones). "no" must not match "no." (number) or "NKDA".
NEGATION_CUE_RE = re.compile(
    r"\b(?:denies|denied|deny|denying|negative for|without|absence of|free of|no evidence of|"
    r"no signs? of|no|not|never|nor|rules? out|ruled out)\b(?!\.\d)", re.IGNORECASE)
# What ends a scope: clause punctuation, a line break, or a word that turns the sentence positive.
_SCOPE_END_RE = re.compile(
    r"[.;:!?](?=\s|$)|\n|\b(?:but|however|although|though|except|reports?|endorses?|complains?|presents?|"
    r"admits?|with (?:a |an )?(?:history|PMH) of)\b", re.IGNORECASE)
_SEPARATOR_RE = re.compile(rf"{RUN_START}(?:\s*,\s*(?:(?:or|and|nor)\s+)?|\s+(?:or|and|nor)\s+)", re.IGNORECASE)
_FILLER_RE = re.compile(r"(?:any|signs? of|symptoms? of|evidence of|complaints? of|history of|other|"
                        r"recent episodes? of|further|significant)\s+", re.IGNORECASE)
CIRCUMSTANCE_RE = re.compile(
    rf"{RUN_START}\s+(?:on (?:admission|arrival|presentation|exam|examination|review|ROS)|at (?:this time|present)|"
    r"per (?:the )?(?:patient|pt|family|mother|father)|since\b.*|today|noted|reported|appreciated|present)$",
    re.IGNORECASE)
# Verbs between a cue and the finding: "does not have fever", "did not report chest pain".
_VERB_RE = re.compile(r"(?:have|has|had|report|reports|reported|complain of|experience|experienced|"
                      r"endorse|show|shows|showed|appear|appreciate|demonstrate)\s+", re.IGNORECASE)
_MAX_SCOPE_CHARS = 160  # NegEx uses a 5-word window; ours ends at the clause, capped for run-on text


@dataclass(frozen=True)
class NegationScope:
    """cue: the cue as written; cue_start: where it starts; start/end: the negated words after it."""

    cue: str
    cue_start: int
    start: int
    end: int

    @property
    def span(self) -> tuple[int, int]:
        return self.start, self.end


def negation_scopes(note: str) -> list[NegationScope]:
    """Every cue and the clause it negates, in order."""
    scopes = []
    for cue in NEGATION_CUE_RE.finditer(note):
        limit = min(len(note), cue.end() + _MAX_SCOPE_CHARS)
        stop = _SCOPE_END_RE.search(note, cue.end(), limit)
        end = stop.start() if stop else limit
        start = cue.end()
        while start < end and note[start].isspace():
            start += 1
        while end > start and note[end - 1].isspace():
            end -= 1
        if start < end:
            scopes.append(NegationScope(cue.group(0), cue.start(), start, end))
    return _merge_chained(scopes)


def _merge_chained(scopes: list[NegationScope]) -> list[NegationScope]:
    """A cue inside another cue's scope ("denies fever, no chills") starts its own scope; the
    outer one is cut where the inner cue begins, so no word belongs to two scopes."""
    out = []
    for i, scope in enumerate(scopes):
        end = scope.end
        if i + 1 < len(scopes) and scopes[i + 1].cue_start < end:
            end = scopes[i + 1].cue_start
        if end > scope.start:
            out.append(NegationScope(scope.cue, scope.cue_start, scope.start, end))
    return out


def scope_of(span: Span, scopes: Sequence[NegationScope]) -> NegationScope | None:
    """The negation scope a span lies in (overlapping it counts), if any."""
    return next((s for s in scopes if overlaps(span, s.span)), None)


def negated_spans(note: str, scopes: Iterable[NegationScope], *, exclude: Sequence[Span] = ()) -> list[Span]:
    """The findings each scope negates, as spans; scopes that start inside an `exclude` span
    (a diagnosis or imaging item that merely contains a cue) give none."""
    found: list[Span] = []
    for scope in scopes:
        if inside((scope.cue_start, scope.cue_start + len(scope.cue)), exclude):
            continue
        body = trim(note, scope.span, leading=_VERB_RE)
        if body is None:
            continue
        for piece in split_list(note, body, _SEPARATOR_RE):
            span = trim(note, piece, leading=_FILLER_RE, trailing=CIRCUMSTANCE_RE)
            if span is not None and _looks_like_finding(note[span[0]:span[1]]) and span not in found:
                found.append(span)
    return found


def _looks_like_finding(text: str) -> bool:
    """A finding has a word (3+ letters, or an abbreviation like 'CP') and is short; '10' or a sentence is not."""
    return bool(re.search(r"[A-Za-z]{3,}|\b[A-Z][A-Z0-9]+\b", text)) and len(text.split()) <= 8
