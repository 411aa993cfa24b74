"""Tool `search_notes`: hybrid search over clinical-note sections (patient, date, author and
note-type filters). Several sections of one note may come back: a question about one visit
often needs its vitals and its plan."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from .base import ToolContext, ToolResult, retrieve

NAME = "search_notes"
DESCRIPTION = ("Search clinical notes (role-restricted). `query` is what to look for (a drug, a symptom, "
               'a finding); `filters` narrow by {"patient_id": "pt_0012", "date": {"gte": "2024-01-01"}, '
               '"note_type": "progress note", "author": "..."}.')
COLLECTION = "notes"


class Args(BaseModel):
    query: str = Field(description="what to look for in the notes")
    filters: dict[str, Any] = Field(default_factory=dict, description="typed filters in cairn's dict form")
    k: int = Field(default=6, ge=1, le=50, description="how many note sections to return")


def run(ctx: ToolContext, args: Args) -> ToolResult:
    return retrieve(ctx, COLLECTION, args.query, args.filters, args.k, per_doc=False)
