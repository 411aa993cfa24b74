"""Scores `extract_note` on the golden extraction set (evals/golden/notes_extraction.jsonl):
micro/macro and per-field precision/recall/F1 (evals/metrics/extraction.py), items dropped
because their evidence was not in the note, symptoms moved by negation, fallbacks, seconds per note.

    python -m assistant.extract.evaluate --mode rules --split all
    python -m assistant.extract.evaluate --mode hybrid --model qwen2.5-coder-0.5b --threads 1 \\
        --split test --limit 40 --out hybrid-test.json

Splits: "dev" is extract-001..extract-120, the cases the rules were developed on; "test" is
extract-121..extract-240, held out. The notes come from our own templates
(knowledge/demo/notes_render.py), so even the test split measures coverage of those templates,
not robustness to notes written by other people.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from evals.golden import GoldenCase, load_golden
from evals.metrics.extraction import FIELDS, MED_ATTRIBUTES, corpus_extraction_scores

from .errors import ExtractConfigError
from .pipeline import extract_note
from .schema import MODES, Extraction, Mode

Split = Literal["dev", "test", "all"]
SPLITS: tuple[str, ...] = get_args(Split)
DEV_LAST = 120  # extract-001..extract-120 are dev, the rest test
GOLDEN_FILE = Path(__file__).resolve().parents[2] / "evals" / "golden" / "notes_extraction.jsonl"
NOTES_FILE = Path(__file__).resolve().parents[2] / "knowledge" / "demo" / "data" / "notes.jsonl"


def case_number(case: GoldenCase) -> int:
    """42 for "extract-042"; the split is by this number, not by file order."""
    try:
        return int(case.id.rsplit("-", 1)[1])
    except (IndexError, ValueError) as exc:
        raise ExtractConfigError(f"golden case id {case.id!r} does not end in a number like extract-042; "
                                 "the dev/test split needs one") from exc


def split_cases(cases: Sequence[GoldenCase], split: Split, limit: int | None = None) -> list[GoldenCase]:
    if split not in SPLITS:
        raise ExtractConfigError(f"split={split!r} is unknown; use one of {', '.join(SPLITS)}")
    chosen = [c for c in cases if c.raw.get("task") == "extract"
              and (split == "all" or (case_number(c) <= DEV_LAST) == (split == "dev"))]
    return chosen[:limit] if limit is not None else chosen


def load_notes(path: Path) -> dict[str, str]:
    """{note id: text} from a notes .jsonl (DESIGN.md §2: id, text, ...)."""
    if not path.exists():
        raise ExtractConfigError(f"notes file {path} does not exist; pass --notes with the notes .jsonl")
    notes = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            notes[row["id"]] = row["text"]
    return notes


@dataclass(frozen=True)
class EvalReport:
    """Scores and counts of one run; `predictions` holds one row per note for --out."""

    mode: str
    model_id: str | None
    split: str
    n_notes: int
    scores: dict[str, float]
    dropped: int
    negation_moves: int
    fallbacks: int
    repairs: int
    seconds_per_note: float
    predictions: list[dict[str, Any]] = field(default_factory=list)


def evaluate(cases: Sequence[GoldenCase], notes: dict[str, str], *, mode: Mode, llm: Any = None,
             progress: Callable[[int, int], None] | None = None, split: str = "all") -> EvalReport:
    """Run extract_note on every case's note and score the predictions against the gold."""
    if not cases:
        raise ExtractConfigError("no golden cases to evaluate; check --split and --limit")
    missing = [c.raw["note_id"] for c in cases if c.raw["note_id"] not in notes]
    if missing:
        raise ExtractConfigError(f"notes {missing[:5]} of the golden set are not in the notes file; "
                                 "rebuild it with `cairn demo build` or pass the matching --notes")
    results: list[Extraction] = []
    rows = []
    started = time.perf_counter()
    for i, case in enumerate(cases):
        result = extract_note(notes[case.raw["note_id"]], llm=llm, mode=mode)
        results.append(result)
        rows.append({"id": case.id, "note_id": case.raw["note_id"], "predicted": result.to_expected_fields(),
                     "gold": case.raw["expected_fields"], "trace": [f"{e.kind}: {e.message}" for e in result.trace],
                     "seconds": round(result.timings["total_s"], 3)})
        if progress:
            progress(i + 1, len(cases))
    elapsed = time.perf_counter() - started
    scores = corpus_extraction_scores((r["predicted"], r["gold"]) for r in rows)
    return EvalReport(
        mode=mode, model_id=getattr(llm, "model_id", None) if mode != "rules" else None, split=split,
        n_notes=len(cases), scores=scores, dropped=sum(r.dropped for r in results),
        negation_moves=sum(r.negation_moves for r in results), fallbacks=sum(r.fell_back for r in results),
        repairs=sum(r.count("repair") for r in results), seconds_per_note=elapsed / len(cases), predictions=rows)


def format_report(report: EvalReport) -> str:
    s = report.scores
    lines = [f"mode={report.mode} model={report.model_id or '-'} split={report.split} notes={report.n_notes}",
             f"{'':28}{'P':>7}{'R':>7}{'F1':>7}"]
    names = ["micro", "macro", *FIELDS, *(f"medications_{a}" for a in MED_ATTRIBUTES)]
    for name in names:
        lines.append(f"{name:28}{s[name + '_precision']:7.3f}{s[name + '_recall']:7.3f}{s[name + '_f1']:7.3f}")
    lines.append(f"dropped items (evidence not in note): {report.dropped}   negation moves: {report.negation_moves}"
                 f"   repairs: {report.repairs}   fallbacks to rules: {report.fallbacks}")
    lines.append(f"seconds per note: {report.seconds_per_note:.3f}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m assistant.extract.evaluate",
        description="Score clinical-note extraction on the golden set: micro/macro and per-field precision, "
                    "recall and F1, dropped items (quotes not found in the note), negation moves and seconds "
                    "per note. dev = extract-001..120 (rules developed on these), test = extract-121..240 (held out).")
    p.add_argument("--mode", choices=MODES, default="hybrid",
                   help="rules (no model), llm (the model for every field) or hybrid (default: the model for "
                        "symptoms/diagnoses/imaging, rules for the rest)")
    p.add_argument("--model", default=None, metavar="NAME",
                   help="LLM for the llm/hybrid modes: a catalogue name (`cairn models list`) or a .gguf path; "
                        "default: the configured answer model")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="CPU threads for llama.cpp (default: half the CPUs; 1 is often fastest on 2 shared cores)")
    p.add_argument("--split", choices=SPLITS, default="dev", help="which golden cases: dev (default), test or all")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="score only the first N cases of the split")
    p.add_argument("--golden", type=Path, default=GOLDEN_FILE, metavar="FILE",
                   help=f"golden extraction set (default: {GOLDEN_FILE.relative_to(GOLDEN_FILE.parents[2])})")
    p.add_argument("--notes", type=Path, default=NOTES_FILE, metavar="FILE",
                   help=f"notes .jsonl with id and text (default: {NOTES_FILE.relative_to(NOTES_FILE.parents[3])})")
    p.add_argument("--out", type=Path, default=None, metavar="FILE",
                   help="also write scores, per-note predictions and provenance (git commit, model, time) as JSON")
    return p


def main(argv: list[str] | None = None) -> int:
    from knowledge.errors import CairnError
    from knowledge.home import set_offline_env

    set_offline_env()
    args = build_parser().parse_args(argv)
    llm = None
    try:
        if args.limit is not None and args.limit < 1:
            raise ExtractConfigError(f"--limit {args.limit} must be >= 1")
        cases = split_cases(load_golden(args.golden), args.split, args.limit)
        notes = load_notes(args.notes)
        config = None
        if args.mode != "rules":
            from assistant.llm.config import DEFAULT_MODEL, LLMConfig, load_llm

            config = LLMConfig(model=args.model or DEFAULT_MODEL, n_threads=args.threads, temperature=0.0)
            llm = load_llm(config)

        def progress(done: int, total: int) -> None:
            print(f"\r{done}/{total} notes", end="" if done < total else "\n", file=sys.stderr, flush=True)

        report = evaluate(cases, notes, mode=args.mode, llm=llm, progress=progress, split=args.split)
    except CairnError as exc:
        print(f"evaluate: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if llm is not None:
            llm.close()
    print(format_report(report))
    if args.out:
        from knowledge.provenance import stamp

        record = {"provenance": stamp(mode=args.mode, split=args.split, limit=args.limit,
                                      golden=str(args.golden), llm_config=config.to_dict() if config else None,
                                      model_fingerprint=getattr(llm, "fingerprint", None)),
                  **{k: v for k, v in report.__dict__.items()}}
        args.out.write_text(json.dumps(record, indent=1, ensure_ascii=False), encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
