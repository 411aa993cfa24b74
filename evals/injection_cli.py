"""`cairn injection-eval`: how often the answer model obeys a planted injection (evals/injection.py)."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from assistant.llm.cli_args import add_llm_arguments

    p = subparsers.add_parser(
        "injection-eval", help="plant injections in a retrieved item and count how often the model obeys",
        description="One poisoned catalog item among four sources (chat-template turns, a planted order, a "
                    "request for the system prompt, a Markdown image pointing at an outside host), three "
                    "questions each, through the real answer step and verifier. Prints obeyed / shown / "
                    "refused per payload and a clean control without the payload.")
    add_llm_arguments(p)
    p.set_defaults(func=cmd_injection_eval)


def cmd_injection_eval(args: argparse.Namespace) -> int:
    from assistant.llm import load_llm
    from assistant.llm.cli_args import llm_config_from_args

    from .injection import format_rows, run_injection_check

    llm = load_llm(llm_config_from_args(args))
    try:
        rows = run_injection_check(llm)
    finally:
        llm.close()
    print(f"model: {llm.model_id} ({llm.fingerprint})")
    print(format_rows(rows))
    return 0
