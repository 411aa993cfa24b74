"""The numbers a nightly run stores and gates on: one `MetricValue` (point, 95% CI, n) per
metric name, read from a suite's summary.json dict and its results records.

    summary["metrics"][m]              → m                         mean [bootstrap CI] (evals/summary.py)
    summary["by_tag"][t]["metrics"][m] → scope "tag:t", m          (stored for trends, not gated)
    summary["by_file"][f]["metrics"][m]→ scope "file:f", m
    records' status                    → error_rate                 share of cases that raised [CI]
    records' latency[key] per task     → latency.<task>.<key>.p50 / .p95   nearest-rank percentile [CI]
                                         (durations only: rates such as decode_tok_s are left out)
    summary["throughput"]              → cases_per_min              no CI (one number per run)

Latency percentiles get the same percentile-bootstrap interval as the means (Efron &
Tibshirani 1993, ch. 13, with the percentile as the statistic), so a latency can be gated on
regression exactly like a quality metric. Percentiles are nearest-rank, as `cairn bench` and
summary.json report them. With few cases the p95 is the slowest case, and no resample can
exceed it: its interval's upper end is then the point itself (the bootstrap sees only the data).
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from evals.bootstrap import bootstrap_ci
from knowledge.bench import percentile

OVERALL = ""  # the scope of a suite's headline numbers
LATENCY_PREFIX = "latency."
_LOWER_IS_BETTER = ("error_rate",)
RATES = ("tok_s", "per_s")  # timing keys that are rates (higher is better): not latencies


@dataclass(frozen=True)
class MetricValue:
    """A point estimate with its 95% interval (low/high None: no interval, e.g. throughput)."""

    value: float
    low: float | None = None
    high: float | None = None
    n: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "ci95": [self.low, self.high] if self.low is not None else None, "n": self.n}


def direction_of(metric: str) -> Literal["higher", "lower"]:
    """Which way is better, inferred from the name: latencies, error_rate and timings (*_s)
    are lower-is-better; every score is higher-is-better. A gate can say otherwise."""
    if metric.startswith(LATENCY_PREFIX) or metric in _LOWER_IS_BETTER or metric.endswith("_s"):
        return "lower"
    return "higher"


def from_entry(entry: Mapping[str, Any]) -> MetricValue | None:
    """A summary.json metric entry {"mean", "ci95", "n"} → MetricValue (None: undefined)."""
    mean = entry.get("mean")
    if mean is None or not math.isfinite(mean):
        return None
    ci = entry.get("ci95") or entry.get("ci") or [None, None]
    return MetricValue(float(mean), ci[0], ci[1], int(entry.get("n") or 0))


def suite_values(summary: Mapping[str, Any], records: Iterable[Mapping[str, Any]], *, b: int = 1000,
                 seed: int = 0) -> dict[str, MetricValue]:
    """Every gateable number of one suite run (module docstring), by name."""
    records = list(records)
    out: dict[str, MetricValue] = {}
    for name, entry in (summary.get("metrics") or {}).items():
        value = from_entry(entry)
        if value is not None:
            out[name] = value
    if records:
        errors = [1.0 if r.get("status") == "error" else 0.0 for r in sorted(records, key=lambda r: r["key"])]
        out["error_rate"] = _interval(errors, b=b, seed=seed)
    out.update(latency_values(records, b=b, seed=seed))
    rate = (summary.get("throughput") or {}).get("cases_per_min")
    if rate:
        out["cases_per_min"] = MetricValue(float(rate), None, None, int(summary["throughput"].get("cases_run") or 0))
    return out


def latency_values(records: Iterable[Mapping[str, Any]], *, b: int = 1000, seed: int = 0) -> dict[str, MetricValue]:
    """latency.<task>.<key>.p50 / .p95 with bootstrap CIs, over the finished cases' timings."""
    by_key: dict[tuple[str, str], list[tuple[str, float]]] = defaultdict(list)
    for record in records:
        if record.get("status") != "ok":
            continue
        for key, value in (record.get("latency") or {}).items():
            if key.endswith(RATES):  # decode_tok_s is tokens per second, not a duration
                continue
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                by_key[(record.get("task", "qa"), key)].append((record["key"], float(value)))
    out: dict[str, MetricValue] = {}
    for (task, key), pairs in sorted(by_key.items()):
        values = [v for _, v in sorted(pairs)]  # by case key: the interval ignores finishing order
        for label, q in (("p50", 0.5), ("p95", 0.95)):
            out[f"{LATENCY_PREFIX}{task}.{key}.{label}"] = _interval(
                values, b=b, seed=seed, statistic=lambda a, q=q: percentile(a.tolist(), q))
    return out


def scoped_values(summary: Mapping[str, Any]) -> dict[tuple[str, str], MetricValue]:
    """(scope, metric) → MetricValue for the per-tag and per-file breakdowns."""
    out: dict[tuple[str, str], MetricValue] = {}
    for section, prefix in (("by_tag", "tag:"), ("by_file", "file:")):
        for group, block in (summary.get(section) or {}).items():
            for name, entry in (block.get("metrics") or {}).items():
                value = from_entry(entry)
                if value is not None:
                    out[(prefix + group, name)] = value
    return out


def _interval(values: list[float], *, b: int, seed: int, statistic=None) -> MetricValue:
    ci = bootstrap_ci(values, b=b, seed=seed, statistic=statistic)
    return MetricValue(ci.point, ci.low, ci.high, ci.n)


def case_score(record: Mapping[str, Any], metric: str | None) -> float:
    """How well one case did, for ranking the worst cases: its `metric` (or, without one, the
    mean of its scores in [0, 1]); an errored case is -1 (worst), a case without the metric +inf
    (not ranked)."""
    if record.get("status") == "error":
        return -1.0
    metrics = record.get("metrics") or {}
    if metric is not None:
        value = metrics.get(metric)
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else math.inf
    scores = [float(v) for v in metrics.values() if isinstance(v, (int, float)) and not isinstance(v, bool)
              and math.isfinite(v) and 0.0 <= v <= 1.0]
    return float(np.mean(scores)) if scores else math.inf
