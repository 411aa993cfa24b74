"""Builds the golden note-extraction set (`evals/golden/notes_extraction.jsonl`) from the gold
fields the notes generator wrote beside each note (`notes_gold.jsonl`), in the DESIGN.md §2
golden format: one `task: "extract"` case per note, tagged with the note's style so results
can be broken down by how the note was written. Every gold value is an exact span of its
note (the notes tests check that), so extraction can be scored exactly."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .golden import GOLDEN_FILE
from .jsonl import read_jsonl, write_jsonl

NOTES_GOLDEN_FILE = GOLDEN_FILE.with_name("notes_extraction.jsonl")
_KEY_ORDER = ("id", "collection", "task", "note_id", "tags", "expected_fields")


def build_extraction_cases(gold_path: Path) -> list[dict[str, Any]]:
    cases = []
    for number, row in enumerate(read_jsonl(gold_path), start=1):
        cases.append({"id": f"extract-{number:03d}", "collection": "notes", "task": "extract",
                      "note_id": row["note_id"], "tags": [row["style"]], "expected_fields": row["expected_fields"]})
    return cases


def write_extraction_golden(out: Path, gold_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    cases = build_extraction_cases(gold_path)
    write_jsonl(out, cases, key_order=_KEY_ORDER)
    return out, cases
