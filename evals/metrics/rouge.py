"""ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum (Lin, 2004, "ROUGE: A Package for Automatic
Evaluation of Summaries"), following the conventions of Google's `rouge-score` package, which
replicates ROUGE-1.5.5 (`-n 2`, plus `-m` with the stemmer):

    tokens     lowercase; every run of characters outside [a-z0-9] is a separator; with
               `use_stemmer`, words longer than 3 characters go through NLTK's Porter
               stemmer (the one rouge-score uses)
    ROUGE-N    clipped n-gram overlap: P = overlap / |pred n-grams|, R = overlap / |ref n-grams|
    ROUGE-L    P = LCS(pred, ref) / |pred|,  R = LCS / |ref|  (LCS by dynamic programming)
    ROUGE-Lsum summary-level LCS (Lin §3.2): sentences are the newline-separated lines; for
               each reference sentence r, LCS∪(r, C) is the union of the tokens of r that lie
               on an LCS with some candidate sentence; hits are clipped by token counts so a
               token is never credited more often than it occurs (as ROUGE-1.5.5 does);
               P = hits / |pred tokens|,  R = hits / |ref tokens|
    F          2PR / (P + R), 0 when P + R = 0

Every score is 0 when either side has no tokens.
"""
from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import NamedTuple, Sequence

from .text import f_measure, ngram_counts, overlap

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
_WORD_RE = re.compile(r"[a-z0-9]+")


class Score(NamedTuple):
    precision: float
    recall: float
    fmeasure: float


ZERO = Score(0.0, 0.0, 0.0)


@lru_cache(maxsize=1)
def _porter():
    try:
        from nltk.stem.porter import PorterStemmer
    except ImportError as exc:  # nltk arrives with rouge-score; the stemmer is optional
        raise ImportError("ROUGE with use_stemmer=True needs nltk's Porter stemmer: "
                          "pip install nltk (or use use_stemmer=False)") from exc
    return PorterStemmer()


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    # Stemming dominates tokenisation time and the vocabulary of an eval set is small.
    return _porter().stem(word)


def tokenize(text: str, use_stemmer: bool = False) -> list[str]:
    """"The cats' mat-2!" -> ["the", "cats", "mat", "2"] (stemmed: "cat" for "cats")."""
    words = _WORD_RE.findall(text.lower())
    if not use_stemmer:
        return words
    # ROUGE-1.5.5 leaves short words alone: Porter would turn "was" into "wa".
    return [_stem(w) if len(w) > 3 else w for w in words]


def score_from_counts(hits: int, pred_total: int, ref_total: int) -> Score:
    if pred_total == 0 or ref_total == 0:
        return ZERO
    precision, recall = hits / pred_total, hits / ref_total
    return Score(precision, recall, f_measure(precision, recall))


def rouge_n(pred_tokens: Sequence[str], ref_tokens: Sequence[str], n: int) -> Score:
    pred, ref = ngram_counts(pred_tokens, n), ngram_counts(ref_tokens, n)
    return score_from_counts(overlap(pred, ref), sum(pred.values()), sum(ref.values()))


def lcs_table(a: Sequence[str], b: Sequence[str]) -> list[list[int]]:
    """(len(a)+1) x (len(b)+1) table; cell [i][j] = LCS length of a[:i] and b[:j]."""
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a, start=1):
        row, above = table[i], table[i - 1]
        for j, y in enumerate(b, start=1):
            row[j] = above[j - 1] + 1 if x == y else max(above[j], row[j - 1])
    return table


def lcs_positions(ref: Sequence[str], cand: Sequence[str]) -> list[int]:
    """Positions in `ref` of one longest common subsequence with `cand`.

    When several LCSs exist the choice changes the summary-level union, so this walks back
    with rouge-score's rule: on a mismatch step left (drop a candidate token) only when that
    keeps a strictly longer LCS, otherwise step up (drop a reference token)."""
    table = lcs_table(ref, cand)
    i, j, positions = len(ref), len(cand), []
    while i > 0 and j > 0:
        if ref[i - 1] == cand[j - 1]:
            positions.append(i - 1)
            i, j = i - 1, j - 1
        elif table[i][j - 1] > table[i - 1][j]:
            j -= 1
        else:
            i -= 1
    return positions[::-1]


def rouge_l(pred_tokens: Sequence[str], ref_tokens: Sequence[str]) -> Score:
    if not pred_tokens or not ref_tokens:
        return ZERO
    return score_from_counts(lcs_table(ref_tokens, pred_tokens)[-1][-1], len(pred_tokens), len(ref_tokens))


def rouge_lsum(pred_sents: Sequence[Sequence[str]], ref_sents: Sequence[Sequence[str]]) -> Score:
    """Summary-level LCS over tokenised sentences (lists of token lists)."""
    pred_total, ref_total = sum(map(len, pred_sents)), sum(map(len, ref_sents))
    if pred_total == 0 or ref_total == 0:
        return ZERO
    # Budgets: a token can be a hit at most as often as it occurs on each side.
    pred_left = Counter(t for s in pred_sents for t in s)
    ref_left = Counter(t for s in ref_sents for t in s)
    hits = 0
    for ref in ref_sents:
        union = sorted(set().union(*(lcs_positions(ref, cand) for cand in pred_sents)))
        for token in (ref[i] for i in union):
            if pred_left[token] > 0 and ref_left[token] > 0:
                hits += 1
                pred_left[token] -= 1
                ref_left[token] -= 1
    return score_from_counts(hits, pred_total, ref_total)


def _sentences(text: str, use_stemmer: bool) -> list[list[str]]:
    # rouge-score's rougeLsum convention: one sentence per non-empty line.
    return [tokenize(line, use_stemmer) for line in text.split("\n") if line]


def rouge(prediction: str, reference: str, *, use_stemmer: bool = False) -> dict[str, float]:
    """ROUGE-1/2/L/Lsum of `prediction` against `reference`: `rouge1`, `rouge2`, `rougeL`,
    `rougeLsum` are F-measures; `<type>_precision` and `<type>_recall` come alongside."""
    pred, ref = tokenize(prediction, use_stemmer), tokenize(reference, use_stemmer)
    scores = {
        "rouge1": rouge_n(pred, ref, 1),
        "rouge2": rouge_n(pred, ref, 2),
        "rougeL": rouge_l(pred, ref),
        "rougeLsum": rouge_lsum(_sentences(prediction, use_stemmer), _sentences(reference, use_stemmer)),
    }
    out: dict[str, float] = {}
    for name, score in scores.items():
        out[name] = score.fmeasure
        out[f"{name}_precision"] = score.precision
        out[f"{name}_recall"] = score.recall
    return out
