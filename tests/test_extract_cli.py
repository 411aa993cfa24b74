"""`cairn extract` (registered on a fresh parser, as cli.py will) and the evaluation entry point
`python -m assistant.extract.evaluate`, including the rules-mode F1 floor on the dev split."""
from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np
import pytest

import assistant.llm.config as llm_config
from assistant.extract.cli import register
from assistant.extract.errors import NoteNotFoundError
from assistant.extract.evaluate import GOLDEN_FILE, NOTES_FILE, build_parser, evaluate, load_notes, main, split_cases
from assistant.llm.fake import FakeLLM
from evals.golden import load_golden
from evals.metrics.extraction import FIELDS

NOTE = ("CHIEF COMPLAINT: cough x 3 days\nHPI: 45 y/o F presents with cough and sore throat x 3 days. "
        "Denies chest pain.\nVITALS: T 99.1F, HR 88\nASSESSMENT: 1. viral bronchitis\n"
        "PLAN: benzonatate 100 mg PO TID PRN. Follow up in 1 week.")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cairn")
    register(p.add_subparsers(dest="command"))
    return p


def run(argv: list[str], capsys) -> tuple[int, str]:
    args = parser().parse_args(argv)
    code = args.func(args)
    return code, capsys.readouterr().out


@pytest.fixture
def note_file(tmp_path: Path) -> Path:
    path = tmp_path / "visit.txt"
    path.write_text(NOTE, encoding="utf-8")
    return path


def test_help_explains_note_modes_and_output(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        parser().parse_args(["extract", "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for phrase in ("span [start, end)", "'-' to read the note from stdin", "rules: rule-based only",
                   "hybrid (default)", "--json", "qwen2.5-coder-0.5b"):
        assert phrase in text


def test_json_output_on_a_note_file_has_valid_spans(note_file: Path, capsys) -> None:
    code, out = run(["extract", str(note_file), "--mode", "rules", "--json"], capsys)
    assert code == 0
    result = json.loads(out)
    assert result["note"] == "visit.txt" and result["mode"] == "rules"
    fields = result["fields"]
    assert [s["text"] for s in fields["symptoms"]] == ["cough", "sore throat"]
    assert [n["text"] for n in fields["negated_findings"]] == ["chest pain"]
    items = [*fields["symptoms"], *fields["negated_findings"], *fields["diagnoses"], *fields["vitals"].values(),
             fields["follow_up"], *(v for med in fields["medications"] for v in med.values() if v)]
    assert len(items) >= 12
    for item in items:
        assert NOTE[item["start"]:item["end"]] == item["text"]


def test_table_output_shows_spans_and_quoted_evidence(note_file: Path, capsys) -> None:
    code, out = run(["extract", str(note_file), "--mode", "rules"], capsys)
    assert code == 0
    start = NOTE.index("sore throat")
    assert f"[{start}, {start + 11})" in out and '"sore throat"' in out
    assert "medications" in out and ".frequency" in out and "(nothing found for: imaging)" in out


def test_hybrid_from_stdin_with_the_model_loaded_by_name(monkeypatch, capsys) -> None:
    loaded = []

    def fake_load(config):
        loaded.append(config)
        return FakeLLM([json.dumps({"symptoms": ["cough", "wheeze"], "diagnoses": ["viral bronchitis"],
                                    "imaging": []})])

    monkeypatch.setattr(llm_config, "load_llm", fake_load)
    monkeypatch.setattr("sys.stdin", io.StringIO(NOTE))
    code, out = run(["extract", "-", "--model", "qwen2.5-coder-0.5b", "--threads", "1"], capsys)
    assert code == 0
    assert loaded[0].model == "qwen2.5-coder-0.5b" and loaded[0].n_threads == 1 and loaded[0].temperature == 0
    assert "note: stdin" in out and "mode: hybrid" in out and "llm" in out
    assert "dropped: symptoms quote 'wheeze' is not in the note" in out


def test_a_note_id_is_read_from_the_ingested_notes_collection(cairn_home: Path, capsys) -> None:
    from knowledge.docstore import DocStore
    from knowledge.types import Document

    folder = cairn_home / "index" / "notes"
    folder.mkdir(parents=True)
    store = DocStore(folder / "docstore.sqlite")
    store.commit_docs([Document(id="note_0042", text=NOTE)], [], np.zeros((0, 384)))
    store.close()
    code, out = run(["extract", "note_0042", "--mode", "rules", "--json"], capsys)
    assert code == 0 and json.loads(out)["note"] == "note_0042"
    with pytest.raises(NoteNotFoundError, match="'note_9999' is neither a file nor a note id"):
        run(["extract", "note_9999", "--mode", "rules"], capsys)


def test_unknown_notes_name_the_fix(tmp_path: Path, capsys) -> None:
    with pytest.raises(NoteNotFoundError, match="notes collection is not ingested.*cairn ingest"):
        run(["extract", "note_0001", "--mode", "rules"], capsys)
    with pytest.raises(NoteNotFoundError, match="does not exist"):
        run(["extract", str(tmp_path / "missing.txt"), "--mode", "rules"], capsys)
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(b"%PDF")
    with pytest.raises(NoteNotFoundError, match="pass a .txt or .md note"):
        run(["extract", str(pdf), "--mode", "rules"], capsys)


def test_errors_are_cairn_errors_so_the_top_level_cli_prints_one_line() -> None:
    from knowledge.errors import CairnError

    args = parser().parse_args(["extract", "no_such_note", "--mode", "rules"])
    with pytest.raises(CairnError):
        args.func(args)


# -- evaluation ------------------------------------------------------------------------------------

def test_splits_are_the_first_and_second_half_of_the_golden_set() -> None:
    cases = load_golden(GOLDEN_FILE)
    dev, test = split_cases(cases, "dev"), split_cases(cases, "test")
    assert (len(dev), len(test), len(split_cases(cases, "all"))) == (120, 120, 240)
    assert dev[0].id == "extract-001" and dev[-1].id == "extract-120" and test[0].id == "extract-121"
    assert len(split_cases(cases, "test", limit=7)) == 7


def test_rules_mode_f1_floor_on_the_dev_split() -> None:
    """Measured 0.999 micro F1 (every field >= 0.996) on dev; the floor sits below that so a real
    regression fails. The notes come from our own templates, so this guards the rules, it does
    not show they generalise."""
    report = evaluate(split_cases(load_golden(GOLDEN_FILE), "dev"), load_notes(NOTES_FILE), mode="rules")
    assert report.n_notes == 120 and report.dropped == 0
    assert report.scores["micro_f1"] >= 0.98 and report.scores["macro_f1"] >= 0.98
    for field in FIELDS:
        assert report.scores[f"{field}_f1"] >= 0.95, field
    for row in report.predictions:
        assert row["predicted"]["symptoms"] is not None


def test_evaluate_entry_point_prints_and_writes_scores(tmp_path: Path, capsys) -> None:
    out = tmp_path / "rules.json"
    assert main(["--mode", "rules", "--split", "test", "--limit", "5", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "mode=rules model=- split=test notes=5" in printed and "symptoms" in printed
    assert "dropped items (evidence not in note)" in printed and "seconds per note" in printed
    record = json.loads(out.read_text())
    assert record["n_notes"] == 5 and record["provenance"]["mode"] == "rules"
    assert len(record["predictions"]) == 5 and "git_commit" in record["provenance"]
    assert main(["--mode", "rules", "--limit", "0"]) == 2
    assert "--limit 0 must be >= 1" in capsys.readouterr().err
    assert "held out" in " ".join(build_parser().format_help().split())
