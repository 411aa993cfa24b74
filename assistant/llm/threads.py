"""Decode threads chosen by measurement: `cairn bench threads` times greedy decoding of one model
at 1..N threads on this machine and records the fastest; `LLMConfig.threads` then uses that
number whenever `n_threads` is left unset (the recorded choice is per CPU model, CPU count and
model, so a copied CAIRN_HOME on another machine falls back to the rule of thumb).

Why measure: decoding reads every weight once per token, so it is memory-bound, and whether a
second thread helps depends on the machine — on the 2-core development machines 2 threads beat
1 when the machine was quiet and lost badly when another job held the second core. A rule of
thumb (`default_threads()`: half the CPUs) is the fallback, not the answer. The thread count
never changes a reply: llama.cpp gives each output row to one thread (a slow test checks it).

    rates = {1: [7.1, 7.3, 7.2], 2: [11.8, 12.0, 11.9]}   tokens/s per repeat, runs alternating
    best_threads(rates) == 2                                the highest median; ties: fewer threads
"""
from __future__ import annotations

import json
import os
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from knowledge.atomic import write_atomic
from knowledge.home import cairn_home
from knowledge.provenance import cpu_model

RECORD = "decode-threads.json"


def best_threads(rates: Mapping[int, Sequence[float]]) -> int:
    """The thread count with the highest median rate; a tie goes to fewer threads (they leave
    a core to the rest of the machine). Raises ValueError when nothing was measured."""
    measured = {n: statistics.median(values) for n, values in rates.items() if values}
    if not measured:
        raise ValueError("best_threads needs at least one measured rate")
    return min(measured, key=lambda n: (-measured[n], n))


def machine_key(model: str) -> str:
    """What a recorded choice is valid for: this CPU model, how many CPUs, which model."""
    return f"{cpu_model()} | {os.cpu_count()} CPUs | {model}"


def record_path() -> Path:
    return cairn_home() / RECORD


def read_records(path: Path | None = None) -> dict[str, Any]:
    """Every recorded choice; {} when there is no readable record (a damaged file is ignored:
    the rule of thumb is always a safe fallback)."""
    path = path or record_path()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def recorded_threads(model: str, path: Path | None = None) -> int | None:
    """The measured decode thread count for `model` on this machine, if one was recorded."""
    entry = read_records(path).get(machine_key(model))
    threads = entry.get("threads") if isinstance(entry, dict) else None
    return threads if isinstance(threads, int) and threads >= 1 else None


def save_record(model: str, rates: Mapping[int, Sequence[float]], provenance: Mapping[str, Any],
                path: Path | None = None) -> int:
    """Record the best thread count for `model` (with the rates and provenance behind it);
    returns it. Written atomically, so a crash loses nothing."""
    path = path or record_path()
    best = best_threads(rates)
    records = read_records(path)
    records[machine_key(model)] = {"threads": best, "tok_s": {str(n): list(v) for n, v in rates.items()},
                                   "provenance": dict(provenance)}
    write_atomic(path, json.dumps(records, indent=1, sort_keys=True))
    return best
