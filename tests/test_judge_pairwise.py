"""The pairwise judge (evals/judge/pairwise.py): both orders are asked, the second mapped back to the
caller's labels; agreement wins, disagreement is a tie (position-bias control, Zheng et al. 2023),
an invalid reply in either order is an abstention; position consistency is counted."""
from __future__ import annotations

import json
import re

import pytest

from assistant.llm import FakeLLM
from evals.judge import PairwiseVerdict, judge_pairwise, position_consistency
from evals.judge.pairwise import PAIRWISE_SCHEMA

QUESTION = "Which documentary covers climate change?"
GOOD = "Our Planet (2019) covers climate change [1]."
WEAK = "There are many documentaries."
CONTEXTS = ["Our Planet (2019): a nature series on climate change and habitat loss."]


def choose(winner: str, rationale: str = "Reasons.") -> str:
    return json.dumps({"rationale": rationale, "winner": winner})


def run(*replies: str) -> tuple[PairwiseVerdict, FakeLLM]:
    llm = FakeLLM(list(replies))
    return judge_pairwise(llm, QUESTION, GOOD, WEAK, CONTEXTS), llm


def test_both_orders_are_asked_with_the_answers_swapped() -> None:
    verdict, llm = run(choose("A", "A is cited."), choose("B", "B is cited."))
    first, second = (call.messages[1]["content"] for call in llm.calls)
    assert first.index(f"Answer A:\n{GOOD}") < first.index(f"Answer B:\n{WEAK}")
    assert second.index(f"Answer A:\n{WEAK}") < second.index(f"Answer B:\n{GOOD}")
    assert all(call.request.json_schema == PAIRWISE_SCHEMA for call in llm.calls)
    assert PAIRWISE_SCHEMA["properties"]["winner"]["enum"] == ["A", "B", "tie"]
    # Same seed in both orders: the two calls differ only in where the answers sit.
    assert [call.request.seed for call in llm.calls] == [0, 0]
    assert verdict == PairwiseVerdict(winner="A", consistent=True, raw=(choose("A", "A is cited."),
                                      choose("B", "B is cited.")), orders=("A", "A"),
                                      rationales=("A is cited.", "B is cited."))


@pytest.mark.parametrize(("first", "second", "winner", "consistent", "orders"), [
    ("B", "A", "B", True, ("B", "B")),        # prefers answer_b in both orders
    ("tie", "tie", "tie", True, ("tie", "tie")),
    ("A", "A", "tie", False, ("A", "B")),     # always slot A: position bias -> tie
    ("B", "B", "tie", False, ("B", "A")),     # always slot B
    ("A", "tie", "tie", False, ("A", "tie")),  # a win in one order only is no win
])
def test_order_agreement_decides_and_disagreement_is_a_tie(first, second, winner, consistent, orders) -> None:
    verdict, _ = run(choose(first), choose(second))
    assert (verdict.winner, verdict.consistent, verdict.orders, verdict.reason) == (winner, consistent, orders, None)


@pytest.mark.parametrize(("replies", "reason"), [
    (("not json", choose("B")), "A first: no JSON object"),
    ((choose("A"), choose("C")), "B first: winner='C' is not one of"),
    ((json.dumps({"rationale": "x"}), json.dumps({"winner": 1})), "A first: winner=None.*B first: winner=1"),
])
def test_an_invalid_reply_in_either_order_abstains(replies, reason) -> None:
    verdict, llm = run(*replies)
    assert verdict.winner == "abstain" and verdict.consistent is False
    assert verdict.raw == replies and len(llm.calls) == 2
    assert re.search(reason, verdict.reason), verdict.reason


def test_the_valid_order_is_kept_for_audit_when_the_other_abstains() -> None:
    verdict, _ = run(choose("A"), "garbage")
    assert verdict.orders == ("A", None)
    verdict, _ = run("garbage", choose("A"))
    assert verdict.orders == (None, "B")


def test_free_text_choices_are_read_case_insensitively() -> None:
    verdict, _ = run('{"winner": " a "}', 'I pick: {"winner": "b", "rationale": "shorter"}')
    assert verdict.winner == "A" and verdict.consistent


def test_position_consistency_counts_only_judged_pairs() -> None:
    verdicts = [run(choose("A"), choose("B"))[0],   # consistent
                run(choose("A"), choose("A"))[0],   # inconsistent
                run(choose("tie"), choose("tie"))[0],  # consistent
                run("x", choose("A"))[0]]           # abstained: not counted
    consistency = position_consistency(verdicts)
    assert (consistency.consistent, consistency.judged) == (2, 3)
    assert consistency.rate == pytest.approx(2 / 3)
    assert position_consistency([verdicts[-1]]).rate is None
    assert position_consistency([]).rate is None
