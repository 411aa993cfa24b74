"""`cairn nightly`: run the eval suites, store every number in a history database, gate on
thresholds and on regressions against the last accepted run, and render an HTML report and a
Markdown summary (DESIGN.md §3 "evals: … → report + history + gate").

    config.py       NightlyConfig / SuiteConfig / MetricGate from nightly.toml (+ profiles)
    values.py       a suite's summary → the named numbers stored and gated (MetricValue)
    retrieval.py    the LLM-free retrieval suite: the chat's router + search tool, scored
    history.py      SQLite history: runs, suites, metrics, findings; baselines and trends
    gate.py         pure threshold and regression checks → Findings
    outcome.py      what a run produced (per suite: values, baseline, findings, trends)
    svg.py          inline SVG trend plots
    report_html.py  the self-contained HTML report
    report_md.py    the Markdown summary (the README table)
    run.py          orchestration: suites → history → gate → reports → exit status
"""
