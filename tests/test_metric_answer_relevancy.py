"""Answer relevancy (RAGAS): k generated questions, mean clipped cosine with the asked question,
hand-worked on a table embedder; refusals and missing models omitted; abstention."""
import numpy as np
import pytest

from assistant.llm.fake import FakeLLM
from evals.judge.parsing import JudgeConfigError
from evals.metrics.answer_relevancy import (
    answer_relevancy,
    mean_clipped_cosine,
    parse_questions,
    questions_schema,
)
from evals.sample import AnswerSample

QUESTION = "Who directed Rear Window?"


VECTORS = {QUESTION: [1.0, 0.0], "Who made Rear Window?": [3.0, 4.0], "What is a bicycle?": [-1.0, 0.0],
           "Which year was it?": [0.0, 2.0]}


class TableEmbedder:
    """Fixed 2-d vectors per text, so every cosine is known by hand."""

    def __init__(self):
        self.seen = []

    def encode(self, texts, **_):
        self.seen.append(list(texts))
        return np.array([VECTORS[t] for t in texts], dtype=np.float32)


def sample(answer="Rear Window was directed by Alfred Hitchcock [1].", refused=False):
    return AnswerSample(case_id="c1", question=QUESTION, collection="catalog", answer=answer, refused=refused)


def reply(*questions):
    return '{"questions": [' + ", ".join(f'"{q}"' for q in questions) + "]}"


def test_mean_clipped_cosine_by_hand():
    q = np.array([2.0, 0.0])
    # cosines 1, 0.6, -1 -> clipped 1, 0.6, 0 -> mean 1.6 / 3
    assert mean_clipped_cosine(q, np.array([[5.0, 0.0], [3.0, 4.0], [-1.0, 0.0]])) == pytest.approx(1.6 / 3)
    assert mean_clipped_cosine(q, np.array([[0.0, 0.0]])) == 0.0  # a zero vector is unrelated


def test_three_questions_hand_worked():
    judge = FakeLLM([reply("Who directed Rear Window?", "Who made Rear Window?", "What is a bicycle?")])
    embedder = TableEmbedder()
    assert answer_relevancy(sample(), judge=judge, embedder=embedder) == {"answer_relevancy": pytest.approx(1.6 / 3)}
    assert embedder.seen == [[QUESTION, "Who directed Rear Window?", "Who made Rear Window?", "What is a bicycle?"]]
    request = judge.last_request
    assert request.json_schema == questions_schema(3) and request.temperature == 0.0
    assert "[1]" not in judge.last_messages[-1]["content"]


def test_schema_and_parsing():
    schema = questions_schema(3)["properties"]["questions"]
    assert schema["minItems"] == schema["maxItems"] == 3
    assert parse_questions({"questions": ["a?", " ", "b?", "c?", "d?"]}, 3) == ["a?", "b?", "c?"]
    # An unconstrained backend may give fewer: what there is counts.
    judge = FakeLLM([reply("Which year was it?")])
    assert answer_relevancy(sample(), judge=judge, embedder=TableEmbedder()) == {"answer_relevancy": 0.0}


def test_omitted_for_refusals_and_without_models():
    judge = FakeLLM()
    assert answer_relevancy(sample("I couldn't find that in the sources.", refused=True), judge=judge,
                            embedder=TableEmbedder()) == {}
    assert answer_relevancy(sample(), judge=None, embedder=TableEmbedder()) == {}
    assert answer_relevancy(sample(), judge=judge, embedder=None) == {}
    assert judge.calls == []


def test_unparsable_reply_is_an_abstention():
    for bad in ("I think the question is who directed it.", '{"questions": []}', '{"questions": "Who?"}'):
        out = answer_relevancy(sample(), judge=FakeLLM([bad]), embedder=TableEmbedder())
        assert out == {"answer_relevancy_abstained": 1.0}


def test_k_is_checked():
    with pytest.raises(JudgeConfigError, match="positive integer"):
        answer_relevancy(sample(), judge=FakeLLM(), embedder=TableEmbedder(), k=0)
