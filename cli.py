"""The `cairn` console script: one argparse tree, each package owning its subcommands.

Every package exposes `register(subparsers)` in its `cli.py`; each subcommand sets
`func(args) -> int`. User errors (any `CairnError`) become one clean line on stderr and exit
status 2 — a traceback is for bugs only.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from knowledge.home import set_offline_env

# Order is the order of `cairn --help`.
COMMAND_MODULES = ("knowledge.cli", "assistant.cli", "assistant.extract.cli", "evals.eval_cli", "evals.compare", "evals.nightly_cli", "evals.cli", "evals.injection_cli", "evals.calibration_cli", "evals.grading.cli", "assistant.users_cli", "knowledge.audit_cli", "knowledge.models_cli", "knowledge.demo.cli", "finetune.pipeline_cli", "finetune.build_cli", "knowledge.bench", "assistant.bench", "assistant.bench_threads", "assistant.bench_ui", "app")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cairn",
        description="Local, private assistant over a catalog and clinical notes, with verified citations.",
        epilog="State lives under $CAIRN_HOME (default ./.cairn).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def _walk(parser: argparse.ArgumentParser, path: list[str]):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, [*path, name])


def render_cli_reference() -> str:
    """docs/cli.md: every command's --help, generated so the docs cannot drift (a test checks)."""
    parts = ["# cairn command reference", "", "Generated from `cairn --help` by `make docs`; do not edit by hand.", ""]
    for path, parser in _walk(build_parser(), ["cairn"]):
        parser.formatter_class = lambda prog: argparse.HelpFormatter(prog, width=100)
        parts += [f"## `{' '.join(path)}`", "", "```text", parser.format_help().rstrip(), "```", ""]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    set_offline_env()
    from knowledge.errors import CairnError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except CairnError as exc:
        print(f"cairn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cairn {args.command}: interrupted; completed work is kept, rerun to finish.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
