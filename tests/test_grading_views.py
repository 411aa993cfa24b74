"""The grading tab's actions (evals/grading/views.py): queue, load exactly what is recorded, grade
with a correction, blind pairwise picks mapped back to systems — and refusals, not data, for roles
that may not grade."""
from __future__ import annotations

import pytest

from evals.grading.records import Item, Passage
from evals.grading.store import GradeStore
from evals.grading.views import grading_load, grading_queue, grading_submit, pairwise_next, pairwise_submit

Q = "Which documentaries are about the ocean?"


@pytest.fixture
def store(tmp_path):
    store = GradeStore(tmp_path / "grades.sqlite")
    store.add_item(Item(question=Q, answer="Deep Blue [1].", collection="catalog", system="base",
                        contexts=(Passage(1, "d1", "d1#0", "Deep Blue: a documentary about the ocean."),),
                        cited_ids=("d1",)))
    store.add_item(Item(question=Q, answer="Deep Blue and Tide Pools [1][2].", collection="catalog",
                        system="base+sft", cited_ids=("d1", "d2")))
    store.add_item(Item(question="What was started?", answer="Azithromycin 500 mg [1].", collection="notes",
                        system="base"))
    return store


def test_queue_load_and_grade(store):
    rows, count = grading_queue(store, "expert", "eve")
    assert count == "2 answers to grade" and [r[1] for r in rows] == ["catalog", "catalog"]  # no note items
    item_id, shown, sources = grading_load(store, "expert", "eve", None)
    assert item_id == rows[0][0] and shown.startswith(f"**Question:** {Q}") and "Deep Blue \\[1\\]." in shown
    assert "**[1]** `d1` — Deep Blue: a documentary" in sources and "base" not in shown  # blind to the system
    status = grading_submit(store, "expert", "eve", item_id, 5, 4, 3, 5, 4, " fine ", "Deep Blue [1].")
    assert status.startswith("Saved grade #")
    (grade,) = store.grades(role="expert", item_id=item_id)
    assert (grade.relevance, grade.overall, grade.comment, grade.corrected_answer) == (5, 4, "fine", "Deep Blue [1].")
    assert grade.shown["answer"] == "Deep Blue [1]."  # the exact inputs shown are recorded
    assert grading_queue(store, "expert", "eve")[1] == "1 answer to grade"


def test_bad_grades_and_ids_are_reported(store):
    assert grading_submit(store, "expert", "eve", None, 5, 5, 5, 5, 5) == "Load an answer first."
    assert grading_submit(store, "expert", "eve", 1, 7, 5, 5, 5, 5).startswith("**Error:**")
    note_id = [i.id for i in store.items(role="admin") if i.collection == "notes"][0]
    _, shown, _ = grading_load(store, "expert", "eve", note_id)
    assert shown.startswith("**Error:**") and "Azithromycin" not in shown
    assert "Azithromycin" in grading_load(store, "admin", "ada", note_id)[1]


@pytest.mark.parametrize("role", ["user", "clinician"])
def test_non_graders_get_refusals(store, role):
    assert grading_queue(store, role, "x") == ([], f"**Error:** role '{role}' may not grade answers or read grades; "
                                                  "roles that may: expert, admin")
    assert grading_load(store, role, "x", None)[1].startswith("**Error:**")
    assert grading_submit(store, role, "x", 1, 5, 5, 5, 5, 5).startswith("**Error:**")
    pair, question, a, b = pairwise_next(store, role, "x")
    assert pair is None and question.startswith("**Error:**") and a == b == ""


def test_blind_pair_pick_is_mapped_back_to_the_system(store):
    pair, question, a, b = pairwise_next(store, "expert", "eve")
    assert question == f"**Question:** {Q}" and {a, b} == {"Deep Blue [1].", "Deep Blue and Tide Pools [1][2]."}
    assert pairwise_submit(store, "expert", "eve", None, "a") == "Load a pair first."
    pick = "a" if a.startswith("Deep Blue and") else "b"
    assert pairwise_submit(store, "expert", "eve", pair, pick).startswith("Saved comparison #")
    (verdict,) = store.pairwise(role="expert")
    assert (verdict.winner_system, verdict.loser_system) == ("base+sft", "base")
    assert pairwise_next(store, "expert", "eve")[0] is None  # compared once per grader


def test_the_queue_takes_new_chat_turns_once(store, tmp_path):
    from evals.grading.chatlog import ChatTurn, append_turn

    log = tmp_path / "turns.jsonl"
    append_turn(ChatTurn(question="Any whale films?", answer="Deep Blue [1].", role="user", model="m",
                         collection="catalog", cited_ids=("d1",)), log)
    rows, count = grading_queue(store, "expert", "eve", chat_log=log)
    assert count == "3 answers to grade" and "Any whale films?" in [r[3] for r in rows]
    assert grading_queue(store, "expert", "eve", chat_log=log)[1] == "3 answers to grade"
    assert grading_queue(store, "expert", "eve", chat_log=tmp_path / "absent.jsonl")[1] == "3 answers to grade"
