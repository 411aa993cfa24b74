"""The docstore under threads: one KnowledgeBase shared by many threads (as the UI shares it
between its workers) ingests, deletes and searches at once without SQLite errors, and
afterwards the docstore, Chroma and BM25 hold exactly the same documents."""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest

from fakes import HashEmbedder
from knowledge.config import KnowledgeConfig
from knowledge.docstore import DocStore
from knowledge.filters import parse_filters
from knowledge.index import KnowledgeBase
from knowledge.ingest import ingest
from knowledge.retrieve import search
from test_ingest import item, write_jsonl

# Only catches a hang (a deadlock would otherwise stall the suite); never a speed check.
WATCHDOG_S = 300


def doc_ids_of(chunk_ids: set[str]) -> set[str]:
    return {c.split("#")[0] for c in chunk_ids}


def assert_indexes_agree(kb: KnowledgeBase, present: set[str], absent: set[str]) -> None:
    """Nothing lost (every id in `present` is in the docstore, Chroma — its records and its
    HNSW graph — and BM25) and nothing stale (no id of `absent`, no journal entry, no chunk in
    one index that the docstore does not hold)."""
    store_chunks = kb.store.all_chunk_ids()
    docs = set(kb.store.doc_hashes())
    assert kb.store.pending_ids() == [], "journal entries left behind"
    assert present <= docs, f"lost from the docstore: {sorted(present - docs)[:10]}"
    assert not absent & docs, f"deleted yet in the docstore: {sorted(absent & docs)[:10]}"
    assert doc_ids_of(store_chunks) == docs, "documents without chunks, or chunks without a document"
    assert kb.chroma.all_ids() == store_chunks, "Chroma's records differ from the docstore"
    if store_chunks:
        # A query for as many neighbours as there are vectors walks the whole HNSW graph: a
        # vector that is recorded but missing from the graph would not come back.
        dim = int(kb.store.get_meta("dim"))  # from the index: a check loads no model
        probe = np.ones(dim, dtype=np.float32) / np.sqrt(dim)
        assert {cid for cid, _ in kb.chroma.query(probe, len(store_chunks))} == store_chunks
    bm25 = kb.bm25()
    assert set(bm25.chunk_ids) == store_chunks, "BM25's rows differ from the docstore"
    assert not list(kb.dir.glob(".bm25.*")), "a BM25 staging folder was left behind"
    for doc_id in bm25_sample(present):
        assert doc_id in search(kb, f"Story number {number_of(doc_id)}", mode="bm25", k=3).doc_ids, doc_id
    for doc_id in bm25_sample(absent):
        assert doc_id not in search(kb, f"Story number {number_of(doc_id)}", mode="bm25", k=10).doc_ids, doc_id


def number_of(doc_id: str) -> int:
    return int(doc_id.split("_")[1])


def bm25_sample(doc_ids: set[str]) -> list[str]:
    """About 25 of the ids, a BM25 query each; numbers of two digits or more, since the
    tokenizer drops one-character tokens and "Story number 7" could not single out item 7."""
    usable = sorted(d for d in doc_ids if number_of(d) >= 10)
    return usable[:: max(1, len(usable) // 25)]


def run_threads(targets: list, errors: list[BaseException]) -> None:
    """Start every target at once (a barrier), record what any of them raised, wait for all."""
    barrier = threading.Barrier(len(targets))

    def guarded(target):
        def body():
            try:
                barrier.wait()
                target()
            except BaseException as exc:  # noqa: BLE001 - collected and asserted on below
                errors.append(exc)
        return body

    threads = [threading.Thread(target=guarded(t), name=f"worker-{i}") for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WATCHDOG_S)
    assert not any(t.is_alive() for t in threads), "a worker hung"


def test_eight_threads_ingest_delete_and_search_one_knowledge_base(tmp_path: Path) -> None:
    kb = KnowledgeBase("catalog", KnowledgeConfig(ingest_batch_docs=3), embedder=HashEmbedder())
    seed_rows = [item(i) for i in range(60)]
    ingest(kb, [write_jsonl(tmp_path / "seed.jsonl", seed_rows)], progress=False)
    seeded = {r["id"] for r in seed_rows}
    to_delete = sorted(seeded)[::2]
    ingested: set[str] = set()
    done = threading.Event()
    searches = [0]

    def ingester(t: int):
        def run():
            for r in range(4):
                rows = [item(1000 + 100 * t + 10 * r + j) for j in range(5)]
                ingest(kb, [write_jsonl(tmp_path / f"t{t}_{r}.jsonl", rows)], progress=False)
                ingested.update(row["id"] for row in rows)
        return run

    def deleter(part: list[str]):
        def run():
            for start in range(0, len(part), 3):
                kb.delete_documents(part[start:start + 3])
        return run

    def searcher(mode: str):
        def run():
            film = parse_filters(["type=film"], "catalog")
            while not done.is_set():
                search(kb, "Story number about jazz", mode=mode, k=5)
                search(kb, "glaciers and people", mode=mode, filters=film, k=5)
                kb.store.counts()
                searches[0] += 2
        return run

    errors: list[BaseException] = []
    workers = [ingester(t) for t in range(4)] + [deleter(to_delete[0::2]), deleter(to_delete[1::2])]

    def writers_then_stop():
        try:
            run_threads(workers, errors)
        finally:
            done.set()

    run_threads([writers_then_stop, searcher("bm25"), searcher("hybrid")], errors)
    sqlite_errors = [e for e in errors if isinstance(e, sqlite3.Error)]
    assert not sqlite_errors, f"SQLite errors under threads: {sqlite_errors[:3]!r}"
    assert not errors, f"workers failed: {errors[:3]!r}"
    assert searches[0] > 0
    present = ingested | (seeded - set(to_delete))
    assert len(ingested) == 4 * 4 * 5
    assert_indexes_agree(kb, present, set(to_delete))
    kb.close()
    # As the next process would see it: the same, read from disk.
    reopened = KnowledgeBase("catalog", KnowledgeConfig(), embedder=HashEmbedder())
    assert_indexes_agree(reopened, present, set(to_delete))
    reopened.close()


def test_a_thread_reads_a_consistent_snapshot(tmp_path: Path) -> None:
    """A snapshot's version and rows come from one moment, whatever another thread commits."""
    store = DocStore(tmp_path / "d.sqlite")
    committed = threading.Event()

    def writer():
        store.begin_change([], ["probe#0"])  # one commit: a journal entry and a new generation
        committed.set()

    with store.snapshot():
        before = store.version
        thread = threading.Thread(target=writer)
        thread.start()
        assert committed.wait(WATCHDOG_S), "the writer hung behind a reader"
        assert store.version == before and store.pending_ids() == []
    assert store.version[1] == before[1] + 1 and store.pending_ids() == ["probe#0"]
    thread.join()
    store.close()


def test_connections_of_finished_threads_are_closed(tmp_path: Path) -> None:
    """Each thread gets its own connection; one whose thread ended is closed when the next
    thread opens one, so a server that ingests from a new worker thread per upload keeps a
    bounded number of open files."""
    store = DocStore(tmp_path / "d.sqlite")
    for _ in range(20):
        thread = threading.Thread(target=store.counts)
        thread.start()
        thread.join()
    assert store.open_connections() <= 2  # this thread's and the last worker's
    store.close()
    assert store.open_connections() == 0
    with pytest.raises(sqlite3.ProgrammingError):
        store.counts()
