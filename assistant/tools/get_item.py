"""Tool `get_item`: one document by id — a catalog item or a clinical note — with all its
chunks as citable passages, in document order."""
from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

from knowledge.similar import ItemNotFoundError
from knowledge.types import Hit

from .base import ToolContext, ToolResult

NAME = "get_item"
DESCRIPTION = ("Fetch one catalog item or clinical note by its id (e.g. 'doc_0042', 'note_0007') with its "
               "full text and metadata.")
COLLECTION = "catalog"  # notes ids are read from the notes collection, which the role check guards


class Args(BaseModel):
    doc_id: str = Field(description="the document id")
    collection: Literal["catalog", "notes"] | None = Field(
        default=None, description="where it lives; None: notes for note_* ids, else catalog")


def collection_of(doc_id: str) -> str:
    return "notes" if re.match(r"note[_-]", doc_id, re.IGNORECASE) else "catalog"


def run(ctx: ToolContext, args: Args) -> ToolResult:
    collection = args.collection or collection_of(args.doc_id)
    kb = ctx.kb(collection)
    document = kb.store.get_document(args.doc_id)
    if document is None:
        raise ItemNotFoundError(f"no document {args.doc_id!r} in the {collection} collection; "
                                "check the id (ids are listed by `cairn search`)")
    chunks = kb.store.get_chunks(kb.store.chunk_ids_of([args.doc_id]))
    ordered = sorted(chunks.values(), key=lambda c: c.span)
    hits = [Hit(chunk=c, score=1.0, ranks={"get_item": i}) for i, c in enumerate(ordered, 1)]
    ctx.audit_document("get_item", collection, document)
    return ToolResult(hits, data={"doc_id": document.id, "collection": collection, "text": document.text,
                                  "metadata": document.metadata},
                      trace={"doc_id": args.doc_id, "collection": collection})
