"""`cairn sft|dpo`: train a LoRA adapter from the command line. The flags are derived from the
fields of `SFTConfig` / `DPOConfig` (name → --kebab-name, type → argparse type, Literal →
choices, bool → switch, tuple → one or more values, field help → help), so the CLI and the
configs cannot drift; validation stays in the configs' `__post_init__`.

Nothing heavy is imported to build the parser (the configs import torch only when made), so
`cairn --help` stays fast.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from typing import Any, Literal

from finetune.dpo import DPOConfig
from finetune.sft import SFTConfig

ConfigT = typing.TypeVar("ConfigT", SFTConfig, DPOConfig)


def add_config_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """One flag per dataclass field of `cls`; fields without a default are required flags.
    A field whose metadata says `positional` becomes a positional argument instead (a tuple
    field takes one or more values)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if f.metadata.get("positional"):
            many = typing.get_origin(kind) is tuple
            parser.add_argument(f.name, metavar=f.name.upper().rstrip("S") if many else f.name.upper(),
                                nargs="+" if many else None, type=typing.get_args(kind)[0] if many else kind,
                                help=f.metadata.get("help", ""))
            continue
        flag = "--" + f.name.replace("_", "-")
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        spec: dict[str, Any] = {"dest": f.name, "help": f.metadata.get("help", "")}
        if kind is bool:
            spec.update(action="store_true")
        elif typing.get_origin(kind) is Literal:
            spec.update(choices=typing.get_args(kind), default=f.default)
        elif typing.get_origin(kind) is tuple:
            spec.update(nargs="+", type=typing.get_args(kind)[0], metavar=f.name.upper().rstrip("S") or "VALUE")
        else:
            spec.update(type=kind)
        if required:
            spec["required"] = True
        elif kind is not bool:
            spec["default"] = f.default
            if f.default not in ((), None, ""):
                spec["help"] += " (default: %(default)s)"
        parser.add_argument(flag, **spec)


def config_from_args(cls: type[ConfigT], args: argparse.Namespace) -> ConfigT:
    return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls)})


def _report(kind: str, result: Any) -> None:
    last = result.history[-1] if result.history else {}
    resumed = f", resumed at step {result.resumed_from}" if result.resumed_from is not None else ""
    print(f"{kind}: {len(result.history)} steps in {result.seconds:.1f}s{resumed}; final loss "
          f"{last.get('loss', float('nan')):.4f}; adapter in {result.out}", file=sys.stderr)


def cmd_sft(args: argparse.Namespace) -> int:
    from finetune.sft import train_sft

    _report("sft", train_sft(config_from_args(SFTConfig, args), progress=not args.quiet))
    return 0


def cmd_dpo(args: argparse.Namespace) -> int:
    from finetune.dpo import train_dpo

    _report("dpo", train_dpo(config_from_args(DPOConfig, args), progress=not args.quiet))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `cairn sft` and `cairn dpo` to the root CLI."""
    commands = (
        ("sft", SFTConfig, cmd_sft, "supervised fine-tuning of a LoRA adapter",
         "Fine-tune a LoRA adapter on chat examples (JSONL `messages`, or kb:catalog for synthetic cited QA "
         "from the index), with the loss on the assistant reply only. A GGUF base is converted once into "
         "$CAIRN_HOME/models/<name>-hf. Writes the peft adapter, loss.csv/loss.png, checkpoints and "
         "provenance.json into --out."),
        ("dpo", DPOConfig, cmd_dpo, "preference-tune a LoRA adapter with DPO",
         "Direct Preference Optimization on preference pairs (JSONL prompt/chosen/rejected/source/created, e.g. "
         "from `cairn grades export --preferences`), or kb:catalog for synthetic pairs from the index (the cited "
         "answer over an uncited, wrong-fact or over-refusing one). To continue from an SFT adapter, "
         "`cairn merge` it first and pass the merged folder as --base. "
         "The reference log-probs come from the base model with the adapter disabled, computed once and "
         "stored in --out. Same artifacts as `cairn sft`."),
    )
    for parser in add_config_commands(subparsers, commands).values():
        parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def add_config_commands(subparsers: argparse._SubParsersAction,
                        commands: tuple[tuple[str, type, Any, str, str], ...]) -> dict[str, argparse.ArgumentParser]:
    """One subcommand per (name, config class, handler, help, description), its flags derived
    from the config (add_config_arguments); returns the parsers by name for extra flags."""
    parsers = {}
    for name, cls, func, help_text, description in commands:
        parser = subparsers.add_parser(name, help=help_text, description=description)
        add_config_arguments(parser, cls)
        parser.set_defaults(func=func)
        parsers[name] = parser
    return parsers
