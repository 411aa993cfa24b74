"""Evaluation metrics, one per file, every member of a family with the same signature.

Retrieval metrics: `metric(retrieved: Sequence[str], relevant: Relevance, k: int) -> float`,
`retrieved` best-first document ids, `relevant` ids -> graded relevance (> 0 is relevant).
"""
from .relevance import Relevance, as_relevance
from .precision_at_k import precision_at_k
from .recall_at_k import recall_at_k
from .mrr import mrr
from .ndcg import ndcg_at_k

RETRIEVAL_METRICS = {"precision@k": precision_at_k, "recall@k": recall_at_k, "mrr": mrr, "ndcg@k": ndcg_at_k}

__all__ = ["Relevance", "as_relevance", "precision_at_k", "recall_at_k", "mrr", "ndcg_at_k", "RETRIEVAL_METRICS"]
