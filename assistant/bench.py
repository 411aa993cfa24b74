"""`cairn bench assistant`: how long a verified answer takes, stage by stage, for the pipeline
before the fast-answer work and after it, measured on golden questions in one run.

For each question (N=20 by default, half catalog, half notes), each system answers in turn:
  before  the pipeline as users had it: one thread for prompt evaluation and decoding, no saved
          prefix states (every prompt evaluated from its first differing aligned block), HyDE's
          passage up to 96 tokens, and the answer shown only once wholly verified (its first
          source card and first verified sentence = its total)
  after   today's defaults: prompt evaluation on every CPU, decode threads as measured, the
          answer, judge and HyDE heads pinned, the RAM cache of prompt states, HyDE capped at 64
          tokens, sources shown first, each sentence shown once verified
  raw     the same GGUF loaded directly with llama_cpp.Llama (after's threads), fed the exact
          messages after's answer step sent: its first token is the raw prefill, its rate the
          engine's decode rate (skip with --no-raw)
The order rotates question by question, so machine drift hits all alike; ratios are per
question (after / before) and summarised by median and spread. Measured per answer: time to
the first source card, to the first raw token, to the first verified sentence, total, verify
time, prompt tokens sent and evaluated, judge calls and judge tokens sent and evaluated, and
the decode rate seen by the stream: (tokens - 1) / (last piece - first piece), for all alike.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from assistant.answer import COST_KEYS
from assistant.context import compact_chunk
from assistant.prompts import build_messages
from knowledge.bench import bench_suites, percentile
from knowledge.errors import CairnError
from knowledge.provenance import ROOT, stamp

GOLDEN = (ROOT / "evals" / "golden" / "catalog_retrieval.jsonl", ROOT / "evals" / "golden" / "notes_qa.jsonl")
WARM_UP = "films about sailing across the sea"
STAGES = ("route_s", "retrieve_s", "transforms_s", "generate_s", "verify_s")
MEASURES = ("sources_s", "ttft_s", "first_verified_s", "total_s", "verify_s", "decode_tok_s", *COST_KEYS)
PIPELINES = {
    "before": "1 thread for prompt and decode, no pinned heads or cached states, HyDE up to 96 tokens, "
              "shown when wholly verified",
    "after": "the defaults: prompt on every CPU, decode threads as measured (cairn bench threads), pinned heads, "
             "cached states, HyDE capped at 64 tokens, sources first, each sentence shown once verified",
}


def pipeline(name: str, config: Any) -> tuple[Any, dict[str, Any]]:
    """(LLMConfig, AgentConfig overrides) that `name` runs with, from the command line's config."""
    if name == "before":
        from assistant.transforms import TransformConfig

        return (replace(config, n_threads=1, n_threads_batch=1, prompt_cache=False, pin_prefixes=False),
                {"transforms": TransformConfig(max_tokens=96)})
    return config, {}


class BenchError(CairnError):
    """A bad benchmark argument or a missing prerequisite."""


def pick_questions(paths: Sequence[Path], n: int) -> list[tuple[str, str]]:
    """n (collection, question) pairs spread evenly over the answerable cases of the golden
    files that exist, in file order: deterministic, and every file is represented."""
    from evals.golden import load_golden

    pools = []
    for path in paths:
        if path.exists():
            cases = [c for c in load_golden(path) if getattr(c, "answerable", True) and getattr(c, "question", None)]
            pools.append([(c.collection, c.question) for c in cases])
    if not pools:
        raise BenchError(f"no golden questions found in {', '.join(map(str, paths))}; run `cairn demo golden`")
    shares = [n // len(pools) + (1 if i < n % len(pools) else 0) for i in range(len(pools))]
    picked: list[tuple[str, str]] = []
    for pool, share in zip(pools, shares):
        step = max(1, len(pool) // max(1, share))
        picked += pool[::step][:share]
    return picked


def stream_rate(stamps: Sequence[float], tokens: int) -> float | None:
    """Decode tokens/s from the times stream pieces arrived: (tokens - 1) / (last - first)."""
    if tokens < 2 or len(stamps) < 2 or stamps[-1] <= stamps[0]:
        return None
    return (tokens - 1) / (stamps[-1] - stamps[0])


def _timed_stream(run: Callable[[Callable[[str], None]], Any]) -> tuple[Any, float, list[float]]:
    started = time.perf_counter()
    stamps: list[float] = []

    def on_piece(piece: str) -> None:
        if piece:
            stamps.append(time.perf_counter() - started)

    result = run(on_piece)
    return result, time.perf_counter() - started, stamps


class RawLlama:
    """The baseline: llama_cpp.Llama on the same file, with the same settings as ours."""

    def __init__(self, path: Path, *, n_ctx: int, n_threads: int, n_threads_batch: int) -> None:
        from llama_cpp import Llama

        from assistant.llm.llamacpp import _without_extra_buffer_types, amx_compiled_in

        options = dict(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads_batch, seed=0,
                       verbose=False)
        if amx_compiled_in():  # load exactly as LlamaCppLLM does on this wheel
            with _without_extra_buffer_types():
                self.llama = Llama(**options)
        else:
            self.llama = Llama(**options)

    def stream(self, messages: list[dict[str, str]], max_tokens: int, on_piece: Callable[[str], None]) -> int:
        self.llama.reset()  # no KV reuse between questions: the prefill is the whole prompt
        pieces = []
        for chunk in self.llama.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=0.0,
                                                       repeat_penalty=1.0, stream=True):
            text = chunk["choices"][0]["delta"].get("content") or ""
            if text:
                pieces.append(text)
                on_piece(text)
        # Counted as ours are (LlamaCppLLM.count_tokens), so both rates use one definition.
        text = "".join(pieces)
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)) if text else 0

    def close(self) -> None:
        self.llama.close()


def prompt_of(agent: Any, question: str) -> list[dict[str, str]] | None:
    """The messages the answer step will send for `question` (route + retrieve only), so the
    baseline can run before or after ours on the very same prompt."""
    step = agent.route(question)
    if step.call is None or step.call.name == "extract_note":
        return None
    result, _ = agent._call(step.call)
    budget = agent.config.context_tokens
    chunks = [h.chunk if budget is None else compact_chunk(h.chunk, question, budget, agent.llm.count_tokens)
              for h in result.hits]
    return build_messages(question, chunks, []) if chunks else None


def run_ours(agent: Any, question: str) -> dict[str, Any]:
    """One question through `agent`, timed as its user sees it: first source listed, first raw
    token, first verified sentence, the whole answer; plus what it cost in tokens."""
    started = time.perf_counter()
    stamps: list[float] = []
    answer = agent.ask(question, stream_callback=lambda piece: piece and stamps.append(time.perf_counter() - started))
    total = time.perf_counter() - started
    trace, timings, n_out = answer.trace, answer.timings, int(answer.trace.get("completion_tokens") or 0)
    return {"refused": answer.refused, "tool": (trace.get("tool") or {}).get("name"), "text": answer.text,
            "sources_s": timings.get("sources_s"), "ttft_s": timings.get("pipeline_ttft_s"),
            "first_verified_s": timings.get("pipeline_first_verified_s") or total, "total_s": total,
            "verify_s": answer.timings.get("verify_s"), "decode_tok_s": stream_rate(stamps, n_out),
            "completion_tokens": n_out, **{k: trace.get(k) for k in COST_KEYS},
            "sentences": [{"text": c.text, "supported": c.supported, "signals": c.signals, "reason": c.reason}
                          for c in answer.sentences],
            "hyde": ((trace.get("tool") or {}).get("trace") or {}).get("transforms", {}).get("raw"),
            "stages": {k: answer.timings.get(k) or 0.0 for k in STAGES}}


def measure(systems: Mapping[str, Any], raw: RawLlama | None, questions: Sequence[tuple[str, str]], *,
            progress: bool = True, shows_only_at_end: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Every question through every system (name -> Agent) and the raw baseline, the order
    rotating question by question so machine drift hits all alike. A system named in
    `shows_only_at_end` showed nothing before the whole answer was verified: its user saw the
    first source card and the first verified sentence at its total time."""
    names = list(systems)
    records = []
    for i, (collection, question) in enumerate(questions):
        record: dict[str, Any] = {"question": question, "collection": collection}
        messages = prompt_of(systems[names[-1]], question) if raw is not None else None
        runs: list[tuple[str, Callable[[], Any]]] = [(name, lambda name=name: run_ours(systems[name], question))
                                                     for name in names]
        if raw is not None and messages:
            runs.append(("raw", lambda: _raw_run(raw, messages, systems[names[-1]].config.max_tokens or 256)))
        shift = i % len(runs)
        for name, run in runs[shift:] + runs[:shift]:
            record[name] = run()
            if name in shows_only_at_end:  # its page showed sources and answer together, at the end
                record[name].update(first_verified_s=record[name]["total_s"], sources_s=record[name]["total_s"])
        records.append(record)
        if progress:
            print(f"[{i + 1}/{len(questions)}] " + "  ".join(
                f"{name}: first verified {record[name]['first_verified_s']:.1f}s, total {record[name]['total_s']:.1f}s"
                for name in names) + f"  {question[:50]!r}", flush=True)
    return records


def _raw_run(raw: RawLlama, messages: list[dict[str, str]], max_tokens: int) -> dict[str, Any]:
    # Greedy on the same prompt: the same reply as ours, up to the same cap.
    n, total, stamps = _timed_stream(lambda cb: raw.stream(messages, max_tokens, cb))
    return {"ttft_s": stamps[0] if stamps else None, "total_s": total, "tokens": n, "decode_tok_s": stream_rate(stamps, n)}


def stats(values: Sequence[float | None]) -> dict[str, float] | None:
    """p50, p95, min, max and n of the values that are not None (None when there are none)."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    return {"p50": statistics.median(present), "p95": percentile(present, 0.95), "min": min(present),
            "max": max(present), "n": len(present)}


def summarise(records: Sequence[dict[str, Any]], names: Sequence[str]) -> dict[str, Any]:
    """Per system: the stats of each measure and its stage shares; per later system: its
    per-question ratios to the first (the baseline); the decode and TTFT ratios to raw."""
    summary: dict[str, Any] = {"n": len(records), "systems": {}, "ratios": {}}
    for name in names:
        rows = [r[name] for r in records if name in r]
        totals = [row["total_s"] for row in rows]
        stage_sum = {k: sum(row["stages"][k] for row in rows) for k in STAGES}
        shares = {k: v / (sum(totals) or 1.0) for k, v in stage_sum.items()}
        shares["other"] = max(0.0, 1.0 - sum(shares.values()))
        summary["systems"][name] = {**{key: stats([row.get(key) for row in rows]) for key in MEASURES},
                                    "stage_share": shares, "refused": sum(1 for row in rows if row["refused"])}
    base = names[0]
    for name in names[1:]:
        summary["ratios"][name] = {key: stats([_ratio(r[name].get(key), r[base].get(key)) for r in records
                                                if name in r and base in r]) for key in MEASURES}
    with_raw = [r for r in records if r.get("raw")]
    last = names[-1]
    summary["raw"] = {"prefill_s": stats([r["raw"]["ttft_s"] for r in with_raw]),
                      "decode_tok_s": stats([r["raw"]["decode_tok_s"] for r in with_raw]),
                      "decode_ratio": stats([_ratio(r[last]["decode_tok_s"], r["raw"]["decode_tok_s"]) for r in with_raw]),
                      "ttft_ratio": stats([_ratio(r[last]["ttft_s"], r["raw"]["ttft_s"]) for r in with_raw])}
    return summary


def _ratio(new: float | None, old: float | None) -> float | None:
    return new / old if new is not None and old else None


def print_summary(result: dict[str, Any]) -> None:
    s = result["summary"]

    def fmt(block: dict[str, float] | None, unit: str = "") -> str:
        if not block:
            return "n/a"
        return f"p50 {block['p50']:.2f}{unit}  p95 {block['p95']:.2f}{unit}  (min {block['min']:.2f}, max {block['max']:.2f})"

    print(f"\nassistant benchmark: {s['n']} questions, model {result['model']}, CPU {result['cpu']}")
    for name, block in s["systems"].items():
        print(f"  {name}: {result['pipelines'][name]}")
        for key in MEASURES:
            print(f"    {key:<24}{fmt(block[key], ' s' if key.endswith('_s') and key != 'decode_tok_s' else '')}")
        print("    share of total time     " + ", ".join(f"{k.removesuffix('_s')} {v:.0%}"
                                                        for k, v in block["stage_share"].items()))
        print(f"    refused                 {block['refused']}/{s['n']}")
    for name, block in s["ratios"].items():
        print(f"  {name} / {next(iter(s['systems']))}, per question:")
        for key in MEASURES:
            print(f"    {key:<24}{fmt(block[key], 'x')}")
    raw = s["raw"]
    if raw["prefill_s"]:
        print(f"  raw llama-cpp-python on the same prompt: prefill {fmt(raw['prefill_s'], ' s')}; decode "
              f"{fmt(raw['decode_tok_s'])}; ours/raw decode {fmt(raw['decode_ratio'], 'x')} (target >= 0.9)")


def register(subparsers: argparse._SubParsersAction) -> None:
    from assistant.llm.cli_args import add_llm_arguments

    p = bench_suites(subparsers).add_parser(
        "assistant", help="a verified answer's latency, before vs after the fast-answer pipeline, and vs raw llama.cpp",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=20, help="golden questions to time (default %(default)s)")
    p.add_argument("--no-verify", action="store_true", help="skip the citation verifier")
    p.add_argument("--no-raw", action="store_true", help="skip the raw llama-cpp-python baseline")
    p.add_argument("--out", type=Path, help="result JSON (default benchmarks/results/assistant-<date>.json)")
    add_llm_arguments(p)
    p.set_defaults(func=cmd_bench_assistant)


def cmd_bench_assistant(args: argparse.Namespace) -> int:
    from assistant.agent import Agent, AgentConfig
    from assistant.llm.cli_args import llm_config_from_args
    from assistant.llm.config import load_llm
    from knowledge.provenance import cpu_model

    if args.n < 1:
        raise BenchError(f"--n {args.n} must be >= 1")
    config = llm_config_from_args(args)
    if config.backend != "llamacpp":
        raise BenchError(f"--backend {config.backend} has no raw llama-cpp-python baseline; use --backend llamacpp")
    questions = pick_questions(GOLDEN, args.n)
    setups = {name: pipeline(name, config) for name in PIPELINES}
    llms = {name: load_llm(llm_config) for name, (llm_config, _) in setups.items()}
    agents = {name: Agent(llms[name], AgentConfig(role="clinician", verify=not args.no_verify,
                                                  today=dt.date(2026, 11, 22), **overrides))
              for name, (_, overrides) in setups.items()}
    after = llms["after"]
    raw = None if args.no_raw else RawLlama(after.path, n_ctx=config.n_ctx, n_threads=config.threads,
                                              n_threads_batch=config.batch_threads)
    for agent in agents.values():  # warm-up: embedder, indexes, models and pinned heads, before timing;
        agent.ask(WARM_UP)          # not a timed question, so no timed prompt starts out cached
    try:
        records = measure(agents, raw, questions, shows_only_at_end=("before",))
    finally:
        for agent in agents.values():
            agent.close()
        for llm in llms.values():
            llm.close()
        if raw is not None:
            raw.close()
    result = {"provenance": stamp(model_fingerprint=after.fingerprint, llm_config=config.to_dict(),
                                  pipelines={name: {"llm": llm_config.to_dict(),
                                                    "agent": {k: str(v) for k, v in overrides.items()}}
                                             for name, (llm_config, overrides) in setups.items()}),
              "model": after.model_id, "cpu": cpu_model(), "pipelines": PIPELINES, "verify": not args.no_verify,
              "summary": summarise(records, list(PIPELINES)), "records": records}
    out = args.out or ROOT / "benchmarks" / "results" / f"assistant-{dt.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=str))
    print_summary(result)
    print(f"wrote {out}")
    return 0
