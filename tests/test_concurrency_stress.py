"""Concurrency and crash stress of one collection: threads ingesting, deleting, searching and
answering through one KnowledgeBase while a second process runs `cairn ingest`; and
`cairn ingest` killed with SIGKILL mid-run, round after round, each time followed by an
ingest that must complete with nothing lost and nothing stale in the docstore, Chroma or
BM25.

The `cairn` process runs the real command line. By default it embeds with the hash embedder
(`LAUNCHER`: the same `cli.main`, only `load_embedder` swapped), so the tests need no model;
the `slow` variants run `.venv/bin/cairn` itself with the packaged MiniLM.

Run as a script for larger counts (prints the numbers as JSON):
    python tests/test_concurrency_stress.py kill --rounds 20
    python tests/test_concurrency_stress.py stress --scale 4
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

from fakes import HashEmbedder  # noqa: E402
from knowledge.config import KnowledgeConfig  # noqa: E402
from knowledge.docstore import DocStore  # noqa: E402
from knowledge.filters import parse_filters  # noqa: E402
from knowledge.index import KnowledgeBase  # noqa: E402
from knowledge.ingest import ingest  # noqa: E402
from knowledge.retrieve import search  # noqa: E402
from test_docstore import WATCHDOG_S, run_threads  # noqa: E402
from test_ingest import item, write_jsonl  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CAIRN = ROOT / ".venv" / "bin" / "cairn"
LAUNCHER = textwrap.dedent(f"""
    import sys
    sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'tests')!r}]
    import knowledge.index
    from fakes import HashEmbedder
    knowledge.index.load_embedder = lambda spec, **_: HashEmbedder()
    import cli
    sys.exit(cli.main(sys.argv[1:]))
""")
# Verifies the indexes in a fresh process: Chroma's in-memory HNSW graph of a process that
# did not write the last vectors itself may lag behind the files (chromadb keeps one system
# per path per process), so "what the next process sees" is checked by a next process.
CHECK = textwrap.dedent(f"""
    import json, sys
    sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'tests')!r}]
    from knowledge.index import KnowledgeBase
    from test_docstore import assert_indexes_agree
    expected = json.loads(open(sys.argv[1]).read())
    kb = KnowledgeBase("catalog")
    assert_indexes_agree(kb, set(expected["present"]), set(expected["absent"]))
    print("AGREE")
""")


@dataclass
class Cairn:
    """How to run `cairn` against a home, and how to open the same collection in this process."""

    home: Path
    prefix: list[str]
    extra: list[str] = field(default_factory=list)  # --embedder for the real model
    make_kb: Callable[[], KnowledgeBase] = lambda: KnowledgeBase("catalog", KnowledgeConfig(), embedder=HashEmbedder())

    @property
    def env(self) -> dict[str, str]:
        # Small batches (a config variable, not a test hook): a run commits many times.
        return {**os.environ, "CAIRN_HOME": str(self.home), "CAIRN_INGEST_BATCH_DOCS": "8"}

    def ingest_argv(self, path: Path) -> list[str]:
        return [*self.prefix, "ingest", str(path), "--collection", "catalog", "--quiet", *self.extra]

    def check_in_fresh_process(self, work: Path, present: set[str], absent: set[str]) -> None:
        expected, script = work / "expected.json", work / "check.py"
        expected.write_text(json.dumps({"present": sorted(present), "absent": sorted(absent)}))
        script.write_text(CHECK)
        proc = subprocess.run([sys.executable, str(script), str(expected)], env=self.env, capture_output=True,
                              text=True, timeout=WATCHDOG_S)
        assert proc.returncode == 0 and "AGREE" in proc.stdout, proc.stderr[-3000:]


def fake_cairn(home: Path, work: Path) -> Cairn:
    launcher = work / "cairn_hash_embedder.py"
    launcher.write_text(LAUNCHER)
    return Cairn(home, [sys.executable, str(launcher)])


def real_cairn(home: Path, minilm: Path) -> Cairn:
    config = KnowledgeConfig(embedder=str(minilm))  # the model id the CLI records: the folder path
    return Cairn(home, [str(CAIRN)], ["--embedder", str(minilm)], lambda: KnowledgeBase("catalog", config))


@pytest.fixture(params=["hash embedder", pytest.param("real cairn and MiniLM", marks=pytest.mark.slow)])
def cairn(request, cairn_home: Path, tmp_path: Path) -> Cairn:
    if request.param == "hash embedder":
        return fake_cairn(cairn_home, tmp_path)
    if not CAIRN.exists():
        pytest.skip(f"{CAIRN} is not installed; run `make install`")
    return real_cairn(cairn_home, request.getfixturevalue("real_model")("minilm"))


def number_text(i: int, edition: int) -> str:
    return f"Edition {edition} of story number {i} about {['glaciers', 'jazz', 'comets'][i % 3]}."


# --- threads + a second process --------------------------------------------------------------

def run_stress(cairn: Cairn, work: Path, scale: int = 1) -> dict:
    """8 threads through one KnowledgeBase (3 ingest, 2 delete, 2 search, 1 answer with the
    scripted model) while `cairn ingest` runs twice in another process (adds, then updates).
    Returns operations by kind, errors, and the expected present/absent ids."""
    from agent_world import make_agent  # the scripted-model agent of the agent tests

    kb = cairn.make_kb()
    seed = [item(i) for i in range(60 * scale)]
    ingest(kb, [write_jsonl(work / "seed.jsonl", seed)], progress=False)
    to_delete = sorted(r["id"] for r in seed)[::2]
    cli_ids = [5000 + i for i in range(80 * scale)]
    ops: collections.Counter[str] = collections.Counter()
    ops_lock = threading.Lock()

    def count(kind: str, n: int = 1) -> None:
        with ops_lock:  # `+=` on a Counter is not atomic across threads
            ops[kind] += n
    errors: list[BaseException] = []
    ingested: set[str] = set()
    updated: set[str] = set()
    done = threading.Event()

    def ingester(t: int):
        def run():
            for r in range(4 * scale):
                rows = [item(1000 + 1000 * t + 10 * r + j) for j in range(5)]
                ingest(kb, [write_jsonl(work / f"t{t}_{r}.jsonl", rows)], progress=False)
                ingested.update(row["id"] for row in rows)
                count("ingest")
                if r == 1:  # and rewrite an earlier file: every document in it is updated
                    again = [item(1000 + 1000 * t + j, description=number_text(1000 + 1000 * t + j, 2))
                             for j in range(5)]
                    ingest(kb, [write_jsonl(work / f"t{t}_0.jsonl", again)], progress=False)
                    updated.update(row["id"] for row in again)
                    count("ingest (update)")
        return run

    def deleter(part: list[str]):
        def run():
            for start in range(0, len(part), 3):
                kb.delete_documents(part[start:start + 3])
                count("delete")
        return run

    def searcher(modes: tuple[str, ...]):
        def run():
            film = parse_filters(["type=film"], "catalog")
            while not done.is_set():
                for mode in modes:
                    search(kb, "story number about jazz", mode=mode, k=5)
                    search(kb, "glaciers and people", mode=mode, filters=film, k=5)
                    count("search", 2)
        return run

    def answerer():
        agent, _ = make_agent({"catalog": kb}, role="user")
        while not done.is_set() and ops["answer"] < 10 * scale:
            answer = agent.ask("documentaries about glaciers")
            assert answer.text
            count("answer")

    def cli_process():
        for edition in (1, 2):  # first run adds, second run updates every document
            rows = [item(i, description=number_text(i, edition)) for i in cli_ids]
            src = write_jsonl(work / "cli.jsonl", rows)
            proc = subprocess.run(cairn.ingest_argv(src), env=cairn.env, capture_output=True, text=True,
                                  timeout=WATCHDOG_S)
            assert proc.returncode == 0, proc.stderr[-3000:]
            count("cli ingest")

    writers = [ingester(t) for t in range(3)] + [deleter(to_delete[0::2]), deleter(to_delete[1::2]), cli_process]

    def writers_then_stop():
        try:
            run_threads(writers, errors)
        finally:
            done.set()

    run_threads([writers_then_stop, searcher(("bm25", "hybrid")), searcher(("dense", "hybrid")), answerer],
                errors)
    kb.close()
    present = ingested | {r["id"] for r in seed} - set(to_delete) | {f"item_{i:04d}" for i in cli_ids}
    return {"operations": dict(ops), "errors": [repr(e) for e in errors], "present": present,
            "absent": set(to_delete), "updated": updated, "cli_ids": cli_ids}


def check_contents(kb: KnowledgeBase, result: dict) -> None:
    """Updated documents hold their new text, in the docstore and in BM25 (none stale)."""
    for doc_id in sorted(result["updated"]):
        assert "Edition 2" in kb.store.get_document(doc_id).text, doc_id
    for i in result["cli_ids"][:: max(1, len(result["cli_ids"]) // 10)]:
        doc = kb.store.get_document(f"item_{i:04d}")
        assert doc is not None and "Edition 2" in doc.text
        hits = search(kb, f"edition story number {i}", mode="bm25", k=3).hits
        assert hits[0].doc_id == f"item_{i:04d}" and "Edition 2" in hits[0].chunk.text


def test_threads_and_a_cli_process_at_once(cairn: Cairn, tmp_path: Path) -> None:
    result = run_stress(cairn, tmp_path)
    assert not result["errors"], result["errors"][:3]
    ops = result["operations"]
    assert ops["ingest"] == 12 and ops["delete"] > 0 and ops["cli ingest"] == 2 and ops["search"] > 0
    kb = cairn.make_kb()
    check_contents(kb, result)
    kb.close()
    cairn.check_in_fresh_process(tmp_path, result["present"], result["absent"])


# --- kill -9 mid-ingest ----------------------------------------------------------------------

def index_state(kb: KnowledgeBase, rows: list[dict], edition: int) -> dict[str, int]:
    """Lost: documents of `rows` missing from the docstore, Chroma or BM25, or not at
    `edition`. Stale: journal entries, chunks in Chroma or BM25 that the docstore does not
    hold, and staging folders left beside BM25."""
    store_chunks = kb.store.all_chunk_ids()
    chroma, bm25 = kb.chroma.all_ids(), set(kb.bm25().chunk_ids)
    lost = 0
    for row in rows:
        doc = kb.store.get_document(row["id"])
        chunks = set(kb.store.chunk_ids_of([row["id"]]))
        if doc is None or f"Edition {edition} " not in doc.text or not chunks or not chunks <= chroma & bm25:
            lost += 1
    stale = (len(kb.store.pending_ids()) + len((chroma | bm25) - store_chunks)
             + len(list(kb.dir.glob(".bm25.*"))))
    return {"lost": lost, "stale": stale}


def run_kill_loop(cairn: Cairn, work: Path, rounds: int, n_items: int = 300) -> dict:
    """Each round rewrites every item (round 0 adds them), starts `cairn ingest`, SIGKILLs it
    once the docstore's generation shows a few committed changes (a different number each
    round, so the kill lands at different steps), then checks what recovery left and runs
    the ingest again to completion."""
    stats = {"rounds": rounds, "kills": 0, "finished before the kill": 0, "lost": 0, "stale": 0,
             "indexes disagreeing right after recovery": 0, "next ingest completed": 0,
             "most documents absent between kill and next ingest": 0}
    src = work / "items.jsonl"
    store_path = cairn.home / "index" / "catalog" / "docstore.sqlite"
    store_path.parent.mkdir(parents=True, exist_ok=True)
    for r in range(rounds):
        rows = [item(i, description=number_text(i, r)) for i in range(n_items)]
        write_jsonl(src, rows)
        poll = DocStore(store_path)
        start = poll.generation
        # Batches of 8 change 2 generations each (step 1 and step 4): kill inside batch 1..7.
        target = start + 1 + (r * 3) % 13
        proc = subprocess.Popen(cairn.ingest_argv(src), env=cairn.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        deadline = time.monotonic() + WATCHDOG_S
        while proc.poll() is None and poll.generation < target and time.monotonic() < deadline:
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate()
        poll.close()
        if proc.returncode == -signal.SIGKILL:
            stats["kills"] += 1
        else:
            assert proc.returncode == 0, err.decode()[-3000:]
            stats["finished before the kill"] += 1
        kb = cairn.make_kb()  # opening recovers
        if kb.chroma.all_ids() != kb.store.all_chunk_ids() or kb.store.pending_ids():
            stats["indexes disagreeing right after recovery"] += 1
        if r:  # every item was indexed before this round: absent ones are the killed batch's
            absent = n_items - len(kb.store.existing_doc_ids([row["id"] for row in rows]))
            stats["most documents absent between kill and next ingest"] = max(
                absent, stats["most documents absent between kill and next ingest"])
        kb.close()
        proc = subprocess.run(cairn.ingest_argv(src), env=cairn.env, capture_output=True, text=True,
                              timeout=WATCHDOG_S)
        stats["next ingest completed"] += proc.returncode == 0
        kb = cairn.make_kb()
        state = index_state(kb, rows, r)
        kb.close()
        stats["lost"] += state["lost"]
        stats["stale"] += state["stale"]
    cairn.check_in_fresh_process(work, {r["id"] for r in rows}, set())
    return stats


def test_kill_9_mid_cli_ingest_then_next_ingest_completes(cairn: Cairn, tmp_path: Path) -> None:
    stats = run_kill_loop(cairn, tmp_path, rounds=5)
    assert stats["kills"] >= 3, stats  # a fast run may finish before a late kill lands
    assert stats["lost"] == stats["stale"] == stats["indexes disagreeing right after recovery"] == 0, stats
    assert stats["next ingest completed"] == 5, stats


# --- numbers at larger counts ------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["kill", "stress"])
    parser.add_argument("--rounds", type=int, default=20, help="kill: rounds (one SIGKILL each)")
    parser.add_argument("--items", type=int, default=300, help="kill: items in the file")
    parser.add_argument("--scale", type=int, default=4, help="stress: multiplies every count")
    parser.add_argument("--minilm", type=Path, help="run .venv/bin/cairn with this MiniLM folder")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cairn-stress-"))
    home = work / "home"
    os.environ["CAIRN_HOME"] = str(home)
    cairn = real_cairn(home, args.minilm) if args.minilm else fake_cairn(home, work)
    started = time.perf_counter()
    if args.what == "kill":
        out = run_kill_loop(cairn, work, args.rounds, args.items)
    else:
        result = run_stress(cairn, work, args.scale)
        kb = cairn.make_kb()
        check_contents(kb, result)
        kb.close()
        cairn.check_in_fresh_process(work, result["present"], result["absent"])
        out = {"operations": result["operations"], "errors": result["errors"],
               "documents expected": len(result["present"]), "deleted": len(result["absent"]),
               "lost": 0, "stale": 0}  # the checks above raise on any lost or stale document
    out["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
