"""`cairn eval` orchestration: golden cases → the SAME `Agent.ask` the chat uses → metrics →
results.jsonl (resumable) → summary.json (DESIGN.md §3 "evals").

    golden files ─▶ cases (first `limit` of each) ─▶ minus the ones results.jsonl already holds
       ─▶ per case, in a thread pool of `workers`:
            task "qa":      agent.ask(question), fresh conversation ─▶ AnswerSample.from_answer
                            ─▶ every metric(sample) + filter accuracy (plan filters vs golden)
            task "extract": extract_note(note text from the notes docstore) ─▶ extraction_scores
       ─▶ one record per case, appended + fsynced as it finishes (completion order)
       ─▶ summary over the latest record of every selected case (order-independent)

Metrics are pluggable: `metrics` maps a name to `fn(sample) -> {score: value}`, optionally
taking `judge=` and `embedder=` keywords (evals/sample.py). The default set is
`evals.metrics.ANSWER_METRICS` (when it exists) plus the always-available ones below. With
`judge = "off"` every metric gets judge=None (the answer metrics then report judge-free
variants, e.g. `faithfulness_lexical`); a metric that cannot work without a judge says so with
a `needs_judge = True` attribute or by being named in `evals.metrics.JUDGE_METRICS`, and is
left out.

Workers: the llama.cpp backend serialises generation on a lock (one `Llama` is not thread-safe,
DESIGN.md §6), so extra workers mostly overlap retrieval, verification bookkeeping and scoring
with another case's generation; on 2 CPU cores expect little beyond workers = 2. A server
backend (`--backend openai`) can answer several cases at once. With workers > 1 a case's
latencies include its wait for the model lock: take latency percentiles from workers = 1.
"""
from __future__ import annotations

import datetime as dt
import inspect
import json
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from assistant.agent import Agent, AgentConfig
from assistant.answer import COST_KEYS
from assistant.citations import remove_markers
from assistant.prompts import passage_text
from assistant.llm.base import ChatLLM, Completion, GenerationRequest
from assistant.verify import VerifierConfig
from evals.config import JUDGE_OFF, JUDGE_SELF, EvalConfig, EvalConfigError
from evals.golden import GoldenCase
from evals.metrics import extraction_scores, is_refusal, mrr, ndcg_at_k, recall_at_k, rouge
from evals.results import ResultsFile, case_key, select_cases
from evals.sample import AnswerSample
from evals.summary import collect_provenance, summarise, write_summary

Metric = Callable[..., Mapping[str, float]]
AgentFactory = Callable[[EvalConfig], Agent]
Extractor = Callable[..., Any]  # extract_note(text, *, llm=None, mode="hybrid") -> Extraction
EXTRACTION_MISSING = "extraction not available"
_DEFAULT = object()  # "use the real one" for injectable parameters that may legitimately be None


# --- always-available metrics (each: AnswerSample -> named scores in [0, 1]) -------------------------

def refusal_metric(sample: AnswerSample) -> dict[str, float]:
    """refusal_correct: the answer refuses exactly when the golden case is unanswerable; refused:
    the pipeline refused, or the answer cites nothing and says it cannot answer (is_refusal).
    refusal_correct is evals.metrics.correctness's definition, so the two agree."""
    refused = sample.refused or is_refusal(sample.answer, sample.cited_ids)
    return {"refusal_correct": float(refused != sample.answerable), "refused": float(refused)}


def rouge_metric(sample: AnswerSample) -> dict[str, float]:
    """rougeL_f: ROUGE-L F of the shown answer, [n] markers removed, against the reference;
    answerable cases only (any wording of a refusal is right for the others). The same key and
    value as evals.metrics.correctness, so the two agree when both run."""
    if sample.reference is None or not sample.answerable:
        return {}
    return {"rougeL_f": rouge(remove_markers(sample.answer), sample.reference)["rougeL"]}


def retrieval_metric(sample: AnswerSample) -> dict[str, float]:
    """NDCG@10, recall@10 and MRR@10 of the sources the model was given (doc ids in source
    order, repeats dropped) against the golden relevant ids; left out when none is relevant."""
    if not any(grade > 0 for grade in sample.relevant.values()):
        return {}
    ranked = list(dict.fromkeys(sample.context_ids))
    return {"ndcg@10": ndcg_at_k(ranked, sample.relevant, 10), "recall@10": recall_at_k(ranked, sample.relevant, 10),
            "mrr@10": mrr(ranked, sample.relevant, 10)}


BUILTIN_METRICS: dict[str, Metric] = {"refusal": refusal_metric, "rouge": rouge_metric, "retrieval": retrieval_metric}


def needs_judge(name: str, fn: Metric) -> bool:
    import evals.metrics as registry

    return bool(getattr(fn, "needs_judge", False)) or name in getattr(registry, "JUDGE_METRICS", ())


def default_metrics(config: EvalConfig) -> dict[str, Metric]:
    """The metric set `config` asks for: ANSWER_METRICS (if defined) + BUILTIN_METRICS, judge
    metrics only with a judge, narrowed to `config.metrics` when given."""
    import evals.metrics as registry

    available: dict[str, Metric] = {**dict(getattr(registry, "ANSWER_METRICS", {}) or {}), **BUILTIN_METRICS}
    judged = {name for name, fn in available.items() if needs_judge(name, fn)}
    if config.metrics is None:
        return {n: fn for n, fn in available.items() if config.judge != JUDGE_OFF or n not in judged}
    unknown = [n for n in config.metrics if n not in available]
    if unknown:
        raise EvalConfigError(f"metrics: {unknown} unknown; available: {', '.join(sorted(available))}")
    blocked = [n for n in config.metrics if n in judged and config.judge == JUDGE_OFF]
    if blocked:
        raise EvalConfigError(f"metrics {blocked} need a judge but judge='off'; set judge = 'self' (or a model) "
                              "or drop them from `metrics`")
    return {n: available[n] for n in config.metrics}


# --- building the pieces --------------------------------------------------------------------------

def agent_config(config: EvalConfig, **overrides: Any) -> AgentConfig:
    """The AgentConfig the eval runs with (the chat's defaults, plus the eval's settings)."""
    ks = {"k_catalog": config.k, "k_notes": config.k} if config.k else {}
    transforms = None
    if config.transforms:
        from assistant.transforms import TransformConfig

        transforms = TransformConfig(**{name: name in config.transforms for name in ("multi_query", "hyde")})
    verifier = (VerifierConfig(judge_evidence_tokens=config.judge_evidence_tokens)
                if config.judge_evidence_tokens is not None else None)
    values = dict(role=config.role, mode=config.mode, verify=config.verify, policy=config.policy,
                  max_tokens=config.max_tokens, context_tokens=config.context_tokens, today=config.today,
                  transforms=transforms, verifier=verifier, **ks)
    return AgentConfig(**{**values, **overrides})


def default_agent_factory(config: EvalConfig) -> Agent:
    from assistant.llm.config import load_llm

    return Agent(load_llm(config.llm), agent_config(config))


def load_judge(config: EvalConfig, llm: ChatLLM) -> ChatLLM | None:
    if config.judge == JUDGE_OFF:
        return None
    if config.judge == JUDGE_SELF:
        return llm
    from assistant.llm.config import load_llm

    return load_llm(replace(config.llm, model=config.judge, adapter=None))


def load_extractor() -> Extractor | None:
    try:
        from assistant.extract import extract_note
    except ImportError:  # the extraction package is optional; its cases are counted as skipped
        return None
    return extract_note


class RecordingJudge(ChatLLM):
    """The judge, with every reply it gives during one metric call written to `log` (the
    results record keeps the judge's raw output next to the score it became)."""

    def __init__(self, inner: ChatLLM, log: list[dict[str, Any]], metric: str) -> None:
        super().__init__(model_id=inner.model_id, fingerprint=inner.fingerprint, defaults=inner.defaults)
        self.inner, self.log, self.metric, self.backend = inner, log, metric, inner.backend

    def chat(self, messages, **options) -> Completion:  # type: ignore[override]
        completion = self.inner.chat(messages, **options)  # the backend's own (possibly better) _complete
        self.log.append({"metric": self.metric, "call": "chat", "text": completion.text})
        return completion

    def _stream(self, request: GenerationRequest):  # ChatLLM.stream checked the request already
        for delta in self.inner._stream(request):
            if delta.completion is not None:
                self.log.append({"metric": self.metric, "call": "stream", "text": delta.completion.text})
            yield delta

    def token_logprob_of(self, messages, candidates) -> dict[str, float]:
        result = self.inner.token_logprob_of(messages, candidates)
        self.log.append({"metric": self.metric, "call": "logprobs", "logprobs": dict(result)})
        return result

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def apply_chat_template(self, messages) -> str:
        return self.inner.apply_chat_template(messages)

    def pin_prefix(self, head, *, open_last: bool = False) -> int:
        return self.inner.pin_prefix(head, open_last=open_last)


# The answer trace kept in each results record: enough to see why, and what it cost.
_TRACE_KEYS = ("resolution", "refusal_reason", "finish_reason", "completion_tokens", "removed", "flagged",
               "repointed", "injection_suspects", "model_id", *COST_KEYS)


def _accepts(fn: Metric) -> set[str]:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return set()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return {"judge", "embedder"}
    return {p.name for p in params} & {"judge", "embedder"}


# --- the run ---------------------------------------------------------------------------------------

@dataclass
class EvalRun:
    """What `run_eval` produced: the folder, the summary dict, and the selected cases' records."""

    out_dir: Path
    summary: dict[str, Any]
    records: list[dict[str, Any]]


class _Runner:
    def __init__(self, config: EvalConfig, agent: Agent, judge: ChatLLM | None, metrics: Mapping[str, Metric],
                 extractor: Extractor | None) -> None:
        self.config, self.agent, self.judge, self.metrics, self.extractor = config, agent, judge, metrics, extractor
        self.hash = config.config_hash()
        self._hinted: dict[str, Agent] = {}
        self._accepts = {name: _accepts(fn) for name, fn in metrics.items()}

    def agent_for(self, collection: str) -> Agent:
        if not self.config.collection_hint:
            return self.agent
        if collection not in self._hinted:  # shares the model and the opened indexes
            self._hinted[collection] = Agent(self.agent.llm, replace(self.agent.config, collection=collection),
                                             open_kb=self.agent.kb)
        return self._hinted[collection]

    def warm(self, cases: Sequence[tuple[str, GoldenCase]]) -> None:
        """Open indexes and build the router's vocabulary before threads start, so workers never
        race to initialise the agent's lazy caches."""
        for collection in sorted({c.collection for _, c in cases}):
            self.agent.kb(collection)
        if any(c.raw.get("task", "qa") == "qa" for _, c in cases):
            for collection in sorted({c.collection for _, c in cases}):
                self.agent_for(collection).vocabulary()
                if any("embedder" in accepted for accepted in self._accepts.values()):
                    self.agent.kb(collection).embedder  # noqa: B018 -- load the cached property now

    def run_case(self, file: str, case: GoldenCase) -> dict[str, Any]:
        task = case.raw.get("task", "qa")
        record: dict[str, Any] = {
            "key": case_key(file, case.id), "file": Path(file).name, "case_id": case.id, "task": task,
            "config_hash": self.hash, "tags": list(case.tags), "answerable": case.answerable,
            "status": "ok", "error": None, "metrics": {}, "metric_errors": {}, "latency": {},
            "assistant_s": 0.0, "scoring_s": 0.0}
        try:
            kb = self.agent.kb(case.collection)
            index_id, generation = kb.store.version
            record["index"] = {"id": index_id, "generation": generation}
            if task == "extract":
                self._extract(case, kb, record)
            else:
                self._qa(case, record)
        except Exception as exc:  # one failing case is recorded, not fatal; a crash (BaseException) is
            record.update(status="error", error=f"{type(exc).__name__}: {exc}")
        record["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        return record

    def _qa(self, case: GoldenCase, record: dict[str, Any]) -> None:
        record["inputs"] = {"question": case.question, "collection": case.collection,
                            "filters": case.raw.get("filters")}
        started = time.perf_counter()
        answer = self.agent_for(case.collection).ask(case.question)  # no conversation: a fresh one
        record["assistant_s"] = time.perf_counter() - started
        sample = AnswerSample.from_answer(case, answer)
        trace = answer.trace
        tool = trace.get("tool") or {}
        record.update(
            answer=answer.text, refused=answer.refused, raw_answer=sample.raw_answer,
            reference=sample.reference, relevant=dict(case.relevant),
            contexts=[{"n": n, "doc_id": c.doc_id, "chunk_id": c.id, "text": passage_text(c)}
                      for n, c in enumerate(answer.chunks, 1)],
            citations=[{"n": c.n, "doc_id": c.doc_id, "chunk_id": c.chunk_id, "span": list(c.span), "score": c.score}
                       for c in answer.citations],
            sentences=[{"text": s.text, "cited": list(s.cited), "supported": s.supported, "score": s.score,
                        "reason": s.reason} for s in answer.sentences],
            trace={"plan": trace.get("plan"), "tool": {"name": tool.get("name"), "args": tool.get("args")} if tool else None,
                   **{k: trace.get(k) for k in _TRACE_KEYS if k in trace}},
            latency=dict(answer.timings))
        started = time.perf_counter()
        judge_log: list[dict[str, Any]] = []
        for name, fn in self.metrics.items():
            kwargs: dict[str, Any] = {}
            if "judge" in self._accepts[name]:
                kwargs["judge"] = RecordingJudge(self.judge, judge_log, name) if self.judge is not None else None
            if "embedder" in self._accepts[name]:
                kwargs["embedder"] = self.agent.kb(case.collection).embedder
            try:
                record["metrics"].update(fn(sample, **kwargs))
            except Exception as exc:  # a broken metric must not lose the answer it would have scored
                record["metric_errors"][name] = f"{type(exc).__name__}: {exc}"
        if "filters" in case.raw:  # the router's typed filters vs what a perfect parser produces
            plan_filters = (trace.get("plan") or {}).get("filters") or {}
            record["metrics"]["filter_accuracy"] = float(_canonical(plan_filters) == _canonical(case.filters))
        record["scoring_s"] = time.perf_counter() - started
        record["judge"] = judge_log or None

    def _extract(self, case: GoldenCase, kb: Any, record: dict[str, Any]) -> None:
        note_id = case.raw["note_id"]
        record["inputs"] = {"note_id": note_id, "collection": case.collection}
        record["expected"] = case.raw.get("expected_fields") or {}
        if self.extractor is None:
            record.update(status="skipped", skip_reason=EXTRACTION_MISSING)
            return
        document = kb.store.get_document(note_id)
        if document is None:
            raise LookupError(f"note {note_id!r} is not in the {case.collection} index; ingest the notes "
                              f"(`cairn ingest NOTES -c {case.collection}`) or fix the golden case")
        started = time.perf_counter()
        extraction = self.extractor(document.text, llm=self.agent.llm, mode=self.config.extract_mode)
        record["assistant_s"] = time.perf_counter() - started
        predicted = extraction.to_expected_fields() if hasattr(extraction, "to_expected_fields") else dict(extraction)
        record["predicted"] = predicted
        if hasattr(extraction, "to_dict"):
            record["extraction"] = {k: v for k, v in extraction.to_dict().items() if k != "fields"}
        record["latency"] = dict(getattr(extraction, "timings", {}) or {})
        started = time.perf_counter()
        record["metrics"] = extraction_scores(predicted, record["expected"])
        record["scoring_s"] = time.perf_counter() - started


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def run_eval(golden_paths: Sequence[str | Path], config: EvalConfig, out_dir: str | Path, *,
             agent_factory: AgentFactory | None = None, metrics: Mapping[str, Metric] | None = None,
             extractor: Extractor | None | object = _DEFAULT,
             judge_loader: Callable[[EvalConfig, ChatLLM], ChatLLM | None] = load_judge,
             resume: bool = True, progress: bool = True) -> EvalRun:
    """Run (or resume) an eval and write DIR/results.jsonl and DIR/summary.json.

    agent_factory: builds the Agent (None: `default_agent_factory`, the chat's agent on the
        configured model; tests inject one with a scripted model and a tiny index).
    metrics: name -> metric; None: `default_metrics(config)`.
    extractor: extract_note-like callable; default: assistant.extract.extract_note if importable,
        else extraction cases are recorded as skipped ("extraction not available").
    """
    setup_started = time.perf_counter()
    cases = select_cases(golden_paths, config.limit, config.tags)
    metric_set = dict(metrics) if metrics is not None else default_metrics(config)
    results = ResultsFile(out_dir)
    done = results.open(config, resume=resume)
    todo = [(f, c) for f, c in cases if case_key(f, c.id) not in done]
    agent = (agent_factory or default_agent_factory)(config)
    judge = None
    try:
        judge = judge_loader(config, agent.llm)
        runner = _Runner(config, agent, judge, metric_set,
                         load_extractor() if extractor is _DEFAULT else extractor)  # type: ignore[arg-type]
        runner.warm(todo)
        setup_s = time.perf_counter() - setup_started
        started = time.perf_counter()
        new = _run_all(runner, todo, results, config.workers, progress)
        wall_s = time.perf_counter() - started
        kbs = {c: agent.kb(c) for c in sorted({case.collection for _, case in cases})}
        golden = {str(p): sum(1 for f, _ in cases if f == str(p)) for p in golden_paths}
        provenance = collect_provenance(config, agent.llm, judge, kbs, golden)
    finally:
        if judge is not None and judge is not agent.llm:
            judge.close()
        agent.close()
    latest = {**done, **{r["key"]: r for r in new}}
    records = [latest[case_key(f, c.id)] for f, c in cases]
    summary = summarise(records, b=config.bootstrap_b, seed=config.seed, provenance=provenance,
                        run={"wall_s": wall_s, "setup_s": setup_s, "cases_run": len(new), "reused": len(done),
                             "workers": config.workers})
    write_summary(out_dir, summary)
    return EvalRun(Path(out_dir), summary, records)


def _run_all(runner: _Runner, todo: Sequence[tuple[str, GoldenCase]], results: ResultsFile, workers: int,
             progress: bool) -> list[dict[str, Any]]:
    """Run the cases, appending each record as it finishes; a BaseException (Ctrl-C, a crash)
    stops the run with every finished case already on disk."""
    from tqdm import tqdm

    bar = tqdm(total=len(todo), unit="case", desc="eval", disable=not progress or not todo, dynamic_ncols=True)
    started = time.perf_counter()
    new: list[dict[str, Any]] = []

    def finish(record: dict[str, Any]) -> None:
        results.append(record)
        new.append(record)
        bar.update(1)
        elapsed = time.perf_counter() - started
        bar.set_postfix({"cases/min": f"{len(new) / elapsed * 60:.1f}" if elapsed else "-",
                         "errors": sum(r["status"] == "error" for r in new)})

    try:
        if workers <= 1:
            for file, case in todo:
                finish(runner.run_case(file, case))
            return new
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cairn-eval")
        try:
            pending = {pool.submit(runner.run_case, file, case) for file, case in todo}
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                crash = None
                for future in finished:  # keep the cases that did finish, then re-raise a crash
                    if future.exception() is None:
                        finish(future.result())
                    else:
                        crash = crash or future.exception()
                if crash is not None:
                    raise crash
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # a crash leaves no queued case running
        return new
    finally:
        bar.close()
