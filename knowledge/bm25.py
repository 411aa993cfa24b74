"""The lexical index: BM25 (Robertson & Zaragoza, 2009) over chunk texts with bm25s, which
precomputes every document-term score into a sparse matrix so a query is a column gather
plus a top-k, milliseconds at 200k chunks.

bm25s has no incremental add, so the index is rebuilt from the docstore whenever the
docstore's version — (index id, generation) — moved on (indexing 200k short chunks takes
seconds, far less than embedding them). It is saved stamped with the version it reflects; a
stale or half-written copy is simply rebuilt, never trusted.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Sequence

import numpy as np

from .corpus import CorpusView
from .docstore import DocStore

_STAMP = "cairn_stamp.json"


def _tokenize(texts: Sequence[str], *, as_ids: bool = True):
    import bm25s
    import Stemmer

    # English Snowball stemming + stopwords: "documentaries" matches "documentary". Queries
    # are tokenized to strings (as_ids=False) so they map onto the index's own vocabulary.
    return bm25s.tokenize(list(texts), stopwords="en", stemmer=Stemmer.Stemmer("english"),
                          return_ids=as_ids, show_progress=False)


class BM25Index:
    """bm25s over the chunk texts, rows in corpus order (the CorpusView of the same version)."""

    def __init__(self, retriever, n_rows: int, version: tuple[str, int]) -> None:
        self.retriever, self.n_rows, self.version = retriever, n_rows, version

    @classmethod
    def build(cls, store: DocStore) -> "BM25Index":
        import bm25s

        version = store.version
        texts = [c.text for c in store.iter_chunks()]
        retriever = bm25s.BM25()
        if texts:
            retriever.index(_tokenize(texts), show_progress=False)
        return cls(retriever, len(texts), version)

    def save(self, directory: Path) -> None:
        tmp = directory.with_name(directory.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self.n_rows:
            self.retriever.save(str(tmp), show_progress=False)
        # The stamp is written last: a directory without it is incomplete.
        (tmp / _STAMP).write_text(json.dumps({"version": list(self.version), "n": self.n_rows}))
        shutil.rmtree(directory, ignore_errors=True)
        tmp.rename(directory)

    @classmethod
    def load_or_build(cls, directory: Path, store: DocStore) -> "BM25Index":
        """The saved index if it reflects the docstore's current version, else a rebuild (saved)."""
        import bm25s

        stamp_file = directory / _STAMP
        if stamp_file.exists():
            stamp = json.loads(stamp_file.read_text())
            if tuple(stamp.get("version", ())) == store.version:
                n = int(stamp["n"])
                retriever = bm25s.BM25.load(str(directory), show_progress=False) if n else bm25s.BM25()
                return cls(retriever, n, store.version)
        index = cls.build(store)
        index.save(directory)
        return index

    def search(self, query: str, k: int, view: CorpusView, mask: np.ndarray | None = None) -> list[tuple[str, float]]:
        """Best-first (chunk_id, BM25 score); only chunks with a positive score that `mask`
        (from `view.mask(filters)`, None = all) allows."""
        assert view.version == self.version and len(view) == self.n_rows, "BM25 and corpus view out of step"
        if not self.n_rows:
            return []
        tokens = [[t for t in _tokenize([query], as_ids=False)[0] if t in self.retriever.vocab_dict]]
        if not tokens[0]:
            return []
        k = min(k, self.n_rows)
        docs, scores = self.retriever.retrieve(tokens, k=k, show_progress=False, weight_mask=mask, n_threads=0)
        return [(view.chunk_ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]
