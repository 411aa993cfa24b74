"""JSON Lines loader: one record object per line, streamed in constant memory (no file-size
limit — a 50 MB catalog is read one line at a time; a line past LoadLimits.max_line_mb is
skipped unread). A bad line is one issue; the rest of the file still loads."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from ..types import Collection
from .base import LoadLimits, LoadResult, issue, iter_lines
from .records import to_document


def load(path: Path, collection: Collection, limits: LoadLimits) -> Iterator[LoadResult]:
    source = str(path)  # one string shared by every Document of the file
    records = 0
    for raw in iter_lines(path, limits.max_line_bytes):
        if raw.error is None and not raw.text.strip():
            continue  # blank lines (often a trailing one) are not records
        records += 1
        if raw.error is not None:
            yield issue(path, raw.number, raw.error)
            continue
        try:
            record = json.loads(raw.text)
        except json.JSONDecodeError as exc:
            yield issue(path, raw.number, f"invalid JSON at column {exc.colno}: {exc.msg}; each line must be "
                                          f"one complete JSON object like {{\"id\": \"...\", ...}}")
            continue
        yield to_document(record, collection, source=source, line=raw.number, limits=limits)
    if records == 0:
        yield issue(path, None, "file is empty; nothing to load (write one JSON object per line)")
