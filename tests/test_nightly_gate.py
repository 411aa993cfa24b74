"""The nightly gate on hand-worked numbers: thresholds, a regression beyond the CI, a drop
inside it, an improvement (reported, not failed), lower-is-better latencies, tolerance, and
the derived values (error rate, latency percentiles with their bootstrap CIs)."""
from __future__ import annotations

import pytest

from evals.nightly.config import MetricGate
from evals.nightly.gate import (check_regression, check_threshold, evaluate_suite, failed, improvement_margin,
                                regression_margin)
from evals.nightly.values import MetricValue, case_score, direction_of, latency_values, suite_values


def mv(value, low=None, high=None, n=20) -> MetricValue:
    return MetricValue(value, low, high, n)


# -- thresholds ------------------------------------------------------------------------------------

def test_threshold_min_and_max_compare_the_point_estimate() -> None:
    gate = MetricGate("ndcg@10", min=0.6)
    assert check_threshold("s", mv(0.59, 0.50, 0.70), gate).kind == "threshold"
    assert check_threshold("s", mv(0.60, 0.50, 0.70), gate) is None  # equal passes
    assert check_threshold("s", mv(0.61, 0.20, 0.99), gate) is None  # a wide CI does not fail it
    high = check_threshold("s", mv(2.5), MetricGate("latency.qa.total_s.p95", max=2.0))
    assert high.severity == "fail" and "above its threshold max 2" in high.message
    assert high.value == 2.5 and high.reference == 2.0


# -- regression (higher is better) -----------------------------------------------------------------

def test_regression_when_the_whole_interval_is_below_the_baseline() -> None:
    # baseline 0.80; current 0.62 [0.50, 0.75]: hi 0.75 < 0.80 -> margin 0.05 > 0
    current, baseline = mv(0.62, 0.50, 0.75), mv(0.80, 0.70, 0.88)
    assert regression_margin(current, baseline, "higher") == pytest.approx(0.05)
    finding = check_regression("s", current, baseline, MetricGate("ndcg@10", regression=True), "run-1")
    assert (finding.kind, finding.severity, finding.value, finding.reference) == ("regression", "fail", 0.62, 0.80)
    assert "wholly below the baseline 0.8 (run run-1)" in finding.message


def test_a_drop_inside_the_interval_is_not_a_regression() -> None:
    # baseline 0.80; current 0.70 [0.55, 0.84]: hi 0.84 >= 0.80
    current, baseline = mv(0.70, 0.55, 0.84), mv(0.80, 0.70, 0.88)
    assert regression_margin(current, baseline, "higher") == pytest.approx(-0.04)
    assert check_regression("s", current, baseline, MetricGate("ndcg@10", regression=True)) is None


def test_the_interval_end_touching_the_baseline_is_not_a_regression() -> None:
    assert check_regression("s", mv(0.7, 0.6, 0.8), mv(0.8), MetricGate("m", regression=True)) is None


def test_an_improvement_is_reported_not_failed() -> None:
    # baseline 0.50; current 0.72 [0.61, 0.83]: lo 0.61 > 0.50
    current, baseline = mv(0.72, 0.61, 0.83), mv(0.50)
    assert improvement_margin(current, baseline, "higher") == pytest.approx(0.11)
    finding = check_regression("s", current, baseline, MetricGate("rougeL_f", regression=True))
    assert (finding.kind, finding.severity) == ("improvement", "info") and "accept this run" in finding.message
    assert not failed([finding])


# -- lower is better -------------------------------------------------------------------------------

def test_latency_regression_is_direction_aware() -> None:
    gate = MetricGate("latency.qa.total_s.p95", regression=True)
    # baseline 4.0 s; current 5.5 s [4.6, 6.3]: lo 4.6 > 4.0 -> slower beyond the CI
    slower = check_regression("s", mv(5.5, 4.6, 6.3), mv(4.0), gate)
    assert slower.kind == "regression" and "wholly above" in slower.message
    # current 3.0 s [2.5, 3.6]: hi 3.6 < 4.0 -> faster beyond the CI: an improvement
    assert check_regression("s", mv(3.0, 2.5, 3.6), mv(4.0), gate).kind == "improvement"
    # current 4.4 s [3.8, 5.0]: contains 4.0 -> nothing
    assert check_regression("s", mv(4.4, 3.8, 5.0), mv(4.0), gate) is None


def test_tolerance_and_explicit_direction() -> None:
    gate = MetricGate("latency.qa.total_s.p95", regression=True, tolerance=1.0)
    # lo 4.6 > 4.0 but not > 4.0 + 1.0: within the tolerance
    assert check_regression("s", mv(5.5, 4.6, 6.3), mv(4.0), gate) is None
    assert check_regression("s", mv(6.5, 5.2, 7.0), mv(4.0), gate).kind == "regression"
    # "refused" is a rate where lower is better on answerable sets: the gate says so
    refused = MetricGate("refused", regression=True, direction="lower")
    assert check_regression("s", mv(0.6, 0.4, 0.8), mv(0.1), refused).kind == "regression"


def test_a_number_without_an_interval_compares_its_point() -> None:
    gate = MetricGate("cases_per_min", regression=True, tolerance=0.5)
    assert check_regression("s", mv(2.0), mv(3.0), gate).kind == "regression"  # 2.0 < 3.0 - 0.5
    assert check_regression("s", mv(2.6), mv(3.0), gate) is None


def test_direction_is_inferred_from_the_name() -> None:
    assert direction_of("latency.qa.total_s.p95") == "lower" and direction_of("error_rate") == "lower"
    assert direction_of("ndcg@10") == "higher" and direction_of("refusal_correct") == "higher"


# -- a whole suite ---------------------------------------------------------------------------------

def test_evaluate_suite_orders_thresholds_then_regressions() -> None:
    gates = [MetricGate("ndcg@10", min=0.7, regression=True), MetricGate("error_rate", max=0.0),
             MetricGate("rougeL_f", regression=True), MetricGate("bleu", min=0.1)]
    values = {"ndcg@10": mv(0.65, 0.55, 0.74), "error_rate": mv(0.0, 0.0, 0.0), "rougeL_f": mv(0.5, 0.4, 0.6)}
    baseline = {"ndcg@10": mv(0.80), "rougeL_f": mv(0.45)}
    findings = evaluate_suite("cat", values, gates, required={"ndcg@10", "bleu"}, baseline=baseline,
                              baseline_run="r0")
    assert [(f.metric, f.kind) for f in findings] == [("ndcg@10", "threshold"), ("bleu", "missing"),
                                                      ("ndcg@10", "regression")]
    assert failed(findings)
    # without a baseline: thresholds only, plus one note
    findings = evaluate_suite("cat", values, gates[1:3], baseline=None)
    assert [(f.kind, f.severity) for f in findings] == [("no-baseline", "info")] and not failed(findings)
    # a nightly-wide gate on a metric the suite does not report is skipped, not failed
    assert evaluate_suite("cat", values, [MetricGate("bleu", min=0.1)]) == []


# -- derived values --------------------------------------------------------------------------------

def _record(key, status="ok", total=1.0, **metrics):
    return {"key": key, "status": status, "task": "qa", "latency": {"total_s": total}, "metrics": metrics}


def test_suite_values_error_rate_latency_and_throughput() -> None:
    records = [_record("a", total=1.0), _record("b", total=2.0), _record("c", total=3.0),
               _record("d", status="error", total=99.0)]
    summary = {"metrics": {"rougeL_f": {"mean": 0.5, "ci95": [0.4, 0.6], "n": 3},
                           "faithfulness": {"mean": None, "ci95": None, "n": 0}},
               "throughput": {"cases_per_min": 12.0, "cases_run": 4}}
    values = suite_values(summary, records, b=200)
    assert values["rougeL_f"] == MetricValue(0.5, 0.4, 0.6, 3) and "faithfulness" not in values
    assert values["error_rate"].value == 0.25 and values["error_rate"].n == 4
    # nearest-rank percentiles of [1, 2, 3] (the errored case's timing is left out): p50 2, p95 3
    assert values["latency.qa.total_s.p50"].value == 2.0 and values["latency.qa.total_s.p95"].value == 3.0
    p50 = values["latency.qa.total_s.p50"]
    assert 1.0 <= p50.low <= p50.value <= p50.high <= 3.0 and p50.n == 3
    assert values["cases_per_min"] == MetricValue(12.0, None, None, 4)
    # the interval does not depend on the order cases finished in
    assert latency_values(list(reversed(records)), b=200) == latency_values(records, b=200)


def test_case_score_ranks_errors_first_and_skips_cases_without_the_metric() -> None:
    assert case_score(_record("a", status="error"), "rougeL_f") == -1.0
    assert case_score(_record("a", rougeL_f=0.3), "rougeL_f") == 0.3
    assert case_score(_record("a", ndcg=0.3), "rougeL_f") == float("inf")
    assert case_score(_record("a", x=0.2, y=0.4, z=7.0), None) == pytest.approx(0.3)  # mean of [0, 1] scores
