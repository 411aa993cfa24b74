"""Reciprocal rank of the first relevant result within the top k (0 if none); its mean over
queries is MRR (Voorhees, TREC-8 QA track, 1999). NaN when nothing is relevant."""
from __future__ import annotations

import math
from typing import Sequence

from .relevance import Relevance, check_k


def mrr(retrieved: Sequence[str], relevant: Relevance, k: int) -> float:
    check_k(k)
    if not any(grade > 0 for grade in relevant.values()):
        return math.nan
    for rank, doc in enumerate(retrieved[:k], start=1):
        if relevant.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0
