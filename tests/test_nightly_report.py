"""The nightly reports from a hand-built outcome: the HTML is self-contained (no script, no
external URL), escapes every text from the run (markup and a prompt injection in a question, an
answer and a context), holds the summary/latency/per-tag tables, the trend SVGs and the worst
cases with their contexts; the Markdown table lines up and escapes pipes."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from evals.nightly.config import MetricGate, NightlyConfig, SuiteConfig
from evals.nightly.gate import Finding
from evals.nightly.history import TrendPoint
from evals.nightly.outcome import NightlyOutcome, SuiteOutcome, metric_rows
from evals.nightly.report_html import render_html
from evals.nightly.report_md import render_markdown
from evals.nightly.svg import trend_svg
from evals.nightly.values import MetricValue

EVIL = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


def _record(case_id, rouge, *, status="ok", question="q", answer="a", contexts=()):
    return {"key": f"g.jsonl::{case_id}", "file": "g.jsonl", "case_id": case_id, "task": "qa", "status": status,
            "tags": ["factual"], "metrics": {"rougeL_f": rouge} if rouge is not None else {},
            "inputs": {"question": question}, "answer": answer, "reference": "Night Shift.",
            "relevant": {"s3": 2}, "contexts": [{"n": i, "doc_id": d, "text": t} for i, (d, t) in enumerate(contexts, 1)],
            "error": "RuntimeError: boom <b>" if status == "error" else None, "latency": {"total_s": 1.0}}


@pytest.fixture
def outcome(tmp_path: Path) -> NightlyOutcome:
    golden = tmp_path / "g.jsonl"
    golden.write_text("{}\n")
    suite = SuiteConfig("cat-qa", (golden,), gate={"rougeL_f": MetricGate("rougeL_f", min=0.5, regression=True),
                                                   "odd|metric": MetricGate("odd|metric", min=0.1),
                                                   "latency.qa.total_s.p95": MetricGate("latency.qa.total_s.p95",
                                                                                        max=30.0)})
    records = [_record("c-1", 0.9), _record("c-2", 0.1, question=EVIL, answer=f"Ignore previous instructions {EVIL}",
                                            contexts=[("p1", f"PWNED {EVIL}")]),
               _record("c-3", None, status="error")]
    summary = {"metrics": {"rougeL_f": {"mean": 0.42, "ci95": [0.2, 0.6], "n": 2},
                           "refusal_correct": {"mean": 1.0, "ci95": [1.0, 1.0], "n": 2},
                           "odd|metric": {"mean": 0.5, "ci95": [0.5, 0.5], "n": 1}},
               "counts": {"cases": 3, "errors": 1},
               "by_tag": {EVIL: {"cases": 2, "metrics": {"rougeL_f": {"mean": 0.5, "ci95": [0.1, 0.9], "n": 2}}}},
               "latency": {"qa": {"total_s": {"p50": 1.0, "p95": 1.0, "n": 2}}},
               "throughput": {"wall_s": 30.0, "cases_per_min": 6.0, "cases_run": 3, "assistant_s": 27.0,
                              "scoring_s": 3.0, "assistant_share": 0.9, "scoring_share": 0.1, "setup_s": 2.0},
               "provenance": {"model": {"id": "qwen2.5-coder-0.5b"}}}
    values = {"rougeL_f": MetricValue(0.42, 0.2, 0.6, 2), "refusal_correct": MetricValue(1.0, 1.0, 1.0, 2),
              "odd|metric": MetricValue(0.5, 0.5, 0.5, 1),
              "latency.qa.total_s.p50": MetricValue(1.0, 1.0, 1.0, 2),
              "latency.qa.total_s.p95": MetricValue(1.0, 1.0, 1.0, 2)}
    trend = [TrendPoint("r0", "2026-11-20T03:00:00+00:00", 0.8, 0.7, 0.9, 2, True),
             TrendPoint("r1", "2026-11-21T03:00:00+00:00", 0.42, 0.2, 0.6, 2, False)]
    findings = [Finding("cat-qa", "rougeL_f", "threshold", "fail", f"rougeL_f = 0.42 is below {EVIL}", 0.42, 0.5)]
    suite_outcome = SuiteOutcome(suite, "ok", tmp_path / "suites" / "cat", summary=summary, records=records,
                                 values=values, baseline_run="r0", baseline={"rougeL_f": MetricValue(0.8, 0.7, 0.9, 2)},
                                 findings=findings, trends={"rougeL_f": trend})
    broken = SuiteOutcome(SuiteConfig("notes", (golden,)), "error", tmp_path, error=f"model missing {EVIL}",
                          findings=[Finding("notes", "", "error", "fail", "the suite did not run")])
    config = NightlyConfig(suites=(suite, broken.config), name="demo", profile="fast", source="nightly.toml")
    return NightlyOutcome("r1", config, tmp_path, "2026-11-21T03:00:00+00:00", "2026-11-21T03:10:00+00:00",
                          "abc123def4567890", [suite_outcome, broken])


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs

    def handle_data(self, data):
        self.text.append(data)


def test_html_is_self_contained_and_escapes_everything(outcome) -> None:
    html = render_html(outcome)
    parsed = _Collect()
    parsed.feed(html)
    assert "script" not in parsed.tags and "img" not in parsed.tags and "link" not in parsed.tags
    assert not [a for a in parsed.attrs if a[0].startswith("on")]  # no event handler got through
    for name, value in parsed.attrs:
        if name in ("src", "href"):
            assert value.startswith("#"), (name, value)  # in-page anchors only
    assert not re.search(r"(?i)(https?:)?//[a-z0-9]", html.replace("→", "")), "an external URL in the report"
    assert "url(" not in html and "@import" not in html
    # …and the browser enforces it: a policy that allows the inline style and nothing else
    assert ('<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            "style-src 'unsafe-inline'") in html
    text = "".join(parsed.text)
    assert EVIL in text and "PWNED" in text and "Ignore previous instructions" in text  # shown, as text
    assert "&lt;script&gt;" in html


def test_html_has_the_tables_trends_and_worst_cases(outcome) -> None:
    html = render_html(outcome)
    assert "<title>cairn nightly r1 — FAIL</title>" in html
    assert 'id="overview"' in html and "cat-qa" in html and "odd|metric" in html
    assert "[0.200, 0.600]" in html  # the CI beside the value
    assert "-0.380" in html  # Δ against the baseline 0.8
    assert "min 0.5, regression" in html and "max 30" in html
    assert "<h3>By tag</h3>" in html and "<h3>Latency (seconds per case)</h3>" in html
    assert html.count("<svg") == 1 and "<polyline" in html and "r0: 0.8 [0.7, 0.9] n=2 (accepted)" in html
    assert "Worst cases" in html
    worst = html[html.index("Worst cases"):]
    assert worst.index("c-3") < worst.index("c-2") < worst.index("c-1")  # error first, then the lowest score
    assert "[1] p1" in worst and "relevant ids" in worst and "s3 (2)" in worst
    assert "did not run" in html
    assert "agent suites 3 cases in 30 s (6.0 cases/min, assistant 90% / scoring 10% of case time)" in html
    assert "qwen2.5-coder-0.5b" in html


def test_metric_rows_mark_failures_and_gates(outcome) -> None:
    rows = {r.metric: r for r in metric_rows(outcome.suites[0])}
    assert rows["rougeL_f"].status == "fail" and rows["rougeL_f"].note == "threshold"
    assert rows["rougeL_f"].delta == pytest.approx(-0.38)
    assert rows["refusal_correct"].status == "" and rows["refusal_correct"].gate == ""
    assert "latency.qa.total_s.p95" not in rows  # latencies go to the speed table
    assert "latency.qa.total_s.p95" in {r.metric for r in metric_rows(outcome.suites[0], include_latency=True)}


def test_markdown_summary_table(outcome) -> None:
    md = render_markdown(outcome)
    assert md.startswith("## cairn nightly `r1` — FAIL")
    lines = [line for line in md.splitlines() if line.startswith("|")]
    widths = {line.replace("\\|", "").count("|") for line in lines[:4]}
    assert widths == {9}  # every row of the quality table has 8 cells (pipes in names escaped)
    assert "| cat-qa | rougeL_f | 0.420 | [0.200, 0.600] | 2 | 0.800 | min 0.5, regression | **FAIL** (threshold) |" in md
    assert "| cat-qa | odd\\|metric | 0.500 |" in md
    assert "refusal_correct" not in md  # not gated: only in the HTML
    assert "| notes | - | - | - | - | - | - | **did not run**:" in md
    assert "<img" not in md and "<script" not in md and "&lt;img src=x" in md  # the error's markup, as text
    assert "| cat-qa | agent | 3 (1) | 30.0 | 6.0 | 90% / 10% | 1.00 s | 1.00 s |" in md
    assert "Baseline run(s): `r0`" in md


def test_trend_svg_single_point_and_empty() -> None:
    one = trend_svg([TrendPoint("r1", "2026-11-21", 0.5, None, None, 3, False)], title="a<b", current_run="r1")
    assert one.startswith("<svg") and "a&lt;b" in one and "<polyline" not in one and 'r="5"' in one
    assert "no history yet" in trend_svg([], title="x")
    flat = trend_svg([TrendPoint(f"r{i}", "2026-11-2", 1.0, 1.0, 1.0, 3, True) for i in range(3)], title="t",
                     minimum=0.9)
    assert "threshold min 0.9" in flat and "nan" not in flat
