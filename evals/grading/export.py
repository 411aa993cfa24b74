"""Expert grades out of the grading database, as the two artifacts the improve loop consumes
(DESIGN.md §2–3): golden cases for `cairn eval`, and TRL preference pairs for `cairn dpo`.

Golden (one case per graded item; expert grades only, each grader's latest):
    reference_answer = the latest expert correction, else the answer itself when the mean
                       overall grade is >= 4 (an answer experts accept is a reference);
                       items graded lower without a correction are skipped
    relevant_ids     = the documents the graded answer cited
    answerable       = false only for an accepted refusal with no correction (then no ids)
    tags             = ["expert", "chat"|"eval", "corrected"?]
    id               = "expert-<item id>"; `provenance` names the item, grades and graders

Preferences (TRL's prompt/chosen/rejected + source/created, finetune/data.py reads them):
    correction  chosen = the expert's corrected answer, rejected = the model's answer
    pairwise    chosen = the winner's answer, rejected = the loser's; ties are skipped
    prompt      "inference": the chat messages the model answered from (assistant.prompts.
                build_messages over the stored sources) when the sources are known and, for a
                pair, the same on both sides; otherwise the question as one user turn.
                "question": always the question. (Chat history is not stored, so a follow-up
                turn's prompt lacks it.)

Each export writes `<out>.provenance.json` beside it: database path, counts, skips by reason,
the output's sha256, git commit, time, and per line the grades/verdicts it came from. Outputs are
written atomically with mode 0600 (they may quote clinical notes), and each line about the notes
collection is logged, before the file is written, in the audit log of note reads
(knowledge/audit.py, action "export:golden" / "export:preferences").
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean
from typing import Any, Literal

from knowledge.atomic import write_atomic
from knowledge.audit import Accessor, AuditLog, AuditRecord

from .records import Item, Passage, RubricGrade, is_judge, now
from .store import GradeStore

PromptStyle = Literal["inference", "question"]
ACCEPT_OVERALL = 4.0
EXPORT_ROLE = "admin"  # exports are an admin's job (assistant/roles.py): they read every collection


@dataclass(frozen=True)
class ExportReport:
    """Where an export went, how many records it wrote and what it skipped, by reason."""

    path: Path
    provenance_path: Path
    written: int
    skipped: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items())) or "none"
        return f"wrote {self.written} record(s) to {self.path} (provenance {self.provenance_path.name}); skipped: {skipped}"


# -- golden ---------------------------------------------------------------------------------------

def golden_case(item: Item, grades: Sequence[RubricGrade], *,
                accept_overall: float = ACCEPT_OVERALL) -> tuple[dict[str, Any] | None, str]:
    """The golden case of one item from its experts' latest grades (pure), or (None, why not)."""
    grades = [g for g in grades if not is_judge(g.grader)]
    if not grades:
        return None, "items without expert grades"
    corrections = sorted((g for g in grades if g.corrected_answer), key=lambda g: (g.created, g.id or 0))
    tags = ["expert", "chat" if item.origin == "chat" else "eval"]
    if corrections:
        reference, answerable, tags = corrections[-1].corrected_answer, True, [*tags, "corrected"]
    elif fmean(g.overall for g in grades) >= accept_overall:
        reference, answerable = item.answer, not item.refused
    else:
        return None, f"items graded below {accept_overall:g} overall without a correction"
    case = {"id": f"expert-{item.id}", "collection": item.collection, "question": item.question,
            "reference_answer": reference, "relevant_ids": list(item.cited_ids) if answerable else [],
            "answerable": answerable, "tags": tags,
            "provenance": {"item_id": item.id, "origin": item.origin, "system": item.system,
                           "grade_ids": [g.id for g in grades], "graders": sorted({g.grader for g in grades}),
                           "source": item.provenance.get("key") or item.provenance.get("turn_id")}}
    return case, ""


def golden_cases(store: GradeStore, *, accept_overall: float = ACCEPT_OVERALL) -> tuple[list[dict[str, Any]], Counter]:
    """Golden cases of every expert-graded item, in item order, and skips by reason."""
    by_item: dict[int, list[RubricGrade]] = {}
    for grade in store.grades(role=EXPORT_ROLE, experts_only=True):
        by_item.setdefault(grade.item_id, []).append(grade)
    cases, skipped = [], Counter()
    for item in store.items(role=EXPORT_ROLE):
        if item.id not in by_item:
            continue
        case, why = golden_case(item, by_item[item.id], accept_overall=accept_overall)
        if case is None:
            skipped[why] += 1
        else:
            cases.append(case)
    return cases, skipped


def export_golden(store: GradeStore, out: str | Path, *, accept_overall: float = ACCEPT_OVERALL,
                  accessor: Accessor | None = None) -> ExportReport:
    """Write the golden cases to `out` (JSONL, DESIGN.md §2; evals.golden.load_golden reads it)
    and `<out>.provenance.json`. `accessor`: who exports, for the audit log (default: the OS user)."""
    cases, skipped = golden_cases(store, accept_overall=accept_overall)
    records = [case["provenance"] for case in cases]
    _audit_export(store, accessor, "golden", Path(out),
                  [(case["collection"], [case["provenance"]["item_id"]]) for case in cases])
    return _write(store, Path(out), "golden", cases, records, skipped,
                  {"accept_overall": accept_overall})


# -- preferences ----------------------------------------------------------------------------------

def build_prompt(question: str, contexts: Sequence[Passage], style: PromptStyle = "inference") -> str | list[dict[str, str]]:
    """The prompt a preference pair trains on: the inference messages over `contexts`, or the
    question alone (style "question", or no contexts known)."""
    if style == "question" or not contexts:
        return question
    from assistant.prompts import build_messages
    from knowledge.types import Chunk

    chunks = [Chunk(id=p.chunk_id or f"{p.doc_id}#{p.n}", doc_id=p.doc_id, text=p.text, span=(0, len(p.text)))
              for p in sorted(contexts, key=lambda p: p.n)]
    return build_messages(question, chunks)


def preference_pairs(store: GradeStore, *, prompt: PromptStyle = "inference") -> tuple[list[dict[str, Any]], list[dict[str, Any]], Counter]:
    """(pairs, per-pair provenance, skips by reason): expert corrections first (by grade id),
    then pairwise wins (by verdict id). Judges' grades and verdicts are never used."""
    if prompt not in ("inference", "question"):
        raise ValueError(f"prompt={prompt!r}; use 'inference' or 'question'")
    pairs, provenance, skipped = [], [], Counter()
    items = {item.id: item for item in store.items(role=EXPORT_ROLE)}
    for grade in store.grades(role=EXPORT_ROLE, experts_only=True):
        if not grade.corrected_answer:
            continue
        item = items[grade.item_id]
        if grade.corrected_answer.strip() == item.answer.strip():
            skipped["corrections identical to the answer"] += 1
            continue
        pairs.append({"prompt": build_prompt(item.question, item.contexts, prompt), "chosen": grade.corrected_answer,
                      "rejected": item.answer, "source": f"expert-correction:{grade.grader}:grade-{grade.id}:item-{item.id}",
                      "created": grade.created})
        provenance.append({"kind": "correction", "grade_id": grade.id, "item_id": item.id, "grader": grade.grader,
                           "system": item.system, "origin": item.origin, "collection": item.collection})
    for verdict in store.pairwise(role=EXPORT_ROLE):
        if is_judge(verdict.grader):
            continue
        if verdict.winner == "tie":
            skipped["pairwise ties"] += 1
            continue
        won, lost = ("a", "b") if verdict.winner == "a" else ("b", "a")
        chosen, rejected = getattr(verdict, f"answer_{won}"), getattr(verdict, f"answer_{lost}")
        if chosen.strip() == rejected.strip():
            skipped["pairwise verdicts on identical answers"] += 1
            continue
        sources = [verdict.shown.get(f"sources_{side}") or [] for side in ("a", "b")]
        contexts = tuple(Passage.from_json(p) for p in sources[0]) if sources[0] == sources[1] else ()
        pairs.append({"prompt": build_prompt(verdict.question, contexts, prompt), "chosen": chosen, "rejected": rejected,
                      "source": f"expert-pairwise:{verdict.grader}:pair-{verdict.id}:"
                                f"{verdict.winner_system}>{verdict.loser_system}",
                      "created": verdict.created})
        provenance.append({"kind": "pairwise", "pairwise_id": verdict.id, "grader": verdict.grader,
                           "item_ids": [verdict.item_a, verdict.item_b], "chosen_system": verdict.winner_system,
                           "rejected_system": verdict.loser_system, "seed": verdict.seed, "swapped": verdict.swapped,
                           "collection": verdict.collection})
    return pairs, provenance, skipped


def export_preferences(store: GradeStore, out: str | Path, *, prompt: PromptStyle = "inference",
                       accessor: Accessor | None = None) -> ExportReport:
    """Write TRL preference pairs to `out` (JSONL) and `<out>.provenance.json`. `accessor`: who
    exports, for the audit log (default: the OS user)."""
    pairs, records, skipped = preference_pairs(store, prompt=prompt)
    _audit_export(store, accessor, "preferences", Path(out),
                  [(r["collection"], r.get("item_ids") or [r.get("item_id")]) for r in records])
    return _write(store, Path(out), "preferences", pairs, records, skipped, {"prompt": prompt})


# -- writing --------------------------------------------------------------------------------------

def _audit_export(store: GradeStore, accessor: Accessor | None, kind: str, out: Path,
                  lines: list[tuple[str, list[int | None]]]) -> None:
    """One audit record per exported line about the notes: (collection, ids of the items it came
    from) per line; its notes are the documents those items saw and cited."""
    notes = [(n, ids) for n, (collection, ids) in enumerate(lines, start=1) if collection == "notes"]
    if not notes:
        return
    who = accessor or Accessor.local(role=EXPORT_ROLE)
    items = {item.id: item for item in store.items(role=EXPORT_ROLE)}
    records = []
    for n, ids in notes:
        seen = [items[i] for i in ids if i in items]
        doc_ids = [p.doc_id for item in seen for p in item.contexts] + [d for item in seen for d in item.cited_ids]
        records.append(AuditRecord.of(who, f"export:{kind}", "notes", doc_ids, detail=f"{out.name} line {n}"))
    AuditLog().append(records)


def provenance_path(out: Path) -> Path:
    return out.with_name(out.name + ".provenance.json")


def _write(store: GradeStore, out: Path, kind: str, lines: list[dict[str, Any]], records: list[dict[str, Any]],
           skipped: Counter, settings: dict[str, Any]) -> ExportReport:
    from knowledge.provenance import git_commit

    data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode("utf-8")
    write_atomic(out, data, mode=0o600)
    side = provenance_path(out)
    stamp = {"schema": "cairn.grades.export/1", "kind": kind, "db": str(store.path.resolve()),
             "output": out.name, "output_sha256": hashlib.sha256(data).hexdigest(), "written": len(lines),
             "skipped": dict(skipped), "settings": settings, "db_counts": store.counts(role=EXPORT_ROLE),
             "git_commit": git_commit(), "time": now(),
             "records": [{"line": n, **record} for n, record in enumerate(records, start=1)]}
    write_atomic(side, json.dumps(stamp, indent=1, ensure_ascii=False) + "\n", mode=0o600)
    return ExportReport(out, side, len(lines), dict(skipped))
