"""Tool `similar_items`: "comedies like Silicon Valley" — items most similar to a named item
(its chunk vectors' mean, knowledge/similar.py) that also meet the typed filters."""
from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, Field

from knowledge.filters import filters_from_dict
from knowledge.similar import find_title, similar_items

from .base import ToolContext, ToolResult

NAME = "similar_items"
DESCRIPTION = ("Find catalog items similar to one named item, e.g. title='Silicon Valley' with "
               'filters {"genres": "comedy"} for "comedies like Silicon Valley".')
COLLECTION = "catalog"


class Args(BaseModel):
    title: str = Field(description="the title of the item to find neighbours of")
    filters: dict[str, Any] = Field(default_factory=dict, description="typed filters the neighbours must meet")
    k: int = Field(default=5, ge=1, le=50, description="how many similar items to return")


def run(ctx: ToolContext, args: Args) -> ToolResult:
    kb = ctx.kb(COLLECTION)
    started = time.perf_counter()
    anchor = find_title(kb, args.title)
    hits = similar_items(kb, anchor.doc_id, filters=filters_from_dict(args.filters, COLLECTION), k=args.k)
    ctx.audit("search", COLLECTION, [h.chunk for h in hits], f"like {anchor.title!r}")  # only hits with a patient_id
    note = "" if anchor.exact else f"Taking {args.title!r} to mean {anchor.title!r}."
    return ToolResult(hits, data={"anchor": anchor.doc_id, "anchor_title": anchor.title}, note=note,
                      trace={"title": args.title, "anchor": anchor.doc_id, "exact": anchor.exact,
                             "filters": args.filters},
                      timings={"retrieve_s": time.perf_counter() - started})
