"""The document store: one SQLite file per collection that is the source of truth of what is
indexed — documents with their content hashes, chunks with text/span/metadata, and a
write-ahead journal of chunk ids whose vectors are being changed in Chroma.

Chroma and BM25 are derived indexes. Crash safety rests on one rule (see ingest.py): a chunk
row exists here only while its vector in Chroma is the one computed from that row's text
(the row keeps a float16 copy of that vector, for exact filtered search and for rebuilding
Chroma without re-embedding);
ids in flight sit in `pending` until the transaction that makes them true commits, and
`recover()` removes leftovers from Chroma. `generation` bumps on every committed change so
readers (BM25, other processes) can tell that their copy is stale.

Threads: one connection per thread, not one shared connection behind a lock. The UI serves
searches, uploads and deletions from several worker threads through one KnowledgeBase; with
a connection each, SQLite's WAL mode gives them what it gives separate processes — readers
never wait, writers queue on `BEGIN IMMEDIATE` (busy timeout) — and every transaction stays
on the thread that opened it. A single shared connection would put one thread's reads inside
another's open transaction (or start a transaction within one); a lock per store would
make every search wait behind an ingest's commit and still leave other processes to the
WAL. `snapshot()` makes a group of reads see one committed state (the version and the rows
of a derived index must match). A finished thread's connection is closed when the next
thread opens one, so a server that starts a writer thread per upload holds few files open.
"""
from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from .errors import IndexStateError
from .types import Chunk, Document

SCHEMA_VERSION = "2"
SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, content_hash TEXT NOT NULL, source TEXT NOT NULL, line INTEGER,
    text TEXT NOT NULL, metadata TEXT NOT NULL, n_chunks INTEGER NOT NULL, updated_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS documents_source ON documents(source);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY, doc_id TEXT NOT NULL, idx INTEGER NOT NULL, text TEXT NOT NULL,
    span_start INTEGER NOT NULL, span_end INTEGER NOT NULL, metadata TEXT NOT NULL,
    vector BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE TABLE IF NOT EXISTS pending (chunk_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class DocStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._connections: dict[threading.Thread, sqlite3.Connection] = {}
        self._guard = threading.Lock()
        self._closed = False
        try:
            self.db.executescript(SCHEMA)
            with self._tx():  # two processes creating the index at once agree on one id
                version = self.get_meta("schema_version")
                if version is None:
                    self.set_meta("schema_version", SCHEMA_VERSION)
                    # Generations restart at 0 in a rebuilt index; derived files are stamped with
                    # this id too, so a stale BM25 copy of an earlier index can never pass as current.
                    self.set_meta("index_id", uuid.uuid4().hex)
        except BaseException:
            self.close()
            raise
        if version is not None and version != SCHEMA_VERSION:
            self.close()
            raise IndexStateError(
                f"the index at {path.parent} has format {version}, this cairn reads format {SCHEMA_VERSION}; "
                f"re-index it with `cairn ingest --rebuild ...`")

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's connection, opened on its first use."""
        conn = getattr(self._local, "conn", None)
        return conn if conn is not None else self._connect()

    def _connect(self) -> sqlite3.Connection:
        with self._guard:
            if self._closed:
                raise sqlite3.ProgrammingError(f"the docstore {self.path} is closed; open the collection again")
            for thread in [t for t in self._connections if not t.is_alive()]:
                self._connections.pop(thread).close()
            # isolation_level=None: we issue BEGIN/COMMIT ourselves so a batch is one transaction.
            # check_same_thread=False only so that close() (or the sweep above) may close it from
            # another thread; it is used by the thread that opened it alone.
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            self._connections[threading.current_thread()] = conn
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # in WAL mode a commit survives kill -9
        self._local.conn = conn
        return conn

    def open_connections(self) -> int:
        """How many connections are open (one per thread that used the store and still runs)."""
        with self._guard:
            return len(self._connections)

    def close(self) -> None:
        """Close every thread's connection; later use raises sqlite3.ProgrammingError."""
        with self._guard:
            self._closed = True
            connections, self._connections = list(self._connections.values()), {}
        for conn in connections:
            conn.close()

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads in the block see one committed state (a read transaction on this thread's
        connection; writers in other threads and processes go on meanwhile)."""
        db = self.db
        if db.in_transaction:  # already inside a snapshot or a write on this thread
            yield
            return
        db.execute("BEGIN")
        try:
            yield
        finally:
            if db.in_transaction:  # (an error inside may have ended it already)
                db.execute("COMMIT")  # ends the read; nothing was written

    # --- meta ----------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    @property
    def generation(self) -> int:
        return int(self.get_meta("generation", "0") or 0)

    @property
    def version(self) -> tuple[str, int]:
        """(index id, generation): what a derived index must match to be current."""
        return (self.get_meta("index_id") or "", self.generation)

    # --- reads ---------------------------------------------------------------------------
    def doc_hashes(self) -> dict[str, tuple[str, str]]:
        """doc_id -> (content_hash, source) for every indexed document (one query, for diffing)."""
        return {d: (h, s) for d, h, s in self.db.execute("SELECT doc_id, content_hash, source FROM documents")}

    def _select_in(self, sql: str, keys: Sequence[str]) -> Iterator[tuple]:
        """Rows of `sql` (ending in `IN ({})`) for all keys, 500 bound values per statement
        (SQLite caps the number of parameters)."""
        for start in range(0, len(keys), 500):
            part = list(keys[start:start + 500])
            yield from self.db.execute(sql.format(",".join("?" * len(part))), part)

    def chunk_ids_of(self, doc_ids: Sequence[str]) -> list[str]:
        return [r[0] for r in self._select_in("SELECT chunk_id FROM chunks WHERE doc_id IN ({})", doc_ids)]

    def get_chunks(self, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        rows = self._select_in("SELECT chunk_id, doc_id, text, span_start, span_end, metadata FROM chunks "
                               "WHERE chunk_id IN ({})", chunk_ids)
        return {row[0]: _row_to_chunk(row) for row in rows}

    def corpus_texts(self) -> tuple[list[str], list[str]]:
        """(chunk ids, chunk texts) in corpus order: what BM25 indexes."""
        rows = self.db.execute("SELECT chunk_id, text FROM chunks ORDER BY chunk_id").fetchall()
        return [r[0] for r in rows], [r[1] for r in rows]

    def corpus_ids(self) -> list[str]:
        """Chunk ids in corpus order."""
        return [r[0] for r in self.db.execute("SELECT chunk_id FROM chunks ORDER BY chunk_id")]

    def iter_chunks(self) -> Iterator[Chunk]:
        """All chunks in corpus order (chunk_id order: the row order of BM25 and CorpusView)."""
        yield from (_row_to_chunk(r) for r in self.db.execute(
            "SELECT chunk_id, doc_id, text, span_start, span_end, metadata FROM chunks ORDER BY chunk_id"))

    def corpus_metadata(self) -> tuple[list[str], list[dict[str, Any]]]:
        """(chunk ids, chunk metadata) in corpus order, without the texts. Each metadata dict
        also carries the chunk's `doc_id`, so a filter can restrict a search to given documents
        (a follow-up question about the previous answer's sources)."""
        ids, metas = [], []
        for chunk_id, doc_id, metadata in self.db.execute(
                "SELECT chunk_id, doc_id, metadata FROM chunks ORDER BY chunk_id"):
            ids.append(chunk_id)
            metas.append({**json.loads(metadata), "doc_id": doc_id})
        return ids, metas

    def corpus_vectors(self, dim: int, chunk_ids: Sequence[str] | None = None) -> np.ndarray:
        """(n_chunks, dim) float16 vectors in corpus order. With `chunk_ids` (the rows of a
        view taken earlier), one vector per given id whatever was committed since: a chunk
        deleted meanwhile gets zeros (it cannot be returned: its row is gone too)."""
        with self.snapshot():
            rows = self.db.execute("SELECT chunk_id, vector FROM chunks ORDER BY chunk_id").fetchall()
        current = [r[0] for r in rows]
        vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float16).reshape(-1, dim)
        if chunk_ids is None or list(chunk_ids) == current:
            return vectors
        row_of = {cid: i for i, cid in enumerate(current)}
        aligned = np.zeros((len(chunk_ids), dim), dtype=np.float16)
        for i, cid in enumerate(chunk_ids):
            if cid in row_of:
                aligned[i] = vectors[row_of[cid]]
        return aligned

    def get_document(self, doc_id: str) -> Document | None:
        row = self.db.execute("SELECT doc_id, text, metadata, source, line FROM documents WHERE doc_id=?",
                              (doc_id,)).fetchone()
        if row is None:
            return None
        return Document(id=row[0], text=row[1], metadata=json.loads(row[2]), source=row[3], line=row[4])

    def existing_doc_ids(self, doc_ids: Sequence[str]) -> set[str]:
        """Those of `doc_ids` that are indexed."""
        return {r[0] for r in self._select_in("SELECT doc_id FROM documents WHERE doc_id IN ({})", list(doc_ids))}

    def find_documents(self, query: str = "", limit: int = 50) -> tuple[list[tuple], int]:
        """(rows, total matching) of documents whose id, source or a metadata value contains `query`
        (case-insensitive; "" matches all), ordered by doc_id. A row is (doc_id, source, line,
        metadata dict, n_chunks, updated_at); the text is left out."""
        pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where = ("WHERE doc_id LIKE ?1 ESCAPE '\\' OR source LIKE ?1 ESCAPE '\\' OR EXISTS (SELECT 1 FROM "
                 "json_each(documents.metadata) WHERE CAST(json_each.value AS TEXT) LIKE ?1 ESCAPE '\\')")
        total = self.db.execute(f"SELECT COUNT(*) FROM documents {where}", (pattern,)).fetchone()[0]
        rows = self.db.execute(f"SELECT doc_id, source, line, metadata, n_chunks, updated_at FROM documents {where} "
                               f"ORDER BY doc_id LIMIT ?2", (pattern, limit)).fetchall()
        return [(d, s, ln, json.loads(m), n, t) for d, s, ln, m, n, t in rows], total

    def last_updated(self) -> float | None:
        """When the most recently (re)indexed document was committed (epoch seconds)."""
        return self.db.execute("SELECT MAX(updated_at) FROM documents").fetchone()[0]

    def all_chunk_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT chunk_id FROM chunks")}

    def pending_ids(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT chunk_id FROM pending")]

    def has_documents(self) -> bool:
        """Whether anything is indexed: one indexed row read, not a count of the table."""
        return self.db.execute("SELECT 1 FROM documents LIMIT 1").fetchone() is not None

    def counts(self) -> dict[str, int]:
        return {
            "documents": self.db.execute("SELECT COUNT(*) FROM documents").fetchone()[0],
            "chunks": self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0],
            "pending": self.db.execute("SELECT COUNT(*) FROM pending").fetchone()[0],
        }

    def sources(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT source, COUNT(*) FROM documents GROUP BY source ORDER BY source"))

    # --- writes (each is one transaction) --------------------------------------------------
    def begin_change(self, remove_doc_ids: Sequence[str], incoming_chunk_ids: Iterable[str]) -> list[str]:
        """Step 1 of a change: journal every chunk id about to be touched in Chroma and drop the
        rows of documents being replaced or deleted. Returns the old chunk ids to delete from Chroma."""
        with self._tx():
            old_ids = self.chunk_ids_of(list(remove_doc_ids))
            self.db.executemany("INSERT OR IGNORE INTO pending(chunk_id) VALUES (?)",
                                [(i,) for i in [*old_ids, *incoming_chunk_ids]])
            self._delete_docs(remove_doc_ids)
            self._bump()
        return old_ids

    def commit_docs(self, docs: Sequence[Document], chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Step 4: the vectors are in Chroma; record the rows (with their (n_chunks, dim) vectors)
        and clear their journal entries."""
        assert len(vectors) == len(chunks), "one vector per chunk"
        blobs = vectors.astype(np.float16).tobytes()
        width = len(blobs) // max(len(chunks), 1)
        now = time.time()
        by_doc: dict[str, int] = {}
        for chunk in chunks:
            by_doc[chunk.doc_id] = by_doc.get(chunk.doc_id, 0) + 1
        with self._tx():
            self._delete_docs([d.id for d in docs])
            self.db.executemany(
                "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(d.id, d.content_hash, d.source, d.line, d.text, json.dumps(d.metadata, default=str),
                  by_doc.get(d.id, 0), now) for d in docs])
            self.db.executemany(
                "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(c.id, c.doc_id, c.metadata.get("chunk_index", 0), c.text, c.span[0], c.span[1],
                  json.dumps(c.metadata, default=str), blobs[i * width:(i + 1) * width])
                 for i, c in enumerate(chunks)])
            self.db.executemany("DELETE FROM pending WHERE chunk_id=?", [(c.id,) for c in chunks])
            self._bump()

    def clear_pending(self, chunk_ids: Iterable[str]) -> None:
        with self._tx():
            self.db.executemany("DELETE FROM pending WHERE chunk_id=?", [(i,) for i in chunk_ids])

    def _delete_docs(self, doc_ids: Iterable[str]) -> None:
        ids = [(d,) for d in doc_ids]
        self.db.executemany("DELETE FROM chunks WHERE doc_id=?", ids)
        self.db.executemany("DELETE FROM documents WHERE doc_id=?", ids)

    def _bump(self) -> None:
        self.set_meta("generation", str(self.generation + 1))

    def _tx(self) -> "_Transaction":
        return _Transaction(self.db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def _row_to_chunk(row: tuple) -> Chunk:
    chunk_id, doc_id, text, start, end, metadata = row
    return Chunk(id=chunk_id, doc_id=doc_id, text=text, span=(start, end), metadata=json.loads(metadata))
