"""`cairn search-eval`: retrieval metrics per mode on a golden set, as a table."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

VARIANTS = ("dense", "bm25", "hybrid", "hybrid+rerank")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "search-eval", help="precision@k, recall@k, MRR, NDCG@10 per retrieval mode on a golden set",
        description="Score retrieval on golden cases (DESIGN.md §2 format, relevant_ids as a list or "
                    "{id: grade}). Each mode runs with the cases' golden filters and without.")
    p.add_argument("golden", type=Path, help="golden .jsonl file")
    p.add_argument("--modes", default=",".join(VARIANTS), help=f"comma-separated subset of {', '.join(VARIANTS)}")
    p.add_argument("--filters", choices=("with", "without", "both"), default="both",
                   help="apply the golden filters, ignore them, or both (default)")
    p.add_argument("--limit", type=int, help="only the first N cases")
    p.add_argument("--out", type=Path, help="write per-case results and provenance as JSON here")
    p.set_defaults(func=cmd_search_eval)


def cmd_search_eval(args: argparse.Namespace) -> int:
    from knowledge.config import KnowledgeConfig
    from knowledge.errors import KnowledgeError
    from knowledge.index import KnowledgeBase
    from knowledge.provenance import stamp
    from knowledge.rerank import reranker_from_config

    from .golden import load_golden
    from .search_eval import Variant, evaluate, format_table

    cases = load_golden(args.golden)[: args.limit]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = sorted(set(modes) - set(VARIANTS))
    if unknown:
        raise KnowledgeError(f"unknown mode(s) {unknown}; choose from {', '.join(VARIANTS)}")
    collections = {c.collection for c in cases}
    if len(collections) != 1:
        raise KnowledgeError(f"{args.golden} mixes collections {sorted(collections)}; split it per collection")
    config = KnowledgeConfig.load()
    kb = KnowledgeBase(collections.pop(), config)
    if not kb.store.counts()["chunks"]:
        raise KnowledgeError(f"the {kb.collection} collection is empty; run `cairn ingest ... -c {kb.collection}` first")
    use = {"with": [True], "without": [False], "both": [True, False]}[args.filters]
    variants = [Variant(m.split("+")[0], rerank=m.endswith("+rerank"), use_filters=f) for f in use for m in modes]
    reranker = None
    if any(v.rerank for v in variants):
        reranker = reranker_from_config(config)
    results = evaluate(kb, cases, variants, reranker=reranker)
    print(format_table(results, cases))
    if args.out:
        payload = {"provenance": stamp(golden=str(args.golden), embedder=kb.embedder_id,
                                       index_generation=kb.store.generation, config=config.__dict__),
                   "variants": {r.variant.name: {"per_case": r.per_case, "latencies_ms": r.latencies_ms}
                                for r in results}}
        args.out.write_text(json.dumps(payload, indent=1))
        print(f"wrote {args.out}")
    return 0
