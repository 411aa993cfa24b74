"""The lexical index: BM25 (Robertson & Zaragoza, 2009) over chunk texts with bm25s, which
precomputes every document-term score into a sparse matrix so a query is a column gather
plus a top-k, milliseconds at 200k chunks.

bm25s has no incremental add, so the index is rebuilt from the docstore whenever the
docstore's version — (index id, generation) — moved on (indexing 200k short chunks takes
seconds, far less than embedding them). It is built from one docstore snapshot and saved
stamped with the version it reflects and a sha256 of every file; a stale copy is rebuilt,
and a damaged one (a file missing, cut short or altered, a stamp that does not parse, arrays
that do not fit together) is rebuilt with a warning, never trusted.

Saving and loading hold `bm25.lock` beside the folder (threads and processes alike): a save
builds in a staging folder of its own (`staged_dir`) and swaps it in whole, and a loader
never reads a folder in the middle of a swap. Under the lock no other save is running, so
staging folders found there are a crashed process's leftovers and are removed.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path
from typing import Sequence

import numpy as np

from .atomic import staged_dir
from .corpus import CorpusView
from .docstore import DocStore
from .errors import IndexStateError
from .locks import file_lock

_STAMP = "cairn_stamp.json"
log = logging.getLogger(__name__)


class DamagedIndexError(IndexStateError):
    """A saved BM25 folder that cannot be trusted (caught here: it is rebuilt, not shown)."""


def _tokenize(texts: Sequence[str], *, as_ids: bool = True):
    import bm25s
    import Stemmer

    # English Snowball stemming + stopwords: "documentaries" matches "documentary". Queries
    # are tokenized to strings (as_ids=False) so they map onto the index's own vocabulary.
    return bm25s.tokenize(list(texts), stopwords="en", stemmer=Stemmer.Stemmer("english"),
                          return_ids=as_ids, show_progress=False)


class BM25Index:
    """bm25s over the chunk texts; row i is `chunk_ids[i]` (corpus order at `version`)."""

    def __init__(self, retriever, chunk_ids: list[str], version: tuple[str, int]) -> None:
        self.retriever, self.chunk_ids, self.version = retriever, chunk_ids, version
        self.n_rows = len(chunk_ids)

    @classmethod
    def build(cls, store: DocStore) -> "BM25Index":
        import bm25s

        with store.snapshot():  # the version and the texts of one moment
            version = store.version
            chunk_ids, texts = store.corpus_texts()
        retriever = bm25s.BM25()
        if texts:
            retriever.index(_tokenize(texts), show_progress=False)
        return cls(retriever, chunk_ids, version)

    def save(self, directory: Path) -> None:
        with file_lock(_lock_path(directory)):
            self._save(directory)

    def _save(self, directory: Path) -> None:
        _clear_staging(directory)
        with staged_dir(directory) as staging:
            if self.n_rows:
                self.retriever.save(str(staging), show_progress=False)
            files = {p.name: _sha256(p) for p in sorted(staging.iterdir())}
            (staging / _STAMP).write_text(json.dumps({"version": list(self.version), "n": self.n_rows,
                                                      "files": files}))

    @classmethod
    def load_or_build(cls, directory: Path, store: DocStore) -> "BM25Index":
        """The saved index if it is whole and reflects the docstore's current version, else a
        rebuild from the docstore (saved)."""
        with file_lock(_lock_path(directory)):
            _clear_staging(directory)
            try:
                index = cls._load(directory, store)
            except DamagedIndexError as exc:
                log.warning("the BM25 index at %s is damaged (%s); rebuilding it from the docstore", directory, exc)
                index = None
            if index is None:
                index = cls.build(store)
                index._save(directory)
            return index

    @classmethod
    def _load(cls, directory: Path, store: DocStore) -> "BM25Index | None":
        """The saved index; None if there is none or it is of another version; raises
        DamagedIndexError if it cannot be trusted."""
        import bm25s

        stamp_file = directory / _STAMP
        if not stamp_file.exists():
            if directory.exists():
                raise DamagedIndexError(f"{_STAMP} is missing")
            return None
        try:
            stamp = json.loads(stamp_file.read_text())
            version, n, files = tuple(stamp["version"]), int(stamp["n"]), stamp.get("files")
        except (ValueError, KeyError, TypeError) as exc:
            raise DamagedIndexError(f"{_STAMP} does not parse: {exc}") from None
        if not isinstance(files, dict):  # saved by a cairn that kept no checksums: rebuild quietly
            return None
        with store.snapshot():  # the chunk ids of the version the stamp names
            if version != store.version:
                return None
            chunk_ids = store.corpus_ids()
        if n != len(chunk_ids):
            raise DamagedIndexError(f"the stamp counts {n} rows, the docstore {len(chunk_ids)}")
        for name, digest in files.items():
            path = directory / name
            if not path.is_file():
                raise DamagedIndexError(f"{name} is missing")
            if _sha256(path) != digest:
                raise DamagedIndexError(f"{name} does not match its checksum")
        if not n:
            return cls(bm25s.BM25(), chunk_ids, version)
        try:
            retriever = bm25s.BM25.load(str(directory), show_progress=False)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DamagedIndexError(f"bm25s cannot load it: {exc}") from None
        _check_shape(retriever, n)
        return cls(retriever, chunk_ids, version)

    def search(self, query: str, k: int, view: CorpusView, mask: np.ndarray | None = None) -> list[tuple[str, float]]:
        """Best-first (chunk_id, BM25 score); only chunks with a positive score that `mask`
        (from `view.mask(filters)`, None = all) allows. The view may be of another version
        than this index (a commit landed between taking one and the other): the mask is then
        carried over by chunk id, and chunks the view does not know are left out."""
        if not self.n_rows:
            return []
        if mask is not None and view.version != self.version:
            allowed = {cid for cid, keep in zip(view.chunk_ids, mask) if keep}
            mask = np.fromiter((cid in allowed for cid in self.chunk_ids), dtype=np.float32, count=self.n_rows)
        tokens = [[t for t in _tokenize([query], as_ids=False)[0] if t in self.retriever.vocab_dict]]
        if not tokens[0]:
            return []
        k = min(k, self.n_rows)
        docs, scores = self.retriever.retrieve(tokens, k=k, show_progress=False, weight_mask=mask, n_threads=0)
        return [(self.chunk_ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]


def _lock_path(directory: Path) -> Path:
    return directory.with_name(directory.name + ".lock")


def _clear_staging(directory: Path) -> None:
    """Remove what saves killed midway left beside `directory` (`.bm25.*`); call under the lock."""
    for leftover in directory.parent.glob(f".{directory.name}.*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_shape(retriever, n: int) -> None:
    """The CSC score matrix (documents x vocabulary) must fit together and fit `n` rows."""
    scores = retriever.scores
    data, indices, indptr = scores["data"], scores["indices"], scores["indptr"]
    if scores.get("num_docs") != n:
        raise DamagedIndexError(f"it holds {scores.get('num_docs')} documents, the stamp says {n}")
    if (not len(indptr) or int(indptr[0]) != 0 or np.any(np.diff(indptr) < 0) or len(data) != len(indices)
            or int(indptr[-1]) != len(data)):
        raise DamagedIndexError("its score arrays do not fit together")
    if len(indices) and not 0 <= int(indices.min()) <= int(indices.max()) < n:
        raise DamagedIndexError("its score arrays point past the last document")
