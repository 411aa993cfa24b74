"""`cairn extract NOTE`: structured fields from one clinical note, each with its evidence span."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import NoteNotFoundError
from .schema import MODES, Extraction

NOTE_SUFFIXES = (".txt", ".md")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "extract", help="extract symptoms, vitals, medications, ... from a clinical note, with evidence spans",
        description="Extract the fields of a clinical note (symptoms, vitals, imaging, medications with "
                    "dose/route/frequency/duration, follow-up, diagnoses, negated findings). Every item shows the "
                    "character span [start, end) of its evidence in the note; a model quote that is not in the "
                    "note is dropped, and a finding after 'denies'/'no'/'negative for'/'without' is never a "
                    "symptom.",
        epilog="Examples: `cairn extract visit.txt --mode rules`; `cat visit.txt | cairn extract - --json`; "
               "`cairn extract note_0042 --model qwen2.5-coder-0.5b --threads 1`.")
    p.add_argument("note", metavar="NOTE",
                   help="a .txt/.md file, '-' to read the note from stdin, or the id of a note in the ingested "
                        "notes collection (e.g. note_0042; `cairn ingest ... -c notes` first)")
    p.add_argument("--mode", choices=MODES, default="hybrid",
                   help="rules: rule-based only, no model (fast); llm: the model extracts every field, then "
                        "validation; hybrid (default): rules for vitals, medications, follow-up and negations, "
                        "the model for symptoms, diagnoses and imaging")
    p.add_argument("--model", metavar="NAME", default=None,
                   help="LLM for the llm/hybrid modes: a catalogue name (`cairn models list`, e.g. "
                        "qwen2.5-coder-0.5b) or a .gguf path; default: the configured answer model")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="CPU threads for the model (default: half the CPUs; on 2 shared cores 1 is often faster)")
    p.add_argument("--json", action="store_true",
                   help="print the result as JSON: fields with {text, start, end, source}, trace and timings")
    p.add_argument("--user", metavar="NAME",
                   help="who is reading, recorded in the audit log when NOTE is a note id (default: the OS user)")
    p.set_defaults(func=cmd_extract)


def read_note(spec: str, user: str | None = None) -> tuple[str, str]:
    """(label, text) of NOTE: '-' (stdin), a .txt/.md path, or a note id in the notes collection
    (a read the audit log records, in the name of `user` or else the OS user)."""
    if spec == "-":
        return "stdin", sys.stdin.read()
    path = Path(spec).expanduser()
    if path.is_file():
        if path.suffix.lower() not in NOTE_SUFFIXES:
            raise NoteNotFoundError(f"NOTE {spec!r} is a {path.suffix or 'suffix-less'} file; pass a .txt or .md "
                                    "note, '-' for stdin, or a note id from the notes collection")
        return path.name, path.read_text(encoding="utf-8")
    if path.suffix.lower() in NOTE_SUFFIXES or "/" in spec or "\\" in spec:
        raise NoteNotFoundError(f"NOTE file {spec!r} does not exist; check the path, or pass '-' to read stdin")
    return spec, _note_from_collection(spec, user)


def _note_from_collection(note_id: str, user: str | None = None) -> str:
    from knowledge.home import cairn_home

    fix = ("pass a .txt/.md file or '-', or ingest the notes first (`cairn ingest "
           "knowledge/demo/data/notes.jsonl -c notes`)")
    if not (cairn_home() / "index" / "notes" / "docstore.sqlite").exists():
        raise NoteNotFoundError(f"NOTE {note_id!r} is not a file, and the notes collection is not ingested; {fix}")
    from knowledge.index import KnowledgeBase

    kb = KnowledgeBase("notes")
    try:
        doc = kb.store.get_document(note_id)
    finally:
        kb.close()
    if doc is None:
        raise NoteNotFoundError(f"NOTE {note_id!r} is neither a file nor a note id in the notes collection; "
                                f"check the id (`cairn search ... -c notes` shows ids) or {fix}")
    from knowledge.audit import Accessor, record_read

    patient = doc.metadata.get("patient_id")
    record_read(Accessor.local("cli:extract", user=user), "extract", "notes", [doc.id],
                [str(patient)] if patient else [])
    return doc.text


def format_table(result: Extraction, label: str, note: str) -> str:
    """A readable table: one row per item with its field, label, span, source and quoted evidence."""
    head = (f"note: {label} ({len(note)} chars)   mode: {result.mode}   model: {result.model_id or '-'}   "
            f"{result.timings.get('total_s', 0.0):.2f} s")
    rows = [("FIELD", "ITEM", "SPAN", "FROM", "EVIDENCE")]
    for field, item, ev in result.fields.items():
        if field == "medications" and "." in item:
            item = "  ." + item.rsplit(".", 1)[1]
        rows.append((field, item, f"[{ev.start}, {ev.end})", ev.source, json.dumps(ev.text, ensure_ascii=False)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [head, ""] + ["  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4] for r in rows]
    empty = [f for f, v in result.to_expected_fields().items() if v in ([], {}, None)]
    if empty:
        lines.append(f"(nothing found for: {', '.join(empty)})")
    notable = [e for e in result.trace if e.kind not in ("rules", "llm_call")]
    if notable:
        lines += ["", "trace:"] + [f"  {e.kind}: {e.message}" for e in notable]
    return "\n".join(lines)


def cmd_extract(args: argparse.Namespace) -> int:
    from .pipeline import extract_note

    label, text = read_note(args.note, args.user)
    llm = None
    if args.mode != "rules":
        from assistant.llm.config import DEFAULT_MODEL, LLMConfig, load_llm

        llm = load_llm(LLMConfig(model=args.model or DEFAULT_MODEL, n_threads=args.threads, temperature=0.0))
    try:
        result = extract_note(text, llm=llm, mode=args.mode)
    finally:
        if llm is not None:
            llm.close()
    if args.json:
        print(json.dumps({"note": label, **result.to_dict()}, indent=1, ensure_ascii=False))
    else:
        print(format_table(result, label, text))
    return 0
