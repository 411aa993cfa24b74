"""The grading tab's actions as plain functions over a `GradeStore`: the queue, an answer to
grade shown exactly as recorded, rubric grades with corrections, and blind pairwise picks.

Each returns what the page shows (rows, Markdown, a status line) and turns a CairnError
(a role that may not grade, an unknown item, a score out of range) into an "**Error:** …"
line, so a request from the wrong role gets the store's refusal, never the data. Questions,
answers and sources are escaped (knowledge/safe_text.py): what a grader sees is their text,
and nothing in it can make the page load a resource.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from assistant.roles import require_grader
from evals.grading.queue import import_chat_log
from evals.grading.records import RubricGrade
from evals.grading.store import GradeStore
from knowledge.audit import Accessor, doc_ids_of, record_read
from knowledge.errors import CairnError
from knowledge.safe_text import markdown_code, markdown_text


def grading_queue(store: GradeStore, role: str, grader: str, chat_log: Path | None = None) -> tuple[list, str]:
    """Items this grader has not graded yet: rows (id, collection, origin, question). New turns of
    `chat_log` (if given and present) join the queue first; importing twice adds nothing."""
    try:
        require_grader(role)
        if chat_log is not None and chat_log.exists():
            import_chat_log(store, chat_log)
        items = store.queue(grader, role=role, limit=50)
    except CairnError as exc:
        return [], f"**Error:** {markdown_text(exc)}"
    rows = [[item.id, item.collection, item.origin, item.question] for item in items]
    return rows, f"{len(rows)} answer{'s' if len(rows) != 1 else ''} to grade"


def grading_load(store: GradeStore, role: str, grader: str, item_id: float | None) -> tuple[Any, str, str]:
    """The item to grade (the given id, or the first in the queue when empty or 0, which is what
    an empty number box sends): (id, question + answer Markdown, its sources Markdown). Shows
    exactly what `Item.shown()` records."""
    try:
        if not item_id:
            queue = store.queue(grader, role=role, limit=1)
            if not queue:
                return None, "Nothing left to grade.", ""
            item = queue[0]
        else:
            item = store.item(int(item_id), role=role)
        shown = item.shown()
        record_read(Accessor(grader, role, "app:grading"), "view", item.collection,  # audit log of note reads
                    doc_ids_of(shown["sources"]) + list(shown["cited_ids"]), detail=f"item {item.id}")
    except (CairnError, ValueError) as exc:
        return None, f"**Error:** {markdown_text(exc)}", ""
    return item.id, _qa_markdown(shown["question"], shown["answer"]), _sources_markdown(shown["sources"])


def grading_submit(store: GradeStore, role: str, grader: str, item_id: float | None, relevance: float,
                   accuracy: float, completeness: float, clarity: float, overall: float, comment: str = "",
                   corrected: str = "") -> str:
    """Store a rubric grade (and the corrected answer, if any) for the loaded item."""
    if not item_id:
        return "Load an answer first."
    try:
        grade = RubricGrade(int(item_id), grader, int(relevance), int(accuracy), int(completeness), int(clarity),
                            int(overall), (comment or "").strip(), (corrected or "").strip() or None)
        grade_id = store.grade(grade, role=role)
    except (CairnError, ValueError) as exc:
        return f"**Error:** {markdown_text(exc)}"
    return f"Saved grade #{grade_id} for answer #{int(item_id)}."


def pairwise_next(store: GradeStore, role: str, grader: str) -> tuple[Any, str, str, str]:
    """The next blind pair: (pair, for the server-side state only; question; answer A; answer B)."""
    try:
        pair = store.next_pair(grader, role=role)
        if pair is not None:  # audit log of note reads
            shown = pair.shown()
            record_read(Accessor(grader, role, "app:grading"), "view", pair.collection,
                        doc_ids_of([*shown["sources_a"], *shown["sources_b"]]), detail="blind pair")
    except CairnError as exc:
        return None, f"**Error:** {markdown_text(exc)}", "", ""
    if pair is None:
        return None, "No pairs left to compare (pairs need two systems' answers to the same question).", "", ""
    shown = pair.shown()
    return pair, f"**Question:** {markdown_text(shown['question'])}", shown["answer_a"], shown["answer_b"]


def pairwise_submit(store: GradeStore, role: str, grader: str, pair: Any, pick: str, comment: str = "") -> str:
    """Store the pick ("a", "b" or "tie") on the pair shown; systems are revealed only in the database."""
    if pair is None:
        return "Load a pair first."
    try:
        verdict = store.record_pairwise(pair, pick, grader=grader, role=role, comment=comment or "")
    except CairnError as exc:
        return f"**Error:** {markdown_text(exc)}"
    return f"Saved comparison #{verdict.id} ({'tie' if pick == 'tie' else 'answer ' + pick.upper()})."


def _qa_markdown(question: str, answer: str) -> str:
    return f"**Question:** {markdown_text(question)}\n\n**Answer:**\n\n{markdown_text(answer)}"


def _sources_markdown(sources: list[dict[str, Any]]) -> str:
    if not sources:
        return "_No sources._"
    return "\n\n".join(f"**[{markdown_text(s['n'])}]** {markdown_code(s['doc_id'])} — "
                        f"{markdown_text(' '.join(str(s.get('text', '')).split())[:600])}" for s in sources)
