"""AnswerSample: one golden question with the assistant's answer, in the plain form every
answer-level metric reads (faithfulness, citation precision/recall, answer correctness,
relevancy, context precision/recall, refusal) and results.jsonl stores.

Answer-level metrics share one signature (DESIGN.md §5, "every member of a family has the same
shape"):

    metric(sample: AnswerSample, *, judge: ChatLLM | None = None, embedder=None) -> dict[str, float]

returning one or more named scores in [0, 1]; a score that does not apply to the sample (e.g.
citation precision of a refusal) is left out of the dict rather than set to NaN or 0, and a
judge that cannot be parsed is an abstention the metric reports as `<name>_abstained: 1.0`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from assistant.answer import Answer
from assistant.prompts import passage_text
from evals.golden import GoldenCase


@dataclass(frozen=True)
class Sentence:
    """One sentence of the model's reply as the verifier judged it (cited: source numbers)."""

    text: str
    cited: tuple[int, ...] = ()
    supported: bool | None = None


@dataclass(frozen=True)
class AnswerSample:
    """Fields:
        case_id / question / collection: the golden case.
        answer: the text shown to the user (verified); refused: it declines.
        raw_answer: the model's reply before verification (what faithfulness of the model means).
        contexts: the numbered sources as the model saw them (metadata header + text,
            prompts.passage_text), source n = contexts[n - 1]; context_ids: their doc ids.
        sentences: the reply's sentences with their citations and verdicts.
        cited_ids: doc ids of the answer's citations, in order.
        reference: the golden reference answer (None if the case has none).
        relevant: golden doc id -> graded relevance; answerable: the golden flag.
        tags: the golden tags (per-tag breakdowns).
    """

    case_id: str
    question: str
    collection: str
    answer: str
    refused: bool
    raw_answer: str = ""
    contexts: tuple[str, ...] = ()
    context_ids: tuple[str, ...] = ()
    sentences: tuple[Sentence, ...] = ()
    cited_ids: tuple[str, ...] = ()
    reference: str | None = None
    relevant: Mapping[str, float] = field(default_factory=dict)
    answerable: bool = True
    tags: tuple[str, ...] = ()

    @classmethod
    def from_answer(cls, case: GoldenCase, answer: Answer) -> AnswerSample:
        return cls(
            case_id=case.id, question=case.question, collection=case.collection, answer=answer.text,
            refused=answer.refused, raw_answer=str(answer.trace.get("raw_answer", answer.text)),
            contexts=tuple(passage_text(c) for c in answer.chunks), context_ids=tuple(c.doc_id for c in answer.chunks),
            sentences=tuple(Sentence(s.text, tuple(s.cited), s.supported) for s in answer.sentences),
            cited_ids=tuple(c.doc_id for c in answer.citations),
            reference=case.raw.get("reference_answer"), relevant=dict(case.relevant),
            answerable=case.answerable, tags=case.tags,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AnswerSample:
        values = dict(data)
        values["sentences"] = tuple(Sentence(s["text"], tuple(s.get("cited", ())), s.get("supported"))
                                    for s in values.get("sentences", ()))
        for key in ("contexts", "context_ids", "cited_ids", "tags"):
            values[key] = tuple(values.get(key, ()))
        return cls(**values)
