"""A read-only, row-aligned snapshot of one collection at one docstore version: chunk ids
in corpus order, their metadata as columns (for filter masks), and — loaded on first need —
their vectors. BM25 rows use the same order, so a filter mask serves both retrievers.

Why filtered dense search lives here and not in Chroma: a Chroma `where` clause costs
~280 ms at 200k chunks (measured; DESIGN.md §6 saw 90-130 ms at 100k), 18x an unfiltered
query. Instead the filter becomes a mask over the columns (about a millisecond), then
  - a selective filter (<= exact_rows rows) is scored exactly: (rows, dim) @ (dim,);
  - a broad one over-fetches from Chroma's HNSW (k / selectivity, doubled) and keeps the
    rows the mask allows, falling back to the exact scan if too few survive.
Both give the same semantics as the BM25 mask (filters.matches is the reference).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .columns import MetadataColumns
from .docstore import DocStore
from .filters import Filter


class CorpusView:
    def __init__(self, store: DocStore, collection: str, dim: int) -> None:
        self.version = store.version
        self.chunk_ids, metadatas = store.corpus_metadata()
        self.row_of = {cid: row for row, cid in enumerate(self.chunk_ids)}
        self.columns = MetadataColumns(metadatas, collection)
        self._store, self._dim = store, dim
        self._vectors: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.chunk_ids)

    @property
    def vectors(self) -> np.ndarray:
        """(n_chunks, dim) float32, read from the docstore (float16 there) on first use.
        Widened once here because numpy's per-query float16 -> float32 conversion of the
        selected rows cost ~8 ms of a ~10 ms exact scan (13k rows, measured); the price is
        4 bytes x dim per chunk of memory (307 MB at 200k MiniLM chunks)."""
        if self._vectors is None:
            self._vectors = self._store.corpus_vectors(self._dim, self.chunk_ids).astype(np.float32)
        return self._vectors

    def mask(self, filters: Sequence[Filter]) -> np.ndarray | None:
        return self.columns.mask(filters)

    def exact_search(self, query: np.ndarray, rows: np.ndarray, k: int) -> list[tuple[str, float]]:
        """Cosine over the given rows: (len(rows), dim) @ (dim,), best-first top k."""
        if len(rows) == 0:
            return []
        scores = self.vectors[rows] @ query.astype(np.float32)
        k = min(k, len(rows))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.chunk_ids[int(rows[i])], float(scores[i])) for i in top]


def filtered_dense(view: CorpusView, hnsw_query, query: np.ndarray, k: int, mask: np.ndarray | None, *,
                   exact_rows: int) -> list[tuple[str, float]]:
    """Dense top-k restricted to the rows `mask` (from `view.mask(filters)`) allows.

    hnsw_query(vector, n) -> best-first (chunk_id, score) from the approximate index."""
    if mask is None:
        return hnsw_query(query, k)
    rows = np.flatnonzero(mask)
    if len(rows) <= exact_rows:
        return view.exact_search(query, rows, k)
    fetch = min(len(view), math.ceil(2 * k * len(view) / len(rows)))
    kept = [(cid, s) for cid, s in hnsw_query(query, fetch) if cid in view.row_of and mask[view.row_of[cid]]]
    if len(kept) >= k:
        return kept[:k]
    return view.exact_search(query, rows, k)
