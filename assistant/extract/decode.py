"""Schema-constrained decoding with validate-and-repair:

    llm.chat(messages, json_schema=S, temperature=0) ─▶ parse + check against S
        ok ─▶ reply dict
        bad ─▶ one repair call: the bad reply and the error message go back to the model
               ─▶ parse + check ─▶ ok: reply dict │ bad: None (the caller falls back to rules)

On llama.cpp the schema becomes a grammar, so a reply can only be invalid when it is cut by
max_tokens; on a backend without grammars (an OpenAI-compatible server that ignores it, the
fake in tests) the check is what stands between a malformed reply and the result. Greedy
decoding (temperature 0, fixed seed) makes the same note give the same reply.

`schema_errors` checks the subset of JSON Schema that prompt.py uses (type, anyOf,
properties, required, additionalProperties: false, items, minItems/maxItems,
minLength/maxLength).
"""
from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assistant.llm.base import ChatLLM, LLMError

from .errors import ReplyError
from .prompt import repair_messages
from .schema import TraceEvent

_JSON_TYPES = {"object": dict, "array": list, "string": str, "null": type(None), "boolean": bool,
               "integer": int, "number": (int, float)}


def schema_errors(value: Any, schema: Mapping[str, Any], path: str = "$") -> list[str]:
    """Why `value` does not follow `schema` (empty: it does). Paths read like `$.vitals.spo2`."""
    if "anyOf" in schema:
        options = [schema_errors(value, option, path) for option in schema["anyOf"]]
        return [] if any(not o for o in options) else min(options, key=len)
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(isinstance(value, _JSON_TYPES[k]) and not (k != "boolean" and isinstance(value, bool))
                   for k in kinds):
            return [f"{path} must be {' or '.join(kinds)}, got {json.dumps(value)[:60]}"]
    errors: list[str] = []
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        errors += [f"{path} lacks key {k!r}" for k in schema.get("required", []) if k not in value]
        if schema.get("additionalProperties") is False:
            errors += [f"{path} has unexpected key {k!r}; allowed: {', '.join(properties)}"
                       for k in value if k not in properties]
        for k, sub in properties.items():
            if k in value:
                errors += schema_errors(value[k], sub, f"{path}.{k}")
    elif isinstance(value, list):
        if len(value) > schema.get("maxItems", len(value)) or len(value) < schema.get("minItems", 0):
            errors.append(f"{path} has {len(value)} items; allowed {schema.get('minItems', 0)}.."
                          f"{schema.get('maxItems', 'any')}")
        if "items" in schema:
            for i, item in enumerate(value):
                errors += schema_errors(item, schema["items"], f"{path}[{i}]")
    elif isinstance(value, str):
        if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value)):
            errors.append(f"{path} is {len(value)} characters; allowed {schema.get('minLength', 0)}.."
                          f"{schema.get('maxLength', 'any')}")
    return errors


def parse_reply(text: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    """The reply as a dict, or ReplyError naming what is wrong (fed back in the repair call)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReplyError(f"it is not valid JSON ({exc.msg} at character {exc.pos}); "
                         "write one JSON object and nothing else") from exc
    errors = schema_errors(value, schema)
    if errors:
        shown = "; ".join(errors[:5]) + (f"; and {len(errors) - 5} more" if len(errors) > 5 else "")
        raise ReplyError(f"it does not follow the schema: {shown}")
    return value


@dataclass(frozen=True)
class Decoded:
    """reply: the checked dict, or None when the model never produced one; trace: what
    happened (calls, invalid replies, the repair); seconds: time spent in the model."""

    reply: dict[str, Any] | None
    trace: tuple[TraceEvent, ...]
    seconds: float


def decode(llm: ChatLLM, messages: Sequence[Mapping[str, str]], schema: dict[str, Any], *,
           max_tokens: int, repair: bool = True) -> Decoded:
    """One constrained call, checked; on a bad reply one repair call (if `repair`)."""
    trace: list[TraceEvent] = []
    clock = time.perf_counter()
    conversation = list(messages)
    for attempt in range(2 if repair else 1):
        try:
            completion = llm.chat(conversation, json_schema=schema, temperature=0, max_tokens=max_tokens)
        except LLMError as exc:  # e.g. the prompt does not fit: no point repairing, fall back
            trace.append(TraceEvent("invalid_reply", f"the {llm.model_id} call failed: {exc}"))
            break
        trace.append(TraceEvent("llm_call", f"{llm.model_id}: {completion.prompt_tokens} prompt + "
                                            f"{completion.completion_tokens} generated tokens ({completion.finish_reason})"))
        try:
            if completion.finish_reason == "length":
                raise ReplyError(f"it was cut off at max_tokens={max_tokens} before the JSON closed; "
                                 "give shorter quotes and fewer items")
            reply = parse_reply(completion.text, schema)
            return Decoded(reply, tuple(trace), time.perf_counter() - clock)
        except ReplyError as exc:
            trace.append(TraceEvent("invalid_reply", f"reply {attempt + 1} is invalid: {exc}"))
            if attempt == 0 and repair:
                trace.append(TraceEvent("repair", "asked the model once to repair its reply"))
                conversation = repair_messages(messages, completion.text, str(exc))
    return Decoded(None, tuple(trace), time.perf_counter() - clock)
