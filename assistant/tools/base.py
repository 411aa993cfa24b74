"""What every agent tool shares: the context it runs in (role, indexes, model, retrieval
settings), the result it returns, and the one function that wraps a tool module as a
LangChain `StructuredTool`.

Every tool is one module with the same shape (DESIGN.md §5, like ragas' metric folders):

    NAME         the tool's name, as the router and a LangChain agent call it
    DESCRIPTION  one paragraph a model (or a person) reads to choose it
    COLLECTION   the collection it reads: the role check happens here, before any index opens
    Args         a pydantic model: the structured arguments
    run(ctx, args) -> ToolResult

`as_langchain_tool` returns content (a short text listing of what was found) plus the
ToolResult as the artifact, so a LangChain agent sees text and cairn's answer step gets hits.

Audit. A tool that returns clinical-note content logs one record per note before returning it
(knowledge/audit.py), in the name of `ctx.accessor`. One agent (and so one context) serves every
user of a role, so the person asking travels with each call instead, in LangChain's per-call
config: `tool.invoke(call, config={"configurable": {ACCESSOR_KEY: accessor}})`.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import StructuredTool
from pydantic import BaseModel

from assistant.llm.base import ChatLLM
from assistant.render import source_label
from assistant.transforms import retrieve as transformed
from assistant.roles import require
from knowledge.audit import Accessor, record_chunks, record_read
from knowledge.errors import KnowledgeError
from knowledge.filters import Filter, filters_from_dict
from knowledge.index import KnowledgeBase
from knowledge.retrieve import search
from knowledge.types import Chunk, Document, Hit

ACCESSOR_KEY = "cairn_accessor"  # the per-call config key of the person asking (module docstring)
# The per-call config key of a callback that receives the first-pass hits of a search before a
# query transform runs (seconds of generation), so a page can show sources at once.
FIRST_PASS_KEY = "cairn_first_pass"


@dataclass
class ToolContext:
    """Fields:
        role: the caller's role (assistant/roles.py); checked by every tool.
        open_kb: collection name -> its KnowledgeBase (the agent caches them).
        llm: the answer model (transforms and extraction use it; None: rules only).
        mode: retrieval mode, "hybrid" | "dense" | "bm25".
        transforms: query transforms config (assistant/transforms.py), None: off.
        accessor: who reads, for the audit log of note reads; None: the OS user in this role,
            surface "api".
        on_first_pass: receives the first-pass hits when a query transform is about to run.
    """

    role: str
    open_kb: Callable[[str], KnowledgeBase]
    llm: ChatLLM | None = None
    mode: str = "hybrid"
    transforms: Any = None
    accessor: Accessor | None = None
    on_first_pass: Callable[[list[Hit]], None] | None = None

    def kb(self, collection: str) -> KnowledgeBase:
        require(self.role, collection)  # before the index is even opened
        kb = self.open_kb(collection)
        if not kb.store.has_documents():
            raise KnowledgeError(f"the {collection} collection is empty; ingest it first: `cairn ingest FILES "
                                 f"--collection {collection}` (or `cairn demo build` for the demo data)")
        return kb

    def audit(self, action: str, collection: str, chunks: list[Chunk], detail: str = "") -> None:
        """Log the clinical notes among `chunks`, one record each, as read by this context's
        accessor. Called before the chunks are returned: a log that cannot be written stops the read."""
        record_chunks(self.who(), action, collection, chunks, detail)

    def audit_document(self, action: str, collection: str, document: Document, detail: str = "") -> None:
        """Log one whole document read (if clinical), as `audit` does for chunks."""
        patient = document.metadata.get("patient_id")
        record_read(self.who(), action, collection, [document.id], [str(patient)] if patient else [], detail)

    def who(self) -> Accessor:
        return self.accessor or Accessor.local(role=self.role)


@dataclass
class ToolResult:
    """hits: the passages the answer may cite, best first. data: a tool's structured payload
    (a document, an extraction). note: a plain-language remark for the user (e.g. "no item
    titled X"). trace / timings: what ran, for the answer's trace."""

    hits: list[Hit]
    data: dict[str, Any] | None = None
    note: str = ""
    trace: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        """The text a LangChain agent sees: one numbered line per hit."""
        lines = [self.note] if self.note else []
        for n, hit in enumerate(self.hits, 1):
            lines.append(f"[{n}] {source_label(hit.chunk)} {hit.chunk.text[:160]!r}")
        return "\n".join(lines) or "nothing found"


def retrieve(ctx: ToolContext, collection: str, query: str, filters: dict[str, Any], k: int, *,
             per_doc: bool) -> ToolResult:
    """Hybrid retrieval with the caller's filters, through the query transforms when they are
    configured (they gate themselves on weak first-pass evidence)."""
    kb = ctx.kb(collection)
    parsed: list[Filter] = filters_from_dict(filters, collection) if filters else []
    started = time.perf_counter()
    if ctx.transforms is not None and ctx.llm is not None and per_doc:
        result = transformed(kb, query, parsed, llm=ctx.llm, config=ctx.transforms, k=k, mode=ctx.mode,
                             on_first_pass=ctx.on_first_pass)
        ctx.audit("search", collection, [h.chunk for h in result.hits], _search_detail(query, filters))
        ms = result.timings  # milliseconds per stage
        transforms_s = (ms.get("transform_generate", 0.0) + ms.get("transform_retrieve", 0.0)) / 1000.0
        return ToolResult(list(result.hits), trace={"query": query, "filters": filters, "transforms": result.trace},
                          timings={"retrieve_s": time.perf_counter() - started - transforms_s,
                                   "transforms_s": transforms_s})
    found = search(kb, query, mode=ctx.mode, filters=parsed, k=k, per_doc=per_doc)
    ctx.audit("search", collection, [h.chunk for h in found.hits], _search_detail(query, filters))
    return ToolResult(found.hits, trace={"query": query, "filters": filters, "mode": ctx.mode},
                      timings={"retrieve_s": time.perf_counter() - started})


def _search_detail(query: str, filters: dict[str, Any]) -> str:
    """The audit detail of a search: the query, and the filters when there are any."""
    return f"{query} {json.dumps(filters, ensure_ascii=False, default=str)}" if filters else query


def as_langchain_tool(module: ModuleType, ctx: ToolContext) -> StructuredTool:
    """Wrap a tool module (see the module docstring) as a LangChain StructuredTool bound to ctx;
    an Accessor under ACCESSOR_KEY in the call's config replaces ctx.accessor for that call, a
    callback under FIRST_PASS_KEY ctx.on_first_pass."""
    args_model: type[BaseModel] = module.Args

    def call(config: RunnableConfig, **kwargs: Any) -> tuple[str, ToolResult]:
        per_call = config.get("configurable") or {}
        changes = {name: per_call[key] for name, key in (("accessor", ACCESSOR_KEY), ("on_first_pass", FIRST_PASS_KEY))
                   if per_call.get(key) is not None}
        result = module.run(replace(ctx, **changes) if changes else ctx, args_model(**kwargs))
        return result.summary(), result

    return StructuredTool.from_function(func=call, name=module.NAME, description=module.DESCRIPTION,
                                        args_schema=args_model, response_format="content_and_artifact")
