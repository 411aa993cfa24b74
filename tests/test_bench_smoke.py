"""The knowledge benchmark runs end to end at a tiny N and reports every ratio (no timing
is asserted: benchmarks measure, tests check that they measure the right things)."""
import math

from fakes import HashEmbedder
from knowledge import bench


def test_bench_knowledge_tiny(monkeypatch):
    result = bench.run(300, queries=4, sample=50, parts=3, progress=False, embedder=HashEmbedder())
    assert result["n_items"] == 300 and result["chunks"] >= 300
    assert result["reingest"]["ratio_to_full_ingest"] > 0
    assert len(result["ingest"]["slice_ratios"]) == 3 and len(result["ingest"]["raw_encode_probes"]) == 4
    for key in ("ratio_to_raw_encode", "items_per_s", "raw_encode_items_per_s", "slice_ratio_median"):
        assert math.isfinite(result["ingest"][key]) and result["ingest"][key] > 0
    assert set(result["query_ms"]) == {"raw_dense", "dense", "bm25", "hybrid", "dense_filtered", "hybrid_filtered"}
    assert all(len(v) == 2 for v in result["query_ms"].values())
    assert result["provenance"]["git_commit"]
    bench.print_summary(result)


def test_bench_queries_only_reuses_the_index():
    bench.run(200, queries=2, sample=20, parts=2, progress=False, embedder=HashEmbedder())
    again = bench.run(200, queries=3, sample=20, parts=2, progress=False, embedder=HashEmbedder(), queries_only=True)
    assert "ingest" not in again and again["queries_only"]
    assert all(len(v) == 2 for v in again["query_ms"].values())
    bench.print_summary(again)


def test_bench_queries_only_needs_an_index():
    import pytest

    from knowledge.errors import KnowledgeError

    with pytest.raises(KnowledgeError, match="run without --queries-only first"):
        bench.run(100, queries=1, sample=10, parts=1, progress=False, embedder=HashEmbedder(), queries_only=True)
