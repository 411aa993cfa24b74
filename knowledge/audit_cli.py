"""`cairn audit [verify]`: list who read which clinical notes, and check that the audit log's
hash chain is intact (knowledge/audit.py)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

ABOUT = ("Every read of clinical-note content (a note shown by search or by id, an extraction, a graded "
         "answer or eval case shown, an export) appends who, when, which note and patient, and through what "
         "to $CAIRN_HOME/audit/reads.jsonl: append-only, hash-chained, mode 0600, so only the owner of "
         "$CAIRN_HOME reads it here (in the UI, admins only).")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "audit", help="who read which clinical notes, when and how; check the log is untampered",
        description=ABOUT + " With no ACTION, list the latest records that match the filters.",
        epilog="Examples: `cairn audit --patient pt_0012 --since 2026-11-01`; `cairn audit --user alice --json`; "
               "`cairn audit verify --head <hash noted last time>`.")
    p.add_argument("--user", metavar="NAME", help="only reads by this user (case-insensitive)")
    p.add_argument("--patient", metavar="ID", help="only reads of this patient's notes, e.g. pt_0012")
    p.add_argument("--doc", metavar="ID", help="only reads of this note, e.g. note_0042")
    p.add_argument("--since", metavar="WHEN", help="from this date or ISO time (UTC unless it says), inclusive")
    p.add_argument("--until", metavar="WHEN", help="up to this date (the whole day) or ISO time, inclusive")
    p.add_argument("--limit", type=int, default=100, metavar="N",
                   help="the latest N matches (default: %(default)s; 0: all)")
    p.add_argument("--json", action="store_true", help="print the matching records as JSON lines")
    p.add_argument("--log", type=Path, metavar="PATH",
                   help="audit log to read (default: $CAIRN_HOME/audit/reads.jsonl)")
    p.set_defaults(func=cmd_list)
    sub = p.add_subparsers(dest="audit_command", metavar="ACTION")

    verify = sub.add_parser(
        "verify", help="check the hash chain; name the first record that was changed or removed",
        description="Check that each record's prev hash is the sha256 of the line before it, so an edited, "
                    "inserted or deleted line shows up at the next record. Torn lines (an append cut short by a "
                    "crash) are listed, not errors. Prints the head hash: keep it, and pass it with --head to a "
                    "later verify to show the log was not cut back or rewritten since. Exit status 1 when broken.")
    verify.add_argument("--head", metavar="HASH",
                        help="a head printed by an earlier verify: it must still be in the log")
    verify.add_argument("--log", type=Path, metavar="PATH",
                        help="audit log to check (default: $CAIRN_HOME/audit/reads.jsonl)")
    verify.set_defaults(func=cmd_verify)


def cmd_list(args: argparse.Namespace) -> int:
    from .audit import ROW_HEADERS, AuditFilter, AuditLog

    log = AuditLog(args.log)
    records = log.records(AuditFilter(user=args.user, patient=args.patient, doc=args.doc, since=args.since,
                                      until=args.until, limit=args.limit or None))
    if args.json:
        for record in records:
            print(json.dumps({"line": record.line, **record.to_json()}, ensure_ascii=False))
        return 0
    if not records:
        print(f"no audit records match in {log.path}")
        return 0
    rows = [list(ROW_HEADERS)] + [["" if v is None else str(v) for v in r.row()] for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(len(ROW_HEADERS) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from .audit import AuditLog

    log = AuditLog(args.log)
    report = log.verify(anchor=args.head)
    print(f"{log.path}: {report.summary()}")
    return 0 if report.ok else 1
