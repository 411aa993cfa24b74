"""`cairn bench assistant`: where the time of one answer goes, and what cairn adds on top of
the raw engine, measured on golden questions against baselines taken in the same run.

For each question (N=20 by default, spread over the golden sets):
  ours  Agent.ask with streaming: time to first token from the moment the question arrives
        (route + retrieve + transforms + prompt + prefill), the decode rate seen by the
        stream callback, total latency, and each stage's share (route, retrieve, transforms,
        generate, verify).
  raw   the same GGUF loaded directly with llama_cpp.Llama (same threads, context, loading
        flags), fed the exact messages our answer step sent, for the same number of tokens:
        its time to first token is the raw prefill of our prompt, its decode rate the engine's.
The two runs alternate order question by question (ours first on even, raw first on odd), so
machine drift hits both; ratios are taken per question and summarised by median and spread.
Decode rates are measured identically for both, from the stream: (tokens - 1) / (last piece -
first piece). Targets: decode ratio >= 0.9; the TTFT ratio shows what our stages add.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from assistant.prompts import build_messages
from knowledge.bench import bench_suites, percentile
from knowledge.errors import CairnError
from knowledge.provenance import ROOT, stamp

GOLDEN = (ROOT / "evals" / "golden" / "catalog_retrieval.jsonl", ROOT / "evals" / "golden" / "notes_qa.jsonl")
STAGES = ("route_s", "retrieve_s", "transforms_s", "generate_s", "verify_s")


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
    return build_messages(question, [h.chunk for h in result.hits], []) if result.hits else None


def measure(agent: Any, raw: RawLlama | None, questions: Sequence[tuple[str, str]], *,
            progress: bool = True) -> list[dict[str, Any]]:
    records = []
    for i, (collection, question) in enumerate(questions):
        record: dict[str, Any] = {"question": question, "collection": collection}
        messages = prompt_of(agent, question)

        def ours() -> None:
            answer, total, stamps = _timed_stream(lambda cb: agent.ask(question, stream_callback=cb))
            n_out = int(answer.trace.get("completion_tokens") or 0)
            record.update(refused=answer.refused, tool=(answer.trace.get("tool") or {}).get("name"),
                          prompt_tokens=answer.trace.get("prompt_tokens"), completion_tokens=n_out,
                          ttft_s=answer.timings.get("pipeline_ttft_s"), total_s=total,
                          decode_tok_s=stream_rate(stamps, n_out),
                          stages={k: answer.timings.get(k) or 0.0 for k in STAGES})

        def baseline() -> None:
            if raw is None or not messages:
                return
            # Greedy on the same prompt: the same reply as ours, up to the same cap.
            n, total, stamps = _timed_stream(lambda cb: raw.stream(messages, agent.config.max_tokens or 256, cb))
            record["raw"] = {"ttft_s": stamps[0] if stamps else None, "total_s": total, "tokens": n,
                             "decode_tok_s": stream_rate(stamps, n)}

        for run in ((ours, baseline) if i % 2 == 0 else (baseline, ours)):
            run()
        records.append(record)
        if progress:
            r = record.get("raw") or {}
            print(f"[{i + 1}/{len(questions)}] ttft {record['ttft_s'] or 0:.2f}s (raw prefill "
                  f"{r.get('ttft_s') or 0:.2f}s)  decode {record['decode_tok_s'] or 0:.1f} tok/s (raw "
                  f"{r.get('decode_tok_s') or 0:.1f})  total {record['total_s']:.1f}s  {question[:50]!r}", flush=True)
    return records


def summarise(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    def stats(values: list[float]) -> dict[str, float] | None:
        values = [v for v in values if v is not None]
        if not values:
            return None
        return {"p50": statistics.median(values), "p95": percentile(values, 0.95), "min": min(values),
                "max": max(values), "n": len(values)}

    totals = [r["total_s"] for r in records]
    stage_sum = {k: sum(r["stages"][k] for r in records) for k in STAGES}
    grand = sum(totals) or 1.0
    shares = {k: v / grand for k, v in stage_sum.items()}
    shares["other"] = max(0.0, 1.0 - sum(shares.values()))
    with_raw = [r for r in records if r.get("raw") and r["raw"].get("decode_tok_s") and r.get("decode_tok_s")]
    return {
        "n": len(records),
        "ttft_s": stats([r["ttft_s"] for r in records]),
        "total_s": stats(totals),
        "decode_tok_s": stats([r["decode_tok_s"] for r in records]),
        "raw_prefill_s": stats([r["raw"]["ttft_s"] for r in records if r.get("raw")]),
        "raw_decode_tok_s": stats([r["raw"]["decode_tok_s"] for r in records if r.get("raw")]),
        "decode_ratio": stats([r["decode_tok_s"] / r["raw"]["decode_tok_s"] for r in with_raw]),
        "ttft_ratio": stats([r["ttft_s"] / r["raw"]["ttft_s"] for r in records
                             if r.get("raw") and r["raw"].get("ttft_s") and r.get("ttft_s")]),
        "stage_share": shares,
        "refused": sum(1 for r in records if r["refused"]),
    }


def print_summary(result: dict[str, Any]) -> None:
    s = result["summary"]

    def fmt(block: dict[str, float] | None, unit: str = "") -> str:
        if not block:
            return "n/a"
        return f"p50 {block['p50']:.2f}{unit}  p95 {block['p95']:.2f}{unit}  (min {block['min']:.2f}, max {block['max']:.2f})"

    print(f"\nassistant benchmark: {s['n']} questions, model {result['model']}, {result['threads']} thread(s)")
    print(f"  time to first token   {fmt(s['ttft_s'], ' s')}")
    print(f"  raw prefill (same)    {fmt(s['raw_prefill_s'], ' s')}")
    print(f"  TTFT / raw prefill    {fmt(s['ttft_ratio'], 'x')}")
    print(f"  decode tokens/s       {fmt(s['decode_tok_s'])}")
    print(f"  raw decode tokens/s   {fmt(s['raw_decode_tok_s'])}")
    print(f"  decode ratio          {fmt(s['decode_ratio'], 'x')}   (target >= 0.9)")
    print(f"  total latency         {fmt(s['total_s'], ' s')}")
    print("  share of total time   " + ", ".join(f"{k.removesuffix('_s')} {v:.0%}" for k, v in s["stage_share"].items()))
    print(f"  refused               {s['refused']}/{s['n']}")


def register(subparsers: argparse._SubParsersAction) -> None:
    from assistant.llm.cli_args import add_llm_arguments

    p = bench_suites(subparsers).add_parser(
        "assistant", help="time to first token, decode rate and stage shares vs raw llama-cpp-python",
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

    if args.n < 1:
        raise BenchError(f"--n {args.n} must be >= 1")
    config = llm_config_from_args(args)
    if config.backend != "llamacpp":
        raise BenchError(f"--backend {config.backend} has no raw llama-cpp-python baseline; use --backend llamacpp")
    questions = pick_questions(GOLDEN, args.n)
    llm = load_llm(config)
    agent = Agent(llm, AgentConfig(role="clinician", verify=not args.no_verify, today=dt.date(2026, 11, 22)))
    raw = None if args.no_raw else RawLlama(llm.path, n_ctx=config.n_ctx, n_threads=config.threads,
                                              n_threads_batch=config.batch_threads)
    agent.ask(questions[0][1])  # warm-up: embedder, indexes and both models loaded before timing
    try:
        records = measure(agent, raw, questions)
    finally:
        agent.close()
        llm.close()
        if raw is not None:
            raw.close()
    result = {"provenance": stamp(model_fingerprint=llm.fingerprint, llm_config=config.to_dict()),
              "model": llm.model_id, "threads": config.threads, "verify": not args.no_verify,
              "summary": summarise(records), "records": records}
    out = args.out or ROOT / "benchmarks" / "results" / f"assistant-{dt.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=str))
    print_summary(result)
    print(f"wrote {out}")
    return 0
