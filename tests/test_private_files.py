"""Private by default (knowledge/home.py): CAIRN_HOME is 0700 and what cairn writes in it is
0600 / 0700 whatever the umask — indexes, uploads, eval results, grades, the chat log, users."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from assistant.users import add_user
from evals.config import EvalConfig
from evals.grading.chatlog import ChatTurn, append_turn
from evals.grading.records import Item, RubricGrade
from evals.grading.store import GradeStore
from evals.results import ResultsFile
from fakes import HashEmbedder
from knowledge.admin import ingest_uploads
from knowledge.atomic import write_atomic
from knowledge.config import KnowledgeConfig
from knowledge.home import cairn_home, private_dir, private_sqlite
from knowledge.index import KnowledgeBase
from knowledge.retrieve import search


@pytest.fixture(autouse=True)
def lax_umask():
    """The common default umask (files 0644, folders 0755): what cairn writes must be private anyway."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def open_to_others(root: Path) -> list[str]:
    """Every path under `root` (itself included) that group or others may read, write or enter."""
    paths = [root, *root.rglob("*")]
    return [f"{p.relative_to(root.parent)} {stat.S_IMODE(p.lstat().st_mode):o}" for p in paths
            if not p.is_symlink() and p.lstat().st_mode & 0o077]


def test_a_whole_session_leaves_nothing_readable_by_others(tmp_path: Path) -> None:
    upload = tmp_path / "gradio" / "notes.jsonl"  # as Gradio hands it over: outside the home
    upload.parent.mkdir()
    upload.write_text("".join(json.dumps({"id": f"note_{i}", "text": f"Patient {i} reports chest pain.",
                                          "patient_id": f"P{i}"}) + "\n" for i in range(3)))
    kb = KnowledgeBase("notes", KnowledgeConfig(ingest_batch_docs=2), embedder=HashEmbedder())
    try:
        ingest_uploads("admin", "notes", [upload], kb=kb)
        assert search(kb, "chest pain", k=2, mode="hybrid")  # BM25 saved too
    finally:
        kb.close()
    results = ResultsFile(cairn_home() / "evals" / "runs" / "run-1")
    results.open(EvalConfig(bootstrap_b=200, judge="off"))
    results.append({"key": "notes_qa.jsonl::q1", "status": "ok", "answer": "Chest pain [1]."})
    store = GradeStore()
    item_id = store.add_item(Item(question="Who has chest pain?", answer="Patient 1 [1].", collection="notes",
                                  system="qwen"))
    store.grade(RubricGrade(item_id, "alice", 4, 4, 4, 4, 4), role="admin")
    append_turn(ChatTurn(question="Who has chest pain?", answer="Patient 1 [1].", role="clinician", model="qwen",
                         collection="notes"))
    add_user("alice", "correct horse battery", "expert")

    home = cairn_home()
    assert {"index", "uploads", "evals", "grades.sqlite", "chat", "users.json"} <= {p.name for p in home.iterdir()}
    exposed = open_to_others(home)
    assert exposed == [], "\n".join(exposed)


def test_write_atomic_is_private_whatever_the_umask(tmp_path: Path) -> None:
    path = write_atomic(tmp_path / "new" / "deeper" / "registry.json", "{}")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
    os.chmod(path, 0o644)  # written by an older version
    write_atomic(path, "{}")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(write_atomic(tmp_path / "shared.txt", "x", mode=0o640).stat().st_mode) == 0o640


def test_sqlite_files_and_their_sidecars_are_private(tmp_path: Path) -> None:
    db = tmp_path / "db" / "docstore.sqlite"
    private_dir(db.parent)
    for name in ("docstore.sqlite", "docstore.sqlite-wal"):  # left 0644 by an earlier version
        (db.parent / name).touch(mode=0o644)
    private_sqlite(db)
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in db.parent.iterdir()} == {
        "docstore.sqlite": 0o600, "docstore.sqlite-wal": 0o600}
    store = GradeStore(tmp_path / "fresh" / "grades.sqlite")  # WAL: its -wal and -shm take the file's mode
    assert store.journal_mode() == "wal"
    assert open_to_others(store.path.parent) == []


def test_an_existing_open_home_is_narrowed() -> None:
    home = Path(os.environ["CAIRN_HOME"])  # this test's own (conftest), made here the way `mkdir` does
    home.mkdir(mode=0o755)
    (home / "grades.sqlite").touch()
    assert stat.S_IMODE(home.stat().st_mode) == 0o755
    assert cairn_home() == home.resolve()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


def test_resolving_the_home_narrows_the_umask_and_never_widens_it() -> None:
    cairn_home()  # libraries that take no mode (Chroma, bm25s) write through the umask
    assert os.umask(0o277) == 0o077
    cairn_home()
    assert os.umask(0o022) == 0o277
