"""`cairn bench knowledge`: ingest and query performance at catalog scale (default N=200,000
generated items), every number a ratio against a baseline measured in the same run, because
shared 2-core machines drift by 2x between runs:

- ingest items/s  vs  raw `SentenceTransformer.encode` items/s on a sample of the same texts:
  the corpus is ingested in slices with a raw-encode probe before and after each, so every
  slice has its own paired baseline (median and spread reported) and drift cancels out;
- hybrid query p50/p95 (with and without filters) and BM25 p50  vs  a raw Chroma dense query
  (embed + `collection.query`, no filter: Chroma holds no filter metadata, see corpus.py),
  the variants interleaved query by query;
- re-ingest of the unchanged corpus  vs  the full ingest;
- peak RSS, and raw encode throughput at 1 and 2 torch threads.
Results go to benchmarks/results/knowledge-<date>-n<N>.json with provenance.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import random
import resource
import statistics
import time
from pathlib import Path

from .config import KnowledgeConfig
from .home import cairn_home
from .provenance import ROOT, stamp

QUERIES = [
    "documentaries about climate change", "a heist that goes wrong", "comedy about a tech start-up",
    "podcast interviews with jazz musicians", "history of the roman empire", "a detective in a small town",
    "space exploration and astronauts", "cooking and family recipes", "war drama based on a true story",
    "artificial intelligence ethics", "ocean wildlife and coral reefs", "a coming of age story in paris",
    "economics of housing markets", "football season behind the scenes", "haunted house horror",
    "mental health and sleep science", "election politics explained", "a romance between rival chefs",
    "ancient egypt archaeology", "electric cars and batteries",
]
FILTERS = ["type=documentary", "year>=2015"]


def percentile(values: list[float], q: float) -> float:
    """The q-quantile by nearest rank (no interpolation: with 20 samples p95 is the 19th value)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _raw_encode_rate(embedder, texts: list[str], batch_size: int) -> float:
    start = time.perf_counter()
    embedder.encode(texts, batch_size=batch_size)
    return len(texts) / (time.perf_counter() - start)


def _segments(n: int, seed: int, parts: int) -> list[Path]:
    """The N generated items as `parts` files, so ingest can be timed in slices with raw-encode
    probes between them (paired measurements survive a machine whose speed drifts)."""
    from .demo.scale import write_items

    folder = cairn_home() / "bench" / f"catalog-n{n}-seed{seed}"
    files = [folder / f"part-{i:02d}.jsonl" for i in range(parts)]
    if all(f.exists() for f in files):
        return files
    folder.mkdir(parents=True, exist_ok=True)
    whole = folder / "all.jsonl"
    write_items(whole, n, seed=seed)
    lines = whole.read_text().splitlines(keepends=True)
    step = math.ceil(len(lines) / parts)
    for i, f in enumerate(files):
        f.write_text("".join(lines[i * step:(i + 1) * step]))
    whole.unlink()
    return files


def _measure_ingest(kb, files: list[Path], n: int, sample_texts: list[str], progress: bool) -> dict:
    """Thread probe, sliced ingest with paired raw-encode probes, one BM25 build, re-ingest."""
    import torch

    from .ingest import ingest

    embedder, batch = kb.embedder, kb.config.embed_batch_size
    threads_default = torch.get_num_threads()
    thread_rates = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        thread_rates[threads] = _raw_encode_rate(embedder, sample_texts, batch)
    torch.set_num_threads(kb.config.torch_threads or threads_default)

    # Ingest slice by slice, a raw-encode probe of the same kind of text before and after each.
    probes = [_raw_encode_rate(embedder, sample_texts, batch)]
    slice_s, slice_ratios, chunks = [], [], 0
    for part in files:
        report = ingest(kb, [part], progress=progress, build_bm25=False)
        probes.append(_raw_encode_rate(embedder, sample_texts, batch))
        slice_s.append(report.seconds["total"])
        chunks += report.chunks_embedded
        slice_ratios.append((report.added / slice_s[-1]) / ((probes[-2] + probes[-1]) / 2))
    t0 = time.perf_counter()
    kb.bm25()  # one BM25 build for the whole corpus, as a single ingest does at its end
    bm25_s = time.perf_counter() - t0
    ingest_s = sum(slice_s) + bm25_s
    raw_rate = statistics.fmean(probes)

    t0 = time.perf_counter()
    again = ingest(kb, files, progress=False)
    reingest_s = time.perf_counter() - t0
    assert again.unchanged == n and not again.changed, "re-ingest of an unchanged corpus changed something"
    return {
        "chunks": chunks,
        "ingest": {"seconds": ingest_s, "items_per_s": n / ingest_s, "bm25_build_seconds": bm25_s,
                   "slice_seconds": slice_s, "raw_encode_items_per_s": raw_rate, "raw_encode_probes": probes,
                   "ratio_to_raw_encode": (n / ingest_s) / raw_rate,
                   "slice_ratios": slice_ratios, "slice_ratio_median": statistics.median(slice_ratios),
                   "slice_ratio_min": min(slice_ratios), "slice_ratio_max": max(slice_ratios)},
        "reingest": {"seconds": reingest_s, "ratio_to_full_ingest": reingest_s / ingest_s},
        "raw_encode_items_per_s_by_threads": thread_rates,
    }


def _measure_queries(kb, queries: int) -> dict:
    """Latency of each retrieval variant against a raw Chroma query, interleaved query by query
    so drift hits every variant alike."""
    from .filters import parse_filters
    from .retrieve import search

    embedder = kb.embedder
    filters = parse_filters(FILTERS, "catalog")
    kb.bm25(), kb.view().vectors  # load once, outside the timings
    timings: dict[str, list[float]] = {k: [] for k in ("raw_dense", "dense", "bm25", "hybrid", "dense_filtered",
                                                        "hybrid_filtered")}

    def timed(key: str, fn) -> None:
        start = time.perf_counter()
        fn()
        timings[key].append((time.perf_counter() - start) * 1000)

    for i in range(queries):
        q = QUERIES[i % len(QUERIES)] + ("" if i < len(QUERIES) else f" {i}")
        timed("raw_dense", lambda: kb.chroma.collection.query(query_embeddings=[embedder.encode([q])[0]], n_results=10))
        timed("dense", lambda: search(kb, q, mode="dense", k=10))
        timed("bm25", lambda: search(kb, q, mode="bm25", k=10))
        timed("hybrid", lambda: search(kb, q, mode="hybrid", k=10))
        timed("dense_filtered", lambda: search(kb, q, mode="dense", filters=filters, k=10))
        timed("hybrid_filtered", lambda: search(kb, q, mode="hybrid", filters=filters, k=10))
    lat = {k: {"p50": statistics.median(v), "p95": percentile(v, 0.95)} for k, v in timings.items()}
    return {
        "query_ms": lat,
        "ratios": {"hybrid_p50_over_raw_dense_p50": lat["hybrid"]["p50"] / lat["raw_dense"]["p50"],
                   "hybrid_filtered_p50_over_raw_dense_p50": lat["hybrid_filtered"]["p50"] / lat["raw_dense"]["p50"],
                   "hybrid_p95_over_raw_dense_p95": lat["hybrid"]["p95"] / lat["raw_dense"]["p95"]},
    }


def run(n: int, *, queries: int, sample: int, seed: int = 0, parts: int = 10, progress: bool = True,
        embedder=None, queries_only: bool = False) -> dict:
    """The whole benchmark; `embedder` overrides the configured one (tests pass a fake).
    `queries_only` re-measures latency on the index a previous run left, without re-ingesting."""
    from .errors import KnowledgeError
    from .index import KnowledgeBase
    from .loaders import iter_documents
    from .types import Document

    files = _segments(n, seed, parts)
    config = KnowledgeConfig.load()
    kb = KnowledgeBase("catalog", config, root=cairn_home() / "bench" / f"index-n{n}", embedder=embedder)
    result: dict = {"n_items": n, "queries": queries, "queries_only": queries_only}
    if queries_only:
        if kb.store.counts()["documents"] != n:
            raise KnowledgeError(f"no complete benchmark index for N={n} under {kb.dir}; run without --queries-only first")
    else:
        kb.rebuild()
        texts = [d.text for d in iter_documents(files, "catalog") if isinstance(d, Document)]
        sample_texts = random.Random(seed).sample(texts, min(sample, len(texts)))
        del texts
        result.update(_measure_ingest(kb, files, n, sample_texts, progress))
    result.update(_measure_queries(kb, queries))
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["provenance"] = stamp(embedder=kb.embedder_id, config=config.__dict__, sample=sample,
                                 filters=FILTERS, seed=seed, parts=parts)
    kb.close()
    return result


def print_summary(r: dict) -> None:
    q, ratio = r["query_ms"], r["ratios"]
    print(f"N={r['n_items']:,} items")
    if "ingest" in r:
        i = r["ingest"]
        print(f"ingest: {r['chunks']:,} chunks, {i['items_per_s']:.1f} items/s vs raw encode "
              f"{i['raw_encode_items_per_s']:.1f}/s -> ratio {i['ratio_to_raw_encode']:.3f}; per slice median "
              f"{i['slice_ratio_median']:.3f} (min {i['slice_ratio_min']:.3f}, max {i['slice_ratio_max']:.3f}); "
              f"BM25 build {i['bm25_build_seconds']:.0f}s")
        print(f"re-ingest unchanged: {r['reingest']['seconds']:.1f}s = "
              f"{100 * r['reingest']['ratio_to_full_ingest']:.2f}% of full ingest")
    for key, v in q.items():
        print(f"  {key:<20} p50 {v['p50']:7.1f} ms   p95 {v['p95']:7.1f} ms")
    for key, v in ratio.items():
        print(f"  {key}: {v:.2f}x")
    if "raw_encode_items_per_s_by_threads" in r:
        rates = r["raw_encode_items_per_s_by_threads"]
        print(f"raw encode by threads: {', '.join(f'{t}: {v:.1f}/s' for t, v in rates.items())}")
    print(f"peak RSS {r['peak_rss_mb']:.0f} MB")


def bench_suites(subparsers: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The `cairn bench SUITE` group, created by the first package that registers a suite."""
    if "bench" not in subparsers.choices:
        p = subparsers.add_parser("bench", help="benchmarks (ratios against in-run baselines)")
        p.add_subparsers(dest="bench", metavar="SUITE", required=True)
    parser = subparsers.choices["bench"]
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def register(subparsers: argparse._SubParsersAction) -> None:
    sub = bench_suites(subparsers)
    k = sub.add_parser("knowledge", help="ingest throughput, query latency, re-ingest, RSS at catalog scale")
    k.add_argument("--n", type=int, default=200_000, help="generated catalog items (default 200,000)")
    k.add_argument("--queries", type=int, default=200, help="timed queries per variant (default 200)")
    k.add_argument("--sample", type=int, default=1000, help="texts per raw-encode probe (default 1,000)")
    k.add_argument("--parts", type=int, default=10, help="ingest slices, each between two probes (default 10)")
    k.add_argument("--queries-only", action="store_true",
                   help="re-measure query latency on the index a previous run left (no ingest)")
    k.add_argument("--out", type=Path, help="result JSON (default benchmarks/results/knowledge-<date>-n<N>.json)")
    k.set_defaults(func=cmd_bench_knowledge)


def cmd_bench_knowledge(args: argparse.Namespace) -> int:
    from .errors import KnowledgeError

    if min(args.n, args.queries, args.sample, args.parts) <= 0:
        raise KnowledgeError("--n, --queries, --sample and --parts must be positive")
    result = run(args.n, queries=args.queries, sample=args.sample, parts=args.parts, queries_only=args.queries_only)
    suffix = "-queries" if args.queries_only else ""
    out = args.out or ROOT / "benchmarks" / "results" / f"knowledge-{dt.date.today().isoformat()}-n{args.n}{suffix}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print_summary(result)
    print(f"wrote {out}")
    return 0
