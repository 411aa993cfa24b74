"""The agent's tools, one per module, all of the same shape (see base.py)."""
from __future__ import annotations

from . import extract_note, get_item, search_catalog, search_notes, similar_items

TOOL_MODULES = (search_catalog, search_notes, get_item, similar_items, extract_note)
