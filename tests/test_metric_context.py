"""Context precision (RAGAS' rank-weighted average precision) and context recall from golden ids."""
import pytest

from evals.metrics.context import (
    context,
    context_precision_score,
    context_recall_score,
    relevance_labels,
)
from evals.sample import AnswerSample


def sample(context_ids, relevant, answerable=True):
    return AnswerSample(case_id="c1", question="q", collection="catalog", answer="a", refused=False,
                        contexts=tuple(f"text of {d}" for d in context_ids), context_ids=tuple(context_ids),
                        relevant=relevant, answerable=answerable)


def test_precision_on_a_four_item_ranking_by_hand():
    # ranks 1..4 = [rel, not, rel, not]: precision@1 = 1, precision@3 = 2/3 -> (1 + 2/3) / 2 = 5/6
    assert context_precision_score([1, 0, 1, 0]) == pytest.approx(5 / 6)
    # [not, rel, rel, rel]: (1/2 + 2/3 + 3/4) / 3 = 23/36
    assert context_precision_score([0, 1, 1, 1]) == pytest.approx(23 / 36)
    assert context_precision_score([1, 1, 0, 0]) == 1.0  # relevant first: perfect, whatever follows
    assert context_precision_score([0, 0, 0, 0]) == 0.0
    assert context_precision_score([]) is None
    with pytest.raises(ValueError, match="must be 0 or 1"):
        context_precision_score([2])


def test_labels_and_recall():
    relevant = {"d1": 1.0, "d3": 2.0, "d9": 1.0, "d0": 0.0}
    assert relevance_labels(["d1", "d2", "d3", "d0"], relevant) == [1, 0, 1, 0]  # grade 0 is not relevant
    assert context_recall_score(["d1", "d2", "d3", "d1"], relevant) == pytest.approx(2 / 3)  # d9 missed
    assert context_recall_score(["d1"], {"d0": 0.0}) is None


def test_metric():
    out = context(sample(["d1", "d2", "d3", "d4"], {"d1": 1.0, "d3": 1.0, "d9": 1.0}))
    assert out == {"context_precision": pytest.approx(5 / 6), "context_recall": pytest.approx(2 / 3)}
    # two chunks of one relevant document are both relevant; recall counts the document once
    assert context(sample(["d1", "d1", "d2"], {"d1": 1.0})) == {"context_precision": 1.0, "context_recall": 1.0}
    assert context(sample([], {"d1": 1.0})) == {"context_recall": 0.0}


def test_omitted_without_labels():
    assert context(sample(["d1", "d2"], {}, answerable=False)) == {}


def test_contexts_and_ids_must_pair_up():
    bad = AnswerSample(case_id="c1", question="q", collection="catalog", answer="a", refused=False,
                       contexts=("x", "y"), context_ids=("d1",), relevant={"d1": 1.0})
    with pytest.raises(ValueError, match="must pair up"):
        context(bad)
