"""KnowledgeBase with other writers about: the crash recovery that runs on open must never take
a live writer's in-flight batch for a crash's leftovers (`cairn index-stats` or a UI worker
opening the collection while `cairn ingest` runs)."""
from __future__ import annotations

import threading
from pathlib import Path

from fakes import HashEmbedder
from knowledge.config import KnowledgeConfig
from knowledge.index import KnowledgeBase
from knowledge.ingest import ingest
from test_docstore import WATCHDOG_S, assert_indexes_agree
from test_ingest import item, write_jsonl

# How long the opener gets to run while the writer is paused. It only gives recovery that
# does not wait for live writers the chance to do its damage; nothing here measures speed.
OPENER_CHANCE_S = 3


def test_opening_mid_batch_does_not_undo_the_batch(tmp_path: Path) -> None:
    kb = KnowledgeBase("catalog", KnowledgeConfig(ingest_batch_docs=4), embedder=HashEmbedder())
    ingest(kb, [write_jsonl(tmp_path / "a.jsonl", [item(i) for i in range(10, 14)])], progress=False)
    in_flight, release = threading.Event(), threading.Event()
    commit = kb.store.commit_docs

    def commit_when_released(*args, **kwargs):  # the batch is journaled and in Chroma: steps 1-3 done
        in_flight.set()
        release.wait(WATCHDOG_S)
        return commit(*args, **kwargs)

    kb.store.commit_docs = commit_when_released
    more = write_jsonl(tmp_path / "b.jsonl", [item(i) for i in range(20, 28)])
    writer = threading.Thread(target=lambda: ingest(kb, [more], progress=False))
    writer.start()
    assert in_flight.wait(WATCHDOG_S)
    opened: list[KnowledgeBase] = []
    opener = threading.Thread(
        target=lambda: opened.append(KnowledgeBase("catalog", KnowledgeConfig(), embedder=HashEmbedder())))
    opener.start()
    opener.join(OPENER_CHANCE_S)
    release.set()
    writer.join(WATCHDOG_S)
    opener.join(WATCHDOG_S)
    assert not writer.is_alive() and not opener.is_alive(), "a hang"
    present = {f"item_{i:04d}" for i in [*range(10, 14), *range(20, 28)]}
    assert_indexes_agree(opened[0], present, set())
    opened[0].close()
    kb.close()


class PausingEmbedder(HashEmbedder):
    """Stops in its first encode call until released: an ingest that has read what is indexed
    and is still embedding."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding, self.release = threading.Event(), threading.Event()

    def encode(self, texts, **kwargs):
        self.embedding.set()
        self.release.wait(WATCHDOG_S)
        return super().encode(texts, **kwargs)


def test_a_document_added_meanwhile_is_replaced_whole(tmp_path: Path) -> None:
    """Ingest A reads the index (item 40 is new), then ingest B adds item 40 as a long, many-chunk
    document before A writes its short version: A must replace all of B's chunks, not leave
    their vectors in Chroma without rows."""
    paused = PausingEmbedder()
    a = KnowledgeBase("catalog", KnowledgeConfig(chunk_size=200, chunk_overlap=20), embedder=paused)
    b = KnowledgeBase("catalog", KnowledgeConfig(chunk_size=200, chunk_overlap=20), embedder=HashEmbedder())
    short = write_jsonl(tmp_path / "short.jsonl", [item(40)])
    long_text = " ".join(f"Sentence {i} of a long saga about lighthouses." for i in range(60))
    long = write_jsonl(tmp_path / "long.jsonl", [item(40, description=long_text)])
    writer = threading.Thread(target=lambda: ingest(a, [short], progress=False))
    writer.start()
    assert paused.embedding.wait(WATCHDOG_S)
    ingest(b, [long], progress=False)
    assert len(b.store.chunk_ids_of(["item_0040"])) > 3
    paused.release.set()
    writer.join(WATCHDOG_S)
    assert not writer.is_alive(), "a hang"
    assert a.store.chunk_ids_of(["item_0040"]) == ["item_0040#0"]
    assert_indexes_agree(a, {"item_0040"}, set())
    a.close()
    b.close()
