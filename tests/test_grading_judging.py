"""The LLM judge grading the grading database (evals/grading/judging.py, `cairn grades judge`),
driven by a scripted FakeLLM: only expert-graded items by default, grades stored under
"judge:<model>" with what the judge was sent and its raw reply, reruns are no-ops, unparseable
replies are counted abstentions, and the stored grades feed calibration (κ checked by hand)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.llm import FakeLLM
from evals.calibration import calibrate
from evals.grading.calibration import grade_pairs
from evals.grading.judging import JudgeReport, judge_items, judge_name, round_score
from evals.grading.records import GradingError, Item, RubricGrade
from evals.grading.store import GradeStore
from evals.judge import JudgeConfigError
from evals.judge.rubric import RUBRIC_SCHEMA

MODEL = "qwen2.5-coder-0.5b"
JUDGE = f"judge:{MODEL}"


def reply(relevance=4, accuracy=4, completeness=4, clarity=4, overall=4, rationale="Fine.") -> str:
    return json.dumps({"rationale": rationale, "relevance": relevance, "accuracy": accuracy,
                       "completeness": completeness, "clarity": clarity, "overall": overall})


def make_item(n: int, collection: str = "catalog") -> Item:
    return Item(question=f"Question {n}?", answer=f"Answer {n} [1].", collection=collection, system="qwen-1.5b",
                contexts=[{"doc_id": f"doc_{n}", "text": f"Passage of doc {n}."}, {"doc_id": f"doc_{n}b"}])


@pytest.fixture
def store(tmp_path: Path) -> GradeStore:
    """Four catalog items and one notes item; alice (an expert) graded items 1, 2 and the note."""
    store = GradeStore(tmp_path / "grades.sqlite")
    ids = [store.add_item(make_item(n)) for n in (1, 2, 3, 4)] + [store.add_item(make_item(5, "notes"))]
    assert ids == [1, 2, 3, 4, 5]
    store.grade(RubricGrade(1, "alice", 5, 4, 4, 5, 4), role="admin")
    store.grade(RubricGrade(2, "alice", 3, 2, 2, 4, 2), role="admin")
    store.grade(RubricGrade(5, "alice", 4, 4, 4, 4, 4), role="admin")
    store.grade(RubricGrade(3, "judge:other-model", 1, 1, 1, 1, 1), role="admin")  # a judge is no expert
    return store


def test_judge_name_is_a_valid_grader_name() -> None:
    assert judge_name(MODEL) == JUDGE
    assert judge_name("judge:" + MODEL) == JUDGE  # not "judge:judge:…"
    assert judge_name("Qwen 2.5 Coder (0.5B).gguf") == "judge:Qwen-2.5-Coder-0.5B-.gguf"
    assert len(judge_name("m" * 300)) == 128
    with pytest.raises(GradingError, match=r"judge model id '\(\)' has no letters"):
        judge_name("()")


def test_round_score_rounds_halves_up() -> None:
    assert [round_score(x) for x in (1.0, 2.5, 3.49, 3.5, 4.5, 5.0)] == [1, 3, 3, 4, 5, 5]


def test_judges_only_expert_graded_items_and_stores_what_it_was_sent(store: GradeStore) -> None:
    llm = FakeLLM([reply(5, 5, 4, 4, 4, rationale="Cited."), reply(), reply()], model_id=MODEL)
    report = judge_items(store, llm, progress=False)
    assert report == JudgeReport(judge=JUDGE, judged=3, skipped_existing=0, abstained=0)
    assert report.line() == f"{JUDGE}: judged 3 item(s), 0 abstained (invalid judge output, not stored), " \
                            "0 already judged (skipped)"
    grades = store.grades(role="admin", grader=JUDGE)
    assert [g.item_id for g in grades] == [1, 2, 5]  # not 3 (only a judge graded it), not 4 (ungraded)
    first = grades[0]
    assert (first.relevance, first.accuracy, first.completeness, first.clarity, first.overall) == (5, 5, 4, 4, 4)
    # `shown` is exactly what the judge was sent; the comment keeps its raw reply.
    assert first.shown["messages"] == llm.calls[0].messages
    assert first.shown["json_schema"] == RUBRIC_SCHEMA == llm.calls[0].request.json_schema
    assert first.shown["contexts"] == ["Passage of doc 1.", "(doc_1b: passage text not recorded)"]
    assert first.shown["reference"] is None  # never the expert's answer: it would inflate agreement
    prompt = llm.calls[0].messages[1]["content"]
    assert "Question 1?" in prompt and "Answer 1 [1]." in prompt and "[1] Passage of doc 1." in prompt
    record = json.loads(first.comment)
    assert record["raw_outputs"] == [reply(5, 5, 4, 4, 4, rationale="Cited.")]
    assert record["rationale"] == "Cited." and record["model_id"] == MODEL
    # Exports and expert counts still see only alice.
    assert store.counts(role="admin")["expert_grades"] == 3


def test_rerun_is_a_no_op(store: GradeStore) -> None:
    judge_items(store, FakeLLM(default=reply(), model_id=MODEL), progress=False)
    again = FakeLLM(model_id=MODEL)  # no replies scripted: any call would fail
    report = judge_items(store, again, progress=False)
    assert report == JudgeReport(judge=JUDGE, judged=0, skipped_existing=3, abstained=0)
    assert again.calls == [] and len(store.grades(role="admin", grader=JUDGE, latest=False)) == 3
    # A different judge model starts afresh.
    other = judge_items(store, FakeLLM(default=reply(), model_id="smollm2-135m"), progress=False)
    assert (other.judge, other.judged) == ("judge:smollm2-135m", 3)


def test_an_unparseable_reply_is_an_abstention_counted_not_stored(store: GradeStore) -> None:
    llm = FakeLLM([reply(), "I think it is quite good, maybe a 4?", reply(overall=9)], model_id=MODEL)
    report = judge_items(store, llm, progress=False)
    assert (report.judged, report.abstained, report.skipped_existing) == (1, 2, 0)
    assert [item_id for item_id, _ in report.abstentions] == [2, 5]
    assert "no JSON object" in report.abstentions[0][1] and "overall=9 is outside 1..5" in report.abstentions[1][1]
    assert [g.item_id for g in store.grades(role="admin", grader=JUDGE)] == [1]
    # Abstentions are not stored, so the next run tries them again.
    retry = judge_items(store, FakeLLM([reply(), reply()], model_id=MODEL), progress=False)
    assert (retry.judged, retry.skipped_existing) == (2, 1)


def test_all_judges_every_visible_item_and_limit_leaves_the_rest(store: GradeStore) -> None:
    first = judge_items(store, FakeLLM(default=reply(), model_id=MODEL), only_expert_graded=False, limit=2,
                        progress=False)
    assert (first.judged, first.remaining) == (2, 3) and "3 left by --limit" in first.line()
    rest = judge_items(store, FakeLLM(default=reply(), model_id=MODEL), only_expert_graded=False, progress=False)
    assert (rest.judged, rest.skipped_existing, rest.remaining) == (3, 2, 0)
    assert [g.item_id for g in store.grades(role="admin", grader=JUDGE)] == [1, 2, 3, 4, 5]


def test_an_expert_role_judges_only_what_it_may_see(store: GradeStore) -> None:
    report = judge_items(store, FakeLLM(default=reply(), model_id=MODEL), role="expert", progress=False)
    assert report.judged == 2  # the notes item is not visible to an expert
    assert 5 not in {g.item_id for g in store.grades(role="admin", grader=JUDGE)}


def test_k_samples_store_rounded_means_and_keep_the_exact_ones(store: GradeStore) -> None:
    llm = FakeLLM([reply(overall=3), reply(overall=4)], model_id=MODEL)
    item = store.item(1, role="admin")
    judge_items(store, llm, items=[item], samples=2, temperature=0.7, seed=5, progress=False)
    (grade,) = store.grades(role="admin", grader=JUDGE)
    assert grade.overall == 4 and grade.accuracy == 4  # mean 3.5 rounds up
    record = json.loads(grade.comment)
    assert record["scores"]["overall"] == 3.5 and record["seeds"] == [5, 6] and "overall" in record["ci95"]
    assert [c.request.seed for c in llm.calls] == [5, 6] and grade.shown["sampling"]["samples"] == 2
    with pytest.raises(JudgeConfigError, match="temperature > 0"):
        judge_items(store, FakeLLM(model_id=MODEL), samples=3, progress=False)


def test_bad_arguments_are_named(store: GradeStore) -> None:
    with pytest.raises(GradingError, match="limit=-1"):
        judge_items(store, FakeLLM(model_id=MODEL), limit=-1, progress=False)
    with pytest.raises(GradingError, match="must start with 'judge:'"):
        judge_items(store, FakeLLM(model_id=MODEL), judge="alice", progress=False)


def test_stored_judge_grades_feed_calibration_hand_checked(tmp_path: Path) -> None:
    store = GradeStore(tmp_path / "grades.sqlite")
    for n in (1, 2):
        store.add_item(make_item(n))
    store.grade(RubricGrade(1, "alice", 4, 4, 4, 4, 4), role="admin")
    store.grade(RubricGrade(2, "alice", 2, 2, 2, 2, 2), role="admin")
    judge_items(store, FakeLLM([reply(4, 4, 4, 4, 4), reply(3, 3, 3, 3, 3)], model_id=MODEL), progress=False)
    pairs = grade_pairs(store)  # the only judge: no name needed
    assert len(pairs) == 10 and {(p.expert, p.judge) for p in pairs} == {(4, 4), (2, 3)}
    report = calibrate(pairs)
    overall = next(row for row in report.rows if row.criterion == "overall")
    # Expert (4, 2) vs judge (4, 3), n = 2. Exact 1/2, within one 2/2.
    # κ: observed disagreement 1 (the 2-vs-3 pair); chance disagreement Σ_{i≠j} row_i·col_j / n with
    # rows {2: 1, 4: 1}, cols {3: 1, 4: 1}: (2,3) + (2,4) + (4,3) = 3 / 2 = 1.5; κ = 1 - 1/1.5 = 1/3.
    # Quadratic κ: weights (i-j)²: observed 1; chance (1 + 4 + 1) / 2 = 3; κ_w = 1 - 1/3 = 2/3.
    assert (overall.n, overall.exact, overall.within_one) == (2, 0.5, 1.0)
    assert overall.kappa == pytest.approx(1 / 3) and overall.quadratic_kappa == pytest.approx(2 / 3)


# -- the command -------------------------------------------------------------------------------------

@pytest.fixture
def fake_judge(monkeypatch: pytest.MonkeyPatch) -> list:
    """`load_llm` replaced by a FakeLLM named after --model that always answers a valid verdict;
    the configs it was asked for are recorded."""
    import assistant.llm.config as llm_config

    configs: list = []

    def load(config):
        configs.append(config)
        return FakeLLM(default=reply(), model_id=config.model)

    monkeypatch.setattr(llm_config, "load_llm", load)
    return configs


def test_cli_judges_prints_the_report_and_the_calibrate_hint(store: GradeStore, fake_judge: list, capsys) -> None:
    from cli import main

    argv = ["grades", "judge", "--db", str(store.path), "--model", MODEL, "--threads", "1"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].startswith(f"{JUDGE}: judged 3 item(s), 0 abstained")
    assert lines[-1] == f"next: cairn calibrate --grades-db {store.path} --judge {JUDGE}"
    assert JUDGE in captured.err  # the progress bar, on stderr
    assert fake_judge[0].model == MODEL and fake_judge[0].n_threads == 1
    # Again: nothing left. --all: the other two visible items.
    assert main([*argv, "--no-progress"]) == 0
    assert "judged 0 item(s)" in capsys.readouterr().out
    assert main([*argv, "--all", "--limit", "1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "judged 1 item(s)" in out and "1 left by --limit" in out
    assert len(store.grades(role="admin", grader=JUDGE)) == 4


def test_cli_adapter_makes_its_own_judge_and_errors_are_clean(store: GradeStore, fake_judge: list,
                                                             tmp_path: Path, capsys) -> None:
    from cli import main

    assert main(["grades", "judge", "--db", str(store.path), "--model", MODEL, "--adapter", "/x/lora-3.gguf",
                 "--no-progress"]) == 0
    assert f"{JUDGE}+lora-3: judged 3" in capsys.readouterr().out
    assert main(["grades", "judge", "--db", str(tmp_path / "missing.sqlite"), "--model", MODEL]) == 2
    assert "no grades database at" in capsys.readouterr().err
    loads = len(fake_judge)
    assert main(["grades", "judge", "--db", str(store.path), "--model", MODEL, "--samples", "2"]) == 2
    assert "temperature > 0" in capsys.readouterr().err and len(fake_judge) == loads  # no model loaded for it
