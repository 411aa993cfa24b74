"""The golden QA sets (catalog_qa.jsonl, notes_qa.jsonl): they load, cover every question kind,
point at items and notes that exist, state only facts the data holds (in the fields the model
is shown), and are exactly what the specs derive from the committed demo data."""
from __future__ import annotations

import collections
import json

import pytest

from assistant.prompts import HEADER_FIELDS, guard_question
from evals.golden import load_golden
from evals.metrics import is_refusal
from knowledge import filters as kfilters
from knowledge.demo import DATA_DIR
from knowledge.demo.golden import matches
from knowledge.demo.golden_qa import (CATALOG_QA_FILE, GoldenQASpecError, QASpec, build_catalog_qa,
                                      write_catalog_qa)
from knowledge.demo.golden_qa_notes import (NOTES_QA_FILE, NoteQASpec, build_notes_qa, write_notes_qa)
from knowledge.demo.jsonl import read_jsonl

NOTES, GOLD = DATA_DIR / "notes.jsonl", DATA_DIR / "notes_gold.jsonl"


@pytest.fixture(scope="module")
def catalog() -> dict[str, dict]:
    return {item["id"]: item for item in read_jsonl(DATA_DIR / "catalog.jsonl")}


@pytest.fixture(scope="module")
def notes() -> dict[str, dict]:
    return {note["id"]: note for note in read_jsonl(NOTES)}


@pytest.fixture(scope="module")
def catalog_built(catalog):
    return build_catalog_qa(list(catalog.values()))


@pytest.fixture(scope="module")
def notes_built():
    return build_notes_qa(read_jsonl(NOTES), read_jsonl(GOLD))


def _tags(rows) -> collections.Counter:
    return collections.Counter(tag for row in rows for tag in row["tags"])


def _relevant(row) -> list[str]:
    relevant = row["relevant_ids"]
    return list(relevant) if isinstance(relevant, (list, dict)) else []


# -- format and coverage -----------------------------------------------------------------------------

@pytest.mark.parametrize("path, collection, prefix, minimum", [
    (CATALOG_QA_FILE, "catalog", "qa", 80), (NOTES_QA_FILE, "notes", "nqa", 40)])
def test_the_golden_loader_accepts_the_file(path, collection, prefix, minimum):
    cases = load_golden(path)
    assert len(cases) >= minimum
    assert [c.id for c in cases] == [f"{prefix}-{k:03d}" for k in range(1, len(cases) + 1)]
    for case in cases:
        assert case.collection == collection and case.question.strip() and case.tags
        assert case.raw["reference_answer"].strip()
        assert case.answerable == bool(case.relevant), case.id
        assert case.answerable == ("unanswerable" not in case.tags), case.id


def test_catalog_tag_minima(catalog_built):
    tags = _tags(c.row for c in catalog_built)
    assert tags["unanswerable"] >= 15 and tags["adversarial"] >= 10, tags
    assert tags["factual"] >= 30 and tags["metadata"] >= 10 and tags["description"] >= 10, tags
    assert tags["list"] >= 10, tags
    for kind in ("absent-fact", "absent-topic", "impossible-filter", "false-premise", "injection", "wrong-fact"):
        assert tags[kind] >= 3, (kind, tags)


def test_notes_tag_minima(notes_built):
    tags = _tags(c.row for c in notes_built)
    assert tags["unanswerable"] >= 6 and tags["multi-note"] >= 3, tags
    for kind in ("medications", "vitals", "follow-up", "imaging", "negation", "diagnoses", "symptoms"):
        assert tags[kind] >= 3, (kind, tags)
    assert {"soap", "narrative", "terse", "telephone", "discharge"} <= set(tags), tags


# -- the data bears the answers out ---------------------------------------------------------------------

def test_relevant_ids_exist(catalog_built, notes_built, catalog, notes):
    for built, known in ((catalog_built, catalog), (notes_built, notes)):
        for case in built:
            assert set(_relevant(case.row)) <= set(known), case.row["id"]


def _shown(item: dict, name: str) -> str:
    value = item.get(name)
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def test_catalog_facts_are_in_the_fields_the_model_sees(catalog_built, catalog):
    """Metadata facts sit in the passage header (assistant.prompts.HEADER_FIELDS), description
    facts in the description: each answer is reachable from the item as ingested."""
    checked = 0
    for case in catalog_built:
        row = case.row
        if not row["answerable"] or "list" in row["tags"]:
            continue
        (item_id,) = row["relevant_ids"]
        item = catalog[item_id]
        header = " | ".join(_shown(item, name) for name in HEADER_FIELDS if item.get(name) not in (None, []))
        for fact in case.facts:
            where = header if "metadata" in row["tags"] else header + "\n" + item["description"]
            assert fact in where, (row["id"], fact)
            checked += 1
        if "metadata" in row["tags"]:
            assert all(fact in row["reference_answer"] for fact in case.facts), row["id"]
    assert checked >= 60


def test_catalog_list_answers_name_items_that_match_the_filters(catalog_built, catalog):
    for case in catalog_built:
        row = case.row
        if "list" not in row["tags"]:
            continue
        relevant = row["relevant_ids"]
        full = [i for i, g in relevant.items() if g == 2] if isinstance(relevant, dict) else relevant
        assert full and all(matches(row["filters"], catalog[i]) for i in full), row["id"]
        assert all(catalog[i]["title"] in row["reference_answer"] for i in full), row["id"]


def test_notes_facts_are_verbatim_in_a_relevant_note(notes_built, notes):
    checked = 0
    for case in notes_built:
        if not case.row["answerable"]:
            continue
        assert case.facts, case.row["id"]
        texts = [notes[i]["text"] for i in case.row["relevant_ids"]]
        for fact in case.facts:
            assert any(fact in text for text in texts), (case.row["id"], fact)
            checked += 1
    assert checked >= 100


def test_filters_parse_and_relevant_notes_match_them(catalog_built, notes_built, notes):
    for case in catalog_built:
        kfilters.filters_from_dict(case.row["filters"], "catalog")
    for case in notes_built:
        parsed = kfilters.filters_from_dict(case.row["filters"], "notes")
        for note_id in case.row["relevant_ids"]:
            metadata = {k: v for k, v in notes[note_id].items() if k != "text"}
            assert kfilters.matches(parsed, metadata, "notes"), (case.row["id"], note_id)
        if case.row["answerable"]:
            assert case.row["filters"].get("patient_id"), case.row["id"]


def test_refusals_and_guarded_questions(catalog_built, notes_built):
    """Unanswerable references read as refusals to evals.metrics.is_refusal, answerable ones do
    not; exactly the injection questions are stopped by the input guard."""
    for case in [*catalog_built, *notes_built]:
        row = case.row
        assert is_refusal(row["reference_answer"], []) == (not row["answerable"]), row["id"]
        assert bool(guard_question(row["question"])) == ("injection" in row["tags"]), row["id"]


# -- in step with the data, byte for byte --------------------------------------------------------------

def test_committed_files_are_a_fresh_build(tmp_path):
    catalog_out, _ = write_catalog_qa(tmp_path / "catalog_qa.jsonl", DATA_DIR / "catalog.jsonl")
    notes_out, _ = write_notes_qa(tmp_path / "notes_qa.jsonl", NOTES, GOLD)
    assert catalog_out.read_bytes() == CATALOG_QA_FILE.read_bytes(), "stale catalog_qa.jsonl: run `cairn demo golden`"
    assert notes_out.read_bytes() == NOTES_QA_FILE.read_bytes(), "stale notes_qa.jsonl: run `cairn demo golden`"
    again, _ = write_catalog_qa(tmp_path / "again.jsonl", DATA_DIR / "catalog.jsonl")
    assert again.read_bytes() == catalog_out.read_bytes()
    committed = [json.loads(line) for line in NOTES_QA_FILE.read_text(encoding="utf-8").splitlines()]
    assert committed == [c.row for c in build_notes_qa(read_jsonl(NOTES), read_jsonl(GOLD))]


def test_builders_refuse_specs_the_data_does_not_bear_out(catalog):
    items = list(catalog.values())
    bad_catalog = [
        (QASpec("How long is Vertigo?", "Vertigo runs {duration_min} minutes.", ("factual",), "Vertigo",
                evidence=("three hours",)), "not in the description"),
        (QASpec("Vertigo from 1958?", "{year}", ("adversarial",), "Vertigo", wrong={"year": 1958}),
         "not a wrong fact"),
        (QASpec("films about jazz", "None.", ("unanswerable",), guard=("jazz",)), "the catalog says it"),
        (QASpec("films from 1958", "None.", ("unanswerable",), filters={"type": "film", "year": 1958}),
         "its filters match"),
        (QASpec("Who directed No Such Film?", "{creators}", ("factual",), "No Such Film"), "names 0 items"),
    ]
    for spec, message in bad_catalog:
        with pytest.raises(GoldenQASpecError, match=message):
            build_catalog_qa(items, [spec])
    bad_notes = [
        (NoteQASpec("started", "note_0004"), "did not start"),  # atorvastatin is a home medication
        (NoteQASpec("negation", "note_0001", detail="fever"), "not a negated finding"),
        (NoteQASpec("imaging", "note_0002"), "no imaging"),
        (NoteQASpec("absent", patient="pt_0001", question="apixaban?", answer="none", guard=("apixaban",)),
         "the notes say it"),
        (NoteQASpec("absent", patient="pt_0001", date="2024-05-03", question="visit?", answer="none"),
         "1 notes match"),
    ]
    for spec, message in bad_notes:
        with pytest.raises(GoldenQASpecError, match=message):
            build_notes_qa(read_jsonl(NOTES), read_jsonl(GOLD), [spec])
