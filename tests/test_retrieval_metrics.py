"""Retrieval metrics: hand-worked numbers and parity with scikit-learn's ndcg_score."""
import math

import numpy as np
import pytest

from evals.metrics import as_relevance, mrr, ndcg_at_k, precision_at_k, recall_at_k

RETRIEVED = ["d1", "d2", "d3", "d4", "d5"]
REL = as_relevance(["d2", "d4", "d9"])


def test_precision_recall_by_hand():
    assert precision_at_k(RETRIEVED, REL, 1) == 0.0
    assert precision_at_k(RETRIEVED, REL, 2) == 0.5
    assert precision_at_k(RETRIEVED, REL, 5) == pytest.approx(2 / 5)
    assert precision_at_k(["d2"], REL, 5) == pytest.approx(1 / 5)  # empty slots are misses
    assert recall_at_k(RETRIEVED, REL, 2) == pytest.approx(1 / 3)
    assert recall_at_k(RETRIEVED, REL, 5) == pytest.approx(2 / 3)


def test_mrr_by_hand():
    assert mrr(RETRIEVED, REL, 10) == 0.5
    assert mrr(RETRIEVED, REL, 1) == 0.0
    assert mrr(["d4", "d2"], REL, 10) == 1.0


def test_ndcg_by_hand_graded():
    rel = as_relevance({"a": 2, "b": 1, "c": 1})
    # ranking: x, a, c -> DCG = 0 + 2/log2(3) + 1/log2(4) ; ideal: a, b, c -> 2 + 1/log2(3) + 1/2
    expected = (2 / math.log2(3) + 0.5) / (2 + 1 / math.log2(3) + 0.5)
    assert ndcg_at_k(["x", "a", "c"], rel, 3) == pytest.approx(expected)
    assert ndcg_at_k(["a", "b", "c"], rel, 3) == pytest.approx(1.0)
    assert ndcg_at_k(["a", "a", "a"], rel, 3) == pytest.approx(2 / (2 + 1 / math.log2(3) + 0.5))


def test_unanswerable_is_nan_not_zero():
    none = as_relevance([])
    for metric in (recall_at_k, mrr, ndcg_at_k):
        assert math.isnan(metric(RETRIEVED, none, 10))
    assert precision_at_k(RETRIEVED, none, 10) == 0.0


def test_bad_arguments():
    with pytest.raises(ValueError, match="k must be a positive integer"):
        precision_at_k(RETRIEVED, REL, 0)
    with pytest.raises(ValueError, match="grades must be >= 0"):
        as_relevance({"a": -1})


def test_ndcg_parity_with_sklearn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    for trial in range(200):
        n = int(rng.integers(3, 30))
        docs = [f"d{i}" for i in range(n)]
        grades = rng.integers(0, 4, size=n).astype(float)
        if grades.sum() == 0:
            grades[0] = 1
        scores = rng.permutation(n).astype(float)  # distinct scores: no tie-averaging ambiguity
        ranking = [docs[i] for i in np.argsort(-scores)]
        k = int(rng.integers(1, n + 1))
        ours = ndcg_at_k(ranking, dict(zip(docs, grades)), k)
        theirs = sklearn_metrics.ndcg_score([grades], [scores], k=k)
        assert ours == pytest.approx(theirs, abs=1e-9), trial
