"""The nightly gate: pure checks of one suite's numbers against absolute thresholds and against
the last accepted run (the baseline), returning typed findings. Nothing here reads a file.

Threshold. value < min, or value > max, fails. The point estimate is compared, not an interval
end: a threshold is a promise about the number we report.

Regression ("beyond its confidence interval"). With b the baseline's point estimate and
[lo, hi] the current run's 95% percentile-bootstrap interval (evals/bootstrap.py), a metric
where higher is better has regressed when

        hi < b − tolerance

i.e. the whole current interval lies below the baseline's value: the drop b − c exceeds the
interval's upper half-width hi − c (plus the gate's tolerance). Where lower is better
(latencies, error_rate) it has regressed when lo > b + tolerance. A number without an interval
(cases_per_min) has lo = hi = its value, so any move beyond the tolerance counts.

Why this rule: the interval says how much the mean moves when the golden cases are resampled;
a baseline value outside it is a change that a different sample of questions would not
explain. It is one-sample (the baseline's own interval is not used), which makes it more
sensitive than "intervals do not overlap" and needs no per-case scores of the baseline. It is
not a paired test: on the small demo suites only large drops are flagged, and a slow drift
that stays inside each interval is caught by the thresholds (or by not auto-accepting every
run; see config.AUTO_ACCEPT). The mirror-image case (lo > b for higher-is-better) is reported
as an improvement, for information.

    baseline b = 0.80; current 0.62 [0.50, 0.75]   hi 0.75 < 0.80          → regression
    baseline b = 0.80; current 0.70 [0.55, 0.84]   hi 0.84 ≥ 0.80          → no finding
    baseline b = 4.0 s (p95, lower); current 5.5 s [4.6, 6.3]   lo 4.6 > 4.0 → regression
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from evals.nightly.config import MetricGate
from evals.nightly.values import MetricValue, direction_of

Kind = Literal["threshold", "regression", "improvement", "missing", "error", "no-baseline", "settings-changed"]
Severity = Literal["fail", "info"]


@dataclass(frozen=True)
class Finding:
    """One gate outcome worth telling.

    Fields:
        suite / metric: where ("" metric for a whole-suite finding such as a crash).
        kind: threshold | regression | improvement | missing | error | no-baseline |
            settings-changed (the suite's cases or settings differ from its last accepted run).
        severity: "fail" turns the exit status non-zero; "info" is reported only.
        value: the current point estimate; reference: the threshold or the baseline value.
        message: one line a reader acts on.
    """

    suite: str
    metric: str
    kind: Kind
    severity: Severity
    message: str
    value: float | None = None
    reference: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.severity.upper():<4} {self.suite}: {self.message}"


def _direction(gate: MetricGate) -> Literal["higher", "lower"]:
    return gate.direction or direction_of(gate.metric)


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def check_threshold(suite: str, value: MetricValue, gate: MetricGate) -> Finding | None:
    """A fail finding when the point estimate is below `min` or above `max`."""
    if gate.min is not None and value.value < gate.min:
        return Finding(suite, gate.metric, "threshold", "fail",
                       f"{gate.metric} = {_fmt(value.value)} is below its threshold min {_fmt(gate.min)}",
                       value.value, gate.min)
    if gate.max is not None and value.value > gate.max:
        return Finding(suite, gate.metric, "threshold", "fail",
                       f"{gate.metric} = {_fmt(value.value)} is above its threshold max {_fmt(gate.max)}",
                       value.value, gate.max)
    return None


def regression_margin(current: MetricValue, baseline: MetricValue, direction: Literal["higher", "lower"],
                      tolerance: float = 0.0) -> float:
    """How far the current interval lies beyond the baseline on the worse side (> 0: regressed).

    higher is better: (b − tolerance) − hi;  lower is better: lo − (b + tolerance)."""
    low = current.low if current.low is not None else current.value
    high = current.high if current.high is not None else current.value
    if direction == "higher":
        return (baseline.value - tolerance) - high
    return low - (baseline.value + tolerance)


def improvement_margin(current: MetricValue, baseline: MetricValue, direction: Literal["higher", "lower"],
                       tolerance: float = 0.0) -> float:
    """The mirror image: > 0 when the whole current interval lies on the better side."""
    low = current.low if current.low is not None else current.value
    high = current.high if current.high is not None else current.value
    if direction == "higher":
        return low - (baseline.value + tolerance)
    return (baseline.value - tolerance) - high


def check_regression(suite: str, current: MetricValue, baseline: MetricValue, gate: MetricGate,
                     baseline_run: str = "") -> Finding | None:
    """A fail finding on a regression beyond the CI, an info finding on an improvement beyond
    it, else None (module docstring)."""
    direction = _direction(gate)
    ci = f"[{_fmt(current.low)}, {_fmt(current.high)}]" if current.low is not None else "(no CI)"
    against = f"baseline {_fmt(baseline.value)}" + (f" (run {baseline_run})" if baseline_run else "")
    slack = f" by more than the tolerance {_fmt(gate.tolerance)}" if gate.tolerance else ""
    if regression_margin(current, baseline, direction, gate.tolerance) > 0:
        side = "below" if direction == "higher" else "above"
        return Finding(suite, gate.metric, "regression", "fail",
                       f"{gate.metric} regressed: {_fmt(current.value)} {ci} lies wholly {side} the {against}{slack}",
                       current.value, baseline.value)
    if improvement_margin(current, baseline, direction, gate.tolerance) > 0:
        return Finding(suite, gate.metric, "improvement", "info",
                       f"{gate.metric} improved: {_fmt(current.value)} {ci} against the {against}; "
                       "accept this run to make it the baseline", current.value, baseline.value)
    return None


def evaluate_suite(suite: str, values: Mapping[str, MetricValue], gates: Iterable[MetricGate], *,
                   required: Iterable[str] = (), baseline: Mapping[str, MetricValue] | None = None,
                   baseline_run: str = "") -> list[Finding]:
    """Every finding for one suite: thresholds, then regressions against `baseline` (None: no
    accepted run yet, one info finding). A gated metric missing from `values` fails when it is
    `required` (named in the suite's own gate) and is skipped otherwise (a nightly-wide gate
    on a metric this kind of suite does not report)."""
    required = set(required)
    findings: list[Finding] = []
    regression_gates = []
    for gate in gates:
        value = values.get(gate.metric)
        if value is None:
            if gate.metric in required:
                known = ", ".join(sorted(values)[:12]) + (", …" if len(values) > 12 else "")
                findings.append(Finding(suite, gate.metric, "missing", "fail",
                                        f"{gate.metric} is not in this run's results (every case errored, the "
                                        f"metric does not apply, or a typo); reported: {known}"))
            continue
        finding = check_threshold(suite, value, gate)
        if finding is not None:
            findings.append(finding)
        if gate.regression:
            regression_gates.append((gate, value))
    if regression_gates and baseline is None:
        findings.append(Finding(suite, "", "no-baseline", "info",
                                "no accepted run to compare with yet; regressions are not checked"))
    for gate, value in regression_gates if baseline is not None else ():
        previous = baseline.get(gate.metric)
        if previous is None:
            findings.append(Finding(suite, gate.metric, "no-baseline", "info",
                                    f"{gate.metric} is not in the baseline run {baseline_run}; not compared"))
            continue
        finding = check_regression(suite, value, previous, gate, baseline_run)
        if finding is not None:
            findings.append(finding)
    return findings


def suite_error(suite: str, message: str) -> Finding:
    """The suite could not run (a missing model, a broken index): the run fails."""
    return Finding(suite, "", "error", "fail", f"the suite did not run: {message}")


def failed(findings: Iterable[Finding]) -> bool:
    return any(f.severity == "fail" for f in findings)
