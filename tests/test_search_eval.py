"""Golden-set loading (bad lines reported by number) and the search-eval table."""
from __future__ import annotations

import json
import math

import pytest

from evals.golden import GoldenSetError, load_golden
from evals.search_eval import Variant, evaluate, format_table
from fakes import HashEmbedder
from knowledge.config import KnowledgeConfig
from knowledge.index import KnowledgeBase
from knowledge.ingest import ingest


def write(path, lines):
    path.write_text("\n".join(l if isinstance(l, str) else json.dumps(l) for l in lines) + "\n")
    return path


def test_loader_reports_every_bad_line(tmp_path):
    path = write(tmp_path / "g.jsonl", [
        {"id": "a", "collection": "catalog", "question": "q", "relevant_ids": ["x"]},
        "{not json",
        {"id": "b", "collection": "movies", "question": "q"},
        {"id": "c", "collection": "catalog", "question": "q", "answerable": False, "relevant_ids": ["x"]},
        {"id": "a", "collection": "catalog", "question": "again"},
        {"id": "d", "collection": "catalog", "question": "q", "relevant_ids": {"x": -1}},
    ])
    with pytest.raises(GoldenSetError) as exc:
        load_golden(path)
    message = str(exc.value)
    assert "5 invalid line(s)" in message
    for line in (2, 3, 4, 5, 6):
        assert f"g.jsonl:{line}:" in message
    assert "duplicate id 'a'" in message and "must have no relevant_ids" in message


def test_loader_graded_and_binary(tmp_path):
    path = write(tmp_path / "g.jsonl", [
        {"id": "a", "collection": "catalog", "question": "q", "relevant_ids": ["x", "y"], "tags": ["lookup"]},
        {"id": "b", "collection": "catalog", "question": "q", "relevant_ids": {"x": 2, "z": 1},
         "filters": {"type": "film"}},
        {"id": "c", "collection": "catalog", "question": "q", "answerable": False},
    ])
    a, b, c = load_golden(path)
    assert a.relevant == {"x": 1.0, "y": 1.0} and a.tags == ("lookup",)
    assert b.relevant == {"x": 2.0, "z": 1.0} and b.filters == {"type": "film"}
    assert not c.answerable and c.relevant == {}


def test_evaluate_and_table(tmp_path):
    rows = [{"id": f"i{i}", "title": f"T{i}", "type": "film" if i % 2 else "documentary", "year": 2000 + i,
             "genres": ["drama"], "description": d} for i, d in enumerate(
        ["glaciers melting in the arctic", "a bank heist in lisbon", "jazz musicians on tour", "sourdough bread yeast"])]
    src = tmp_path / "c.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    kb = KnowledgeBase("catalog", KnowledgeConfig(), embedder=HashEmbedder())
    ingest(kb, [src], progress=False)
    golden = write(tmp_path / "g.jsonl", [
        {"id": "g1", "collection": "catalog", "question": "glaciers melting", "relevant_ids": ["i0"], "tags": ["semantic"]},
        {"id": "g2", "collection": "catalog", "question": "heist lisbon", "relevant_ids": {"i1": 2}, "tags": ["lookup"],
         "filters": {"type": "film"}},
        {"id": "g3", "collection": "catalog", "question": "quantum chromodynamics", "answerable": False},
    ])
    cases = load_golden(golden)
    results = evaluate(kb, cases, [Variant("bm25"), Variant("hybrid", use_filters=False)], progress=False)
    for r in results:
        assert set(r.per_case) == {"g1", "g2"}  # the unanswerable case is excluded
        assert r.mean("MRR@10") == 1.0 and r.mean("NDCG@10") == pytest.approx(1.0)
        assert r.mean("P@5") == pytest.approx(0.2)
    table = format_table(results, cases)
    assert "hybrid (no filters)" in table and "2 answerable cases scored; 1 unanswerable excluded" in table
    assert "semantic" in table and not math.isnan(results[0].mean("R@10"))
