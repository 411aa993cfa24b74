"""summary.md of a nightly run: the headline table (each suite's gated and primary metrics with
their 95% CIs, baseline and gate result; every other metric is in report.html), a speed table (cases/min, assistant vs scoring time,
latency percentiles beside the quality numbers) and the findings — the text that goes in the
README and in a CI job summary ($GITHUB_STEP_SUMMARY). A suite's error (in its row and its
finding) may quote a document or a model reply, so errors and findings are escaped
(knowledge/safe_text.py): shown as text, loading nothing where the summary is rendered.
"""
from __future__ import annotations

from evals.nightly.outcome import NightlyOutcome, SuiteOutcome, metric_rows
from evals.nightly.values import MetricValue
from knowledge.safe_text import markdown_text


def _cell(text: object) -> str:
    """Markdown table cell: pipes escaped, line breaks flattened."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _num(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _ci(v: MetricValue | None) -> str:
    return "-" if v is None or v.low is None else f"[{_num(v.low)}, {_num(v.high)}]"


def _status(status: str, note: str) -> str:
    if status == "fail":
        return f"**FAIL** ({note})" if note else "**FAIL**"
    if status == "pass":
        return f"pass ({note})" if note else "pass"
    return note or ""


def _latency(suite: SuiteOutcome, label: str) -> str:
    stem = suite.latency_key()
    value = suite.values.get(f"{stem}.{label}") if stem else None
    return "-" if value is None else f"{value.value:.2f} s"


def quality_table(outcome: NightlyOutcome) -> list[str]:
    lines = ["| suite | metric | value | 95% CI | n | baseline | gate | result |",
             "|---|---|---:|---|---:|---:|---|---|"]
    for suite in outcome.suites:
        if suite.status != "ok":
            lines.append(f"| {_cell(suite.name)} | - | - | - | - | - | - | **did not run**: "
                         f"{_cell(markdown_text(suite.error))} |")
            continue
        for row in metric_rows(suite, extra=0):
            if row.metric == "error_rate" and row.status != "fail":
                continue  # errors are counted in the speed table; a row only when they fail the gate
            lines.append(f"| {_cell(suite.name)} | {_cell(row.metric)} | {_num(row.value.value)} | {_ci(row.value)} | "
                         f"{row.value.n} | {_num(row.baseline.value if row.baseline else None)} | "
                         f"{_cell(row.gate) or '-'} | {_cell(_status(row.status, row.note))} |")
    return lines


def speed_table(outcome: NightlyOutcome) -> list[str]:
    lines = ["| suite | kind | cases (errors) | wall s | cases/min | assistant / scoring | latency p50 | latency p95 |",
             "|---|---|---:|---:|---:|---|---:|---:|"]
    for suite in outcome.suites:
        counts = suite.summary.get("counts") or {}
        t = suite.summary.get("throughput") or {}
        share = f"{t['assistant_share']:.0%} / {t['scoring_share']:.0%}" if t.get("assistant_share") is not None else "-"
        lines.append(f"| {_cell(suite.name)} | {suite.config.kind} | {counts.get('cases', 0)} ({counts.get('errors', 0)}) | "
                     f"{_num(t.get('wall_s'), 1)} | {_num(t.get('cases_per_min'), 1)} | {share} | "
                     f"{_latency(suite, 'p50')} | {_latency(suite, 'p95')} |")
    return lines


def render_markdown(outcome: NightlyOutcome) -> str:
    verdict = "PASS" if outcome.passed else ("FAIL" if outcome.gated else "FAIL (not gated)")
    lines = [f"## cairn nightly `{outcome.run_id}` — {verdict}", "",
             f"Lineage `{outcome.config.name}` / profile `{outcome.config.profile}`, commit `{outcome.git_commit[:12]}`, "
             f"{outcome.started} → {outcome.finished}. {outcome.speed_line()}. Means with percentile-bootstrap "
             "95% CIs; latencies are per-case nearest-rank percentiles of the whole pipeline (retrieval suites: "
             "routing + search).", ""]
    lines += quality_table(outcome) + [""] + speed_table(outcome) + [""]
    shown = [f for f in outcome.findings if f.kind != "no-baseline"]
    if shown:
        lines += ["Findings:", ""] + [f"- {_cell(markdown_text(f))}" for f in shown] + [""]
    baselines = sorted({s.baseline_run for s in outcome.suites if s.baseline_run})
    accepted = [s.name for s in outcome.suites if s.accepted]
    lines.append(f"Baseline run(s): {', '.join(f'`{b}`' for b in baselines) or 'none yet'}. "
                 f"Accepted as new baseline: {', '.join(accepted) or 'nothing'}.")
    return "\n".join(lines) + "\n"
