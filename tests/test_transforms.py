"""Query transforms (multi-query, HyDE) behind an evidence gate: parsing, the gate, filters kept on
every transformed search, llm=None == first pass, the trace; and the ablation's statistics and
LLM cache. A scripted FakeLLM and a hash-embedder knowledge base of eight items."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from assistant.llm.base import LLMConnectionError
from assistant.llm.fake import FakeLLM
from assistant.transforms import (TransformConfig, TransformConfigError, clean_passage, docs_by_stage,
                                  evidence_strength, fuse, gate_fires, hyde_messages, jaccard,
                                  multi_query_messages, parse_queries, retrieve)
from assistant.transforms_eval import CachedLLM, bootstrap_ci, roc_auc, youden_threshold
from fakes import HashEmbedder
from knowledge.config import KnowledgeConfig
from knowledge.errors import CairnError
from knowledge.filters import filters_from_dict
from knowledge.index import KnowledgeBase
from knowledge.ingest import ingest
from knowledge.retrieve import search
from knowledge.types import Chunk, Hit

ROWS = [
    {"id": "d1", "title": "Thin Ice", "type": "documentary", "year": 2021, "genres": ["nature"],
     "description": "Glaciers melting in Greenland and the scientists who measure them."},
    {"id": "d2", "title": "Hive", "type": "documentary", "year": 2019, "genres": ["nature"],
     "description": "Beekeepers and their honeybees through one summer in the Alps."},
    {"id": "d3", "title": "Orbit", "type": "documentary", "year": 2015, "genres": ["science"],
     "description": "Astronauts train for a long mission to the space station."},
    {"id": "d4", "title": "Heist Doc", "type": "documentary", "year": 2012, "genres": ["crime"],
     "description": "Interviews with detectives about a famous museum theft in Boston."},
    {"id": "f1", "title": "The Vault Job", "type": "film", "year": 2020, "genres": ["crime"],
     "description": "A crew plans a bank heist in Lisbon and the robbery goes wrong."},
    {"id": "f2", "title": "Cold Front", "type": "film", "year": 2018, "genres": ["drama"],
     "description": "A glaciologist stranded at an arctic station during a storm."},
    {"id": "s1", "title": "Loops", "type": "series", "year": 2022, "genres": ["science fiction"],
     "description": "A physicist keeps waking up on the same day: a time travel puzzle."},
    {"id": "p1", "title": "Deep Time", "type": "podcast", "year": 2019, "genres": ["history"],
     "description": "Two geologists tell the history of Earth through its rocks and volcanoes."},
]
ALWAYS_BOTH = TransformConfig(multi_query=True, hyde=True, gate="always")
DOCS = filters_from_dict({"type": "documentary"}, "catalog")


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    root = tmp_path_factory.mktemp("transforms_kb")
    src = root / "catalog.jsonl"
    src.write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    kb = KnowledgeBase("catalog", KnowledgeConfig(), embedder=HashEmbedder(), root=root / "index")
    ingest(kb, [src], progress=False)
    yield kb
    kb.close()


def scripted(rewrites: str = "bank heist robbery\nLisbon crew", passage: str = "A crew plans a bank robbery.") -> FakeLLM:
    """Answers the multi-query prompt with `rewrites` and the HyDE prompt with `passage`."""
    return FakeLLM(default=lambda messages: rewrites if "search queries" in messages[-1]["content"] else passage)


# --- parse_queries / clean_passage ----------------------------------------------------------------

@pytest.mark.parametrize("text, want", [
    ("1. bees and beekeepers\n2) honey farming\n3: apiary life", ["bees and beekeepers", "honey farming", "apiary life"]),
    ("- bees\n* honey\n• hive\n(4) wax", ["bees", "honey", "hive"]),
    ('"bees and beekeepers"\n“honey farming”\n`apiary`', ["bees and beekeepers", "honey farming", "apiary"]),
    ("Here are 3 search queries:\n\nbees\nhoney", ["bees", "honey"]),
    ("Query 1: bees\nQ2 - honey\n**3. hive**", ["bees", "honey", "hive"]),
    ("Bees!\nbees\n  BEES  \nhoney, farming", ["Bees!", "honey, farming"]),  # dedupe ignores case/punctuation
    ("1. - bees\n2. - honey", ["bees", "honey"]),  # two markers
])
def test_parse_queries_strips_markers_quotes_and_dupes(text, want):
    assert parse_queries(text, 3) == want


def test_parse_queries_drops_the_original_and_echoes_and_caps_at_n():
    text = "Honeybees and the people who keep them.\nRequest: bees\nbeekeeping\nhoney\nhive\nwax"
    assert parse_queries(text, 2, original=["honeybees and the people who keep them"]) == ["beekeeping", "honey"]
    assert parse_queries("", 3) == [] and parse_queries("a\nb", 0) == []
    assert parse_queries("1.\n2.\n-", 3) == []  # markers alone are no queries


def test_clean_passage():
    assert clean_passage('  "Description: A crew plans\n a heist."  ') == "A crew plans a heist."
    assert clean_passage("**Description**: Bees.") == "Bees."
    assert clean_passage("   ") == ""


def test_prompts_are_fixed_and_name_the_question():
    mq = multi_query_messages("  bees  ", 4)
    assert mq == multi_query_messages("bees", 4) and mq[0]["role"] == "user"
    assert "Write 4 different search queries" in mq[0]["content"] and mq[0]["content"].endswith("Request: bees")
    assert hyde_messages("bees")[0]["content"].endswith("Request: bees")


# --- config -------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, words", [
    ({"gate": "sometimes"}, ["'sometimes'", "weak, always"]),
    ({"n_queries": 0}, ["n_queries=0", "1..10"]),
    ({"weak_threshold": 1.5}, ["weak_threshold=1.5", "gate='always'"]),
    ({"weak_threshold": -0.1}, ["weak_threshold=-0.1"]),
    ({"max_tokens": 2}, ["max_tokens=2", "8..1024"]),
    ({"multi_query": "yes"}, ["multi_query='yes'", "True or False"]),
    ({"strength_depth": 0}, ["strength_depth=0", "positive"]),
    ({"fusion_depth": 2.5}, ["fusion_depth=2.5"]),
    ({"first_pass_weight": 0}, ["first_pass_weight=0", "(0, 100]"]),
])
def test_config_validation_names_value_and_fix(kwargs, words):
    with pytest.raises(TransformConfigError) as exc:
        TransformConfig(**kwargs)
    assert isinstance(exc.value, CairnError)
    for word in words:
        assert word in str(exc.value)


def test_config_defaults_and_enabled():
    default = TransformConfig()
    # the ablation: HyDE helped (gated), multi-query did not
    assert (default.multi_query, default.hyde, default.gate) == (False, True, "weak")
    assert 0 < default.weak_threshold < 1 and default.enabled == ("hyde",)
    assert ALWAYS_BOTH.enabled == ("multi_query", "hyde")


# --- the gate -----------------------------------------------------------------------------------

def hit(doc: str, n: int = 0, **ranks: int) -> Hit:
    return Hit(Chunk(f"{doc}#{n}", doc, "text", (0, 4)), 0.0, dict(ranks))


def test_evidence_strength_is_dense_bm25_top_doc_jaccard():
    hits = [hit("a", dense=1, bm25=5), hit("b", dense=2, bm25=1), hit("a", 1, dense=3),
            hit("c", bm25=2), hit("d", dense=4, bm25=3)]
    assert docs_by_stage(hits, "dense", 10) == ["a", "b", "d"]  # "a" once, at its best chunk
    assert docs_by_stage(hits, "bm25", 2) == ["b", "c"]
    assert evidence_strength(hits, depth=2) == pytest.approx(jaccard(["a", "b"], ["b", "c"])) == pytest.approx(1 / 3)
    assert evidence_strength(hits, depth=10) == pytest.approx(3 / 4)  # {a,b,d} vs {b,c,d,a}
    assert evidence_strength([]) == 0.0
    assert math.isnan(evidence_strength([hit("a", dense=1)]))  # one retriever: no second opinion
    assert jaccard([], []) == 1.0


def test_gate_fires_below_threshold_on_nan_and_always():
    weak = TransformConfig(multi_query=True, weak_threshold=0.3)
    assert gate_fires(0.29, weak) and not gate_fires(0.3, weak) and gate_fires(math.nan, weak)
    assert gate_fires(1.0, TransformConfig(multi_query=True, gate="always"))


def test_gate_off_and_on_follows_the_threshold(kb):
    question = "glaciers melting"
    strength = evidence_strength(search(kb, question, k=100, per_doc=False).hits)
    assert 0.0 < strength < 1.0
    llm = scripted()
    never = retrieve(kb, question, llm=llm, config=TransformConfig(multi_query=True, hyde=True, weak_threshold=0.0))
    assert not never.trace["fired"] and llm.calls == [] and never.trace["strength"] == pytest.approx(strength, abs=1e-4)
    assert "transform_generate" not in never.timings
    fires = retrieve(kb, question, llm=llm, config=TransformConfig(multi_query=True, hyde=True, weak_threshold=1.0))
    assert fires.trace["fired"] and fires.trace["transforms"] == ["multi_query", "hyde"] and len(llm.calls) == 2


# --- retrieve -------------------------------------------------------------------------------------

@pytest.mark.parametrize("filters", [(), DOCS])
def test_no_llm_or_no_transform_is_exactly_the_first_pass(kb, filters):
    first = search(kb, "heist crew", filters=filters, k=5)
    assert retrieve(kb, "heist crew", filters, llm=None, config=ALWAYS_BOTH, k=5).doc_ids == first.doc_ids
    llm = scripted()
    off = retrieve(kb, "heist crew", filters, llm=llm, config=TransformConfig(hyde=False, gate="always"), k=5)
    assert off.doc_ids == first.doc_ids and llm.calls == [] and not off.trace["fired"]
    assert [h.chunk.id for h in off.hits] == [h.chunk.id for h in first.hits]


def test_rewrites_and_hyde_keep_the_filters(kb):
    # The rewrites and the passage point at the heist *film* (f1); the filter allows documentaries only.
    unfiltered = retrieve(kb, "museum theft", llm=scripted(), config=ALWAYS_BOTH, k=8)
    assert "f1" in unfiltered.trace["rankings"]["multi_query_1"] and "f1" in unfiltered.trace["rankings"]["hyde"]
    got = retrieve(kb, "museum theft", DOCS, llm=scripted(), config=ALWAYS_BOTH, k=8)
    documentaries = {r["id"] for r in ROWS if r["type"] == "documentary"}
    assert set(got.doc_ids) <= documentaries and got.doc_ids
    for name, docs in got.trace["rankings"].items():
        assert set(docs) <= documentaries, name
    assert set(got.trace["rankings"]) == {"first_pass", "multi_query_1", "multi_query_2", "hyde"}


def test_transforms_find_what_the_first_pass_missed(kb):
    # No word of "polar warming" is in Thin Ice's text, so the first pass ranks it by chance; a
    # rewrite in the item's own words finds it, and RRF puts it first.
    first = search(kb, "polar warming", k=3)
    assert first.doc_ids[0] != "d1"
    llm = scripted(rewrites="glaciers melting in Greenland\nscientists measure glaciers", passage="Glaciers melting.")
    got = retrieve(kb, "polar warming", llm=llm, config=ALWAYS_BOTH, k=3)
    assert got.doc_ids[0] == "d1" and len(set(got.doc_ids)) == len(got.doc_ids) == 3
    top = got.hits[0]
    assert {"multi_query_1", "multi_query_2", "hyde"} <= set(top.ranks) and top.score > 0


def test_trace_records_strength_gate_generations_and_timings(kb):
    llm = scripted(rewrites="1. Bank robbery\n2. bank robbery\n3. museum theft", passage='"Thieves plan a heist."')
    got = retrieve(kb, "heist", llm=llm, config=replace_cfg(n_queries=3, max_tokens=40), question="heist films please")
    trace = got.trace
    assert trace["fired"] and trace["gate"] == "always" and isinstance(trace["strength"], float)
    assert trace["queries"] == ["Bank robbery", "museum theft"]  # deduped
    assert trace["passage"] == "Thieves plan a heist." and trace["llm"] == "fake-llm"
    assert set(trace["llm_s"]) == {"multi_query", "hyde"} and trace["raw"]["hyde"] == '"Thieves plan a heist."'
    assert {"first_pass", "transform_generate", "transform_retrieve", "total"} <= set(got.timings)
    assert trace["timings_ms"] == got.timings
    # The LLM saw the user's wording, greedy, capped.
    assert all("Request: heist films please" in call.messages[-1]["content"] for call in llm.calls)
    assert all(call.request.temperature == 0.0 and call.request.max_tokens == 40 for call in llm.calls)


def replace_cfg(**kwargs) -> TransformConfig:
    from dataclasses import replace
    return replace(ALWAYS_BOTH, **kwargs)


def test_hyde_only_and_multi_query_only(kb):
    hy = retrieve(kb, "heist", llm=scripted(), config=replace_cfg(multi_query=False))
    assert set(hy.trace["rankings"]) == {"first_pass", "hyde"} and hy.trace["queries"] == []
    mq = retrieve(kb, "heist", llm=scripted(), config=replace_cfg(hyde=False))
    assert set(mq.trace["rankings"]) == {"first_pass", "multi_query_1", "multi_query_2"} and mq.trace["passage"] is None


def test_an_llm_error_returns_the_first_pass_and_is_traced(kb):
    def broken(messages):
        raise LLMConnectionError("server at http://127.0.0.1:9 refused the connection")

    got = retrieve(kb, "heist crew", llm=FakeLLM(default=broken), config=ALWAYS_BOTH, k=5)
    assert got.doc_ids == search(kb, "heist crew", k=5).doc_ids
    assert "LLMConnectionError" in got.trace["error"] and got.trace["rankings"] == {"first_pass": got.trace["rankings"]["first_pass"]}


def test_empty_generations_fall_back_to_the_first_pass(kb):
    got = retrieve(kb, "heist crew", llm=scripted(rewrites="Here are the queries:", passage="  "), config=ALWAYS_BOTH, k=5)
    assert got.doc_ids == search(kb, "heist crew", k=5).doc_ids
    assert got.trace["queries"] == [] and got.trace["passage"] is None


def test_fuse_is_rrf_over_documents_one_hit_each():
    a = [hit("x", dense=1), hit("y", dense=2)]
    b = [hit("y", 1, bm25=1), hit("z", bm25=2)]
    fused = fuse({"first_pass": a, "other": b}, k=5, rrf_k=60)
    assert [h.doc_id for h in fused] == ["y", "x", "z"]
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 61) and fused[0].chunk.id == "y#0"  # first pass's chunk
    assert fused[0].ranks == {"dense": 2, "first_pass": 2, "other": 1}
    # Two other rankings agreeing on z outvote the first pass's x (2/61 > 1/61), unless the
    # first pass weighs 3 (3/61 > 2/61).
    rankings = {"first_pass": [hit("x")], "other": [hit("z")], "third": [hit("z")]}
    assert [h.doc_id for h in fuse(rankings, k=2)] == ["z", "x"]
    weighted = fuse(rankings, k=2, first_weight=3.0)
    assert [h.doc_id for h in weighted] == ["x", "z"] and weighted[0].score == pytest.approx(3 / 61)


# --- the ablation's statistics and cache ---------------------------------------------------------

def test_roc_auc_and_youden_by_hand():
    scores = [0.1, 0.2, 0.3, 0.4, 0.5]
    labels = [False, True, False, True, True]  # good = True
    # pairs (good > bad): 0.2>0.1; 0.4>0.1,0.3; 0.5>0.1,0.3 -> 5 of 6
    assert roc_auc(scores, labels) == pytest.approx(5 / 6)
    cut, j = youden_threshold(scores, labels)
    # score < 0.35 fires on both bad (TPR 1) and one good (FPR 1/3): J 2/3, the best
    assert cut == pytest.approx(0.35) and j == pytest.approx(2 / 3)
    assert math.isnan(roc_auc([1.0], [True]))


def test_bootstrap_ci_is_seeded_and_brackets_the_mean():
    deltas = [0.1, -0.05, 0.2, 0.0, 0.05, 0.15]
    lo, hi = bootstrap_ci(deltas, resamples=2000, seed=3)
    assert (lo, hi) == bootstrap_ci(deltas, resamples=2000, seed=3)
    assert lo < sum(deltas) / len(deltas) < hi and lo >= min(deltas) and hi <= max(deltas)
    assert bootstrap_ci([0.0] * 5) == (0.0, 0.0)


def test_cached_llm_answers_repeats_without_loading(tmp_path: Path):
    loads = []

    def load():
        loads.append(1)
        return FakeLLM(default="bees\nhoney")

    path = tmp_path / "cache" / "llm_cache.json"
    first = CachedLLM("fake-model", load, path)
    messages = multi_query_messages("bees", 2)
    assert first.chat(messages, max_tokens=30, temperature=0.0).text == "bees\nhoney"
    assert first.chat(messages, max_tokens=30, temperature=0.0).text == "bees\nhoney"
    assert (first.hits, first.misses, len(loads)) == (1, 1, 1)
    again = CachedLLM("fake-model", load, path)  # a re-run: from the file, the model never loads
    reply = again.chat(messages, max_tokens=30, temperature=0.0)
    assert reply.text == "bees\nhoney" and "total_s" in reply.timings and len(loads) == 1
    other = CachedLLM("other-model", load, path)  # the key includes the model
    other.chat(messages, max_tokens=30, temperature=0.0)
    assert len(loads) == 2
