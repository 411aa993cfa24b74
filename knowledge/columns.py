"""Columnar copy of chunk metadata for filtering the BM25 corpus in vectorised numpy.

Evaluating `filters.matches` row by row costs ~1 s per query at 200k chunks; here each
scalar field is one numpy array and each list field (genres, cast) an inverted index
value -> row ids, so a filtered query costs a few vector ops. `filters.matches` stays the
reference semantics: tests check that both agree on every row.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Mapping, Sequence

import numpy as np

from .filters import SCHEMAS, Filter, _normalise_scalar

_COMPARE = {"gt": np.greater, "gte": np.greater_equal, "lt": np.less, "lte": np.less_equal}


class MetadataColumns:
    """Built once per BM25 index load; rows are in BM25 corpus order."""

    def __init__(self, metadatas: Sequence[Mapping[str, Any]], collection: str) -> None:
        self.collection = collection
        self.n = len(metadatas)
        schema = SCHEMAS[collection]
        self._scalars: dict[str, np.ndarray] = {}
        self._present: dict[str, np.ndarray] = {}
        self._codes: dict[str, dict[str, int]] = {}  # string field -> value -> integer code
        self._lists: dict[str, dict[str, np.ndarray]] = {}
        for field, kind in schema.items():
            if kind == "list":
                postings: dict[str, list[int]] = defaultdict(list)
                for row, meta in enumerate(metadatas):
                    for value in meta.get(field) or ():
                        postings[str(value).lower()].append(row)
                self._lists[field] = {v: np.asarray(rows, dtype=np.int64) for v, rows in postings.items()}
                continue
            raw = [meta.get(field) for meta in metadatas]
            present = np.fromiter((v is not None for v in raw), dtype=bool, count=self.n)
            if kind in ("int", "float", "date"):
                values = np.array([_normalise_scalar(v, kind) if v is not None else 0 for v in raw], dtype=np.float64)
            else:
                # Strings become integer codes: comparing 200k Python strings per query costs
                # ~20 ms, comparing int32 codes well under one.
                codes = self._codes[field] = {}
                values = np.fromiter((codes.setdefault(_normalise_scalar(v, kind), len(codes)) if v is not None
                                      else -1 for v in raw), dtype=np.int32, count=self.n)
            self._scalars[field], self._present[field] = values, present

    def mask(self, filters: Sequence[Filter]) -> np.ndarray | None:
        """(n,) float32 1.0/0.0 rows passing every filter (bm25s `weight_mask`); None if no filter."""
        if not filters:
            return None
        keep = np.ones(self.n, dtype=bool)
        for f in filters:
            keep &= self._one(f)
        return keep.astype(np.float32)

    def _one(self, f: Filter) -> np.ndarray:
        if f.field in self._lists:
            hit = np.zeros(self.n, dtype=bool)
            for value in f.values:
                rows = self._lists[f.field].get(value)
                if rows is not None:
                    hit[rows] = True
            return hit if f.op == "eq" else ~hit
        values, present = self._scalars[f.field], self._present[f.field]
        if f.field in self._codes:
            wanted = [self._codes[f.field][v] for v in f.values if v in self._codes[f.field]]
            hit = np.isin(values, np.array(wanted, dtype=np.int32)) & present
            return hit if f.op == "eq" else ~hit
        if f.op in ("eq", "ne"):
            hit = np.isin(values, np.array(f.values, dtype=values.dtype)) & present
            return hit if f.op == "eq" else ~hit
        return _COMPARE[f.op](values, f.values[0]) & present
