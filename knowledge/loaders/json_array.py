"""JSON array loader: a file holding `[ {record}, {record}, ... ]`. Whole-file format (capped
by `max_file_mb`); elements are decoded one at a time so each Document knows its line and a
bad record is reported where it is."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from ..types import Collection
from .base import LoadLimits, LoadResult, issue, read_text_file
from .records import to_document

_DECODER = json.JSONDecoder()
_WHITESPACE = " \t\n\r"


def load(path: Path, collection: Collection, limits: LoadLimits) -> Iterator[LoadResult]:
    text = read_text_file(path, limits)
    if not isinstance(text, str):
        yield text
        return
    source = str(path)
    pos = _skip_ws(text, 0)
    if text[pos] != "[":
        got = "an object" if text[pos] == "{" else f"{text[pos]!r}"
        yield issue(path, _line_at(text, pos), f"expected a JSON array of records at the top level, got {got}; "
                                               f"wrap the records in [...] or write them one per line as .jsonl")
        return
    pos = _skip_ws(text, pos + 1)
    line, counted_to = 1, 0  # count newlines incrementally: O(file), not O(records × file)
    loaded = 0
    if pos < len(text) and text[pos] == "]":
        pos += 1
    else:
        while True:
            line += text.count("\n", counted_to, pos)
            counted_to = pos
            try:
                record, pos = _DECODER.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                yield issue(path, exc.lineno, f"invalid JSON at column {exc.colno}: {exc.msg}; the rest of the file "
                                              f"was skipped after {loaded} record(s) — fix the file and re-run")
                return
            loaded += 1
            yield to_document(record, collection, source=source, line=line, limits=limits)
            pos = _skip_ws(text, pos)
            if pos < len(text) and text[pos] == ",":
                pos = _skip_ws(text, pos + 1)
                continue
            if pos < len(text) and text[pos] == "]":
                pos += 1
                break
            yield issue(path, _line_at(text, pos), "expected ',' or ']' after a record; the rest of the file was "
                                                   "skipped — check for a missing comma or an unclosed array")
            return
    if _skip_ws(text, pos) < len(text):
        yield issue(path, _line_at(text, pos), "unexpected content after the closing ']'; remove it")
    elif loaded == 0:
        yield issue(path, None, "the array is empty; nothing to load")


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WHITESPACE:
        pos += 1
    return pos


def _line_at(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1
