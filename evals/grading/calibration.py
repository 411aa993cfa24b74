"""Expert-vs-judge grade pairs from the grading database, for `cairn calibrate --grades-db`
(evals/calibration.py computes the agreement). The LLM judge writes its rubric grades into the
same `grades` table under a grader name starting with "judge:" (records.JUDGE_PREFIX), e.g.
"judge:qwen2.5-coder-1.5b"; experts are every other grader.

    one GradePair per (item, criterion, expert):  expert = that expert's latest score,
                                                  judge  = the judge's latest score on the item
    case_id = "item-<id>", source = "<db>:grade#<expert grade id>"

Items the judge did not grade are left out (not counted as abstentions: the judge never saw
them). With several experts per item, each expert's grade is its own pair.
"""
from __future__ import annotations

from evals.calibration import CalibrationInputError, GradePair

from .records import CRITERIA, is_judge
from .store import GradeStore

ROLE = "admin"  # calibration reads every collection's grades, as an admin


def judges(store: GradeStore) -> list[str]:
    """Judge grader names in the database, sorted."""
    return sorted({g.grader for g in store.grades(role=ROLE) if is_judge(g.grader)})


def grade_pairs(store: GradeStore, judge: str | None = None) -> list[GradePair]:
    """Expert/judge pairs per item and criterion (see the module docstring). `judge` None: the
    only judge in the database (an error naming them when there are several)."""
    known = judges(store)
    if judge is None:
        if len(known) != 1:
            raise CalibrationInputError(
                f"{store.path}: {'no judge grades' if not known else 'several judges: ' + ', '.join(known)}; "
                + ("let the judge grade the expert-graded items with `cairn grades judge`" if not known
                   else "choose one with --judge NAME"))
        judge = known[0]
    elif judge not in known:
        raise CalibrationInputError(f"{store.path}: no grades by judge {judge!r}; judges there: "
                                    f"{', '.join(known) or 'none'}")
    latest = store.grades(role=ROLE)  # each grader's latest grade per item
    by_judge = {g.item_id: g for g in latest if g.grader == judge}
    pairs = [GradePair(case_id=f"item-{g.item_id}", criterion=criterion, expert=getattr(g, criterion),
                       judge=getattr(by_judge[g.item_id], criterion), source=f"{store.path}:grade#{g.id}")
             for g in latest if not is_judge(g.grader) and g.item_id in by_judge for criterion in CRITERIA]
    if not pairs:
        raise CalibrationInputError(f"{store.path}: no item has both an expert grade and a grade by {judge!r}; "
                                    "grade some of the judged items in the Grading tab first")
    return pairs
