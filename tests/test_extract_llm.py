"""The LLM modes with a scripted FakeLLM (no real model): schema-constrained call, grounding of
quotes (hallucinations dropped), negation validation, repair and fallback, determinism."""
from __future__ import annotations

import json

import pytest

from assistant.extract import ExtractConfig, ExtractConfigError, extract_note, verify_spans
from assistant.extract.decode import parse_reply, schema_errors
from assistant.extract.errors import ReplyError
from assistant.extract.prompt import HYBRID_FIELDS, build_messages, response_schema
from assistant.extract.schema import FIELDS
from assistant.llm.fake import FakeLLM, FakeReply

NOTE = ("HPI: 45 y/o F presents with cough and sore throat x 3 days. Denies chest pain or fever.\n"
        "VITALS: T 99.1F, BP 120/88, HR 88, SpO2 97%\n"
        "ASSESSMENT: 1. viral bronchitis 2. asthma, stable\n"
        "PLAN: benzonatate 100 mg PO TID PRN. Follow up in 1 week.")
GOOD = {"symptoms": ["cough", "sore throat"], "diagnoses": ["viral bronchitis", "asthma"], "imaging": []}


def reply(**changes) -> str:
    return json.dumps({**GOOD, **changes})


def spans_hold(result) -> None:
    verify_spans(result.fields, NOTE)
    for _field, _label, item in result.fields.items():
        assert NOTE[item.start:item.end] == item.text


def test_hybrid_calls_the_model_with_the_schema_greedily_and_merges_rules() -> None:
    fake = FakeLLM([reply()])
    result = extract_note(NOTE, llm=fake, mode="hybrid")
    request = fake.last_request
    assert request.json_schema == response_schema(HYBRID_FIELDS) and request.temperature == 0
    assert request.max_tokens == ExtractConfig().tokens_for("hybrid")
    got = result.to_expected_fields()
    assert got["symptoms"] == ["cough", "sore throat"] and got["diagnoses"] == ["viral bronchitis", "asthma"]
    assert {e.source for e in result.fields.symptoms} == {"llm"}
    assert got["medications"][0] == {"name": "benzonatate", "dose": "100 mg", "route": "PO", "frequency": "TID PRN",
                                     "duration": None}                        # from the rules
    assert got["negated_findings"] == ["chest pain", "fever"] and got["follow_up"] == "1 week"
    assert result.model_id == "fake-llm" and not result.fell_back and result.dropped == 0
    assert "Known from this note" in fake.last_messages[-1]["content"]        # rule hints reach the model
    spans_hold(result)


def test_a_quote_that_is_not_in_the_note_is_dropped_and_traced() -> None:
    result = extract_note(NOTE, llm=FakeLLM([reply(symptoms=["cough", "dyspnea"], imaging=["CXR: clear"])]))
    got = result.to_expected_fields()
    assert got["symptoms"] == ["cough"] and got["imaging"] == []
    assert result.dropped == 2
    assert any("'dyspnea' is not in the note" in e.message for e in result.trace)
    spans_hold(result)


def test_quotes_are_located_ignoring_case_and_whitespace_and_trimmed_of_cues() -> None:
    result = extract_note(NOTE, llm=FakeLLM([reply(symptoms=["PRESENTS WITH Cough", "sore   throat x 3 days"])]))
    assert [e.text for e in result.fields.symptoms] == ["cough", "sore throat"]
    spans_hold(result)


def test_denies_chest_pain_never_ends_up_in_symptoms() -> None:
    result = extract_note(NOTE, llm=FakeLLM([reply(symptoms=["cough", "chest pain", "Denies chest pain"])]))
    got = result.to_expected_fields()
    assert "chest pain" not in got["symptoms"] and "Denies chest pain" not in got["symptoms"]
    assert got["negated_findings"].count("chest pain") == 1
    assert result.negation_moves >= 1


def test_llm_mode_moves_a_negated_symptom_to_negated_findings() -> None:
    full = {"symptoms": ["cough", "fever"], "vitals": {"temperature": "99.1F", "blood_pressure": "120/88",
                                                       "heart_rate": "88", "respiratory_rate": None, "spo2": "97%"},
            "imaging": [], "medications": [{"name": "benzonatate", "dose": "100 mg", "route": "PO",
                                            "frequency": "TID PRN", "duration": "10 days"}],
            "follow_up": "1 week", "diagnoses": ["viral bronchitis"], "negated_findings": ["chest pain"]}
    fake = FakeLLM([json.dumps(full)])
    result = extract_note(NOTE, llm=fake, mode="llm")
    got = result.to_expected_fields()
    assert fake.last_request.json_schema == response_schema(FIELDS)
    assert got["symptoms"] == ["cough"] and got["negated_findings"] == ["chest pain", "fever"]
    assert result.count("negation_moved") == 1
    hr = next(v for v in result.fields.vitals if v.name == "heart_rate")
    assert NOTE[hr.value.start - 3:hr.value.start] == "HR "     # the "88" after its label, not BP's
    med = result.fields.medications[0]
    assert med.duration is None and med.evidence.text == "benzonatate 100 mg PO TID PRN"
    assert any("duration '10 days' is not near its name" in e.message for e in result.trace)
    spans_hold(result)


def test_repair_call_fixes_an_invalid_reply() -> None:
    fake = FakeLLM(["{'symptoms': oops", reply()])
    result = extract_note(NOTE, llm=fake)
    assert len(fake.calls) == 2 and not result.fell_back
    assert [e.kind for e in result.trace][:5] == ["rules", "llm_call", "invalid_reply", "repair", "llm_call"]
    repair_prompt = fake.calls[1].messages
    assert repair_prompt[-2] == {"role": "assistant", "content": "{'symptoms': oops"}
    assert "not valid JSON" in repair_prompt[-1]["content"]
    assert result.to_expected_fields()["symptoms"] == ["cough", "sore throat"]


def test_a_reply_of_the_wrong_shape_is_repaired_with_the_schema_error() -> None:
    fake = FakeLLM([json.dumps({"symptoms": "cough", "diagnoses": [], "imaging": []}), reply()])
    extract_note(NOTE, llm=fake)
    assert "$.symptoms must be array" in fake.calls[1].messages[-1]["content"]


@pytest.mark.parametrize("second", ["still not json", FakeReply('{"symptoms": ["cough"', finish_reason="length")])
def test_still_bad_after_repair_falls_back_to_rules(second) -> None:
    fake = FakeLLM(["not json", second])
    result = extract_note(NOTE, llm=fake)
    assert result.fell_back and result.count("repair") == 1
    assert result.to_expected_fields() == extract_note(NOTE, mode="rules").to_expected_fields()
    assert "every field comes from the rules" in result.trace[-1].message or any(
        e.kind == "fallback" for e in result.trace)
    assert all(e.source == "rules" for _f, _l, e in result.fields.items())


def test_a_failing_model_call_falls_back_without_repair() -> None:
    fake = FakeLLM()  # no scripted reply: the call raises LLMError
    result = extract_note(NOTE, llm=fake)
    assert result.fell_back and result.count("repair") == 0 and len(fake.calls) == 1


def test_no_repair_when_disabled() -> None:
    fake = FakeLLM(["nope", reply()])
    result = extract_note(NOTE, llm=fake, config=ExtractConfig(repair=False, hints=False))
    assert result.fell_back and len(fake.calls) == 1
    assert "Known from this note" not in fake.calls[0].messages[-1]["content"]


def test_deterministic_same_output_twice() -> None:
    fake = FakeLLM(default=reply(symptoms=["cough", "dyspnea", "fever"]))
    first, second = extract_note(NOTE, llm=fake), extract_note(NOTE, llm=fake)
    assert first.to_dict()["fields"] == second.to_dict()["fields"]
    assert [(e.kind, e.message) for e in first.trace] == [(e.kind, e.message) for e in second.trace]
    assert fake.calls[0].messages == fake.calls[1].messages
    assert all(call.request.temperature == 0 and call.request.seed == 0 for call in fake.calls)


def test_bad_arguments_name_the_fix() -> None:
    with pytest.raises(ExtractConfigError, match="needs an LLM"):
        extract_note(NOTE, mode="hybrid")
    with pytest.raises(ExtractConfigError, match="mode='fast' is unknown"):
        extract_note(NOTE, mode="fast")  # type: ignore[arg-type]
    with pytest.raises(ExtractConfigError, match="note is empty"):
        extract_note("  ", mode="rules")
    with pytest.raises(ExtractConfigError, match="max_tokens=4"):
        ExtractConfig(max_tokens=4)


def test_schema_checker_and_parser() -> None:
    schema = response_schema(FIELDS)
    assert schema_errors({"symptoms": []}, schema)[0] == "$ lacks key 'vitals'"
    good = {"symptoms": [], "vitals": {k: None for k in ("temperature", "blood_pressure", "heart_rate",
                                                         "respiratory_rate", "spo2")},
            "imaging": [], "medications": [], "follow_up": None, "diagnoses": [], "negated_findings": []}
    assert schema_errors(good, schema) == []
    assert schema_errors({**good, "follow_up": 3}, schema) == ["$.follow_up must be string, got 3"]
    assert "unexpected key 'extra'" in schema_errors({**good, "extra": 1}, schema)[0]
    assert "has 9 items" in schema_errors({**good, "symptoms": ["a"] * 9}, schema)[0]
    with pytest.raises(ReplyError, match="not valid JSON"):
        parse_reply("{", schema)
    assert parse_reply(json.dumps(good), schema) == good


def test_prompt_has_worked_examples_and_the_note_last() -> None:
    messages = build_messages(NOTE, HYBRID_FIELDS, {"negated_findings": ["fever"]})
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert messages[-1]["content"].endswith(NOTE) and "denied or absent: fever" in messages[-1]["content"]
    for example in (messages[2], messages[4]):
        assert set(json.loads(example["content"])) == set(HYBRID_FIELDS)
    with pytest.raises(ExtractConfigError, match="subset of"):
        build_messages(NOTE, ["allergies"])
