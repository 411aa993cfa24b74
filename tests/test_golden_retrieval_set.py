"""The golden catalog retrieval set: format, coverage of question kinds, relevance that agrees
with the catalog and the filter semantics, and that the committed file is what the case specs
derive from the committed catalog."""
from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest

from knowledge.demo import DATA_DIR
from knowledge.demo.golden import GOLDEN_FILE, MAX_RELEVANT, CaseSpec, GoldenSpecError, build_cases, judge, matches
from knowledge.demo.jsonl import read_jsonl

TAGS = {"semantic", "synonym", "filter", "lookup", "similar", "unanswerable"}


@pytest.fixture(scope="module")
def catalog() -> dict[str, dict]:
    return {item["id"]: item for item in read_jsonl(DATA_DIR / "catalog.jsonl")}


@pytest.fixture(scope="module")
def cases() -> list[dict]:
    lines = Path(GOLDEN_FILE).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _grades(case: dict) -> dict[str, int]:
    relevant = case["relevant_ids"]
    return dict(relevant) if isinstance(relevant, dict) else {doc_id: 2 for doc_id in relevant}


def test_format(cases):
    assert len(cases) >= 60
    assert [c["id"] for c in cases] == [f"ret-{k:03d}" for k in range(1, len(cases) + 1)]
    for case in cases:
        assert case["collection"] == "catalog" and case["question"].strip()
        assert isinstance(case["answerable"], bool) and isinstance(case["filters"], dict)
        assert isinstance(case["relevant_ids"], (list, dict)) and case["tags"]


def test_every_question_kind_is_covered(cases):
    tags = collections.Counter(tag for case in cases for tag in case["tags"])
    assert TAGS <= set(tags), TAGS - set(tags)
    assert all(tags[tag] >= 5 for tag in TAGS), tags


def test_relevant_ids_exist_and_sets_are_small(cases, catalog):
    for case in cases:
        grades = _grades(case)
        assert set(grades) <= set(catalog), (case["id"], set(grades) - set(catalog))
        assert set(grades.values()) <= {1, 2}
        if case["answerable"]:
            assert 1 <= len(grades) <= MAX_RELEVANT, case["id"]
            assert 2 in grades.values(), f"{case['id']} has no fully relevant item"
        else:
            assert case["relevant_ids"] == [], case["id"]
        if "lookup" in case["tags"]:
            assert len(grades) == 1, case["id"]


def test_graded_relevance_is_used(cases):
    graded = [c for c in cases if isinstance(c["relevant_ids"], dict)]
    assert len(graded) >= 10
    assert all(1 in c["relevant_ids"].values() for c in graded)


def test_fully_relevant_items_satisfy_the_case_filters(cases, catalog):
    for case in cases:
        for doc_id, grade in _grades(case).items():
            if grade == 2:
                assert matches(case["filters"], catalog[doc_id]), (case["id"], doc_id)


def test_filters_mean_the_same_to_the_retrieval_filter_parser(cases, catalog):
    filters = pytest.importorskip("knowledge.filters", reason="the knowledge filter module is not available")
    for case in cases:
        parsed = filters.filters_from_dict(case["filters"], "catalog")  # raises on an unknown field or operator
        sample = list(_grades(case)) + list(catalog)[:: max(1, len(catalog) // 150)]
        for doc_id in sample:
            metadata = {**catalog[doc_id], "doc_id": doc_id}
            assert filters.matches(parsed, metadata, "catalog") == matches(case["filters"], catalog[doc_id]), \
                (case["id"], doc_id)


def test_last_year_means_the_year_before_the_demo_today(cases):
    windows = [c["filters"]["released"] for c in cases if "last year" in c["question"]]
    assert windows and all(w == {"gte": "2025-11-22", "lte": "2026-11-22"} for w in windows)


def test_the_project_golden_loader_accepts_the_file():
    golden = pytest.importorskip("evals.golden", reason="the evals golden loader is not available")
    loaded = golden.load_golden(GOLDEN_FILE)
    assert len(loaded) >= 60 and all(case.collection == "catalog" for case in loaded)


def test_committed_file_is_derived_from_the_committed_catalog(cases, catalog):
    assert build_cases(list(catalog.values())) == cases, "stale golden set: run `cairn demo golden`"


def test_judge_refuses_specs_that_disagree_with_the_catalog(catalog):
    items = list(catalog.values())
    with pytest.raises(GoldenSpecError, match="names 0 items"):
        judge(CaseSpec("a film that does not exist", ("lookup",), title="No Such Film 1234"), items)
    with pytest.raises(GoldenSpecError, match="mentions it"):
        judge(CaseSpec("films about jazz", ("unanswerable",), answerable=False, guard=("jazz",)), items)
    with pytest.raises(GoldenSpecError, match="relevant items"):
        judge(CaseSpec("all films", ("filter",), {"type": "film"}), items)
