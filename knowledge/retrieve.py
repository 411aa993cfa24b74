"""Retrieval over one collection: dense (Chroma), lexical (BM25) or hybrid (both, fused by
reciprocal rank), then an optional embedding reranker, then one hit per document.

Filters apply inside each retriever (a pre-filter for dense, a weight mask for BM25) rather
than after the top-k cut, so a selective filter never empties the result. In hybrid mode
BM25 runs on a second thread while the query is embedded and searched: both release the GIL
in their numeric kernels, so on 2 cores the lexical leg costs almost nothing extra.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Sequence

from .config import RETRIEVAL_MODES
from .errors import KnowledgeError
from .corpus import filtered_dense
from .filters import Filter
from .fusion import reciprocal_rank_fusion
from .index import KnowledgeBase
from .rerank import EmbeddingReranker
from .types import Hit


@dataclass
class SearchResult:
    query: str
    mode: str
    hits: list[Hit]
    filters: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def doc_ids(self) -> list[str]:
        return [h.doc_id for h in self.hits]


def search(kb: KnowledgeBase, query: str, *, mode: str = "hybrid", filters: Sequence[Filter] = (), k: int = 10,
           reranker: EmbeddingReranker | None = None, per_doc: bool = True) -> SearchResult:
    if mode not in RETRIEVAL_MODES:
        raise KnowledgeError(f"unknown retrieval mode {mode!r}; use one of {', '.join(RETRIEVAL_MODES)}")
    if not query.strip():
        raise KnowledgeError("empty query; give some words to search for")
    cfg, timings = kb.config, {}
    kb.refresh()
    rankings: dict[str, list[tuple[str, float]]] = {}
    view = kb.view() if filters or mode != "dense" else None
    start = time.perf_counter()
    mask = view.mask(filters) if filters else None  # once per query, shared by both retrievers

    def lexical() -> list[tuple[str, float]]:
        t = time.perf_counter()
        found = kb.bm25().search(query, cfg.bm25_k, view, mask)
        timings["bm25"] = _ms(t)
        return found

    pending = _LEXICAL.submit(lexical) if mode == "hybrid" else None
    if mode in ("dense", "hybrid"):
        embedder, chroma = kb.embedder, kb.chroma  # first use loads them: not query latency
        t = time.perf_counter()
        vector = embedder.encode([query])[0]
        timings["embed"] = _ms(t)
        t = time.perf_counter()
        if filters:
            rankings["dense"] = filtered_dense(view, chroma.query, vector, cfg.dense_k, mask,
                                               exact_rows=cfg.exact_rows)
        else:
            rankings["dense"] = chroma.query(vector, cfg.dense_k)
        timings["dense"] = _ms(t)
    if mode == "bm25":
        rankings["bm25"] = lexical()
    elif pending is not None:
        rankings["bm25"] = pending.result()

    t = time.perf_counter()
    if mode == "hybrid":
        fused = reciprocal_rank_fusion([[cid for cid, _ in rankings[name]] for name in ("dense", "bm25")],
                                       k=cfg.rrf_k, weights=[1.0, cfg.bm25_weight])
    else:
        fused = rankings[mode]
    timings["fuse"] = _ms(t)

    # Chunks are fetched once, for the candidates that can still make the cut.
    depth = max(cfg.rerank_k if reranker else 0, k * 4 if per_doc else k)
    chunks = kb.store.get_chunks([cid for cid, _ in fused[:depth]])
    candidates = [(cid, score) for cid, score in fused[:depth] if cid in chunks]
    if reranker is not None:
        t = time.perf_counter()
        head = candidates[:cfg.rerank_k]
        candidates = reranker.rerank(query, [(cid, chunks[cid].text) for cid, _ in head]) + candidates[cfg.rerank_k:]
        timings["rerank"] = _ms(t)

    stage_ranks = {name: {cid: i + 1 for i, (cid, _) in enumerate(r)} for name, r in rankings.items()}
    hits: list[Hit] = []
    seen_docs: set[str] = set()
    for cid, score in candidates:
        chunk = chunks[cid]
        if per_doc and chunk.doc_id in seen_docs:
            continue
        seen_docs.add(chunk.doc_id)
        hits.append(Hit(chunk=chunk, score=score,
                        ranks={name: ranks[cid] for name, ranks in stage_ranks.items() if cid in ranks}))
        if len(hits) == k:
            break
    timings["total"] = _ms(start)
    return SearchResult(query=query, mode=mode, hits=hits, filters=[f.describe() for f in filters], timings_ms=timings)


# One worker: the BM25 leg of a query overlaps its own embedding. On 2 cores more workers
# would only contend; concurrent searches queue here and each waits for its own result.
_LEXICAL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cairn-bm25")


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0
