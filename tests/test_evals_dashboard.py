"""The evals tab's data (evals/dashboard.py) over a real nightly run of the tiny world: runs, the
report (whole for admins, numbers only for experts), the run browser with notes cases hidden from
roles that may not read notes, and judge-expert agreement from the grading database."""
from __future__ import annotations

import json

import pytest

from assistant.roles import RoleError
from evals import dashboard
from evals.grading.records import Item, RubricGrade
from evals.grading.store import GradeStore
from nightly_world import run_world, world_config


@pytest.fixture
def nightly(kbs, tmp_path):
    config = world_config(tmp_path)
    outcome = run_world(kbs, config)
    return outcome, config.history_path(), tmp_path


def test_runs_and_report_by_role(nightly):
    outcome, history, _ = nightly
    rows = dashboard.nightly_runs("expert", history_path=history)
    assert [r[0] for r in rows] == [outcome.run_id] and rows[0][3] == "passed"
    full = dashboard.nightly_report("admin", history_path=history)
    assert full.startswith('<iframe title="nightly report') and 'sandbox=""' in full and "&lt;html" in full.lower()
    numbers = dashboard.nightly_report("expert", outcome.run_id, history_path=history)
    assert dashboard.NOTES_HIDDEN in numbers and "<iframe" not in numbers and "<td>" in numbers
    for role in ("user", "clinician"):
        with pytest.raises(RoleError):
            dashboard.nightly_report(role, history_path=history)
    assert "No nightly run yet" in dashboard.nightly_report("admin", history_path=history.parent / "none.sqlite")


def _notes_case(folder):
    """Add a notes case to a run folder, as a notes suite would write it."""
    path = folder / "results.jsonl"
    record = json.loads(path.read_text().splitlines()[0])
    record.update(key="notes.jsonl::n-1", inputs={"question": "What was started?", "collection": "notes"},
                  answer="Azithromycin 500 mg [1].")
    with path.open("a") as fh:
        fh.write(json.dumps(record) + "\n")


def test_run_browser_hides_notes_cases_from_experts(nightly):
    outcome, _, root = nightly
    folders = dashboard.eval_runs("admin", root=root)
    assert folders and all((root / f / "results.jsonl").exists() for f in folders)
    qa = next(f for f in folders if f.endswith("world-qa"))
    _notes_case(root / qa)
    rows, caption = dashboard.run_cases("admin", qa, root=root)
    notes = [r[0] for r in rows if r[1] == "notes"]
    assert "notes.jsonl::n-1" in notes and "hidden" not in caption
    rows, caption = dashboard.run_cases("expert", qa, root=root)
    assert not {r[0] for r in rows} & set(notes) and f"{len(notes)} notes cases hidden" in caption
    assert dashboard.case_detail("expert", qa, "notes.jsonl::n-1", root=root) == "No case 'notes.jsonl::n-1' in this run."
    detail = dashboard.case_detail("expert", qa, rows[0][0], root=root)
    assert detail.startswith(f"### {rows[0][0]}") and "**Question:**" in detail and "**Metrics:**" in detail
    with pytest.raises(Exception, match="outside"):
        dashboard.run_cases("admin", "../../etc", root=root)


def test_judge_agreement_from_the_grades_database(tmp_path):
    store = GradeStore(tmp_path / "g.sqlite")
    rows, caption = dashboard.judge_agreement("expert", store)
    assert rows == [] and "no judge grades" in caption
    for i, (expert, judge) in enumerate([(5, 5), (4, 4), (2, 3)]):
        item = store.add_item(Item(question=f"q{i}", answer="a", collection="catalog", system="m"))
        store.grade(RubricGrade(item, "eve", *[expert] * 5), role="expert")
        store.grade(RubricGrade(item, "judge:m", *[judge] * 5), role="admin")
    rows, _ = dashboard.judge_agreement("expert", store)
    overall = next(r for r in rows if r[0] == "overall")
    assert overall[1] == 3 and overall[3] == "0.67" and overall[4] == "1.00"  # 2 of 3 exact, all within one
