"""Answer correctness against the golden reference answer: ROUGE-L F (Lin 2004, via
evals.metrics.rouge), SQuAD's token F1 (Rajpurkar et al. 2016, "SQuAD: 100,000+ Questions for
Machine Comprehension of Text", the official evaluate-v1.1 normalisation), and whether the
assistant refused exactly when it should (SQuAD 2.0's abstention, Rajpurkar et al. 2018):

    normalise(t)    lowercase, punctuation removed, articles a/an/the removed, spaces collapsed
    token_f1        P = |common| / |pred tokens|, R = |common| / |ref tokens| (multiset), F1
    rougeL_f        ROUGE-L F-measure, no stemming
    refusal_correct 1 if refused == (not answerable), with refused = the sample's flag OR the
                    answer text reads as a refusal (evals.metrics.refusal.is_refusal)

Citation markers are removed from the answer first ("[1]" is not a word of the answer).
ROUGE-L and F1 are omitted without a reference and for unanswerable cases, whose right answer
is a refusal in any wording (refusal_correct scores those); an answerable case that was refused
is still scored, and scores low, as it should.
"""
from __future__ import annotations

import re
import string
from collections import Counter
from typing import TYPE_CHECKING

from assistant.citations import remove_markers

from .refusal import is_refusal
from .rouge import rouge
from .text import f_measure

if TYPE_CHECKING:
    from assistant.llm.base import ChatLLM
    from evals.sample import AnswerSample

_ARTICLES_RE = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: "The Film's [1] year: 1954." -> "films 1 year 1954"."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES_RE.sub(" ", text).split())


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1 over normalised tokens; 1.0 when both are empty, 0.0 when one is."""
    pred, ref = normalize_answer(prediction).split(), normalize_answer(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    return f_measure(common / len(pred), common / len(ref))


def refused_answer(answer: str, refused_flag: bool, cited_ids: tuple[str, ...] = ()) -> bool:
    """The pipeline's flag, or an answer that cites nothing and says it cannot answer."""
    return refused_flag or is_refusal(answer, cited_ids)


def correctness(sample: AnswerSample, *, judge: ChatLLM | None = None, embedder=None) -> dict[str, float]:
    """`rougeL_f`, `token_f1` (answerable cases with a reference) and `refusal_correct`."""
    refused = refused_answer(sample.answer, sample.refused, sample.cited_ids)
    out = {"refusal_correct": float(refused == (not sample.answerable))}
    if sample.reference is not None and sample.answerable:
        answer = remove_markers(sample.answer)
        out["rougeL_f"] = rouge(answer, sample.reference)["rougeL"]
        out["token_f1"] = token_f1(answer, sample.reference)
    return out
