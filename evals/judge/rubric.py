"""Rubric grading by an LLM judge: one answer scored 1–5 on relevance, accuracy, completeness and
clarity, plus an overall grade (the seed chapter's LLM-as-judge template; reason-then-score as in
G-Eval, Liu et al. 2023; k sampled verdicts averaged, with a Student-t 95% interval).

    judge_rubric(llm, question, answer, contexts, reference)                 greedy, one call
      -> RubricVerdict(scores={"relevance": 5.0, ...}, overall=4.0, abstained=False, ci95=None)
    judge_rubric(..., samples=5, temperature=0.7, seed=0)                    seeds 0..4
      -> scores = per-criterion mean of the valid samples, ci95 = {"accuracy": (3.1, 4.5), ...}

A reply that does not parse or breaks the scale is an abstention (parsing.py), never a zero.
With k samples, abstaining samples are left out of the mean (and counted in `reason`); the
verdict abstains only when no sample is valid.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assistant.llm.base import ChatLLM, Message

from .parsing import (
    DEFAULT_MAX_TOKENS,
    RATIONALE_SCHEMA,
    JudgeAttempt,
    JudgeConfigError,
    ask_judge,
    check_text,
    int_score,
    passages_block,
    rationale,
)

CRITERIA: tuple[str, ...] = ("relevance", "accuracy", "completeness", "clarity")
SCALE = (1, 5)
# Rationale first, so the model writes its reasons before it commits to numbers (G-Eval's
# finding; with constrained decoding the keys come out in schema order). An enum rather than
# minimum/maximum: llama-cpp-python's schema-to-grammar converter ignores integer bounds.
_SCORE = {"type": "integer", "enum": list(range(SCALE[0], SCALE[1] + 1))}
RUBRIC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"rationale": RATIONALE_SCHEMA,
                   **{name: _SCORE for name in (*CRITERIA, "overall")}},
    "required": ["rationale", *CRITERIA, "overall"],
    "additionalProperties": False,
}

SYSTEM_PROMPT = (
    "You grade answers written by a question-answering assistant that works from retrieved "
    "passages. Be strict and consistent. Judge only what the answer says, checked against the "
    "question, the passages and, when one is given, the expert reference answer. A longer answer "
    "earns nothing for repeating itself or for filler; an answer that states something the "
    "passages do not support loses accuracy even if it sounds plausible."
)

_INSTRUCTIONS = """Give each criterion a whole number from 1 to 5 (1 = fails it, 3 = partly meets it, 5 = fully meets it):
- relevance: does the answer deal with what was asked, without wandering off?
- accuracy: is every claim backed by the passages or the reference, with nothing made up or contradicted?
- completeness: does it cover what the question needs{reference_hint}?
- clarity: is it well organised, unambiguous and easy to read?
- overall: your overall grade for the answer (a judgement, not necessarily the average).

Reply with a single JSON object and nothing else. Put a short rationale (at most two sentences) first:
{{"rationale": "...", "relevance": n, "accuracy": n, "completeness": n, "clarity": n, "overall": n}}"""


@dataclass(frozen=True)
class RubricSample:
    """One valid judge reply: integer scores per criterion, the overall grade, the rationale."""

    scores: dict[str, int]
    overall: int
    rationale: str


@dataclass(frozen=True)
class RubricVerdict:
    """The judge's grading of one answer.

    Fields:
        scores: criterion -> mean score over the valid samples (a whole number when samples=1);
            every value None when the verdict abstained.
        overall: the mean overall grade, None when abstained.
        rationale: the first valid sample's explanation ("" when abstained).
        raw_outputs: every reply text, in sample order (for audits and re-parsing).
        abstained: True when no sample gave a valid verdict.
        reason: why it abstained, or which samples were dropped; None when all were valid.
        ci95: with two or more valid samples, criterion (and "overall") -> 95% t-interval of
            the mean, clipped to the 1–5 scale; None otherwise.
        samples: how many judge calls were made; valid_samples: how many gave a valid verdict.
        constrained: whether the backend enforced the JSON schema on every call.
        seeds: the sampling seed of each call, in sample order (to reproduce the verdict).
    """

    scores: dict[str, float | None]
    overall: float | None
    rationale: str
    raw_outputs: tuple[str, ...]
    abstained: bool
    reason: str | None = None
    ci95: dict[str, tuple[float, float]] | None = None
    samples: int = 1
    valid_samples: int = 0
    constrained: bool = True
    seeds: tuple[int | None, ...] = ()


# -- prompt and reply --------------------------------------------------------------------------------

def rubric_messages(question: str, answer: str, contexts: Sequence[Any],
                    reference: str | None = None) -> list[Message]:
    """The chat messages of a rubric request (system rules + the case to grade)."""
    parts = [f"Question:\n{check_text('question', question)}",
             f"Retrieved passages (the evidence the assistant was given):\n{passages_block(contexts)}"]
    if reference is not None:
        parts.append(f"Expert reference answer (trust it for facts and coverage):\n{check_text('reference', reference)}")
    # An empty answer is still gradable (it should score 1), so it is not check_text'ed.
    if not isinstance(answer, str):
        raise JudgeConfigError(f"answer must be a string, got {type(answer).__name__}")
    parts.append(f"Answer to grade:\n{answer.strip() or '(the assistant gave no answer)'}")
    hint = ", including the points in the reference answer" if reference is not None else ""
    parts.append(_INSTRUCTIONS.format(reference_hint=hint))
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "\n\n".join(parts)}]


def parse_rubric(obj: dict[str, Any]) -> RubricSample:
    """Validate one parsed reply: every criterion and `overall` a whole number in 1..5.
    Raises JudgeOutputError (-> abstention) naming the first bad or missing key."""
    scores = {name: int_score(obj, name, *SCALE) for name in CRITERIA}
    return RubricSample(scores=scores, overall=int_score(obj, "overall", *SCALE), rationale=rationale(obj))


# -- statistics (pure) -------------------------------------------------------------------------------

def mean_ci95(values: Sequence[float], bounds: tuple[float, float] | None = None
              ) -> tuple[float, tuple[float, float] | None]:
    """Mean of `values` and its two-sided 95% Student-t interval, mean ± t(0.975, n-1)·s/√n
    with s the sample standard deviation (n-1 denominator). The interval is None for fewer
    than two values (no spread to estimate). `bounds` clips it to the scale: a mean of 1–5
    scores cannot lie outside 1–5, though the symmetric t-interval can reach past it.

        mean_ci95([3, 4, 5]) -> (4.0, (1.515..., 6.484...))   s = 1, t(0.975, 2) = 4.3027
    """
    if not values:
        raise JudgeConfigError("mean_ci95 needs at least one value")
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return mean, None
    from scipy.stats import t as student_t  # lazy: scipy is only needed once k > 1

    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(student_t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(low, float(bounds[0])), min(high, float(bounds[1]))
    return mean, (low, high)


def aggregate_rubric(attempts: Sequence[JudgeAttempt[RubricSample]]) -> RubricVerdict:
    """Combine k judge attempts into one verdict (pure): per-criterion means (and t-intervals
    when at least two are valid) over the valid samples; an abstention when none is."""
    if not attempts:
        raise JudgeConfigError("aggregate_rubric needs at least one attempt")
    valid = [a.value for a in attempts if a.ok]
    failures = [f"sample {i} (seed {a.seed}): {a.reason}" for i, a in enumerate(attempts) if not a.ok]
    common = {"raw_outputs": tuple(a.raw for a in attempts), "samples": len(attempts),
              "valid_samples": len(valid), "constrained": all(a.constrained for a in attempts),
              "seeds": tuple(a.seed for a in attempts)}
    if not valid:
        return RubricVerdict(scores={name: None for name in CRITERIA}, overall=None, rationale="",
                             abstained=True, reason="; ".join(failures), **common)
    columns = {name: [s.scores[name] for s in valid] for name in CRITERIA} | {"overall": [s.overall for s in valid]}
    stats = {name: mean_ci95(column, bounds=SCALE) for name, column in columns.items()}
    reason = f"{len(failures)} of {len(attempts)} samples abstained: " + "; ".join(failures) if failures else None
    ci95 = {name: ci for name, (_, ci) in stats.items() if ci is not None} if len(valid) > 1 else None
    return RubricVerdict(scores={name: stats[name][0] for name in CRITERIA}, overall=stats["overall"][0],
                         rationale=valid[0].rationale, abstained=False, reason=reason, ci95=ci95, **common)


# -- the judge ---------------------------------------------------------------------------------------

def judge_rubric(llm: ChatLLM, question: str, answer: str, contexts: Sequence[Any],
                 reference: str | None = None, *, samples: int = 1, temperature: float = 0.0,
                 seed: int = 0, max_tokens: int = DEFAULT_MAX_TOKENS) -> RubricVerdict:
    """Grade `answer` to `question` given the retrieved `contexts` (and an optional expert
    `reference`) on CRITERIA + overall, 1–5.

    samples: judge calls; each uses seed, seed+1, … so repeated runs give the same verdict.
        More than one needs temperature > 0 (greedy decoding would repeat one verdict k times).
    temperature: sampling temperature of the judge (0 = greedy).
    max_tokens: reply budget; a reply cut short is an abstention whose reason says so.
    """
    if not isinstance(samples, int) or samples < 1:
        raise JudgeConfigError(f"samples={samples!r} must be an integer >= 1")
    if samples > 1 and temperature <= 0:
        raise JudgeConfigError(f"samples={samples} at temperature={temperature} would repeat one greedy "
                               "verdict; set temperature > 0 (e.g. 0.7) or samples=1")
    if not isinstance(seed, int):
        raise JudgeConfigError(f"seed={seed!r} must be an integer (sample i uses seed + i)")
    messages = rubric_messages(question, answer, contexts, reference)
    attempts = [ask_judge(llm, messages, RUBRIC_SCHEMA, parse_rubric, max_tokens=max_tokens,
                          temperature=temperature, seed=seed + i) for i in range(samples)]
    return aggregate_rubric(attempts)


def verdict_scores(verdict: RubricVerdict) -> Mapping[str, float | None]:
    """Criterion (and "overall") -> score of a verdict, all None when it abstained."""
    return {**verdict.scores, "overall": verdict.overall}
