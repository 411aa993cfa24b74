"""Scoring query understanding: filter agreement counted by hand on six cases, and retrieval
with parsed vs gold vs no filters on a tiny in-test knowledge base (hash embedder)."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from evals.golden import GoldenCase
from evals.metrics import ndcg_at_k
from evals.query_eval import (VARIANTS, FieldScore, filter_accuracy, format_accuracy, format_comparison,
                              retrieval_with_parsed_filters, triples)
from fakes import HashEmbedder
from knowledge.config import KnowledgeConfig
from knowledge.filters import filters_from_dict
from knowledge.index import KnowledgeBase
from knowledge.ingest import ingest
from knowledge.retrieve import search

TODAY = dt.date(2026, 11, 22)


def case(cid: str, question: str, filters: dict, collection: str = "catalog", relevant=("x",)) -> GoldenCase:
    return GoldenCase(id=cid, collection=collection, question=question, relevant={r: 1.0 for r in relevant},
                      filters=filters)


def test_triples_normalise_values_like_the_filters_do():
    assert triples({"creators": "Akira Kurosawa"}, "catalog") == triples({"creators": ["akira kurosawa"]}, "catalog")
    assert triples({"rating": {"gte": 9}}, "catalog") == {("rating", "gte", 9.0)}
    assert triples({"released": {"gte": "2025-11-22"}}, "catalog") == {("released", "gte", 20251122)}
    assert triples({"type": ["film", "series"]}, "catalog") == {("type", "eq", "film"), ("type", "eq", "series")}


def test_filter_accuracy_counts_by_hand():
    cases = [
        case("a", "documentaries about bees", {"type": "documentary"}),                   # exact
        case("b", "podcasts from the 1980s", {"type": "podcast", "year": {"lte": 1989}}),  # year: +1 extra bound
        case("c", "something to watch about surfing", {"type": ["documentary", "film"]}),  # type: series extra
        case("d", "what medications were started?", {}, collection="notes"),              # exact, notes route
        case("e", "hi there", {}),                                                        # chit-chat: misrouted
        case("f", "films directed by Akira Kurosawa", {"type": "film", "creators": "Akira Kurosawa"}),  # no vocab
        GoldenCase(id="g", collection="notes", raw={"task": "extract"}),                  # no question: skipped
    ]
    acc = filter_accuracy(cases, TODAY)
    assert (acc.cases, acc.exact, acc.routed) == (6, 2, 5)
    assert acc.exact_rate == pytest.approx(2 / 6)
    assert acc.per_field["type"] == FieldScore(tp=5, fp=1, fn=0)  # a1 b1 c2(+1 fp) f1
    assert acc.per_field["year"] == FieldScore(tp=1, fp=1, fn=0)
    assert acc.per_field["creators"] == FieldScore(tp=0, fp=0, fn=1)
    assert acc.per_field["creators"].precision == 1.0 and acc.per_field["creators"].recall == 0.0
    assert acc.overall == FieldScore(tp=6, fp=2, fn=1)
    assert acc.overall.precision == pytest.approx(6 / 8) and acc.overall.recall == pytest.approx(6 / 7)
    by_id = {d.case_id: d for d in acc.disagreements}
    assert sorted(by_id) == ["b", "c", "e", "f"]
    assert by_id["b"].extra == (("year", "gte", 1980),) and by_id["b"].missing == ()
    assert by_id["e"].route == "chitchat" and by_id["e"].expected_route == "catalog"
    assert by_id["f"].missing == (("creators", "eq", "akira kurosawa"),)
    report = format_accuracy(acc)
    assert "2/6 = 0.333" in report and "routed 5/6" in report and "b 'podcasts from the 1980s'" in report


ITEMS = [
    ("doc1", "Hive Minds", "documentary", 2025, "en", "honeybees in a hive and the beekeepers who tend them"),
    ("doc2", "Pollen", "documentary", 2019, "en", "bees collecting pollen across meadows"),
    ("film1", "The Swarm", "film", 1978, "en", "killer bees attack a town"),
    ("pod1", "Buzz", "podcast", 2024, "en", "a podcast about bees and beekeeping"),
    ("pod2", "Nuit bleue", "podcast", 2022, "fr", "jazz clubs of Paris and the musicians who play jazz"),
    ("pod3", "Blue Notes", "podcast", 2021, "en", "jazz records and jazz history"),
    ("art1", "Ward Rounds", "article", 2023, "en", "which medications were started on the ward"),
]


@pytest.fixture()
def kb(tmp_path):
    src = tmp_path / "catalog.jsonl"
    src.write_text("".join(json.dumps({"id": i, "title": t, "type": ty, "year": y, "language": lang, "genres": ["x"],
                                       "description": d}) + "\n" for i, t, ty, y, lang, d in ITEMS))
    base = KnowledgeBase("catalog", KnowledgeConfig(), embedder=HashEmbedder())
    ingest(base, [src], progress=False)
    yield base
    base.close()


def test_retrieval_with_parsed_filters(kb):
    cases = [
        case("bees", "documentaries about bees", {"type": "documentary"}, relevant=("doc1", "doc2")),
        case("jazz", "podcasts about jazz in French", {"type": "podcast", "language": "fr"}, relevant=("pod2",)),
        # The parser sends this to the notes collection: the assistant would not search the catalog.
        case("meds", "which medications were started?", {}, relevant=("art1",)),
        case("none", "documentaries about knitting", {"type": "documentary"}, relevant=()),  # not scored
    ]
    cmp = retrieval_with_parsed_filters(kb, cases, TODAY, modes=("dense", "hybrid"))
    assert cmp.cases == 3 and cmp.misrouted == ("meds",)
    assert set(cmp.ndcg) == {"dense", "hybrid"} and all(set(row) == set(VARIANTS) for row in cmp.ndcg.values())
    for mode in ("dense", "hybrid"):
        per_case = {c.id: ndcg_at_k(search(kb, c.question, mode=mode, filters=filters_from_dict(c.filters, "catalog"),
                                           k=10).doc_ids, c.relevant, 10) for c in cases[:3]}
        assert per_case["meds"] > 0  # found under gold filters ...
        assert cmp.ndcg[mode]["gold"] == pytest.approx(sum(per_case.values()) / 3)
        # ... scored 0 when parsed; the other two parse exactly as gold.
        assert cmp.ndcg[mode]["parsed"] == pytest.approx((per_case["bees"] + per_case["jazz"]) / 3)
        assert cmp.ndcg[mode]["gold"] >= cmp.ndcg[mode]["none"]
    assert "misrouted (scored 0): meds" in format_comparison(cmp)
