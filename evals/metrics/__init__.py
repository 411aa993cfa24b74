"""Evaluation metrics, one per file, every member of a family with the same signature.

Retrieval metrics: `metric(retrieved: Sequence[str], relevant: Relevance, k: int) -> float`,
`retrieved` best-first document ids, `relevant` ids -> graded relevance (> 0 is relevant).
"""
from .relevance import Relevance, as_relevance
from .precision_at_k import precision_at_k
from .recall_at_k import recall_at_k
from .mrr import mrr
from .ndcg import ndcg_at_k
from .rouge import rouge
from .bleu import bleu, corpus_bleu, tokenize_13a
from .extraction import corpus_extraction_scores, extraction_counts, extraction_scores
from .refusal import is_refusal, refusal_accuracy

RETRIEVAL_METRICS = {"precision@k": precision_at_k, "recall@k": recall_at_k, "mrr": mrr, "ndcg@k": ndcg_at_k}
# Generation metrics: metric(prediction, reference) -> dict[str, float]. BERTScore has the same
# call shape but loads a model: import it from evals.metrics.bertscore (keeps torch out of here).
GENERATION_METRICS = {"rouge": rouge, "bleu": bleu}

__all__ = ["Relevance", "as_relevance", "precision_at_k", "recall_at_k", "mrr", "ndcg_at_k", "RETRIEVAL_METRICS",
           "rouge", "bleu", "corpus_bleu", "tokenize_13a", "GENERATION_METRICS", "extraction_scores",
           "corpus_extraction_scores", "extraction_counts", "is_refusal", "refusal_accuracy"]

# Answer-level metrics: metric(sample: AnswerSample, *, judge=None, embedder=None) -> dict[str, float]
# (evals/sample.py): scores in [0, 1], inapplicable ones left out, `<name>_abstained` for a silent judge.
from .faithfulness import faithfulness
from .citation import citation
from .answer_relevancy import answer_relevancy
from .context import context
from .correctness import correctness

ANSWER_METRICS = {"faithfulness": faithfulness, "citation": citation, "answer_relevancy": answer_relevancy,
                  "context": context, "correctness": correctness}
__all__ += ["faithfulness", "citation", "answer_relevancy", "context", "correctness", "ANSWER_METRICS"]
