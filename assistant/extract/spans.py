"""Finding a quoted phrase in the note: exact first, then ignoring case and whitespace runs, so
an item's span is always where the note really says it (the model only quotes; offsets are ours).

    locate("Pt denies Chest  pain.", "chest pain")  -> (10, 21)   case/whitespace-insensitive
    occurrences(note, "fever")                       -> every match, word-bounded ones first
    trim(note, (s, e), leading=CUE_RE)               -> the span without cue words and punctuation

All functions are pure over (note, quote) and return offsets into the note, end exclusive.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from .schema import Evidence, Source

Span = tuple[int, int]
# Punctuation and list markers that never belong to an item: "+light sensitivity.", "- apixaban", "1. flu".
_EDGE_LEFT_RE = re.compile(r"^(?:\s|[-+*•,;:.)(]|\d+[.)]\s)+")
# Starts only where a run of such characters starts: the match from there is found first anyway,
# and retrying at every character of a long run that does not reach the end took quadratic time.
_EDGE_RIGHT_RE = re.compile(r"(?<![\s,;:.(])(?:\s|[,;:.(])+$")
# Prefix for the extractors' patterns that begin with a run of blanks (list separators, trailing
# phrases): never start a match inside the run. The match from the run's first blank is found
# first anyway, and retrying at every blank of a long run took time quadratic in its length.
# (A search that itself starts inside a run would miss a match there; the extractors always
# start at a non-blank or right after one.)
RUN_START = r"(?:(?!\s)|(?<!\s))"


def _bounded(note: str, start: int, end: int) -> bool:
    """True when the match is not part of a longer word ("fever" in "fevers" is not)."""
    before = note[start - 1] if start > 0 else " "
    after = note[end] if end < len(note) else " "
    return not (before.isalnum() and note[start].isalnum()) and not (after.isalnum() and note[end - 1].isalnum())


def _loose_pattern(quote: str) -> re.Pattern[str] | None:
    words = quote.split()
    return re.compile(r"\s+".join(re.escape(w) for w in words), re.IGNORECASE) if words else None


def occurrences(note: str, quote: str) -> list[Span]:
    """Every place `quote` occurs in `note`: exact matches if there are any, else matches that
    ignore case and whitespace runs; within each kind, word-bounded matches come first."""
    quote = quote.strip()
    if not quote:
        return []
    exact = [(m.start(), m.start() + len(quote)) for m in re.finditer(re.escape(quote), note)]
    pattern = _loose_pattern(quote)
    found = exact or ([(m.start(), m.end()) for m in pattern.finditer(note)] if pattern else [])
    return sorted(found, key=lambda s: (not _bounded(note, *s), s[0]))


def locate(note: str, quote: str, *, prefer: Callable[[Span], bool] | None = None,
           within: Span | None = None) -> Span | None:
    """The best span of `quote` in `note`, or None when the note does not contain it.

    within: only accept matches inside this window (a medication's dose near its name).
    prefer: among the matches, take the first for which this is true (e.g. "outside any
        negation scope" for a symptom), else the first match.
    """
    found = occurrences(note, quote)
    if within is not None:
        found = [s for s in found if within[0] <= s[0] and s[1] <= within[1]]
    if not found:
        return None
    if prefer is not None:
        return next((s for s in found if prefer(s)), found[0])
    return found[0]


def trim(note: str, span: Span, *, leading: re.Pattern[str] | None = None,
         trailing: re.Pattern[str] | None = None) -> Span | None:
    """Shrink `span` past whitespace, punctuation, list markers and, when given, a `leading`
    or `trailing` pattern (anchored cue words like "presents with" / "x 3 days"); None if
    nothing is left."""
    start, end = span
    for _ in range(4):  # a cue can hide behind a marker ("+ denies"); a few passes settle it
        before = (start, end)
        text = note[start:end]
        cut = _EDGE_LEFT_RE.match(text)
        start += cut.end() if cut else 0
        text = note[start:end]
        if leading is not None and (m := leading.match(text)) and m.end() < len(text):
            start += m.end()
        text = note[start:end]
        cut = _EDGE_RIGHT_RE.search(text)
        end -= len(text) - cut.start() if cut else 0
        text = note[start:end]
        if trailing is not None and (m := trailing.search(text)) and m.start() > 0:
            end = start + m.start()
        if (start, end) == before or start >= end:
            break
    # A closing bracket stays only with its opening one: "(rash)" keeps both, "rash)" loses it.
    # (Counted once, then kept up to date: recounting per bracket was quadratic in a long run.)
    opening, closing = note.count("(", start, end), note.count(")", start, end)
    while end > start and note[end - 1] in ")]" and opening < closing:
        closing -= note[end - 1] == ")"
        end -= 1
        while end > start and note[end - 1].isspace():  # "rash )" -> "rash", not "rash "
            end -= 1
    return (start, end) if start < end and note[start:end].strip() else None


def split_list(note: str, span: Span, separators: re.Pattern[str]) -> list[Span]:
    """Cut a span at every separator match ("a, b and c" -> a | b | c), empty pieces dropped."""
    start, end = span
    pieces, cursor = [], start
    for m in separators.finditer(note, start, end):
        pieces.append((cursor, m.start()))
        cursor = m.end()
    pieces.append((cursor, end))
    return [p for p in pieces if note[p[0]:p[1]].strip()]


def evidence(note: str, span: Span, source: Source = "rules") -> Evidence:
    """The Evidence for `span` of `note` (text taken from the note, so it always matches)."""
    return Evidence(note[span[0]:span[1]], span[0], span[1], source)


def overlaps(a: Span, b: Span) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def inside(span: Span, windows: Iterable[Span]) -> bool:
    """Whether `span` lies entirely within one of `windows`."""
    return any(w[0] <= span[0] and span[1] <= w[1] for w in windows)
