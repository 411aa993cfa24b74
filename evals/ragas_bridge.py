"""ragas 0.4.3's faithfulness and answer relevancy (Es et al. 2023, "RAGAS") on cairn's
AnswerSamples, run offline on the local models, to check our metrics against the reference
implementation (evals/ragas_agreement.py compares the two).

    cairn ChatLLM ──CairnRagasLLM──▶ ragas InstructorBaseRagasLLM   agenerate(prompt, PydanticModel)
                                      = one chat call constrained by the model's JSON schema,
                                        validated by pydantic
    cairn Embedder ─CairnRagasEmbeddings─▶ ragas BaseRagasEmbedding  embed_text / embed_texts
    AnswerSample ──▶ ragas.metrics.collections.Faithfulness.ascore(user_input, response, retrieved_contexts)
                 ──▶ ragas.metrics.collections.AnswerRelevancy.ascore(user_input, response)

Why these ragas classes. ragas 0.4 has two metric APIs. The legacy one (`ragas.metrics.Faithfulness`
+ `evaluate()`) takes a `LangchainLLMWrapper` (deprecated in 0.4; it would wrap
assistant/llm/langchain.py's CairnChatModel) and parses free text with retry-and-fix LLM calls.
The collections API (`ragas.metrics.collections`) rejects every LLM that is not an
`InstructorBaseRagasLLM`; `llm_factory` builds one only around an OpenAI-style client through
`instructor`. Subclassing `InstructorBaseRagasLLM` directly (DESIGN.md §6) needs no client, no
server and no network, and lets llama.cpp enforce each prompt's JSON schema, which a 0.5–1.5B
model needs to produce parsable verdicts at all. Neither metric needs n > 1 generations in this
API: AnswerRelevancy calls the LLM `strictness` (3) times with one prompt, so with greedy
decoding its 3 questions are the same question (deterministic; ragas' legacy API sampled them).

Workarounds, all in the grammar only (pydantic still validates ragas' own models):
  * `$ref`s are inlined, so the grammar does not depend on a converter resolving `$defs`.
  * strings get maxLength STRING_CAP: small models fill a free string (a verdict's "reason")
    until max_tokens, and a cut-off reply is unparsable.
  * the 0/1 integers (`verdict`, `noncommittal`) get enum [0, 1]: the prompt says 0/1, the
    schema only "integer", and ragas counts any non-zero verdict as faithful.
  * arrays get minItems 1: the 0.5B model answered the NLI prompt with `{"statements": []}`
    (no verdict for its one statement), which ragas turns into NaN.
Telemetry is off: RAGAS_DO_NOT_TRACK=true is set before ragas is imported. A score ragas
returns as NaN or outside [0, 1] (DESIGN.md §6: tiny models produce both), or a reply that fails
validation, is an abstention `<key>_abstained: 1.0`, never reported as a score.
"""
from __future__ import annotations

import asyncio
import copy
import logging
import math
import os
from collections.abc import Sequence
from typing import Any, TypeVar

os.environ["RAGAS_DO_NOT_TRACK"] = "true"  # ragas caches do_not_track() at its first event

from pydantic import BaseModel, ValidationError  # noqa: E402
from ragas.embeddings.base import BaseRagasEmbedding  # noqa: E402
from ragas.llms.base import InstructorBaseRagasLLM  # noqa: E402
from ragas.metrics.collections import AnswerRelevancy, Faithfulness  # noqa: E402

from assistant.citations import remove_markers  # noqa: E402
from assistant.llm.base import ChatLLM, LLMUnsupportedError  # noqa: E402
from evals.judge.parsing import JudgeOutputError, parse_json_object  # noqa: E402
from evals.metrics.faithfulness import declines  # noqa: E402
from evals.sample import AnswerSample  # noqa: E402

log = logging.getLogger(__name__)
Model = TypeVar("Model", bound=BaseModel)
STRING_CAP = 300
BINARY_FIELDS = frozenset({"verdict", "noncommittal"})
RAGAS_STRICTNESS = 3  # ragas' default number of generated questions


class RagasOutputError(ValueError):
    """A reply that is not the JSON object ragas asked for (caught per sample: an abstention)."""


def grammar_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with `$ref`s inlined, strings capped at STRING_CAP, arrays non-empty and
    BINARY_FIELDS as enum [0, 1] (see the module doc); the input is not modified."""
    defs = schema.get("$defs", {})

    def walk(node: Any, name: str | None = None) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target = node["$ref"].rsplit("/", 1)[-1]
            if target not in defs:
                raise ValueError(f"schema $ref {node['$ref']!r} does not point into $defs")
            return walk(copy.deepcopy(defs[target]), name)
        out = {key: (value if key in ("required", "enum") else
                     {k: walk(v, k) for k, v in value.items()} if key == "properties" else walk(value))
               for key, value in node.items() if key != "$defs"}
        if out.get("type") == "string":
            out.setdefault("maxLength", STRING_CAP)
        if out.get("type") == "array":
            out.setdefault("minItems", 1)
        if out.get("type") == "integer" and name in BINARY_FIELDS:
            out["enum"] = [0, 1]
        return out

    return walk(schema)


class CairnRagasLLM(InstructorBaseRagasLLM):
    """A cairn ChatLLM as ragas' structured-output LLM: each `generate(prompt, Model)` is one
    user-turn chat call, JSON-schema constrained where the backend can (else unconstrained, as
    evals.judge.parsing.ask_judge does), parsed and validated into `Model`."""

    def __init__(self, llm: ChatLLM, *, max_tokens: int = 1024, temperature: float = 0.0, seed: int | None = 0):
        self.llm, self.max_tokens, self.temperature, self.seed = llm, max_tokens, temperature, seed
        self.calls = 0

    def generate(self, prompt: str, response_model: type[Model]) -> Model:
        self.calls += 1
        messages = [{"role": "user", "content": prompt}]
        options = {"max_tokens": self.max_tokens, "temperature": self.temperature, "seed": self.seed}
        try:
            completion = self.llm.chat(messages, json_schema=grammar_schema(response_model.model_json_schema()),
                                       **options)
        except LLMUnsupportedError:
            completion = self.llm.chat(messages, **options)
        try:
            return response_model.model_validate(parse_json_object(completion.text))
        except (JudgeOutputError, ValidationError) as exc:
            cut = " (cut at max_tokens)" if completion.finish_reason == "length" else ""
            raise RagasOutputError(f"{response_model.__name__} reply{cut} is invalid: {exc}") from exc

    async def agenerate(self, prompt: str, response_model: type[Model]) -> Model:
        return self.generate(prompt, response_model)  # the local model is synchronous anyway


class CairnRagasEmbeddings(BaseRagasEmbedding):
    """A cairn embedder (`encode(texts) -> (n, dim)`, knowledge/embedder.py) as ragas' embeddings."""

    def __init__(self, embedder: Any) -> None:
        super().__init__(cache=None)
        self.embedder = embedder

    def embed_text(self, text: str, **kwargs: Any) -> list[float]:
        return self.embed_texts([text])[0]

    async def aembed_text(self, text: str, **kwargs: Any) -> list[float]:
        return self.embed_text(text)

    def embed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        return [[float(x) for x in row] for row in self.embedder.encode(list(texts))]

    async def aembed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        return self.embed_texts(texts)


ROUNDING = 1e-9  # a mean of unit-vector cosines can come out as 1.0000000000000002


def checked_score(value: Any) -> float | None:
    """A ragas result as a score in [0, 1] (rounding error clamped), or None: NaN, inf and
    values outside the range are not scores."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value) or not -ROUNDING <= value <= 1.0 + ROUNDING:
        return None
    return min(1.0, max(0.0, value))


def _run(key: str, coroutine: Any, out: dict[str, float]) -> None:
    """Await one ragas ascore; store its checked value under `key` or `<key>_abstained: 1.0`."""
    try:
        result = asyncio.run(coroutine)
    except (RagasOutputError, ValueError) as exc:  # model output or ragas' input checks; LLMErrors propagate
        log.info("%s abstained: %s", key, exc)
        out[f"{key}_abstained"] = 1.0
        return
    score = checked_score(getattr(result, "value", result))
    if score is None:
        log.info("%s abstained: ragas returned %r", key, getattr(result, "value", result))
        out[f"{key}_abstained"] = 1.0
    else:
        out[key] = score


def ragas_scores(samples: Sequence[AnswerSample], llm: ChatLLM, embedder: Any = None, *, raw: bool = True,
                 relevancy: bool = True) -> list[dict[str, float]]:
    """Per sample: `ragas_faithfulness` (the verified answer), `ragas_faithfulness_raw` (the
    model's reply, with raw=True) and `ragas_answer_relevancy` (with an embedder and
    relevancy=True), each omitted where ours is (refusals, no contexts) and `_abstained` where
    ragas gave no valid score. Markers are removed from answers: "[1]" is no statement."""
    ragas_llm = CairnRagasLLM(llm)
    faithfulness = Faithfulness(llm=ragas_llm)
    relevance = None
    if embedder is not None and relevancy:
        relevance = AnswerRelevancy(llm=ragas_llm, embeddings=CairnRagasEmbeddings(embedder),
                                    strictness=RAGAS_STRICTNESS)
    rows: list[dict[str, float]] = []
    for sample in samples:
        out: dict[str, float] = {}
        answer = remove_markers(sample.answer).strip()
        answered = not sample.refused and not declines(sample.answer) and bool(answer)
        texts = [("ragas_faithfulness", answer, answered)]
        if raw:
            texts.append(("ragas_faithfulness_raw", remove_markers(sample.raw_answer).strip(),
                          not declines(sample.raw_answer)))
        scored: dict[str, str] = {}  # text -> the key it was scored under
        for key, text, applies in texts:
            if not (applies and text and sample.contexts):
                continue
            if text in scored:  # the raw reply is the shown answer: greedy decoding, same result
                for suffix in ("", "_abstained"):
                    if scored[text] + suffix in out:
                        out[key + suffix] = out[scored[text] + suffix]
                continue
            _run(key, faithfulness.ascore(user_input=sample.question, response=text,
                                          retrieved_contexts=list(sample.contexts)), out)
            scored[text] = key
        if relevance is not None and answered:
            _run("ragas_answer_relevancy", relevance.ascore(user_input=sample.question, response=answer), out)
        rows.append(out)
    return rows
