"""A collection's indexes opened together: the docstore (truth), Chroma (dense) and BM25
(lexical), with crash recovery on open. Heavy parts (the embedder, Chroma, BM25) load
lazily so `cairn index-stats` or a no-op re-ingest never loads a model.

One KnowledgeBase may be used by many threads (the UI's workers), and several processes
(the UI, `cairn ingest`) may open the same collection. Every change of the indexes — the
four steps of an ingest batch (ingest.py), a deletion, crash recovery — runs under the
collection's write lock (`write.lock`, a file lock: threads and processes alike). That is
what makes recovery safe to run while others work: under the lock, journal entries can only
be those of a writer that died, never the in-flight ids of a live one (whose vectors
recovery would otherwise delete from under it). Readers take no lock: they read docstore
snapshots and derived indexes stamped with a version.
"""
from __future__ import annotations

import contextlib
import shutil
import threading
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Sequence

from .bm25 import BM25Index
from .corpus import CorpusView
from .config import KnowledgeConfig
from .docstore import DocStore
from .embedder import Embedder, load_embedder
from .errors import IndexStateError, KnowledgeError
from .home import index_dir
from .locks import file_lock
from .types import COLLECTIONS
from .vectorstore import ChromaStore, connect, drop_collection


class KnowledgeBase:
    def __init__(self, collection: str, config: KnowledgeConfig | None = None, *,
                 embedder: Embedder | None = None, root: Path | None = None) -> None:
        if collection not in COLLECTIONS:
            raise KnowledgeError(f"unknown collection {collection!r}; use one of {', '.join(COLLECTIONS)}")
        self.collection = collection
        self.config = config or KnowledgeConfig.load()
        self.dir = root / collection if root else index_dir(collection)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.store = DocStore(self.dir / "docstore.sqlite")
        if embedder is not None:
            self.__dict__["embedder"] = embedder  # pre-seed the cached_property (tests, benchmarks)
        self._bm25: BM25Index | None = None
        self._view: CorpusView | None = None
        self._bm25_lock, self._view_lock = threading.Lock(), threading.Lock()
        self._chroma_version = self.store.version
        if self.store.pending_ids():
            self.recover()

    # --- lazily loaded parts ---------------------------------------------------------------
    @cached_property
    def embedder(self) -> Embedder:
        return load_embedder(self.config.embedder, torch_threads=self.config.torch_threads, dtype=self.config.embed_dtype)

    @property
    def embedder_id(self) -> str:
        return self.store.get_meta("embedder") or self.embedder.model_id

    def _client(self):
        if self.config.chroma_mode == "server":
            return connect(host=self.config.chroma_host, port=self.config.chroma_port)
        return connect(path=self.dir / "chroma")

    @cached_property
    def chroma(self) -> ChromaStore:
        dim = int(self.store.get_meta("dim") or 0) or self.embedder.dim
        return ChromaStore(self._client(), collection=self.collection, embedder_id=self.embedder_id, dim=dim)

    def bm25(self) -> BM25Index:
        """The BM25 index for the docstore's current version (rebuilt if anyone wrote); threads
        that find it stale at once wait for one rebuild."""
        with self._bm25_lock:
            if self._bm25 is None or self._bm25.version != self.store.version:
                self._bm25 = BM25Index.load_or_build(self.dir / "bm25", self.store)
            return self._bm25

    def view(self) -> CorpusView:
        """Row-aligned ids/metadata/vectors of the current docstore version (for filters)."""
        with self._view_lock:
            if self._view is None or self._view.version != self.store.version:
                with self.store.snapshot():  # its version and its rows from one moment
                    dim = int(self.store.get_meta("dim") or 0)
                    self._view = CorpusView(self.store, self.collection, dim)
            return self._view

    def refresh(self) -> None:
        """Reopen Chroma if another process committed changes: a PersistentClient does not see
        vectors written by another process until it reopens (DESIGN.md §6)."""
        version = self.store.version
        if version != self._chroma_version and "chroma" in self.__dict__:
            del self.__dict__["chroma"]
        self._chroma_version = version

    # --- consistency -----------------------------------------------------------------------
    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the collection's write lock for one change (see the module docstring). Not
        re-entrant: a holder must not call another method that takes it."""
        with file_lock(self.dir / "write.lock"):
            yield

    def bind_embedder(self) -> None:
        """Record which embedder the vectors come from; refuse to mix models in one index."""
        model_id, dim = self.embedder.model_id, self.embedder.dim  # load the model before locking
        with self.writing():  # two first ingests at once must not record different models
            stored = self.store.get_meta("embedder")
            if stored is None:
                self.store.set_meta("embedder", model_id)
                self.store.set_meta("dim", str(dim))
        if stored is not None and stored != model_id:
            raise IndexStateError(
                f"the {self.collection} index was built with embedder {stored!r}, not {model_id!r}; "
                f"use the same embedder, or `cairn ingest --rebuild` to re-embed everything")

    def recover(self) -> int:
        """Undo an interrupted change: vectors of journaled ids that have no committed row are
        deleted from Chroma, so Chroma again holds exactly the docstore's chunks. Under the write
        lock the journal holds only the ids of writers that died."""
        with self.writing():
            pending = self.store.pending_ids()
            committed = self.store.all_chunk_ids()
            orphans = [i for i in pending if i not in committed]
            if orphans:
                self.chroma.delete(orphans)
            self.store.clear_pending(pending)
        return len(orphans)

    def delete_documents(self, doc_ids: Sequence[str]) -> list[str]:
        """Remove documents from all three indexes, crash-safely (the order of ingest.py): journal
        their chunk ids and drop the rows (one commit), delete the vectors from Chroma, clear the
        journal. BM25 follows on its next use, since the docstore generation moved. Unknown ids
        are ignored. Returns the removed chunk ids. Needs no embedding model."""
        if not doc_ids:
            return []
        with self.writing():
            old = self.store.begin_change(doc_ids, [])
            if old:
                self.chroma.delete(old)
            self.store.clear_pending(old)
        return old

    def rebuild(self) -> None:
        """Forget everything in this collection (the next ingest re-embeds from scratch)."""
        with self.writing():
            drop_collection(self.chroma.client if "chroma" in self.__dict__ else self._client(), self.collection)
            self.store.close()
            for name in ("docstore.sqlite", "docstore.sqlite-wal", "docstore.sqlite-shm"):
                (self.dir / name).unlink(missing_ok=True)
            shutil.rmtree(self.dir / "bm25", ignore_errors=True)
            self.__dict__.pop("chroma", None)
            self.store = DocStore(self.dir / "docstore.sqlite")
            self._bm25 = self._view = None

    def stats(self) -> dict[str, object]:
        counts = self.store.counts()
        return {"collection": self.collection, **counts, "generation": self.store.generation,
                "embedder": self.store.get_meta("embedder"), "dim": self.store.get_meta("dim"),
                "sources": self.store.sources(), "path": str(self.dir),
                "chroma_mode": self.config.chroma_mode}

    def close(self) -> None:
        self.store.close()
