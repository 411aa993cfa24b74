"""The saved BM25 index: rebuilds that run at once (threads, processes) never collide, and a
stamped folder whose arrays are missing, cut short or altered is rebuilt from the docstore
with a warning instead of being trusted."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from fakes import HashEmbedder
from knowledge.bm25 import BM25Index
from knowledge.config import KnowledgeConfig
from knowledge.filters import parse_filters
from knowledge.index import KnowledgeBase
from knowledge.ingest import ingest
from knowledge.retrieve import search
from test_docstore import run_threads
from test_ingest import item, write_jsonl

ARRAYS = ("data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy")


@pytest.fixture
def kb(tmp_path: Path) -> KnowledgeBase:
    base = KnowledgeBase("catalog", KnowledgeConfig(), embedder=HashEmbedder())
    ingest(base, [write_jsonl(tmp_path / "c.jsonl", [item(i) for i in range(30)])], progress=False)
    yield base
    base.close()


def fresh(kb: KnowledgeBase) -> KnowledgeBase:
    """The same collection opened anew, as the next process would (nothing cached)."""
    kb.close()
    return KnowledgeBase("catalog", KnowledgeConfig(), embedder=HashEmbedder())


def assert_searches_right(kb: KnowledgeBase) -> None:
    for i in (10, 17, 29):  # two digits: the tokenizer drops 1-character tokens
        assert search(kb, f"Story number {i}", mode="bm25", k=1).doc_ids == [f"item_{i:04d}"]


def test_concurrent_rebuilds_use_their_own_staging(kb: KnowledgeBase) -> None:
    folder = kb.dir / "bm25"
    errors: list[BaseException] = []

    def rebuild():
        for _ in range(8):
            BM25Index.build(kb.store).save(folder)

    def load():
        for _ in range(8):
            assert BM25Index.load_or_build(folder, kb.store).n_rows == 30

    run_threads([rebuild, rebuild, rebuild, load], errors)
    assert not errors, f"rebuilds collided: {errors[:3]!r}"
    assert sorted(p.name for p in kb.dir.iterdir() if "bm25" in p.name) == ["bm25", "bm25.lock"], "staging left"
    assert_searches_right(fresh(kb))


def test_staging_left_by_a_crash_is_cleared(kb: KnowledgeBase) -> None:
    leftover = kb.dir / ".bm25.crashed"
    leftover.mkdir()
    (leftover / "data.csc.index.npy").write_bytes(b"half")
    kb.store.set_meta("generation", str(kb.store.generation + 1))  # stale: the next use rebuilds
    assert_searches_right(fresh(kb))
    assert not leftover.exists()


@pytest.mark.parametrize("damage", ["deleted", "truncated", "altered", "stamp garbled"])
def test_a_damaged_stamped_folder_is_rebuilt(kb: KnowledgeBase, damage: str, caplog) -> None:
    folder = kb.dir / "bm25"
    assert (folder / "cairn_stamp.json").exists()
    target = folder / ARRAYS[0]
    if damage == "deleted":
        target.unlink()
    elif damage == "truncated":
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    elif damage == "altered":  # same size, same header: only a checksum can tell
        data = bytearray(target.read_bytes())
        data[-8:] = bytes(8)
        target.write_bytes(bytes(data))
    else:
        (folder / "cairn_stamp.json").write_text('{"version": ["x", ')
    kb = fresh(kb)
    with caplog.at_level(logging.WARNING, logger="knowledge.bm25"):
        assert_searches_right(kb)
    assert any("rebuilding" in r.getMessage() for r in caplog.records), caplog.text
    # The rebuilt folder is whole again: the next process loads it without a warning.
    caplog.clear()
    kb = fresh(kb)
    with caplog.at_level(logging.WARNING, logger="knowledge.bm25"):
        assert_searches_right(kb)
    assert not caplog.records, caplog.text
    kb.close()


def test_search_with_a_view_of_another_version(kb: KnowledgeBase, tmp_path: Path) -> None:
    """A search takes the corpus view, then BM25; a commit between the two (another thread
    ingesting) must not misalign their rows."""
    view = kb.view()
    ingest(kb, [write_jsonl(tmp_path / "more.jsonl", [item(i) for i in range(100, 140)])], progress=False)
    bm25 = kb.bm25()
    assert bm25.version != view.version
    found = dict(bm25.search("Story number 17", 3, view))
    assert "item_0017#0" in found
    films = view.mask(parse_filters(["type=film"], "catalog"))
    hits = [cid for cid, _ in bm25.search("Story number", 50, view, films)]
    assert hits and all(int(cid.split("#")[0].split("_")[1]) % 3 == 0 for cid in hits)
    assert all(int(cid.split("#")[0].split("_")[1]) < 100 for cid in hits), "rows the view did not filter"
