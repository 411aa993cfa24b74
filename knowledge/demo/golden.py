"""Builds the golden catalog retrieval set (`evals/golden/catalog_retrieval.jsonl`) from the case
specs in `golden_cases.py` and the catalog, judging relevance by construction:

    grade 2  the item matches every filter of the question and its primary topic is the
             question's topic (or, for a pure filter question, it matches every filter)
    grade 1  partially relevant, by the rules a case opts into:
             "secondary"   the topic is the item's secondary topic (its text touches on it)
             "docuseries"  a documentary *series* on the topic, when documentaries were asked for
             "any-type"    on topic, but another type than the one asked for
             `near`        on topic and matching these looser filters instead (e.g. released
                           in 2025 but before the last-year window)

Lookups name one title; "similar to X" cases exclude X itself; real films (which carry no
topics) are judged by hand, by title, after reading their descriptions: `judged` for cases
made of them alone, `also` for real films that belong next to generated items (Night of the
Living Dead in "a movie about a zombie outbreak"). Every answerable case
must end up with 1-15 relevant items, and every unanswerable case's guard words must occur
in no item: the builder raises otherwise, so a catalog change cannot silently rot the set.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from .jsonl import read_jsonl, write_jsonl

GOLDEN_VERSION = "1.0"
# evals/golden/ of the repository this package lives in (an editable install).
GOLDEN_FILE = Path(__file__).resolve().parents[2] / "evals" / "golden" / "catalog_retrieval.jsonl"
MAX_RELEVANT = 15
CASE_FIELDS = ("id", "collection", "question", "reference_answer", "relevant_ids", "answerable", "tags", "filters")
PARTIAL_RULES = ("secondary", "docuseries", "any-type")


@dataclass(frozen=True)
class CaseSpec:
    """One golden question and how its relevant items are found (see the module docstring)."""

    question: str
    tags: tuple[str, ...]
    filters: Mapping[str, Any] = field(default_factory=dict)
    topics: tuple[str, ...] = ()
    partial: tuple[str, ...] = ()
    near: Mapping[str, Any] = field(default_factory=dict)  # grade 1: on topic and matching these
    title: str | None = None                      # lookup: the one item with exactly this title
    like: str | None = None                       # similar-to: the title the question names
    judged: Mapping[str, int] = field(default_factory=dict)  # hand-judged: title -> grade
    also: Mapping[str, int] = field(default_factory=dict)    # hand-judged additions: title -> grade
    guard: tuple[str, ...] = ()                   # unanswerable: words no item may contain
    answerable: bool = True

    def __post_init__(self) -> None:
        for rule in self.partial:
            if rule not in PARTIAL_RULES:
                raise ValueError(f"unknown partial rule {rule!r} in {self.question!r}; use one of {PARTIAL_RULES}")
        if not self.answerable and (self.topics or self.title or self.judged):
            raise ValueError(f"unanswerable case {self.question!r} cannot name relevant items")


class GoldenSpecError(ValueError):
    """A case whose relevance cannot be derived as specified (the message says which and why)."""


def matches(filters: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
    """The golden set's filter semantics: fields ANDed; on a list field a value means "contains",
    a list of values "contains any"; strings compare case-insensitively; {"gte": x} etc. order
    numbers and ISO dates. The same dict form `knowledge.filters.filters_from_dict` reads."""
    for name, condition in filters.items():
        value = item.get(name)
        if isinstance(condition, Mapping):
            if value is None:
                return False
            for op, operand in condition.items():
                if not {"gt": value > operand, "gte": value >= operand, "lt": value < operand,
                        "lte": value <= operand, "eq": value == operand, "ne": value != operand}[op]:
                    return False
            continue
        wanted = {str(w).lower() for w in (condition if isinstance(condition, list) else [condition])}
        have = {str(v).lower() for v in value} if isinstance(value, list) else (
            {str(value).lower()} if value is not None else set())
        if not wanted & have:
            return False
    return True


def _without(filters: Mapping[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in filters.items() if k not in names}


def grade(spec: CaseSpec, item: Mapping[str, Any]) -> int:
    topics = item.get("topics") or []
    primary, secondary = (topics[0], topics[1:]) if topics else (None, [])
    on_topic = primary in spec.topics
    if matches(spec.filters, item) and (on_topic or not spec.topics):
        return 2
    if not spec.topics:
        return 0
    for rule in spec.partial:
        if rule == "secondary" and matches(spec.filters, item) and set(secondary) & set(spec.topics):
            return 1
        if rule == "docuseries" and on_topic and item["type"] == "series" and "documentary" in item["genres"] \
                and matches(_without(spec.filters, "type"), item):
            return 1
        if rule == "any-type" and on_topic and matches(_without(spec.filters, "type"), item):
            return 1
    if spec.near and on_topic and matches(spec.near, item):
        return 1
    return 0


def _words_found(items: Iterable[Mapping[str, Any]], words: tuple[str, ...]) -> list[str]:
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, words)) + r")\b", re.I)
    return [f"{item['id']}: {m.group(0)!r}" for item in items
            for m in [pattern.search(f"{item['title']} {item['description']}")] if m]


def _by_title(spec: CaseSpec, by_title: Mapping[str, list[str]], titles: Mapping[str, int]) -> dict[str, int]:
    """Hand-judged grades by title; each title must name exactly one item."""
    grades = {}
    for title, value in titles.items():
        ids = by_title.get(title, [])
        if len(ids) != 1:
            raise GoldenSpecError(f"{spec.question!r}: title {title!r} names {len(ids)} items, not exactly one")
        grades[ids[0]] = value
    return grades


def judge(spec: CaseSpec, items: list[dict[str, Any]]) -> dict[str, int]:
    """Relevant item ids with grades for one case; raises GoldenSpecError when the spec and the
    catalog disagree (a missing title, too many relevant items, a guard word present)."""
    by_title: dict[str, list[str]] = {}
    for item in items:
        by_title.setdefault(item["title"], []).append(item["id"])
    if not spec.answerable:
        if spec.guard and (found := _words_found(items, spec.guard)):
            raise GoldenSpecError(f"{spec.question!r} is marked unanswerable but the catalog mentions it: {found[:5]}")
        if spec.filters and not spec.guard and (hits := [i["id"] for i in items if matches(spec.filters, i)]):
            raise GoldenSpecError(f"{spec.question!r} is marked unanswerable but its filters match {hits[:5]}")
        return {}
    if spec.title is not None or spec.judged:
        return _by_title(spec, by_title, {spec.title: 2} if spec.title is not None else spec.judged)
    if spec.like is not None and len(by_title.get(spec.like, [])) != 1:
        raise GoldenSpecError(f"{spec.question!r}: the title it names, {spec.like!r}, is not exactly one item")
    grades = {item["id"]: g for item in items if item["title"] != spec.like and (g := grade(spec, item))}
    grades.update(_by_title(spec, by_title, spec.also))
    if not 1 <= len(grades) <= MAX_RELEVANT:
        raise GoldenSpecError(f"{spec.question!r} has {len(grades)} relevant items; keep it between 1 and "
                             f"{MAX_RELEVANT} by narrowing its filters or topics")
    return grades


def _reference_answer(grades: Mapping[str, int], items_by_id: Mapping[str, Mapping[str, Any]]) -> str:
    if not grades:
        return "Nothing in the catalog answers this; the right answer says so and cites nothing."
    best = [items_by_id[i] for i, g in sorted(grades.items(), key=lambda kv: (-kv[1], kv[0])) if g == 2]
    named = "; ".join(f"{item['title']} ({item['type']}, {item['year']})" for item in best[:8])
    more = f" and {len(best) - 8} more" if len(best) > 8 else ""
    return f"{named}{more}."


def build_cases(items: list[dict[str, Any]], specs: Iterable[CaseSpec] | None = None) -> list[dict[str, Any]]:
    if specs is None:
        from .golden_cases import CASES

        specs = CASES
    items_by_id = {item["id"]: item for item in items}
    cases = []
    for number, spec in enumerate(specs, 1):
        grades = judge(spec, items)
        graded = any(g != 2 for g in grades.values())
        ordered = sorted(grades.items(), key=lambda kv: (-kv[1], kv[0]))
        cases.append({
            "id": f"ret-{number:03d}", "collection": "catalog", "question": spec.question,
            "reference_answer": _reference_answer(grades, items_by_id),
            "relevant_ids": dict(ordered) if graded else [i for i, _ in ordered],
            "answerable": spec.answerable, "tags": list(spec.tags), "filters": dict(spec.filters),
        })
    return cases


def write_golden(out: Path, catalog_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    cases = build_cases(list(read_jsonl(catalog_path)))
    write_jsonl(out, cases, CASE_FIELDS)
    return Path(out), cases
