"""What one nightly run produced, as plain data the reports render: per suite its summary,
records, gateable values, baseline, findings and trends; for the run its id, status and
provenance. `run.py` fills these in; `report_html.py`, `report_md.py` and findings.json read
them, so the reports are pure functions of an outcome (and testable without a model).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals.nightly.config import NightlyConfig, SuiteConfig
from evals.nightly.gate import Finding, failed
from evals.nightly.history import TrendPoint
from evals.nightly.values import MetricValue, case_score


@dataclass
class SuiteOutcome:
    """One suite of a run.

    Fields:
        config: the suite's settings. status: "ok" or "error" (it did not run; `error` says why).
        summary / records: the suite's summary.json dict and its latest results records.
        values: metric name → MetricValue (evals/nightly/values.py).
        baseline_run / baseline: the last accepted run of the lineage and its values (None: none).
        findings: the gate's findings for this suite. accepted: it became a baseline in this run.
        trends: metric → points across the lineage's runs, this one included (oldest first).
        out_dir: the suite's folder (results.jsonl, summary.json).
    """

    config: SuiteConfig
    status: str
    out_dir: Path
    error: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)
    values: dict[str, MetricValue] = field(default_factory=dict)
    baseline_run: str | None = None
    baseline: dict[str, MetricValue] | None = None
    findings: list[Finding] = field(default_factory=list)
    accepted: bool = False
    trends: dict[str, list[TrendPoint]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def passed(self) -> bool:
        return self.status == "ok" and not failed(self.findings)

    def primary_metric(self) -> str | None:
        """The metric that ranks the worst cases: the configured one, else the first gated
        `min` metric, else the first quality metric of the summary."""
        chosen = self.config.primary_metric
        if chosen:
            return chosen
        return next(iter(self.summary.get("metrics") or {}), None)

    def worst_cases(self, n: int) -> list[dict[str, Any]]:
        """The n lowest-scoring records (errors first), ties broken by case key."""
        metric = self.primary_metric()
        scored = [(case_score(r, metric), r["key"], r) for r in self.records if r.get("status") in ("ok", "error")]
        scored = [t for t in scored if not math.isinf(t[0])]
        return [r for _, _, r in sorted(scored, key=lambda t: (t[0], t[1]))[:n]]

    def headline(self) -> tuple[str, MetricValue] | None:
        metric = self.primary_metric()
        value = self.values.get(metric) if metric else None
        return (metric, value) if metric and value else None

    def latency_key(self) -> str | None:
        """The end-to-end latency metric stem of this suite (latency.<task>.total_s), if any."""
        stems = sorted({m.rsplit(".", 1)[0] for m in self.values if m.startswith("latency.") and
                        m.endswith(".total_s.p50")})
        return stems[0] if stems else None


@dataclass
class NightlyOutcome:
    """A whole run: its suites, and whether the gate passed (gated False: --no-gate)."""

    run_id: str
    config: NightlyConfig
    out_dir: Path
    started: str
    finished: str
    git_commit: str
    suites: list[SuiteOutcome]
    gated: bool = True
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def findings(self) -> list[Finding]:
        return [f for s in self.suites for f in s.findings]

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.suites)

    def kinds(self) -> list[str]:
        return sorted({s.config.kind for s in self.suites})

    def speed_line(self) -> str:
        """Cases/min and the assistant/scoring split, per kind of suite (their speeds differ
        by 1000x, so one pooled rate would say nothing)."""
        parts = []
        for kind in self.kinds():
            t = self.throughput(kind)
            rate = f"{t['cases_per_min']:.1f} cases/min" if t["cases_per_min"] else "- cases/min"
            split = (f", assistant {t['assistant_share']:.0%} / scoring {t['scoring_share']:.0%} of case time"
                     if t["assistant_share"] is not None else "")
            parts.append(f"{kind} suites {int(t['cases_run'] or 0)} cases in {t['wall_s']:.0f} s ({rate}{split})")
        setup = self.throughput()["setup_s"] or 0.0
        return "; ".join(parts) + f"; setup (model and index loading) {setup:.0f} s"

    @property
    def exit_code(self) -> int:
        return 0 if self.passed or not self.gated else 1

    def throughput(self, kind: str | None = None) -> dict[str, float | None]:
        """Over every suite (or the suites of one kind): cases, wall time (model loading is
        setup_s, apart), cases/min, and assistant vs scoring seconds."""
        totals: dict[str, float] = {"cases_run": 0, "wall_s": 0.0, "assistant_s": 0.0, "scoring_s": 0.0, "setup_s": 0.0}
        for suite in self.suites:
            if kind is not None and suite.config.kind != kind:
                continue
            t = suite.summary.get("throughput") or {}
            for key in totals:
                totals[key] += float(t.get(key) or 0.0)
        busy = totals["assistant_s"] + totals["scoring_s"]
        return {**totals, "cases_per_min": totals["cases_run"] / totals["wall_s"] * 60 if totals["wall_s"] else None,
                "assistant_share": totals["assistant_s"] / busy if busy else None,
                "scoring_share": totals["scoring_s"] / busy if busy else None}

    def to_dict(self) -> dict[str, Any]:
        """nightly.json: the run's numbers, baselines and findings (the reports' source data)."""
        return {
            "schema": "cairn.nightly/1", "run_id": self.run_id, "name": self.config.name,
            "profile": self.config.profile, "started": self.started, "finished": self.finished,
            "git_commit": self.git_commit, "passed": self.passed, "gated": self.gated, "exit_code": self.exit_code,
            "throughput": {"all": self.throughput(), **{kind: self.throughput(kind) for kind in self.kinds()}},
            "suites": {s.name: {"kind": s.config.kind, "status": s.status, "error": s.error, "passed": s.passed,
                                "accepted": s.accepted, "baseline_run": s.baseline_run,
                                "values": _values(s.values), "baseline": _values(s.baseline or {}),
                                "findings": [f.to_dict() for f in s.findings], "out_dir": str(s.out_dir)}
                       for s in self.suites},
            "findings": [f.to_dict() for f in self.findings],
            "provenance": self.provenance,
        }


def _values(values: Mapping[str, MetricValue]) -> dict[str, Any]:
    return {name: v.to_dict() for name, v in values.items()}


@dataclass(frozen=True)
class MetricRow:
    """One line of a suite's metric table, shared by the HTML and Markdown reports.

    status: "fail" (a fail finding names the metric), "pass" (gated, no failure), "" (not gated).
    gate: the gate in words ("min 0.5, regression"); note: the failing/info findings' kinds.
    """

    metric: str
    value: MetricValue
    baseline: MetricValue | None
    status: str
    gate: str
    note: str

    @property
    def delta(self) -> float | None:
        return self.value.value - self.baseline.value if self.baseline is not None else None


def gate_words(suite: SuiteOutcome, metric: str) -> str:
    gate = suite.config.gate.get(metric)
    if gate is None:
        return ""
    parts = [f"min {gate.min:g}" if gate.min is not None else "", f"max {gate.max:g}" if gate.max is not None else "",
             "regression" + (f" ±{gate.tolerance:g}" if gate.tolerance else "") if gate.regression else ""]
    return ", ".join(p for p in parts if p)


def metric_rows(suite: SuiteOutcome, *, include_latency: bool = False, extra: int = 4) -> list[MetricRow]:
    """The gated metrics (gate order), then the primary metric, then up to `extra` more quality
    metrics of the summary; latencies only with include_latency."""
    names = [m for m in suite.config.gate if m in suite.values]
    primary = suite.primary_metric()
    if primary in suite.values and primary not in names:
        names.append(primary)
    others = [m for m in (suite.summary.get("metrics") or {}) if m in suite.values and m not in names]
    names += others[:extra]
    if not include_latency:
        names = [m for m in names if not m.startswith("latency.")]
    rows = []
    for metric in names:
        mine = [f for f in suite.findings if f.metric == metric]
        status = "fail" if any(f.severity == "fail" for f in mine) else ("pass" if metric in suite.config.gate else "")
        note = ", ".join(sorted({f.kind for f in mine if f.kind != "no-baseline"}))
        rows.append(MetricRow(metric, suite.values[metric], (suite.baseline or {}).get(metric), status,
                              gate_words(suite, metric), note))
    return rows
