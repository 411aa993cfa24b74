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
    """Chunks `doc.id#0, #1, ...` from (span, extra metadata) pairs, skipping blank spans."""
    chunks: list[Chunk] = []
    for (start, end), extra in spans:
        start, end = trim(doc.text, start, end)
        if start == end:
            continue
        index = len(chunks)
        metadata = {**doc.metadata, **extra, "chunk_index": index}
        chunks.append(Chunk(id=f"{doc.id}#{index}", doc_id=doc.id, text=doc.text[start:end],
                            span=(start, end), metadata=metadata))
    return chunks


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
