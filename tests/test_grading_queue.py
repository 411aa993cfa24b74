"""Filling the grading queue (evals/grading/queue.py, chatlog.py) from eval runs and chat logs,
idempotently; `cairn grades import|export|stats`; and `cairn calibrate --grades-db`."""
from __future__ import annotations

import argparse
import json
import stat
from pathlib import Path

import pytest

from assistant.answer import Answer, Citation
from evals.calibration_cli import register as register_calibrate
from evals.grading.chatlog import ChatTurn, append_turn, chat_log_path, read_turns
from evals.grading.cli import register as register_grades
from evals.grading.queue import import_chat_log, import_eval_run, import_path
from evals.grading.records import GradingError, Item, RubricGrade
from evals.grading.store import GradeStore
from knowledge.errors import CairnError
from knowledge.types import Chunk


def qa_record(case_id: str, answer: str = "Alfred Hitchcock [1].", **kw) -> dict:
    return {"key": f"catalog_qa.jsonl::{case_id}", "file": "catalog_qa.jsonl", "case_id": case_id, "task": "qa",
            "config_hash": "abc", "status": "ok", "tags": ["factual"], "answerable": True,
            "inputs": {"question": f"Question {case_id}?", "collection": "catalog", "filters": {}},
            "answer": answer, "refused": False, "reference": "Hitchcock.", "relevant": {"film_0046": 1.0},
            "contexts": [{"n": 1, "doc_id": "film_0046", "chunk_id": "film_0046#0", "text": "Rear Window …"}],
            "citations": [{"n": 1, "doc_id": "film_0046", "chunk_id": "film_0046#0", "span": [0, 5], "score": 0.9}],
            "trace": {"model_id": "trace-model"}, **kw}


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    run = tmp_path / "runs" / "dpo-2026-11-22"
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"config": {"llm": {"model": "qwen-1.5b", "adapter": "/x/adapters/dpo-3"}}}))
    records = [qa_record("qa-001"), qa_record("qa-002", status="error", answer=None),
               {"key": "notes_extraction.jsonl::ex-1", "case_id": "ex-1", "task": "extract", "status": "ok"},
               qa_record("qa-003", answer="A first try."), qa_record("qa-003", answer="Retried [1].")]
    (run / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records) + '{"key": "torn')
    return run


def test_eval_run_import(run_dir: Path, tmp_path: Path) -> None:
    store = GradeStore(tmp_path / "g.sqlite")
    report = import_eval_run(store, run_dir / "results.jsonl")
    assert (report.added, report.existing) == (2, 0)
    assert report.skipped == {"failed or unanswered cases": 1, "extraction cases": 1}
    first, third = store.items(role="admin")
    assert first.origin == "eval:dpo-2026-11-22" and first.system == "qwen-1.5b+dpo-3"
    assert first.cited_ids == ("film_0046",) and first.contexts[0].text == "Rear Window …"
    assert first.provenance["key"] == "catalog_qa.jsonl::qa-001" and first.provenance["reference"] == "Hitchcock."
    assert third.answer == "Retried [1]."  # the latest record of a retried case
    again = import_path(store, run_dir)  # the folder works too, and nothing is added twice
    assert (again.added, again.existing) == (0, 2)


def test_chat_log_round_trip_and_import(tmp_path: Path, cairn_home: Path) -> None:
    turn = ChatTurn(question="Who directed Rear Window?", answer="Hitchcock [1].", role="clinician", model="qwen",
                    collection="catalog", sources=[{"doc_id": "film_0046", "text": "Rear Window …"}],
                    cited_ids=["film_0046"], user="doc")
    path = append_turn(turn)
    append_turn(ChatTurn(question="hi", answer="Hello!", role="user", model="qwen"))
    assert path == chat_log_path() == cairn_home.resolve() / "chat" / "turns.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with path.open("a") as handle:
        handle.write('{"schema": "cairn.chat.turn/1", "turn_id": "x", "quest')  # a crash mid-append
    back = read_turns(path)
    assert back[0] == turn and back[1].collection is None and len(back) == 2
    store = GradeStore()
    report = import_chat_log(store, path)
    assert report.added == 1 and report.skipped == {"chit-chat turns": 1, "torn or unreadable lines": 1}
    (item,) = store.items(role="admin")
    assert item.key == f"chat:{turn.turn_id}" and item.system == "qwen" and item.provenance["user"] == "doc"
    assert import_path(store, path).existing == 1


def test_a_torn_line_is_skipped_and_counted_and_later_turns_still_import(tmp_path: Path) -> None:
    log = tmp_path / "chat" / "turns.jsonl"
    first = ChatTurn(question="Who directed Rear Window?", answer="Hitchcock [1].", role="user", model="qwen",
                     collection="catalog")
    append_turn(first, log)
    with log.open("ab") as handle:  # a crash mid-append: half a line, cut inside a multi-byte character
        handle.write('{"schema": "cairn.chat.turn/1", "turn_id": "x", "question": "Caf\u00e9'.encode()[:-1])
    store = GradeStore(tmp_path / "g.sqlite")
    assert import_chat_log(store, log).skipped == {"torn or unreadable lines": 1}  # torn and last
    second = ChatTurn(question="Any whale films?", answer="Deep Blue [1].", role="user", model="qwen",
                      collection="catalog")
    append_turn(second, log)  # the UI goes on after the restart
    assert len(log.read_bytes().splitlines()) == 3  # the new turn did not run into the torn one
    report = import_chat_log(store, log)
    assert (report.added, report.existing, report.skipped) == (1, 1, {"torn or unreadable lines": 1})
    assert [t.turn_id for t in read_turns(log)] == [first.turn_id, second.turn_id]


def test_a_bad_line_inside_a_chat_log_is_named(tmp_path: Path) -> None:
    log = tmp_path / "turns.jsonl"
    log.write_text('{"turn_id": "a", "question": "q?", "answer": "a", "role": "root", "model": "m"}\n')
    with pytest.raises(GradingError, match=r"turns.jsonl:1: not a valid chat turn: unknown role 'root'"):
        read_turns(log)


def test_chat_turn_from_an_answer() -> None:
    chunk = Chunk("film_0046#0", "film_0046", "Rear Window is a 1954 film.", (0, 27), {"title": "Rear Window"})
    answer = Answer("It is from 1954 [1].", [Citation(1, "film_0046", "film_0046#0", (0, 27), 0.9)], [chunk], [],
                    False, {"plan": {"route": "catalog"}, "tool": {"name": "search_catalog"}, "model_id": "qwen-1.5b"}, {})
    turn = ChatTurn.from_answer("When is Rear Window from?", answer, role="user", user="u1")
    assert turn.collection == "catalog" and turn.model == "qwen-1.5b" and turn.cited_ids == ("film_0046",)
    assert turn.sources[0].n == 1 and "Rear Window is a 1954 film." in turn.sources[0].text
    chitchat = Answer("Hello!", [], [], [], False, {"plan": {"route": "chitchat"}, "tool": None}, {})
    assert ChatTurn.from_answer("hi", chitchat, role="user", model="m").collection is None


def _cli(register, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="cairn")
    register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def test_grades_cli_import_stats_export(run_dir: Path, tmp_path: Path, capsys) -> None:
    with pytest.raises(CairnError, match="no grades database"):
        _cli(register_grades, ["grades", "stats"])
    assert _cli(register_grades, ["grades", "import", str(run_dir)]) == 0
    assert "2 added" in capsys.readouterr().out
    store = GradeStore()
    for item in store.queue("alice", role="expert"):
        store.grade(RubricGrade(item.id, "alice", 5, 5, 5, 5, 5, corrected_answer="Hitchcock (1954) [1]."),
                    role="expert")
    assert _cli(register_grades, ["grades", "stats", "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts["items_eval"] == 2 and counts["corrections"] == 2
    golden, prefs = tmp_path / "golden.jsonl", tmp_path / "prefs.jsonl"
    assert _cli(register_grades, ["grades", "export", "--golden", str(golden), "--preferences", str(prefs)]) == 0
    out = capsys.readouterr().out
    assert "wrote 2 record(s) to" in out and golden.exists() and prefs.exists()
    assert (tmp_path / "prefs.jsonl.provenance.json").exists()
    with pytest.raises(CairnError, match="say what to export"):
        _cli(register_grades, ["grades", "export"])


def test_every_grades_command_has_help(capsys) -> None:
    for argv in (["grades"], ["grades", "import"], ["grades", "export"], ["grades", "stats"]):
        with pytest.raises(SystemExit) as exit_:
            _cli(register_grades, [*argv, "--help"])
        assert exit_.value.code == 0 and "usage: cairn grades" in capsys.readouterr().out


def test_calibrate_from_the_grades_db(capsys) -> None:
    store = GradeStore()
    ids = [store.add_item(Item(question=f"q{i}?", answer="a", collection="catalog", system="m")) for i in range(4)]
    for n, item_id in enumerate(ids):
        store.grade(RubricGrade(item_id, "alice", *(1 + n,) * 5), role="expert")
        if n < 3:  # the judge skipped the last item: left out, not an abstention
            store.grade(RubricGrade(item_id, "judge:qwen", *(1 + n,) * 5), role="admin")
    assert _cli(register_calibrate, ["calibrate", "--grades-db", "--json"]) == 0
    rows = {r["criterion"]: r for r in json.loads(capsys.readouterr().out)["rows"]}
    assert rows["overall"]["n"] == 3 and rows["overall"]["exact"] == 1.0 and rows["all"]["n"] == 15
    store.grade(RubricGrade(ids[0], "judge:other", 1, 1, 1, 1, 1), role="admin")
    with pytest.raises(CairnError, match="several judges: judge:other, judge:qwen; choose one with --judge"):
        _cli(register_calibrate, ["calibrate", "--grades-db", str(store.path)])
    assert _cli(register_calibrate, ["calibrate", "--grades-db", str(store.path), "--judge", "judge:other"]) == 0
    with pytest.raises(CairnError, match="use it with --grades-db"):
        _cli(register_calibrate, ["calibrate", "--csv", "x.csv", "--judge", "judge:qwen"])
