"""The retrieval suite: every golden question through the chat's own router and search tool —
`Agent.route` (understand → typed filters → one ToolCall) then that LangChain tool — with no
answer model, scored with the runner's retrieval metrics. It costs ~0.1 s a case, so a nightly
can score a whole retrieval golden set in any budget while the agent suites sample answers.

    question ─▶ Agent.route()  (route, filters, "like X", known ids)  ─▶ tool.invoke(call)
             ─▶ hits (k = 10) ─▶ ndcg@10, recall@10, mrr@10   (evals.runner.retrieval_metric's definitions)
                              ─▶ route_correct    the router chose the case's collection
                              ─▶ filter_accuracy  parsed filters == golden `filters` (cases that have them)

What it leaves out, on purpose: the query transforms (HyDE needs the answer model) and
everything after retrieval. Records have the runner's shape (task "retrieval"), so
`evals.summary.summarise` gives the same CIs, per-tag tables and latency percentiles.
"""
from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.agent import Agent
from assistant.prompts import passage_text
from evals.golden import GoldenCase
from evals.metrics import mrr, ndcg_at_k, recall_at_k
from evals.results import RESULTS_NAME, ResultsFile, case_key, select_cases
from evals.runner import EvalRun, agent_config
from evals.summary import file_sha256, summarise, write_summary
from knowledge.index import KnowledgeBase
from knowledge.provenance import stamp

TASK = "retrieval"
_CONTEXT_CHARS = 600  # enough of each source to judge it in the report


def run_retrieval_suite(golden_paths: list[Path], config: Any, out_dir: str | Path, *, k: int = 10,
                        open_kb: Callable[[str], KnowledgeBase] | None = None) -> EvalRun:
    """Score `config.limit` cases of each golden file (with `config.tags`) and write
    results.jsonl and summary.json to `out_dir` (always from scratch: the suite is cheap).

    config: the suite's EvalConfig (role, mode, today, limit, tags, bootstrap_b, seed are read).
    open_kb: index opener (tests pass their tiny world's; None: the real CAIRN_HOME indexes).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / RESULTS_NAME).unlink(missing_ok=True)
    results = ResultsFile(out)
    cases = select_cases(golden_paths, config.limit, config.tags)
    # transforms off: HyDE needs the answer model; the chat's k is for the prompt, metrics are @10.
    agent = Agent(None, agent_config(config, transforms=None, k_catalog=k, k_notes=k), open_kb=open_kb)  # type: ignore[arg-type]
    try:
        for collection in sorted({c.collection for _, c in cases}):
            agent.kb(collection).embedder  # noqa: B018 -- load the model now: not the first case's latency
        agent.vocabulary()  # built once before timing, as the chat does at start-up
        started = time.perf_counter()
        records = []
        for file, case in cases:
            record = score_case(agent, file, case, config_hash=config.config_hash())
            results.append(record)
            records.append(record)
        wall_s = time.perf_counter() - started
        provenance = stamp(config_hash=config.config_hash(), config=config.to_dict(), seed=config.seed, k=k,
                           task=TASK, indexes=_indexes(agent, cases),
                           golden={str(p): {"sha256": file_sha256(p), "cases": sum(1 for f, _ in cases if f == str(p))}
                                   for p in golden_paths})
    finally:
        if open_kb is None:  # an injected opener owns its indexes
            agent.close()
    summary = summarise(records, b=config.bootstrap_b, seed=config.seed, provenance=provenance,
                        run={"wall_s": wall_s, "setup_s": 0.0, "cases_run": len(records), "reused": 0, "workers": 1})
    write_summary(out, summary)
    return EvalRun(out, summary, records)


def score_case(agent: Agent, file: str, case: GoldenCase, *, config_hash: str = "") -> dict[str, Any]:
    """One case: route, run the routed tool, score its hits. A failure is recorded, not raised."""
    record: dict[str, Any] = {
        "key": case_key(file, case.id), "file": Path(file).name, "case_id": case.id, "task": TASK,
        "config_hash": config_hash, "tags": list(case.tags), "answerable": case.answerable, "status": "ok",
        "error": None, "metrics": {}, "metric_errors": {}, "latency": {}, "assistant_s": 0.0, "scoring_s": 0.0,
        "inputs": {"question": case.question, "collection": case.collection, "filters": case.raw.get("filters")},
        "relevant": dict(case.relevant)}
    try:
        if case.raw.get("task", "qa") != "qa":
            record.update(status="skipped", skip_reason="not a question case")
            return record
        started = time.perf_counter()
        step = agent.route(case.question)
        routed = time.perf_counter()
        hits = []
        if step.call is not None:
            message = agent.langchain_tools()[step.call.name].invoke(
                {"name": step.call.name, "args": step.call.args, "id": f"call_{step.call.name}", "type": "tool_call"})
            hits = message.artifact.hits
        done = time.perf_counter()
        record["assistant_s"] = done - started
        record["latency"] = {"route_s": routed - started, "retrieve_s": done - routed, "total_s": done - started}
        record["trace"] = {"plan": {"route": step.plan.route, "filters": step.plan.filters, "query": step.plan.query},
                           "tool": {"name": step.call.name, "args": step.call.args} if step.call else None}
        record["contexts"] = [{"n": n, "doc_id": h.doc_id, "chunk_id": h.chunk.id,
                               "text": passage_text(h.chunk)[:_CONTEXT_CHARS]} for n, h in enumerate(hits, 1)]
        record["metrics"] = scores(case, step.plan.route, step.plan.filters, [h.doc_id for h in hits])
        record["scoring_s"] = time.perf_counter() - done
    except Exception as exc:  # one failing case is recorded, not fatal (as in evals/runner.py)
        record.update(status="error", error=f"{type(exc).__name__}: {exc}")
    record["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return record


def scores(case: GoldenCase, route: str, filters: dict[str, Any], doc_ids: list[str]) -> dict[str, float]:
    """The case's metrics from what the router decided and the ranked doc ids it retrieved
    (repeats dropped: notes return several sections of one note)."""
    out = {"route_correct": float(route == case.collection)}
    if "filters" in case.raw:
        out["filter_accuracy"] = float(_canonical(filters) == _canonical(case.filters))
    if any(grade > 0 for grade in case.relevant.values()):
        ranked = list(dict.fromkeys(doc_ids))
        out.update({"ndcg@10": ndcg_at_k(ranked, case.relevant, 10), "recall@10": recall_at_k(ranked, case.relevant, 10),
                    "mrr@10": mrr(ranked, case.relevant, 10)})
    return out


def _canonical(value: Any) -> str:  # as evals/runner.py compares filters
    return json.dumps(value, sort_keys=True, default=str)


def _indexes(agent: Agent, cases: list[tuple[str, GoldenCase]]) -> dict[str, Any]:
    out = {}
    for collection in sorted({c.collection for _, c in cases}):
        kb = agent.kb(collection)
        index_id, generation = kb.store.version
        out[collection] = {"index_id": index_id, "generation": generation, "counts": kb.store.counts(),
                           "embedder": kb.store.get_meta("embedder")}
    return out
