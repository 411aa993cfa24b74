"""`cairn calibrate`: how closely the LLM judge's scores follow expert grades (evals/calibration.py)."""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "calibrate", help="agreement of judge scores with expert grades (κ, quadratic κ, Spearman ρ)",
        description="Compare LLM-judge scores with expert grades per criterion: exact and within-one "
                    "agreement, Cohen's kappa, quadratic-weighted kappa and Spearman's rho. The CSV has one "
                    "row per case and criterion: case_id,criterion,expert_score,judge_score (whole numbers "
                    "1-5; an empty judge_score is a judge abstention). Or, with --grades-db, expert grades from the "
                    "grading database paired with the rubric grades a judge stored there (grader 'judge:<model>').")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", type=Path, metavar="FILE",
                        help="grades CSV with header case_id,criterion,expert_score,judge_score")
    source.add_argument("--grades-db", type=Path, nargs="?", const=True, metavar="PATH",
                        help="grading database (PATH defaults to $CAIRN_HOME/grades.sqlite)")
    p.add_argument("--judge", metavar="NAME",
                   help="with --grades-db: the judge grader to compare (default: the only 'judge:' grader there)")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    p.set_defaults(func=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from .calibration import (
        CalibrationInputError,
        calibrate,
        format_table,
        load_calibration_csv,
    )

    if args.csv is not None and args.judge:
        raise CalibrationInputError("--judge chooses a judge in the grading database; use it with --grades-db, "
                                    "or drop it (the CSV's judge_score column is the judge)")
    if args.csv is not None:
        pairs = load_calibration_csv(args.csv)
    else:
        from .grading.calibration import grade_pairs
        from .grading.cli import open_existing_store

        db = None if args.grades_db is True else args.grades_db  # given without PATH
        pairs = grade_pairs(open_existing_store(db), args.judge)
    report = calibrate(pairs)
    print(json.dumps(asdict(report), indent=1, ensure_ascii=False) if args.json else format_table(report))
    return 0
