"""The pure pieces of extraction: locating quotes, sections, negation scopes, and the rule
extractors for vitals, medications and follow-up, on hand-written notes (not the golden set)."""
from __future__ import annotations

import pytest

from assistant.extract import extract_note
from assistant.extract.follow_up import extract_follow_up
from assistant.extract.medications import extract_medications
from assistant.extract.negation import negated_spans, negation_scopes, scope_of
from assistant.extract.sections import find_sections
from assistant.extract.spans import locate, occurrences, split_list, trim
from assistant.extract.vitals import extract_vitals

# -- spans -----------------------------------------------------------------------------------------


def test_locate_exact_then_case_and_whitespace_insensitive() -> None:
    note = "Pt denies Chest  pain.\nReports cough."
    assert locate(note, "Chest  pain") == (10, 21)
    assert locate(note, "chest pain") == (10, 21)       # case and the double space ignored
    assert locate(note, "CHEST\npain") == (10, 21)
    assert locate(note, "dyspnea") is None
    assert locate(note, "   ") is None


def test_locate_prefers_whole_words_then_the_preferred_occurrence() -> None:
    note = "fevers resolved; fever again; fever"
    assert occurrences(note, "fever")[0] == (17, 22)    # "fever" inside "fevers" comes last
    assert locate(note, "fever", prefer=lambda s: s[0] > 20) == (30, 35)
    assert locate(note, "fever", within=(25, 40)) == (30, 35)
    assert locate(note, "fever", within=(0, 10)) == (0, 5)


def test_trim_and_split_list() -> None:
    note = "+light sensitivity. 1. flu, cough and fever"
    assert note[slice(*trim(note, (0, 19)))] == "light sensitivity"
    assert note[slice(*trim(note, (20, 27)))] == "flu"
    import re
    pieces = split_list(note, (23, len(note)), re.compile(r"\s*,\s*|\s+and\s+"))
    assert [note[a:b] for a, b in pieces] == ["flu", "cough", "fever"]
    assert trim(note, (19, 20)) is None


# -- sections and negation ------------------------------------------------------------------------

def test_sections_line_and_inline_headers() -> None:
    note = "HPI: cough.\nALLERGIES: NKDA\nA: bronchitis; asthma\nP: rest. Return in 1 week.\nExam normal. Impression: flu."
    kinds = [(s.kind, note[s.start:s.end]) for s in find_sections(note)]
    assert kinds == [("history", "cough."), ("allergies", "NKDA"), ("assessment", "bronchitis; asthma"),
                     ("plan", "rest. Return in 1 week.\nExam normal."), ("assessment", "flu")]


@pytest.mark.parametrize("sentence, negated", [
    ("Patient denies chest pain.", ["chest pain"]),
    ("No fever or chills; reports cough.", ["fever", "chills"]),
    ("Soft abdomen without guarding.", ["guarding"]),
    ("ROS negative for dysuria, hematuria and flank pain.", ["dysuria", "hematuria", "flank pain"]),
    ("Denied hemoptysis on admission.", ["hemoptysis"]),
    ("She does not have any rash.", ["rash"]),
    ("Denies fever, no chills but reports nausea.", ["fever", "chills"]),
    ("Denies CP or SOB.", ["CP", "SOB"]),
])
def test_negated_findings_by_scope(sentence: str, negated: list[str]) -> None:
    scopes = negation_scopes(sentence)
    assert [sentence[a:b] for a, b in negated_spans(sentence, scopes)] == negated


def test_scope_ends_at_the_clause_and_excludes_described_items() -> None:
    note = "Denies fever. Reports cough.\nA: migraine without aura"
    scopes = negation_scopes(note)
    assert scope_of((note.index("cough"), note.index("cough") + 5), scopes) is None
    assert scope_of((7, 12), scopes) is not None
    diagnosis = (note.index("migraine"), len(note))
    assert [note[a:b] for a, b in negated_spans(note, scopes, exclude=[diagnosis])] == ["fever"]


# -- vitals, medications, follow-up ----------------------------------------------------------------

def test_vitals_with_units_as_written() -> None:
    note = ("Vitals: Temp 38.4 °C, BP 142/91 mmHg, pulse 104 bpm, RR 22, SpO2 93% on RA. "
            "P: start meds. HR 3 on the rhythm strip is an artifact.")
    got = {v.name: v.value.text for v in extract_vitals(note)}
    assert got == {"temperature": "38.4 °C", "blood_pressure": "142/91 mmHg", "heart_rate": "104 bpm",
                   "respiratory_rate": "22", "spo2": "93%"}
    assert extract_vitals("T 250F") == []  # implausible readings are skipped, not guessed


def _meds(note: str) -> list[dict]:
    return [{a: (e.text if e else None) for a, e in m.attributes().items()} for m in extract_medications(note)]


def test_medications_with_dose_route_frequency_duration() -> None:
    note = ("PLAN: Start apixaban 10 mg PO BID x 7 days; budesonide-formoterol 160/4.5 mcg inhaled twice daily.\n"
            "Rx sent: acetaminophen 15 mg/kg by mouth every 6 hours as needed and triamcinolone 0.1% cream thin "
            "layer topically twice daily for 2 weeks.")
    assert _meds(note) == [
        {"name": "apixaban", "dose": "10 mg", "route": "PO", "frequency": "BID", "duration": "7 days"},
        {"name": "budesonide-formoterol", "dose": "160/4.5 mcg", "route": "inhaled", "frequency": "twice daily",
         "duration": None},
        {"name": "acetaminophen", "dose": "15 mg/kg", "route": "by mouth", "frequency": "every 6 hours as needed",
         "duration": None},
        {"name": "triamcinolone 0.1% cream", "dose": "thin layer", "route": "topically", "frequency": "twice daily",
         "duration": "2 weeks"},
    ]


def test_medication_lists_and_allergies() -> None:
    note = ("ALLERGIES: amoxicillin 500 mg (hives)\nDISCHARGE MEDICATIONS:\n- furosemide 40 mg IV BID\n"
            "- hydroxyzine 25 mg TID PRN\n- metformin 1 g PO daily")
    assert [m["name"] for m in _meds(note)] == ["furosemide", "hydroxyzine", "metformin"]
    assert _meds(note)[1] == {"name": "hydroxyzine", "dose": "25 mg", "route": None, "frequency": "TID PRN",
                              "duration": None}


@pytest.mark.parametrize("text, interval", [
    ("Follow up in 2 weeks, sooner if worse.", "2 weeks"),
    ("P: rest; RTC 4 weeks", "4 weeks"),
    ("f/u 6 weeks.", "6 weeks"),
    ("FOLLOW-UP: PCP in 48-72 hours.", "48-72 hours"),
    ("Return to clinic in one month.", "one month"),
    ("Follow up PRN.", "PRN"),
    ("Follow up as needed.", "as needed"),
    ("Take ibuprofen as needed. Return precautions reviewed.", None),
])
def test_follow_up_interval(text: str, interval: str | None) -> None:
    found = extract_follow_up(text)
    assert (found.text if found else None) == interval
    if found:
        assert text[found.start:found.end] == interval


# -- rules mode end to end, on notes not written by our generator ----------------------------------

HANDWRITTEN = """Pt is a 60yo M seen for persistent cough, low-grade fever and fatigue for 1 wk. No chills, no hemoptysis.
Vitals: Temp 100.2F, BP 140/90 mmHg, P 88, O2 sat 94% on RA.
CXR: bilateral infiltrates.
Assessment: community-acquired pneumonia. Hx of COPD.
Plan: azithromycin 500 mg PO daily x 5 days. RTC in one week."""


def test_rules_mode_on_a_handwritten_note() -> None:
    result = extract_note(HANDWRITTEN, mode="rules")
    got = result.to_expected_fields()
    assert got["symptoms"] == ["persistent cough", "low-grade fever", "fatigue"]
    assert got["negated_findings"] == ["chills", "hemoptysis"]
    assert got["imaging"] == ["CXR: bilateral infiltrates"]
    assert got["diagnoses"] == ["community-acquired pneumonia", "COPD"]
    assert got["medications"] == [{"name": "azithromycin", "dose": "500 mg", "route": "PO", "frequency": "daily",
                                   "duration": "5 days"}]
    assert got["follow_up"] == "one week"
    assert got["vitals"] == {"temperature": "100.2F", "blood_pressure": "140/90 mmHg", "heart_rate": "88",
                             "spo2": "94%"}
    for _field, _label, item in result.fields.items():
        assert HANDWRITTEN[item.start:item.end] == item.text
    assert result.model_id is None and result.timings["total_s"] >= 0


def test_denied_findings_never_become_symptoms() -> None:
    note = "Presents with cough. Denies chest pain. Reports no fever."
    got = extract_note(note, mode="rules").to_expected_fields()
    assert got["symptoms"] == ["cough"]
    assert sorted(got["negated_findings"]) == ["chest pain", "fever"]
