"""`cairn ingest | search | index-stats | delete`: the knowledge base from the command line."""
from __future__ import annotations

import argparse
import json

from .config import RETRIEVAL_MODES, KnowledgeConfig
from .types import COLLECTIONS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("ingest", help="index files into a collection (incremental, crash-safe)",
                              description="Load catalog items or clinical notes from files/folders "
                                          "(.jsonl .json .csv .txt .md .pdf) and index only what changed. "
                                          "Bad records are skipped and listed; the rest is ingested.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders to ingest")
    p.add_argument("--collection", "-c", choices=COLLECTIONS, required=True)
    p.add_argument("--rebuild", action="store_true", help="drop the collection first and re-embed everything")
    p.add_argument("--embedder", help="embedder name/path (default from config: minilm)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_ingest)

    p = subparsers.add_parser("search", help="retrieve passages (dense, BM25 or hybrid) with typed filters",
                              description="Search a collection. Filters: FIELD OP VALUE with OP in = != > >= < <=; "
                                          "list fields (genres, cast) match by containment; a,b means any of.")
    p.add_argument("query")
    p.add_argument("--collection", "-c", choices=COLLECTIONS, default="catalog")
    p.add_argument("--filter", "-f", action="append", default=[], metavar="EXPR",
                   help="e.g. year>=2020, type=documentary, genres=comedy, date>=2024-01-01 (repeatable)")
    p.add_argument("--mode", "-m", choices=RETRIEVAL_MODES, default="hybrid")
    p.add_argument("--rerank", action="store_true", help="re-score candidates with the reranking embedder")
    p.add_argument("-k", type=int, default=10, help="number of results (default 10)")
    p.add_argument("--json", action="store_true", help="print results as JSON lines")
    p.add_argument("--user", metavar="NAME",
                   help="who is searching, recorded in the audit log of note reads (default: the OS user)")
    p.set_defaults(func=cmd_search)

    p = subparsers.add_parser("index-stats", help="documents, chunks, sources and health of each collection")
    p.add_argument("--collection", "-c", choices=COLLECTIONS, action="append")
    p.add_argument("--check", action="store_true", help="also compare Chroma's ids with the docstore (slow)")
    p.set_defaults(func=cmd_index_stats)

    p = subparsers.add_parser("delete", help="remove documents by id from a collection (docstore, Chroma, BM25)",
                              description="Delete documents from every index of a collection, crash-safely; "
                                          "no model is loaded. Ids that are not indexed are listed and the exit "
                                          "status is 1. A later `cairn ingest` of a file that still holds the "
                                          "documents adds them back: remove them from the file too.")
    p.add_argument("doc_ids", nargs="+", metavar="DOC_ID", help="ids of the documents to delete")
    p.add_argument("--collection", "-c", choices=COLLECTIONS, required=True)
    p.set_defaults(func=cmd_delete)


def cmd_ingest(args: argparse.Namespace) -> int:
    from .index import KnowledgeBase
    from .ingest import ingest

    kb = KnowledgeBase(args.collection, KnowledgeConfig.load(embedder=args.embedder))
    try:
        if args.rebuild:
            kb.rebuild()
        report = ingest(kb, args.paths, progress=not args.quiet)
    finally:
        kb.close()
    print(report.summary())
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from .audit import Accessor, record_chunks
    from .filters import parse_filters
    from .index import KnowledgeBase
    from .rerank import reranker_from_config
    from .retrieve import search

    config = KnowledgeConfig.load()
    filters = parse_filters(args.filter, args.collection)
    if args.k <= 0:
        from .errors import KnowledgeError
        raise KnowledgeError(f"-k must be positive, got {args.k}")
    kb = KnowledgeBase(args.collection, config)
    reranker = None
    if args.rerank:
        reranker = reranker_from_config(config)
    result = search(kb, args.query, mode=args.mode, filters=filters, k=args.k, reranker=reranker)
    record_chunks(Accessor.local("cli:search", user=args.user), "search", args.collection,
                  [hit.chunk for hit in result.hits], " ".join([args.query, *args.filter]))
    if args.json:
        for rank, hit in enumerate(result.hits, 1):
            print(json.dumps({"rank": rank, "doc_id": hit.doc_id, "chunk_id": hit.chunk.id, "score": hit.score,
                              "span": hit.chunk.span, "ranks": hit.ranks, "text": hit.chunk.text}))
        return 0
    if not result.hits:
        print("no results" + (f" with filters {', '.join(result.filters)}" if result.filters else ""))
    for rank, hit in enumerate(result.hits, 1):
        meta = hit.chunk.metadata
        label = meta.get("title") or meta.get("note_type") or ""
        extra = ", ".join(str(meta[k]) for k in ("type", "year", "date", "section") if meta.get(k) is not None)
        snippet = " ".join(hit.chunk.text.split())[:160]
        print(f"{rank:2d}. [{hit.doc_id}] {label} ({extra})  score={hit.score:.4f} {hit.ranks}\n    {snippet}")
    timing = ", ".join(f"{k} {v:.1f}ms" for k, v in result.timings_ms.items())
    print(f"-- {args.mode}{' + rerank' if reranker else ''}: {timing}")
    return 0


def cmd_index_stats(args: argparse.Namespace) -> int:
    from .index import KnowledgeBase

    for collection in args.collection or COLLECTIONS:
        kb = KnowledgeBase(collection)
        stats = kb.stats()
        print(f"{collection}: {stats['documents']} documents, {stats['chunks']} chunks, generation "
              f"{stats['generation']}, embedder {stats['embedder'] or '-'} (dim {stats['dim'] or '-'}), "
              f"{stats['chroma_mode']} Chroma at {stats['path']}")
        for source, n in stats["sources"].items():
            print(f"    {n:7d}  {source}")
        if args.check and stats["chunks"]:
            chroma_ids, store_ids = kb.chroma.all_ids(), kb.store.all_chunk_ids()
            ok = chroma_ids == store_ids
            print(f"    consistency: {'ok' if ok else 'MISMATCH'} (Chroma {len(chroma_ids)}, docstore {len(store_ids)})")
        kb.close()
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    from .admin import delete_documents

    # Whoever runs the CLI owns CAIRN_HOME's files, so the command acts as the admin role.
    result = delete_documents("admin", args.collection, args.doc_ids)
    print(result.to_markdown())
    return 1 if result.not_found else 0
