"""Two eval runs of the same golden cases, compared metric by metric with paired bootstrap
intervals: did a change (a setting, a model, a prompt) move quality, and by more than chance?

    run A results.jsonl ─┐  cases matched by key, both "ok" ─▶ per metric: d_i = b_i - a_i
    run B results.jsonl ─┘                                  ─▶ mean A, mean B, mean d, 95% CI of d

Paired, because the same question is hard or easy for both runs: resampling the per-case
differences (Efron & Tibshirani 1993, ch. 13, as evals/bootstrap.py does for means) gives a far
narrower interval than comparing two independent intervals. A metric is "worse" when its whole
interval lies on the wrong side of 0 (below for quality, above for latency and cost).
"""
from __future__ import annotations

import argparse
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.answer import COST_KEYS
from evals.bootstrap import bootstrap_ci
from evals.results import DONE, RESULTS_NAME, ResultsFile, latest_records
from knowledge.errors import CairnError

# Metrics where a smaller value is better; every other metric is higher-is-better.
LOWER_IS_BETTER = ("latency", "_s", "tokens", "judge_calls")


class CompareError(CairnError):
    """Runs that cannot be compared; the message says which and why."""


@dataclass(frozen=True)
class MetricDiff:
    """One metric over the n cases both runs scored: the two means, the mean paired difference
    (B - A) and its 95% bootstrap interval, and the verdict."""

    metric: str
    n: int
    mean_a: float
    mean_b: float
    diff: float
    low: float
    high: float

    @property
    def lower_is_better(self) -> bool:
        if self.metric.endswith("tok_s"):  # a rate: tokens per second
            return False
        return any(part in self.metric for part in LOWER_IS_BETTER)

    @property
    def verdict(self) -> str:
        """"better" / "worse" when the whole interval is on one side of 0, else "same"."""
        if self.low > 0 or self.high < 0:
            up = self.low > 0
            return "worse" if up == self.lower_is_better else "better"
        return "same"


def per_case_values(records: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """{case key: {metric: value}} of the finished cases, metrics plus latency and token counts
    (numbers only: an undefined metric, stored as null, is left out)."""
    out: dict[str, dict[str, float]] = {}
    for record in records:
        if record.get("status") != DONE:
            continue
        values = {**record.get("metrics", {}),
                  **{f"latency.{k}": v for k, v in (record.get("latency") or {}).items()},
                  **{k: v for k, v in (record.get("trace") or {}).items() if k in COST_KEYS}}
        out[record["key"]] = {k: float(v) for k, v in values.items()
                              if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}
    return out


def compare(a: Mapping[str, Mapping[str, float]], b: Mapping[str, Mapping[str, float]], *,
            b_replicates: int = 1000, seed: int = 0) -> list[MetricDiff]:
    """Per metric both runs have for at least one shared case, sorted by name."""
    shared = sorted(set(a) & set(b))
    if not shared:
        raise CompareError("the two runs have no finished case in common; run both on the same golden files")
    metrics = sorted({m for key in shared for m in a[key]} & {m for key in shared for m in b[key]})
    rows = []
    for metric in metrics:
        pairs = [(a[key][metric], b[key][metric]) for key in shared if metric in a[key] and metric in b[key]]
        if not pairs:
            continue
        diffs = [y - x for x, y in pairs]
        interval = bootstrap_ci(diffs, b=b_replicates, seed=seed)
        rows.append(MetricDiff(metric, len(pairs), sum(x for x, _ in pairs) / len(pairs),
                               sum(y for _, y in pairs) / len(pairs), interval.point, interval.low, interval.high))
    return rows


def load_run(folder: Path) -> dict[str, dict[str, float]]:
    """The per-case values of an eval output folder (or its results.jsonl), latest record per case."""
    folder = folder if folder.is_dir() else folder.parent
    if not (folder / RESULTS_NAME).exists():
        raise CompareError(f"{folder / RESULTS_NAME} does not exist; pass an eval output folder "
                           "(`cairn eval --out DIR`)")
    return per_case_values(list(latest_records(ResultsFile(folder).read()).values()))


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("eval-diff", help="compare two eval runs metric by metric, paired bootstrap CIs",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("before", type=Path, help="eval output folder (or results.jsonl) of the baseline run")
    p.add_argument("after", type=Path, help="eval output folder (or results.jsonl) of the changed run")
    p.add_argument("--metric", action="append", dest="metrics", help="only these metrics (repeatable)")
    p.set_defaults(func=cmd_eval_diff)


def cmd_eval_diff(args: argparse.Namespace) -> int:
    rows = compare(load_run(args.before), load_run(args.after))
    if args.metrics:
        rows = [r for r in rows if r.metric in args.metrics]
    print(f"{'metric':<36}{'n':>4}{'before':>10}{'after':>10}{'after-before':>14}  95% CI (paired)     verdict")
    for r in rows:
        print(f"{r.metric:<36}{r.n:>4}{r.mean_a:>10.3f}{r.mean_b:>10.3f}{r.diff:>+14.3f}  "
              f"[{r.low:+.3f}, {r.high:+.3f}]  {r.verdict}")
    return 0
