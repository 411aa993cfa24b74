"""Citation precision / recall (ALCE) on a hand-worked pairs table, judge and lexical, plus the
judge-free cited_relevant share, refusals and abstention."""
import pytest

from assistant.llm.fake import FakeLLM
from evals.metrics.citation import (
    citation,
    citation_precision_score,
    citation_recall_score,
    cited_claims,
    cited_relevant_share,
)
from evals.sample import AnswerSample

SUP = {"SUPPORTED": -0.1, "UNSUPPORTED": -2.5}
UNS = {"SUPPORTED": -2.5, "UNSUPPORTED": -0.1}
CONTEXTS = ("Rear Window is a 1954 mystery thriller film directed by Alfred Hitchcock.",
            "The film was screened at the 1954 Venice Film Festival.",
            "Vertigo is a 1958 film starring Kim Novak.")
# The pairs table of ANSWER:
#   sentence                                         cites  pair verdicts      contexts support?
#   S1 Rear Window is a 1954 thriller ... Hitchcock  1, 2   [1] yes, [2] no    yes
#   S2 It was screened at the Venice Film Festival   1      [1] no             yes (by [2]: a wrong citation)
#   S3 Vertigo stars Kim Novak                       3      [3] yes            yes
#   S4 It won four Oscars                            4      [4] no (no source) no
# precision = 2 supported pairs / 5 pairs; recall = S1, S3 of the supported S1, S2, S3 = 2/3.
ANSWER = ("Rear Window is a 1954 thriller directed by Alfred Hitchcock [1, 2]. It was screened at the "
          "Venice Film Festival [1]. Vertigo stars Kim Novak [3]. It won four Oscars [4].")


def sample(answer=ANSWER, contexts=CONTEXTS, refused=False, **kw):
    return AnswerSample(case_id="c1", question="q", collection="catalog", answer=answer, refused=refused,
                        contexts=tuple(contexts), context_ids=tuple(f"d{i}" for i in range(1, len(contexts) + 1)), **kw)


def test_pure_scores():
    assert citation_precision_score([True, False, False, True, False]) == pytest.approx(2 / 5)
    assert citation_precision_score([]) is None
    assert citation_recall_score([True, True, True, False], [True, False, True, False]) == pytest.approx(2 / 3)
    assert citation_recall_score([False, False], [True, True]) is None  # no supported sentence
    with pytest.raises(ValueError, match="one entry per sentence"):
        citation_recall_score([True], [])


def test_cited_claims_skip_lead_ins():
    assert cited_claims("Two films match:\n- Vertigo stars Kim Novak [3].") == [("Vertigo stars Kim Novak.", (3,))]


def test_pairs_table_with_the_judge():
    # Call order per sentence: its pairs, then all contexts. S1: [1] [2] all; S2: [1] all; S3: [3] all; S4: all.
    judge = FakeLLM(logprob_tables=[SUP, UNS, SUP, UNS, SUP, SUP, SUP, UNS])
    out = citation(sample(), judge=judge, calibration="none")
    assert out == {"citation_precision": pytest.approx(2 / 5), "citation_recall": pytest.approx(2 / 3)}
    assert len(judge.calls) == 8  # no call for the non-existent source [4]
    pair_prompt = judge.calls[1].messages[-1]["content"]
    assert '<passage id="2">' in pair_prompt and "mystery" not in pair_prompt  # a pair shows only its own source


def test_pairs_table_lexical():
    # Same verdicts from coverage: S1 vs [1] 7/7, vs [2] 1/7; S2 vs [1] 1/4, vs all 4/4;
    # S3 vs [3] {vertigo, kim, novak} of {vertigo, star, kim, novak} = 3/4 >= 0.6; S4 vs all 0/3.
    assert citation(sample()) == {"citation_precision_lexical": pytest.approx(2 / 5),
                                  "citation_recall_lexical": pytest.approx(2 / 3)}


def test_recall_accepts_cited_sources_that_support_only_together():
    # ALCE's recall tests the concatenation of the cited passages: [1] and [2] each fail, together pass.
    judge = FakeLLM(logprob_tables=[UNS, UNS, SUP, SUP])  # [1], [2], all three, then [1]+[2]
    out = citation(sample("Rear Window premiered in Venice in 1954 [1, 2]."), judge=judge, calibration="none")
    assert out == {"citation_precision": 0.0, "citation_recall": 1.0}
    assert "Vertigo" not in judge.calls[3].messages[-1]["content"]


def test_cited_relevant_share():
    assert cited_relevant_share(["d1", "d2", "d1", "d3"], {"d1": 1.0, "d3": 0.0}) == pytest.approx(1 / 3)
    assert cited_relevant_share(["d1"], {}, answerable=False) == 0.0  # nothing is relevant to an unanswerable case
    assert cited_relevant_share(["d1"], {}, answerable=True) is None  # no labels
    assert cited_relevant_share([], {"d1": 1.0}) is None


def test_cited_relevant_needs_no_judge_and_refusals_omit_the_rest():
    s = sample(cited_ids=("d1", "d2"), relevant={"d1": 1.0})
    assert citation(s)["cited_relevant"] == 0.5
    refusal = sample("I couldn't find that in the sources.", refused=True, relevant={"d1": 1.0})
    assert citation(refusal) == {}


def test_judge_abstention():
    judge = FakeLLM(logprob_tables=[SUP, {}])
    out = citation(sample("Vertigo stars Kim Novak [3].", relevant={"d3": 1.0}, cited_ids=("d3",)), judge=judge,
                   calibration="none")
    assert out == {"cited_relevant": 1.0, "citation_abstained": 1.0}
