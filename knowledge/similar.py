"""Item-to-item similarity ("comedies like Silicon Valley"): find the named item by its title,
then rank other items by the cosine between their chunk vectors and the item's own vector,
under the caller's filters.

The item's vector is the normalised mean of its chunk vectors, read from the corpus view (the
same float32 rows the exact scan uses), so no text is re-embedded and the answer does not
depend on how the user phrased the title. Candidates come from `filtered_dense` — the same
exact-scan / HNSW over-fetch path as a filtered query — with the item itself excluded and one
hit per document. This is the classic content-based "more like this" of recommender systems
(e.g. Lops et al., 2011, "Content-based Recommender Systems: State of the Art and Trends").
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .corpus import filtered_dense
from .errors import KnowledgeError
from .filters import Filter
from .index import KnowledgeBase
from .retrieve import search
from .types import Hit


class ItemNotFoundError(KnowledgeError):
    """A title or id that names no item of the collection."""


@dataclass(frozen=True)
class TitleMatch:
    doc_id: str
    title: str
    exact: bool  # the normalised titles are equal (else: the best lexical match was taken)


def normalise_title(title: str) -> str:
    """Case-, accent- and punctuation-insensitive form: "Amélie!" -> "amelie"."""
    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    return " ".join(re.findall(r"[a-z0-9]+", folded))


def find_title(kb: KnowledgeBase, title: str, *, depth: int = 20) -> TitleMatch:
    """The item whose title is `title`: an exact (normalised) title among the top `depth`
    lexical hits, else the top hit when every word of `title` is in its title. Raises
    ItemNotFoundError otherwise: a wrong anchor would make every "like X" answer wrong."""
    wanted = normalise_title(title)
    if not wanted:
        raise ItemNotFoundError(f"title {title!r} has no words; name the item, e.g. 'Planet Earth'")
    hits = search(kb, title, mode="bm25", k=depth).hits
    titled = [(h.doc_id, str(h.chunk.metadata.get("title", ""))) for h in hits]
    for doc_id, found in titled:
        if normalise_title(found) == wanted:
            return TitleMatch(doc_id, found, True)
    if titled and set(wanted.split()) <= set(normalise_title(titled[0][1]).split()):
        return TitleMatch(titled[0][0], titled[0][1], False)
    raise ItemNotFoundError(f"no item titled {title!r} in the {kb.collection} collection; check the spelling "
                            f"or search for it first (`cairn search {title!r}`)")


def item_vector(kb: KnowledgeBase, doc_id: str) -> np.ndarray:
    """(dim,) unit vector: the mean of the document's chunk vectors."""
    kb.refresh()
    view = kb.view()
    rows = [view.row_of[cid] for cid in kb.store.chunk_ids_of([doc_id]) if cid in view.row_of]
    if not rows:
        raise ItemNotFoundError(f"no document {doc_id!r} in the {kb.collection} collection; "
                                "list ids with `cairn search` or re-ingest it")
    mean = view.vectors[rows].mean(axis=0)  # (len(rows), dim) -> (dim,)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm else mean


def similar_items(kb: KnowledgeBase, doc_id: str, *, filters: Sequence[Filter] = (), k: int = 10) -> list[Hit]:
    """Up to k other documents most similar to `doc_id` that pass `filters`, best first; each
    hit carries its best chunk and the cosine as its score."""
    if k < 1:
        raise KnowledgeError(f"k={k} must be >= 1")
    vector = item_vector(kb, doc_id)
    view = kb.view()
    mask = view.mask(filters) if filters else None
    own = set(kb.store.chunk_ids_of([doc_id]))
    # Over-fetch: the item's own chunks and several chunks per neighbour share the top ranks.
    depth = 4 * k + len(own)
    ranked = filtered_dense(view, kb.chroma.query, vector, depth, mask, exact_rows=kb.config.exact_rows)
    ranked = [(cid, score) for cid, score in ranked if cid not in own]
    chunks = kb.store.get_chunks([cid for cid, _ in ranked])
    hits: list[Hit] = []
    seen: set[str] = {doc_id}
    for rank, (cid, score) in enumerate(ranked, 1):
        chunk = chunks.get(cid)
        if chunk is None or chunk.doc_id in seen:
            continue
        seen.add(chunk.doc_id)
        hits.append(Hit(chunk=chunk, score=score, ranks={"similar": rank}))
        if len(hits) == k:
            break
    return hits
