"""The model flags every command that runs the answer model shares (`cairn ask|chat|extract|
eval|bench assistant`), derived from LLMConfig so a new setting is one line here."""
from __future__ import annotations

import argparse
import os

from assistant.llm.config import DEFAULT_MODEL, LLMConfig


def add_llm_arguments(parser: argparse.ArgumentParser, *, default_model: str | None = None) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--model", default=default_model or os.environ.get("CAIRN_MODEL") or DEFAULT_MODEL,
                       help="catalogue name (`cairn models list`), a .gguf file or model folder, or the "
                            "server's model name with --backend openai (default: $CAIRN_MODEL or %(default)s)")
    group.add_argument("--backend", choices=("llamacpp", "hf", "openai"), default="llamacpp",
                       help="llamacpp (in-process, fastest on CPU), hf (transformers + peft adapters), or "
                            "openai (any OpenAI-compatible server) (default: %(default)s)")
    group.add_argument("--adapter", help="a GGUF LoRA file (llamacpp) or a peft adapter folder (hf)")
    group.add_argument("--base-url", help="the server's OpenAI base URL for --backend openai, "
                                          "e.g. http://127.0.0.1:8080/v1")
    group.add_argument("--threads", type=int, help="CPU threads for decoding (default: the count `cairn bench "
                                                   "threads` measured fastest here, else half the CPUs)")
    group.add_argument("--batch-threads", type=int,
                       help="CPU threads for prompt evaluation (default: every CPU available)")
    group.add_argument("--n-ctx", type=int, default=4096, help="context window in tokens (default: %(default)s)")


def llm_config_from_args(args: argparse.Namespace) -> LLMConfig:
    return LLMConfig(backend=args.backend, model=args.model, adapter=args.adapter, base_url=args.base_url,
                     n_threads=args.threads, n_threads_batch=args.batch_threads, n_ctx=args.n_ctx)
