"""The grading database (evals/grading/store.py): round trips, validation, WAL, no grade lost to
concurrent writers (10 threads at once) or to a process killed mid-session."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from evals.grading.records import Feedback, GradingError, Item, Passage, RubricGrade
from evals.grading.store import GradeStore, chat_key

ROOT = Path(__file__).resolve().parents[1]


def item(question: str = "Who directed Rear Window?", answer: str = "Alfred Hitchcock [1].", **kw) -> Item:
    kw.setdefault("collection", "catalog")
    kw.setdefault("system", "qwen-1.5b")
    return Item(question=question, answer=answer, **kw)


def grade(item_id: int, grader: str = "alice", scores=(4, 4, 4, 4, 4), **kw) -> RubricGrade:
    return RubricGrade(item_id, grader, *scores, **kw)


@pytest.fixture
def store(tmp_path: Path) -> GradeStore:
    return GradeStore(tmp_path / "grades.sqlite")


def test_default_path_is_under_cairn_home(cairn_home: Path) -> None:
    assert GradeStore().path == cairn_home.resolve() / "grades.sqlite"


def test_wal_mode_and_private_file(store: GradeStore) -> None:
    assert store.journal_mode() == "wal"
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


def test_item_round_trip_and_dedupe(store: GradeStore) -> None:
    original = item(contexts=[{"doc_id": "film_0046", "chunk_id": "film_0046#0", "text": "Rear Window …"}],
                    cited_ids=["film_0046", "film_0046"], provenance={"turn_id": "t1"}, refused=False)
    item_id = store.add_item(original)
    assert store.add_item(original) == item_id  # same key: stored once
    back = store.item(item_id, role="expert")
    assert back.id == item_id and back.key == original.key and back.created == original.created
    assert back.contexts == (Passage(1, "film_0046", "film_0046#0", "Rear Window …"),)
    assert back.cited_ids == ("film_0046",) and back.provenance == {"turn_id": "t1"}
    assert [new for _, new in store.add_items([original, item(answer="Hitchcock.")])] == [False, True]


def test_grade_round_trip_records_what_was_shown(store: GradeStore) -> None:
    item_id = store.add_item(item())
    grade_id = store.grade(grade(item_id, scores=(5, 4, 3, 2, 1), comment="ok", corrected_answer="  Hitchcock [1]. "),
                           role="expert")
    (back,) = store.grades(role="expert")
    assert back.id == grade_id and back.scores == {"relevance": 5, "accuracy": 4, "completeness": 3, "clarity": 2,
                                                   "overall": 1}
    assert back.comment == "ok" and back.corrected_answer == "Hitchcock [1]."
    assert back.shown == store.item(item_id, role="expert").shown()  # default: the item as the UI shows it
    assert back.shown["answer"] == "Alfred Hitchcock [1]." and "system" not in back.shown  # blind to the model
    custom = {"question": "Who directed Rear Window?", "answer": "Alfred Hitchcock [1].", "note": "as rendered"}
    store.grade(grade(item_id, grader="bob", shown=custom), role="expert")
    assert store.grades(role="expert", grader="bob")[0].shown == custom


def test_regrading_appends_and_latest_wins(store: GradeStore) -> None:
    item_id = store.add_item(item())
    store.grade(grade(item_id, scores=(2, 2, 2, 2, 2)), role="expert")
    store.grade(grade(item_id, scores=(5, 5, 5, 5, 5)), role="expert")
    assert [g.overall for g in store.grades(role="expert")] == [5]
    assert [g.overall for g in store.grades(role="expert", latest=False)] == [2, 5]  # nothing overwritten


def test_blank_correction_is_no_correction() -> None:
    assert grade(1, corrected_answer="   ").corrected_answer is None


@pytest.mark.parametrize("scores", [(0, 4, 4, 4, 4), (4, 6, 4, 4, 4), (4, 4, "4", 4, 4), (4, 4, 4, True, 4),
                                    (4, 4, 4, 4, 4.5)])
def test_scores_must_be_whole_numbers_1_to_5(scores) -> None:
    with pytest.raises(GradingError, match="not a whole number 1–5"):
        grade(1, scores=scores)


def test_item_validation_names_the_bad_value() -> None:
    with pytest.raises(GradingError, match="collection 'films' is unknown"):
        item(collection="films")
    with pytest.raises(GradingError, match="origin 'web' is invalid"):
        item(origin="web")
    with pytest.raises(GradingError, match="question must be a non-empty string"):
        item(question=" ")
    with pytest.raises(GradingError, match="grader 'a b' is not a valid name"):
        grade(1, grader="a b")
    with pytest.raises(GradingError, match="passage n=0"):
        item(contexts=[Passage(0, "d")])


def test_grading_an_unknown_item_is_refused(store: GradeStore) -> None:
    with pytest.raises(GradingError, match="no item #42"):
        store.grade(grade(42), role="expert")


def test_queue_holds_items_the_grader_has_not_graded(store: GradeStore) -> None:
    ids = [store.add_item(item(question=f"q{i}?")) for i in range(4)]
    store.grade(grade(ids[1]), role="expert")
    assert [i.id for i in store.queue("alice", role="expert")] == [ids[0], ids[2], ids[3]]
    assert [i.id for i in store.queue("bob", role="expert", limit=2)] == ids[:2]


def test_thumbs_down_feedback_queues_the_answer_first(store: GradeStore) -> None:
    first = store.add_item(item(question="older?"))
    fb = Feedback(thumb="down", user="carol", role="user", question="Who made Heat?", answer="Nobody.",
                  system="qwen-1.5b", collection="catalog", reason="wrong", cited_ids=("film_1",), turn_id="t-9")
    fb_id = store.add_feedback(fb)
    store.add_feedback(fb)  # a second click on the same turn: one item
    queue = store.queue("alice", role="expert")
    assert [i.question for i in queue] == ["Who made Heat?", "older?"] and queue[1].id == first
    assert queue[0].key == chat_key("t-9") and queue[0].provenance["thumb"] == "down"
    assert queue[0].provenance["feedback_id"] == fb_id
    rows = store.feedback(role="expert")
    assert len(rows) == 2 and rows[0].reason == "wrong" and rows[0].cited_ids == ("film_1",)


def test_chit_chat_feedback_is_stored_not_queued(store: GradeStore) -> None:
    store.add_feedback(Feedback(thumb="up", user="carol", role="user", question="hi", answer="Hello!",
                                system="m", collection=None))
    assert store.queue("alice", role="expert") == [] and store.counts(role="admin")["feedback_up"] == 1


def test_counts(store: GradeStore) -> None:
    a = store.add_item(item())
    store.add_item(item(question="other?", origin="eval:run-1"))
    store.grade(grade(a, corrected_answer="Better."), role="expert")
    store.grade(grade(a, grader="judge:qwen"), role="admin")
    counts = store.counts(role="admin")
    assert counts["items"] == 2 and counts["items_chat"] == 1 and counts["items_eval"] == 1
    assert counts["graded_items"] == 1 and counts["expert_grades"] == 1 and counts["judge_grades"] == 1
    assert counts["corrections"] == 1 and counts["graders"] == 1


def test_ten_threads_grading_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "grades.sqlite"
    shared = GradeStore(path)
    ids = [shared.add_item(item(question=f"question {i}?")) for i in range(5)]
    start, errors = threading.Barrier(10), []

    def grader(n: int) -> None:
        store = shared if n % 2 else GradeStore(path)  # one shared store and separate ones: both safe
        try:
            start.wait()
            for item_id in ids:
                store.grade(grade(item_id, grader=f"expert{n}", scores=(1 + n % 5,) * 5), role="expert")
                store.add_feedback(Feedback(thumb="up", user=f"u{n}", role="user", question="q?", answer="a",
                                            system="m", collection="catalog"), enqueue=False)
        except Exception as exc:  # collected: an assert in a thread would be lost
            errors.append(exc)

    threads = [threading.Thread(target=grader, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    reopened = GradeStore(path)
    grades = reopened.grades(role="expert", latest=False)
    assert len(grades) == 50 and len({g.id for g in grades}) == 50
    assert {(g.grader, g.item_id) for g in grades} == {(f"expert{n}", i) for n in range(10) for i in ids}
    assert all(g.overall == 1 + int(g.grader[6:]) % 5 for g in grades)
    assert reopened.counts(role="admin")["feedback_up"] == 50


CRASH = """
import os, sys
sys.path.insert(0, {root!r})
from evals.grading.records import Item, RubricGrade
from evals.grading.store import GradeStore
store = GradeStore({db!r})
item_id = store.add_item(Item(question="q?", answer="a", collection="catalog", system="m"))
store.grade(RubricGrade(item_id, "alice", 5, 4, 3, 2, 1, comment="committed"), role="expert")
conn = store._connect()                      # a second write, killed before its COMMIT
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO grades (item_id, grader, relevance, accuracy, completeness, clarity, overall, comment, "
             "corrected_answer, shown, created) VALUES (?, 'bob', 1, 1, 1, 1, 1, 'torn', NULL, '{{}}', 'now')",
             (item_id,))
os._exit(9)                                  # no close, no checkpoint: as if the process died
"""


def test_a_committed_grade_survives_a_crash(tmp_path: Path) -> None:
    db = tmp_path / "grades.sqlite"
    proc = subprocess.run([sys.executable, "-c", CRASH.format(root=str(ROOT), db=str(db))],
                          check=False, capture_output=True, text=True, timeout=120, env={**os.environ})
    assert proc.returncode == 9, proc.stderr
    assert (tmp_path / "grades.sqlite-wal").exists()  # the commit lives in the WAL, not yet checkpointed
    store = GradeStore(db)
    (survivor,) = store.grades(role="expert", latest=False)
    assert survivor.grader == "alice" and survivor.comment == "committed" and survivor.overall == 1
    assert store.queue("bob", role="expert")  # the torn write never happened
