"""Reciprocal-rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009): combine rankings from
retrievers whose scores are not comparable (cosine vs BM25) by rank alone:

    RRF(d) = sum over rankings r containing d of  w_r / (k + rank_r(d)),   rank from 1

k = 60 dampens the head so one retriever's first place does not dominate; the paper found
results insensitive to k in 10..100. Ties break by first appearance for determinism.
"""
from __future__ import annotations

from typing import Hashable, Sequence, TypeVar

T = TypeVar("T", bound=Hashable)


def reciprocal_rank_fusion(rankings: Sequence[Sequence[T]], *, k: int = 60,
                           weights: Sequence[float] | None = None) -> list[tuple[T, float]]:
    """rankings: best-first id lists (a duplicate inside one list is dropped, so
    ranks count distinct items).
    Returns (id, fused score) best-first."""
    if k <= 0:
        raise ValueError(f"RRF constant k must be positive, got {k}")
    if weights is None:
        weights = [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError(f"got {len(weights)} weights for {len(rankings)} rankings; give one weight per ranking")
    scores: dict[T, float] = {}
    first_seen: dict[T, int] = {}
    for ranking, weight in zip(rankings, weights):
        seen: set[T] = set()
        for item in ranking:
            if item in seen:
                continue
            seen.add(item)
            rank = len(seen)
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
            first_seen.setdefault(item, len(first_seen))
    return sorted(scores.items(), key=lambda kv: (-kv[1], first_seen[kv[0]]))
