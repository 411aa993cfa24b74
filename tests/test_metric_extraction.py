"""Extraction metrics: hand-worked counts, normalisation, the gold file against itself, and a
deliberately wrong prediction with exact expected numbers."""
import copy
import json
from pathlib import Path

import pytest

from evals.metrics.extraction import (FIELDS, Counts, corpus_extraction_scores, extraction_counts,
                                      extraction_scores, normalize_dose, normalize_frequency,
                                      normalize_route, normalize_vital)

GOLD_FILE = Path(__file__).resolve().parents[1] / "knowledge" / "demo" / "data" / "notes_gold.jsonl"


@pytest.fixture(scope="module")
def gold_rows():
    return [json.loads(line) for line in GOLD_FILE.read_text().splitlines() if line.strip()]


def test_list_field_by_hand():
    pred = {"symptoms": ["Fever", "cough.", "fatigue", "  Fatigue "]}
    gold = {"symptoms": ["fever", "persistent cough", "fatigue"]}
    # normalised: pred {fever, cough, fatigue x2}, gold {fever, persistent cough, fatigue}
    # tp = 2 (fever, fatigue once), fp = 4 - 2, fn = 3 - 2
    assert extraction_counts(pred, gold)["symptoms"] == Counts(tp=2, fp=2, fn=1)
    s = extraction_scores(pred, gold)
    assert (s["symptoms_precision"], s["symptoms_recall"]) == (0.5, pytest.approx(2 / 3))
    assert s["symptoms_f1"] == pytest.approx(4 / 7)


def test_empty_sides():
    both_empty = Counts()
    assert (both_empty.precision, both_empty.recall, both_empty.f1) == (1.0, 1.0, 1.0)
    missed, invented = Counts(fn=2), Counts(fp=1)
    assert (missed.precision, missed.recall, missed.f1) == (0.0, 0.0, 0.0)
    assert (invented.precision, invented.recall, invented.f1) == (0.0, 0.0, 0.0)
    s = extraction_scores({}, {"follow_up": None, "imaging": []})
    assert s["follow_up_f1"] == s["imaging_f1"] == s["micro_f1"] == s["macro_f1"] == 1.0


def test_vital_formats():
    same = ["100.2F", "100.2 °F", "100.2 F", "100.2 degrees F", "100.20 ℉", "100.2"]
    assert len({normalize_vital("temperature", v) for v in same}) == 1
    assert normalize_vital("temperature", "37.1") == normalize_vital("temperature", "37.1 °C")
    assert normalize_vital("temperature", "100.2F") != normalize_vital("temperature", "100.2 C")
    assert normalize_vital("blood_pressure", "120/80") == normalize_vital("blood_pressure", "120 / 80 mmHg")
    assert normalize_vital("blood_pressure", "120/80") != normalize_vital("blood_pressure", "120/85")
    assert normalize_vital("spo2", "98%") == normalize_vital("spo2", "98 %") == normalize_vital("spo2", "98")
    assert normalize_vital("heart_rate", "58 bpm") == normalize_vital("heart_rate", "58")
    assert normalize_vital("respiratory_rate", "15 breaths/min") == normalize_vital("respiratory_rate", "15")
    counts = extraction_counts({"vitals": {"Temp": "100.2 °F", "BP": "120/80 mmHg", "SpO2": "98"}},
                               {"vitals": {"temperature": "100.2F", "blood_pressure": "120/80", "spo2": "98%"}})
    assert counts["vitals"] == Counts(tp=3)


def test_medication_normalisation():
    assert normalize_dose("500mg") == normalize_dose("500 mg") == normalize_dose("0.5 g")
    assert normalize_dose("0.5 mg") != normalize_dose("5 mg")
    assert normalize_dose("50 mcg") == normalize_dose("0.05 mg") == normalize_dose("50 \u00b5g")  # micro sign
    assert normalize_dose("800/160 mg") == normalize_dose("800 mg/160 mg")
    assert normalize_dose("2 puffs") == normalize_dose("2 puff") != normalize_dose("2 sprays")
    assert normalize_dose("15 mg/kg") != normalize_dose("15 mg")
    assert normalize_route("PO") == normalize_route("by mouth") == normalize_route("P.O.")
    assert normalize_route("INH") == normalize_route("inhaled") != normalize_route("IV")
    assert normalize_frequency("BID PRN") == normalize_frequency("twice daily as needed")
    assert normalize_frequency("q6h PRN") == normalize_frequency("every 6 hours as needed")
    assert normalize_frequency("QHS") == normalize_frequency("at bedtime")
    assert normalize_frequency("daily") == normalize_frequency("once daily") != normalize_frequency("once")


def test_medication_attributes_by_hand():
    gold = {"medications": [
        {"name": "amoxicillin", "dose": "500 mg", "route": "PO", "frequency": "BID", "duration": "10 days"},
        {"name": "ibuprofen", "dose": "400 mg", "route": None, "frequency": "q6h PRN", "duration": None}]}
    pred = {"medications": [
        {"name": "Amoxicillin", "dose": "500mg", "route": "by mouth", "frequency": "three times daily",
         "duration": "10 days"},
        {"name": "ibuprofen", "dose": "4 mg", "route": "PO", "frequency": "every 6 hours as needed"}]}
    c = extraction_counts(pred, gold)
    assert c["medications_name"] == Counts(tp=2)
    assert c["medications_dose"] == Counts(tp=1, fp=1, fn=1)  # 4 mg is not 400 mg
    assert c["medications_route"] == Counts(tp=1, fp=1)  # gold has no route for ibuprofen
    assert c["medications_frequency"] == Counts(tp=1, fp=1, fn=1)  # TID is not BID
    assert c["medications_duration"] == Counts(tp=1)
    assert c["medications"] == Counts(tp=6, fp=3, fn=2)  # the five attributes pooled


def test_gold_file_against_itself_is_perfect(gold_rows):
    assert len(gold_rows) == 240
    for row in gold_rows:
        scores = extraction_scores(copy.deepcopy(row["expected_fields"]), row["expected_fields"])
        assert set(scores.values()) == {1.0}, row["note_id"]
    corpus = corpus_extraction_scores((r["expected_fields"], r["expected_fields"]) for r in gold_rows)
    assert set(corpus.values()) == {1.0}
    assert {f"{f}_f1" for f in FIELDS} <= set(corpus)


def test_deliberately_wrong_prediction(gold_rows):
    gold = next(r["expected_fields"] for r in gold_rows if r["note_id"] == "note_0001")
    assert gold["medications"][0]["name"] == "apixaban" and gold["follow_up"] == "1 week"
    pred = {
        "symptoms": ["Left calf pain.", "chest pain"],  # tp 1, fp 1, fn 1 (left leg swelling)
        # temperature, BP, SpO2 right in other formats; HR wrong (fp + fn); RR missing (fn)
        "vitals": {"Temp": "98.2 °F", "BP": "125/71 mmHg", "HR": "128 bpm", "SpO2": "96"},
        "imaging": [],  # fn 1
        "medications": [
            # apixaban: name, dose, route, frequency right; duration 14 days vs 7 (fp + fn)
            {"name": "Apixaban", "dose": "10mg", "route": "by mouth", "frequency": "twice daily",
             "duration": "14 days"},
            # metoprolol instead of lisinopril: name, dose, route, frequency each fp (and the
            # gold lisinopril's four non-null attributes each fn)
            {"name": "metoprolol", "dose": "25 mg", "route": "PO", "frequency": "daily", "duration": None}],
        "follow_up": "in 1 week",  # tp
        "diagnoses": ["deep vein thrombosis"],  # tp 1, fn 1
        "negated_findings": ["hemoptysis", "shortness of breath", "fever"],  # tp 2, fp 1
        "not_a_schema_field": ["ignored"],
    }
    c = extraction_counts(pred, gold)
    assert c["symptoms"] == Counts(1, 1, 1)
    assert c["vitals"] == Counts(3, 1, 2)
    assert c["imaging"] == Counts(0, 0, 1)
    assert [c[f"medications_{a}"] for a in ("name", "dose", "route", "frequency", "duration")] == [
        Counts(1, 1, 1)] * 4 + [Counts(0, 1, 1)]
    assert c["medications"] == Counts(4, 5, 5)
    assert c["follow_up"] == Counts(1, 0, 0)
    assert c["diagnoses"] == Counts(1, 0, 1)
    assert c["negated_findings"] == Counts(2, 1, 0)

    s = extraction_scores(pred, gold)
    #            symptoms vitals imaging meds  follow_up diagnoses negated
    precision = [1 / 2, 3 / 4, 0.0, 4 / 9, 1.0, 1.0, 2 / 3]
    recall = [1 / 2, 3 / 5, 0.0, 4 / 9, 1.0, 1 / 2, 1.0]
    f1 = [1 / 2, 2 / 3, 0.0, 4 / 9, 1.0, 2 / 3, 4 / 5]
    for field, p, r, f in zip(FIELDS, precision, recall, f1):
        assert (s[f"{field}_precision"], s[f"{field}_recall"], s[f"{field}_f1"]) == (
            pytest.approx(p), pytest.approx(r), pytest.approx(f)), field
    # micro: tp 1+3+0+4+1+1+2 = 12, fp 1+1+0+5+0+0+1 = 8, fn 1+2+1+5+0+1+0 = 10
    assert s["micro_precision"] == pytest.approx(12 / 20)
    assert s["micro_recall"] == pytest.approx(12 / 22)
    assert s["micro_f1"] == pytest.approx(24 / 42)
    assert s["macro_precision"] == pytest.approx(sum(precision) / 7)
    assert s["macro_recall"] == pytest.approx(sum(recall) / 7)
    assert s["macro_f1"] == pytest.approx(sum(f1) / 7)


def test_corpus_pools_counts_across_notes():
    notes = [({"symptoms": ["a"]}, {"symptoms": ["a"]}),
             ({"symptoms": ["x", "y", "z"]}, {"symptoms": ["b"]})]
    # pooled: tp 1, fp 3, fn 1 -> P = 1/4, R = 1/2 (a mean of per-note scores would give P = 1/2)
    s = corpus_extraction_scores(notes)
    assert (s["symptoms_precision"], s["symptoms_recall"]) == (0.25, 0.5)


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"gold fields \['allergies'\] are not in the extraction schema"):
        extraction_scores({}, {"allergies": ["penicillin"]})
    with pytest.raises(ValueError, match="vitals must be an object"):
        extraction_scores({"vitals": ["100.2F"]}, {})
    with pytest.raises(ValueError, match="no \\(predicted, gold\\) pairs"):
        corpus_extraction_scores([])
    # A lenient reading of common model slips: a string for a list, a bare medication name.
    counts = extraction_counts({"symptoms": "fever", "medications": ["ibuprofen"]},
                               {"symptoms": ["Fever"], "medications": [{"name": "ibuprofen"}]})
    assert counts["symptoms"] == counts["medications"] == Counts(tp=1)
