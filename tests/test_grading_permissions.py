"""Who sees what in the grading database, checked at the store's API (the layer the UI handlers
call): items, grades, verdicts and feedback are for graders (expert, admin) only, and note items
only for graders that may read notes (admin): an expert never sees one, and a user or clinician
never sees an item or a grade."""
from __future__ import annotations

from pathlib import Path

import pytest

from assistant.roles import RoleError, can_admin, can_grade, readable_collections
from evals.grading.records import Feedback, GradingError, Item, RubricGrade
from evals.grading.store import GradeStore

NOTE_TEXT = "Patient reports persistent cough and low-grade fever."


@pytest.fixture
def world(tmp_path: Path):
    store = GradeStore(tmp_path / "grades.sqlite")
    catalog = store.add_item(Item(question="Who directed Rear Window?", answer="Hitchcock [1].",
                                  collection="catalog", system="base", cited_ids=("film_0046",)))
    note = store.add_item(Item(question="What symptoms does note 42 report?", answer=NOTE_TEXT,
                               collection="notes", system="base", cited_ids=("note_0042",)))
    note_b = store.add_item(Item(question="What symptoms does note 42 report?", answer="Cough [1].",
                                 collection="notes", system="base+dpo"))
    store.grade(RubricGrade(catalog, "exp", 4, 4, 4, 4, 4), role="expert")
    store.grade(RubricGrade(note, "adm", 2, 2, 2, 2, 2, corrected_answer="Cough and fever [1]."), role="admin")
    store.add_feedback(Feedback(thumb="down", user="doc", role="clinician", question="notes?", answer=NOTE_TEXT,
                                system="base", collection="notes", turn_id="t-notes"))
    return store, catalog, note, note_b


def test_role_helpers() -> None:
    assert [r for r in ("user", "clinician", "expert", "admin") if can_grade(r)] == ["expert", "admin"]
    assert [r for r in ("user", "clinician", "expert", "admin") if can_admin(r)] == ["admin"]
    assert readable_collections("expert") == {"catalog"} and readable_collections("clinician") == {"catalog", "notes"}
    with pytest.raises(RoleError, match="unknown role 'root'"):
        can_grade("root")


@pytest.mark.parametrize("role", ["user", "clinician"])
def test_non_graders_read_no_grades_verdicts_feedback_or_queue(world, role: str) -> None:
    store, catalog, *_ = world
    for call in (lambda: store.grades(role=role), lambda: store.pairwise(role=role),
                 lambda: store.feedback(role=role), lambda: store.counts(role=role),
                 lambda: store.queue("x", role=role), lambda: store.next_pair("x", role=role)):
        with pytest.raises(RoleError, match=f"role '{role}' may not grade answers or read grades"):
            call()
    with pytest.raises(RoleError):
        store.grade(RubricGrade(catalog, "x", 5, 5, 5, 5, 5), role=role)


@pytest.mark.parametrize("role", ["user", "clinician"])
def test_non_graders_read_no_items_either(world, role: str) -> None:
    # Items quote other people's chats (and notes): even a clinician, who may read notes, does not
    # browse what others asked.
    store, catalog, note, _ = world
    for call in (lambda: store.items(role=role), lambda: store.item(catalog, role=role),
                 lambda: store.item(note, role=role)):
        with pytest.raises(RoleError, match=f"role '{role}' may not grade answers"):
            call()


def test_grader_reads_note_items_only_with_notes_permission(world) -> None:
    store, catalog, note, note_b = world
    assert [i.id for i in store.items(role="expert")] == [catalog]
    with pytest.raises(GradingError, match=f"no item #{note} that role 'expert' may see"):
        store.item(note, role="expert")
    assert {catalog, note, note_b} < {i.id for i in store.items(role="admin")}
    assert store.item(note, role="admin").answer == NOTE_TEXT


def test_expert_grades_catalog_items_and_never_meets_notes(world) -> None:
    store, catalog, note, _ = world
    assert store.queue("exp2", role="expert") == [store.item(catalog, role="expert")]
    store.grade(RubricGrade(catalog, "exp2", 5, 5, 5, 5, 5), role="expert")
    assert {g.grader for g in store.grades(role="expert")} == {"exp", "exp2"}  # the admin's note grade is hidden
    assert NOTE_TEXT not in str(store.grades(role="expert")) and NOTE_TEXT not in str(store.feedback(role="expert"))
    assert store.queue("exp2", role="expert") == []  # the queued note answers are not for an expert
    assert store.next_pair("exp2", role="expert") is None  # the note pair neither
    with pytest.raises(GradingError, match=f"no item #{note}"):
        store.grade(RubricGrade(note, "exp2", 5, 5, 5, 5, 5), role="expert")
    counts = store.counts(role="expert")
    assert counts["items"] == 1 and counts["corrections"] == 0 and counts["feedback_down"] == 0


def test_only_a_notes_reading_grader_gets_note_items_and_pairs(world) -> None:
    store, catalog, note, note_b = world
    assert {i.id for i in store.queue("adm", role="admin")} == {catalog, note_b, store.items(role="admin")[-1].id}
    pair = store.next_pair("adm", role="admin", seed=0)
    assert pair is not None and pair.collection == "notes" and {pair.a.item_id, pair.b.item_id} == {note, note_b}
    with pytest.raises(GradingError, match="role 'expert' may not grade notes answers"):
        store.record_pairwise(pair, "a", grader="exp", role="expert")
    assert store.record_pairwise(pair, "a", grader="adm", role="admin").collection == "notes"
    assert store.pairwise(role="expert") == [] and len(store.pairwise(role="admin")) == 1


def test_feedback_on_notes_needs_a_notes_role(world) -> None:
    store, *_ = world
    with pytest.raises(GradingError, match="role 'user' may not give feedback on notes answers"):
        store.add_feedback(Feedback(thumb="up", user="u", role="user", question="q?", answer="a", system="m",
                                    collection="notes"))
    store.add_feedback(Feedback(thumb="up", user="u", role="user", question="q?", answer="a", system="m",
                                collection="catalog"))
