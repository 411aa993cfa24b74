"""NDCG@k with graded relevance (Järvelin & Kekäläinen, 2002), linear gain as in trec_eval
and scikit-learn's `ndcg_score`:

    DCG@k  = sum_{i=1..k} rel_i / log2(i + 1)
    NDCG@k = DCG@k / IDCG@k,  IDCG@k = DCG@k of the ideal (grade-sorted) ranking

NaN when nothing is relevant (IDCG = 0). A document retrieved twice counts once.
"""
from __future__ import annotations

import math
from typing import Sequence

from .relevance import Relevance, check_k


def dcg(gains: Sequence[float]) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg_at_k(retrieved: Sequence[str], relevant: Relevance, k: int) -> float:
    check_k(k)
    ideal = dcg(sorted((g for g in relevant.values() if g > 0), reverse=True)[:k])
    if ideal == 0:
        return math.nan
    seen: set[str] = set()
    gains = []
    for doc in retrieved[:k]:
        gains.append(0.0 if doc in seen else relevant.get(doc, 0.0))
        seen.add(doc)
    return dcg(gains) / ideal
