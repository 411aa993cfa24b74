"""`cairn eval`: score golden sets with the same agent the chat uses; writes results.jsonl and
summary.json and prints the headline numbers (evals/runner.py does the work)."""
from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from assistant.llm.cli_args import add_llm_arguments

EXAMPLES = """examples:
  cairn eval evals/golden/catalog_qa.jsonl --limit 20
  cairn eval evals/golden/*.jsonl --config eval.toml --out runs/nightly
  cairn eval evals/golden/catalog_qa.jsonl evals/golden/notes_qa.jsonl --fast
  cairn eval my_golden.jsonl --model qwen2.5-coder-1.5b --threads 1 --workers 2

Settings come from (lowest first) built-in defaults, --config TOML, --fast, then explicit flags.
A run is resumable: rerun the same command after a crash or Ctrl-C and finished cases are
kept (same settings only; --no-resume starts over). Every record is in DIR/results.jsonl,
means with bootstrap 95% CIs, per-tag/per-file breakdowns, latencies and provenance in
DIR/summary.json.
"""
# LLMConfig fields behind the shared model flags (assistant/llm/cli_args.py): flag dest -> field.
_LLM_FLAGS = {"model": "model", "backend": "backend", "adapter": "adapter", "base_url": "base_url",
              "threads": "n_threads", "n_ctx": "n_ctx"}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval", help="score golden sets through the chat's own pipeline: metrics with 95%% CIs, resumable",
        description="Run every golden case through the assistant the chat uses (QA cases: Agent.ask with a\n"
                    "fresh conversation as a clinician; extraction cases: extract_note), score each answer\n"
                    "(refusal, ROUGE-L, retrieval NDCG/recall/MRR of the sources, filter accuracy, and the\n"
                    "answer metrics of evals.metrics), and summarise with percentile-bootstrap 95% CIs.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("golden", nargs="+", type=Path, help="golden .jsonl file(s) (DESIGN.md §2 format)")
    p.add_argument("--config", type=Path, help="eval settings as TOML (see evals/config.py for the keys)")
    p.add_argument("--limit", type=int, help="only the first N cases of each golden file (default: all)")
    p.add_argument("--tag", action="append", dest="tags", metavar="TAG",
                   help="only cases with this tag (repeatable: any of them), e.g. --tag unanswerable")
    p.add_argument("--workers", type=int,
                   help="cases run concurrently (default 1). Generation is serialised on the model's lock, so "
                        "extra workers mostly overlap retrieval and scoring with another case's generation "
                        "(and per-case latencies then include waits for the model)")
    p.add_argument("--out", type=Path,
                   help="output folder for results.jsonl and summary.json (default: "
                        "$CAIRN_HOME/evals/runs/<config hash>, so rerunning the same settings resumes)")
    p.add_argument("--fast", action="store_true",
                   help="CI profile: the smallest answer model (qwen2.5-coder-0.5b), the first 10 cases of each "
                        "golden file, the citation verifier on, judge-based metrics off; explicit flags still win")
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                   help="keep the cases already in DIR/results.jsonl (same settings only) and run the rest; "
                        "--no-resume starts over, keeping the old file as results.jsonl.prev (default: resume)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_llm_arguments(p)
    _unset_llm_defaults(p)
    p.set_defaults(func=cmd_eval)


def _unset_llm_defaults(parser: argparse.ArgumentParser) -> None:
    """Make the shared model flags default to None, so a flag the user did not give does not
    override the TOML file or --fast; the help keeps showing the effective default."""
    for action in parser._actions:
        if action.dest in _LLM_FLAGS and action.default is not None:
            if action.help and "%(default)s" in action.help:
                action.help = action.help.replace("%(default)s", str(action.default))
            action.default = None


def config_from_args(args: argparse.Namespace):
    """EvalConfig: defaults < --config < --fast < explicit flags (and $CAIRN_MODEL as a default)."""
    from evals.config import EvalConfig, load_config

    config = load_config(args.config) if args.config else EvalConfig()
    if args.fast:
        config = config.fast()
    changes = {field: getattr(args, dest) for dest, field in _LLM_FLAGS.items() if getattr(args, dest, None) is not None}
    if "model" not in changes and not args.fast and os.environ.get("CAIRN_MODEL") \
            and config.llm.model == EvalConfig().llm.model:
        changes["model"] = os.environ["CAIRN_MODEL"]
    if changes:
        config = config.with_llm(**changes)
    runs = {name: getattr(args, name) for name in ("limit", "workers") if getattr(args, name) is not None}
    if args.tags:
        runs["tags"] = tuple(args.tags)
    return replace(config, **runs) if runs else config


def cmd_eval(args: argparse.Namespace) -> int:
    from evals.runner import run_eval
    from knowledge.home import cairn_home

    config = config_from_args(args)
    out = args.out or cairn_home() / "evals" / "runs" / config.config_hash()
    print(f"cairn eval: {config.llm.model} ({config.llm.backend}), judge {config.judge}, "
          f"{len(args.golden)} golden file(s), output {out}")
    run = run_eval(args.golden, config, out, resume=args.resume, progress=not args.quiet)
    print(format_summary(run.summary))
    print(f"\nwrote {out / 'results.jsonl'} and {out / 'summary.json'}")
    return 0


def format_summary(summary: dict[str, Any], *, max_metrics: int = 40) -> str:
    """The headline numbers as text: counts, each metric's mean [95% CI] (n), throughput."""
    c = summary["counts"]
    skipped = ", ".join(f"{n} {why}" for why, n in c["skipped"].items()) or "0"
    headline = (f"cases {c['cases']} (ok {c['ok']}, errors {c['errors']}, skipped {skipped}; "
                f"{c['reused']} reused, {c['run_now']} run now), refused {c['refused']}, "
                f"judge abstentions {c['abstentions']}"
                + (f", metric errors {sum(c['metric_errors'].values())} (see results.jsonl)" if c.get("metric_errors") else ""))
    lines = [headline, "", f"{'metric':<28}{'mean':>8}  {'95% CI':<17}{'n':>5}"]
    for name, entry in list(summary["metrics"].items())[:max_metrics]:
        if entry["mean"] is None:
            lines.append(f"{name:<28}{'-':>8}  {'':<17}{0:>5}")
            continue
        low, high = entry["ci95"]
        lines.append(f"{name:<28}{entry['mean']:>8.3f}  [{low:.3f}, {high:.3f}]  {entry['n']:>4}")
    hidden = len(summary["metrics"]) - max_metrics
    if hidden > 0:
        lines.append(f"… and {hidden} more in summary.json")
    pooled = (summary.get("extraction") or {}).get("corpus")
    if pooled:
        lines.append(f"extraction pooled over {summary['extraction']['notes']} notes: micro P {pooled['micro_precision']:.3f} "
                     f"R {pooled['micro_recall']:.3f} F1 {pooled['micro_f1']:.3f}")
    t = summary["throughput"]
    if t["cases_per_min"]:
        share = f", assistant {t['assistant_share']:.0%} / scoring {t['scoring_share']:.0%} of case time" \
            if t["assistant_share"] is not None else ""
        lines.append(f"\n{t['cases_run']} cases in {t['wall_s']:.1f} s: {t['cases_per_min']:.2f} cases/min{share}")
    total = summary["latency"].get("qa", {}).get("total_s")
    if total:
        lines.append(f"answer latency p50 {total['p50']:.2f} s, p95 {total['p95']:.2f} s (n={total['n']})")
    return "\n".join(lines)
