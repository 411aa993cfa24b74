"""Recursive character chunker for catalog items (the scheme of LangChain's
RecursiveCharacterTextSplitter, re-done over offsets so spans are exact).

    text ──split on paragraph breaks──▶ pieces ≤ chunk_size kept
                 │ a piece still too long
                 ▼
         line breaks ▶ sentence ends ▶ spaces ▶ hard cuts every chunk_size chars
                 │
    pieces (contiguous, separators kept on the left) ──greedy merge──▶ chunks ≤ chunk_size,
    each new chunk starting with the last few whole pieces of the previous one
    (≤ chunk_overlap chars) so a fact cut at a boundary still appears whole in one chunk.

Pieces are split at the coarsest separator that makes them fit, so chunks end at a
paragraph where they can, at a sentence where they must, and mid-word only for a "word"
longer than chunk_size. A text of at most chunk_size characters is one chunk.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from ..errors import KnowledgeError
from ..types import Chunk, Document
from .base import Span, to_chunks
from .sentences import sentence_boundaries

# A separator finds the offsets inside (start, end) where a new piece begins.
Separator = Callable[[str, int, int], list[int]]


def _regex_separator(pattern: str) -> Separator:
    compiled = re.compile(pattern)

    def cuts(text: str, start: int, end: int) -> list[int]:
        return [m.end() for m in compiled.finditer(text, start, end) if start < m.end() < end]
    return cuts


# Coarsest first. Each cut falls after the separator, so every piece keeps its trailing
# separator and the pieces concatenate back to the original text.
SEPARATORS: tuple[tuple[str, Separator], ...] = (
    ("paragraph", _regex_separator(r"\n[ \t]*\n\s*")),
    ("line", _regex_separator(r"\n\s*")),
    ("sentence", sentence_boundaries),
    ("space", _regex_separator(r"\s+")),
)


@dataclass(frozen=True)
class RecursiveChunker:
    """chunk_size: most characters in one chunk.
    chunk_overlap: most characters a chunk repeats from the end of the previous one; the
        overlap is made of whole pieces (never starts mid-word), so it may be shorter.
    """

    chunk_size: int = 800
    chunk_overlap: int = 120

    def __post_init__(self) -> None:
        if isinstance(self.chunk_size, bool) or not isinstance(self.chunk_size, int) or self.chunk_size <= 0:
            raise KnowledgeError(f"RecursiveChunker: chunk_size must be a positive integer, got {self.chunk_size!r}")
        if (isinstance(self.chunk_overlap, bool) or not isinstance(self.chunk_overlap, int)
                or not 0 <= self.chunk_overlap < self.chunk_size):
            raise KnowledgeError(f"RecursiveChunker: chunk_overlap must be an integer >= 0 and smaller than "
                                 f"chunk_size ({self.chunk_size}), got {self.chunk_overlap!r}")

    def chunk(self, doc: Document) -> list[Chunk]:
        return to_chunks(doc, ((span, {}) for span in self.spans(doc.text)))

    def spans(self, text: str) -> list[Span]:
        """Untrimmed chunk spans over `text` (`to_chunks` trims surrounding whitespace)."""
        if len(text) <= self.chunk_size:
            return [(0, len(text))] if text else []
        return merge_with_overlap(split_pieces(text, 0, len(text), self.chunk_size), self.chunk_size,
                                  self.chunk_overlap)


def split_pieces(text: str, start: int, end: int, size: int, level: int = 0) -> list[Span]:
    """Contiguous pieces covering [start, end), each at most `size` characters."""
    if end - start <= size:
        return [(start, end)]
    if level == len(SEPARATORS):  # no separator left: hard cuts
        return [(s, min(s + size, end)) for s in range(start, end, size)]
    cuts = SEPARATORS[level][1](text, start, end)
    edges = [start, *cuts, end]
    pieces: list[Span] = []
    for s, e in zip(edges[:-1], edges[1:]):
        pieces.extend(split_pieces(text, s, e, size, level + 1))
    return pieces


def merge_with_overlap(pieces: list[Span], size: int, overlap: int) -> list[Span]:
    """Greedy merge of contiguous pieces (each ≤ size) into spans ≤ size, each span after the
    first starting with a suffix of the previous span's pieces of at most `overlap` chars."""
    spans: list[Span] = []
    current: list[Span] = []
    for piece in pieces:
        if current and piece[1] - current[0][0] > size:
            spans.append((current[0][0], current[-1][1]))
            current = _overlap_tail(current, piece, size, overlap)
        current.append(piece)
    if current:
        spans.append((current[0][0], current[-1][1]))
    return spans


def _overlap_tail(previous: list[Span], incoming: Span, size: int, overlap: int) -> list[Span]:
    """The longest suffix of `previous` within `overlap` chars that still fits in one chunk
    with `incoming`. It is never all of `previous` — that was closed precisely because it
    and `incoming` do not fit together — so no chunk contains the one before it."""
    end = previous[-1][1]
    keep = len(previous)
    while keep > 0:
        start = previous[keep - 1][0]
        if end - start > overlap or incoming[1] - start > size:
            break
        keep -= 1
    return previous[keep:]
