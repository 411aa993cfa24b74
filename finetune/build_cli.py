"""`cairn merge|quantize|gate`: from a trained adapter to a registered, servable build.

    cairn merge ADAPTER [ADAPTER…] --out DIR [--method task-arithmetic|ties|lerp|slerp]
    cairn quantize MODEL --format nf4|int8|gguf-q8_0|gguf-q4_0|gguf-q4_k_m|gguf-f16 [--out DIR]
    cairn gate CANDIDATE [--base MODEL] [--name NAME]      → verdict table; registers on pass

As with `cairn sft|dpo` (pipeline_cli.py), the flags are derived from the config dataclasses
(MergeRunConfig, QuantizeConfig, GateConfig), whose `__post_init__` validates them. `cairn gate`
exits 0 on pass, 1 on fail; user errors exit 2 through cli.py's CairnError handling.
"""
from __future__ import annotations

import argparse
import json
import sys

from finetune.gate import GateConfig
from finetune.merge import MergeRunConfig
from finetune.pipeline_cli import add_config_commands, config_from_args
from finetune.quantize import QuantizeConfig


def cmd_merge(args: argparse.Namespace) -> int:
    from finetune.merge import merge_adapters

    result = merge_adapters(config_from_args(MergeRunConfig, args))
    diff = result.parity.max_abs_diff
    parity = "n/a (no unmerged form)" if diff is None else f"max |Δlogit| {diff:.2e} ≤ {result.parity.tol:g}"
    print(f"merge: {len(args.adapters)} adapter(s) → {result.out}; parity {parity}", file=sys.stderr)
    return 0


def cmd_quantize(args: argparse.Namespace) -> int:
    from finetune.quantize import quantize

    result = quantize(config_from_args(QuantizeConfig, args))
    error = result.provenance.get("weight_error", {})
    print(f"quantize: {result.format} build, {result.size_bytes / 2**20:.1f} MiB, mean weight rel. RMSE "
          f"{error.get('mean_rel_rmse', float('nan')):.4f} → {result.artifact}", file=sys.stderr)
    return 0


def cmd_gate(args: argparse.Namespace) -> int:
    from finetune.gate_run import run_gate

    report = run_gate(config_from_args(GateConfig, args))
    print(report.table())
    if args.json:
        print(json.dumps(report.to_json(), indent=2, default=str))
    if report.registered is not None:
        print(f"registered as {report.registered.name!r}: `cairn ask --model {report.registered.name} …` serves it",
              file=sys.stderr)
    return 0 if report.passed else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `cairn merge`, `cairn quantize` and `cairn gate` to the root CLI."""
    commands = (
        ("merge", MergeRunConfig, cmd_merge, "merge LoRA adapters into their base model",
         "Fold one peft adapter into its base (a plain merge), or combine several adapters of one base with "
         "task arithmetic, TIES, LERP or SLERP. Checks that the merged model's logits equal the unmerged "
         "adapters' on fixed prompts (where the method has an unmerged form) before writing a transformers "
         "folder with provenance.json into --out."),
        ("quantize", QuantizeConfig, cmd_quantize, "quantize a model to NF4, INT8 or GGUF",
         "nf4 / int8: our QuantLinear weights in a transformers folder that backend hf loads. gguf-q8_0 / "
         "gguf-q4_0 / gguf-q4_k_m / gguf-f16: a GGUF file with the tokenizer and chat template of the GGUF the "
         "model came from, which llama.cpp serves. Writes provenance.json beside the build."),
        ("gate", GateConfig, cmd_gate, "release gate: compare a build with its base and register it on pass",
         "Compares CANDIDATE (adapter, merged folder, nf4/int8 build or GGUF) with the model it was made from: "
         "token-level KL, held-out perplexity, EOS on chat prompts, chat-template round trip, merged-vs-unmerged "
         "parity, and optionally golden-set scores. Prints a verdict table; on pass registers the build in "
         "$CAIRN_HOME/models/registry.json so `cairn ask --model NAME` serves it. Exit status 1 on fail."),
    )
    parsers = add_config_commands(subparsers, commands)
    parsers["gate"].add_argument("--json", action="store_true", help="also print the report as JSON")
