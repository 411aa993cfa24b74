"""Chunkers: Document → Chunks with exact spans (DESIGN.md §3, between loaders and embedder).

Both have the same shape — a frozen config dataclass checked in `__post_init__` and
`chunk(doc) -> list[Chunk]` — and the same guarantees: ids `"{doc.id}#{i}"`,
`doc.text[start:end] == chunk.text`, metadata = the document's plus `chunk_index`.

    RecursiveChunker  catalog items: paragraphs → lines → sentences → words, with overlap
    SectionChunker    clinical notes: one chunk per section header, split at sentence ends
"""
from __future__ import annotations

from ..errors import KnowledgeError
from ..types import Collection
from .base import Chunker, Span
from .recursive import RecursiveChunker
from .sections import SectionChunker

__all__ = ["Chunker", "RecursiveChunker", "SectionChunker", "Span", "chunker_for"]


def chunker_for(collection: Collection, *, chunk_size: int = 800, chunk_overlap: int = 120,
                max_chunk_chars: int = 1200) -> RecursiveChunker | SectionChunker:
    """The chunker of a collection: recursive for the catalog, by section for notes.

    The keyword settings mirror KnowledgeConfig (chunk_size, chunk_overlap,
    note_max_chunk_chars); each chunker uses only its own.
    """
    if collection == "catalog":
        return RecursiveChunker(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    if collection == "notes":
        return SectionChunker(max_chunk_chars=max_chunk_chars)
    raise KnowledgeError(f"unknown collection {collection!r}; use 'catalog' or 'notes'")
