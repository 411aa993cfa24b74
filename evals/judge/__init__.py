"""LLM-as-judge for cairn's answers, with the known judge biases measured rather than assumed away
(Zheng et al. 2023, "Judging LLM-as-a-Judge"): rubric grading (rubric.py), pairwise comparison
in both orders (pairwise.py), a length-bias probe (probes.py), the shared constrained call with
parse-failure abstentions (parsing.py), and `summarise`, the run-level report below. Agreement
with expert grades lives in evals/calibration.py.

    verdicts = [judge_rubric(llm, q, a, ctx) for q, a, ctx in cases]
    summarise(verdicts)  -> JudgeSummary(rubric=20, abstained=1, mean_scores={"accuracy": 3.9, ...},
                                         ci95={"accuracy": (3.5, 4.3), ...}, ...)
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .pairwise import PairwiseVerdict, PositionConsistency, judge_pairwise, position_consistency
from .parsing import JudgeConfigError, JudgeError, JudgeOutputError
from .probes import LengthBiasReport, ProbeCase, length_bias_probe, pad_answer, sign_test_p
from .rubric import CRITERIA, SCALE, RubricVerdict, judge_rubric, mean_ci95, verdict_scores


@dataclass(frozen=True)
class JudgeSummary:
    """A run of judge verdicts in numbers.

    Fields:
        rubric / pairwise: how many verdicts of each kind.
        abstained: verdicts of either kind that abstained (invalid judge output).
        winners: pairwise outcomes, {"A": n, "B": n, "tie": n, "abstain": n}.
        mean_scores: criterion (and "overall") -> mean over the rubric verdicts that did not
            abstain; empty when none did.
        ci95: criterion -> 95% t-interval of that mean over cases (two or more scored cases).
        position_consistency: of the pairwise verdicts that did not abstain, how many agreed
            across both orders (`.rate` is None when there were none).
    """

    rubric: int
    pairwise: int
    abstained: int
    winners: dict[str, int]
    mean_scores: dict[str, float]
    ci95: dict[str, tuple[float, float]]
    position_consistency: PositionConsistency

    @property
    def n(self) -> int:
        return self.rubric + self.pairwise

    @property
    def abstention_rate(self) -> float | None:
        """abstained / all verdicts; None for an empty run."""
        return self.abstained / self.n if self.n else None


def summarise(verdicts: Iterable[RubricVerdict | PairwiseVerdict]) -> JudgeSummary:
    """Counts, abstention rate, per-criterion mean scores with 95% CIs (over cases) and the
    position-consistency rate of a list of rubric and/or pairwise verdicts (pure)."""
    rubric: list[RubricVerdict] = []
    pairwise: list[PairwiseVerdict] = []
    for i, verdict in enumerate(verdicts):
        if isinstance(verdict, RubricVerdict):
            rubric.append(verdict)
        elif isinstance(verdict, PairwiseVerdict):
            pairwise.append(verdict)
        else:
            raise JudgeConfigError(f"verdict {i} is a {type(verdict).__name__}; summarise takes RubricVerdict "
                                   "and PairwiseVerdict objects")
    scored = [verdict_scores(v) for v in rubric if not v.abstained]
    mean_scores: dict[str, float] = {}
    ci95: dict[str, tuple[float, float]] = {}
    for name in (*CRITERIA, "overall") if scored else ():
        mean, interval = mean_ci95([s[name] for s in scored], bounds=SCALE)  # type: ignore[misc]
        mean_scores[name] = mean
        if interval is not None:
            ci95[name] = interval
    winners = {w: sum(v.winner == w for v in pairwise) for w in ("A", "B", "tie", "abstain")}
    return JudgeSummary(rubric=len(rubric), pairwise=len(pairwise),
                        abstained=sum(v.abstained for v in rubric) + winners["abstain"], winners=winners,
                        mean_scores=mean_scores, ci95=ci95, position_consistency=position_consistency(pairwise))


__all__ = [
    "CRITERIA", "SCALE", "JudgeConfigError", "JudgeError", "JudgeOutputError", "JudgeSummary", "LengthBiasReport",
    "PairwiseVerdict", "PositionConsistency", "ProbeCase", "RubricVerdict", "judge_pairwise", "judge_rubric",
    "length_bias_probe", "mean_ci95", "pad_answer", "position_consistency", "sign_test_p", "summarise",
]
