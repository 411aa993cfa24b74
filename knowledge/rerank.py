"""Second-stage reranking without a cross-encoder (none can be had offline, DESIGN.md §4):
re-score the fused candidates with a second, stronger bi-encoder (all-mpnet-base-v2) and
either replace the order ("replace") or fuse the new order with the first-stage one by RRF
("fuse", which keeps BM25's exact-match evidence). `cairn search-eval` measures both against
no reranking on the golden set; the default config keeps reranking off unless it wins.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

from .config import KnowledgeConfig
from .embedder import Embedder, load_embedder
from .fusion import reciprocal_rank_fusion

RerankMode = Literal["replace", "fuse"]


def cosine_scores(query_vec: np.ndarray, cand_vecs: np.ndarray) -> np.ndarray:
    """(dim,), (n, dim) L2-normalised -> (n,) cosine similarities."""
    return cand_vecs @ query_vec


@dataclass
class EmbeddingReranker:
    embedder: Embedder
    mode: RerankMode = "fuse"
    rrf_k: int = 60

    def __post_init__(self) -> None:
        if self.mode not in ("replace", "fuse"):
            raise ValueError(f"rerank mode must be 'replace' or 'fuse', got {self.mode!r}")

    def rerank(self, query: str, candidates: Sequence[tuple[str, str]]) -> list[tuple[str, float]]:
        """candidates: best-first (chunk_id, text). Returns best-first (chunk_id, score)."""
        if not candidates:
            return []
        vecs = self.embedder.encode([query, *[text for _, text in candidates]])
        scores = cosine_scores(vecs[0], vecs[1:])
        order = np.argsort(-scores, kind="stable")
        rescored = [(candidates[i][0], float(scores[i])) for i in order]
        if self.mode == "replace":
            return rescored
        first_stage = [cid for cid, _ in candidates]
        return reciprocal_rank_fusion([first_stage, [cid for cid, _ in rescored]], k=self.rrf_k)


def reranker_from_config(config: KnowledgeConfig, mode: RerankMode = "fuse") -> EmbeddingReranker:
    """The configured reranking embedder (mpnet unless `rerank_embedder` names another)."""
    embedder = load_embedder(config.rerank_embedder or "mpnet", torch_threads=config.torch_threads,
                             dtype=config.embed_dtype)
    return EmbeddingReranker(embedder, mode=mode, rrf_k=config.rrf_k)
