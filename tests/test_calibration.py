"""Judge-vs-expert calibration (evals/calibration.py): κ, quadratic κ, Spearman ρ and agreement on
hand-worked tables, parity with sklearn's cohen_kappa_score and scipy's spearmanr on seeded random
grades, the CSV reader's errors (file and line named), and `cairn calibrate`."""
from __future__ import annotations

import argparse
import json
import math
import random
from pathlib import Path

import pytest

from assistant.llm import FakeLLM
from evals.calibration import (
    SCALE_LABELS,
    CalibrationError,
    CalibrationInputError,
    GradePair,
    average_ranks,
    calibrate,
    cohen_kappa,
    format_table,
    load_calibration_csv,
    percent_agreement,
    spearman_rho,
    within_one_agreement,
)
from evals.calibration_cli import register
from evals.judge import judge_pairwise
from knowledge.errors import CairnError

# -- hand-worked ------------------------------------------------------------------------------------


def test_kappa_on_a_two_by_two_table() -> None:
    # 10 items: both 1 ×4, (1, 2) ×1, (2, 1) ×1, both 2 ×4. p_o = 0.8; marginals 0.5/0.5 so
    # p_e = 0.5; κ = (0.8 - 0.5) / (1 - 0.5) = 0.6. With two categories every weighting agrees.
    expert = [1] * 5 + [2] * 5
    judge = [1, 1, 1, 1, 2, 1, 2, 2, 2, 2]
    assert percent_agreement(expert, judge) == 0.8
    for weights in (None, "linear", "quadratic"):
        assert cohen_kappa(expert, judge, weights=weights) == pytest.approx(0.6)


def test_quadratic_kappa_on_a_three_label_table() -> None:
    # expert [1, 2, 3], judge [1, 3, 3]; w_ij = (i - j)². Observed disagreement: one (2, 3) item,
    # w = 1 -> 1. Chance: rows 1/1/1, cols 1/0/2, E_ij = r_i·c_j/3, Σ w·E = (1/3)·[(0 + 2·4) + (1·1 + 2·1)
    # + (1·4 + 0)] = 15/3 = 5. κ_w = 1 - 1/5 = 0.8. Unweighted: p_o = 2/3, p_e = (1·1 + 1·0 + 1·2)/9 = 1/3,
    # κ = (2/3 - 1/3) / (2/3) = 0.5.
    assert cohen_kappa([1, 2, 3], [1, 3, 3], weights="quadratic") == pytest.approx(0.8)
    assert cohen_kappa([1, 2, 3], [1, 3, 3]) == pytest.approx(0.5)
    # Linear: observed 1, chance (1/3)·[(0 + 2·2) + (1 + 2) + (2 + 0)] = 3 -> 1 - 1/3.
    assert cohen_kappa([1, 2, 3], [1, 3, 3], weights="linear") == pytest.approx(2 / 3)


def test_weighted_kappa_uses_the_full_scale_when_told() -> None:
    # expert [1, 5, 5], judge [1, 5, 4]; one (5, 4) disagreement; rows 1:1, 5:2; cols 1:1, 4:1, 5:1.
    # Over 1–5, w = (i - j)²: observed 1; chance (1/3)·[1·(9 + 16) + 2·(16 + 1)] = 59/3 -> κ = 56/59.
    # Over the labels seen (1, 4, 5 as positions 0, 1, 2), 1 and 4 look adjacent: chance
    # (1/3)·[1·(1 + 4) + 2·(4 + 1)] = 5 -> κ = 0.8, which understates how far apart 1 and 4 are.
    expert, judge = [1, 5, 5], [1, 5, 4]
    assert cohen_kappa(expert, judge, weights="quadratic", labels=SCALE_LABELS) == pytest.approx(56 / 59)
    assert cohen_kappa(expert, judge, weights="quadratic") == pytest.approx(0.8)


def test_undefined_statistics_are_none_not_nan() -> None:
    assert cohen_kappa([4, 4, 4], [4, 4, 4]) is None  # chance agreement is 1: κ = 0/0
    assert cohen_kappa([], []) is None and percent_agreement([], []) is None
    assert spearman_rho([3, 3, 3], [1, 2, 3]) is None and spearman_rho([1], [2]) is None
    assert cohen_kappa([1, 2], [1, 2]) == 1.0 and cohen_kappa([1, 2], [2, 1]) == -1.0


def test_errors_name_the_bad_values() -> None:
    with pytest.raises(CalibrationError, match=r"differ in length \(2 vs 1\)"):
        cohen_kappa([1, 2], [1])
    with pytest.raises(CalibrationError, match=r"score\(s\) \[7\] are not among labels \[1, 2, 3, 4, 5\]"):
        cohen_kappa([1, 7], [1, 2], labels=SCALE_LABELS)
    with pytest.raises(CalibrationError, match="weights='cubic' is unknown"):
        cohen_kappa([1], [1], weights="cubic")  # type: ignore[arg-type]
    assert issubclass(CalibrationInputError, CairnError)


def test_spearman_and_agreement_hand_worked() -> None:
    # y = [5, 6, 7, 8, 7] ranks [1, 2, 3.5, 5, 3.5]; deviations from 3: x (-2,-1,0,1,2),
    # y (-2,-1,0.5,2,0.5). Σxy = 8, Σx² = 10, Σy² = 9.5 -> ρ = 8/√95.
    assert average_ranks([5, 6, 7, 8, 7]) == [1, 2, 3.5, 5, 3.5]
    assert spearman_rho([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(8 / math.sqrt(95))
    assert spearman_rho([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert within_one_agreement([1, 3, 5, 2], [2, 5, 5, 2]) == 0.75


# -- parity with sklearn and scipy -------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(8))
def test_parity_with_sklearn_and_scipy_on_random_grades(seed: int) -> None:
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    stats = pytest.importorskip("scipy.stats")
    rng = random.Random(seed)
    n = rng.randint(8, 120)
    expert = [rng.randint(1, 5) for _ in range(n)]
    # A judge that mostly tracks the expert, off by a point or two now and then.
    judge = [min(5, max(1, e + rng.choice([0, 0, 0, 1, -1, 2, -2]))) for e in expert]
    for weights in (None, "linear", "quadratic"):
        for labels in (None, list(SCALE_LABELS)):
            ours = cohen_kappa(expert, judge, weights=weights, labels=labels)
            theirs = sklearn_metrics.cohen_kappa_score(expert, judge, weights=weights, labels=labels)
            assert ours == pytest.approx(theirs, abs=1e-12), (weights, labels)
    assert spearman_rho(expert, judge) == pytest.approx(stats.spearmanr(expert, judge).statistic, abs=1e-12)
    noise = [rng.random() for _ in range(n)]  # continuous, no ties
    assert spearman_rho(expert, noise) == pytest.approx(stats.spearmanr(expert, noise).statistic, abs=1e-12)


# -- reading grades ----------------------------------------------------------------------------------

def write(tmp_path: Path, text: str, name: str = "grades.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_rows_become_grade_pairs_with_abstentions(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufeffcase_id,criterion,expert_score,judge_score,note\n"
                           "cat-001,accuracy,4,5,x\ncat-001,clarity,3,\n cat-002 ,accuracy,2,2.0,\n")
    pairs = load_calibration_csv(path)
    assert pairs == [GradePair("cat-001", "accuracy", 4, 5, f"{path}:2"),
                     GradePair("cat-001", "clarity", 3, None, f"{path}:3"),
                     GradePair("cat-002", "accuracy", 2, 2, f"{path}:4")]


@pytest.mark.parametrize(("text", "match"), [
    ("case_id,criterion,expert\n", r":1: header lacks column\(s\) \['expert_score', 'judge_score'\]"),
    ("", r":1: header lacks column"),
    ("case_id,criterion,expert_score,judge_score\n", "no grade rows after the header"),
    ("case_id,criterion,expert_score,judge_score\nc1,accuracy,4,4\nc2,accuracy,six,4\n",
     r"grades.csv:3: expert_score='six' is not a whole number 1–5"),
    ("case_id,criterion,expert_score,judge_score\nc1,accuracy,4,3.6\n",
     r"grades.csv:2: judge_score='3.6' is not a whole number 1–5 \(round mean judge scores"),
    ("case_id,criterion,expert_score,judge_score\nc1,accuracy,,4\n", r"grades.csv:2: expert_score is empty"),
    ("case_id,criterion,expert_score,judge_score\nc1,accuracy,0,4\n", r"grades.csv:2: expert_score='0'"),
    ("case_id,criterion,expert_score,judge_score\n,accuracy,3,4\n", r"grades.csv:2: case_id and criterion"),
    ("case_id,criterion,expert_score,judge_score\nc1,accuracy,3,4\nc1,accuracy,2,4\n",
     r"grades.csv:3: 'c1'/'accuracy' is graded again \(first at .*grades.csv:2\)"),
    ('case_id,criterion,expert_score,judge_score\nc1,accuracy,3,4\n"c2\nx",accuracy,3,nan\n',
     r"grades.csv:4: judge_score='nan'"),  # a quoted newline: the line number is where the row ends
])
def test_bad_csv_rows_name_file_and_line(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(CalibrationInputError, match=match):
        load_calibration_csv(write(tmp_path, text))


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CalibrationInputError, match=r"nope.csv: no such file; pass a CSV with columns"):
        load_calibration_csv(tmp_path / "nope.csv")


# -- the report --------------------------------------------------------------------------------------

def test_calibrate_per_criterion_pooled_and_position_consistency() -> None:
    pairs = [GradePair("c1", "accuracy", 4, 4), GradePair("c2", "accuracy", 2, 3), GradePair("c3", "accuracy", 5, 5),
             GradePair("c1", "clarity", 3, 3), GradePair("c2", "clarity", 4, None)]
    llm = FakeLLM([json.dumps({"winner": w}) for w in ("A", "B", "A", "A")])
    pairwise = [judge_pairwise(llm, "q?", "one", "two", []) for _ in range(2)]  # consistent, then not
    report = calibrate(pairs, pairwise)
    accuracy, clarity, pooled = report.rows
    assert (accuracy.criterion, accuracy.n, accuracy.abstained, accuracy.exact) == ("accuracy", 3, 0, 2 / 3)
    assert accuracy.within_one == 1.0
    assert accuracy.kappa == pytest.approx(cohen_kappa([4, 2, 5], [4, 3, 5], labels=SCALE_LABELS))
    assert (clarity.n, clarity.abstained, clarity.exact, clarity.kappa, clarity.spearman) == (1, 1, 1.0, None, None)
    assert (pooled.criterion, pooled.n, pooled.abstained) == ("all", 4, 1)
    assert report.position_consistency.rate == 0.5
    table = format_table(report)
    assert table.splitlines()[0].split() == ["criterion", "n", "abst", "exact", "±1", "kappa", "qw-kappa", "spearman"]
    assert "clarity" in table and "—" in table and "position consistency: 0.500 (1/2" in table
    single = calibrate(pairs[:3])
    assert [r.criterion for r in single.rows] == ["accuracy"] and single.position_consistency is None
    with pytest.raises(CalibrationError, match="no grade pairs"):
        calibrate([])


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="cairn")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cairn_calibrate_prints_a_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "case_id,criterion,expert_score,judge_score\n"
                           "c1,accuracy,4,4\nc2,accuracy,2,3\nc3,accuracy,5,5\nc4,accuracy,1,2\n")
    assert run_cli(["calibrate", "--csv", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("criterion") and "accuracy" in out and "0.500" in out  # exact agreement 2/4
    assert run_cli(["calibrate", "--csv", str(path), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["rows"][0]["n"] == 4 and payload["position_consistency"] is None
    with pytest.raises(CalibrationInputError, match="missing.csv"):
        run_cli(["calibrate", "--csv", str(tmp_path / "missing.csv")])
