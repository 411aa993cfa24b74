"""Golden sets (DESIGN.md §2): one JSON case per line, validated on load. Every bad line is
reported with its number in one error, so a user fixes the file in one pass."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from knowledge.errors import CairnError
from knowledge.types import COLLECTIONS

from .metrics import as_relevance


class GoldenSetError(CairnError):
    """A golden file with invalid lines."""


@dataclass(frozen=True)
class GoldenCase:
    id: str
    collection: str
    question: str = ""
    relevant: dict[str, float] = field(default_factory=dict)
    answerable: bool = True
    tags: tuple[str, ...] = ()
    filters: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


def _parse_case(obj: Any) -> GoldenCase:
    if not isinstance(obj, dict):
        raise ValueError("a case must be a JSON object")
    for key in ("id", "collection"):
        if not isinstance(obj.get(key), str) or not obj[key].strip():
            raise ValueError(f"missing or empty {key!r}")
    if obj["collection"] not in COLLECTIONS:
        raise ValueError(f"collection {obj['collection']!r} is not one of {COLLECTIONS}")
    task = obj.get("task", "qa")
    if task == "qa" and not str(obj.get("question", "")).strip():
        raise ValueError("a question case needs a non-empty 'question'")
    if task == "extract" and not obj.get("note_id"):
        raise ValueError("an extraction case needs 'note_id'")
    relevant = as_relevance(obj.get("relevant_ids") or [])
    answerable = obj.get("answerable", True)
    if not isinstance(answerable, bool):
        raise ValueError(f"'answerable' must be true or false, got {answerable!r}")
    if not answerable and relevant:
        raise ValueError("an unanswerable case (answerable=false) must have no relevant_ids")
    tags = obj.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ValueError("'tags' must be a list of strings")
    filters = obj.get("filters") or {}
    if not isinstance(filters, dict):
        raise ValueError("'filters' must be an object like {\"type\": \"documentary\"}")
    return GoldenCase(id=obj["id"], collection=obj["collection"], question=str(obj.get("question", "")),
                      relevant=relevant, answerable=answerable, tags=tuple(tags), filters=filters, raw=obj)


def load_golden(path: str | Path) -> list[GoldenCase]:
    path = Path(path)
    if not path.exists():
        raise GoldenSetError(f"golden set {path} does not exist")
    cases: list[GoldenCase] = []
    errors: list[str] = []
    seen: set[str] = set()
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                case = _parse_case(json.loads(raw.decode("utf-8")))
                if case.id in seen:
                    raise ValueError(f"duplicate id {case.id!r}")
            except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
                errors.append(f"{path}:{number}: {exc}")
                continue
            seen.add(case.id)
            cases.append(case)
    if errors:
        shown = "\n  ".join(errors[:20]) + (f"\n  … and {len(errors) - 20} more" if len(errors) > 20 else "")
        raise GoldenSetError(f"{len(errors)} invalid line(s) in {path}; fix them and rerun:\n  {shown}")
    if not cases:
        raise GoldenSetError(f"golden set {path} has no cases")
    return cases
