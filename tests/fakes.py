"""Scripted fakes shared by tests: a seeded bag-of-words embedder that needs no model."""
from __future__ import annotations

import hashlib
import re
from typing import Sequence

import numpy as np


class HashEmbedder:
    """Deterministic stand-in for a sentence embedder: each lowercase word maps to a fixed
    pseudo-random unit vector (seeded by its hash); a text is the normalised sum. Texts
    sharing words are close, so retrieval order is meaningful in tests."""

    def __init__(self, dim: int = 64, model_id: str = "fake-hash-64") -> None:
        self.dim, self.model_id = dim, model_id
        self.calls = 0
        self.texts_encoded = 0
        self._cache: dict[str, np.ndarray] = {}

    def _word(self, word: str) -> np.ndarray:
        if word not in self._cache:
            seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
            self._cache[word] = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
        return self._cache[word]

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        self.calls += 1
        self.texts_encoded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                out[i] += self._word(word)
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm else self._word("<empty>") / np.linalg.norm(self._word("<empty>"))
        return out
