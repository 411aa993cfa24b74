"""Retrieval quality per mode on a golden set: precision@5, recall@10, MRR@10, NDCG@10 for
dense, BM25, hybrid and hybrid+rerank, with the golden filters applied (what a perfect query
parser would extract) or not. Runs the same `knowledge.retrieve.search` the assistant uses.

Unanswerable cases have no relevant documents; they are excluded from these means (their
handling is the assistant's refusal metric) and counted in the report.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Sequence

from knowledge.filters import filters_from_dict
from knowledge.index import KnowledgeBase
from knowledge.rerank import EmbeddingReranker
from knowledge.retrieve import search

from .golden import GoldenCase
from .metrics import mrr, ndcg_at_k, precision_at_k, recall_at_k

METRICS = {
    "P@5": lambda r, rel: precision_at_k(r, rel, 5),
    "R@10": lambda r, rel: recall_at_k(r, rel, 10),
    "MRR@10": lambda r, rel: mrr(r, rel, 10),
    "NDCG@10": lambda r, rel: ndcg_at_k(r, rel, 10),
}


@dataclass(frozen=True)
class Variant:
    mode: str
    rerank: bool = False
    use_filters: bool = True

    @property
    def name(self) -> str:
        return f"{self.mode}{'+rerank' if self.rerank else ''}{'' if self.use_filters else ' (no filters)'}"


@dataclass
class VariantResult:
    variant: Variant
    per_case: dict[str, dict[str, float]] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)

    def mean(self, metric: str, cases: Sequence[GoldenCase] | None = None) -> float:
        ids = {c.id for c in cases} if cases is not None else None
        values = [m[metric] for cid, m in self.per_case.items()
                  if (ids is None or cid in ids) and not math.isnan(m[metric])]
        return statistics.fmean(values) if values else math.nan


def evaluate(kb: KnowledgeBase, cases: Sequence[GoldenCase], variants: Sequence[Variant], *,
             reranker: EmbeddingReranker | None = None, progress: bool = True) -> list[VariantResult]:
    from tqdm import tqdm

    answerable = [c for c in cases if c.answerable and c.relevant]
    results = []
    for variant in variants:
        result = VariantResult(variant)
        for case in tqdm(answerable, desc=variant.name, disable=not progress, leave=False):
            filters = filters_from_dict(case.filters, kb.collection) if variant.use_filters else []
            found = search(kb, case.question, mode=variant.mode, filters=filters, k=10,
                           reranker=reranker if variant.rerank else None)
            result.per_case[case.id] = {name: fn(found.doc_ids, case.relevant) for name, fn in METRICS.items()}
            result.latencies_ms.append(found.timings_ms["total"])
        results.append(result)
    return results


def format_table(results: Sequence[VariantResult], cases: Sequence[GoldenCase]) -> str:
    scored = [c for c in cases if c.answerable and c.relevant]
    header = f"{'mode':<28}" + "".join(f"{m:>9}" for m in METRICS) + f"{'p50 ms':>9}"
    lines = [header, "-" * len(header)]
    for r in results:
        p50 = statistics.median(r.latencies_ms) if r.latencies_ms else math.nan
        lines.append(f"{r.variant.name:<28}" + "".join(f"{r.mean(m):>9.3f}" for m in METRICS) + f"{p50:>9.1f}")
    tags = sorted({t for c in scored for t in c.tags})
    if tags and results:
        lines += ["", "NDCG@10 by tag" + "".join(f"{r.variant.name[:14]:>16}" for r in results)]
        for tag in tags:
            subset = [c for c in scored if tag in c.tags]
            lines.append(f"  {tag:<12} (n={len(subset):>2})" + "".join(f"{r.mean('NDCG@10', subset):>16.3f}" for r in results))
    lines.append(f"\n{len(scored)} answerable cases scored; {len(cases) - len(scored)} unanswerable excluded.")
    return "\n".join(lines)
