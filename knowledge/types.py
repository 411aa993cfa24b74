"""The values that flow through the knowledge base: Document → Chunk → Hit, and the
IngestIssue that reports a skipped input instead of raising (DESIGN.md §3)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

Collection = Literal["catalog", "notes"]
COLLECTIONS: tuple[str, ...] = ("catalog", "notes")


@dataclass(frozen=True)
class Document:
    """One catalog item or clinical note as loaded from a file.

    `text` is what gets chunked and indexed; `metadata` holds the typed fields that filters
    use (type, genres, year, language, date, ...). `source` and `line` say where it came from
    so an error or a citation can point back at the file.
    """

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    line: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip():
            raise ValueError(f"Document id must be a non-empty string, got {self.id!r}")

    @property
    def content_hash(self) -> str:
        """sha256 over text + metadata: any change to either re-indexes the document."""
        payload = json.dumps({"text": self.text, "metadata": self.metadata}, sort_keys=True, default=str)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Chunk:
    """A retrievable piece of a Document. `span` is the [start, end) character range of
    `text` inside the document's text, so a citation can highlight exactly what it used."""

    id: str
    doc_id: str
    text: str
    span: tuple[int, int]
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        start, end = self.span
        if not 0 <= start <= end:
            raise ValueError(f"Chunk {self.id!r} has an invalid span {self.span!r}; need 0 <= start <= end")


@dataclass
class Hit:
    """A retrieved chunk with its score and the per-stage ranks that produced it (for traces)."""

    chunk: Chunk
    score: float
    ranks: dict[str, int] = field(default_factory=dict)

    @property
    def doc_id(self) -> str:
        return self.chunk.doc_id


@dataclass(frozen=True)
class IngestIssue:
    """A user-input problem: the input was skipped, the batch went on. Printed, never raised."""

    source: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {self.reason}"
