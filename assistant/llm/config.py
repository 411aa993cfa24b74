"""Which LLM cairn talks to and how: the typed `LLMConfig`, checked when built, and
`load_llm(config)` that turns it into a `ChatLLM` (DESIGN.md §3, §4).

    LLMConfig()                                      llama.cpp, qwen2.5-coder-1.5b (the default)
    LLMConfig(model="smollm2-135m", n_threads=2)     a catalogue name, a .gguf path or a folder
    LLMConfig(backend="hf", model="finetune/out", adapter="adapters/dpo-3")   transformers + peft
    LLMConfig(backend="openai", base_url="http://127.0.0.1:8000/v1", model="qwen")  vLLM, llama.cpp server, Ollama

A config is recorded in provenance as is, so it never holds a secret: `api_key_env` names
the environment variable that holds the key.
"""
from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal, get_args

from assistant.llm.base import ChatLLM, LLMConfigError, Sampling

Backend = Literal["llamacpp", "hf", "openai"]
Dtype = Literal["auto", "float32", "bfloat16"]
DEFAULT_MODEL = "qwen2.5-coder-1.5b"  # DESIGN.md §4: best quality found among the offline models
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def default_batch_threads() -> int:
    """Every CPU this process may use, at most 16. Prompt evaluation is compute-bound matrix
    work that scales with cores (measured on the 2-core machine: 2 threads prefill a 900-token
    prompt in 0.54x the time of 1, AVX-512 and AVX2-only builds alike, with bit-identical
    replies and scores), while decoding is memory-bound and keeps `default_threads()`."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(16, available))


def default_threads() -> int:
    """Half the logical CPUs, at most 8: llama.cpp and torch decode best on physical cores,
    and on the 2 shared cores we measured 1 thread often beating 2 (DESIGN.md §6)."""
    return max(1, min(8, (os.cpu_count() or 2) // 2))


@dataclass(frozen=True)
class LLMConfig:
    """Settings of the answer model.

    Fields:
        backend: "llamacpp" (in-process llama.cpp, the serving default), "hf" (transformers,
            optional peft adapter; the training path) or "openai" (any OpenAI-compatible server).
        model: catalogue name (`cairn models list`), a local .gguf file or model folder, or
            for backend=openai the model name the server expects.
        adapter: llamacpp: a GGUF LoRA file; hf: a peft adapter folder; not for openai.
        n_threads: CPU threads for decoding (llamacpp, hf); None = the count `cairn bench threads`
            measured fastest for this model on this machine, else `default_threads()`.
        n_threads_batch: llamacpp: CPU threads for prompt evaluation; None =
            `default_batch_threads()` (every CPU available).
        n_ctx: context window in tokens (prompt + reply) for llamacpp.
        temperature: default sampling temperature; 0 = greedy (deterministic).
        max_tokens: default cap on generated tokens.
        seed: default sampling seed (None = a fresh one each call).
        base_url: the server's OpenAI base URL, e.g. http://127.0.0.1:8080/v1 (openai only).
        api_key_env: name of the environment variable holding the server's API key, if any.
        prompt_cache: llamacpp: keep the state after each prompt in RAM (least recently used
            out first), so a later prompt sharing its opening blocks restores them instead of
            evaluating them: a judge prompt for a claim citing a passage an earlier claim cited,
            a regenerated answer. A state costs ~28 KB per prompt token with the 1.5B model.
        prompt_cache_mb: size of that RAM cache.
        pin_prefixes: llamacpp: keep the evaluated state of each prompt kind's fixed head (the
            answer rules and worked example, the judge instruction; `ChatLLM.pin_prefix`) for the
            life of the model, so no request evaluates it again. Off only to measure its effect.
        prompt_block: llamacpp: prompts are evaluated in blocks of this many tokens at aligned
            positions and reused only in whole blocks, which keeps replies identical with or
            without reuse (assistant/llm/prefix_cache.py). Smaller reuses more of a shared
            prefix; larger evaluates long prompts in fewer, bigger batches.
        dtype: hf weights dtype; "auto" = bfloat16 for model folders where the CPU has fast
            bf16 matmuls, float32 for GGUF files (transformers computes those in float32).
        timeout_s: openai: seconds to wait for the server before failing.
    """

    backend: Backend = "llamacpp"
    model: str = DEFAULT_MODEL
    adapter: str | None = None
    n_threads: int | None = None
    n_threads_batch: int | None = None
    n_ctx: int = 4096
    temperature: float = 0.0
    max_tokens: int = 512
    seed: int | None = 0
    base_url: str | None = None
    api_key_env: str | None = None
    prompt_cache: bool = True
    prompt_cache_mb: int = 512
    pin_prefixes: bool = True
    prompt_block: int = 64
    dtype: Dtype = "auto"
    timeout_s: float = 120.0

    def __post_init__(self) -> None:
        if self.backend not in get_args(Backend):
            raise LLMConfigError(f"backend={self.backend!r} is unknown; use one of {', '.join(get_args(Backend))}")
        if not self.model.strip():
            raise LLMConfigError(f"model is empty; use a catalogue name like {DEFAULT_MODEL!r} or a path")
        if self.n_threads is not None and not 1 <= self.n_threads <= 256:
            raise LLMConfigError(f"n_threads={self.n_threads} must be in 1..256 (or None for {default_threads()})")
        if self.n_threads_batch is not None and not 1 <= self.n_threads_batch <= 256:
            raise LLMConfigError(f"n_threads_batch={self.n_threads_batch} must be in 1..256 (or None for "
                                 f"{default_batch_threads()})")
        if not 128 <= self.n_ctx <= 1_048_576:
            raise LLMConfigError(f"n_ctx={self.n_ctx} must be in 128..1048576 tokens")
        if not 1 <= self.max_tokens < self.n_ctx:
            raise LLMConfigError(f"max_tokens={self.max_tokens} must be >= 1 and below n_ctx={self.n_ctx}")
        if not 0.0 <= self.temperature <= 2.0:
            raise LLMConfigError(f"temperature={self.temperature} must be in [0, 2] (0 = greedy)")
        if self.prompt_cache_mb < 1:
            raise LLMConfigError(f"prompt_cache_mb={self.prompt_cache_mb} must be >= 1")
        # A multiple of 16: llama.cpp's repacked-weight kernels take batch rows in groups of 4 or
        # 8, so every whole block is computed by the same kernels wherever it falls.
        if not (16 <= self.prompt_block <= self.n_ctx and self.prompt_block % 16 == 0):
            raise LLMConfigError(f"prompt_block={self.prompt_block} must be a multiple of 16 in 16..n_ctx "
                                 f"({self.n_ctx}); 64 is the default")
        if self.dtype not in get_args(Dtype):
            raise LLMConfigError(f"dtype={self.dtype!r} is unknown; use one of {', '.join(get_args(Dtype))}")
        if self.timeout_s <= 0:
            raise LLMConfigError(f"timeout_s={self.timeout_s} must be > 0 seconds")
        if self.api_key_env is not None and not _ENV_NAME_RE.match(self.api_key_env):
            raise LLMConfigError(f"api_key_env={self.api_key_env!r} must be an environment variable NAME "
                                 "(e.g. OPENAI_API_KEY), never the key itself")
        self._check_backend_fields()

    def _check_backend_fields(self) -> None:
        if self.backend == "openai":
            if not self.base_url or not re.match(r"^https?://[^/\s]+", self.base_url):
                raise LLMConfigError(f"backend=openai needs base_url like http://127.0.0.1:8080/v1, got "
                                     f"{self.base_url!r}")
            if self.adapter:
                raise LLMConfigError(f"adapter={self.adapter!r} cannot be loaded into a remote server; load it "
                                     "on the server, or use backend=hf (peft folder) / llamacpp (GGUF LoRA)")
        elif self.base_url:
            raise LLMConfigError(f"base_url={self.base_url!r} is only used by backend=openai; "
                                 f"drop it or set backend='openai' (backend is {self.backend!r})")

    @property
    def threads(self) -> int:
        """Decode threads: n_threads, else the count `cairn bench threads` measured fastest for
        this model on this machine (assistant/llm/threads.py), else `default_threads()`."""
        if self.n_threads:
            return self.n_threads
        from assistant.llm.threads import recorded_threads

        return (recorded_threads(self.model) if self.backend == "llamacpp" else None) or default_threads()

    @property
    def batch_threads(self) -> int:
        return self.n_threads_batch or default_batch_threads()

    @property
    def sampling(self) -> Sampling:
        return Sampling(max_tokens=self.max_tokens, temperature=self.temperature, seed=self.seed)

    def to_dict(self) -> dict[str, Any]:
        """For provenance records (holds no secret: the API key stays in the environment). The
        thread counts are recorded as used, not as None."""
        return {**asdict(self), "n_threads": self.threads, "n_threads_batch": self.batch_threads}


def load_llm(config: LLMConfig | None = None) -> ChatLLM:
    """Build the backend `config` names. Heavy libraries are imported here, per backend, so
    `import assistant.llm` stays cheap and a missing llama-cpp-python only matters to its users."""
    config = route_registered_build(config or LLMConfig())
    if config.backend == "openai":
        from assistant.llm.openai_compat import OpenAICompatLLM

        return OpenAICompatLLM.from_config(config)
    if config.backend == "hf":
        from assistant.llm.hf import HFLLM

        return HFLLM.from_config(config)
    from assistant.llm.llamacpp import LlamaCppLLM

    return LlamaCppLLM.from_config(config)


def route_registered_build(config: LLMConfig) -> LLMConfig:
    """A fine-tuned build that `cairn gate` registered names how it is served (the `build.serve`
    key of its registry entry, finetune/builds.py): a peft adapter runs on backend hf over its
    base, a transformers or nf4/int8 folder on backend hf (llama.cpp cannot open it), a GGUF on
    either backend. Catalogue names, paths and unregistered names pass through unchanged."""
    from knowledge.models_catalogue import catalogue_names
    from knowledge.models_registry import get_entry

    if config.backend == "openai" or config.model in catalogue_names() or Path(config.model).expanduser().exists():
        return config
    try:
        entry = get_entry(config.model)
    except Exception:  # an unreadable registry is reported by resolve_model, with its fix
        return config
    serve = (entry.extra.get("build") or {}).get("serve") if entry is not None else None
    if not isinstance(serve, dict):
        return config
    if "base" in serve:  # an adapter: load its base with the adapter on top
        if config.adapter:
            raise LLMConfigError(f"{config.model!r} is a registered adapter build; drop --adapter "
                                 f"({config.adapter!r}), or pass the base model with --adapter instead")
        from knowledge.home import models_dir

        base = Path(serve["base"])
        base = base if base.is_absolute() else models_dir() / base
        return replace(config, backend="hf", model=str(base), adapter=str(entry.abspath))
    if serve.get("backend") == "hf" and config.backend == "llamacpp":
        return replace(config, backend="hf")
    return config


def model_fingerprint(path: Path) -> str:
    """Provenance id of a model file or folder: the registry's sha256 when `cairn models`
    recorded one for this exact path (hashing a 1 GB file on every load would cost seconds),
    else size and name (plus mtime: a rebuilt file of the same size still differs)."""
    from knowledge.models_registry import read_entries

    path = path.resolve()
    try:
        entries = read_entries().values()
    except Exception:  # an unreadable registry must not stop a model from loading
        entries = []
    for entry in entries:
        if entry.sha256 and entry.abspath.resolve() == path:
            return f"sha256:{entry.sha256}"
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    size = sum(f.stat().st_size for f in files)
    mtime = max((int(f.stat().st_mtime) for f in files), default=0)
    return f"size:{size}:{path.name}:{mtime}"


def local_model_path(model: str) -> tuple[str, Path]:
    """(model_id, local path) for a catalogue name or a path; raises the knowledge
    package's ModelNotFoundError (a CairnError) with the `cairn models pull` fix."""
    from knowledge.models import resolve_model

    path = resolve_model(model)
    model_id = model if not Path(model).expanduser().exists() else path.name
    return model_id, path
