"""The lexical index: BM25 (Robertson & Zaragoza, 2009) over chunk texts with bm25s, which
precomputes every document-term score into a sparse matrix so a query is a column gather
plus a top-k, milliseconds at 200k chunks.

bm25s has no incremental add, so the index is rebuilt from the docstore whenever the
docstore's generation moved on (indexing 200k short chunks takes seconds, far less than
embedding them). It is saved with the generation it reflects; a stale or half-written copy
is simply rebuilt, never trusted.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Sequence

import numpy as np

from .columns import MetadataColumns
from .docstore import DocStore
from .filters import Filter

_STAMP = "cairn_stamp.json"


def _tokenize(texts: Sequence[str], *, as_ids: bool = True):
    import bm25s
    import Stemmer

    # English Snowball stemming + stopwords: "documentaries" matches "documentary". Queries
    # are tokenized to strings (as_ids=False) so they map onto the index's own vocabulary.
    return bm25s.tokenize(list(texts), stopwords="en", stemmer=Stemmer.Stemmer("english"),
                          return_ids=as_ids, show_progress=False)


class BM25Index:
    def __init__(self, retriever, chunk_ids: list[str], columns: MetadataColumns, generation: int) -> None:
        self.retriever, self.chunk_ids, self.columns, self.generation = retriever, chunk_ids, columns, generation

    @classmethod
    def build(cls, store: DocStore, collection: str) -> "BM25Index":
        import bm25s

        generation = store.generation
        chunks = list(store.iter_chunks())
        retriever = bm25s.BM25()
        if chunks:
            retriever.index(_tokenize([c.text for c in chunks]), show_progress=False)
        return cls(retriever, [c.id for c in chunks], MetadataColumns([c.metadata for c in chunks], collection), generation)

    def save(self, directory: Path) -> None:
        tmp = directory.with_name(directory.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self.chunk_ids:
            self.retriever.save(str(tmp), show_progress=False)
        (tmp / "chunk_ids.json").write_text(json.dumps(self.chunk_ids))
        # The stamp is written last: a directory without it is incomplete.
        (tmp / _STAMP).write_text(json.dumps({"generation": self.generation, "n": len(self.chunk_ids)}))
        shutil.rmtree(directory, ignore_errors=True)
        tmp.rename(directory)

    @classmethod
    def load_or_build(cls, directory: Path, store: DocStore, collection: str) -> "BM25Index":
        """The saved index if it reflects the docstore's current generation, else a rebuild (saved)."""
        import bm25s

        stamp_file = directory / _STAMP
        if stamp_file.exists():
            stamp = json.loads(stamp_file.read_text())
            if stamp.get("generation") == store.generation:
                chunk_ids = json.loads((directory / "chunk_ids.json").read_text())
                retriever = bm25s.BM25.load(str(directory), show_progress=False) if chunk_ids else bm25s.BM25()
                metadata = store.get_chunks(chunk_ids) if chunk_ids else {}
                columns = MetadataColumns([metadata[c].metadata for c in chunk_ids], collection)
                return cls(retriever, chunk_ids, columns, stamp["generation"])
        index = cls.build(store, collection)
        index.save(directory)
        return index

    def search(self, query: str, k: int, filters: Sequence[Filter] = ()) -> list[tuple[str, float]]:
        """Best-first (chunk_id, BM25 score); only chunks with a positive score and passing filters."""
        if not self.chunk_ids:
            return []
        tokens = [[t for t in _tokenize([query], as_ids=False)[0] if t in self.retriever.vocab_dict]]
        if not tokens[0]:
            return []
        mask = self.columns.mask(filters)
        k = min(k, len(self.chunk_ids))
        docs, scores = self.retriever.retrieve(tokens, k=k, show_progress=False, weight_mask=mask, n_threads=0)
        return [(self.chunk_ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]
