"""What every loader shares: the `LoadLimits` config, the loader signature, and the two ways
of reading bytes — whole-file (size-capped, one UTF-8 decode) and line by line (streaming,
constant memory, one decode per line so a bad byte costs one line, not the file).

A loader is `load(path, collection, limits) -> Iterator[Document | IngestIssue]`; it never
raises for bad input (DESIGN.md §3: an IngestIssue is printed, the batch goes on).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Union

from ..errors import KnowledgeError
from ..types import Collection, Document, IngestIssue

LoadResult = Union[Document, IngestIssue]
Loader = Callable[[Path, Collection, "LoadLimits"], Iterator[LoadResult]]

_UTF8_FIX = "re-save it as UTF-8 (e.g. `iconv -f latin1 -t utf-8 in > out`)"


@dataclass(frozen=True)
class LoadLimits:
    """Guards against inputs that would exhaust memory or flood the index.

    max_doc_chars: longest Document.text accepted; a longer record is skipped with an issue
        (split it into several records, or raise this limit).
    max_file_mb: largest file accepted by the whole-file formats (.json, .txt, .md, .pdf),
        which must be read into memory at once. Streaming formats (.jsonl, .csv) are read
        line by line and have no size limit.
    max_line_mb: longest line of a streamed file; a longer one is skipped with an issue
        without ever being held in memory whole. The default fits a record at max_doc_chars
        even with every character JSON-escaped (\\uXXXX: 6 bytes, 12 for a surrogate pair).
    """

    max_doc_chars: int = 1_000_000
    max_file_mb: float = 64
    max_line_mb: float = 16

    def __post_init__(self) -> None:
        if isinstance(self.max_doc_chars, bool) or not isinstance(self.max_doc_chars, int) or self.max_doc_chars <= 0:
            raise KnowledgeError(f"LoadLimits.max_doc_chars must be a positive integer, got {self.max_doc_chars!r}")
        for name in ("max_file_mb", "max_line_mb"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise KnowledgeError(f"LoadLimits.{name} must be a positive number of megabytes, got {value!r}")

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    @property
    def max_line_bytes(self) -> int:
        return max(1, int(self.max_line_mb * 1024 * 1024))


def issue(path: Path, line: int | None, reason: str) -> IngestIssue:
    return IngestIssue(source=str(path), line=line, reason=reason)


def check_file_size(path: Path, limits: LoadLimits) -> IngestIssue | None:
    """An issue if a whole-file format is over `max_file_mb` (checked before reading it)."""
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        return issue(path, None, f"file is {size / 2**20:.1f} MB, over max_file_mb={limits.max_file_mb:g} for "
                                 f"{path.suffix} files; split it, convert records to .jsonl (streamed, no size "
                                 f"limit), or raise LoadLimits.max_file_mb")
    return None


def utf8_error_reason(data: bytes, exc: UnicodeDecodeError, *, byte_base: int = 0) -> str:
    """Name the first invalid byte and where it is, so the user can find it in an editor."""
    bad = data[exc.start:exc.start + 4]
    return f"not valid UTF-8 at byte {byte_base + exc.start} ({bad!r}: {exc.reason}); {_UTF8_FIX}"


def read_text_file(path: Path, limits: LoadLimits) -> str | IngestIssue:
    """The whole file as text (size-capped, UTF-8 with an optional BOM), or why not.

    An empty or whitespace-only file is an issue: it would index nothing and is almost
    always a failed export.
    """
    too_big = check_file_size(path, limits)
    if too_big is not None:
        return too_big
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return issue(path, line, utf8_error_reason(data, exc))
    if not text.strip():
        return issue(path, None, "file is empty; nothing to load (re-export it or remove it from the batch)")
    return text


@dataclass(frozen=True)
class RawLine:
    """One physical line of a streamed file. `text` keeps its line ending (the csv module
    needs it); invalid bytes are replaced by U+FFFD and `error` says what was wrong. A line
    over the length cap is read past, never kept: its text is one U+FFFD (and its ending)."""

    number: int  # 1-based
    text: str
    error: str | None


def iter_lines(path: Path, max_bytes: int) -> Iterator[RawLine]:
    """Stream a file line by line in constant memory, decoding each line on its own. No line
    longer than `max_bytes` (its ending included) is ever held whole: it is read past in
    pieces of at most that size and yielded as an error."""
    byte_offset = 0
    with path.open("rb") as handle:  # binary: a text-mode decode error would end the whole file
        number = 0
        while data := handle.readline(max_bytes + 1):
            number += 1
            if len(data) > max_bytes:
                size = len(data)
                while not data.endswith(b"\n") and (data := handle.readline(max_bytes)):
                    size += len(data)
                yield RawLine(number, "\ufffd" + ("\n" if data.endswith(b"\n") else ""),
                              f"line is {size:,} bytes, over the {max_bytes:,}-byte line limit; split the record, "
                              f"or raise LoadLimits.max_line_mb")
                byte_offset += size
                continue
            # A BOM is only meaningful at the very start of the file.
            encoding = "utf-8-sig" if number == 1 else "utf-8"
            try:
                yield RawLine(number, data.decode(encoding), None)
            except UnicodeDecodeError as exc:
                yield RawLine(number, data.decode(encoding, errors="replace"),
                              utf8_error_reason(data, exc, byte_base=byte_offset))
            byte_offset += len(data)
