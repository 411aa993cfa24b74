"""Context precision and context recall of the contexts an answer was given, as the ragas
library defines them (`NonLLMContextPrecisionWithReference`, `IDBasedContextRecall`; the RAGAS
paper, Es et al. 2023, scores context relevance by sentence extraction instead), with the
golden `relevant` ids as the relevance labels, so no judge is needed:

    rel_k = 1 if context k (rank order, 1-based) comes from a golden relevant doc (grade > 0)
    context_precision = Σ_k precision@k · rel_k / Σ_k rel_k        over k = 1..K contexts
                      = the mean of precision@k over the ranks k that hold a relevant context
                        (average precision of the ranking; 0 when none is relevant)
    context_recall    = |golden relevant doc ids among the context doc ids| / |golden relevant ids|

Example, ranking [rel, not, rel, not]: (1/1 · 1 + 2/3 · 1) / 2 = 5/6.
A context is a chunk, so two chunks of one relevant document are both relevant (precision is
over the ranking the model saw); recall counts documents. Both scores are omitted when the
golden case has no relevant ids (unanswerable, or unlabelled); precision also when there are
no contexts. Refusals are scored too: retrieval happened whatever the model then said.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.llm.base import ChatLLM
    from evals.sample import AnswerSample


def relevance_labels(context_ids: Sequence[str], relevant: Mapping[str, float]) -> list[int]:
    """rel_k per context: 1 when its doc id has a golden grade > 0."""
    return [int(relevant.get(doc, 0) > 0) for doc in context_ids]


def context_precision_score(labels: Sequence[int]) -> float | None:
    """Σ_k precision@k · rel_k / Σ_k rel_k for 0/1 labels in rank order; 0.0 when no label is 1,
    None for an empty ranking."""
    if not labels:
        return None
    hits, total = 0, 0.0
    for k, rel in enumerate(labels, start=1):
        if rel not in (0, 1):
            raise ValueError(f"relevance label {rel!r} at rank {k} must be 0 or 1")
        hits += rel
        total += hits / k * rel
    return total / hits if hits else 0.0


def context_recall_score(context_ids: Sequence[str], relevant: Mapping[str, float]) -> float | None:
    """Share of golden relevant doc ids (grade > 0) that appear among `context_ids`; None when
    there are none to find."""
    wanted = {doc for doc, grade in relevant.items() if grade > 0}
    if not wanted:
        return None
    return len(wanted & set(context_ids)) / len(wanted)


def context(sample: AnswerSample, *, judge: ChatLLM | None = None, embedder=None) -> dict[str, float]:
    """`context_precision` and `context_recall` from the golden labels; judge and embedder unused."""
    if len(sample.context_ids) != len(sample.contexts):
        raise ValueError(f"sample {sample.case_id!r} has {len(sample.contexts)} contexts but "
                         f"{len(sample.context_ids)} context_ids; they must pair up (source n = both [n - 1])")
    out: dict[str, float] = {}
    recall = context_recall_score(sample.context_ids, sample.relevant)
    if recall is None:
        return out
    precision = context_precision_score(relevance_labels(sample.context_ids, sample.relevant))
    if precision is not None:
        out["context_precision"] = precision
    out["context_recall"] = recall
    return out
