"""results.jsonl: one JSON record per evaluated case, appended and fsynced as each case ends, so
a crashed run resumes where it stopped; plus run.json beside it, the config the records were
made with (to name what changed when a resume is refused).

    DIR/run.json        {"config_hash": ..., "config": EvalConfig.to_dict()}
    DIR/results.jsonl   {"key": "catalog_qa.jsonl::qa-001", "status": "ok", "config_hash": ..., ...}

Crash safety rests on two rules: a record is one `write` of one line followed by flush + fsync
(so at most the last line can be cut short), and on open a last line that does not parse is
cut off the file before anything is appended (appending after half a line would glue the next
record onto it). A bad line anywhere else is corruption and is reported, not skipped.
"""
from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from evals.config import EvalConfig, EvalConfigError, config_diff
from evals.golden import GoldenCase, load_golden
from evals.sample import AnswerSample, Sentence

RESULTS_NAME = "results.jsonl"
RUN_NAME = "run.json"
SCHEMA = "cairn.eval.results/1"
DONE = "ok"  # only finished cases are reused on resume; errors and skips are tried again


class ResumeError(EvalConfigError):
    """An output folder whose results cannot be reused by this run."""


def case_key(file: str | Path, case_id: str) -> str:
    """Records are keyed by golden file NAME and case id: ids are unique within a file only, and
    the name (not the path) keeps a resume working from another working directory."""
    return f"{Path(file).name}::{case_id}"


def to_jsonable(value: Any) -> Any:
    """Plain JSON data: tuples/sets to lists, dates and other objects to str, NaN/inf to None
    (strict JSON has no NaN, and an undefined score is not a number to average)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "to_dict"):
        return to_jsonable(value.to_dict())
    return str(value)


class ResultsFile:
    """Append-only results.jsonl with crash-safe appends (thread-safe: workers share one)."""

    def __init__(self, out_dir: str | Path) -> None:
        self.dir = Path(out_dir)
        self.path = self.dir / RESULTS_NAME
        self.run_path = self.dir / RUN_NAME
        self._lock = threading.Lock()

    # --- starting a run ----------------------------------------------------------------------
    def open(self, config: EvalConfig, *, resume: bool = True) -> dict[str, dict[str, Any]]:
        """Prepare the folder for `config`; returns the finished records to reuse, by key.

        resume=False starts over: an existing results.jsonl is kept as results.jsonl.prev.
        resume=True reuses finished records made with the same config hash; records made with
        another config are a ResumeError naming the settings that differ and the two fixes.
        """
        self.dir.mkdir(parents=True, exist_ok=True)
        if not resume and self.path.exists():
            self.path.replace(self.path.with_name(RESULTS_NAME + ".prev"))
        records = self.read(repair=True) if self.path.exists() else []
        wanted = config.config_hash()
        other = sorted({r.get("config_hash") for r in records} - {wanted}, key=str)
        if other:
            raise ResumeError(f"{self.path} holds results made with another config (hash {other[0]}, this run "
                              f"{wanted}): {self._difference(config)}. Write elsewhere with --out DIR, or start "
                              "over here with --no-resume")
        self.run_path.write_text(json.dumps({"schema": SCHEMA, "config_hash": wanted, "config": config.to_dict()},
                                            indent=1, default=str))
        latest = latest_records(records)
        return {key: r for key, r in latest.items() if r.get("status") == DONE}

    def _difference(self, config: EvalConfig) -> str:
        try:
            old = json.loads(self.run_path.read_text())["config"]
        except (OSError, ValueError, KeyError, TypeError):
            return "the earlier config is unknown (run.json missing)"
        neutral = set(config.to_dict()) - set(config.result_dict())
        lines = [d for d in config_diff(old, config.to_dict()) if d.split(":")[0] not in neutral]
        return "changed " + "; ".join(lines) if lines else "the settings differ"

    # --- reading -----------------------------------------------------------------------------
    def read(self, *, repair: bool = False) -> list[dict[str, Any]]:
        """Every record in file order. A last line cut short by a crash is ignored (and cut off
        the file when `repair`); a bad line elsewhere is an error naming its number."""
        if not self.path.exists():
            return []
        raw = self.path.read_bytes()
        lines = raw.split(b"\n")
        records: list[dict[str, Any]] = []
        good_end = 0  # byte offset just past the last good line
        offset = 0
        for number, line in enumerate(lines, start=1):
            end = offset + len(line) + 1
            if line.strip():
                try:
                    record = json.loads(line)
                    if not isinstance(record, dict) or "key" not in record:
                        raise ValueError("not a results record")
                except ValueError as exc:
                    if any(rest.strip() for rest in lines[number:]):
                        raise ResumeError(f"{self.path}:{number} is not a results record ({exc}); the file is "
                                          "damaged: write elsewhere with --out DIR or start over with --no-resume")
                    break  # the torn last line of a crashed write: that case is redone
                records.append(record)
                good_end = min(end, len(raw))
            offset = end
        if repair and good_end < len(raw) and raw[good_end:].strip():
            with self.path.open("r+b") as handle:
                handle.truncate(good_end)
                handle.flush()
                os.fsync(handle.fileno())
        elif repair and raw and not raw.endswith(b"\n"):
            # A whole record whose newline never reached the disk: end the line, or the next
            # append would run into it.
            with self.path.open("ab") as handle:
                handle.write(b"\n")
                handle.flush()
                os.fsync(handle.fileno())
        return records

    # --- writing -----------------------------------------------------------------------------
    def append(self, record: Mapping[str, Any]) -> None:
        """Write one record as one line, then flush and fsync: once this returns, the case
        survives a crash."""
        line = json.dumps(to_jsonable(record), ensure_ascii=False, allow_nan=False) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())


def select_cases(golden_paths: Sequence[str | Path], limit: int | None,
                 tags: Sequence[str] = ()) -> list[tuple[str, GoldenCase]]:
    """(file, case) for the first `limit` cases of each golden file (those with any of `tags`,
    when given), in file order."""
    cases: list[tuple[str, GoldenCase]] = []
    names: dict[str, str] = {}
    for path in golden_paths:
        name, resolved = Path(path).name, str(Path(path).resolve())
        if name in names:
            if names[name] == resolved:
                continue  # the same file named twice (a shell glob and an explicit path)
            raise EvalConfigError(f"two golden files are both named {name!r} ({names[name]}, {path}); results are "
                                  "keyed by file name: rename one")
        names[name] = resolved
        wanted = [case for case in load_golden(path) if not tags or set(tags) & set(case.tags)]
        cases += [(str(path), case) for case in wanted[:limit]]
    return cases


def latest_records(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The last record per key (a case tried again after an error replaces its error record)."""
    latest: dict[str, dict[str, Any]] = {}
    for record in records:
        latest[record["key"]] = record
    return latest


def iter_records(out_dir: str | Path) -> Iterator[dict[str, Any]]:
    """The latest record of each case in a finished run folder (for reports)."""
    yield from latest_records(ResultsFile(out_dir).read()).values()


def sample_from_record(record: Mapping[str, Any]) -> AnswerSample:
    """The AnswerSample a QA record was scored from, so metrics can be recomputed offline."""
    inputs = record["inputs"]
    return AnswerSample(
        case_id=record["case_id"], question=inputs["question"], collection=inputs["collection"],
        answer=record["answer"], refused=record["refused"], raw_answer=record.get("raw_answer") or "",
        contexts=tuple(c["text"] for c in record["contexts"]),
        context_ids=tuple(c["doc_id"] for c in record["contexts"]),
        sentences=tuple(Sentence(s["text"], tuple(s.get("cited") or ()), s.get("supported"))
                        for s in record["sentences"]),
        cited_ids=tuple(c["doc_id"] for c in record["citations"]),
        reference=record.get("reference"), relevant=dict(record.get("relevant") or {}),
        answerable=record.get("answerable", True), tags=tuple(record.get("tags") or ()))
