"""The Gradio app: a thin shell over the knowledge base (the full chat UI builds on this).

`cairn serve` starts it on 127.0.0.1:7860. Handlers are plain functions, tested directly.
"""
from __future__ import annotations

import argparse


def search_handler(query: str, collection: str, mode: str, filters: str) -> str:
    """Markdown list of hits for the search box (filters: one FIELD OP VALUE per line or comma-free)."""
    from knowledge.errors import CairnError
    from knowledge.filters import parse_filters
    from knowledge.retrieve import search

    try:
        exprs = [line.strip() for line in (filters or "").splitlines() if line.strip()]
        kb = _kb(collection)
        result = search(kb, query, mode=mode, filters=parse_filters(exprs, collection), k=10)
    except CairnError as exc:
        return f"**Error:** {exc}"
    if not result.hits:
        return "No results."
    rows = []
    for rank, hit in enumerate(result.hits, 1):
        meta = hit.chunk.metadata
        title = meta.get("title") or meta.get("note_type") or hit.doc_id
        rows.append(f"{rank}. **{title}** `{hit.doc_id}` — {' '.join(hit.chunk.text.split())[:240]}")
    return "\n".join(rows)


_KBS: dict[str, object] = {}


def _kb(collection: str):
    from knowledge.index import KnowledgeBase

    if collection not in _KBS:
        _KBS[collection] = KnowledgeBase(collection)
    return _KBS[collection]


def build_demo():
    import gradio as gr

    with gr.Blocks(title="cairn") as demo:
        gr.Markdown("# cairn\nLocal, private search over the catalog and clinical notes.")
        with gr.Row():
            query = gr.Textbox(label="Question", placeholder="documentaries about climate change", scale=4)
            collection = gr.Dropdown(["catalog", "notes"], value="catalog", label="Collection")
            mode = gr.Dropdown(["hybrid", "dense", "bm25"], value="hybrid", label="Retrieval")
        filters = gr.Textbox(label="Filters (one per line, e.g. year>=2020)", lines=2)
        output = gr.Markdown()
        query.submit(search_handler, [query, collection, mode, filters], output, api_name="search")
    return demo


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("serve", help="serve the web app on 127.0.0.1:7860")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860)
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from knowledge.errors import CairnError

    try:
        build_demo().launch(server_name=args.host, server_port=args.port)
    except OSError as exc:
        raise CairnError(f"cannot serve on {args.host}:{args.port} ({exc}); stop what uses the port "
                         f"or pass --port") from exc
    return 0


if __name__ == "__main__":
    build_demo().launch(server_name="127.0.0.1", server_port=7860)
