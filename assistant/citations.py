"""Citation markers in a model's answer: split the answer into sentences, give each sentence
the [n] markers that belong to it, and map n to the numbered context (source n is
`chunks[n - 1]`, as prompts.render_context numbers them).

Markers come in every position and shape a small model writes:

    "Alien is a 1979 film [1]."    "Alien is a 1979 film.[1]"    "… film. [1] It stars …"
    "[1, 3]"  "[1;3]"  "[1][3]"  "[1-3]" (= 1, 2, 3)  "[Source 2]"

A marker that stands after a sentence's final period belongs to that sentence, not to the
next one. To get this right the splitter (knowledge.chunking.sentences, which never splits
"Dr." or "100.2F") runs over the answer with every marker blanked to spaces of the same
length: "film.[1] It" reads "film.    It", so the boundary falls before "It" and the
marker's offsets land inside the first sentence. Bracketed numbers of four digits or more
("[2016]") are text, not markers: no context has a thousand sources.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from knowledge.chunking.sentences import sentence_spans
from knowledge.types import Chunk

MARKER_RE = re.compile(
    r"\[\s*(?:(?:sources?|docs?|documents?|refs?|passages?)\s*)?"
    r"(\d{1,3}(?:\s*(?:[-–—,;]|and)\s*\d{1,3})*)\s*\]", re.IGNORECASE)
# _PART_RE, _SPACE_BEFORE_PUNCT_RE and _MARKER_AND_SPACE_RE start with a run of blanks and
# never start inside one (the lookbehinds): the match from the run's first blank is found first
# anyway, and retrying at every blank of a long run cost time quadratic in its length.
_PART_RE = re.compile(r"(?:(?!\s)|(?<!\s))\s*(?:[,;]|and)\s*")
_RANGE_RE = re.compile(r"(\d+)\s*[-–—]\s*(\d+)")
MAX_RANGE = 20  # "[1-20]" expands; "[1-900]" is a typo or an attack, so only its ends count
# A list item's own numbering or bullet is not part of the claim ("1. Alien [1]" claims "Alien").
_ITEM_PREFIX_RE = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")
_SPACE_BEFORE_PUNCT_RE = re.compile(r"(?<!\s)\s+([.,;:!?])(?=\s|$)")  # "film [1] ." leaves "film ."
# A marker with the blanks before it: removing both leaves "film [1]." as "film.".
_MARKER_AND_SPACE_RE = re.compile(r"(?<![ \t])[ \t]*" + MARKER_RE.pattern, re.IGNORECASE)


@dataclass(frozen=True)
class Marker:
    """One citation marker: its [start, end) offsets in the answer and the numbers it names."""

    span: tuple[int, int]
    numbers: tuple[int, ...]


@dataclass(frozen=True)
class AnswerSentence:
    """One sentence of an answer.

    Fields:
        text: the sentence as the model wrote it, markers included, whitespace trimmed.
        span: [start, end) of `text` inside the answer.
        cited: the numbers of its markers, distinct, in order of first appearance (some may
            name no source; `split_valid` separates them).
        claim: the text without markers, list bullet or stray spaces: what gets verified.
    """

    text: str
    span: tuple[int, int]
    cited: tuple[int, ...]
    claim: str

    def __post_init__(self) -> None:
        start, end = self.span
        if not 0 <= start <= end:
            raise ValueError(f"AnswerSentence span {self.span!r} is invalid; need 0 <= start <= end")


def parse_numbers(body: str) -> tuple[int, ...]:
    """The numbers inside one marker's brackets: "1, 3" -> (1, 3); "2-4" -> (2, 3, 4);
    "4-2" -> (2, 3, 4); a range wider than MAX_RANGE -> its two ends only."""
    numbers: list[int] = []
    for part in _PART_RE.split(body.strip()):
        match = _RANGE_RE.fullmatch(part)
        if match:
            lo, hi = sorted((int(match[1]), int(match[2])))
            numbers += range(lo, hi + 1) if hi - lo < MAX_RANGE else (lo, hi)
        elif part.isdigit():
            numbers.append(int(part))
    return tuple(dict.fromkeys(numbers))


def find_markers(text: str) -> list[Marker]:
    """Every citation marker in `text`, in order."""
    return [Marker(span=m.span(), numbers=parse_numbers(m[1])) for m in MARKER_RE.finditer(text)]


def remove_markers(text: str) -> str:
    """`text` without markers, layout kept: "film [1]. It [2]\n- x" -> "film. It\n- x"."""
    return _MARKER_AND_SPACE_RE.sub("", text)


def claim_text(text: str) -> str:
    """What a sentence claims: markers, list bullet/number and extra spaces removed,
    "1. Alien is a film [1]." -> "Alien is a film."."""
    bare = _SPACE_BEFORE_PUNCT_RE.sub(r"\1", _ITEM_PREFIX_RE.sub("", remove_markers(text)))
    return " ".join(bare.split())


def split_sentences(answer: str) -> list[AnswerSentence]:
    """The answer's sentences, each with the markers inside its span (see the module doc)."""
    markers = find_markers(answer)
    blanked = list(answer)
    for marker in markers:
        start, end = marker.span
        blanked[start:end] = " " * (end - start)
    out: list[AnswerSentence] = []
    for start, end in sentence_spans("".join(blanked)):
        while start < end and answer[start].isspace():
            start += 1
        while end > start and answer[end - 1].isspace():
            end -= 1
        if start == end:
            continue
        cited = [n for m in markers if start <= m.span[0] < end for n in m.numbers]
        text = answer[start:end]
        out.append(AnswerSentence(text=text, span=(start, end), cited=tuple(dict.fromkeys(cited)),
                                  claim=claim_text(text)))
    return out


def split_valid(cited: Sequence[int], n_sources: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(numbers that name a source, numbers that do not) for a context of `n_sources`."""
    valid = tuple(n for n in cited if 1 <= n <= n_sources)
    return valid, tuple(n for n in cited if not 1 <= n <= n_sources)


def source_chunk(n: int, chunks: Sequence[Chunk]) -> Chunk | None:
    """The chunk source `n` names (1-based), or None when n is out of range."""
    return chunks[n - 1] if 1 <= n <= len(chunks) else None


def format_marker(numbers: Sequence[int]) -> str:
    """(1, 3) -> "[1, 3]"; () -> ""."""
    return f"[{', '.join(str(n) for n in numbers)}]" if numbers else ""


def with_markers(text: str, numbers: Sequence[int]) -> str:
    """`text` with its markers replaced by one marker of `numbers`, placed before the final
    punctuation the way the prompt asks ("… film [2]."); no numbers: markers just removed."""
    bare = " ".join(remove_markers(text).split())
    marker = format_marker(numbers)
    if not marker:
        return bare
    body = bare.rstrip(".!?:;")
    return f"{body} {marker}{bare[len(body):]}"
