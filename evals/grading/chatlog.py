"""The chat log: one JSON line per answered chat turn, appended by the UI, imported into the
grading queue by `cairn grades import` (queue.py). Default file: `$CAIRN_HOME/chat/turns.jsonl`
(mode 0600: turns about clinical notes quote them).

    {"schema": "cairn.chat.turn/1", "turn_id": "9f1c…", "time": "2026-11-23T10:02:11+00:00",
     "user": "alice", "role": "clinician", "model": "qwen2.5-coder-1.5b",
     "collection": "catalog",                 # "catalog" | "notes" | null (chit-chat, refusals by role)
     "question": "Who directed Rear Window?", "answer": "Alfred Hitchcock [1].", "refused": false,
     "sources": [{"n": 1, "doc_id": "film_0046", "chunk_id": "film_0046#0", "text": "title: Rear Window | …"}],
     "cited_ids": ["film_0046"]}

`sources` are the numbered passages the model saw (source n is the answer's [n]); `cited_ids`
the documents the shown answer cites. Appends follow evals/results.py: one `write` of one line,
then flush + fsync, so a crash can only cut the last line short. The next append then starts
on a line of its own, and readers skip and count such a torn line wherever it ended up.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.roles import check_role
from knowledge.errors import CairnError
from knowledge.home import private_dir

from .records import GradingError, Passage, check_collection, check_text, now, passages

SCHEMA = "cairn.chat.turn/1"
MAX_LINE_BYTES = 16 * 2**20  # a turn with its sources is tens of KB; a longer line is damage
TORN = "torn or unreadable lines"  # the skipped-lines reason of a read
_LOCK = threading.Lock()
log = logging.getLogger(__name__)


def chat_log_path() -> Path:
    from knowledge.home import cairn_home

    return cairn_home() / "chat" / "turns.jsonl"


@dataclass(frozen=True)
class ChatTurn:
    """One answered chat turn (format in the module docstring).

    Fields:
        question / answer: what was asked and the answer shown.
        role: the asker's role; user: the asker's name ("" when auth is off).
        model: the model id (with adapter) that answered.
        collection: "catalog", "notes" or None (chit-chat or a refusal by role: nothing to grade).
        sources: the numbered passages the model saw. cited_ids: documents the answer cites.
        refused: the answer declined. turn_id: unique id (default: a fresh uuid4 hex), also
            passed with feedback on this turn. time: ISO UTC (default: now).
    """

    question: str
    answer: str
    role: str
    model: str
    collection: str | None = None
    sources: tuple[Passage, ...] = ()
    cited_ids: tuple[str, ...] = ()
    refused: bool = False
    user: str = ""
    turn_id: str = ""
    time: str = ""

    def __post_init__(self) -> None:
        check_text(self.question, "question")
        check_text(self.answer, "answer")
        check_role(self.role)
        check_text(self.model, "model")
        check_collection(self.collection, optional=True)
        check_text(self.user, "user", empty=True)
        object.__setattr__(self, "sources", passages(self.sources))
        object.__setattr__(self, "cited_ids", tuple(dict.fromkeys(self.cited_ids)))
        object.__setattr__(self, "refused", bool(self.refused))
        object.__setattr__(self, "turn_id", self.turn_id or uuid.uuid4().hex)
        object.__setattr__(self, "time", self.time or now())

    @classmethod
    def from_answer(cls, question: str, answer: Any, *, role: str, model: str | None = None,
                    user: str = "") -> ChatTurn:
        """The turn of an `assistant.answer.Answer` (as `Agent.ask` returns it). The collection is
        the route the agent took ("catalog"/"notes"; None for chit-chat); the model is the
        trace's model id unless given."""
        from assistant.prompts import passage_text

        route = ((answer.trace or {}).get("plan") or {}).get("route")
        tool = ((answer.trace or {}).get("tool") or {}).get("name")
        collection = "notes" if tool in ("search_notes", "extract_note") else route
        collection = collection if collection in ("catalog", "notes") else None
        return cls(question=question, answer=answer.text, role=role,
                   model=model or str((answer.trace or {}).get("model_id") or "unknown"), collection=collection,
                   sources=tuple(Passage(n, c.doc_id, c.id, passage_text(c)) for n, c in enumerate(answer.chunks, 1)),
                   cited_ids=tuple(c.doc_id for c in answer.citations), refused=answer.refused, user=user)

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "turn_id": self.turn_id, "time": self.time, "user": self.user, "role": self.role,
                "model": self.model, "collection": self.collection, "question": self.question, "answer": self.answer,
                "refused": self.refused, "sources": [p.to_json() for p in self.sources],
                "cited_ids": list(self.cited_ids)}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ChatTurn:
        if not isinstance(obj, Mapping):
            raise GradingError(f"a chat turn must be a JSON object, got {type(obj).__name__}")
        return cls(question=obj.get("question"), answer=obj.get("answer"), role=obj.get("role"),
                   model=obj.get("model"), collection=obj.get("collection"), sources=tuple(obj.get("sources") or ()),
                   cited_ids=tuple(obj.get("cited_ids") or ()), refused=obj.get("refused", False),
                   user=obj.get("user") or "", turn_id=obj.get("turn_id") or "", time=obj.get("time") or "")


def append_turn(turn: ChatTurn, path: str | Path | None = None) -> Path:
    """Append `turn` as one line (flush + fsync before returning); returns the log's path."""
    path = Path(path) if path is not None else chat_log_path()
    private_dir(path.parent)
    line = (json.dumps(turn.to_json(), ensure_ascii=False) + "\n").encode("utf-8")
    with _LOCK:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # a crash cut the last append short: leave it a line of its own
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
    return path


def read_turns(path: str | Path) -> list[ChatTurn]:
    """Every turn of a chat log (see `read_chat_log`)."""
    return read_chat_log(path)[0]


def read_chat_log(path: str | Path) -> tuple[list[ChatTurn], Counter]:
    """Every turn of a chat log, and the lines skipped by reason. A line a crash cut short (not
    JSON, not UTF-8, or past MAX_LINE_BYTES) is skipped, counted and logged; a JSON line that
    is no valid turn is a GradingError naming the file and line. Read line by line, each line
    capped, so a damaged log cannot fill the memory."""
    from knowledge.loaders.base import iter_lines  # here: the loaders package pulls in pypdf

    path = Path(path)
    if not path.is_file():
        raise GradingError(f"{path}: no such chat log; the UI writes one at {chat_log_path()}")
    turns, skipped = [], Counter()
    for raw in iter_lines(path, MAX_LINE_BYTES):
        if raw.error is None and not raw.text.strip():
            continue
        try:
            if raw.error is not None:
                raise ValueError(raw.error)
            obj = json.loads(raw.text)
        except ValueError as exc:
            log.warning("%s:%d: skipped a torn or unreadable chat log line (%s)", path, raw.number, exc)
            skipped[TORN] += 1
            continue
        try:
            turns.append(ChatTurn.from_json(obj))
        except CairnError as exc:
            raise GradingError(f"{path}:{raw.number}: not a valid chat turn: {exc}") from exc
    return turns, skipped
