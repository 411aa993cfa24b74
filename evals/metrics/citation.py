"""Citation precision and recall of an answer, after ALCE (Gao et al. 2023, "Enabling Large
Language Models to Generate Text with Citations"), plus a judge-free check of which documents
were cited:

    sentences s_1..s_m of the shown answer, each with its cited source numbers C_i
    pairs     (s_i, n) for n in C_i; v(s_i, n) = does source n alone support s_i?
    citation_precision = Σ_pairs v / #pairs            (a citation of a source that does not
                                                        exist counts as unsupported)
    S         = { i : the contexts together support s_i }       (supported answer sentences)
    citation_recall    = |{ i in S : some v(s_i, n) holds, or the cited sources together
                            support s_i (ALCE's concatenation test) }| / |S|
    cited_relevant     = |cited doc ids ∩ golden relevant| / |cited doc ids|   (distinct ids)

"Support" is the faithfulness metric's check (faithfulness.SupportChecker): the judge's
P(SUPPORTED) >= 0.5, or without a judge the lexical rule, and then the keys carry `_lexical`.
Precision simplifies ALCE's (which also spares a citation that is redundant but harmless) to
the pair level. The sentences are re-split from the shown `answer`, so sentences the verifier
removed do not count and markers it re-pointed do. Refusals are omitted (they cite nothing);
so is a score with an empty denominator. A judge abstention gives `citation_abstained: 1.0`.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

from assistant.citations import split_sentences
from assistant.llm.base import ChatLLM
from assistant.verify import is_connective

from .faithfulness import CalibrationMode, SupportChecker, numbered, support_checker

if TYPE_CHECKING:
    from evals.sample import AnswerSample


# -- pure scores -------------------------------------------------------------------------------------

def cited_claims(answer: str) -> list[tuple[str, tuple[int, ...]]]:
    """(claim, cited source numbers) per checkable sentence of `answer` (connective ones out)."""
    return [(s.claim, s.cited) for s in split_sentences(answer) if s.claim and not is_connective(s.claim)]


def citation_precision_score(pair_verdicts: Sequence[bool]) -> float | None:
    """Share of (sentence, cited source) pairs whose source supports the sentence; None: no pairs."""
    return sum(map(bool, pair_verdicts)) / len(pair_verdicts) if pair_verdicts else None


def citation_recall_score(supported: Sequence[bool], cited_support: Sequence[bool]) -> float | None:
    """Among sentences the contexts support (`supported[i]`), the share whose citations support
    them (`cited_support[i]`); None when no sentence is supported."""
    if len(supported) != len(cited_support):
        raise ValueError(f"supported ({len(supported)}) and cited_support ({len(cited_support)}) "
                         "need one entry per sentence")
    hits = [cited for ok, cited in zip(supported, cited_support) if ok]
    return sum(map(bool, hits)) / len(hits) if hits else None


def cited_relevant_share(cited_ids: Sequence[str], relevant: Mapping[str, float],
                         answerable: bool = True) -> float | None:
    """Share of the distinct cited doc ids that the golden set marks relevant (grade > 0). None
    when nothing is cited, or when an answerable case has no relevance labels; for an
    unanswerable case nothing is relevant, so every citation is a miss."""
    cited = list(dict.fromkeys(cited_ids))
    if not cited or (answerable and not relevant):
        return None
    good: Collection[str] = {doc for doc, grade in relevant.items() if grade > 0}
    return sum(doc in good for doc in cited) / len(cited)


# -- the check ---------------------------------------------------------------------------------------

def citation_verdicts(claims: Sequence[tuple[str, tuple[int, ...]]], contexts: Sequence[str],
                      checker: SupportChecker) -> tuple[list[bool | None], list[bool | None], list[bool | None]]:
    """(pair verdicts, per-sentence supported-by-the-contexts, per-sentence supported-by-its-
    citations). The citations' own test is asked only of sentences the contexts support and
    whose single-source pairs all failed, so it costs a call only where it can change recall."""
    passages = numbered(contexts)
    pairs: list[bool | None] = []
    supported: list[bool | None] = []
    cited_ok: list[bool | None] = []
    for claim, cited in claims:
        valid = [n for n in cited if 1 <= n <= len(contexts)]
        mine = [checker.supports(claim, [passages[n - 1]]) for n in valid]
        pairs += mine + [False] * (len(cited) - len(valid))  # a source that does not exist supports nothing
        whole = checker.supports(claim, passages)
        supported.append(whole)
        if any(v is True for v in mine):
            cited_ok.append(True)
        elif whole and len(valid) > 1:
            cited_ok.append(checker.supports(claim, [passages[n - 1] for n in valid]))
        else:
            cited_ok.append(False if all(v is not None for v in mine) else None)
    return pairs, supported, cited_ok


def citation(sample: AnswerSample, *, judge: ChatLLM | None = None, embedder=None,
             calibration: CalibrationMode = "anchors") -> dict[str, float]:
    """`citation_precision`, `citation_recall` (`*_lexical` without a judge), `cited_relevant`;
    `citation_abstained: 1.0` when the judge gave no reading. `embedder` is unused."""
    out: dict[str, float] = {}
    relevant_share = cited_relevant_share(sample.cited_ids, sample.relevant, sample.answerable)
    if relevant_share is not None:
        out["cited_relevant"] = relevant_share
    if sample.refused:
        return out
    claims = cited_claims(sample.answer)
    if not claims:
        return out
    suffix = "" if judge is not None else "_lexical"
    checker = support_checker(judge, calibration)
    if checker is None:
        out["citation_abstained"] = 1.0
        return out
    pairs, supported, cited_ok = citation_verdicts(claims, sample.contexts, checker)
    if any(v is None for v in (*pairs, *supported)) or any(ok is None for ok, s in zip(cited_ok, supported) if s):
        out["citation_abstained"] = 1.0
        return out
    precision = citation_precision_score(pairs)
    recall = citation_recall_score(supported, cited_ok)
    if precision is not None:
        out[f"citation_precision{suffix}"] = precision
    if recall is not None:
        out[f"citation_recall{suffix}"] = recall
    return out
