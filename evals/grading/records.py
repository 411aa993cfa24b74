"""The records of expert grading: an answer to grade (Item), an expert's rubric grade of it
(RubricGrade), a blind A/B verdict between two systems (PairwiseJudgement), and a chat user's
thumbs up/down (Feedback). Plain frozen dataclasses, validated in `__post_init__`; the store
(store.py) persists them and never holds a record that failed these checks.

    Item               question + answer + what the model saw, from a chat turn or an eval run
      └─ RubricGrade   relevance, accuracy, completeness, clarity, overall: whole numbers 1–5,
                       a comment, an optional corrected answer, and `shown`: exactly what the
                       grader saw when grading (the item may be re-imported or edited later)
    PairwiseJudgement  two answers to one question shown as A and B in a seeded random order;
                       the grader picks a, b or tie (pairwise.py maps the pick back to systems)
    Feedback           thumbs up/down with an optional reason, on one chat answer

Times are ISO-8601 UTC strings (`now()`); `id` is None until the store assigns one. A grader
whose name starts with "judge:" is an LLM judge writing into the same table (for calibration
against the experts, evals/grading/calibration.py); exports use expert grades only.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from assistant.roles import check_role
from knowledge.errors import CairnError
from knowledge.types import COLLECTIONS

CRITERIA: tuple[str, ...] = ("relevance", "accuracy", "completeness", "clarity", "overall")
SCALE: tuple[int, int] = (1, 5)
JUDGE_PREFIX = "judge:"  # grader names of LLM judges; never an expert
Thumb = Literal["up", "down"]
Pick = Literal["a", "b", "tie"]
PICKS: tuple[str, ...] = ("a", "b", "tie")
_ORIGIN = re.compile(r"^(chat|eval:\S.*)$")
_GRADER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:+-]{0,127}$")


class GradingError(CairnError):
    """A grading record or request that cannot be stored or served; the message names the
    bad value and the fix."""


def now() -> str:
    """The current time as an ISO-8601 UTC string (seconds)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def is_judge(grader: str) -> bool:
    return grader.startswith(JUDGE_PREFIX)


def check_text(value: Any, name: str, *, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise GradingError(f"{name} must be a non-empty string, got {value!r}")
    return value


def check_grader(grader: Any) -> str:
    if not isinstance(grader, str) or not _GRADER.match(grader):
        raise GradingError(f"grader {grader!r} is not a valid name; use letters, digits and ._@:+- "
                           "(at most 128 characters), e.g. the logged-in user's name")
    return grader


def check_collection(collection: Any, *, optional: bool = False) -> None:
    if collection is None and optional:
        return
    if collection not in COLLECTIONS:
        raise GradingError(f"collection {collection!r} is unknown; use one of {', '.join(COLLECTIONS)}")


def check_score(value: Any, name: str) -> int:
    """A rubric score: a whole number 1–5 (bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, int) or not SCALE[0] <= value <= SCALE[1]:
        raise GradingError(f"{name}={value!r} is not a whole number {SCALE[0]}–{SCALE[1]}; "
                           "pick 1 (fails it) to 5 (fully meets it)")
    return value


@dataclass(frozen=True)
class Passage:
    """One numbered source the model saw: source `n` of the context, its document and text."""

    n: int
    doc_id: str
    chunk_id: str = ""
    text: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1:
            raise GradingError(f"passage n={self.n!r} must be a whole number >= 1 (sources are numbered from 1)")
        check_text(self.doc_id, "passage doc_id")

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "doc_id": self.doc_id, "chunk_id": self.chunk_id, "text": self.text}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Passage:
        return cls(n=obj.get("n"), doc_id=obj.get("doc_id"), chunk_id=str(obj.get("chunk_id") or ""),
                   text=str(obj.get("text") or ""))


def passages(values: Sequence[Passage | Mapping[str, Any]]) -> tuple[Passage, ...]:
    """Passages from dataclasses or JSON objects (numbered 1.. in order when `n` is missing)."""
    out = []
    for i, value in enumerate(values, start=1):
        out.append(value if isinstance(value, Passage) else Passage.from_json({"n": i, **value}))
    return tuple(out)


def item_key(origin: str, system: str, question: str, answer: str) -> str:
    """The default dedupe key of an item: the same answer from the same source is stored once."""
    digest = hashlib.sha256(json.dumps([origin, system, question, answer]).encode()).hexdigest()[:24]
    return f"{origin}:{digest}"


@dataclass(frozen=True)
class Item:
    """An answer to grade.

    Fields:
        question / answer: what was asked and what the system answered (as shown to the user).
        collection: "catalog" or "notes"; note items are seen only by roles that may read notes.
        system: the model (and adapter) that answered, e.g. "qwen2.5-coder-1.5b+adapter-3".
        origin: "chat" or "eval:<run name>".
        contexts: the numbered sources the model saw.
        cited_ids: document ids the answer cites (golden export turns them into relevant_ids).
        refused: the answer declined to answer.
        provenance: where it came from (results file and case key, chat turn id, feedback, …).
        key: dedupe key; importing the same turn or eval case twice keeps one item. Default:
            a hash of origin, system, question and answer.
        created: ISO time it was added; id: assigned by the store.
    """

    question: str
    answer: str
    collection: str
    system: str
    origin: str = "chat"
    contexts: tuple[Passage, ...] = ()
    cited_ids: tuple[str, ...] = ()
    refused: bool = False
    provenance: Mapping[str, Any] = field(default_factory=dict)
    key: str = ""
    created: str = ""
    id: int | None = None

    def __post_init__(self) -> None:
        check_text(self.question, "item question")
        check_text(self.answer, "item answer")
        check_collection(self.collection)
        check_text(self.system, "item system (the model id that answered)")
        if not isinstance(self.origin, str) or not _ORIGIN.match(self.origin):
            raise GradingError(f"item origin {self.origin!r} is invalid; use 'chat' or 'eval:<run name>'")
        object.__setattr__(self, "contexts", passages(self.contexts))
        if isinstance(self.cited_ids, str) or not all(isinstance(d, str) and d for d in self.cited_ids):
            raise GradingError(f"cited_ids must be a list of document ids, got {self.cited_ids!r}")
        object.__setattr__(self, "cited_ids", tuple(dict.fromkeys(self.cited_ids)))
        object.__setattr__(self, "provenance", dict(self.provenance))
        object.__setattr__(self, "refused", bool(self.refused))
        if not self.key:
            object.__setattr__(self, "key", item_key(self.origin, self.system, self.question, self.answer))
        if not self.created:
            object.__setattr__(self, "created", now())

    def shown(self) -> dict[str, Any]:
        """What a grader is shown for this item: the UI displays exactly this and the store
        records it with the grade. No system name: grading is blind to which model answered."""
        return {"item_id": self.id, "question": self.question, "answer": self.answer,
                "collection": self.collection, "sources": [p.to_json() for p in self.contexts],
                "cited_ids": list(self.cited_ids)}


@dataclass(frozen=True)
class RubricGrade:
    """One grader's rubric grade of one item (a later grade by the same grader supersedes it).

    Fields:
        item_id: the graded Item's id.
        grader: who graded (the user name; "judge:<model>" for an LLM judge).
        relevance, accuracy, completeness, clarity, overall: whole numbers 1–5.
        comment: free text. corrected_answer: the grader's better answer, or None.
        shown: exactly what the grader saw (default: the item's `shown()` when stored).
        created: ISO time; id: assigned by the store.
    """

    item_id: int
    grader: str
    relevance: int
    accuracy: int
    completeness: int
    clarity: int
    overall: int
    comment: str = ""
    corrected_answer: str | None = None
    shown: Mapping[str, Any] = field(default_factory=dict)
    created: str = ""
    id: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.item_id, bool) or not isinstance(self.item_id, int) or self.item_id < 1:
            raise GradingError(f"item_id={self.item_id!r} is not an item id; take it from the queue's Item.id")
        check_grader(self.grader)
        for name in CRITERIA:
            check_score(getattr(self, name), name)
        check_text(self.comment, "comment", empty=True)
        corrected = self.corrected_answer
        if corrected is not None:
            check_text(corrected, "corrected_answer", empty=True)
            object.__setattr__(self, "corrected_answer", corrected.strip() or None)  # blank box: no correction
        object.__setattr__(self, "shown", dict(self.shown))
        if not self.created:
            object.__setattr__(self, "created", now())

    @property
    def scores(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in CRITERIA}


@dataclass(frozen=True)
class PairwiseJudgement:
    """A grader's verdict on a blind pair (pairwise.BlindPair), as stored.

    Fields:
        question / collection: the question both systems answered.
        item_a / item_b: ids of the items shown as A and as B (None for answers given inline).
        system_a / system_b: which system was shown as A and as B (hidden from the grader).
        answer_a / answer_b: the answers as shown.
        seed / swapped: the order's random seed and whether it swapped the candidates' order.
        winner: the grader's pick "a", "b" or "tie" (in shown labels).
        grader, comment, shown (exactly what the grader saw), created, id.
    """

    question: str
    collection: str
    system_a: str
    system_b: str
    answer_a: str
    answer_b: str
    seed: int
    swapped: bool
    winner: str
    grader: str
    item_a: int | None = None
    item_b: int | None = None
    comment: str = ""
    shown: Mapping[str, Any] = field(default_factory=dict)
    created: str = ""
    id: int | None = None

    def __post_init__(self) -> None:
        check_text(self.question, "question")
        check_collection(self.collection)
        for name in ("system_a", "system_b", "answer_a", "answer_b"):
            check_text(getattr(self, name), name)
        if self.system_a == self.system_b:
            raise GradingError(f"both sides are system {self.system_a!r}; a pairwise comparison needs two systems")
        if self.winner not in PICKS:
            raise GradingError(f"winner {self.winner!r} is not one of {', '.join(PICKS)}; pick the better shown "
                               "answer, or tie")
        check_grader(self.grader)
        check_text(self.comment, "comment", empty=True)
        object.__setattr__(self, "shown", dict(self.shown))
        if not self.created:
            object.__setattr__(self, "created", now())

    @property
    def winner_system(self) -> str | None:
        """The system whose answer won (None for a tie)."""
        return {"a": self.system_a, "b": self.system_b}.get(self.winner)

    @property
    def loser_system(self) -> str | None:
        return {"a": self.system_b, "b": self.system_a}.get(self.winner)


@dataclass(frozen=True)
class Feedback:
    """A chat user's thumbs up or down on one answer.

    Fields:
        thumb: "up" or "down". reason: optional free text.
        user / role: who gave it ("" when the UI runs without login); the role decides which
            answers it may be about.
        question / answer: the turn it is about; cited_ids and contexts: its sources.
        collection: "catalog", "notes", or None for a chit-chat reply.
        system: the model that answered. turn_id: the chat turn's id (chatlog.ChatTurn), which
            links the feedback to the chat log and keeps its queued item unique.
        created, id.
    """

    thumb: str
    user: str
    role: str
    question: str
    answer: str
    system: str
    collection: str | None = None
    reason: str = ""
    cited_ids: tuple[str, ...] = ()
    contexts: tuple[Passage, ...] = ()
    turn_id: str = ""
    created: str = ""
    id: int | None = None

    def __post_init__(self) -> None:
        if self.thumb not in ("up", "down"):
            raise GradingError(f"thumb {self.thumb!r} must be 'up' or 'down'")
        if self.user:  # "" when the UI runs without login
            check_grader(self.user)
        check_role(self.role)
        check_text(self.question, "feedback question")
        check_text(self.answer, "feedback answer")
        check_text(self.system, "feedback system (the model id that answered)")
        check_collection(self.collection, optional=True)
        check_text(self.reason, "reason", empty=True)
        check_text(self.turn_id, "turn_id", empty=True)
        object.__setattr__(self, "contexts", passages(self.contexts))
        object.__setattr__(self, "cited_ids", tuple(dict.fromkeys(self.cited_ids)))
        if not self.created:
            object.__setattr__(self, "created", now())
