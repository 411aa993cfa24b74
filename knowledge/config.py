"""Typed configuration of the knowledge base: embedder, chunking, Chroma mode, retrieval
depths. Defaults run offline on a 2-core laptop; `CAIRN_HOME/config.toml` ([knowledge]
table) and `CAIRN_*` environment variables override them (env wins)."""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Literal

from .errors import KnowledgeError
from .home import cairn_home

ChromaMode = Literal["embedded", "server"]
EmbedDtype = Literal["auto", "float32", "bfloat16"]
RetrievalMode = Literal["dense", "bm25", "hybrid"]
RETRIEVAL_MODES: tuple[str, ...] = ("dense", "bm25", "hybrid")


@dataclass(frozen=True)
class KnowledgeConfig:
    """Every knob of ingest and retrieval.

    embedder: catalogue name (`cairn models list`), local folder, or hub id of a
        sentence-transformers model.
    embed_batch_size: texts per encode call; larger amortises overhead, costs memory.
    embed_dtype: "bfloat16" embeds ~3.5x faster than float32 on CPUs with avx512_bf16/AMX
        (cosine to the float32 vector >= 0.998 on MiniLM, measured); "auto" picks it only there.
    torch_threads: intra-op threads for embedding (0 = torch's default). On 2 shared cores 1
        thread is often faster than 2 (DESIGN.md §6): `cairn bench knowledge` measures both.
    ingest_batch_docs: documents per ingest transaction; the crash-recovery unit.
    chunk_size / chunk_overlap: characters, recursive chunker (catalog).
    note_max_chunk_chars: section chunker (notes) splits longer sections at sentence ends.
    chroma_mode: "embedded" (a folder under CAIRN_HOME) or "server" (`chroma run`).
    dense_k / bm25_k: candidates from each retriever before fusion.
    rrf_k: the constant of reciprocal-rank fusion (Cormack et al., 2009 use 60).
    bm25_weight: weight of the BM25 ranking in the fusion (dense has weight 1).
    exact_rows: a dense query whose filters leave at most this many chunks is scored exactly
        over them (fast and exact); broader filters over-fetch from the HNSW index (corpus.py).
    rerank_embedder: second embedder for re-scoring fused candidates ("" = no rerank).
    rerank_k: how many fused candidates the reranker re-scores.
    max_upload_mb: largest file the UI's Knowledge tab accepts, in MB (2^20 bytes), checked
        before the file is read; `cairn ingest` of local files has no such limit.
    """

    embedder: str = "minilm"
    embed_batch_size: int = 64
    embed_dtype: EmbedDtype = "auto"
    torch_threads: int = 0
    ingest_batch_docs: int = 512
    chunk_size: int = 800
    chunk_overlap: int = 120
    note_max_chunk_chars: int = 1200
    chroma_mode: ChromaMode = "embedded"
    chroma_host: str = "127.0.0.1"
    chroma_port: int = 8000
    dense_k: int = 50
    bm25_k: int = 50
    rrf_k: int = 60
    bm25_weight: float = 1.0
    exact_rows: int = 20_000
    rerank_embedder: str = ""
    rerank_k: int = 20
    max_upload_mb: int = 50

    def __post_init__(self) -> None:
        for name in ("embed_batch_size", "ingest_batch_docs", "chunk_size", "note_max_chunk_chars",
                     "dense_k", "bm25_k", "rrf_k", "rerank_k", "chroma_port", "exact_rows", "max_upload_mb"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise KnowledgeError(f"knowledge config: {name} must be a positive integer, got {value!r}")
        if not isinstance(self.bm25_weight, (int, float)) or self.bm25_weight < 0:
            raise KnowledgeError(f"knowledge config: bm25_weight must be a number >= 0, got {self.bm25_weight!r}")
        if self.torch_threads < 0:
            raise KnowledgeError(f"knowledge config: torch_threads must be >= 0 (0 = default), got {self.torch_threads}")
        if not 0 <= self.chunk_overlap < self.chunk_size:
            raise KnowledgeError(
                f"knowledge config: chunk_overlap ({self.chunk_overlap}) must be >= 0 and smaller than "
                f"chunk_size ({self.chunk_size})")
        if self.embed_dtype not in ("auto", "float32", "bfloat16"):
            raise KnowledgeError(f"knowledge config: embed_dtype must be auto, float32 or bfloat16, got {self.embed_dtype!r}")
        if self.chroma_mode not in ("embedded", "server"):
            raise KnowledgeError(f"knowledge config: chroma_mode must be 'embedded' or 'server', got {self.chroma_mode!r}")

    @classmethod
    def load(cls, path: Path | None = None, **overrides: object) -> "KnowledgeConfig":
        """Defaults ← config.toml [knowledge] ← CAIRN_<FIELD> env vars ← explicit overrides."""
        values: dict[str, object] = {}
        path = path or cairn_home() / "config.toml"
        if path.exists():
            try:
                values.update(tomllib.loads(path.read_text()).get("knowledge", {}))
            except tomllib.TOMLDecodeError as exc:
                raise KnowledgeError(f"{path}: invalid TOML ({exc}); fix the file or delete it to use defaults") from exc
        types = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(values) - set(types))
        if unknown:
            raise KnowledgeError(f"{path}: unknown [knowledge] keys {unknown}; known keys: {sorted(types)}")
        for name in types:
            env = os.environ.get(f"CAIRN_{name.upper()}")
            if env is not None:
                values[name] = _coerce_env(name, env, getattr(cls, name))
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)


def _coerce_env(name: str, raw: str, default: object) -> object:
    if not isinstance(default, (int, float)):
        return raw
    try:
        return type(default)(raw)
    except ValueError:
        raise KnowledgeError(f"CAIRN_{name.upper()}={raw!r} is not a {type(default).__name__}; "
                             f"unset it or give a number") from None
