"""ragas 0.4.3 on cairn's models, scripted: the structured-output LLM and embeddings wrappers,
faithfulness / answer relevancy through ragas' collections metrics with a FakeLLM that answers
by reading ragas' own prompts, abstentions, and parity of our context metrics with ragas'."""
import asyncio
import json
import math
import os

import numpy as np
import pytest

pytest.importorskip("ragas")

from fakes import HashEmbedder  # noqa: E402
from ragas.dataset_schema import SingleTurnSample  # noqa: E402
from ragas.metrics._context_precision import NonLLMContextPrecisionWithReference  # noqa: E402
from ragas.metrics._context_recall import IDBasedContextRecall  # noqa: E402
from ragas.metrics.collections.faithfulness.util import (  # noqa: E402
    NLIStatementOutput,
    StatementFaithfulnessAnswer,
    StatementGeneratorOutput,
)

from assistant.llm.fake import FakeLLM  # noqa: E402
from evals.metrics.context import context_precision_score, context_recall_score  # noqa: E402
from evals.metrics.faithfulness import faithfulness_score  # noqa: E402
from evals.ragas_bridge import (  # noqa: E402
    CairnRagasEmbeddings,
    CairnRagasLLM,
    RagasOutputError,
    checked_score,
    grammar_schema,
    ragas_scores,
)
from evals.sample import AnswerSample  # noqa: E402

CONTEXT = "Rear Window is a thriller. It stars James Stewart and Grace Kelly."
QUESTION = "Tell me about Rear Window."


def prompt_input(messages):
    """The JSON input ragas puts at the end of every prompt ('input: {...}\\nOutput: ')."""
    prompt = messages[-1]["content"]
    return json.loads(prompt.rsplit("input: ", 1)[1].rsplit("\nOutput:", 1)[0])


def scripted(messages, *, question=QUESTION, noncommittal=0):
    """A model that reads ragas' prompts: statements = the answer's sentences; verdict 1 iff the
    statement is verbatim in the context; the question it generates is `question`."""
    prompt, data = messages[-1]["content"], prompt_input(messages)
    if "Break down each sentence" in prompt:
        return json.dumps({"statements": [s.strip() + "." for s in data["answer"].split(".") if s.strip()]})
    if "judge the faithfulness" in prompt:
        return json.dumps({"statements": [
            {"statement": s, "reason": "checked", "verdict": int(s.rstrip(".").lower() in data["context"].lower())}
            for s in data["statements"]]})
    if "Generate a question for the given answer" in prompt:
        return json.dumps({"question": question, "noncommittal": noncommittal})
    raise AssertionError(f"unexpected prompt {prompt[:80]!r}")


def sample(answer, raw=None, refused=False, contexts=(CONTEXT,)):
    return AnswerSample(case_id="c1", question=QUESTION, collection="catalog", answer=answer, refused=refused,
                        raw_answer=answer if raw is None else raw, contexts=tuple(contexts),
                        context_ids=tuple(f"d{i}" for i in range(len(contexts))))


def test_telemetry_is_off():
    from ragas._analytics import do_not_track

    assert os.environ["RAGAS_DO_NOT_TRACK"] == "true" and do_not_track()


def test_grammar_schema_inlines_refs_caps_strings_and_binarises_verdicts():
    original = NLIStatementOutput.model_json_schema()
    schema = grammar_schema(original)
    assert "$defs" in original and "$defs" not in schema and "$ref" not in json.dumps(schema)
    item = schema["properties"]["statements"]["items"]["properties"]
    assert item["verdict"]["enum"] == [0, 1] and item["reason"]["maxLength"] == 300
    assert schema["properties"]["statements"]["minItems"] == 1  # "[]" would make ragas return NaN
    assert "enum" not in json.dumps(original)  # the input is left alone


def test_structured_llm_wrapper():
    llm = FakeLLM(['{"statements": ["A is B."]}', "not json", '{"statements": "A"}'])
    ragas_llm = CairnRagasLLM(llm)
    assert asyncio.run(ragas_llm.agenerate("p", StatementGeneratorOutput)).statements == ["A is B."]
    request = llm.last_request
    assert request.json_schema == grammar_schema(StatementGeneratorOutput.model_json_schema())
    assert request.temperature == 0.0 and llm.last_messages == [{"role": "user", "content": "p"}]
    for _ in range(2):
        with pytest.raises(RagasOutputError, match="StatementGeneratorOutput"):
            ragas_llm.generate("p", StatementGeneratorOutput)


def test_embeddings_wrapper_matches_the_embedder():
    embedder = HashEmbedder()
    wrapped = CairnRagasEmbeddings(embedder)
    assert np.allclose(wrapped.embed_text("rear window"), embedder.encode(["rear window"])[0])
    assert len(asyncio.run(wrapped.aembed_texts(["a", "b"]))) == 2


def test_faithfulness_and_relevancy_hand_worked():
    # answer: 3 statements, "It stars Cary Grant" not in the context -> 2/3; raw: 2 statements, 1 in -> 1/2.
    llm = FakeLLM(default=scripted)
    s = sample("Rear Window is a thriller [1]. It stars James Stewart [1]. It stars Cary Grant [1].",
               raw="Rear Window is a comedy [1]. It stars James Stewart [1].")
    [row] = ragas_scores([s], llm, HashEmbedder())
    # relevancy: the generated question IS the asked question -> cosine 1 for each of the 3 questions
    assert row == {"ragas_faithfulness": pytest.approx(2 / 3), "ragas_faithfulness_raw": 0.5,
                   "ragas_answer_relevancy": pytest.approx(1.0)}
    kinds = [("Break down" in c.messages[-1]["content"], "judge the faithfulness" in c.messages[-1]["content"])
             for c in llm.calls]
    assert kinds == [(True, False), (False, True)] * 2 + [(False, False)] * 3  # 2 + 2 + strictness 3
    assert "[1]" not in llm.calls[0].messages[-1]["content"]  # markers removed


def test_a_raw_reply_equal_to_the_answer_is_scored_once():
    llm = FakeLLM(default=scripted)
    assert ragas_scores([sample("Rear Window is a thriller [1].")], llm, relevancy=False) == [
        {"ragas_faithfulness": 1.0, "ragas_faithfulness_raw": 1.0}]
    assert len(llm.calls) == 2


def test_noncommittal_zeroes_relevancy():
    llm = FakeLLM(default=lambda m: scripted(m, noncommittal=1))
    [row] = ragas_scores([sample("Rear Window is a thriller [1].")], llm, HashEmbedder(), raw=False)
    assert row == {"ragas_faithfulness": 1.0, "ragas_answer_relevancy": 0.0}


def test_refusals_and_missing_contexts_are_omitted():
    llm = FakeLLM()
    refusal = "I couldn't find that in the sources."
    rows = ragas_scores([sample(refusal, refused=True), sample("It is a thriller [1].", contexts=())], llm,
                        relevancy=False)
    assert rows == [{}, {}] and llm.calls == []


def test_invalid_replies_and_nan_are_abstentions():
    broken = FakeLLM(default="I think it is faithful.")
    assert ragas_scores([sample("Rear Window is a thriller [1].")], broken, raw=False) == [
        {"ragas_faithfulness_abstained": 1.0}]
    # no statements: ragas returns NaN, which must never be reported as a score
    empty = FakeLLM(default='{"statements": []}')
    assert ragas_scores([sample("Rear Window is a thriller [1].")], empty, raw=False) == [
        {"ragas_faithfulness_abstained": 1.0}]


def test_checked_score():
    assert checked_score(0.25) == 0.25
    assert checked_score(1.0000000000000002) == 1.0  # rounding in a mean of cosines, not a bad score
    assert checked_score(float("nan")) is None and checked_score(1.5) is None and checked_score(None) is None


# -- parity with ragas' own formulas -------------------------------------------------------------------

@pytest.mark.parametrize("labels", [[1, 0, 1, 0], [0, 1, 1, 1], [1, 1, 0, 0], [0, 0, 0, 1], [1], [0, 0]])
def test_context_precision_matches_ragas(labels):
    theirs = NonLLMContextPrecisionWithReference.__new__(NonLLMContextPrecisionWithReference)
    assert context_precision_score(labels) == pytest.approx(theirs._calculate_average_precision(labels), abs=1e-9)


@pytest.mark.parametrize("retrieved,reference", [(["a", "b", "c"], ["a", "c", "z"]), (["x"], ["a"]),
                                                 (["a", "a"], ["a"])])
def test_context_recall_matches_ragas(retrieved, reference):
    theirs = asyncio.run(IDBasedContextRecall().single_turn_ascore(
        SingleTurnSample(retrieved_context_ids=retrieved, reference_context_ids=reference)))
    assert context_recall_score(retrieved, {doc: 1.0 for doc in reference}) == pytest.approx(theirs)


@pytest.mark.parametrize("verdicts", [[1, 0, 1], [0], [1, 1, 1, 1], [0, 0, 1, 0]])
def test_faithfulness_formula_matches_ragas(verdicts):
    from ragas.metrics.collections import Faithfulness

    output = NLIStatementOutput(statements=[StatementFaithfulnessAnswer(statement=f"s{i}", reason="r", verdict=v)
                                            for i, v in enumerate(verdicts)])
    theirs = Faithfulness(llm=CairnRagasLLM(FakeLLM()))._compute_score(output)
    assert faithfulness_score([bool(v) for v in verdicts]) == pytest.approx(theirs)
    assert not math.isnan(theirs)


# -- agreement statistics (evals/ragas_agreement.py) ---------------------------------------------------

XS, YS = [1.0, 0.5, 0.0, 1.0], [0.8, 0.6, 0.2, 0.4]


def test_agreement_statistics_by_hand():
    from evals.calibration import average_ranks as ranks
    from evals.ragas_agreement import agreement

    # Pearson: deviations x (.375, -.125, -.625, .375), y (.3, .1, -.3, -.1): Σxy = .25,
    # Σx² = .6875, Σy² = .2 -> r = .25 / sqrt(.1375) = .6742
    # Spearman: ranks x (3.5, 2, 1, 3.5) (a tie shares 3 and 4), y (4, 3, 1, 2) -> 3 / sqrt(4.5 * 5) = .6325
    # binarised at .5: x (1, 1, 0, 1), y (1, 1, 0, 0) -> 3/4 agree; MAD = (.2 + .1 + .2 + .6) / 4 = .275
    assert ranks(XS) == [3.5, 2.0, 1.0, 3.5]
    stats = agreement(XS, YS)
    assert stats["n"] == 4
    assert stats["pearson"] == pytest.approx(0.25 / math.sqrt(0.1375))
    assert stats["spearman"] == pytest.approx(3 / math.sqrt(22.5))
    assert stats["agreement"] == 0.75 and stats["mad"] == pytest.approx(0.275)


def test_agreement_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    from evals.calibration import pearson_r as pearson, spearman_rho as spearman

    assert pearson(XS, YS) == pytest.approx(stats.pearsonr(XS, YS)[0])
    assert spearman(XS, YS) == pytest.approx(stats.spearmanr(XS, YS)[0])


def test_undefined_statistics_are_none_not_nan():
    from evals.ragas_agreement import agreement, format_table

    stats = agreement([1.0, 1.0, 1.0], [1.0, 0.5, 1.0])  # one side constant: no correlation
    assert stats["pearson"] is None and stats["spearman"] is None and stats["agreement"] == 1.0
    empty = agreement([], [])
    assert empty == {"n": 0.0, "pearson": None, "spearman": None, "agreement": None, "mad": None}
    table = format_table({"faithfulness": (stats, 2)})
    assert "n/a" in table and "nan" not in table.lower()


def test_paired_keeps_rows_both_sides_scored(tmp_path):
    from evals.ragas_agreement import load_samples, paired

    ours = [{"faithfulness": 1.0}, {"faithfulness_abstained": 1.0}, {"faithfulness": 0.5}, {}]
    theirs = [{"ragas_faithfulness": 0.5}, {"ragas_faithfulness": 1.0}, {"ragas_faithfulness": 0.0}, {}]
    assert paired(ours, theirs, "faithfulness", "ragas_faithfulness") == ([1.0, 0.5], [0.5, 0.0], 2)
    with pytest.raises(ValueError, match="same samples"):
        paired(ours, theirs[:1], "faithfulness", "ragas_faithfulness")
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps({"sample": sample("A [1].").to_dict()}) + "\n\n")
    assert load_samples(path) == [sample("A [1].")]
