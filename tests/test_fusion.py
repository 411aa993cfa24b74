"""Reciprocal-rank fusion against hand-worked numbers."""
import pytest

from knowledge.fusion import reciprocal_rank_fusion


def test_hand_worked_two_rankings():
    # k=60. a: 1/61 + 1/63; b: 1/62 + 1/61; c: 1/63; d: 1/62
    fused = dict(reciprocal_rank_fusion([["a", "b", "c"], ["b", "d", "a"]], k=60))
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 63)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["c"] == pytest.approx(1 / 63)
    assert fused["d"] == pytest.approx(1 / 62)


def test_order_and_ties_are_deterministic():
    ranked = reciprocal_rank_fusion([["a", "b"], ["b", "a"]], k=1)
    # a: 1/2 + 1/3, b: 1/3 + 1/2 -> tie broken by first appearance
    assert [d for d, _ in ranked] == ["a", "b"]
    ranked = reciprocal_rank_fusion([["x", "y", "z"], ["z"]], k=1)
    # x: 1/2, y: 1/3, z: 1/4 + 1/2 = 0.75
    assert [d for d, _ in ranked] == ["z", "x", "y"]


def test_weights_and_duplicates():
    fused = dict(reciprocal_rank_fusion([["a", "a", "b"], ["b"]], k=10, weights=[2.0, 1.0]))
    assert fused["a"] == pytest.approx(2 / 11)           # the duplicate counts once, at rank 1
    assert fused["b"] == pytest.approx(2 / 12 + 1 / 11)  # rank 2 once the duplicate is dropped


def test_bad_arguments():
    with pytest.raises(ValueError, match="k must be positive"):
        reciprocal_rank_fusion([["a"]], k=0)
    with pytest.raises(ValueError, match="one weight per ranking"):
        reciprocal_rank_fusion([["a"], ["b"]], weights=[1.0])
