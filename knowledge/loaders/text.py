"""Plain-text and Markdown note loader: one file is one note, its id the file stem
(`note_0042.md` → "note_0042") and its text the file verbatim (spans index into it)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ..types import Collection
from .base import LoadLimits, LoadResult, read_text_file
from .records import to_document


def load(path: Path, collection: Collection, limits: LoadLimits) -> Iterator[LoadResult]:
    text = read_text_file(path, limits)
    if not isinstance(text, str):
        yield text
        return
    yield to_document({"id": path.stem, "text": text}, collection, source=str(path), line=None, limits=limits)
