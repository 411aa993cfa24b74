"""One judge call: a JSON-schema-constrained request, a tolerant parse, strict validation, and an
explicit abstention when any of it fails (G-Eval, Liu et al. 2023, and MT-Bench, Zheng et al.
2023, both ask for a structured verdict; we constrain it, then still check it).

    ask_judge(llm, messages, schema, validate)
        -> llm.chat(..., json_schema=schema)          llama.cpp/vLLM enforce it; hf cannot (we retry unconstrained)
        -> parse_json_object(text)                     {"rationale": "...", "accuracy": 4, ...}
        -> validate(obj)                               the judge's own typed reading of it
        -> JudgeAttempt(value=...)  or  JudgeAttempt(value=None, reason="accuracy=7 is outside 1..5")

Why abstain instead of scoring 0 or NaN: a small local judge that breaks its output format has
told us nothing about the answer. A zero would drag a mean down as if the answer were bad; a
NaN silently poisons averages (the ragas pitfall in DESIGN.md §6). An abstention is counted
and reported next to the scores, so a judge that abstains often is visibly unreliable.

Model-side failures (server down, prompt too long) are NOT abstentions: they raise the LLM
layer's errors, because the run is broken, not the verdict.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from assistant.llm.base import ChatLLM, LLMUnsupportedError, Message
from knowledge.errors import CairnError

T = TypeVar("T")
# The judge's free-text explanation, capped: small models fill a string until the grammar
# closes it, so the cap bounds both the JSON length (no cut-off at max_tokens; ≈ 4 characters
# a token) and the time a verdict takes (measured: the 0.5B model wrote all 600 characters of
# a 600 cap, 25 s a call on one core).
RATIONALE_MAX_CHARS = 400
RATIONALE_SCHEMA: dict[str, Any] = {"type": "string", "maxLength": RATIONALE_MAX_CHARS}
# Reply budget: the capped rationale plus the keys and scores, with room to spare.
DEFAULT_MAX_TOKENS = 256


class JudgeError(CairnError):
    """A problem with an LLM-as-judge request or its inputs; the message names the fix."""


class JudgeConfigError(JudgeError):
    """A judge argument that cannot work (e.g. samples=3 at temperature 0)."""


class JudgeOutputError(JudgeError):
    """The judge's reply is not a valid verdict. Raised by parsers and validators and caught
    by `ask_judge`, which turns it into an abstention carrying this message as the reason."""


@dataclass(frozen=True)
class JudgeAttempt(Generic[T]):
    """One call to the judge model and what came of it.

    Fields:
        raw: the reply text exactly as the model produced it (kept for audits).
        value: the validated verdict, or None when the call abstained.
        reason: why it abstained (None when `value` is set).
        constrained: whether the backend accepted the JSON schema (False: hf, which cannot
            constrain output, so the reply was free text and is more likely to be malformed).
        seed: the sampling seed of this call.
    """

    raw: str
    value: T | None
    reason: str | None = None
    constrained: bool = True
    seed: int | None = None

    @property
    def ok(self) -> bool:
        return self.value is not None


# -- request side ------------------------------------------------------------------------------------

def passages_block(contexts: Sequence[Any]) -> str:
    """The retrieved passages as the judge sees them: `[1] text` per line, numbered like the
    answer's citations. Items may be strings or objects with a `.text` (knowledge Chunks)."""
    if isinstance(contexts, str):
        raise JudgeConfigError("contexts is a single string; pass a list of passages, e.g. [passage_text]")
    texts = [str(getattr(c, "text", c)).strip() for c in contexts]
    if not texts:
        return "(no passages were retrieved)"
    return "\n".join(f"[{i}] {t}" for i, t in enumerate(texts, start=1))


def check_text(name: str, value: Any) -> str:
    """The stripped text of a required string argument; JudgeConfigError if it is not one."""
    if not isinstance(value, str) or not value.strip():
        raise JudgeConfigError(f"{name}={value!r} must be a non-empty string")
    return value.strip()


def ask_judge(llm: ChatLLM, messages: Sequence[Message], schema: dict[str, Any],
              validate: Callable[[dict[str, Any]], T], *, max_tokens: int, temperature: float,
              seed: int | None) -> JudgeAttempt[T]:
    """Call the judge once with `schema` as the output constraint; parse and validate the reply.
    A backend that cannot constrain output (LLMUnsupportedError) is asked again without the
    schema: the prompt spells out the JSON shape and validation catches what the model gets
    wrong, so the judge still works there, only with more abstentions."""
    options = {"max_tokens": max_tokens, "temperature": temperature, "seed": seed}
    constrained = True
    try:
        completion = llm.chat(messages, json_schema=schema, **options)
    except LLMUnsupportedError:
        constrained = False
        completion = llm.chat(messages, **options)
    raw = completion.text
    try:
        value = validate(parse_json_object(raw))
    except JudgeOutputError as exc:
        reason = str(exc)
        if completion.finish_reason == "length":
            reason += f" (the reply was cut at max_tokens={max_tokens}; raise max_tokens)"
        return JudgeAttempt(raw=raw, value=None, reason=reason, constrained=constrained, seed=seed)
    return JudgeAttempt(raw=raw, value=value, constrained=constrained, seed=seed)


# -- reply side --------------------------------------------------------------------------------------

def parse_json_object(text: str) -> dict[str, Any]:
    """The JSON object in a judge reply: the whole reply when it is strict JSON (what a
    constrained backend returns), else the first `{...}` in it that decodes, so prose or a
    ```json fence around a free-text reply does not matter. Raises JudgeOutputError otherwise."""
    stripped = text.strip()
    if not stripped:
        raise JudgeOutputError("the judge returned an empty reply")
    try:
        value = json.loads(stripped)
    except json.JSONDecodeError:
        value = _first_object(stripped)
    if not isinstance(value, dict):
        value = _first_object(stripped)  # e.g. a JSON string or list wrapping an object
    if value is None:
        raise JudgeOutputError(f"no JSON object in the judge reply {_clip(stripped)!r}")
    return value


def _first_object(text: str) -> dict[str, Any] | None:
    """The first `{...}` in `text` that decodes as a JSON object (raw_decode stops at its end,
    so trailing prose is ignored)."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start >= 0:
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    return None


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def int_score(obj: Mapping[str, Any], key: str, low: int, high: int) -> int:
    """`obj[key]` as an integer in low..high. A JSON number with no fraction (4 or 4.0) counts;
    strings ("4"), booleans, fractions (3.5) and out-of-range values do not, because each
    means the judge did not follow the scale and its number should not be trusted."""
    if key not in obj:
        raise JudgeOutputError(f"the judge reply has no {key!r} score (keys: {sorted(obj)})")
    value = obj[key]
    # bool is an int subclass; float.is_integer() is False for 3.5, inf and nan.
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or (isinstance(value, float) and not value.is_integer()):
        raise JudgeOutputError(f"{key}={_clip(repr(value), 40)} is not a whole number from {low} to {high}")
    if not low <= value <= high:
        raise JudgeOutputError(f"{key}={_clip(str(int(value)), 40)} is outside {low}..{high}")
    return int(value)


def choice(obj: Mapping[str, Any], key: str, options: Sequence[str]) -> str:
    """`obj[key]` as one of `options`, ignoring case and surrounding spaces ("Tie " -> "tie")."""
    value = obj.get(key)
    if isinstance(value, str):
        by_folded = {o.casefold(): o for o in options}
        found = by_folded.get(value.strip().casefold())
        if found is not None:
            return found
    raise JudgeOutputError(f"{key}={value!r} is not one of {list(options)}")


def rationale(obj: Mapping[str, Any]) -> str:
    """The judge's explanation. Missing is tolerated (it carries no score); a non-string is not,
    since it means the reply's shape is not the one we asked for."""
    value = obj.get("rationale", "")
    if not isinstance(value, str):
        raise JudgeOutputError(f"rationale={_clip(repr(value))} is not a string")
    return value.strip()
