"""`cairn eval-diff` (evals/compare.py): per-case pairing, the paired interval worked by hand,
the verdict's direction per metric, and the command over two results files."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.compare import CompareError, MetricDiff, compare, per_case_values


def _record(key: str, correct: float, total_s: float, status: str = "ok") -> dict:
    return {"key": key, "status": status, "metrics": {"correct": correct, "undefined": None},
            "latency": {"total_s": total_s}, "trace": {"judge_calls": 2, "model_id": "m"}}


def test_per_case_values_keep_numbers_of_finished_cases() -> None:
    values = per_case_values([_record("a::1", 1.0, 9.0), _record("a::2", 0.0, 5.0, status="error")])
    assert values == {"a::1": {"correct": 1.0, "latency.total_s": 9.0, "judge_calls": 2.0}}


def test_paired_differences_and_verdicts() -> None:
    before = {f"k{i}": {"correct": 0.0, "latency.total_s": 10.0} for i in range(4)}
    after = {f"k{i}": {"correct": 1.0 if i < 2 else 0.0, "latency.total_s": 4.0} for i in range(4)}
    after["only-after"] = {"correct": 1.0}  # unmatched cases are left out
    rows = {r.metric: r for r in compare(before, after)}
    assert rows["correct"].n == 4 and rows["correct"].diff == pytest.approx(0.5)
    assert (rows["correct"].mean_a, rows["correct"].mean_b) == (0.0, 0.5)
    # every paired difference is -6 s: the interval is the point, wholly below 0 -> better
    assert (rows["latency.total_s"].low, rows["latency.total_s"].high) == (-6.0, -6.0)
    assert rows["latency.total_s"].verdict == "better"
    assert MetricDiff("correct", 4, 0.5, 0.2, -0.3, -0.5, -0.1).verdict == "worse"
    assert MetricDiff("correct", 4, 0.5, 0.6, 0.1, -0.1, 0.3).verdict == "same"
    assert MetricDiff("judge_tokens", 4, 100, 150, 50, 10, 90).verdict == "worse"
    assert MetricDiff("latency.decode_tok_s", 4, 7.0, 12.0, 5.0, 4.0, 6.0).verdict == "better"  # a rate
    with pytest.raises(CompareError, match="no finished case in common"):
        compare({"x": {"c": 1.0}}, {"y": {"c": 1.0}})


def test_command_prints_the_table(tmp_path: Path, capsys) -> None:
    import cli

    for name, correct in (("before", 0.0), ("after", 1.0)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.jsonl").write_text(
            "".join(json.dumps(_record(f"k{i}", correct, 5.0)) + "\n" for i in range(3)))
    args = cli.build_parser().parse_args(["eval-diff", str(tmp_path / "before"), str(tmp_path / "after")])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "correct" in out and "+1.000" in out and "better" in out
    with pytest.raises(CompareError, match="does not exist"):
        args.func(cli.build_parser().parse_args(["eval-diff", str(tmp_path / "nope"), str(tmp_path / "after")]))
