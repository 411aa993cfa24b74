"""Filling the grading queue: items from an eval run's results.jsonl (evals/results.py), from the
chat log the UI writes (chatlog.py), and from stored chat feedback. Importing is idempotent:
every item has a key (the eval case key with its run and config hash; the chat turn id), and an
item already in the database is counted as existing, not added twice.

    eval run   results.jsonl record, status "ok", task "qa"   -> Item(origin="eval:<run folder>",
               system = run.json's model (+adapter), contexts and citations as the model saw them)
    chat log   turn with a collection                          -> Item(origin="chat")
    feedback   row with a collection                           -> Item(origin="chat", provenance.thumb)

Skipped, and counted by reason: failed or skipped eval cases, extraction cases (no answer text to
grade), chit-chat turns (collection null: no knowledge to be right or wrong about).
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .chatlog import SCHEMA as CHAT_SCHEMA
from .chatlog import ChatTurn, read_chat_log
from .records import GradingError, Item, Passage
from .store import GradeStore, chat_key, item_from_feedback


@dataclass(frozen=True)
class ImportReport:
    """What one import did: items added, items already there, and skipped records by reason."""

    source: str
    kind: str
    added: int = 0
    existing: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items())) or "none"
        return f"{self.source} ({self.kind}): {self.added} added, {self.existing} already queued, skipped: {skipped}"


def _store_all(store: GradeStore, items: list[Item], source: str, kind: str, skipped: Counter) -> ImportReport:
    results = store.add_items(items) if items else []
    added = sum(new for _, new in results)
    return ImportReport(source, kind, added, len(results) - added, dict(skipped))


# -- eval runs ------------------------------------------------------------------------------------

def run_system(run_dir: Path) -> str | None:
    """The system an eval run evaluated, from its run.json: the model id, plus the adapter's
    folder name when one was loaded ("qwen2.5-coder-1.5b+dpo-3"). None without run.json."""
    from evals.results import RUN_NAME  # here, not at the top: evals.results pulls in every metric

    try:
        llm = json.loads((run_dir / RUN_NAME).read_text())["config"]["llm"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    model, adapter = llm.get("model"), llm.get("adapter")
    if not model:
        return None
    return f"{model}+{Path(str(adapter)).name}" if adapter else str(model)


def _read_records(path: Path) -> list[dict[str, Any]]:
    lines = path.read_bytes().split(b"\n")
    records = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except ValueError as exc:
            if not any(rest.strip() for rest in lines[number:]):
                break  # a torn last line (evals/results.py): that case was redone or never finished
            raise GradingError(f"{path}:{number}: not JSON ({exc}); is this an eval results.jsonl?") from exc
        if not isinstance(record, dict) or "key" not in record:
            raise GradingError(f"{path}:{number}: not an eval results record (no 'key'); pass a results.jsonl "
                               "written by `cairn eval`, or a chat log")
        records.append(record)
    return records


def items_from_results(path: str | Path, *, run: str | None = None) -> tuple[list[Item], Counter]:
    """Items of the answered QA cases of one eval run (`path`: results.jsonl or its folder) and
    the skipped records by reason. `run` names the run (default: its folder name)."""
    from evals.results import RESULTS_NAME, latest_records

    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_NAME
    if not path.is_file():
        raise GradingError(f"{path}: no such results file; pass an eval run folder or its {RESULTS_NAME}")
    run = run or path.parent.name
    run_sys = run_system(path.parent)
    items, skipped = [], Counter()
    for record in latest_records(_read_records(path)).values():
        if record.get("task", "qa") != "qa":
            skipped["extraction cases"] += 1
            continue
        if record.get("status") != "ok" or not str(record.get("answer") or "").strip():
            skipped["failed or unanswered cases"] += 1
            continue
        inputs = record.get("inputs") or {}
        system = run_sys or (record.get("trace") or {}).get("model_id") or "unknown"
        items.append(Item(
            question=inputs["question"], answer=record["answer"], collection=inputs["collection"],
            system=str(system), origin=f"eval:{run}",
            contexts=tuple(Passage(int(c.get("n") or i), c["doc_id"], c.get("chunk_id") or "", c.get("text") or "")
                           for i, c in enumerate(record.get("contexts") or [], start=1)),
            cited_ids=tuple(c["doc_id"] for c in record.get("citations") or []),
            refused=bool(record.get("refused")),
            provenance={"results": str(path.resolve()), "run": run, "key": record["key"],
                        "case_id": record.get("case_id"), "file": record.get("file"),
                        "config_hash": record.get("config_hash"), "answerable": record.get("answerable", True),
                        "reference": record.get("reference"), "relevant": record.get("relevant") or {},
                        "tags": record.get("tags") or [], "index": record.get("index"),
                        "finished": record.get("finished")},
            key=f"eval:{run}:{record.get('config_hash')}:{record['key']}"))
    return items, skipped


def import_eval_run(store: GradeStore, path: str | Path, *, run: str | None = None) -> ImportReport:
    """Queue the answered QA cases of an eval run (results.jsonl or its folder)."""
    items, skipped = items_from_results(path, run=run)
    return _store_all(store, items, str(path), "eval run", skipped)


# -- chat -----------------------------------------------------------------------------------------

def item_from_turn(turn: ChatTurn, log: str | Path | None = None) -> Item:
    """The grading item of a chat turn that has a collection."""
    if turn.collection is None:
        raise GradingError(f"chat turn {turn.turn_id} has no collection (chit-chat); there is nothing to grade")
    return Item(question=turn.question, answer=turn.answer, collection=turn.collection, system=turn.model,
                origin="chat", contexts=turn.sources, cited_ids=turn.cited_ids, refused=turn.refused,
                provenance={"turn_id": turn.turn_id, "user": turn.user, "role": turn.role, "time": turn.time,
                            **({"log": str(log)} if log else {})},
                key=chat_key(turn.turn_id), created=turn.time)


def import_chat_log(store: GradeStore, path: str | Path) -> ImportReport:
    """Queue the turns of a chat log (chatlog.py) that have a collection."""
    turns, skipped = read_chat_log(path)  # starts with the torn lines it skipped
    items = []
    for turn in turns:
        if turn.collection is None:
            skipped["chit-chat turns"] += 1
        else:
            items.append(item_from_turn(turn, path))
    return _store_all(store, items, str(path), "chat log", skipped)


def import_feedback(store: GradeStore, *, thumb: str | None = None) -> ImportReport:
    """Queue the answers of stored feedback rows (those given with enqueue=False, or from
    before), optionally only "up" or "down" ones."""
    rows = store.feedback(role="admin", thumb=thumb)
    items, skipped = [], Counter()
    for row in rows:
        if row.collection is None:
            skipped["chit-chat feedback"] += 1
        else:
            items.append(item_from_feedback(row, row.id))
    return _store_all(store, items, str(store.path), "feedback", skipped)


# -- any file -------------------------------------------------------------------------------------

def sniff(path: str | Path) -> str:
    """"eval" for an eval run (folder or results.jsonl), "chat" for a chat log, from the first record."""
    path = Path(path)
    if path.is_dir():
        return "eval"
    if not path.is_file():
        raise GradingError(f"{path}: no such file; pass an eval results.jsonl (or its run folder) or a chat log")
    with path.open("rb") as handle:
        for raw in handle:
            if raw.strip():
                try:
                    first = json.loads(raw)
                except ValueError as exc:
                    raise GradingError(f"{path}:1: not JSON lines ({exc}); pass a results.jsonl or a chat log") from exc
                if isinstance(first, Mapping) and (first.get("schema") == CHAT_SCHEMA or "turn_id" in first):
                    return "chat"
                if isinstance(first, Mapping) and "key" in first and "case_id" in first:
                    return "eval"
                break
    raise GradingError(f"{path}: neither an eval results.jsonl (records with key/case_id) nor a chat log "
                       f"(records with turn_id, schema {CHAT_SCHEMA!r})")


def import_path(store: GradeStore, path: str | Path) -> ImportReport:
    """Import an eval run or a chat log, whichever `path` is."""
    return import_eval_run(store, path) if sniff(path) == "eval" else import_chat_log(store, path)
