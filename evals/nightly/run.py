"""One nightly run, start to end (DESIGN.md §3 "evals: … → report + history + gate"):

    NightlyConfig ─▶ run id, folder, a "running" row in the history
      ─▶ per suite, in order:
           agent suite:      evals.runner.run_eval   (Agent.ask, the chat's pipeline; resumable)
           retrieval suite:  evals.nightly.retrieval (router + search tool, no model)
           ─▶ values (means/percentiles with 95% CIs) ─▶ history, committed now (a crash loses no suite)
           ─▶ gate: thresholds + regression against the lineage's last accepted run ─▶ findings
      ─▶ acceptance (config.AUTO_ACCEPT / --accept) ─▶ trends from the history
      ─▶ report.html, summary.md, findings.json, nightly.json ─▶ exit status 0 / 1

A suite that cannot run (no model, no index) is a failing finding, and the next suite still
runs. Suites with the same [model] settings share one loaded model. `resume=RUN_ID` reopens a
run that died: finished suites are read back from their folders, an interrupted agent suite
resumes case by case (evals/results.py), the rest run. Progress goes to stderr.
"""
from __future__ import annotations

import datetime as dt
import json
import secrets
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from evals.config import EvalConfig
from evals.nightly.config import NightlyConfig, SuiteConfig
from evals.nightly.gate import Finding, evaluate_suite, failed, suite_error
from evals.nightly.history import History, HistoryError, now
from evals.nightly.outcome import NightlyOutcome, SuiteOutcome
from evals.nightly.report_html import render_html
from evals.nightly.report_md import render_markdown
from evals.nightly.values import scoped_values, suite_values
from evals.results import iter_records
from evals.summary import SUMMARY_NAME
from knowledge.errors import CairnError
from knowledge.provenance import git_commit, stamp

_DEFAULT = object()
REPORT_NAME, MARKDOWN_NAME, FINDINGS_NAME, OUTCOME_NAME = "report.html", "summary.md", "findings.json", "nightly.json"
MAX_TRENDS = 6  # plots per suite: the gated metrics first


def new_run_id() -> str:
    """Sortable by time, unique across machines: 20261122T031500Z-3f9a."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(2)


class SharedModels:
    """An agent factory for run_eval that loads each answer model once per nightly run."""

    def __init__(self) -> None:
        self._llms: dict[str, Any] = {}

    def __call__(self, config: EvalConfig):
        from assistant.agent import Agent
        from assistant.llm.config import load_llm
        from evals.runner import agent_config

        key = json.dumps(config.llm.to_dict(), sort_keys=True, default=str)
        if key not in self._llms:
            self._llms[key] = load_llm(config.llm)
        return Agent(self._llms[key], agent_config(config))

    def close(self) -> None:
        for llm in self._llms.values():
            llm.close()
        self._llms.clear()


def run_suite(suite: SuiteConfig, out_dir: Path, *, agent_factory: Callable | None, extractor: Any,
              open_kb: Callable | None, progress: bool):
    """Run one suite into out_dir; returns evals.runner.EvalRun."""
    if suite.kind == "retrieval":
        from evals.nightly.retrieval import run_retrieval_suite

        return run_retrieval_suite(list(suite.golden), suite.eval, out_dir, k=suite.k, open_kb=open_kb)
    from evals.runner import run_eval

    kwargs = {} if extractor is _DEFAULT else {"extractor": extractor}
    return run_eval(list(suite.golden), suite.eval, out_dir, agent_factory=agent_factory, resume=True,
                    progress=progress, **kwargs)


def run_nightly(config: NightlyConfig, *, out_dir: str | Path | None = None, accept: bool = False,
                gate: bool = True, resume: str | None = None, agent_factory: Callable | None = None,
                extractor: Any = _DEFAULT, open_kb: Callable | None = None, progress: bool = True,
                log: TextIO | None = None) -> NightlyOutcome:
    """Run every suite of `config`, store, gate, accept and report (module docstring).

    accept: make this run's passing suites the new baselines (config.auto_accept applies anyway).
    gate: False computes and reports the findings but the outcome's exit code is 0.
    agent_factory / extractor / open_kb: injections for tests (scripted model, tiny indexes).
    """
    log = log or sys.stderr

    def say(text: str) -> None:
        print(f"[nightly] {text}", file=log, flush=True)

    history = History(config.history_path())
    shared = SharedModels() if agent_factory is None else None
    factory = agent_factory or shared
    try:
        run_id, root, done = _open_run(history, config, out_dir, resume)
        row = history.get_run(run_id)  # its start time and commit, as recorded when it began
        say(f"run {run_id} ({config.name}/{config.profile}, {len(config.suites)} suites) → {root}")
        suites: list[SuiteOutcome] = []
        for suite in config.suites:
            suite_dir = root / "suites" / suite.name
            outcome = _reload(suite, suite_dir, history, run_id) if suite.name in done else None
            if outcome is None:
                say(f"suite {suite.name}: {suite.kind}, {', '.join(p.name for p in suite.golden)}"
                    f"{f', limit {suite.eval.limit}' if suite.eval.limit else ''}"
                    f"{f', model {suite.eval.llm.model}' if suite.kind == 'agent' else ''}")
                outcome = _run_and_store(suite, suite_dir, history, run_id, say, agent_factory=factory,
                                         extractor=extractor, open_kb=open_kb, progress=progress)
            _gate(outcome, history, config, run_id)
            suites.append(outcome)
            say(f"suite {suite.name}: {'pass' if outcome.passed else 'FAIL'}"
                + "".join(f"\n  {f}" for f in outcome.findings if f.kind != "no-baseline"))
        for outcome in suites:
            wanted = accept or config.auto_accept == "always" or (
                config.auto_accept == "first" and outcome.baseline_run is None)
            if wanted and outcome.passed:
                outcome.accepted = bool(history.accept(run_id, [outcome.name]))
            outcome.trends = _trends(history, config, outcome)
        result = NightlyOutcome(run_id=run_id, config=config, out_dir=root, started=row.started, finished=now(),
                                git_commit=row.git_commit or "unknown", suites=suites, gated=gate,
                                provenance=stamp(nightly_config=config.raw, config_hash=config.config_hash(),
                                                 source=config.source, name=config.name, profile=config.profile))
        history.finish_run(run_id, passed=result.passed, provenance=result.provenance)
        write_reports(result)
        say(f"{'PASS' if result.passed else 'FAIL'}: wrote {root / REPORT_NAME} and {root / MARKDOWN_NAME}")
        return result
    finally:
        if shared is not None:
            shared.close()
        history.close()


def _open_run(history: History, config: NightlyConfig, out_dir: str | Path | None,
              resume: str | None) -> tuple[str, Path, set[str]]:
    if resume:
        row = history.get_run(resume)
        if (row.name, row.profile) != (config.name, config.profile):
            raise HistoryError(f"run {resume} is {row.name}/{row.profile}, this config is {config.name}/{config.profile}; "
                               "resume it with the same config and profile")
        done = {name for name, s in history.suites_of(resume).items() if s["status"] == "ok"}
        return resume, Path(row.out_dir or config.run_root() / resume), done
    run_id = new_run_id()
    root = Path(out_dir) if out_dir else config.run_root() / run_id
    root.mkdir(parents=True, exist_ok=True)
    history.start_run(run_id, name=config.name, profile=config.profile, git_commit=git_commit(),
                      config_hash=config.config_hash(), config=config.raw, out_dir=root.resolve())
    return run_id, root, set()


def _run_and_store(suite: SuiteConfig, suite_dir: Path, history: History, run_id: str, say, **run_kwargs) -> SuiteOutcome:
    try:
        run = run_suite(suite, suite_dir, **run_kwargs)
    except Exception as exc:  # one broken suite must not cost the others (KeyboardInterrupt still stops)
        message = str(exc) if isinstance(exc, CairnError) else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, CairnError):
            say(f"suite {suite.name} crashed:\n{traceback.format_exc()}")
        history.record_suite(run_id, suite.name, kind=suite.kind, status="error", signature=suite.signature(),
                             error=message)
        return SuiteOutcome(suite, "error", suite_dir, error=message)
    values = suite_values(run.summary, run.records, b=suite.eval.bootstrap_b, seed=suite.eval.seed)
    history.record_suite(run_id, suite.name, kind=suite.kind, status="ok", signature=suite.signature(),
                         summary=run.summary, values=values, scoped=scoped_values(run.summary))
    return SuiteOutcome(suite, "ok", suite_dir, summary=run.summary, records=list(run.records), values=values)


def _reload(suite: SuiteConfig, suite_dir: Path, history: History, run_id: str) -> SuiteOutcome | None:
    """A suite a resumed run already finished, read back (None: its folder is gone; rerun it)."""
    try:
        summary = json.loads((suite_dir / SUMMARY_NAME).read_text())
        records = list(iter_records(suite_dir))
    except (OSError, ValueError):
        return None
    return SuiteOutcome(suite, "ok", suite_dir, summary=summary, records=records,
                        values=history.values(run_id, suite.name))


def _gate(outcome: SuiteOutcome, history: History, config: NightlyConfig, run_id: str) -> None:
    lineage = (config.name, config.profile, outcome.name)
    baseline_run = history.last_accepted(*lineage, signature=outcome.config.signature(), before=run_id)
    outcome.baseline_run = baseline_run
    outcome.baseline = history.values(baseline_run, outcome.name) if baseline_run else None
    if outcome.status != "ok":
        outcome.findings = [suite_error(outcome.name, outcome.error or "unknown error")]
    else:
        outcome.findings = evaluate_suite(outcome.name, outcome.values, outcome.config.gate.values(),
                                          required=outcome.config.required, baseline=outcome.baseline,
                                          baseline_run=baseline_run or "")
        other = history.last_accepted(*lineage, before=run_id) if baseline_run is None else None
        if other is not None:
            outcome.findings.append(Finding(
                outcome.name, "", "settings-changed", "info",
                f"the suite's cases or settings changed since its last accepted run {other} (golden file, limit, "
                "tags, model or eval settings); regressions are checked only against runs of the same cases: "
                "accept a run of the new settings"))
    history.record_findings(run_id, outcome.name, outcome.findings, passed=not failed(outcome.findings)
                            and outcome.status == "ok")


def _trends(history: History, config: NightlyConfig, outcome: SuiteOutcome) -> dict[str, list]:
    names = [m for m in outcome.config.gate if m in outcome.values]
    primary = outcome.primary_metric()
    if primary and primary in outcome.values and primary not in names:
        names.insert(0, primary)
    return {m: history.trend(config.name, config.profile, outcome.name, m, limit=config.trend_runs)
            for m in names[:MAX_TRENDS]}


def write_reports(outcome: NightlyOutcome) -> dict[str, Path]:
    """report.html, summary.md, findings.json and nightly.json in the run folder."""
    root = outcome.out_dir
    root.mkdir(parents=True, exist_ok=True)
    paths = {"html": root / REPORT_NAME, "markdown": root / MARKDOWN_NAME, "findings": root / FINDINGS_NAME,
             "outcome": root / OUTCOME_NAME}
    from evals.results import to_jsonable

    paths["html"].write_text(render_html(outcome), encoding="utf-8")
    paths["markdown"].write_text(render_markdown(outcome), encoding="utf-8")
    paths["findings"].write_text(json.dumps(to_jsonable({
        "run_id": outcome.run_id, "passed": outcome.passed, "exit_code": outcome.exit_code,
        "findings": [f.to_dict() for f in outcome.findings]}), indent=1))
    paths["outcome"].write_text(json.dumps(to_jsonable(outcome.to_dict()), indent=1, ensure_ascii=False))
    return paths
