"""Loaders: files → Documents (DESIGN.md §3, first step of ingest).

    iter_documents(["data/catalog/", "extra.csv"], "catalog")
        → Document, Document, IngestIssue("extra.csv", 7, "missing required field 'year' ..."), ...

One loader per format, all with the same shape `load(path, collection, limits)`; they share
the record validation in `records.py`. Directories are expanded recursively in sorted order
(hidden files and folders skipped, only the collection's extensions picked up). Bad input
never raises: every problem — a missing path, an unsupported file, a bad line, a duplicate
id — is yielded as an IngestIssue in file order and the batch goes on.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import KnowledgeError
from ..types import COLLECTIONS, Collection, Document, IngestIssue
from . import csv_loader, json_array, jsonl, pdf, text
from .base import LoadLimits, Loader, LoadResult

__all__ = ["LoadLimits", "LoadResult", "Loader", "LOADERS", "SUPPORTED_EXTENSIONS", "extensions_for",
           "iter_documents", "unsupported_reason"]

LOADERS: dict[str, Loader] = {
    ".jsonl": jsonl.load,
    ".json": json_array.load,
    ".csv": csv_loader.load,
    ".txt": text.load,
    ".md": text.load,
    ".pdf": pdf.load,
}
SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(LOADERS)
# Catalog items need structured fields (title, type, year, ...), which only record formats carry.
_RECORD_EXTENSIONS = (".csv", ".json", ".jsonl")
_BY_COLLECTION: dict[str, tuple[str, ...]] = {
    "catalog": _RECORD_EXTENSIONS,
    "notes": tuple(sorted(SUPPORTED_EXTENSIONS)),
}


def extensions_for(collection: Collection) -> tuple[str, ...]:
    """The file extensions a collection can be loaded from (lowercase, with the dot)."""
    _check_collection(collection)
    return _BY_COLLECTION[collection]


def iter_documents(paths: Iterable[str | Path], collection: Collection, *,
                   limits: LoadLimits = LoadLimits()) -> Iterator[Document | IngestIssue]:
    """Documents and IngestIssues from files and directories, in file order.

    Ids must be unique within one run: a second record with an id already seen is skipped
    with an issue pointing at the first. A wrong `collection` is a caller error and raises
    KnowledgeError at once (not at the first `next`).
    """
    _check_collection(collection)
    if isinstance(paths, (str, Path)):  # a lone path would otherwise iterate as characters
        paths = [paths]
    return _iter(paths, collection, limits)


def _iter(paths: Iterable[str | Path], collection: Collection, limits: LoadLimits) -> Iterator[LoadResult]:
    # id → (source, line) of its first occurrence; the only state that grows with the input.
    seen: dict[str, tuple[str, int | None]] = {}
    for item in _expand(paths, collection):
        if isinstance(item, IngestIssue):
            yield item
            continue
        try:
            for result in LOADERS[item.suffix.lower()](item, collection, limits):
                if isinstance(result, Document):
                    first = seen.get(result.id)
                    if first is not None:
                        where = f"{first[0]}:{first[1]}" if first[1] is not None else first[0]
                        yield IngestIssue(result.source, result.line,
                                          f"duplicate id {result.id!r} (first seen at {where}); skipped — ids must "
                                          f"be unique within the {collection} collection, rename one")
                        continue
                    seen[result.id] = (result.source, result.line)
                yield result
        except OSError as exc:  # unreadable file, vanished mid-run, ...: that file is lost, not the batch
            yield IngestIssue(str(item), None, f"cannot read file ({exc.strerror or exc}); check that it exists "
                                               f"and is readable")


def _expand(paths: Iterable[str | Path], collection: Collection) -> Iterator[Path | IngestIssue]:
    allowed = _BY_COLLECTION[collection]
    for given in paths:
        path = Path(given).expanduser()
        if path.is_dir():
            files = _walk(path, allowed)
            if not files:
                yield IngestIssue(str(path), None, f"no {_names(allowed)} files in this directory (hidden files are "
                                                   f"skipped); check the path or the collection")
            yield from files
        elif path.is_file():
            problem = unsupported_reason(path, collection)
            if problem:
                yield IngestIssue(str(path), None, problem)
            else:
                yield path
        elif path.exists():
            yield IngestIssue(str(path), None, "not a regular file or directory; give a file or a folder of files")
        else:
            yield IngestIssue(str(path), None, "path does not exist; check the spelling and the working directory")


def _walk(root: Path, allowed: tuple[str, ...]) -> list[Path]:
    """Files under `root` with an allowed extension, sorted by path; hidden entries skipped."""
    found: list[Path] = []
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]  # prune: never descend into .git etc.
        for name in filenames:
            if not name.startswith(".") and Path(name).suffix.lower() in allowed:
                found.append(Path(folder) / name)
    return sorted(found, key=lambda p: p.relative_to(root).parts)


def unsupported_reason(path: Path, collection: Collection) -> str | None:
    """Why `path` cannot be loaded into `collection` by its extension (and what to use), or None."""
    suffix = path.suffix.lower()
    allowed = _BY_COLLECTION[collection]
    if suffix in allowed:
        return None
    if suffix in SUPPORTED_EXTENSIONS:
        return (f"{suffix} files can only be loaded as notes; {collection} items must be records in "
                f"{_names(allowed)} with fields id, title, type, description, genres, year")
    shown = repr(suffix) if suffix else "no extension"
    return f"unsupported file type ({shown}); {collection} can be loaded from {_names(allowed)} (export tables as .csv)"


def _names(extensions: tuple[str, ...]) -> str:
    return ", ".join(extensions[:-1]) + " or " + extensions[-1] if len(extensions) > 1 else extensions[0]


def _check_collection(collection: str) -> None:
    if collection not in COLLECTIONS:
        raise KnowledgeError(f"unknown collection {collection!r}; use one of {', '.join(COLLECTIONS)}")
