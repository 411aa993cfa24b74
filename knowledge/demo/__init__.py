"""The bundled demo knowledge base: a film/series/documentary/podcast/article catalog built from
real film data plus generated items, synthetic clinical notes with gold extractions, and a
scale generator for benchmarks (DESIGN.md §2 formats).

Everything here is deterministic: the same seed gives the same bytes on every run, so the
committed files under `data/` can be checked against a fresh build.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
CATALOG_FILE = "catalog.jsonl"
NOTES_FILE = "notes.jsonl"
NOTES_GOLD_FILE = "notes_gold.jsonl"
DEFAULT_SEED = 20261122

# "Today" for the demo. The catalog is dated relative to it (plenty of items released in the
# year before it) so that "from the last year" questions have a fixed, checkable answer.
TODAY = dt.date(2026, 11, 22)
LAST_YEAR_START = dt.date(2025, 11, 22)
