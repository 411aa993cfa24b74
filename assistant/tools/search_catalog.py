"""Tool `search_catalog`: hybrid search over the catalog under typed filters (type, genres,
year, released, language, rating, duration, people), one hit per item."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from .base import ToolContext, ToolResult, retrieve

NAME = "search_catalog"
DESCRIPTION = ("Search the catalog of films, series, documentaries, podcasts and articles. "
               "`query` is what the items should be about; `filters` are typed constraints such as "
               '{"type": "documentary", "year": {"gte": 2020}, "genres": "comedy", "language": "fr"}.')
COLLECTION = "catalog"


class Args(BaseModel):
    query: str = Field(description="what the items should be about, e.g. 'climate change'")
    filters: dict[str, Any] = Field(default_factory=dict, description="typed filters in cairn's dict form")
    k: int = Field(default=5, ge=1, le=50, description="how many items to return")


def run(ctx: ToolContext, args: Args) -> ToolResult:
    return retrieve(ctx, COLLECTION, args.query, args.filters, args.k, per_doc=True)
