"""report.html of a nightly run: one self-contained file (inline CSS, inline SVG, no script, no
external URL) that a CI artifact store or a mail client can show as is.

    header      verdict, lineage/profile, commit, times, throughput and the assistant/scoring split
    findings    failures first, then information (improvements, missing baselines)
    overview    one row per suite: headline quality [CI] beside latency p50/p95 and cases/min
    per suite   metrics (value, 95% CI, n, baseline, Δ, gate, result); latency percentiles;
                per-tag breakdown; trend plots across runs (evals/nightly/svg.py); the worst
                cases with their question, answer, reference and the contexts the model saw
    provenance  the run's and each suite's provenance, as JSON

Every piece of text from a run (questions, answers, contexts, errors, names) passes through
html.escape: a golden case or a document may hold markup (and the demo holds a prompt
injection), and the report must show it, not run it. A Content-Security-Policy in its head
makes that a property the browser enforces too: the page may use its inline style and nothing
else, so even a slip of the escaping could not fetch an image, a frame or a stylesheet.
"""
from __future__ import annotations

import json
from html import escape
from typing import Any

from evals.nightly.outcome import NightlyOutcome, SuiteOutcome, metric_rows
from evals.nightly.svg import trend_svg
from evals.nightly.values import RATES, MetricValue

CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1180px;color:#1f2328;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}
th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f6f8fa}
td.num{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#656d76}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;font-size:12px}
.pass{background:#dafbe1;color:#116329}.fail{background:#ffebe9;color:#a40e26}.info{background:#ddf4ff;color:#0550ae}
tr.fail td{background:#fff5f4}ul.findings li{margin:2px 0}.trends{display:flex;flex-wrap:wrap;gap:12px}
details{margin:6px 0;border:1px solid #d0d7de;border-radius:6px;padding:4px 10px}summary{cursor:pointer}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:6px 8px;border-radius:4px;margin:4px 0;font-size:12px}
dl.case dt{font-weight:600;margin-top:6px}dl.case dd{margin:0 0 0 12px}
"""


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _num(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _ci(v: MetricValue | None) -> str:
    return "-" if v is None or v.low is None else f"[{_num(v.low)}, {_num(v.high)}]"


def _badge(kind: str, text: str) -> str:
    return f'<span class="badge {_e(kind)}">{_e(text)}</span>'


def _table(headers: list[str], rows: list[list[str]], *, numeric: set[int] = frozenset(),
           row_classes: list[str] | None = None, table_id: str = "") -> str:
    """Cells arrive already escaped (they may hold badges)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{_e(row_classes[i])}"' if row_classes and row_classes[i] else ""
        cells = "".join(f'<td class="num">{c}</td>' if j in numeric else f"<td>{c}</td>" for j, c in enumerate(row))
        body.append(f"<tr{cls}>{cells}</tr>")
    ident = f' id="{_e(table_id)}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _latency(suite: SuiteOutcome, label: str) -> str:
    stem = suite.latency_key()
    value = suite.values.get(f"{stem}.{label}") if stem else None
    return "-" if value is None else _e(f"{value.value:.2f} s {_ci(value)}")


# --- sections ------------------------------------------------------------------------------------

def header(outcome: NightlyOutcome) -> str:
    verdict = ("pass", "PASS") if outcome.passed else (("fail", "FAIL") if outcome.gated else ("info", "FAIL (not gated)"))
    return (f"<h1>cairn nightly <code>{_e(outcome.run_id)}</code> {_badge(*verdict)}</h1>"
            f'<p class="muted">lineage <b>{_e(outcome.config.name)}</b>, profile <b>{_e(outcome.config.profile)}</b>, '
            f"commit <code>{_e(outcome.git_commit)}</code>, {_e(outcome.started)} → {_e(outcome.finished)}, "
            f"config <code>{_e(outcome.config.source or '-')}</code> ({_e(outcome.config.config_hash())})</p>"
            f"<p>{_e(outcome.speed_line())}.</p>")


def findings_section(outcome: NightlyOutcome) -> str:
    items = sorted(outcome.findings, key=lambda f: (f.severity != "fail", f.suite, f.metric))
    if not items:
        return "<h2>Findings</h2><p>None: every gate passed.</p>"
    lis = "".join(f'<li>{_badge("fail" if f.severity == "fail" else "info", f.severity.upper())} '
                  f"<b>{_e(f.suite)}</b> {_e(f.message)}</li>" for f in items)
    return f'<h2>Findings</h2><ul class="findings">{lis}</ul>'


def overview(outcome: NightlyOutcome) -> str:
    rows, classes = [], []
    for s in outcome.suites:
        counts, t = s.summary.get("counts") or {}, s.summary.get("throughput") or {}
        head = s.headline()
        quality = f"{_e(head[0])} {_num(head[1].value)} {_e(_ci(head[1]))}" if head else "-"
        base = (s.baseline or {}).get(head[0]) if head else None
        share = f"{t['assistant_share']:.0%} / {t['scoring_share']:.0%}" if t.get("assistant_share") is not None else "-"
        verdict = _badge("pass", "pass") if s.passed else _badge("fail", "FAIL" if s.status == "ok" else "did not run")
        rows.append([f'<a href="#suite-{_e(s.name)}">{_e(s.name)}</a>', _e(s.config.kind),
                     f"{counts.get('cases', 0)} ({counts.get('errors', 0)} err)", quality, _num(base.value if base else None),
                     _latency(s, "p50"), _latency(s, "p95"), _num(t.get("cases_per_min"), 1), _e(share), verdict])
        classes.append("" if s.passed else "fail")
    return "<h2>Overview</h2>" + _table(
        ["suite", "kind", "cases", "headline quality [95% CI]", "baseline", "latency p50", "latency p95", "cases/min",
         "assistant / scoring", "gate"], rows, numeric={4, 7}, row_classes=classes, table_id="overview")


def metrics_table(suite: SuiteOutcome) -> str:
    rows, classes = [], []
    for r in metric_rows(suite, include_latency=True, extra=100):
        delta = f"{r.delta:+.3f}" if r.delta is not None else "-"
        result = _badge(r.status, r.status.upper() if r.status == "fail" else r.status) if r.status else ""
        rows.append([_e(r.metric), _num(r.value.value), _e(_ci(r.value)), str(r.value.n),
                     _num(r.baseline.value if r.baseline else None), delta, _e(r.gate), f"{result} {_e(r.note)}"])
        classes.append(r.status)
    return "<h3>Metrics</h3>" + _table(["metric", "value", "95% CI", "n", "baseline", "Δ", "gate", "result"], rows,
                                       numeric={1, 3, 4, 5}, row_classes=classes)


def latency_table(suite: SuiteOutcome) -> str:
    rows = []
    for task, timings in (suite.summary.get("latency") or {}).items():
        for key, p in timings.items():
            ci50 = suite.values.get(f"latency.{task}.{key}.p50")
            ci95 = suite.values.get(f"latency.{task}.{key}.p95")
            label = f"{key} (a rate, not a time)" if key.endswith(RATES) else key
            rows.append([_e(task), _e(label), f"{p['p50']:.3f}", _e(_ci(ci50)), f"{p['p95']:.3f}", _e(_ci(ci95)),
                         str(p["n"])])
    if not rows:
        return ""
    return "<h3>Latency (seconds per case)</h3>" + _table(
        ["task", "timing", "p50", "p50 95% CI", "p95", "p95 95% CI", "n"], rows, numeric={2, 4, 6})


def tag_table(suite: SuiteOutcome, *, columns: int = 5) -> str:
    by_tag = suite.summary.get("by_tag") or {}
    summary_metrics = suite.summary.get("metrics") or {}
    names = [r.metric for r in metric_rows(suite, extra=columns) if r.metric in summary_metrics][:columns]
    if not by_tag or not names:
        return ""
    rows = []
    for tag, block in by_tag.items():
        cells = []
        for name in names:
            entry = (block.get("metrics") or {}).get(name)
            if not entry or entry.get("mean") is None:
                cells.append("-")
            else:
                low, high = entry["ci95"]
                cells.append(f"{entry['mean']:.3f} <span class=\"muted\">[{low:.2f}, {high:.2f}] n={entry['n']}</span>")
        rows.append([_e(tag), str(block.get("cases", 0)), *cells])
    return "<h3>By tag</h3>" + _table(["tag", "cases", *names], rows, numeric={1})


def trends_section(suite: SuiteOutcome, run_id: str) -> str:
    plots = []
    for metric, points in suite.trends.items():
        gate = suite.config.gate.get(metric)
        plots.append(trend_svg(points, title=f"{suite.name} · {metric}", current_run=run_id,
                               minimum=gate.min if gate else None, maximum=gate.max if gate else None))
    if not plots:
        return ""
    return ('<h3>Trends</h3><p class="muted">Oldest run left; bars are 95% CIs; filled points are accepted '
            f'runs, the ringed one is this run; dashed lines are thresholds.</p><div class="trends">{"".join(plots)}</div>')


def _case(record: dict[str, Any], metric: str | None) -> str:
    metrics = record.get("metrics") or {}
    score = "error" if record.get("status") == "error" else (
        f"{metric} = {metrics[metric]:.3f}" if metric and isinstance(metrics.get(metric), (int, float)) else "")
    tags = ", ".join(record.get("tags") or [])
    inputs = record.get("inputs") or {}
    parts = [f"<dt>question</dt><dd><pre>{_e(inputs.get('question') or inputs.get('note_id') or '')}</pre></dd>"]
    if record.get("error"):
        parts.append(f"<dt>error</dt><dd><pre>{_e(record['error'])}</pre></dd>")
    if record.get("answer") is not None:
        parts.append(f"<dt>answer{' (refused)' if record.get('refused') else ''}</dt><dd><pre>{_e(record['answer'])}</pre></dd>")
    if record.get("reference"):
        parts.append(f"<dt>reference</dt><dd><pre>{_e(record['reference'])}</pre></dd>")
    if record.get("relevant"):
        parts.append(f"<dt>relevant ids</dt><dd>{_e(', '.join(f'{k} ({v:g})' for k, v in record['relevant'].items()))}</dd>")
    if record.get("predicted") is not None:
        parts.append(f"<dt>extracted / expected</dt><dd><pre>{_e(json.dumps(record['predicted'], indent=1))}</pre>"
                     f"<pre>{_e(json.dumps(record.get('expected'), indent=1))}</pre></dd>")
    contexts = record.get("contexts") or []
    if contexts:
        items = "".join(f"<li><b>[{_e(c.get('n'))}] {_e(c.get('doc_id'))}</b><pre>{_e(c.get('text', ''))}</pre></li>"
                        for c in contexts)
        parts.append(f"<dt>contexts ({len(contexts)})</dt><dd><ol>{items}</ol></dd>")
    shown = ", ".join(f"{k} {v:.3f}" for k, v in sorted(metrics.items()) if isinstance(v, (int, float)))
    parts.append(f"<dt>scores</dt><dd>{_e(shown or '-')}</dd>")
    return (f"<details><summary><b>{_e(record.get('case_id'))}</b> — {_e(score)} "
            f'<span class="muted">{_e(record.get("file", ""))} · {_e(tags)}</span></summary>'
            f'<dl class="case">{"".join(parts)}</dl></details>')


def worst_section(suite: SuiteOutcome, n: int) -> str:
    cases = suite.worst_cases(n)
    if not cases:
        return ""
    metric = suite.primary_metric()
    return (f"<h3>Worst cases <span class=\"muted\">(lowest {_e(metric or 'mean score')}; errors first)</span></h3>"
            + "".join(_case(r, metric) for r in cases))


def suite_section(suite: SuiteOutcome, outcome: NightlyOutcome) -> str:
    verdict = _badge("pass", "pass") if suite.passed else _badge("fail", "FAIL")
    head = (f'<section id="suite-{_e(suite.name)}"><h2>{_e(suite.name)} {verdict} '
            f'<span class="muted">{_e(suite.config.kind)} · {_e(", ".join(p.name for p in suite.config.golden))}</span></h2>')
    if suite.status != "ok":
        return head + f"<p><b>The suite did not run:</b></p><pre>{_e(suite.error)}</pre></section>"
    base = (f"baseline: run <code>{_e(suite.baseline_run)}</code>" if suite.baseline_run else "no accepted baseline yet")
    model = ((suite.summary.get("provenance") or {}).get("model") or {}).get("id")
    info = f'<p class="muted">{base}{" · accepted as the new baseline" if suite.accepted else ""}' \
           f'{f" · model {_e(model)}" if model else ""} · folder <code>{_e(suite.out_dir)}</code></p>'
    return (head + info + metrics_table(suite) + latency_table(suite) + tag_table(suite) +
            trends_section(suite, outcome.run_id) + worst_section(suite, outcome.config.worst_cases) + "</section>")


def provenance_section(outcome: NightlyOutcome) -> str:
    data = {"run": outcome.provenance, "suites": {s.name: s.summary.get("provenance") for s in outcome.suites}}
    return ("<h2>Provenance</h2><details><summary>git commit, config, models, indexes, golden files, "
            f"versions</summary><pre>{_e(json.dumps(data, indent=1, default=str))}</pre></details>")


def render_html(outcome: NightlyOutcome) -> str:
    title = f"cairn nightly {outcome.run_id} — {'PASS' if outcome.passed else 'FAIL'}"
    body = (header(outcome) + findings_section(outcome) + overview(outcome)
            + "".join(suite_section(s, outcome) for s in outcome.suites) + provenance_section(outcome))
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>{body}</body></html>\n")
