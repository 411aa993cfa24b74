"""The length-bias probe (evals/judge/probes.py): deterministic information-free padding, the sign
test by hand, and fake judges that are length-biased (detected), unbiased, position-biased (not
mistaken for length bias), concise-preferring, and broken (abstentions)."""
from __future__ import annotations

import json
import re

import pytest

from assistant.llm import FakeLLM
from evals.judge import JudgeConfigError, ProbeCase, length_bias_probe, pad_answer, sign_test_p
from evals.judge.probes import CLOSER, OPENER, RESTATE

CASES = [
    ProbeCase("Which film is set on the Nostromo?", "Alien (1979) [1].", ("Alien (1979): the Nostromo crew.",), "c1"),
    ProbeCase("Who directed Solaris (1972)?", "Andrei Tarkovsky [1]. It is based on Lem's novel [2].", (), "c2"),
    ProbeCase("Any podcast on ocean science?", "Yes: The Deep Blue podcast [3].", (), "c3"),
    ProbeCase("Is Arrival a comedy?", "No, Arrival (2016) is science fiction [1]", (), "c4"),
    ProbeCase("Name a climate documentary.", "Our Planet (2019) [2]!", (), "c5"),
    ProbeCase("What is Paterson about?", "A bus driver who writes poems [1]. He lives in Paterson.", (), "c6"),
]
_ANSWERS = re.compile(r"Answer A:\n(.*?)\n\nAnswer B:\n(.*?)\n\n", re.DOTALL)


def judge_by(rule) -> FakeLLM:
    """A fake judge whose winner is `rule(answer_a, answer_b)` for the pair it is shown."""
    def respond(messages) -> str:
        a, b = _ANSWERS.search(messages[-1]["content"]).groups()
        return json.dumps({"rationale": "scripted", "winner": rule(a, b)})
    return FakeLLM(default=respond)


def test_padding_is_deterministic_and_adds_no_information() -> None:
    answer = "Alien (1979) is set on a spaceship [1]. It was directed by Ridley Scott [2]."
    padded = pad_answer(answer)
    assert padded == (f"{OPENER} {answer} {RESTATE} Alien (1979) is set on a spaceship [1]. {CLOSER}")
    assert pad_answer(answer) == padded and len(padded.split()) > 2 * len(answer.split())
    # Every added sentence is fixed text or a verbatim copy of the answer's first sentence.
    assert padded.replace(answer, "", 1).replace("Alien (1979) is set on a spaceship [1].", "", 1).split() \
        == f"{OPENER} {RESTATE} {CLOSER}".split()
    assert pad_answer("No, it is science fiction [1]") == (
        f"{OPENER} No, it is science fiction [1] {RESTATE} No, it is science fiction [1]. {CLOSER}")
    with pytest.raises(JudgeConfigError, match="empty answer"):
        pad_answer("  ")


def test_sign_test_hand_worked() -> None:
    assert sign_test_p(5, 0) == 1 / 32
    assert sign_test_p(4, 1) == 6 / 32            # C(5,4) + C(5,5) = 6
    assert sign_test_p(3, 3) == 42 / 64           # C(6,3)+C(6,4)+C(6,5)+C(6,6) = 20+15+6+1
    assert sign_test_p(0, 4) == 1.0 and sign_test_p(0, 0) == 1.0
    with pytest.raises(JudgeConfigError, match="wins=-1"):
        sign_test_p(-1, 2)


def test_a_judge_that_prefers_length_is_detected() -> None:
    llm = judge_by(lambda a, b: "A" if len(a) > len(b) else "B")
    report = length_bias_probe(llm, CASES)
    assert len(llm.calls) == 2 * len(CASES)
    assert report.counts == {"longer": 6, "shorter": 0, "tie": 0, "abstain": 0}
    assert report.longer_rate == 1.0 and report.p_value == 1 / 64 and report.biased
    assert all(o.verdict.consistent for o in report.outcomes)
    assert [o.case_id for o in report.outcomes] == ["c1", "c2", "c3", "c4", "c5", "c6"]
    assert report.outcomes[0].padded == pad_answer(CASES[0].answer)
    assert "6 longer / 0 shorter" in report.summary and "BIASED" in report.summary


def test_an_unbiased_judge_calls_the_pairs_ties() -> None:
    report = length_bias_probe(judge_by(lambda a, b: "tie"), CASES)
    assert report.counts == {"longer": 0, "shorter": 0, "tie": 6, "abstain": 0}
    assert report.longer_rate == 0.0 and report.rate("tie") == 1.0 and report.p_value == 1.0
    assert not report.biased and "BIASED" not in report.summary


def test_position_bias_is_not_mistaken_for_length_bias() -> None:
    report = length_bias_probe(judge_by(lambda a, b: "A"), CASES)
    assert report.counts["tie"] == 6 and not report.biased
    assert not any(o.verdict.consistent for o in report.outcomes)


def test_a_concise_judge_and_a_weak_bias_are_not_flagged() -> None:
    concise = length_bias_probe(judge_by(lambda a, b: "A" if len(a) < len(b) else "B"), CASES)
    assert concise.counts["shorter"] == 6 and concise.rate("shorter") == 1.0 and not concise.biased
    # Longer wins 4 of 6, shorter 1, one tie: p = P(X >= 4 | 5) = 6/32 > 0.05, not significant.
    script = ["B", "A", "B", "A", "B", "A", "B", "A", "A", "B", "tie", "tie"]  # (A first, B first) per case
    report = length_bias_probe(FakeLLM([json.dumps({"winner": w}) for w in script]), CASES)
    assert report.counts == {"longer": 4, "shorter": 1, "tie": 1, "abstain": 0}
    assert report.longer_rate == pytest.approx(4 / 6) and report.p_value == 6 / 32 and not report.biased
    # The same split is flagged at a looser level.
    assert length_bias_probe(FakeLLM([json.dumps({"winner": w}) for w in script]), CASES, alpha=0.25).biased


def test_abstentions_are_counted_apart() -> None:
    report = length_bias_probe(FakeLLM(default="I cannot decide."), CASES[:2])
    assert report.counts["abstain"] == 2 and report.judged == 0
    assert report.longer_rate is None and report.rate("abstain") == 1.0 and not report.biased


def test_cases_may_be_mappings_and_bad_input_is_named() -> None:
    report = length_bias_probe(judge_by(lambda a, b: "tie"), [{"question": "q?", "answer": "An answer."}])
    assert report.outcomes[0].case_id == "0"
    with pytest.raises(JudgeConfigError, match="probe case 0 must be a ProbeCase"):
        length_bias_probe(FakeLLM(), [{"question": "q?"}])
    with pytest.raises(JudgeConfigError, match="got no cases"):
        length_bias_probe(FakeLLM(), [])
    with pytest.raises(JudgeConfigError, match="alpha=0"):
        length_bias_probe(FakeLLM(), CASES, alpha=0)
    with pytest.raises(JudgeConfigError, match="probe case 'x' has answer=''"):
        ProbeCase("q?", "", id="x")
