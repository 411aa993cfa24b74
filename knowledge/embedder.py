"""Sentence embeddings for chunks and queries: a thin, batched, offline wrapper around
sentence-transformers, plus the marker embedding function Chroma needs so it never falls
back to its own (downloading) default.

Vectors are L2-normalised float32, shape (n, dim), so cosine similarity is a dot product.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from .errors import ModelNotFoundError


class Embedder(Protocol):
    """What the knowledge base needs from an embedder (real or a test fake)."""

    model_id: str
    dim: int

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """(n,) texts -> (n, dim) float32, L2-normalised."""
        ...


@dataclass
class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder (see `cairn models`)."""

    model_id: str
    path: Path
    torch_threads: int = 0
    dtype: str = "auto"

    def __post_init__(self) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        if self.torch_threads:
            torch.set_num_threads(self.torch_threads)
        try:
            self._model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ModelNotFoundError(
                f"could not load embedder {self.model_id!r} from {self.path}: {exc}; "
                f"run `cairn models pull {self.model_id}` or pass a sentence-transformers folder") from exc
        if self.dtype == "auto":
            self.dtype = "bfloat16" if cpu_has_fast_bf16() else "float32"
        if self.dtype == "bfloat16":
            self._model = self._model.to(torch.bfloat16)
        self.dim = int(self._model.get_embedding_dimension())

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(list(texts), batch_size=batch_size, show_progress_bar=progress,
                                     convert_to_tensor=True, normalize_embeddings=True)
        return vectors.float().numpy()

    @property
    def fingerprint(self) -> str:
        """sha256 of the weights file, for provenance (which exact model made these vectors)."""
        weights = sorted(self.path.glob("*.safetensors")) or sorted(self.path.glob("*.bin"))
        digest = hashlib.sha256()
        for file in weights:
            digest.update(file.name.encode())
            digest.update(str(file.stat().st_size).encode())
        return digest.hexdigest()[:16]


def cpu_has_fast_bf16() -> bool:
    """True on x86 CPUs with native bf16 matmul (AVX512-BF16 or AMX), where bf16 is ~3.5x faster."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


_CACHE: dict[tuple[str, int, str], SentenceTransformerEmbedder] = {}


def load_embedder(spec: str, *, torch_threads: int = 0, dtype: str = "auto") -> SentenceTransformerEmbedder:
    """Resolve a catalogue name / local path / hub id and load it once per process."""
    key = (spec, torch_threads, dtype)
    if key not in _CACHE:
        from .models import resolve_model

        _CACHE[key] = SentenceTransformerEmbedder(model_id=spec, path=resolve_model(spec),
                                                  torch_threads=torch_threads, dtype=dtype)
    return _CACHE[key]
