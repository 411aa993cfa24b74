"""Refusal accuracy on a golden set that mixes answerable and unanswerable questions (DESIGN.md
§2: for `answerable: false` the right answer says the knowledge base cannot answer and cites
nothing). Refusal is the positive class, as in selective-QA evaluation (Rajpurkar et al.,
2018, SQuAD 2.0, score abstention on unanswerable questions):

    accuracy          share of cases where refused == (not answerable)
    refusal_precision of the refusals, the share on unanswerable questions   (NaN: no refusal)
    refusal_recall    of the unanswerable questions, the share refused      (NaN: none in the set)
    refusal_f1        harmonic mean of the two (NaN if either is)

NaN rather than 0 for an undefined ratio, as the retrieval metrics do, so averages skip it.

`is_refusal(answer_text, citations)` decides `refused` for a pipeline answer: it cites nothing
AND says, in one of a small set of phrasings, that it cannot answer. Both conditions, because a
cited answer that ends with "I couldn't find more" did answer, and an uncited answer without
such a phrase is an unsupported answer, not a refusal.
"""
from __future__ import annotations

import math
import re
from typing import Any, Mapping, Sequence

from .text import f_measure, normalize_text

# Phrasings of "the knowledge base cannot answer this", matched on normalised text (lowercase,
# collapsed spaces; typographic apostrophes folded to ').
_SOURCES = r"(?:knowledge base|catalog|catalogue|notes|documents|sources|context)"
REFUSAL_PATTERNS = tuple(re.compile(p) for p in (
    r"\bi (?:do not|don't) know\b",
    r"\b(?:cannot|can't|can not|could not|couldn't|am unable to|am not able to|unable to) "
    r"(?:answer|find|locate|determine|tell|say|help with)\b",
    r"\b(?:do not|don't|does not|doesn't) (?:have|contain|include|mention|say)\b"
    r".*\b(?:information|details|data|answer|mention|record)",
    r"\bno (?:information|relevant|matching|mention|record|data|answer|results?)\b",
    r"\bnot (?:enough|sufficient) (?:information|context|evidence)\b",
    r"\binsufficient (?:information|context|evidence)\b",
    r"\b(?:is|are|was|were) not (?:mentioned|covered|included)\b",
    rf"\bnot (?:in|part of|covered by) the {_SOURCES}\b",
    rf"\bthere (?:is|are) no\b.*\b(?:in|among) the {_SOURCES}\b",
))


def is_refusal(answer_text: str, citations: Sequence[Any] | None) -> bool:
    """True when the answer cites nothing and contains a refusal phrase."""
    if citations:
        return False
    text = normalize_text(answer_text.replace("\u2019", "'"))
    return any(p.search(text) for p in REFUSAL_PATTERNS)


def _flag(case: Mapping[str, Any], key: str, index: int) -> bool:
    value = case.get(key) if isinstance(case, Mapping) else None
    if not isinstance(value, bool):
        raise ValueError(f"case {index} needs a boolean {key!r}, got {value!r}; "
                         "each case is {'answerable': bool, 'refused': bool}")
    return value


def refusal_accuracy(cases: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """`accuracy`, `refusal_precision`, `refusal_recall`, `refusal_f1` and the count `n` over
    cases carrying `answerable` and `refused` booleans."""
    if not cases:
        raise ValueError("refusal_accuracy needs at least one case")
    pairs = [(_flag(c, "answerable", i), _flag(c, "refused", i)) for i, c in enumerate(cases)]
    correct = sum(refused != answerable for answerable, refused in pairs)
    true_refusals = sum(refused and not answerable for answerable, refused in pairs)
    refusals = sum(refused for _, refused in pairs)
    unanswerable = sum(not answerable for answerable, _ in pairs)
    precision = true_refusals / refusals if refusals else math.nan
    recall = true_refusals / unanswerable if unanswerable else math.nan
    f1 = math.nan if math.isnan(precision) or math.isnan(recall) else f_measure(precision, recall)
    return {"accuracy": correct / len(pairs), "refusal_precision": precision,
            "refusal_recall": recall, "refusal_f1": f1, "n": float(len(pairs))}
