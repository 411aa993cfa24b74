"""The extraction schema: every item is an Evidence whose span holds its text; shapes are
checked on construction; `to_expected_fields` is exactly the golden form the scorer reads."""
from __future__ import annotations

import pytest

from assistant.extract import (
    Evidence,
    ExtractedFields,
    Extraction,
    ExtractSchemaError,
    Medication,
    SpanMismatchError,
    TraceEvent,
    Vital,
    verify_spans,
)
from evals.metrics.extraction import extraction_scores
from knowledge.errors import CairnError

NOTE = "Cough x 3 days. Denies fever. T 101.3F. Start amoxicillin 500 mg PO TID x 7 days. RTC 1 week."


def ev(text: str, source: str = "rules") -> Evidence:
    start = NOTE.index(text)
    return Evidence(text, start, start + len(text), source)  # type: ignore[arg-type]


def amoxicillin() -> Medication:
    return Medication(evidence=ev("amoxicillin 500 mg PO TID x 7 days"), name=ev("amoxicillin"), dose=ev("500 mg"),
                      route=ev("PO"), frequency=ev("TID"), duration=ev("7 days"))


def fields() -> ExtractedFields:
    return ExtractedFields(symptoms=(ev("Cough"),), vitals=(Vital("temperature", ev("101.3F")),),
                           medications=(amoxicillin(),), follow_up=ev("1 week"), negated_findings=(ev("fever"),))


def test_to_expected_fields_is_the_golden_form_and_scores_perfectly() -> None:
    expected = fields().to_expected_fields()
    assert expected == {
        "symptoms": ["Cough"], "vitals": {"temperature": "101.3F"}, "imaging": [],
        "medications": [{"name": "amoxicillin", "dose": "500 mg", "route": "PO", "frequency": "TID",
                         "duration": "7 days"}],
        "follow_up": "1 week", "diagnoses": [], "negated_findings": ["fever"]}
    assert extraction_scores(expected, expected)["micro_f1"] == 1.0


def test_every_item_carries_a_span_that_holds_its_text() -> None:
    items = list(fields().items())
    assert len(items) == 10  # cough, T, the medication mention + its 5 attributes, follow-up, fever
    for _field, _label, item in items:
        assert NOTE[item.start:item.end] == item.text
    verify_spans(fields(), NOTE)


def test_to_dict_keeps_spans_in_field_order() -> None:
    out = fields().to_dict()
    assert list(out) == ["symptoms", "vitals", "imaging", "medications", "follow_up", "diagnoses", "negated_findings"]
    assert out["vitals"]["temperature"] == {"text": "101.3F", "start": NOTE.index("101.3F"),
                                            "end": NOTE.index("101.3F") + 6, "source": "rules"}
    assert out["medications"][0]["duration"]["text"] == "7 days"


@pytest.mark.parametrize("args, message", [
    (("", 0, 1), "empty"),
    ((" fever", 0, 6), "whitespace"),
    (("fever", 5, 5), "0 <= start < end"),
    (("fever", -1, 4), "0 <= start < end"),
    (("fever", 0, 4), "has 5"),
])
def test_evidence_rejects_bad_spans(args, message: str) -> None:
    with pytest.raises(ExtractSchemaError, match=message):
        Evidence(*args)


def test_evidence_rejects_unknown_source() -> None:
    with pytest.raises(ExtractSchemaError, match="source='model' is unknown"):
        Evidence("fever", 0, 5, "model")  # type: ignore[arg-type]


def test_schema_errors_are_cairn_errors_naming_the_fix() -> None:
    with pytest.raises(CairnError, match="take text = note\\[start:end\\]"):
        Evidence("fever", 0, 9)


def test_medication_attributes_must_lie_inside_the_mention() -> None:
    with pytest.raises(ExtractSchemaError, match="lies outside the mention"):
        Medication(evidence=ev("amoxicillin 500 mg"), name=ev("amoxicillin"), duration=ev("7 days"))
    with pytest.raises(ExtractSchemaError, match="needs name"):
        Medication(evidence=ev("amoxicillin 500 mg"), name=None)  # type: ignore[arg-type]


def test_fields_check_their_shapes() -> None:
    with pytest.raises(ExtractSchemaError, match="symptoms must be a tuple"):
        ExtractedFields(symptoms=[ev("Cough")])  # type: ignore[arg-type]
    with pytest.raises(ExtractSchemaError, match="every item must be a Evidence"):
        ExtractedFields(symptoms=("Cough",))  # type: ignore[arg-type]
    with pytest.raises(ExtractSchemaError, match=r"vitals \['temperature'\] appear more than once"):
        ExtractedFields(vitals=(Vital("temperature", ev("101.3F")), Vital("temperature", ev("101.3F"))))
    with pytest.raises(ExtractSchemaError, match="snake_case"):
        Vital("Heart Rate", ev("101.3F"))


def test_verify_spans_names_the_item_that_does_not_match() -> None:
    other_note = "x" * len(NOTE)
    with pytest.raises(SpanMismatchError, match="symptoms says 'Cough'"):
        verify_spans(fields(), other_note)


def test_trace_and_extraction_are_checked() -> None:
    with pytest.raises(ExtractSchemaError, match="trace kind 'oops' is unknown"):
        TraceEvent("oops", "x")  # type: ignore[arg-type]
    with pytest.raises(ExtractSchemaError, match="mode='fast' is unknown"):
        Extraction(fields(), mode="fast")  # type: ignore[arg-type]
    result = Extraction(fields(), mode="hybrid", trace=(TraceEvent("dropped", "a"), TraceEvent("negation_moved", "b"),
                                                         TraceEvent("fallback", "c")))
    assert (result.dropped, result.negation_moves, result.fell_back) == (1, 1, True)
