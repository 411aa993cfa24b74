"""`cairn bench threads`: decode tokens/s of one model at 1..N threads on this machine, runs
alternating so drift hits every count alike, and the fastest recorded as this machine's decode
thread count for that model (assistant/llm/threads.py says how it is used, and why).
"""
from __future__ import annotations

import argparse
import os
import statistics
from collections.abc import Sequence

from assistant.llm.threads import recorded_threads, save_record
from knowledge.bench import bench_suites
from knowledge.errors import CairnError

# A prompt whose greedy continuation runs long, so every run decodes the same number of tokens.
PROMPT = [{"role": "user", "content": "Describe, in two long paragraphs, how a glacier forms and moves."}]


class ThreadsBenchError(CairnError):
    """A bad argument to `cairn bench threads`."""


def measure_decode(llm, counts: Sequence[int], *, tokens: int = 48, repeats: int = 3,
                   progress: bool = True) -> dict[int, list[float]]:
    """{threads: [decode tokens/s per repeat]} for a loaded llama.cpp model, the order of the
    counts rotating each repeat. Prompt evaluation keeps every CPU; only decoding varies."""
    rates: dict[int, list[float]] = {n: [] for n in counts}
    for r in range(repeats):
        order = list(counts[r % len(counts):]) + list(counts[:r % len(counts)])
        for n in order:
            llm.set_threads(n)
            completion = llm.chat(PROMPT, max_tokens=tokens)
            rate = completion.timings.get("decode_tok_s")
            if rate:
                rates[n].append(float(rate))
            if progress:
                print(f"  repeat {r + 1}/{repeats}: {n} thread(s) {rate or 0:.2f} tok/s", flush=True)
    return rates


def register(subparsers: argparse._SubParsersAction) -> None:
    from assistant.llm.cli_args import add_llm_arguments

    p = bench_suites(subparsers).add_parser(
        "threads", help="measure decode speed at 1..N threads and record the fastest for this machine",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--max-threads", type=int, default=min(8, os.cpu_count() or 1),
                   help="highest thread count tried (default: the CPUs, at most 8: %(default)s)")
    p.add_argument("--tokens", type=int, default=48, help="tokens decoded per run (default %(default)s)")
    p.add_argument("--repeats", type=int, default=3, help="runs per thread count (default %(default)s)")
    p.add_argument("--if-missing", action="store_true",
                   help="do nothing when this machine already has a recorded choice for the model")
    add_llm_arguments(p)
    p.set_defaults(func=cmd_bench_threads)


def cmd_bench_threads(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from assistant.llm.cli_args import llm_config_from_args
    from assistant.llm.config import load_llm
    from knowledge.provenance import stamp

    if args.max_threads < 1 or args.tokens < 2 or args.repeats < 1:
        raise ThreadsBenchError(f"--max-threads {args.max_threads}, --tokens {args.tokens} and --repeats "
                                f"{args.repeats} must be >= 1, >= 2 and >= 1")
    config = llm_config_from_args(args)
    if config.backend != "llamacpp":
        raise ThreadsBenchError(f"--backend {config.backend}: only llama.cpp decodes in this process")
    known = recorded_threads(config.model)
    if args.if_missing and known is not None:
        print(f"{config.model}: {known} decode thread(s), measured earlier on this machine")
        return 0
    llm = load_llm(replace(config, prompt_cache=False))
    try:
        rates = measure_decode(llm, list(range(1, args.max_threads + 1)), tokens=args.tokens, repeats=args.repeats)
    finally:
        llm.close()
    if not any(rates.values()):
        raise ThreadsBenchError(f"no decode rate was measured for {config.model}; raise --tokens")
    best = save_record(config.model, rates, stamp(model_fingerprint=llm.fingerprint))
    for n, values in rates.items():
        print(f"  {n} thread(s): median {statistics.median(values):.2f} tok/s "
              f"(min {min(values):.2f}, max {max(values):.2f})" if values else f"  {n} thread(s): no rate")
    print(f"{config.model}: {best} decode thread(s) recorded for this machine (the highest median); "
          "`--threads` still overrides it")
    return 0
