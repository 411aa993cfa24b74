"""Pairwise comparison by an LLM judge with a position-bias control: every pair is judged in both
orders and a win counts only when both orders agree (Zheng et al. 2023, "Judging LLM-as-a-Judge
with MT-Bench and Chatbot Arena", §3.3–3.4: swap positions; inconsistent verdicts become a tie).

    order 1:  Answer A = a, Answer B = b   -> "A"
    order 2:  Answer A = b, Answer B = a   -> "B"  -> mapped back to the caller's labels: "A"
    both say a wins                         -> PairwiseVerdict(winner="A", consistent=True)
    order 1 "A", order 2 "A" (-> "B")       -> winner="tie", consistent=False  (the judge followed the slot)

`consistent` over many pairs is the judge's position-consistency rate, reported by
`position_consistency` (and by calibration). An invalid reply in either order makes the
verdict an abstention: one order alone cannot tell preference from position bias.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from assistant.llm.base import ChatLLM, Message

from .parsing import (
    DEFAULT_MAX_TOKENS,
    RATIONALE_SCHEMA,
    JudgeAttempt,
    JudgeConfigError,
    ask_judge,
    check_text,
    choice,
    passages_block,
    rationale,
)

Winner = Literal["A", "B", "tie", "abstain"]
CHOICES: tuple[str, ...] = ("A", "B", "tie")
# What a verdict given with the answers swapped means in the caller's labels.
SWAPPED = {"A": "B", "B": "A", "tie": "tie"}

PAIRWISE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"rationale": RATIONALE_SCHEMA,
                   "winner": {"type": "string", "enum": list(CHOICES)}},
    "required": ["rationale", "winner"],
    "additionalProperties": False,
}

SYSTEM_PROMPT = (
    "You compare two answers to the same question, written by assistants that work from retrieved "
    "passages, and decide which one serves the person asking better. Prefer the answer whose claims "
    "the passages support, that answers what was asked, and that leaves out nothing important. "
    "Neither the order in which the answers are shown nor their length is a reason to prefer one: "
    "padding and repetition add nothing. Say tie when neither is better."
)

_INSTRUCTIONS = """Which answer is better? Reply with a single JSON object and nothing else, a short rationale (at most two sentences) first:
{"rationale": "...", "winner": "A" | "B" | "tie"}"""


@dataclass(frozen=True)
class PairwiseVerdict:
    """The judge's preference between `answer_a` and `answer_b`, both orders combined.

    Fields:
        winner: "A" or "B" when both orders prefer that answer; "tie" when both say tie or the
            orders disagree; "abstain" when either reply was invalid.
        consistent: both orders gave the same verdict (False for an abstention).
        raw: the reply texts, (A shown first, B shown first).
        orders: each order's verdict in the caller's labels (None where it abstained).
        reason: why it abstained, else None.
        rationales: the judge's explanations, in order (empty strings where it abstained).
    """

    winner: Winner
    consistent: bool
    raw: tuple[str, str]
    orders: tuple[str | None, str | None] = (None, None)
    reason: str | None = None
    rationales: tuple[str, str] = ("", "")


@dataclass(frozen=True)
class PositionConsistency:
    """Of the pairwise verdicts that did not abstain, how many gave the same answer in both orders."""

    consistent: int
    judged: int

    @property
    def rate(self) -> float | None:
        """consistent / judged; None when nothing was judged (not 0: no evidence either way)."""
        return self.consistent / self.judged if self.judged else None


# -- prompt and reply --------------------------------------------------------------------------------

def pairwise_messages(question: str, first: str, second: str, contexts: Sequence[Any]) -> list[Message]:
    """The chat messages showing `first` as Answer A and `second` as Answer B."""
    for name, text in (("answer_a", first), ("answer_b", second)):
        if not isinstance(text, str):
            raise JudgeConfigError(f"{name} must be a string, got {type(text).__name__}")
    user = "\n\n".join([
        f"Question:\n{check_text('question', question)}",
        f"Retrieved passages:\n{passages_block(contexts)}",
        f"Answer A:\n{first.strip() or '(no answer)'}",
        f"Answer B:\n{second.strip() or '(no answer)'}",
        _INSTRUCTIONS,
    ])
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def parse_choice(obj: dict[str, Any]) -> tuple[str, str]:
    """(winner, rationale) of one parsed reply; JudgeOutputError unless winner is A, B or tie."""
    return choice(obj, "winner", CHOICES), rationale(obj)


# -- combining the two orders (pure) -----------------------------------------------------------------

def combine_orders(first: JudgeAttempt[tuple[str, str]], second: JudgeAttempt[tuple[str, str]]) -> PairwiseVerdict:
    """One verdict from the A-first attempt and the B-first attempt (whose labels are swapped
    back here): agreement -> that verdict; disagreement -> tie, inconsistent; any invalid
    attempt -> abstain."""
    raw = (first.raw, second.raw)
    if first.value is None or second.value is None:
        reasons = [f"{label}: {a.reason}" for label, a in (("A first", first), ("B first", second)) if a.value is None]
        kept = (first.value[0] if first.value else None, SWAPPED[second.value[0]] if second.value else None)
        return PairwiseVerdict(winner="abstain", consistent=False, raw=raw, orders=kept, reason="; ".join(reasons))
    one, two = first.value[0], SWAPPED[second.value[0]]
    winner: Winner = one if one == two else "tie"  # type: ignore[assignment]
    return PairwiseVerdict(winner=winner, consistent=one == two, raw=raw, orders=(one, two),
                           rationales=(first.value[1], second.value[1]))


def position_consistency(verdicts: Iterable[PairwiseVerdict]) -> PositionConsistency:
    """How often the judge gave the same verdict in both orders, abstentions left out."""
    judged = [v for v in verdicts if v.winner != "abstain"]
    return PositionConsistency(consistent=sum(v.consistent for v in judged), judged=len(judged))


# -- the judge ---------------------------------------------------------------------------------------

def judge_pairwise(llm: ChatLLM, question: str, answer_a: str, answer_b: str, contexts: Sequence[Any], *,
                   temperature: float = 0.0, seed: int = 0, max_tokens: int = DEFAULT_MAX_TOKENS) -> PairwiseVerdict:
    """Which of `answer_a` and `answer_b` better answers `question` given `contexts`: two judge
    calls (A first, then B first, same seed so the orders differ only in position)."""
    attempts = [ask_judge(llm, pairwise_messages(question, first, second, contexts), PAIRWISE_SCHEMA,
                          parse_choice, max_tokens=max_tokens, temperature=temperature, seed=seed)
                for first, second in ((answer_a, answer_b), (answer_b, answer_a))]
    return combine_orders(*attempts)
