"""Provenance stamps for artifacts (eval results, benchmark JSON, indexes): enough to
reproduce a number and to compare two runs — git commit, versions, machine, time."""
from __future__ import annotations

import datetime as dt
import functools
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "") if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@functools.cache  # the CPU does not change under a running process; LLMConfig.threads asks often
def cpu_model() -> str:
    """The CPU's model name and its widest vector extension ("Intel(R) Xeon(R) Processor,
    AVX-512"): timings from an AVX2-only and an AVX-512 machine must never be mixed up."""
    info = Path("/proc/cpuinfo")
    text = info.read_text() if info.exists() else ""
    name = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")),
                platform.processor() or "unknown CPU")
    flags = set(next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), []))
    widest = "AMX" if "amx_tile" in flags else "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else ""
    return f"{name}, {widest}" if widest else name


def stamp(**extra: Any) -> dict[str, Any]:
    import importlib.metadata as md

    versions = {}
    for pkg in ("torch", "sentence-transformers", "chromadb", "bm25s"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return {"git_commit": git_commit(), "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "cpu": cpu_model(), "platform": platform.platform(),
                        "python": platform.python_version()},
            "versions": versions, **extra}
