"""Answer relevancy as RAGAS defines it (Es et al. 2023, "RAGAS", §3 "Answer relevance"): an
answer is relevant when the questions it answers are the question that was asked.

    answer ──judge──▶ k questions q_1..q_k it answers     one JSON-constrained call (ask_judge)
    AR = (1/k) Σ_i max(0, cos(E(q_i), E(question)))       E: the sentence embedder

RAGAS samples k replies (n=k at a temperature); cairn asks for k different questions in one
greedy call: deterministic, and one prompt evaluation instead of k on a CPU. Cosines are
clipped at 0 so the score stays in [0, 1] (an opposite-meaning question is as irrelevant as an
unrelated one). RAGAS' "noncommittal" flag, which zeroes evasive answers, is replaced by the
sample's `refused` flag: refusals are omitted, since relevancy of "I couldn't find that" says
nothing. Without a judge or an embedder the score is omitted; a reply that does not parse is
an abstention, `answer_relevancy_abstained: 1.0`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.citations import remove_markers
from assistant.llm.base import ChatLLM, Message
from evals.judge.parsing import (
    JudgeConfigError,
    JudgeOutputError,
    ask_judge,
    check_text,
)

if TYPE_CHECKING:
    from evals.sample import AnswerSample

DEFAULT_K = 3
MAX_QUESTION_CHARS = 200
_SYSTEM = ("You read an answer and write the questions it answers. Each question must be one that this "
           "answer, on its own, fully answers. Write natural questions a user would ask, each different "
           "in wording. Do not answer them.")


def questions_schema(k: int) -> dict[str, Any]:
    """Exactly k non-empty questions (minItems = maxItems = k, which the grammar enforces)."""
    item = {"type": "string", "minLength": 1, "maxLength": MAX_QUESTION_CHARS}
    return {"type": "object", "properties": {"questions": {"type": "array", "items": item, "minItems": k,
                                                           "maxItems": k}},
            "required": ["questions"], "additionalProperties": False}


def question_messages(answer: str, k: int) -> list[Message]:
    example = ", ".join(f'"question {i}?"' for i in range(1, k + 1))
    user = (f"Answer:\n{check_text('answer', answer)}\n\nWrite {k} different questions that this answer answers. "
            f'Reply with a JSON object and nothing else: {{"questions": [{example}]}}')
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]


def parse_questions(obj: dict[str, Any], k: int) -> list[str]:
    """The first k questions of a parsed reply. A backend that cannot enforce the schema may
    return fewer: at least one non-empty question is required, else JudgeOutputError."""
    value = obj.get("questions")
    if not isinstance(value, list) or not all(isinstance(q, str) for q in value):
        raise JudgeOutputError(f"questions={value!r} is not a list of strings")
    questions = [q.strip() for q in value if q.strip()][:k]
    if not questions:
        raise JudgeOutputError("the judge wrote no question")
    return questions


def mean_clipped_cosine(question_vector: np.ndarray, generated: np.ndarray) -> float:
    """(1/k) Σ max(0, cos(g_i, q)) for q: (dim,), generated: (k, dim). Vectors need not be unit
    length; a zero vector has cosine 0 with everything."""
    q = np.asarray(question_vector, dtype=np.float64).reshape(-1)
    g = np.asarray(generated, dtype=np.float64).reshape(-1, q.shape[0])  # (k, dim)
    norms = np.linalg.norm(g, axis=1) * np.linalg.norm(q)  # (k,)
    cosines = np.divide(g @ q, norms, out=np.zeros(len(g)), where=norms > 0)
    return float(np.mean(np.clip(cosines, 0.0, 1.0)))


def generated_questions(judge: ChatLLM, answer: str, k: int = DEFAULT_K) -> list[str] | None:
    """k questions `answer` answers (markers removed), or None when the judge abstained."""
    attempt = ask_judge(judge, question_messages(remove_markers(answer), k), questions_schema(k),
                        lambda obj: parse_questions(obj, k), max_tokens=64 * k, temperature=0.0, seed=0)
    return attempt.value


def answer_relevancy(sample: AnswerSample, *, judge: ChatLLM | None = None, embedder=None,
                     k: int = DEFAULT_K) -> dict[str, float]:
    """`answer_relevancy` in [0, 1], or `answer_relevancy_abstained: 1.0`; {} for a refusal or
    without a judge and an embedder (`embedder.encode(texts) -> (n, dim)`)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise JudgeConfigError(f"k={k!r} must be a positive integer (questions to generate)")
    if judge is None or embedder is None or sample.refused or not remove_markers(sample.answer).strip():
        return {}
    questions = generated_questions(judge, sample.answer, k)
    if questions is None:
        return {"answer_relevancy_abstained": 1.0}
    vectors = embedder.encode([sample.question, *questions])  # (1 + k, dim)
    return {"answer_relevancy": mean_clipped_cosine(vectors[0], vectors[1:])}
