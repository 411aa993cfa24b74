"""Knowledge-base administration: what the UI's Knowledge tab (and `cairn delete`) calls.

    ingest_uploads(role, collection, paths, ...)   uploaded files → per-file results, with progress
    delete_documents(role, collection, doc_ids)    docstore + Chroma + BM25, crash-safely
    list_documents(role, collection, query, limit) a page of documents, for a delete picker
    index_statistics(role, collection)             documents, chunks, embedder, sizes, last ingest

Plain functions over a KnowledgeBase, with frozen results that render as table rows or
Markdown (names, ids and skip reasons escaped: they may quote an uploaded file); Gradio
handlers only translate CairnError into gr.Error (DESIGN.md §5, pure core, thin UI). Every
function takes the caller's role first and checks it before it validates anything or opens an
index: only `admin` manages knowledge (assistant/roles.py), so a user cannot list, count or
delete notes by calling a handler the page does not show them.

Uploads. Gradio hands over temp paths (/tmp/gradio/<hash>/films.jsonl) that it may delete
later. Each file is copied to CAIRN_HOME/uploads/<collection>/<original name> and ingested
from there, so that
  - a document's provenance (`source`) names the upload and outlives the temp folder;
  - a note file keeps its id (note ids are the file stem) whatever the temp name was;
  - uploading a file of the same name again replaces the earlier upload with ingest's usual
    semantics: changed documents are re-indexed, documents gone from the file are deleted
    (kept, and said so, when the new file has skipped lines).

`kb`: pass an open KnowledgeBase (the app's cached one, or a test's with a fake embedder) to
reuse it — it is left open; without it one is opened for the call and closed after.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Mapping, Sequence

from assistant.roles import require_admin

from .config import KnowledgeConfig
from .errors import BadInputError, KnowledgeError
from .home import cairn_home, private_dir, private_file
from .index import KnowledgeBase
from .safe_text import markdown_text
from .ingest import ingest
from .loaders import extensions_for, unsupported_reason
from .types import COLLECTIONS

ProgressCallback = Callable[[float, str], None]
_COPIED = 0.05  # share of the progress bar spent copying the uploads before ingest


# --- results -------------------------------------------------------------------------------

@dataclass(frozen=True)
class SkippedLine:
    """One input the loaders skipped: its line (None for a whole-file problem) and why."""

    line: int | None
    reason: str


@dataclass(frozen=True)
class FileResult:
    """What ingesting one uploaded file did. `name` is the original file name; `source` is
    where it is stored (the indexed documents' provenance)."""

    name: str
    source: str
    added: int
    updated: int
    unchanged: int
    deleted: int
    chunks: int
    kept_unseen: int  # earlier documents of this file kept because the new one had skipped lines
    skipped: tuple[SkippedLine, ...]

    @property
    def loaded(self) -> int:
        """Documents the file holds now (added + updated + unchanged)."""
        return self.added + self.updated + self.unchanged

    @property
    def status(self) -> str:
        if self.skipped and not self.loaded:
            return "nothing loaded"
        if self.skipped:
            return f"{len(self.skipped)} skipped"
        return "ok"


@dataclass(frozen=True)
class UploadReport:
    """Per-file results of one upload, in upload order."""

    collection: str
    files: tuple[FileResult, ...]
    seconds: float

    HEADERS: ClassVar[tuple[str, ...]] = ("file", "added", "updated", "unchanged", "deleted", "chunks",
                                          "skipped", "status")
    SKIPPED_HEADERS: ClassVar[tuple[str, ...]] = ("file", "line", "reason")

    def to_rows(self) -> list[list[Any]]:
        """One row per file, columns HEADERS."""
        return [[f.name, f.added, f.updated, f.unchanged, f.deleted, f.chunks, len(f.skipped), f.status]
                for f in self.files]

    def skipped_rows(self) -> list[list[Any]]:
        """One row per skipped line, columns SKIPPED_HEADERS (line "" for a whole-file problem)."""
        return [[f.name, "" if s.line is None else s.line, s.reason] for f in self.files for s in f.skipped]

    def to_markdown(self) -> str:
        total = {k: sum(getattr(f, k) for f in self.files) for k in ("added", "updated", "unchanged", "deleted")}
        skipped = sum(len(f.skipped) for f in self.files)
        lines = [f"**{self.collection}**: {len(self.files)} file(s) — {total['added']} added, {total['updated']} "
                 f"updated, {total['unchanged']} unchanged, {total['deleted']} deleted, {skipped} skipped "
                 f"({self.seconds:.1f} s)", "",
                 _markdown_table(self.HEADERS, self.to_rows())]
        for f in self.files:
            if f.kept_unseen:
                lines.append(f"\n{markdown_text(f.name)}: kept {f.kept_unseen} earlier document(s) not in this "
                             f"upload because it has skipped lines; fix them and upload again (or delete the "
                             f"documents).")
        if skipped:
            lines += ["", "**Skipped lines**", "", _markdown_table(self.SKIPPED_HEADERS, self.skipped_rows())]
        return "\n".join(lines)


@dataclass(frozen=True)
class DeleteResult:
    collection: str
    deleted: tuple[str, ...]     # ids that were indexed and are gone now
    not_found: tuple[str, ...]   # ids the collection did not hold
    chunks_removed: int

    def to_markdown(self) -> str:
        text = (f"Deleted {len(self.deleted)} document(s) ({self.chunks_removed} chunks) from {self.collection}"
                + (f": {markdown_text(', '.join(self.deleted))}." if self.deleted else "."))
        if self.not_found:
            text += f" Not found: {markdown_text(', '.join(self.not_found))}."
        if self.deleted:
            text += " A later ingest of a file that still holds them adds them back: remove them there too."
        return text


@dataclass(frozen=True)
class DocumentRow:
    doc_id: str
    label: str     # catalog: "Title (type, year)"; notes: "note_type · date · patient_id"
    source: str    # the file it came from (full path)
    line: int | None
    chunks: int
    indexed_at: str  # ISO time of its last (re)indexing

    HEADERS: ClassVar[tuple[str, ...]] = ("id", "title", "file", "line", "chunks", "indexed at")

    def to_row(self) -> list[Any]:
        return [self.doc_id, self.label, Path(self.source).name, "" if self.line is None else self.line,
                self.chunks, self.indexed_at]


@dataclass(frozen=True)
class DocumentListing:
    collection: str
    query: str
    documents: tuple[DocumentRow, ...]  # at most `limit`, ordered by id
    total: int                          # how many match `query` in all

    HEADERS: ClassVar[tuple[str, ...]] = DocumentRow.HEADERS

    @property
    def ids(self) -> list[str]:
        return [d.doc_id for d in self.documents]

    def to_rows(self) -> list[list[Any]]:
        return [d.to_row() for d in self.documents]

    def caption(self) -> str:
        shown = f"{len(self.documents)} of {self.total}" if self.total > len(self.documents) else f"{self.total}"
        return f"{shown} document(s) in {self.collection}" + (f" matching {markdown_text(repr(self.query))}"
                                                              if self.query else "")


@dataclass(frozen=True)
class IndexStatistics:
    collection: str
    documents: int
    chunks: int
    pending: int                     # journaled chunk ids of an interrupted change (0 when healthy)
    generation: int                  # bumps on every committed change
    embedder: str | None             # model id the vectors come from (None: nothing indexed yet)
    dim: int | None
    chroma_mode: str
    path: str
    size_bytes: Mapping[str, int]    # docstore, chroma (0 in server mode), bm25, total
    sources: Mapping[str, int]       # file -> documents
    last_ingest: Mapping[str, Any] | None  # time (ISO), added, updated, unchanged, deleted, skipped, ...
    last_document_update: str | None # ISO time of the latest document commit
    chroma_vectors: int | None = None  # with check=True: vectors in Chroma ...
    consistent: bool | None = None     # ... and whether their ids equal the docstore's chunk ids

    HEADERS: ClassVar[tuple[str, ...]] = ("statistic", "value")
    SOURCE_HEADERS: ClassVar[tuple[str, ...]] = ("file", "documents")

    def to_rows(self) -> list[list[str]]:
        sizes = ", ".join(f"{k} {_human_bytes(v)}" for k, v in self.size_bytes.items() if k != "total")
        rows = [["documents", f"{self.documents:,}"], ["chunks", f"{self.chunks:,}"],
                ["embedder", f"{self.embedder} (dim {self.dim})" if self.embedder else "-"],
                ["size on disk", f"{_human_bytes(self.size_bytes.get('total', 0))} ({sizes})"],
                ["last ingest", _describe_ingest(self.last_ingest)],
                ["last document update", self.last_document_update or "-"],
                ["generation", str(self.generation)],
                ["Chroma", f"{self.chroma_mode}"], ["path", self.path]]
        if self.pending:
            rows.append(["pending", f"{self.pending} (an interrupted change; reopening recovers it)"])
        if self.consistent is not None:
            rows.append(["consistency", f"{'ok' if self.consistent else 'MISMATCH'} (Chroma {self.chroma_vectors:,}, "
                                        f"docstore {self.chunks:,} chunks)"])
        return rows

    def source_rows(self) -> list[list[Any]]:
        return [[Path(s).name, n] for s, n in self.sources.items()]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- the four operations -------------------------------------------------------------------

def ingest_uploads(role: str, collection: str, paths: Sequence[str | Path], *,
                   names: Sequence[str] | None = None, progress: ProgressCallback | None = None,
                   kb: KnowledgeBase | None = None) -> UploadReport:
    """Ingest uploaded files into `collection` and report per file.

    paths: the uploaded files (Gradio temp paths). names: their original file names, in the
    same order; default each path's own name (Gradio keeps it as the temp file's name).
    progress(fraction, message): called on this thread, fraction non-decreasing up to 1.0.
    Raises RoleError (not admin), KnowledgeError (unknown collection) or BadInputError (no
    files, an extension the collection cannot load, a missing file, a file over the config's
    max_upload_mb, two files with one name) before anything is copied or opened. Bad lines
    inside a file are not errors: they are reported in that file's `skipped`.
    """
    require_admin(role, "manage the knowledge base (upload files)")
    _check_collection(collection)
    max_mb = (kb.config if kb is not None else KnowledgeConfig.load()).max_upload_mb
    uploads = _validate_uploads(collection, paths, names, max_mb)
    tell = _monotonic(progress)
    started = time.perf_counter()

    folder = private_dir(cairn_home() / "uploads" / collection)
    stored: list[tuple[str, Path]] = []
    for i, (name, path) in enumerate(uploads):
        tell(_COPIED * i / len(uploads), f"receiving {name}")
        stored.append((name, _store(path, folder / name)))

    def ingest_progress(fraction: float, message: str) -> None:
        tell(1.0 if fraction >= 1.0 else _COPIED + (1.0 - _COPIED) * fraction, message)

    with _open(collection, kb) as base:
        report = ingest(base, [str(p) for _, p in stored], progress=False, on_progress=ingest_progress)
    files = []
    for name, path in stored:
        source = str(path)
        counts = report.source(source)
        files.append(FileResult(
            name=name, source=source, added=counts.added, updated=counts.updated, unchanged=counts.unchanged,
            deleted=counts.deleted, chunks=counts.chunks_embedded, kept_unseen=report.kept_unseen.get(source, 0),
            skipped=tuple(SkippedLine(i.line, i.reason) for i in report.issues if i.source == source)))
    return UploadReport(collection, tuple(files), time.perf_counter() - started)


def delete_documents(role: str, collection: str, doc_ids: Sequence[str], *,
                     kb: KnowledgeBase | None = None) -> DeleteResult:
    """Remove documents by id from the docstore, Chroma and BM25 (KnowledgeBase.delete_documents;
    no embedding model is loaded). Ids the collection does not hold are reported in
    `not_found`, not raised. Raises RoleError unless admin, BadInputError for no ids."""
    require_admin(role, "manage the knowledge base (delete documents)")
    _check_collection(collection)
    wanted = list(dict.fromkeys(d.strip() for d in doc_ids if d and d.strip()))
    if not wanted:
        raise BadInputError("no document ids given; pick documents to delete (ids are listed by "
                            "list_documents / `cairn search`)")
    with _open(collection, kb) as base:
        existing = base.store.existing_doc_ids(wanted)
        deleted = [d for d in wanted if d in existing]
        removed = base.delete_documents(deleted) if deleted else []
        if deleted:
            base.bm25()  # rebuild now, so the next search does not pay for it
    return DeleteResult(collection, tuple(deleted), tuple(d for d in wanted if d not in existing), len(removed))


def list_documents(role: str, collection: str, query: str = "", limit: int = 50, *,
                   kb: KnowledgeBase | None = None) -> DocumentListing:
    """Documents whose id, file or a metadata value (title, genre, note type, patient id, ...)
    contains `query` (case-insensitive), ordered by id, at most `limit`. Raises RoleError
    unless admin."""
    require_admin(role, "manage the knowledge base (list documents)")
    _check_collection(collection)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= 10_000:
        raise BadInputError(f"limit must be an integer from 1 to 10000, got {limit!r}")
    query = (query or "").strip()
    with _open(collection, kb) as base:
        rows, total = base.store.find_documents(query, limit)
    documents = tuple(DocumentRow(doc_id, _label(collection, meta), source, line, n_chunks, _iso(updated))
                      for doc_id, source, line, meta, n_chunks, updated in rows)
    return DocumentListing(collection, query, documents, total)


def index_statistics(role: str, collection: str, *, check: bool = False,
                     kb: KnowledgeBase | None = None) -> IndexStatistics:
    """Counts, embedder, sizes on disk, sources and the last ingest of `collection`. `check`
    also compares Chroma's ids with the docstore's (opens Chroma; slow on big indexes).
    Raises RoleError unless admin."""
    require_admin(role, "manage the knowledge base (index statistics)")
    _check_collection(collection)
    with _open(collection, kb) as base:
        stats = base.stats()
        last = base.store.get_meta("last_ingest")
        last_ingest = json.loads(last) if last else None
        if last_ingest is not None:
            last_ingest["time"] = _iso(last_ingest.get("time"))
        chroma_vectors = consistent = None
        if check:
            chroma_ids = base.chroma.all_ids()
            chroma_vectors, consistent = len(chroma_ids), chroma_ids == base.store.all_chunk_ids()
        sizes = {"docstore": sum(_bytes(base.dir / n) for n in ("docstore.sqlite", "docstore.sqlite-wal",
                                                                 "docstore.sqlite-shm")),
                 "chroma": _bytes(base.dir / "chroma"), "bm25": _bytes(base.dir / "bm25")}
        sizes["total"] = sum(sizes.values())
        dim = stats["dim"]
        return IndexStatistics(
            collection=collection, documents=int(stats["documents"]), chunks=int(stats["chunks"]),
            pending=int(stats["pending"]), generation=int(stats["generation"]), embedder=stats["embedder"],
            dim=int(dim) if dim else None, chroma_mode=str(stats["chroma_mode"]), path=str(stats["path"]),
            size_bytes=sizes, sources=dict(stats["sources"]), last_ingest=last_ingest,
            last_document_update=_iso(base.store.last_updated()), chroma_vectors=chroma_vectors,
            consistent=consistent)


# --- helpers -------------------------------------------------------------------------------

def _check_collection(collection: str) -> None:
    if collection not in COLLECTIONS:
        raise KnowledgeError(f"unknown collection {collection!r}; use one of {', '.join(COLLECTIONS)}")


def _validate_uploads(collection: str, paths: Sequence[str | Path],
                      names: Sequence[str] | None, max_mb: int) -> list[tuple[str, Path]]:
    """(original name, path) per upload, or the first problem as BadInputError."""
    allowed = " ".join(extensions_for(collection))  # type: ignore[arg-type]
    if isinstance(paths, (str, Path)):
        paths = [paths]
    if not paths:
        raise BadInputError(f"no files uploaded; choose one or more {allowed} files for {collection}")
    if names is not None and len(names) != len(paths):
        raise KnowledgeError(f"{len(paths)} uploaded files but {len(names)} names; give one name per file")
    uploads: list[tuple[str, Path]] = []
    seen: set[str] = set()
    for i, given in enumerate(paths):
        path = Path(given)
        raw = names[i] if names is not None else path.name
        name = Path(str(raw).replace("\\", "/")).name.strip()  # never a directory part: it names a file we write
        if not name or name in (".", "..") or name.startswith("."):
            raise BadInputError(f"upload {raw!r} has no usable file name; rename it (e.g. films.jsonl) and "
                                f"upload again")
        reason = unsupported_reason(Path(name), collection)  # type: ignore[arg-type]
        if reason:
            raise BadInputError(f"{name}: {reason}")
        if not path.is_file():
            raise BadInputError(f"{name}: the uploaded file is gone ({path}); upload it again")
        size = path.stat().st_size  # before a byte is read: the limit guards the memory and disk
        if size > max_mb * 2**20:
            raise BadInputError(f"{name} is {size / 2**20:.1f} MB, over the {max_mb} MB upload limit; split it, "
                                f"ingest it with `cairn ingest`, or raise max_upload_mb in the [knowledge] table "
                                f"of CAIRN_HOME/config.toml (or CAIRN_MAX_UPLOAD_MB)")
        if name in seen:
            raise BadInputError(f"two uploaded files are named {name}; rename one (uploads are stored by name, "
                                f"and the second would replace the first)")
        seen.add(name)
        uploads.append((name, path))
    return uploads


def _store(path: Path, dest: Path) -> Path:
    """Copy an upload to its stored place atomically (a half-copied file never becomes a source)."""
    if path.resolve() == dest.resolve():
        return dest
    part = private_file(dest.with_name(f".{dest.name}.part"))  # uploads hold note text: 0600
    shutil.copyfile(path, part)
    os.replace(part, dest)
    return dest


def _monotonic(progress: ProgressCallback | None) -> ProgressCallback:
    """A progress callback whose fraction never goes back and stays within [0, 1]."""
    reached = 0.0

    def tell(fraction: float, message: str) -> None:
        nonlocal reached
        reached = max(reached, min(max(fraction, 0.0), 1.0))
        if progress is not None:
            progress(reached, message)
    return tell


@contextmanager
def _open(collection: str, kb: KnowledgeBase | None) -> Iterator[KnowledgeBase]:
    if kb is not None:
        if kb.collection != collection:
            raise KnowledgeError(f"the KnowledgeBase passed is the {kb.collection} collection, not {collection}; "
                                 f"pass the {collection} one or none")
        yield kb
        return
    opened = KnowledgeBase(collection)
    try:
        yield opened
    finally:
        opened.close()


def _label(collection: str, meta: Mapping[str, Any]) -> str:
    if collection == "catalog":
        details = ", ".join(str(meta[k]) for k in ("type", "year") if meta.get(k) is not None)
        return f"{meta.get('title', '')}" + (f" ({details})" if details else "")
    return " · ".join(str(meta[k]) for k in ("note_type", "date", "patient_id") if meta.get(k))


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(float(epoch)).astimezone().isoformat(timespec="seconds")


def _bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    if not path.is_dir():
        return 0
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _describe_ingest(last: Mapping[str, Any] | None) -> str:
    if not last:
        return "-"
    return (f"{last.get('time')}: {last.get('added', 0)} added, {last.get('updated', 0)} updated, "
            f"{last.get('unchanged', 0)} unchanged, {last.get('deleted', 0)} deleted, "
            f"{last.get('skipped', 0)} skipped")


def _markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        # a file name or a skip reason may quote the uploaded file: shown as text (safe_text.py)
        return markdown_text(str(value).replace("\n", " ")).replace("|", "\\|")
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
