"""Precision@k: the share of the top k results that are relevant (grade > 0). The
denominator is k even when fewer than k results came back: an empty slot is a miss."""
from __future__ import annotations

from typing import Sequence

from .relevance import Relevance, check_k


def precision_at_k(retrieved: Sequence[str], relevant: Relevance, k: int) -> float:
    check_k(k)
    return sum(1 for doc in retrieved[:k] if relevant.get(doc, 0) > 0) / k
