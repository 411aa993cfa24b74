"""The LLM judge grades the items in the grading database, so its grades can be calibrated
against the experts' (`cairn grades judge`, then `cairn calibrate --grades-db`). It follows the
rubric judge (evals/judge/rubric.py) and stores each verdict as a RubricGrade in the same
`grades` table the experts write to, under the grader name "judge:<model id>"
(records.JUDGE_PREFIX; exports leave those grades out).

    for each item (default: has an expert grade, not yet graded by this judge), oldest first:
        judge_rubric(llm, question, answer, the item's passages)      -> RubricVerdict
        abstained?  count it, store nothing (a rerun tries it again)
        else        store RubricGrade(item, "judge:<model>", scores,
                                      shown   = exactly what the judge was sent,
                                      comment = the judge's raw output(s), as JSON)

Idempotent: an item this judge already graded is skipped, so a rerun judges only new items
and an interrupted run resumes where it stopped (each grade is committed as it is made).

No reference answer is given to the judge, though an expert's corrected answer may exist:
the point is to measure how the judge grades on its own, and handing it the expert's answer
would inflate its agreement with that same expert.

With k samples (temperature > 0) a criterion's stored score is the mean of the valid samples
rounded half up to a whole number (the table holds the 1–5 scale); the exact means and
their 95% intervals are kept in the comment.
"""
from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assistant.llm.base import ChatLLM
from evals.judge.parsing import DEFAULT_MAX_TOKENS, JudgeConfigError
from evals.judge.rubric import (
    RUBRIC_SCHEMA,
    RubricVerdict,
    judge_rubric,
    rubric_messages,
)

from .records import (
    CRITERIA,
    JUDGE_PREFIX,
    GradingError,
    Item,
    RubricGrade,
    check_grader,
    is_judge,
)
from .store import GradeStore

ROLE = "admin"  # the judge grades every collection's items, as an admin
_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9._@:+-]+")  # what records.check_grader refuses
_MAX_GRADER = 128


def judge_name(model_id: str) -> str:
    """The grader name of a judge model: "judge:" + its model id with every run of characters
    a grader name may not hold replaced by "-", cut to the 128-character limit.

        judge_name("qwen2.5-coder-1.5b")             -> "judge:qwen2.5-coder-1.5b"
        judge_name("Qwen 2.5 Coder (0.5B).gguf")     -> "judge:Qwen-2.5-Coder-0.5B-.gguf"
    """
    if not isinstance(model_id, str):
        raise GradingError(f"judge model id {model_id!r} is not a string; pass the LLM's model_id")
    body = model_id[len(JUDGE_PREFIX):] if is_judge(model_id) else model_id
    body = _NOT_IN_NAME.sub("-", body.strip()).strip("-")
    if not body:
        raise GradingError(f"judge model id {model_id!r} has no letters or digits to name the judge by; "
                           "pass judge='judge:<name>'")
    return check_grader((JUDGE_PREFIX + body)[:_MAX_GRADER])


def round_score(mean: float) -> int:
    """A mean 1–5 score as a whole number, halves rounded up (3.5 -> 4; Python's round() would
    give 4 for 3.5 but 2 for 2.5)."""
    return math.floor(mean + 0.5)


def evidence(item: Item) -> list[str]:
    """The item's passages as the judge is given them, in source order ([1], [2], … in the
    prompt, matching the answer's citations). A passage stored without its text (some eval
    runs keep only ids) says so rather than showing the judge an empty line."""
    return [p.text.strip() or f"({p.doc_id}: passage text not recorded)" for p in item.contexts]


def check_sampling(samples: int, temperature: float) -> None:
    """JudgeConfigError unless `samples` judge calls at `temperature` can work (the CLI checks
    this before loading a model)."""
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise JudgeConfigError(f"samples={samples!r} must be a whole number >= 1")
    if samples > 1 and temperature <= 0:
        raise JudgeConfigError(f"samples={samples} at temperature={temperature} would repeat one greedy verdict; "
                               "set temperature > 0 (e.g. 0.7) or samples=1")


# -- one item ---------------------------------------------------------------------------------------

def judge_inputs(item: Item, *, samples: int, temperature: float, seed: int, max_tokens: int) -> dict[str, Any]:
    """What the judge is sent for `item`: the arguments, the exact chat messages built from them
    and the output schema and sampling. Stored as the grade's `shown`."""
    contexts = evidence(item)
    return {"item_id": item.id, "question": item.question, "answer": item.answer, "contexts": contexts,
            "reference": None, "messages": rubric_messages(item.question, item.answer, contexts),
            "json_schema": RUBRIC_SCHEMA,
            "sampling": {"samples": samples, "temperature": temperature, "seed": seed, "max_tokens": max_tokens}}


def judge_record(verdict: RubricVerdict, llm: ChatLLM) -> str:
    """The grade's comment: the judge's raw output(s) and how they were read, as JSON, so a
    grade can be audited or re-parsed later."""
    return json.dumps({"raw_outputs": list(verdict.raw_outputs), "rationale": verdict.rationale,
                       "scores": {**verdict.scores, "overall": verdict.overall}, "ci95": verdict.ci95,
                       "valid_samples": verdict.valid_samples, "samples": verdict.samples,
                       "reason": verdict.reason, "constrained": verdict.constrained, "seeds": list(verdict.seeds),
                       "model_id": llm.model_id, "fingerprint": llm.fingerprint}, ensure_ascii=False)


def grade_from_verdict(item: Item, judge: str, verdict: RubricVerdict, shown: dict[str, Any],
                       llm: ChatLLM) -> RubricGrade:
    """The RubricGrade of a verdict that did not abstain (scores rounded to whole numbers)."""
    assert not verdict.abstained and verdict.overall is not None and item.id is not None
    scores = {name: round_score(verdict.scores[name]) for name in CRITERIA if name != "overall"}  # type: ignore[arg-type]
    return RubricGrade(item_id=item.id, grader=judge, **scores, overall=round_score(verdict.overall),
                       comment=judge_record(verdict, llm), shown=shown)


# -- the run ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class JudgeReport:
    """What a judging run did.

    Fields:
        judge: the grader name the grades were stored under ("judge:<model>").
        judged: items graded and stored in this run.
        skipped_existing: candidate items this judge had already graded (left as they were).
        abstained: items whose judge reply was not a valid verdict (nothing stored; a rerun
            tries them again).
        abstentions: (item id, reason) of each abstention.
        remaining: items left for a later run because of `limit`.
    """

    judge: str
    judged: int
    skipped_existing: int
    abstained: int
    abstentions: tuple[tuple[int, str], ...] = ()
    remaining: int = 0

    def line(self) -> str:
        parts = [f"{self.judge}: judged {self.judged} item(s)",
                 f"{self.abstained} abstained (invalid judge output, not stored)",
                 f"{self.skipped_existing} already judged (skipped)"]
        if self.remaining:
            parts.append(f"{self.remaining} left by --limit")
        return ", ".join(parts)


def candidates(store: GradeStore, *, role: str = ROLE, only_expert_graded: bool = True) -> list[Item]:
    """Items `role` may see, oldest first; with `only_expert_graded`, those with at least one
    grade by an expert (any grader not named "judge:…")."""
    items = store.items(role=role)
    if not only_expert_graded:
        return items
    graded = {g.item_id for g in store.grades(role=role, experts_only=True)}
    return [item for item in items if item.id in graded]


def judge_items(store: GradeStore, llm: ChatLLM, *, items: Sequence[Item] | None = None, role: str = ROLE,
                only_expert_graded: bool = True, limit: int | None = None, progress: bool = True,
                judge: str | None = None, samples: int = 1, temperature: float = 0.0, seed: int = 0,
                max_tokens: int = DEFAULT_MAX_TOKENS) -> JudgeReport:
    """Grade items with the rubric judge `llm` and store the grades (module docstring).

    items: the items to judge, as given (must be stored items); None: `candidates(store, …)`.
    role: whose view of the database is judged (a grading role; "admin" sees every collection).
    only_expert_graded: with items=None, judge only items an expert has graded (what
        calibration can use); False judges every visible item.
    limit: judge at most this many items (abstentions included); None: all.
    progress: a progress bar on stderr.
    judge: the grader name; default `judge_name(llm.model_id)`.
    samples / temperature / seed / max_tokens: passed to `judge_rubric` (k samples need
        temperature > 0).
    Model errors (server down, prompt too long) are not abstentions: they stop the run, with
    every grade made so far already stored.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise GradingError(f"limit={limit!r} must be a whole number >= 0, or None for no limit")
    check_sampling(samples, temperature)  # up front, not at the first item
    judge = judge_name(llm.model_id) if judge is None else check_grader(judge)
    if not is_judge(judge):
        raise GradingError(f"judge name {judge!r} must start with {JUDGE_PREFIX!r} so its grades are never "
                           "taken for an expert's")
    pool = list(items) if items is not None else candidates(store, role=role, only_expert_graded=only_expert_graded)
    if any(item.id is None for item in pool):
        raise GradingError("an item to judge has no id; judge items read back from the store (store.items())")
    done = {g.item_id for g in store.grades(role=role, grader=judge)}
    todo = [item for item in pool if item.id not in done]
    selected = todo if limit is None else todo[:limit]

    from tqdm import tqdm

    judged, abstentions = 0, []
    bar = tqdm(total=len(selected), unit="item", desc=judge, file=sys.stderr, dynamic_ncols=True,
               disable=not progress or not selected)
    try:
        for item in selected:
            shown = judge_inputs(item, samples=samples, temperature=temperature, seed=seed, max_tokens=max_tokens)
            verdict = judge_rubric(llm, item.question, item.answer, shown["contexts"], samples=samples,
                                   temperature=temperature, seed=seed, max_tokens=max_tokens)
            if verdict.abstained:
                abstentions.append((item.id, verdict.reason or "no valid verdict"))
            else:
                store.grade(grade_from_verdict(item, judge, verdict, shown, llm), role=role)
                judged += 1
            bar.update(1)
            bar.set_postfix(abstained=len(abstentions), refresh=False)
    finally:
        bar.close()
    return JudgeReport(judge=judge, judged=judged, skipped_existing=len(pool) - len(todo),
                       abstained=len(abstentions), abstentions=tuple(abstentions),
                       remaining=len(todo) - len(selected))
