"""Chroma as the dense index: an embedded persistent client by default (a folder under
CAIRN_HOME), or a Chroma server (`chroma run`) by config, behind one small interface.

cairn always passes its own vectors (batching and threads are ours to control), so the
embedding function registered here only exists to stop Chroma from instantiating its
default one, which downloads a model on first use (DESIGN.md §6).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from .errors import IndexStateError

@register_embedding_function
class CairnVectors(EmbeddingFunction[Documents]):
    """Marker embedding function: vectors come from cairn's embedder, never from Chroma."""

    def __init__(self, embedder: str = "", dim: int = 0) -> None:
        self.embedder, self.dim = embedder, dim

    def __call__(self, input: Documents) -> Embeddings:
        raise IndexStateError("cairn passes vectors to Chroma explicitly; embed with knowledge.embedder first")

    @staticmethod
    def name() -> str:
        return "cairn_vectors"

    def get_config(self) -> dict[str, Any]:
        return {"embedder": self.embedder, "dim": self.dim}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> "CairnVectors":
        return CairnVectors(config.get("embedder", ""), int(config.get("dim", 0)))

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"


def connect(*, path: Path | None = None, host: str | None = None, port: int | None = None):
    """An embedded client on `path`, or an HTTP client to a Chroma server when `host` is set."""
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    if not host:
        assert path is not None, "embedded mode needs a path"
        return chromadb.PersistentClient(path=str(path), settings=settings)
    try:
        client = chromadb.HttpClient(host=host, port=port or 8000, settings=settings)
        client.heartbeat()
        return client
    except Exception as exc:  # chromadb raises plain Exceptions for connection errors
        raise IndexStateError(
            f"cannot reach the Chroma server at {host}:{port}: {exc}; start it with "
            f"`chroma run --path DIR --port {port}` or set chroma_mode=embedded") from exc


def collection_name(collection: str) -> str:
    return f"cairn_{collection}"


def drop_collection(client, collection: str) -> None:
    """Delete a collection whatever embedder built it (used by --rebuild to switch models)."""
    if collection_name(collection) in {c.name if hasattr(c, "name") else c for c in client.list_collections()}:
        client.delete_collection(collection_name(collection))


class ChromaStore:
    """One Chroma collection: upsert/delete/query by chunk id."""

    def __init__(self, client, *, collection: str, embedder_id: str, dim: int) -> None:
        self.client = client
        self.name = collection_name(collection)
        self.collection = self.client.get_or_create_collection(
            self.name, embedding_function=CairnVectors(embedder_id, dim),
            configuration={"hnsw": {"space": "cosine"}})
        stored = (self.collection.configuration_json or {}).get("embedding_function") or {}
        stored_id = (stored.get("config") or {}).get("embedder")
        if stored_id and stored_id != embedder_id:
            raise IndexStateError(
                f"collection {collection!r} was built with embedder {stored_id!r}, not {embedder_id!r}; "
                f"vectors from different models cannot be mixed — use embedder={stored_id!r} or "
                f"`cairn ingest --rebuild` to re-embed everything")
        self.max_batch = self.client.get_max_batch_size()

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, doc_ids: Sequence[str]) -> None:
        """Only doc_id goes to Chroma as metadata: filters run on cairn's own columns (see
        corpus.py), and every extra metadata key costs Chroma write time (half of it, measured)."""
        for start in range(0, len(ids), self.max_batch):
            end = start + self.max_batch
            self.collection.upsert(ids=list(ids[start:end]), embeddings=vectors[start:end],
                                   metadatas=[{"doc_id": d} for d in doc_ids[start:end]])

    def delete(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), self.max_batch):
            self.collection.delete(ids=list(ids[start:start + self.max_batch]))

    def query(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """Best-first (chunk_id, cosine similarity) from the HNSW index."""
        result = self.collection.query(query_embeddings=[vector], n_results=k, include=["distances"])
        return [(cid, 1.0 - float(dist)) for cid, dist in zip(result["ids"][0], result["distances"][0])]

    def count(self) -> int:
        return self.collection.count()

    def all_ids(self) -> set[str]:
        ids: set[str] = set()
        offset, page = 0, 10_000
        while True:
            got = self.collection.get(include=[], limit=page, offset=offset)["ids"]
            ids.update(got)
            if len(got) < page:
                return ids
            offset += page

