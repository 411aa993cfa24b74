"""Sentence boundaries for catalog prose and clinical notes, as character offsets.

A rule-based splitter (no model, no download), tuned to err on the side of NOT splitting:
a missed boundary only makes a chunk a little longer, while a false one cuts a sentence —
and a clinical fact — in half. A boundary is placed:

  * after terminal punctuation `.`, `!`, `?` (plus closing quotes/brackets) and whitespace,
    unless the period belongs to an abbreviation: a known one ("Dr.", "approx.", "vs."),
    a dotted one ("b.i.d.", "e.g.", "p.o.", "U.S."), an initial ("J. Smith"), a list number
    ("1. Start azithromycin", "Plan: 1. Rest. 2. Fluids."), or the next word is lowercase
    ("approx. two weeks"). Decimals ("100.2F", "0.5 mg") never qualify: the period is not
    followed by whitespace.
  * at a blank line (a paragraph break).
  * at a line break that starts a bullet ("- ", "* ", "• ", "2) ") or a "Label: value"
    line ("HR: 88", "SpO2: 97%"), so vitals and lists written one per line separate even
    without periods. A plain wrapped line does not: the sentence goes on.

Boundaries sit at the start of the next sentence (after the whitespace), so the spans
returned by `sentence_spans` are contiguous and cover the range exactly.
"""
from __future__ import annotations

import re

from .base import Span

# Lowercased, without the final period. Only words that almost never end a sentence.
ABBREVIATIONS: frozenset[str] = frozenset({
    "dr", "drs", "mr", "mrs", "ms", "prof", "sr", "jr", "st", "mt", "vs", "etc", "approx", "appt",
    "no", "nos", "fig", "figs", "vol", "inc", "ltd", "co", "pt", "pts", "jan", "feb", "aug", "sept",
    "oct", "nov", "dec",
})

# A punctuation run, then closing quotes/brackets, then whitespace or the end. A match starts
# only where a run starts, and the run is taken whole (`++`, `*+`: what follows it is never
# more of it): retrying inside a long run ("......x") took time quadratic in its length.
_TERMINAL = re.compile(r"""(?<![.!?])[.!?]++['"’”)\]]*+(?=\s|\Z)""")
_DOTTED = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")  # the part before the final '.' of "b.i.d." / "e.g."
_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_NEW_ITEM = re.compile(r"""
    \n[ \t]*                                      # a line break (and indentation), then either
    (?= [-*•][ \t]                                #   a bullet
      | \d{1,3}[.)][ \t]                          #   a numbered item "2." / "2)"
      | [A-Za-z][A-Za-z0-9 /%()-]{0,30}:[ \t]     #   a "Label: value" line
    )""", re.VERBOSE)
_WHITESPACE = re.compile(r"\s*")


def sentence_boundaries(text: str, start: int = 0, end: int | None = None) -> list[int]:
    """Sorted offsets strictly inside (start, end) where a new sentence begins."""
    end = len(text) if end is None else end
    cuts: set[int] = set()
    # A run that `start` cuts into is matched from its real beginning, then clipped to `start`.
    run_start = start
    if 0 < start < len(text) and text[start] in ".!?":
        while run_start > 0 and text[run_start - 1] in ".!?":
            run_start -= 1
    for match in _TERMINAL.finditer(text, run_start, end):
        if _is_sentence_end(text, max(match.start(), start), match.end(), start, end):
            cuts.add(_WHITESPACE.match(text, match.end(), end).end())
    for pattern in (_PARAGRAPH, _NEW_ITEM):
        for match in pattern.finditer(text, start, end):
            cuts.add(match.end())
    return sorted(c for c in cuts if start < c < end)


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Contiguous [start, end) sentence spans covering text[start:end] (trailing whitespace
    stays with the sentence before it)."""
    end = len(text) if end is None else end
    if start >= end:
        return []
    edges = [start, *sentence_boundaries(text, start, end), end]
    return list(zip(edges[:-1], edges[1:]))


def _is_sentence_end(text: str, punct_start: int, punct_end: int, lo: int, hi: int) -> bool:
    if text[punct_start:punct_end].rstrip("'\"’”)]") != ".":
        return True  # "!", "?", "..." and "?!" always end a sentence
    word_start = punct_start
    while word_start > lo and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:punct_start].lstrip("([\"'")
    if word.lower() in ABBREVIATIONS or _DOTTED.fullmatch(word):
        return False
    if len(word) == 1 and word.isupper():  # an initial: "J. Smith"
        return False
    if word.isdigit() and len(word) <= 2 and _opens_item(text, word_start, lo):
        return False  # a list marker "1." opens a sentence, it does not end one
    after = _WHITESPACE.match(text, punct_end, hi).end()
    return not (after < hi and text[after].islower())  # "approx. two weeks": no break before lowercase


def _opens_item(text: str, pos: int, lo: int) -> bool:
    """A bare number at `pos` is a list marker if it starts a line or follows the end of a
    sentence or a colon ("Plan: 1. Rest. 2. Fluids."); after a word it is a value ("age 45.")."""
    while pos > lo and text[pos - 1] in " \t":
        pos -= 1
    return pos == lo or text[pos - 1] in "\n.!?:;"
