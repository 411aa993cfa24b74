"""Grades out (evals/grading/export.py): golden cases that the golden loader accepts, preference
pairs in the right direction (correction over answer, winner over loser, ties skipped, judges
never used) that the DPO data reader accepts, and the provenance sidecar."""
from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pytest

from evals.golden import load_golden
from evals.grading.export import (
    export_golden,
    export_preferences,
    golden_case,
    provenance_path,
)
from evals.grading.pairwise import Candidate, make_blind_pair
from evals.grading.records import Item, Passage, RubricGrade
from evals.grading.store import GradeStore
from finetune.data import load_preference_jsonl

SOURCES = (Passage(1, "film_0046", "film_0046#0", "title: Rear Window | year: 1954\nDirected by Alfred Hitchcock."),)


def g(item_id: int, grader: str, overall: int, **kw) -> RubricGrade:
    return RubricGrade(item_id, grader, overall, overall, overall, overall, overall, **kw)


@pytest.fixture
def world(tmp_path: Path):
    store = GradeStore(tmp_path / "grades.sqlite")
    add = store.add_item
    ids = {
        "good": add(Item(question="Who directed Rear Window?", answer="Alfred Hitchcock [1].", collection="catalog",
                         system="base", origin="eval:run-1", contexts=SOURCES, cited_ids=("film_0046",),
                         provenance={"key": "catalog_qa.jsonl::qa-001"})),
        "fixed": add(Item(question="When was Rear Window released?", answer="In 1960 [1].", collection="catalog",
                          system="base", contexts=SOURCES, cited_ids=("film_0046",))),
        "poor": add(Item(question="Is Rear Window in colour?", answer="No.", collection="catalog", system="base")),
        "refusal": add(Item(question="What did Rear Window earn?", answer="I can't find that in the sources.",
                            collection="catalog", system="base", refused=True)),
        "judged": add(Item(question="Judge only?", answer="x", collection="catalog", system="base")),
        "note": add(Item(question="Symptoms in note 42?", answer="Cough [1].", collection="notes", system="base",
                         cited_ids=("note_0042",))),
    }
    store.grade(g(ids["good"], "alice", 5), role="expert")
    store.grade(g(ids["good"], "bob", 4), role="expert")
    store.grade(g(ids["fixed"], "alice", 2, corrected_answer="Rear Window was released in 1954 [1]."),
                role="expert")
    store.grade(g(ids["poor"], "alice", 2), role="expert")
    store.grade(g(ids["refusal"], "alice", 5), role="expert")
    store.grade(g(ids["judged"], "judge:qwen", 5, corrected_answer="judge text"), role="admin")
    store.grade(g(ids["note"], "adm", 4), role="admin")
    return store, ids


def test_golden_export_validates_with_the_loader(world, tmp_path: Path) -> None:
    store, ids = world
    out = tmp_path / "out" / "expert.jsonl"
    report = export_golden(store, out)
    cases = {c.id: c for c in load_golden(out)}
    assert report.written == 4 and set(cases) == {f"expert-{ids[k]}" for k in ("good", "fixed", "refusal", "note")}
    assert report.skipped == {"items graded below 4 overall without a correction": 1}
    good, fixed = cases[f"expert-{ids['good']}"], cases[f"expert-{ids['fixed']}"]
    assert good.raw["reference_answer"] == "Alfred Hitchcock [1]." and good.relevant == {"film_0046": 1.0}
    assert good.tags == ("expert", "eval") and good.raw["provenance"]["graders"] == ["alice", "bob"]
    assert good.raw["provenance"]["source"] == "catalog_qa.jsonl::qa-001"
    assert fixed.raw["reference_answer"] == "Rear Window was released in 1954 [1]." and "corrected" in fixed.tags
    refusal = cases[f"expert-{ids['refusal']}"]
    assert refusal.answerable is False and refusal.relevant == {}
    assert cases[f"expert-{ids['note']}"].collection == "notes"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_latest_correction_wins_and_mean_overall_decides() -> None:
    item = Item(question="q?", answer="a", collection="catalog", system="m", id=7)
    case, _ = golden_case(item, [g(7, "a", 5, corrected_answer="first", created="2026-01-01T00:00:00+00:00"),
                                 g(7, "b", 1, corrected_answer="second", created="2026-01-02T00:00:00+00:00")])
    assert case["reference_answer"] == "second"
    assert golden_case(item, [g(7, "a", 5), g(7, "b", 2)])[0] is None  # mean 3.5 < 4
    assert golden_case(item, [g(7, "judge:x", 5)]) == (None, "items without expert grades")


def test_golden_provenance_sidecar(world, tmp_path: Path) -> None:
    store, _ = world
    out = tmp_path / "expert.jsonl"
    report = export_golden(store, out)
    side = json.loads(provenance_path(out).read_text())
    assert report.provenance_path == tmp_path / "expert.jsonl.provenance.json"
    assert side["kind"] == "golden" and side["db"] == str(store.path.resolve()) and side["written"] == 4
    assert side["output_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert side["git_commit"] and side["time"] and side["db_counts"]["expert_grades"] == 6
    assert [r["line"] for r in side["records"]] == [1, 2, 3, 4]


def test_preferences_correction_is_chosen_over_the_answer(world, tmp_path: Path) -> None:
    store, ids = world
    out = tmp_path / "prefs.jsonl"
    report = export_preferences(store, out)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert report.written == 1 and len(lines) == 1  # the judge's "correction" is not used
    (pair,) = lines
    assert set(pair) == {"prompt", "chosen", "rejected", "source", "created"}
    assert pair["chosen"] == "Rear Window was released in 1954 [1]." and pair["rejected"] == "In 1960 [1]."
    assert pair["source"].startswith("expert-correction:alice:grade-") and pair["source"].endswith(f"item-{ids['fixed']}")
    prompt = pair["prompt"]  # the inference messages, with the stored source text and the question
    assert prompt[0]["role"] == "system" and prompt[-1]["role"] == "user"
    assert "Directed by Alfred Hitchcock." in prompt[-1]["content"] and "When was Rear Window released?" in prompt[-1]["content"]
    (loaded,) = load_preference_jsonl(out)
    assert loaded.chosen == pair["chosen"] and loaded.rejected == pair["rejected"]
    export_preferences(store, out, prompt="question")
    assert json.loads(out.read_text())["prompt"] == "When was Rear Window released?"


@pytest.mark.parametrize("seed", range(6))
def test_pairwise_winner_is_chosen_whatever_the_shown_order(tmp_path: Path, seed: int) -> None:
    store = GradeStore(tmp_path / "grades.sqlite")
    base, tuned = Candidate("base", "Hitchcock."), Candidate("base+dpo", "Alfred Hitchcock directed it [1].")
    pair = make_blind_pair("Who directed Rear Window?", base, tuned, collection="catalog", seed=seed)
    store.record_pairwise(pair, "a" if pair.a.system == "base+dpo" else "b", grader="alice", role="expert")
    store.record_pairwise(pair, "tie", grader="bob", role="expert")
    store.record_pairwise(pair, "a", grader="judge:qwen", role="admin")  # judges never make training data
    out = tmp_path / "prefs.jsonl"
    report = export_preferences(store, out)
    (line,) = [json.loads(x) for x in out.read_text().splitlines()]
    assert line["chosen"] == tuned.answer and line["rejected"] == base.answer
    assert line["prompt"] == "Who directed Rear Window?"  # no stored sources: the question
    assert line["source"].endswith(":base+dpo>base")
    assert report.skipped == {"pairwise ties": 1}
    record = json.loads(provenance_path(out).read_text())["records"][0]
    assert record["chosen_system"] == "base+dpo" and record["seed"] == seed and record["swapped"] == pair.swapped
