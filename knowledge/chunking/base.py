"""What both chunkers share: spans over the document text and turning them into Chunks.

Chunkers never copy or rewrite text: they compute [start, end) offsets into `doc.text`
and slice, so `doc.text[start:end] == chunk.text` holds by construction and a citation
can highlight exactly the characters it used.
"""
from __future__ import annotations

from typing import Any, Iterable, Protocol

from ..types import Chunk, Document

Span = tuple[int, int]  # [start, end) character offsets into Document.text


class Chunker(Protocol):
    def chunk(self, doc: Document) -> list[Chunk]: ...


def trim(text: str, start: int, end: int) -> Span:
    """Shrink [start, end) past leading and trailing whitespace (empty if it is all blank)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def to_chunks(doc: Document, spans: Iterable[tuple[Span, dict[str, Any]]]) -> list[Chunk]:
    """Chunks `doc.id#0, #1, ...` from (span, extra metadata) pairs, skipping blank spans and
    any span that trimming left inside its neighbour: a chunk that was mostly blanks
    ("          0000" before "0000 0") would otherwise be a copy of part of the next one."""
    trimmed = [(trim(doc.text, start, end), extra) for (start, end), extra in spans]
    trimmed = [(span, extra) for span, extra in trimmed if span[0] < span[1]]
    kept = [(span, extra) for i, (span, extra) in enumerate(trimmed)
            if not any(_inside(span, other) for other, _ in trimmed[max(0, i - 1):i] + trimmed[i + 1:i + 2])]
    chunks: list[Chunk] = []
    for (start, end), extra in kept:
        index = len(chunks)
        metadata = {**doc.metadata, **extra, "chunk_index": index}
        chunks.append(Chunk(id=f"{doc.id}#{index}", doc_id=doc.id, text=doc.text[start:end],
                            span=(start, end), metadata=metadata))
    return chunks


def _inside(span: Span, other: Span) -> bool:
    """`span` lies within `other` and is not `other` itself."""
    return other[0] <= span[0] and span[1] <= other[1] and span != other


def pack(pieces: list[Span], limit: int) -> list[Span]:
    """Greedily merge consecutive, contiguous pieces into spans of at most `limit` chars.

    A piece longer than `limit` on its own becomes its own span (the caller decides whether
    that may happen). No overlap: the section chunker wants every sentence exactly once.
    """
    packed: list[Span] = []
    for start, end in pieces:
        if packed and end - packed[-1][0] <= limit:
            packed[-1] = (packed[-1][0], end)
        else:
            packed.append((start, end))
    return packed
