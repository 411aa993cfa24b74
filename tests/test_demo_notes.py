"""The synthetic clinical notes and their gold extractions: every gold value is a span of its
note, negations are respected, the shapes vary, and the committed files are reproducible."""
from __future__ import annotations

import collections
import copy
import datetime as dt
import re

import pytest

from knowledge.demo import DATA_DIR
from knowledge.demo.jsonl import read_jsonl
from knowledge.demo.notes import NotesConfig, generate_notes, gold_problems, write_notes

# Written here rather than imported, so the test checks the generator instead of repeating it.
CUE = re.compile(r"\b(denies|denied|no|negative for|without)\b", re.I)
MED_KEYS = ["name", "dose", "route", "frequency", "duration"]
VITAL_KEYS = {"temperature", "blood_pressure", "heart_rate", "respiratory_rate", "spo2"}


@pytest.fixture(scope="module")
def pairs() -> list[tuple[dict, dict]]:
    notes = list(read_jsonl(DATA_DIR / "notes.jsonl"))
    gold = list(read_jsonl(DATA_DIR / "notes_gold.jsonl"))
    assert [n["id"] for n in notes] == [g["note_id"] for g in gold]
    return list(zip(notes, gold))


def _gold_strings(fields: dict) -> list[str]:
    values = fields["symptoms"] + fields["imaging"] + fields["diagnoses"] + fields["negated_findings"]
    values += list(fields["vitals"].values()) + ([fields["follow_up"]] if fields["follow_up"] else [])
    return values + [v for med in fields["medications"] for v in med.values() if v is not None]


def test_notes_have_the_documented_fields(pairs):
    assert len(pairs) >= 200
    assert [n["id"] for n, _ in pairs] == [f"note_{k:04d}" for k in range(1, len(pairs) + 1)]
    for note, gold in pairs:
        assert set(note) == {"id", "text", "patient_id", "date", "author", "note_type"}
        dt.date.fromisoformat(note["date"])
        assert re.fullmatch(r"pt_\d{4}", note["patient_id"]) and note["text"].strip()
        fields = gold["expected_fields"]
        assert list(fields) == ["symptoms", "vitals", "imaging", "medications", "follow_up", "diagnoses",
                                "negated_findings"]
        assert set(fields["vitals"]) <= VITAL_KEYS
        assert all(list(med) == MED_KEYS for med in fields["medications"])
        assert fields["symptoms"] and fields["diagnoses"] and fields["medications"]
    patients = collections.Counter(n["patient_id"] for n, _ in pairs)
    assert any(count > 1 for count in patients.values()), "some patients should have follow-up notes"


def test_every_gold_value_appears_verbatim_in_its_note(pairs):
    missing = [(note["id"], value) for note, gold in pairs for value in _gold_strings(gold["expected_fields"])
               if value not in note["text"]]
    assert missing == []


def test_negated_findings_follow_a_cue_and_are_never_symptoms(pairs):
    total = 0
    for note, gold in pairs:
        text, fields = note["text"], gold["expected_fields"]
        for finding in fields["negated_findings"]:
            total += 1
            assert finding not in fields["symptoms"], (note["id"], finding)
            start = text.index(finding)
            clause = re.split(r"[.;:\n]\s", text[:start])[-1]
            assert CUE.search(clause), f"{note['id']}: {finding!r} has no negation cue in {clause!r}"
    assert total >= 300


def test_no_note_prescribes_a_drug_the_patient_is_allergic_to(pairs):
    for note, _ in pairs:
        text = note["text"]
        if "penicillin (rash)" in text:
            assert not re.search(r"amoxicillin|penicillin V|cephalexin", text), note["id"]
        if "sulfa (hives)" in text:
            assert "sulfamethoxazole" not in text, note["id"]


def test_gold_problems_catches_a_wrong_gold():
    note, gold = next(generate_notes(NotesConfig(n_notes=1)))
    fields = copy.deepcopy(gold["expected_fields"])
    assert gold_problems(note["text"], fields) == []
    fields["symptoms"].append("hemoptysis (not in this note)")
    assert gold_problems(note["text"], fields)
    fields = copy.deepcopy(gold["expected_fields"])
    if fields["negated_findings"]:
        fields["symptoms"].append(fields["negated_findings"][0])
        assert any("negation cue" in p or "overlaps" in p for p in gold_problems(note["text"], fields))


def test_notes_vary_in_shape_and_wording(pairs):
    styles = collections.Counter(gold["style"] for _, gold in pairs)
    assert set(styles) == {"soap", "narrative", "terse", "telephone", "discharge"}
    texts = [note["text"] for note, _ in pairs]
    with_headers = [t for t in texts if "CHIEF COMPLAINT:" in t and "ASSESSMENT:" in t and "PLAN:" in t]
    without = [t for t in texts if ":" not in t.split(".")[0] and "\n" not in t]
    assert len(with_headers) >= 40 and len(without) >= 40
    joined = "\n".join(texts)
    for marker in (" x 3 ", "PO BID", "q6h PRN", "c/o", "SOB", "CXR", "HTN", "VITALS:", "MEDICATIONS:",
                   "Denies", "No ", "negative for", "SpO2", "°C", "F,"):
        assert marker in joined, marker
    temperatures = [gold["expected_fields"]["vitals"].get("temperature", "") for _, gold in pairs]
    assert any(t.endswith("F") for t in temperatures) and any(t.endswith("C") for t in temperatures)
    assert any(gold["expected_fields"]["follow_up"] is None for _, gold in pairs)
    assert any(gold["expected_fields"]["imaging"] for _, gold in pairs)


def test_generation_is_deterministic_and_matches_the_committed_files(tmp_path):
    notes_path, gold_path = write_notes(tmp_path)
    assert notes_path.read_bytes() == (DATA_DIR / "notes.jsonl").read_bytes(), "run `cairn demo build`"
    assert gold_path.read_bytes() == (DATA_DIR / "notes_gold.jsonl").read_bytes()
    first = list(generate_notes(NotesConfig(seed=7, n_notes=30)))
    assert first == list(generate_notes(NotesConfig(seed=7, n_notes=30)))
    assert first != list(generate_notes(NotesConfig(seed=8, n_notes=30)))


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="n_notes"):
        NotesConfig(n_notes=0)
    with pytest.raises(ValueError, match="repeat_patient_p"):
        NotesConfig(repeat_patient_p=1.5)
