"""Length-bias (verbosity-bias) probe for a pairwise judge: each answer is compared with a padded copy
of itself that carries no extra information, and we count how often the judge prefers the longer
one (Zheng et al. 2023, "Judging LLM-as-a-Judge", §3.3 verbosity bias and its "repetitive list"
attack; Saito et al. 2023, "Verbosity Bias in Preference Labeling by LLMs").

    pad_answer("Alien (1979) is set on a spaceship [1].")
      -> "Thank you for the question. Here is a careful and complete answer based on the information
          available. Alien (1979) is set on a spaceship [1]. To restate the main point once more:
          Alien (1979) is set on a spaceship [1]. I hope this detailed explanation helps and fully
          addresses what you asked."

An unbiased judge calls such pairs a tie (or prefers the concise one). The report gives the
count and rate of "longer wins", and a one-sided sign test of longer-wins against
shorter-wins (ties left out, as the sign test does): `biased` when p < alpha.
Each pair runs through `judge_pairwise`, so position bias is controlled separately: a judge
that always picks slot A is inconsistent on every pair, which counts as a tie here.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from assistant.llm.base import ChatLLM

from .pairwise import PairwiseVerdict, judge_pairwise
from .parsing import JudgeConfigError

# The padding rules. Each adds words and no facts: a courtesy opener, a verbatim restatement
# of the answer's first sentence, and a courtesy closer. Fixed text, so a probe run is
# reproducible and two judges see exactly the same pairs.
OPENER = "Thank you for the question. Here is a careful and complete answer based on the information available."
RESTATE = "To restate the main point once more:"
CLOSER = "I hope this detailed explanation helps and fully addresses what you asked."
# A sentence ends at ., ! or ? followed by whitespace (a citation like "[1]." stays inside).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")

Preference = Literal["longer", "shorter", "tie", "abstain"]
# In the probe the original is always passed as answer A and the padded copy as answer B
# (judge_pairwise shows both orders, so the slot does not matter).
_PREFERENCE: dict[str, Preference] = {"A": "shorter", "B": "longer", "tie": "tie", "abstain": "abstain"}


@dataclass(frozen=True)
class ProbeCase:
    """One probe item: a question, an answer to it, and the passages the answer drew on."""

    question: str
    answer: str
    contexts: tuple[Any, ...] = ()
    id: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.answer, str) or not self.answer.strip():
            raise JudgeConfigError(f"probe case {self.id!r} has answer={self.answer!r}; the length probe needs a "
                                   "non-empty answer to pad")


@dataclass(frozen=True)
class ProbeOutcome:
    """One case of the probe: the padded answer shown to the judge and which one it preferred."""

    case_id: str
    padded: str
    verdict: PairwiseVerdict
    preferred: Preference


@dataclass(frozen=True)
class LengthBiasReport:
    """Counts and rates over a probe run. Rates are over judged cases (abstentions left out)
    and None when nothing was judged."""

    outcomes: tuple[ProbeOutcome, ...]
    alpha: float = 0.05
    counts: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        counts = {p: 0 for p in ("longer", "shorter", "tie", "abstain")}
        for outcome in self.outcomes:
            counts[outcome.preferred] += 1
        object.__setattr__(self, "counts", counts)  # derived once; the dataclass stays frozen

    @property
    def n(self) -> int:
        return len(self.outcomes)

    @property
    def judged(self) -> int:
        return self.n - self.counts["abstain"]

    def rate(self, preference: Preference) -> float | None:
        """Share of judged cases with this preference ("abstain": share of all cases)."""
        if preference == "abstain":
            return self.counts["abstain"] / self.n if self.n else None
        return self.counts[preference] / self.judged if self.judged else None

    @property
    def longer_rate(self) -> float | None:
        return self.rate("longer")

    @property
    def p_value(self) -> float:
        return sign_test_p(self.counts["longer"], self.counts["shorter"])

    @property
    def biased(self) -> bool:
        """True when the judge prefers the padded answer significantly more often than the original."""
        return self.counts["longer"] > self.counts["shorter"] and self.p_value < self.alpha

    @property
    def summary(self) -> str:
        """One line for logs: counts, longer-win rate and the sign test."""
        rate = "n/a" if self.longer_rate is None else f"{self.longer_rate:.0%}"
        return (f"length probe: {self.counts['longer']} longer / {self.counts['shorter']} shorter / "
                f"{self.counts['tie']} tie / {self.counts['abstain']} abstain of {self.n}; longer wins {rate}; "
                f"sign test p={self.p_value:.3g}{' (BIASED)' if self.biased else ''}")


# -- pure pieces -------------------------------------------------------------------------------------

def pad_answer(answer: str) -> str:
    """`answer` with an opener, a verbatim restatement of its first sentence, and a closer
    around it (see the module docstring): longer, with no new information."""
    body = answer.strip()
    if not body:
        raise JudgeConfigError("pad_answer got an empty answer; there is nothing to pad")
    first = _SENTENCE_END.split(body, maxsplit=1)[0]
    if first[-1] not in ".!?":
        first += "."  # an answer without final punctuation: keep the padded text well formed
    return f"{OPENER} {body} {RESTATE} {first} {CLOSER}"


def sign_test_p(wins: int, losses: int) -> float:
    """One-sided sign test: P(X >= wins) for X ~ Binomial(wins + losses, 1/2), i.e. how likely
    at least this many "longer" wins would be if the judge had no length preference.
    1.0 when there are no decided pairs.

        sign_test_p(5, 0) = 1/32 = 0.03125;  sign_test_p(4, 1) = 6/32 = 0.1875
    """
    if wins < 0 or losses < 0:
        raise JudgeConfigError(f"sign_test_p needs counts >= 0, got wins={wins}, losses={losses}")
    n = wins + losses
    if n == 0:
        return 1.0
    return math.fsum(math.comb(n, k) for k in range(wins, n + 1)) / 2 ** n


def as_probe_case(item: ProbeCase | Mapping[str, Any], index: int) -> ProbeCase:
    """A ProbeCase from itself or a mapping with question, answer, optional contexts and id
    (e.g. a golden case with the pipeline's answer added)."""
    if isinstance(item, ProbeCase):
        return item
    if not isinstance(item, Mapping) or "question" not in item or "answer" not in item:
        raise JudgeConfigError(f"probe case {index} must be a ProbeCase or a mapping with 'question' and "
                               f"'answer', got {type(item).__name__}")
    return ProbeCase(question=item["question"], answer=item["answer"],
                     contexts=tuple(item.get("contexts") or ()), id=str(item.get("id", index)))


# -- the probe ---------------------------------------------------------------------------------------

def length_bias_probe(llm: ChatLLM, cases: Iterable[ProbeCase | Mapping[str, Any]], *,
                      alpha: float = 0.05, seed: int = 0) -> LengthBiasReport:
    """Judge each case's answer against `pad_answer(answer)` (both orders, 2 calls a case) and
    report how often the padded one wins."""
    if not 0.0 < alpha < 1.0:
        raise JudgeConfigError(f"alpha={alpha} must be in (0, 1), e.g. 0.05")
    outcomes = []
    for index, item in enumerate(cases):
        case = as_probe_case(item, index)
        padded = pad_answer(case.answer)
        verdict = judge_pairwise(llm, case.question, case.answer, padded, case.contexts, seed=seed)
        outcomes.append(ProbeOutcome(case_id=case.id or str(index), padded=padded, verdict=verdict,
                                     preferred=_PREFERENCE[verdict.winner]))
    if not outcomes:
        raise JudgeConfigError("length_bias_probe got no cases; pass at least one (question, answer)")
    return LengthBiasReport(outcomes=tuple(outcomes), alpha=alpha)

