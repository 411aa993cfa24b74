"""The golden note-extraction set: in step with the generated gold, valid golden format, every
note present, every gold string a verbatim span of its note, and a perfect score against itself."""
from __future__ import annotations

import json
from pathlib import Path

from evals.golden import load_golden
from evals.metrics import corpus_extraction_scores
from knowledge.demo.golden_notes import NOTES_GOLDEN_FILE, build_extraction_cases

DATA = Path(__file__).resolve().parents[1] / "knowledge" / "demo" / "data"


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def test_committed_file_equals_a_fresh_build():
    committed = [json.loads(line) for line in NOTES_GOLDEN_FILE.read_text().splitlines()]
    assert committed == build_extraction_cases(DATA / "notes_gold.jsonl")


def test_valid_cases_with_their_notes():
    cases = load_golden(NOTES_GOLDEN_FILE)
    assert len(cases) >= 60
    notes = {json.loads(line)["id"]: json.loads(line)["text"] for line in (DATA / "notes.jsonl").read_text().splitlines()}
    styles = set()
    for case in cases:
        assert case.raw["task"] == "extract" and case.collection == "notes"
        text = notes[case.raw["note_id"]]
        for value in _strings(case.raw["expected_fields"]):
            assert value in text, (case.id, value)
        styles.update(case.tags)
    assert len(styles) >= 4


def test_gold_scores_perfectly_against_itself():
    cases = load_golden(NOTES_GOLDEN_FILE)
    pairs = [(c.raw["expected_fields"], c.raw["expected_fields"]) for c in cases]
    scores = corpus_extraction_scores(pairs)
    assert scores["micro_f1"] == 1.0
