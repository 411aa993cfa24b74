"""Incremental ingest: no re-embedding of unchanged documents, replacement without stale
vectors, deletion from both indexes, bad input skipped with a summary, and kill -9 at every
step of a batch leaving consistent indexes that the next run completes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from fakes import HashEmbedder
from knowledge.config import KnowledgeConfig
from knowledge.index import KnowledgeBase
from knowledge.ingest import ingest
from knowledge.retrieve import search

ROOT = Path(__file__).resolve().parents[1]


def item(i: int, **over) -> dict:
    base = {"id": f"item_{i:04d}", "title": f"Title {i}", "type": ["film", "series", "documentary"][i % 3],
            "description": f"Story number {i} about {['glaciers', 'start-ups', 'jazz'][i % 3]} and people.",
            "genres": [["drama"], ["comedy"], ["science"]][i % 3], "year": 2000 + i % 27}
    base.update(over)
    return base


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def open_kb(embedder: HashEmbedder | None = None, **cfg) -> KnowledgeBase:
    return KnowledgeBase("catalog", KnowledgeConfig(**{"ingest_batch_docs": 16, **cfg}), embedder=embedder or HashEmbedder())


def assert_consistent(kb: KnowledgeBase) -> None:
    assert kb.store.pending_ids() == []
    assert kb.chroma.all_ids() == kb.store.all_chunk_ids()
    assert kb.bm25().n_rows == len(kb.store.all_chunk_ids()) == len(kb.view())
    assert kb.view().vectors.shape == (len(kb.view()), kb.embedder.dim)


def test_first_ingest_then_noop(tmp_path):
    src = write_jsonl(tmp_path / "catalog.jsonl", [item(i) for i in range(40)])
    emb = HashEmbedder()
    kb = open_kb(emb)
    report = ingest(kb, [src], progress=False)
    assert (report.added, report.updated, report.unchanged, report.deleted) == (40, 0, 0, 0)
    assert_consistent(kb)
    embedded = emb.texts_encoded
    again = ingest(kb, [src], progress=False)
    assert (again.added, again.updated, again.unchanged, again.deleted) == (0, 0, 40, 0)
    assert emb.texts_encoded == embedded, "an unchanged corpus must not be embedded again"
    assert not again.changed


def test_changed_document_replaces_its_vectors(tmp_path):
    rows = [item(i) for i in range(10)]
    src = write_jsonl(tmp_path / "c.jsonl", rows)
    kb = open_kb()
    ingest(kb, [src], progress=False)
    rows[3] = item(3, description="Entirely new text about volcanoes erupting under the sea.")
    write_jsonl(src, rows)
    report = ingest(kb, [src], progress=False)
    assert (report.added, report.updated, report.unchanged) == (0, 1, 9)
    assert_consistent(kb)
    hits = search(kb, "volcanoes erupting", mode="dense", k=1).hits
    assert hits[0].doc_id == "item_0003"
    assert "volcanoes" in kb.store.get_chunks([hits[0].chunk.id])[hits[0].chunk.id].text
    hits = search(kb, "volcanoes erupting", mode="bm25", k=1).hits
    assert hits[0].doc_id == "item_0003"
    assert search(kb, "Story number 3", mode="bm25", k=3).doc_ids.count("item_0003") == 0


def test_long_document_shrinking_leaves_no_stale_chunks(tmp_path):
    long_text = " ".join(f"Sentence {i} about a very long saga." for i in range(200))
    src = write_jsonl(tmp_path / "c.jsonl", [item(0, description=long_text), item(1)])
    kb = open_kb(chunk_size=300, chunk_overlap=50)
    ingest(kb, [src], progress=False)
    n_before = len(kb.store.all_chunk_ids())
    assert n_before > 5
    write_jsonl(src, [item(0), item(1)])
    ingest(kb, [src], progress=False)
    assert_consistent(kb)
    assert len(kb.store.all_chunk_ids()) == 2


def test_deleted_documents_leave_both_indexes(tmp_path):
    src = write_jsonl(tmp_path / "c.jsonl", [item(i) for i in range(8)])
    other = write_jsonl(tmp_path / "other.jsonl", [item(i) for i in range(100, 104)])
    kb = open_kb()
    ingest(kb, [src, other], progress=False)
    write_jsonl(src, [item(i) for i in range(5)])
    report = ingest(kb, [src], progress=False)  # other.jsonl not given: its documents stay
    assert report.deleted == 3
    assert_consistent(kb)
    ids = {c.split("#")[0] for c in kb.store.all_chunk_ids()}
    assert ids == {f"item_{i:04d}" for i in [0, 1, 2, 3, 4, 100, 101, 102, 103]}
    assert "item_0007" not in search(kb, "Story number 7", mode="bm25", k=20).doc_ids


def test_deleted_file_in_scanned_folder(tmp_path):
    folder = tmp_path / "kb"
    folder.mkdir()
    write_jsonl(folder / "a.jsonl", [item(i) for i in range(3)])
    b = write_jsonl(folder / "b.jsonl", [item(i) for i in range(10, 13)])
    kb = open_kb()
    ingest(kb, [folder], progress=False)
    b.unlink()
    report = ingest(kb, [folder], progress=False)
    assert report.deleted == 3
    assert_consistent(kb)


def test_bad_lines_are_skipped_and_keep_old_versions(tmp_path):
    rows = [json.dumps(item(i)) for i in range(6)]
    src = tmp_path / "c.jsonl"
    src.write_text("\n".join(rows) + "\n")
    kb = open_kb()
    ingest(kb, [src], progress=False)
    rows[2] = '{"id": "item_0002", "title": "broken'          # malformed JSON now
    rows[4] = json.dumps({k: v for k, v in item(4).items() if k != "year"})
    src.write_bytes(("\n".join(rows) + "\n").encode() + b'{"id": "x\xff\xfe"}\n')
    report = ingest(kb, [src], progress=False)
    assert len(report.issues) == 3
    lines = sorted(i.line for i in report.issues)
    assert lines == [3, 5, 7]
    assert "year" in report.summary()
    # the two documents whose lines broke are kept, not silently deleted
    assert report.deleted == 0 and report.kept_unseen == {str(src): 2}
    assert_consistent(kb)


def test_embedder_mismatch_is_refused(tmp_path):
    src = write_jsonl(tmp_path / "c.jsonl", [item(1)])
    kb = open_kb()
    ingest(kb, [src], progress=False)
    kb.close()
    other = KnowledgeBase("catalog", KnowledgeConfig(), embedder=HashEmbedder(model_id="another-model"))
    write_jsonl(src, [item(1), item(2)])
    from knowledge.errors import IndexStateError
    with pytest.raises(IndexStateError, match="built with embedder 'fake-hash-64'"):
        ingest(other, [src], progress=False)


# --- crash safety ---------------------------------------------------------------------

CRASH_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    sys.path[:0] = [{root!r}, {tests!r}]
    from fakes import HashEmbedder
    from knowledge import docstore, vectorstore
    from knowledge.config import KnowledgeConfig
    from knowledge.index import KnowledgeBase
    from knowledge.ingest import ingest

    point, nth = sys.argv[1], int(sys.argv[2])
    calls = {{"n": 0}}
    def crash_on_nth(original):
        def wrapper(*a, **k):
            calls["n"] += 1
            if calls["n"] == nth and point.endswith("before"):
                os.kill(os.getpid(), signal.SIGKILL)
            result = original(*a, **k)
            if calls["n"] == nth and point.endswith("after"):
                os.kill(os.getpid(), signal.SIGKILL)
            return result
        return wrapper
    target = {{"begin": (docstore.DocStore, "begin_change"), "upsert": (vectorstore.ChromaStore, "upsert"),
              "delete": (vectorstore.ChromaStore, "delete"),
              "commit": (docstore.DocStore, "commit_docs")}}[point.split(":")[0]]
    setattr(target[0], target[1], crash_on_nth(getattr(*target)))
    kb = KnowledgeBase("catalog", KnowledgeConfig(ingest_batch_docs=16), embedder=HashEmbedder())
    ingest(kb, sys.argv[3:], progress=False)
    print("FINISHED")
""")


def run_crashing_ingest(tmp_path: Path, point: str, nth: int, sources: list[Path]) -> subprocess.CompletedProcess:
    script = tmp_path / "crash.py"
    script.write_text(CRASH_SCRIPT.format(root=str(ROOT), tests=str(ROOT / "tests")))
    return subprocess.run([sys.executable, str(script), point, str(nth), *map(str, sources)],
                          capture_output=True, text=True, env=os.environ.copy(), timeout=300)


@pytest.mark.parametrize("point, nth", [
    ("begin:before", 3), ("begin:after", 3), ("delete:after", 2), ("upsert:before", 2),
    ("upsert:after", 3), ("commit:before", 2), ("commit:after", 4),
])
def test_kill_9_at_each_step_then_next_run_finishes(tmp_path, point, nth):
    rows = [item(i) for i in range(100)]
    src = write_jsonl(tmp_path / "c.jsonl", rows)
    # A first clean version, then an update of every document, so crashes hit replacements too.
    kb = open_kb()
    ingest(kb, [src], progress=False)
    kb.close()
    rows = [item(i, description=f"Second edition {i} about deserts and {i % 7} camels.") for i in range(100)]
    rows += [item(i) for i in range(100, 140)]
    write_jsonl(src, rows)

    proc = run_crashing_ingest(tmp_path, point, nth, [src])
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert "FINISHED" not in proc.stdout

    kb = open_kb()                      # opening recovers
    assert kb.store.pending_ids() == []
    assert kb.chroma.all_ids() == kb.store.all_chunk_ids(), "Chroma and docstore disagree after recovery"
    report = ingest(kb, [src], progress=False)
    assert report.added + report.updated + report.unchanged == 140
    assert_consistent(kb)
    docs = kb.store.doc_hashes()
    assert len(docs) == 140
    hits = search(kb, "Second edition 42 deserts", mode="bm25", k=1).hits
    assert hits[0].doc_id == "item_0042" and "Second edition" in hits[0].chunk.text


def test_real_sigkill_mid_ingest(tmp_path):
    """Not at a chosen step: SIGKILL from outside while the batches stream."""
    src = write_jsonl(tmp_path / "c.jsonl", [item(i) for i in range(1500)])
    script = tmp_path / "slow.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'tests')!r}]
        from fakes import HashEmbedder
        from knowledge.config import KnowledgeConfig
        from knowledge.index import KnowledgeBase
        from knowledge.ingest import ingest
        class Slow(HashEmbedder):
            def encode(self, texts, **kw):
                time.sleep(0.05)
                return super().encode(texts, **kw)
        kb = KnowledgeBase("catalog", KnowledgeConfig(ingest_batch_docs=16), embedder=Slow())
        ingest(kb, [{str(src)!r}], progress=False)
    """))
    proc = subprocess.Popen([sys.executable, str(script)], env=os.environ.copy())
    kb = open_kb()
    deadline = time.time() + 120
    while kb.store.counts()["documents"] < 200 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kb.close()
    kb = open_kb()
    assert kb.chroma.all_ids() == kb.store.all_chunk_ids()
    done = kb.store.counts()["documents"]
    assert 0 < done < 1500
    report = ingest(kb, [src], progress=False)
    assert report.unchanged == done and report.added == 1500 - done
    assert_consistent(kb)


def test_notes_date_and_section_filters_in_every_mode(tmp_path):
    notes = [{"id": f"note_{i}", "text": f"HPI: cough and fever for {i} days.\nPLAN: rest and fluids, recheck.",
              "patient_id": f"P{i % 3}", "date": f"2026-0{1 + i % 9}-15", "note_type": "progress"} for i in range(12)]
    src = write_jsonl(tmp_path / "notes.jsonl", notes)
    kb = KnowledgeBase("notes", KnowledgeConfig(), embedder=HashEmbedder())
    ingest(kb, [src], progress=False)
    from knowledge.filters import parse_filters
    filters = parse_filters(["date>=2026-07-01", "patient_id=P1", "section=hpi"], "notes")
    expected = {n["id"] for n in notes if n["date"] >= "2026-07-01" and n["patient_id"] == "P1"}
    assert expected
    for mode in ("dense", "bm25", "hybrid"):
        hits = search(kb, "cough fever", mode=mode, filters=filters, k=20).hits
        assert {h.doc_id for h in hits} == expected, mode
        assert all(h.chunk.metadata["section"] == "hpi" for h in hits)


def test_rebuild_switches_embedder(tmp_path):
    src = write_jsonl(tmp_path / "c.jsonl", [item(i) for i in range(5)])
    kb = open_kb()
    ingest(kb, [src], progress=False)
    kb.close()
    other = KnowledgeBase("catalog", KnowledgeConfig(), embedder=HashEmbedder(dim=32, model_id="another-model"))
    other.rebuild()
    report = ingest(other, [src], progress=False)
    assert report.added == 5 and other.store.get_meta("embedder") == "another-model"
    assert_consistent(other)
    assert search(other, "Story number 2", mode="dense", k=1).doc_ids == ["item_0002"]


def test_docstore_vectors_match_chroma(tmp_path):
    src = write_jsonl(tmp_path / "c.jsonl", [item(i) for i in range(6)])
    kb = open_kb()
    ingest(kb, [src], progress=False)
    view = kb.view()
    got = kb.chroma.collection.get(ids=view.chunk_ids, include=["embeddings"])
    chroma_vectors = dict(zip(got["ids"], got["embeddings"]))
    for row, chunk_id in enumerate(view.chunk_ids):
        np.testing.assert_allclose(view.vectors[row].astype(np.float32), chroma_vectors[chunk_id], atol=2e-3)


def test_old_index_format_is_a_clear_error(tmp_path):
    from knowledge.docstore import DocStore
    from knowledge.errors import IndexStateError

    store = DocStore(tmp_path / "d.sqlite")
    store.set_meta("schema_version", "1")
    store.close()
    with pytest.raises(IndexStateError, match="cairn ingest --rebuild"):
        DocStore(tmp_path / "d.sqlite")


def test_rebuild_never_reuses_a_stale_bm25(tmp_path):
    """Generations restart after --rebuild; the BM25 stamp must still tell the indexes apart."""
    a = write_jsonl(tmp_path / "a.jsonl", [item(i) for i in range(6)])
    b = write_jsonl(tmp_path / "b.jsonl", [item(i, description=f"Other corpus {i} about lighthouses.") for i in range(50, 53)])
    kb = open_kb()
    ingest(kb, [a], progress=False)
    kb.rebuild()
    ingest(kb, [b], progress=False)
    kb.close()
    kb = open_kb()
    assert kb.bm25().n_rows == 3
    assert search(kb, "corpus 50 lighthouses", mode="bm25", k=5).doc_ids[0] == "item_0050"
