"""Incremental, crash-safe ingest: files → Documents → (only what changed) chunks → vectors
in Chroma + rows in the docstore; BM25 is rebuilt from the docstore when anything changed.

Per batch of changed documents the order is fixed, and it is what makes kill -9 safe:
  1. docstore: journal old+new chunk ids in `pending`, drop the replaced rows   (commit)
  2. Chroma:   delete the old vectors
  3. embed the new chunks; Chroma: upsert them
  4. docstore: insert the new rows, clear their journal entries                 (commit)
A crash anywhere leaves journaled ids; `KnowledgeBase.recover()` deletes their vectors, and
the documents they belonged to are simply "new" to the next run, which finishes the job.
The four steps of a batch hold the collection's write lock (index.py), so ingests, deletions
and recovery in other threads or processes never interleave with them.
Unchanged documents (same content hash) cost a hash and a dict lookup: no model is loaded.

Progress for a UI: `on_progress(fraction, message)` is called on the caller's thread with a
fraction that only grows, ending at exactly 1.0 — reading the files is 0-10%, embedding and
writing the changed documents 10-95%, the BM25 rebuild the rest. The report also counts per
source file (`by_source`), so a caller that ingested several files can say what each one did.
"""
from __future__ import annotations

import json
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from tqdm import tqdm

from .chunking import RecursiveChunker, SectionChunker
from .index import KnowledgeBase
from .loaders import LoadLimits, iter_documents
from .types import Chunk, Document, IngestIssue


ProgressCallback = Callable[[float, str], None]
_SCANNED, _INDEXED = 0.10, 0.95  # fractions reached after reading the files, after indexing


@dataclass
class SourceCounts:
    """What one ingest did to the documents of one source file."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    chunks_embedded: int = 0


@dataclass
class IngestReport:
    collection: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    chunks_embedded: int = 0
    kept_unseen: dict[str, int] = field(default_factory=dict)  # source -> docs kept because it had bad lines
    issues: list[IngestIssue] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    by_source: dict[str, SourceCounts] = field(default_factory=dict)  # Document.source -> counts

    def source(self, source: str) -> SourceCounts:
        """The counts of `source`, created at zero on first use."""
        counts = self.by_source.get(source)
        if counts is None:
            counts = self.by_source[source] = SourceCounts()
        return counts

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.deleted)

    def summary(self) -> str:
        lines = [f"{self.collection}: {self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
                 f"{self.deleted} deleted, {len(self.issues)} skipped; {self.chunks_embedded} chunks embedded "
                 f"in {self.seconds.get('total', 0):.1f}s"]
        for source, n in self.kept_unseen.items():
            lines.append(f"  kept {n} earlier document(s) of {source} not seen this run because the file had "
                         f"skipped lines; fix them and re-ingest (or delete the documents) to remove them")
        if self.issues:
            lines.append("skipped:")
            lines += [f"  {issue}" for issue in self.issues[:50]]
            if len(self.issues) > 50:
                lines.append(f"  … and {len(self.issues) - 50} more")
        return "\n".join(lines)


def make_chunker(kb: KnowledgeBase) -> Callable[[Document], list[Chunk]]:
    cfg = kb.config
    if kb.collection == "notes":
        return SectionChunker(max_chunk_chars=cfg.note_max_chunk_chars).chunk
    return RecursiveChunker(chunk_size=cfg.chunk_size, chunk_overlap=cfg.chunk_overlap).chunk


def ingest(kb: KnowledgeBase, paths: Sequence[str | Path], *, progress: bool = True,
           limits: LoadLimits | None = None, build_bm25: bool = True,
           on_progress: ProgressCallback | None = None) -> IngestReport:
    """Index `paths` into `kb`. `progress` shows tqdm bars on the terminal; `on_progress`
    (fraction, message) reports to a UI (see the module docstring). `build_bm25=False` leaves
    the BM25 rebuild to its first use (the benchmark ingests in segments and rebuilds once,
    as a single ingest would)."""
    started = time.perf_counter()
    report = IngestReport(kb.collection)
    limits = limits or LoadLimits()
    tell = on_progress or (lambda fraction, message: None)
    tell(0.0, f"reading files for {kb.collection}")
    known = kb.store.doc_hashes()

    # Pass 1: hash everything, remember only what changed (constant memory in unchanged docs).
    seen: set[str] = set()
    changed_ids: set[str] = set()
    sources_read: set[str] = set()
    sources_with_issues: set[str] = set()
    for item in tqdm(iter_documents(paths, kb.collection, limits=limits), desc=f"scan {kb.collection}",
                     unit="doc", disable=not progress, leave=False):
        if isinstance(item, IngestIssue):
            report.issues.append(item)
            sources_with_issues.add(item.source)
            continue
        sources_read.add(item.source)
        seen.add(item.id)
        if known.get(item.id, ("", ""))[0] != item.content_hash:
            changed_ids.add(item.id)
        else:
            report.unchanged += 1
            report.source(item.source).unchanged += 1
        if on_progress is not None and len(seen) % 1000 == 0:
            tell(0.0, f"reading files: {len(seen):,} documents")
    report.seconds["scan"] = time.perf_counter() - started
    tell(_SCANNED, f"read {len(seen):,} documents ({len(changed_ids):,} new or changed, {len(report.issues)} skipped)")

    # Deleted: documents from a file we read (or a folder we scanned) that are gone now.
    scanned_dirs = [Path(p).resolve() for p in paths if Path(p).is_dir()]
    to_delete: list[str] = []
    for doc_id, (_, source) in known.items():
        if doc_id in seen:
            continue
        gone_file = any(_is_under(source, d) for d in scanned_dirs) and not Path(source).exists()
        if source in sources_read or gone_file:
            if source in sources_with_issues:
                report.kept_unseen[source] = report.kept_unseen.get(source, 0) + 1
            else:
                to_delete.append(doc_id)
                report.source(source).deleted += 1
    if to_delete:
        kb.delete_documents(to_delete)
        report.deleted = len(to_delete)

    # Pass 2: re-read and index only the changed documents, in crash-safe batches.
    if changed_ids:
        tell(_SCANNED, f"loading the embedder for {len(changed_ids):,} documents")
        kb.bind_embedder()
        embed_start = time.perf_counter()
        _index_changed(kb, paths, limits, changed_ids, report, progress, tell)
        report.seconds["index"] = time.perf_counter() - embed_start
    if report.changed and build_bm25:
        tell(_INDEXED, "rebuilding the BM25 index")
        bm25_start = time.perf_counter()
        kb.bm25()
        report.seconds["bm25"] = time.perf_counter() - bm25_start
    report.seconds["total"] = time.perf_counter() - started
    _record_last_ingest(kb, report)
    tell(1.0, f"done: {report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
              f"{report.deleted} deleted, {len(report.issues)} skipped")
    return report


def _record_last_ingest(kb: KnowledgeBase, report: IngestReport) -> None:
    """Keep what the latest ingest did in the docstore's meta table (shown by index statistics)."""
    kb.store.set_meta("last_ingest", json.dumps({
        "time": time.time(), "added": report.added, "updated": report.updated, "unchanged": report.unchanged,
        "deleted": report.deleted, "skipped": len(report.issues), "chunks_embedded": report.chunks_embedded,
        "seconds": round(report.seconds.get("total", 0.0), 3)}))


def _index_changed(kb: KnowledgeBase, paths: Sequence[str | Path], limits: LoadLimits, changed_ids: set[str],
                   report: IngestReport, progress: bool, tell: ProgressCallback) -> None:
    """Embedding runs on this thread; steps 1-4 of each batch run, in order, on one writer
    thread, so Chroma's HNSW insert of batch i overlaps the embedding of batch i+1 (on 2 cores
    that hides most of the write cost). At most one batch is in flight, and a writer error
    surfaces at the next hand-off. Progress is told from this thread (a UI's progress hook may
    rely on the caller's context), as each batch is embedded."""
    chunker = make_chunker(kb)
    bar = tqdm(total=len(changed_ids), desc=f"index {kb.collection}", unit="doc", disable=not progress)
    batch: list[Document] = []
    in_flight: Future | None = None
    embedded = 0

    def write(docs: list[Document], chunks: list[Chunk], vectors) -> None:
        # Under the write lock, and from what is indexed now rather than at the start of this
        # ingest: another thread or process may have added or removed these documents since,
        # and chunks of theirs left out of step 1 would stay in Chroma with no row.
        with kb.writing():
            replaced = kb.store.existing_doc_ids([d.id for d in docs])
            old_ids = kb.store.begin_change(sorted(replaced), [c.id for c in chunks])          # step 1
            if old_ids:
                kb.chroma.delete(old_ids)                                                      # step 2
            kb.chroma.upsert([c.id for c in chunks], vectors, [c.doc_id for c in chunks])      # step 3
            kb.store.commit_docs(docs, chunks, vectors)                                        # step 4
            stale = set(old_ids) - {c.id for c in chunks}
            if stale:
                kb.store.clear_pending(stale)
        report.updated += len(replaced)
        report.added += len(docs) - len(replaced)
        report.chunks_embedded += len(chunks)
        source_of = {d.id: d.source for d in docs}
        for doc in docs:
            counts = report.source(doc.source)
            if doc.id in replaced:
                counts.updated += 1
            else:
                counts.added += 1
        for chunk in chunks:
            report.source(source_of[chunk.doc_id]).chunks_embedded += 1
        bar.update(len(docs))

    def flush() -> None:
        nonlocal in_flight, embedded
        docs = list(batch)
        batch.clear()
        chunks = [c for doc in docs for c in chunker(doc)]
        vectors = kb.embedder.encode([c.text for c in chunks], batch_size=kb.config.embed_batch_size)
        if in_flight is not None:
            in_flight.result()
        in_flight = writer.submit(write, docs, chunks, vectors)
        embedded += len(docs)
        tell(_SCANNED + (_INDEXED - _SCANNED) * min(embedded / len(changed_ids), 1.0),
             f"embedding and indexing: {embedded:,}/{len(changed_ids):,} documents")

    kb.chroma  # open Chroma on this thread before the writer uses it
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cairn-ingest-writer") as writer:
        try:
            for item in iter_documents(paths, kb.collection, limits=limits):
                if isinstance(item, Document) and item.id in changed_ids:
                    batch.append(item)
                    if len(batch) >= kb.config.ingest_batch_docs:
                        flush()
            if batch:
                flush()
        finally:
            if in_flight is not None:
                in_flight.result()
            bar.close()


def _is_under(source: str, directory: Path) -> bool:
    try:
        Path(source).resolve().relative_to(directory)
        return True
    except ValueError:
        return False


def ingest_paths(collection: str, paths: Iterable[str | Path], **kwargs) -> IngestReport:
    """Convenience for scripts: open the collection, ingest, close."""
    kb = KnowledgeBase(collection)
    try:
        return ingest(kb, list(paths), **kwargs)
    finally:
        kb.close()
