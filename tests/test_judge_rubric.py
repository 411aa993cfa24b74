"""The rubric judge (evals/judge/rubric.py, parsing.py) and `summarise`, driven by a scripted FakeLLM:
valid JSON becomes scores; malformed JSON, off-scale or missing scores become counted abstentions
(never 0, never NaN); k sampled verdicts give a mean and a hand-checked t-interval."""
from __future__ import annotations

import json
import math
import re

import pytest

from assistant.llm import FakeLLM, LLMUnsupportedError
from assistant.llm.base import GenerationRequest
from assistant.llm.fake import FakeReply
from evals.judge import (
    CRITERIA,
    JudgeConfigError,
    JudgeOutputError,
    PairwiseVerdict,
    RubricVerdict,
    judge_rubric,
    mean_ci95,
    summarise,
)
from evals.judge.parsing import int_score, parse_json_object
from evals.judge.rubric import RUBRIC_SCHEMA, verdict_scores
from knowledge.errors import CairnError

QUESTION = "Which film is about a crew hunted by an alien on a spaceship?"
ANSWER = "Alien (1979), directed by Ridley Scott [1]."
CONTEXTS = ["Alien (1979): the crew of the Nostromo is hunted by a xenomorph.", "Solaris (1972): a psychologist."]
T_975_DF2 = 4.302652729749464  # Student t quantile, 0.975, 2 degrees of freedom (statistical tables)


def reply(relevance=5, accuracy=4, completeness=3, clarity=5, overall=4, rationale="Correct and cited.",
          **extra) -> str:
    return json.dumps({"rationale": rationale, "relevance": relevance, "accuracy": accuracy,
                       "completeness": completeness, "clarity": clarity, "overall": overall, **extra})


def test_valid_json_becomes_scores_and_the_request_is_schema_constrained() -> None:
    llm = FakeLLM([reply()])
    verdict = judge_rubric(llm, QUESTION, ANSWER, CONTEXTS, reference="Alien.")
    assert verdict == RubricVerdict(
        scores={"relevance": 5, "accuracy": 4, "completeness": 3, "clarity": 5}, overall=4,
        rationale="Correct and cited.", raw_outputs=(reply(),), abstained=False, samples=1, valid_samples=1,
        seeds=(0,))
    request = llm.last_request
    assert request.json_schema == RUBRIC_SCHEMA and request.temperature == 0.0 and request.seed == 0
    assert RUBRIC_SCHEMA["required"] == ["rationale", *CRITERIA, "overall"]
    prompt = llm.last_messages[1]["content"]
    for text in (QUESTION, ANSWER, "[1] Alien (1979)", "[2] Solaris",
                 "Expert reference answer (trust it for facts and coverage):\nAlien."):
        assert text in prompt
    # Without a reference the prompt shows none and does not ask for its points.
    plain = FakeLLM([reply()])
    judge_rubric(plain, QUESTION, ANSWER, CONTEXTS)
    assert "Expert reference answer" not in plain.last_messages[1]["content"]
    assert "points in the reference" not in plain.last_messages[1]["content"]


@pytest.mark.parametrize(("text", "reason"), [
    ("The answer is good, I give it 5.", "no JSON object"),
    ('{"rationale": "ok", "relevance": 5', "no JSON object"),                  # truncated
    ("", "empty reply"),
    ("[5, 4, 3, 5, 4]", "no JSON object"),                                     # JSON, but not an object
    (reply(accuracy=7), "accuracy=7 is outside 1..5"),
    (reply(clarity=0), "clarity=0 is outside 1..5"),
    (json.dumps({"rationale": "x", "relevance": 5, "accuracy": 4, "clarity": 5, "overall": 4}),
     "no 'completeness' score"),
    (reply(accuracy="4"), "accuracy='4' is not a whole number"),
    (reply(accuracy=3.5), "accuracy=3.5 is not a whole number"),
    (reply(accuracy=True), "accuracy=True is not a whole number"),
    (reply(overall=None), "overall=None is not a whole number"),
    (reply(rationale=["a", "b"]), "rationale=.* is not a string"),
])
def test_invalid_replies_are_abstentions_not_zeros(text: str, reason: str) -> None:
    verdict = judge_rubric(FakeLLM([text]), QUESTION, ANSWER, CONTEXTS)
    assert verdict.abstained and verdict.valid_samples == 0
    assert verdict.scores == {name: None for name in CRITERIA} and verdict.overall is None
    assert verdict.raw_outputs == (text,)
    assert verdict.reason is not None and re.search(reason, verdict.reason), verdict.reason


def test_integral_float_scores_count_and_extra_keys_are_ignored() -> None:
    verdict = judge_rubric(FakeLLM([reply(accuracy=4.0, notes="extra")]), QUESTION, ANSWER, CONTEXTS)
    assert not verdict.abstained and verdict.scores["accuracy"] == 4


def test_free_text_json_in_a_fence_with_prose_is_parsed() -> None:
    text = f"Here is my grading:\n```json\n{reply(rationale='Uses {braces} fine.')}\n```\nHope it helps."
    verdict = judge_rubric(FakeLLM([text]), QUESTION, ANSWER, CONTEXTS)
    assert not verdict.abstained and verdict.rationale == "Uses {braces} fine."
    assert parse_json_object('Verdict: {"a": 1} and {"b": 2}') == {"a": 1}
    assert parse_json_object('{not json} then {"a": {"b": 2}}') == {"a": {"b": 2}}


def test_a_reply_cut_at_max_tokens_says_so() -> None:
    verdict = judge_rubric(FakeLLM([reply()]), QUESTION, ANSWER, CONTEXTS, max_tokens=6)
    assert verdict.abstained and "cut at max_tokens=6" in verdict.reason


class NoSchemaLLM(FakeLLM):
    """A backend like hf that cannot constrain output to a JSON schema."""

    def _complete(self, request: GenerationRequest):
        if request.json_schema is not None:
            raise LLMUnsupportedError("backend cannot constrain output")
        return super()._complete(request)


def test_a_backend_without_json_schema_support_is_asked_again_unconstrained() -> None:
    llm = NoSchemaLLM([f"Sure! {reply()}"])
    verdict = judge_rubric(llm, QUESTION, ANSWER, CONTEXTS)
    assert not verdict.abstained and verdict.constrained is False and verdict.overall == 4
    assert len(llm.calls) == 1 and llm.last_request.json_schema is None


def test_k_samples_use_successive_seeds_and_report_mean_and_t_interval() -> None:
    llm = FakeLLM([reply(accuracy=3, overall=2), reply(accuracy=4, overall=3), reply(accuracy=5, overall=4)])
    verdict = judge_rubric(llm, QUESTION, ANSWER, CONTEXTS, samples=3, temperature=0.7, seed=10)
    assert [c.request.seed for c in llm.calls] == [10, 11, 12] and verdict.seeds == (10, 11, 12)
    assert all(c.request.temperature == 0.7 for c in llm.calls)
    assert verdict.valid_samples == 3 and verdict.reason is None
    # accuracy 3, 4, 5: mean 4, s = 1, half-width t(0.975, 2)·1/√3 = 2.4841 -> (1.5159, 6.4841), clipped to 5.
    assert verdict.scores["accuracy"] == pytest.approx(4.0)
    assert verdict.ci95["accuracy"] == pytest.approx((4 - T_975_DF2 / math.sqrt(3), 5.0))
    # overall 2, 3, 4: mean 3, same spread -> (0.5159, 5.4841) clipped to (1, 5).
    assert verdict.overall == pytest.approx(3.0) and verdict.ci95["overall"] == pytest.approx((1.0, 5.0))
    # relevance 5, 5, 5: no spread, a zero-width interval.
    assert verdict.scores["relevance"] == 5 and verdict.ci95["relevance"] == (5.0, 5.0)


def test_abstaining_samples_are_left_out_and_named() -> None:
    llm = FakeLLM([reply(accuracy=2), "garbage", reply(accuracy=4)])
    verdict = judge_rubric(llm, QUESTION, ANSWER, CONTEXTS, samples=3, temperature=1.0)
    assert not verdict.abstained and verdict.valid_samples == 2 and verdict.samples == 3
    assert verdict.scores["accuracy"] == 3.0
    assert verdict.reason.startswith("1 of 3 samples abstained: sample 1 (seed 1)")
    # Two samples 2 and 4: mean 3, s = √2, half-width t(0.975, 1)·√2/√2 = 12.706 -> clipped to the scale.
    assert verdict.ci95["accuracy"] == (1.0, 5.0)
    all_bad = judge_rubric(FakeLLM(["x", "y"]), QUESTION, ANSWER, CONTEXTS, samples=2, temperature=1.0)
    assert all_bad.abstained and all_bad.ci95 is None and all_bad.reason.count("no JSON object") == 2


def test_mean_ci95_hand_worked() -> None:
    mean, (low, high) = mean_ci95([3, 4, 5])  # s = 1, half-width 4.3027/√3 = 2.4841377
    assert mean == 4.0 and (low, high) == pytest.approx((4 - 2.4841377, 4 + 2.4841377))
    # [2, 4]: mean 3, s = √2, se = 1, t(0.975, 1) = 12.7062 (tables).
    mean, (low, high) = mean_ci95([2, 4])
    assert mean == 3 and low == pytest.approx(3 - 12.7062047) and high == pytest.approx(3 + 12.7062047)
    assert mean_ci95([4]) == (4.0, None)
    assert mean_ci95([1, 1, 5, 5], bounds=(1, 5))[1] == (1.0, 5.0)
    with pytest.raises(JudgeConfigError, match="at least one value"):
        mean_ci95([])


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"samples": 3}, "samples=3 at temperature=0.0 would repeat one greedy verdict"),
    ({"samples": 0}, "samples=0 must be an integer >= 1"),
    ({"seed": None}, "seed=None must be an integer"),
])
def test_bad_arguments_name_the_value_and_the_fix(kwargs: dict, match: str) -> None:
    with pytest.raises(JudgeConfigError, match=match) as info:
        judge_rubric(FakeLLM([reply()]), QUESTION, ANSWER, CONTEXTS, **kwargs)
    assert isinstance(info.value, CairnError)


def test_bad_inputs_raise_before_calling_the_model() -> None:
    llm = FakeLLM()
    with pytest.raises(JudgeConfigError, match="question=' ' must be a non-empty string"):
        judge_rubric(llm, " ", ANSWER, CONTEXTS)
    with pytest.raises(JudgeConfigError, match="contexts is a single string"):
        judge_rubric(llm, QUESTION, ANSWER, "one passage")
    assert llm.calls == []
    # An empty answer is gradable (it should score low), and shown as such.
    empty = FakeLLM([reply(relevance=1)])
    judge_rubric(empty, QUESTION, "", [])
    assert "(the assistant gave no answer)" in empty.last_messages[1]["content"]
    assert "(no passages were retrieved)" in empty.last_messages[1]["content"]


def test_int_score_accepts_only_the_scale() -> None:
    assert int_score({"a": 5}, "a", 1, 5) == 5
    with pytest.raises(JudgeOutputError, match="a=nan"):
        int_score({"a": math.nan}, "a", 1, 5)


def test_summarise_counts_abstentions_and_averages_only_valid_verdicts() -> None:
    llm = FakeLLM([reply(accuracy=3, overall=3), reply(accuracy=5, overall=5), "not json"])
    verdicts = [judge_rubric(llm, QUESTION, ANSWER, CONTEXTS) for _ in range(3)]
    pairwise = [PairwiseVerdict("A", True, ("", "")), PairwiseVerdict("tie", False, ("", "")),
                PairwiseVerdict("abstain", False, ("", ""))]
    summary = summarise([*verdicts, *pairwise])
    assert (summary.rubric, summary.pairwise, summary.abstained, summary.n) == (3, 3, 2, 6)
    assert summary.abstention_rate == pytest.approx(2 / 6)
    assert summary.winners == {"A": 1, "B": 0, "tie": 1, "abstain": 1}
    assert summary.mean_scores["accuracy"] == 4.0 and summary.mean_scores["overall"] == 4.0
    assert summary.mean_scores["relevance"] == 5.0 and summary.ci95["relevance"] == (5.0, 5.0)
    assert summary.ci95["accuracy"] == (1.0, 5.0)  # [3, 5]: 4 ± 12.7, clipped to the scale
    assert summary.position_consistency.rate == 0.5  # 1 of the 2 that did not abstain
    empty = summarise([])
    assert empty.abstention_rate is None and empty.mean_scores == {} and empty.position_consistency.rate is None
    with pytest.raises(JudgeConfigError, match="verdict 0 is a dict"):
        summarise([{"winner": "A"}])


def test_fake_reply_finish_reason_length_is_reported() -> None:
    verdict = judge_rubric(FakeLLM([FakeReply('{"rationale": "cut', finish_reason="length")]),
                           QUESTION, ANSWER, CONTEXTS)
    assert verdict.abstained and "raise max_tokens" in verdict.reason


# -- the real llama.cpp backend (slow) ----------------------------------------------------------------

@pytest.mark.slow
def test_llamacpp_enforces_the_judge_schemas(real_model, real_models_home, monkeypatch: pytest.MonkeyPatch) -> None:
    """The schemas convert to llama.cpp grammars (integer enums, a length-capped rationale) and a
    real model's verdicts come back valid. Quality is not asserted: a 135M model is no judge."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    real_model("smollm2-135m")
    monkeypatch.setenv("CAIRN_HOME", str(real_models_home))
    from assistant.llm import LLMConfig, load_llm
    from evals.judge import judge_pairwise

    llm = load_llm(LLMConfig(model="smollm2-135m", n_threads=1, n_ctx=2048))
    try:
        verdict = judge_rubric(llm, QUESTION, ANSWER, CONTEXTS)
        assert verdict.constrained and not verdict.abstained, verdict.reason
        assert all(score in {1, 2, 3, 4, 5} for score in verdict_scores(verdict).values())
        pair = judge_pairwise(llm, QUESTION, ANSWER, "Solaris (1972) [2].", CONTEXTS)
        assert pair.winner != "abstain", pair.reason
    finally:
        llm.close()
