"""summary.json from hand-made results records (evals/summary.py): means and CIs, per-tag and
per-file breakdowns, order independence, abstentions and undefined scores, latency percentiles,
refusal and pooled extraction sections, and the provenance keys."""
from __future__ import annotations

import json
import math
import random

import pytest

from assistant.llm import FakeLLM
from evals.config import EvalConfig
from evals.summary import (
    TEMPLATE_PROBE,
    chat_template_hash,
    collect_provenance,
    counts,
    latency_table,
    metric_table,
    summarise,
    write_summary,
)


def rec(case_id: str, tags=(), status="ok", task="qa", file="a.jsonl", **fields):
    return {"key": f"{file}::{case_id}", "case_id": case_id, "file": file, "task": task, "status": status,
            "tags": list(tags), "answerable": fields.pop("answerable", True), **fields}


RECORDS = [
    rec("1", ["filter"], metrics={"refusal_correct": 1.0, "rougeL_f": 0.5}, latency={"total_s": 1.0}),
    rec("2", ["filter", "lookup"], metrics={"refusal_correct": 0.0, "rougeL_f": 0.25}, latency={"total_s": 3.0}),
    rec("3", ["lookup"], metrics={"refusal_correct": 1.0}, latency={"total_s": 2.0}, file="b.jsonl"),
    rec("4", [], metrics={"refusal_correct": 1.0, "refused": 1.0, "faithfulness_abstained": 1.0},
        latency={"total_s": 10.0, "ttft_s": None}, answerable=False, refused=True, file="b.jsonl"),
    rec("5", ["lookup"], status="error", error="LLMError: boom"),
]


def test_metric_means_and_intervals() -> None:
    table = metric_table(RECORDS, b=500, seed=0)
    assert table["refusal_correct"]["mean"] == pytest.approx(0.75) and table["refusal_correct"]["n"] == 4
    low, high = table["refusal_correct"]["ci95"]
    assert 0.0 <= low <= 0.75 <= high <= 1.0
    assert table["rougeL_f"] == {"mean": 0.375, "ci95": pytest.approx([0.25, 0.5]), "n": 2}
    assert "faithfulness_abstained" not in table  # abstentions are counted, not averaged


def test_per_tag_and_per_file_breakdowns() -> None:
    summary = summarise(RECORDS, b=200, seed=0, provenance={"config_hash": "abc"})
    by_tag = summary["by_tag"]
    assert set(by_tag) == {"filter", "lookup", "(untagged)"}
    assert by_tag["filter"]["metrics"]["refusal_correct"]["mean"] == 0.5 and by_tag["filter"]["cases"] == 2
    assert by_tag["lookup"]["cases"] == 3 and by_tag["lookup"]["ok"] == 2  # the error counts as a case
    assert by_tag["lookup"]["metrics"]["rougeL_f"] == {"mean": 0.25, "ci95": [0.25, 0.25], "n": 1}
    assert by_tag["(untagged)"]["metrics"]["refused"]["mean"] == 1.0
    assert summary["by_file"]["b.jsonl"]["metrics"]["refusal_correct"]["mean"] == 1.0
    assert summary["by_file"]["a.jsonl"]["cases"] == 3


def test_summary_does_not_depend_on_record_order() -> None:
    many = [rec(str(i), ["t" + str(i % 3)], metrics={"m": (i * 37 % 11) / 10}) for i in range(40)]
    shuffled = many[:]
    random.Random(1).shuffle(shuffled)
    a = summarise(many, b=300, seed=4, provenance={})
    b = summarise(shuffled, b=300, seed=4, provenance={})
    assert a["metrics"] == b["metrics"] and a["by_tag"] == b["by_tag"]


def test_counts_abstentions_undefined_and_refusal() -> None:
    c = counts(RECORDS + [rec("6", status="skipped", task="extract", skip_reason="extraction not available")])
    assert c == {"cases": 6, "ok": 4, "errors": 1, "skipped": {"extraction not available": 1},
                 "by_task": {"qa": 5, "extract": 1}, "refused": 1, "abstentions": 1,
                 "abstentions_by_metric": {"faithfulness": 1}, "metric_errors": {}}
    table = metric_table([rec("1", metrics={"x": None}), rec("2", metrics={"x": 0.5}),
                          rec("3", metrics={"x": math.nan})], b=100, seed=0)
    assert table["x"] == {"mean": 0.5, "ci95": [0.5, 0.5], "n": 1, "undefined": 2}
    refusal = summarise(RECORDS, b=100, seed=0, provenance={})["refusal"]
    assert (refusal["accuracy"], refusal["refusal_precision"], refusal["refusal_recall"]) == (1.0, 1.0, 1.0)


def test_latency_percentiles_by_task() -> None:
    table = latency_table(RECORDS + [rec("7", task="extract", latency={"total_s": 0.2})])
    # nearest rank over [1, 2, 3, 10]: p50 -> index round(1.5) = 2 -> 3.0; p95 -> index 3 -> 10.0
    assert table["qa"]["total_s"] == {"p50": 3.0, "p95": 10.0, "n": 4}
    assert "ttft_s" not in table["qa"] and table["extract"]["total_s"]["n"] == 1


def test_throughput_and_time_split() -> None:
    rows = [rec("1", metrics={}, assistant_s=3.0, scoring_s=1.0), rec("2", metrics={}, assistant_s=5.0, scoring_s=1.0)]
    t = summarise(rows, b=100, seed=0, provenance={}, run={"wall_s": 30.0, "cases_run": 2, "reused": 0})["throughput"]
    assert t["cases_per_min"] == 4.0 and (t["assistant_s"], t["scoring_s"]) == (8.0, 2.0)
    assert (t["assistant_share"], t["scoring_share"]) == (0.8, 0.2)


def test_extraction_pooled_over_notes() -> None:
    gold = {"symptoms": ["cough", "fever"], "vitals": {}, "imaging": [], "medications": [], "follow_up": None,
            "diagnoses": [], "negated_findings": []}
    rows = [rec("x1", task="extract", predicted={**gold, "symptoms": ["cough"]}, expected=gold, metrics={}),
            rec("x2", task="extract", predicted={**gold, "symptoms": ["cough", "fever", "rash"]}, expected=gold,
                metrics={})]
    section = summarise(rows, b=100, seed=0, provenance={})["extraction"]
    # pooled symptoms: tp 1 + 2 = 3, fp 0 + 1, fn 1 + 0 -> P = R = 3/4
    assert section["notes"] == 2
    assert section["corpus"]["symptoms_precision"] == 0.75 and section["corpus"]["symptoms_recall"] == 0.75


class _Store:
    version = ("idx-1", 7)

    def counts(self):
        return {"documents": 3, "chunks": 5, "pending": 0}

    def get_meta(self, key):
        return {"embedder": "fake-hash-64"}.get(key)


class _KB:
    store = _Store()


def test_provenance_keys(tmp_path) -> None:
    golden = tmp_path / "g.jsonl"
    golden.write_text('{"id": "1"}\n')
    config = EvalConfig(seed=9).with_llm(adapter="adapters/dpo-1.gguf")
    llm = FakeLLM(model_id="tiny")
    prov = collect_provenance(config, llm, llm, {"catalog": _KB()}, {str(golden): 1})
    assert {"git_commit", "time", "machine", "versions", "packages", "config", "config_hash", "seed", "model",
            "adapter", "judge", "indexes", "golden"} <= set(prov)
    assert prov["model"]["id"] == "tiny" and prov["model"]["fingerprint"] == "fake:tiny"
    assert prov["model"]["chat_template"] == chat_template_hash(llm) and prov["model"]["chat_template"].startswith("sha256:")
    assert prov["model"]["config"]["adapter"] == "adapters/dpo-1.gguf" == prov["adapter"]
    assert prov["judge"] == {"setting": "self", "model": None}  # the answer model judges itself
    assert prov["indexes"]["catalog"] == {"index_id": "idx-1", "generation": 7, "embedder": "fake-hash-64",
                                          "counts": {"documents": 3, "chunks": 5, "pending": 0}}
    assert prov["seed"] == 9 and prov["config_hash"] == config.config_hash() and "numpy" in prov["packages"]
    assert len(prov["golden"][str(golden)]["sha256"]) == 64
    other = FakeLLM(model_id="judge-model")
    assert collect_provenance(config, llm, other, {}, {})["judge"]["model"]["id"] == "judge-model"


def test_chat_template_hash_tracks_the_template() -> None:
    class Other(FakeLLM):
        def apply_chat_template(self, messages):
            return "<s>" + super().apply_chat_template(messages)

    class Broken(FakeLLM):
        def apply_chat_template(self, messages):
            raise NotImplementedError

    assert chat_template_hash(FakeLLM()) != chat_template_hash(Other()) and chat_template_hash(Broken()) is None
    assert len(TEMPLATE_PROBE) == 4  # a fixed conversation: changing it changes every recorded hash


def test_write_summary_is_strict_json(tmp_path) -> None:
    path = write_summary(tmp_path, {"metrics": {"x": {"mean": math.nan}}, "t": (1, 2)})
    assert json.loads(path.read_text()) == {"metrics": {"x": {"mean": None}}, "t": [1, 2]}
    assert not (tmp_path / "summary.json.tmp").exists()
