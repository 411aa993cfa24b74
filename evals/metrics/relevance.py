"""Relevance judgments as golden sets write them: a list of ids (binary) or {id: grade}."""
from __future__ import annotations

from typing import Mapping, Sequence, Union

Relevance = Mapping[str, float]


def as_relevance(judgments: Union[Sequence[str], Mapping[str, float]]) -> dict[str, float]:
    """["a", "b"] -> {"a": 1.0, "b": 1.0}; {"a": 2} -> {"a": 2.0}. Grades must be >= 0."""
    if isinstance(judgments, Mapping):
        out = {str(k): float(v) for k, v in judgments.items()}
    else:
        out = {str(k): 1.0 for k in judgments}
    bad = {k: v for k, v in out.items() if v < 0}
    if bad:
        raise ValueError(f"relevance grades must be >= 0, got {bad}")
    return out


def check_k(k: int) -> None:
    if k <= 0:
        raise ValueError(f"k must be a positive integer, got {k}")
