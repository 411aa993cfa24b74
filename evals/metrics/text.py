"""Helpers shared by the text metrics (ROUGE, BLEU, BERTScore, extraction, refusal): n-gram
counting, the F-measure, and the one string normalisation the extraction and refusal metrics
compare with (lowercase, Unicode NFKC, whitespace collapsed, trailing punctuation stripped)."""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Hashable, Sequence

_SPACES_RE = re.compile(r"\s+")
# Sentence punctuation a model adds or drops at the end of a span ("fever." vs "fever"); a
# closing bracket or a % is content and stays.
_TRAILING_PUNCT = ".,;:!?"


def ngram_counts(tokens: Sequence[Hashable], n: int) -> Counter[tuple]:
    """Multiset of the n-grams of `tokens` as tuples: ["a", "b", "a"], 2 -> {(a, b): 1, (b, a): 1}.
    Empty when the sequence is shorter than n."""
    if n <= 0:
        raise ValueError(f"n-gram order must be a positive integer, got {n}")
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def overlap(a: Counter, b: Counter) -> int:
    """Size of the multiset intersection: each item counts min(count in a, count in b) times
    (the 'clipped' count of ROUGE-N and BLEU)."""
    if len(b) < len(a):
        a, b = b, a
    return sum(min(count, b[item]) for item, count in a.items())


def f_measure(precision: float, recall: float) -> float:
    """Harmonic mean of precision and recall (F1); 0 when both are 0."""
    total = precision + recall
    return 0.0 if total == 0 else 2 * precision * recall / total


def normalize_text(text: str) -> str:
    """'  Persistent   Cough. ' -> 'persistent cough'. NFKC first, so full-width letters and
    ligatures compare equal to their plain forms."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _SPACES_RE.sub(" ", text).strip().rstrip(_TRAILING_PUNCT).rstrip()
