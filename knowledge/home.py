"""Where cairn keeps its state: one data directory (CAIRN_HOME, default ./.cairn) holding
indexes, the model cache, grades, eval history, adapters and builds (DESIGN.md §1).

Also the offline switches: every entry point calls `set_offline_env()` before importing
huggingface/chroma/gradio so that nothing tries the network (a hub name would otherwise
hang ~70 s before failing).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "RAGAS_DO_NOT_TRACK": "true",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
    # On 2 shared cores OpenMP spin-waiting collapses throughput 3-10x (DESIGN.md §6).
    "OMP_WAIT_POLICY": "PASSIVE",
}


def set_offline_env() -> None:
    """Set the offline/telemetry switches unless the user already chose a value."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    # bitsandbytes warns on import that it cannot fetch a CPU kernel from the hub; we keep the
    # `kernels` package out on purpose (it would download at run time), so the warning is noise.
    logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)


def cairn_home() -> Path:
    """The data directory; created on first use."""
    home = Path(os.environ.get("CAIRN_HOME", ".cairn")).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home


def index_dir(collection: str) -> Path:
    """Directory of one collection's indexes (docstore, Chroma, BM25)."""
    path = cairn_home() / "index" / collection
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    path = cairn_home() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path
