"""CSV loader: a header row naming the fields, then one record per row. Streamed in constant
memory (no file-size limit); quoted fields may hold commas and newlines, so a Document's
line is the row's first physical line. List fields are '|'-joined ("drama|sci-fi").

Named csv_loader, not csv, so it never shadows the standard library module it uses.
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Iterator

from ..types import Collection
from .base import LoadLimits, LoadResult, RawLine, issue, iter_lines
from .records import to_document


def load(path: Path, collection: Collection, limits: LoadLimits) -> Iterator[LoadResult]:
    source = str(path)
    # The csv module rejects fields over 128 KiB by default; a long description must reach
    # the max_doc_chars check instead, which names the real limit. (A process-wide setting,
    # but only ever raised.)
    csv.field_size_limit(max(csv.field_size_limit(), min(sys.maxsize, limits.max_doc_chars + 1)))
    bad_lines: dict[int, str] = {}

    def text_lines(lines: Iterator[RawLine]) -> Iterator[str]:
        # Undecodable bytes become U+FFFD so the csv structure survives; the record that
        # holds the line is reported instead of loaded.
        for raw in lines:
            if raw.error is not None:
                bad_lines[raw.number] = raw.error
            yield raw.text

    reader = csv.reader(text_lines(iter_lines(path, limits.max_line_bytes)), strict=True)
    header: list[str] | None = None
    records, end_line = 0, 0
    while True:
        start_line = end_line + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            end_line = reader.line_num
            yield issue(path, start_line, f"malformed CSV ({exc}); quote fields that contain commas, quotes or "
                                          f"newlines, and double any quote inside a quoted field")
            if header is None:
                return  # without a readable header no row can be interpreted
            records += 1
            continue
        end_line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue  # blank rows separate nothing and hold nothing
        errors = [(n, bad_lines.pop(n)) for n in range(start_line, end_line + 1) if n in bad_lines]
        if errors:
            yield issue(path, errors[0][0], errors[0][1])
            if header is None:
                return  # without a readable header no row can be interpreted
            records += 1
            continue
        if header is None:
            header = [name.strip() for name in row]
            problem = _header_problem(header)
            if problem:
                yield issue(path, start_line, problem)
                return
            continue
        records += 1
        if len(row) > len(header):
            yield issue(path, start_line, f"row has {len(row)} fields but the header has {len(header)}; quote values "
                                          f"that contain commas")
            continue
        # A short row leaves its last fields empty: the record check names what is missing.
        yield to_document(dict(zip(header, row)), collection, source=source, line=start_line, limits=limits)
    if header is None:
        yield issue(path, None, "file is empty; a CSV needs a header row naming the fields, then one row per record")
    elif records == 0:
        yield issue(path, None, "the CSV has a header but no records; nothing to load")


def _header_problem(header: list[str]) -> str | None:
    blank = [i + 1 for i, name in enumerate(header) if not name]
    if blank:
        return f"header column {blank[0]} has no name; name every column (e.g. id,title,type,...)"
    seen: set[str] = set()
    for name in header:
        if name in seen:
            return f"header names column {name!r} twice; rename or remove one"
        seen.add(name)
    return None
