"""Recall@k: the share of all relevant documents (grade > 0) found in the top k. Undefined
(NaN) when nothing is relevant — an unanswerable question — so averages skip it."""
from __future__ import annotations

import math
from typing import Sequence

from .relevance import Relevance, check_k


def recall_at_k(retrieved: Sequence[str], relevant: Relevance, k: int) -> float:
    check_k(k)
    positives = {doc for doc, grade in relevant.items() if grade > 0}
    if not positives:
        return math.nan
    return len(positives.intersection(retrieved[:k])) / len(positives)
